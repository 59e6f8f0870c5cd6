/* sdpa front end and its backward function.
 *
 * q, k and v are converted to their promoted float dtype (ingot_astype, so
 * gradients flow back through the conversion); the mask is broadcast to
 * [B, Hq, Tq, Tk] as a 0-stride view and keeps its dtype; kv_len becomes an
 * i32 or i64 [B] view (its values are clamped by the kernels, which read
 * them on the device). When the call is recorded for autograd the kernel
 * also writes the f32 row log-sum-exp ([B, Hq, Tq]), which the node keeps in
 * saved[0] for the backward kernel. */
#include <math.h>

#include "backend/backend.h"
#include "ops/autograd_internal.h"
#include "ingot/fast.h"
#include "ingot/ops.h"

static bool same_device(const ingot_array *a, const ingot_array *b) {
    ingot_device da = ingot_array_device(a), db = ingot_array_device(b);
    return da.type == db.type && da.index == db.index;
}

static ingot_status check_qkv(const ingot_array *a, const char *name, const ingot_array *q) {
    if (!a) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "sdpa: %s is NULL", name);
    if (!ingot_dtype_is_float(a->dtype))
        return ingot__error(INGOT_ERR_DTYPE, "sdpa: %s must be a float array, got %s", name,
                            ingot_dtype_name(a->dtype));
    if (a->ndim != 4) {
        char s[INGOT__SHAPE_STR_MAX];
        return ingot__error(INGOT_ERR_SHAPE,
                            "sdpa: %s must be [B, heads, tokens, head_dim], got shape %s", name,
                            ingot__shape_str(s, a->shape, a->ndim));
    }
    if (!same_device(a, q))
        return ingot__error(INGOT_ERR_DEVICE, "sdpa: %s is on another device than q", name);
    return INGOT_OK;
}

/* Checks how q ([B, Hq, Tq, D]), k ([B, Hkv, Tk, D]) and v ([B, Hkv, Tk, Dv])
 * fit together. */
static ingot_status check_shapes(const ingot_array *q, const ingot_array *k, const ingot_array *v) {
    char qs[INGOT__SHAPE_STR_MAX], ks[INGOT__SHAPE_STR_MAX], vs[INGOT__SHAPE_STR_MAX];
    const int64_t *Q = q->shape, *K = k->shape, *V = v->shape;
    const char *why = NULL;
    if (K[0] != Q[0] || V[0] != Q[0]) why = "batch sizes differ";
    else if (K[1] != V[1]) why = "k and v have different head counts";
    else if (K[2] != V[2]) why = "k and v have different token counts";
    else if (K[3] != Q[3]) why = "q and k have different head_dim";
    else if (K[1] == 0 ? Q[1] != 0 : Q[1] % K[1] != 0)
        why = "q's head count is not a multiple of k's";
    if (!why) return INGOT_OK;
    return ingot__error(INGOT_ERR_SHAPE, "sdpa: %s: q %s, k %s, v %s", why,
                        ingot__shape_str(qs, Q, 4), ingot__shape_str(ks, K, 4),
                        ingot__shape_str(vs, V, 4));
}

/* Validates the mask and gives *bmask: NULL, or a view of it broadcast to
 * shape ([B, Hq, Tq, Tk]). */
static ingot_status broadcast_mask(ingot_array **bmask, const ingot_array *mask,
                                   const ingot_array *q, const int64_t *shape) {
    *bmask = NULL;
    if (!mask) return INGOT_OK;
    char ms[INGOT__SHAPE_STR_MAX], ts[INGOT__SHAPE_STR_MAX];
    if (mask->dtype != INGOT_BOOL && !ingot_dtype_is_float(mask->dtype))
        return ingot__error(INGOT_ERR_DTYPE, "sdpa: mask must be bool or float, got %s",
                            ingot_dtype_name(mask->dtype));
    bool ok = mask->ndim <= 4;
    for (int d = 0; ok && d < mask->ndim; d++) {
        int64_t m = mask->shape[mask->ndim - 1 - d];
        ok = m == 1 || m == shape[3 - d];
    }
    if (!ok)
        return ingot__error(
            INGOT_ERR_SHAPE, "sdpa: mask shape %s does not broadcast to (B, Hq, Tq, Tk) = %s",
            ingot__shape_str(ms, mask->shape, mask->ndim), ingot__shape_str(ts, shape, 4));
    if (!same_device(mask, q))
        return ingot__error(INGOT_ERR_DEVICE, "sdpa: mask is on another device than q");
    return ingot_broadcast_to(bmask, mask, shape, 4);
}

/* Validates kv_len and gives *out: NULL, or its values as an i32 or i64 [B]
 * view (a 0-stride view for [] and [1]; other integer dtypes converted). */
static ingot_status kv_lengths(ingot_array **out, const ingot_array *kv_len, const ingot_array *q) {
    *out = NULL;
    if (!kv_len) return INGOT_OK;
    int64_t B = q->shape[0];
    if (!ingot_dtype_is_integer(kv_len->dtype))
        return ingot__error(INGOT_ERR_DTYPE, "sdpa: kv_len must be an integer array, got %s",
                            ingot_dtype_name(kv_len->dtype));
    if (kv_len->ndim > 1 || (kv_len->ndim == 1 && kv_len->shape[0] != 1 && kv_len->shape[0] != B)) {
        char s[INGOT__SHAPE_STR_MAX];
        return ingot__error(INGOT_ERR_SHAPE, "sdpa: kv_len must be [], [1] or [B] = [%lld], got %s",
                            (long long)B, ingot__shape_str(s, kv_len->shape, kv_len->ndim));
    }
    if (!same_device(kv_len, q))
        return ingot__error(INGOT_ERR_DEVICE, "sdpa: kv_len is on another device than q");
    ingot_array *wide = NULL; /* kv_len as i32 or i64 */
    ingot_status st = kv_len->dtype == INGOT_I32 || kv_len->dtype == INGOT_I64
                          ? (wide = ingot_array_retain((ingot_array *)kv_len), INGOT_OK)
                          : ingot_astype(&wide, kv_len, INGOT_I64);
    if (!st) st = ingot_broadcast_to(out, wide, &B, 1);
    ingot_array_free(wide);
    return st;
}

/* node: inputs q, k, v; output out; saved[0] lse, saved[1] broadcast mask
 * (or NULL), saved[2] kv_len view (or NULL); f[0] scale; i[0] causal,
 * i[1] window. */
static ingot_status sdpa_backward(ingot_array **grads, const ingot_array *g,
                                  const ingot__node *node) {
    const ingot_array *q = node->inputs[0]; /* [B, Hq, Tq, D] */
    const ingot_array *k = node->inputs[1]; /* [B, Hkv, Tk, D] */
    const ingot_array *v = node->inputs[2]; /* [B, Hkv, Tk, Dv] */
    ingot__sdpa_params ro = {.scale = (float)node->f[0], .causal = node->i[0] != 0,
                             .window = node->i[1], .mask = node->saved[1],
                             .kv_len = node->saved[2]};
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, (const ingot_array *const *)node->inputs, 3, "sdpa");
    if (st) return st;
    ingot_array **dq = &grads[0], **dk = &grads[1], **dv = &grads[2]; /* like q, k, v */
    st = ingot__array_new_like(dq, q, q->dtype);
    if (!st) st = ingot__array_new_like(dk, k, k->dtype);
    if (!st) st = ingot__array_new_like(dv, v, v->dtype);
    if (st) return st;
    return be->sdpa_vjp(*dq, *dk, *dv, q, k, v, node->output, node->saved[0], g, &ro);
}

ingot_status ingot_sdpa(ingot_array **out, const ingot_array *q, const ingot_array *k,
                        const ingot_array *v, const ingot_sdpa_options *opts) {
    INGOT__CHECK_NOT_NULL(out, "sdpa");
    *out = NULL;
    ingot_status st = check_qkv(q, "q", q);
    if (!st) st = check_qkv(k, "k", q);
    if (!st) st = check_qkv(v, "v", q);
    if (!st) st = check_shapes(q, k, v);
    if (st) return st;
    ingot_sdpa_options o = opts ? *opts : (ingot_sdpa_options){0};
    ingot__sdpa_params ro = {.scale = o.scale, .causal = o.causal, .window = o.window,
                             .max_kv_len = o.max_kv_len};
    if (ro.window < 0)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "sdpa: window must be >= 0, got %lld",
                            (long long)ro.window);
    if (ro.max_kv_len < 0)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "sdpa: max_kv_len must be >= 0, got %lld",
                            (long long)ro.max_kv_len);
    if (!isfinite(ro.scale))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "sdpa: scale must be finite, got %g",
                            (double)ro.scale);
    int64_t D = q->shape[3];
    if (ro.scale == 0.0f) ro.scale = D > 0 ? (float)(1.0 / sqrt((double)D)) : 1.0f;
    const ingot__backend *be;
    const ingot_array *qkv[3] = {q, k, v};
    st = ingot__backend_get(&be, qkv, 3, "sdpa");
    if (st) return st;

    int64_t oshape[4] = {q->shape[0], q->shape[1], q->shape[2], v->shape[3]}; /* [B,Hq,Tq,Dv] */
    int64_t mshape[4] = {q->shape[0], q->shape[1], q->shape[2], k->shape[2]}; /* [B,Hq,Tq,Tk] */
    ingot_dtype dt = ingot_promote_types(ingot_promote_types(q->dtype, k->dtype), v->dtype);
    ingot_array *qc = NULL, *kc = NULL, *vc = NULL;   /* q, k, v in dt */
    ingot_array *mask = NULL;                         /* [B, Hq, Tq, Tk] view */
    ingot_array *kvl = NULL;                          /* [B] i32/i64 view */
    ingot_array *y = NULL;                            /* [B, Hq, Tq, Dv] */
    ingot_array *lse = NULL;                          /* [B, Hq, Tq] f32 */
    st = broadcast_mask(&mask, o.mask, q, mshape);
    if (!st) st = kv_lengths(&kvl, o.kv_len, q);
    if (!st) st = ingot_astype(&qc, q, dt);
    if (!st) st = ingot_astype(&kc, k, dt);
    if (!st) st = ingot_astype(&vc, v, dt);
    if (!st) st = ingot__array_new(&y, dt, oshape, 4, ingot__device(q), "sdpa");
    const ingot_array *inputs[3] = {qc, kc, vc};
    if (!st && ingot__grad_needed(inputs, 3))
        st = ingot__array_new(&lse, INGOT_F32, mshape, 3, ingot__device(q), "sdpa");
    ro.mask = mask;
    ro.kv_len = kvl;
    if (!st) st = be->sdpa(y, lse, qc, kc, vc, &ro);
    ingot__node *node = NULL;
    if (!st) st = ingot__record(&node, y, inputs, 3, sdpa_backward, "sdpa");
    if (node) {
        node->f[0] = ro.scale;
        node->i[0] = ro.causal;
        node->i[1] = ro.window;
        node->saved[0] = lse; /* the tape owns these references now */
        node->saved[1] = mask;
        node->saved[2] = kvl;
        lse = mask = kvl = NULL;
    }
    ingot_array_free(qc);
    ingot_array_free(kc);
    ingot_array_free(vc);
    ingot_array_free(mask);
    ingot_array_free(kvl);
    ingot_array_free(lse);
    if (st) {
        ingot_array_free(y);
        return st;
    }
    *out = y;
    return INGOT_OK;
}
