/* rms_norm and layer_norm: values against a naive double-precision reference
 * over host copies, dtypes, weights, views, Hugging Face rounding, errors and
 * gradient checks. */
#include <math.h>
#include <stdlib.h>

#include "common/testutil.h"

/* Naive reference over rows of D values: y = (x - mean) / sqrt(var + eps) *
 * w + b (mean 0 unless center); w, b may be NULL. */
static double *ref_norm(const ingot_array *x, const ingot_array *w, const ingot_array *b,
                        double eps, int center) {
    double *xv = tu_values(x);
    double *wv = w ? tu_values(w) : NULL;
    double *bv = b ? tu_values(b) : NULL;
    int64_t n = ingot_array_size(x), D = ingot_array_dim(x, -1);
    double *y = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    for (int64_t r = 0; D > 0 && r < n / D; r++) {
        const double *row = xv + r * D;
        double mean = 0, var = 0;
        for (int64_t j = 0; center && j < D; j++) mean += row[j] / (double)D;
        for (int64_t j = 0; j < D; j++) var += (row[j] - mean) * (row[j] - mean) / (double)D;
        for (int64_t j = 0; j < D; j++) {
            double v = (row[j] - mean) / sqrt(var + eps);
            y[r * D + j] = v * (wv ? wv[j] : 1.0) + (bv ? bv[j] : 0.0);
        }
    }
    free(xv);
    free(wv);
    free(bv);
    return y;
}

static void check_norm(const ingot_array *x, const ingot_array *w, const ingot_array *b, float eps,
                       int center, double tol, const char *what) {
    ingot_array *y = NULL;
    if (center) TU_OK(ingot_layer_norm(&y, x, w, b, eps));
    else TU_OK(ingot_rms_norm(&y, x, w, eps));
    tu_assert_shape(y, ingot_array_dtype(x), ingot_array_shape(x), ingot_array_ndim(x));
    double *want = ref_norm(x, w, b, eps, center);
    tu_assert_close(y, want, ingot_array_size(x), tol, tol, what);
    free(want);
    ingot_array_free(y);
}

static double tol_for(ingot_dtype dt) {
    return dt == INGOT_F32 ? 1e-5 : dt == INGOT_F16 ? 4e-3 : 2e-2;
}

static void test_rms_dtypes(void **state) {
    (void)state;
    const ingot_dtype dts[3] = {INGOT_F32, INGOT_F16, INGOT_BF16};
    int64_t xs[3] = {3, 5, 16}, ws[1] = {16};
    for (int t = 0; t < 3; t++) {
        ingot_array *x = tu_random(dts[t], xs, 3, 1 + t, -2, 2);
        ingot_array *w = tu_random(dts[t], ws, 1, 11 + t, 0.5, 1.5);
        check_norm(x, w, NULL, 1e-6f, 0, tol_for(dts[t]), "rms weight");
        check_norm(x, NULL, NULL, 1e-2f, 0, tol_for(dts[t]), "rms no weight");
        check_norm(x, w, NULL, 1e-5f, 1, tol_for(dts[t]), "layer weight");
        ingot_array *b = tu_random(dts[t], ws, 1, 21 + t, -1, 1);
        check_norm(x, w, b, 1e-5f, 1, tol_for(dts[t]), "layer weight bias");
        check_norm(x, NULL, b, 1e-5f, 1, tol_for(dts[t]), "layer bias only");
        check_norm(x, NULL, NULL, 1e-5f, 1, tol_for(dts[t]), "layer plain");
        ingot_array_free(x);
        ingot_array_free(w);
        ingot_array_free(b);
    }
}

/* Weights in another dtype than x: f32 weights are used as they are, others
 * are converted to x's dtype. */
static void test_mixed_weight_dtypes(void **state) {
    (void)state;
    int64_t xs[2] = {4, 8}, ws[1] = {8};
    ingot_array *x = tu_random(INGOT_BF16, xs, 2, 3, -2, 2);
    ingot_array *w32 = tu_random(INGOT_F32, ws, 1, 4, 0.5, 1.5);
    ingot_array *w16 = tu_random(INGOT_F16, ws, 1, 5, 0.5, 1.5);
    check_norm(x, w32, NULL, 1e-6f, 0, 2e-2, "bf16 x, f32 weight");
    check_norm(x, w16, NULL, 1e-6f, 0, 2e-2, "bf16 x, f16 weight");
    check_norm(x, w16, w32, 1e-6f, 1, 2e-2, "bf16 x, f16 weight, f32 bias");
    ingot_array *x32 = tu_random(INGOT_F32, xs, 2, 6, -2, 2);
    check_norm(x32, w16, NULL, 1e-6f, 0, 1e-5, "f32 x, f16 weight");
    ingot_array_free(x);
    ingot_array_free(x32);
    ingot_array_free(w32);
    ingot_array_free(w16);
}

/* The documented roundings, by hand: x = (1, -1), eps = 0.05, so
 * xhat = +-1/sqrt(1.05) = +-0.9759001. With a bf16 weight (1.5, 3) xhat is
 * first rounded to bf16 (0.9765625; Llama/Qwen), giving 1.46484375 -> 1.46875
 * and -2.9296875 -> -2.9375; with an f32 weight it is not (Gemma 3):
 * 1.46385 -> 1.4609375 and -2.92770 -> -2.921875. */
static void test_rms_hf_rounding(void **state) {
    (void)state;
    const double xv[2] = {1, -1}, wv[2] = {1.5, 3};
    int64_t s[1] = {2};
    ingot_array *x = tu_from_f64(xv, INGOT_BF16, s, 1);
    ingot_array *wb = tu_from_f64(wv, INGOT_BF16, s, 1);
    ingot_array *wf = tu_from_f64(wv, INGOT_F32, s, 1);
    ingot_array *y = NULL;
    TU_OK(ingot_rms_norm(&y, x, wb, 0.05f));
    const double llama[2] = {1.46875, -2.9375};
    tu_assert_close(y, llama, 2, 0, 0, "bf16 weight rounds xhat first");
    ingot_array_free(y);
    TU_OK(ingot_rms_norm(&y, x, wf, 0.05f));
    const double gemma[2] = {1.4609375, -2.921875};
    tu_assert_close(y, gemma, 2, 0, 0, "f32 weight rounds once");
    ingot_array_free(y);
    ingot_array_free(x);
    ingot_array_free(wb);
    ingot_array_free(wf);
}

static void test_views_and_sizes(void **state) {
    (void)state;
    int64_t xs[2] = {6, 8}, ws[1] = {8};
    ingot_array *base = tu_random(INGOT_F32, xs, 2, 7, -3, 3);
    ingot_array *x = tu_noncontiguous(base);
    ingot_array *w = tu_random(INGOT_F32, ws, 1, 8, 0.5, 1.5);
    ingot_array *wn = tu_noncontiguous(w);
    check_norm(x, wn, NULL, 1e-6f, 0, 1e-5, "rms non-contiguous");
    check_norm(x, wn, wn, 1e-6f, 1, 1e-5, "layer non-contiguous");
    /* A transposed view normalises along the original first axis. */
    ingot_array *xt = NULL;
    TU_OK(ingot_transpose(&xt, base, NULL, 0));
    int64_t ws6[1] = {6};
    ingot_array *w6 = tu_random(INGOT_F32, ws6, 1, 9, 0.5, 1.5);
    check_norm(xt, w6, NULL, 1e-6f, 0, 1e-5, "rms transposed");
    check_norm(xt, w6, w6, 1e-6f, 1, 1e-5, "layer transposed");
    /* A broadcast (0-stride) row. */
    ingot_array *xb = NULL;
    int64_t bs[3] = {2, 6, 8};
    TU_OK(ingot_broadcast_to(&xb, base, bs, 3));
    check_norm(xb, w, NULL, 1e-6f, 0, 1e-5, "rms broadcast");
    /* Size 1 and size 0. */
    int64_t one[1] = {1}, e0[2] = {0, 8}, e1[2] = {3, 0}, z[1] = {0};
    ingot_array *x1 = tu_random(INGOT_F32, one, 1, 10, 1, 2);
    check_norm(x1, NULL, NULL, 1e-6f, 0, 1e-5, "rms size 1");
    check_norm(x1, NULL, NULL, 1e-6f, 1, 1e-5, "layer size 1");
    ingot_array *x0 = tu_random(INGOT_F32, e0, 2, 11, 1, 2);
    ingot_array *y = NULL;
    TU_OK(ingot_rms_norm(&y, x0, w, 1e-6f));
    tu_assert_shape(y, INGOT_F32, e0, 2);
    ingot_array_free(y);
    ingot_array *xd0 = tu_random(INGOT_F32, e1, 2, 12, 1, 2);
    ingot_array *wd0 = tu_random(INGOT_F32, z, 1, 13, 1, 2);
    TU_OK(ingot_layer_norm(&y, xd0, wd0, wd0, 1e-6f));
    tu_assert_shape(y, INGOT_F32, e1, 2);
    ingot_array_free(y);
    ingot_array_free(base);
    ingot_array_free(x);
    ingot_array_free(w);
    ingot_array_free(wn);
    ingot_array_free(xt);
    ingot_array_free(w6);
    ingot_array_free(xb);
    ingot_array_free(x1);
    ingot_array_free(x0);
    ingot_array_free(xd0);
    ingot_array_free(wd0);
}

static void test_errors(void **state) {
    (void)state;
    int64_t xs[2] = {2, 4}, ws[1] = {4}, bad[1] = {3}, w2[2] = {1, 4};
    ingot_array *x = tu_random(INGOT_F32, xs, 2, 1, -1, 1);
    ingot_array *xi = tu_random(INGOT_I32, xs, 2, 1, -1, 1);
    ingot_array *w = tu_random(INGOT_F32, ws, 1, 2, -1, 1);
    ingot_array *wi = tu_random(INGOT_I32, ws, 1, 2, -1, 1);
    ingot_array *wb = tu_random(INGOT_F32, bad, 1, 2, -1, 1);
    ingot_array *wr = tu_random(INGOT_F32, w2, 2, 2, -1, 1);
    ingot_array *sc = NULL, *y = NULL;
    TU_OK(ingot_scalar(&sc, INGOT_F32, 1));
    TU_FAILS(ingot_rms_norm(NULL, x, w, 1e-6f), INGOT_ERR_INVALID_ARGUMENT, "out is NULL");
    TU_FAILS(ingot_rms_norm(&y, NULL, w, 1e-6f), INGOT_ERR_INVALID_ARGUMENT, "x is NULL");
    TU_FAILS(ingot_rms_norm(&y, xi, NULL, 1e-6f), INGOT_ERR_DTYPE, "x must be a float array");
    TU_FAILS(ingot_rms_norm(&y, sc, NULL, 1e-6f), INGOT_ERR_SHAPE, "at least one dim");
    TU_FAILS(ingot_rms_norm(&y, x, wi, 1e-6f), INGOT_ERR_DTYPE, "weight must be a float");
    TU_FAILS(ingot_rms_norm(&y, x, wb, 1e-6f), INGOT_ERR_SHAPE, "weight shape (3");
    TU_FAILS(ingot_rms_norm(&y, x, wr, 1e-6f), INGOT_ERR_SHAPE, "weight shape (1,4)");
    TU_FAILS(ingot_rms_norm(&y, x, w, -1.0f), INGOT_ERR_INVALID_ARGUMENT, "eps");
    TU_FAILS(ingot_rms_norm(&y, x, w, NAN), INGOT_ERR_INVALID_ARGUMENT, "eps");
    TU_FAILS(ingot_layer_norm(&y, x, w, wb, 1e-6f), INGOT_ERR_SHAPE, "layer_norm: bias shape");
    TU_FAILS(ingot_layer_norm(&y, x, w, wi, 1e-6f), INGOT_ERR_DTYPE, "bias must be a float");
    TU_FAILS(ingot_layer_norm(&y, xi, w, w, 1e-6f), INGOT_ERR_DTYPE, "layer_norm: x");
    assert_null(y);
    ingot_array_free(x);
    ingot_array_free(xi);
    ingot_array_free(w);
    ingot_array_free(wi);
    ingot_array_free(wb);
    ingot_array_free(wr);
    ingot_array_free(sc);
}

/* Gradient functions: inputs x, then weight and bias as listed. */
static ingot_status rms_fn(ingot_array **outs, size_t no, ingot_array *const *in, size_t ni,
                           void *user) {
    (void)no;
    (void)user;
    return ingot_rms_norm(outs, in[0], ni > 1 ? in[1] : NULL, 1e-3f);
}

static ingot_status layer_fn(ingot_array **outs, size_t no, ingot_array *const *in, size_t ni,
                             void *user) {
    (void)no;
    (void)user;
    return ingot_layer_norm(outs, in[0], ni > 1 ? in[1] : NULL, ni > 2 ? in[2] : NULL, 1e-3f);
}

/* f32 central differences, eps 1e-3, |num - ana| <= 1e-3 + 1e-2 |num|. */
static void test_gradients(void **state) {
    (void)state;
    int64_t xs[3] = {2, 3, 8}, ws[1] = {8};
    ingot_array *x = tu_random(INGOT_F32, xs, 3, 31, -2, 2);
    ingot_array *w = tu_random(INGOT_F32, ws, 1, 32, 0.5, 1.5);
    ingot_array *b = tu_random(INGOT_F32, ws, 1, 33, -1, 1);
    ingot_array *xn = tu_noncontiguous(x);
    ingot_array *in[3] = {x, w, b};
    tu_gradcheck(rms_fn, NULL, in, 2, NULL, 1e-3, 1e-2, 1e-3, "rms_norm x, weight");
    tu_gradcheck(rms_fn, NULL, in, 1, NULL, 1e-3, 1e-2, 1e-3, "rms_norm x");
    tu_gradcheck(layer_fn, NULL, in, 3, NULL, 1e-3, 1e-2, 1e-3, "layer_norm x, weight, bias");
    tu_gradcheck(layer_fn, NULL, in, 1, NULL, 1e-3, 1e-2, 1e-3, "layer_norm x");
    ingot_array *inn[2] = {xn, w};
    tu_gradcheck(rms_fn, NULL, inn, 2, NULL, 1e-3, 1e-2, 1e-3, "rms_norm non-contiguous");
    ingot_array_free(x);
    ingot_array_free(w);
    ingot_array_free(b);
    ingot_array_free(xn);
}

/* The weight gradient of a bf16 x with an f16 weight comes back as f16
 * through the conversion. */
static void test_grad_dtypes(void **state) {
    (void)state;
    int64_t xs[2] = {3, 4}, ws[1] = {4};
    ingot_array *x = tu_random(INGOT_BF16, xs, 2, 41, -2, 2);
    ingot_array *w = tu_random(INGOT_F16, ws, 1, 42, 0.5, 1.5);
    ingot_array *u = tu_random(INGOT_BF16, xs, 2, 43, -1, 1);
    ingot_array *prim[2] = {x, w}, *grads[2] = {NULL, NULL}, *outs[1] = {NULL};
    TU_OK(ingot_vjp(outs, grads, rms_fn, NULL, prim, 2, &u, 1));
    tu_assert_shape(grads[0], INGOT_BF16, xs, 2);
    tu_assert_shape(grads[1], INGOT_F16, ws, 1);
    /* dw_j = sum_r u_rj xhat_rj */
    double *xv = tu_values(x), *uv = tu_values(u), want[4] = {0};
    for (int r = 0; r < 3; r++) {
        double ss = 0;
        for (int j = 0; j < 4; j++) ss += xv[r * 4 + j] * xv[r * 4 + j] / 4;
        for (int j = 0; j < 4; j++) want[j] += uv[r * 4 + j] * xv[r * 4 + j] / sqrt(ss + 1e-3);
    }
    tu_assert_close(grads[1], want, 4, 2e-2, 2e-2, "bf16 rms weight gradient");
    /* no rows: the weight gradient is zeros */
    int64_t es[2] = {0, 4};
    ingot_array *x0 = tu_random(INGOT_F32, es, 2, 44, -1, 1), *u0 = NULL, *g0[2] = {NULL, NULL};
    TU_OK(ingot_zeros(&u0, INGOT_F32, es, 2));
    ingot_array *p0[2] = {x0, w};
    TU_OK(ingot_vjp(NULL, g0, layer_fn, NULL, p0, 2, &u0, 1));
    tu_assert_shape(g0[0], INGOT_F32, es, 2);
    const double zeros[4] = {0};
    tu_assert_close(g0[1], zeros, 4, 0, 0, "empty rows weight gradient");
    ingot_array_free(g0[0]);
    ingot_array_free(g0[1]);
    ingot_array_free(x0);
    ingot_array_free(u0);
    free(xv);
    free(uv);
    for (int i = 0; i < 2; i++) ingot_array_free(grads[i]);
    ingot_array_free(outs[0]);
    ingot_array_free(x);
    ingot_array_free(w);
    ingot_array_free(u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rms_dtypes),      cmocka_unit_test(test_mixed_weight_dtypes),
        cmocka_unit_test(test_rms_hf_rounding), cmocka_unit_test(test_views_and_sizes),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_grad_dtypes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
