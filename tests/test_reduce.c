/* Tests of the reductions (sum, mean, max, min, logsumexp, var, argmax,
 * argmin), softmax, log_softmax and cumsum. Expected values come from plain
 * double loops over tu_values() host copies (ref_* below). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"

/* ---- naive references ---- */

typedef enum ref_op { R_SUM, R_MEAN, R_MAX, R_MIN, R_LSE, R_VAR, R_ARGMAX, R_ARGMIN } ref_op;

/* One output element from its n inputs v (row-major order of the reduced dims). */
static double ref_scalar(ref_op op, const double *v, int64_t n, int ddof) {
    double acc = 0, m = 0;
    int64_t arg = 0;
    switch (op) {
    case R_SUM:
        for (int64_t i = 0; i < n; i++) acc += v[i];
        return acc;
    case R_MEAN:
        for (int64_t i = 0; i < n; i++) acc += v[i];
        return acc / (double)n;
    case R_MAX:
    case R_MIN:
        acc = v[0];
        for (int64_t i = 0; i < n; i++) {
            if (isnan(v[i])) return NAN;
            if (op == R_MAX ? v[i] > acc : v[i] < acc) acc = v[i];
        }
        return acc;
    case R_LSE:
        if (n == 0) return -INFINITY;
        m = -INFINITY;
        for (int64_t i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
        if (isinf(m)) return m;
        for (int64_t i = 0; i < n; i++) acc += exp(v[i] - m);
        return m + log(acc);
    case R_VAR:
        if (n - ddof <= 0) return NAN;
        for (int64_t i = 0; i < n; i++) m += v[i] / (double)n;
        for (int64_t i = 0; i < n; i++) acc += (v[i] - m) * (v[i] - m);
        return acc / (double)(n - ddof);
    case R_ARGMAX: /* first maximum, NaN the largest */
        for (int64_t i = 0; i < n; i++) {
            if (isnan(v[i])) return (double)i;
            if (v[i] > v[arg]) arg = i;
        }
        return (double)arg;
    case R_ARGMIN: /* first minimum, NaN the largest */
        arg = -1;
        for (int64_t i = 0; i < n; i++)
            if (!isnan(v[i]) && (arg < 0 || v[i] < v[arg])) arg = i;
        return arg < 0 ? 0 : (double)arg;
    }
    return NAN;
}

/* Reduces x (row-major, shape) over the dims flagged in mask into out (row-major
 * over the kept dims); returns the number of outputs. */
static int64_t ref_reduce(double *out, const double *x, const int64_t *shape, int ndim,
                          const bool *mask, ref_op op, int ddof) {
    int64_t nout = 1, nred = 1, size = 1;
    for (int d = 0; d < ndim; d++) {
        size *= shape[d];
        if (mask[d]) nred *= shape[d];
        else nout *= shape[d];
    }
    double *bucket = malloc((size_t)(nout * nred + 1) * sizeof *bucket);
    int64_t *fill = calloc((size_t)nout + 1, sizeof *fill);
    for (int64_t i = 0; i < size; i++) {
        int64_t rem = i, o = 0, ostride = 1;
        for (int d = ndim - 1; d >= 0; d--) {
            int64_t c = rem % shape[d];
            rem /= shape[d];
            if (!mask[d]) {
                o += c * ostride;
                ostride *= shape[d];
            }
        }
        bucket[o * nred + fill[o]++] = x[i];
    }
    for (int64_t o = 0; o < nout; o++) out[o] = ref_scalar(op, bucket + o * nred, nred, ddof);
    free(bucket);
    free(fill);
    return nout;
}

/* ---- the ops under test behind one signature ---- */

typedef struct red_case {
    ref_op op;
    int ddof;
} red_case;

static ingot_status call_reduce(ingot_array **out, const ingot_array *a, const int *axes,
                                int naxes, bool keepdims, const red_case *c) {
    switch (c->op) {
    case R_SUM: return ingot_sum(out, a, axes, naxes, keepdims);
    case R_MEAN: return ingot_mean(out, a, axes, naxes, keepdims);
    case R_MAX: return ingot_max(out, a, axes, naxes, keepdims);
    case R_MIN: return ingot_min(out, a, axes, naxes, keepdims);
    case R_LSE: return ingot_logsumexp(out, a, axes, naxes, keepdims);
    case R_VAR: return ingot_var(out, a, axes, naxes, keepdims, c->ddof);
    case R_ARGMAX: return ingot_argmax(out, a, axes[0], keepdims);
    case R_ARGMIN: return ingot_argmin(out, a, axes[0], keepdims);
    }
    return INGOT_ERR_INTERNAL;
}

static ingot_dtype expected_dtype(ref_op op, ingot_dtype in) {
    bool fl = ingot_dtype_is_float(in);
    switch (op) {
    case R_SUM: return fl ? in : INGOT_I64;
    case R_MAX:
    case R_MIN: return in;
    case R_ARGMAX:
    case R_ARGMIN: return INGOT_I64;
    default: return fl ? in : INGOT_F32;
    }
}

/* Tolerances for results rounded to dtype (inputs are exact in dtype). */
static double tol_for(ingot_dtype dt) {
    switch (dt) {
    case INGOT_F16: return 2e-3;
    case INGOT_BF16: return 1e-2;
    case INGOT_F32: return 1e-5;
    default: return 0;
    }
}

/* Checks c's op on a (any layout) over axes against the reference. */
static void check_reduce_on(const ingot_array *a, const int *axes, int naxes, bool keepdims,
                            red_case c, const char *what) {
    int ndim = ingot_array_ndim(a);
    const int64_t *shape = ingot_array_shape(a);
    bool mask[INGOT_MAX_DIMS] = {false};
    for (int d = 0; d < ndim; d++) mask[d] = axes == NULL;
    for (int i = 0; axes && i < naxes; i++) mask[(axes[i] + ndim) % ndim] = true;
    int64_t eshape[INGOT_MAX_DIMS];
    int endim = 0;
    for (int d = 0; d < ndim; d++) {
        if (!mask[d]) eshape[endim++] = shape[d];
        else if (keepdims) eshape[endim++] = 1;
    }
    double *x = tu_values(a);
    double *want = malloc((size_t)(ingot_array_size(a) + 1) * sizeof *want);
    int64_t n = ref_reduce(want, x, shape, ndim, mask, c.op, c.ddof);
    ingot_array *out;
    TU_OK(call_reduce(&out, a, axes, naxes, keepdims, &c));
    ingot_dtype odt = expected_dtype(c.op, ingot_array_dtype(a));
    tu_assert_shape(out, odt, eshape, endim);
    double tol = tol_for(odt);
    tu_assert_close(out, want, n, tol, tol, what);
    ingot_array_free(out);
    free(x);
    free(want);
}

/* As check_reduce_on, for random data of dtype and shape, contiguous and not. */
static void check_reduce(ingot_dtype dt, const int64_t *shape, int ndim, const int *axes,
                         int naxes, bool keepdims, red_case c, const char *what) {
    bool unsig = dt == INGOT_BOOL || dt == INGOT_U8 || dt == INGOT_U32;
    double lo = ingot_dtype_is_float(dt) ? -3 : unsig ? 0 : -50, hi = dt == INGOT_BOOL ? 2 : 50;
    ingot_array *a = tu_random(dt, shape, ndim, 7 + (uint64_t)c.op, lo, hi);
    check_reduce_on(a, axes, naxes, keepdims, c, what);
    ingot_array *nc = tu_noncontiguous(a);
    check_reduce_on(nc, axes, naxes, keepdims, c, what);
    ingot_array_free(nc);
    ingot_array_free(a);
}

/* Every op, dtypes and axis choices on a [3, 4, 5] array. */
static void check_op_all_axes(red_case c, const ingot_dtype *dtypes, int ndt) {
    static const int64_t shape[3] = {3, 4, 5};
    static const int ax1[1] = {1}, axneg[1] = {-1}, ax02[2] = {0, 2}, ax20[2] = {-1, 0};
    for (int t = 0; t < ndt; t++) {
        for (int kd = 0; kd < 2; kd++) {
            check_reduce(dtypes[t], shape, 3, ax1, 1, kd, c, "axis 1");
            check_reduce(dtypes[t], shape, 3, axneg, 1, kd, c, "axis -1");
            if (c.op == R_ARGMAX || c.op == R_ARGMIN) continue;
            check_reduce(dtypes[t], shape, 3, ax02, 2, kd, c, "axes 0,2");
            check_reduce(dtypes[t], shape, 3, ax20, 2, kd, c, "axes -1,0");
            check_reduce(dtypes[t], shape, 3, NULL, 0, kd, c, "all axes");
            check_reduce(dtypes[t], shape, 3, ax1, 0, kd, c, "no axes");
        }
    }
}

static const ingot_dtype FLOATS[3] = {INGOT_F32, INGOT_F16, INGOT_BF16};
#define NALL 9
static const ingot_dtype ALL[NALL] = {INGOT_F32, INGOT_F16, INGOT_BF16, INGOT_I32, INGOT_U8,
                                      INGOT_I64, INGOT_BOOL, INGOT_I8,  INGOT_U32};

static void test_sum(void **state) {
    (void)state;
    check_op_all_axes((red_case){R_SUM, 0}, ALL, NALL);
}

static void test_mean(void **state) {
    (void)state;
    check_op_all_axes((red_case){R_MEAN, 0}, ALL, NALL);
}

static void test_max_min(void **state) {
    (void)state;
    check_op_all_axes((red_case){R_MAX, 0}, ALL, NALL);
    check_op_all_axes((red_case){R_MIN, 0}, ALL, NALL);
}

static void test_logsumexp(void **state) {
    (void)state;
    static const ingot_dtype dts[4] = {INGOT_F32, INGOT_F16, INGOT_BF16, INGOT_I32};
    check_op_all_axes((red_case){R_LSE, 0}, dts, 4);
    /* large magnitudes stay finite: logsumexp(1000, 1000) = 1000 + log 2 */
    const double big[4] = {1000, 1000, -1000, -1000};
    const int64_t shape[2] = {2, 2};
    ingot_array *a = tu_from_f64(big, INGOT_F32, shape, 2), *out;
    int ax = 1;
    TU_OK(ingot_logsumexp(&out, a, &ax, 1, false));
    const double want[2] = {1000 + log(2.0), -1000 + log(2.0)};
    tu_assert_close(out, want, 2, 1e-6, 0, "large logits");
    ingot_array_free(out);
    ingot_array_free(a);
}

static void test_var(void **state) {
    (void)state;
    static const ingot_dtype dts[4] = {INGOT_F32, INGOT_F16, INGOT_BF16, INGOT_I32};
    check_op_all_axes((red_case){R_VAR, 0}, dts, 4);
    check_op_all_axes((red_case){R_VAR, 1}, dts, 1);
    /* N - ddof <= 0 gives NaN */
    const int64_t shape[2] = {2, 1};
    check_reduce(INGOT_F32, shape, 2, (const int[]){1}, 1, false, (red_case){R_VAR, 1}, "N=ddof");
    check_reduce(INGOT_F32, shape, 2, (const int[]){1}, 1, false, (red_case){R_VAR, 3}, "N<ddof");
}

static void test_argmax_argmin(void **state) {
    (void)state;
    check_op_all_axes((red_case){R_ARGMAX, 0}, ALL, NALL);
    check_op_all_axes((red_case){R_ARGMIN, 0}, ALL, NALL);
    /* ties pick the first; NaN counts as the maximum */
    const double v[8] = {1, 3, 3, 0, 2, NAN, 5, NAN};
    const int64_t shape[2] = {2, 4};
    ingot_array *a = tu_from_f64(v, INGOT_F32, shape, 2), *out;
    TU_OK(ingot_argmax(&out, a, 1, false));
    tu_assert_close(out, (const double[]){1, 1}, 2, 0, 0, "argmax ties/NaN");
    ingot_array_free(out);
    TU_OK(ingot_argmin(&out, a, -1, true));
    tu_assert_shape(out, INGOT_I64, (const int64_t[]){2, 1}, 2);
    tu_assert_close(out, (const double[]){3, 0}, 2, 0, 0, "argmin ties/NaN");
    ingot_array_free(out);
    ingot_array_free(a);
}

static void check_softmax_on(const ingot_array *a, int axis, bool log_, double tol,
                             const char *what);
static void check_cumsum_on(const ingot_array *a, int axis, bool reverse, bool exclusive,
                            const char *what);

/* NaN propagates through max/min and sum; arg ops on transposed views. */
static void test_nan_and_views(void **state) {
    (void)state;
    const double v[6] = {1, NAN, 2, 4, 5, -6};
    const int64_t shape[2] = {2, 3};
    ingot_array *a = tu_from_f64(v, INGOT_F32, shape, 2), *t, *out;
    int ax = 1;
    TU_OK(ingot_max(&out, a, &ax, 1, false));
    tu_assert_close(out, (const double[]){NAN, 5}, 2, 0, 0, "max NaN");
    ingot_array_free(out);
    TU_OK(ingot_min(&out, a, NULL, 0, false));
    tu_assert_close(out, (const double[]){NAN}, 1, 0, 0, "min NaN");
    ingot_array_free(out);
    TU_OK(ingot_transpose(&t, a, NULL, 0));
    for (int op = R_SUM; op <= R_ARGMIN; op++) {
        int axes[1] = {0};
        check_reduce_on(t, axes, 1, false, (red_case){(ref_op)op, 0}, "transposed");
    }
    ingot_array_free(t);
    ingot_array_free(a);
    /* negative strides: [::-1, ::-2] of a [4, 7] array */
    const int64_t bshape[2] = {4, 7};
    ingot_array *b = tu_random(INGOT_F32, bshape, 2, 9, -2, 2), *r;
    TU_OK(ingot_slice(&r, b, (const int64_t[]){-1, -1}, (const int64_t[]){-5, -8},
                      (const int64_t[]){-1, -2}));
    for (int op = R_SUM; op <= R_ARGMIN; op++) {
        for (int axis = 0; axis < 2; axis++)
            check_reduce_on(r, &axis, 1, true, (red_case){(ref_op)op, 0}, "reversed view");
    }
    check_softmax_on(r, 1, false, 1e-5, "softmax reversed view");
    check_cumsum_on(r, 0, true, true, "cumsum reversed view");
    ingot_array_free(r);
    ingot_array_free(b);
}

/* Size-0 and size-1 dims. */
static void test_empty_and_unit(void **state) {
    (void)state;
    const int64_t shape[3] = {2, 0, 3};
    ingot_array *a = tu_random(INGOT_F32, shape, 3, 1, -1, 1), *out;
    int ax1 = 1, ax0 = 0;
    TU_OK(ingot_sum(&out, a, &ax1, 1, false));
    tu_assert_shape(out, INGOT_F32, (const int64_t[]){2, 3}, 2);
    tu_assert_close(out, (const double[]){0, 0, 0, 0, 0, 0}, 6, 0, 0, "empty sum");
    ingot_array_free(out);
    TU_OK(ingot_mean(&out, a, &ax1, 1, true));
    tu_assert_shape(out, INGOT_F32, (const int64_t[]){2, 1, 3}, 3);
    tu_assert_close(out, (const double[]){NAN, NAN, NAN, NAN, NAN, NAN}, 6, 0, 0, "empty mean");
    ingot_array_free(out);
    TU_OK(ingot_logsumexp(&out, a, &ax1, 1, false));
    const double ninf = -INFINITY;
    tu_assert_close(out, (const double[]){ninf, ninf, ninf, ninf, ninf, ninf}, 6, 0, 0,
                    "empty logsumexp");
    ingot_array_free(out);
    TU_FAILS(ingot_max(&out, a, &ax1, 1, false), INGOT_ERR_SHAPE, "zero elements");
    assert_null(out);
    TU_FAILS(ingot_min(&out, a, NULL, 0, false), INGOT_ERR_SHAPE, "zero elements");
    TU_FAILS(ingot_argmax(&out, a, 1, false), INGOT_ERR_SHAPE, "empty");
    /* reducing a non-empty axis of an empty array gives an empty result */
    TU_OK(ingot_max(&out, a, &ax0, 1, false));
    tu_assert_shape(out, INGOT_F32, (const int64_t[]){0, 3}, 2);
    ingot_array_free(out);
    TU_OK(ingot_sum(&out, a, NULL, 0, false));
    tu_assert_close(out, (const double[]){0}, 1, 0, 0, "empty sum all");
    ingot_array_free(out);
    ingot_array_free(a);
    /* size-1 dims and 0-d */
    const int64_t ushape[3] = {1, 4, 1};
    const int ax02[2] = {0, 2};
    check_reduce(INGOT_F32, ushape, 3, ax02, 2, false, (red_case){R_SUM, 0}, "unit dims");
    check_reduce(INGOT_F32, ushape, 3, ax02, 2, true, (red_case){R_MAX, 0}, "unit dims");
    check_reduce(INGOT_F32, ushape, 3, NULL, 0, true, (red_case){R_VAR, 0}, "unit dims");
    ingot_array *s;
    TU_OK(ingot_scalar(&s, INGOT_F32, 2.5));
    TU_OK(ingot_sum(&out, s, NULL, 0, false));
    tu_assert_shape(out, INGOT_F32, NULL, 0);
    tu_assert_close(out, (const double[]){2.5}, 1, 0, 0, "0-d sum");
    ingot_array_free(out);
    ingot_array_free(s);
}

static void test_errors(void **state) {
    (void)state;
    const int64_t shape[2] = {2, 3};
    ingot_array *a = tu_random(INGOT_F32, shape, 2, 3, -1, 1), *out;
    const int dup[2] = {1, -1}, far[1] = {2}, neg[1] = {-3};
    TU_FAILS(ingot_sum(&out, a, dup, 2, false), INGOT_ERR_INVALID_ARGUMENT, "twice");
    assert_null(out);
    TU_FAILS(ingot_mean(&out, a, far, 1, false), INGOT_ERR_INVALID_ARGUMENT, "mean");
    TU_FAILS(ingot_max(&out, a, neg, 1, false), INGOT_ERR_INVALID_ARGUMENT, "max");
    TU_FAILS(ingot_var(&out, a, dup, 2, false, 0), INGOT_ERR_INVALID_ARGUMENT, "var");
    TU_FAILS(ingot_logsumexp(&out, NULL, NULL, 0, false), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_FAILS(ingot_sum(NULL, a, NULL, 0, false), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_FAILS(ingot_argmax(&out, a, 2, false), INGOT_ERR_INVALID_ARGUMENT, "argmax");
    TU_FAILS(ingot_softmax(&out, a, -3), INGOT_ERR_INVALID_ARGUMENT, "softmax");
    TU_FAILS(ingot_cumsum(&out, a, 5, false, false), INGOT_ERR_INVALID_ARGUMENT, "cumsum");
    TU_FAILS(ingot_log_softmax(&out, NULL, 0), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    ingot_array_free(a);
}

/* Op k of the thread determinism test along axis. */
static ingot_status threaded_op(ingot_array **out, const ingot_array *a, int k, int axis) {
    switch (k) {
    case 0: return ingot_sum(out, a, &axis, 1, false);
    case 1: return ingot_logsumexp(out, a, &axis, 1, true);
    case 2: return ingot_argmax(out, a, axis, false);
    case 3: return ingot_softmax(out, a, axis);
    default: return ingot_cumsum(out, a, axis, true, false);
    }
}

/* The same bits for 1 and 4 threads on arrays big enough to split. */
static void test_thread_determinism(void **state) {
    (void)state;
    const int64_t shape[2] = {64, 4099};
    ingot_array *a = tu_random(INGOT_F32, shape, 2, 11, -1, 1), *r1, *r4;
    int prev = ingot_get_num_threads();
    for (int k = 0; k < 5; k++) {
        for (int ax = 0; ax < 2; ax++) {
            ingot_set_num_threads(1);
            TU_OK(threaded_op(&r1, a, k, ax));
            ingot_set_num_threads(4);
            TU_OK(threaded_op(&r4, a, k, ax));
            double *v1 = tu_values(r1), *v4 = tu_values(r4);
            assert_memory_equal(v1, v4, (size_t)ingot_array_size(r1) * sizeof *v1);
            free(v1);
            free(v4);
            ingot_array_free(r1);
            ingot_array_free(r4);
        }
    }
    ingot_set_num_threads(prev);
    ingot_array_free(a);
}

/* ---- softmax ---- */

/* Reference softmax / log_softmax of x (row-major, shape) along axis. */
static void ref_softmax(double *out, const double *x, const int64_t *shape, int ndim, int axis,
                        bool log_) {
    int64_t inner = 1, outer = 1, n = shape[axis];
    for (int d = axis + 1; d < ndim; d++) inner *= shape[d];
    for (int d = 0; d < axis; d++) outer *= shape[d];
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const double *p = x + o * n * inner + i;
            double *q = out + o * n * inner + i;
            double m = -INFINITY, s = 0;
            for (int64_t j = 0; j < n; j++) m = p[j * inner] > m ? p[j * inner] : m;
            for (int64_t j = 0; j < n; j++) s += exp(p[j * inner] - m);
            for (int64_t j = 0; j < n; j++)
                q[j * inner] = log_ ? p[j * inner] - m - log(s) : exp(p[j * inner] - m) / s;
        }
    }
}

static void check_softmax_on(const ingot_array *a, int axis, bool log_, double tol,
                             const char *what) {
    int ndim = ingot_array_ndim(a);
    int64_t n = ingot_array_size(a);
    double *x = tu_values(a), *want = malloc((size_t)(n + 1) * sizeof *want);
    ref_softmax(want, x, ingot_array_shape(a), ndim, (axis + ndim) % ndim, log_);
    ingot_array *out;
    TU_OK(log_ ? ingot_log_softmax(&out, a, axis) : ingot_softmax(&out, a, axis));
    ingot_dtype dt = ingot_array_dtype(a);
    tu_assert_shape(out, ingot_dtype_is_float(dt) ? dt : INGOT_F32, ingot_array_shape(a), ndim);
    tu_assert_close(out, want, n, tol, tol, what);
    ingot_array_free(out);
    free(x);
    free(want);
}

static void test_softmax(void **state) {
    (void)state;
    const int64_t shape[3] = {2, 5, 7};
    for (int t = 0; t < 4; t++) {
        ingot_dtype dt = t < 3 ? FLOATS[t] : INGOT_I32;
        ingot_array *a = tu_random(dt, shape, 3, 5, -4, 4);
        ingot_array *nc = tu_noncontiguous(a);
        double tol = dt == INGOT_I32 ? 1e-6 : tol_for(dt) * 2;
        for (int lg = 0; lg < 2; lg++) {
            check_softmax_on(a, -1, lg, tol, "softmax last axis");
            check_softmax_on(a, 1, lg, tol, "softmax middle axis");
            check_softmax_on(nc, 0, lg, tol, "softmax noncontiguous");
            check_softmax_on(nc, 2, lg, tol, "softmax noncontiguous");
        }
        ingot_array_free(nc);
        ingot_array_free(a);
    }
    /* rows sum to 1; huge logits stay finite */
    const double big[6] = {1000, 999, -1000, 0, 1000, 1000};
    const int64_t bshape[2] = {2, 3};
    ingot_array *b = tu_from_f64(big, INGOT_F32, bshape, 2), *out;
    TU_OK(ingot_softmax(&out, b, 1));
    double *v = tu_values(out);
    for (int r = 0; r < 2; r++) {
        double s = 0;
        for (int j = 0; j < 3; j++) {
            assert_true(isfinite(v[r * 3 + j]));
            s += v[r * 3 + j];
        }
        assert_true(fabs(s - 1) < 1e-6);
    }
    free(v);
    ingot_array_free(out);
    TU_OK(ingot_log_softmax(&out, b, 1));
    const double e = 1 / (1 + exp(-1.0) + exp(-2000.0));
    tu_assert_close(out, (const double[]){log(e), log(e) - 1, -2000 + log(e), -1000 - log(2.0),
                                          -log(2.0), -log(2.0)},
                    6, 1e-6, 1e-6, "log_softmax large logits");
    ingot_array_free(out);
    ingot_array_free(b);
    /* masked (-inf) logits get probability 0 */
    const double masked[3] = {0, -INFINITY, 0};
    const int64_t mshape[1] = {3};
    ingot_array *mk = tu_from_f64(masked, INGOT_F32, mshape, 1);
    TU_OK(ingot_softmax(&out, mk, 0));
    tu_assert_close(out, (const double[]){0.5, 0, 0.5}, 3, 1e-7, 0, "softmax masked");
    ingot_array_free(out);
    TU_OK(ingot_log_softmax(&out, mk, 0));
    tu_assert_close(out, (const double[]){-log(2.0), -INFINITY, -log(2.0)}, 3, 1e-7, 0,
                    "log_softmax masked");
    ingot_array_free(out);
    TU_OK(ingot_logsumexp(&out, mk, NULL, 0, false));
    tu_assert_close(out, (const double[]){log(2.0)}, 1, 1e-7, 0, "logsumexp masked");
    ingot_array_free(out);
    ingot_array_free(mk);
    /* size-1 and size-0 axes */
    const int64_t eshape[2] = {3, 0};
    ingot_array *em = tu_random(INGOT_F32, eshape, 2, 1, 0, 1);
    TU_OK(ingot_softmax(&out, em, 1));
    tu_assert_shape(out, INGOT_F32, eshape, 2);
    ingot_array_free(out);
    check_softmax_on(em, 0, false, 1e-6, "softmax over size-3 of empty");
    ingot_array_free(em);
    const int64_t ushape[2] = {3, 1};
    ingot_array *u = tu_random(INGOT_F32, ushape, 2, 1, 0, 1);
    check_softmax_on(u, 1, false, 1e-6, "softmax size-1");
    check_softmax_on(u, 1, true, 1e-6, "log_softmax size-1");
    ingot_array_free(u);
}

/* ---- cumsum ---- */

static void ref_cumsum(double *out, const double *x, const int64_t *shape, int ndim, int axis,
                       bool reverse, bool exclusive) {
    int64_t inner = 1, outer = 1, n = shape[axis];
    for (int d = axis + 1; d < ndim; d++) inner *= shape[d];
    for (int d = 0; d < axis; d++) outer *= shape[d];
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            double acc = 0;
            for (int64_t t = 0; t < n; t++) {
                int64_t j = reverse ? n - 1 - t : t;
                int64_t k = o * n * inner + j * inner + i;
                double next = acc + x[k];
                out[k] = exclusive ? acc : next;
                acc = next;
            }
        }
    }
}

static void check_cumsum_on(const ingot_array *a, int axis, bool reverse, bool exclusive,
                            const char *what) {
    int ndim = ingot_array_ndim(a);
    int64_t n = ingot_array_size(a);
    double *x = tu_values(a), *want = malloc((size_t)(n + 1) * sizeof *want);
    ref_cumsum(want, x, ingot_array_shape(a), ndim, (axis + ndim) % ndim, reverse, exclusive);
    ingot_array *out;
    TU_OK(ingot_cumsum(&out, a, axis, reverse, exclusive));
    ingot_dtype dt = ingot_array_dtype(a);
    ingot_dtype odt = ingot_dtype_is_float(dt) ? dt : INGOT_I64;
    tu_assert_shape(out, odt, ingot_array_shape(a), ndim);
    double tol = tol_for(odt) * 2;
    tu_assert_close(out, want, n, tol, tol, what);
    ingot_array_free(out);
    free(x);
    free(want);
}

static void test_cumsum(void **state) {
    (void)state;
    const int64_t shape[3] = {3, 6, 4};
    for (int t = 0; t < NALL; t++) {
        ingot_dtype dt = ALL[t];
        double lo = ingot_dtype_is_float(dt) ? -2 : 0, hi = dt == INGOT_BOOL ? 2 : 20;
        ingot_array *a = tu_random(dt, shape, 3, 21, lo, hi);
        ingot_array *nc = tu_noncontiguous(a);
        for (int v = 0; v < 4; v++) {
            check_cumsum_on(a, 1, v & 1, v & 2, "cumsum axis 1");
            check_cumsum_on(a, -1, v & 1, v & 2, "cumsum axis -1");
            check_cumsum_on(nc, 0, v & 1, v & 2, "cumsum noncontiguous");
        }
        ingot_array_free(nc);
        ingot_array_free(a);
    }
    const int64_t eshape[2] = {0, 3};
    ingot_array *e = tu_random(INGOT_F32, eshape, 2, 1, 0, 1);
    check_cumsum_on(e, 0, true, false, "cumsum empty");
    check_cumsum_on(e, 1, false, true, "cumsum empty");
    ingot_array_free(e);
}

/* ---- gradients ---- */

typedef struct grad_case {
    int kind; /* 0 reduction (rc), 1 softmax, 2 log_softmax, 3 cumsum */
    red_case rc;
    const int *axes;
    int naxes;
    bool keepdims;
    int axis;
    bool reverse, exclusive;
} grad_case;

static ingot_status grad_fn(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                            size_t n_inputs, void *user) {
    (void)n_outputs;
    (void)n_inputs;
    const grad_case *g = user;
    switch (g->kind) {
    case 0: return call_reduce(&outputs[0], inputs[0], g->axes, g->naxes, g->keepdims, &g->rc);
    case 1: return ingot_softmax(&outputs[0], inputs[0], g->axis);
    case 2: return ingot_log_softmax(&outputs[0], inputs[0], g->axis);
    default: return ingot_cumsum(&outputs[0], inputs[0], g->axis, g->reverse, g->exclusive);
    }
}

/* Gradient check on random f32 [3, 4, 5]; eps 1e-3, rtol 1e-2, atol 1e-3. */
static void gradcheck_case(grad_case g, const char *what) {
    const int64_t shape[3] = {3, 4, 5};
    ingot_array *x = tu_random(INGOT_F32, shape, 3, 99, -2, 2);
    ingot_array *inputs[1] = {x};
    tu_gradcheck(grad_fn, &g, inputs, 1, NULL, 1e-3, 1e-2, 1e-3, what);
    ingot_array_free(x);
}

static void test_gradients(void **state) {
    (void)state;
    static const int ax1[1] = {1}, ax02[2] = {0, -1};
    const ref_op ops[6] = {R_SUM, R_MEAN, R_MAX, R_MIN, R_LSE, R_VAR};
    for (int i = 0; i < 6; i++) {
        for (int kd = 0; kd < 2; kd++) {
            gradcheck_case((grad_case){0, {ops[i], 0}, ax1, 1, kd, 0, 0, 0}, "reduce axis 1");
            gradcheck_case((grad_case){0, {ops[i], 1}, ax02, 2, kd, 0, 0, 0}, "reduce axes 0,-1");
            gradcheck_case((grad_case){0, {ops[i], 0}, NULL, 0, kd, 0, 0, 0}, "reduce all");
        }
    }
    for (int axis = -1; axis <= 1; axis++) {
        gradcheck_case((grad_case){1, {R_SUM, 0}, NULL, 0, 0, axis, 0, 0}, "softmax");
        gradcheck_case((grad_case){2, {R_SUM, 0}, NULL, 0, 0, axis, 0, 0}, "log_softmax");
        for (int v = 0; v < 4; v++)
            gradcheck_case((grad_case){3, {R_SUM, 0}, NULL, 0, 0, axis, v & 1, v & 2}, "cumsum");
    }
}

/* max/min gradients are split evenly among tied extremes. */
static void test_max_tie_gradient(void **state) {
    (void)state;
    const double v[4] = {2, 5, 5, 1};
    const int64_t shape[1] = {4};
    ingot_array *x = tu_from_f64(v, INGOT_F32, shape, 1), *g, *ct;
    TU_OK(ingot_scalar(&ct, INGOT_F32, 1));
    grad_case gc = {0, {R_MAX, 0}, NULL, 0, false, 0, false, false};
    ingot_array *inputs[1] = {x}, *cts[1] = {ct};
    TU_OK(ingot_vjp(NULL, &g, grad_fn, &gc, inputs, 1, cts, 1));
    tu_assert_close(g, (const double[]){0, 0.5, 0.5, 0}, 4, 0, 0, "max tie gradient");
    ingot_array_free(g);
    ingot_array_free(ct);
    ingot_array_free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum),
        cmocka_unit_test(test_mean),
        cmocka_unit_test(test_max_min),
        cmocka_unit_test(test_logsumexp),
        cmocka_unit_test(test_var),
        cmocka_unit_test(test_argmax_argmin),
        cmocka_unit_test(test_nan_and_views),
        cmocka_unit_test(test_empty_and_unit),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_thread_determinism),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_cumsum),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_max_tie_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
