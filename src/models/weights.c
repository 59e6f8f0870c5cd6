/* Loading a model folder: config.json, then every expected tensor of the
 * safetensors file(s), each checked for presence, shape and dtype; model
 * info; rope frequencies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "ingot/ops.h"
#include "ingot/safetensors.h"
#include "models/models_internal.h"
#include "ops/ops_internal.h"

typedef struct loader {
    ingot_safetensors *st;
    const char *prefix; /* "model.", "language_model.model.", ... */
    ingot_dtype want;   /* target dtype, or INGOT_DTYPE_COUNT: the stored one */
    ingot_model *m;
} loader;

/* Reads prefix + name, checks shape (d1 == 0: 1-D [d0]) and dtype. */
static ingot_status load_raw(ingot_array **out, loader *L, const char *prefix, const char *name,
                             int64_t d0, int64_t d1) {
    *out = NULL;
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    ingot_tensor_info info;
    if (ingot_safetensors_info(&info, L->st, full) != INGOT_OK)
        return ingot__error(INGOT_ERR_NOT_FOUND, "model: tensor '%s' is missing", full);
    int64_t want[2] = {d0, d1};
    int ndim = d1 ? 2 : 1;
    bool ok = info.ndim == ndim && info.shape[0] == d0 && (ndim == 1 || info.shape[1] == d1);
    if (!ok) {
        char a[INGOT__SHAPE_STR_MAX], b[INGOT__SHAPE_STR_MAX];
        return ingot__error(INGOT_ERR_FORMAT, "model: tensor '%s' has shape %s, expected %s", full,
                            info.ndim <= INGOT_MAX_DIMS ? ingot__shape_str(a, info.shape, info.ndim)
                                                        : "(too many dims)",
                            ingot__shape_str(b, want, ndim));
    }
    if (!info.supported || !ingot_dtype_is_float(info.dtype))
        return ingot__error(INGOT_ERR_FORMAT,
                            "model: tensor '%s' has dtype %s; weights must be F32, BF16 or F16",
                            full, info.dtype_name);
    if (L->m->dtype == INGOT_DTYPE_COUNT) L->m->dtype = info.dtype; /* the first: embeddings */
    if (L->want == INGOT_DTYPE_COUNT && info.dtype != L->m->dtype)
        return ingot__error(INGOT_ERR_FORMAT,
                            "model: tensor '%s' is %s but the model's weights are %s", full,
                            ingot_dtype_name(info.dtype), ingot_dtype_name(L->m->dtype));
    ingot_array *a, *mapped; /* a: on the model's device, in the stored dtype */
    ingot_status st = ingot_safetensors_get(&mapped, L->st, full);
    if (st) return st;
    st = ingot_array_to_device(&a, mapped, L->m->device);
    ingot_array_free(mapped);
    if (st) return st;
    L->m->n_params += ingot_array_size(a);
    if (L->want != INGOT_DTYPE_COUNT && info.dtype != L->want) {
        st = ingot_astype(out, a, L->want);
        ingot_array_free(a);
        if (st) return st;
    } else {
        *out = a;
    }
    return INGOT_OK;
}

static ingot_status load(ingot_array **out, loader *L, const char *name, int64_t d0, int64_t d1) {
    ingot_status st = load_raw(out, L, L->prefix, name, d0, d1);
    if (!st) L->m->weight_bytes += ingot_array_nbytes(*out);
    return st;
}

/* A norm weight [d]: Gemma's (1 + w) is formed in f32, as HF does. */
static ingot_status load_norm(ingot_array **out, loader *L, const char *name, int64_t d) {
    if (!L->m->cfg.gemma_norms) return load(out, L, name, d, 0);
    ingot_array *w = NULL, *w32 = NULL, *one = NULL;
    ingot_status st = load_raw(&w, L, L->prefix, name, d, 0);
    if (!st) st = ingot_astype(&w32, w, INGOT_F32);
    if (!st) st = ingot__full_on(&one, INGOT_F32, NULL, 0, 1.0, L->m->device, "model_load");
    if (!st) st = ingot_add(out, w32, one);
    if (!st) L->m->weight_bytes += ingot_array_nbytes(*out);
    ingot_array_free(w);
    ingot_array_free(w32);
    ingot_array_free(one);
    return st;
}

/* Optional bias: loaded only when the config says the layer has one. */
static ingot_status load_bias(ingot_array **out, loader *L, bool present, const char *name,
                              int64_t d) {
    *out = NULL;
    return present ? load(out, L, name, d, 0) : INGOT_OK;
}

/* Weights out[j] [rows[j], cols], j < count: the tensors names[j], or, when
 * fused is not NULL, the row blocks in order of the one tensor fused (views
 * of it: Phi-3's qkv_proj and gate_up_proj, whose outputs transformers
 * splits in this order). */
static ingot_status load_rows(ingot_array **const *out, loader *L, const char *fused,
                              const char (*names)[128], const int64_t *rows, int count,
                              int64_t cols) {
    ingot_status st = INGOT_OK;
    int64_t total = 0;
    for (int j = 0; j < count; j++)
        total += rows[j];
    if (!fused) {
        for (int j = 0; j < count && !st; j++)
            st = load(out[j], L, names[j], rows[j], cols);
        return st;
    }
    ingot_array *w = NULL; /* [total, cols] */
    st = load(&w, L, fused, total, cols);
    for (int64_t j = 0, first = 0; j < count && !st; first += rows[j], j++)
        st = ingot_slice_axis(out[j], w, 0, first, first + rows[j]);
    ingot_array_free(w);
    return st;
}

static ingot_status load_layer(ingot__layer *l, loader *L, int64_t i) {
    const ingot__config *c = &L->m->cfg;
    int64_t H = c->hidden_size, I = c->intermediate_size, D = c->head_dim;
    int64_t q = c->n_heads * D, kv = c->n_kv_heads * D;
    static const char *const names[] = {"input_layernorm.weight",
                                        "post_attention_layernorm.weight",
                                        "pre_feedforward_layernorm.weight",
                                        "post_feedforward_layernorm.weight",
                                        "self_attn.q_proj.weight",
                                        "self_attn.k_proj.weight",
                                        "self_attn.v_proj.weight",
                                        "self_attn.o_proj.weight",
                                        "self_attn.q_proj.bias",
                                        "self_attn.k_proj.bias",
                                        "self_attn.v_proj.bias",
                                        "self_attn.o_proj.bias",
                                        "self_attn.q_norm.weight",
                                        "self_attn.k_norm.weight",
                                        "mlp.gate_proj.weight",
                                        "mlp.up_proj.weight",
                                        "mlp.down_proj.weight",
                                        "mlp.gate_proj.bias",
                                        "mlp.up_proj.bias",
                                        "mlp.down_proj.bias",
                                        "self_attn.qkv_proj.weight",
                                        "mlp.gate_up_proj.weight"};
    enum { N_NAMES = sizeof names / sizeof names[0] };
    char n[N_NAMES][128];
    for (int j = 0; j < N_NAMES; j++)
        snprintf(n[j], sizeof n[j], "layers.%lld.%s", (long long)i, names[j]);
    ingot_array **const qkv[] = {&l->q.weight, &l->k.weight, &l->v.weight};
    ingot_array **const gate_up[] = {&l->gate.weight, &l->up.weight};
    const int64_t qkv_rows[] = {q, kv, kv}, gate_up_rows[] = {I, I};
    ingot_status st;
    bool g = c->gemma_norms;
    if ((st = load_norm(&l->in_norm, L, n[0], H)) ||
        (st = load_norm(&l->post_attn_norm, L, n[1], H)) ||
        (g && (st = load_norm(&l->pre_ff_norm, L, n[2], H))) ||
        (g && (st = load_norm(&l->post_ff_norm, L, n[3], H))) ||
        (st = load_rows(qkv, L, c->fused ? n[20] : NULL, &n[4], qkv_rows, 3, H)) ||
        (st = load(&l->o.weight, L, n[7], H, q)) ||
        (st = load_bias(&l->q.bias, L, c->attn_qkv_bias, n[8], q)) ||
        (st = load_bias(&l->k.bias, L, c->attn_qkv_bias, n[9], kv)) ||
        (st = load_bias(&l->v.bias, L, c->attn_qkv_bias, n[10], kv)) ||
        (st = load_bias(&l->o.bias, L, c->attn_o_bias, n[11], H)) ||
        (c->qk_norm && (st = load_norm(&l->q_norm, L, n[12], D))) ||
        (c->qk_norm && (st = load_norm(&l->k_norm, L, n[13], D))) ||
        (st = load_rows(gate_up, L, c->fused ? n[21] : NULL, &n[14], gate_up_rows, 2, H)) ||
        (st = load(&l->down.weight, L, n[16], H, I)) ||
        (st = load_bias(&l->gate.bias, L, c->mlp_bias, n[17], I)) ||
        (st = load_bias(&l->up.bias, L, c->mlp_bias, n[18], I)) ||
        (st = load_bias(&l->down.bias, L, c->mlp_bias, n[19], H)))
        return st;
    return INGOT_OK;
}

static void free_layer(ingot__layer *l) {
    ingot_array *all[] = {l->in_norm,     l->post_attn_norm, l->pre_ff_norm, l->post_ff_norm,
                          l->q.weight,    l->k.weight,       l->v.weight,    l->o.weight,
                          l->q.bias,      l->k.bias,         l->v.bias,      l->o.bias,
                          l->q_norm,      l->k_norm,         l->gate.weight, l->up.weight,
                          l->down.weight, l->gate.bias,      l->up.bias,     l->down.bias};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ingot_array_free(all[i]);
}

/* HF's inverse frequencies (modeling_rope_utils), in f32 step for step:
 * default 1 / base^(2i/d); linear divides by factor; llama3 smooths between
 * the low- and high-frequency wavelengths; longrope is 1 / (factor_i *
 * base^(2i/d)) with the short factors, or the long ones when long. */
static ingot_status rope_freqs(ingot_array **out, const ingot__rope_config *r, int64_t dims,
                               bool long_factors, ingot_device device) {
    int64_t n = dims / 2;
    float *f = malloc((size_t)n * sizeof(float));
    if (!f) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "model: out of memory");
    float base = (float)r->theta, factor = (float)r->factor;
    const float *ext = r->type == INGOT__ROPE_LONGROPE ? r->factors + (long_factors ? n : 0) : NULL;
    for (int64_t i = 0; i < n; i++) {
        float p = powf(base, (float)(2 * i) / (float)dims);
        float inv = 1.0f / (ext ? ext[i] * p : p);
        if (r->type == INGOT__ROPE_LINEAR) inv = inv / factor;
        if (r->type == INGOT__ROPE_LLAMA3) {
            float old = (float)r->original_max_position_embeddings;
            float lo = (float)r->low_freq_factor;
            float lo_wavelen = (float)(r->original_max_position_embeddings / r->low_freq_factor);
            float hi_wavelen = (float)(r->original_max_position_embeddings / r->high_freq_factor);
            float wavelen = (float)(2 * M_PI) / inv;
            float scaled = wavelen > lo_wavelen ? inv / factor : inv;
            float smooth = (old / wavelen - lo) / (float)(r->high_freq_factor - r->low_freq_factor);
            float smoothed = (1.0f - smooth) * scaled / factor + smooth * scaled;
            if (!(wavelen < hi_wavelen) && !(wavelen > lo_wavelen)) scaled = smoothed;
            inv = scaled;
        }
        f[i] = inv;
    }
    ingot_array *host = NULL; /* [n] */
    ingot_status st = ingot_array_from_data(&host, f, INGOT_F32, &n, 1);
    free(f);
    if (!st) st = ingot_array_to_device(out, host, device);
    ingot_array_free(host);
    return st;
}

/* The call's frequencies of one kind of layer: the long ones when they exist
 * and len exceeds the rope's original_max_position_embeddings. */
static const ingot_array *pick_freqs(const ingot_array *freqs, const ingot_array *long_freqs,
                                     const ingot__rope_config *r, int64_t len) {
    return long_freqs && (double)len > r->original_max_position_embeddings ? long_freqs : freqs;
}

ingot_status ingot__rope_freqs_for(const ingot_array **full, const ingot_array **sliding,
                                   const ingot_model *m, const ingot_array *positions,
                                   int64_t end) {
    int64_t len = end; /* transformers' seq_len: the largest position + 1 */
    if (positions && (m->long_full || m->long_sliding)) {
        int64_t n = ingot_array_size(positions), *v = malloc((size_t)n * sizeof *v);
        if (!v) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "model_forward: out of memory");
        ingot_status st = ingot_array_to_host(v, (size_t)n * sizeof *v, INGOT_I64, positions);
        len = 0;
        for (int64_t i = 0; !st && i < n; i++)
            if (v[i] + 1 > len) len = v[i] + 1;
        free(v);
        if (st) return st;
    }
    *full = pick_freqs(m->freqs_full, m->long_full, &m->cfg.rope_full, len);
    *sliding = pick_freqs(m->freqs_sliding, m->long_sliding, &m->cfg.rope_sliding, len);
    return INGOT_OK;
}

/* Tensor name prefixes: text checkpoints use "model."; the multimodal Gemma 3
 * one "language_model.model." (Hub) or "model.language_model." (newer). */
static ingot_status find_prefix(loader *L, const char **head_prefix) {
    static const char *const mm[][2] = {{"language_model.model.", "language_model."},
                                        {"model.language_model.", ""}};
    *head_prefix = "";
    L->prefix = "model.";
    if (!L->m->cfg.multimodal) return INGOT_OK;
    for (int i = 0; i < 2; i++) {
        char name[64];
        ingot_tensor_info info;
        snprintf(name, sizeof name, "%sembed_tokens.weight", mm[i][0]);
        if (ingot_safetensors_info(&info, L->st, name) == INGOT_OK) {
            L->prefix = mm[i][0];
            *head_prefix = mm[i][1];
            return INGOT_OK;
        }
    }
    return ingot__error(
        INGOT_ERR_NOT_FOUND,
        "model: tensor 'language_model.model.embed_tokens.weight' (or 'model.language_model.embed_tokens.weight') is missing");
}

static ingot_status load_weights(ingot_model *m, const char *dir, ingot_dtype want) {
    loader L = {.want = want, .m = m};
    ingot_status st = ingot_safetensors_open(&L.st, dir);
    if (st) return st;
    const ingot__config *c = &m->cfg;
    const char *head_prefix;
    m->dtype = want;
    if ((st = find_prefix(&L, &head_prefix)) ||
        (st = load(&m->embed.weight, &L, "embed_tokens.weight", c->vocab_size, c->hidden_size)) ||
        (st = load_norm(&m->norm, &L, "norm.weight", c->hidden_size)))
        goto done;
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) {
        st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "model: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < c->n_layers; i++)
        if ((st = load_layer(&m->layers[i], &L, i))) goto done;
    if (c->tie_word_embeddings) {
        m->lm_head.weight = ingot_array_retain(m->embed.weight);
    } else if ((st = load_raw(&m->lm_head.weight, &L, head_prefix, "lm_head.weight", c->vocab_size,
                              c->hidden_size)) == INGOT_OK) {
        m->weight_bytes += ingot_array_nbytes(m->lm_head.weight);
    }
done:
    ingot_safetensors_close(L.st);
    return st;
}

static ingot_status parse_dtype(ingot_dtype *out, const char *name) {
    static const ingot_dtype dts[] = {INGOT_F32, INGOT_BF16, INGOT_F16};
    *out = INGOT_DTYPE_COUNT;
    if (!name) return INGOT_OK;
    for (int i = 0; i < 3; i++)
        if (strcmp(name, ingot_dtype_name(dts[i])) == 0) {
            *out = dts[i];
            return INGOT_OK;
        }
    return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                        "model_load: dtype '%s' is not one of f32, bf16, f16", name);
}

static ingot_status finish(ingot_model *m) {
    const ingot__config *c = &m->cfg;
    const ingot__rope_config *ropes[2] = {&c->rope_full, &c->rope_sliding};
    ingot_array **freqs[2][2] = {{&m->freqs_full, &m->long_full},
                                 {&m->freqs_sliding, &m->long_sliding}};
    ingot_status st = INGOT_OK;
    for (int j = 0; j < 2 && !st; j++) {
        st = rope_freqs(freqs[j][0], ropes[j], c->head_dim, false, m->device);
        if (!st && ropes[j]->type == INGOT__ROPE_LONGROPE)
            st = rope_freqs(freqs[j][1], ropes[j], c->head_dim, true, m->device);
    }
    if (st || !c->gemma_norms) return st;
    /* HF: torch.tensor(hidden_size ** 0.5) (f32), then .to(weight dtype) */
    float scale = (float)sqrt((double)c->hidden_size);
    return ingot__full_on(&m->embed.scale, m->dtype, NULL, 0, (double)scale, m->device,
                          "model_load");
}

ingot_status ingot_model_load(ingot_model **out, const char *dir, const ingot_model_options *opts) {
    INGOT__CHECK_NOT_NULL(out, "model_load");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(dir, "model_load");
    ingot_dtype want = INGOT_DTYPE_COUNT;
    ingot_status st = parse_dtype(&want, opts ? opts->dtype : NULL);
    if (st) return st;
    ingot_device device = opts ? opts->device : ingot_cpu();
    if (!ingot__device_ops_of(device, "model_load")) return INGOT_ERR_DEVICE;
    ingot_model *m = calloc(1, sizeof *m);
    if (!m) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "model_load: out of memory");
    m->device = device;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        st = ingot__error(INGOT_ERR_INVALID_ARGUMENT, "model_load: the folder path is too long");
    else
        st = ingot__config_load(&m->cfg, path);
    if (!st) st = load_weights(m, dir, want);
    if (!st) st = finish(m);
    if (st) {
        ingot_model_free(m);
        return st;
    }
    *out = m;
    return INGOT_OK;
}

void ingot_model_free(ingot_model *m) {
    if (!m) return;
    for (int64_t i = 0; m->layers && i < m->cfg.n_layers; i++)
        free_layer(&m->layers[i]);
    free(m->layers);
    ingot_array *all[] = {m->embed.weight, m->norm,      m->lm_head.weight, m->embed.scale,
                          m->freqs_full,   m->long_full, m->freqs_sliding,  m->long_sliding};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ingot_array_free(all[i]);
    ingot__config_free(&m->cfg);
    free(m);
}

/* original_max_position_embeddings of a longrope rope (full layers' first),
 * else 0. */
static int64_t rope_long_after(const ingot_model *m) {
    const ingot__rope_config *r = m->long_full ? &m->cfg.rope_full : &m->cfg.rope_sliding;
    return m->long_full || m->long_sliding ? (int64_t)r->original_max_position_embeddings : 0;
}

void ingot_model_get_info(ingot_model_info *out, const ingot_model *m) {
    if (!out || !m) return;
    const ingot__config *c = &m->cfg;
    *out = (ingot_model_info){
        .model_type = c->model_type,
        .architecture = c->architecture,
        .dtype = m->dtype,
        .n_params = m->n_params,
        .vocab_size = c->vocab_size,
        .hidden_size = c->hidden_size,
        .n_layers = c->n_layers,
        .n_heads = c->n_heads,
        .n_kv_heads = c->n_kv_heads,
        .head_dim = c->head_dim,
        .context_length = c->max_position_embeddings,
        .sliding_window = c->sliding_window,
        .rope_long_after = rope_long_after(m),
        .weight_bytes = m->weight_bytes,
        .device = m->device,
    };
}
