/* Joining and indexing ops: concat, stack, take, take_along_axis,
 * put_along_axis, each with its VJP beside it, and the unrecorded in-place
 * copies of ops_internal.h. Index arrays are validated here by reading them
 * (negative values wrapped) into an i64 copy, so the gather/scatter kernels
 * only see in-range indices. */
#include <stdlib.h>

#include "backend/backend.h"
#include "ops/autograd_internal.h"
#include "ops/ops_internal.h"
#include "ingot/ops.h"
#include "ops/ops_internal.h"

/* ---- shared helpers ---- */

/* The indices as a contiguous i64 array on device with negative values
 * wrapped, after checking on the host that every value lies in [-dim, dim)
 * (indices on a GPU are copied back for that: a synchronisation).
 * Errors: DTYPE for non-integer indices, INDEX naming the bad value. */
static ingot_status normalize_indices(ingot_array **out, const ingot_array *indices, int64_t dim,
                                      int axis, ingot_device device, const char *op) {
    *out = NULL;
    if (!ingot_dtype_is_integer(indices->dtype))
        return ingot__error(INGOT_ERR_DTYPE, "%s: indices must have an integer dtype, got %s", op,
                            ingot_dtype_name(indices->dtype));
    ingot_array *idx = NULL; /* indices' shape, i64, on the CPU */
    ingot_status st =
        ingot__array_new(&idx, INGOT_I64, indices->shape, indices->ndim, ingot_cpu(), op);
    if (st == INGOT_OK && idx->size > 0)
        st = ingot_array_to_host(ingot__data(idx), ingot_array_nbytes(idx), INGOT_I64, indices);
    int64_t *v = st == INGOT_OK ? ingot__data(idx) : NULL;
    for (int64_t i = 0; v && i < idx->size; i++) {
        int64_t j = v[i] < 0 ? v[i] + dim : v[i];
        if (j < 0 || j >= dim) {
            st = ingot__error(INGOT_ERR_INDEX,
                              "%s: index %lld is out of bounds for axis %d with size %lld", op,
                              (long long)v[i], axis, (long long)dim);
            break;
        }
        v[i] = j;
    }
    if (st == INGOT_OK) st = ingot_array_to_device(out, idx, device);
    ingot_array_free(idx);
    return st;
}

/* The VJP tail for input x: converts and sums g down to x (grad_for_input),
 * or drops g when x is not a float array. Takes over g. */
static ingot_status grad_to(ingot_array **grad, ingot_array *g, const ingot_array *x) {
    if (!ingot_dtype_is_float(x->dtype)) {
        ingot_array_free(g);
        return INGOT_OK;
    }
    return ingot__grad_for_input(grad, g, x);
}

/* *out = res when st is INGOT_OK; otherwise frees res. Returns st. */
static ingot_status finish(ingot_array **out, ingot_array *res, ingot_status st) {
    if (st != INGOT_OK) {
        ingot_array_free(res);
        return st;
    }
    *out = res;
    return INGOT_OK;
}

/* The gathers of take and take_along_axis: dst (res or a view of it) = src
 * (a or a view of it) gathered at iv along axis, then res recorded as
 * op(a, indices) with backward and the axis in node->i[0]. */
static ingot_status gather_recorded(ingot_array *res, ingot_array *dst, const ingot_array *src,
                                    const ingot_array *iv, const ingot_array *a,
                                    const ingot_array *indices, int axis,
                                    ingot__backward_fn backward, const char *op) {
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, &a, 1, op);
    if (st == INGOT_OK) st = be->gather(dst, src, iv, axis);
    if (st != INGOT_OK) return st;
    const ingot_array *inputs[2] = {a, indices};
    ingot__node *node;
    st = ingot__record(&node, res, inputs, 2, backward, op);
    if (node) node->i[0] = axis;
    return st;
}

/* ---- concat and stack ---- */

static ingot_status concat_backward(ingot_array **grads, const ingot_array *g,
                                    const ingot__node *node) {
    int axis = (int)node->i[0];
    int64_t start = 0;
    for (int i = 0; i < node->n_inputs; i++) {
        const ingot_array *x = node->inputs[i];
        int64_t len = x->shape[axis];
        ingot_array *part = NULL; /* g's slice for x: x's shape */
        ingot_status st = ingot_slice_axis(&part, g, axis, start, start + len);
        if (st == INGOT_OK) st = grad_to(&grads[i], part, x);
        if (st != INGOT_OK) return st;
        start += len;
    }
    return INGOT_OK;
}

/* Concatenates validated arrays (axis normalised) into a new array. Under an
 * active tape more than INGOT__NODE_MAX_INPUTS arrays are joined in groups so
 * every recorded node stays within the input limit. */
static ingot_status concat_arrays(ingot_array **out, const ingot_array *const *arrays, int n,
                                  int axis) {
    *out = NULL;
    if (n > INGOT__NODE_MAX_INPUTS && ingot__grad_needed(arrays, n)) {
        int nparts = (n + INGOT__NODE_MAX_INPUTS - 1) / INGOT__NODE_MAX_INPUTS;
        ingot_array **parts = calloc((size_t)nparts, sizeof *parts);
        if (!parts) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "concat: out of memory");
        ingot_status st = INGOT_OK;
        for (int p = 0; p < nparts && st == INGOT_OK; p++) {
            int first = p * INGOT__NODE_MAX_INPUTS;
            int count = n - first < INGOT__NODE_MAX_INPUTS ? n - first : INGOT__NODE_MAX_INPUTS;
            st = concat_arrays(&parts[p], arrays + first, count, axis);
        }
        if (st == INGOT_OK)
            st = concat_arrays(out, (const ingot_array *const *)parts, nparts, axis);
        for (int p = 0; p < nparts; p++)
            ingot_array_free(parts[p]);
        free(parts);
        return st;
    }
    const ingot_array *first = arrays[0];
    int ndim = first->ndim;
    int64_t shape[INGOT_MAX_DIMS]; /* first's shape with the joined axis length */
    memcpy(shape, first->shape, (size_t)ndim * sizeof(int64_t));
    ingot_dtype dtype = first->dtype;
    shape[axis] = 0;
    for (int i = 0; i < n; i++) {
        shape[axis] += arrays[i]->shape[axis];
        dtype = ingot_promote_types(dtype, arrays[i]->dtype);
    }
    const ingot__backend *be = NULL;
    ingot_array *res = NULL; /* shape */
    ingot_status st = ingot__backend_get(&be, arrays, n, "concat");
    if (st == INGOT_OK) st = ingot__array_new(&res, dtype, shape, ndim, ingot__device(first), "concat");
    int64_t start = 0;
    for (int i = 0; i < n && st == INGOT_OK; i++) {
        const ingot_array *x = arrays[i];
        ingot_array *dst = NULL; /* res[..., start:start+len, ...]: x's shape */
        if (x->size > 0) {
            st = ingot__array_view(&dst, res, x->shape, res->strides, ndim,
                                   res->offset + start * res->strides[axis]);
            if (st == INGOT_OK) st = be->copy(dst, x);
            ingot_array_free(dst);
        }
        start += x->shape[axis];
    }
    if (st == INGOT_OK) {
        ingot__node *node;
        st = ingot__record(&node, res, arrays, n, concat_backward, "concat");
        if (node) node->i[0] = axis;
    }
    return finish(out, res, st);
}

/* Checks out, arrays and n (>= 1, no NULL entries). */
static ingot_status check_array_list(ingot_array **out, const ingot_array *const *arrays, int n,
                                     const char *op) {
    if (!out) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    if (!arrays) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: arrays is NULL", op);
    if (n < 1)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: needs at least 1 array, got %d", op,
                            n);
    for (int i = 0; i < n; i++)
        if (!arrays[i])
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: arrays[%d] is NULL", op, i);
    return INGOT_OK;
}

ingot_status ingot_concat(ingot_array **out, const ingot_array *const *arrays, int n, int axis) {
    ingot_status st = check_array_list(out, arrays, n, "concat");
    if (st != INGOT_OK) return st;
    const ingot_array *first = arrays[0];
    if (first->ndim == 0)
        return ingot__error(INGOT_ERR_SHAPE, "concat: 0-d arrays cannot be concatenated");
    st = ingot__norm_axis(&axis, first->ndim, "concat");
    if (st != INGOT_OK) return st;
    for (int i = 1; i < n; i++) {
        const ingot_array *x = arrays[i];
        bool match = x->ndim == first->ndim;
        for (int d = 0; match && d < x->ndim; d++)
            match = d == axis || x->shape[d] == first->shape[d];
        if (!match) {
            char sx[INGOT__SHAPE_STR_MAX], sf[INGOT__SHAPE_STR_MAX];
            return ingot__error(INGOT_ERR_SHAPE,
                                "concat: shape %s of arrays[%d] does not match %s outside axis %d",
                                ingot__shape_str(sx, x->shape, x->ndim), i,
                                ingot__shape_str(sf, first->shape, first->ndim), axis);
        }
    }
    return concat_arrays(out, arrays, n, axis);
}

ingot_status ingot_stack(ingot_array **out, const ingot_array *const *arrays, int n, int axis) {
    ingot_status st = check_array_list(out, arrays, n, "stack");
    if (st != INGOT_OK) return st;
    const ingot_array *first = arrays[0];
    if (first->ndim >= INGOT_MAX_DIMS)
        return ingot__error(INGOT_ERR_SHAPE, "stack: arrays already have %d dims", first->ndim);
    st = ingot__norm_axis(&axis, first->ndim + 1, "stack");
    if (st != INGOT_OK) return st;
    for (int i = 1; i < n; i++) {
        if (!ingot__same_shape(arrays[i], first)) {
            char sx[INGOT__SHAPE_STR_MAX], sf[INGOT__SHAPE_STR_MAX];
            return ingot__error(INGOT_ERR_SHAPE, "stack: shape %s of arrays[%d] differs from %s",
                                ingot__shape_str(sx, arrays[i]->shape, arrays[i]->ndim), i,
                                ingot__shape_str(sf, first->shape, first->ndim));
        }
    }
    /* stack = concat of views with a new size-1 axis (recorded as views, so
     * gradients flow through them) */
    ingot_array **expanded = calloc((size_t)n, sizeof *expanded);
    if (!expanded) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "stack: out of memory");
    for (int i = 0; i < n && st == INGOT_OK; i++)
        st = ingot_expand_dims(&expanded[i], arrays[i], axis);
    if (st == INGOT_OK) st = concat_arrays(out, (const ingot_array *const *)expanded, n, axis);
    for (int i = 0; i < n; i++)
        ingot_array_free(expanded[i]);
    free(expanded);
    return st;
}

/* ---- take ---- */

/* The kernel shape of take: a's shape with dim axis replaced by the number
 * of indices n (the result's layout before its dims are split). */
static void take_shape(int64_t *shape, const ingot_array *a, int64_t n, int axis) {
    memcpy(shape, a->shape, (size_t)a->ndim * sizeof(int64_t));
    shape[axis] = n;
}

/* The flat indices idx broadcast to the kernel shape. */
static ingot_status take_index_view(ingot_array **out, const ingot_array *idx, const int64_t *shape,
                                    int ndim, int axis) {
    int64_t strides[INGOT_MAX_DIMS];
    for (int d = 0; d < ndim; d++)
        strides[d] = d == axis ? 1 : 0;
    return ingot__array_view(out, idx, shape, strides, ndim, idx->offset);
}

static ingot_status take_backward(ingot_array **grads, const ingot_array *g,
                                  const ingot__node *node) {
    const ingot_array *a = node->inputs[0];
    int axis = (int)node->i[0];
    if (!ingot_dtype_is_float(a->dtype)) return INGOT_OK;
    int64_t shape[INGOT_MAX_DIMS];       /* kernel shape */
    ingot_array *idx = NULL, *ga = NULL; /* indices (i64); a's shape */
    ingot_array *gr = NULL, *iv = NULL;  /* g and idx in the kernel shape */
    ingot_status st = normalize_indices(&idx, node->inputs[1], a->shape[axis], axis, ingot__device(g),
                                        "take");
    if (st == INGOT_OK) {
        take_shape(shape, a, idx->size, axis);
        st = ingot__full_on(&ga, g->dtype, a->shape, a->ndim, 0.0, ingot__device(g), "take");
    }
    if (st == INGOT_OK) st = take_index_view(&iv, idx, shape, a->ndim, axis);
    if (st == INGOT_OK) st = ingot_reshape(&gr, g, shape, a->ndim);
    const ingot__backend *be = NULL;
    if (st == INGOT_OK) st = ingot__backend_get(&be, &a, 1, "take");
    if (st == INGOT_OK) st = be->scatter(ga, iv, gr, axis, true);
    if (st == INGOT_OK) {
        st = ingot__grad_for_input(&grads[0], ga, a);
        ga = NULL;
    }
    ingot_array_free(iv);
    ingot_array_free(gr);
    ingot_array_free(ga);
    ingot_array_free(idx);
    return st;
}

ingot_status ingot_take(ingot_array **out, const ingot_array *a, const ingot_array *indices,
                        int axis) {
    INGOT__CHECK_NOT_NULL(out, "take");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "take");
    INGOT__CHECK_NOT_NULL(indices, "take");
    ingot_status st = ingot__norm_axis(&axis, a->ndim, "take");
    if (st != INGOT_OK) return st;
    int ndim = a->ndim - 1 + indices->ndim;
    if (ndim > INGOT_MAX_DIMS)
        return ingot__error(INGOT_ERR_SHAPE, "take: result would have %d dims (max %d)", ndim,
                            INGOT_MAX_DIMS);
    int64_t shape[INGOT_MAX_DIMS]; /* a.shape[:axis] + indices.shape + a.shape[axis+1:] */
    memcpy(shape, a->shape, (size_t)axis * sizeof(int64_t));
    memcpy(shape + axis, indices->shape, (size_t)indices->ndim * sizeof(int64_t));
    memcpy(shape + axis + indices->ndim, a->shape + axis + 1,
           (size_t)(a->ndim - axis - 1) * sizeof(int64_t));
    int64_t kshape[INGOT_MAX_DIMS], kstrides[INGOT_MAX_DIMS]; /* kernel shape */
    ingot_array *idx = NULL, *res = NULL;                     /* indices (i64); shape */
    ingot_array *ov = NULL, *iv = NULL;                       /* res and idx in the kernel shape */
    st = normalize_indices(&idx, indices, a->shape[axis], axis, ingot__device(a), "take");
    if (st == INGOT_OK) {
        take_shape(kshape, a, idx->size, axis);
        ingot__contiguous_strides(kstrides, kshape, a->ndim);
        st = ingot__array_new(&res, a->dtype, shape, ndim, ingot__device(a), "take");
    }
    if (st == INGOT_OK) st = ingot__array_view(&ov, res, kshape, kstrides, a->ndim, res->offset);
    if (st == INGOT_OK) st = take_index_view(&iv, idx, kshape, a->ndim, axis);
    if (st == INGOT_OK)
        st = gather_recorded(res, ov, a, iv, a, indices, axis, take_backward, "take");
    ingot_array_free(iv);
    ingot_array_free(ov);
    ingot_array_free(idx);
    return finish(out, res, st);
}

/* ---- take_along_axis / put_along_axis ---- */

/* Checks that indices has a's ndim; axis normalised in place. */
static ingot_status check_along_axis(int *axis, const ingot_array *a, const ingot_array *indices,
                                     const char *op) {
    ingot_status st = ingot__norm_axis(axis, a->ndim, op);
    if (st != INGOT_OK) return st;
    if (indices->ndim != a->ndim) {
        char si[INGOT__SHAPE_STR_MAX], sa[INGOT__SHAPE_STR_MAX];
        return ingot__error(INGOT_ERR_SHAPE, "%s: indices shape %s needs as many dims as %s", op,
                            ingot__shape_str(si, indices->shape, indices->ndim),
                            ingot__shape_str(sa, a->shape, a->ndim));
    }
    return INGOT_OK;
}

/* The shapes of take_along_axis: out (a and indices broadcast outside axis,
 * indices' dim at axis) and a's view (out's shape with a's dim at axis). */
static ingot_status take_along_shapes(int64_t *out_shape, int64_t *a_shape, const ingot_array *a,
                                      const ingot_array *indices, int axis) {
    for (int d = 0; d < a->ndim; d++) {
        int64_t da = a->shape[d], di = indices->shape[d];
        if (d != axis && da != di && da != 1 && di != 1) {
            char si[INGOT__SHAPE_STR_MAX], sa[INGOT__SHAPE_STR_MAX];
            return ingot__error(
                INGOT_ERR_SHAPE,
                "take_along_axis: indices shape %s does not match %s outside axis %d",
                ingot__shape_str(si, indices->shape, indices->ndim),
                ingot__shape_str(sa, a->shape, a->ndim), axis);
        }
        out_shape[d] = d == axis ? di : (da == 1 ? di : da);
        a_shape[d] = d == axis ? da : out_shape[d];
    }
    return INGOT_OK;
}

static ingot_status take_along_backward(ingot_array **grads, const ingot_array *g,
                                        const ingot__node *node) {
    const ingot_array *a = node->inputs[0], *indices = node->inputs[1];
    int axis = (int)node->i[0];
    if (!ingot_dtype_is_float(a->dtype)) return INGOT_OK;
    int64_t out_shape[INGOT_MAX_DIMS], a_shape[INGOT_MAX_DIMS];
    ingot_array *idx = NULL, *iv = NULL, *ga = NULL; /* indices; out_shape; a_shape */
    ingot_status st = take_along_shapes(out_shape, a_shape, a, indices, axis);
    if (st == INGOT_OK)
        st = normalize_indices(&idx, indices, a->shape[axis], axis, ingot__device(a),
                                   "take_along_axis");
    if (st == INGOT_OK) st = ingot__broadcast_view(&iv, idx, out_shape, a->ndim);
    if (st == INGOT_OK) st = ingot__full_on(&ga, g->dtype, a_shape, a->ndim, 0.0, ingot__device(g),
                                          "take_along_axis");
    const ingot__backend *be = NULL;
    if (st == INGOT_OK) st = ingot__backend_get(&be, &a, 1, "take_along_axis");
    if (st == INGOT_OK) st = be->scatter(ga, iv, g, axis, true);
    if (st == INGOT_OK) {
        st = ingot__grad_for_input(&grads[0], ga, a);
        ga = NULL;
    }
    ingot_array_free(ga);
    ingot_array_free(iv);
    ingot_array_free(idx);
    return st;
}

ingot_status ingot_take_along_axis(ingot_array **out, const ingot_array *a,
                                   const ingot_array *indices, int axis) {
    INGOT__CHECK_NOT_NULL(out, "take_along_axis");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "take_along_axis");
    INGOT__CHECK_NOT_NULL(indices, "take_along_axis");
    int64_t out_shape[INGOT_MAX_DIMS], a_shape[INGOT_MAX_DIMS];
    ingot_status st = check_along_axis(&axis, a, indices, "take_along_axis");
    if (st == INGOT_OK) st = take_along_shapes(out_shape, a_shape, a, indices, axis);
    if (st != INGOT_OK) return st;
    ingot_array *idx = NULL, *iv = NULL, *av = NULL; /* indices; out_shape; a_shape */
    ingot_array *res = NULL;                         /* out_shape */
    st = normalize_indices(&idx, indices, a->shape[axis], axis, ingot__device(a),
                                   "take_along_axis");
    if (st == INGOT_OK) st = ingot__broadcast_view(&iv, idx, out_shape, a->ndim);
    if (st == INGOT_OK) st = ingot__broadcast_view(&av, a, a_shape, a->ndim);
    if (st == INGOT_OK)
        st = ingot__array_new(&res, a->dtype, out_shape, a->ndim, ingot__device(a), "take_along_axis");
    if (st == INGOT_OK)
        st = gather_recorded(res, res, av, iv, a, indices, axis, take_along_backward,
                             "take_along_axis");
    ingot_array_free(av);
    ingot_array_free(iv);
    ingot_array_free(idx);
    return finish(out, res, st);
}

/* The shape written by put_along_axis: a's shape with indices' dim at axis;
 * indices must be 1 or equal to a outside axis and values must broadcast to
 * it. */
static ingot_status put_along_shape(int64_t *shape, const ingot_array *a,
                                    const ingot_array *indices, const ingot_array *values,
                                    int axis) {
    char s1[INGOT__SHAPE_STR_MAX], s2[INGOT__SHAPE_STR_MAX];
    for (int d = 0; d < a->ndim; d++) {
        int64_t di = indices->shape[d];
        if (d != axis && di != a->shape[d] && di != 1)
            return ingot__error(
                INGOT_ERR_SHAPE,
                "put_along_axis: indices shape %s does not match %s outside axis %d",
                ingot__shape_str(s1, indices->shape, indices->ndim),
                ingot__shape_str(s2, a->shape, a->ndim), axis);
        shape[d] = d == axis ? di : a->shape[d];
    }
    bool ok = values->ndim <= a->ndim;
    for (int d = 0; ok && d < values->ndim; d++) {
        int64_t dv = values->shape[d], ds = shape[a->ndim - values->ndim + d];
        ok = dv == ds || dv == 1;
    }
    if (!ok)
        return ingot__error(INGOT_ERR_SHAPE,
                            "put_along_axis: values shape %s does not broadcast to %s",
                            ingot__shape_str(s1, values->shape, values->ndim),
                            ingot__shape_str(s2, shape, a->ndim));
    return INGOT_OK;
}

/* The gradient of put_along_axis for values: g gathered at the written
 * places, zero for writes that a later repeated index overwrote. iv is the
 * index view (shape). */
static ingot_status put_values_grad(ingot_array **grad, const ingot_array *g, const ingot_array *iv,
                                    const ingot_array *values, int axis) {
    int ndim = iv->ndim;
    const int64_t *shape = iv->shape;
    int64_t pos_strides[INGOT_MAX_DIMS];
    for (int d = 0; d < ndim; d++)
        pos_strides[d] = d == axis ? 1 : 0;
    int64_t len = shape[axis];
    ingot_array *pos = NULL, *pv = NULL;    /* [len] = 0..len-1; its view: shape */
    ingot_array *owner = NULL, *win = NULL; /* g's shape: last writer; shape: winner */
    ingot_array *mask = NULL, *gv = NULL;   /* shape: bool, g's dtype */
    ingot_array *zero = NULL, *gw = NULL;   /* scalar; shape */
    const ingot__backend *be = NULL;
    ingot_status st = ingot__backend_get(&be, &g, 1, "put_along_axis");
    if (st == INGOT_OK) st = ingot__array_new(&pos, INGOT_I64, &len, 1, ingot__device(g), "put_along_axis");
    if (st == INGOT_OK) st = be->arange(pos, 0.0, 1.0);
    if (st == INGOT_OK) st = ingot__array_view(&pv, pos, shape, pos_strides, ndim, pos->offset);
    if (st == INGOT_OK) st = ingot__full_on(&owner, INGOT_I64, g->shape, ndim, -1.0, ingot__device(g),
                                          "put_along_axis");
    if (st == INGOT_OK) st = be->scatter(owner, iv, pv, axis, false);
    if (st == INGOT_OK) st = ingot__array_new(&win, INGOT_I64, shape, ndim, ingot__device(g), "put_along_axis");
    if (st == INGOT_OK) st = be->gather(win, owner, iv, axis);
    if (st == INGOT_OK) st = ingot_equal(&mask, win, pv);
    if (st == INGOT_OK) st = ingot__array_new(&gv, g->dtype, shape, ndim, ingot__device(g), "put_along_axis");
    if (st == INGOT_OK) st = be->gather(gv, g, iv, axis);
    if (st == INGOT_OK) st = ingot__full_on(&zero, g->dtype, NULL, 0, 0.0, ingot__device(g), "put_along_axis");
    if (st == INGOT_OK) st = ingot_where(&gw, mask, gv, zero);
    if (st == INGOT_OK) {
        st = ingot__grad_for_input(grad, gw, values);
        gw = NULL;
    }
    ingot_array_free(gw);
    ingot_array_free(zero);
    ingot_array_free(gv);
    ingot_array_free(mask);
    ingot_array_free(win);
    ingot_array_free(owner);
    ingot_array_free(pv);
    ingot_array_free(pos);
    return st;
}

/* The gradient of put_along_axis for a: g with the written places zeroed. */
static ingot_status put_a_grad(ingot_array **grad, const ingot_array *g, const ingot_array *iv,
                               const ingot_array *a, int axis) {
    int64_t zero_strides[INGOT_MAX_DIMS] = {0};
    ingot_array *ga = NULL, *zero = NULL, *zv = NULL; /* a's shape; scalar; iv's shape */
    ingot_status st = ingot__copy_as(&ga, g, g->dtype, false, "put_along_axis");
    if (st == INGOT_OK) st = ingot__full_on(&zero, g->dtype, zero_strides, 0, 0.0, ingot__device(g),
                                          "put_along_axis");
    if (st == INGOT_OK)
        st = ingot__array_view(&zv, zero, iv->shape, zero_strides, iv->ndim, zero->offset);
    const ingot__backend *be = NULL;
    if (st == INGOT_OK) st = ingot__backend_get(&be, &g, 1, "put_along_axis");
    if (st == INGOT_OK) st = be->scatter(ga, iv, zv, axis, false);
    if (st == INGOT_OK) {
        st = ingot__grad_for_input(grad, ga, a);
        ga = NULL;
    }
    ingot_array_free(zv);
    ingot_array_free(zero);
    ingot_array_free(ga);
    return st;
}

static ingot_status put_along_backward(ingot_array **grads, const ingot_array *g,
                                       const ingot__node *node) {
    const ingot_array *a = node->inputs[0], *indices = node->inputs[1], *values = node->inputs[2];
    int axis = (int)node->i[0];
    int64_t shape[INGOT_MAX_DIMS];
    ingot_array *idx = NULL, *iv = NULL; /* indices (i64); its view: shape */
    ingot_status st = put_along_shape(shape, a, indices, values, axis);
    if (st == INGOT_OK)
        st = normalize_indices(&idx, indices, a->shape[axis], axis, ingot__device(a),
                                   "put_along_axis");
    if (st == INGOT_OK) st = ingot__broadcast_view(&iv, idx, shape, a->ndim);
    if (st == INGOT_OK && ingot_dtype_is_float(a->dtype))
        st = put_a_grad(&grads[0], g, iv, a, axis);
    if (st == INGOT_OK && ingot_dtype_is_float(values->dtype))
        st = put_values_grad(&grads[2], g, iv, values, axis);
    ingot_array_free(iv);
    ingot_array_free(idx);
    return st;
}

ingot_status ingot_put_along_axis(ingot_array **out, const ingot_array *a,
                                  const ingot_array *indices, const ingot_array *values, int axis) {
    INGOT__CHECK_NOT_NULL(out, "put_along_axis");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "put_along_axis");
    INGOT__CHECK_NOT_NULL(indices, "put_along_axis");
    INGOT__CHECK_NOT_NULL(values, "put_along_axis");
    int64_t shape[INGOT_MAX_DIMS]; /* the written shape: a's with indices' dim at axis */
    ingot_status st = check_along_axis(&axis, a, indices, "put_along_axis");
    if (st == INGOT_OK) st = put_along_shape(shape, a, indices, values, axis);
    if (st != INGOT_OK) return st;
    ingot_array *idx = NULL, *iv = NULL; /* indices (i64); its view: shape */
    ingot_array *vc = NULL, *vv = NULL;  /* values in a's dtype; its view: shape */
    ingot_array *res = NULL;             /* a's shape */
    st = normalize_indices(&idx, indices, a->shape[axis], axis, ingot__device(a),
                                   "put_along_axis");
    if (st == INGOT_OK) st = ingot__broadcast_view(&iv, idx, shape, a->ndim);
    if (st == INGOT_OK) st = ingot__copy_as(&vc, values, a->dtype, true, "put_along_axis");
    if (st == INGOT_OK) st = ingot__broadcast_view(&vv, vc, shape, a->ndim);
    if (st == INGOT_OK) st = ingot__copy_as(&res, a, a->dtype, false, "put_along_axis");
    const ingot__backend *be = NULL;
    if (st == INGOT_OK) st = ingot__backend_get(&be, &a, 1, "put_along_axis");
    if (st == INGOT_OK) st = be->scatter(res, iv, vv, axis, false);
    if (st == INGOT_OK) {
        const ingot_array *inputs[3] = {a, indices, values};
        ingot__node *node;
        st = ingot__record(&node, res, inputs, 3, put_along_backward, "put_along_axis");
        if (node) node->i[0] = axis;
    }
    ingot_array_free(vv);
    ingot_array_free(vc);
    ingot_array_free(iv);
    ingot_array_free(idx);
    return finish(out, res, st);
}

/* ---- in-place copies (ops_internal.h): not recorded ---- */

/* Checks dst and src of an in-place copy: one dtype, one ndim, the same dims
 * but at axis (-1: at none), where src's may be smaller. */
static ingot_status check_copy(const ingot_array *dst, const ingot_array *src, int axis,
                               const char *op) {
    if (dst->dtype != src->dtype)
        return ingot__error(INGOT_ERR_DTYPE, "%s: src is %s but dst %s", op,
                            ingot_dtype_name(src->dtype), ingot_dtype_name(dst->dtype));
    bool fits = dst->ndim == src->ndim;
    for (int d = 0; fits && d < dst->ndim; d++)
        fits = d == axis ? src->shape[d] <= dst->shape[d] : src->shape[d] == dst->shape[d];
    if (fits) return INGOT_OK;
    char a[INGOT__SHAPE_STR_MAX], b[INGOT__SHAPE_STR_MAX];
    ingot__shape_str(a, src->shape, src->ndim);
    ingot__shape_str(b, dst->shape, dst->ndim);
    if (axis < 0)
        return ingot__error(INGOT_ERR_SHAPE, "%s: src %s and dst %s differ in shape", op, a, b);
    return ingot__error(INGOT_ERR_SHAPE, "%s: src %s does not fit into dst %s along axis %d", op, a,
                        b, axis);
}

ingot_status ingot__copy_into(ingot_array *dst, const ingot_array *src) {
    INGOT__CHECK_NOT_NULL(dst, "copy_into");
    INGOT__CHECK_NOT_NULL(src, "copy_into");
    const ingot__backend *be;
    ingot_status st = check_copy(dst, src, -1, "copy_into");
    if (!st) st = ingot__backend_get(&be, (const ingot_array *const[]){dst, src}, 2, "copy_into");
    return st ? st : be->copy(dst, src);
}

ingot_status ingot__copy_at(ingot_array *dst, const ingot_array *src, int axis,
                            const ingot_array *start) {
    INGOT__CHECK_NOT_NULL(dst, "copy_at");
    INGOT__CHECK_NOT_NULL(src, "copy_at");
    INGOT__CHECK_NOT_NULL(start, "copy_at");
    if (start->dtype != INGOT_I64)
        return ingot__error(INGOT_ERR_DTYPE, "copy_at: start is %s, not i64",
                            ingot_dtype_name(start->dtype));
    if (start->size < 1) return ingot__error(INGOT_ERR_SHAPE, "copy_at: start holds no element");
    const ingot__backend *be;
    ingot_status st = ingot__norm_axis(&axis, dst->ndim, "copy_at");
    if (!st) st = check_copy(dst, src, axis, "copy_at");
    if (!st)
        st = ingot__backend_get(&be, (const ingot_array *const[]){dst, src, start}, 3, "copy_at");
    return st ? st : be->copy_at(dst, src, axis, start);
}
