/* Reductions (sum, mean, max, min, logsumexp, var, argmax, argmin), softmax,
 * log_softmax and cumsum: front ends and their backward functions.
 *
 * Reductions run the backend's reduce kernel on a keepdims-shaped output; when
 * keepdims is false the result is a view of it without the reduced dims. Node
 * parameters: i[0] the reduced axes as a bit mask, i[1] keepdims, i[2] ddof
 * (var); for softmax and cumsum i[0] is the axis. */
#include <math.h>

#include "backend/backend.h"
#include "ops/autograd_internal.h"
#include "ingot/ops.h"
#include "ops/ops_internal.h"

/* ---- helpers ---- */

static int64_t mask_bits(const bool mask[INGOT_MAX_DIMS]) {
    int64_t bits = 0;
    for (int d = 0; d < INGOT_MAX_DIMS; d++)
        if (mask[d]) bits |= INT64_C(1) << d;
    return bits;
}

static void mask_from_bits(bool mask[INGOT_MAX_DIMS], int64_t bits) {
    for (int d = 0; d < INGOT_MAX_DIMS; d++) mask[d] = (bits >> d) & 1;
}

/* The flagged axes as a list; returns their count. */
static int mask_axes(int axes[INGOT_MAX_DIMS], const bool mask[INGOT_MAX_DIMS], int ndim) {
    int n = 0;
    for (int d = 0; d < ndim; d++)
        if (mask[d]) axes[n++] = d;
    return n;
}

/* The number of elements each output element reduces. */
static int64_t reduced_count(const ingot_array *a, const bool mask[INGOT_MAX_DIMS]) {
    int64_t n = 1;
    for (int d = 0; d < a->ndim; d++)
        if (mask[d]) n *= a->shape[d];
    return n;
}

/* An untracked view of a (same elements), so that ops composed on it are not
 * recorded; the caller records one node for the whole computation. */
static ingot_status detach(ingot_array **out, const ingot_array *a) {
    return ingot__array_view(out, a, a->shape, a->strides, a->ndim, a->offset);
}

/* A view of k (keepdims-shaped) without the dims flagged in mask. Takes over k. */
static ingot_status drop_reduced(ingot_array **out, ingot_array *k,
                                 const bool mask[INGOT_MAX_DIMS]) {
    int64_t shape[INGOT_MAX_DIMS], strides[INGOT_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < k->ndim; d++) {
        if (mask[d]) continue;
        shape[n] = k->shape[d];
        strides[n++] = k->strides[d];
    }
    ingot_status st = ingot__array_view(out, k, shape, strides, n, k->offset);
    ingot_array_free(k);
    return st;
}

/* A view of y (a reduction result with the reduced dims kept or dropped as
 * recorded in node) broadcast back to the shape of the node's input. */
static ingot_status expand_back(ingot_array **out, const ingot_array *y, const ingot__node *node) {
    const ingot_array *x = node->inputs[0];
    bool mask[INGOT_MAX_DIMS];
    mask_from_bits(mask, node->i[0]);
    bool keepdims = node->i[1] != 0;
    int64_t strides[INGOT_MAX_DIMS];
    int j = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (mask[d]) {
            strides[d] = 0;
            j += keepdims;
        } else {
            strides[d] = y->strides[j++];
        }
    }
    return ingot__array_view(out, y, x->shape, strides, x->ndim, y->offset);
}

/* Runs reduce kernel `op` over the axes in mask into *out of dtype odt,
 * keeping the reduced dims as 1s when keepdims, dropping them otherwise. */
static ingot_status run_reduce(ingot_array **out, ingot__reduce_op op, const ingot_array *a,
                               const bool mask[INGOT_MAX_DIMS], ingot_dtype odt, bool keepdims,
                               const char *name) {
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, &a, 1, name);
    if (st) return st;
    int64_t kshape[INGOT_MAX_DIMS];
    for (int d = 0; d < a->ndim; d++) kshape[d] = mask[d] ? 1 : a->shape[d];
    ingot_array *k; /* a's shape, reduced dims 1 */
    st = ingot__array_new(&k, odt, kshape, a->ndim, ingot__device(a), name);
    if (st) return st;
    st = be->reduce(op, k, a, mask);
    if (st) {
        ingot_array_free(k);
        return st;
    }
    if (keepdims) {
        *out = k;
        return INGOT_OK;
    }
    return drop_reduced(out, k, mask);
}

/* Records *out = name(a) with backward fn and the reduction's parameters; on
 * failure frees *out. */
static ingot_status record_reduce(ingot_array **out, const ingot_array *a,
                                  const bool mask[INGOT_MAX_DIMS], bool keepdims, int64_t extra,
                                  ingot__backward_fn fn, const char *name) {
    ingot__node *node;
    const ingot_array *inputs[1] = {a};
    ingot_status st = ingot__record(&node, *out, inputs, 1, fn, name);
    if (st) {
        ingot_array_free(*out);
        *out = NULL;
        return st;
    }
    if (node) {
        node->i[0] = mask_bits(mask);
        node->i[1] = keepdims;
        node->i[2] = extra;
    }
    return INGOT_OK;
}

/* Common entry checks: out and a non-NULL, axes valid. */
static ingot_status reduce_args(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                                bool mask[INGOT_MAX_DIMS], const char *name) {
    INGOT__CHECK_NOT_NULL(out, name);
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, name);
    return ingot__axes_mask(mask, axes, naxes, a->ndim, name);
}

/* Reduces zero elements into a non-empty output? (an error for max/min) */
static ingot_status check_nonempty(const ingot_array *a, const bool mask[INGOT_MAX_DIMS],
                                   const char *name) {
    if (reduced_count(a, mask) != 0) return INGOT_OK;
    int64_t outsize = 1;
    for (int d = 0; d < a->ndim; d++)
        if (!mask[d]) outsize *= a->shape[d];
    if (outsize == 0) return INGOT_OK;
    char buf[INGOT__SHAPE_STR_MAX];
    return ingot__error(INGOT_ERR_SHAPE, "%s: reducing zero elements of shape %s", name,
                        ingot__shape_str(buf, a->shape, a->ndim));
}

/* ---- sum ---- */

static ingot_status sum_backward(ingot_array **grads, const ingot_array *g,
                                 const ingot__node *node) {
    if (!ingot_dtype_is_float(node->inputs[0]->dtype)) return INGOT_OK;
    ingot_array *gb; /* x's shape */
    ingot_status st = expand_back(&gb, g, node);
    if (st) return st;
    return ingot__grad_for_input(&grads[0], gb, node->inputs[0]);
}

ingot_status ingot_sum(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                       bool keepdims) {
    bool mask[INGOT_MAX_DIMS];
    ingot_status st = reduce_args(out, a, axes, naxes, mask, "sum");
    if (st) return st;
    ingot_dtype odt = ingot_dtype_is_float(a->dtype) ? a->dtype : INGOT_I64;
    st = run_reduce(out, INGOT__RED_SUM, a, mask, odt, keepdims, "sum");
    if (st) return st;
    return record_reduce(out, a, mask, keepdims, 0, sum_backward, "sum");
}

/* ---- mean ---- */

/* *out = a / n, where a is f32 (n converted to f32). */
static ingot_status div_count(ingot_array **out, const ingot_array *a, double n) {
    ingot_array *s; /* [] */
    ingot_status st = ingot__full_on(&s, INGOT_F32, NULL, 0, n, ingot__device(a), "mean");
    if (st) return st;
    st = ingot_div(out, a, s);
    ingot_array_free(s);
    return st;
}

static ingot_status mean_backward(ingot_array **grads, const ingot_array *g,
                                  const ingot__node *node) {
    const ingot_array *x = node->inputs[0];
    if (!ingot_dtype_is_float(x->dtype)) return INGOT_OK;
    bool mask[INGOT_MAX_DIMS];
    mask_from_bits(mask, node->i[0]);
    ingot_array *gb = NULL, *q = NULL; /* x's shape */
    ingot_status st = expand_back(&gb, g, node);
    if (!st) st = div_count(&q, gb, (double)reduced_count(x, mask));
    ingot_array_free(gb);
    if (st) return st;
    return ingot__grad_for_input(&grads[0], q, x);
}

/* The mean in f32 (sum accumulated as for f32, divided once), unrecorded. */
static ingot_status mean_f32(ingot_array **out, const ingot_array *a,
                             const bool mask[INGOT_MAX_DIMS], bool keepdims) {
    ingot_array *d = NULL, *d32 = NULL, *s = NULL; /* a's shape; a's shape; reduced */
    ingot_status st = detach(&d, a);
    if (!st) st = ingot_astype(&d32, d, INGOT_F32);
    if (!st) st = run_reduce(&s, INGOT__RED_SUM, d32, mask, INGOT_F32, keepdims, "mean");
    if (!st) st = div_count(out, s, (double)reduced_count(a, mask));
    ingot_array_free(d);
    ingot_array_free(d32);
    ingot_array_free(s);
    return st;
}

/* A float dtype's own dtype; f32 for integers and bool. */
static ingot_dtype float_result(ingot_dtype dt) {
    return ingot_dtype_is_float(dt) ? dt : INGOT_F32;
}

ingot_status ingot_mean(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                        bool keepdims) {
    bool mask[INGOT_MAX_DIMS];
    ingot_status st = reduce_args(out, a, axes, naxes, mask, "mean");
    if (st) return st;
    ingot_array *m; /* reduced, f32 */
    st = mean_f32(&m, a, mask, keepdims);
    if (st) return st;
    st = ingot_astype(out, m, float_result(a->dtype));
    ingot_array_free(m);
    if (st) return st;
    return record_reduce(out, a, mask, keepdims, 0, mean_backward, "mean");
}

/* ---- max, min ---- */

/* The gradient goes to the elements equal to the result, split evenly. */
static ingot_status extreme_backward(ingot_array **grads, const ingot_array *g,
                                     const ingot__node *node) {
    const ingot_array *x = node->inputs[0];
    if (!ingot_dtype_is_float(x->dtype)) return INGOT_OK;
    bool mask[INGOT_MAX_DIMS];
    int axes[INGOT_MAX_DIMS];
    mask_from_bits(mask, node->i[0]);
    int naxes = mask_axes(axes, mask, x->ndim);
    /* all x's shape except cnt (reduced, keepdims) */
    ingot_array *yb = NULL, *eq = NULL, *w = NULL, *cnt = NULL, *wn = NULL, *gb = NULL, *p = NULL;
    ingot_status st = expand_back(&yb, node->output, node);
    if (!st) st = ingot_equal(&eq, x, yb);
    if (!st) st = ingot_astype(&w, eq, INGOT_F32);
    if (!st) st = ingot_sum(&cnt, w, axes, naxes, true);
    if (!st) st = ingot_div(&wn, w, cnt);
    if (!st) st = expand_back(&gb, g, node);
    if (!st) st = ingot_mul(&p, gb, wn);
    ingot_array_free(yb);
    ingot_array_free(eq);
    ingot_array_free(w);
    ingot_array_free(cnt);
    ingot_array_free(wn);
    ingot_array_free(gb);
    if (st) return st;
    return ingot__grad_for_input(&grads[0], p, x);
}

static ingot_status extreme(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                            bool keepdims, ingot__reduce_op op, const char *name) {
    bool mask[INGOT_MAX_DIMS];
    ingot_status st = reduce_args(out, a, axes, naxes, mask, name);
    if (!st) st = check_nonempty(a, mask, name);
    if (!st) st = run_reduce(out, op, a, mask, a->dtype, keepdims, name);
    if (st) return st;
    return record_reduce(out, a, mask, keepdims, 0, extreme_backward, name);
}

ingot_status ingot_max(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                       bool keepdims) {
    return extreme(out, a, axes, naxes, keepdims, INGOT__RED_MAX, "max");
}

ingot_status ingot_min(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                       bool keepdims) {
    return extreme(out, a, axes, naxes, keepdims, INGOT__RED_MIN, "min");
}

/* ---- logsumexp ---- */

/* d/dx logsumexp = exp(x - logsumexp). */
static ingot_status logsumexp_backward(ingot_array **grads, const ingot_array *g,
                                       const ingot__node *node) {
    const ingot_array *x = node->inputs[0];
    if (!ingot_dtype_is_float(x->dtype)) return INGOT_OK;
    ingot_array *yb = NULL, *d = NULL, *e = NULL, *gb = NULL, *p = NULL; /* x's shape */
    ingot_status st = expand_back(&yb, node->output, node);
    if (!st) st = ingot_sub(&d, x, yb);
    if (!st) st = ingot_exp(&e, d);
    if (!st) st = expand_back(&gb, g, node);
    if (!st) st = ingot_mul(&p, gb, e);
    ingot_array_free(yb);
    ingot_array_free(d);
    ingot_array_free(e);
    ingot_array_free(gb);
    if (st) return st;
    return ingot__grad_for_input(&grads[0], p, x);
}

ingot_status ingot_logsumexp(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                             bool keepdims) {
    bool mask[INGOT_MAX_DIMS];
    ingot_status st = reduce_args(out, a, axes, naxes, mask, "logsumexp");
    if (st) return st;
    ingot_array *af; /* a's shape, float */
    st = ingot_astype(&af, a, float_result(a->dtype));
    if (st) return st;
    st = run_reduce(out, INGOT__RED_LOGSUMEXP, af, mask, af->dtype, keepdims, "logsumexp");
    ingot_array_free(af);
    if (st) return st;
    return record_reduce(out, a, mask, keepdims, 0, logsumexp_backward, "logsumexp");
}

/* ---- var ---- */

/* d/dx var = 2 (x - mean) / (N - ddof). */
static ingot_status var_backward(ingot_array **grads, const ingot_array *g,
                                 const ingot__node *node) {
    const ingot_array *x = node->inputs[0];
    if (!ingot_dtype_is_float(x->dtype)) return INGOT_OK;
    bool mask[INGOT_MAX_DIMS];
    mask_from_bits(mask, node->i[0]);
    double n = (double)reduced_count(x, mask) - (double)node->i[2];
    /* all x's shape except m (reduced, keepdims) */
    ingot_array *m = NULL, *d = NULL, *gb = NULL, *p = NULL, *q = NULL;
    ingot_status st = mean_f32(&m, x, mask, true);
    if (!st) st = ingot_sub(&d, x, m);
    if (!st) st = expand_back(&gb, g, node);
    if (!st) st = ingot_mul(&p, gb, d);
    if (!st) st = div_count(&q, p, n / 2);
    ingot_array_free(m);
    ingot_array_free(d);
    ingot_array_free(gb);
    ingot_array_free(p);
    if (st) return st;
    return ingot__grad_for_input(&grads[0], q, x);
}

/* sum((a - mean)^2) / (N - ddof) in f32 on an untracked view, unrecorded. */
static ingot_status var_f32(ingot_array **out, const ingot_array *a,
                            const bool mask[INGOT_MAX_DIMS], bool keepdims, int ddof) {
    double n = (double)reduced_count(a, mask) - ddof;
    /* all a's shape except m (reduced, keepdims) and s (reduced) */
    ingot_array *d = NULL, *d32 = NULL, *m = NULL, *c = NULL, *sq = NULL, *s = NULL;
    ingot_status st = detach(&d, a);
    if (!st) st = ingot_astype(&d32, d, INGOT_F32);
    if (!st) st = mean_f32(&m, d32, mask, true);
    if (!st) st = ingot_sub(&c, d32, m);
    if (!st) st = ingot_square(&sq, c);
    if (!st) st = run_reduce(&s, INGOT__RED_SUM, sq, mask, INGOT_F32, keepdims, "var");
    if (!st) st = div_count(out, s, n > 0 ? n : NAN);
    ingot_array_free(d);
    ingot_array_free(d32);
    ingot_array_free(m);
    ingot_array_free(c);
    ingot_array_free(sq);
    ingot_array_free(s);
    return st;
}

ingot_status ingot_var(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                       bool keepdims, int ddof) {
    bool mask[INGOT_MAX_DIMS];
    ingot_status st = reduce_args(out, a, axes, naxes, mask, "var");
    if (st) return st;
    ingot_array *v; /* reduced, f32 */
    st = var_f32(&v, a, mask, keepdims, ddof);
    if (st) return st;
    st = ingot_astype(out, v, float_result(a->dtype));
    ingot_array_free(v);
    if (st) return st;
    return record_reduce(out, a, mask, keepdims, ddof, var_backward, "var");
}

/* ---- argmax, argmin ---- */

static ingot_status arg_extreme(ingot_array **out, const ingot_array *a, int axis, bool keepdims,
                                ingot__reduce_op op, const char *name) {
    INGOT__CHECK_NOT_NULL(out, name);
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, name);
    bool mask[INGOT_MAX_DIMS];
    ingot_status st = ingot__axes_mask(mask, &axis, 1, a->ndim, name);
    if (st) return st;
    if (reduced_count(a, mask) == 0)
        return ingot__error(INGOT_ERR_SHAPE, "%s: axis %d is empty", name, axis);
    return run_reduce(out, op, a, mask, INGOT_I64, keepdims, name);
}

ingot_status ingot_argmax(ingot_array **out, const ingot_array *a, int axis, bool keepdims) {
    return arg_extreme(out, a, axis, keepdims, INGOT__RED_ARGMAX, "argmax");
}

ingot_status ingot_argmin(ingot_array **out, const ingot_array *a, int axis, bool keepdims) {
    return arg_extreme(out, a, axis, keepdims, INGOT__RED_ARGMIN, "argmin");
}

/* ---- softmax, log_softmax ---- */

/* softmax: dx = y * (g - sum(g * y)); log_softmax: dx = g - exp(y) * sum(g),
 * sums along the axis, computed in f32. */
static ingot_status softmax_backward(ingot_array **grads, const ingot_array *g,
                                     const ingot__node *node) {
    const ingot_array *x = node->inputs[0];
    if (!ingot_dtype_is_float(x->dtype)) return INGOT_OK;
    int axis = (int)node->i[0];
    bool log = node->i[1] != 0;
    /* all x's shape except s (keepdims along axis) */
    ingot_array *g32 = NULL, *y32 = NULL, *gy = NULL, *s = NULL, *e = NULL, *t = NULL, *p = NULL;
    ingot_status st = ingot_astype(&g32, g, INGOT_F32);
    if (!st) st = ingot_astype(&y32, node->output, INGOT_F32);
    if (log) {
        if (!st) st = ingot_sum(&s, g32, &axis, 1, true);
        if (!st) st = ingot_exp(&e, y32);
        if (!st) st = ingot_mul(&t, e, s);
        if (!st) st = ingot_sub(&p, g32, t);
    } else {
        if (!st) st = ingot_mul(&gy, g32, y32);
        if (!st) st = ingot_sum(&s, gy, &axis, 1, true);
        if (!st) st = ingot_sub(&t, g32, s);
        if (!st) st = ingot_mul(&p, y32, t);
    }
    ingot_array_free(g32);
    ingot_array_free(y32);
    ingot_array_free(gy);
    ingot_array_free(s);
    ingot_array_free(e);
    ingot_array_free(t);
    if (st) return st;
    return ingot__grad_for_input(&grads[0], p, x);
}

static ingot_status softmax_op(ingot_array **out, const ingot_array *a, int axis, bool log,
                               const char *name) {
    INGOT__CHECK_NOT_NULL(out, name);
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, name);
    ingot_status st = ingot__norm_axis(&axis, a->ndim, name);
    if (st) return st;
    const ingot__backend *be;
    st = ingot__backend_get(&be, &a, 1, name);
    if (st) return st;
    ingot_array *af; /* a's shape, float */
    st = ingot_astype(&af, a, float_result(a->dtype));
    if (st) return st;
    st = ingot__array_new(out, af->dtype, a->shape, a->ndim, ingot__device(a), name);
    if (!st) st = be->softmax(*out, af, axis, log);
    ingot_array_free(af);
    if (st) {
        ingot_array_free(*out);
        *out = NULL;
        return st;
    }
    ingot__node *node;
    const ingot_array *inputs[1] = {a};
    st = ingot__record(&node, *out, inputs, 1, softmax_backward, name);
    if (st) {
        ingot_array_free(*out);
        *out = NULL;
        return st;
    }
    if (node) {
        node->i[0] = axis;
        node->i[1] = log;
    }
    return INGOT_OK;
}

ingot_status ingot_softmax(ingot_array **out, const ingot_array *a, int axis) {
    return softmax_op(out, a, axis, false, "softmax");
}

ingot_status ingot_log_softmax(ingot_array **out, const ingot_array *a, int axis) {
    return softmax_op(out, a, axis, true, "log_softmax");
}

/* ---- cumsum ---- */

/* The cotangent summed the other way: reverse flips, exclusive stays. */
static ingot_status cumsum_backward(ingot_array **grads, const ingot_array *g,
                                    const ingot__node *node) {
    const ingot_array *x = node->inputs[0];
    if (!ingot_dtype_is_float(x->dtype)) return INGOT_OK;
    ingot_array *p; /* x's shape */
    ingot_status st = ingot_cumsum(&p, g, (int)node->i[0], node->i[1] == 0, node->i[2] != 0);
    if (st) return st;
    return ingot__grad_for_input(&grads[0], p, x);
}

ingot_status ingot_cumsum(ingot_array **out, const ingot_array *a, int axis, bool reverse,
                          bool exclusive) {
    INGOT__CHECK_NOT_NULL(out, "cumsum");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "cumsum");
    ingot_status st = ingot__norm_axis(&axis, a->ndim, "cumsum");
    if (st) return st;
    const ingot__backend *be;
    st = ingot__backend_get(&be, &a, 1, "cumsum");
    if (st) return st;
    st = ingot__array_new(out, ingot_dtype_is_float(a->dtype) ? a->dtype : INGOT_I64, a->shape,
                          a->ndim, ingot__device(a), "cumsum");
    if (!st) st = be->cumsum(*out, a, axis, reverse, exclusive);
    ingot__node *node = NULL;
    const ingot_array *inputs[1] = {a};
    if (!st) st = ingot__record(&node, *out, inputs, 1, cumsum_backward, "cumsum");
    if (st) {
        ingot_array_free(*out);
        *out = NULL;
        return st;
    }
    if (node) {
        node->i[0] = axis;
        node->i[1] = reverse;
        node->i[2] = exclusive;
    }
    return INGOT_OK;
}
