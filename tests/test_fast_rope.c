/* rope: values against a naive double-precision rotation written from the
 * formulas, both pair conventions, partial dims, offsets, custom frequencies,
 * positions, scale, dtypes, views, errors and gradient checks. */
#include <math.h>
#include <stdlib.h>

#include "common/testutil.h"

typedef struct ref_opts {
    int dims; /* resolved (non-zero) */
    int interleaved;
    double base, scale;
    int64_t offset;
    const double *freqs;     /* [dims/2] or NULL */
    const int64_t *pos;      /* [pos_rows, T] or NULL */
    int pos_rows;            /* 1 or B */
    int inverse;
} ref_opts;

/* Naive rotary embedding of x [B, H, T, Dh]. */
static double *ref_rope(const ingot_array *x, const ref_opts *o) {
    const int64_t *s = ingot_array_shape(x);
    int64_t B = s[0], H = s[1], T = s[2], Dh = s[3], half = o->dims / 2;
    double *xv = tu_values(x);
    double *y = malloc((size_t)(B * H * T * Dh + 1) * sizeof(double));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < T; t++) {
                const double *xr = xv + ((b * H + h) * T + t) * Dh;
                double *yr = y + ((b * H + h) * T + t) * Dh;
                for (int64_t d = 0; d < Dh; d++) yr[d] = xr[d];
                double pos = o->pos ? (double)o->pos[(o->pos_rows == 1 ? 0 : b) * T + t]
                                    : (double)(o->offset + t);
                for (int64_t i = 0; i < half; i++) {
                    double f = o->freqs ? o->freqs[i] : pow(o->base, -2.0 * (double)i / o->dims);
                    double a = o->scale * pos * f * (o->inverse ? -1 : 1);
                    int64_t i1 = o->interleaved ? 2 * i : i;
                    int64_t i2 = o->interleaved ? 2 * i + 1 : i + half;
                    yr[i1] = xr[i1] * cos(a) - xr[i2] * sin(a);
                    yr[i2] = xr[i1] * sin(a) + xr[i2] * cos(a);
                }
            }
    free(xv);
    return y;
}

static void check_rope(const ingot_array *x, const ingot_rope_options *opts, const ref_opts *ro,
                       double tol, const char *what) {
    ingot_array *y = NULL;
    TU_OK(ingot_rope(&y, x, opts));
    tu_assert_shape(y, ingot_array_dtype(x), ingot_array_shape(x), 4);
    double *want = ref_rope(x, ro);
    tu_assert_close(y, want, ingot_array_size(x), tol, tol, what);
    free(want);
    ingot_array_free(y);
}

static void test_defaults_and_conventions(void **state) {
    (void)state;
    int64_t s[4] = {2, 3, 5, 8};
    ingot_array *x = tu_random(INGOT_F32, s, 4, 1, -2, 2);
    ref_opts ro = {.dims = 8, .base = 10000, .scale = 1};
    check_rope(x, NULL, &ro, 1e-5, "defaults (NULL opts)");
    ingot_rope_options o = {.interleaved = true};
    ro.interleaved = 1;
    check_rope(x, &o, &ro, 1e-5, "interleaved");
    /* partial dims, base, offset, scale */
    for (int il = 0; il < 2; il++) {
        ingot_rope_options p = {.dims = 4, .interleaved = il, .base = 500, .offset = 7,
                                .scale = 0.5f};
        ref_opts rp = {.dims = 4, .interleaved = il, .base = 500, .scale = 0.5, .offset = 7};
        check_rope(x, &p, &rp, 1e-5, il ? "interleaved partial" : "halves partial");
    }
    ingot_array_free(x);
}

static void test_freqs_and_positions(void **state) {
    (void)state;
    int64_t s[4] = {2, 2, 4, 6}, fs[1] = {2}, p1[1] = {4}, p2[2] = {2, 4}, pb1[2] = {1, 4};
    ingot_array *x = tu_random(INGOT_F32, s, 4, 2, -2, 2);
    const double fv[2] = {0.9, 0.05};
    ingot_array *freqs = tu_from_f64(fv, INGOT_F32, fs, 1);
    double fr[2] = {(float)0.9, (float)0.05};
    ingot_rope_options o = {.dims = 4, .freqs = freqs, .offset = 3};
    ref_opts ro = {.dims = 4, .scale = 1, .freqs = fr, .offset = 3};
    check_rope(x, &o, &ro, 1e-5, "custom freqs");

    const double pv1[4] = {5, 0, 12, 3};
    const int64_t pi1[4] = {5, 0, 12, 3};
    ingot_array *pos1 = tu_from_f64(pv1, INGOT_I32, p1, 1);
    ingot_rope_options op1 = {.positions = pos1, .offset = 100, .base = 100};
    ref_opts rp1 = {.dims = 6, .scale = 1, .base = 100, .pos = pi1, .pos_rows = 1};
    check_rope(x, &op1, &rp1, 1e-5, "positions [T]");

    const double pv2[8] = {0, 1, 2, 3, 9, 10, 11, 30};
    const int64_t pi2[8] = {0, 1, 2, 3, 9, 10, 11, 30};
    ingot_array *pos2 = tu_from_f64(pv2, INGOT_I64, p2, 2);
    for (int il = 0; il < 2; il++) {
        ingot_rope_options op2 = {.positions = pos2, .interleaved = il, .scale = 2};
        ref_opts rp2 = {.dims = 6, .interleaved = il, .base = 10000, .scale = 2, .pos = pi2,
                        .pos_rows = 2};
        check_rope(x, &op2, &rp2, 1e-4, "positions [B, T]");
    }
    ingot_array *posb = tu_from_f64(pv1, INGOT_U8, pb1, 2);
    ingot_rope_options ob = {.positions = posb};
    ref_opts rb = {.dims = 6, .base = 10000, .scale = 1, .pos = pi1, .pos_rows = 1};
    check_rope(x, &ob, &rb, 1e-5, "positions [1, T]");
    ingot_array *pn = tu_noncontiguous(pos2); /* pos2's values, strided */
    ingot_rope_options on = {.positions = pn};
    ref_opts rn = {.dims = 6, .base = 10000, .scale = 1, .pos = pi2, .pos_rows = 2};
    check_rope(x, &on, &rn, 1e-4, "non-contiguous positions");
    ingot_array_free(x);
    ingot_array_free(freqs);
    ingot_array_free(pos1);
    ingot_array_free(pos2);
    ingot_array_free(posb);
    ingot_array_free(pn);
}

static void test_dtypes_and_views(void **state) {
    (void)state;
    const ingot_dtype dts[2] = {INGOT_F16, INGOT_BF16};
    const double tols[2] = {4e-3, 2e-2};
    int64_t s[4] = {1, 4, 6, 8};
    for (int t = 0; t < 2; t++) {
        ingot_array *x = tu_random(dts[t], s, 4, 3 + t, -2, 2);
        ingot_rope_options o = {.offset = 2, .base = 1e6f};
        ref_opts ro = {.dims = 8, .base = 1e6, .scale = 1, .offset = 2};
        check_rope(x, &o, &ro, tols[t], ingot_dtype_name(dts[t]));
        ingot_array_free(x);
    }
    /* q as a transposed view of [B, T, H, D] storage, as models produce it. */
    int64_t st[4] = {2, 5, 3, 8};
    ingot_array *raw = tu_random(INGOT_F32, st, 4, 5, -2, 2);
    ingot_array *x = NULL;
    const int perm[4] = {0, 2, 1, 3};
    TU_OK(ingot_transpose(&x, raw, perm, 4));
    ingot_rope_options o = {.offset = 4};
    ref_opts ro = {.dims = 8, .base = 10000, .scale = 1, .offset = 4};
    check_rope(x, &o, &ro, 1e-5, "transposed view");
    ingot_array *xn = tu_noncontiguous(raw);
    ro.offset = 0;
    check_rope(xn, NULL, &ro, 1e-5, "non-contiguous head_dim");
    /* size-1 and size-0 dims */
    int64_t s1[4] = {1, 1, 1, 2}, s0[4] = {2, 0, 3, 4};
    ingot_array *x1 = tu_random(INGOT_F32, s1, 4, 6, -2, 2);
    ingot_rope_options o1 = {.offset = 3};
    ref_opts r1 = {.dims = 2, .base = 10000, .scale = 1, .offset = 3};
    check_rope(x1, &o1, &r1, 1e-5, "size 1");
    ingot_array *x0 = tu_random(INGOT_F32, s0, 4, 7, -2, 2);
    ingot_array *y = NULL;
    TU_OK(ingot_rope(&y, x0, NULL));
    tu_assert_shape(y, INGOT_F32, s0, 4);
    ingot_array_free(y);
    ingot_array_free(raw);
    ingot_array_free(x);
    ingot_array_free(xn);
    ingot_array_free(x1);
    ingot_array_free(x0);
}

/* bf16 follows HF's `q * cos + rotate_half(q) * sin` in bf16, by hand:
 * x = (1.25, -0.625), position 1: c = bf16(cos 1) = 0.5390625,
 * s = bf16(sin 1) = 0.83984375; x1 c = 0.673828125 -> 0.671875,
 * x2 s = -0.52490234375 -> -0.5234375, y1 = 1.1953125;
 * x2 c = -0.3369140625 -> -0.3359375, x1 s = 1.0498046875 -> 1.046875,
 * y2 = 0.7109375. (One rounding of the exact result would give
 * (1.203125, 0.71484375).) */
static void test_hf_bf16_rounding(void **state) {
    (void)state;
    const double xv[2] = {1.25, -0.625};
    int64_t s[4] = {1, 1, 1, 2};
    ingot_array *x = tu_from_f64(xv, INGOT_BF16, s, 4), *y = NULL;
    ingot_rope_options o = {.offset = 1};
    TU_OK(ingot_rope(&y, x, &o));
    const double want[2] = {1.1953125, 0.7109375};
    tu_assert_close(y, want, 2, 0, 0, "bf16 rope roundings");
    ingot_array_free(x);
    ingot_array_free(y);
}

static void test_errors(void **state) {
    (void)state;
    int64_t s[4] = {1, 2, 3, 6}, s3[3] = {2, 3, 6}, f2[1] = {2}, f3[1] = {3}, p4[1] = {4},
            p22[2] = {2, 3};
    ingot_array *x = tu_random(INGOT_F32, s, 4, 1, -1, 1);
    ingot_array *xi = tu_random(INGOT_I32, s, 4, 1, -1, 1);
    ingot_array *x3 = tu_random(INGOT_F32, s3, 3, 1, -1, 1);
    ingot_array *fb = tu_random(INGOT_F32, f2, 1, 1, 0, 1);
    ingot_array *fh = tu_random(INGOT_BF16, f3, 1, 1, 0, 1);
    ingot_array *pf = tu_random(INGOT_F32, f3, 1, 1, 0, 3);
    ingot_array *pb = tu_random(INGOT_I32, p4, 1, 1, 0, 3);
    ingot_array *pbb = tu_random(INGOT_I32, p22, 2, 1, 0, 3);
    ingot_array *y = NULL;
    TU_FAILS(ingot_rope(NULL, x, NULL), INGOT_ERR_INVALID_ARGUMENT, "out is NULL");
    TU_FAILS(ingot_rope(&y, NULL, NULL), INGOT_ERR_INVALID_ARGUMENT, "x is NULL");
    TU_FAILS(ingot_rope(&y, xi, NULL), INGOT_ERR_DTYPE, "float");
    TU_FAILS(ingot_rope(&y, x3, NULL), INGOT_ERR_SHAPE, "[B, H, T, head_dim]");
    ingot_rope_options o = {.dims = 3};
    TU_FAILS(ingot_rope(&y, x, &o), INGOT_ERR_INVALID_ARGUMENT, "even");
    o.dims = 8;
    TU_FAILS(ingot_rope(&y, x, &o), INGOT_ERR_INVALID_ARGUMENT, "head_dim 6");
    o.dims = -2;
    TU_FAILS(ingot_rope(&y, x, &o), INGOT_ERR_INVALID_ARGUMENT, "dims -2");
    o = (ingot_rope_options){.base = -1};
    TU_FAILS(ingot_rope(&y, x, &o), INGOT_ERR_INVALID_ARGUMENT, "base");
    o = (ingot_rope_options){.scale = INFINITY};
    TU_FAILS(ingot_rope(&y, x, &o), INGOT_ERR_INVALID_ARGUMENT, "scale");
    o = (ingot_rope_options){.freqs = fb};
    TU_FAILS(ingot_rope(&y, x, &o), INGOT_ERR_SHAPE, "freqs shape");
    o = (ingot_rope_options){.freqs = fh};
    TU_FAILS(ingot_rope(&y, x, &o), INGOT_ERR_DTYPE, "freqs must be f32");
    o = (ingot_rope_options){.positions = pf};
    TU_FAILS(ingot_rope(&y, x, &o), INGOT_ERR_DTYPE, "positions must be integers");
    o = (ingot_rope_options){.positions = pb};
    TU_FAILS(ingot_rope(&y, x, &o), INGOT_ERR_SHAPE, "positions shape");
    o = (ingot_rope_options){.positions = pbb};
    TU_FAILS(ingot_rope(&y, x, &o), INGOT_ERR_SHAPE, "positions shape");
    assert_null(y);
    ingot_array_free(x);
    ingot_array_free(xi);
    ingot_array_free(x3);
    ingot_array_free(fb);
    ingot_array_free(fh);
    ingot_array_free(pf);
    ingot_array_free(pb);
    ingot_array_free(pbb);
}

static ingot_status rope_fn(ingot_array **outs, size_t no, ingot_array *const *in, size_t ni,
                            void *user) {
    (void)no;
    (void)ni;
    return ingot_rope(outs, in[0], user);
}

/* f32 central differences, eps 1e-3, |num - ana| <= 1e-3 + 1e-2 |num|. */
static void test_gradients(void **state) {
    (void)state;
    int64_t s[4] = {2, 2, 3, 8}, p2[2] = {2, 3};
    ingot_array *x = tu_random(INGOT_F32, s, 4, 9, -2, 2);
    const double pv[6] = {4, 5, 6, 0, 2, 9};
    ingot_array *pos = tu_from_f64(pv, INGOT_I32, p2, 2);
    for (int il = 0; il < 2; il++) {
        ingot_rope_options o = {.interleaved = il, .offset = 3};
        tu_gradcheck(rope_fn, &o, &x, 1, NULL, 1e-3, 1e-2, 1e-3, "rope x");
        ingot_rope_options p = {.interleaved = il, .dims = 4, .positions = pos, .scale = 0.7f};
        tu_gradcheck(rope_fn, &p, &x, 1, NULL, 1e-3, 1e-2, 1e-3, "rope partial positions");
    }
    ingot_array_free(x);
    ingot_array_free(pos);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_conventions),
        cmocka_unit_test(test_freqs_and_positions),
        cmocka_unit_test(test_dtypes_and_views),
        cmocka_unit_test(test_hf_bf16_rounding),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
