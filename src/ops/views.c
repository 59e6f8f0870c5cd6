/* Views and layout: reshape, transpose, slice, broadcast, expand/squeeze,
 * contiguous, astype and stop_gradient, each with its backward beside it. */
#include "backend/backend.h"
#include "ops/autograd_internal.h"
#include "ingot/ops.h"
#include "ops/ops_internal.h"

/* Finishes a view op: records it for autograd, or frees the view on error. */
static ingot_status finish(ingot_array **out, ingot_array *view, const ingot_array *a,
                           ingot__backward_fn backward, const char *name, ingot__node **node) {
    ingot__node *nd;
    ingot_status st = ingot__record(&nd, view, &a, 1, backward, name);
    if (st) {
        ingot_array_free(view);
        *out = NULL;
        return st;
    }
    if (node) *node = nd;
    *out = view;
    return INGOT_OK;
}

ingot_status ingot__copy_as(ingot_array **out, const ingot_array *a, ingot_dtype dtype, bool share,
                            const char *op) {
    *out = NULL;
    if (share && a->dtype == dtype) {
        *out = ingot_array_retain((ingot_array *)a);
        return INGOT_OK;
    }
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, &a, 1, op);
    if (st) return st;
    st = ingot__array_new(out, dtype, a->shape, a->ndim, ingot__device(a), op);
    if (st) return st;
    st = be->copy(*out, a);
    if (st) {
        ingot_array_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- reshape and friends: the backward reshapes back ---- */

static ingot_status reshape_backward(ingot_array **grads, const ingot_array *g,
                                     const ingot__node *node) {
    const ingot_array *a = node->inputs[0];
    return ingot_reshape(&grads[0], g, a->shape, a->ndim);
}

/* Resolves one -1 in shape against size. */
static ingot_status infer_shape(int64_t *dst, const int64_t *shape, int ndim, const ingot_array *a) {
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        dst[i] = shape[i];
        if (shape[i] == -1) {
            if (infer >= 0) return ingot__error(INGOT_ERR_SHAPE, "reshape: more than one -1");
            infer = i;
        } else if (shape[i] < 0) {
            return ingot__error(INGOT_ERR_SHAPE, "reshape: negative dim %lld", (long long)shape[i]);
        } else {
            if (shape[i] && known > INT64_MAX / 2 / shape[i])
                return ingot__error(INGOT_ERR_SHAPE, "reshape: size overflows");
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        if (known == 0 || a->size % known)
            return ingot__error(INGOT_ERR_SHAPE, "reshape: cannot infer -1 for %lld elements",
                                (long long)a->size);
        dst[infer] = a->size / known;
    }
    if (ingot__shape_size(dst, ndim) != a->size) {
        char s1[INGOT__SHAPE_STR_MAX], s2[INGOT__SHAPE_STR_MAX];
        return ingot__error(INGOT_ERR_SHAPE, "reshape: cannot reshape %s to %s",
                            ingot__shape_str(s1, a->shape, a->ndim),
                            ingot__shape_str(s2, shape, ndim));
    }
    return INGOT_OK;
}

ingot_status ingot_reshape(ingot_array **out, const ingot_array *a, const int64_t *shape, int ndim) {
    INGOT__CHECK_NOT_NULL(out, "reshape");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "reshape");
    if (ndim < 0 || ndim > INGOT_MAX_DIMS || (ndim && !shape))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "reshape: bad shape (%d dims)", ndim);
    int64_t dims[INGOT_MAX_DIMS], strides[INGOT_MAX_DIMS];
    ingot_status st = infer_shape(dims, shape, ndim, a);
    if (st) return st;
    ingot__contiguous_strides(strides, dims, ndim);
    ingot_array *src = (ingot_array *)a, *copy = NULL, *view;
    if (!ingot_array_is_contiguous(a)) {
        st = ingot__copy_as(&copy, a, a->dtype, false, "reshape");
        if (st) return st;
        src = copy;
    }
    st = ingot__array_view(&view, src, dims, strides, ndim, src->offset);
    ingot_array_free(copy);
    if (st) return st;
    return finish(out, view, a, reshape_backward, "reshape", NULL);
}

ingot_status ingot_flatten(ingot_array **out, const ingot_array *a) {
    INGOT__CHECK_NOT_NULL(out, "flatten");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "flatten");
    int64_t n = a->size;
    return ingot_reshape(out, a, &n, 1);
}

ingot_status ingot_expand_dims(ingot_array **out, const ingot_array *a, int axis) {
    INGOT__CHECK_NOT_NULL(out, "expand_dims");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "expand_dims");
    if (a->ndim == INGOT_MAX_DIMS)
        return ingot__error(INGOT_ERR_SHAPE, "expand_dims: already %d dims", INGOT_MAX_DIMS);
    ingot_status st = ingot__norm_axis(&axis, a->ndim + 1, "expand_dims");
    if (st) return st;
    int64_t shape[INGOT_MAX_DIMS], strides[INGOT_MAX_DIMS];
    for (int i = 0, j = 0; i <= a->ndim; i++) {
        if (i == axis) {
            shape[i] = 1;
            strides[i] = 0;
        } else {
            shape[i] = a->shape[j];
            strides[i] = a->strides[j++];
        }
    }
    ingot_array *view;
    st = ingot__array_view(&view, a, shape, strides, a->ndim + 1, a->offset);
    if (st) return st;
    return finish(out, view, a, reshape_backward, "expand_dims", NULL);
}

ingot_status ingot_squeeze(ingot_array **out, const ingot_array *a, const int *axes, int naxes) {
    INGOT__CHECK_NOT_NULL(out, "squeeze");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "squeeze");
    bool drop[INGOT_MAX_DIMS];
    ingot_status st = ingot__axes_mask(drop, axes, naxes, a->ndim, "squeeze");
    if (st) return st;
    int64_t shape[INGOT_MAX_DIMS], strides[INGOT_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (drop[i] && a->shape[i] != 1) {
            if (axes)
                return ingot__error(INGOT_ERR_SHAPE, "squeeze: axis %d has size %lld, not 1", i,
                                    (long long)a->shape[i]);
            drop[i] = false;
        }
        if (!drop[i]) {
            shape[n] = a->shape[i];
            strides[n++] = a->strides[i];
        }
    }
    ingot_array *view;
    st = ingot__array_view(&view, a, shape, strides, n, a->offset);
    if (st) return st;
    return finish(out, view, a, reshape_backward, "squeeze", NULL);
}

/* ---- transpose: the backward applies the inverse permutation ---- */

static ingot_status transpose_backward(ingot_array **grads, const ingot_array *g,
                                       const ingot__node *node) {
    int inverse[INGOT_MAX_DIMS];
    for (int i = 0; i < g->ndim; i++) inverse[node->i[i]] = i;
    return ingot_transpose(&grads[0], g, inverse, g->ndim);
}

ingot_status ingot_transpose(ingot_array **out, const ingot_array *a, const int *axes, int naxes) {
    INGOT__CHECK_NOT_NULL(out, "transpose");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "transpose");
    int perm[INGOT_MAX_DIMS];
    bool seen[INGOT_MAX_DIMS] = {0};
    if (axes && naxes != a->ndim)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "transpose: %d axes for %d dims", naxes,
                            a->ndim);
    for (int i = 0; i < a->ndim; i++) {
        perm[i] = axes ? axes[i] : a->ndim - 1 - i;
        ingot_status st = ingot__norm_axis(&perm[i], a->ndim, "transpose");
        if (st) return st;
        if (seen[perm[i]])
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "transpose: axis %d given twice",
                                perm[i]);
        seen[perm[i]] = true;
    }
    int64_t shape[INGOT_MAX_DIMS], strides[INGOT_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) {
        shape[i] = a->shape[perm[i]];
        strides[i] = a->strides[perm[i]];
    }
    ingot_array *view;
    ingot__node *node = NULL;
    ingot_status st = ingot__array_view(&view, a, shape, strides, a->ndim, a->offset);
    if (st) return st;
    st = finish(out, view, a, transpose_backward, "transpose", &node);
    for (int i = 0; node && i < a->ndim; i++) node->i[i] = perm[i];
    return st;
}

ingot_status ingot_swapaxes(ingot_array **out, const ingot_array *a, int axis1, int axis2) {
    INGOT__CHECK_NOT_NULL(out, "swapaxes");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "swapaxes");
    ingot_status st = ingot__norm_axis(&axis1, a->ndim, "swapaxes");
    if (st == INGOT_OK) st = ingot__norm_axis(&axis2, a->ndim, "swapaxes");
    if (st) return st;
    int perm[INGOT_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) perm[i] = i == axis1 ? axis2 : i == axis2 ? axis1 : i;
    return ingot_transpose(out, a, perm, a->ndim);
}

/* ---- slicing: the backward writes the cotangent into a slice of zeros ---- */

static ingot_status slice_backward(ingot_array **grads, const ingot_array *g,
                                   const ingot__node *node) {
    const ingot_array *a = node->inputs[0];
    ingot_array *zeros, *window;
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, &g, 1, "slice");
    if (st) return st;
    st = ingot__full_on(&zeros, g->dtype, a->shape, a->ndim, 0.0, ingot__device(g), "slice");
    if (st) return st;
    /* node->i holds start[0..ndim) and step[ndim..2ndim) normalised. */
    int64_t offset = 0, strides[INGOT_MAX_DIMS];
    for (int d = 0; d < a->ndim; d++) {
        offset += node->i[d] * zeros->strides[d];
        strides[d] = zeros->strides[d] * node->i[a->ndim + d];
    }
    st = ingot__array_view(&window, zeros, g->shape, strides, g->ndim, offset);
    if (st == INGOT_OK) st = be->copy(window, g);
    ingot_array_free(window);
    if (st == INGOT_OK) st = ingot__grad_for_input(&grads[0], zeros, a);
    else ingot_array_free(zeros);
    return st;
}

/* NumPy's slice normalisation: the first index and the length. */
static void normalise_slice(int64_t *first, int64_t *len, int64_t n, int64_t start, int64_t stop,
                            int64_t step) {
    if (step > 0) {
        start = start < 0 ? (start < -n ? 0 : start + n) : (start > n ? n : start);
        stop = stop < 0 ? (stop < -n ? 0 : stop + n) : (stop > n ? n : stop);
        *len = stop > start ? (stop - start - 1) / step + 1 : 0;
    } else {
        start = start < 0 ? (start < -n ? -1 : start + n) : (start >= n ? n - 1 : start);
        stop = stop < 0 ? (stop < -n ? -1 : stop + n) : (stop >= n ? n - 1 : stop);
        *len = stop < start ? (start - stop - 1) / -step + 1 : 0;
    }
    *first = *len ? start : 0;
}

ingot_status ingot_slice(ingot_array **out, const ingot_array *a, const int64_t *start,
                         const int64_t *stop, const int64_t *step) {
    INGOT__CHECK_NOT_NULL(out, "slice");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "slice");
    if (a->ndim && (!start || !stop || !step))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "slice: start, stop and step are needed");
    int64_t shape[INGOT_MAX_DIMS], strides[INGOT_MAX_DIMS], first[INGOT_MAX_DIMS];
    int64_t offset = a->offset;
    for (int d = 0; d < a->ndim; d++) {
        if (step[d] == 0 || step[d] == INT64_MIN)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "slice: step %lld on axis %d",
                                (long long)step[d], d);
        normalise_slice(&first[d], &shape[d], a->shape[d], start[d], stop[d], step[d]);
        offset += first[d] * a->strides[d];
        strides[d] = a->strides[d] * step[d];
    }
    ingot_array *view;
    ingot__node *node = NULL;
    ingot_status st = ingot__array_view(&view, a, shape, strides, a->ndim, offset);
    if (st) return st;
    st = finish(out, view, a, slice_backward, "slice", &node);
    for (int d = 0; node && d < a->ndim; d++) {
        node->i[d] = first[d];
        node->i[a->ndim + d] = step[d];
    }
    return st;
}

ingot_status ingot_slice_axis(ingot_array **out, const ingot_array *a, int axis, int64_t start,
                              int64_t stop) {
    INGOT__CHECK_NOT_NULL(out, "slice_axis");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "slice_axis");
    ingot_status st = ingot__norm_axis(&axis, a->ndim, "slice_axis");
    if (st) return st;
    int64_t b[INGOT_MAX_DIMS], e[INGOT_MAX_DIMS], s[INGOT_MAX_DIMS];
    for (int d = 0; d < a->ndim; d++) {
        b[d] = d == axis ? start : 0;
        e[d] = d == axis ? stop : a->shape[d];
        s[d] = 1;
    }
    return ingot_slice(out, a, b, e, s);
}

/* ---- broadcasting: the backward sums over the broadcast dims ---- */

ingot_status ingot_broadcast_shapes(int64_t *out_shape, int *out_ndim, const int64_t *a, int a_ndim,
                                    const int64_t *b, int b_ndim) {
    int n = a_ndim > b_ndim ? a_ndim : b_ndim;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - a_ndim), ib = i - (n - b_ndim);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char s1[INGOT__SHAPE_STR_MAX], s2[INGOT__SHAPE_STR_MAX];
            return ingot__error(INGOT_ERR_SHAPE, "shapes %s and %s do not broadcast",
                                ingot__shape_str(s1, a, a_ndim), ingot__shape_str(s2, b, b_ndim));
        }
        out_shape[i] = da == 1 ? db : da;
    }
    *out_ndim = n;
    return INGOT_OK;
}

ingot_status ingot__broadcast_view(ingot_array **out, const ingot_array *a, const int64_t *shape,
                                   int ndim) {
    int64_t strides[INGOT_MAX_DIMS];
    for (int d = 0; d < ndim; d++) {
        int j = d - (ndim - a->ndim);
        strides[d] = j >= 0 && a->shape[j] == shape[d] ? a->strides[j] : 0;
    }
    return ingot__array_view(out, a, shape, strides, ndim, a->offset);
}

static ingot_status broadcast_backward(ingot_array **grads, const ingot_array *g,
                                       const ingot__node *node) {
    return ingot__grad_for_input(&grads[0], ingot_array_retain((ingot_array *)g), node->inputs[0]);
}

ingot_status ingot_broadcast_to(ingot_array **out, const ingot_array *a, const int64_t *shape,
                                int ndim) {
    INGOT__CHECK_NOT_NULL(out, "broadcast_to");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "broadcast_to");
    if (ndim < a->ndim || ndim > INGOT_MAX_DIMS || (ndim && !shape))
        return ingot__error(INGOT_ERR_SHAPE, "broadcast_to: cannot broadcast %d dims to %d",
                            a->ndim, ndim);
    for (int i = 0; i < ndim; i++) {
        int j = i - (ndim - a->ndim);
        int64_t d = j >= 0 ? a->shape[j] : 1;
        if (d != shape[i] && d != 1) {
            char s1[INGOT__SHAPE_STR_MAX], s2[INGOT__SHAPE_STR_MAX];
            return ingot__error(INGOT_ERR_SHAPE, "broadcast_to: cannot broadcast %s to %s",
                                ingot__shape_str(s1, a->shape, a->ndim),
                                ingot__shape_str(s2, shape, ndim));
        }
        if (shape[i] < 0) return ingot__error(INGOT_ERR_SHAPE, "broadcast_to: negative dim");
    }
    ingot_array *view;
    ingot_status st = ingot__broadcast_view(&view, a, shape, ndim);
    if (st) return st;
    return finish(out, view, a, broadcast_backward, "broadcast_to", NULL);
}

/* ---- copies and conversions ---- */

static ingot_status identity_backward(ingot_array **grads, const ingot_array *g,
                                      const ingot__node *node) {
    return ingot__grad_for_input(&grads[0], ingot_array_retain((ingot_array *)g), node->inputs[0]);
}

/* A converted copy recorded with the identity backward (which converts the
 * cotangent back to the input's dtype). */
static ingot_status converted(ingot_array **out, const ingot_array *a, ingot_dtype dtype,
                              const char *op) {
    ingot_array *copy;
    ingot_status st = ingot__copy_as(&copy, a, dtype, false, op);
    if (st) return st;
    if (!ingot_dtype_is_float(dtype) || !ingot_dtype_is_float(a->dtype)) {
        *out = copy; /* not differentiable: a constant */
        return INGOT_OK;
    }
    return finish(out, copy, a, identity_backward, op, NULL);
}

ingot_status ingot_contiguous(ingot_array **out, const ingot_array *a) {
    INGOT__CHECK_NOT_NULL(out, "contiguous");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "contiguous");
    if (ingot_array_is_contiguous(a)) {
        *out = ingot_array_retain((ingot_array *)a);
        return INGOT_OK;
    }
    return converted(out, a, a->dtype, "contiguous");
}

ingot_status ingot_astype(ingot_array **out, const ingot_array *a, ingot_dtype dtype) {
    INGOT__CHECK_NOT_NULL(out, "astype");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "astype");
    if (!ingot_dtype_size(dtype))
        return ingot__error(INGOT_ERR_DTYPE, "astype: invalid dtype %d", (int)dtype);
    if (dtype == a->dtype) {
        *out = ingot_array_retain((ingot_array *)a);
        return INGOT_OK;
    }
    return converted(out, a, dtype, "astype");
}

ingot_status ingot_stop_gradient(ingot_array **out, const ingot_array *a) {
    INGOT__CHECK_NOT_NULL(out, "stop_gradient");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "stop_gradient");
    /* A fresh view that the tape has never marked. */
    return ingot__array_view(out, a, a->shape, a->strides, a->ndim, a->offset);
}
