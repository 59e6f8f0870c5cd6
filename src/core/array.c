/* Arrays: shapes, buffers from the device registry, views, references,
 * properties and strided iteration. Filling and copying run kernels and so
 * live in src/ops (create.c). */
#include <stdlib.h>

#include "core/internal.h"

/* ---- shape helpers ---- */

int64_t ingot__shape_size(const int64_t *shape, int ndim) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 0) return 0;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] > INT64_MAX / 2 / n) return -1;
        n *= shape[i];
    }
    return n;
}

ingot_status ingot__norm_axis(int *axis, int ndim, const char *op) {
    int a = *axis;
    if (a < -ndim || a >= ndim)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: axis %d out of range for %d dims", op,
                            a, ndim);
    *axis = a < 0 ? a + ndim : a;
    return INGOT_OK;
}

ingot_status ingot__axes_mask(bool mask[INGOT_MAX_DIMS], const int *axes, int naxes, int ndim,
                              const char *op) {
    for (int i = 0; i < INGOT_MAX_DIMS; i++) mask[i] = axes == NULL && i < ndim;
    if (!axes) return INGOT_OK;
    if (naxes < 0 || naxes > ndim)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: %d axes for %d dims", op, naxes, ndim);
    for (int i = 0; i < naxes; i++) {
        int a = axes[i];
        ingot_status st = ingot__norm_axis(&a, ndim, op);
        if (st) return st;
        if (mask[a])
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: axis %d given twice", op, axes[i]);
        mask[a] = true;
    }
    return INGOT_OK;
}

bool ingot__same_shape(const ingot_array *a, const ingot_array *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

static ingot_status check_shape(const int64_t *shape, int ndim, const char *op) {
    if (ndim < 0 || ndim > INGOT_MAX_DIMS)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: %d dims (at most %d)", op, ndim,
                            INGOT_MAX_DIMS);
    if (ndim > 0 && !shape)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: shape is NULL", op);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: negative dim %lld", op,
                                (long long)shape[i]);
    return INGOT_OK;
}

/* ---- buffers ---- */

/* A buffer of nbytes on device, allocated by the device's registry entry. */
static ingot_status buffer_new(ingot__buffer **out, size_t nbytes, ingot_device device,
                               const char *op) {
    *out = NULL;
    const ingot__device_ops *dev = ingot__device_ops_of(device, op);
    if (!dev) return INGOT_ERR_DEVICE;
    ingot__buffer *b = calloc(1, sizeof *b);
    if (!b) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    /* One byte at least, so that empty arrays still own a valid pointer. */
    ingot_status st = dev->alloc(&b->data, nbytes ? nbytes : 1, device.index);
    if (st) {
        free(b);
        return st;
    }
    atomic_init(&b->refs, 1);
    b->nbytes = nbytes;
    b->device = device;
    b->owned = true;
    *out = b;
    return INGOT_OK;
}

static void buffer_release(ingot__buffer *b) {
    if (atomic_fetch_sub(&b->refs, 1) != 1) return;
    if (b->owned)
        ingot__device_ops_for(b->device.type)->free(b->data, b->nbytes ? b->nbytes : 1,
                                                    b->device.index);
    else if (b->release)
        b->release(b->release_ctx);
    free(b);
}

static ingot_array *array_alloc(ingot_dtype dtype, const int64_t *shape, int ndim) {
    ingot_array *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    atomic_init(&a->refs, 1);
    a->dtype = dtype;
    a->ndim = ndim;
    if (ndim) memcpy(a->shape, shape, (size_t)ndim * sizeof *shape);
    a->size = ingot__shape_size(shape, ndim);
    a->tape_node = -1;
    return a;
}

ingot_status ingot__array_new(ingot_array **out, ingot_dtype dtype, const int64_t *shape, int ndim,
                              ingot_device device, const char *op) {
    *out = NULL;
    if (!ingot_dtype_size(dtype))
        return ingot__error(INGOT_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dtype);
    ingot_status st = check_shape(shape, ndim, op);
    if (st) return st;
    int64_t size = ingot__shape_size(shape, ndim);
    if (size < 0 || (uint64_t)size > SIZE_MAX / 8)
        return ingot__error(INGOT_ERR_LIMIT, "%s: array size overflows", op);
    ingot_array *a = array_alloc(dtype, shape, ndim);
    if (!a) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    size_t nbytes = (size_t)size * ingot_dtype_size(dtype);
    st = buffer_new(&a->buf, nbytes, device, op);
    if (st) {
        free(a);
        if (st == INGOT_ERR_OUT_OF_MEMORY && device.type == INGOT_DEVICE_CPU)
            return ingot__error(st, "%s: cannot allocate %zu bytes", op, nbytes);
        return st;
    }
    ingot__contiguous_strides(a->strides, shape, ndim);
    *out = a;
    return INGOT_OK;
}

ingot_status ingot__array_new_like(ingot_array **out, const ingot_array *a, ingot_dtype dtype) {
    return ingot__array_new(out, dtype, a->shape, a->ndim, a->buf->device, "array");
}

ingot_status ingot__array_view(ingot_array **out, const ingot_array *base, const int64_t *shape,
                               const int64_t *strides, int ndim, int64_t offset) {
    ingot_array *a = array_alloc(base->dtype, shape, ndim);
    *out = a;
    if (!a) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "view: out of memory");
    if (ndim) memcpy(a->strides, strides, (size_t)ndim * sizeof *strides);
    a->offset = offset;
    a->buf = base->buf;
    atomic_fetch_add(&a->buf->refs, 1);
    return INGOT_OK;
}

/* ---- creation ---- */

ingot_status ingot_array_from_data(ingot_array **out, const void *data, ingot_dtype dtype,
                                   const int64_t *shape, int ndim) {
    INGOT__CHECK_NOT_NULL(out, "array_from_data");
    ingot_status st = ingot__array_new(out, dtype, shape, ndim, ingot_cpu(), "array_from_data");
    if (st) return st;
    size_t nbytes = ingot_array_nbytes(*out);
    if (nbytes && !data) {
        ingot_array_free(*out);
        *out = NULL;
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "array_from_data: data is NULL");
    }
    if (nbytes) memcpy((*out)->buf->data, data, nbytes);
    return INGOT_OK;
}

ingot_status ingot_array_wrap(ingot_array **out, void *data, ingot_dtype dtype,
                              const int64_t *shape, int ndim, ingot_release_fn release,
                              void *ctx) {
    INGOT__CHECK_NOT_NULL(out, "array_wrap");
    *out = NULL;
    if (!ingot_dtype_size(dtype))
        return ingot__error(INGOT_ERR_DTYPE, "array_wrap: invalid dtype %d", (int)dtype);
    ingot_status st = check_shape(shape, ndim, "array_wrap");
    if (st) return st;
    int64_t size = ingot__shape_size(shape, ndim);
    if (size < 0) return ingot__error(INGOT_ERR_LIMIT, "array_wrap: array size overflows");
    if (size && !data) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "array_wrap: data is NULL");
    if ((uintptr_t)data % ingot_dtype_size(dtype))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "array_wrap: data is not aligned to %zu bytes for %s",
                            ingot_dtype_size(dtype), ingot_dtype_name(dtype));
    ingot_array *a = array_alloc(dtype, shape, ndim);
    ingot__buffer *b = a ? calloc(1, sizeof *b) : NULL;
    if (!b) {
        free(a);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "array_wrap: out of memory");
    }
    atomic_init(&b->refs, 1);
    b->data = data;
    b->nbytes = (size_t)size * ingot_dtype_size(dtype);
    b->device = ingot_cpu();
    b->release = release;
    b->release_ctx = ctx;
    a->buf = b;
    ingot__contiguous_strides(a->strides, shape, ndim);
    *out = a;
    return INGOT_OK;
}

/* ---- references ---- */

ingot_array *ingot_array_retain(ingot_array *a) {
    if (a) atomic_fetch_add(&a->refs, 1);
    return a;
}

void ingot_array_free(ingot_array *a) {
    if (!a || atomic_fetch_sub(&a->refs, 1) != 1) return;
    buffer_release(a->buf);
    free(a);
}

/* ---- properties ---- */

ingot_dtype ingot_array_dtype(const ingot_array *a) { return a->dtype; }
int ingot_array_ndim(const ingot_array *a) { return a->ndim; }
const int64_t *ingot_array_shape(const ingot_array *a) { return a->shape; }
const int64_t *ingot_array_strides(const ingot_array *a) { return a->strides; }
int64_t ingot_array_size(const ingot_array *a) { return a->size; }
size_t ingot_array_nbytes(const ingot_array *a) {
    return (size_t)a->size * ingot_dtype_size(a->dtype);
}
ingot_device ingot_array_device(const ingot_array *a) { return a->buf->device; }

int64_t ingot_array_dim(const ingot_array *a, int axis) {
    if (axis < -a->ndim || axis >= a->ndim) return -1;
    return a->shape[axis < 0 ? axis + a->ndim : axis];
}

bool ingot_array_is_contiguous(const ingot_array *a) {
    if (a->size <= 1) return true;
    int64_t s = 1;
    for (int i = a->ndim - 1; i >= 0; i--) {
        if (a->shape[i] != 1 && a->strides[i] != s) return false;
        s *= a->shape[i];
    }
    return true;
}

/* ---- strided iteration ---- */

void ingot__iter_init(ingot__iter *it, const int64_t *shape, int ndim, int nops,
                      const int64_t *const *strides, const int64_t *base, int64_t start) {
    it->ndim = ndim;
    it->nops = nops;
    for (int o = 0; o < nops; o++) it->off[o] = base ? base[o] : 0;
    for (int d = ndim - 1; d >= 0; d--) {
        it->shape[d] = shape[d];
        it->idx[d] = shape[d] ? start % shape[d] : 0;
        start = shape[d] ? start / shape[d] : 0;
        for (int o = 0; o < nops; o++) {
            it->strides[o][d] = strides[o][d];
            it->off[o] += it->idx[d] * strides[o][d];
        }
    }
}
