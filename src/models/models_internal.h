/* Library-internal model structures: the parsed configuration, the weights
 * of every layer, the public KV cache over nn's and the helpers shared by
 * config.c, weights.c, transformer.c and kv_cache.c. Not installed. */
#ifndef INGOT_MODELS_INTERNAL_H
#define INGOT_MODELS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ingot/model.h"
#include "nn/nn.h"

/* Model families differ only in data: config.c's table holds one row of
 * defaults and traits per model_type, which parsing turns into the flags
 * below. */

typedef enum ingot__rope_type {
    INGOT__ROPE_DEFAULT,  /* base^(-2i/d) */
    INGOT__ROPE_LINEAR,   /* default / factor */
    INGOT__ROPE_LLAMA3,   /* HF _compute_llama3_parameters */
    INGOT__ROPE_LONGROPE, /* HF _compute_longrope_parameters (Phi-3): default / a
                             factor per frequency, short or long by length */
} ingot__rope_type;

typedef struct ingot__rope_config {
    ingot__rope_type type;
    double theta;
    double factor;          /* linear, llama3 */
    double low_freq_factor; /* llama3 */
    double high_freq_factor;
    double original_max_position_embeddings; /* llama3; longrope: calls whose largest
                                                position + 1 exceeds it use long factors */
    double attention_factor; /* longrope: cos and sin times this (1 otherwise) */
    float *factors;          /* longrope: short_factor then long_factor, head_dim / 2
                                each (malloc'd; a copied rope shares them) */
} ingot__rope_config;

typedef enum ingot__activation {
    INGOT__ACT_SILU,
    INGOT__ACT_GELU_TANH,
    INGOT__ACT_GELU,
} ingot__activation;

typedef struct ingot__config {
    char model_type[32];    /* as in config.json: "qwen3", "gemma3", ... */
    char architecture[128]; /* architectures[0] or "" */
    bool multimodal; /* gemma3: text_config and language_model weights */
    int64_t vocab_size, hidden_size, intermediate_size;
    int64_t n_layers, n_heads, n_kv_heads, head_dim;
    int64_t max_position_embeddings;
    int64_t sliding_window; /* 0: no layer slides */
    double rms_norm_eps;
    bool tie_word_embeddings;
    bool attn_qkv_bias; /* q, k, v projections have biases */
    bool attn_o_bias;   /* o_proj has a bias */
    bool mlp_bias;
    bool qk_norm;               /* per-head RMSNorm of q and k (Qwen3, Gemma 3) */
    bool gemma_norms;           /* (1 + w) norms, four per layer, scaled embedding */
    bool fused;                 /* qkv_proj and gate_up_proj weights (Phi-3), split at load */
    double attn_scale;          /* 0: 1/sqrt(head_dim); longrope's attention factor
                                   squared is folded in */
    double final_logit_softcap; /* 0: none */
    ingot__activation act;
    bool *layer_sliding; /* [n_layers] */
    ingot__rope_config rope_full, rope_sliding;
} ingot__config;

/* Parses config.json at path into *cfg (freed with ingot__config_free, also
 * after a failure): a regular file of at most INGOT_MODEL_CONFIG_MAX_BYTES.
 * Errors: NOT_FOUND, IO (also not a regular file), LIMIT, FORMAT (key
 * named), UNSUPPORTED. */
ingot_status ingot__config_load(ingot__config *cfg, const char *path);
void ingot__config_free(ingot__config *cfg);

/* The rope frequencies of a forward call ([head_dim / 2] f32, borrowed from
 * m) for full and sliding layers: transformers' longrope takes the long
 * factors when the call's largest position + 1 exceeds
 * original_max_position_embeddings. positions: the call's [B, T] positions,
 * or NULL when they are the cache's, the largest end - 1 (only the largest
 * matters; read back from the device only for a longrope model).
 * Errors: DEVICE, OUT_OF_MEMORY. */
ingot_status ingot__rope_freqs_for(const ingot_array **full, const ingot_array **sliding,
                                   const ingot_model *m, const ingot_array *positions,
                                   int64_t end);

/* One decoder layer's weights (owned by the model: freed with it). */
typedef struct ingot__layer {
    ingot_array *in_norm, *post_attn_norm;   /* [H] (gemma: 1 + w in f32) */
    ingot_array *pre_ff_norm, *post_ff_norm; /* gemma only, [H] f32 */
    ingot__linear q, k, v;                   /* [Hq * D, H], [Hkv * D, H] (x2), biases or NULL */
    ingot__linear o;                         /* [H, Hq * D] */
    ingot_array *q_norm, *k_norm;            /* [head_dim] or NULL */
    ingot__linear gate, up;                  /* [I, H] */
    ingot__linear down;                      /* [H, I] */
} ingot__layer;

struct ingot_model {
    ingot__config cfg;
    ingot_device device; /* where every weight below lives */
    ingot_dtype dtype;
    ingot__embedding embed;                  /* [V, H]; scale: gemma's 0-d in dtype, else NULL */
    ingot_array *norm;                       /* [H] */
    ingot__linear lm_head;                   /* [V, H], no bias; the embedding when tied */
    ingot_array *freqs_full, *freqs_sliding; /* [head_dim / 2] f32 */
    ingot_array *long_full, *long_sliding;   /* longrope's long factors, else NULL */
    ingot__layer *layers;                    /* [n_layers] */
    int64_t n_params;
    size_t weight_bytes;
};

/* The public cache: the nn cache (src/nn/kv_cache.c) of the model's
 * geometry (a layer per decoder layer, its window if it slides), and the
 * model it was made for, which outlives it. */
struct ingot_kv_cache {
    const ingot_model *model;
    ingot__kv *kv;
};

#endif
