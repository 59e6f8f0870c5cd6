// CUDA elementwise kernels: unary, binary (arithmetic and comparisons),
// where; mirrors src/backend/cpu/cpu_elementwise.c.
//
// Float dtypes compute in f32 (f16/bf16 load exactly and round once at the
// store). Integers and bool compute in int64 on the loaded value (bool's raw
// byte), with wrapping uint64 arithmetic, and store truncated to the output
// width (bool: value != 0), so on bool add is OR, mul and minimum are AND,
// maximum is OR, sub is XOR. Float-only ops on integer dtypes never reach the
// kernels (the front end converts to f32); they are reported as INTERNAL.
//
// Every case is a functor run by ingot__cu_map. Float math is one functor
// per (op, dtype); the cheap integer ops and the comparisons pick the op at
// run time (a uniform branch per element), one functor per dtype, which
// keeps the number of kernels (and the build time) down.
#include <utility>

#include "backend/cuda/cuda_map.cuh"
#include "backend/elem.h"

// fn(std::integral_constant<E, v>{}) for the runtime value v of an enum,
// one of 0 .. N - 1; INTERNAL for a value outside.
template <class E, int... K, class Fn>
static ingot_status dispatch_enum(E v, std::integer_sequence<int, K...>, Fn &&fn) {
    ingot_status st = INGOT_OK;
    bool found = ((v == (E)K ? (st = fn(std::integral_constant<E, (E)K>{}), true) : false) || ...);
    return found ? st : ingot__error(INGOT_ERR_INTERNAL, "cuda: invalid op %d", (int)v);
}

// ---- per-element math: backend/elem.h, shared with the CPU ----

template <ingot__unary_op OP> __device__ inline float unary_f32(float x) {
    return ingot__unary_f32(OP, x);
}

template <ingot__binary_op OP> __device__ inline float arith_f32(float x, float y) {
    return ingot__binary_f32(OP, x, y);
}

static bool unary_keeps_integers(ingot__unary_op op) {
    return op == INGOT__NEG || op == INGOT__ABS || op == INGOT__SQUARE || op == INGOT__SIGN;
}

static bool is_compare(ingot__binary_op op) { return op >= INGOT__EQ; }

// An element in its compute type: float dtypes as f32, integers and bool
// as int64 (bool's raw byte, as the CPU's chunk loads).
template <ingot_dtype D> __device__ inline auto compute_value(ingot__cu_t<D> x) {
    if constexpr (ingot__cu_float_v<D>)
        return ingot__cu_to_f32<D>(x);
    else
        return (int64_t)x;
}

// ---- functors over storage types ----

template <ingot__unary_op OP, ingot_dtype D> struct unary_float_fn {
    using T = ingot__cu_t<D>;
    __device__ T operator()(T x) const {
        return ingot__cu_from_f32<D>(unary_f32<OP>(ingot__cu_to_f32<D>(x)));
    }
};

template <ingot_dtype D> struct unary_int_fn {
    using T = ingot__cu_t<D>;
    ingot__unary_op op;
    __device__ T operator()(T x) const { return ingot__cu_from_i64<D>(ingot__unary_i64(op, x)); }
};

template <ingot__binary_op OP, ingot_dtype D> struct arith_float_fn {
    using T = ingot__cu_t<D>;
    __device__ T operator()(T x, T y) const {
        return ingot__cu_from_f32<D>(arith_f32<OP>(ingot__cu_to_f32<D>(x), ingot__cu_to_f32<D>(y)));
    }
};

template <ingot_dtype D> struct arith_int_fn {
    using T = ingot__cu_t<D>;
    ingot__binary_op op;
    __device__ T operator()(T x, T y) const {
        return ingot__cu_from_i64<D>(ingot__binary_i64(op, x, y));
    }
};

// Gives bool's 0/1.
template <ingot_dtype D> struct compare_fn {
    using T = ingot__cu_t<D>;
    ingot__binary_op op;
    __device__ uint8_t operator()(T x, T y) const {
        return INGOT__COMPARE(op, compute_value<D>(x), compute_value<D>(y));
    }
};

// cond ? a : b on raw elements T; cond is true when a bit of MASK is set
// (the sign bit of floats is left out of MASK: -0 is false, NaN true).
template <class C, C MASK, class T> struct where_fn {
    __device__ T operator()(C c, T a, T b) const { return (c & MASK) != 0 ? a : b; }
};

// ---- kernel entry points ----

ingot_status ingot__cuda_unary(ingot__unary_op op, ingot_array *out, const ingot_array *a) {
    // out, a: one shape and dtype.
    return ingot__cu_dispatch_dtype(a->dtype, [&](auto dc) {
        constexpr ingot_dtype D = dc;
        using T = ingot__cu_t<D>;
        if constexpr (ingot__cu_float_v<D>) {
            auto ops = std::make_integer_sequence<int, INGOT__UNARY_COUNT>{};
            return dispatch_enum(op, ops, [&](auto oc) {
                return ingot__cu_map<T, T>("unary", unary_float_fn<oc, D>{}, out, a);
            });
        } else {
            if (!unary_keeps_integers(op))
                return ingot__error(INGOT_ERR_INTERNAL, "cuda unary: op %d on %s", (int)op,
                                    ingot_dtype_name(a->dtype));
            return ingot__cu_map<T, T>("unary", unary_int_fn<D>{op}, out, a);
        }
    });
}

ingot_status ingot__cuda_binary(ingot__binary_op op, ingot_array *out, const ingot_array *a,
                                const ingot_array *b) {
    // out, a, b: one shape; a, b one dtype (out's, or bool out for comparisons).
    return ingot__cu_dispatch_dtype(a->dtype, [&](auto dc) {
        constexpr ingot_dtype D = dc;
        using T = ingot__cu_t<D>;
        if (is_compare(op))
            return ingot__cu_map<uint8_t, T, T>("binary", compare_fn<D>{op}, out, a, b);
        if constexpr (ingot__cu_float_v<D>) {
            auto ops = std::make_integer_sequence<int, INGOT__EQ>{}; // the arithmetic ops
            return dispatch_enum(op, ops, [&](auto oc) {
                return ingot__cu_map<T, T, T>("binary", arith_float_fn<oc, D>{}, out, a, b);
            });
        } else {
            if (op == INGOT__DIV || op == INGOT__POW)
                return ingot__error(INGOT_ERR_INTERNAL, "cuda binary: op %d on %s", (int)op,
                                    ingot_dtype_name(a->dtype));
            return ingot__cu_map<T, T, T>("binary", arith_int_fn<D>{op}, out, a, b);
        }
    });
}

// out = cond ? a : b on raw elements of out's size, cond of type C tested
// against MASK.
template <class C, C MASK>
static ingot_status where_run(ingot_array *out, const ingot_array *cond, const ingot_array *a,
                              const ingot_array *b) {
    auto run = [&](auto width) {
        using T = ingot__cu_uint_t<decltype(width)::value>;
        return ingot__cu_map<T, C, T, T>("where", where_fn<C, MASK, T>{}, out, cond, a, b);
    };
    switch (ingot_dtype_size(out->dtype)) {
    case 1: return run(std::integral_constant<size_t, 1>{});
    case 2: return run(std::integral_constant<size_t, 2>{});
    case 4: return run(std::integral_constant<size_t, 4>{});
    case 8: return run(std::integral_constant<size_t, 8>{});
    default:
        return ingot__error(INGOT_ERR_INTERNAL, "cuda where: invalid dtype %d", (int)out->dtype);
    }
}

ingot_status ingot__cuda_where(ingot_array *out, const ingot_array *cond, const ingot_array *a,
                               const ingot_array *b) {
    // out, cond, a, b: one shape; a, b out's dtype; cond any dtype.
    switch (cond->dtype) {
    case INGOT_BOOL:
    case INGOT_U8:
    case INGOT_I8: return where_run<uint8_t, 0xffu>(out, cond, a, b);
    case INGOT_F16:
    case INGOT_BF16: return where_run<uint16_t, 0x7fffu>(out, cond, a, b);
    case INGOT_I32:
    case INGOT_U32: return where_run<uint32_t, 0xffffffffu>(out, cond, a, b);
    case INGOT_F32: return where_run<uint32_t, 0x7fffffffu>(out, cond, a, b);
    case INGOT_I64: return where_run<uint64_t, ~(uint64_t)0>(out, cond, a, b);
    default:
        return ingot__error(INGOT_ERR_INTERNAL, "cuda where: invalid cond dtype %d",
                            (int)cond->dtype);
    }
}
