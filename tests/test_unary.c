/* Unary elementwise ops: values against libm in double, dtypes, layouts,
 * integer wraparound, errors and gradient checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"

static double ref_neg(double x) { return -x; }
static double ref_square(double x) { return x * x; }
static double ref_rsqrt(double x) { return 1.0 / sqrt(x); }
static double ref_reciprocal(double x) { return 1.0 / x; }
static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double ref_silu(double x) { return x / (1.0 + exp(-x)); }
static double ref_gelu(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double ref_gelu_tanh(double x) {
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

typedef struct unary_case {
    const char *name;
    tu_unary_op op;
    double (*ref)(double);
    double lo, hi;   /* value-test domain */
    bool positive;   /* gradient check on [0.5, 2] instead of +-[0.1, 2] */
    bool keeps_ints; /* integer inputs keep their dtype */
} unary_case;

static const unary_case cases[] = {
    {"neg", ingot_neg, ref_neg, -5, 5, false, true},
    {"abs", ingot_abs, fabs, -5, 5, false, true},
    {"square", ingot_square, ref_square, -5, 5, false, true},
    {"exp", ingot_exp, exp, -5, 5, false, false},
    {"log", ingot_log, log, 0.01, 10, true, false},
    {"sqrt", ingot_sqrt, sqrt, 0, 10, true, false},
    {"rsqrt", ingot_rsqrt, ref_rsqrt, 0.01, 10, true, false},
    {"reciprocal", ingot_reciprocal, ref_reciprocal, 0.1, 10, true, false},
    {"tanh", ingot_tanh, tanh, -4, 4, false, false},
    {"sigmoid", ingot_sigmoid, ref_sigmoid, -8, 8, false, false},
    {"silu", ingot_silu, ref_silu, -8, 8, false, false},
    {"gelu", ingot_gelu, ref_gelu, -5, 5, false, false},
    {"gelu_tanh", ingot_gelu_tanh, ref_gelu_tanh, -5, 5, false, false},
    {"sin", ingot_sin, sin, -4, 4, false, false},
    {"cos", ingot_cos, cos, -4, 4, false, false},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* Runs op on x and compares with ref applied to x's values. */
static void check_values(const unary_case *c, const ingot_array *x, ingot_dtype want_dtype,
                         double rtol, double atol) {
    int64_t n = ingot_array_size(x);
    double *xv = tu_values(x);
    double *want = malloc((size_t)(n ? n : 1) * sizeof *want);
    for (int64_t i = 0; i < n; i++) want[i] = c->ref(xv[i]);
    ingot_array *y = NULL;
    TU_OK(c->op(&y, x));
    tu_assert_shape(y, want_dtype, ingot_array_shape(x), ingot_array_ndim(x));
    tu_assert_close(y, want, n, rtol, atol, c->name);
    ingot_array_free(y);
    free(want);
    free(xv);
}

static void test_f32_values(void **state) {
    (void)state;
    const int64_t shape[3] = {3, 5, 7};
    for (size_t k = 0; k < NCASES; k++) {
        ingot_array *x = tu_random(INGOT_F32, shape, 3, 100 + k, cases[k].lo, cases[k].hi);
        check_values(&cases[k], x, INGOT_F32, 1e-5, 1e-6);
        ingot_array *nc = tu_noncontiguous(x);
        check_values(&cases[k], nc, INGOT_F32, 1e-5, 1e-6);
        ingot_array_free(nc);
        ingot_array_free(x);
    }
}

/* Large enough for the parallel path; also a non-contiguous large input. */
static void test_f32_large(void **state) {
    (void)state;
    const int64_t shape[2] = {300, 257};
    for (size_t k = 0; k < NCASES; k += 3) {
        ingot_array *x = tu_random(INGOT_F32, shape, 2, 7 + k, cases[k].lo, cases[k].hi);
        check_values(&cases[k], x, INGOT_F32, 1e-5, 1e-6);
        ingot_array *nc = tu_noncontiguous(x);
        check_values(&cases[k], nc, INGOT_F32, 1e-5, 1e-6);
        ingot_array_free(nc);
        ingot_array_free(x);
    }
}

/* f16/bf16 are computed in f32 and rounded once: errors stay within about
 * one rounding of the output (2^-11 for f16, 2^-8 for bf16). */
static void test_half_values(void **state) {
    (void)state;
    const int64_t shape[2] = {6, 9};
    for (size_t k = 0; k < NCASES; k++) {
        ingot_array *h = tu_random(INGOT_F16, shape, 2, 200 + k, cases[k].lo, cases[k].hi);
        check_values(&cases[k], h, INGOT_F16, 2e-3, 1e-4);
        ingot_array *b = tu_random(INGOT_BF16, shape, 2, 300 + k, cases[k].lo, cases[k].hi);
        check_values(&cases[k], b, INGOT_BF16, 1e-2, 1e-3);
        ingot_array *nc = tu_noncontiguous(b);
        check_values(&cases[k], nc, INGOT_BF16, 1e-2, 1e-3);
        ingot_array_free(nc);
        ingot_array_free(b);
        ingot_array_free(h);
    }
}

/* Float ops turn integers and bool into f32; neg/abs/square keep them. */
static void test_integer_inputs(void **state) {
    (void)state;
    const int64_t shape[1] = {11};
    for (size_t k = 0; k < NCASES; k++) {
        double lo = cases[k].lo < 1 && cases[k].positive ? 1 : cases[k].lo;
        ingot_array *x = tu_random(INGOT_I32, shape, 1, 400 + k, lo, cases[k].hi);
        check_values(&cases[k], x, cases[k].keeps_ints ? INGOT_I32 : INGOT_F32, 1e-5, 1e-6);
        ingot_array_free(x);
    }
    const double bools[4] = {0, 1, 1, 0};
    const int64_t bshape[1] = {4};
    ingot_array *b = tu_from_f64(bools, INGOT_BOOL, bshape, 1);
    ingot_array *y = NULL;
    TU_OK(ingot_exp(&y, b));
    const double e[4] = {1, M_E, M_E, 1};
    tu_assert_shape(y, INGOT_F32, bshape, 1);
    tu_assert_close(y, e, 4, 1e-6, 0, "exp(bool)");
    ingot_array_free(y);
    /* neg/abs/square of bool stay bool with unchanged values */
    const tu_unary_op keep[3] = {ingot_neg, ingot_abs, ingot_square};
    for (int k = 0; k < 3; k++) {
        TU_OK(keep[k](&y, b));
        tu_assert_shape(y, INGOT_BOOL, bshape, 1);
        tu_assert_close(y, bools, 4, 0, 0, "bool neg/abs/square");
        ingot_array_free(y);
    }
    ingot_array_free(b);
}

/* Integer neg/abs/square wrap in the integer's width. */
static void check_int(tu_unary_op op, ingot_dtype dt, const void *in, const void *want, int64_t n,
                      const char *what) {
    const int64_t shape[1] = {n};
    ingot_array *x = NULL, *y = NULL;
    TU_OK(ingot_array_from_data(&x, in, dt, shape, 1));
    TU_OK(op(&y, x));
    tu_assert_shape(y, dt, shape, 1);
    size_t nbytes = (size_t)n * ingot_dtype_size(dt);
    unsigned char got[64];
    assert_true(nbytes <= sizeof got);
    TU_OK(ingot_array_to_host(got, sizeof got, dt, y));
    if (memcmp(got, want, nbytes) != 0) fail_msg("%s: integer result differs", what);
    ingot_array_free(y);
    ingot_array_free(x);
}

static void test_integer_wraparound(void **state) {
    (void)state;
    const int8_t i8[5] = {-128, -1, 0, 100, 127};
    const int8_t i8_neg[5] = {-128, 1, 0, -100, -127};
    const int8_t i8_abs[5] = {-128, 1, 0, 100, 127};
    const int8_t i8_sq[5] = {0, 1, 0, 16, 1}; /* 10000 = 39*256 + 16, 16129 = 63*256 + 1 */
    check_int(ingot_neg, INGOT_I8, i8, i8_neg, 5, "neg i8");
    check_int(ingot_abs, INGOT_I8, i8, i8_abs, 5, "abs i8");
    check_int(ingot_square, INGOT_I8, i8, i8_sq, 5, "square i8");
    const uint8_t u8[4] = {0, 1, 200, 16};
    const uint8_t u8_neg[4] = {0, 255, 56, 240};
    const uint8_t u8_sq[4] = {0, 1, 64, 0}; /* 40000 = 156*256 + 64 */
    check_int(ingot_neg, INGOT_U8, u8, u8_neg, 4, "neg u8");
    check_int(ingot_abs, INGOT_U8, u8, u8, 4, "abs u8");
    check_int(ingot_square, INGOT_U8, u8, u8_sq, 4, "square u8");
    const int32_t i32[3] = {INT32_MIN, -7, 65536};
    const int32_t i32_neg[3] = {INT32_MIN, 7, -65536};
    const int32_t i32_sq[3] = {0, 49, 0};
    check_int(ingot_neg, INGOT_I32, i32, i32_neg, 3, "neg i32");
    check_int(ingot_square, INGOT_I32, i32, i32_sq, 3, "square i32");
    const uint32_t u32[2] = {1, 65537};
    const uint32_t u32_neg[2] = {UINT32_MAX, UINT32_MAX - 65536};
    const uint32_t u32_sq[2] = {1, 131073}; /* (2^16+1)^2 = 2^32 + 2^17 + 1 */
    check_int(ingot_neg, INGOT_U32, u32, u32_neg, 2, "neg u32");
    check_int(ingot_square, INGOT_U32, u32, u32_sq, 2, "square u32");
    const int64_t i64[3] = {INT64_MIN, -3, INT64_MAX};
    const int64_t i64_neg[3] = {INT64_MIN, 3, -INT64_MAX};
    const int64_t i64_abs[3] = {INT64_MIN, 3, INT64_MAX};
    const int64_t i64_sq[3] = {0, 9, 1}; /* (2^63-1)^2 = 2^126 - 2^64 + 1 */
    check_int(ingot_neg, INGOT_I64, i64, i64_neg, 3, "neg i64");
    check_int(ingot_abs, INGOT_I64, i64, i64_abs, 3, "abs i64");
    check_int(ingot_square, INGOT_I64, i64, i64_sq, 3, "square i64");
}

static void test_special_values(void **state) {
    (void)state;
    const double x[6] = {0.0, -0.0, INFINITY, -INFINITY, NAN, -1.0};
    const int64_t shape[1] = {6};
    ingot_array *a = tu_from_f64(x, INGOT_F32, shape, 1);
    ingot_array *y = NULL;
    TU_OK(ingot_log(&y, a));
    const double lg[6] = {-INFINITY, -INFINITY, INFINITY, NAN, NAN, NAN};
    tu_assert_close(y, lg, 6, 0, 0, "log specials");
    ingot_array_free(y);
    TU_OK(ingot_sigmoid(&y, a));
    const double sg[6] = {0.5, 0.5, 1, 0, NAN, 1.0 / (1.0 + M_E)};
    tu_assert_close(y, sg, 6, 1e-6, 0, "sigmoid specials");
    ingot_array_free(y);
    TU_OK(ingot_exp(&y, a));
    const double ex[6] = {1, 1, INFINITY, 0, NAN, 1.0 / M_E};
    tu_assert_close(y, ex, 6, 1e-6, 0, "exp specials");
    ingot_array_free(y);
    ingot_array_free(a);
}

static void test_shapes(void **state) {
    (void)state;
    ingot_array *x = NULL, *y = NULL;
    const int64_t empty[3] = {2, 0, 3};
    TU_OK(ingot_zeros(&x, INGOT_F32, empty, 3));
    TU_OK(ingot_exp(&y, x));
    tu_assert_shape(y, INGOT_F32, empty, 3);
    ingot_array_free(y);
    TU_OK(ingot_neg(&y, x));
    tu_assert_shape(y, INGOT_F32, empty, 3);
    ingot_array_free(y);
    ingot_array_free(x);

    TU_OK(ingot_scalar(&x, INGOT_F32, 2.0));
    TU_OK(ingot_sqrt(&y, x));
    tu_assert_shape(y, INGOT_F32, NULL, 0);
    const double r2[1] = {M_SQRT2};
    tu_assert_close(y, r2, 1, 1e-6, 0, "sqrt scalar");
    ingot_array_free(y);
    ingot_array_free(x);

    const int64_t ones[3] = {1, 1, 1};
    TU_OK(ingot_full(&x, INGOT_BF16, ones, 3, -3.0));
    TU_OK(ingot_abs(&y, x));
    tu_assert_shape(y, INGOT_BF16, ones, 3);
    const double three[1] = {3};
    tu_assert_close(y, three, 1, 0, 0, "abs size-1");
    ingot_array_free(y);
    ingot_array_free(x);

    /* a transposed and a sliced view */
    const int64_t shape[2] = {4, 6};
    ingot_array *base = tu_random(INGOT_F32, shape, 2, 55, -2, 2);
    double *bv = tu_values(base);
    ingot_array *t = NULL;
    TU_OK(ingot_transpose(&t, base, NULL, 0));
    TU_OK(ingot_tanh(&y, t));
    double want[24];
    for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 4; j++) want[i * 4 + j] = tanh(bv[j * 6 + i]);
    }
    tu_assert_close(y, want, 24, 1e-5, 1e-6, "tanh transposed");
    ingot_array_free(y);
    ingot_array_free(t);
    const int64_t start[2] = {1, 5}, stop[2] = {4, -7}, step[2] = {2, -2};
    TU_OK(ingot_slice(&t, base, start, stop, step)); /* rows 1,3; cols 5,3,1 */
    TU_OK(ingot_square(&y, t));
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++) {
            double v = bv[(1 + 2 * i) * 6 + (5 - 2 * j)];
            want[i * 3 + j] = v * v;
        }
    }
    tu_assert_close(y, want, 6, 1e-6, 1e-7, "square sliced");
    ingot_array_free(y);
    ingot_array_free(t);
    free(bv);
    ingot_array_free(base);
}

static void test_errors(void **state) {
    (void)state;
    ingot_array *x = NULL, *y = (ingot_array *)&y;
    TU_OK(ingot_scalar(&x, INGOT_F32, 1.0));
    for (size_t k = 0; k < NCASES; k++) {
        TU_FAILS(cases[k].op(NULL, x), INGOT_ERR_INVALID_ARGUMENT, cases[k].name);
        TU_FAILS(cases[k].op(&y, NULL), INGOT_ERR_INVALID_ARGUMENT, cases[k].name);
        assert_null(y);
        y = (ingot_array *)&y;
    }
    ingot_array_free(x);
}

/* Gradient checks: eps 1e-3, rtol 1e-2, atol 1e-3 (f32 central differences).
 * Inputs stay away from kinks (abs at 0) and domain edges. */
static void test_gradients(void **state) {
    (void)state;
    const int64_t shape[2] = {3, 4};
    int64_t n = 12;
    for (size_t k = 0; k < NCASES; k++) {
        double *v = tu_random_values(n, 500 + k, 0.5, 2.0);
        if (!cases[k].positive) {
            for (int64_t i = 0; i < n; i++) v[i] = (i % 2 ? -1.0 : 1.0) * (v[i] - 0.4);
        }
        ingot_array *x = tu_from_f64(v, INGOT_F32, shape, 2);
        tu_gradcheck_unary(cases[k].op, x, 1e-3, 1e-2, 1e-3, cases[k].name);
        ingot_array *nc = tu_noncontiguous(x);
        tu_gradcheck_unary(cases[k].op, nc, 1e-3, 1e-2, 1e-3, cases[k].name);
        ingot_array_free(nc);
        ingot_array_free(x);
        free(v);
    }
}

/* The gradient of an f16 input comes back as f16 (computed in f16 ops). */
static ingot_status exp_fn(ingot_array **outs, size_t nout, ingot_array *const *in, size_t nin,
                           void *user) {
    (void)nout;
    (void)nin;
    (void)user;
    return ingot_exp(&outs[0], in[0]);
}

static void test_gradient_half(void **state) {
    (void)state;
    const double xv[3] = {-1.0, 0.5, 2.0};
    const double gv[3] = {1.0, 2.0, -0.5};
    const int64_t shape[1] = {3};
    ingot_array *x = tu_from_f64(xv, INGOT_F16, shape, 1);
    ingot_array *g = tu_from_f64(gv, INGOT_F16, shape, 1);
    ingot_array *grad = NULL;
    TU_OK(ingot_vjp(NULL, &grad, exp_fn, NULL, &x, 1, &g, 1));
    tu_assert_shape(grad, INGOT_F16, shape, 1);
    double want[3];
    for (int i = 0; i < 3; i++) want[i] = gv[i] * exp(xv[i]);
    tu_assert_close(grad, want, 3, 4e-3, 1e-3, "exp grad f16");
    ingot_array_free(grad);
    ingot_array_free(g);
    ingot_array_free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_values),     cmocka_unit_test(test_f32_large),
        cmocka_unit_test(test_half_values),    cmocka_unit_test(test_integer_inputs),
        cmocka_unit_test(test_integer_wraparound), cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_shapes),         cmocka_unit_test(test_errors),
        cmocka_unit_test(test_gradients),      cmocka_unit_test(test_gradient_half),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
