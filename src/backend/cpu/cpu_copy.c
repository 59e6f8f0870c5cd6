/* CPU copy (with dtype conversion), copy at a device-held offset, fill and
 * arange. */
#include "backend/cpu/cpu.h"

#define COPY_GRAIN 65536

typedef struct copy_job {
    ingot_array *dst;        /* any strides, no self-overlap */
    const ingot_array *src;  /* dst's shape, any strides */
} copy_job;

/* Converts n contiguous elements between the common float pairs without the
 * per-element dtype switch; false if the pair has no fast path. */
static bool convert_fast(void *dst, ingot_dtype dt, const void *src, ingot_dtype st, int64_t n) {
    if (dt == INGOT_F32 && st == INGOT_BF16) {
        for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = ingot__bf16_to_f32(((const uint16_t *)src)[i]);
    } else if (dt == INGOT_F32 && st == INGOT_F16) {
        for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = ingot__f16_to_f32(((const uint16_t *)src)[i]);
    } else if (dt == INGOT_BF16 && st == INGOT_F32) {
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = ingot__f32_to_bf16(((const float *)src)[i]);
    } else if (dt == INGOT_F16 && st == INGOT_F32) {
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = ingot__f32_to_f16(((const float *)src)[i]);
    } else {
        return false;
    }
    return true;
}

static void copy_range(void *ctx, int64_t begin, int64_t end) {
    const copy_job *job = ctx;
    const ingot_array *src = job->src;
    ingot_dtype dt = job->dst->dtype, st = src->dtype;
    size_t dsz = ingot_dtype_size(dt), ssz = ingot_dtype_size(st);
    char *d0 = ingot__data(job->dst);
    const char *s0 = ingot__data(src);
    bool dst_contiguous = ingot_array_is_contiguous(job->dst);
    if (dst_contiguous && ingot_array_is_contiguous(src)) {
        char *d = d0 + begin * (int64_t)dsz;
        const char *s = s0 + begin * (int64_t)ssz;
        if (dt == st) {
            memcpy(d, s, (size_t)(end - begin) * dsz);
            return;
        }
        if (convert_fast(d, dt, s, st, end - begin)) return;
    }
    bool ints = !ingot_dtype_is_float(dt) && !ingot_dtype_is_float(st);
    const int64_t *strides[2] = {src->strides, job->dst->strides};
    ingot__iter it;
    ingot__iter_init(&it, src->shape, src->ndim, 2, strides, NULL, begin);
    for (int64_t i = begin; i < end; i++, ingot__iter_next(&it)) {
        const char *s = s0 + it.off[0] * (int64_t)ssz;
        char *d = d0 + (dst_contiguous ? i : it.off[1]) * (int64_t)dsz;
        if (dt == st)
            memcpy(d, s, dsz);
        else if (ints)
            ingot__store_i64(d, dt, ingot__load_i64(s, st));
        else
            ingot__store_f64(d, dt, ingot__load_f64(s, st));
    }
}

ingot_status ingot__cpu_copy(ingot_array *dst, const ingot_array *src) {
    copy_job job = {dst, src};
    ingot__parallel_for(dst->size, COPY_GRAIN, copy_range, &job);
    return INGOT_OK;
}

ingot_status ingot__cpu_copy_at(ingot_array *dst, const ingot_array *src, int axis,
                                const ingot_array *start) {
    int64_t n = src->shape[axis], room = dst->shape[axis] - n;
    int64_t s = ((const int64_t *)ingot__data(start))[0];
    s = s < 0 ? 0 : s > room ? room : s;
    ingot_array *part = NULL; /* src's shape: dst from s on along axis */
    ingot_status st = ingot__array_view(&part, dst, src->shape, dst->strides, dst->ndim,
                                        dst->offset + s * dst->strides[axis]);
    if (!st) st = ingot__cpu_copy(part, src);
    ingot_array_free(part);
    return st;
}

typedef struct fill_job {
    ingot_array *dst;
    double start, step; /* element i = start + i * step */
} fill_job;

static void fill_range(void *ctx, int64_t begin, int64_t end) {
    const fill_job *job = ctx;
    ingot_dtype dt = job->dst->dtype;
    size_t sz = ingot_dtype_size(dt);
    char *d = (char *)ingot__data(job->dst);
    if (job->step == 0.0) { /* fill: store once, replicate bytes */
        ingot__store_f64(d + begin * (int64_t)sz, dt, job->start);
        for (int64_t i = begin + 1; i < end; i++) memcpy(d + i * (int64_t)sz, d + begin * (int64_t)sz, sz);
        return;
    }
    for (int64_t i = begin; i < end; i++)
        ingot__store_f64(d + i * (int64_t)sz, dt, job->start + (double)i * job->step);
}

ingot_status ingot__cpu_fill(ingot_array *dst, double value) {
    fill_job job = {dst, value, 0.0};
    ingot__parallel_for(dst->size, COPY_GRAIN, fill_range, &job);
    return INGOT_OK;
}

ingot_status ingot__cpu_arange(ingot_array *dst, double start, double step) {
    fill_job job = {dst, start, step};
    ingot__parallel_for(dst->size, COPY_GRAIN, fill_range, &job);
    return INGOT_OK;
}
