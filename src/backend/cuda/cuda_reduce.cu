// CUDA reductions, softmax and cumsum (mirrors cpu_reduce.c).
//
// Work is split into groups of G threads (G = 1 or a multiple of 32, at most
// 1024), one group per output element or row: blockDim = (G, groups per
// block). A group's threads take the group's input elements round robin, fold
// them in order, and combine their partials with warp shuffles (and, for
// G > 32, one shared-memory step over the warps in fixed order). G = 1 gives
// one thread per output, which keeps reductions along strided axes coalesced
// across neighbouring outputs; long contiguous rows (logits) get a whole
// block.
//
// Accumulators follow the CPU: f32 sums in double, f16/bf16 sums in f32,
// integer and bool sums in 64-bit wrapping arithmetic (exact in any order).
// Float sums are combined as a tree rather than left to right, so they can
// differ from the CPU in the last bits; extremes, arg ops (first index on
// ties, NaN rules) and integer sums match exactly. The output may have any
// dtype: the result is converted on store as ingot__store_f64/_i64 do.
#include <math.h>

#include <type_traits>

#include "backend/cuda/cuda_internal.h"

// ---- dtype dispatch and conversions ----

// Calls f(T{}) with the element type of dt (bool as its 0/1 byte).
template <class F> static ingot_status with_type(ingot_dtype dt, F &&f) {
    switch (dt) {
    case INGOT_BOOL:
    case INGOT_U8: return f(uint8_t{});
    case INGOT_I8: return f(int8_t{});
    case INGOT_I32: return f(int32_t{});
    case INGOT_U32: return f(uint32_t{});
    case INGOT_I64: return f(int64_t{});
    case INGOT_F16: return f(__half{});
    case INGOT_BF16: return f(__nv_bfloat16{});
    case INGOT_F32: return f(float{});
    default: return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: unsupported dtype %d", (int)dt);
    }
}

template <class T>
static constexpr bool is_float_v =
    std::is_same_v<T, float> || std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// An element as f32 (float types) or int64 (integer types).
template <class T> __device__ static inline auto value_of(T x) {
    if constexpr (is_float_v<T>)
        return (float)x;
    else
        return (int64_t)x;
}

// A float result rounded to the float type T.
template <class T> __device__ static inline T from_f32(float v) {
    if constexpr (std::is_same_v<T, float>)
        return v;
    else if constexpr (std::is_same_v<T, __half>)
        return __float2half_rn(v);
    else
        return __float2bfloat16_rn(v);
}

// Truncates toward zero and saturates to [lo, hi]; NaN gives 0 (as the CPU).
__device__ static inline int64_t f64_to_int(double v, double lo, double hi) {
    if (isnan(v)) return 0;
    if (v <= lo) return (int64_t)lo;
    if (v >= hi) return hi >= 0x1p63 ? INT64_MAX : (int64_t)hi;
    return (int64_t)v;
}

// out[i] = v converted to dt, as ingot__store_f64.
__device__ static void store_f64(void *out, ingot_dtype dt, int64_t i, double v) {
    switch (dt) {
    case INGOT_BOOL: ((uint8_t *)out)[i] = v != 0.0; break;
    case INGOT_U8: ((uint8_t *)out)[i] = (uint8_t)f64_to_int(v, 0, 255); break;
    case INGOT_I8: ((int8_t *)out)[i] = (int8_t)f64_to_int(v, -128, 127); break;
    case INGOT_I32: ((int32_t *)out)[i] = (int32_t)f64_to_int(v, INT32_MIN, INT32_MAX); break;
    case INGOT_U32: ((uint32_t *)out)[i] = (uint32_t)f64_to_int(v, 0, UINT32_MAX); break;
    case INGOT_I64: ((int64_t *)out)[i] = f64_to_int(v, -0x1p63, 0x1p63); break;
    default: ingot__cu_store_f32(out, dt, i, (float)v); break;
    }
}

// out[i] = v converted to dt, as ingot__store_i64 (integers wrap).
__device__ static void store_i64(void *out, ingot_dtype dt, int64_t i, int64_t v) {
    switch (dt) {
    case INGOT_BOOL: ((uint8_t *)out)[i] = v != 0; break;
    case INGOT_U8: ((uint8_t *)out)[i] = (uint8_t)v; break;
    case INGOT_I8: ((int8_t *)out)[i] = (int8_t)(uint8_t)v; break;
    case INGOT_I32: ((int32_t *)out)[i] = (int32_t)(uint32_t)v; break;
    case INGOT_U32: ((uint32_t *)out)[i] = (uint32_t)v; break;
    case INGOT_I64: ((int64_t *)out)[i] = v; break;
    default: store_f64(out, dt, i, (double)v); break;
    }
}

// ---- groups ----

// S with every 32-bit word exchanged with lane ^ mask.
template <class S> __device__ static inline S shfl_xor(S s, int mask) {
    static_assert(sizeof(S) % 4 == 0, "shuffled state must be whole words");
    unsigned w[sizeof(S) / 4];
    memcpy(w, &s, sizeof s);
    for (unsigned k = 0; k < sizeof(S) / 4; k++)
        w[k] = __shfl_xor_sync(0xffffffffu, w[k], mask);
    memcpy(&s, w, sizeof s);
    return s;
}

// The combination of s over the calling group (blockDim.x threads), returned
// to every thread of it. combine must be commutative; for G > 32 the whole
// block is one group and must call this together.
template <class S, class C> __device__ static S group_reduce(S s, C combine) {
    __shared__ S part[32]; // one per warp
    if (blockDim.x == 1) return s;
    for (int m = 16; m > 0; m >>= 1)
        s = combine(s, shfl_xor(s, m));
    if (blockDim.x <= 32) return s;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    if (lane == 0) part[warp] = s;
    __syncthreads();
    s = part[0];
    for (int w = 1; w < nwarps; w++)
        s = combine(s, part[w]);
    __syncthreads(); // part may be reused by the next call
    return s;
}

// The group size for n elements per output: 1 when strided (one thread per
// output, outputs adjacent in memory) with enough outputs, else by length.
static int group_size(int64_t n, int64_t outputs, bool contiguous) {
    if (n <= 16 || (!contiguous && outputs >= 2048)) return 1;
    if (n <= 1024) return 32;
    if (n <= 8192) return 256;
    return 1024;
}

// Launch shape for `outputs` groups of g threads: (blocks, block dims).
static void group_launch(int64_t outputs, int g, unsigned *blocks, dim3 *block) {
    int per = g >= 256 ? 1 : 256 / g;
    *block = dim3((unsigned)g, (unsigned)per);
    int64_t b = (outputs + per - 1) / per;
    *blocks = (unsigned)(b > 65535 * 16 ? 65535 * 16 : b);
}

// The first output (row) of the calling group and the step between its outputs.
__device__ static inline int64_t group_first() {
    return (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
}
__device__ static inline int64_t group_step() { return (int64_t)gridDim.x * blockDim.y; }

// Offset of linear element r of an iteration with one operand.
__device__ static inline int64_t offset1(const ingot__cu_iter &it, int64_t r) {
    int64_t off[1];
    ingot__cu_offsets(it, r, off);
    return off[0];
}

// ---- reduce ----

namespace {
// a's kept dims (out's row-major order) and reduced dims (the fold order).
template <class T> struct red_args {
    const T *a;
    void *out; // contiguous keepdims
    ingot_dtype odt;
    ingot__cu_iter kept, red; // one operand each: a's strides
};
} // namespace

// Calls f(x) for the reduced elements of the output at a offset base that
// the calling thread owns, in increasing order, with their position.
template <class T, class F>
__device__ static inline void visit(const red_args<T> &g, int64_t base, F &&f) {
    for (int64_t r = threadIdx.x; r < g.red.size; r += blockDim.x)
        f(g.a[base + offset1(g.red, r)], r);
}

namespace {
template <class A> struct plus {
    __device__ A operator()(A x, A y) const { return x + y; }
};
} // namespace

// Sum: one group per output; Acc is double, float or uint64_t (wrapping).
template <class T, class Acc> static __global__ void reduce_sum(red_args<T> g, int64_t nout) {
    for (int64_t o = group_first(); o < nout; o += group_step()) {
        int64_t base = offset1(g.kept, o);
        Acc s = 0;
        visit(g, base, [&](T x, int64_t) { s += (Acc)value_of(x); });
        s = group_reduce(s, plus<Acc>());
        if (threadIdx.x != 0) continue;
        if constexpr (std::is_same_v<Acc, uint64_t>)
            store_i64(g.out, g.odt, o, (int64_t)s);
        else
            store_f64(g.out, g.odt, o, (double)s);
    }
}

namespace {
// A candidate extreme: value and position (pos NONE: nothing seen yet).
template <class V> struct extreme {
    V v;
    int64_t pos;
};
} // namespace
static constexpr int64_t NONE = INT64_MAX;

template <class V> __device__ static inline bool is_nan(V v) {
    if constexpr (std::is_same_v<V, float>)
        return isnan(v);
    else
        return false;
}

namespace {
// Whether b replaces a as the running extreme of op. NaN wins for max, min
// and argmax (the first NaN is final on the CPU) and loses for argmin (it is
// skipped); equal values keep the first position.
template <class V> struct pick {
    ingot__reduce_op op;
    __device__ bool better(extreme<V> b, extreme<V> a) const {
        if (b.pos == NONE || a.pos == NONE) return a.pos == NONE && b.pos != NONE;
        bool na = is_nan(a.v), nb = is_nan(b.v);
        if (na || nb) {
            if (na && nb) return b.pos < a.pos;
            return op == INGOT__RED_ARGMIN ? na : nb;
        }
        bool up = op == INGOT__RED_MAX || op == INGOT__RED_ARGMAX || op == INGOT__RED_LOGSUMEXP;
        if (up ? b.v > a.v : b.v < a.v) return true;
        return b.v == a.v && b.pos < a.pos;
    }
    __device__ extreme<V> operator()(extreme<V> a, extreme<V> b) const {
        return better(b, a) ? b : a;
    }
};
} // namespace

// The extreme of op (max, min and the arg ops; the max pass of logsumexp)
// over the calling group's elements of the output at base.
template <class T>
__device__ static auto group_extreme(const red_args<T> &g, int64_t base, ingot__reduce_op op) {
    using V = decltype(value_of(T{}));
    pick<V> p{op};
    extreme<V> s{V(0), NONE};
    visit(g, base, [&](T x, int64_t r) { s = p(s, extreme<V>{value_of(x), r}); });
    return group_reduce(s, p);
}

// Max, min, argmax, argmin: one group per output.
template <class T>
static __global__ void reduce_extreme(red_args<T> g, int64_t nout, ingot__reduce_op op) {
    for (int64_t o = group_first(); o < nout; o += group_step()) {
        auto s = group_extreme(g, offset1(g.kept, o), op);
        if (threadIdx.x != 0) continue;
        if (op == INGOT__RED_ARGMAX || op == INGOT__RED_ARGMIN)
            store_i64(g.out, g.odt, o, s.pos == NONE ? 0 : s.pos);
        else if constexpr (is_float_v<T>)
            store_f64(g.out, g.odt, o,
                      s.pos != NONE          ? s.v
                      : op == INGOT__RED_MIN ? INFINITY
                                             : -INFINITY);
        else
            store_i64(g.out, g.odt, o, s.pos == NONE ? 0 : s.v);
    }
}

// Logsumexp (float T): the max, then shift + log(sum of exp(x - shift)) in
// double; a NaN, +inf or all -inf (or empty) maximum is the result.
template <class T> static __global__ void reduce_logsumexp(red_args<T> g, int64_t nout) {
    for (int64_t o = group_first(); o < nout; o += group_step()) {
        int64_t base = offset1(g.kept, o);
        auto m = group_extreme(g, base, INGOT__RED_LOGSUMEXP);
        double shift = m.pos == NONE ? -INFINITY : (double)m.v;
        double s = 0;
        if (isfinite(shift)) {
            visit(g, base, [&](T x, int64_t) { s += exp((double)(float)x - shift); });
            s = group_reduce(s, plus<double>());
        }
        if (threadIdx.x == 0) store_f64(g.out, g.odt, o, isfinite(shift) ? shift + log(s) : shift);
    }
}

ingot_status ingot__cuda_reduce(ingot__reduce_op op, ingot_array *out, const ingot_array *a,
                                const bool reduce[INGOT_MAX_DIMS]) {
    if (out->size == 0) return INGOT_OK;
    int64_t kshape[INGOT_MAX_DIMS], kstride[INGOT_MAX_DIMS];
    int64_t rshape[INGOT_MAX_DIMS], rstride[INGOT_MAX_DIMS];
    int nk = 0, nr = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (reduce[d]) {
            rshape[nr] = a->shape[d];
            rstride[nr++] = a->strides[d];
        } else {
            kshape[nk] = a->shape[d];
            kstride[nk++] = a->strides[d];
        }
    }
    ingot__cu_iter kept, red;
    const int64_t *ks[1] = {kstride}, *rs[1] = {rstride};
    ingot__cu_iter_init(&kept, kshape, nk, 1, ks);
    ingot__cu_iter_init(&red, rshape, nr, 1, rs);
    bool contiguous = red.ndim == 0 || red.strides[0][red.ndim - 1] == 1;
    int gs = group_size(red.size, out->size, contiguous);
    unsigned blocks;
    dim3 block;
    group_launch(out->size, gs, &blocks, &block);
    cudaStream_t stream = ingot__cu_stream(ingot__cu_index(out));
    int64_t nout = out->size;
    ingot_status st = with_type(a->dtype, [&](auto tag) -> ingot_status {
        using T = decltype(tag);
        red_args<T> g{(const T *)ingot__data(a), ingot__data(out), out->dtype, kept, red};
        if (op == INGOT__RED_SUM) {
            if constexpr (std::is_same_v<T, float>)
                reduce_sum<T, double><<<blocks, block, 0, stream>>>(g, nout);
            else if constexpr (is_float_v<T>)
                reduce_sum<T, float><<<blocks, block, 0, stream>>>(g, nout);
            else
                reduce_sum<T, uint64_t><<<blocks, block, 0, stream>>>(g, nout);
        } else if (op == INGOT__RED_LOGSUMEXP) {
            // The op layer converts integers to float first.
            if constexpr (!is_float_v<T>)
                return ingot__error(INGOT_ERR_UNSUPPORTED, "logsumexp: needs a float input");
            else
                reduce_logsumexp<T><<<blocks, block, 0, stream>>>(g, nout);
        } else {
            reduce_extreme<T><<<blocks, block, 0, stream>>>(g, nout, op);
        }
        return INGOT_OK;
    });
    if (st) return st;
    INGOT__CU_CHECK(cudaGetLastError(), "reduce");
    return INGOT_OK;
}

// ---- rows along one axis (softmax, cumsum) ----


// ---- softmax ----

// The larger of x and y, NaN if either is.
__device__ static inline float nan_max(float x, float y) { return x > y || x != x ? x : y; }

namespace {
struct nan_max_op {
    __device__ float operator()(float x, float y) const { return nan_max(x, y); }
};
} // namespace

// One group per row: the maximum (NaN if any), the sum of expf(x - max) in
// double, then expf(x - max) / sum or (x - max) - log(sum) rounded to T, as
// the CPU's three passes.
template <class T>
static __global__ void softmax_rows(const T *a, T *out, ingot__cu_rows r, bool log_) {
    for (int64_t row = group_first(); row < r.count; row += group_step()) {
        int64_t off[2];
        ingot__cu_offsets(r.other, row, off);
        const T *src = a + off[0];
        T *dst = out + off[1];
        float mx = -INFINITY;
        for (int64_t j = threadIdx.x; j < r.n; j += blockDim.x)
            mx = nan_max(mx, (float)src[j * r.as]);
        mx = group_reduce(mx, nan_max_op());
        double sum = 0;
        for (int64_t j = threadIdx.x; j < r.n; j += blockDim.x)
            sum += expf((float)src[j * r.as] - mx);
        sum = group_reduce(sum, plus<double>());
        double lsum = log(sum), inv = 1.0 / sum;
        for (int64_t j = threadIdx.x; j < r.n; j += blockDim.x) {
            float z = (float)src[j * r.as] - mx;
            dst[j * r.os] = from_f32<T>((float)(log_ ? z - lsum : expf(z) * inv));
        }
    }
}

ingot_status ingot__cuda_softmax(ingot_array *out, const ingot_array *a, int axis, bool log) {
    if (out->size == 0) return INGOT_OK;
    ingot__cu_rows r = ingot__cu_rows_of(out, a, axis);
    int gs = group_size(r.n, r.count, r.as == 1);
    unsigned blocks;
    dim3 block;
    group_launch(r.count, gs, &blocks, &block);
    cudaStream_t stream = ingot__cu_stream(ingot__cu_index(out));
    switch (a->dtype) {
    case INGOT_F32:
        softmax_rows<<<blocks, block, 0, stream>>>((const float *)ingot__data(a),
                                                   (float *)ingot__data(out), r, log);
        break;
    case INGOT_F16:
        softmax_rows<<<blocks, block, 0, stream>>>((const __half *)ingot__data(a),
                                                   (__half *)ingot__data(out), r, log);
        break;
    case INGOT_BF16:
        softmax_rows<<<blocks, block, 0, stream>>>((const __nv_bfloat16 *)ingot__data(a),
                                                   (__nv_bfloat16 *)ingot__data(out), r, log);
        break;
    default: return ingot__error(INGOT_ERR_UNSUPPORTED, "softmax: needs a float input");
    }
    INGOT__CU_CHECK(cudaGetLastError(), "softmax");
    return INGOT_OK;
}

// ---- cumsum ----

// The scan's output type: floats keep T, integers and bool give int64.
template <class T> using scan_out = std::conditional_t<is_float_v<T>, T, int64_t>;

template <class T, class Acc> __device__ static inline scan_out<T> scan_store(Acc v) {
    if constexpr (is_float_v<T>)
        return from_f32<T>((float)v);
    else
        return (int64_t)v;
}

namespace {
struct scan_dir {
    bool reverse, exclusive;
};
} // namespace

// One thread per row, in order along it: exactly the CPU's sequence of
// rounded additions (Acc: double for f32, float for f16/bf16, uint64_t).
template <class T, class Acc>
static __global__ void cumsum_serial(const T *a, scan_out<T> *out, ingot__cu_rows r,
                                     scan_dir dir) {
    for (int64_t row = group_first(); row < r.count; row += group_step()) {
        int64_t off[2];
        ingot__cu_offsets(r.other, row, off);
        Acc acc = 0;
        for (int64_t k = 0; k < r.n; k++) {
            int64_t j = dir.reverse ? r.n - 1 - k : k;
            Acc prev = acc;
            acc += (Acc)value_of(a[off[0] + j * r.as]);
            out[off[1] + j * r.os] = scan_store<T>(dir.exclusive ? prev : acc);
        }
    }
}

enum { SCAN_ITEMS = 4 }; // consecutive elements per thread per chunk

// The sum of v over the group's threads before the caller (exclusive), and
// *total over the whole group. G is a multiple of 32.
template <class Acc> __device__ static Acc group_exclusive_scan(Acc v, Acc *total) {
    __shared__ Acc warp_sum[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    Acc inc = v;
    for (int d = 1; d < 32; d <<= 1) {
        Acc t = __shfl_up_sync(0xffffffffu, inc, d);
        if (lane >= d) inc += t;
    }
    Acc ex = __shfl_up_sync(0xffffffffu, inc, 1);
    if (lane == 0) ex = 0;
    if (nwarps == 1) {
        *total = __shfl_sync(0xffffffffu, inc, 31);
        return ex;
    }
    if (lane == 31) warp_sum[warp] = inc;
    __syncthreads();
    Acc before = 0, all = 0;
    for (int w = 0; w < nwarps; w++) {
        if (w == warp) before = all;
        all += warp_sum[w];
    }
    __syncthreads(); // warp_sum may be reused by the next call
    *total = all;
    return before + ex;
}

// One group per row, in chunks of G * SCAN_ITEMS elements: each thread scans
// its consecutive items, the group scans the thread totals, and a carry
// moves between chunks. Sums are regrouped (exact for integers).
template <class T, class Acc>
static __global__ void cumsum_groups(const T *a, scan_out<T> *out, ingot__cu_rows r,
                                     scan_dir dir) {
    for (int64_t row = group_first(); row < r.count; row += group_step()) {
        int64_t off[2];
        ingot__cu_offsets(r.other, row, off);
        Acc carry = 0;
        for (int64_t c = 0; c < r.n; c += (int64_t)blockDim.x * SCAN_ITEMS) {
            int64_t k0 = c + (int64_t)threadIdx.x * SCAN_ITEMS;
            Acc x[SCAN_ITEMS], own = 0;
            for (int t = 0; t < SCAN_ITEMS; t++) {
                int64_t k = k0 + t, j = dir.reverse ? r.n - 1 - k : k;
                x[t] = k < r.n ? (Acc)value_of(a[off[0] + j * r.as]) : Acc(0);
                own += x[t];
            }
            Acc total;
            Acc acc = carry + group_exclusive_scan(own, &total);
            for (int t = 0; t < SCAN_ITEMS; t++) {
                int64_t k = k0 + t, j = dir.reverse ? r.n - 1 - k : k;
                Acc prev = acc;
                acc += x[t];
                if (k < r.n) out[off[1] + j * r.os] = scan_store<T>(dir.exclusive ? prev : acc);
            }
            carry += total;
        }
    }
}

ingot_status ingot__cuda_cumsum(ingot_array *out, const ingot_array *a, int axis, bool reverse,
                                bool exclusive) {
    if (out->size == 0) return INGOT_OK;
    ingot__cu_rows r = ingot__cu_rows_of(out, a, axis);
    scan_dir dir{reverse, exclusive};
    int gs = group_size(r.n, r.count, r.as == 1);
    unsigned blocks;
    dim3 block;
    group_launch(r.count, gs, &blocks, &block);
    cudaStream_t stream = ingot__cu_stream(ingot__cu_index(out));
    ingot_status st = with_type(a->dtype, [&](auto tag) -> ingot_status {
        using T = decltype(tag);
        using Acc = std::conditional_t<std::is_same_v<T, float>, double,
                                       std::conditional_t<is_float_v<T>, float, uint64_t>>;
        const T *src = (const T *)ingot__data(a);
        scan_out<T> *dst = (scan_out<T> *)ingot__data(out);
        if (gs == 1)
            cumsum_serial<T, Acc><<<blocks, block, 0, stream>>>(src, dst, r, dir);
        else
            cumsum_groups<T, Acc><<<blocks, block, 0, stream>>>(src, dst, r, dir);
        return INGOT_OK;
    });
    if (st) return st;
    INGOT__CU_CHECK(cudaGetLastError(), "cumsum");
    return INGOT_OK;
}
