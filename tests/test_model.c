/* Models against Hugging Face transformers: every folder under
 * $INGOT_FIXTURES/models (tiny random-weight models written by
 * scripts/fixtures/gen_model_fixtures.py with transformers' eager attention)
 * holds expected.safetensors (ids_<i>, logits_<i> of each prompt) and
 * expected.json (greedy continuations). Checked here, for each folder:
 *  - logits at every position, loading config.json (transformers 5 form) and
 *    config.hub.json (the Hub form): f32 within 1e-4 of the largest |logit|
 *    (relative; seen <= 4e-6), bf16 within BF16_TOL (seen <= 6.2e-2, qwen2
 *    with 37 tokens: HF's eager bf16 attention rounds the scores, large without
 *    q/k norms, and the probabilities to bf16; ingot keeps them in f32);
 *  - greedy continuations with the KV cache token-identical; in bf16 they may
 *    part only at a step where HF's own top two logits are within TU_BF16_MARGIN
 *    (a near tie: seen 0 to 0.0625, i.e. one or two bf16 ulps);
 *  - cached decode equal to recomputing the whole sequence;
 *  - chunked prefill through the cache (the sliding layers' windowed cache)
 *    equal to full attention with the window mask;
 *  - trim + recompute and save + load of the cache equal to the original;
 *  - the batched left-padded prompts (attention mask and positions) equal to
 *    HF's batch and to each prompt alone; 8 greedy steps of all prompts
 *    decoded together through one cache equal to each one's continuation;
 *  - f32 weights converted at load to f16 (F16_TOL) and bf16 (BF16_TOL). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/model_fixture.h"
#include "common/testutil.h"

#define F32_TOL 1e-4
#define BF16_TOL 8e-2
#define F16_TOL 1e-2   /* f32 weights converted to f16 at load */
#define CACHE_TOL 1e-5 /* f32: cached vs recomputed (different summation splits) */

static char g_models[512];
static char g_tmp[256];

static void check_close(const tu_fixture *f, const ingot_array *a, const ingot_array *e, double tol,
                        const char *what, size_t i) {
    double r = tu_rel_err(a, e);
    if (getenv("INGOT_TEST_VERBOSE")) printf("  %s %s %zu: rel err %.3g\n", f->name, what, i, r);
    if (!(r <= tol)) fail_msg("%s: %s %zu: relative error %.3g > %.3g", f->name, what, i, r, tol);
}

static void check_logits(tu_fixture *f, const ingot_model *m, const char *what) {
    for (size_t i = 0; i < tu_fixture_n_prompts(f); i++) {
        ingot_array *ids = tu_ids_array(json_object_get(tu_fixture_prompt(f, i), "ids"), NULL, 0);
        ingot_array *want = tu_fixture_tensor(f, "logits_%zu", i), *got;
        TU_OK(tu_forward(&got, m, ids, NULL, false));
        assert_int_equal(ingot_array_dim(got, 1), ingot_array_dim(want, 0));
        check_close(f, got, want, f->bf16 ? BF16_TOL : F32_TOL, what, i);
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
                check_close(f, steps[s], row, CACHE_TOL, "cached decode step", (size_t)s);
                ingot_array_free(row);
            }
            ingot_array_free(full);
            ingot_array_free(all);
        }
        for (int64_t s = 0; s < n; s++)
            ingot_array_free(steps[s]);
    }
}

/* The rope switch of a longrope model (ingot_model_info.rope_long_after),
 * else 0. */
static int64_t long_after(const tu_fixture *f) {
    ingot_model_info info;
    ingot_model_get_info(&info, f->m);
    return info.rope_long_after;
}

/* Prefill in chunks through the cache == full forward; then trim and
 * save/load give the same next-step logits. For a longrope model the first
 * chunk goes past the switch, so that every chunk rotates as the full
 * forward does. */
static void check_cache(tu_fixture *f) {
    size_t last = tu_fixture_n_prompts(f) - 1;
    ingot_array *ids = tu_ids_array(json_object_get(tu_fixture_prompt(f, last), "ids"), NULL, 0), *full;
    TU_OK(tu_forward(&full, f->m, ids, NULL, false));
    int64_t T = ingot_array_dim(ids, 1), sw = long_after(f);
    int64_t first = sw > 0 && T > sw ? sw + 1 : 5;
    ingot_kv_cache *c;
    TU_OK(ingot_kv_cache_new(&c, f->m, 1, 0));
    for (int64_t t0 = 0; t0 < T; t0 = t0 ? t0 + 5 : first) {
        int64_t end = t0 ? t0 + 5 : first, t1 = end < T ? end : T;
        ingot_array *chunk, *lg, *want;
        TU_OK(ingot_slice_axis(&chunk, ids, 1, t0, t1));
        TU_OK(tu_forward(&lg, f->m, chunk, c, false));
        TU_OK(ingot_slice_axis(&want, full, 1, t0, t1));
        check_close(f, lg, want, f->bf16 ? 1e-2 : CACHE_TOL, "chunked prefill", (size_t)t0);
        ingot_array_free(chunk);
        ingot_array_free(lg);
        ingot_array_free(want);
    }
    assert_int_equal(ingot_kv_cache_length(c), T);
    /* rollback by one token and recompute it */
    ingot_array *tok, *lg, *want, *lg2;
    TU_OK(ingot_kv_cache_trim(c, T - 1));
    TU_OK(ingot_slice_axis(&tok, ids, 1, T - 1, T));
    TU_OK(tu_forward(&lg, f->m, tok, c, false));
    TU_OK(ingot_slice_axis(&want, full, 1, T - 1, T));
    check_close(f, lg, want, f->bf16 ? 1e-2 : CACHE_TOL, "after trim", 0);
    /* save, load, decode one more token in both */
    char path[400];
    snprintf(path, sizeof path, "%s/%s.cache", g_tmp, f->name);
    TU_OK(ingot_kv_cache_save(c, path));
    ingot_kv_cache *c2;
    TU_OK(ingot_kv_cache_load(&c2, f->m, path));
    assert_int_equal(ingot_kv_cache_length(c2), T);
    ingot_array_free(lg);
    TU_OK(tu_forward(&lg, f->m, tok, c, false));
    TU_OK(tu_forward(&lg2, f->m, tok, c2, false));
    double *a = tu_values(lg), *b = tu_values(lg2);
    assert_memory_equal(a, b, (size_t)ingot_array_size(lg) * sizeof(double));
    free(a);
    free(b);
    ingot_model_info info;
    ingot_model_get_info(&info, f->m);
    if (info.sliding_window > 0 && T > info.sliding_window + 2) /* the window is gone */
        TU_FAILS(ingot_kv_cache_trim(c, T - 3), INGOT_ERR_UNSUPPORTED, "keeps tokens from");
    else
        TU_OK(ingot_kv_cache_trim(c, T - 3));
    ingot_kv_cache_free(c2);
    ingot_kv_cache_free(c);
    ingot_array *arrays[] = {tok, lg, lg2, want, full, ids};
    for (size_t i = 0; i < 6; i++)
        ingot_array_free(arrays[i]);
}

/* Whether a longrope model rotates prompt b (len tokens) alone as in a batch
 * of T positions: on the same side of the switch. */
static bool same_rope(const tu_fixture *f, int64_t len, int64_t T) {
    int64_t sw = long_after(f);
    return sw == 0 || (len > sw) == (T > sw);
}

/* All prompts left-padded into one batch (mask, positions) == each alone
 * (longrope: each that rotates alone as the batch does). */
static void check_batch_vs_single(tu_fixture *f) {
    int64_t n = (int64_t)tu_fixture_n_prompts(f), T = 0;
    for (int64_t b = 0; b < n; b++) {
        int64_t len = (int64_t)json_array_size(json_object_get(tu_fixture_prompt(f, (size_t)b), "ids"));
        T = len > T ? len : T;
    }
    int64_t *ids = calloc((size_t)(n * T), sizeof *ids), *mask = calloc((size_t)(n * T), 8);
    int64_t *pos = calloc((size_t)(n * T), sizeof *pos), shape[2] = {n, T};
    for (int64_t b = 0; b < n; b++) {
        json_t *list = json_object_get(tu_fixture_prompt(f, (size_t)b), "ids");
        int64_t len = (int64_t)json_array_size(list), pad = T - len;
        for (int64_t t = pad; t < T; t++) {
            ids[b * T + t] = json_integer_value(json_array_get(list, (size_t)(t - pad)));
            mask[b * T + t] = 1;
            pos[b * T + t] = t - pad;
        }
    }
    ingot_array *a_ids, *a_mask, *a_pos, *got;
    TU_OK(ingot_array_from_data(&a_ids, ids, INGOT_I64, shape, 2));
    TU_OK(ingot_array_from_data(&a_mask, mask, INGOT_I64, shape, 2));
    TU_OK(ingot_array_from_data(&a_pos, pos, INGOT_I64, shape, 2));
    ingot_forward_options o = {.positions = a_pos, .attention_mask = a_mask, .last_only = true};
    TU_OK(ingot_model_forward(&got, f->m, a_ids, NULL, &o)); /* [n, 1, V] */
    for (int64_t b = 0; b < n; b++) {
        ingot_array *want = tu_fixture_tensor(f, "logits_%zu", (size_t)b), *row, *last;
        int64_t len = ingot_array_dim(want, 0);
        if (!same_rope(f, len, T)) {
            ingot_array_free(want);
            continue;
        }
        TU_OK(ingot_slice_axis(&row, got, 0, b, b + 1));
        TU_OK(ingot_slice_axis(&last, want, 0, len - 1, len));
        check_close(f, row, last, f->bf16 ? BF16_TOL : F32_TOL, "padded batch row", (size_t)b);
        ingot_array_free(row);
        ingot_array_free(last);
        ingot_array_free(want);
    }
    ingot_array *arrays[] = {a_ids, a_mask, a_pos, got};
    for (size_t i = 0; i < 4; i++)
        ingot_array_free(arrays[i]);
    free(ids);
    free(mask);
    free(pos);
}

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
    check_close(f, got, want, f->bf16 ? BF16_TOL : F32_TOL, "batch last logits", 0);
    ingot_array *arrays[] = {ids, mask, pos, want, got};
    for (size_t i = 0; i < 5; i++)
        ingot_array_free(arrays[i]);
}

/* f32 weights converted at load to f16 and bf16 stay close to HF's f32 logits. */
static void check_converted(tu_fixture *f) {
    static const char *const dtypes[] = {"f16", "bf16"};
    for (int d = 0; d < 2 && !f->bf16; d++) {
        ingot_model_options o = {.dtype = dtypes[d]};
        ingot_model *m;
        TU_OK(ingot_model_load(&m, f->dir, &o));
        ingot_model_info info;
        ingot_model_get_info(&info, m);
        assert_int_equal(info.dtype, d ? INGOT_BF16 : INGOT_F16);
        ingot_array *ids = tu_ids_array(json_object_get(tu_fixture_prompt(f, 0), "ids"), NULL, 0);
        ingot_array *want = tu_fixture_tensor(f, "logits_%zu", 0), *got;
        TU_OK(tu_forward(&got, m, ids, NULL, false));
        check_close(f, got, want, d ? BF16_TOL : F16_TOL, d ? "as bf16" : "as f16", 0);
        ingot_array_free(got);
        ingot_array_free(want);
        ingot_array_free(ids);
        ingot_model_free(m);
    }
}

/* Greedy decode of all prompts together (left-padded, mask and positions
 * growing with the cache) == each prompt's own continuation (longrope: of
 * each that rotates alone as the batch does from its first step on). */
static void check_batched_decode(tu_fixture *f) {
    enum { STEPS = 8 };
    int64_t n = (int64_t)tu_fixture_n_prompts(f), T = 0;
    if (f->bf16) return;
    for (int64_t b = 0; b < n; b++) {
        int64_t len = (int64_t)json_array_size(json_object_get(tu_fixture_prompt(f, (size_t)b), "ids"));
        T = len > T ? len : T;
    }
    int64_t Tk = T + STEPS, *ids = calloc((size_t)n * (size_t)T, 8),
            *mask = calloc((size_t)n * (size_t)Tk, 8);
    int64_t *pos = calloc((size_t)(n * T), 8), *next = calloc((size_t)n, 8);
    for (int64_t b = 0; b < n; b++) {
        json_t *list = json_object_get(tu_fixture_prompt(f, (size_t)b), "ids");
        int64_t len = (int64_t)json_array_size(list), pad = T - len;
        for (int64_t t = pad; t < T; t++) {
            ids[b * T + t] = json_integer_value(json_array_get(list, (size_t)(t - pad)));
            pos[b * T + t] = t - pad;
        }
        for (int64_t t = pad; t < Tk; t++)
            mask[b * Tk + t] = 1;
    }
    ingot_kv_cache *c;
    TU_OK(ingot_kv_cache_new(&c, f->m, n, 0));
    int64_t cur = T;
    for (int64_t s = 0; s < STEPS; s++) {
        int64_t shape[2] = {n, s ? 1 : T}, mshape[2] = {n, Tk};
        ingot_array *a_ids, *a_pos, *a_mask, *mview, *lg;
        TU_OK(ingot_array_from_data(&a_ids, s ? next : ids, INGOT_I64, shape, 2));
        for (int64_t b = 0; s && b < n; b++) /* the next position of row b */
            pos[b] = (int64_t)json_array_size(json_object_get(tu_fixture_prompt(f, (size_t)b), "ids")) + s - 1;
        TU_OK(ingot_array_from_data(&a_pos, pos, INGOT_I64, shape, 2));
        TU_OK(ingot_array_from_data(&a_mask, mask, INGOT_I64, mshape, 2));
        TU_OK(ingot_slice_axis(&mview, a_mask, 1, 0, cur));
        ingot_forward_options o = {.positions = a_pos, .attention_mask = mview, .last_only = true};
        TU_OK(ingot_model_forward(&lg, f->m, a_ids, c, &o));
        for (int64_t b = 0; b < n; b++) {
            ingot_array *row;
            TU_OK(ingot_slice_axis(&row, lg, 0, b, b + 1));
            next[b] = tu_argmax_last(row);
            ingot_array_free(row);
            json_t *p = tu_fixture_prompt(f, (size_t)b), *cont = json_object_get(p, "continuation");
            int64_t len = (int64_t)json_array_size(json_object_get(p, "ids"));
            if (same_rope(f, len, T) && next[b] != json_integer_value(json_array_get(cont, (size_t)s)))
                fail_msg("%s: batched decode row %lld step %lld: %lld, alone %lld", f->name,
                         (long long)b, (long long)s, (long long)next[b],
                         (long long)json_integer_value(json_array_get(cont, (size_t)s)));
        }
        ingot_array *arrays[] = {a_ids, a_pos, a_mask, mview, lg};
        for (size_t i = 0; i < 5; i++)
            ingot_array_free(arrays[i]);
        cur++;
    }
    ingot_kv_cache_free(c);
    free(ids);
    free(mask);
    free(pos);
    free(next);
}

/* The same folder with config.hub.json as its config.json. */
static void check_hub_config(tu_fixture *f) {
    char dir[400], src[800], dst[800];
    snprintf(dir, sizeof dir, "%s/%s.hub", g_tmp, f->name);
    assert_int_equal(mkdir(dir, 0777), 0);
    snprintf(src, sizeof src, "%s/config.hub.json", f->dir);
    if (access(src, R_OK) != 0) {
        printf("  %s: no config.hub.json\n", f->name);
        return;
    }
    snprintf(src, sizeof src, "%s/model.safetensors", f->dir);
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    tu_copy_file(src, dst);
    snprintf(src, sizeof src, "%s/config.hub.json", f->dir);
    snprintf(dst, sizeof dst, "%s/config.json", dir);
    json_error_t err;
    json_t *hub = json_load_file(src, 0, &err);
    assert_non_null(hub);
    assert_int_equal(json_dump_file(hub, dst, 0), 0);
    json_decref(hub);
    ingot_model *m;
    TU_OK(ingot_model_load(&m, dir, NULL));
    check_logits(f, m, "logits (hub config)");
    ingot_model_free(m);
}

static void test_fixture(void **state) {
    tu_fixture f;
    tu_fixture_open(&f, g_models, (const char *)*state, NULL);
    check_logits(&f, f.m, "logits");
    check_hub_config(&f);
    check_greedy(&f);
    check_cache(&f);
    check_batch(&f);
    check_batch_vs_single(&f);
    check_batched_decode(&f);
    check_converted(&f);
    tu_check_call_peak(&f);
    tu_fixture_close(&f);
}

int main(void) {
    tu_models_dir(g_models, sizeof g_models);
    char **names;
    size_t n = tu_fixture_names(g_models, &names);
    const char *tmp = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/ingot_models_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n == 0 || !mkdtemp(g_tmp)) {
        printf("no model fixtures in %s: skipped\n", g_models);
        tu_free_names(names, n);
        return 77;
    }
    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    for (size_t i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){
            .name = names[i], .test_func = test_fixture, .initial_state = names[i]};
    int rc = _cmocka_run_group_tests("test_model", tests, n, NULL, NULL);
    tu_remove_tree(g_tmp);
    tu_free_names(names, n);
    free(tests);
    return rc;
}
