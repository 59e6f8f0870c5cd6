/* Binary elementwise ops, comparisons and where: values against plain double
 * loops, broadcasting, dtypes and promotion, integer wraparound, NaN rules,
 * layouts, errors and gradient checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"

typedef ingot_status (*binary_fn)(ingot_array **out, const ingot_array *a, const ingot_array *b);

static double r_add(double a, double b) { return a + b; }
static double r_sub(double a, double b) { return a - b; }
static double r_mul(double a, double b) { return a * b; }
static double r_div(double a, double b) { return a / b; }
static double r_max(double a, double b) { return isnan(a) || isnan(b) ? NAN : (a >= b ? a : b); }
static double r_min(double a, double b) { return isnan(a) || isnan(b) ? NAN : (a <= b ? a : b); }
static double r_eq(double a, double b) { return a == b; }
static double r_ne(double a, double b) { return a != b; }
static double r_lt(double a, double b) { return a < b; }
static double r_le(double a, double b) { return a <= b; }
static double r_gt(double a, double b) { return a > b; }
static double r_ge(double a, double b) { return a >= b; }

typedef struct binary_case {
    const char *name;
    binary_fn fn;
    double (*ref)(double, double);
    double alo, ahi, blo, bhi; /* float domains */
    bool compare;              /* bool result */
    bool ints;                 /* keeps integer dtypes */
} binary_case;

static const binary_case cases[] = {
    {"add", ingot_add, r_add, -3, 3, -3, 3, false, true},
    {"sub", ingot_sub, r_sub, -3, 3, -3, 3, false, true},
    {"mul", ingot_mul, r_mul, -3, 3, -3, 3, false, true},
    {"div", ingot_div, r_div, -3, 3, 0.5, 3, false, false},
    {"pow", ingot_pow, pow, 0.5, 3, -2, 2, false, false},
    {"maximum", ingot_maximum, r_max, -3, 3, -3, 3, false, true},
    {"minimum", ingot_minimum, r_min, -3, 3, -3, 3, false, true},
    {"equal", ingot_equal, r_eq, -2, 2, -2, 2, true, true},
    {"not_equal", ingot_not_equal, r_ne, -2, 2, -2, 2, true, true},
    {"less", ingot_less, r_lt, -2, 2, -2, 2, true, true},
    {"less_equal", ingot_less_equal, r_le, -2, 2, -2, 2, true, true},
    {"greater", ingot_greater, r_gt, -2, 2, -2, 2, true, true},
    {"greater_equal", ingot_greater_equal, r_ge, -2, 2, -2, 2, true, true},
};
#define NCASES (sizeof cases / sizeof cases[0])
#define NDIFF 7 /* the first NDIFF cases are differentiable */

/* Flat index into an input of shape ishape for output element i (NumPy
 * broadcasting, dims aligned at the right). */
static int64_t bidx(int64_t i, const int64_t *oshape, int ond, const int64_t *ishape, int ind) {
    int64_t idx = 0, stride = 1;
    for (int d = ond - 1; d >= 0; d--) {
        int64_t c = i % oshape[d];
        i /= oshape[d];
        int j = d - (ond - ind);
        if (j < 0) continue;
        if (ishape[j] != 1) idx += c * stride;
        stride *= ishape[j];
    }
    return idx;
}

/* v wrapped to dtype's range, as two's-complement integer math would. */
static double wrap(double v, ingot_dtype dt) {
    if (dt == INGOT_BOOL) return v != 0;
    if (!ingot_dtype_is_integer(dt) || dt == INGOT_I64) return v;
    int64_t x = (int64_t)v;
    switch (dt) {
    case INGOT_U8: return (uint8_t)(uint64_t)x;
    case INGOT_I8: return (int8_t)(uint8_t)(uint64_t)x;
    case INGOT_I32: return (int32_t)(uint32_t)(uint64_t)x;
    case INGOT_U32: return (uint32_t)(uint64_t)x;
    default: return v;
    }
}

/* Runs c on a and b, checks dtype and shape, and compares with the double
 * reference (wrapped to integer dtypes). */
static void check(const binary_case *c, const ingot_array *a, const ingot_array *b,
                  ingot_dtype want_dtype, const int64_t *oshape, int ond, double rtol,
                  double atol) {
    int64_t n = 1;
    for (int d = 0; d < ond; d++) n *= oshape[d];
    double *av = tu_values(a), *bv = tu_values(b);
    double *want = malloc((size_t)(n ? n : 1) * sizeof *want);
    for (int64_t i = 0; i < n; i++) {
        double x = av[bidx(i, oshape, ond, ingot_array_shape(a), ingot_array_ndim(a))];
        double y = bv[bidx(i, oshape, ond, ingot_array_shape(b), ingot_array_ndim(b))];
        want[i] = wrap(c->ref(x, y), want_dtype);
    }
    ingot_array *out = NULL;
    TU_OK(c->fn(&out, a, b));
    tu_assert_shape(out, want_dtype, oshape, ond);
    tu_assert_close(out, want, n, c->compare ? 0 : rtol, c->compare ? 0 : atol, c->name);
    ingot_array_free(out);
    free(want);
    free(bv);
    free(av);
}

static ingot_dtype result_dtype(const binary_case *c, ingot_dtype dt) {
    if (c->compare) return INGOT_BOOL;
    return c->ints || ingot_dtype_is_float(dt) ? dt : INGOT_F32;
}

/* Float values, (3,1,4) with (2,4), scalars, non-contiguous inputs. */
static void test_float_values(void **state) {
    (void)state;
    const int64_t sa[3] = {3, 1, 4}, sb[2] = {2, 4}, so[3] = {3, 2, 4}, sm[2] = {4, 5};
    const ingot_dtype dts[3] = {INGOT_F32, INGOT_F16, INGOT_BF16};
    const double rtol[3] = {1e-6, 2e-3, 1e-2}, atol[3] = {1e-6, 1e-4, 1e-3};
    for (size_t k = 0; k < NCASES; k++) {
        const binary_case *c = &cases[k];
        for (int t = 0; t < 3; t++) {
            ingot_dtype dt = dts[t];
            uint64_t seed = 10 * k + (uint64_t)t;
            ingot_array *a = tu_random(dt, sa, 3, seed, c->alo, c->ahi);
            ingot_array *b = tu_random(dt, sb, 2, seed + 1000, c->blo, c->bhi);
            check(c, a, b, result_dtype(c, dt), so, 3, rtol[t], atol[t]);
            check(c, b, a, result_dtype(c, dt), so, 3, rtol[t], atol[t]);
            ingot_array *s = tu_random(dt, NULL, 0, seed + 2000, c->blo, c->bhi);
            check(c, a, s, result_dtype(c, dt), sa, 3, rtol[t], atol[t]);
            ingot_array *m = tu_random(dt, sm, 2, seed + 3000, c->alo, c->ahi);
            ingot_array *p = tu_random(dt, sm, 2, seed + 4000, c->blo, c->bhi);
            ingot_array *mn = tu_noncontiguous(m), *pn = tu_noncontiguous(p);
            check(c, mn, pn, result_dtype(c, dt), sm, 2, rtol[t], atol[t]);
            check(c, m, pn, result_dtype(c, dt), sm, 2, rtol[t], atol[t]);
            ingot_array *arr[7] = {a, b, s, m, p, mn, pn};
            for (int i = 0; i < 7; i++) ingot_array_free(arr[i]);
        }
    }
}

/* Large arrays take the parallel path; broadcast and non-contiguous too. */
static void test_large(void **state) {
    (void)state;
    const int64_t sa[2] = {300, 257}, sb[1] = {257}, sc[2] = {300, 1};
    for (size_t k = 0; k < NCASES; k += 2) {
        const binary_case *c = &cases[k];
        ingot_array *a = tu_random(INGOT_F32, sa, 2, 70 + k, c->alo, c->ahi);
        ingot_array *b = tu_random(INGOT_F32, sb, 1, 80 + k, c->blo, c->bhi);
        ingot_array *d = tu_random(INGOT_F32, sc, 2, 90 + k, c->blo, c->bhi);
        ingot_array *an = tu_noncontiguous(a);
        check(c, a, b, result_dtype(c, INGOT_F32), sa, 2, 1e-6, 1e-6);
        check(c, an, d, result_dtype(c, INGOT_F32), sa, 2, 1e-6, 1e-6);
        ingot_array *h = tu_random(INGOT_BF16, sa, 2, 95 + k, c->alo, c->ahi);
        check(c, h, h, result_dtype(c, INGOT_BF16), sa, 2, 1e-2, 1e-3);
        ingot_array *arr[5] = {a, b, d, an, h};
        for (int i = 0; i < 5; i++) ingot_array_free(arr[i]);
    }
}

/* Results are bitwise identical for any thread count. */
static void test_thread_counts(void **state) {
    (void)state;
    const int64_t sa[2] = {200, 301}, sb[2] = {200, 1};
    ingot_array *a = tu_random(INGOT_BF16, sa, 2, 41, -3, 3);
    ingot_array *b = tu_random(INGOT_F32, sb, 2, 42, 0.5, 2);
    const int threads[2] = {1, 3};
    uint16_t *got[2];
    size_t nbytes = 200 * 301 * sizeof(uint16_t);
    for (int t = 0; t < 2; t++) {
        ingot_set_num_threads(threads[t]);
        ingot_array *q = NULL, *h = NULL;
        TU_OK(ingot_div(&q, a, b)); /* f32 */
        TU_OK(ingot_astype(&h, q, INGOT_BF16));
        got[t] = malloc(nbytes);
        TU_OK(ingot_array_to_host(got[t], nbytes, INGOT_BF16, h));
        ingot_array_free(h);
        ingot_array_free(q);
    }
    ingot_set_num_threads(0);
    assert_memory_equal(got[0], got[1], nbytes);
    free(got[1]);
    free(got[0]);
    ingot_array_free(b);
    ingot_array_free(a);
}

/* Integer arithmetic and comparisons stay in the integer dtype (wrapping);
 * div and pow of integers give f32. */
static void test_integer_values(void **state) {
    (void)state;
    const ingot_dtype dts[5] = {INGOT_U8, INGOT_I8, INGOT_I32, INGOT_U32, INGOT_I64};
    const double lo[5] = {0, -128, -1000, 0, -100000}, hi[5] = {256, 128, 1000, 70000, 100000};
    const int64_t sa[3] = {3, 1, 4}, sb[2] = {2, 4}, so[3] = {3, 2, 4};
    for (size_t k = 0; k < NCASES; k++) {
        const binary_case *c = &cases[k];
        for (int t = 0; t < 5; t++) {
            bool f = !c->ints;
            double l = f ? 1 : lo[t], h = f ? 6 : hi[t];
            ingot_array *a = tu_random(dts[t], sa, 3, 600 + k * 7 + (uint64_t)t, l, h);
            ingot_array *b = tu_random(dts[t], sb, 2, 700 + k * 7 + (uint64_t)t, l, h);
            check(c, a, b, result_dtype(c, dts[t]), so, 3, 1e-6, 0);
            ingot_array *an = tu_noncontiguous(b);
            check(c, b, an, result_dtype(c, dts[t]), sb, 2, 1e-6, 0);
            ingot_array_free(an);
            ingot_array_free(b);
            ingot_array_free(a);
        }
    }
}

/* Exact integer results compared bytewise. */
static void check_exact(binary_fn fn, ingot_dtype dt, const void *a, const void *b,
                        ingot_dtype want_dt, const void *want, int64_t n, const char *what) {
    const int64_t shape[1] = {n};
    ingot_array *x = NULL, *y = NULL, *out = NULL;
    TU_OK(ingot_array_from_data(&x, a, dt, shape, 1));
    TU_OK(ingot_array_from_data(&y, b, dt, shape, 1));
    TU_OK(fn(&out, x, y));
    tu_assert_shape(out, want_dt, shape, 1);
    unsigned char got[64];
    size_t nbytes = (size_t)n * ingot_dtype_size(want_dt);
    assert_true(nbytes <= sizeof got);
    TU_OK(ingot_array_to_host(got, sizeof got, want_dt, out));
    if (memcmp(got, want, nbytes) != 0) fail_msg("%s: result differs", what);
    ingot_array_free(out);
    ingot_array_free(y);
    ingot_array_free(x);
}

static void test_integer_wraparound(void **state) {
    (void)state;
    const int32_t i32a[3] = {INT32_MAX, INT32_MIN, 65536}, i32b[3] = {1, 1, 65536};
    const int32_t i32_add[3] = {INT32_MIN, INT32_MIN + 1, 131072};
    const int32_t i32_sub[3] = {INT32_MAX - 1, INT32_MAX, 0};
    const int32_t i32_mul[3] = {INT32_MAX, INT32_MIN, 0};
    check_exact(ingot_add, INGOT_I32, i32a, i32b, INGOT_I32, i32_add, 3, "add i32");
    check_exact(ingot_sub, INGOT_I32, i32a, i32b, INGOT_I32, i32_sub, 3, "sub i32");
    check_exact(ingot_mul, INGOT_I32, i32a, i32b, INGOT_I32, i32_mul, 3, "mul i32");
    const uint32_t u32a[2] = {0, UINT32_MAX}, u32b[2] = {1, 2};
    const uint32_t u32_sub[2] = {UINT32_MAX, UINT32_MAX - 2}, u32_mul[2] = {0, UINT32_MAX - 1};
    check_exact(ingot_sub, INGOT_U32, u32a, u32b, INGOT_U32, u32_sub, 2, "sub u32");
    check_exact(ingot_mul, INGOT_U32, u32a, u32b, INGOT_U32, u32_mul, 2, "mul u32");
    const int64_t i64a[3] = {INT64_MAX, INT64_MIN, (int64_t)1 << 62};
    const int64_t i64b[3] = {1, 1, 4};
    const int64_t i64_add[3] = {INT64_MIN, INT64_MIN + 1, ((int64_t)1 << 62) + 4};
    const int64_t i64_sub[3] = {INT64_MAX - 1, INT64_MAX, ((int64_t)1 << 62) - 4};
    const int64_t i64_mul[3] = {INT64_MAX, INT64_MIN, 0};
    const int64_t i64_max[3] = {INT64_MAX, 1, (int64_t)1 << 62};
    const int64_t i64_min[3] = {1, INT64_MIN, 4};
    check_exact(ingot_add, INGOT_I64, i64a, i64b, INGOT_I64, i64_add, 3, "add i64");
    check_exact(ingot_sub, INGOT_I64, i64a, i64b, INGOT_I64, i64_sub, 3, "sub i64");
    check_exact(ingot_mul, INGOT_I64, i64a, i64b, INGOT_I64, i64_mul, 3, "mul i64");
    check_exact(ingot_maximum, INGOT_I64, i64a, i64b, INGOT_I64, i64_max, 3, "maximum i64");
    check_exact(ingot_minimum, INGOT_I64, i64a, i64b, INGOT_I64, i64_min, 3, "minimum i64");
    /* i64 values that differ only beyond 2^53 still compare exactly */
    const int64_t c1[2] = {INT64_MAX, INT64_MAX - 1}, c2[2] = {INT64_MAX - 1, INT64_MAX - 1};
    const uint8_t gt[2] = {1, 0}, eq[2] = {0, 1};
    check_exact(ingot_greater, INGOT_I64, c1, c2, INGOT_BOOL, gt, 2, "greater i64");
    check_exact(ingot_equal, INGOT_I64, c1, c2, INGOT_BOOL, eq, 2, "equal i64");
    const int8_t i8a[3] = {127, -128, -128}, i8b[3] = {1, 1, -128};
    const int8_t i8_add[3] = {-128, -127, 0}, i8_mul[3] = {127, -128, 0};
    check_exact(ingot_add, INGOT_I8, i8a, i8b, INGOT_I8, i8_add, 3, "add i8");
    check_exact(ingot_mul, INGOT_I8, i8a, i8b, INGOT_I8, i8_mul, 3, "mul i8");
    const uint8_t u8a[2] = {255, 0}, u8b[2] = {1, 1}, u8_add[2] = {0, 1}, u8_sub[2] = {254, 255};
    check_exact(ingot_add, INGOT_U8, u8a, u8b, INGOT_U8, u8_add, 2, "add u8");
    check_exact(ingot_sub, INGOT_U8, u8a, u8b, INGOT_U8, u8_sub, 2, "sub u8");
    /* bool arithmetic stays bool: add and maximum are OR, mul and minimum AND,
     * sub XOR (integer math stored as value != 0) */
    const uint8_t ba[4] = {1, 1, 0, 0}, bb[4] = {1, 0, 1, 0};
    const uint8_t b_or[4] = {1, 1, 1, 0}, b_and[4] = {1, 0, 0, 0}, b_xor[4] = {0, 1, 1, 0};
    check_exact(ingot_add, INGOT_BOOL, ba, bb, INGOT_BOOL, b_or, 4, "add bool");
    check_exact(ingot_maximum, INGOT_BOOL, ba, bb, INGOT_BOOL, b_or, 4, "maximum bool");
    check_exact(ingot_mul, INGOT_BOOL, ba, bb, INGOT_BOOL, b_and, 4, "mul bool");
    check_exact(ingot_minimum, INGOT_BOOL, ba, bb, INGOT_BOOL, b_and, 4, "minimum bool");
    check_exact(ingot_sub, INGOT_BOOL, ba, bb, INGOT_BOOL, b_xor, 4, "sub bool");
    check_exact(ingot_not_equal, INGOT_BOOL, ba, bb, INGOT_BOOL, b_xor, 4, "not_equal bool");
}

/* Mixed dtypes follow ingot_promote_types. */
static void promo(binary_fn fn, const double *a, ingot_dtype adt, const double *b,
                  ingot_dtype bdt, ingot_dtype want_dt, const double *want, int64_t n,
                  const char *what) {
    const int64_t shape[1] = {n};
    ingot_array *x = tu_from_f64(a, adt, shape, 1), *y = tu_from_f64(b, bdt, shape, 1);
    ingot_array *out = NULL;
    TU_OK(fn(&out, x, y));
    tu_assert_shape(out, want_dt, shape, 1);
    tu_assert_close(out, want, n, 1e-6, 0, what);
    ingot_array_free(out);
    ingot_array_free(y);
    ingot_array_free(x);
}

static void test_promotion(void **state) {
    (void)state;
    const double i[2] = {1, 2}, h[2] = {0.5, 0.25}, ih[2] = {1.5, 2.25};
    promo(ingot_add, i, INGOT_I32, h, INGOT_F16, INGOT_F16, ih, 2, "i32+f16");
    promo(ingot_add, h, INGOT_BF16, i, INGOT_U8, INGOT_BF16, ih, 2, "bf16+u8");
    const double u[2] = {200, 255}, s[2] = {-100, 127}, us[2] = {100, 382};
    promo(ingot_add, u, INGOT_U8, s, INGOT_I8, INGOT_I32, us, 2, "u8+i8");
    const double big[1] = {4000000000.0}, m1[1] = {-1}, bm[1] = {3999999999.0};
    promo(ingot_add, big, INGOT_U32, m1, INGOT_I32, INGOT_I64, bm, 1, "u32+i32");
    const double bo[2] = {1, 0}, f[2] = {0.5, 0.5}, bof[2] = {1.5, 0.5};
    promo(ingot_add, bo, INGOT_BOOL, f, INGOT_F32, INGOT_F32, bof, 2, "bool+f32");
    const double hh[2] = {1, 0.5};
    promo(ingot_add, h, INGOT_F16, h, INGOT_BF16, INGOT_F32, hh, 2, "f16+bf16");
    const double n7[2] = {7, -7}, d2[2] = {2, 2}, q[2] = {3.5, -3.5}, p[2] = {49, 49};
    promo(ingot_div, n7, INGOT_I32, d2, INGOT_I32, INGOT_F32, q, 2, "div i32");
    promo(ingot_pow, n7, INGOT_I8, d2, INGOT_I8, INGOT_F32, p, 2, "pow i8");
    const double one[1] = {1}, zero[1] = {0}, inf[1] = {INFINITY};
    promo(ingot_div, one, INGOT_BOOL, zero, INGOT_BOOL, INGOT_F32, inf, 1, "div bool");
    /* comparisons compare in the promoted dtype */
    const double ci[3] = {1, 2, 3}, cf[3] = {1.5, 2, 2.5}, lt[3] = {1, 0, 0};
    promo(ingot_less, ci, INGOT_I32, cf, INGOT_F32, INGOT_BOOL, lt, 3, "i32<f32");
    const double cu[1] = {200}, cs[1] = {-1}, gt[1] = {1};
    promo(ingot_greater, cu, INGOT_U8, cs, INGOT_I8, INGOT_BOOL, gt, 1, "u8>i8");
}

/* maximum/minimum propagate NaN; comparisons with NaN are false except !=. */
static void test_nan(void **state) {
    (void)state;
    const double a[5] = {NAN, 1, NAN, 2, -0.0}, b[5] = {1, NAN, NAN, -1, 0.0};
    const int64_t shape[1] = {5};
    ingot_array *x = tu_from_f64(a, INGOT_F32, shape, 1), *y = tu_from_f64(b, INGOT_F32, shape, 1);
    const double mx[5] = {NAN, NAN, NAN, 2, 0}, mn[5] = {NAN, NAN, NAN, -1, 0};
    const double eq[5] = {0, 0, 0, 0, 1}, ne[5] = {1, 1, 1, 1, 0}, lt[5] = {0, 0, 0, 0, 0};
    const double le[5] = {0, 0, 0, 0, 1}, gt[5] = {0, 0, 0, 1, 0}, ge[5] = {0, 0, 0, 1, 1};
    const struct {
        binary_fn fn;
        const double *want;
    } t[8] = {{ingot_maximum, mx}, {ingot_minimum, mn}, {ingot_equal, eq}, {ingot_not_equal, ne},
              {ingot_less, lt},    {ingot_less_equal, le}, {ingot_greater, gt},
              {ingot_greater_equal, ge}};
    for (int k = 0; k < 8; k++) {
        ingot_array *out = NULL;
        TU_OK(t[k].fn(&out, x, y));
        tu_assert_close(out, t[k].want, 5, 0, 0, "nan rules");
        ingot_array_free(out);
    }
    ingot_array *hx = tu_from_f64(a, INGOT_BF16, shape, 1);
    ingot_array *hy = tu_from_f64(b, INGOT_F16, shape, 1);
    ingot_array *out = NULL;
    TU_OK(ingot_maximum(&out, hx, hy));
    tu_assert_close(out, mx, 5, 0, 0, "nan maximum bf16/f16");
    ingot_array_free(out);
    ingot_array_free(hy);
    ingot_array_free(hx);
    ingot_array_free(y);
    ingot_array_free(x);
}

static void test_where(void **state) {
    (void)state;
    const int64_t sc[2] = {3, 1}, sa[2] = {1, 4}, so[2] = {3, 4};
    const double cv[3] = {1, 0, 1};
    ingot_array *c = tu_from_f64(cv, INGOT_BOOL, sc, 2);
    ingot_array *a = tu_random(INGOT_F32, sa, 2, 11, -1, 1);
    ingot_array *b = NULL;
    TU_OK(ingot_scalar(&b, INGOT_F32, 7.0));
    double *av = tu_values(a), want[12];
    for (int i = 0; i < 12; i++) want[i] = cv[i / 4] ? av[i % 4] : 7.0;
    ingot_array *out = NULL;
    TU_OK(ingot_where(&out, c, a, b));
    tu_assert_shape(out, INGOT_F32, so, 2);
    tu_assert_close(out, want, 12, 0, 0, "where broadcast");
    ingot_array_free(out);

    /* any cond dtype: nonzero is true, NaN counts, -0 does not */
    const double fc[4] = {0.0, -0.0, NAN, 2.5}, ic[4] = {0, 3, -1, 0};
    const double x4[4] = {1, 2, 3, 4}, y4[4] = {-1, -2, -3, -4};
    const double wf[4] = {-1, -2, 3, 4}, wi[4] = {-1, 2, 3, -4};
    const int64_t s4[1] = {4};
    const ingot_dtype cdts[4] = {INGOT_F32, INGOT_F16, INGOT_BF16, INGOT_I64};
    ingot_array *x = tu_from_f64(x4, INGOT_I32, s4, 1), *y = tu_from_f64(y4, INGOT_F16, s4, 1);
    for (int k = 0; k < 4; k++) {
        ingot_array *cc = tu_from_f64(k < 3 ? fc : ic, cdts[k], s4, 1);
        TU_OK(ingot_where(&out, cc, x, y)); /* i32 with f16 gives f16 */
        tu_assert_shape(out, INGOT_F16, s4, 1);
        tu_assert_close(out, k < 3 ? wf : wi, 4, 0, 0, "where cond dtypes");
        ingot_array_free(out);
        ingot_array_free(cc);
    }
    const int64_t ci64[4] = {0, 5, 0, 7};
    ingot_array *cc = NULL;
    TU_OK(ingot_array_from_data(&cc, ci64, INGOT_I64, s4, 1));
    ingot_array *bx = tu_from_f64(ic, INGOT_BOOL, s4, 1);
    TU_OK(ingot_where(&out, cc, bx, cc)); /* bool with i64 gives i64 */
    const double wb[4] = {0, 1, 0, 0};
    tu_assert_shape(out, INGOT_I64, s4, 1);
    tu_assert_close(out, wb, 4, 0, 0, "where bool/i64");
    ingot_array_free(out);
    ingot_array_free(bx);
    ingot_array_free(cc);

    /* non-contiguous bf16 operands on the large (parallel) path */
    const int64_t sl[2] = {260, 130};
    ingot_array *lc = tu_random(INGOT_U8, sl, 2, 12, 0, 2);
    ingot_array *la = tu_random(INGOT_BF16, sl, 2, 13, -5, 5);
    ingot_array *lb = tu_random(INGOT_BF16, sl, 2, 14, -5, 5);
    ingot_array *lan = tu_noncontiguous(la), *lcn = tu_noncontiguous(lc);
    double *lcv = tu_values(lc), *lav = tu_values(la), *lbv = tu_values(lb);
    double *lw = malloc(260 * 130 * sizeof *lw);
    for (int i = 0; i < 260 * 130; i++) lw[i] = lcv[i] ? lav[i] : lbv[i];
    TU_OK(ingot_where(&out, lcn, lan, lb));
    tu_assert_shape(out, INGOT_BF16, sl, 2);
    tu_assert_close(out, lw, 260 * 130, 0, 0, "where large");
    ingot_array_free(out);
    free(lw);
    free(lbv);
    free(lav);
    free(lcv);
    ingot_array *arr[10] = {lc, la, lb, lan, lcn, x, y, a, b, c};
    for (int i = 0; i < 10; i++) ingot_array_free(arr[i]);
    free(av);
}

static void test_shapes(void **state) {
    (void)state;
    ingot_array *a = NULL, *b = NULL, *out = NULL;
    const int64_t s03[2] = {0, 3}, s3[1] = {3}, s20[2] = {2, 0}, s1[1] = {1}, s21[2] = {2, 1};
    const int64_t s10[2] = {1, 0};
    TU_OK(ingot_zeros(&a, INGOT_F32, s03, 2));
    TU_OK(ingot_ones(&b, INGOT_F32, s3, 1));
    TU_OK(ingot_add(&out, a, b));
    tu_assert_shape(out, INGOT_F32, s03, 2);
    ingot_array_free(out);
    TU_OK(ingot_less(&out, b, a));
    tu_assert_shape(out, INGOT_BOOL, s03, 2);
    ingot_array_free(out);
    TU_OK(ingot_where(&out, a, a, b));
    tu_assert_shape(out, INGOT_F32, s03, 2);
    ingot_array_free(out);
    ingot_array_free(a);
    ingot_array_free(b);
    TU_OK(ingot_zeros(&a, INGOT_I32, s21, 2));
    TU_OK(ingot_zeros(&b, INGOT_I32, s10, 2));
    TU_OK(ingot_mul(&out, a, b));
    tu_assert_shape(out, INGOT_I32, s20, 2);
    ingot_array_free(out);
    ingot_array_free(b);
    TU_OK(ingot_full(&b, INGOT_I32, s1, 1, 5));
    TU_OK(ingot_sub(&out, b, a));
    tu_assert_shape(out, INGOT_I32, s21, 2);
    const double five[2] = {5, 5};
    tu_assert_close(out, five, 2, 0, 0, "(1)-(2,1)");
    ingot_array_free(out);
    ingot_array_free(b);
    ingot_array_free(a);
    TU_OK(ingot_scalar(&a, INGOT_F32, 3));
    TU_OK(ingot_scalar(&b, INGOT_F32, 4));
    TU_OK(ingot_pow(&out, a, b));
    tu_assert_shape(out, INGOT_F32, NULL, 0);
    const double p[1] = {81};
    tu_assert_close(out, p, 1, 1e-6, 0, "scalar pow");
    ingot_array_free(out);
    ingot_array_free(b);
    ingot_array_free(a);
}

static void test_errors(void **state) {
    (void)state;
    const int64_t s34[2] = {3, 4}, s5[1] = {5}, s4[1] = {4};
    ingot_array *a = NULL, *b = NULL, *c = NULL, *out = (ingot_array *)&out;
    TU_OK(ingot_zeros(&a, INGOT_F32, s34, 2));
    TU_OK(ingot_zeros(&b, INGOT_F32, s5, 1));
    TU_OK(ingot_zeros(&c, INGOT_F32, s4, 1));
    for (size_t k = 0; k < NCASES; k++) {
        TU_FAILS(cases[k].fn(NULL, a, a), INGOT_ERR_INVALID_ARGUMENT, cases[k].name);
        TU_FAILS(cases[k].fn(&out, NULL, a), INGOT_ERR_INVALID_ARGUMENT, cases[k].name);
        assert_null(out);
        TU_FAILS(cases[k].fn(&out, a, NULL), INGOT_ERR_INVALID_ARGUMENT, cases[k].name);
        TU_FAILS(cases[k].fn(&out, a, b), INGOT_ERR_SHAPE, "(3,4)");
        assert_non_null(strstr(ingot_last_error(), "(5"));
        assert_non_null(strstr(ingot_last_error(), cases[k].name));
        assert_null(out);
    }
    TU_FAILS(ingot_where(NULL, a, a, a), INGOT_ERR_INVALID_ARGUMENT, "where");
    TU_FAILS(ingot_where(&out, NULL, a, a), INGOT_ERR_INVALID_ARGUMENT, "cond");
    TU_FAILS(ingot_where(&out, a, NULL, a), INGOT_ERR_INVALID_ARGUMENT, "where");
    TU_FAILS(ingot_where(&out, a, a, NULL), INGOT_ERR_INVALID_ARGUMENT, "where");
    TU_FAILS(ingot_where(&out, c, a, b), INGOT_ERR_SHAPE, "(3,4)");
    assert_non_null(strstr(ingot_last_error(), "(5"));
    assert_null(out);
    ingot_array_free(c);
    ingot_array_free(b);
    ingot_array_free(a);
}

/* ---- gradients ---- */

static ingot_status binary_apply(ingot_array **outs, size_t nout, ingot_array *const *in,
                                 size_t nin, void *user) {
    (void)nout;
    (void)nin;
    const binary_case *c = user;
    return c->fn(&outs[0], in[0], in[1]);
}

/* Central differences: eps 1e-3, rtol 1e-2, atol 1e-3 on f32, for same
 * shapes, (3,4) with (4), (2,1,3) with (4,1) and a scalar with (2,3). */
static void test_gradients(void **state) {
    (void)state;
    const int64_t s34[2] = {3, 4}, s4[1] = {4}, s213[3] = {2, 1, 3}, s41[2] = {4, 1};
    const int64_t s23[2] = {2, 3};
    const struct {
        const int64_t *a, *b;
        int an, bn;
    } shapes[4] = {{s34, s34, 2, 2}, {s34, s4, 2, 1}, {s213, s41, 3, 2}, {NULL, s23, 0, 2}};
    for (size_t k = 0; k < NDIFF; k++) {
        const binary_case *c = &cases[k];
        for (int t = 0; t < 4; t++) {
            uint64_t seed = 900 + 10 * k + (uint64_t)t;
            ingot_array *in[2] = {tu_random(INGOT_F32, shapes[t].a, shapes[t].an, seed, c->alo,
                                            c->ahi),
                                  tu_random(INGOT_F32, shapes[t].b, shapes[t].bn, seed + 5,
                                            c->blo, c->bhi)};
            tu_gradcheck(binary_apply, (void *)c, in, 2, NULL, 1e-3, 1e-2, 1e-3, c->name);
            if (t == 0) {
                ingot_array *nc[2] = {tu_noncontiguous(in[0]), tu_noncontiguous(in[1])};
                tu_gradcheck(binary_apply, (void *)c, nc, 2, NULL, 1e-3, 1e-2, 1e-3, c->name);
                ingot_array_free(nc[1]);
                ingot_array_free(nc[0]);
            }
            ingot_array_free(in[1]);
            ingot_array_free(in[0]);
        }
    }
}

static ingot_status where_apply(ingot_array **outs, size_t nout, ingot_array *const *in,
                                size_t nin, void *user) {
    (void)nout;
    (void)nin;
    return ingot_where(&outs[0], user, in[0], in[1]);
}

static void test_where_gradient(void **state) {
    (void)state;
    const int64_t sc[2] = {3, 1}, sa[2] = {3, 4}, sb[1] = {4};
    const double cv[3] = {1, 0, 1};
    ingot_array *c = tu_from_f64(cv, INGOT_BOOL, sc, 2);
    ingot_array *in[2] = {tu_random(INGOT_F32, sa, 2, 31, -2, 2),
                          tu_random(INGOT_F32, sb, 1, 32, -2, 2)};
    tu_gradcheck(where_apply, c, in, 2, NULL, 1e-3, 1e-2, 1e-3, "where");
    ingot_array_free(in[1]);
    ingot_array_free(in[0]);
    ingot_array_free(c);
}

/* Exact gradients for the documented conventions: ties in maximum/minimum
 * send the gradient to a; pow's exponent gradient is 0 where a <= 0. */
static void vjp2(binary_fn fn, const double *a, const double *b, int64_t n, const double *want_a,
                 const double *want_b, const char *what) {
    binary_case c = {what, fn, NULL, 0, 0, 0, 0, false, false};
    const int64_t shape[1] = {n};
    ingot_array *in[2] = {tu_from_f64(a, INGOT_F32, shape, 1), tu_from_f64(b, INGOT_F32, shape, 1)};
    ingot_array *ones = NULL, *grads[2] = {NULL, NULL};
    TU_OK(ingot_ones(&ones, INGOT_F32, shape, 1));
    TU_OK(ingot_vjp(NULL, grads, binary_apply, &c, in, 2, &ones, 1));
    tu_assert_close(grads[0], want_a, n, 1e-6, 0, what);
    tu_assert_close(grads[1], want_b, n, 1e-6, 0, what);
    ingot_array *arr[5] = {grads[0], grads[1], ones, in[0], in[1]};
    for (int i = 0; i < 5; i++) ingot_array_free(arr[i]);
}

static void test_gradient_conventions(void **state) {
    (void)state;
    const double a[3] = {1, 2, 5}, b[3] = {1, 3, 4};
    const double max_a[3] = {1, 0, 1}, max_b[3] = {0, 1, 0};
    const double min_a[3] = {1, 1, 0}, min_b[3] = {0, 0, 1};
    vjp2(ingot_maximum, a, b, 3, max_a, max_b, "maximum ties");
    vjp2(ingot_minimum, a, b, 3, min_a, min_b, "minimum ties");
    /* pow at a = 0 and a = -2 with b = 2: da = 2a, db = 0; at a = 2: db = 4 log 2 */
    const double pa[3] = {0, -2, 2}, pb[3] = {2, 2, 2};
    const double pda[3] = {0, -4, 4}, pdb[3] = {0, 0, 4 * M_LN2};
    vjp2(ingot_pow, pa, pb, 3, pda, pdb, "pow conventions");
}

/* A promoted and broadcast input gets its gradient back in its own dtype and
 * shape: the gradients of sum(u * (a * b)) for a f16 (4) and b f32 (3,4). */
static void test_gradient_promoted(void **state) {
    (void)state;
    const int64_t sa[1] = {4}, sb[2] = {3, 4};
    ingot_array *in[2] = {tu_random(INGOT_F16, sa, 1, 61, -1, 1),
                          tu_random(INGOT_F32, sb, 2, 62, -1, 1)};
    ingot_array *u = tu_random(INGOT_F32, sb, 2, 63, -1, 1);
    binary_case c = {"mul", ingot_mul, NULL, 0, 0, 0, 0, false, false};
    ingot_array *grads[2] = {NULL, NULL};
    TU_OK(ingot_vjp(NULL, grads, binary_apply, &c, in, 2, &u, 1));
    tu_assert_shape(grads[0], INGOT_F16, sa, 1);
    tu_assert_shape(grads[1], INGOT_F32, sb, 2);
    double *av = tu_values(in[0]), *bv = tu_values(in[1]), *uv = tu_values(u);
    double ga[4] = {0, 0, 0, 0}, gb[12];
    for (int i = 0; i < 12; i++) {
        ga[i % 4] += uv[i] * bv[i];
        gb[i] = uv[i] * av[i % 4];
    }
    tu_assert_close(grads[0], ga, 4, 4e-3, 2e-3, "mul grad f16 broadcast");
    tu_assert_close(grads[1], gb, 12, 1e-6, 1e-7, "mul grad f32");
    free(uv);
    free(bv);
    free(av);
    ingot_array *arr[5] = {grads[0], grads[1], u, in[0], in[1]};
    for (int i = 0; i < 5; i++) ingot_array_free(arr[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_values),   cmocka_unit_test(test_large),
        cmocka_unit_test(test_thread_counts),
        cmocka_unit_test(test_integer_values), cmocka_unit_test(test_integer_wraparound),
        cmocka_unit_test(test_promotion),      cmocka_unit_test(test_nan),
        cmocka_unit_test(test_where),          cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_where_gradient), cmocka_unit_test(test_gradient_conventions),
        cmocka_unit_test(test_gradient_promoted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
