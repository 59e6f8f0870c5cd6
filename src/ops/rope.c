/* rope front end and its backward function (the kernel run with
 * inverse = true: a rotation by -angle is the transpose of the rotation). The
 * kernel receives resolved options: dims, base and scale never 0. */
#include <math.h>

#include "backend/backend.h"
#include "ops/autograd_internal.h"
#include "ingot/fast.h"

static bool same_device(const ingot_array *a, const ingot_array *b) {
    ingot_device da = ingot_array_device(a), db = ingot_array_device(b);
    return da.type == db.type && da.index == db.index;
}

/* A new reference to an input array (the tape keeps it for the backward). */
static ingot_array *retain_input(const ingot_array *a) {
    return ingot_array_retain((ingot_array *)a);
}

/* Checks opts against x ([B, H, T, head_dim]) and fills *ro with the
 * kernel's parameters, defaults resolved. */
static ingot_status rope_resolve(ingot__rope_params *ro, const ingot_array *x,
                                 const ingot_rope_options *opts) {
    char s1[INGOT__SHAPE_STR_MAX], s2[INGOT__SHAPE_STR_MAX];
    int64_t B = x->shape[0], T = x->shape[2], head_dim = x->shape[3];
    ingot_rope_options o = opts ? *opts : (ingot_rope_options){0};
    *ro = (ingot__rope_params){.dims = o.dims, .interleaved = o.interleaved, .base = o.base,
                               .scale = o.scale, .offset = o.offset, .freqs = o.freqs,
                               .positions = o.positions};
    if (ro->dims < 0 || ro->dims > head_dim)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "rope: dims %d is outside [0, head_dim %lld]", ro->dims,
                            (long long)head_dim);
    if (ro->dims == 0) ro->dims = (int)head_dim;
    if (ro->dims % 2)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "rope: dims %d must be even", ro->dims);
    if (ro->base == 0.0f) ro->base = 10000.0f;
    if (!(ro->base > 0.0f) || isinf(ro->base))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "rope: base must be finite and > 0, got %g",
                            (double)ro->base);
    if (ro->scale == 0.0f) ro->scale = 1.0f;
    if (!isfinite(ro->scale))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "rope: scale must be finite, got %g",
                            (double)ro->scale);
    const ingot_array *f = ro->freqs, *p = ro->positions;
    if (f) {
        if (f->dtype != INGOT_F32)
            return ingot__error(INGOT_ERR_DTYPE, "rope: freqs must be f32, got %s",
                                ingot_dtype_name(f->dtype));
        if (f->ndim != 1 || f->shape[0] != ro->dims / 2)
            return ingot__error(INGOT_ERR_SHAPE, "rope: freqs shape %s is not (dims/2,) = (%d,)",
                                ingot__shape_str(s1, f->shape, f->ndim), ro->dims / 2);
        if (!same_device(f, x))
            return ingot__error(INGOT_ERR_DEVICE, "rope: freqs is on another device than x");
    }
    if (p) {
        if (!ingot_dtype_is_integer(p->dtype))
            return ingot__error(INGOT_ERR_DTYPE, "rope: positions must be integers, got %s",
                                ingot_dtype_name(p->dtype));
        bool ok = (p->ndim == 1 && p->shape[0] == T) ||
                  (p->ndim == 2 && (p->shape[0] == B || p->shape[0] == 1) && p->shape[1] == T);
        if (!ok)
            return ingot__error(
                INGOT_ERR_SHAPE, "rope: positions shape %s is neither (T,) nor (B, T) for x %s",
                ingot__shape_str(s1, p->shape, p->ndim), ingot__shape_str(s2, x->shape, x->ndim));
        if (!same_device(p, x))
            return ingot__error(INGOT_ERR_DEVICE, "rope: positions is on another device than x");
    }
    return INGOT_OK;
}

/* node: input x; i[0] dims, i[1] interleaved, i[2] offset; f[0] base,
 * f[1] scale; saved[0] freqs, saved[1] positions (either may be NULL). */
static ingot_status rope_backward(ingot_array **grads, const ingot_array *g,
                                  const ingot__node *node) {
    const ingot_array *x = node->inputs[0]; /* [B, H, T, head_dim] */
    ingot__rope_params ro = {
        .dims = (int)node->i[0],
        .interleaved = node->i[1] != 0,
        .offset = node->i[2],
        .base = (float)node->f[0],
        .scale = (float)node->f[1],
        .freqs = node->saved[0],
        .positions = node->saved[1],
    };
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, &x, 1, "rope");
    if (st) return st;
    st = ingot__array_new_like(&grads[0], x, x->dtype); /* [B, H, T, head_dim] */
    return st ? st : be->rope(grads[0], g, &ro, true);
}

ingot_status ingot_rope(ingot_array **out, const ingot_array *x, const ingot_rope_options *opts) {
    INGOT__CHECK_NOT_NULL(out, "rope");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(x, "rope");
    if (!ingot_dtype_is_float(x->dtype))
        return ingot__error(INGOT_ERR_DTYPE, "rope: x must be a float array, got %s",
                            ingot_dtype_name(x->dtype));
    if (x->ndim != 4) {
        char s[INGOT__SHAPE_STR_MAX];
        return ingot__error(INGOT_ERR_SHAPE, "rope: x must be [B, H, T, head_dim], got shape %s",
                            ingot__shape_str(s, x->shape, x->ndim));
    }
    ingot__rope_params ro;
    ingot_status st = rope_resolve(&ro, x, opts);
    if (st) return st;
    const ingot__backend *be;
    st = ingot__backend_get(&be, &x, 1, "rope");
    if (st) return st;

    ingot_array *y; /* [B, H, T, head_dim] */
    st = ingot__array_new_like(&y, x, x->dtype);
    if (st) return st;
    st = be->rope(y, x, &ro, false);
    ingot__node *node = NULL;
    const ingot_array *inputs[1] = {x};
    if (!st) st = ingot__record(&node, y, inputs, 1, rope_backward, "rope");
    if (st) {
        ingot_array_free(y);
        return st;
    }
    if (node) {
        node->i[0] = ro.dims;
        node->i[1] = ro.interleaved;
        node->i[2] = ro.offset;
        node->f[0] = ro.base;
        node->f[1] = ro.scale;
        if (ro.freqs) node->saved[0] = retain_input(ro.freqs);
        if (ro.positions) node->saved[1] = retain_input(ro.positions);
    }
    *out = y;
    return INGOT_OK;
}
