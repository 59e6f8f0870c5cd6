/* ingot_matmul: values against a naive double-precision reference (NumPy
 * matmul rules written out by hand), dtypes, layouts, empty dims, errors,
 * and gradients, with every kernel variant the CPU can run (thread-count
 * independence: test_determinism). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "common/testutil.h"

#define MAXD INGOT_MAX_DIMS

/* ---- the reference ---- */

typedef struct ref_shape {
    int64_t m, k, n;
    int nbatch;
    int64_t batch[MAXD];
    int64_t a_batch_stride[MAXD], b_batch_stride[MAXD]; /* in elements of the row-major hosts */
} ref_shape;

/* NumPy's rules, written independently of the library: a 1-D a is [1, K], a
 * 1-D b is [K, 1], batch dims broadcast from the right. */
static void ref_resolve(ref_shape *r, const int64_t *as, int an, const int64_t *bs, int bn) {
    r->m = an == 1 ? 1 : as[an - 2];
    r->k = as[an - 1];
    r->n = bn == 1 ? 1 : bs[bn - 1];
    int ab = an > 2 ? an - 2 : 0, bb = bn > 2 ? bn - 2 : 0;
    r->nbatch = ab > bb ? ab : bb;
    int64_t a_mat = r->m * r->k, b_mat = r->k * r->n;
    int64_t sa = a_mat, sb = b_mat;
    for (int d = r->nbatch - 1; d >= 0; d--) {
        int ad = d - (r->nbatch - ab), bd = d - (r->nbatch - bb);
        int64_t da = ad >= 0 ? as[ad] : 1, db = bd >= 0 ? bs[bd] : 1;
        r->batch[d] = da == 1 ? db : da;
        r->a_batch_stride[d] = da == 1 ? 0 : sa;
        r->b_batch_stride[d] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
    }
}

/* out[batch][m][n] = sum_k a[..][m][k] * b[..][k][n] in double; also fills
 * abs_sum with sum_k |a||b| (for tolerances). Returns the element count. */
static int64_t ref_matmul(double **out, double **abs_sum, const double *a, const int64_t *as,
                          int an, const double *b, const int64_t *bs, int bn) {
    ref_shape r;
    ref_resolve(&r, as, an, bs, bn);
    int64_t nb = 1;
    for (int d = 0; d < r.nbatch; d++)
        nb *= r.batch[d];
    int64_t total = nb * r.m * r.n;
    *out = calloc((size_t)(total ? total : 1), sizeof(double));
    *abs_sum = calloc((size_t)(total ? total : 1), sizeof(double));
    for (int64_t t = 0; t < nb; t++) {
        int64_t oa = 0, ob = 0, rest = t;
        for (int d = r.nbatch - 1; d >= 0; d--) {
            int64_t i = rest % r.batch[d];
            rest /= r.batch[d];
            oa += i * r.a_batch_stride[d];
            ob += i * r.b_batch_stride[d];
        }
        for (int64_t i = 0; i < r.m; i++)
            for (int64_t j = 0; j < r.n; j++) {
                double s = 0, sabs = 0;
                for (int64_t k = 0; k < r.k; k++) {
                    double p = a[oa + i * r.k + k] * b[ob + k * r.n + j];
                    s += p;
                    sabs += fabs(p);
                }
                (*out)[(t * r.m + i) * r.n + j] = s;
                (*abs_sum)[(t * r.m + i) * r.n + j] = sabs;
            }
    }
    return total;
}

/* Tolerance for an output of dtype: one final rounding (the unit roundoff,
 * relative) plus the f32 accumulation bound K * 2^-24 * sum |a||b|. */
static double out_rtol(ingot_dtype dt) {
    return dt == INGOT_BF16 ? 1.0 / 256 : dt == INGOT_F16 ? 1.0 / 2048 : 1.0 / (1 << 24);
}

/* Asserts out equals the reference within the tolerances described above. */
static void assert_matmul(const ingot_array *out, const ingot_array *a, const ingot_array *b,
                          const char *what) {
    double *av = tu_values(a), *bv = tu_values(b), *ref, *sabs;
    int64_t n = ref_matmul(&ref, &sabs, av, ingot_array_shape(a), ingot_array_ndim(a), bv,
                           ingot_array_shape(b), ingot_array_ndim(b));
    assert_int_equal(ingot_array_size(out), n);
    double *got = tu_values(out);
    double rtol = out_rtol(ingot_array_dtype(out));
    double acc = (double)(ingot_array_dim(a, -1) + 1) / (1 << 24);
    for (int64_t i = 0; i < n; i++) {
        double tol = rtol * fabs(ref[i]) + acc * sabs[i] + 1e-30;
        if (!(fabs(got[i] - ref[i]) <= tol))
            fail_msg("%s: element %lld is %.9g, expected %.9g (tol %.3g)", what, (long long)i,
                     got[i], ref[i], tol);
    }
    free(got);
    free(ref);
    free(sabs);
    free(av);
    free(bv);
}

/* matmul of random operands of the given shapes/dtypes; a and/or b made
 * non-contiguous on request; checks the result shape and values. */
static void check_case(ingot_dtype da, const int64_t *as, int an, ingot_dtype db, const int64_t *bs,
                       int bn, bool nc_a, bool nc_b, const int64_t *want, int want_nd,
                       const char *what) {
    ingot_array *a = tu_random(da, as, an, 11, -1, 1), *b = tu_random(db, bs, bn, 12, -1, 1);
    if (nc_a) a = tu_noncontiguous_take(a);
    if (nc_b) b = tu_noncontiguous_take(b);
    ingot_array *out;
    TU_OK(ingot_matmul(&out, a, b));
    tu_assert_shape(out, ingot_promote_types(da, db), want, want_nd);
    assert_matmul(out, a, b, what);
    ingot_array_free(out);
    ingot_array_free(a);
    ingot_array_free(b);
}

#define S(...) ((const int64_t[]){__VA_ARGS__})
#define N(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define CASE(dt, ash, bsh, osh, what)                                                              \
    check_case(dt, S ash, N ash, dt, S bsh, N bsh, false, false, S osh, N osh, what)

static void test_f32_shapes(void **state) {
    (void)state;
    CASE(INGOT_F32, (3, 4), (4, 5), (3, 5), "3x4x5");
    CASE(INGOT_F32, (1, 1), (1, 1), (1, 1), "1x1x1");
    CASE(INGOT_F32, (4, 1), (1, 3), (4, 3), "K=1");
    CASE(INGOT_F32, (3, 5), (5, 1), (3, 1), "N=1");
    CASE(INGOT_F32, (1, 6), (6, 4), (1, 4), "M=1");
    CASE(INGOT_F32, (37, 65), (65, 29), (37, 29), "odd sizes");
}

static void test_vectors(void **state) {
    (void)state;
    ingot_dtype dts[3] = {INGOT_F32, INGOT_BF16, INGOT_F16};
    for (int i = 0; i < 3; i++) {
        ingot_dtype dt = dts[i];
        CASE(dt, (4), (4, 3), (3), "1-D @ 2-D");
        CASE(dt, (3, 4), (4), (3), "2-D @ 1-D");
        check_case(dt, S(4), 1, dt, S(4), 1, false, false, S(0), 0, "1-D @ 1-D");
        CASE(dt, (2, 3, 4), (4), (2, 3), "3-D @ 1-D");
        CASE(dt, (4), (2, 4, 3), (2, 3), "1-D @ 3-D");
    }
}

static void test_batch_broadcast(void **state) {
    (void)state;
    CASE(INGOT_F32, (2, 1, 3, 4), (5, 4, 2), (2, 5, 3, 2), "(2,1,3,4) @ (5,4,2)");
    CASE(INGOT_F32, (3, 40, 50), (50, 30), (3, 40, 30), "shared b (batch folds into rows)");
    CASE(INGOT_F32, (40, 50), (3, 50, 30), (3, 40, 30), "shared a");
    CASE(INGOT_F32, (3, 4, 5), (3, 5, 2), (3, 4, 2), "same batch");
    CASE(INGOT_F32, (1, 4, 5), (3, 5, 2), (3, 4, 2), "size-1 batch");
    CASE(INGOT_BF16, (2, 1, 3, 4), (5, 4, 2), (2, 5, 3, 2), "bf16 (2,1,3,4) @ (5,4,2)");
    CASE(INGOT_F16, (3, 20, 9), (9, 7), (3, 20, 7), "f16 shared b");
}

static void test_layouts(void **state) {
    (void)state;
    ingot_dtype dts[3] = {INGOT_F32, INGOT_BF16, INGOT_F16};
    for (int i = 0; i < 3; i++) {
        ingot_dtype dt = dts[i];
        /* tu_noncontiguous swaps the last two axes in memory: a transposed
         * view with unit stride along the other axis (the CblasTrans path) */
        check_case(dt, S(6, 7), 2, dt, S(7, 5), 2, true, false, S(6, 5), 2, "a transposed");
        check_case(dt, S(6, 7), 2, dt, S(7, 5), 2, false, true, S(6, 5), 2, "b transposed");
        check_case(dt, S(2, 6, 7), 3, dt, S(2, 7, 5), 3, true, true, S(2, 6, 5), 3,
                   "both transposed, batched");
        check_case(dt, S(7), 1, dt, S(7, 5), 2, true, false, S(5), 1, "strided vector");
    }
    /* a strided view with no unit stride: every other row and column */
    ingot_array *base = tu_random(INGOT_F32, S(8, 10), 2, 5, -1, 1);
    ingot_array *b = tu_random(INGOT_F32, S(5, 3), 2, 6, -1, 1), *a, *out;
    TU_OK(ingot_slice(&a, base, S(0, 0), S(8, 10), S(2, 2)));
    TU_OK(ingot_matmul(&out, a, b));
    tu_assert_shape(out, INGOT_F32, S(4, 3), 2);
    assert_matmul(out, a, b, "step-2 slice");
    ingot_array_free(out);
    /* a broadcast matrix operand (row stride 0) */
    ingot_array *row = tu_random(INGOT_F32, S(1, 5), 2, 7, -1, 1), *rows;
    TU_OK(ingot_broadcast_to(&rows, row, S(4, 5), 2));
    TU_OK(ingot_matmul(&out, rows, b));
    assert_matmul(out, rows, b, "broadcast rows");
    ingot_array_free(out);
    ingot_array_free(rows);
    ingot_array_free(row);
    ingot_array_free(a);
    ingot_array_free(b);
    ingot_array_free(base);
}

static void test_half_tiles(void **state) {
    (void)state;
    /* sizes crossing the blocked kernel's tile and depth boundaries */
    CASE(INGOT_BF16, (70, 300), (300, 270), (70, 270), "bf16 70x300x270");
    CASE(INGOT_F16, (65, 257), (257, 17), (65, 17), "f16 65x257x17");
    check_case(INGOT_BF16, S(33, 70), 2, INGOT_BF16, S(70, 40), 2, true, true, S(33, 40), 2,
               "bf16 both transposed");
}

/* A few rows times a transposed weight (x @ W^T, the decoding shape): the
 * f16/bf16 dot-product path, with K below, at and past its 16 lanes. */
static void test_transposed_weight(void **state) {
    (void)state;
    ingot_dtype dts[2] = {INGOT_BF16, INGOT_F16};
    const int64_t ks[4] = {5, 16, 37, 300};
    for (int i = 0; i < 2; i++) {
        ingot_dtype dt = dts[i];
        for (int t = 0; t < 4; t++) {
            int64_t k = ks[t];
            check_case(dt, S(1, k), 2, dt, S(k, 40), 2, false, true, S(1, 40), 2, "1 row");
            check_case(dt, S(4, k), 2, dt, S(k, 9), 2, true, true, S(4, 9), 2, "4 rows");
            check_case(dt, S(5, k), 2, dt, S(k, 9), 2, false, true, S(5, 9), 2, "5 rows");
        }
        check_case(dt, S(1, 1, 37), 3, dt, S(37, 20), 2, false, true, S(1, 1, 20), 3,
                   "size-1 batch");
        check_case(dt, S(2, 1, 37), 3, dt, S(37, 20), 2, false, true, S(2, 1, 20), 3,
                   "batch folded into 2 rows");
        check_case(dt, S(37), 1, dt, S(37, 20), 2, false, true, S(20), 1, "vector");
    }
}

static void test_mixed_dtypes(void **state) {
    (void)state;
    check_case(INGOT_F16, S(3, 4), 2, INGOT_BF16, S(4, 5), 2, false, false, S(3, 5), 2,
               "f16 @ bf16 -> f32");
    check_case(INGOT_BF16, S(3, 4), 2, INGOT_F32, S(4, 5), 2, false, false, S(3, 5), 2,
               "bf16 @ f32 -> f32");
    check_case(INGOT_F32, S(3, 4), 2, INGOT_F16, S(4), 1, false, false, S(3), 1,
               "f32 @ f16 vector -> f32");
}

static void test_empty(void **state) {
    (void)state;
    ingot_dtype dts[3] = {INGOT_F32, INGOT_BF16, INGOT_F16};
    for (int i = 0; i < 3; i++) {
        ingot_dtype dt = dts[i];
        ingot_array *a = tu_random(dt, S(3, 0), 2, 1, -1, 1),
                    *b = tu_random(dt, S(0, 4), 2, 2, -1, 1);
        ingot_array *out;
        TU_OK(ingot_matmul(&out, a, b));
        tu_assert_shape(out, dt, S(3, 4), 2);
        double zeros[12] = {0};
        tu_assert_close(out, zeros, 12, 0, 0, "K=0 gives zeros");
        ingot_array_free(out);
        ingot_array_free(a);
        ingot_array_free(b);
        CASE(dt, (0, 4), (4, 3), (0, 3), "M=0");
        CASE(dt, (2, 4), (4, 0), (2, 0), "N=0");
        CASE(dt, (0, 2, 4), (4, 3), (0, 2, 3), "empty batch");
        check_case(dt, S(0), 1, dt, S(0), 1, false, false, S(0), 0, "1-D K=0 -> scalar 0");
    }
}

static void test_errors(void **state) {
    (void)state;
    ingot_array *a = tu_random(INGOT_F32, S(4, 8), 2, 1, -1, 1);
    ingot_array *b = tu_random(INGOT_F32, S(7, 2), 2, 2, -1, 1);
    ingot_array *ai = tu_random(INGOT_I32, S(4, 8), 2, 3, 0, 5);
    ingot_array *bb = tu_random(INGOT_BOOL, S(8, 2), 2, 3, 0, 2);
    ingot_array *s = tu_random(INGOT_F32, S(0), 0, 4, -1, 1);
    ingot_array *c3 = tu_random(INGOT_F32, S(2, 8, 3), 3, 5, -1, 1);
    ingot_array *d3 = tu_random(INGOT_F32, S(3, 4, 8), 3, 6, -1, 1);
    ingot_array *out = (ingot_array *)&out; /* must be reset to NULL */
    TU_FAILS(ingot_matmul(&out, a, b), INGOT_ERR_SHAPE, "(4,8)");
    assert_null(out);
    TU_FAILS(ingot_matmul(&out, a, b), INGOT_ERR_SHAPE, "(7,2)");
    TU_FAILS(ingot_matmul(&out, d3, c3), INGOT_ERR_SHAPE, "(3,4,8) x (2,8,3)");
    TU_FAILS(ingot_matmul(&out, ai, ai), INGOT_ERR_DTYPE, "i32");
    TU_FAILS(ingot_matmul(&out, a, bb), INGOT_ERR_DTYPE, "bool");
    TU_FAILS(ingot_matmul(&out, s, a), INGOT_ERR_SHAPE, NULL);
    TU_FAILS(ingot_matmul(&out, NULL, a), INGOT_ERR_INVALID_ARGUMENT, NULL);
    TU_FAILS(ingot_matmul(NULL, a, a), INGOT_ERR_INVALID_ARGUMENT, NULL);
    ingot_array_free(d3);
    ingot_array_free(c3);
    ingot_array_free(s);
    ingot_array_free(bb);
    ingot_array_free(ai);
    ingot_array_free(b);
    ingot_array_free(a);
}

/* ---- gradients ---- */

static ingot_status matmul_fn(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                              size_t n_inputs, void *user) {
    (void)n_outputs;
    (void)n_inputs;
    (void)user;
    return ingot_matmul(&outputs[0], inputs[0], inputs[1]);
}

static void gradcheck_case(const int64_t *as, int an, const int64_t *bs, int bn, const char *what) {
    ingot_array *in[2] = {tu_random(INGOT_F32, as, an, 31, -1, 1),
                          tu_random(INGOT_F32, bs, bn, 32, -1, 1)};
    /* f32 central differences with eps 1e-3: error ~ eps^2 * |f'''| plus
     * rounding ~ 1e-7 * |L| / eps */
    tu_gradcheck(matmul_fn, NULL, in, 2, NULL, 1e-3, 1e-2, 1e-3, what);
    ingot_array_free(in[0]);
    ingot_array_free(in[1]);
}

static void test_gradients(void **state) {
    (void)state;
    gradcheck_case(S(3, 4), 2, S(4, 5), 2, "plain");
    gradcheck_case(S(2, 1, 3, 4), 4, S(5, 4, 2), 3, "batched broadcast");
    gradcheck_case(S(4), 1, S(4, 3), 2, "1-D @ 2-D");
    gradcheck_case(S(3, 4), 2, S(4), 1, "2-D @ 1-D");
    gradcheck_case(S(4), 1, S(4), 1, "1-D @ 1-D");
    gradcheck_case(S(2, 3, 4), 3, S(4), 1, "3-D @ 1-D");
    gradcheck_case(S(2, 3, 4), 3, S(4, 5), 2, "shared weight");
    gradcheck_case(S(2, 2, 3, 4), 4, S(4, 5), 2, "shared weight, 2 batch dims");
    gradcheck_case(S(3, 4), 2, S(2, 4, 5), 3, "shared a");
}

/* dA and dB of bf16 inputs keep their dtypes and shapes. */
static void test_gradient_dtypes(void **state) {
    (void)state;
    ingot_array *in[2] = {tu_random(INGOT_BF16, S(3, 4), 2, 1, -1, 1),
                          tu_random(INGOT_F32, S(2, 4, 5), 3, 2, -1, 1)};
    ingot_array *cot = tu_random(INGOT_F32, S(2, 3, 5), 3, 3, -1, 1), *outs[1], *grads[2];
    TU_OK(ingot_vjp(outs, grads, matmul_fn, NULL, in, 2, &cot, 1));
    tu_assert_shape(grads[0], INGOT_BF16, S(3, 4), 2);
    tu_assert_shape(grads[1], INGOT_F32, S(2, 4, 5), 3);
    /* dA[i][k] = sum_b sum_j g[b][i][j] * B[b][k][j] */
    double *g = tu_values(cot), *bv = tu_values(in[1]), want[12] = {0};
    for (int bi = 0; bi < 2; bi++)
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 4; k++)
                for (int j = 0; j < 5; j++)
                    want[i * 4 + k] += g[(bi * 3 + i) * 5 + j] * bv[(bi * 4 + k) * 5 + j];
    tu_assert_close(grads[0], want, 12, 1.0 / 128, 1e-3, "bf16 dA");
    free(g);
    free(bv);
    for (int i = 0; i < 2; i++)
        ingot_array_free(grads[i]);
    ingot_array_free(outs[0]);
    ingot_array_free(cot);
    ingot_array_free(in[0]);
    ingot_array_free(in[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_shapes),      cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_batch_broadcast), cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_half_tiles),      cmocka_unit_test(test_transposed_weight),
        cmocka_unit_test(test_mixed_dtypes),    cmocka_unit_test(test_empty),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_gradients),       cmocka_unit_test(test_gradient_dtypes),
    };
    /* every kernel variant this CPU can run: baseline, AVX2+FMA, AVX-512 */
    static const char *const names[] = {"baseline", "avx2", "avx512"};
    int failed = 0;
    for (int isa = INGOT__ISA_BASELINE; isa <= (int)ingot__cpu_isa(); isa++) {
        printf("matmul kernels: %s\n", names[isa]);
        ingot__cpu_set_isa_cap((ingot__isa)isa);
        failed += cmocka_run_group_tests(tests, NULL, NULL);
    }
    return failed;
}
