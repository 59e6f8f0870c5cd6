/* CPU gather and scatter along one axis (take_along_axis / put_along_axis
 * and the scatter-add of their gradients). Indices arrive as validated i64. */
#include "backend/cpu/cpu.h"

/* Copies one element of esize bytes. */
static inline void copy_elem(char *dst, const char *src, size_t esize) {
    switch (esize) {
    case 1: *dst = *src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    default: memcpy(dst, src, 8); break;
    }
}

/* *dst += *src for one element of dtype (floats in f32, rounded once;
 * integers wrap; bool gives a logical or). */
static inline void add_elem(char *dst, const char *src, ingot_dtype dtype) {
    switch (dtype) {
    case INGOT_F32: {
        float x, y;
        memcpy(&x, dst, 4);
        memcpy(&y, src, 4);
        x += y;
        memcpy(dst, &x, 4);
        break;
    }
    case INGOT_F16:
    case INGOT_BF16:
        ingot__store_f64(
            dst, dtype,
            (double)((float)ingot__load_f64(dst, dtype) + (float)ingot__load_f64(src, dtype)));
        break;
    default: {
        uint64_t x = (uint64_t)ingot__load_i64(dst, dtype) + (uint64_t)ingot__load_i64(src, dtype);
        ingot__store_i64(dst, dtype, (int64_t)x);
        break;
    }
    }
}

/* Row mode: when the last dim is not the axis, is contiguous in the data
 * operands (a for gather, values for scatter; out always is) and idx is
 * constant along it, whole rows move at once. */
static bool rows_contiguous(const ingot_array *data, const ingot_array *idx, int axis) {
    int last = idx->ndim - 1;
    return axis != last && idx->shape[last] > 1 && data->strides[last] == 1 &&
           idx->strides[last] == 0;
}

/* ---- gather ---- */

typedef struct gather_ctx {
    const ingot_array *out, *a, *idx;
    int item_ndim;                     /* out's leading dims walked item by item */
    int64_t run;                       /* elements per item (a row in row mode, else 1) */
    int64_t a_strides[INGOT_MAX_DIMS]; /* a's strides with the axis stride 0 */
    int64_t axis_stride;               /* a's stride along axis */
} gather_ctx;

static void gather_range(void *vctx, int64_t begin, int64_t end) {
    const gather_ctx *c = vctx;
    int64_t esize = (int64_t)ingot_dtype_size(c->out->dtype);
    const int64_t *strides[2] = {c->a_strides, c->idx->strides};
    int64_t base[2] = {c->a->offset, c->idx->offset};
    ingot__iter it;
    ingot__iter_init(&it, c->out->shape, c->item_ndim, 2, strides, base, begin);
    char *out = ingot__data(c->out);
    const char *a = c->a->buf->data;
    const int64_t *idx = c->idx->buf->data;
    for (int64_t i = begin; i < end; i++) {
        const char *src = a + (it.off[0] + idx[it.off[1]] * c->axis_stride) * esize;
        if (c->run == 1)
            copy_elem(out + i * esize, src, (size_t)esize);
        else
            memcpy(out + i * c->run * esize, src, (size_t)(c->run * esize));
        ingot__iter_next(&it);
    }
}

ingot_status ingot__cpu_gather(ingot_array *out, const ingot_array *a, const ingot_array *idx,
                               int axis) {
    gather_ctx c = {.out = out,
                    .a = a,
                    .idx = idx,
                    .item_ndim = out->ndim,
                    .run = 1,
                    .axis_stride = a->strides[axis]};
    memcpy(c.a_strides, a->strides, (size_t)a->ndim * sizeof(int64_t));
    c.a_strides[axis] = 0;
    if (out->size == 0) return INGOT_OK;
    if (rows_contiguous(a, idx, axis)) {
        c.item_ndim--;
        c.run = out->shape[out->ndim - 1];
    }
    int64_t grain = (1 << 14) / c.run;
    ingot__parallel_for(out->size / c.run, grain > 0 ? grain : 1, gather_range, &c);
    return INGOT_OK;
}

/* ---- scatter ----
 * Works in units: a unit is every position of idx along axis for fixed other
 * coordinates (in row mode: fixed coordinates other than axis and the last
 * dim, and one block of columns). Units write to disjoint parts of out and
 * each runs in order along axis, so the last write wins and sums are in a
 * fixed order whatever the thread count. */

enum { SCATTER_BLOCK = 256 }; /* columns per unit in row mode */

typedef struct scatter_ctx {
    const ingot_array *out, *idx, *values;
    bool accumulate;
    int line_ndim;
    int64_t line_shape[INGOT_MAX_DIMS];      /* idx's shape without axis (and the last dim) */
    int64_t line_strides[3][INGOT_MAX_DIMS]; /* out, idx, values on those dims */
    int64_t len;                             /* idx's dim at axis */
    int64_t axis_stride[3];                  /* out, idx, values along axis */
    int64_t run;                             /* columns in row mode, else 1 */
    int64_t nblocks;                         /* column blocks per line */
} scatter_ctx;

/* dst[0..n) op= src[0..n) for n contiguous elements of dtype. */
static void scatter_elems(char *dst, const char *src, int64_t n, ingot_dtype dtype,
                          bool accumulate) {
    int64_t esize = (int64_t)ingot_dtype_size(dtype);
    if (!accumulate) {
        memcpy(dst, src, (size_t)(n * esize));
    } else if (dtype == INGOT_F32) {
        float *d = (float *)dst;
        const float *s = (const float *)src;
        for (int64_t c = 0; c < n; c++)
            d[c] += s[c];
    } else {
        for (int64_t c = 0; c < n; c++)
            add_elem(dst + c * esize, src + c * esize, dtype);
    }
}

static void scatter_range(void *vctx, int64_t begin, int64_t end) {
    const scatter_ctx *c = vctx;
    ingot_dtype dtype = c->out->dtype;
    int64_t esize = (int64_t)ingot_dtype_size(dtype);
    const int64_t *strides[3] = {c->line_strides[0], c->line_strides[1], c->line_strides[2]};
    int64_t base[3] = {c->out->offset, c->idx->offset, c->values->offset};
    char *out = c->out->buf->data;
    const int64_t *idx = c->idx->buf->data;
    const char *values = c->values->buf->data;
    for (int64_t unit = begin; unit < end; unit++) {
        int64_t c0 = unit % c->nblocks * SCATTER_BLOCK;
        int64_t cn = c->run - c0 < SCATTER_BLOCK ? c->run - c0 : SCATTER_BLOCK;
        ingot__iter it;
        ingot__iter_init(&it, c->line_shape, c->line_ndim, 3, strides, base, unit / c->nblocks);
        for (int64_t t = 0; t < c->len; t++) {
            int64_t j = idx[it.off[1] + t * c->axis_stride[1]];
            char *dst = out + (it.off[0] + j * c->axis_stride[0] + c0) * esize;
            const char *src = values + (it.off[2] + t * c->axis_stride[2] + c0) * esize;
            if (cn == 1 && !c->accumulate)
                copy_elem(dst, src, (size_t)esize);
            else if (cn == 1)
                add_elem(dst, src, dtype);
            else
                scatter_elems(dst, src, cn, dtype, c->accumulate);
        }
    }
}

ingot_status ingot__cpu_scatter(ingot_array *out, const ingot_array *idx, const ingot_array *values,
                                int axis, bool accumulate) {
    scatter_ctx c = {.out = out,
                     .idx = idx,
                     .values = values,
                     .accumulate = accumulate,
                     .len = idx->shape[axis],
                     .run = 1,
                     .nblocks = 1};
    const ingot_array *ops[3] = {out, idx, values};
    int ndim = idx->ndim;
    if (rows_contiguous(values, idx, axis)) {
        c.run = idx->shape[ndim - 1];
        c.nblocks = (c.run + SCATTER_BLOCK - 1) / SCATTER_BLOCK;
        ndim--;
    }
    int64_t nlines = 1;
    for (int d = 0; d < ndim; d++) {
        if (d == axis) continue;
        c.line_shape[c.line_ndim] = idx->shape[d];
        for (int o = 0; o < 3; o++)
            c.line_strides[o][c.line_ndim] = ops[o]->strides[d];
        nlines *= idx->shape[d];
        c.line_ndim++;
    }
    for (int o = 0; o < 3; o++)
        c.axis_stride[o] = ops[o]->strides[axis];
    if (c.len == 0 || nlines == 0) return INGOT_OK;
    int64_t grain = (1 << 14) / (c.len * (c.run < SCATTER_BLOCK ? c.run : SCATTER_BLOCK));
    ingot__parallel_for(nlines * c.nblocks, grain > 0 ? grain : 1, scatter_range, &c);
    return INGOT_OK;
}
