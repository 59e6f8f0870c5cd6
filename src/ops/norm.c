/* rms_norm and layer_norm front ends with their backward functions.
 *
 * Weight and bias keep their dtype when it is x's or f32 and are converted to
 * x's dtype otherwise (through ingot_astype, so gradients flow back through
 * the conversion). With f16/bf16 x, an f32 weight makes rms_norm round once
 * ((xhat * w) in f32, Gemma 3's `(x * (1 + w.float())).type_as(x)`), a weight
 * of x's dtype rounds xhat first (Llama/Qwen 3's `w * xhat.to(dtype)`); see
 * docs/fast-ops.md. */
#include <math.h>

#include "backend/backend.h"
#include "ops/autograd_internal.h"
#include "ingot/fast.h"
#include "ingot/ops.h"

static bool same_device(const ingot_array *a, const ingot_array *b) {
    ingot_device da = ingot_array_device(a), db = ingot_array_device(b);
    return da.type == db.type && da.index == db.index;
}

/* Validates an optional [D] parameter p (`what`) of x and gives *cast: NULL
 * for NULL, else p in its own dtype when that is x's or f32, else p converted
 * to x's dtype (a new reference either way). */
static ingot_status norm_param(ingot_array **cast, const ingot_array *p, const ingot_array *x,
                               const char *op, const char *what) {
    *cast = NULL;
    if (!p) return INGOT_OK;
    int64_t D = x->shape[x->ndim - 1];
    if (!ingot_dtype_is_float(p->dtype))
        return ingot__error(INGOT_ERR_DTYPE, "%s: %s must be a float array, got %s", op, what,
                            ingot_dtype_name(p->dtype));
    if (p->ndim != 1 || p->shape[0] != D) {
        char ps[INGOT__SHAPE_STR_MAX], xs[INGOT__SHAPE_STR_MAX];
        return ingot__error(INGOT_ERR_SHAPE,
                            "%s: %s shape %s does not match (%lld,), the last dim of x %s", op,
                            what, ingot__shape_str(ps, p->shape, p->ndim), (long long)D,
                            ingot__shape_str(xs, x->shape, x->ndim));
    }
    if (!same_device(p, x))
        return ingot__error(INGOT_ERR_DEVICE, "%s: %s is on another device than x", op, what);
    bool keep = p->dtype == x->dtype || p->dtype == INGOT_F32;
    return ingot_astype(cast, p, keep ? p->dtype : x->dtype);
}

/* node: inputs x, weight, bias (the last two may be NULL); f[0] = eps,
 * i[0] = 1 for layer norm (centred), 0 for RMS norm. */
static ingot_status norm_backward(ingot_array **grads, const ingot_array *g,
                                  const ingot__node *node) {
    const ingot_array *x = node->inputs[0]; /* [..., D] */
    const ingot_array *w = node->inputs[1]; /* [D] or NULL */
    const ingot_array *b = node->inputs[2]; /* [D] or NULL */
    bool center = node->i[0] != 0;
    const char *op = center ? "layer_norm" : "rms_norm";
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, (const ingot_array *const *)node->inputs, 3, op);
    if (st) return st;
    ingot_array **dx = &grads[0], **dw = &grads[1], **db = &grads[2]; /* like x, w, b */
    st = ingot__array_new_like(dx, x, x->dtype);
    if (!st && w) st = ingot__array_new_like(dw, w, w->dtype);
    if (!st && b) st = ingot__array_new_like(db, b, b->dtype);
    if (st) return st;
    float eps = (float)node->f[0];
    return center ? be->layer_norm_vjp(*dx, *dw, *db, x, w, b, g, eps)
                  : be->rms_norm_vjp(*dx, *dw, x, w, g, eps);
}

/* The common front end: validation, conversion, kernel call, recording. */
static ingot_status norm(ingot_array **out, const ingot_array *x, const ingot_array *weight,
                         const ingot_array *bias, float eps, bool center) {
    const char *op = center ? "layer_norm" : "rms_norm";
    INGOT__CHECK_NOT_NULL(out, op);
    *out = NULL;
    INGOT__CHECK_NOT_NULL(x, op);
    if (!ingot_dtype_is_float(x->dtype))
        return ingot__error(INGOT_ERR_DTYPE, "%s: x must be a float array, got %s", op,
                            ingot_dtype_name(x->dtype));
    if (x->ndim < 1)
        return ingot__error(INGOT_ERR_SHAPE, "%s: x must have at least one dim, got a scalar", op);
    if (!(eps >= 0.0f) || isinf(eps))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: eps must be finite and >= 0, got %g",
                            op, (double)eps);
    const ingot__backend *be;
    const ingot_array *given[3] = {x, weight, bias};
    ingot_status st = ingot__backend_get(&be, given, 3, op);
    if (st) return st;

    ingot_array *w = NULL, *b = NULL, *y = NULL; /* [D], [D], [..., D] */
    st = norm_param(&w, weight, x, op, "weight");
    if (!st) st = norm_param(&b, bias, x, op, "bias");
    if (!st) st = ingot__array_new_like(&y, x, x->dtype);
    if (!st) st = center ? be->layer_norm(y, x, w, b, eps) : be->rms_norm(y, x, w, eps);
    ingot__node *node = NULL;
    const ingot_array *inputs[3] = {x, w, b};
    if (!st) st = ingot__record(&node, y, inputs, 3, norm_backward, op);
    if (node) {
        node->f[0] = eps;
        node->i[0] = center;
    }
    ingot_array_free(w);
    ingot_array_free(b);
    if (st) {
        ingot_array_free(y);
        return st;
    }
    *out = y;
    return INGOT_OK;
}

ingot_status ingot_rms_norm(ingot_array **out, const ingot_array *x, const ingot_array *weight,
                            float eps) {
    return norm(out, x, weight, NULL, eps, false);
}

ingot_status ingot_layer_norm(ingot_array **out, const ingot_array *x, const ingot_array *weight,
                              const ingot_array *bias, float eps) {
    return norm(out, x, weight, bias, eps, true);
}
