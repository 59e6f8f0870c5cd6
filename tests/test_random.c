/* Counter-based random numbers: a Philox known answer, determinism across
 * runs and thread counts, distribution moments, categorical frequencies. */
#include "common/testutil.h"

#include <math.h>
#include <stdlib.h>

/* Random123's known-answer vector for Philox-4x32-10 with a zero counter
 * and a zero key (kat_vectors: philox4x32 10 ...). */
static const uint32_t philox_zero[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};

static void test_known_answer(void **state) {
    (void)state;
    ingot_rng rng = ingot_rng_seed(0);
    int64_t shape[1] = {4};
    ingot_array *u = NULL;
    TU_OK(ingot_random_uniform(&u, &rng, INGOT_F32, shape, 1, 0.0, 1.0));
    double e[4];
    for (int i = 0; i < 4; i++) e[i] = (double)(philox_zero[i] >> 8) * 0x1p-24;
    tu_assert_close(u, e, 4, 0, 0, "philox zero vector");
    assert_int_equal(rng.counter, 1);
    ingot_array_free(u);
}

static void test_determinism(void **state) {
    (void)state;
    int64_t shape[2] = {300, 347};
    ingot_array *a = NULL, *b = NULL, *c = NULL;
    ingot_set_num_threads(1);
    ingot_rng r1 = ingot_rng_seed(42);
    TU_OK(ingot_random_normal(&a, &r1, INGOT_F32, shape, 2, 0, 1));
    ingot_set_num_threads(2);
    ingot_rng r2 = ingot_rng_seed(42);
    TU_OK(ingot_random_normal(&b, &r2, INGOT_F32, shape, 2, 0, 1));
    ingot_set_num_threads(0);
    double *va = tu_values(a);
    tu_assert_close(b, va, 300 * 347, 0, 0, "same seed, other thread count");
    assert_int_equal(r1.counter, r2.counter);
    /* the next call continues the stream: new values */
    TU_OK(ingot_random_normal(&c, &r1, INGOT_F32, shape, 2, 0, 1));
    double *vc = tu_values(c);
    int same = 0;
    for (int i = 0; i < 300 * 347; i++) same += va[i] == vc[i];
    assert_true(same < 10);
    /* another seed, other values; split gives an independent stream */
    ingot_rng parent = ingot_rng_seed(42), child = ingot_rng_split(&parent);
    assert_true(child.key != 42);
    assert_int_equal(parent.counter, 1);
    ingot_rng again = ingot_rng_seed(42);
    assert_true(ingot_rng_split(&again).key == child.key);
    free(va);
    free(vc);
    ingot_array_free(a);
    ingot_array_free(b);
    ingot_array_free(c);
}

static void moments(const ingot_array *a, double *mean, double *var, double *lo, double *hi) {
    int64_t n = ingot_array_size(a);
    double *v = tu_values(a), s = 0, ss = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        s += v[i];
        *lo = fmin(*lo, v[i]);
        *hi = fmax(*hi, v[i]);
    }
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *var = ss / (double)n;
    free(v);
}

static void test_distributions(void **state) {
    (void)state;
    int64_t shape[1] = {200000};
    ingot_rng rng = ingot_rng_seed(7);
    double mean, var, lo, hi;
    ingot_dtype dtypes[3] = {INGOT_F32, INGOT_F16, INGOT_BF16};
    for (int d = 0; d < 3; d++) {
        ingot_array *u = NULL, *z = NULL;
        TU_OK(ingot_random_uniform(&u, &rng, dtypes[d], shape, 1, 2.0, 5.0));
        moments(u, &mean, &var, &lo, &hi);
        /* mean 3.5, variance 9/12; standard error of the mean ~0.002 */
        assert_true(fabs(mean - 3.5) < 0.02);
        assert_true(fabs(var - 0.75) < 0.02);
        assert_true(lo >= 2.0 && hi < 5.0);
        TU_OK(ingot_random_normal(&z, &rng, dtypes[d], shape, 1, 1.0, 2.0));
        moments(z, &mean, &var, &lo, &hi);
        assert_true(fabs(mean - 1.0) < 0.03);
        assert_true(fabs(var - 4.0) < 0.1);
        ingot_array_free(u);
        ingot_array_free(z);
    }
    /* [0, 1) in bf16: values just below 1 round to 1 and must be clamped */
    ingot_array *u = NULL;
    TU_OK(ingot_random_uniform(&u, &rng, INGOT_BF16, shape, 1, 0.0, 1.0));
    moments(u, &mean, &var, &lo, &hi);
    assert_true(hi < 1.0 && hi >= 0.99);
    ingot_array_free(u);
}

static void test_categorical(void **state) {
    (void)state;
    /* 20000 rows over 3 classes with probabilities 0, 0.2, 0.8. */
    enum { ROWS = 20000 };
    float *logits = malloc(ROWS * 3 * sizeof *logits);
    for (int r = 0; r < ROWS; r++) {
        logits[3 * r] = -INFINITY;
        logits[3 * r + 1] = logf(0.2f) + 3.0f; /* a shift changes nothing */
        logits[3 * r + 2] = logf(0.8f) + 3.0f;
    }
    int64_t shape[2] = {ROWS, 3};
    ingot_array *l = tu_from_f32(logits, shape, 2), *s = NULL;
    ingot_rng rng = ingot_rng_seed(3);
    TU_OK(ingot_random_categorical(&s, &rng, l, -1));
    int64_t oshape[1] = {ROWS};
    tu_assert_shape(s, INGOT_I64, oshape, 1);
    double *v = tu_values(s);
    int counts[3] = {0};
    for (int r = 0; r < ROWS; r++) counts[(int)v[r]]++;
    assert_int_equal(counts[0], 0);
    /* binomial standard deviation sqrt(20000 * 0.16) ~ 57 */
    assert_true(abs(counts[1] - 4000) < 300);
    free(v);
    free(logits);
    ingot_array_free(l);
    ingot_array_free(s);
}

static void test_errors(void **state) {
    (void)state;
    int64_t shape[1] = {3};
    ingot_array *a = NULL;
    ingot_rng rng = ingot_rng_seed(1);
    TU_FAILS(ingot_random_uniform(&a, &rng, INGOT_F32, shape, 1, 1.0, 1.0),
             INGOT_ERR_INVALID_ARGUMENT, "low < high");
    TU_FAILS(ingot_random_uniform(&a, &rng, INGOT_I32, shape, 1, 0.0, 1.0), INGOT_ERR_DTYPE,
             "not a float type");
    TU_FAILS(ingot_random_normal(&a, &rng, INGOT_F32, shape, 1, 0.0, -1.0),
             INGOT_ERR_INVALID_ARGUMENT, "std >= 0");
    TU_FAILS(ingot_random_normal(&a, NULL, INGOT_F32, shape, 1, 0.0, 1.0),
             INGOT_ERR_INVALID_ARGUMENT, "rng is NULL");
    int64_t empty[2] = {2, 0};
    ingot_array *l = NULL;
    TU_OK(ingot_zeros(&l, INGOT_F32, empty, 2));
    TU_FAILS(ingot_random_categorical(&a, &rng, l, 1), INGOT_ERR_SHAPE, "empty");
    ingot_array_free(l);
    assert_int_equal(rng.counter, 0); /* failed calls consume nothing */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),  cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_distributions), cmocka_unit_test(test_categorical),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
