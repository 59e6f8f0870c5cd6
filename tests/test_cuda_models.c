/* Models on the GPU against Hugging Face transformers and against the CPU:
 * every folder under $INGOT_FIXTURES/models (docs/model-fixtures.md; read as
 * test_model does) loaded with ingot_model_options.device = cuda:0:
 *  - logits of every prompt at every position against HF's: f32 within
 *    F32_TOL of the largest |logit| (relative), bf16 within BF16_TOL (the
 *    tolerances of test_model);
 *  - the same logits against the CPU model's: f32 within GPU_CPU_F32_TOL
 *    (matmul and attention sum in another order), bf16 within BF16_TOL;
 *  - greedy continuations through the KV cache token-identical to HF's for
 *    f32 (bf16: they may part only at a near tie of HF's top two logits);
 *  - cached decode equal to recomputing the whole sequence within CACHE_TOL
 *    (f32);
 *  - the batched left-padded prompts (mask and positions), where the folder
 *    has them, against HF's last logits.
 * Ids, positions and masks are CPU arrays, as callers pass them. Without a
 * CUDA device the program exits 77 (skipped). A summary line gives the worst
 * relative error of each check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model_fixture.h"
#include "common/testutil.h"

#define F32_TOL 1e-4
#define BF16_TOL 8e-2
#define GPU_CPU_F32_TOL 2e-5
#define CACHE_TOL 1e-5

static const ingot_device g_gpu = {INGOT_DEVICE_CUDA, 0};
static char g_models[512];

/* The worst relative error seen per check, for the summary. */
enum { W_HF_F32, W_HF_BF16, W_CPU_F32, W_CPU_BF16, W_CACHE, W_BATCH, W_COUNT };
static const char *const W_NAMES[W_COUNT] = {"vs HF f32",  "vs HF bf16", "vs CPU f32",
                                             "vs CPU bf16", "cache f32", "batch"};
static double g_worst[W_COUNT];

static void check_close(const tu_fixture *f, const ingot_array *a, const ingot_array *e,
                        double tol, int which, const char *what, size_t i) {
    double r = tu_rel_err(a, e);
    if (getenv("INGOT_TEST_VERBOSE")) printf("  %s %s %zu: rel err %.3g\n", f->name, what, i, r);
    if (r > g_worst[which] || isnan(r)) g_worst[which] = r;
    if (!(r <= tol)) fail_msg("%s: %s %zu: relative error %.3g > %.3g", f->name, what, i, r, tol);
}

/* Every prompt's logits on the GPU against HF's and the CPU model's. */
static void check_logits(tu_fixture *f, const ingot_model *cpu) {
    for (size_t i = 0; i < tu_fixture_n_prompts(f); i++) {
        ingot_array *ids = tu_ids_array(json_object_get(tu_fixture_prompt(f, i), "ids"), NULL, 0);
        ingot_array *want = tu_fixture_tensor(f, "logits_%zu", i), *got, *ref;
        TU_OK(tu_forward(&got, f->m, ids, NULL, false));
        assert_int_equal(ingot_array_device(got).type, INGOT_DEVICE_CUDA);
        assert_int_equal(ingot_array_dim(got, 1), ingot_array_dim(want, 0));
        check_close(f, got, want, f->bf16 ? BF16_TOL : F32_TOL, f->bf16 ? W_HF_BF16 : W_HF_F32,
                    "logits vs HF", i);
        TU_OK(tu_forward(&ref, cpu, ids, NULL, false));
        check_close(f, got, ref, f->bf16 ? BF16_TOL : GPU_CPU_F32_TOL,
                    f->bf16 ? W_CPU_BF16 : W_CPU_F32, "logits vs CPU", i);
        ingot_array_free(ref);
        ingot_array_free(got);
        ingot_array_free(want);
        ingot_array_free(ids);
    }
}

static void check_greedy(tu_fixture *f) {
    for (size_t i = 0; i < tu_fixture_n_prompts(f); i++) {
        json_t *p = tu_fixture_prompt(f, i);
        int64_t n = (int64_t)json_array_size(json_object_get(p, "continuation")), got[64];
        ingot_array *steps[64];
        assert_true(n > 0 && n <= 64);
        tu_greedy(f, i, got, steps, n);
        tu_check_continuation(f, i, got, n);
        /* cached decode == recomputing prompt + continuation without a cache */
        if (!f->bf16) {
            ingot_array *all = tu_ids_array(json_object_get(p, "ids"), got, n - 1), *full, *row;
            TU_OK(tu_forward(&full, f->m, all, NULL, false));
            int64_t T = ingot_array_dim(all, 1);
            for (int64_t s = tu_greedy_recomputable_from(f, i, n); s < n; s++) {
                TU_OK(ingot_slice_axis(&row, full, 1, T - n + s, T - n + s + 1));
                check_close(f, steps[s], row, CACHE_TOL, W_CACHE, "cached decode step",
                            (size_t)s);
                ingot_array_free(row);
            }
            ingot_array_free(full);
            ingot_array_free(all);
        }
        for (int64_t s = 0; s < n; s++) ingot_array_free(steps[s]);
    }
}

/* HF's batched, left-padded prompts (where the folder has them). */
static void check_batch(tu_fixture *f) {
    ingot_tensor_info info;
    if (ingot_safetensors_info(&info, f->st, "batch_ids") != INGOT_OK) return;
    ingot_array *ids, *mask, *pos, *want, *got;
    TU_OK(ingot_safetensors_get(&ids, f->st, "batch_ids"));
    TU_OK(ingot_safetensors_get(&mask, f->st, "batch_mask"));
    TU_OK(ingot_safetensors_get(&pos, f->st, "batch_position_ids"));
    TU_OK(ingot_safetensors_get(&want, f->st, "batch_last_logits"));
    ingot_forward_options o = {.positions = pos, .attention_mask = mask, .last_only = true};
    TU_OK(ingot_model_forward(&got, f->m, ids, NULL, &o));
    check_close(f, got, want, f->bf16 ? BF16_TOL : F32_TOL, W_BATCH, "batch last logits", 0);
    ingot_array *arrays[] = {ids, mask, pos, want, got};
    for (size_t i = 0; i < 5; i++) ingot_array_free(arrays[i]);
}

static void test_fixture(void **state) {
    ingot_model_options gpu = {.device = g_gpu};
    tu_fixture f;
    tu_fixture_open(&f, g_models, (const char *)*state, &gpu);
    ingot_model *cpu;
    TU_OK(ingot_model_load(&cpu, f.dir, NULL));
    check_logits(&f, cpu);
    check_greedy(&f);
    check_batch(&f);
    tu_check_call_peak(&f);
    ingot_model_free(cpu);
    tu_fixture_close(&f);
}

int main(void) {
    if (ingot_device_count(INGOT_DEVICE_CUDA) == 0) {
        printf("test_cuda_models: no CUDA device (the plugin libingot_cuda.so or a GPU is "
               "missing): skipped\n");
        return 77;
    }
    tu_models_dir(g_models, sizeof g_models);
    char **names;
    size_t n = tu_fixture_names(g_models, &names);
    if (n == 0) {
        printf("no model fixtures in %s: skipped\n", g_models);
        return 77;
    }
    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    assert_non_null(tests);
    for (size_t i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){
            .name = names[i], .test_func = test_fixture, .initial_state = names[i]};
    int rc = _cmocka_run_group_tests("test_cuda_models", tests, n, NULL, NULL);
    printf("test_cuda_models: %zu fixtures; worst relative error:", n);
    for (int w = 0; w < W_COUNT; w++) printf(" %s %.3g%s", W_NAMES[w], g_worst[w],
                                             w + 1 < W_COUNT ? "," : "\n");
    tu_free_names(names, n);
    free(tests);
    return tu_cuda_release() ? 1 : rc;
}
