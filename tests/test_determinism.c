/* Results identical for any thread count: each workload (f32 products of
 * many shapes and layouts through OpenBLAS, f16/bf16 products, reductions,
 * softmax, attention, a whole model forward) is computed with 1 thread and
 * again with 2, 3, 8 and 64, and every output must equal the 1-thread one
 * byte for byte. The reference is the same computation at another thread
 * count, so the check holds whatever the kernels' rounding on this machine.
 *
 * ctest runs this program under several OPENBLAS_CORETYPE values and with
 * the variable unset (tests/CMakeLists.txt): OpenBLAS then picks another
 * kernel, and the result must still not depend on the thread count. A core
 * type whose instructions this CPU lacks makes the run report "skipped".
 * The products run once more with each narrower matmul kernel variant the
 * CPU can run (baseline, AVX2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/cpu/cpu.h"
#include "common/model_fixture.h"
#include "common/testutil.h"

#define S(...) ((const int64_t[]){__VA_ARGS__})

static const int thread_counts[] = {2, 3, 8, 64};

typedef ingot_status (*workload)(ingot_array **out, const ingot_array *const *in);

/* The output of w as host bytes (malloc'd), *bytes its size. */
static unsigned char *run_bytes(workload w, const ingot_array *const *in, size_t *bytes) {
    ingot_array *out = NULL;
    TU_OK(w(&out, in));
    *bytes = (size_t)ingot_array_size(out) * ingot_dtype_size(ingot_array_dtype(out));
    unsigned char *h = malloc(*bytes ? *bytes : 1);
    TU_OK(ingot_array_to_host(h, *bytes, ingot_array_dtype(out), out));
    ingot_array_free(out);
    return h;
}

/* Fails unless w gives the same bytes at every thread count. */
static void check_threads(const char *what, workload w, const ingot_array *const *in) {
    size_t n1, nt;
    ingot_set_num_threads(1);
    unsigned char *ref = run_bytes(w, in, &n1);
    for (size_t t = 0; t < sizeof thread_counts / sizeof thread_counts[0]; t++) {
        ingot_set_num_threads(thread_counts[t]);
        unsigned char *got = run_bytes(w, in, &nt);
        assert_int_equal(nt, n1);
        if (memcmp(ref, got, n1) != 0) {
            print_error("%s: %d threads differ from 1 thread\n", what, thread_counts[t]);
            fail();
        }
        free(got);
    }
    ingot_set_num_threads(0);
    free(ref);
}

static ingot_status matmul2(ingot_array **out, const ingot_array *const *in) {
    return ingot_matmul(out, in[0], in[1]);
}

/* a [.., m, k] @ b [.., k, n] with random values; b_transposed: b is a
 * transposed view of a row-major [n, k] weight; a_strided: a is a strided
 * view that BLAS cannot take (copied tile by tile). */
static void check_matmul(ingot_dtype dt, const int64_t *as, int an, const int64_t *bs, int bn,
                         bool b_transposed, bool a_strided) {
    ingot_array *a = tu_random(dt, as, an, 31, -1, 1), *b = tu_random(dt, bs, bn, 32, -1, 1);
    if (b_transposed) b = tu_noncontiguous_take(b);
    if (a_strided) a = tu_noncontiguous_take(a);
    char what[160];
    snprintf(what, sizeof what, "matmul %s [%lld x %lld] @ [%lld x %lld]%s%s",
             ingot_dtype_name(dt), (long long)as[an - 2], (long long)as[an - 1],
             (long long)bs[bn - 2], (long long)bs[bn - 1], b_transposed ? " b transposed" : "",
             a_strided ? " a strided" : "");
    const ingot_array *in[2] = {a, b};
    check_threads(what, matmul2, in);
    ingot_array_free(a);
    ingot_array_free(b);
}

static void test_matmul_f32(void **state) {
    (void)state;
    check_matmul(INGOT_F32, S(200, 300), 2, S(300, 250), 2, false, false);
    /* K past OpenBLAS's K block (384 on x86), which threaded sgemm splits */
    check_matmul(INGOT_F32, S(128, 700), 2, S(700, 128), 2, false, false);
    /* several tiles in both directions, ragged edges */
    check_matmul(INGOT_F32, S(513, 1000), 2, S(1000, 257), 2, false, false);
    check_matmul(INGOT_F32, S(64, 512), 2, S(512, 768), 2, true, false); /* x @ W^T */
    check_matmul(INGOT_F32, S(300, 200), 2, S(200, 300), 2, false, true);
    check_matmul(INGOT_F32, S(3, 70, 90), 3, S(3, 90, 40), 3, false, false);  /* batched */
    check_matmul(INGOT_F32, S(5, 33, 600), 3, S(600, 300), 2, false, false); /* folded batch */
    check_matmul(INGOT_F32, S(2, 520), 2, S(520, 900), 2, true, false);      /* decode rows */
    check_matmul(INGOT_F32, S(7, 400), 2, S(400, 1500), 2, false, false);
}

static void test_matmul_half(void **state) {
    (void)state;
    for (int d = 0; d < 2; d++) {
        ingot_dtype dt = d ? INGOT_F16 : INGOT_BF16;
        check_matmul(dt, S(200, 300), 2, S(300, 250), 2, false, false);
        check_matmul(dt, S(1, 2048), 2, S(2048, 512), 2, true, false);
        check_matmul(dt, S(3, 40, 600), 3, S(3, 600, 70), 3, true, false);
    }
}

static ingot_status sum_last(ingot_array **out, const ingot_array *const *in) {
    const int axis = -1;
    return ingot_sum(out, in[0], &axis, 1, false);
}

static ingot_status sum_all(ingot_array **out, const ingot_array *const *in) {
    return ingot_sum(out, in[0], NULL, 0, false);
}

static ingot_status softmax_last(ingot_array **out, const ingot_array *const *in) {
    return ingot_softmax(out, in[0], -1);
}

static void test_reductions(void **state) {
    (void)state;
    ingot_array *wide = tu_random(INGOT_F32, S(3, 100000), 2, 41, -1, 1);
    ingot_array *rows = tu_random(INGOT_F32, S(64, 4096), 2, 42, -4, 4);
    ingot_array *half = tu_random(INGOT_BF16, S(64, 4096), 2, 43, -4, 4);
    check_threads("sum over 100000", sum_last, (const ingot_array *[]){wide});
    check_threads("sum of everything", sum_all, (const ingot_array *[]){wide});
    check_threads("softmax f32", softmax_last, (const ingot_array *[]){rows});
    check_threads("softmax bf16", softmax_last, (const ingot_array *[]){half});
    ingot_array_free(wide);
    ingot_array_free(rows);
    ingot_array_free(half);
}

static ingot_status causal_sdpa(ingot_array **out, const ingot_array *const *in) {
    ingot_sdpa_options o = {.causal = true};
    return ingot_sdpa(out, in[0], in[1], in[2], &o);
}

static void test_attention(void **state) {
    (void)state;
    for (int d = 0; d < 2; d++) {
        ingot_dtype dt = d ? INGOT_BF16 : INGOT_F32;
        ingot_array *q = tu_random(dt, S(2, 8, 96, 64), 4, 51, -1, 1);
        ingot_array *k = tu_random(dt, S(2, 2, 96, 64), 4, 52, -1, 1);
        ingot_array *v = tu_random(dt, S(2, 2, 96, 64), 4, 53, -1, 1);
        check_threads(d ? "sdpa bf16" : "sdpa f32", causal_sdpa, (const ingot_array *[]){q, k, v});
        ingot_array_free(q);
        ingot_array_free(k);
        ingot_array_free(v);
    }
}

static const ingot_model *g_model; /* for model_logits */

static ingot_status model_logits(ingot_array **out, const ingot_array *const *in) {
    return ingot_model_forward(out, g_model, in[0], NULL, NULL);
}

/* Every position's logits of a whole forward pass, f32 and bf16 weights. */
static void test_model_forward(void **state) {
    (void)state;
    char models[600];
    tu_models_dir(models, sizeof models);
    const char *names[] = {"qwen3_untied_f32", "gemma3_text_bf16"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        tu_fixture f;
        tu_fixture_open(&f, models, names[i], NULL);
        g_model = f.m;
        ingot_array *ids = tu_ids_array(json_object_get(tu_fixture_prompt(&f, 0), "ids"), NULL, 0);
        check_threads(names[i], model_logits, (const ingot_array *[]){ids});
        ingot_array_free(ids);
        tu_fixture_close(&f);
    }
}

/* The instruction sets OpenBLAS's kernels for a core type need, as
 * /proc/cpuinfo names them; a core type not listed is left to OpenBLAS. */
static const struct {
    const char *core;
    const char *needs[3];
} core_needs[] = {
    {"Prescott", {"pni"}},            {"Core2", {"ssse3"}},
    {"Nehalem", {"sse4_2"}},          {"Sandybridge", {"avx"}},
    {"Haswell", {"avx2", "fma"}},     {"Zen", {"avx2", "fma"}},
    {"SkylakeX", {"avx512f", "avx512bw", "avx512vl"}},
    {"Cooperlake", {"avx512f", "avx512_bf16"}},
};

/* Whether the flags line of /proc/cpuinfo lists flag. */
static bool cpu_has(const char *flag) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "flags", 5) != 0 || !colon) continue;
        for (char *tok = strtok(colon + 1, " \t\n"); tok && !found;
             tok = strtok(NULL, " \t\n"))
            found = strcmp(tok, flag) == 0;
        break;
    }
    if (f) fclose(f);
    return found;
}

/* The feature of core's kernels this CPU lacks, or NULL. */
static const char *missing_feature(const char *core) {
    for (size_t i = 0; i < sizeof core_needs / sizeof core_needs[0]; i++) {
        if (strcasecmp(core, core_needs[i].core) != 0) continue;
        for (int j = 0; j < 3 && core_needs[i].needs[j]; j++)
            if (!cpu_has(core_needs[i].needs[j])) return core_needs[i].needs[j];
    }
    return NULL;
}

int main(void) {
    const char *core = getenv("OPENBLAS_CORETYPE");
    const char *lack = core ? missing_feature(core) : NULL;
    if (lack) {
        printf("skipped: OPENBLAS_CORETYPE=%s needs %s, which this CPU lacks\n", core, lack);
        return 77;
    }
    printf("OPENBLAS_CORETYPE %s\n", core ? core : "unset");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_f32), cmocka_unit_test(test_matmul_half),
        cmocka_unit_test(test_reductions), cmocka_unit_test(test_attention),
        cmocka_unit_test(test_model_forward),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    /* the products again with each narrower matmul kernel variant */
    const struct CMUnitTest products[] = {cmocka_unit_test(test_matmul_f32),
                                          cmocka_unit_test(test_matmul_half)};
    for (int isa = INGOT__ISA_BASELINE; isa < (int)ingot__cpu_isa(); isa++) {
        printf("matmul kernels capped at variant %d\n", isa);
        ingot__cpu_set_isa_cap((ingot__isa)isa);
        failed += cmocka_run_group_tests(products, NULL, NULL);
    }
    return failed;
}
