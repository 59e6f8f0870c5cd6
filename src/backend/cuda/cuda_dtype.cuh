// Dtype rules for the CUDA kernels, bit for bit those of the CPU reference:
// storage types and element conversions on the device (src/core/dtype.c:
// ingot__load_f64/_store_f64/_load_i64/_store_i64, and the f16/bf16
// conversions of src/core/internal.h), and a dispatch from a runtime dtype to
// a compile-time one. Host-side sizes and names are dtype.c's own, which the
// plugin compiles in (hidden).
#ifndef INGOT_BACKEND_CUDA_DTYPE_CUH
#define INGOT_BACKEND_CUDA_DTYPE_CUH

#include <cstdint>
#include <type_traits>

#include "backend/cuda/cuda_internal.h"

// ---- storage types ----
// f16 and bf16 are kept as their raw bits (uint16_t) and converted by the
// helpers below, so that NaN payloads and subnormals match the CPU exactly.

template <ingot_dtype D> struct ingot__cu_storage;
template <> struct ingot__cu_storage<INGOT_BOOL> { using type = uint8_t; };
template <> struct ingot__cu_storage<INGOT_U8> { using type = uint8_t; };
template <> struct ingot__cu_storage<INGOT_I8> { using type = int8_t; };
template <> struct ingot__cu_storage<INGOT_I32> { using type = int32_t; };
template <> struct ingot__cu_storage<INGOT_U32> { using type = uint32_t; };
template <> struct ingot__cu_storage<INGOT_I64> { using type = int64_t; };
template <> struct ingot__cu_storage<INGOT_F16> { using type = uint16_t; };
template <> struct ingot__cu_storage<INGOT_BF16> { using type = uint16_t; };
template <> struct ingot__cu_storage<INGOT_F32> { using type = float; };
template <ingot_dtype D> using ingot__cu_t = typename ingot__cu_storage<D>::type;

template <ingot_dtype D>
constexpr bool ingot__cu_float_v = D == INGOT_F16 || D == INGOT_BF16 || D == INGOT_F32;

// The unsigned integer of n bytes (raw element copies).
template <size_t N> struct ingot__cu_uint_of;
template <> struct ingot__cu_uint_of<1> { using type = uint8_t; };
template <> struct ingot__cu_uint_of<2> { using type = uint16_t; };
template <> struct ingot__cu_uint_of<4> { using type = uint32_t; };
template <> struct ingot__cu_uint_of<8> { using type = uint64_t; };
template <size_t N> using ingot__cu_uint_t = typename ingot__cu_uint_of<N>::type;

// fn(std::integral_constant<ingot_dtype, dt>{}) for the runtime dtype dt;
// INTERNAL for a value outside the enum.
template <class Fn> static inline ingot_status ingot__cu_dispatch_dtype(ingot_dtype dt, Fn &&fn) {
    switch (dt) {
    case INGOT_BOOL: return fn(std::integral_constant<ingot_dtype, INGOT_BOOL>{});
    case INGOT_U8: return fn(std::integral_constant<ingot_dtype, INGOT_U8>{});
    case INGOT_I8: return fn(std::integral_constant<ingot_dtype, INGOT_I8>{});
    case INGOT_I32: return fn(std::integral_constant<ingot_dtype, INGOT_I32>{});
    case INGOT_U32: return fn(std::integral_constant<ingot_dtype, INGOT_U32>{});
    case INGOT_I64: return fn(std::integral_constant<ingot_dtype, INGOT_I64>{});
    case INGOT_F16: return fn(std::integral_constant<ingot_dtype, INGOT_F16>{});
    case INGOT_BF16: return fn(std::integral_constant<ingot_dtype, INGOT_BF16>{});
    case INGOT_F32: return fn(std::integral_constant<ingot_dtype, INGOT_F32>{});
    default: return ingot__error(INGOT_ERR_INTERNAL, "cuda: invalid dtype %d", (int)dt);
    }
}

// ---- f16 / bf16 bits (ingot__f16_to_f32 and friends) ----

__device__ inline float ingot__cu_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0) { // zero or subnormal: mant * 2^-24 (exact)
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    if (exp == 31) return __uint_as_float(sign | 0x7f800000u | (mant << 13));
    return __uint_as_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Round to nearest even; overflow gives inf; NaN gives the quiet NaN 0x7e00
// with the sign kept.
__device__ inline uint16_t ingot__cu_f32_to_f16(float f) {
    uint32_t x = __float_as_uint(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | (ax > 0x7f800000u ? 0x7e00 : 0x7c00);
    if (ax >= 0x477ff000u) return sign | 0x7c00; // >= 65520 rounds to inf
    if (ax < 0x38800000u) {                      // below 2^-14: subnormal or zero
        // |f| * 2^24 is exact and below 2^10; adding 1.5 * 2^23 rounds it to
        // an integer, nearest even, in the low mantissa bits.
        float scaled = __fadd_rn(__fmul_rn(__uint_as_float(ax), 0x1p24f), 0x1.8p23f);
        return sign | (uint16_t)(__float_as_uint(scaled) & 0x7ffu);
    }
    ax += 0xfffu + ((ax >> 13) & 1u);
    return sign | (uint16_t)((ax - 0x38000000u) >> 13);
}

__device__ inline float ingot__cu_bf16_to_f32(uint16_t h) {
    return __uint_as_float((uint32_t)h << 16);
}

// Round to nearest even; NaN stays NaN (quiet bit set, payload kept).
__device__ inline uint16_t ingot__cu_f32_to_bf16(float f) {
    uint32_t x = __float_as_uint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

// ---- element conversions (float dtypes as f32) ----

template <ingot_dtype D> __device__ inline float ingot__cu_to_f32(ingot__cu_t<D> x) {
    static_assert(ingot__cu_float_v<D>);
    if constexpr (D == INGOT_F16)
        return ingot__cu_f16_to_f32(x);
    else if constexpr (D == INGOT_BF16)
        return ingot__cu_bf16_to_f32(x);
    else
        return x;
}

// v rounded once to D.
template <ingot_dtype D> __device__ inline ingot__cu_t<D> ingot__cu_from_f32(float v) {
    static_assert(ingot__cu_float_v<D>);
    if constexpr (D == INGOT_F16)
        return ingot__cu_f32_to_f16(v);
    else if constexpr (D == INGOT_BF16)
        return ingot__cu_f32_to_bf16(v);
    else
        return v;
}

// ---- element conversions through f64 and i64 (src/core/dtype.c) ----

// ingot__load_f64: the value as a double (i64 rounds to nearest).
template <ingot_dtype D> __device__ inline double ingot__cu_to_f64(ingot__cu_t<D> x) {
    if constexpr (D == INGOT_BOOL)
        return x ? 1.0 : 0.0;
    else if constexpr (ingot__cu_float_v<D>)
        return (double)ingot__cu_to_f32<D>(x);
    else
        return (double)x;
}

// Truncates toward zero and saturates to [lo, hi]; NaN gives 0.
__device__ inline int64_t ingot__cu_f64_to_int(double v, double lo, double hi) {
    if (isnan(v)) return 0;
    if (v <= lo) return (int64_t)lo;
    if (v >= hi) return hi >= 0x1p63 ? INT64_MAX : (int64_t)hi;
    return (int64_t)v;
}

// ingot__store_f64: floats round through f32, integers truncate and
// saturate, bool is v != 0 (NaN gives true).
template <ingot_dtype D> __device__ inline ingot__cu_t<D> ingot__cu_from_f64(double v) {
    if constexpr (D == INGOT_BOOL)
        return v != 0.0;
    else if constexpr (D == INGOT_U8)
        return (uint8_t)ingot__cu_f64_to_int(v, 0, UINT8_MAX);
    else if constexpr (D == INGOT_I8)
        return (int8_t)ingot__cu_f64_to_int(v, INT8_MIN, INT8_MAX);
    else if constexpr (D == INGOT_I32)
        return (int32_t)ingot__cu_f64_to_int(v, INT32_MIN, INT32_MAX);
    else if constexpr (D == INGOT_U32)
        return (uint32_t)ingot__cu_f64_to_int(v, 0, UINT32_MAX);
    else if constexpr (D == INGOT_I64)
        return ingot__cu_f64_to_int(v, -0x1p63, 0x1p63);
    else
        return ingot__cu_from_f32<D>((float)v);
}

// ingot__load_i64 of an integer or bool element (bool: x != 0).
template <ingot_dtype D> __device__ inline int64_t ingot__cu_to_i64(ingot__cu_t<D> x) {
    static_assert(!ingot__cu_float_v<D>);
    if constexpr (D == INGOT_BOOL)
        return x != 0;
    else
        return (int64_t)x;
}

// ingot__store_i64 into an integer or bool element: integers keep the low
// bits (wrap), bool is v != 0.
template <ingot_dtype D> __device__ inline ingot__cu_t<D> ingot__cu_from_i64(int64_t v) {
    static_assert(!ingot__cu_float_v<D>);
    if constexpr (D == INGOT_BOOL)
        return v != 0;
    else
        return (ingot__cu_t<D>)(uint64_t)v;
}

// An element of S converted to D as the CPU's copy does: raw for one dtype,
// through f32 between float dtypes (exact as the CPU's f64 route), through
// i64 between integer/bool dtypes, through f64 otherwise.
template <ingot_dtype D, ingot_dtype S>
__device__ inline ingot__cu_t<D> ingot__cu_convert(ingot__cu_t<S> x) {
    if constexpr (D == S)
        return x;
    else if constexpr (ingot__cu_float_v<D> && ingot__cu_float_v<S>)
        return ingot__cu_from_f32<D>(ingot__cu_to_f32<S>(x));
    else if constexpr (!ingot__cu_float_v<D> && !ingot__cu_float_v<S>)
        return ingot__cu_from_i64<D>(ingot__cu_to_i64<S>(x));
    else
        return ingot__cu_from_f64<D>(ingot__cu_to_f64<S>(x));
}

#endif
