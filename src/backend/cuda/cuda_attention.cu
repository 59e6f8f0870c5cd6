// CUDA kernels for sdpa and its VJP, mirroring cpu_attention.c.
//
// Shapes: q [B, Hq, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv], mask a
// [B, Hq, Tq, Tk] broadcast view (bool or float) or NULL, out [B, Hq, Tq, Dv]
// contiguous, lse [B, Hq, Tq] f32 (strided). q, k, v and the backward's out
// and g may be strided views (k and v are often a slice of a KV cache). Query
// head h reads kv head h / (Hq / Hkv). Batch row b has tk = Tk keys, or
// kv_len[b] clamped to [0, Tk] (an i32/i64 [B] view read on the device), and
// its query i sits at position tk - Tq + i. A score is s = scale * (q . k) +
// mask, hidden keys (past tk, causal, window, bool mask false, -inf) count as
// -inf; scores, probabilities and accumulators are f32 and every result is
// rounded once to its array's dtype.
//
// Forward, register path (D, Dv <= 256, q, k, v of one dtype): flash
// attention with an online softmax. The rows of (b, kv head) are the
// G * Tq pairs (query head of the group, query), so a block's K/V tiles in
// shared memory serve every query head of the group. When the (b, kv head,
// row tile) blocks cannot fill the GPU (decode), the keys of each tile are
// split over several blocks that write partial (max, sum, acc) rows to
// scratch, and a combine kernel merges them (split-KV). The split count
// follows max_kv_len when the caller gives one (kv_len is device data).
// Forward, general path (any D, Dv): one warp per query row, accumulator in
// f32 scratch.
//
// VJP, with p = exp(s - lse) and delta_i = dO_i . O_i (as the CPU):
//   dV_j = sum_i p_ij dO_i,  dS_ij = p_ij (dO_i . V_j - delta_i),
//   dQ_i = scale sum_j dS_ij K_j,  dK_j = scale sum_i dS_ij Q_i.
// One warp per query row forms dQ_i; one warp per key row forms dK_j and dV_j
// over the query heads of its group and the queries in ascending order. No
// element is accumulated by two warps, so the results are deterministic.
#include <math.h>
#include <mma.h>

#include "backend/cuda/cuda_internal.h"

namespace {

constexpr int WARPS = 4;         // warps per block in every kernel here
constexpr int THREADS = WARPS * 32;
constexpr int KT = 32;           // keys per shared-memory tile: one per lane
constexpr int MAX_SPLITS = 64;   // split-KV: most key chunks per row tile
constexpr int MIN_SPLIT_KEYS = 128;

// A strided [B, H, T, C] operand (element offsets from data).
struct operand {
    const void *data;
    ingot_dtype dtype;
    int64_t s[4];
    __device__ int64_t row(int64_t b, int64_t h, int64_t t) const {
        return b * s[0] + h * s[1] + t * s[2];
    }
    __device__ float load(int64_t row_off, int64_t c) const {
        return ingot__cu_load_f32(data, dtype, row_off + c * s[3]);
    }
};

// The dimensions and options of one call.
struct dims {
    int64_t B, Hq, Hkv, Tq, Tk, D, Dv, group;
    int64_t keys_hint; // the most keys a row uses, as far as the host knows
    int64_t window; // 0: none
    float scale;
    bool causal;
    operand mask; // data NULL: no mask
    const void *kv_len; // [B] i32 or i64, or NULL: keys per batch row
    int64_t kv_len_s;   // its stride
    bool kv_len_i64;
    float *lse_out;        // forward, [B, Hq, Tq] or NULL
    const float *lse;      // vjp, [B, Hq, Tq]
    int64_t lse_s[3];
};

// The number of keys batch row b has: kv_len[b] clamped to [0, Tk], or Tk.
__device__ int64_t keys_of(const dims &a, int64_t b) {
    if (!a.kv_len) return a.Tk;
    const int64_t i = b * a.kv_len_s;
    const int64_t n = a.kv_len_i64 ? ((const int64_t *)a.kv_len)[i] : ((const int32_t *)a.kv_len)[i];
    return n < 0 ? 0 : n > a.Tk ? a.Tk : n;
}

// Keys [lo, hi] that kv_len, causal and window let query i of batch row b
// see (empty if lo > hi).
__device__ void key_range(const dims &a, int64_t b, int64_t i, int64_t &lo, int64_t &hi) {
    const int64_t tk = keys_of(a, b), p = tk - a.Tq + i;
    lo = 0;
    hi = tk - 1;
    if (a.causal && p < hi) hi = p;
    if (a.window > 0 && p - a.window + 1 > lo) lo = p - a.window + 1;
}

// The keys [lo, hi] that any of rows r0 .. r0 + n - 1 of (b, kv head) sees
// (row r: query r % Tq of the group's head r / Tq). Key ranges grow with the
// query, so the smallest and largest query of the rows bound them (all
// queries when the rows span two heads).
__device__ void tile_keys(const dims &a, int64_t b, int64_t r0, int64_t n, int64_t &lo,
                          int64_t &hi) {
    const int64_t rl = r0 + n - 1;
    const bool span = r0 / a.Tq != rl / a.Tq;
    int64_t unused;
    key_range(a, b, span ? 0 : r0 % a.Tq, lo, unused);
    key_range(a, b, span ? a.Tq - 1 : rl % a.Tq, unused, hi);
}

// s with the mask entry (b, h, i, j) applied; -inf when the mask hides key j.
__device__ float apply_mask(const dims &a, float s, int64_t b, int64_t h, int64_t i, int64_t j) {
    const operand &m = a.mask;
    if (!m.data) return s;
    int64_t off = b * m.s[0] + h * m.s[1] + i * m.s[2] + j * m.s[3];
    if (m.dtype == INGOT_BOOL) return ((const uint8_t *)m.data)[off] ? s : -INFINITY;
    return s + ingot__cu_load_f32(m.data, m.dtype, off);
}

__device__ int64_t lse_offset(const dims &a, int64_t b, int64_t h, int64_t i) {
    return b * a.lse_s[0] + h * a.lse_s[1] + i * a.lse_s[2];
}

__device__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// The warp's max; NaN loses to anything, as the CPU's `s > max` scan.
__device__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// x . y over n elements of two strided rows, summed by the whole warp.
__device__ float warp_dot(const operand &x, int64_t xo, const operand &y, int64_t yo, int64_t n) {
    float s = 0;
    for (int64_t c = threadIdx.x % 32; c < n; c += 32) s += x.load(xo, c) * y.load(yo, c);
    return warp_sum(s);
}

__device__ float to_f32(float x) { return x; }
__device__ float to_f32(__half x) { return __half2float(x); }
__device__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }

// A finished softmax row with max m and sum l of exp(s - m): out = acc * inv()
// (a row with l = 0 saw no key: zeros), and its log-sum-exp (-inf for such a
// row), as the CPU kernel forms them.
struct row_result {
    float m, l;
    __device__ float inv() const { return l > 0 ? 1.0f / l : 0.0f; }
    __device__ float lse() const { return l > 0 ? m + logf(l) : -INFINITY; }
};

// ---- forward, register path ----

// Rows per warp of the register kernel: fewer for wide heads to bound registers.
__host__ __device__ constexpr int rows_per_warp(int nc) { return nc >= 8 ? 2 : 4; }

// Shared-memory row strides (floats) of the register kernel: q and v rows
// padded to a multiple of 4 (float4 access), k rows further padded to an odd
// number of float4s so that lane l reading k row l is free of bank conflicts.
struct smem_layout {
    int dp, kstride, dvp; // q row, k row, v row
    __host__ __device__ smem_layout(int64_t D, int64_t Dv)
        : dp((int)(D + 3) / 4 * 4), kstride(dp / 4 % 2 ? dp : dp + 4), dvp((int)(Dv + 3) / 4 * 4) {}
    // [rows, dp] q, then [KT, kstride] k, then [KT, dvp] v
    __host__ __device__ size_t floats(int rows) const {
        return (size_t)rows * dp + (size_t)KT * (kstride + dvp);
    }
};

struct fwd_args {
    dims a;
    const void *q, *k, *v; // one dtype T
    int64_t qs[4], ks[4], vs[4];
    bool q_vec, k_vec, v_vec; // rows load as aligned runs of 4 elements
    void *out;             // [B, Hq, Tq, Dv] contiguous
    ingot_dtype out_dtype;
    int64_t ntiles;        // row tiles per (b, kv head)
    int nsplit;            // key chunks per row tile; > 1 writes the partials
    float *part_acc;       // [nsplit, B * Hq * Tq, Dv]
    float *part_ml;        // [nsplit, B * Hq * Tq, 2]: (m, l)
};

__device__ float4 load4(const float *p) { return *(const float4 *)p; }
__device__ float4 load4(const __half *p) {
    const uint2 u = *(const uint2 *)p;
    const float2 lo = __half22float2(*(const __half2 *)&u.x), hi = __half22float2(*(const __half2 *)&u.y);
    return make_float4(lo.x, lo.y, hi.x, hi.y);
}
__device__ float4 load4(const __nv_bfloat16 *p) {
    const uint2 u = *(const uint2 *)p;
    const float2 lo = __bfloat1622float2(*(const __nv_bfloat162 *)&u.x);
    const float2 hi = __bfloat1622float2(*(const __nv_bfloat162 *)&u.y);
    return make_float4(lo.x, lo.y, hi.x, hi.y);
}

// The block stages n rows of C elements of x as f32 into dst ([n, ld], ld a
// multiple of 4), columns [C, roundup(C, 4)) zero. Row r starts at element
// row_off(r) and steps by cs; vec: cs is 1 and every row start is aligned to
// 4 elements, so runs of 4 load as one vector.
template <typename T, typename RowOff>
__device__ void stage_rows(float *dst, int ld, const T *x, RowOff row_off, int64_t cs, int n,
                           int C, bool vec) {
    const int c4 = (C + 3) / 4;
    for (int e = threadIdx.x; e < n * c4; e += THREADS) {
        const int r = e / c4, d = (e - r * c4) * 4;
        const int64_t src = row_off(r) + d * cs;
        float4 v;
        if (vec && d + 4 <= C) {
            v = load4(x + src);
        } else {
            v.x = to_f32(x[src]);
            v.y = d + 1 < C ? to_f32(x[src + cs]) : 0.0f;
            v.z = d + 2 < C ? to_f32(x[src + 2 * cs]) : 0.0f;
            v.w = d + 3 < C ? to_f32(x[src + 3 * cs]) : 0.0f;
        }
        *(float4 *)(dst + (size_t)r * ld + d) = v;
    }
}

// One block per (b, kv head hk, tile of ROWS rows, key chunk); a grid-stride
// loop covers grids past the launch limit. The rows of (b, hk) are the
// G * Tq pairs (query head hk * G + r / Tq, query r % Tq); warp w owns rows
// w, w + WARPS, ... of the tile. The tile's q rows and K/V tiles of KT keys
// are staged in shared memory as f32 (smem_layout). Lane l scores key l of a
// K tile against each of its warp's rows, and holds elements
// c * 32 * VW + l * VW + e (e < VW) of each row's f32 accumulator (NC per
// row, NC * 32 >= Dv). With nsplit 1 the block writes out and lse, else its
// partial (m, l, acc) rows.
template <typename T, int NC>
__global__ void __launch_bounds__(THREADS) sdpa_fwd_kernel(fwd_args f) {
    constexpr int RW = rows_per_warp(NC), ROWS = WARPS * RW;
    constexpr int VW = NC >= 4 ? 4 : 2, NV = NC / VW; // accumulator vectors per lane
    extern __shared__ float4 smem4[];
    const dims &a = f.a;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int D = (int)a.D, Dv = (int)a.Dv;
    const smem_layout L(a.D, a.Dv);
    float *qs = (float *)smem4;         // [ROWS, dp]
    float *ks = qs + ROWS * L.dp;       // [KT, kstride]
    float *vs = ks + KT * L.kstride;    // [KT, dvp]
    const int64_t R = a.group * a.Tq, nrow_all = a.B * a.Hq * a.Tq;
    const int64_t nblocks = a.B * a.Hkv * f.ntiles * f.nsplit;
    for (int64_t bid = blockIdx.x; bid < nblocks; bid += gridDim.x) {
        const int split = (int)(bid % f.nsplit);
        const int64_t tile = bid / f.nsplit % f.ntiles, bh = bid / f.nsplit / f.ntiles;
        const int64_t b = bh / a.Hkv, hk = bh % a.Hkv;
        const int64_t r0 = tile * ROWS, nrows = R - r0 < ROWS ? R - r0 : ROWS;
        int64_t lo, hi;
        tile_keys(a, b, r0, nrows, lo, hi);
        // This block's chunk of [lo, hi]: whole tiles of KT keys.
        const int64_t len = hi - lo + 1 > 0 ? hi - lo + 1 : 0;
        const int64_t chunk = ((len + f.nsplit - 1) / f.nsplit + KT - 1) / KT * KT;
        const int64_t jb = lo + split * chunk;
        const int64_t je = jb + chunk - 1 < hi ? jb + chunk - 1 : hi;

        __syncthreads(); // the previous block's rows are consumed
        auto q_row = [&](int r) { // rows past the tile repeat its last one
            const int64_t rr = r0 + (r < nrows ? r : nrows - 1);
            return b * f.qs[0] + (hk * a.group + rr / a.Tq) * f.qs[1] + rr % a.Tq * f.qs[2];
        };
        stage_rows(qs, L.dp, (const T *)f.q, q_row, f.qs[3], ROWS, D, f.q_vec);

        float acc[RW][NC], m[RW], l[RW];
        int64_t rlo[RW], rhi[RW];
#pragma unroll
        for (int k = 0; k < RW; k++) {
            const int64_t r = r0 + warp + k * WARPS;
            m[k] = -INFINITY;
            l[k] = 0;
            rlo[k] = 1;
            rhi[k] = 0; // inactive row: empty range
            if (r < R) {
                key_range(a, b, r % a.Tq, rlo[k], rhi[k]);
                if (rlo[k] < jb) rlo[k] = jb;
                if (rhi[k] > je) rhi[k] = je;
            }
#pragma unroll
            for (int c = 0; c < NC; c++) acc[k][c] = 0;
        }
        for (int64_t j0 = jb; j0 <= je; j0 += KT) {
            const int nk = (int)(je - j0 + 1 < KT ? je - j0 + 1 : KT);
            const int64_t ko = b * f.ks[0] + hk * f.ks[1] + j0 * f.ks[2];
            const int64_t vo = b * f.vs[0] + hk * f.vs[1] + j0 * f.vs[2];
            __syncthreads(); // the previous tile is consumed
            stage_rows(ks, L.kstride, (const T *)f.k, [&](int r) { return ko + r * f.ks[2]; },
                       f.ks[3], nk, D, f.k_vec);
            stage_rows(vs, L.dvp, (const T *)f.v, [&](int r) { return vo + r * f.vs[2]; },
                       f.vs[3], nk, Dv, f.v_vec);
            __syncthreads();
            // Lane l's dot products with key j0 + l (garbage past nk: unused)
            // for the warp's rows within the tile.
            float dot[RW];
#pragma unroll
            for (int k = 0; k < RW; k++) dot[k] = 0;
            const float *krow = ks + lane * L.kstride;
            for (int d = 0; d < L.dp; d += 4) {
                const float4 kv = *(const float4 *)(krow + d);
#pragma unroll
                for (int k = 0; k < RW; k++) {
                    if (warp + k * WARPS >= nrows) break; // warp-uniform
                    const float4 qv = *(const float4 *)(qs + (warp + k * WARPS) * L.dp + d);
                    dot[k] += qv.x * kv.x + qv.y * kv.y + qv.z * kv.z + qv.w * kv.w;
                }
            }
#pragma unroll
            for (int k = 0; k < RW; k++) {
                const int64_t klo = rlo[k] > j0 ? rlo[k] : j0;
                const int64_t khi = rhi[k] < j0 + nk - 1 ? rhi[k] : j0 + nk - 1;
                if (klo > khi) continue; // warp-uniform
                const int jlo = (int)(klo - j0), jhi = (int)(khi - j0);
                const int64_t r = r0 + warp + k * WARPS, h = hk * a.group + r / a.Tq;
                const bool mine = lane >= jlo && lane <= jhi;
                const float s = mine ? apply_mask(a, a.scale * dot[k], b, h, r % a.Tq, j0 + lane)
                                     : -INFINITY;
                const float bm = warp_max(s);
                if (bm == -INFINITY) continue;
                const float mn = fmaxf(m[k], bm);
                const float alpha = expf(m[k] - mn);
                if (alpha != 1.0f) {
                    l[k] *= alpha;
#pragma unroll
                    for (int c = 0; c < NC; c++) acc[k][c] *= alpha;
                }
                const float p = mine ? expf(s - mn) : 0.0f;
                l[k] += warp_sum(p);
                for (int jj = jlo; jj <= jhi; jj++) {
                    const float pj = __shfl_sync(0xffffffffu, p, jj);
#pragma unroll
                    for (int c = 0; c < NV; c++) {
                        const int d = c * 32 * VW + lane * VW;
                        if (d >= Dv) continue;
                        const float *vr = vs + jj * L.dvp + d;
                        if constexpr (VW == 4) {
                            const float4 vv = *(const float4 *)vr;
                            acc[k][c * 4] += pj * vv.x;
                            acc[k][c * 4 + 1] += pj * vv.y;
                            acc[k][c * 4 + 2] += pj * vv.z;
                            acc[k][c * 4 + 3] += pj * vv.w;
                        } else {
                            const float2 vv = *(const float2 *)vr;
                            acc[k][c * 2] += pj * vv.x;
                            acc[k][c * 2 + 1] += pj * vv.y;
                        }
                    }
                }
                m[k] = mn;
            }
        }
#pragma unroll
        for (int k = 0; k < RW; k++) {
            const int64_t r = r0 + warp + k * WARPS;
            if (r >= R) continue;
            const int64_t h = hk * a.group + r / a.Tq, i = r % a.Tq;
            const int64_t grow = (b * a.Hq + h) * a.Tq + i; // row of out
            const row_result res{m[k], l[k]};
            const float inv = res.inv();
#pragma unroll
            for (int c = 0; c < NC; c++) {
                const int d = c / VW * 32 * VW + lane * VW + c % VW;
                if (d >= Dv) continue;
                if (f.nsplit == 1)
                    ingot__cu_store_f32(f.out, f.out_dtype, grow * Dv + d, acc[k][c] * inv);
                else
                    f.part_acc[(split * nrow_all + grow) * Dv + d] = acc[k][c];
            }
            if (lane != 0) continue;
            if (f.nsplit == 1 && a.lse_out) {
                a.lse_out[lse_offset(a, b, h, i)] = res.lse();
            } else if (f.nsplit > 1) {
                f.part_ml[(split * nrow_all + grow) * 2] = m[k];
                f.part_ml[(split * nrow_all + grow) * 2 + 1] = l[k];
            }
        }
    }
}

// One warp per output row (b, h, i): merges the nsplit partial rows of the
// split-KV forward into out and lse.
__global__ void __launch_bounds__(THREADS) sdpa_combine_kernel(fwd_args f) {
    const dims &a = f.a;
    const int lane = threadIdx.x % 32;
    const int64_t nrow = a.B * a.Hq * a.Tq, Dv = a.Dv;
    const int64_t first = (int64_t)blockIdx.x * WARPS + threadIdx.x / 32;
    for (int64_t row = first; row < nrow; row += (int64_t)gridDim.x * WARPS) {
        float mx = -INFINITY;
        for (int s = 0; s < f.nsplit; s++) mx = fmaxf(mx, f.part_ml[(s * nrow + row) * 2]);
        row_result res{mx, 0.0f};
        if (mx != -INFINITY) {
            for (int s = 0; s < f.nsplit; s++) {
                const float ms = f.part_ml[(s * nrow + row) * 2];
                if (ms != -INFINITY) res.l += f.part_ml[(s * nrow + row) * 2 + 1] * expf(ms - mx);
            }
        }
        const float inv = res.inv();
        for (int64_t d = lane; d < Dv; d += 32) {
            float o = 0;
            for (int s = 0; s < f.nsplit && mx != -INFINITY; s++) {
                const float ms = f.part_ml[(s * nrow + row) * 2];
                if (ms != -INFINITY) o += f.part_acc[(s * nrow + row) * Dv + d] * expf(ms - mx);
            }
            ingot__cu_store_f32(f.out, f.out_dtype, row * Dv + d, o * inv);
        }
        if (a.lse_out && lane == 0) {
            const int64_t b = row / (a.Hq * a.Tq), h = row / a.Tq % a.Hq, i = row % a.Tq;
            a.lse_out[lse_offset(a, b, h, i)] = res.lse();
        }
    }
}

// ---- forward, tensor-core path ----
//
// f16/bf16 with D = Dv in {64, 128, 256} and at least TC_ROWS rows per
// (b, kv head) (prefill): a block of TC_WARPS warps takes TC_ROWS rows of
// (b, kv head), 16 a warp, stages them once and walks the keys in tiles of
// TC_KEYS staged in shared memory. S = Q K^T comes from WMMA (16x16x16: the
// products are exact, the sums f32) into shared memory, where two lanes a row
// apply the scale, the masks and the online softmax in f32 as the other paths
// do. P is split into hi + lo in the input dtype (P - hi - lo is ~2^-16 P), so
// P V on tensor cores (two products, lo's scaled) keeps the probabilities' f32
// precision.
// The f32 output rows live in shared memory, rescaled by the lanes.

namespace wm = nvcuda::wmma;
constexpr int TC_WARPS = 4, TC_ROWS = 16 * TC_WARPS, TC_KEYS = 64;
// P_lo is stored times this (exact: a power of two), so that in f16 it is a
// normal number, not a subnormal that the tensor cores may not keep.
constexpr float TC_LO_SCALE = 4096.0f;

template <typename T> __device__ T tc_from_f32(float x);
template <> __device__ __half tc_from_f32<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __nv_bfloat16 tc_from_f32<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}

// Shared-memory layout of the tensor-core kernel for head dim D (bytes; every
// region 128-byte aligned): q, k, v [TC_ROWS or TC_KEYS, D + 8] T; per warp
// s [16, TC_KEYS + 4] f32, p_hi and p_lo [16, TC_KEYS + 8] T, o [16, D + 4]
// f32 and alpha [16] f32. The row pads keep WMMA's 32-byte alignment and
// spread the banks.
struct tc_smem {
    int ldq, lds, ldp, ldo;
    size_t q, k, v, s, phi, plo, o, alpha, bytes;
    __host__ __device__ tc_smem(int D, int tsize)
        : ldq(D + 8), lds(TC_KEYS + 4), ldp(TC_KEYS + 8), ldo(D + 4) {
        size_t at = 0;
        auto take = [&](size_t n) {
            size_t here = at;
            at += (n + 127) / 128 * 128;
            return here;
        };
        q = take((size_t)TC_ROWS * ldq * tsize);
        k = take((size_t)TC_KEYS * ldq * tsize);
        v = take((size_t)TC_KEYS * ldq * tsize);
        s = take((size_t)TC_WARPS * 16 * lds * 4);
        phi = take((size_t)TC_WARPS * 16 * ldp * tsize);
        plo = take((size_t)TC_WARPS * 16 * ldp * tsize);
        o = take((size_t)TC_WARPS * 16 * ldo * 4);
        alpha = take((size_t)TC_WARPS * 16 * 4);
        bytes = at;
    }
};

// Stages n rows of D elements of x (row r at row_off(r), element stride cs)
// into dst ([rows, ld]); rows n .. rows - 1 become zeros. vec: cs is 1 and
// every row start is 8-element aligned, so 16-byte loads serve.
template <typename T, int D, typename RowOff>
__device__ void tc_stage(T *dst, int ld, int rows, const T *x, RowOff row_off, int64_t cs, int n,
                         bool vec) {
    if (vec) {
        for (int e = threadIdx.x; e < rows * (D / 8); e += blockDim.x) {
            const int r = e / (D / 8), d = e % (D / 8) * 8;
            uint4 u = make_uint4(0, 0, 0, 0);
            if (r < n) u = *(const uint4 *)(x + row_off(r) + d);
            *(uint4 *)(dst + r * ld + d) = u;
        }
        return;
    }
    for (int e = threadIdx.x; e < rows * D; e += blockDim.x) {
        const int r = e / D, d = e % D;
        dst[r * ld + d] = r < n ? x[row_off(r) + d * cs] : tc_from_f32<T>(0.0f);
    }
}

template <typename T, int D>
__global__ void __launch_bounds__(TC_WARPS * 32) sdpa_tc_kernel(fwd_args f) {
    extern __shared__ __align__(128) unsigned char tc_mem[];
    const dims &a = f.a;
    const tc_smem L(D, sizeof(T));
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    T *qs = (T *)(tc_mem + L.q), *ks = (T *)(tc_mem + L.k), *vs = (T *)(tc_mem + L.v);
    float *ss = (float *)(tc_mem + L.s) + warp * 16 * L.lds;
    T *phi = (T *)(tc_mem + L.phi) + warp * 16 * L.ldp;
    T *plo = (T *)(tc_mem + L.plo) + warp * 16 * L.ldp;
    float *os = (float *)(tc_mem + L.o) + warp * 16 * L.ldo;
    float *alpha = (float *)(tc_mem + L.alpha) + warp * 16;
    const int64_t R = a.group * a.Tq, ntiles = (R + TC_ROWS - 1) / TC_ROWS;
    const int64_t nblocks = a.B * a.Hkv * ntiles;
    const int my_row = lane / 2, half = lane % 2; // a lane pair a row, half the keys each
    for (int64_t bid = blockIdx.x; bid < nblocks; bid += gridDim.x) {
        const int64_t tile = bid % ntiles, bh = bid / ntiles, b = bh / a.Hkv, hk = bh % a.Hkv;
        const int64_t r0 = tile * TC_ROWS, nrows = R - r0 < TC_ROWS ? R - r0 : TC_ROWS;
        int64_t lo, hi;
        tile_keys(a, b, r0, nrows, lo, hi);
        __syncthreads(); // the previous tile's rows are written out
        tc_stage<T, D>(qs, L.ldq, TC_ROWS, (const T *)f.q, [&](int r) {
            const int64_t rr = r0 + r;
            return b * f.qs[0] + (hk * a.group + rr / a.Tq) * f.qs[1] + rr % a.Tq * f.qs[2];
        }, f.qs[3], (int)nrows, f.q_vec);
        for (int e = lane; e < 16 * D; e += 32) os[e / D * L.ldo + e % D] = 0.0f;
        const int64_t r = r0 + warp * 16 + my_row;
        const bool active = r < R;
        const int64_t h = active ? hk * a.group + r / a.Tq : 0, i = active ? r % a.Tq : 0;
        int64_t rlo = 1, rhi = 0; // the row's keys (empty when inactive)
        if (active) key_range(a, b, i, rlo, rhi);
        float m = -INFINITY, l = 0.0f;
        for (int64_t j0 = lo; j0 <= hi; j0 += TC_KEYS) {
            const int nk = (int)(hi - j0 + 1 < TC_KEYS ? hi - j0 + 1 : TC_KEYS);
            const int64_t ko = b * f.ks[0] + hk * f.ks[1] + j0 * f.ks[2];
            const int64_t vo = b * f.vs[0] + hk * f.vs[1] + j0 * f.vs[2];
            __syncthreads(); // q staged; the previous key tile consumed
            tc_stage<T, D>(ks, L.ldq, TC_KEYS, (const T *)f.k,
                           [&](int jj) { return ko + jj * f.ks[2]; }, f.ks[3], nk, f.k_vec);
            tc_stage<T, D>(vs, L.ldq, TC_KEYS, (const T *)f.v,
                           [&](int jj) { return vo + jj * f.vs[2]; }, f.vs[3], nk, f.v_vec);
            __syncthreads();
            // S [16, TC_KEYS] of this warp's rows.
            wm::fragment<wm::accumulator, 16, 16, 16, float> sacc[TC_KEYS / 16];
#pragma unroll
            for (int n = 0; n < TC_KEYS / 16; n++) wm::fill_fragment(sacc[n], 0.0f);
            for (int kk = 0; kk < D; kk += 16) {
                wm::fragment<wm::matrix_a, 16, 16, 16, T, wm::row_major> qa;
                wm::load_matrix_sync(qa, qs + warp * 16 * L.ldq + kk, L.ldq);
#pragma unroll
                for (int n = 0; n < TC_KEYS / 16; n++) {
                    wm::fragment<wm::matrix_b, 16, 16, 16, T, wm::col_major> kb;
                    wm::load_matrix_sync(kb, ks + n * 16 * L.ldq + kk, L.ldq);
                    wm::mma_sync(sacc[n], qa, kb, sacc[n]);
                }
            }
#pragma unroll
            for (int n = 0; n < TC_KEYS / 16; n++)
                wm::store_matrix_sync(ss + n * 16, sacc[n], L.lds, wm::mem_row_major);
            __syncwarp();
            // Online softmax of the row's visible keys; P as hi + lo.
            float sv[TC_KEYS / 2], bm = -INFINITY;
#pragma unroll
            for (int c = 0; c < TC_KEYS / 2; c++) {
                const int jj = half * (TC_KEYS / 2) + c;
                const int64_t j = j0 + jj;
                sv[c] = active && jj < nk && j >= rlo && j <= rhi
                            ? apply_mask(a, a.scale * ss[my_row * L.lds + jj], b, h, i, j)
                            : -INFINITY;
                bm = fmaxf(bm, sv[c]);
            }
            bm = fmaxf(bm, __shfl_xor_sync(0xffffffffu, bm, 1));
            const float mn = fmaxf(m, bm);
            const float al = bm == -INFINITY ? 1.0f : expf(m - mn);
            float psum = 0.0f;
#pragma unroll
            for (int c = 0; c < TC_KEYS / 2; c++) {
                const float p = bm == -INFINITY ? 0.0f : expf(sv[c] - mn);
                const T ph = tc_from_f32<T>(p);
                psum += p;
                phi[my_row * L.ldp + half * (TC_KEYS / 2) + c] = ph;
                plo[my_row * L.ldp + half * (TC_KEYS / 2) + c] =
                    tc_from_f32<T>((p - to_f32(ph)) * TC_LO_SCALE);
            }
            psum += __shfl_xor_sync(0xffffffffu, psum, 1);
            if (bm != -INFINITY) {
                l = l * al + psum;
                m = mn;
            }
            if (half == 0) alpha[my_row] = al;
            __syncwarp();
            for (int e = lane; e < 16 * D; e += 32) os[e / D * L.ldo + e % D] *= alpha[e / D];
            __syncwarp();
            // O += P_hi V + (P_lo V) / TC_LO_SCALE (a fragment's elements
            // line up with any other's of the same type)
            for (int n = 0; n < D / 16; n++) {
                wm::fragment<wm::accumulator, 16, 16, 16, float> oacc, olo;
                wm::load_matrix_sync(oacc, os + n * 16, L.ldo, wm::mem_row_major);
                wm::fill_fragment(olo, 0.0f);
#pragma unroll
                for (int kk = 0; kk < TC_KEYS; kk += 16) {
                    wm::fragment<wm::matrix_b, 16, 16, 16, T, wm::row_major> vb;
                    wm::fragment<wm::matrix_a, 16, 16, 16, T, wm::row_major> pa;
                    wm::load_matrix_sync(vb, vs + kk * L.ldq + n * 16, L.ldq);
                    wm::load_matrix_sync(pa, phi + kk, L.ldp);
                    wm::mma_sync(oacc, pa, vb, oacc);
                    wm::load_matrix_sync(pa, plo + kk, L.ldp);
                    wm::mma_sync(olo, pa, vb, olo);
                }
#pragma unroll
                for (int t = 0; t < oacc.num_elements; t++) oacc.x[t] += olo.x[t] / TC_LO_SCALE;
                wm::store_matrix_sync(os + n * 16, oacc, L.ldo, wm::mem_row_major);
            }
            __syncwarp();
        }
        __syncwarp(); // the output rows are complete
        if (active) {
            const row_result res{m, l};
            const float inv = res.inv();
            const int64_t grow = (b * a.Hq + h) * a.Tq + i; // row of out
            for (int d = half; d < D; d += 2)
                ingot__cu_store_f32(f.out, f.out_dtype, grow * D + d, os[my_row * L.ldo + d] * inv);
            if (half == 0 && a.lse_out) a.lse_out[lse_offset(a, b, h, i)] = res.lse();
        }
    }
}

// The tensor-core kernel for q, k, v of dtype T (see its conditions above).
template <typename T, int D> ingot_status launch_tc(fwd_args &f, cudaStream_t stream) {
    const dims &a = f.a;
    const int64_t ntiles = (a.group * a.Tq + TC_ROWS - 1) / TC_ROWS;
    const int64_t blocks = a.B * a.Hkv * ntiles;
    const size_t smem = tc_smem(D, sizeof(T)).bytes;
    cudaError_t err = cudaFuncSetAttribute(sdpa_tc_kernel<T, D>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (err == cudaSuccess) {
        sdpa_tc_kernel<T, D><<<(unsigned)(blocks < INT32_MAX ? blocks : INT32_MAX),
                               TC_WARPS * 32, smem, stream>>>(f);
        err = cudaGetLastError();
    }
    return ingot__cu_check(err, "sdpa");
}

template <typename T> ingot_status launch_tc_dtype(fwd_args &f, cudaStream_t stream) {
    if (f.a.D == 64) return launch_tc<T, 64>(f, stream);
    if (f.a.D == 128) return launch_tc<T, 128>(f, stream);
    return launch_tc<T, 256>(f, stream);
}

// ---- forward, general path ----

struct gen_args {
    dims a;
    operand q, k, v;
    void *out; // [B, Hq, Tq, Dv] contiguous
    ingot_dtype out_dtype;
    float *acc; // [B * Hq * Tq, Dv] scratch
};

// One warp per query row (b, h, i), keys in ascending order with an online
// softmax; lane l owns elements l + 32 c of the row's f32 accumulator (in
// scratch). q, k and v are read from global memory.
__global__ void __launch_bounds__(THREADS) sdpa_fwd_general_kernel(gen_args g) {
    const dims &a = g.a;
    const int lane = threadIdx.x % 32;
    const int64_t nrow = a.B * a.Hq * a.Tq, Dv = a.Dv;
    const int64_t first = (int64_t)blockIdx.x * WARPS + threadIdx.x / 32;
    for (int64_t row = first; row < nrow; row += (int64_t)gridDim.x * WARPS) {
        const int64_t b = row / (a.Hq * a.Tq), h = row / a.Tq % a.Hq, i = row % a.Tq;
        const int64_t hk = h / a.group, qo = g.q.row(b, h, i);
        float *acc = g.acc + row * Dv;
        for (int64_t d = lane; d < Dv; d += 32) acc[d] = 0;
        row_result res{-INFINITY, 0.0f};
        int64_t lo, hi;
        key_range(a, b, i, lo, hi);
        for (int64_t j = lo; j <= hi; j++) {
            const int64_t ko = g.k.row(b, hk, j), vo = g.v.row(b, hk, j);
            const float s = apply_mask(a, a.scale * warp_dot(g.q, qo, g.k, ko, a.D), b, h, i, j);
            if (s == -INFINITY) continue; // hidden key
            if (s > res.m) {
                const float alpha = expf(res.m - s);
                res.l *= alpha;
                for (int64_t d = lane; d < Dv; d += 32) acc[d] *= alpha;
                res.m = s;
            }
            if (res.m == -INFINITY) continue; // a NaN score before any other: no max yet
            const float p = expf(s - res.m);
            res.l += p;
            for (int64_t d = lane; d < Dv; d += 32) acc[d] += p * g.v.load(vo, d);
        }
        const float inv = res.inv();
        for (int64_t d = lane; d < Dv; d += 32)
            ingot__cu_store_f32(g.out, g.out_dtype, row * Dv + d, acc[d] * inv);
        if (a.lse_out && lane == 0) a.lse_out[lse_offset(a, b, h, i)] = res.lse();
    }
}

// ---- vjp ----

struct vjp_args {
    dims a;
    operand q, k, v, o, g;
    void *dq, *dk, *dv; // contiguous like q, k, v, or NULL
    ingot_dtype dq_dtype, dk_dtype, dv_dtype;
    float *delta;       // [B * Hq * Tq]
    float *acc;         // f32 scratch: dq rows [B*Hq*Tq, D], or dk then dv rows
};

// One warp per query row: delta = dO . O.
__global__ void __launch_bounds__(THREADS) sdpa_delta_kernel(vjp_args w) {
    const dims &a = w.a;
    const int64_t nrow = a.B * a.Hq * a.Tq;
    const int64_t first = (int64_t)blockIdx.x * WARPS + threadIdx.x / 32;
    for (int64_t row = first; row < nrow; row += (int64_t)gridDim.x * WARPS) {
        const int64_t b = row / (a.Hq * a.Tq), h = row / a.Tq % a.Hq, i = row % a.Tq;
        const float d = warp_dot(w.g, w.g.row(b, h, i), w.o, w.o.row(b, h, i), a.Dv);
        if (threadIdx.x % 32 == 0) w.delta[row] = d;
    }
}

// For query (b, h, i) and key j: *p = exp(score - lse) and
// *ds = p (dO_i . V_j - delta_i); false when the mask hides j. Warp-uniform.
__device__ bool prob_and_dscore(const vjp_args &w, float *p, float *ds, int64_t b, int64_t h,
                                int64_t i, int64_t j, float lse, float delta) {
    const dims &a = w.a;
    const int64_t hk = h / a.group;
    float s = a.scale * warp_dot(w.q, w.q.row(b, h, i), w.k, w.k.row(b, hk, j), a.D);
    s = apply_mask(a, s, b, h, i, j);
    if (s == -INFINITY) return false;
    *p = expf(s - lse);
    *ds = *p * (warp_dot(w.g, w.g.row(b, h, i), w.v, w.v.row(b, hk, j), a.Dv) - delta);
    return true;
}

// One warp per query row (b, h, i): dQ_i = scale sum_j dS_ij K_j over the
// keys it sees, accumulated in its f32 scratch row ([D], lane l owns
// elements l + 32 c), then rounded into dq.
__global__ void __launch_bounds__(THREADS) sdpa_dq_kernel(vjp_args w) {
    const dims &a = w.a;
    const int lane = threadIdx.x % 32;
    const int64_t nrow = a.B * a.Hq * a.Tq, D = a.D;
    const int64_t first = (int64_t)blockIdx.x * WARPS + threadIdx.x / 32;
    for (int64_t row = first; row < nrow; row += (int64_t)gridDim.x * WARPS) {
        const int64_t b = row / (a.Hq * a.Tq), h = row / a.Tq % a.Hq, i = row % a.Tq;
        float *acc = w.acc + row * D;
        for (int64_t d = lane; d < D; d += 32) acc[d] = 0;
        const float lse = a.lse[lse_offset(a, b, h, i)];
        int64_t lo, hi;
        key_range(a, b, i, lo, hi);
        for (int64_t j = lo; lse != -INFINITY && j <= hi; j++) {
            float p, ds;
            if (!prob_and_dscore(w, &p, &ds, b, h, i, j, lse, w.delta[row])) continue;
            const int64_t ko = w.k.row(b, h / a.group, j);
            for (int64_t d = lane; d < D; d += 32) acc[d] += a.scale * ds * w.k.load(ko, d);
        }
        for (int64_t d = lane; d < D; d += 32)
            ingot__cu_store_f32(w.dq, w.dq_dtype, row * D + d, acc[d]);
    }
}

// One warp per key row (b, hk, j): dV_j = sum_i p_ij dO_i and
// dK_j = scale sum_i dS_ij Q_i over the query heads of hk's group and the
// queries that see j, in ascending order; accumulated in its f32 scratch rows
// ([D] then [Dv]), then rounded into dk and dv.
__global__ void __launch_bounds__(THREADS) sdpa_dkv_kernel(vjp_args w) {
    const dims &a = w.a;
    const int lane = threadIdx.x % 32;
    const int64_t nrow = a.B * a.Hkv * a.Tk, D = a.D, Dv = a.Dv;
    const int64_t first = (int64_t)blockIdx.x * WARPS + threadIdx.x / 32;
    for (int64_t row = first; row < nrow; row += (int64_t)gridDim.x * WARPS) {
        const int64_t b = row / (a.Hkv * a.Tk), hk = row / a.Tk % a.Hkv, j = row % a.Tk;
        const int64_t tk = keys_of(a, b), shift = tk - a.Tq; // query i sits at i + shift
        float *dk = w.acc + row * (D + Dv), *dv = dk + D;
        for (int64_t d = lane; d < D + Dv; d += 32) dk[d] = 0;
        // Queries that can see j: none past tk; causal needs i + shift >= j,
        // the window i + shift - j < window.
        int64_t ilo = a.causal && j - shift > 0 ? j - shift : 0, ihi = j < tk ? a.Tq - 1 : -1;
        if (a.window > 0 && j + a.window - 1 - shift < ihi) ihi = j + a.window - 1 - shift;
        for (int64_t h = hk * a.group; h < (hk + 1) * a.group; h++) {
            for (int64_t i = ilo; i <= ihi; i++) {
                const float lse = a.lse[lse_offset(a, b, h, i)];
                if (lse == -INFINITY) continue;
                const int64_t qrow = (b * a.Hq + h) * a.Tq + i;
                float p, ds;
                if (!prob_and_dscore(w, &p, &ds, b, h, i, j, lse, w.delta[qrow])) continue;
                const int64_t qo = w.q.row(b, h, i), go = w.g.row(b, h, i);
                for (int64_t d = lane; d < Dv; d += 32) dv[d] += p * w.g.load(go, d);
                for (int64_t d = lane; d < D; d += 32) dk[d] += a.scale * ds * w.q.load(qo, d);
            }
        }
        for (int64_t d = lane; w.dk && d < D; d += 32)
            ingot__cu_store_f32(w.dk, w.dk_dtype, row * D + d, dk[d]);
        for (int64_t d = lane; w.dv && d < Dv; d += 32)
            ingot__cu_store_f32(w.dv, w.dv_dtype, row * Dv + d, dv[d]);
    }
}

// ---- host side ----

operand operand_of(const ingot_array *x) {
    operand o{};
    if (!x) return o;
    o.data = ingot__data(x);
    o.dtype = x->dtype;
    for (int d = 0; d < 4; d++) o.s[d] = x->strides[d];
    return o;
}

dims dims_of(const ingot_array *q, const ingot_array *k, const ingot_array *v,
             const ingot_array *lse, const ingot__sdpa_params *opts) {
    dims a{};
    a.B = q->shape[0];
    a.Hq = q->shape[1];
    a.Tq = q->shape[2];
    a.D = q->shape[3];
    a.Hkv = k->shape[1];
    a.Tk = k->shape[2];
    a.Dv = v->shape[3];
    a.group = a.Hkv > 0 ? a.Hq / a.Hkv : 1;
    a.window = opts->window > 0 && opts->window < a.Tk ? opts->window : 0;
    a.scale = opts->scale;
    a.causal = opts->causal;
    a.mask = operand_of(opts->mask);
    if (opts->kv_len) {
        a.kv_len = ingot__data(opts->kv_len);
        a.kv_len_s = opts->kv_len->strides[0];
        a.kv_len_i64 = opts->kv_len->dtype == INGOT_I64;
    }
    a.keys_hint = opts->kv_len && opts->max_kv_len > 0 && opts->max_kv_len < a.Tk
                      ? opts->max_kv_len
                      : a.Tk;
    if (lse)
        for (int d = 0; d < 3; d++) a.lse_s[d] = lse->strides[d];
    return a;
}

// Whether every row of x ([B, H, T, C]) is a contiguous run starting on an
// n-element boundary (n elements' bytes aligned).
bool rows_vectorisable(const ingot_array *x, int n) {
    const size_t align = (size_t)n * ingot_dtype_size(x->dtype);
    return x->strides[3] == 1 && x->strides[0] % n == 0 && x->strides[1] % n == 0 &&
           x->strides[2] % n == 0 && (uintptr_t)ingot__data(x) % align == 0;
}

// Blocks of WARPS warps for n warp-sized items, capped for grid-stride loops.
unsigned warp_blocks(int64_t n) {
    int64_t b = (n + WARPS - 1) / WARPS;
    return (unsigned)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

// Scratch of n floats; *bytes records the size for ingot__cu_free.
ingot_status alloc_floats(float **p, size_t *bytes, int64_t n, int index) {
    *bytes = (size_t)n * sizeof(float);
    return ingot__cu_alloc((void **)p, *bytes, index);
}

// The number of key chunks per row tile: enough blocks for two waves of the
// GPU when (b, kv head, row tile) blocks alone are fewer, with at least
// MIN_SPLIT_KEYS of the `keys` a row is expected to use a chunk. The kernel
// splits the keys a row really has, so any count is correct.
ingot_status choose_splits(int *nsplit, int64_t blocks, int64_t keys, int index) {
    int sms = 0;
    INGOT__CU_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, index), "sdpa");
    int64_t want = 2 * (int64_t)sms;
    int64_t n = blocks >= want ? 1 : (want + blocks - 1) / blocks;
    int64_t by_keys = keys / MIN_SPLIT_KEYS;
    if (n > by_keys) n = by_keys;
    if (n > MAX_SPLITS) n = MAX_SPLITS;
    *nsplit = n < 1 ? 1 : (int)n;
    return INGOT_OK;
}

template <typename T, int NC>
ingot_status launch_fwd(fwd_args &f, cudaStream_t stream, int index) {
    const dims &a = f.a;
    constexpr int ROWS = WARPS * rows_per_warp(NC);
    f.ntiles = (a.group * a.Tq + ROWS - 1) / ROWS;
    const int64_t blocks = a.B * a.Hkv * f.ntiles;
    ingot_status st = choose_splits(&f.nsplit, blocks, a.keys_hint, index);
    if (st) return st;
    const int64_t nrow = a.B * a.Hq * a.Tq;
    float *part = NULL;
    size_t part_bytes = 0;
    if (f.nsplit > 1) {
        st = alloc_floats(&part, &part_bytes, f.nsplit * nrow * (a.Dv + 2), index);
        if (st) return st;
        f.part_acc = part;
        f.part_ml = part + f.nsplit * nrow * a.Dv;
    }
    const size_t smem = smem_layout(a.D, a.Dv).floats(ROWS) * sizeof(float);
    cudaError_t err = cudaSuccess;
    if (smem > 48 * 1024)
        err = cudaFuncSetAttribute(sdpa_fwd_kernel<T, NC>,
                                   cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (err == cudaSuccess) {
        const int64_t grid = blocks * f.nsplit;
        sdpa_fwd_kernel<T, NC><<<(unsigned)(grid < INT32_MAX ? grid : INT32_MAX), THREADS, smem,
                                 stream>>>(f);
        err = cudaGetLastError();
    }
    if (err == cudaSuccess && f.nsplit > 1) {
        sdpa_combine_kernel<<<warp_blocks(nrow), THREADS, 0, stream>>>(f);
        err = cudaGetLastError();
    }
    if (part) ingot__cu_free(part, part_bytes, index);
    return ingot__cu_check(err, "sdpa");
}

// The register kernel for q, k, v of dtype T: the smallest NC (lanes' share
// of a row) that holds D and Dv.
template <typename T>
ingot_status launch_fwd_dtype(fwd_args &f, cudaStream_t stream, int index) {
    const int64_t w = f.a.D > f.a.Dv ? f.a.D : f.a.Dv;
    if (w <= 64) return launch_fwd<T, 2>(f, stream, index);
    if (w <= 128) return launch_fwd<T, 4>(f, stream, index);
    return launch_fwd<T, 8>(f, stream, index);
}

ingot_status launch_general(gen_args &g, cudaStream_t stream, int index) {
    const int64_t nrow = g.a.B * g.a.Hq * g.a.Tq;
    size_t bytes;
    ingot_status st = alloc_floats(&g.acc, &bytes, nrow * g.a.Dv, index);
    if (st) return st;
    sdpa_fwd_general_kernel<<<warp_blocks(nrow), THREADS, 0, stream>>>(g);
    cudaError_t err = cudaGetLastError();
    ingot__cu_free(g.acc, bytes, index);
    return ingot__cu_check(err, "sdpa");
}

} // namespace

ingot_status ingot__cuda_sdpa(ingot_array *out, ingot_array *lse, const ingot_array *q,
                              const ingot_array *k, const ingot_array *v,
                              const ingot__sdpa_params *opts) {
    dims a = dims_of(q, k, v, lse, opts);
    a.lse_out = lse ? (float *)ingot__data(lse) : NULL;
    if (a.B * a.Hq * a.Tq == 0) return INGOT_OK;
    const int index = ingot__cu_index(out);
    cudaStream_t stream = ingot__cu_stream(index);
    const bool one_dtype = k->dtype == q->dtype && v->dtype == q->dtype;
    if (!one_dtype || a.D > 256 || a.Dv > 256) {
        gen_args g{a, operand_of(q), operand_of(k), operand_of(v), ingot__data(out), out->dtype,
                   NULL};
        return launch_general(g, stream, index);
    }
    fwd_args f{};
    f.a = a;
    f.q = ingot__data(q);
    f.k = ingot__data(k);
    f.v = ingot__data(v);
    for (int d = 0; d < 4; d++) {
        f.qs[d] = q->strides[d];
        f.ks[d] = k->strides[d];
        f.vs[d] = v->strides[d];
    }
    f.out = ingot__data(out);
    f.out_dtype = out->dtype;
    const bool tensor_cores = q->dtype != INGOT_F32 && a.D == a.Dv &&
                              (a.D == 64 || a.D == 128 || a.D == 256) &&
                              a.group * a.Tq >= TC_ROWS;
    if (tensor_cores) {
        f.q_vec = rows_vectorisable(q, 8);
        f.k_vec = rows_vectorisable(k, 8);
        f.v_vec = rows_vectorisable(v, 8);
        if (q->dtype == INGOT_BF16) return launch_tc_dtype<__nv_bfloat16>(f, stream);
        return launch_tc_dtype<__half>(f, stream);
    }
    f.q_vec = rows_vectorisable(q, 4);
    f.k_vec = rows_vectorisable(k, 4);
    f.v_vec = rows_vectorisable(v, 4);
    if (q->dtype == INGOT_F32) return launch_fwd_dtype<float>(f, stream, index);
    if (q->dtype == INGOT_BF16) return launch_fwd_dtype<__nv_bfloat16>(f, stream, index);
    return launch_fwd_dtype<__half>(f, stream, index);
}

ingot_status ingot__cuda_sdpa_vjp(ingot_array *dq, ingot_array *dk, ingot_array *dv,
                                  const ingot_array *q, const ingot_array *k,
                                  const ingot_array *v, const ingot_array *out,
                                  const ingot_array *lse, const ingot_array *g,
                                  const ingot__sdpa_params *opts) {
    vjp_args w{};
    w.a = dims_of(q, k, v, lse, opts);
    w.a.lse = (const float *)ingot__data(lse);
    w.q = operand_of(q);
    w.k = operand_of(k);
    w.v = operand_of(v);
    w.o = operand_of(out);
    w.g = operand_of(g);
    w.dq = dq ? ingot__data(dq) : NULL;
    w.dk = dk ? ingot__data(dk) : NULL;
    w.dv = dv ? ingot__data(dv) : NULL;
    w.dq_dtype = dq ? dq->dtype : INGOT_F32;
    w.dk_dtype = dk ? dk->dtype : INGOT_F32;
    w.dv_dtype = dv ? dv->dtype : INGOT_F32;
    const dims &a = w.a;
    const int64_t nq = a.B * a.Hq * a.Tq, nk = a.B * a.Hkv * a.Tk;
    const bool need_dq = dq && nq > 0 && a.D > 0, need_dkv = (dk || dv) && nk > 0;
    if (!need_dq && !need_dkv) return INGOT_OK;
    const int index = ingot__cu_index(q);
    cudaStream_t stream = ingot__cu_stream(index);
    float *delta = NULL, *acc = NULL;
    size_t delta_bytes = 0, acc_bytes = 0;
    // One scratch serves both passes (they run in stream order).
    const int64_t acc_dq = need_dq ? nq * a.D : 0, acc_dkv = need_dkv ? nk * (a.D + a.Dv) : 0;
    const int64_t acc_n = acc_dq > acc_dkv ? acc_dq : acc_dkv;
    ingot_status st = alloc_floats(&delta, &delta_bytes, nq, index);
    if (!st) st = alloc_floats(&acc, &acc_bytes, acc_n, index);
    w.delta = delta;
    w.acc = acc;
    cudaError_t err = cudaSuccess;
    if (!st && nq > 0) {
        sdpa_delta_kernel<<<warp_blocks(nq), THREADS, 0, stream>>>(w);
        err = cudaGetLastError();
    }
    if (!st && err == cudaSuccess && need_dq) {
        sdpa_dq_kernel<<<warp_blocks(nq), THREADS, 0, stream>>>(w);
        err = cudaGetLastError();
    }
    if (!st && err == cudaSuccess && need_dkv) {
        sdpa_dkv_kernel<<<warp_blocks(nk), THREADS, 0, stream>>>(w);
        err = cudaGetLastError();
    }
    if (acc) ingot__cu_free(acc, acc_bytes, index);
    if (delta) ingot__cu_free(delta, delta_bytes, index);
    if (st) return st;
    return ingot__cu_check(err, "sdpa_vjp");
}
