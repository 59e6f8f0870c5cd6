// CUDA rms_norm and layer_norm and their VJPs, mirroring cpu_norm.c (the
// formulas and rounding points are in docs/fast-ops.md).
//
// One routine for both: layer norm centres each row on its mean, RMS norm
// uses a mean of 0. x is [..., D], walked as N rows of D. Per row, as the
// CPU: mean and variance summed in double and rounded to f32, rstd = 1 /
// sqrtf(var + eps) in f32, xhat = (x - mean) * rstd in f32, y = xhat * w + b
// in f32 rounded once to out's dtype (RMS norm with f16/bf16 x and a weight
// of x's dtype rounds xhat first). Products and sums use the _rn intrinsics
// so that nvcc does not fuse them into FMAs the CPU does not use.
//
// One block per row; its threads stride over the row and their double sums
// meet through warp shuffles. The VJP forms dx the same way, and dw/db with
// a deterministic two-pass reduction: blocks of columns x row chunks write
// double partial sums to scratch, then one thread per column adds its
// chunks in order. No atomics: results do not change from run to run.
#include "backend/cuda/cuda_internal.h"

enum { COL_TILE = 32, COL_ROWS = 8, CHUNK_ROWS = 64, MAX_CHUNKS = 128 };

struct norm_params {
    const void *x, *w, *b, *g; // x, g [..., D]; w, b [D] or NULL
    ingot_dtype xdt, wdt, bdt, gdt;
    int64_t xs, ws, bs, gs; // strides of the last (D) axis
    ingot__cu_iter rows;    // the leading dims; operand 0 is x, 1 is g
    void *y;                // [N, D] contiguous: out (forward) or dx (vjp; may be NULL)
    ingot_dtype ydt;
    float *stats; // [N, 2]: mean and rstd of each row (vjp with dw or db), or NULL
    int64_t nrows, D;
    float eps;
    bool center, round_xhat;
};

// ---- block reductions ----

__device__ static inline double warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// The sum of v over the block (blockDim.x a multiple of 32), returned to
// every thread, in a fixed order. red is shared [32].
__device__ static double block_sum(double v, double *red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); // an earlier call may still be reading red
    if (lane == 0) red[warp] = v;
    __syncthreads();
    return warp_sum(lane < nwarps ? red[lane] : 0.0);
}

__device__ static inline float load_x(const norm_params &p, int64_t xoff, int64_t j) {
    return ingot__cu_load_f32(p.x, p.xdt, xoff + j * p.xs);
}

// *mean (0 unless centring) and *rstd of the row at x offset xoff.
__device__ static void row_stats(const norm_params &p, int64_t xoff, double *red, float *mean,
                                 float *rstd) {
    double s = 0;
    if (p.center) {
        for (int64_t j = threadIdx.x; j < p.D; j += blockDim.x) s += load_x(p, xoff, j);
        s = block_sum(s, red);
    }
    float m = p.center ? (float)(s / (double)p.D) : 0.0f;
    double ss = 0;
    for (int64_t j = threadIdx.x; j < p.D; j += blockDim.x) {
        double c = (double)__fsub_rn(load_x(p, xoff, j), m);
        ss = __dadd_rn(ss, __dmul_rn(c, c));
    }
    ss = block_sum(ss, red);
    *mean = m;
    *rstd = 1.0f / sqrtf(__fadd_rn((float)(ss / (double)p.D), p.eps));
}

// ---- kernels ----

// One block per row (grid-stride over rows): y = xhat * w + b as above.
__global__ void norm_forward_kernel(norm_params p) {
    __shared__ double red[32];
    for (int64_t r = blockIdx.x; r < p.nrows; r += gridDim.x) {
        int64_t off[1];
        ingot__cu_offsets(p.rows, r, off);
        const int64_t xoff = off[0];
        float mean, rstd;
        row_stats(p, xoff, red, &mean, &rstd);
        for (int64_t j = threadIdx.x; j < p.D; j += blockDim.x) {
            float v = __fmul_rn(__fsub_rn(load_x(p, xoff, j), mean), rstd);
            if (p.round_xhat) v = ingot__cu_round_f32(p.xdt, v);
            if (p.w) v = __fmul_rn(v, ingot__cu_load_f32(p.w, p.wdt, j * p.ws));
            if (p.b) v = __fadd_rn(v, ingot__cu_load_f32(p.b, p.bdt, j * p.bs));
            ingot__cu_store_f32(p.y, p.ydt, r * p.D + j, v);
        }
    }
}

// xhat and gw = g * w (g without a weight) of element j of a row.
__device__ static inline void vjp_terms(const norm_params &p, const int64_t *off, int64_t j,
                                        float mean, float rstd, float *xhat, float *gw) {
    *xhat = __fmul_rn(__fsub_rn(load_x(p, off[0], j), mean), rstd);
    float gv = ingot__cu_load_f32(p.g, p.gdt, off[1] + j * p.gs);
    *gw = p.w ? __fmul_rn(gv, ingot__cu_load_f32(p.w, p.wdt, j * p.ws)) : gv;
}

// One block per row (grid-stride over rows): saves the row's mean and rstd
// (when stats is given) and forms dx = rstd * (gw - mean(gw) - xhat *
// mean(gw * xhat)) (mean(gw) for layer norm only) when dx is wanted.
__global__ void norm_vjp_rows_kernel(norm_params p) {
    __shared__ double red[32];
    for (int64_t r = blockIdx.x; r < p.nrows; r += gridDim.x) {
        int64_t off[2];
        ingot__cu_offsets(p.rows, r, off);
        float mean, rstd;
        row_stats(p, off[0], red, &mean, &rstd);
        if (p.stats && threadIdx.x == 0) {
            p.stats[2 * r] = mean;
            p.stats[2 * r + 1] = rstd;
        }
        if (!p.y) continue;
        double s_gw = 0, s_gwx = 0;
        for (int64_t j = threadIdx.x; j < p.D; j += blockDim.x) {
            float xhat, gw;
            vjp_terms(p, off, j, mean, rstd, &xhat, &gw);
            s_gw += gw;
            s_gwx = __dadd_rn(s_gwx, __dmul_rn((double)gw, (double)xhat));
        }
        s_gw = block_sum(s_gw, red);
        s_gwx = block_sum(s_gwx, red);
        float m_gw = p.center ? (float)(s_gw / (double)p.D) : 0.0f;
        float m_gwx = (float)(s_gwx / (double)p.D);
        for (int64_t j = threadIdx.x; j < p.D; j += blockDim.x) {
            float xhat, gw;
            vjp_terms(p, off, j, mean, rstd, &xhat, &gw);
            float v = __fmul_rn(rstd, __fsub_rn(__fsub_rn(gw, m_gw), __fmul_rn(xhat, m_gwx)));
            ingot__cu_store_f32(p.y, p.ydt, r * p.D + j, v);
        }
    }
}

// Block (COL_TILE x COL_ROWS threads) = columns [COL_TILE * blockIdx.x, +
// COL_TILE) over row chunk blockIdx.y of chunk_rows rows: thread (tx, ty)
// sums rows ty, ty + COL_ROWS, ... of the chunk for column tx; the COL_ROWS
// sums of a column are then added in ty order into part_w/part_b
// [nchunks, D] (double) at [chunk, j].
__global__ void norm_vjp_cols_kernel(norm_params p, int64_t chunk_rows, double *part_w,
                                     double *part_b) {
    __shared__ double sw[COL_ROWS][COL_TILE], sb[COL_ROWS][COL_TILE];
    int tx = threadIdx.x, ty = threadIdx.y;
    int64_t j = (int64_t)blockIdx.x * COL_TILE + tx;
    int64_t r0 = (int64_t)blockIdx.y * chunk_rows;
    int64_t r1 = r0 + chunk_rows < p.nrows ? r0 + chunk_rows : p.nrows;
    double acc_w = 0, acc_b = 0;
    if (j < p.D) {
        for (int64_t r = r0 + ty; r < r1; r += COL_ROWS) {
            int64_t off[2];
            ingot__cu_offsets(p.rows, r, off);
            float mean = p.stats[2 * r], rstd = p.stats[2 * r + 1];
            float xhat = __fmul_rn(__fsub_rn(load_x(p, off[0], j), mean), rstd);
            float gv = ingot__cu_load_f32(p.g, p.gdt, off[1] + j * p.gs);
            acc_w = __dadd_rn(acc_w, __dmul_rn((double)gv, (double)xhat));
            acc_b += gv;
        }
    }
    sw[ty][tx] = acc_w;
    sb[ty][tx] = acc_b;
    __syncthreads();
    if (ty == 0 && j < p.D) {
        for (int t = 1; t < COL_ROWS; t++) {
            acc_w += sw[t][tx];
            acc_b += sb[t][tx];
        }
        part_w[blockIdx.y * p.D + j] = acc_w;
        part_b[blockIdx.y * p.D + j] = acc_b;
    }
}

// Thread j (grid-stride over D): dw[j] and db[j] (either NULL) = the sums of
// column j's nchunks partials, in chunk order, rounded to their dtypes.
__global__ void norm_vjp_finish_kernel(const double *part_w, const double *part_b,
                                       int64_t nchunks, int64_t D, void *dw, ingot_dtype dwdt,
                                       void *db, ingot_dtype dbdt) {
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < D;
         j += (int64_t)gridDim.x * blockDim.x) {
        double sw = 0, sb = 0;
        for (int64_t c = 0; c < nchunks; c++) {
            sw += part_w[c * D + j];
            sb += part_b[c * D + j];
        }
        if (dw) ingot__cu_store_f32(dw, dwdt, j, (float)sw);
        if (db) ingot__cu_store_f32(db, dbdt, j, (float)sb);
    }
}

// ---- host side ----

// Fills the parts of p common to both directions (x, w, b, g may be NULL
// except x).
static void params_init(norm_params *p, const ingot_array *x, const ingot_array *w,
                        const ingot_array *b, const ingot_array *g, float eps, bool center) {
    *p = norm_params{};
    int nd = x->ndim;
    p->x = ingot__data(x);
    p->xdt = x->dtype;
    p->xs = x->strides[nd - 1];
    if (w) {
        p->w = ingot__data(w);
        p->wdt = w->dtype;
        p->ws = w->strides[0];
    }
    if (b) {
        p->b = ingot__data(b);
        p->bdt = b->dtype;
        p->bs = b->strides[0];
    }
    if (g) {
        p->g = ingot__data(g);
        p->gdt = g->dtype;
        p->gs = g->strides[nd - 1];
    }
    const int64_t *strides[2] = {x->strides, g ? g->strides : x->strides};
    ingot__cu_iter_init(&p->rows, x->shape, nd - 1, g ? 2 : 1, strides);
    p->D = x->shape[nd - 1];
    p->nrows = p->D ? x->size / p->D : 0;
    p->eps = eps;
    p->center = center;
}

// Threads for one row of D: about 4 elements each, a multiple of 32, at
// most 1024.
static unsigned row_threads(int64_t D) {
    int64_t t = (D / 4 + 31) / 32 * 32;
    return (unsigned)(t < 32 ? 32 : t > 1024 ? 1024 : t);
}

static unsigned row_blocks(int64_t nrows) {
    return (unsigned)(nrows < 65535 * 8 ? nrows : 65535 * 8);
}

static ingot_status norm_forward(ingot_array *out, const ingot_array *x, const ingot_array *w,
                                 const ingot_array *b, float eps, bool center, bool round_xhat) {
    if (x->size == 0) return INGOT_OK;
    norm_params p;
    params_init(&p, x, w, b, nullptr, eps, center);
    p.y = ingot__data(out);
    p.ydt = out->dtype;
    p.round_xhat = round_xhat;
    cudaStream_t s = ingot__cu_stream(ingot__cu_index(out));
    norm_forward_kernel<<<row_blocks(p.nrows), row_threads(p.D), 0, s>>>(p);
    INGOT__CU_CHECK(cudaGetLastError(), "norm");
    return INGOT_OK;
}

// dx (may be NULL), dw, db (NULL when not wanted) as documented above.
static ingot_status norm_vjp(ingot_array *dx, ingot_array *dw, ingot_array *db,
                             const ingot_array *x, const ingot_array *w, const ingot_array *g,
                             float eps, bool center) {
    int index = ingot__cu_index(x);
    cudaStream_t s = ingot__cu_stream(index);
    int64_t D = x->ndim ? x->shape[x->ndim - 1] : 1;
    if (x->size == 0) { // empty rows still give zero weight and bias gradients
        if (dw && D)
            INGOT__CU_CHECK(cudaMemsetAsync(ingot__data(dw), 0, D * ingot_dtype_size(dw->dtype), s),
                            "norm_vjp");
        if (db && D)
            INGOT__CU_CHECK(cudaMemsetAsync(ingot__data(db), 0, D * ingot_dtype_size(db->dtype), s),
                            "norm_vjp");
        return INGOT_OK;
    }
    if (!dx && !dw && !db) return INGOT_OK;
    norm_params p;
    params_init(&p, x, w, nullptr, g, eps, center);
    if (dx) {
        p.y = ingot__data(dx);
        p.ydt = dx->dtype;
    }
    bool cols = dw || db;
    int64_t nchunks = (p.nrows + CHUNK_ROWS - 1) / CHUNK_ROWS;
    if (nchunks > MAX_CHUNKS) nchunks = MAX_CHUNKS;
    int64_t chunk_rows = (p.nrows + nchunks - 1) / nchunks;
    // scratch: stats [N, 2] f32, then part_w and part_b [nchunks, D] f64
    size_t stats_bytes = (size_t)(2 * p.nrows) * sizeof(float);
    stats_bytes = (stats_bytes + 7) / 8 * 8;
    size_t part_bytes = (size_t)(nchunks * D) * sizeof(double);
    size_t bytes = cols ? stats_bytes + 2 * part_bytes : 0;
    char *scratch = nullptr;
    if (cols) {
        ingot_status st = ingot__cu_alloc((void **)&scratch, bytes, index);
        if (st) return st;
        p.stats = (float *)scratch;
    }
    ingot_status st = INGOT_OK;
    norm_vjp_rows_kernel<<<row_blocks(p.nrows), row_threads(D), 0, s>>>(p);
    st = ingot__cu_check(cudaGetLastError(), "norm_vjp");
    if (!st && cols) {
        double *part_w = (double *)(scratch + stats_bytes);
        double *part_b = part_w + nchunks * D;
        dim3 grid((unsigned)((D + COL_TILE - 1) / COL_TILE), (unsigned)nchunks);
        norm_vjp_cols_kernel<<<grid, dim3(COL_TILE, COL_ROWS), 0, s>>>(p, chunk_rows, part_w,
                                                                         part_b);
        st = ingot__cu_check(cudaGetLastError(), "norm_vjp");
        if (!st) {
            norm_vjp_finish_kernel<<<ingot__cu_blocks(D), 256, 0, s>>>(
                part_w, part_b, nchunks, D, dw ? ingot__data(dw) : nullptr,
                dw ? dw->dtype : INGOT_F32, db ? ingot__data(db) : nullptr,
                db ? db->dtype : INGOT_F32);
            st = ingot__cu_check(cudaGetLastError(), "norm_vjp");
        }
    }
    if (scratch) ingot__cu_free(scratch, bytes, index);
    return st;
}

// ---- the entries ----

ingot_status ingot__cuda_rms_norm(ingot_array *out, const ingot_array *x, const ingot_array *w,
                                  float eps) {
    bool round_xhat = w && w->dtype == x->dtype && x->dtype != INGOT_F32;
    return norm_forward(out, x, w, nullptr, eps, false, round_xhat);
}

ingot_status ingot__cuda_rms_norm_vjp(ingot_array *dx, ingot_array *dw, const ingot_array *x,
                                      const ingot_array *w, const ingot_array *g, float eps) {
    return norm_vjp(dx, w ? dw : nullptr, nullptr, x, w, g, eps, false);
}

ingot_status ingot__cuda_layer_norm(ingot_array *out, const ingot_array *x, const ingot_array *w,
                                    const ingot_array *b, float eps) {
    return norm_forward(out, x, w, b, eps, true, false);
}

ingot_status ingot__cuda_layer_norm_vjp(ingot_array *dx, ingot_array *dw, ingot_array *db,
                                        const ingot_array *x, const ingot_array *w,
                                        const ingot_array *b, const ingot_array *g, float eps) {
    return norm_vjp(dx, w ? dw : nullptr, b ? db : nullptr, x, w, g, eps, true);
}
