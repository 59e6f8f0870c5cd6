/* Arrays: creation, dtype conversion, views, host copies, errors, memory. */
#include "common/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_version_and_status(void **state) {
    (void)state;
    assert_string_equal(ingot_version(), INGOT_VERSION_STRING);
    assert_int_equal(ingot_version_number(), INGOT_VERSION_NUMBER);
    assert_string_equal(ingot_status_str(INGOT_OK), "INGOT_OK");
    assert_string_equal(ingot_status_str(INGOT_ERR_SHAPE), "INGOT_ERR_SHAPE");
    assert_string_equal(ingot_status_str((ingot_status)999), "INGOT_ERR_UNKNOWN");
    ingot_clear_error();
    assert_string_equal(ingot_last_error(), "");
}

static void test_dtype_properties(void **state) {
    (void)state;
    static const struct {
        ingot_dtype d;
        const char *name;
        size_t size;
        bool is_float, is_int;
    } table[] = {
        {INGOT_BOOL, "bool", 1, false, false}, {INGOT_U8, "u8", 1, false, true},
        {INGOT_I8, "i8", 1, false, true},      {INGOT_I32, "i32", 4, false, true},
        {INGOT_U32, "u32", 4, false, true},    {INGOT_I64, "i64", 8, false, true},
        {INGOT_F16, "f16", 2, true, false},    {INGOT_BF16, "bf16", 2, true, false},
        {INGOT_F32, "f32", 4, true, false},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        assert_string_equal(ingot_dtype_name(table[i].d), table[i].name);
        assert_int_equal(ingot_dtype_size(table[i].d), table[i].size);
        assert_int_equal(ingot_dtype_is_float(table[i].d), table[i].is_float);
        assert_int_equal(ingot_dtype_is_integer(table[i].d), table[i].is_int);
    }
    assert_int_equal(ingot_dtype_size((ingot_dtype)42), 0);
    assert_string_equal(ingot_dtype_name((ingot_dtype)42), "invalid");
}

static void test_promotion(void **state) {
    (void)state;
    static const ingot_dtype cases[][3] = {
        {INGOT_F32, INGOT_F32, INGOT_F32},  {INGOT_BOOL, INGOT_I8, INGOT_I8},
        {INGOT_U8, INGOT_BOOL, INGOT_U8},   {INGOT_U8, INGOT_I8, INGOT_I32},
        {INGOT_U8, INGOT_I32, INGOT_I32},   {INGOT_U8, INGOT_U32, INGOT_U32},
        {INGOT_I8, INGOT_U32, INGOT_I64},   {INGOT_I32, INGOT_U32, INGOT_I64},
        {INGOT_I64, INGOT_U8, INGOT_I64},   {INGOT_I32, INGOT_F16, INGOT_F16},
        {INGOT_BF16, INGOT_I64, INGOT_BF16}, {INGOT_F16, INGOT_BF16, INGOT_F32},
        {INGOT_BF16, INGOT_F32, INGOT_F32}, {INGOT_BOOL, INGOT_BOOL, INGOT_BOOL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(ingot_promote_types(cases[i][0], cases[i][1]), cases[i][2]);
        assert_int_equal(ingot_promote_types(cases[i][1], cases[i][0]), cases[i][2]);
    }
}

/* Converts one f32 value to a 16-bit float dtype and returns the bits. */
static uint16_t bits16(float v, ingot_dtype d) {
    int64_t one[1] = {1};
    ingot_array *a = tu_from_f32(&v, one, 1);
    uint16_t h = 0;
    TU_OK(ingot_array_to_host(&h, sizeof h, d, a));
    ingot_array_free(a);
    return h;
}

static void test_half_conversions(void **state) {
    (void)state;
    /* IEEE binary16 encodings, round to nearest even. */
    assert_int_equal(bits16(1.0f, INGOT_F16), 0x3c00);
    assert_int_equal(bits16(-2.0f, INGOT_F16), 0xc000);
    assert_int_equal(bits16(65504.0f, INGOT_F16), 0x7bff);
    assert_int_equal(bits16(65519.0f, INGOT_F16), 0x7bff);
    assert_int_equal(bits16(65520.0f, INGOT_F16), 0x7c00);
    assert_int_equal(bits16(INFINITY, INGOT_F16), 0x7c00);
    assert_int_equal(bits16(0x1p-24f, INGOT_F16), 0x0001);
    assert_int_equal(bits16(0x1p-25f, INGOT_F16), 0x0000);        /* tie to even */
    assert_int_equal(bits16(0x3p-26f, INGOT_F16), 0x0001);        /* 0.75 ulp */
    assert_int_equal(bits16(0x1p-14f, INGOT_F16), 0x0400);        /* smallest normal */
    assert_int_equal(bits16(1.0f + 0x1p-11f, INGOT_F16), 0x3c00); /* tie to even */
    assert_int_equal(bits16(1.0f + 0x3p-11f, INGOT_F16), 0x3c02); /* tie to even */
    assert_int_equal(bits16(-0.0f, INGOT_F16), 0x8000);
    assert_true((bits16(NAN, INGOT_F16) & 0x7fff) > 0x7c00);
    /* bfloat16: the top half of binary32, round to nearest even. */
    assert_int_equal(bits16(1.0f, INGOT_BF16), 0x3f80);
    assert_int_equal(bits16(1.0f + 0x1p-8f, INGOT_BF16), 0x3f80);
    assert_int_equal(bits16(1.0f + 0x3p-8f, INGOT_BF16), 0x3f82);
    assert_int_equal(bits16(-3.0f, INGOT_BF16), 0xc040);
    assert_int_equal(bits16(3.4e38f, INGOT_BF16), 0x7f80); /* rounds past max to inf */
    assert_true((bits16(NAN, INGOT_BF16) & 0x7fff) > 0x7f80);

    /* Every f16 and bf16 value survives f16 -> f32 -> f16 (NaNs stay NaN). */
    for (ingot_dtype d = INGOT_F16; d <= INGOT_BF16; d++) {
        uint16_t *all = malloc(65536 * sizeof *all), *back = malloc(65536 * sizeof *back);
        float *f = malloc(65536 * sizeof *f);
        for (int i = 0; i < 65536; i++) all[i] = (uint16_t)i;
        int64_t n[1] = {65536};
        ingot_array *a = NULL, *b = NULL;
        TU_OK(ingot_array_from_data(&a, all, d, n, 1));
        TU_OK(ingot_array_to_host(f, 65536 * sizeof *f, INGOT_F32, a));
        TU_OK(ingot_array_from_data(&b, f, INGOT_F32, n, 1));
        TU_OK(ingot_array_to_host(back, 65536 * sizeof *back, d, b));
        uint16_t inf = d == INGOT_F16 ? 0x7c00 : 0x7f80;
        for (int i = 0; i < 65536; i++) {
            if ((all[i] & 0x7fff) > inf)
                assert_true(isnan(f[i]) && (back[i] & 0x7fff) > inf);
            else
                assert_int_equal(back[i], all[i]);
        }
        /* Spot values: f16 0x3555 = 0.333251953125, bf16 0x3eab = 0.333984375. */
        assert_true(f[d == INGOT_F16 ? 0x3555 : 0x3eab] ==
                    (d == INGOT_F16 ? 0.333251953125f : 0.333984375f));
        ingot_array_free(a);
        ingot_array_free(b);
        free(all);
        free(back);
        free(f);
    }
}

static void test_integer_conversions(void **state) {
    (void)state;
    float v[] = {-1.5f, 2.9f, 300.0f, -300.0f, NAN, 1e20f, -1e20f, 0.0f};
    int64_t n[1] = {8};
    ingot_array *a = tu_from_f32(v, n, 1);
    uint8_t u8[8];
    int8_t i8[8];
    int32_t i32[8];
    uint32_t u32[8];
    int64_t i64[8];
    uint8_t b[8];
    TU_OK(ingot_array_to_host(u8, sizeof u8, INGOT_U8, a));
    TU_OK(ingot_array_to_host(i8, sizeof i8, INGOT_I8, a));
    TU_OK(ingot_array_to_host(i32, sizeof i32, INGOT_I32, a));
    TU_OK(ingot_array_to_host(u32, sizeof u32, INGOT_U32, a));
    TU_OK(ingot_array_to_host(i64, sizeof i64, INGOT_I64, a));
    TU_OK(ingot_array_to_host(b, sizeof b, INGOT_BOOL, a));
    /* truncation toward zero, saturation, NaN -> 0 */
    static const uint8_t e_u8[8] = {0, 2, 255, 0, 0, 255, 0, 0};
    static const int8_t e_i8[8] = {-1, 2, 127, -128, 0, 127, -128, 0};
    static const int32_t e_i32[8] = {-1, 2, 300, -300, 0, INT32_MAX, INT32_MIN, 0};
    static const uint32_t e_u32[8] = {0, 2, 300, 0, 0, UINT32_MAX, 0, 0};
    static const int64_t e_i64[8] = {-1, 2, 300, -300, 0, INT64_MAX, INT64_MIN, 0};
    static const uint8_t e_b[8] = {1, 1, 1, 1, 1, 1, 1, 0};
    assert_memory_equal(u8, e_u8, 8);
    assert_memory_equal(i8, e_i8, 8);
    assert_memory_equal(i32, e_i32, sizeof i32);
    assert_memory_equal(u32, e_u32, sizeof u32);
    assert_memory_equal(i64, e_i64, sizeof i64);
    assert_memory_equal(b, e_b, 8);
    ingot_array_free(a);

    /* Integer to integer wraps; large i64 values stay exact. */
    int64_t big[3] = {INT64_MAX, -129, (1ll << 53) + 1};
    int64_t n3[1] = {3};
    ingot_array *ai = NULL;
    TU_OK(ingot_array_from_data(&ai, big, INGOT_I64, n3, 1));
    int8_t w[3];
    int64_t back[3];
    TU_OK(ingot_array_to_host(w, sizeof w, INGOT_I8, ai));
    TU_OK(ingot_array_to_host(back, sizeof back, INGOT_I64, ai));
    assert_int_equal(w[0], -1);
    assert_int_equal(w[1], 127);
    assert_int_equal(w[2], 1);
    assert_memory_equal(back, big, sizeof big);
    ingot_array_free(ai);
}

static void test_creation(void **state) {
    (void)state;
    int64_t shape[3] = {2, 3, 4};
    ingot_array *a = NULL;
    for (ingot_dtype d = 0; d < INGOT_DTYPE_COUNT; d++) {
        TU_OK(ingot_full(&a, d, shape, 3, 3.0));
        tu_assert_shape(a, d, shape, 3);
        assert_int_equal(ingot_array_size(a), 24);
        assert_int_equal(ingot_array_nbytes(a), 24 * ingot_dtype_size(d));
        assert_true(ingot_array_is_contiguous(a));
        double *v = tu_values(a);
        for (int i = 0; i < 24; i++) assert_true(v[i] == (d == INGOT_BOOL ? 1.0 : 3.0));
        free(v);
        ingot_array_free(a);
    }
    TU_OK(ingot_zeros(&a, INGOT_BF16, shape, 3));
    double zero[24] = {0};
    tu_assert_close(a, zero, 24, 0, 0, "zeros");
    ingot_array_free(a);
    TU_OK(ingot_scalar(&a, INGOT_F32, 2.5));
    assert_int_equal(ingot_array_ndim(a), 0);
    assert_int_equal(ingot_array_size(a), 1);
    double item;
    TU_OK(ingot_array_item(&item, a));
    assert_true(item == 2.5);
    ingot_array_free(a);

    TU_OK(ingot_arange(&a, INGOT_I32, 2, 11, 3));
    double e1[] = {2, 5, 8};
    tu_assert_close(a, e1, 3, 0, 0, "arange");
    ingot_array_free(a);
    TU_OK(ingot_arange(&a, INGOT_F32, 1, 0, -0.25));
    double e2[] = {1, 0.75, 0.5, 0.25};
    tu_assert_close(a, e2, 4, 0, 0, "arange descending");
    ingot_array_free(a);
    TU_OK(ingot_arange(&a, INGOT_F32, 5, 1, 1));
    assert_int_equal(ingot_array_size(a), 0);
    ingot_array_free(a);

    /* empty dims */
    int64_t empty[2] = {0, 5};
    TU_OK(ingot_array_from_data(&a, NULL, INGOT_F32, empty, 2));
    assert_int_equal(ingot_array_size(a), 0);
    assert_int_equal(ingot_array_dim(a, -1), 5);
    assert_int_equal(ingot_array_dim(a, 2), -1);
    ingot_array_free(a);
    ingot_array_free(NULL);
    assert_null(ingot_array_retain(NULL));
}

static void test_creation_errors(void **state) {
    (void)state;
    ingot_array *a = (ingot_array *)1;
    int64_t bad[1] = {-2}, shape[2] = {2, 2}, huge[2] = {INT64_MAX / 4, 16};
    TU_FAILS(ingot_zeros(&a, INGOT_F32, bad, 1), INGOT_ERR_INVALID_ARGUMENT, "negative dim");
    assert_null(a);
    TU_FAILS(ingot_zeros(&a, INGOT_F32, shape, 9), INGOT_ERR_INVALID_ARGUMENT, "9 dims");
    TU_FAILS(ingot_zeros(&a, (ingot_dtype)77, shape, 2), INGOT_ERR_DTYPE, "invalid dtype");
    TU_FAILS(ingot_zeros(&a, INGOT_F32, huge, 2), INGOT_ERR_LIMIT, "overflow");
    TU_FAILS(ingot_array_from_data(&a, NULL, INGOT_F32, shape, 2), INGOT_ERR_INVALID_ARGUMENT,
             "data is NULL");
    TU_FAILS(ingot_zeros(NULL, INGOT_F32, shape, 2), INGOT_ERR_INVALID_ARGUMENT, "out is NULL");
    TU_FAILS(ingot_arange(&a, INGOT_F32, 0, 1, 0), INGOT_ERR_INVALID_ARGUMENT, "nonzero step");
    a = (ingot_array *)1;
    TU_FAILS(ingot_zeros_like(&a, NULL), INGOT_ERR_INVALID_ARGUMENT, "a is NULL");
    assert_null(a);
    a = (ingot_array *)1;
    TU_FAILS(ingot_flatten(&a, NULL), INGOT_ERR_INVALID_ARGUMENT, "a is NULL");
    assert_null(a);
    TU_FAILS(ingot_arange(&a, INGOT_F32, 0, NAN, 1), INGOT_ERR_INVALID_ARGUMENT, "finite");
    char unaligned[16] = {0};
    TU_FAILS(ingot_array_wrap(&a, unaligned + 1, INGOT_F32, shape, 1, NULL, NULL),
             INGOT_ERR_INVALID_ARGUMENT, "aligned");
    TU_OK(ingot_zeros(&a, INGOT_F32, shape, 2));
    float small[2];
    double item;
    TU_FAILS(ingot_array_to_host(small, sizeof small, INGOT_F32, a), INGOT_ERR_INVALID_ARGUMENT,
             "16 bytes needed");
    TU_FAILS(ingot_array_item(&item, a), INGOT_ERR_SHAPE, "(2,2) has 4 elements");
    ingot_array_free(a);
}

static int released;
static void on_release(void *ctx) { released += *(int *)ctx; }

static void test_wrap_lifetime(void **state) {
    (void)state;
    float data[6] = {0, 1, 2, 3, 4, 5};
    int64_t shape[2] = {2, 3};
    int weight = 1;
    ingot_array *a = NULL, *t = NULL;
    released = 0;
    TU_OK(ingot_array_wrap(&a, data, INGOT_F32, shape, 2, on_release, &weight));
    TU_OK(ingot_transpose(&t, a, NULL, 0));
    ingot_array_free(a);
    assert_int_equal(released, 0); /* the view keeps the buffer */
    double e[] = {0, 3, 1, 4, 2, 5};
    tu_assert_close(t, e, 6, 0, 0, "transposed wrap");
    ingot_array_free(t);
    assert_int_equal(released, 1);
}

static void test_views(void **state) {
    (void)state;
    int64_t shape[3] = {2, 3, 4};
    ingot_array *a = NULL, *v = NULL, *w = NULL;
    TU_OK(ingot_arange(&a, INGOT_F32, 0, 24, 1));
    TU_OK(ingot_reshape(&v, a, shape, 3));
    ingot_array_free(a);
    a = v;

    /* transpose with a permutation: out[i][j][k] = a[j][k][i] */
    int perm[3] = {2, 0, 1};
    TU_OK(ingot_transpose(&v, a, perm, 3));
    int64_t tshape[3] = {4, 2, 3};
    tu_assert_shape(v, INGOT_F32, tshape, 3);
    assert_false(ingot_array_is_contiguous(v));
    double e[24];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++) e[(i * 2 + j) * 3 + k] = j * 12 + k * 4 + i;
    tu_assert_close(v, e, 24, 0, 0, "transpose");
    /* reshape of a non-contiguous view copies */
    int64_t flat[2] = {-1, 6};
    TU_OK(ingot_reshape(&w, v, flat, 2));
    int64_t wshape[2] = {4, 6};
    tu_assert_shape(w, INGOT_F32, wshape, 2);
    tu_assert_close(w, e, 24, 0, 0, "reshape of transpose");
    ingot_array_free(w);
    ingot_array_free(v);

    /* slice a[1:, ::-2, 1:3] */
    int64_t start[3] = {1, INT64_MAX, 1}, stop[3] = {INT64_MAX, INT64_MIN, 3}, step[3] = {1, -2, 1};
    TU_OK(ingot_slice(&v, a, start, stop, step));
    int64_t sshape[3] = {1, 2, 2};
    tu_assert_shape(v, INGOT_F32, sshape, 3);
    double es[] = {12 + 8 + 1, 12 + 8 + 2, 12 + 0 + 1, 12 + 0 + 2};
    tu_assert_close(v, es, 4, 0, 0, "slice");
    ingot_array_free(v);
    /* clamped and empty slices */
    TU_OK(ingot_slice_axis(&v, a, -1, -100, 100));
    tu_assert_shape(v, INGOT_F32, shape, 3);
    ingot_array_free(v);
    TU_OK(ingot_slice_axis(&v, a, 1, 2, 1));
    int64_t eshape[3] = {2, 0, 4};
    tu_assert_shape(v, INGOT_F32, eshape, 3);
    ingot_array_free(v);

    /* broadcast_to, expand_dims, squeeze, swapaxes */
    int64_t bshape[4] = {3, 2, 3, 4};
    TU_OK(ingot_broadcast_to(&v, a, bshape, 4));
    assert_int_equal(ingot_array_strides(v)[0], 0);
    double eb[72];
    for (int i = 0; i < 72; i++) eb[i] = i % 24;
    tu_assert_close(v, eb, 72, 0, 0, "broadcast_to");
    ingot_array_free(v);
    TU_OK(ingot_expand_dims(&v, a, -1));
    int64_t xshape[4] = {2, 3, 4, 1};
    tu_assert_shape(v, INGOT_F32, xshape, 4);
    TU_OK(ingot_squeeze(&w, v, NULL, 0));
    tu_assert_shape(w, INGOT_F32, shape, 3);
    ingot_array_free(w);
    int ax = 0;
    TU_FAILS(ingot_squeeze(&w, v, &ax, 1), INGOT_ERR_SHAPE, "not 1");
    ingot_array_free(v);
    TU_OK(ingot_flatten(&v, a));
    int64_t fshape[1] = {24};
    tu_assert_shape(v, INGOT_F32, fshape, 1);
    double ef[24];
    for (int i = 0; i < 24; i++) ef[i] = i;
    tu_assert_close(v, ef, 24, 0, 0, "flatten");
    ingot_array_free(v);
    TU_OK(ingot_zeros_like(&v, a));
    tu_assert_shape(v, INGOT_F32, shape, 3);
    double ez[24] = {0};
    tu_assert_close(v, ez, 24, 0, 0, "zeros_like");
    ingot_array_free(v);
    TU_OK(ingot_swapaxes(&v, a, 0, -1));
    int64_t swshape[3] = {4, 3, 2};
    tu_assert_shape(v, INGOT_F32, swshape, 3);
    ingot_array_free(v);

    /* errors */
    int64_t bad[2] = {5, 5};
    TU_FAILS(ingot_reshape(&v, a, bad, 2), INGOT_ERR_SHAPE, "cannot reshape (2,3,4) to (5,5)");
    int64_t two_infer[2] = {-1, -1};
    TU_FAILS(ingot_reshape(&v, a, two_infer, 2), INGOT_ERR_SHAPE, "more than one -1");
    int64_t nob[3] = {2, 5, 4};
    TU_FAILS(ingot_broadcast_to(&v, a, nob, 3), INGOT_ERR_SHAPE, "cannot broadcast (2,3,4) to (2,5,4)");
    int dup[3] = {0, 0, 1};
    TU_FAILS(ingot_transpose(&v, a, dup, 3), INGOT_ERR_INVALID_ARGUMENT, "twice");
    TU_FAILS(ingot_expand_dims(&v, a, 5), INGOT_ERR_INVALID_ARGUMENT, "out of range");
    int64_t st0[3] = {0, 0, 0}, sp0[3] = {1, 1, 0};
    TU_FAILS(ingot_slice(&v, a, st0, shape, sp0), INGOT_ERR_INVALID_ARGUMENT, "step 0");
    int64_t o[INGOT_MAX_DIMS];
    int on;
    int64_t s1[2] = {3, 1}, s2[3] = {2, 1, 5};
    TU_OK(ingot_broadcast_shapes(o, &on, s1, 2, s2, 3));
    assert_int_equal(on, 3);
    assert_true(o[0] == 2 && o[1] == 3 && o[2] == 5);
    int64_t s3[1] = {4}, s4[2] = {3, 2};
    TU_FAILS(ingot_broadcast_shapes(o, &on, s4, 2, s3, 1), INGOT_ERR_SHAPE, "(3,2) and (4)");
    ingot_array_free(a);
}

static void test_astype_and_host_copy_of_views(void **state) {
    (void)state;
    int64_t shape[2] = {3, 5};
    ingot_array *a = tu_random(INGOT_F32, shape, 2, 7, -4, 4);
    double *ref = tu_values(a);
    ingot_array *nc = tu_noncontiguous(a);
    for (ingot_dtype d = 0; d < INGOT_DTYPE_COUNT; d++) {
        ingot_array *c = NULL;
        TU_OK(ingot_astype(&c, nc, d));
        tu_assert_shape(c, d, shape, 2);
        double e[15];
        for (int i = 0; i < 15; i++) {
            e[i] = ref[i];
            if (d == INGOT_BOOL) e[i] = ref[i] != 0;
            else if (ingot_dtype_is_integer(d)) e[i] = trunc(ref[i]);
            if ((d == INGOT_U8 || d == INGOT_U32) && e[i] < 0) e[i] = 0;
        }
        double tol = d == INGOT_BF16 ? 1.0 / 128 : d == INGOT_F16 ? 1.0 / 1024 : 0;
        tu_assert_close(c, e, 15, tol, 0, ingot_dtype_name(d));
        ingot_array_free(c);
    }
    ingot_array *same = NULL;
    TU_OK(ingot_astype(&same, a, INGOT_F32));
    assert_ptr_equal(same, a);
    ingot_array_free(same);
    ingot_array *c = NULL;
    TU_OK(ingot_contiguous(&c, nc));
    assert_true(ingot_array_is_contiguous(c));
    tu_assert_close(c, ref, 15, 0, 0, "contiguous");
    ingot_array_free(c);
    free(ref);
    ingot_array_free(nc);
    ingot_array_free(a);
}

static void test_memory_stats(void **state) {
    (void)state;
    ingot_memory_stats s0, s1, s2;
    TU_OK(ingot_memory_stats_get(&s0, ingot_cpu()));
    ingot_memory_reset_peak(ingot_cpu());
    int64_t shape[1] = {1 << 20};
    ingot_array *a = NULL;
    TU_OK(ingot_zeros(&a, INGOT_F32, shape, 1));
    TU_OK(ingot_memory_stats_get(&s1, ingot_cpu()));
    assert_int_equal(s1.active - s0.active, 4u << 20);
    assert_true(s1.peak >= s1.active);
    ingot_array_free(a);
    TU_OK(ingot_memory_stats_get(&s2, ingot_cpu()));
    assert_int_equal(s2.active, s0.active);
    assert_true(s2.peak >= s0.active + (4u << 20));
    ingot_device cuda = {INGOT_DEVICE_CUDA, 0};
    if (ingot_device_count(INGOT_DEVICE_CUDA) == 0)
        TU_FAILS(ingot_memory_stats_get(&s2, cuda), INGOT_ERR_DEVICE, NULL);
}

static void test_devices(void **state) {
    (void)state;
    ingot_device d;
    TU_OK(ingot_device_parse(&d, "cpu"));
    assert_int_equal(d.type, INGOT_DEVICE_CPU);
    assert_int_equal(ingot_device_count(INGOT_DEVICE_CPU), 1);
    TU_FAILS(ingot_device_parse(&d, "gpu"), INGOT_ERR_INVALID_ARGUMENT, "expected cpu, cuda");
    TU_FAILS(ingot_device_parse(&d, "cuda:x"), INGOT_ERR_INVALID_ARGUMENT, NULL);
    int n = ingot_device_count(INGOT_DEVICE_CUDA);
    assert_true(n >= 0);
    if (n == 0) TU_FAILS(ingot_device_parse(&d, "cuda:0"), INGOT_ERR_DEVICE, "no CUDA device");
    else TU_OK(ingot_device_parse(&d, "cuda"));
    ingot_set_num_threads(3);
    assert_int_equal(ingot_get_num_threads(), 3);
    ingot_set_num_threads(0);
    assert_true(ingot_get_num_threads() >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_status),
        cmocka_unit_test(test_dtype_properties),
        cmocka_unit_test(test_promotion),
        cmocka_unit_test(test_half_conversions),
        cmocka_unit_test(test_integer_conversions),
        cmocka_unit_test(test_creation),
        cmocka_unit_test(test_creation_errors),
        cmocka_unit_test(test_wrap_lifetime),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_astype_and_host_copy_of_views),
        cmocka_unit_test(test_memory_stats),
        cmocka_unit_test(test_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
