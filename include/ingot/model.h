/* ingot/model.h - transformer language models from a Hugging Face folder.
 *
 * A model folder holds config.json, model.safetensors (or shards with
 * model.safetensors.index.json), and usually the tokenizer files and
 * generation_config.json. ingot reads both forms of config.json found in the
 * wild: the Hub's (rope_theta, rope_scaling, rope_local_base_freq,
 * sliding_window_pattern) and transformers 5's (rope_parameters, per layer
 * type for Gemma 3, layer_types). Supported model_type values: qwen3, qwen2,
 * llama (Llama 3.x, llama3 rope scaling), gemma3_text, and gemma3 (the text
 * model inside the multimodal checkpoint: text_config and language_model.*
 * weights). The forward pass computes what transformers computes.
 *
 * Thread rule: a loaded model is immutable and may be shared by threads; a KV
 * cache belongs to one thread at a time. */
#ifndef INGOT_MODEL_H
#define INGOT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingot/array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ingot_model ingot_model;

typedef struct ingot_model_options {
    ingot_device device; /* where weights live and compute runs; zero = CPU */
    const char *dtype;   /* "f32", "bf16" or "f16" to convert the weights to;
                            NULL keeps the stored dtype */
} ingot_model_options;

/* Loads the model in folder dir. opts may be NULL (CPU, stored dtype).
 * Errors: INVALID_ARGUMENT (NULLs, a bad option), NOT_FOUND (config.json or
 * weights missing, a tensor missing: named), FORMAT (malformed config or
 * weights: the key or tensor named, with expected and found shapes or
 * dtypes), UNSUPPORTED (architecture or feature, named), DEVICE,
 * OUT_OF_MEMORY. Nothing stays allocated after a failed load. */
ingot_status ingot_model_load(ingot_model **out, const char *dir, const ingot_model_options *opts);

/* Frees a model; NULL is ignored. Caches made for it must be freed first. */
void ingot_model_free(ingot_model *m);

typedef struct ingot_model_info {
    const char *model_type;   /* "qwen3", "gemma3_text", ... */
    const char *architecture; /* config's architectures[0], or "" */
    ingot_dtype dtype;        /* dtype of the weights as loaded */
    int64_t n_params;         /* parameters (tied embeddings counted once) */
    int64_t vocab_size;
    int64_t hidden_size;
    int64_t n_layers;
    int64_t n_heads;
    int64_t n_kv_heads;
    int64_t head_dim;
    int64_t context_length;   /* max_position_embeddings */
    int64_t sliding_window;   /* 0 when no layer slides */
    size_t weight_bytes;      /* bytes of weights held */
} ingot_model_info;

/* Fills *out; the strings live as long as m. */
void ingot_model_get_info(ingot_model_info *out, const ingot_model *m);

/* ---- KV cache ----
 * One cache holds the keys and values of `batch` sequences for every layer:
 * a growing buffer for full-attention layers and a rotating buffer of the
 * window size for sliding-window layers. */
typedef struct ingot_kv_cache ingot_kv_cache;

/* A cache for batch sequences of up to capacity tokens (0: the model's
 * context length, grown on demand). */
ingot_status ingot_kv_cache_new(ingot_kv_cache **out, const ingot_model *m, int64_t batch,
                                int64_t capacity);
void ingot_kv_cache_free(ingot_kv_cache *c);

/* Tokens held (the next position). */
int64_t ingot_kv_cache_length(const ingot_kv_cache *c);

/* Drops everything after the first length tokens (rollback). Errors:
 * INVALID_ARGUMENT when length exceeds the cache's length, UNSUPPORTED when a
 * rotating layer has already overwritten what would be needed. */
ingot_status ingot_kv_cache_trim(ingot_kv_cache *c, int64_t length);

/* Writes the cache to a file / reads one back for the same model (validated:
 * model shape, dtype, lengths; a mismatch is a FORMAT error). */
ingot_status ingot_kv_cache_save(const ingot_kv_cache *c, const char *path);
ingot_status ingot_kv_cache_load(ingot_kv_cache **out, const ingot_model *m, const char *path);

/* ---- forward pass ---- */

typedef struct ingot_forward_options {
    /* [B, T] integer positions; NULL: cache length + t for every row. */
    const ingot_array *positions;
    /* [B, Tk] bool or integer, nonzero for real tokens and 0 for padding,
     * where Tk = cache length + T; NULL: every token is real. */
    const ingot_array *attention_mask;
    /* Only the logits of each row's last position ([B, 1, V]). */
    bool last_only;
} ingot_forward_options;

/* logits [B, T, V] f32 for ids [B, T] (any integer dtype, each in
 * [0, vocab_size)), appending the new keys and values to cache when it is not
 * NULL (cache NULL: attention over ids alone). opts may be NULL.
 * Errors: INVALID_ARGUMENT (NULLs, batch differs from the cache's), INDEX (an
 * id out of range, named), LIMIT (the cache is full), SHAPE, DEVICE,
 * OUT_OF_MEMORY. On error the cache is unchanged. */
ingot_status ingot_model_forward(ingot_array **logits, const ingot_model *m,
                                 const ingot_array *ids, ingot_kv_cache *cache,
                                 const ingot_forward_options *opts);

#ifdef __cplusplus
}
#endif
#endif
