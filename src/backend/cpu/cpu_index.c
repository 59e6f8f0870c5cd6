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
        ingot__store_f64(dst, dtype,
                         (double)((float)ingot__load_f64(dst, dtype) +
                                  (float)ingot__load_f64(src, dtype)));
        break;
    default: {
        uint64_t x = (uint64_t)ingot__load_i64(dst, dtype) + (uint64_t)ingot__load_i64(src, dtype);
        ingot__store_i64(dst, dtype, (int64_t)x);
        break;
    }
    }
}

/* ---- gather ---- */

typedef struct gather_ctx {
    const ingot_array *out, *a, *idx;
    int64_t a_strides[INGOT_MAX_DIMS]; /* a's strides with the axis stride 0 */
    int64_t axis_stride;               /* a's stride along axis */
} gather_ctx;

static void gather_range(void *vctx, int64_t begin, int64_t end) {
    const gather_ctx *c = vctx;
    size_t esize = ingot_dtype_size(c->out->dtype);
    const int64_t *strides[2] = {c->a_strides, c->idx->strides};
    int64_t base[2] = {c->a->offset, c->idx->offset};
    ingot__iter it;
    ingot__iter_init(&it, c->out->shape, c->out->ndim, 2, strides, base, begin);
    char *out = ingot__data(c->out);
    const char *a = c->a->buf->data;
    const int64_t *idx = c->idx->buf->data;
    for (int64_t i = begin; i < end; i++) {
        int64_t j = idx[it.off[1]];
        copy_elem(out + i * (int64_t)esize, a + (it.off[0] + j * c->axis_stride) * (int64_t)esize,
                  esize);
        ingot__iter_next(&it);
    }
}

ingot_status ingot__cpu_gather(ingot_array *out, const ingot_array *a, const ingot_array *idx,
                               int axis) {
    gather_ctx c = {.out = out, .a = a, .idx = idx, .axis_stride = a->strides[axis]};
    memcpy(c.a_strides, a->strides, (size_t)a->ndim * sizeof(int64_t));
    c.a_strides[axis] = 0;
    ingot__parallel_for(out->size, 1 << 14, gather_range, &c);
    return INGOT_OK;
}

/* ---- scatter ----
 * Works line by line: a line is every position of idx along axis for fixed
 * other coordinates. Lines write to disjoint parts of out and each runs in
 * order along axis, so the last write wins and sums are in a fixed order. */

typedef struct scatter_ctx {
    const ingot_array *out, *idx, *values;
    bool accumulate;
    int line_ndim;
    int64_t line_shape[INGOT_MAX_DIMS];      /* idx's shape without axis */
    int64_t line_strides[3][INGOT_MAX_DIMS]; /* out, idx, values without axis */
    int64_t len;                             /* idx's dim at axis */
    int64_t axis_stride[3];                  /* out, idx, values along axis */
} scatter_ctx;

static void scatter_range(void *vctx, int64_t begin, int64_t end) {
    const scatter_ctx *c = vctx;
    ingot_dtype dtype = c->out->dtype;
    int64_t esize = (int64_t)ingot_dtype_size(dtype);
    const int64_t *strides[3] = {c->line_strides[0], c->line_strides[1], c->line_strides[2]};
    int64_t base[3] = {c->out->offset, c->idx->offset, c->values->offset};
    ingot__iter it;
    ingot__iter_init(&it, c->line_shape, c->line_ndim, 3, strides, base, begin);
    char *out = c->out->buf->data;
    const int64_t *idx = c->idx->buf->data;
    const char *values = c->values->buf->data;
    for (int64_t line = begin; line < end; line++) {
        for (int64_t t = 0; t < c->len; t++) {
            int64_t j = idx[it.off[1] + t * c->axis_stride[1]];
            char *dst = out + (it.off[0] + j * c->axis_stride[0]) * esize;
            const char *src = values + (it.off[2] + t * c->axis_stride[2]) * esize;
            if (c->accumulate)
                add_elem(dst, src, dtype);
            else
                copy_elem(dst, src, (size_t)esize);
        }
        ingot__iter_next(&it);
    }
}

ingot_status ingot__cpu_scatter(ingot_array *out, const ingot_array *idx, const ingot_array *values,
                                int axis, bool accumulate) {
    scatter_ctx c = {.out = out, .idx = idx, .values = values, .accumulate = accumulate,
                     .len = idx->shape[axis]};
    const ingot_array *ops[3] = {out, idx, values};
    int64_t nlines = 1;
    for (int d = 0; d < idx->ndim; d++) {
        if (d == axis) continue;
        c.line_shape[c.line_ndim] = idx->shape[d];
        for (int o = 0; o < 3; o++) c.line_strides[o][c.line_ndim] = ops[o]->strides[d];
        nlines *= idx->shape[d];
        c.line_ndim++;
    }
    for (int o = 0; o < 3; o++) c.axis_stride[o] = ops[o]->strides[axis];
    if (c.len == 0 || nlines == 0) return INGOT_OK;
    int64_t grain = (1 << 14) / c.len;
    ingot__parallel_for(nlines, grain > 0 ? grain : 1, scatter_range, &c);
    return INGOT_OK;
}
