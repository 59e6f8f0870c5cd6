/* Families checked against hand-made references until the transformers
 * fixtures (docs/model-fixtures.md) hold them: every case writes random
 * weights in the Llama layout, the same weights as the family's folder and as
 * a reference folder that must compute the same, and compares the logits.
 *  - Mistral: its sliding window on every layer equals a Llama folder whose
 *    layer_types all slide, and (one layer) full attention over each
 *    position's window alone; the cache (rings) equals recomputation; its
 *    defaults (window 4096 when absent, none when null, 8 kv heads, no
 *    biases, rms_norm_eps 1e-6).
 *  - Phi-3: its fused qkv_proj and gate_up_proj equal the split weights as a
 *    Llama folder (CPU and GPU); longrope with uniform factor lists equals
 *    Llama with linear scaling and doubled q and k, the short or long list
 *    chosen by the call's largest position; its checks and defaults. */
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

/* Writes f (then empty) to a fresh folder, whose path goes into dir. */
static void write_new(tu_folder *f, char *dir, size_t cap) {
    tu_folder_path(dir, cap);
    tu_folder_write(f, dir, true);
}

static ingot_model *load_dir(const char *dir, const ingot_model_options *opts) {
    ingot_model *m;
    TU_OK(ingot_model_load(&m, dir, opts));
    return m;
}

/* Writes f (then empty) to a fresh folder and loads it (opts may be NULL). */
static ingot_model *load(tu_folder *f, const ingot_model_options *opts) {
    char dir[300];
    write_new(f, dir, sizeof dir);
    return load_dir(dir, opts);
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

/* The logits of the first T tokens through a cache c (NULL: a new one): a
 * prefill of `first`, then one token at a time; T * vocab host doubles. */
static double *decoded(const ingot_model *m, ingot_kv_cache *c, int64_t T, int64_t first,
                       int64_t vocab) {
    ingot_array *ids = ids_of(T, vocab);
    double *all = malloc((size_t)(T * vocab) * sizeof *all);
    assert_non_null(all);
    ingot_kv_cache *own = NULL;
    if (!c) TU_OK(ingot_kv_cache_new(&own, m, 1, 0));
    for (int64_t t0 = 0; t0 < T; t0 = t0 ? t0 + 1 : first) {
        int64_t t1 = t0 ? t0 + 1 : first, k;
        ingot_array *chunk;
        TU_OK(ingot_slice_axis(&chunk, ids, 1, t0, t1));
        double *got = logits(m, chunk, c ? c : own, NULL, &k);
        memcpy(all + t0 * vocab, got, (size_t)k * sizeof *got);
        free(got);
        ingot_array_free(chunk);
    }
    ingot_kv_cache_free(own);
    ingot_array_free(ids);
    return all;
}

/* Decoding through a cache (decoded) is within 1e-5 of one forward over all
 * T tokens. */
static void assert_cache_matches(const ingot_model *m, int64_t T, int64_t first, int64_t vocab) {
    ingot_array *ids = ids_of(T, vocab);
    int64_t n;
    double *full = logits(m, ids, NULL, NULL, &n), *dec = decoded(m, NULL, T, first, vocab);
    double r = rel_err(dec, full, n);
    if (!(r <= 1e-5)) fail_msg("cached decode: relative error %.3g", r);
    free(dec);
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

/* heads x head_dim == hidden: Phi-3's head_dim is hidden / heads. */
static const dims PHI3 = {64, 32, 48, 2, 4, 2, 8};

/* Appends prefix + fused: the rows of src's prefix + parts[j], j < n, in order. */
static void fuse(tu_folder *dst, const tu_folder *src, const char *prefix,
                 const char *const *parts, int n, const char *fused) {
    const ingot_array *a[3];
    char name[160];
    for (int j = 0; j < n; j++) {
        snprintf(name, sizeof name, "%s%s", prefix, parts[j]);
        a[j] = src->arrays[tu_folder_find(src, name)];
    }
    ingot_array *out;
    TU_OK(ingot_concat(&out, a, n, 0));
    snprintf(name, sizeof name, "%s%s", prefix, fused);
    tu_folder_put(dst, name, out);
}

/* src's Llama-layout weights in Phi-3's layout, with config cfg: per layer
 * q, k and v fused into self_attn.qkv_proj.weight, gate and up into
 * mlp.gate_up_proj.weight; the other weights shared. */
static void phi3_weights(tu_folder *phi, const tu_folder *src, json_t *cfg) {
    static const char *const qkv[] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                      "self_attn.v_proj.weight"};
    static const char *const gate_up[] = {"mlp.gate_proj.weight", "mlp.up_proj.weight"};
    memset(phi, 0, sizeof *phi);
    phi->cfg = cfg;
    for (int i = 0; i < src->n; i++) {
        const char *name = src->names[i];
        const char *part = strncmp(name, "model.layers.", 13) ? "" : strchr(name + 13, '.') + 1;
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(part - name), name);
        if (!strcmp(part, qkv[0]))
            fuse(phi, src, prefix, qkv, 3, "self_attn.qkv_proj.weight");
        else if (!strcmp(part, gate_up[0]))
            fuse(phi, src, prefix, gate_up, 2, "mlp.gate_up_proj.weight");
        else if (strcmp(part, qkv[1]) && strcmp(part, qkv[2]) && strcmp(part, gate_up[1]))
            tu_folder_put(phi, name, ingot_array_retain(src->arrays[i]));
    }
}

/* config.json of the Phi-3 model of sizes d as the Hub writes it: no head_dim,
 * rms_norm_eps left to its default (1e-5), rope_scaling null. */
static json_t *phi3_config(const dims *d) {
    json_t *c = config("phi3", d);
    json_object_del(c, "head_dim");
    json_object_del(c, "rms_norm_eps");
    json_object_set_new(c, "rope_scaling", json_null());
    return c;
}

/* Phi-3's fused qkv_proj and gate_up_proj, split at load, equal a Llama
 * folder of the split weights: bit-identical logits, without and with a
 * cache, in f32 and converted to bf16, on the CPU and (when there is one) on
 * the GPU; the same n_params and weight_bytes. */
static void test_phi3_fused(void **state) {
    (void)state;
    const dims *d = &PHI3;
    tu_folder base, f;
    llama_weights(&base, d);
    char pdir[300], ldir[300];
    phi3_weights(&f, &base, phi3_config(d));
    write_new(&f, pdir, sizeof pdir);
    with_config(&f, &base, config("llama", d));
    write_new(&f, ldir, sizeof ldir);
    ingot_model_options opts[3] = {{.dtype = NULL}, {.dtype = "bf16"}, {.dtype = "bf16"}};
    ingot_device gpu = {.type = INGOT_DEVICE_CUDA, .index = 0};
    opts[2].device = gpu;
    int n_opts = ingot_device_count(INGOT_DEVICE_CUDA) > 0 ? 3 : 2;
    for (int i = 0; i < n_opts; i++) {
        ingot_model *phi = load_dir(pdir, &opts[i]), *llama = load_dir(ldir, &opts[i]);
        ingot_model_info a, b;
        ingot_model_get_info(&a, phi);
        ingot_model_get_info(&b, llama);
        assert_int_equal(a.n_params, b.n_params);
        assert_int_equal(a.weight_bytes, b.weight_bytes);
        assert_int_equal(a.sliding_window, 0);
        assert_int_equal(a.rope_long_after, 0);
        assert_same_logits(phi, llama, 9, d->vocab);
        double *x = decoded(phi, NULL, 9, 5, d->vocab), *y = decoded(llama, NULL, 9, 5, d->vocab);
        assert_memory_equal(x, y, (size_t)(9 * d->vocab) * sizeof *x);
        free(x);
        free(y);
        ingot_model_free(phi);
        ingot_model_free(llama);
    }
    tu_folder_free(&base);
}

/* src's weights with config cfg and q_proj, k_proj doubled. */
static ingot_model *load_doubled_qk(const tu_folder *src, json_t *cfg) {
    tu_folder f;
    with_config(&f, src, cfg);
    for (int i = 0; i < f.n; i++) {
        if (!strstr(f.names[i], ".q_proj.") && !strstr(f.names[i], ".k_proj.")) continue;
        ingot_array *a = f.arrays[i];
        int64_t shape[2] = {ingot_array_dim(a, 0), ingot_array_dim(a, 1)};
        double *v = tu_values(a);
        for (int64_t j = 0; j < shape[0] * shape[1]; j++)
            v[j] *= 2;
        f.arrays[i] = tu_from_f64(v, INGOT_F32, shape, 2);
        free(v);
        ingot_array_free(a);
    }
    return load(&f, NULL);
}

/* config.json of Llama with linear rope scaling by factor. */
static json_t *linear_config(const dims *d, double factor) {
    json_t *c = config("llama", d);
    json_object_set_new(c, "rope_scaling",
                        json_pack("{s:s, s:f}", "rope_type", "linear", "factor", factor));
    return c;
}

/* A JSON list of n copies of v. */
static json_t *repeated(double v, int64_t n) {
    json_t *a = json_array();
    for (int64_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v));
    return a;
}

/* Phi-3's longrope with uniform lists (short 2, long 8),
 * original_max_position_embeddings 4 and 256 positions, so an attention
 * factor sqrt(1 + ln 64 / ln 4) = 2, equals Llama with linear rope scaling by
 * 2 (calls whose positions stay below 4) or 8 (the others) and q_proj, k_proj
 * doubled (cos and sin times 2 double q and k): bit-identical, as scaling by
 * powers of two rounds alike. The lists follow the call's largest position:
 * given positions count, and a cached call rotates its new tokens by their
 * positions while the cached keys keep their factors (the short model's
 * cache continued by the long model). */
static void test_phi3_longrope(void **state) {
    (void)state;
    const dims *d = &PHI3;
    int64_t V = d->vocab, half = d->head_dim / 2, n, n2;
    tu_folder base, f;
    llama_weights(&base, d);
    json_t *pc = phi3_config(d);
    json_object_set_new(pc, "original_max_position_embeddings", json_integer(4));
    json_object_set_new(pc, "rope_scaling",
                        json_pack("{s:s, s:o, s:o}", "type", "longrope", "short_factor",
                                  repeated(2, half), "long_factor", repeated(8, half)));
    phi3_weights(&f, &base, pc);
    ingot_model *phi = load(&f, NULL);
    ingot_model *lo = load_doubled_qk(&base, linear_config(d, 2));
    ingot_model *hi = load_doubled_qk(&base, linear_config(d, 8));
    ingot_model_info info;
    ingot_model_get_info(&info, phi);
    assert_int_equal(info.rope_long_after, 4);
    assert_same_logits(phi, lo, 4, V);
    assert_same_logits(phi, hi, 7, V);
    /* three tokens at positions 4, 5, 6: the long factors */
    int64_t pos[3] = {4, 5, 6}, shape[2] = {1, 3};
    ingot_array *ids = ids_of(3, V), *positions;
    TU_OK(ingot_array_from_data(&positions, pos, INGOT_I64, shape, 2));
    double *x = logits(phi, ids, NULL, positions, &n), *y = logits(hi, ids, NULL, positions, &n2);
    assert_memory_equal(x, y, (size_t)n * sizeof *x);
    free(x);
    free(y);
    ingot_array_free(ids);
    /* prefill 4 (short), then tokens 4 and 5 (long) through the cache */
    char path[300];
    ingot_kv_cache *c;
    TU_OK(ingot_kv_cache_new(&c, lo, 1, 0));
    double *got = decoded(phi, NULL, 6, 4, V), *want = decoded(lo, c, 4, 4, V);
    assert_memory_equal(got, want, (size_t)(4 * V) * sizeof *got);
    tu_folder_path(path, sizeof path);
    TU_OK(ingot_kv_cache_save(c, path));
    ingot_kv_cache_free(c);
    TU_OK(ingot_kv_cache_load(&c, hi, path));
    ids = ids_of(6, V);
    for (int64_t t = 4; t < 6; t++) {
        ingot_array *tok;
        TU_OK(ingot_slice_axis(&tok, ids, 1, t, t + 1));
        double *step = logits(hi, tok, c, NULL, &n);
        assert_memory_equal(got + t * V, step, (size_t)V * sizeof *step);
        free(step);
        ingot_array_free(tok);
    }
    free(want);
    free(got);
    ingot_kv_cache_free(c);
    ingot_array_free(ids);
    ingot_array_free(positions);
    ingot_model_free(phi);
    ingot_model_free(lo);
    ingot_model_free(hi);
    tu_folder_free(&base);
}

/* Writes base as Phi-3 with config cfg, then weight name (when not NULL)
 * dropped or, with d0 > 0, replaced by a [d0, d1] one, and expects loading to
 * fail with status and needle. */
static void phi3_fails(const tu_folder *base, json_t *cfg, const char *name, int64_t d0,
                       int64_t d1, ingot_status status, const char *needle) {
    tu_folder f;
    phi3_weights(&f, base, cfg);
    if (name) tu_folder_drop(&f, name);
    if (name && d0 > 0) tu_folder_add(&f, name, d0, d1, INGOT_F32);
    char dir[300];
    write_new(&f, dir, sizeof dir);
    ingot_model *m = (ingot_model *)1;
    TU_FAILS(ingot_model_load(&m, dir, NULL), status, needle);
    assert_null(m);
}

/* The fused tensors are checked by name and shape; longrope's lists by
 * length; partial rotary factors other than 1 are refused; sliding_window
 * makes every layer slide; max_position_embeddings defaults to 4096. */
static void test_phi3_config_and_weights(void **state) {
    (void)state;
    const dims *d = &PHI3;
    tu_folder base, f;
    llama_weights(&base, d);
    phi3_fails(&base, phi3_config(d), "model.layers.0.self_attn.qkv_proj.weight", 32, 32,
               INGOT_ERR_FORMAT,
               "'model.layers.0.self_attn.qkv_proj.weight' has shape (32,32), expected (64,32)");
    phi3_fails(&base, phi3_config(d), "model.layers.1.mlp.gate_up_proj.weight", 0, 0,
               INGOT_ERR_NOT_FOUND, "'model.layers.1.mlp.gate_up_proj.weight' is missing");
    json_t *c = phi3_config(d);
    json_object_set_new(c, "rope_scaling",
                        json_pack("{s:s, s:o, s:o}", "type", "su", "short_factor",
                                  repeated(1, 3), "long_factor", repeated(1, 4)));
    phi3_fails(&base, c, NULL, 0, 0, INGOT_ERR_FORMAT,
               "'rope_scaling.short_factor' must be a list of head_dim / 2 (4) numbers");
    c = phi3_config(d);
    json_object_set_new(c, "partial_rotary_factor", json_real(0.75));
    phi3_fails(&base, c, NULL, 0, 0, INGOT_ERR_UNSUPPORTED,
               "'partial_rotary_factor' 0.75 is not supported");
    c = phi3_config(d);
    json_object_set_new(c, "sliding_window", json_integer(5));
    json_object_del(c, "max_position_embeddings");
    phi3_weights(&f, &base, c);
    ingot_model *m = load(&f, NULL);
    ingot_model_info info;
    ingot_model_get_info(&info, m);
    assert_int_equal(info.sliding_window, 5);
    assert_int_equal(info.context_length, 4096);
    assert_cache_matches(m, 9, 3, d->vocab);
    ingot_model_free(m);
    tu_folder_free(&base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mistral_window),
        cmocka_unit_test(test_mistral_window_reference),
        cmocka_unit_test(test_mistral_defaults),
        cmocka_unit_test(test_phi3_fused),
        cmocka_unit_test(test_phi3_longrope),
        cmocka_unit_test(test_phi3_config_and_weights),
    };
    return cmocka_run_group_tests(tests, tu_folder_setup, tu_folder_teardown);
}
