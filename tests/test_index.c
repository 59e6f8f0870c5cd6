/* Joining and indexing ops: concat, stack, take, take_along_axis,
 * put_along_axis. Expected values come from plain loops over host copies. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"

#define S(...) ((const int64_t[]){__VA_ARGS__})

static const ingot_dtype ALL_DTYPES[] = {INGOT_BOOL, INGOT_U8,  INGOT_I8,   INGOT_I32, INGOT_U32,
                                         INGOT_I64,  INGOT_F16, INGOT_BF16, INGOT_F32};
#define N_DTYPES (int)(sizeof ALL_DTYPES / sizeof ALL_DTYPES[0])
static const ingot_dtype INDEX_DTYPES[] = {INGOT_U8, INGOT_I8, INGOT_I32, INGOT_U32, INGOT_I64};

/* ---- helpers ---- */

static int64_t count(const int64_t *shape, int nd) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= shape[i];
    return n;
}

/* Row-major coordinates of linear index i. */
static void unravel(int64_t *coord, int64_t i, const int64_t *shape, int nd) {
    for (int d = nd - 1; d >= 0; d--) {
        coord[d] = i % shape[d];
        i /= shape[d];
    }
}

/* Linear index of coord in shape; dims of size 1 broadcast (coordinate 0). */
static int64_t ravel_bcast(const int64_t *coord, const int64_t *shape, int nd) {
    int64_t i = 0;
    for (int d = 0; d < nd; d++)
        i = i * shape[d] + (shape[d] == 1 ? 0 : coord[d]);
    return i;
}

/* Random input of dtype: floats in [-1, 1), bool 0/1, integers in [0, 100);
 * i64 gets multiples of 2^34 instead, to exercise all 8 bytes. */
static ingot_array *make(ingot_dtype dt, const int64_t *shape, int nd, uint64_t seed) {
    if (dt == INGOT_I64) {
        int64_t n = count(shape, nd);
        double *v = tu_random_values(n, seed, 0, 100);
        for (int64_t i = 0; i < n; i++)
            v[i] = (floor(v[i]) + 1) * 0x1p34; /* exact in f32 */
        ingot_array *a = tu_from_f64(v, dt, shape, nd);
        free(v);
        return a;
    }
    if (ingot_dtype_is_float(dt)) return tu_random(dt, shape, nd, seed, -1, 1);
    return tu_random(dt, shape, nd, seed, 0, dt == INGOT_BOOL ? 2 : 100);
}

static ingot_array *indices_of(const double *v, ingot_dtype dt, const int64_t *shape, int nd) {
    return tu_from_f64(v, dt, shape, nd);
}

/* ---- take ---- */

/* out = np.take(a, idx, axis) with idx values already in range. */
static double *ref_take(const double *a, const int64_t *as, int an, const double *idx,
                        const int64_t *is, int in, int axis, int64_t *n_out) {
    int64_t os[INGOT_MAX_DIMS];
    int on = 0;
    for (int d = 0; d < axis; d++)
        os[on++] = as[d];
    for (int d = 0; d < in; d++)
        os[on++] = is[d];
    for (int d = axis + 1; d < an; d++)
        os[on++] = as[d];
    int64_t n = count(os, on), ni = count(is, in);
    double *out = malloc((size_t)(n ? n : 1) * sizeof *out);
    for (int64_t i = 0; i < n; i++) {
        int64_t c[INGOT_MAX_DIMS], ac[INGOT_MAX_DIMS];
        unravel(c, i, os, on);
        int64_t flat = 0; /* position within the indices */
        for (int d = 0; d < in; d++)
            flat = flat * is[d] + c[axis + d];
        assert_true(flat < ni);
        for (int d = 0; d < axis; d++)
            ac[d] = c[d];
        int64_t j = (int64_t)idx[flat];
        ac[axis] = j < 0 ? j + as[axis] : j;
        for (int d = axis + 1; d < an; d++)
            ac[d] = c[d - 1 + in];
        out[i] = a[ravel_bcast(ac, as, an)];
    }
    *n_out = n;
    return out;
}

static void check_take(const ingot_array *a, const ingot_array *idx, int axis, const char *what) {
    ingot_array *out;
    TU_OK(ingot_take(&out, a, idx, axis));
    int an = ingot_array_ndim(a);
    int ax = axis < 0 ? axis + an : axis;
    double *av = tu_values(a), *iv = tu_values(idx);
    int64_t n;
    double *want = ref_take(av, ingot_array_shape(a), an, iv, ingot_array_shape(idx),
                            ingot_array_ndim(idx), ax, &n);
    assert_int_equal(ingot_array_dtype(out), ingot_array_dtype(a));
    assert_int_equal(ingot_array_ndim(out), an - 1 + ingot_array_ndim(idx));
    tu_assert_close(out, want, n, 0, 0, what);
    free(want);
    free(av);
    free(iv);
    ingot_array_free(out);
}

static void test_take_dtypes(void **state) {
    (void)state;
    double i1[4] = {3, -1, 0, -4}, i0[4] = {2, -3, 1, 0};
    for (int t = 0; t < N_DTYPES; t++) {
        ingot_array *a = make(ALL_DTYPES[t], S(3, 4), 2, 1 + (uint64_t)t);
        ingot_array *idx1 = indices_of(i1, INGOT_I32, S(2, 2), 2);
        ingot_array *idx0 = indices_of(i0, INGOT_I64, S(2, 2), 2);
        check_take(a, idx1, 1, ingot_dtype_name(ALL_DTYPES[t]));
        check_take(a, idx0, -2, "negative axis");
        ingot_array *out;
        TU_OK(ingot_take(&out, a, idx1, 1));
        tu_assert_shape(out, ALL_DTYPES[t], S(3, 2, 2), 3);
        ingot_array_free(out);
        ingot_array_free(idx0);
        ingot_array_free(idx1);
        ingot_array_free(a);
    }
}

static void test_take_index_dtypes(void **state) {
    (void)state;
    ingot_array *a = make(INGOT_F32, S(4, 5), 2, 3);
    for (int t = 0; t < 5; t++) {
        ingot_dtype dt = INDEX_DTYPES[t];
        bool is_signed = dt == INGOT_I8 || dt == INGOT_I32 || dt == INGOT_I64;
        double v[3] = {4, is_signed ? -5 : 0, 2};
        ingot_array *idx = indices_of(v, dt, S(3), 1);
        check_take(a, idx, 1, ingot_dtype_name(dt));
        ingot_array_free(idx);
    }
    ingot_array_free(a);
}

static void test_take_shapes(void **state) {
    (void)state;
    ingot_array *a = make(INGOT_F32, S(3, 4, 5), 3, 4), *out;
    /* 0-d index drops the axis */
    double two = 2;
    ingot_array *s = indices_of(&two, INGOT_I64, S(0), 0);
    TU_OK(ingot_take(&out, a, s, 1));
    tu_assert_shape(out, INGOT_F32, S(3, 5), 2);
    ingot_array_free(out);
    check_take(a, s, 1, "scalar index");
    /* empty indices */
    ingot_array *e = indices_of(NULL, INGOT_I32, S(0), 1),
                *e2 = indices_of(NULL, INGOT_I32, S(2, 0), 2);
    TU_OK(ingot_take(&out, a, e, 1));
    tu_assert_shape(out, INGOT_F32, S(3, 0, 5), 3);
    ingot_array_free(out);
    TU_OK(ingot_take(&out, a, e2, -1));
    tu_assert_shape(out, INGOT_F32, S(3, 4, 2, 0), 4);
    ingot_array_free(out);
    /* an empty a axis with empty indices is fine */
    ingot_array *z = make(INGOT_F32, S(2, 0), 2, 5);
    TU_OK(ingot_take(&out, z, e, 1));
    tu_assert_shape(out, INGOT_F32, S(2, 0), 2);
    ingot_array_free(out);
    /* 2-D indices in the middle, non-contiguous a and indices */
    double v[6] = {0, 3, -1, 2, 2, 1};
    ingot_array *idx = tu_noncontiguous_take(indices_of(v, INGOT_I64, S(2, 3), 2));
    ingot_array *anc = tu_noncontiguous_take(make(INGOT_BF16, S(3, 4, 5), 3, 6));
    check_take(anc, idx, 1, "non-contiguous");
    check_take(anc, idx, 2, "last axis");
    double v0[2] = {1, 0};
    ingot_array *idx0 = tu_noncontiguous_take(indices_of(v0, INGOT_I32, S(2), 1));
    check_take(anc, idx0, 0, "non-contiguous 1-D indices");
    ingot_array_free(idx0);
    ingot_array_free(anc);
    ingot_array_free(idx);
    ingot_array_free(z);
    ingot_array_free(e2);
    ingot_array_free(e);
    ingot_array_free(s);
    ingot_array_free(a);
}

static void test_take_errors(void **state) {
    (void)state;
    ingot_array *a = make(INGOT_F32, S(3, 4), 2, 7), *out = NULL;
    double big = 4, neg = -5, zero = 0;
    ingot_array *ib = indices_of(&big, INGOT_I32, S(1), 1),
                *in = indices_of(&neg, INGOT_I64, S(1), 1);
    ingot_array *fi = indices_of(&zero, INGOT_F32, S(1), 1),
                *bi = indices_of(&zero, INGOT_BOOL, S(1), 1);
    TU_FAILS(ingot_take(&out, a, ib, 1), INGOT_ERR_INDEX, "index 4");
    TU_FAILS(ingot_take(&out, a, ib, 1), INGOT_ERR_INDEX, "axis 1 with size 4");
    TU_FAILS(ingot_take(&out, a, in, -1), INGOT_ERR_INDEX, "index -5");
    assert_null(out);
    TU_FAILS(ingot_take(&out, a, fi, 0), INGOT_ERR_DTYPE, "f32");
    TU_FAILS(ingot_take(&out, a, bi, 0), INGOT_ERR_DTYPE, NULL);
    TU_FAILS(ingot_take(&out, a, ib, 2), INGOT_ERR_INVALID_ARGUMENT, NULL);
    TU_FAILS(ingot_take(&out, NULL, ib, 0), INGOT_ERR_INVALID_ARGUMENT, NULL);
    TU_FAILS(ingot_take(&out, a, NULL, 0), INGOT_ERR_INVALID_ARGUMENT, NULL);
    ingot_array *z = make(INGOT_F32, S(0, 2), 2, 8);
    TU_FAILS(ingot_take(&out, z, ib, 0), INGOT_ERR_INDEX, "size 0");
    ingot_array_free(z);
    ingot_array_free(bi);
    ingot_array_free(fi);
    ingot_array_free(in);
    ingot_array_free(ib);
    ingot_array_free(a);
}

/* ---- take_along_axis ---- */

/* out[c] = a[c with c[axis] = idx[c]], a and idx broadcast outside axis. */
static double *ref_take_along(const double *a, const int64_t *as, const double *idx,
                              const int64_t *is, int nd, int axis, int64_t *os) {
    for (int d = 0; d < nd; d++)
        os[d] = d == axis ? is[d] : (as[d] == 1 ? is[d] : as[d]);
    int64_t n = count(os, nd);
    double *out = malloc((size_t)(n ? n : 1) * sizeof *out);
    for (int64_t i = 0; i < n; i++) {
        int64_t c[INGOT_MAX_DIMS];
        unravel(c, i, os, nd);
        int64_t j = (int64_t)idx[ravel_bcast(c, is, nd)];
        c[axis] = j < 0 ? j + as[axis] : j;
        int64_t ac[INGOT_MAX_DIMS];
        for (int d = 0; d < nd; d++)
            ac[d] = d == axis ? c[d] : (as[d] == 1 ? 0 : c[d]);
        int64_t off = 0;
        for (int d = 0; d < nd; d++)
            off = off * as[d] + ac[d];
        out[i] = a[off];
    }
    return out;
}

static void check_take_along(const ingot_array *a, const ingot_array *idx, int axis,
                             const char *what) {
    int nd = ingot_array_ndim(a);
    int ax = axis < 0 ? axis + nd : axis;
    ingot_array *out;
    TU_OK(ingot_take_along_axis(&out, a, idx, axis));
    double *av = tu_values(a), *iv = tu_values(idx);
    int64_t os[INGOT_MAX_DIMS];
    double *want = ref_take_along(av, ingot_array_shape(a), iv, ingot_array_shape(idx), nd, ax, os);
    tu_assert_shape(out, ingot_array_dtype(a), os, nd);
    tu_assert_close(out, want, count(os, nd), 0, 0, what);
    free(want);
    free(av);
    free(iv);
    ingot_array_free(out);
}

static void test_take_along_axis(void **state) {
    (void)state;
    double v1[6] = {3, -1, 0, 0, -4, 2}, v0[8] = {2, -3, 1, 0, 0, 1, 2, -1};
    for (int t = 0; t < N_DTYPES; t++) {
        ingot_array *a = make(ALL_DTYPES[t], S(3, 4), 2, 10 + (uint64_t)t);
        ingot_array *i1 = indices_of(v1, INGOT_I32, S(3, 2), 2);
        ingot_array *i0 = indices_of(v0, INGOT_I8, S(2, 4), 2);
        check_take_along(a, i1, 1, ingot_dtype_name(ALL_DTYPES[t]));
        check_take_along(a, i0, -2, "axis 0");
        ingot_array_free(i0);
        ingot_array_free(i1);
        ingot_array_free(a);
    }
    /* broadcasting outside the axis, both ways */
    ingot_array *a15 = make(INGOT_F32, S(1, 5), 2, 20), *a43 = make(INGOT_F16, S(4, 3), 2, 21);
    ingot_array *i32 = indices_of(v1, INGOT_I64, S(3, 2), 2);
    ingot_array *i21 = indices_of(v1, INGOT_I64, S(2, 1), 2);
    check_take_along(a15, i32, 1, "a broadcast");
    check_take_along(a43, i21, 0, "indices broadcast");
    /* non-contiguous and empty */
    ingot_array *anc = tu_noncontiguous_take(make(INGOT_I64, S(2, 3, 4), 3, 22));
    ingot_array *inc = tu_noncontiguous_take(indices_of(v0, INGOT_I32, S(2, 1, 4), 3));
    check_take_along(anc, inc, 1, "non-contiguous");
    ingot_array *ie = indices_of(NULL, INGOT_I32, S(4, 0), 2), *out;
    TU_OK(ingot_take_along_axis(&out, a43, ie, 1));
    tu_assert_shape(out, INGOT_F16, S(4, 0), 2);
    ingot_array_free(out);
    ingot_array_free(ie);
    ingot_array_free(inc);
    ingot_array_free(anc);
    ingot_array_free(i21);
    ingot_array_free(i32);
    ingot_array_free(a43);
    ingot_array_free(a15);
}

static void test_take_along_errors(void **state) {
    (void)state;
    double v[8] = {0, 1, 2, 0, 1, 2, 0, 1};
    ingot_array *a = make(INGOT_F32, S(4, 3), 2, 30), *out = NULL;
    ingot_array *i23 = indices_of(v, INGOT_I32, S(2, 3), 2),
                *i1 = indices_of(v, INGOT_I32, S(3), 1);
    ingot_array *big = indices_of((double[]){0, 3}, INGOT_I32, S(1, 2), 2);
    TU_FAILS(ingot_take_along_axis(&out, a, i23, 1), INGOT_ERR_SHAPE,
             "indices shape (2,3) does not match (4,3) outside axis 1");
    TU_FAILS(ingot_take_along_axis(&out, a, i1, 0), INGOT_ERR_SHAPE, "(3)");
    TU_FAILS(ingot_take_along_axis(&out, a, big, 1), INGOT_ERR_INDEX, "index 3");
    TU_FAILS(ingot_take_along_axis(&out, a, big, 5), INGOT_ERR_INVALID_ARGUMENT, NULL);
    TU_FAILS(ingot_take_along_axis(&out, a, NULL, 0), INGOT_ERR_INVALID_ARGUMENT, NULL);
    assert_null(out);
    ingot_array_free(big);
    ingot_array_free(i1);
    ingot_array_free(i23);
    ingot_array_free(a);
}

/* ---- put_along_axis ---- */

/* a copy of a with a[c with c[axis] = idx[c]] = values[c] for c over the
 * written shape (a's with idx's dim at axis), in row-major order. */
static double *ref_put_along(const double *a, const int64_t *as, const double *idx,
                             const int64_t *is, const double *vals, const int64_t *vs, int vn,
                             int nd, int axis, ingot_dtype dt) {
    int64_t n = count(as, nd), ws[INGOT_MAX_DIMS], vfull[INGOT_MAX_DIMS];
    for (int d = 0; d < nd; d++)
        ws[d] = d == axis ? is[d] : as[d];
    for (int d = 0; d < nd; d++)
        vfull[d] = d < nd - vn ? 1 : vs[d - (nd - vn)];
    double *out = malloc((size_t)(n ? n : 1) * sizeof *out);
    memcpy(out, a, (size_t)n * sizeof *out);
    for (int64_t i = 0; i < count(ws, nd); i++) {
        int64_t c[INGOT_MAX_DIMS];
        unravel(c, i, ws, nd);
        double v = vals[ravel_bcast(c, vfull, nd)];
        /* converted to a's dtype as astype does for the values used here */
        if (dt == INGOT_BOOL)
            v = v != 0;
        else if (!ingot_dtype_is_float(dt))
            v = trunc(v);
        int64_t j = (int64_t)idx[ravel_bcast(c, is, nd)];
        c[axis] = j < 0 ? j + as[axis] : j;
        int64_t off = 0;
        for (int d = 0; d < nd; d++)
            off = off * as[d] + c[d];
        out[off] = v;
    }
    return out;
}

static void check_put_along(const ingot_array *a, const ingot_array *idx, const ingot_array *vals,
                            int axis, const char *what) {
    int nd = ingot_array_ndim(a);
    int ax = axis < 0 ? axis + nd : axis;
    ingot_array *out;
    TU_OK(ingot_put_along_axis(&out, a, idx, vals, axis));
    tu_assert_shape(out, ingot_array_dtype(a), ingot_array_shape(a), nd);
    double *av = tu_values(a), *iv = tu_values(idx), *vv = tu_values(vals);
    double *want = ref_put_along(av, ingot_array_shape(a), iv, ingot_array_shape(idx), vv,
                                 ingot_array_shape(vals), ingot_array_ndim(vals), nd, ax,
                                 ingot_array_dtype(a));
    tu_assert_close(out, want, ingot_array_size(a), 0, 0, what);
    free(want);
    free(av);
    free(iv);
    free(vv);
    ingot_array_free(out);
}

static void test_put_along_axis(void **state) {
    (void)state;
    /* repeated indices in every row: 1,1 / -1,3 / 2,-2 (last write wins) */
    double v1[6] = {1, 1, -1, 3, 2, -2};
    for (int t = 0; t < N_DTYPES; t++) {
        ingot_dtype dt = ALL_DTYPES[t];
        ingot_array *a = make(dt, S(3, 4), 2, 40 + (uint64_t)t);
        ingot_array *vals = make(dt, S(3, 2), 2, 50 + (uint64_t)t);
        ingot_array *idx = indices_of(v1, INGOT_I32, S(3, 2), 2);
        check_put_along(a, idx, vals, 1, ingot_dtype_name(dt));
        check_put_along(a, idx, vals, -1, "negative axis");
        ingot_array_free(idx);
        ingot_array_free(vals);
        ingot_array_free(a);
    }
    ingot_array *a = make(INGOT_F32, S(3, 4), 2, 60);
    ingot_array *idx = indices_of(v1, INGOT_I64, S(3, 2), 2);
    /* values broadcast: scalar, a row, a column */
    ingot_array *s = tu_from_f64((double[]){7.5}, INGOT_F32, S(0), 0);
    ingot_array *row = tu_from_f64((double[]){1.5, -2.5}, INGOT_BF16, S(2), 1);
    ingot_array *col = tu_from_f64((double[]){1, 2, 3}, INGOT_I32, S(3, 1), 2);
    check_put_along(a, idx, s, 1, "scalar values");
    check_put_along(a, idx, row, 1, "row values (bf16 converted)");
    check_put_along(a, idx, col, 1, "column values (i32 converted)");
    /* indices broadcast outside the axis, along axis 0 */
    ingot_array *i0 = indices_of((double[]){2, 0, -1}, INGOT_I8, S(1, 3), 2);
    ingot_array *a33 = make(INGOT_F32, S(3, 3), 2, 61);
    check_put_along(a33, i0, s, 0, "indices broadcast");
    /* float values into an integer array truncate */
    ingot_array *ai = make(INGOT_I32, S(3, 4), 2, 62);
    ingot_array *fv =
        tu_from_f64((double[]){2.7, -1.5, 3.2, 0.5, -0.5, 9.9}, INGOT_F32, S(3, 2), 2);
    check_put_along(ai, idx, fv, 1, "f32 values into i32");
    /* non-contiguous a, indices and values */
    ingot_array *anc = tu_noncontiguous_take(make(INGOT_F16, S(2, 3), 2, 63));
    ingot_array *inc = tu_noncontiguous_take(indices_of((double[]){0, 2, 0, 1}, INGOT_I32, S(2, 2), 2));
    ingot_array *vnc = tu_noncontiguous_take(make(INGOT_F16, S(2, 2), 2, 64));
    check_put_along(anc, inc, vnc, 1, "non-contiguous");
    /* empty indices leave a unchanged */
    ingot_array *ie = indices_of(NULL, INGOT_I32, S(3, 0), 2);
    check_put_along(a, ie, s, 1, "empty indices");
    ingot_array_free(ie);
    ingot_array_free(vnc);
    ingot_array_free(inc);
    ingot_array_free(anc);
    ingot_array_free(fv);
    ingot_array_free(ai);
    ingot_array_free(a33);
    ingot_array_free(i0);
    ingot_array_free(col);
    ingot_array_free(row);
    ingot_array_free(s);
    ingot_array_free(idx);
    ingot_array_free(a);
}

static void test_put_along_errors(void **state) {
    (void)state;
    ingot_array *a = make(INGOT_F32, S(3, 4), 2, 70), *out = NULL;
    ingot_array *i22 = indices_of((double[]){0, 1, 2, 3}, INGOT_I32, S(2, 2), 2);
    ingot_array *i32 = indices_of((double[]){0, 1, 2, 3, 4, 0}, INGOT_I32, S(3, 2), 2);
    ingot_array *ok = indices_of((double[]){0, 1, 2, 3, -4, 0}, INGOT_I32, S(3, 2), 2);
    ingot_array *v3 = make(INGOT_F32, S(3), 1, 71), *v = make(INGOT_F32, S(3, 2), 2, 72);
    TU_FAILS(ingot_put_along_axis(&out, a, i22, v, 1), INGOT_ERR_SHAPE, "outside axis 1");
    TU_FAILS(ingot_put_along_axis(&out, a, ok, v3, 1), INGOT_ERR_SHAPE, "values shape (3)");
    TU_FAILS(ingot_put_along_axis(&out, a, i32, v, 1), INGOT_ERR_INDEX, "index 4");
    TU_FAILS(ingot_put_along_axis(&out, a, v3, v, 1), INGOT_ERR_SHAPE, NULL);
    TU_FAILS(ingot_put_along_axis(&out, a, ok, NULL, 1), INGOT_ERR_INVALID_ARGUMENT, NULL);
    assert_null(out);
    ingot_array_free(v);
    ingot_array_free(v3);
    ingot_array_free(ok);
    ingot_array_free(i32);
    ingot_array_free(i22);
    ingot_array_free(a);
}

/* ---- concat and stack ---- */

/* Joins inputs (host values with shapes) along axis of nd dims. */
static double *ref_concat(double *const *vals, const int64_t *const *shapes, int n, int nd,
                          int axis, int64_t *os) {
    memcpy(os, shapes[0], (size_t)nd * sizeof *os);
    os[axis] = 0;
    for (int i = 0; i < n; i++)
        os[axis] += shapes[i][axis];
    int64_t total = count(os, nd);
    double *out = malloc((size_t)(total ? total : 1) * sizeof *out);
    for (int64_t i = 0; i < total; i++) {
        int64_t c[INGOT_MAX_DIMS] = {0};
        unravel(c, i, os, nd);
        int k = 0;
        while (c[axis] >= shapes[k][axis])
            c[axis] -= shapes[k++][axis];
        int64_t off = 0;
        for (int d = 0; d < nd; d++)
            off = off * shapes[k][d] + c[d];
        out[i] = vals[k][off];
    }
    return out;
}

static void check_concat(ingot_array *const *arrays, int n, int axis, ingot_dtype want_dt,
                         const char *what) {
    ingot_array *out;
    TU_OK(ingot_concat(&out, (const ingot_array *const *)arrays, n, axis));
    int nd = ingot_array_ndim(arrays[0]);
    double **vals = malloc((size_t)n * sizeof *vals);
    const int64_t **shapes = malloc((size_t)n * sizeof *shapes);
    for (int i = 0; i < n; i++) {
        vals[i] = tu_values(arrays[i]);
        shapes[i] = ingot_array_shape(arrays[i]);
    }
    int64_t os[INGOT_MAX_DIMS];
    double *want = ref_concat(vals, shapes, n, nd, axis < 0 ? axis + nd : axis, os);
    tu_assert_shape(out, want_dt, os, nd);
    tu_assert_close(out, want, count(os, nd), 0, 0, what);
    free(want);
    for (int i = 0; i < n; i++)
        free(vals[i]);
    free(vals);
    free(shapes);
    ingot_array_free(out);
}

static void test_concat(void **state) {
    (void)state;
    for (int t = 0; t < N_DTYPES; t++) {
        ingot_dtype dt = ALL_DTYPES[t];
        ingot_array *x[3] = {make(dt, S(2, 3), 2, 80), make(dt, S(2, 1), 2, 81),
                             tu_noncontiguous_take(make(dt, S(2, 2), 2, 82))};
        check_concat(x, 3, 1, dt, ingot_dtype_name(dt));
        check_concat(x, 3, -1, dt, "negative axis");
        ingot_array *y[2] = {make(dt, S(1, 3), 2, 83), x[0]};
        check_concat(y, 2, 0, dt, "axis 0");
        ingot_array_free(y[0]);
        for (int i = 0; i < 3; i++)
            ingot_array_free(x[i]);
    }
    /* promotion across all inputs */
    ingot_array *p[3] = {make(INGOT_U8, S(2), 1, 84), make(INGOT_I8, S(3), 1, 85),
                         make(INGOT_BOOL, S(1), 1, 86)};
    check_concat(p, 3, 0, INGOT_I32, "u8 + i8 + bool -> i32");
    ingot_array *q[2] = {make(INGOT_I32, S(2, 2), 2, 87), make(INGOT_F16, S(2, 3), 2, 88)};
    check_concat(q, 2, 1, INGOT_F16, "i32 + f16 -> f16");
    ingot_array *r[2] = {make(INGOT_BF16, S(1, 2), 2, 89), make(INGOT_F16, S(2, 2), 2, 90)};
    check_concat(r, 2, 0, INGOT_F32, "bf16 + f16 -> f32");
    /* empty parts, a single array and many arrays */
    ingot_array *e[3] = {make(INGOT_F32, S(2, 0), 2, 91), make(INGOT_F32, S(2, 3), 2, 92),
                         make(INGOT_F32, S(2, 0), 2, 93)};
    check_concat(e, 3, 1, INGOT_F32, "empty parts");
    check_concat(e + 1, 1, 0, INGOT_F32, "one array");
    ingot_array *many[11];
    for (int i = 0; i < 11; i++)
        many[i] = make(INGOT_I64, S(i % 3, 2), 2, 100 + (uint64_t)i);
    check_concat(many, 11, 0, INGOT_I64, "11 arrays");
    for (int i = 0; i < 11; i++)
        ingot_array_free(many[i]);
    for (int i = 0; i < 3; i++) {
        ingot_array_free(e[i]);
        ingot_array_free(p[i]);
    }
    for (int i = 0; i < 2; i++) {
        ingot_array_free(q[i]);
        ingot_array_free(r[i]);
    }
}

static void test_concat_errors(void **state) {
    (void)state;
    ingot_array *x[3] = {make(INGOT_F32, S(2, 3), 2, 1), make(INGOT_F32, S(3, 3), 2, 2),
                         make(INGOT_F32, S(2), 1, 3)};
    ingot_array *s = make(INGOT_F32, S(0), 0, 4), *out = NULL;
    const ingot_array *const *cx = (const ingot_array *const *)x;
    TU_FAILS(ingot_concat(&out, cx, 2, 1), INGOT_ERR_SHAPE,
             "shape (3,3) of arrays[1] does not match (2,3) outside axis 1");
    TU_FAILS(ingot_concat(&out, (const ingot_array *const[]){x[0], x[2]}, 2, 0), INGOT_ERR_SHAPE,
             "arrays[1]");
    TU_FAILS(ingot_concat(&out, cx, 0, 0), INGOT_ERR_INVALID_ARGUMENT, NULL);
    TU_FAILS(ingot_concat(&out, cx, 1, 2), INGOT_ERR_INVALID_ARGUMENT, NULL);
    TU_FAILS(ingot_concat(&out, (const ingot_array *const[]){s}, 1, 0), INGOT_ERR_SHAPE, "0-d");
    TU_FAILS(ingot_concat(&out, (const ingot_array *const[]){x[0], NULL}, 2, 0),
             INGOT_ERR_INVALID_ARGUMENT, "arrays[1]");
    TU_FAILS(ingot_concat(&out, NULL, 1, 0), INGOT_ERR_INVALID_ARGUMENT, NULL);
    assert_null(out);
    TU_FAILS(ingot_stack(&out, cx, 2, 0), INGOT_ERR_SHAPE, "arrays[1]");
    TU_FAILS(ingot_stack(&out, cx, 1, 3), INGOT_ERR_INVALID_ARGUMENT, NULL);
    TU_FAILS(ingot_stack(&out, cx, 0, 0), INGOT_ERR_INVALID_ARGUMENT, NULL);
    assert_null(out);
    ingot_array_free(s);
    for (int i = 0; i < 3; i++)
        ingot_array_free(x[i]);
}

/* out[..., i, ...] (new axis) = arrays[i]. */
static void check_stack(ingot_array *const *arrays, int n, int axis, ingot_dtype want_dt,
                        const char *what) {
    ingot_array *out;
    TU_OK(ingot_stack(&out, (const ingot_array *const *)arrays, n, axis));
    int nd = ingot_array_ndim(arrays[0]);
    int ax = axis < 0 ? axis + nd + 1 : axis;
    const int64_t *is = ingot_array_shape(arrays[0]);
    int64_t os[INGOT_MAX_DIMS];
    for (int d = 0, k = 0; d <= nd; d++)
        os[d] = d == ax ? n : is[k++];
    int64_t total = count(os, nd + 1);
    double *want = malloc((size_t)(total ? total : 1) * sizeof *want);
    for (int i = 0; i < n; i++) {
        double *v = tu_values(arrays[i]);
        for (int64_t e = 0; e < count(is, nd); e++) {
            int64_t c[INGOT_MAX_DIMS] = {0}, oc[INGOT_MAX_DIMS];
            unravel(c, e, is, nd);
            for (int d = 0, k = 0; d <= nd; d++)
                oc[d] = d == ax ? i : c[k++];
            int64_t off = 0;
            for (int d = 0; d <= nd; d++)
                off = off * os[d] + oc[d];
            want[off] = v[e];
        }
        free(v);
    }
    tu_assert_shape(out, want_dt, os, nd + 1);
    tu_assert_close(out, want, total, 0, 0, what);
    free(want);
    ingot_array_free(out);
}

static void test_stack(void **state) {
    (void)state;
    for (int t = 0; t < N_DTYPES; t++) {
        ingot_dtype dt = ALL_DTYPES[t];
        ingot_array *x[3] = {make(dt, S(2, 3), 2, 110), tu_noncontiguous_take(make(dt, S(2, 3), 2, 111)),
                             make(dt, S(2, 3), 2, 112)};
        check_stack(x, 3, 0, dt, ingot_dtype_name(dt));
        check_stack(x, 3, 1, dt, "middle axis");
        check_stack(x, 3, -1, dt, "new last axis");
        check_stack(x, 1, 2, dt, "one array");
        for (int i = 0; i < 3; i++)
            ingot_array_free(x[i]);
    }
    ingot_array *p[2] = {make(INGOT_I32, S(4), 1, 113), make(INGOT_BF16, S(4), 1, 114)};
    check_stack(p, 2, -1, INGOT_BF16, "i32 + bf16 -> bf16");
    ingot_array *s[2] = {make(INGOT_F32, S(0), 0, 115), make(INGOT_F32, S(0), 0, 116)};
    check_stack(s, 2, 0, INGOT_F32, "scalars");
    ingot_array *e[2] = {make(INGOT_F32, S(0, 2), 2, 117), make(INGOT_F32, S(0, 2), 2, 118)};
    check_stack(e, 2, 1, INGOT_F32, "empty");
    ingot_array *many[10];
    for (int i = 0; i < 10; i++)
        many[i] = make(INGOT_U8, S(2), 1, 120 + (uint64_t)i);
    check_stack(many, 10, 1, INGOT_U8, "10 arrays");
    for (int i = 0; i < 10; i++)
        ingot_array_free(many[i]);
    for (int i = 0; i < 2; i++) {
        ingot_array_free(p[i]);
        ingot_array_free(s[i]);
        ingot_array_free(e[i]);
    }
}

/* ---- gradients ---- */

typedef struct index_args {
    const ingot_array *idx;
    int axis;
} index_args;

static ingot_status concat_fn(ingot_array **outs, size_t n_out, ingot_array *const *in, size_t n,
                              void *user) {
    (void)n_out;
    return ingot_concat(&outs[0], (const ingot_array *const *)in, (int)n, *(int *)user);
}

static ingot_status stack_fn(ingot_array **outs, size_t n_out, ingot_array *const *in, size_t n,
                             void *user) {
    (void)n_out;
    return ingot_stack(&outs[0], (const ingot_array *const *)in, (int)n, *(int *)user);
}

static ingot_status take_fn(ingot_array **outs, size_t n_out, ingot_array *const *in, size_t n,
                            void *user) {
    (void)n_out;
    (void)n;
    const index_args *a = user;
    return ingot_take(&outs[0], in[0], a->idx, a->axis);
}

static ingot_status take_along_fn(ingot_array **outs, size_t n_out, ingot_array *const *in,
                                  size_t n, void *user) {
    (void)n_out;
    (void)n;
    const index_args *a = user;
    return ingot_take_along_axis(&outs[0], in[0], a->idx, a->axis);
}

static ingot_status put_along_fn(ingot_array **outs, size_t n_out, ingot_array *const *in, size_t n,
                                 void *user) {
    (void)n_out;
    (void)n;
    const index_args *a = user;
    return ingot_put_along_axis(&outs[0], in[0], a->idx, in[1], a->axis);
}

/* Every op here is piecewise linear, so central differences are exact up to
 * f32 rounding: eps 1e-3, rtol 1e-2, atol 1e-3 leave a wide margin. */
#define GC_EPS 1e-3
#define GC_RTOL 1e-2
#define GC_ATOL 1e-3

static void test_gradients_join(void **state) {
    (void)state;
    ingot_array *x[3] = {tu_random(INGOT_F32, S(2, 3), 2, 1, -1, 1),
                         tu_random(INGOT_F32, S(2, 1), 2, 2, -1, 1),
                         tu_random(INGOT_F32, S(2, 2), 2, 3, -1, 1)};
    int axis = 1;
    tu_gradcheck(concat_fn, &axis, x, 3, NULL, GC_EPS, GC_RTOL, GC_ATOL, "concat");
    ingot_array *many[10];
    for (int i = 0; i < 10; i++)
        many[i] = tu_random(INGOT_F32, S(1 + i % 2, 2), 2, 10 + (uint64_t)i, -1, 1);
    axis = 0;
    tu_gradcheck(concat_fn, &axis, many, 10, NULL, GC_EPS, GC_RTOL, GC_ATOL, "concat of 10");
    ingot_array *y[3] = {tu_random(INGOT_F32, S(2, 3), 2, 4, -1, 1),
                         tu_random(INGOT_F32, S(2, 3), 2, 5, -1, 1),
                         tu_random(INGOT_F32, S(2, 3), 2, 6, -1, 1)};
    axis = -1;
    tu_gradcheck(stack_fn, &axis, y, 3, NULL, GC_EPS, GC_RTOL, GC_ATOL, "stack");
    ingot_array *sm[9];
    for (int i = 0; i < 9; i++)
        sm[i] = tu_random(INGOT_F32, S(2), 1, 30 + (uint64_t)i, -1, 1);
    axis = 0;
    tu_gradcheck(stack_fn, &axis, sm, 9, NULL, GC_EPS, GC_RTOL, GC_ATOL, "stack of 9");
    for (int i = 0; i < 9; i++)
        ingot_array_free(sm[i]);
    for (int i = 0; i < 10; i++)
        ingot_array_free(many[i]);
    for (int i = 0; i < 3; i++) {
        ingot_array_free(x[i]);
        ingot_array_free(y[i]);
    }
}

static void test_gradients_index(void **state) {
    (void)state;
    ingot_array *a = tu_random(INGOT_F32, S(3, 4), 2, 40, -1, 1);
    /* take with repeated indices: gradients add up */
    ingot_array *ti = indices_of((double[]){1, -3, 3, 1, 1, 0}, INGOT_I32, S(2, 3), 2);
    index_args take_args = {ti, 1};
    tu_gradcheck(take_fn, &take_args, &a, 1, NULL, GC_EPS, GC_RTOL, GC_ATOL, "take");
    index_args take0 = {ti, 0};
    ingot_array *a5 = tu_random(INGOT_F32, S(4, 5), 2, 41, -1, 1);
    tu_gradcheck(take_fn, &take0, &a5, 1, NULL, GC_EPS, GC_RTOL, GC_ATOL, "take axis 0");
    /* take_along_axis with repeats and with a broadcast */
    ingot_array *ai = indices_of((double[]){0, 0, 3, -1, 2, 2}, INGOT_I64, S(3, 2), 2);
    index_args along = {ai, 1};
    tu_gradcheck(take_along_fn, &along, &a, 1, NULL, GC_EPS, GC_RTOL, GC_ATOL, "take_along_axis");
    ingot_array *a15 = tu_random(INGOT_F32, S(1, 4), 2, 42, -1, 1);
    tu_gradcheck(take_along_fn, &along, &a15, 1, NULL, GC_EPS, GC_RTOL, GC_ATOL,
                 "take_along_axis, a broadcast");
    /* put_along_axis: repeated indices (only the last write gets gradient)
     * and broadcast values */
    ingot_array *pi = indices_of((double[]){1, 1, -1, 3, 2, -2}, INGOT_I32, S(3, 2), 2);
    index_args put = {pi, 1};
    ingot_array *pin[2] = {a, tu_random(INGOT_F32, S(3, 2), 2, 43, -1, 1)};
    tu_gradcheck(put_along_fn, &put, pin, 2, NULL, GC_EPS, GC_RTOL, GC_ATOL, "put_along_axis");
    ingot_array *pb[2] = {a, tu_random(INGOT_F32, S(3, 1), 2, 44, -1, 1)};
    tu_gradcheck(put_along_fn, &put, pb, 2, NULL, GC_EPS, GC_RTOL, GC_ATOL,
                 "put_along_axis, broadcast values");
    ingot_array_free(pb[1]);
    ingot_array_free(pin[1]);
    ingot_array_free(pi);
    ingot_array_free(a15);
    ingot_array_free(ai);
    ingot_array_free(a5);
    ingot_array_free(ti);
    ingot_array_free(a);
}

/* Rows longer than the kernels' column blocks (whole-row copies and adds). */
static void test_wide_rows(void **state) {
    (void)state;
    ingot_array *a = tu_random(INGOT_F32, S(4, 700), 2, 130, -1, 1);
    ingot_array *ab = make(INGOT_BF16, S(4, 700), 2, 131);
    ingot_array *ti = indices_of((double[]){3, -1, 0, 3}, INGOT_I32, S(4), 1);
    ingot_array *ai = indices_of((double[]){1, -4}, INGOT_I64, S(2, 1), 2);
    ingot_array *v = tu_random(INGOT_F32, S(2, 700), 2, 132, -1, 1);
    check_take(a, ti, 0, "take rows");
    check_take(ab, ti, 0, "take bf16 rows");
    check_take_along(a, ai, 0, "take_along_axis rows");
    check_put_along(a, ai, v, 0, "put_along_axis rows");
    index_args take_args = {ti, 0}, along = {ai, 0};
    tu_gradcheck(take_fn, &take_args, &a, 1, NULL, GC_EPS, GC_RTOL, GC_ATOL, "take rows");
    tu_gradcheck(take_along_fn, &along, &a, 1, NULL, GC_EPS, GC_RTOL, GC_ATOL,
                 "take_along_axis rows");
    ingot_array *pin[2] = {a, v};
    tu_gradcheck(put_along_fn, &along, pin, 2, NULL, GC_EPS, GC_RTOL, GC_ATOL,
                 "put_along_axis rows");
    ingot_array_free(v);
    ingot_array_free(ai);
    ingot_array_free(ti);
    ingot_array_free(ab);
    ingot_array_free(a);
}

/* put_along_axis: exact gradients for a tiny case with a repeated index. */
static void test_put_along_grad_values(void **state) {
    (void)state;
    ingot_array *in[2] = {tu_from_f64((double[]){1, 2, 3}, INGOT_F32, S(3), 1),
                          tu_from_f64((double[]){10, 20, 30}, INGOT_F32, S(3), 1)};
    ingot_array *idx = indices_of((double[]){2, 0, 2}, INGOT_I32, S(3), 1);
    ingot_array *cot = tu_from_f64((double[]){0.5, 0.25, 0.125}, INGOT_F32, S(3), 1);
    index_args put = {idx, 0};
    ingot_array *outs[1], *grads[2];
    TU_OK(ingot_vjp(outs, grads, put_along_fn, &put, in, 2, &cot, 1));
    /* out = [20, 2, 30]: a[1] survives; values[1] and values[2] land */
    tu_assert_close(outs[0], (double[]){20, 2, 30}, 3, 0, 0, "value");
    tu_assert_close(grads[0], (double[]){0, 0.25, 0}, 3, 0, 0, "d a");
    tu_assert_close(grads[1], (double[]){0, 0.5, 0.125}, 3, 0, 0, "d values");
    ingot_array_free(grads[0]);
    ingot_array_free(grads[1]);
    ingot_array_free(outs[0]);
    ingot_array_free(cot);
    ingot_array_free(idx);
    ingot_array_free(in[0]);
    ingot_array_free(in[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_dtypes),     cmocka_unit_test(test_take_index_dtypes),
        cmocka_unit_test(test_take_shapes),     cmocka_unit_test(test_take_errors),
        cmocka_unit_test(test_take_along_axis), cmocka_unit_test(test_take_along_errors),
        cmocka_unit_test(test_put_along_axis),  cmocka_unit_test(test_put_along_errors),
        cmocka_unit_test(test_concat),          cmocka_unit_test(test_concat_errors),
        cmocka_unit_test(test_stack),           cmocka_unit_test(test_gradients_join),
        cmocka_unit_test(test_gradients_index), cmocka_unit_test(test_put_along_grad_values),
        cmocka_unit_test(test_wide_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
