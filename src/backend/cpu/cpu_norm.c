/* CPU kernels for rms_norm and layer_norm and their VJPs.
 *
 * Both are one routine: layer norm centres each row on its mean, RMS norm
 * uses a mean of 0. Per row of x ([N, D] after flattening the leading dims):
 *   mean = sum(x) / D (layer norm; 0 for RMS), var = sum((x - mean)^2) / D,
 *   both summed in double and rounded to f32; rstd = 1 / sqrtf(var + eps) in
 *   f32; xhat = (x - mean) * rstd in f32; y = xhat * w + b in f32, rounded
 *   once to out's dtype. RMS norm with f16/bf16 x and a weight of x's dtype
 *   rounds xhat to that dtype before the weight multiplies it (Hugging Face
 *   Llama/Qwen: `weight * hidden_states.to(input_dtype)`).
 * The VJP forms dx row by row and dw/db column block by column block, each
 * accumulating over rows in a fixed order, so results do not depend on the
 * thread count. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "backend/cpu/cpu.h"

enum { NORM_COL_BLOCK = 64 };

typedef struct norm_args {
    const ingot_array *x; /* [..., D] */
    const ingot_array *w; /* [D] or NULL */
    const ingot_array *b; /* [D] or NULL */
    const ingot_array *g; /* [..., D] cotangent (vjp) */
    ingot_array *out;     /* [..., D] contiguous (forward) */
    ingot_array *dx;      /* [..., D] contiguous or NULL (vjp) */
    ingot_array *dw;      /* [D] or NULL (vjp) */
    ingot_array *db;      /* [D] or NULL (vjp) */
    float *stats;         /* [N, 2]: mean and rstd of each row (vjp) */
    int64_t rows, D;
    float eps;
    bool center;     /* layer norm: subtract the row mean */
    bool round_xhat; /* round xhat to x's dtype before the weight */
    atomic_bool failed;
} norm_args;

/* v rounded to dtype (f16/bf16), as f32. */
static float round_to(ingot_dtype dtype, float v) {
    if (dtype == INGOT_BF16) return ingot__bf16_to_f32(ingot__f32_to_bf16(v));
    if (dtype == INGOT_F16) return ingot__f16_to_f32(ingot__f32_to_f16(v));
    return v;
}

/* dst[i] = a's element at off + i * stride as f32, i < n. */
static void load_row(float *dst, const ingot_array *a, int64_t off, int64_t stride, int64_t n) {
    const void *p = ingot__data(a);
    switch (a->dtype) {
    case INGOT_F32:
        for (int64_t i = 0; i < n; i++) dst[i] = ((const float *)p)[off + i * stride];
        break;
    case INGOT_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = ingot__bf16_to_f32(((const uint16_t *)p)[off + i * stride]);
        break;
    case INGOT_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = ingot__f16_to_f32(((const uint16_t *)p)[off + i * stride]);
        break;
    default: {
        size_t es = ingot_dtype_size(a->dtype);
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)ingot__load_f64((const char *)p + (size_t)(off + i * stride) * es,
                                            a->dtype);
    }
    }
}

/* a's elements off .. off + n - 1 (contiguous) = src, rounded to a's dtype. */
static void store_row(ingot_array *a, int64_t off, const float *src, int64_t n) {
    void *p = ingot__data(a);
    switch (a->dtype) {
    case INGOT_F32: memcpy((float *)p + off, src, (size_t)n * sizeof(float)); break;
    case INGOT_BF16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)p)[off + i] = ingot__f32_to_bf16(src[i]);
        break;
    case INGOT_F16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)p)[off + i] = ingot__f32_to_f16(src[i]);
        break;
    default: {
        size_t es = ingot_dtype_size(a->dtype);
        for (int64_t i = 0; i < n; i++)
            ingot__store_f64((char *)p + (size_t)(off + i) * es, a->dtype, src[i]);
    }
    }
}

/* Element offset of row `row` (row-major over all axes but the last) of a. */
static int64_t row_offset(const ingot_array *a, int64_t row) {
    int64_t off = 0;
    for (int d = a->ndim - 2; d >= 0; d--) {
        off += (row % a->shape[d]) * a->strides[d];
        row /= a->shape[d];
    }
    return off;
}

/* Loads row `row` of a ([..., D]) into dst. */
static void load_x_row(float *dst, const ingot_array *a, int64_t row, int64_t D) {
    load_row(dst, a, row_offset(a, row), a->strides[a->ndim - 1], D);
}

/* The mean (0 unless center) and rstd of one row of D values. */
static void row_stats(const float *x, int64_t D, bool center, float eps, float *mean, float *rstd) {
    double s = 0;
    if (center) {
        for (int64_t j = 0; j < D; j++) s += x[j];
    }
    float m = center ? (float)(s / (double)D) : 0.0f;
    double ss = 0;
    for (int64_t j = 0; j < D; j++) {
        double c = (double)(x[j] - m);
        ss += c * c;
    }
    *mean = m;
    *rstd = 1.0f / sqrtf((float)(ss / (double)D) + eps);
}

static void norm_forward_rows(void *ctx, int64_t begin, int64_t end) {
    norm_args *a = ctx;
    int64_t D = a->D;
    float *buf = malloc((size_t)(3 * D) * sizeof(float));
    if (!buf) {
        atomic_store(&a->failed, true);
        return;
    }
    float *xr = buf, *wr = buf + D, *br = buf + 2 * D; /* [D] each */
    if (a->w) load_row(wr, a->w, 0, a->w->strides[0], D);
    if (a->b) load_row(br, a->b, 0, a->b->strides[0], D);
    ingot_dtype dt = a->x->dtype;
    for (int64_t r = begin; r < end; r++) {
        float mean, rstd;
        load_x_row(xr, a->x, r, D);
        row_stats(xr, D, a->center, a->eps, &mean, &rstd);
        for (int64_t j = 0; j < D; j++) {
            float v = (xr[j] - mean) * rstd;
            if (a->round_xhat) v = round_to(dt, v);
            if (a->w) v *= wr[j];
            if (a->b) v += br[j];
            xr[j] = v;
        }
        store_row(a->out, r * D, xr, D);
    }
    free(buf);
}

/* dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) with gw = g * w
 * (mean(gw) only for layer norm); saves each row's mean and rstd. */
static void norm_vjp_rows(void *ctx, int64_t begin, int64_t end) {
    norm_args *a = ctx;
    int64_t D = a->D;
    float *buf = malloc((size_t)(3 * D) * sizeof(float));
    if (!buf) {
        atomic_store(&a->failed, true);
        return;
    }
    float *xr = buf, *gr = buf + D, *wr = buf + 2 * D; /* [D] each */
    if (a->w) load_row(wr, a->w, 0, a->w->strides[0], D);
    for (int64_t r = begin; r < end; r++) {
        float mean, rstd;
        load_x_row(xr, a->x, r, D);
        row_stats(xr, D, a->center, a->eps, &mean, &rstd);
        a->stats[2 * r] = mean;
        a->stats[2 * r + 1] = rstd;
        if (!a->dx) continue;
        load_x_row(gr, a->g, r, D);
        double s_gw = 0, s_gwx = 0;
        for (int64_t j = 0; j < D; j++) {
            xr[j] = (xr[j] - mean) * rstd; /* xhat */
            if (a->w) gr[j] *= wr[j];      /* gw */
            s_gw += gr[j];
            s_gwx += (double)gr[j] * xr[j];
        }
        float m_gw = a->center ? (float)(s_gw / (double)D) : 0.0f;
        float m_gwx = (float)(s_gwx / (double)D);
        for (int64_t j = 0; j < D; j++) xr[j] = rstd * (gr[j] - m_gw - xr[j] * m_gwx);
        store_row(a->dx, r * D, xr, D);
    }
    free(buf);
}

/* dw = sum over rows of g * xhat, db = sum over rows of g, for column blocks
 * [begin, end) of NORM_COL_BLOCK columns. */
static void norm_vjp_cols(void *ctx, int64_t begin, int64_t end) {
    norm_args *a = ctx;
    float xs[NORM_COL_BLOCK], gs[NORM_COL_BLOCK];
    double sw[NORM_COL_BLOCK], sb[NORM_COL_BLOCK];
    float res[NORM_COL_BLOCK];
    int64_t xst = a->x->strides[a->x->ndim - 1], gst = a->g->strides[a->g->ndim - 1];
    for (int64_t blk = begin; blk < end; blk++) {
        int64_t j0 = blk * NORM_COL_BLOCK;
        int64_t n = a->D - j0 < NORM_COL_BLOCK ? a->D - j0 : NORM_COL_BLOCK;
        for (int64_t j = 0; j < n; j++) sw[j] = sb[j] = 0;
        for (int64_t r = 0; r < a->rows; r++) {
            float mean = a->stats[2 * r], rstd = a->stats[2 * r + 1];
            load_row(xs, a->x, row_offset(a->x, r) + j0 * xst, xst, n);
            load_row(gs, a->g, row_offset(a->g, r) + j0 * gst, gst, n);
            for (int64_t j = 0; j < n; j++) {
                sw[j] += (double)gs[j] * ((xs[j] - mean) * rstd);
                sb[j] += gs[j];
            }
        }
        if (a->dw) {
            for (int64_t j = 0; j < n; j++) res[j] = (float)sw[j];
            store_row(a->dw, j0, res, n);
        }
        if (a->db) {
            for (int64_t j = 0; j < n; j++) res[j] = (float)sb[j];
            store_row(a->db, j0, res, n);
        }
    }
}

static int64_t grain_for(int64_t D) {
    return D >= 4096 ? 1 : 4096 / (D + 1) + 1;
}

static ingot_status norm_forward(norm_args *a) {
    int64_t size = ingot__shape_size(a->x->shape, a->x->ndim);
    if (size == 0) return INGOT_OK;
    a->D = a->x->shape[a->x->ndim - 1];
    a->rows = size / a->D;
    atomic_init(&a->failed, false);
    ingot__parallel_for(a->rows, grain_for(a->D), norm_forward_rows, a);
    if (atomic_load(&a->failed))
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "norm: out of memory for a row buffer");
    return INGOT_OK;
}

static ingot_status norm_vjp(norm_args *a) {
    int64_t size = ingot__shape_size(a->x->shape, a->x->ndim);
    a->D = a->x->ndim ? a->x->shape[a->x->ndim - 1] : 1;
    if (size == 0) {
        /* Empty rows still give zero weight and bias gradients. */
        float zero[NORM_COL_BLOCK] = {0};
        for (int64_t j0 = 0; j0 < a->D; j0 += NORM_COL_BLOCK) {
            int64_t n = a->D - j0 < NORM_COL_BLOCK ? a->D - j0 : NORM_COL_BLOCK;
            if (a->dw) store_row(a->dw, j0, zero, n);
            if (a->db) store_row(a->db, j0, zero, n);
        }
        return INGOT_OK;
    }
    a->rows = size / a->D;
    a->stats = malloc((size_t)(2 * a->rows) * sizeof(float));
    if (!a->stats) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "norm_vjp: out of memory");
    atomic_init(&a->failed, false);
    ingot__parallel_for(a->rows, grain_for(a->D), norm_vjp_rows, a);
    if (!atomic_load(&a->failed) && (a->dw || a->db))
        ingot__parallel_for((a->D + NORM_COL_BLOCK - 1) / NORM_COL_BLOCK, 1, norm_vjp_cols, a);
    free(a->stats);
    if (atomic_load(&a->failed))
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "norm_vjp: out of memory for a row buffer");
    return INGOT_OK;
}

ingot_status ingot__cpu_rms_norm(ingot_array *out, const ingot_array *x, const ingot_array *w,
                                 float eps) {
    norm_args a = {.x = x, .w = w, .out = out, .eps = eps};
    a.round_xhat = w && w->dtype == x->dtype && x->dtype != INGOT_F32;
    return norm_forward(&a);
}

ingot_status ingot__cpu_rms_norm_vjp(ingot_array *dx, ingot_array *dw, const ingot_array *x,
                                     const ingot_array *w, const ingot_array *g, float eps) {
    norm_args a = {.x = x, .w = w, .g = g, .dx = dx, .dw = w ? dw : NULL, .eps = eps};
    return norm_vjp(&a);
}

ingot_status ingot__cpu_layer_norm(ingot_array *out, const ingot_array *x, const ingot_array *w,
                                   const ingot_array *b, float eps) {
    norm_args a = {.x = x, .w = w, .b = b, .out = out, .eps = eps, .center = true};
    return norm_forward(&a);
}

ingot_status ingot__cpu_layer_norm_vjp(ingot_array *dx, ingot_array *dw, ingot_array *db,
                                       const ingot_array *x, const ingot_array *w,
                                       const ingot_array *b, const ingot_array *g, float eps) {
    norm_args a = {.x = x, .w = w, .g = g, .dx = dx, .dw = w ? dw : NULL, .db = b ? db : NULL,
                   .eps = eps, .center = true};
    return norm_vjp(&a);
}
