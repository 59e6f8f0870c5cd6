/* Tests of sort, argsort, topk and argpartition. Expected values come from
 * qsort over (value, position) pairs of tu_values() host copies, ordered with
 * NaN largest and ties broken by position. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"

typedef struct pair {
    double v;
    int64_t i;
} pair;

/* -1, 0, 1 for a < b, a == b, a > b with NaN the largest (NaNs equal). */
static int cmp_value(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
    return (a > b) - (a < b);
}

static int cmp_ascending(const void *pa, const void *pb) {
    const pair *a = pa, *b = pb;
    int c = cmp_value(a->v, b->v);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

static int cmp_descending(const void *pa, const void *pb) {
    const pair *a = pa, *b = pb;
    int c = cmp_value(b->v, a->v);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

/* Room for n doubles (at least one). */
static double *doubles(int64_t n) { return malloc((size_t)(n + 1) * sizeof(double)); }

/* Row geometry of a row-major shape along axis. */
typedef struct rows {
    int64_t outer, inner, n;
} rows;

static rows rows_of(const int64_t *shape, int ndim, int axis) {
    rows r = {1, 1, shape[axis]};
    for (int d = 0; d < axis; d++) r.outer *= shape[d];
    for (int d = axis + 1; d < ndim; d++) r.inner *= shape[d];
    return r;
}

/* Sorted values and positions of every row of x (row-major, shape) along axis,
 * keeping the first k of each row in (out_v, out_i) laid out with k on axis. */
static void ref_select(double *out_v, double *out_i, const double *x, const int64_t *shape,
                       int ndim, int axis, int64_t k, bool descending) {
    rows r = rows_of(shape, ndim, axis);
    pair *p = malloc((size_t)(r.n + 1) * sizeof *p);
    for (int64_t o = 0; o < r.outer; o++) {
        for (int64_t in = 0; in < r.inner; in++) {
            for (int64_t j = 0; j < r.n; j++) p[j] = (pair){x[(o * r.n + j) * r.inner + in], j};
            qsort(p, (size_t)r.n, sizeof *p, descending ? cmp_descending : cmp_ascending);
            for (int64_t j = 0; j < k; j++) {
                out_v[(o * k + j) * r.inner + in] = p[j].v;
                out_i[(o * k + j) * r.inner + in] = (double)p[j].i;
            }
        }
    }
    free(p);
}

/* sort and argsort of a along axis against the reference. */
static void check_sort_on(const ingot_array *a, int axis, const char *what) {
    int ndim = ingot_array_ndim(a);
    const int64_t *shape = ingot_array_shape(a);
    int64_t size = ingot_array_size(a);
    int ax = (axis + ndim) % ndim;
    double *x = tu_values(a);
    double *wv = doubles(size), *wi = doubles(size);
    ref_select(wv, wi, x, shape, ndim, ax, shape[ax], false);
    ingot_array *v, *i;
    TU_OK(ingot_sort(&v, a, axis));
    TU_OK(ingot_argsort(&i, a, axis));
    tu_assert_shape(v, ingot_array_dtype(a), shape, ndim);
    tu_assert_shape(i, INGOT_I64, shape, ndim);
    tu_assert_close(v, wv, size, 0, 0, what);
    tu_assert_close(i, wi, size, 0, 0, what);
    ingot_array_free(v);
    ingot_array_free(i);
    free(x);
    free(wv);
    free(wi);
}

/* topk of a along axis against the reference (values, indices, and each alone). */
static void check_topk_on(const ingot_array *a, int k, int axis, const char *what) {
    int ndim = ingot_array_ndim(a);
    int ax = (axis + ndim) % ndim;
    int64_t shape[INGOT_MAX_DIMS];
    memcpy(shape, ingot_array_shape(a), (size_t)ndim * sizeof *shape);
    double *x = tu_values(a);
    shape[ax] = k;
    int64_t size = 1;
    for (int d = 0; d < ndim; d++) size *= shape[d];
    double *wv = doubles(size), *wi = doubles(size);
    ref_select(wv, wi, x, ingot_array_shape(a), ndim, ax, k, true);
    ingot_array *v, *i;
    TU_OK(ingot_topk(&v, &i, a, k, axis));
    tu_assert_shape(v, ingot_array_dtype(a), shape, ndim);
    tu_assert_shape(i, INGOT_I64, shape, ndim);
    tu_assert_close(v, wv, size, 0, 0, what);
    tu_assert_close(i, wi, size, 0, 0, what);
    ingot_array_free(v);
    ingot_array_free(i);
    TU_OK(ingot_topk(&v, NULL, a, k, axis));
    tu_assert_close(v, wv, size, 0, 0, what);
    ingot_array_free(v);
    TU_OK(ingot_topk(NULL, &i, a, k, axis));
    tu_assert_close(i, wi, size, 0, 0, what);
    ingot_array_free(i);
    free(x);
    free(wv);
    free(wi);
}

static const ingot_dtype DTYPES[7] = {INGOT_F32, INGOT_F16, INGOT_BF16, INGOT_I32,
                                      INGOT_U8,  INGOT_I64, INGOT_BOOL};

/* Random data with many ties (small ranges), every dtype, axis, layout. */
static void test_sort_random(void **state) {
    (void)state;
    const int64_t shape[3] = {3, 7, 5};
    for (int t = 0; t < 7; t++) {
        ingot_dtype dt = DTYPES[t];
        double lo = dt == INGOT_U8 || dt == INGOT_BOOL ? 0 : -4, hi = dt == INGOT_BOOL ? 2 : 4;
        ingot_array *a = tu_random(dt, shape, 3, 3 + (uint64_t)t, lo, hi);
        ingot_array *nc = tu_noncontiguous(a), *tr;
        TU_OK(ingot_transpose(&tr, a, NULL, 0));
        for (int axis = -3; axis < 3; axis++) {
            check_sort_on(a, axis, "sort");
            check_sort_on(nc, axis, "sort noncontiguous");
            check_sort_on(tr, axis, "sort transposed");
            check_topk_on(a, 2, axis, "topk 2");
            check_topk_on(nc, (int)ingot_array_dim(nc, axis), axis, "topk dim");
            check_topk_on(tr, 0, axis, "topk 0");
        }
        ingot_array_free(tr);
        ingot_array_free(nc);
        ingot_array_free(a);
    }
    /* long rows with ties: merge sort past the insertion runs, stability */
    const int64_t lshape[2] = {2, 1000};
    ingot_array *l = tu_random(INGOT_I32, lshape, 2, 17, -20, 20);
    check_sort_on(l, 1, "long rows");
    const int ks[6] = {1, 10, 50, 125, 126, 999}; /* k <= n / 8 partitions first */
    for (int i = 0; i < 6; i++) check_topk_on(l, ks[i], 1, "topk long rows");
    ingot_array_free(l);
    ingot_array *lf = tu_random(INGOT_F32, lshape, 2, 18, -1, 1);
    check_sort_on(lf, -1, "long f32 rows");
    check_topk_on(lf, 1000, -1, "topk all of long f32 rows");
    check_topk_on(lf, 7, -1, "topk 7 of long f32 rows");
    ingot_array_free(lf);
    /* negative strides */
    ingot_array *r;
    const int64_t rshape[2] = {5, 6};
    ingot_array *b = tu_random(INGOT_F32, rshape, 2, 23, -2, 2);
    TU_OK(ingot_slice(&r, b, (const int64_t[]){-1, -1}, (const int64_t[]){-6, -7},
                      (const int64_t[]){-1, -2}));
    for (int axis = 0; axis < 2; axis++) {
        check_sort_on(r, axis, "sort reversed view");
        check_topk_on(r, 2, axis, "topk reversed view");
    }
    ingot_array_free(r);
    ingot_array_free(b);
}

/* NaN sorts last, -0 equals +0 (order kept), infinities in place. */
static void test_sort_special(void **state) {
    (void)state;
    const double v[8] = {3, NAN, -INFINITY, 0, -0.0, INFINITY, NAN, 1};
    const int64_t shape[1] = {8};
    for (int t = 0; t < 3; t++) {
        ingot_array *a = tu_from_f64(v, DTYPES[t], shape, 1), *s, *i;
        TU_OK(ingot_sort(&s, a, 0));
        TU_OK(ingot_argsort(&i, a, 0));
        tu_assert_close(s, (const double[]){-INFINITY, 0, 0, 1, 3, INFINITY, NAN, NAN}, 8, 0, 0,
                        "sort special");
        tu_assert_close(i, (const double[]){2, 3, 4, 7, 0, 5, 1, 6}, 8, 0, 0, "argsort special");
        double *sv = tu_values(s);
        assert_false(signbit(sv[1]));
        assert_true(signbit(sv[2]));
        free(sv);
        ingot_array_free(s);
        ingot_array_free(i);
        TU_OK(ingot_topk(&s, &i, a, 4, 0));
        tu_assert_close(s, (const double[]){NAN, NAN, INFINITY, 3}, 4, 0, 0, "topk special");
        tu_assert_close(i, (const double[]){1, 6, 5, 0}, 4, 0, 0, "topk special indices");
        ingot_array_free(s);
        ingot_array_free(i);
        ingot_array_free(a);
    }
}

/* Equal keys keep their order; topk ties go to the lower index. */
static void test_stability(void **state) {
    (void)state;
    const double v[6] = {2, 1, 2, 1, 2, 1};
    const int64_t shape[1] = {6};
    ingot_array *a = tu_from_f64(v, INGOT_F32, shape, 1), *i, *tv;
    TU_OK(ingot_argsort(&i, a, 0));
    tu_assert_close(i, (const double[]){1, 3, 5, 0, 2, 4}, 6, 0, 0, "stable argsort");
    ingot_array_free(i);
    TU_OK(ingot_topk(&tv, &i, a, 4, -1));
    tu_assert_close(tv, (const double[]){2, 2, 2, 1}, 4, 0, 0, "topk ties");
    tu_assert_close(i, (const double[]){0, 2, 4, 1}, 4, 0, 0, "topk ties by lower index");
    ingot_array_free(tv);
    ingot_array_free(i);
    ingot_array_free(a);
    /* a constant row of 100: the first k indices, through the partition path too */
    double c[100];
    for (int j = 0; j < 100; j++) c[j] = j == 60 ? NAN : 1.5;
    const int64_t cshape[1] = {100};
    ingot_array *b = tu_from_f64(c, INGOT_BF16, cshape, 1);
    TU_OK(ingot_topk(NULL, &i, b, 5, 0));
    tu_assert_close(i, (const double[]){60, 0, 1, 2, 3}, 5, 0, 0, "topk constant row");
    ingot_array_free(i);
    ingot_array_free(b);
}

/* argpartition: a permutation; kth holds the stable-sort element, earlier
 * entries are <= it, later ones >= it (NaN largest). */
static void check_argpartition_on(const ingot_array *a, int kth, int axis) {
    int ndim = ingot_array_ndim(a);
    const int64_t *shape = ingot_array_shape(a);
    int ax = (axis + ndim) % ndim;
    int64_t size = ingot_array_size(a);
    double *x = tu_values(a);
    double *wv = doubles(size), *wi = doubles(size);
    ref_select(wv, wi, x, shape, ndim, ax, shape[ax], false);
    ingot_array *p;
    TU_OK(ingot_argpartition(&p, a, kth, axis));
    tu_assert_shape(p, INGOT_I64, shape, ndim);
    double *pi = tu_values(p);
    rows r = rows_of(shape, ndim, ax);
    bool *seen = malloc((size_t)r.n);
    for (int64_t o = 0; o < r.outer; o++) {
        for (int64_t in = 0; in < r.inner; in++) {
            memset(seen, 0, (size_t)r.n);
            int64_t kpos = (o * r.n + kth) * r.inner + in;
            assert_int_equal((int64_t)pi[kpos], (int64_t)wi[kpos]);
            double pivot = x[(o * r.n + (int64_t)pi[kpos]) * r.inner + in];
            for (int64_t j = 0; j < r.n; j++) {
                int64_t src = (int64_t)pi[(o * r.n + j) * r.inner + in];
                assert_true(src >= 0 && src < r.n && !seen[src]);
                seen[src] = true;
                int c = cmp_value(x[(o * r.n + src) * r.inner + in], pivot);
                assert_true(j < kth ? c <= 0 : j > kth ? c >= 0 : c == 0);
            }
        }
    }
    free(seen);
    free(pi);
    ingot_array_free(p);
    free(x);
    free(wv);
    free(wi);
}

static void test_argpartition(void **state) {
    (void)state;
    const int64_t shape[3] = {4, 9, 3};
    for (int t = 0; t < 4; t++) {
        ingot_array *a = tu_random(DTYPES[t], shape, 3, 40 + (uint64_t)t, -3, 3);
        ingot_array *nc = tu_noncontiguous(a);
        for (int kth = 0; kth < 9; kth++) {
            check_argpartition_on(a, kth, 1);
            check_argpartition_on(nc, kth, -2);
        }
        check_argpartition_on(a, 3, 0);
        check_argpartition_on(nc, 2, -1);
        ingot_array_free(nc);
        ingot_array_free(a);
    }
    /* long rows (quickselect) with ties, plus sorted, reversed and constant rows */
    const int64_t lshape[2] = {2, 1000};
    ingot_array *l = tu_random(INGOT_I32, lshape, 2, 19, -20, 20);
    const int kths[6] = {0, 1, 137, 499, 500, 999};
    for (int i = 0; i < 6; i++) check_argpartition_on(l, kths[i], 1);
    ingot_array_free(l);
    double *ramp = doubles(3000);
    for (int j = 0; j < 1000; j++) {
        ramp[j] = j;
        ramp[1000 + j] = 1000 - j;
        ramp[2000 + j] = 7;
    }
    const int64_t rshape[2] = {3, 1000};
    ingot_array *r = tu_from_f64(ramp, INGOT_F32, rshape, 2);
    for (int i = 0; i < 6; i++) check_argpartition_on(r, kths[i], -1);
    ingot_array_free(r);
    free(ramp);
    const double v[5] = {NAN, 2, -1, NAN, 2};
    const int64_t vshape[1] = {5};
    ingot_array *b = tu_from_f64(v, INGOT_F32, vshape, 1);
    for (int kth = 0; kth < 5; kth++) check_argpartition_on(b, kth, 0);
    ingot_array_free(b);
}

static void test_empty_and_errors(void **state) {
    (void)state;
    const int64_t shape[2] = {0, 3};
    ingot_array *e = tu_random(INGOT_F32, shape, 2, 1, 0, 1), *out, *idx;
    for (int axis = 0; axis < 2; axis++) {
        TU_OK(ingot_sort(&out, e, axis));
        tu_assert_shape(out, INGOT_F32, shape, 2);
        ingot_array_free(out);
        TU_OK(ingot_argsort(&out, e, axis));
        tu_assert_shape(out, INGOT_I64, shape, 2);
        ingot_array_free(out);
    }
    TU_OK(ingot_topk(&out, &idx, e, 0, 0));
    tu_assert_shape(out, INGOT_F32, shape, 2);
    tu_assert_shape(idx, INGOT_I64, shape, 2);
    ingot_array_free(out);
    ingot_array_free(idx);
    TU_OK(ingot_topk(&out, NULL, e, 2, 1));
    tu_assert_shape(out, INGOT_F32, (const int64_t[]){0, 2}, 2);
    ingot_array_free(out);
    TU_FAILS(ingot_argpartition(&out, e, 0, 0), INGOT_ERR_INVALID_ARGUMENT, "kth");
    assert_null(out);
    ingot_array_free(e);

    const int64_t ashape[2] = {2, 3};
    ingot_array *a = tu_random(INGOT_F32, ashape, 2, 2, 0, 1);
    TU_FAILS(ingot_sort(&out, a, 2), INGOT_ERR_INVALID_ARGUMENT, "sort");
    assert_null(out);
    TU_FAILS(ingot_argsort(&out, a, -3), INGOT_ERR_INVALID_ARGUMENT, "argsort");
    TU_FAILS(ingot_sort(&out, NULL, 0), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_FAILS(ingot_sort(NULL, a, 0), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_FAILS(ingot_topk(&out, &idx, a, 4, 1), INGOT_ERR_INVALID_ARGUMENT, "k 4");
    assert_null(out);
    assert_null(idx);
    TU_FAILS(ingot_topk(&out, &idx, a, -1, 1), INGOT_ERR_INVALID_ARGUMENT, "k -1");
    TU_FAILS(ingot_topk(NULL, NULL, a, 1, 1), INGOT_ERR_INVALID_ARGUMENT, "both NULL");
    TU_FAILS(ingot_topk(&out, NULL, a, 1, 2), INGOT_ERR_INVALID_ARGUMENT, "topk");
    TU_FAILS(ingot_argpartition(&out, a, 3, 1), INGOT_ERR_INVALID_ARGUMENT, "kth 3");
    TU_FAILS(ingot_argpartition(&out, a, -1, 1), INGOT_ERR_INVALID_ARGUMENT, "kth -1");
    ingot_array *s;
    TU_OK(ingot_scalar(&s, INGOT_F32, 1));
    TU_FAILS(ingot_sort(&out, s, 0), INGOT_ERR_INVALID_ARGUMENT, "sort");
    ingot_array_free(s);
    ingot_array_free(a);
}

/* ---- gradients ---- */

typedef struct grad_case {
    bool topk;
    int k, axis;
} grad_case;

static ingot_status grad_fn(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                            size_t n_inputs, void *user) {
    (void)n_outputs;
    (void)n_inputs;
    const grad_case *g = user;
    if (g->topk) return ingot_topk(&outputs[0], NULL, inputs[0], g->k, g->axis);
    return ingot_sort(&outputs[0], inputs[0], g->axis);
}

/* Random f32 [3, 4, 5] (distinct values); eps 1e-3, rtol 1e-2, atol 1e-3. */
static void test_gradients(void **state) {
    (void)state;
    const int64_t shape[3] = {3, 4, 5};
    ingot_array *x = tu_random(INGOT_F32, shape, 3, 5, -2, 2);
    ingot_array *inputs[1] = {x};
    for (int axis = -1; axis < 3; axis++) {
        grad_case s = {false, 0, axis}, t = {true, 2, axis}, all = {true, 3, axis};
        tu_gradcheck(grad_fn, &s, inputs, 1, NULL, 1e-3, 1e-2, 1e-3, "sort");
        tu_gradcheck(grad_fn, &t, inputs, 1, NULL, 1e-3, 1e-2, 1e-3, "topk 2");
        tu_gradcheck(grad_fn, &all, inputs, 1, NULL, 1e-3, 1e-2, 1e-3, "topk 3");
    }
    ingot_array_free(x);
    /* a long axis: topk through the partition path */
    const int64_t lshape[2] = {2, 40};
    ingot_array *l = tu_random(INGOT_F32, lshape, 2, 6, -2, 2);
    grad_case t3 = {true, 3, 1};
    tu_gradcheck(grad_fn, &t3, &l, 1, NULL, 1e-3, 1e-2, 1e-3, "topk 3 of 40");
    ingot_array_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_random),
        cmocka_unit_test(test_sort_special),
        cmocka_unit_test(test_stability),
        cmocka_unit_test(test_argpartition),
        cmocka_unit_test(test_empty_and_errors),
        cmocka_unit_test(test_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
