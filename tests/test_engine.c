/* The generation engine on the tiny fixture models (tests/fixtures/models,
 * docs/model-fixtures.md; f32 folders, whose greedy continuations have no
 * near ties at f32 precision):
 *  - session greedy generation equal to Hugging Face's continuations
 *    (qwen3 tied, llama3, gemma3_text with its rotating sliding-window cache,
 *    mistral_window, phi3_longrope: the cache computed again when the sequence
 *    grows past the longrope switch, and when a reused prefix was rotated
 *    with the other factors);
 *  - cached decode equal to recomputing the whole sequence without a cache;
 *  - multi-turn prefix reuse (reused and prefilled token counts from the
 *    metrics), including a rotating cache that cannot be trimmed back;
 *  - classify (batched == one by one == the fixture's logits), top-k and
 *    label scoring against plain double loops over single forward passes;
 *  - batch generation == each prompt alone (greedy; sampling with seed + i);
 *  - text: a byte-level tokenizer.json written beside a copy of the qwen3
 *    model (vocabulary = the 256 bytes, so ids are bytes): streamed pieces,
 *    stop strings (not emitted, held back while they may still match), EOS
 *    from generation_config.json, ignore_eos, the callback stopping;
 *  - errors, each with its message, leaving nothing allocated. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/testutil.h"
#include "ingot/chat.h"
#include "ingot/engine.h"

static char g_models[512];
static char g_tmp[256];

typedef struct fixture {
    char dir[600];
    json_t *expected;
    ingot_model *m;
} fixture;

static void fixture_open(fixture *f, const char *name) {
    snprintf(f->dir, sizeof f->dir, "%s/%s", g_models, name);
    char p[700];
    snprintf(p, sizeof p, "%s/expected.json", f->dir);
    json_error_t err;
    f->expected = json_load_file(p, 0, &err);
    if (!f->expected) fail_msg("%s: %s", p, err.text);
    TU_OK(ingot_model_load(&f->m, f->dir, NULL));
}

static void fixture_close(fixture *f) {
    ingot_model_free(f->m);
    json_decref(f->expected);
}

static size_t n_prompts(const fixture *f) {
    return json_array_size(json_object_get(f->expected, "prompts"));
}

/* The ids of a JSON list (key of prompt i); *n receives the count; caller frees. */
static int32_t *prompt_list(const fixture *f, size_t i, const char *key, size_t *n) {
    json_t *list = json_object_get(json_array_get(json_object_get(f->expected, "prompts"), i), key);
    *n = json_array_size(list);
    int32_t *ids = malloc(*n * sizeof *ids);
    for (size_t k = 0; k < *n; k++)
        ids[k] = (int32_t)json_integer_value(json_array_get(list, k));
    return ids;
}

/* The largest entry of row[0..V) (first of equals). */
static int32_t argmax(const double *row, int64_t V) {
    int32_t best = 0;
    for (int64_t i = 1; i < V; i++)
        if (row[i] > row[best]) best = (int32_t)i;
    return best;
}

/* logits [1, n, V] of ids alone, without a cache, as host doubles. */
static double *full_logits(const ingot_model *m, const int32_t *ids, size_t n) {
    int64_t shape[2] = {1, (int64_t)n};
    ingot_array *a, *lg;
    TU_OK(ingot_array_from_data(&a, ids, INGOT_I32, shape, 2));
    TU_OK(ingot_model_forward(&lg, m, a, NULL, NULL));
    double *v = tu_values(lg);
    ingot_array_free(a);
    ingot_array_free(lg);
    return v;
}

static int64_t vocab(const ingot_model *m) {
    ingot_model_info info;
    ingot_model_get_info(&info, m);
    return info.vocab_size;
}

/* ---- sessions on ids ---- */

static void check_greedy(const char *name) {
    fixture f;
    fixture_open(&f, name);
    ingot_session *s;
    TU_OK(ingot_session_new(&s, f.m, NULL, 0));
    ingot_generate_options o = {.max_tokens = 32};
    for (size_t i = 0; i < n_prompts(&f); i++) {
        size_t n, nc;
        int32_t *ids = prompt_list(&f, i, "ids", &n),
                *cont = prompt_list(&f, i, "continuation", &nc);
        ingot_generation g = {0};
        TU_OK(ingot_session_generate(&g, s, ids, n, &o));
        assert_int_equal(g.n_ids, 32);
        assert_int_equal(nc, 32);
        for (size_t k = 0; k < 32; k++)
            if (g.ids[k] != cont[k])
                fail_msg("%s prompt %zu step %zu: %d, HF %d", name, i, k, g.ids[k], cont[k]);
        assert_int_equal(g.stop_reason, INGOT_STOP_MAX_TOKENS);
        assert_null(g.text);
        assert_int_equal(g.metrics.prompt_tokens, n);
        assert_int_equal(g.metrics.prefill_tokens + g.metrics.reused_tokens, n);
        assert_int_equal(g.metrics.generated_tokens, 32);
        assert_true(g.metrics.time_to_first_token > 0);
        assert_true(g.metrics.decode_tokens_per_second > 0);
        assert_true(g.metrics.peak_memory > 0);
        /* the cache holds the prompt and all generated ids but the last */
        size_t held;
        const int32_t *h = ingot_session_tokens(s, &held);
        assert_int_equal(held, n + 31);
        assert_memory_equal(h, ids, n * sizeof *ids);
        assert_memory_equal(h + n, cont, 31 * sizeof *ids);
        ingot_generation_free(&g);
        free(ids);
        free(cont);
    }
    ingot_session_free(s);
    fixture_close(&f);
}

static void test_greedy_qwen3(void **state) {
    (void)state;
    check_greedy("qwen3_tied_f32");
}

static void test_greedy_llama3(void **state) {
    (void)state;
    check_greedy("llama3_f32");
}

static void test_greedy_gemma3(void **state) {
    (void)state;
    check_greedy("gemma3_text_f32"); /* prompts up to 37 > window 8 */
}

static void test_greedy_mistral_phi3(void **state) {
    (void)state;
    check_greedy("mistral_window_f32"); /* every layer slides: window 8 */
    check_greedy("phi3_longrope_f32");  /* prompts 0, 1 decode past the switch (20) */
}

/* A session whose cache holds a long sequence (keys rotated with the long
 * factors) given a prompt within the switch, a prefix of it: the same
 * continuation as a new session's. */
static void test_longrope_reuse(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, "phi3_longrope_f32");
    size_t n;
    int32_t *ids = prompt_list(&f, 3, "ids", &n); /* 37 tokens */
    ingot_generate_options o = {.max_tokens = 16};
    ingot_session *s, *fresh;
    TU_OK(ingot_session_new(&s, f.m, NULL, 0));
    TU_OK(ingot_session_new(&fresh, f.m, NULL, 0));
    ingot_generation g = {0}, want = {0};
    TU_OK(ingot_session_generate(&g, s, ids, n, &o));
    ingot_generation_free(&g);
    TU_OK(ingot_session_generate(&g, s, ids, 10, &o));
    assert_int_equal(g.metrics.reused_tokens, 9);
    TU_OK(ingot_session_generate(&want, fresh, ids, 10, &o));
    assert_int_equal(g.n_ids, 16);
    assert_memory_equal(g.ids, want.ids, 16 * sizeof *g.ids);
    ingot_generation_free(&g);
    ingot_generation_free(&want);
    ingot_session_free(fresh);
    ingot_session_free(s);
    free(ids);
    fixture_close(&f);
}

/* Every generated id is the argmax of a forward pass over the whole sequence
 * without a cache. */
static void test_cached_equals_recompute(void **state) {
    (void)state;
    static const char *const names[] = {"qwen3_untied_f32", "gemma3_text_f32"};
    for (size_t k = 0; k < 2; k++) {
        fixture f;
        fixture_open(&f, names[k]);
        int64_t V = vocab(f.m);
        size_t n;
        int32_t *ids = prompt_list(&f, 3, "ids", &n);
        ingot_session *s;
        TU_OK(ingot_session_new(&s, f.m, NULL, 0));
        ingot_generate_options o = {.max_tokens = 24};
        ingot_generation g = {0};
        TU_OK(ingot_session_generate(&g, s, ids, n, &o));
        int32_t *all = malloc((n + g.n_ids) * sizeof *all);
        memcpy(all, ids, n * sizeof *ids);
        memcpy(all + n, g.ids, g.n_ids * sizeof *ids);
        double *lg = full_logits(f.m, all, n + g.n_ids - 1);
        for (size_t t = 0; t < g.n_ids; t++)
            assert_int_equal(argmax(lg + (n - 1 + t) * (size_t)V, V), g.ids[t]);
        free(lg);
        free(all);
        free(ids);
        ingot_generation_free(&g);
        ingot_session_free(s);
        fixture_close(&f);
    }
}

/* generate(prompt) on a session and on a fresh one give the same ids. */
static ingot_generation turn(ingot_session *s, const ingot_model *m, const int32_t *ids, size_t n,
                             int64_t max_tokens) {
    ingot_generate_options o = {.max_tokens = max_tokens};
    ingot_generation g = {0}, fresh = {0};
    TU_OK(ingot_session_generate(&g, s, ids, n, &o));
    ingot_session *s2;
    TU_OK(ingot_session_new(&s2, m, NULL, 0));
    TU_OK(ingot_session_generate(&fresh, s2, ids, n, &o));
    assert_int_equal(g.n_ids, fresh.n_ids);
    assert_memory_equal(g.ids, fresh.ids, g.n_ids * sizeof *g.ids);
    assert_int_equal(fresh.metrics.reused_tokens, 0);
    ingot_generation_free(&fresh);
    ingot_session_free(s2);
    return g;
}

static void check_multi_turn(const char *name, bool rotating) {
    fixture f;
    fixture_open(&f, name);
    size_t n;
    int32_t *a = prompt_list(&f, 3, "ids", &n); /* 37 ids */
    int32_t buf[128];
    ingot_session *s;
    TU_OK(ingot_session_new(&s, f.m, NULL, 0));
    ingot_generation g1 = turn(s, f.m, a, n, 8);
    assert_int_equal(g1.metrics.prefill_tokens, n);
    /* turn 2: the conversation so far, the reply, 5 new ids */
    memcpy(buf, a, n * sizeof *a);
    memcpy(buf + n, g1.ids, 8 * sizeof *a);
    for (size_t k = 0; k < 5; k++)
        buf[n + 8 + k] = (int32_t)(10 + k);
    size_t n2 = n + 13;
    ingot_generation g2 = turn(s, f.m, buf, n2, 1); /* one id: the cache holds the prompt */
    assert_int_equal(g2.metrics.prompt_tokens, n2);
    assert_int_equal(g2.metrics.reused_tokens, n + 7); /* the last reply id was never fed */
    assert_int_equal(g2.metrics.prefill_tokens, 6);
    /* the same prompt again: all but its last id reused (a trim by one, which
     * a rotating cache allows) */
    ingot_generation g3 = turn(s, f.m, buf, n2, 4);
    assert_int_equal(g3.metrics.reused_tokens, n2 - 1);
    assert_int_equal(g3.metrics.prefill_tokens, 1);
    /* an edit early in the conversation: back to the first 5 ids; a
     * sliding-window cache 50 tokens on cannot go back there: recomputed */
    buf[5] = (int32_t)(buf[5] == 7 ? 8 : 7);
    ingot_generation g4 = turn(s, f.m, buf, n2, 4);
    assert_int_equal(g4.metrics.reused_tokens, rotating ? 0 : 5);
    assert_int_equal(g4.metrics.prefill_tokens, rotating ? n2 : n2 - 5);
    /* back 6 ids: beyond a window of 8 once 3 more were fed */
    ingot_generation g5 = turn(s, f.m, buf, n2 - 2, 4);
    assert_int_equal(g5.metrics.reused_tokens, rotating ? 0 : n2 - 3);
    /* the held ids themselves as the prompt (continue where it stopped) */
    size_t nh;
    const int32_t *held = ingot_session_tokens(s, &nh);
    ingot_generation g6 = {0};
    ingot_generate_options o6 = {.max_tokens = 3};
    TU_OK(ingot_session_generate(&g6, s, held, nh, &o6));
    assert_int_equal(g6.metrics.reused_tokens, nh - 1);
    ingot_generation_free(&g6);
    ingot_generation gs[] = {g1, g2, g3, g4, g5};
    for (size_t k = 0; k < 5; k++)
        ingot_generation_free(&gs[k]);
    free(a);
    ingot_session_free(s);
    fixture_close(&f);
}

static void test_multi_turn_reuse(void **state) {
    (void)state;
    check_multi_turn("qwen3_tied_f32", false);
    check_multi_turn("gemma3_text_f32", true);
}

/* Sampling in a session: the same seed gives the same tokens, another seed
 * other tokens; a banned token never comes. */
static void test_session_sampling(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, "qwen2_f32");
    size_t n;
    int32_t *ids = prompt_list(&f, 1, "ids", &n);
    const ingot_logit_bias ban[] = {{42, -INFINITY}};
    ingot_generate_options o = {
        .max_tokens = 32,
        .sampling = {.temperature = 1.5f, .seed = 3, .logit_bias = ban, .n_logit_bias = 1}};
    ingot_generation g[3];
    for (int k = 0; k < 3; k++) {
        ingot_session *s;
        TU_OK(ingot_session_new(&s, f.m, NULL, 0));
        o.sampling.seed = k < 2 ? 3 : 4;
        g[k] = (ingot_generation){0};
        TU_OK(ingot_session_generate(&g[k], s, ids, n, &o));
        for (size_t t = 0; t < g[k].n_ids; t++)
            assert_int_not_equal(g[k].ids[t], 42);
        ingot_session_free(s);
    }
    assert_memory_equal(g[0].ids, g[1].ids, 32 * sizeof *g[0].ids);
    assert_memory_not_equal(g[0].ids, g[2].ids, 32 * sizeof *g[0].ids);
    for (int k = 0; k < 3; k++)
        ingot_generation_free(&g[k]);
    free(ids);
    fixture_close(&f);
}

/* ---- classify and score ---- */

static void test_classify(void **state) {
    (void)state;
    static const char *const names[] = {"qwen3_tied_f32", "gemma3_text_f32"};
    for (size_t f_i = 0; f_i < 2; f_i++) {
        fixture f;
        fixture_open(&f, names[f_i]);
        int64_t V = vocab(f.m);
        size_t n = n_prompts(&f);
        ingot_token_seq *rows = calloc(n, sizeof *rows);
        int32_t **ids = calloc(n, sizeof *ids);
        for (size_t i = 0; i < n; i++) {
            ids[i] = prompt_list(&f, i, "ids", &rows[i].n);
            rows[i].ids = ids[i];
        }
        ingot_array *all, *one;
        TU_OK(ingot_classify_logits(&all, f.m, rows, n, 0));
        TU_OK(ingot_classify_logits(&one, f.m, rows, n, 1));
        tu_assert_shape(all, INGOT_F32, (const int64_t[]){(int64_t)n, V}, 2);
        double *va = tu_values(all), *vo = tu_values(one);
        for (size_t i = 0; i < n; i++) {
            double *ref = full_logits(f.m, ids[i], rows[i].n), scale = 0;
            const double *last = ref + (rows[i].n - 1) * (size_t)V;
            for (int64_t v = 0; v < V; v++)
                scale = fmax(scale, fabs(last[v]));
            for (int64_t v = 0; v < V; v++) {
                size_t at = i * (size_t)V + (size_t)v;
                if (fabs(va[at] - last[v]) > 1e-5 * scale || fabs(vo[at] - last[v]) > 1e-5 * scale)
                    fail_msg("%s prompt %zu id %lld: batched %g, one by one %g, alone %g",
                             names[f_i], i, (long long)v, va[at], vo[at], last[v]);
            }
            free(ref);
        }
        /* top-3 from the batched logits by plain loops */
        enum { K = 3 };
        int32_t top[4 * K];
        float lp[4 * K];
        TU_OK(ingot_classify_topk(top, lp, f.m, rows, n, 2, K));
        for (size_t i = 0; i < n; i++) {
            const double *row = va + i * (size_t)V;
            double mx = -INFINITY, sum = 0;
            for (int64_t v = 0; v < V; v++)
                mx = fmax(mx, row[v]);
            for (int64_t v = 0; v < V; v++)
                sum += exp(row[v] - mx);
            for (int j = 0; j < K; j++) {
                int32_t id = top[i * K + (size_t)j];
                int above = 0;
                for (int64_t v = 0; v < V; v++)
                    above += row[v] > row[id];
                assert_int_equal(above, j);
                assert_true(fabs(lp[i * K + (size_t)j] - (row[id] - mx - log(sum))) < 1e-4);
            }
        }
        free(va);
        free(vo);
        ingot_array_free(all);
        ingot_array_free(one);
        for (size_t i = 0; i < n; i++)
            free(ids[i]);
        free(ids);
        free(rows);
        fixture_close(&f);
    }
}

static void test_score_labels(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, "gemma3_text_f32");
    int64_t V = vocab(f.m);
    size_t n0, n1;
    int32_t *p0 = prompt_list(&f, 0, "ids", &n0), *p1 = prompt_list(&f, 2, "ids", &n1);
    const ingot_token_seq prompts[] = {{p0, n0}, {p1, n1}};
    const int32_t l0[] = {17}, l1[] = {40, 41}, l2[] = {200, 3, 99};
    const ingot_token_seq labels[] = {{l0, 1}, {l1, 2}, {l2, 3}};
    double got[6], got1[6];
    TU_OK(ingot_score_labels(got, f.m, prompts, 2, labels, 3, 0));
    TU_OK(ingot_score_labels(got1, f.m, prompts, 2, labels, 3, 1));
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 3; j++) {
            int32_t seq[64];
            size_t np = prompts[i].n, nl = labels[j].n;
            memcpy(seq, prompts[i].ids, np * sizeof *seq);
            memcpy(seq + np, labels[j].ids, nl * sizeof *seq);
            double *lg = full_logits(f.m, seq, np + nl), want = 0;
            for (size_t t = 0; t < nl; t++) {
                const double *row = lg + (np + t - 1) * (size_t)V;
                double mx = -INFINITY, sum = 0;
                for (int64_t v = 0; v < V; v++)
                    mx = fmax(mx, row[v]);
                for (int64_t v = 0; v < V; v++)
                    sum += exp(row[v] - mx);
                want += row[labels[j].ids[t]] - mx - log(sum);
            }
            free(lg);
            double a = got[i * 3 + j], b = got1[i * 3 + j];
            if (fabs(a - want) > 1e-4 || fabs(b - want) > 1e-4)
                fail_msg("score prompt %zu label %zu: %g (one by one %g), want %g", i, j, a, b,
                         want);
        }
    free(p0);
    free(p1);
    fixture_close(&f);
}

/* ---- batch generation ---- */

static void check_batch(const char *name, const ingot_generate_options *o) {
    fixture f;
    fixture_open(&f, name);
    size_t n = n_prompts(&f);
    ingot_token_seq rows[8];
    int32_t *ids[8];
    for (size_t i = 0; i < n; i++) {
        ids[i] = prompt_list(&f, i, "ids", &rows[i].n);
        rows[i].ids = ids[i];
    }
    ingot_generation out[8];
    TU_OK(ingot_generate_batch(out, f.m, NULL, rows, n, o));
    for (size_t i = 0; i < n; i++) {
        ingot_generate_options oi = *o;
        oi.sampling.seed += i;
        ingot_session *s;
        ingot_generation alone = {0};
        TU_OK(ingot_session_new(&s, f.m, NULL, 0));
        TU_OK(ingot_session_generate(&alone, s, ids[i], rows[i].n, &oi));
        if (out[i].n_ids != alone.n_ids ||
            memcmp(out[i].ids, alone.ids, alone.n_ids * sizeof *alone.ids) != 0)
            fail_msg("%s row %zu: %zu ids in the batch, %zu alone", name, i, out[i].n_ids,
                     alone.n_ids);
        assert_int_equal(out[i].stop_reason, alone.stop_reason);
        if (o->sampling.temperature == 0 && o->n_stop_ids == 0) { /* HF's continuation */
            size_t nc;
            int32_t *cont = prompt_list(&f, i, "continuation", &nc);
            assert_memory_equal(out[i].ids, cont, out[i].n_ids * sizeof *cont);
            free(cont);
        }
        ingot_generation_free(&alone);
        ingot_session_free(s);
        ingot_generation_free(&out[i]);
        free(ids[i]);
    }
    fixture_close(&f);
}

static void test_batch_generation(void **state) {
    (void)state;
    ingot_generate_options greedy = {.max_tokens = 32};
    check_batch("qwen3_tied_f32", &greedy);
    check_batch("gemma3_text_f32", &greedy);
    /* rows stop at different steps: on 177 (qwen3's prompt 0 makes it at
     * step 18) and 26 (prompt 3 at step 18) */
    const int32_t stop[] = {177, 26, 75};
    ingot_generate_options stops = {.max_tokens = 32, .stop_ids = stop, .n_stop_ids = 3};
    check_batch("qwen3_tied_f32", &stops);
    ingot_generate_options sampled = {
        .max_tokens = 16,
        .sampling = {.temperature = 0.9f, .top_k = 40, .top_p = 0.95f, .seed = 11}};
    check_batch("llama3_f32", &sampled);
}

/* ---- text, with a byte-level tokenizer ---- */

static void write_file(const char *dir, const char *name, const char *text) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* GPT-2's bytes_to_unicode: the printable character standing for byte b. */
static int byte_char(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    int k = 0;
    for (int c = 0; c < b; c++)
        k += !((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255));
    return 256 + k;
}

/* dir: the qwen3 model copied in, a tokenizer.json whose id b is byte b, and
 * generation_config.json with eos (or none when eos < 0). */
static void make_text_model(char *dir, size_t size, int eos) {
    snprintf(dir, size, "%s/bytes", g_tmp);
    mkdir(dir, 0755);
    char src[700], dst[700];
    static const char *const files[] = {"config.json", "model.safetensors"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/qwen3_tied_f32/%s", g_models, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        tu_copy_file(src, dst);
    }
    json_t *v = json_object();
    for (int b = 0; b < 256; b++) {
        char key[8];
        int c = byte_char(b);
        if (c < 0x80)
            snprintf(key, sizeof key, "%c", c);
        else
            snprintf(key, sizeof key, "%c%c", 0xC0 | (c >> 6), 0x80 | (c & 0x3F));
        json_object_set_new(v, key, json_integer(b));
    }
    json_t *doc =
        json_pack("{s:s, s:n, s:n, s:[], s:n, s:{s:s, s:b, s:b, s:b}, s:n, s:{s:s, s:b, s:b, s:b},"
                  " s:{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:[]}}",
                  "version", "1.0", "truncation", "padding", "added_tokens", "normalizer",
                  "pre_tokenizer", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 0,
                  "use_regex", 0, "post_processor", "decoder", "type", "ByteLevel",
                  "add_prefix_space", 0, "trim_offsets", 0, "use_regex", 0, "model", "type", "BPE",
                  "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
                  "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 0, "vocab", v, "merges");
    char *text = json_dumps(doc, 0);
    write_file(dir, "tokenizer.json", text);
    free(text);
    json_decref(doc);
    char gc[64];
    snprintf(gc, sizeof gc, "{\"eos_token_id\": %d}", eos);
    snprintf(dst, sizeof dst, "%s/tokenizer_config.json", dir);
    unlink(dst); /* a chat template comes only where a test writes one */
    snprintf(dst, sizeof dst, "%s/generation_config.json", dir);
    unlink(dst);
    if (eos >= 0) write_file(dir, "generation_config.json", gc);
}

typedef struct text_env {
    ingot_model *m;
    ingot_tokenizer *tok;
    ingot_session *s;
} text_env;

static void text_open(text_env *e, int eos) {
    char dir[600];
    make_text_model(dir, sizeof dir, eos);
    TU_OK(ingot_model_load(&e->m, dir, NULL));
    TU_OK(ingot_tokenizer_load(&e->tok, dir));
    TU_OK(ingot_session_new(&e->s, e->m, e->tok, 0));
}

static void text_close(text_env *e) {
    ingot_session_free(e->s);
    ingot_tokenizer_free(e->tok);
    ingot_model_free(e->m);
}

/* What the callback saw. */
typedef struct seen {
    char text[4096];
    size_t len;
    int calls, stop_after; /* stop_after > 0: return false on that call */
    size_t emitted_at[64]; /* bytes emitted after the call for generated id k */
    int32_t ids[64];
    int n_ids;
} seen;

static bool on_token(void *user, int32_t id, const char *piece, size_t len) {
    seen *w = user;
    assert_true(w->len + len < sizeof w->text);
    if (len) memcpy(w->text + w->len, piece, len);
    w->len += len;
    w->text[w->len] = '\0';
    if (id >= 0) {
        w->ids[w->n_ids] = id;
        w->emitted_at[w->n_ids++] = w->len;
    }
    return ++w->calls != w->stop_after;
}

static const char PROMPT[] = "Hello, world";

static ingot_generation gen_text(text_env *e, const ingot_generate_options *o, seen *w) {
    ingot_generate_options oo = *o;
    oo.callback = on_token;
    oo.user = w;
    ingot_generation g = {0};
    TU_OK(ingot_session_generate_text(&g, e->s, PROMPT, strlen(PROMPT), NULL, &oo));
    return g;
}

static void test_text_stream(void **state) {
    (void)state;
    text_env e;
    text_open(&e, -1);
    ingot_generate_options o = {.max_tokens = 32};
    seen w = {0};
    ingot_generation g = gen_text(&e, &o, &w);
    /* the ids are the bytes of the prompt, then what the ids path gives */
    size_t n = strlen(PROMPT);
    int32_t prompt[32];
    for (size_t i = 0; i < n; i++)
        prompt[i] = (unsigned char)PROMPT[i];
    ingot_session *s2;
    ingot_generation g2 = {0};
    TU_OK(ingot_session_new(&s2, e.m, e.tok, 0));
    TU_OK(ingot_session_generate(&g2, s2, prompt, n, &o));
    assert_int_equal(g.n_ids, 32);
    assert_memory_equal(g.ids, g2.ids, 32 * sizeof *g.ids);
    assert_int_equal(g.metrics.prompt_tokens, n);
    /* text = decode(ids) = the concatenation of the pieces */
    char *want;
    size_t wlen;
    TU_OK(ingot_tokenizer_decode(&want, &wlen, e.tok, g.ids, g.n_ids, false));
    assert_int_equal(g.text_len, wlen);
    assert_memory_equal(g.text, want, wlen);
    assert_int_equal(w.len, wlen);
    assert_memory_equal(w.text, want, wlen);
    assert_int_equal(w.n_ids, 32);
    assert_memory_equal(w.ids, g.ids, 32 * sizeof *g.ids);
    free(want);
    ingot_generation_free(&g);
    ingot_generation_free(&g2);
    ingot_session_free(s2);
    text_close(&e);
}

/* The byte offset of a character boundary at or after p. */
static size_t boundary(const char *t, size_t p) {
    while (((unsigned char)t[p] & 0xC0) == 0x80)
        p++;
    return p;
}

static void test_stop_strings(void **state) {
    (void)state;
    text_env e;
    text_open(&e, -1);
    ingot_generate_options o = {.max_tokens = 32};
    seen w0 = {0};
    ingot_generation full = gen_text(&e, &o, &w0);
    /* a stop string from the middle of the text: two characters */
    size_t p = boundary(full.text, full.text_len / 2);
    size_t q = boundary(full.text, boundary(full.text, p + 1) + 1);
    char stop[32] = {0};
    memcpy(stop, full.text + p, q - p);
    size_t cut = (size_t)(strstr(full.text, stop) - full.text);
    const char *stops[] = {"never \x01 seen", stop};
    o.stop_strings = stops;
    o.n_stop_strings = 2;
    seen w = {0};
    ingot_generation g = gen_text(&e, &o, &w);
    assert_int_equal(g.stop_reason, INGOT_STOP_STRING);
    assert_int_equal(g.text_len, cut);
    assert_memory_equal(g.text, full.text, cut);
    assert_int_equal(w.len, cut); /* the stop text never reached the callback */
    assert_memory_equal(w.text, full.text, cut);
    assert_true(g.n_ids < 32);
    assert_memory_equal(g.ids, full.ids, g.n_ids * sizeof *g.ids);
    /* batch generation stops its rows on the same strings */
    ingot_generation out[2];
    const int32_t other[] = {'x', 'y', 'z'};
    int32_t hello[32];
    for (size_t i = 0; i < strlen(PROMPT); i++)
        hello[i] = (unsigned char)PROMPT[i];
    const ingot_token_seq rows[] = {{other, 3}, {hello, strlen(PROMPT)}};
    TU_OK(ingot_generate_batch(out, e.m, e.tok, rows, 2, &o));
    assert_int_equal(out[1].stop_reason, INGOT_STOP_STRING);
    assert_int_equal(out[1].n_ids, g.n_ids);
    assert_int_equal(out[1].text_len, cut);
    assert_memory_equal(out[1].text, full.text, cut);
    assert_int_equal(out[1].metrics.prompt_tokens, 3 + strlen(PROMPT));
    ingot_generation_free(&out[0]);
    ingot_generation_free(&out[1]);
    ingot_generation_free(&g);
    /* a stop string that starts matching at p and never completes: held back
     * while it could, then emitted; the result is the full text */
    char partial[64];
    snprintf(partial, sizeof partial, "%s\x01\x02", stop);
    const char *stops2[] = {partial};
    o.stop_strings = stops2;
    o.n_stop_strings = 1;
    seen w2 = {0};
    g = gen_text(&e, &o, &w2);
    assert_int_equal(g.stop_reason, INGOT_STOP_MAX_TOKENS);
    assert_int_equal(g.text_len, full.text_len);
    assert_int_equal(w2.len, full.text_len);
    assert_memory_equal(w2.text, full.text, full.text_len);
    bool held = false; /* after some token the decoded text passed cut, the emitted did not */
    for (int k = 0; k < w2.n_ids; k++) {
        char *d;
        size_t dlen;
        TU_OK(ingot_tokenizer_decode(&d, &dlen, e.tok, g.ids, (size_t)k + 1, false));
        held |= dlen > cut && w2.emitted_at[k] <= cut;
        assert_true(w2.emitted_at[k] <= dlen);
        free(d);
    }
    assert_true(held);
    ingot_generation_free(&g);
    ingot_generation_free(&full);
    text_close(&e);
}

static void test_eos_and_callback_stop(void **state) {
    (void)state;
    text_env e;
    text_open(&e, -1);
    ingot_generate_options o = {.max_tokens = 32};
    seen w = {0};
    ingot_generation full = gen_text(&e, &o, &w);
    int32_t eos = full.ids[6];
    size_t first = 0;
    while (full.ids[first] != eos)
        first++;
    text_close(&e);
    /* EOS from generation_config.json: stops there, not decoded into the text */
    text_open(&e, eos);
    seen w1 = {0};
    ingot_generation g = gen_text(&e, &o, &w1);
    assert_int_equal(g.stop_reason, INGOT_STOP_EOS);
    assert_int_equal(g.n_ids, first + 1);
    assert_memory_equal(g.ids, full.ids, g.n_ids * sizeof *g.ids);
    char *d;
    size_t dlen;
    TU_OK(ingot_tokenizer_decode(&d, &dlen, e.tok, g.ids, first, false));
    assert_int_equal(g.text_len, dlen);
    assert_memory_equal(g.text, d, dlen);
    assert_int_equal(w1.n_ids, first + 1);
    free(d);
    ingot_generation_free(&g);
    /* ignore_eos: all 32 */
    o.ignore_eos = true;
    seen w2 = {0};
    g = gen_text(&e, &o, &w2);
    assert_int_equal(g.stop_reason, INGOT_STOP_MAX_TOKENS);
    assert_memory_equal(g.ids, full.ids, 32 * sizeof *g.ids);
    ingot_generation_free(&g);
    /* the callback says stop on its 5th call */
    seen w3 = {.stop_after = 5};
    g = gen_text(&e, &o, &w3);
    assert_int_equal(g.stop_reason, INGOT_STOP_CALLBACK);
    assert_int_equal(g.n_ids, 5);
    assert_int_equal(w3.calls, 5);
    assert_memory_equal(g.ids, full.ids, 5 * sizeof *g.ids);
    ingot_generation_free(&g);
    /* given stop ids */
    o.stop_ids = &full.ids[3];
    o.n_stop_ids = 1;
    seen w4 = {0};
    g = gen_text(&e, &o, &w4);
    assert_int_equal(g.stop_reason, INGOT_STOP_ID);
    assert_int_equal(g.ids[g.n_ids - 1], full.ids[3]);
    assert_true(g.n_ids <= 4);
    ingot_generation_free(&g);
    ingot_generation_free(&full);
    text_close(&e);
}

/* Multi-turn chat through ingot_chat_apply: the second turn's rendering
 * starts with the first turn's prompt, which is reused. */
static void test_chat_turns(void **state) {
    (void)state;
    char dir[600];
    make_text_model(dir, sizeof dir, -1);
    write_file(dir, "tokenizer_config.json",
               "{\"chat_template\": \"{% for m in messages %}<{{ m.role }}>{{ m.content }}\\n"
               "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}\"}");
    text_env e;
    TU_OK(ingot_model_load(&e.m, dir, NULL));
    TU_OK(ingot_tokenizer_load(&e.tok, dir));
    TU_OK(ingot_session_new(&e.s, e.m, e.tok, 0));
    json_t *conv = json_pack("{s:[{s:s, s:s}]}", "messages", "role", "user", "content", "Hi!");
    ingot_generate_options o = {.max_tokens = 6};
    size_t first_prompt = 0;
    for (int t = 0; t < 3; t++) {
        char *js = json_dumps(conv, 0), *text;
        size_t len;
        TU_OK(ingot_chat_apply(&text, &len, e.tok, js, strlen(js), true, NULL));
        assert_memory_equal(text, "<user>Hi!\n", 10);
        ingot_generation g = {0};
        if (t == 1) /* the rendered text itself */
            TU_OK(ingot_session_generate_text(&g, e.s, text, len, NULL, &o));
        else
            TU_OK(ingot_session_chat(&g, e.s, js, strlen(js), NULL, &o));
        assert_int_equal(g.metrics.prompt_tokens, len); /* one id a byte */
        if (t == 0)
            first_prompt = len;
        else
            assert_true(g.metrics.reused_tokens >= (int64_t)first_prompt);
        first_prompt = len;
        json_t *msgs = json_object_get(conv, "messages");
        json_array_append_new(
            msgs, json_pack("{s:s, s:s%}", "role", "assistant", "content", g.text, g.text_len));
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", "More."));
        ingot_generation_free(&g);
        free(text);
        free(js);
    }
    /* no chat template */
    text_env e2;
    text_open(&e2, -1);
    ingot_generation g = {0};
    TU_FAILS(ingot_session_chat(&g, e2.s, "{\"messages\": []}", 16, NULL, &o), INGOT_ERR_NOT_FOUND,
             NULL);
    text_close(&e2);
    json_decref(conv);
    text_close(&e);
}

/* ---- errors ---- */

static void test_errors(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, "qwen3_tied_f32");
    ingot_session *s = NULL;
    TU_FAILS(ingot_session_new(NULL, f.m, NULL, 0), INGOT_ERR_INVALID_ARGUMENT, "out");
    TU_FAILS(ingot_session_new(&s, NULL, NULL, 0), INGOT_ERR_INVALID_ARGUMENT, "m");
    TU_FAILS(ingot_session_new(&s, f.m, NULL, -1), INGOT_ERR_INVALID_ARGUMENT, "capacity");
    assert_null(s);
    TU_OK(ingot_session_new(&s, f.m, NULL, 16));
    const int32_t ids[] = {5, 6, 7}, bad[] = {5, 256, 7};
    int32_t longp[20] = {0};
    ingot_generation g = {0};
    TU_FAILS(ingot_session_generate(&g, s, ids, 0, NULL), INGOT_ERR_INVALID_ARGUMENT, "empty");
    TU_FAILS(ingot_session_generate(&g, s, NULL, 3, NULL), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_FAILS(ingot_session_generate(NULL, s, ids, 3, NULL), INGOT_ERR_INVALID_ARGUMENT, "out");
    TU_FAILS(ingot_session_generate(&g, s, bad, 3, NULL), INGOT_ERR_INDEX, "position 1: id 256");
    TU_FAILS(ingot_session_generate(&g, s, longp, 20, NULL), INGOT_ERR_LIMIT, "20 tokens");
    const char *stops[] = {"x"}, *empty[] = {""};
    ingot_generate_options o = {.stop_strings = stops, .n_stop_strings = 1};
    TU_FAILS(ingot_session_generate(&g, s, ids, 3, &o), INGOT_ERR_INVALID_ARGUMENT, "tokenizer");
    o = (ingot_generate_options){.sampling = {.temperature = -1}};
    TU_FAILS(ingot_session_generate(&g, s, ids, 3, &o), INGOT_ERR_INVALID_ARGUMENT, "temperature");
    TU_FAILS(ingot_session_generate_text(&g, s, "a", 1, NULL, NULL), INGOT_ERR_INVALID_ARGUMENT,
             "no tokenizer");
    assert_null(g.ids);
    /* the capacity ends generation: 3 + 13 = 16 tokens */
    TU_OK(ingot_session_generate(&g, s, ids, 3, NULL));
    assert_int_equal(g.stop_reason, INGOT_STOP_CONTEXT);
    assert_int_equal(g.n_ids, 13);
    ingot_generation_free(&g);
    ingot_generation_free(&g);
    ingot_generation_free(NULL);
    ingot_session_free(s);
    ingot_session_free(NULL);
    ingot_session_reset(NULL);
    /* stop strings need a non-empty string */
    text_env e;
    text_open(&e, -1);
    o = (ingot_generate_options){.stop_strings = empty, .n_stop_strings = 1};
    TU_FAILS(ingot_session_generate_text(&g, e.s, "ab", 2, NULL, &o), INGOT_ERR_INVALID_ARGUMENT,
             "empty");
    TU_FAILS(ingot_session_generate_text(&g, e.s, "a\xff", 2, NULL, NULL),
             INGOT_ERR_INVALID_ARGUMENT, NULL);
    text_close(&e);
    /* classify and score */
    const ingot_token_seq rows[] = {{ids, 3}, {bad, 3}}, none[] = {{ids, 0}};
    ingot_array *lg = NULL;
    int32_t top[4];
    double sc[4];
    TU_FAILS(ingot_classify_logits(&lg, f.m, rows, 0, 0), INGOT_ERR_INVALID_ARGUMENT, "no prompts");
    TU_FAILS(ingot_classify_logits(&lg, f.m, rows, 2, 0), INGOT_ERR_INDEX, "prompt 1 position 1");
    TU_FAILS(ingot_classify_logits(&lg, f.m, none, 1, 0), INGOT_ERR_INVALID_ARGUMENT, "empty");
    TU_FAILS(ingot_classify_logits(NULL, f.m, rows, 1, 0), INGOT_ERR_INVALID_ARGUMENT, "logits");
    TU_FAILS(ingot_classify_logits(&lg, NULL, rows, 1, 0), INGOT_ERR_INVALID_ARGUMENT, "m");
    assert_null(lg);
    TU_FAILS(ingot_classify_topk(top, NULL, f.m, rows, 1, 0, 0), INGOT_ERR_INVALID_ARGUMENT, "k 0");
    TU_FAILS(ingot_score_labels(sc, f.m, rows, 1, none, 1, 0), INGOT_ERR_INVALID_ARGUMENT,
             "label 0 is empty");
    TU_FAILS(ingot_score_labels(sc, f.m, rows, 1, rows, 2, 0), INGOT_ERR_INDEX, "label 1");
    /* k past the vocabulary: the rest is -1 */
    int32_t *many = malloc(300 * sizeof *many);
    TU_OK(ingot_classify_topk(many, NULL, f.m, rows, 1, 0, 300));
    assert_int_equal(many[255] >= 0, 1);
    assert_int_equal(many[256], -1);
    free(many);
    ingot_generation out[2];
    TU_FAILS(ingot_generate_batch(out, f.m, NULL, rows, 2, NULL), INGOT_ERR_INDEX, "prompt 1");
    TU_FAILS(ingot_generate_batch(out, f.m, NULL, rows, 0, NULL), INGOT_ERR_INVALID_ARGUMENT,
             "no prompts");
    TU_FAILS(ingot_generate_batch(out, NULL, NULL, rows, 1, NULL), INGOT_ERR_INVALID_ARGUMENT, "m");
    fixture_close(&f);
}

int main(void) {
    const char *fx = getenv("INGOT_FIXTURES"), *tmp = getenv("TMPDIR");
    if (!fx) {
        fprintf(stderr, "INGOT_FIXTURES is not set\n");
        return 77;
    }
    snprintf(g_models, sizeof g_models, "%s/models", fx);
    snprintf(g_tmp, sizeof g_tmp, "%s/ingot_engine_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_tmp)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_qwen3),     cmocka_unit_test(test_greedy_llama3),
        cmocka_unit_test(test_greedy_gemma3),    cmocka_unit_test(test_greedy_mistral_phi3),
        cmocka_unit_test(test_longrope_reuse),   cmocka_unit_test(test_cached_equals_recompute),
        cmocka_unit_test(test_multi_turn_reuse), cmocka_unit_test(test_session_sampling),
        cmocka_unit_test(test_classify),         cmocka_unit_test(test_score_labels),
        cmocka_unit_test(test_batch_generation), cmocka_unit_test(test_text_stream),
        cmocka_unit_test(test_stop_strings),     cmocka_unit_test(test_eos_and_callback_stop),
        cmocka_unit_test(test_chat_turns),       cmocka_unit_test(test_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_remove_tree(g_tmp);
    return rc;
}
