/* Arrays made by kernels: filled arrays and ranges (ingot_full .. ingot_arange
 * of ingot/array.h), and copies between host and devices (to_host,
 * to_device, item): the array functions that run a kernel, so they sit on
 * the ops floor above the array floor's allocation. */
#include <math.h>

#include "backend/backend.h"
#include "ops/ops_internal.h"

ingot_status ingot__full_on(ingot_array **out, ingot_dtype dtype, const int64_t *shape, int ndim,
                            double value, ingot_device device, const char *op) {
    ingot_status st = ingot__array_new(out, dtype, shape, ndim, device, op);
    if (st) return st;
    const ingot__backend *be;
    st = ingot__backend_get(&be, (const ingot_array *const[]){*out}, 1, op);
    if (!st) st = be->fill(*out, value);
    if (st) {
        ingot_array_free(*out);
        *out = NULL;
    }
    return st;
}

ingot_status ingot_full(ingot_array **out, ingot_dtype dtype, const int64_t *shape, int ndim,
                        double value) {
    INGOT__CHECK_NOT_NULL(out, "full");
    return ingot__full_on(out, dtype, shape, ndim, value, ingot_cpu(), "full");
}

ingot_status ingot_zeros(ingot_array **out, ingot_dtype dtype, const int64_t *shape, int ndim) {
    return ingot_full(out, dtype, shape, ndim, 0.0);
}

ingot_status ingot_ones(ingot_array **out, ingot_dtype dtype, const int64_t *shape, int ndim) {
    return ingot_full(out, dtype, shape, ndim, 1.0);
}

ingot_status ingot_scalar(ingot_array **out, ingot_dtype dtype, double value) {
    return ingot_full(out, dtype, NULL, 0, value);
}

ingot_status ingot_zeros_like(ingot_array **out, const ingot_array *a) {
    INGOT__CHECK_NOT_NULL(out, "zeros_like");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "zeros_like");
    return ingot__full_on(out, a->dtype, a->shape, a->ndim, 0.0, a->buf->device, "zeros_like");
}

ingot_status ingot_arange(ingot_array **out, ingot_dtype dtype, double start, double stop,
                          double step) {
    INGOT__CHECK_NOT_NULL(out, "arange");
    *out = NULL;
    if (!isfinite(start) || !isfinite(stop) || !isfinite(step) || step == 0.0)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "arange: needs finite bounds and a nonzero step (got %g, %g, %g)",
                            start, stop, step);
    double n = ceil((stop - start) / step);
    if (n > 0x1p40) return ingot__error(INGOT_ERR_LIMIT, "arange: %g elements", n);
    int64_t shape[1] = {n > 0 ? (int64_t)n : 0};
    ingot_status st = ingot__array_new(out, dtype, shape, 1, ingot_cpu(), "arange");
    if (st) return st;
    st = ingot__cpu_backend.arange(*out, start, step);
    if (st) {
        ingot_array_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- copies between host and devices ---- */

ingot_status ingot_array_to_host(void *dst, size_t dst_bytes, ingot_dtype dtype,
                                 const ingot_array *a) {
    INGOT__CHECK_NOT_NULL(a, "array_to_host");
    if (!ingot_dtype_size(dtype))
        return ingot__error(INGOT_ERR_DTYPE, "array_to_host: invalid dtype %d", (int)dtype);
    size_t need = (size_t)a->size * ingot_dtype_size(dtype);
    if (need && !dst) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "array_to_host: dst is NULL");
    if (dst_bytes < need)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "array_to_host: %zu bytes needed, %zu given", need, dst_bytes);
    if (!need) return INGOT_OK;
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, &a, 1, "array_to_host");
    if (st) return st;
    const ingot__device_ops *from = ingot__device_ops_for(a->buf->device.type);
    if (from->download) {
        /* Device memory: converted and made contiguous there, then downloaded. */
        ingot_array *c;
        bool as_is = a->dtype == dtype && ingot_array_is_contiguous(a);
        st = as_is ? (c = ingot_array_retain((ingot_array *)a), INGOT_OK)
                   : ingot__copy_as(&c, a, dtype, false, "array_to_host");
        if (!st) st = from->download(dst, ingot__data(c), need, a->buf->device.index);
        ingot_array_free(c);
        return st;
    }
    ingot_array *host;
    st = ingot_array_wrap(&host, dst, dtype, a->shape, a->ndim, NULL, NULL);
    if (!st) st = be->copy(host, a);
    ingot_array_free(host);
    return st;
}

ingot_status ingot_array_to_device(ingot_array **out, const ingot_array *a, ingot_device device) {
    INGOT__CHECK_NOT_NULL(out, "array_to_device");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "array_to_device");
    ingot_device from = a->buf->device;
    if (from.type == device.type && from.index == device.index) {
        *out = ingot_array_retain((ingot_array *)a);
        return INGOT_OK;
    }
    const ingot__device_ops *to = ingot__device_ops_of(device, "array_to_device");
    if (!to) return INGOT_ERR_DEVICE;
    ingot_array *res;
    ingot_status st = ingot__array_new(&res, a->dtype, a->shape, a->ndim, device,
                                       "array_to_device");
    if (st) return st;
    size_t n = ingot_array_nbytes(a);
    if (!to->upload) { /* host memory */
        st = ingot_array_to_host(ingot__data(res), n, a->dtype, a);
    } else {
        /* Through contiguous host memory: a itself when it is a contiguous
         * CPU array, a gathered CPU copy otherwise. */
        ingot_array *host = NULL;
        if (from.type == INGOT_DEVICE_CPU && ingot_array_is_contiguous(a))
            host = ingot_array_retain((ingot_array *)a);
        else
            st = ingot_array_to_device(&host, a, ingot_cpu());
        if (!st && !ingot_array_is_contiguous(host)) {
            ingot_array *c;
            st = ingot__copy_as(&c, host, host->dtype, false, "array_to_device");
            ingot_array_free(host);
            host = st ? NULL : c;
        }
        if (!st && n) st = to->upload(ingot__data(res), ingot__data(host), n, device.index);
        ingot_array_free(host);
    }
    if (st) {
        ingot_array_free(res);
        return st;
    }
    *out = res;
    return INGOT_OK;
}

ingot_status ingot_array_item(double *out, const ingot_array *a) {
    INGOT__CHECK_NOT_NULL(out, "array_item");
    INGOT__CHECK_NOT_NULL(a, "array_item");
    if (a->size != 1) {
        char s[INGOT__SHAPE_STR_MAX];
        return ingot__error(INGOT_ERR_SHAPE, "array_item: shape %s has %lld elements, not 1",
                            ingot__shape_str(s, a->shape, a->ndim), (long long)a->size);
    }
    if (ingot_array_device(a).type == INGOT_DEVICE_CPU) {
        *out = ingot__load_f64(ingot__data(a), a->dtype);
        return INGOT_OK;
    }
    float f;
    ingot_status st = ingot_array_to_host(&f, sizeof f, INGOT_F32, a);
    *out = f;
    return st;
}

