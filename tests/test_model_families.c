/* Families checked against hand-made references until the transformers
 * fixtures (docs/model-fixtures.md) hold them: every case writes random
 * weights in the Llama layout, the same weights as the family's folder and as
 * a reference folder that must compute the same, and compares the logits.
 *  - Mistral: its sliding window on every layer equals a Llama folder whose
 *    layer_types all slide, and (one layer) full attention over each
 *    position's window alone; the cache (rings) equals recomputation; its
 *    defaults (window 4096 when absent, none when null, 8 kv heads, no
 *    biases, rms_norm_eps 1e-6). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model_folder.h"
#include "common/testutil.h"

/* The sizes of a hand-made model. */
typedef struct dims {
    int64_t vocab, hidden, inter, layers, heads, kv, head_dim;
} dims;

/* heads x head_dim (48) != hidden (32), as Mistral's head_dim may make it. */
static const dims MISTRAL = {64, 32, 48, 2, 4, 2, 12};

/* config.json of a type model of sizes d (rms_norm_eps 1e-5, rope_theta 1e4,
 * untied, 256 positions). */
static json_t *config(const char *type, const dims *d) {
    json_t *c = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:b, s:I}",
                          "model_type", type, "vocab_size", (json_int_t)d->vocab, "hidden_size",
                          (json_int_t)d->hidden, "intermediate_size", (json_int_t)d->inter,
                          "num_hidden_layers", (json_int_t)d->layers, "num_attention_heads",
                          (json_int_t)d->heads, "num_key_value_heads", (json_int_t)d->kv,
                          "head_dim", (json_int_t)d->head_dim, "rms_norm_eps", 1e-5,
                          "rope_theta", 1e4, "tie_word_embeddings", 0,
                          "max_position_embeddings", (json_int_t)256);
    assert_non_null(c);
    return c;
}

/* Appends a random weight: [d0] (a norm, d1 == 0) in [0.5, 1.5), [d0, d1] in
 * [-0.5, 0.5). */
static void put(tu_folder *f, const char *name, int64_t d0, int64_t d1) {
    int64_t shape[2] = {d0, d1};
    bool norm = d1 == 0;
    tu_folder_put(f, name,
                  tu_random(INGOT_F32, shape, norm ? 1 : 2, (uint64_t)f->n + 1, norm ? 0.5 : -0.5,
                            norm ? 1.5 : 0.5));
}

/* Random Llama-layout weights of sizes d. */
static void llama_weights(tu_folder *f, const dims *d) {
    int64_t H = d->hidden, I = d->inter, q = d->heads * d->head_dim, kv = d->kv * d->head_dim;
    const struct {
        const char *name;
        int64_t d0, d1;
    } w[] = {{"input_layernorm.weight", H, 0},  {"post_attention_layernorm.weight", H, 0},
             {"self_attn.q_proj.weight", q, H}, {"self_attn.k_proj.weight", kv, H},
             {"self_attn.v_proj.weight", kv, H}, {"self_attn.o_proj.weight", H, q},
             {"mlp.gate_proj.weight", I, H},    {"mlp.up_proj.weight", I, H},
             {"mlp.down_proj.weight", H, I}};
    memset(f, 0, sizeof *f);
    put(f, "model.embed_tokens.weight", d->vocab, H);
    put(f, "model.norm.weight", H, 0);
    put(f, "lm_head.weight", d->vocab, H);
    for (int64_t l = 0; l < d->layers; l++)
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
            char name[96];
            snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)l, w[i].name);
            put(f, name, w[i].d0, w[i].d1);
        }
}

/* A new folder with src's weights (shared) and config cfg. */
static void with_config(tu_folder *dst, const tu_folder *src, json_t *cfg) {
    memset(dst, 0, sizeof *dst);
    dst->cfg = cfg;
    for (int i = 0; i < src->n; i++)
        tu_folder_put(dst, src->names[i], ingot_array_retain(src->arrays[i]));
}

/* Writes f to a fresh folder and loads it (opts may be NULL). */
static ingot_model *load(tu_folder *f, const ingot_model_options *opts) {
    char dir[300];
    tu_folder_path(dir, sizeof dir);
    tu_folder_write(f, dir, true);
    ingot_model *m;
    TU_OK(ingot_model_load(&m, dir, opts));
    return m;
}

/* The model of src's weights with config cfg (taken), on the CPU. */
static ingot_model *load_as(const tu_folder *src, json_t *cfg) {
    tu_folder f;
    with_config(&f, src, cfg);
    return load(&f, NULL);
}

/* Token ids [1, T]: a fixed pseudo-random sequence below vocab. */
static ingot_array *ids_of(int64_t T, int64_t vocab) {
    int64_t v[64], shape[2] = {1, T};
    assert_true(T <= 64);
    for (int64_t t = 0; t < T; t++)
        v[t] = (t * 37 + 11) % vocab;
    ingot_array *a;
    TU_OK(ingot_array_from_data(&a, v, INGOT_I64, shape, 2));
    return a;
}

/* Logits of ids (positions NULL: from the cache length) as host doubles;
 * *n receives their count. */
static double *logits(const ingot_model *m, const ingot_array *ids, ingot_kv_cache *c,
                      const ingot_array *positions, int64_t *n) {
    ingot_forward_options o = {.positions = positions};
    ingot_array *lg;
    TU_OK(ingot_model_forward(&lg, m, ids, c, &o));
    *n = ingot_array_size(lg);
    double *v = tu_values(lg);
    ingot_array_free(lg);
    return v;
}

/* Both models give bit-identical logits for the first T tokens. */
static void assert_same_logits(const ingot_model *a, const ingot_model *b, int64_t T,
                               int64_t vocab) {
    ingot_array *ids = ids_of(T, vocab);
    int64_t n, n2;
    double *x = logits(a, ids, NULL, NULL, &n), *y = logits(b, ids, NULL, NULL, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(x, y, (size_t)n * sizeof *x);
    free(x);
    free(y);
    ingot_array_free(ids);
}

/* max |a - b| / max |b| over n values. */
static double rel_err(const double *a, const double *b, int64_t n) {
    double d = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        s = fmax(s, fabs(b[i]));
    }
    return d / (s > 0 ? s : 1);
}

/* Prefill of `first` tokens, then one token at a time, through a cache:
 * every step's logits within 1e-5 of one forward over all T tokens. */
static void assert_cache_matches(const ingot_model *m, int64_t T, int64_t first, int64_t vocab) {
    ingot_array *ids = ids_of(T, vocab);
    int64_t n, k;
    double *full = logits(m, ids, NULL, NULL, &n);
    ingot_kv_cache *c;
    TU_OK(ingot_kv_cache_new(&c, m, 1, 0));
    for (int64_t t0 = 0; t0 < T; t0 = t0 ? t0 + 1 : first) {
        int64_t t1 = t0 ? t0 + 1 : first;
        ingot_array *chunk;
        TU_OK(ingot_slice_axis(&chunk, ids, 1, t0, t1));
        double *got = logits(m, chunk, c, NULL, &k);
        double r = rel_err(got, full + t0 * vocab, k);
        if (!(r <= 1e-5)) fail_msg("tokens %lld..%lld: relative error %.3g", (long long)t0,
                                   (long long)t1, r);
        free(got);
        ingot_array_free(chunk);
    }
    ingot_kv_cache_free(c);
    free(full);
    ingot_array_free(ids);
}

/* Mistral's window on every layer == Llama with every layer sliding; it is
 * a real window: positions within it equal full attention, later ones not. */
static void test_mistral_window(void **state) {
    (void)state;
    const dims *d = &MISTRAL;
    int64_t T = 11, W = 4, n, n2;
    tu_folder base;
    llama_weights(&base, d);
    json_t *mc = config("mistral", d), *lc = config("llama", d), *types = json_array();
    json_object_set_new(mc, "sliding_window", json_integer(W));
    json_object_set_new(lc, "sliding_window", json_integer(W));
    for (int64_t l = 0; l < d->layers; l++)
        json_array_append_new(types, json_string("sliding_attention"));
    json_object_set_new(lc, "layer_types", types);
    ingot_model *mistral = load_as(&base, mc);
    ingot_model *windowed = load_as(&base, lc);
    ingot_model *full = load_as(&base, config("llama", d));
    ingot_model_info info;
    ingot_model_get_info(&info, mistral);
    assert_int_equal(info.sliding_window, W);
    assert_int_equal(info.head_dim, 12);
    assert_same_logits(mistral, windowed, T, d->vocab);
    ingot_array *ids = ids_of(T, d->vocab);
    double *x = logits(mistral, ids, NULL, NULL, &n), *y = logits(full, ids, NULL, NULL, &n2);
    assert_true(rel_err(x, y, W * d->vocab) <= 1e-6);
    assert_true(rel_err(x + W * d->vocab, y + W * d->vocab, (T - W) * d->vocab) > 1e-3);
    assert_cache_matches(mistral, T, 3, d->vocab);
    free(x);
    free(y);
    ingot_array_free(ids);
    ingot_model_free(mistral);
    ingot_model_free(windowed);
    ingot_model_free(full);
    tu_folder_free(&base);
}

/* One layer with window W: position p's logits are those of full attention
 * (sliding_window null) over tokens p - W + 1 .. p alone, at their positions. */
static void test_mistral_window_reference(void **state) {
    (void)state;
    dims d = MISTRAL;
    d.layers = 1;
    int64_t T = 10, W = 3, V = d.vocab, n, k;
    tu_folder base;
    llama_weights(&base, &d);
    json_t *wc = config("mistral", &d), *nc = config("mistral", &d);
    json_object_set_new(wc, "sliding_window", json_integer(W));
    json_object_set_new(nc, "sliding_window", json_null());
    ingot_model *windowed = load_as(&base, wc);
    ingot_model *plain = load_as(&base, nc);
    ingot_model_info info;
    ingot_model_get_info(&info, plain);
    assert_int_equal(info.sliding_window, 0);
    ingot_array *ids = ids_of(T, V);
    double *all = logits(windowed, ids, NULL, NULL, &n);
    for (int64_t p = 0; p < T; p++) {
        int64_t lo = p - W + 1 > 0 ? p - W + 1 : 0, pos[3], shape[2] = {1, p + 1 - lo};
        for (int64_t t = lo; t <= p; t++)
            pos[t - lo] = t;
        ingot_array *part, *positions;
        TU_OK(ingot_slice_axis(&part, ids, 1, lo, p + 1));
        TU_OK(ingot_array_from_data(&positions, pos, INGOT_I64, shape, 2));
        double *want = logits(plain, part, NULL, positions, &k);
        double r = rel_err(all + p * V, want + (k - V), V);
        if (!(r <= 1e-5)) fail_msg("position %lld: relative error %.3g", (long long)p, r);
        free(want);
        ingot_array_free(part);
        ingot_array_free(positions);
    }
    free(all);
    ingot_array_free(ids);
    ingot_model_free(windowed);
    ingot_model_free(plain);
    tu_folder_free(&base);
}

/* MistralConfig's defaults: sliding_window 4096 when absent, 8 kv heads,
 * rms_norm_eps 1e-6; attention_bias and mlp_bias are not read (the layers
 * have no biases). */
static void test_mistral_defaults(void **state) {
    (void)state;
    dims d = {64, 32, 48, 2, 16, 8, 4};
    tu_folder base;
    llama_weights(&base, &d);
    json_t *mc = config("mistral", &d), *lc = config("llama", &d);
    json_object_del(mc, "num_key_value_heads");
    json_object_del(mc, "rms_norm_eps");
    json_object_del(mc, "max_position_embeddings");
    json_object_set_new(mc, "attention_bias", json_true());
    json_object_set_new(mc, "mlp_bias", json_true());
    json_object_set_new(lc, "rms_norm_eps", json_real(1e-6));
    json_object_set_new(lc, "layer_types", json_pack("[s, s]", "sliding_attention",
                                                     "sliding_attention"));
    json_object_set_new(lc, "sliding_window", json_integer(4096));
    ingot_model *mistral = load_as(&base, mc);
    ingot_model *llama = load_as(&base, lc);
    ingot_model_info info;
    ingot_model_get_info(&info, mistral);
    assert_int_equal(info.sliding_window, 4096);
    assert_int_equal(info.n_kv_heads, 8);
    assert_int_equal(info.context_length, 131072);
    assert_same_logits(mistral, llama, 9, d.vocab);
    ingot_model_free(mistral);
    ingot_model_free(llama);
    tu_folder_free(&base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mistral_window),
        cmocka_unit_test(test_mistral_window_reference),
        cmocka_unit_test(test_mistral_defaults),
    };
    return cmocka_run_group_tests(tests, tu_folder_setup, tu_folder_teardown);
}
