/* Sorting and selection along one axis: sort, argsort, topk, argpartition.
 *
 * sort and topk record one node whose backward scatters the cotangent back to
 * the source positions (node->saved[0]: the i64 source index of every output
 * element; node->i[0]: the axis). topk sorts the input reversed along the axis
 * with the stable ascending kernel and reads the sorted result from its end,
 * which gives descending order with ties broken by lower index first. For
 * k <= n / 8 it partitions first (argpartition kernel) and sorts only the k
 * selected entries: O(n + k log k) per row; otherwise one full sort
 * (O(n log n)). */
#include "backend/backend.h"
#include "ops/autograd_internal.h"
#include "ingot/ops.h"
#include "ops/ops_internal.h"

/* Entry checks shared by every op here: a non-NULL, axis valid (normalised),
 * and the kernel table for a's device. */
static ingot_status axis_args(const ingot__backend **be, const ingot_array *a, int *axis,
                              const char *op) {
    INGOT__CHECK_NOT_NULL(a, op);
    ingot_status st = ingot__norm_axis(axis, a->ndim, op);
    return st ? st : ingot__backend_get(be, &a, 1, op);
}

/* grad = zeros like x with the cotangent added at saved[0] along the axis. */
static ingot_status scatter_backward(ingot_array **grads, const ingot_array *g,
                                     const ingot__node *node) {
    const ingot_array *x = node->inputs[0];
    if (!ingot_dtype_is_float(x->dtype)) return INGOT_OK;
    if (!node->saved[0])
        return ingot__error(INGOT_ERR_INTERNAL, "%s: source indices were not saved", node->name);
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, &x, 1, node->name);
    if (st) return st;
    ingot_array *gx = NULL, *gc = NULL; /* x's shape; g's shape in x's dtype */
    st = ingot__full_on(&gx, x->dtype, x->shape, x->ndim, 0.0, ingot__device(x), node->name);
    if (!st) st = ingot_astype(&gc, g, x->dtype);
    if (!st) st = be->scatter(gx, node->saved[0], gc, (int)node->i[0], true);
    ingot_array_free(gc);
    if (st) {
        ingot_array_free(gx);
        return st;
    }
    grads[0] = gx;
    return INGOT_OK;
}

/* Records out = name(a) with the scatter backward; takes over idx (the source
 * positions) in every case, and frees *out on failure. */
static ingot_status record_selection(ingot_array **out, const ingot_array *a, ingot_array *idx,
                                     int axis, const char *name) {
    ingot__node *node;
    const ingot_array *inputs[1] = {a};
    ingot_status st = ingot__record(&node, *out, inputs, 1, scatter_backward, name);
    if (st) {
        ingot_array_free(*out);
        *out = NULL;
    }
    if (st || !node) {
        ingot_array_free(idx);
        return st;
    }
    node->saved[0] = idx;
    node->i[0] = axis;
    return INGOT_OK;
}

ingot_status ingot_sort(ingot_array **out, const ingot_array *a, int axis) {
    INGOT__CHECK_NOT_NULL(out, "sort");
    *out = NULL;
    const ingot__backend *be;
    ingot_status st = axis_args(&be, a, &axis, "sort");
    if (st) return st;
    const ingot_array *inputs[1] = {a};
    ingot_array *idx = NULL; /* a's shape, i64: only for the backward */
    st = ingot__array_new(out, a->dtype, a->shape, a->ndim, ingot__device(a), "sort");
    if (!st && ingot__grad_needed(inputs, 1))
        st = ingot__array_new(&idx, INGOT_I64, a->shape, a->ndim, ingot__device(a), "sort");
    if (!st) st = be->sort(*out, idx, a, axis);
    if (st) {
        ingot_array_free(*out);
        ingot_array_free(idx);
        *out = NULL;
        return st;
    }
    return record_selection(out, a, idx, axis, "sort");
}

ingot_status ingot_argsort(ingot_array **out, const ingot_array *a, int axis) {
    INGOT__CHECK_NOT_NULL(out, "argsort");
    *out = NULL;
    const ingot__backend *be;
    ingot_status st = axis_args(&be, a, &axis, "argsort");
    if (st) return st;
    st = ingot__array_new(out, INGOT_I64, a->shape, a->ndim, ingot__device(a), "argsort");
    if (!st) st = be->sort(NULL, *out, a, axis);
    if (st) {
        ingot_array_free(*out);
        *out = NULL;
    }
    return st;
}

/* A view of x reversed along axis, or of its last k entries along axis in
 * reverse order (k = dim: the whole axis reversed). Not recorded. */
static ingot_status reversed_tail(ingot_array **out, const ingot_array *x, int axis, int64_t k) {
    int64_t shape[INGOT_MAX_DIMS], strides[INGOT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    memcpy(strides, x->strides, sizeof strides);
    int64_t n = x->shape[axis];
    shape[axis] = k;
    strides[axis] = -x->strides[axis];
    int64_t offset = x->offset + (n > 0 ? (n - 1) * x->strides[axis] : 0);
    return ingot__array_view(out, x, shape, strides, x->ndim, offset);
}

/* A view of the last k entries of x along axis (forward order). */
static ingot_status tail(ingot_array **out, const ingot_array *x, int axis, int64_t k) {
    int64_t shape[INGOT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = k;
    int64_t offset = x->offset + (x->shape[axis] - k) * x->strides[axis];
    return ingot__array_view(out, x, shape, x->strides, x->ndim, offset);
}

/* The last k entries, values (vk) and positions in r (pk), of the stable
 * ascending sort of r along axis, by sorting r whole. */
static ingot_status top_by_sort(ingot_array **vk, ingot_array **pk, const ingot_array *r, int k,
                                int axis, const ingot__backend *be) {
    ingot_array *vs = NULL, *ps = NULL; /* r's shape */
    ingot_status st = ingot__array_new(&vs, r->dtype, r->shape, r->ndim, ingot__device(r), "topk");
    if (!st) st = ingot__array_new(&ps, INGOT_I64, r->shape, r->ndim, ingot__device(r), "topk");
    if (!st) st = be->sort(vs, ps, r, axis);
    if (!st) st = tail(vk, vs, axis, k);
    if (!st) st = tail(pk, ps, axis, k);
    ingot_array_free(vs);
    ingot_array_free(ps);
    return st;
}

/* As top_by_sort in O(n + k log k) per row: partition r around n - k, sort
 * the k positions past it (so equal values keep their order in r), gather
 * their values and sort those stably. */
static ingot_status top_by_partition(ingot_array **vk, ingot_array **pk, const ingot_array *r,
                                     int k, int axis, const ingot__backend *be) {
    int64_t n = r->shape[axis], kshape[INGOT_MAX_DIMS];
    memcpy(kshape, r->shape, sizeof kshape);
    kshape[axis] = k;
    /* part: r's shape; the rest [.., k, ..] */
    ingot_array *part = NULL, *pt = NULL, *ps = NULL, *vg = NULL, *order = NULL;
    ingot_status st = ingot__array_new(&part, INGOT_I64, r->shape, r->ndim, ingot__device(r), "topk");
    if (!st) st = be->argpartition(part, r, (int)(n - k), axis);
    if (!st) st = tail(&pt, part, axis, k);
    if (!st) st = ingot__array_new(&ps, INGOT_I64, kshape, r->ndim, ingot__device(r), "topk");
    if (!st) st = be->sort(ps, NULL, pt, axis);
    if (!st) st = ingot__array_new(&vg, r->dtype, kshape, r->ndim, ingot__device(r), "topk");
    if (!st) st = be->gather(vg, r, ps, axis);
    if (!st) st = ingot__array_new(vk, r->dtype, kshape, r->ndim, ingot__device(r), "topk");
    if (!st) st = ingot__array_new(&order, INGOT_I64, kshape, r->ndim, ingot__device(r), "topk");
    if (!st) st = be->sort(*vk, order, vg, axis);
    if (!st) st = ingot__array_new(pk, INGOT_I64, kshape, r->ndim, ingot__device(r), "topk");
    if (!st) st = be->gather(*pk, ps, order, axis);
    ingot_array_free(part);
    ingot_array_free(pt);
    ingot_array_free(ps);
    ingot_array_free(vg);
    ingot_array_free(order);
    return st;
}

/* The values and source indices (both [.., k, ..]) of the k largest entries of
 * a along axis, descending, ties by lower index first. Not recorded. */
static ingot_status topk_compute(ingot_array **values, ingot_array **indices, const ingot_array *a,
                                 int k, int axis, const ingot__backend *be) {
    int64_t n = a->shape[axis];
    /* r: a's shape; the rest [.., k, ..] */
    ingot_array *r = NULL, *vk = NULL, *pk = NULL, *vt = NULL, *pt = NULL, *pc = NULL, *last = NULL;
    ingot_status st = reversed_tail(&r, a, axis, n);
    if (!st && k > 0 && (int64_t)k * 8 <= n) st = top_by_partition(&vk, &pk, r, k, axis, be);
    else if (!st) st = top_by_sort(&vk, &pk, r, k, axis, be);
    if (!st) st = reversed_tail(&vt, vk, axis, k);
    if (!st) st = reversed_tail(&pt, pk, axis, k);
    if (!st) st = ingot__copy_as(values, vt, vt->dtype, false, "topk");
    if (!st) st = ingot__copy_as(&pc, pt, pt->dtype, false, "topk");
    /* positions in the reversed row count from the end: source = n - 1 - p */
    if (!st) st = ingot__full_on(&last, INGOT_I64, NULL, 0, (double)(n - 1), ingot__device(pc), "topk");
    if (!st) st = ingot_sub(indices, last, pc);
    ingot_array_free(r);
    ingot_array_free(vk);
    ingot_array_free(pk);
    ingot_array_free(vt);
    ingot_array_free(pt);
    ingot_array_free(pc);
    ingot_array_free(last);
    if (st) {
        ingot_array_free(*values);
        *values = NULL;
    }
    return st;
}

ingot_status ingot_topk(ingot_array **values, ingot_array **indices, const ingot_array *a, int k,
                        int axis) {
    if (values) *values = NULL;
    if (indices) *indices = NULL;
    if (!values && !indices)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "topk: values and indices are both NULL");
    const ingot__backend *be;
    ingot_status st = axis_args(&be, a, &axis, "topk");
    if (st) return st;
    if (k < 0 || k > a->shape[axis])
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "topk: k %d outside [0, %lld]", k,
                            (long long)a->shape[axis]);
    ingot_array *v = NULL, *idx = NULL; /* [.., k, ..] */
    st = topk_compute(&v, &idx, a, k, axis, be);
    if (st) return st;
    if (indices) *indices = ingot_array_retain(idx);
    if (!values) {
        ingot_array_free(v);
        ingot_array_free(idx);
        return INGOT_OK;
    }
    *values = v;
    st = record_selection(values, a, idx, axis, "topk");
    if (st && indices) {
        ingot_array_free(*indices);
        *indices = NULL;
    }
    return st;
}

ingot_status ingot_argpartition(ingot_array **out, const ingot_array *a, int kth, int axis) {
    INGOT__CHECK_NOT_NULL(out, "argpartition");
    *out = NULL;
    const ingot__backend *be;
    ingot_status st = axis_args(&be, a, &axis, "argpartition");
    if (st) return st;
    if (kth < 0 || kth >= a->shape[axis])
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "argpartition: kth %d outside [0, %lld)",
                            kth, (long long)a->shape[axis]);
    st = ingot__array_new(out, INGOT_I64, a->shape, a->ndim, ingot__device(a), "argpartition");
    if (!st) st = be->argpartition(*out, a, kth, axis);
    if (st) {
        ingot_array_free(*out);
        *out = NULL;
    }
    return st;
}
