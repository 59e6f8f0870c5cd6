/* ingot/model.h - transformer language models from a Hugging Face folder.
 *
 * A model folder holds config.json, model.safetensors (or shards with
 * model.safetensors.index.json), and usually the tokenizer files and
 * generation_config.json. ingot reads both forms of config.json found in the
 * wild: the Hub's (rope_theta, rope_scaling, rope_local_base_freq,
 * sliding_window_pattern) and transformers 5's (rope_parameters, per layer
 * type for Gemma 3, layer_types). docs/models.md lists the supported
 * model_type values (one row each in src/models/config.c's table) and what
 * each reads. The forward pass computes what transformers computes.
 *
 * Thread rule: a loaded model is immutable and may be shared by threads; a KV
 * cache belongs to one thread at a time.
 *
 * Ownership: ingot_model_load and ingot_kv_cache_new/_load give the caller a
 * handle freed with ingot_model_free / ingot_kv_cache_free; a cache refers to
 * its model, which must outlive it. Logits come back as an ingot_array with
 * one reference (array.h).
 *
 * End of sequence: the model holds no EOS ids (there is no getter here). They
 * come from the tokenizer of the same folder: ingot_tokenizer_stop_ids
 * (tokenizer.h) merges generation_config.json's eos_token_id with the
 * tokenizer config's eos_token and the family's end-of-turn token; that is
 * what sessions use. Without a tokenizer, pass the ids as
 * ingot_generate_options.stop_ids (engine.h).
 *
 * Autograd: the KV cache is inference-only. Keys and values are copied into
 * its buffers outside the tape (autograd.h), and with a cache the
 * full-attention layers read even the current call's keys and values back
 * from those buffers, so no gradient flows through them; a later call may
 * also overwrite buffer memory a recorded op still refers to. Differentiate
 * a forward pass only with cache NULL. The weights are held inside the model
 * and cannot be passed to ingot_vjp as primals: there is no training entry
 * point in this header yet. */
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

/* Zero-initialised (`ingot_model_options o = {0};`, or opts NULL) means the
 * CPU and the weights' stored dtype. */
typedef struct ingot_model_options {
    ingot_device device; /* where weights live and compute runs; zero = the
                            CPU; a CUDA device loads every weight onto that
                            GPU (see docs/cuda.md) */
    const char *dtype;   /* "f32", "bf16" or "f16" to convert the weights to;
                            NULL keeps the stored dtype */
} ingot_model_options;

/* The size limit of config.json. */
#define INGOT_MODEL_CONFIG_MAX_BYTES ((size_t)16 << 20)

/* Loads the model in folder dir (config.json, then the weights through
 * ingot_safetensors_open(dir), safetensors.h, whose weight files must resolve
 * inside dir or, for a Hugging Face cache snapshot, its repo's blobs folder:
 * safetensors.h, "Links"). dir is a path; ingot_hub_resolve (hub.h) turns a
 * repo id such as "Qwen/Qwen3-0.6B" into one. opts may be NULL (CPU, stored
 * dtype). On the CPU, weights kept in their stored dtype wrap the mapped
 * files without a copy (the model keeps the files mapped until it is freed);
 * converted weights, and every weight on a GPU, are copies. Every weight must
 * be a float tensor (F32, BF16 or F16), all of one dtype unless opts->dtype
 * converts them.
 * On success *out is a new model to free with ingot_model_free; on error *out
 * is NULL and nothing stays allocated or mapped.
 * Errors: INVALID_ARGUMENT (out or dir NULL, opts->dtype not one of the three
 * names), DEVICE (a device that does not exist), NOT_FOUND (config.json, the
 * weights or a tensor missing: named), IO, FORMAT (malformed config or
 * weights: the key or tensor named, with expected and found shapes or
 * dtypes; a non-float or mixed-dtype weight; a weight file linked from
 * outside the folder), UNSUPPORTED (model_type, rope type or activation,
 * named), LIMIT (also a config.json of more than
 * INGOT_MODEL_CONFIG_MAX_BYTES), OUT_OF_MEMORY. config.json must be a regular
 * file: a FIFO, device or directory is an IO error at once (nothing waits
 * for a writer). */
ingot_status ingot_model_load(ingot_model **out, const char *dir, const ingot_model_options *opts);

/* Frees a model; NULL is ignored. Caches, sessions and arrays made from it
 * stay the caller's: free caches and sessions first (they read the model when
 * freed or used); logits arrays are independent of it. */
void ingot_model_free(ingot_model *m);

typedef struct ingot_model_info {
    const char *model_type;   /* "qwen3", "gemma3_text", ... */
    const char *architecture; /* config's architectures[0], or "" */
    ingot_dtype dtype;        /* dtype of the weights as loaded */
    int64_t n_params;         /* elements of every weight tensor loaded (tied
                                 embeddings counted once) */
    int64_t vocab_size;
    int64_t hidden_size;
    int64_t n_layers;
    int64_t n_heads;
    int64_t n_kv_heads;
    int64_t head_dim;
    int64_t context_length;   /* max_position_embeddings */
    int64_t sliding_window;   /* 0 when no layer slides */
    int64_t rope_long_after;  /* longrope (Phi-3): a forward call whose largest
                                 position + 1 exceeds this rotates with the long
                                 factors, one within it with the short ones
                                 (cached keys keep theirs); 0: the rope does not
                                 depend on the length */
    size_t weight_bytes;      /* bytes of weights held, mapped or copied (Gemma's
                                 norms are held as 1 + w in f32) */
    ingot_device device;      /* where the weights live and the forward pass runs */
} ingot_model_info;

/* Fills *out; the strings live as long as m. Does nothing when out or m is
 * NULL. */
void ingot_model_get_info(ingot_model_info *out, const ingot_model *m);

/* ---- KV cache ----
 * One cache holds the keys and values of `batch` sequences for every layer,
 * in the model's weight dtype, [batch, n_kv_heads, tokens, head_dim] per
 * layer: a buffer that grows on demand (256 slots, doubling, up to the
 * capacity) for full-attention layers, and for sliding-window layers a ring
 * of the last sliding_window tokens (enough for the next query plus a
 * one-token rollback). It is filled by ingot_model_forward only, outside the
 * autograd tape (inference only: see above). */
typedef struct ingot_kv_cache ingot_kv_cache;

/* An empty cache for m, for batch (>= 1) sequences of up to capacity tokens
 * in total each (0: the model's context length). Memory is allocated by the
 * forward passes as tokens arrive, not here. m must outlive the cache.
 * On success *out is freed with ingot_kv_cache_free; on error it is NULL.
 * Errors: INVALID_ARGUMENT (out or m NULL, batch < 1, capacity < 0),
 * OUT_OF_MEMORY. */
ingot_status ingot_kv_cache_new(ingot_kv_cache **out, const ingot_model *m, int64_t batch,
                                int64_t capacity);

/* Frees a cache and its buffers; NULL is ignored. Its model must still be
 * alive. */
void ingot_kv_cache_free(ingot_kv_cache *c);

/* Tokens held per sequence (the position of the next token); 0 for NULL. */
int64_t ingot_kv_cache_length(const ingot_kv_cache *c);

/* Drops everything after the first length tokens (rollback); nothing is
 * freed, the slots are reused. Errors: INVALID_ARGUMENT (c NULL, length < 0
 * or greater than the cache's length), UNSUPPORTED when a sliding-window
 * layer no longer holds the keys a query at position length would see (the
 * cache is then unchanged; start again from an empty cache). */
ingot_status ingot_kv_cache_trim(ingot_kv_cache *c, int64_t length);

/* Writes the cache to a safetensors file at path (tensors "layers.<i>.k" /
 * ".v" of the held tokens, metadata identifying the model: model_type, dtype,
 * layer count, kv heads, head_dim, sliding window, batch, length), atomically
 * as ingot_safetensors_save does. Errors: INVALID_ARGUMENT (NULLs), IO,
 * LIMIT, OUT_OF_MEMORY. */
ingot_status ingot_kv_cache_save(const ingot_kv_cache *c, const char *path);

/* Reads a file written by ingot_kv_cache_save into a new cache for m (the
 * data is copied; the file is closed before returning). The loaded cache's
 * capacity is the model's context length. On error *out is NULL.
 * Errors: INVALID_ARGUMENT (NULLs), NOT_FOUND, IO, FORMAT (not a cache file
 * or one made for a model of another shape or dtype, tensors that do not fit
 * the lengths, named), UNSUPPORTED, LIMIT, OUT_OF_MEMORY. */
ingot_status ingot_kv_cache_load(ingot_kv_cache **out, const ingot_model *m, const char *path);

/* ---- forward pass ---- */

/* Zero-initialised (`ingot_forward_options o = {0};`, or opts NULL) means
 * positions cache length + t, every token real, logits of every position.
 * The arrays are borrowed for the call. */
typedef struct ingot_forward_options {
    /* [B, T] integer positions (any integer dtype); NULL: cache length + t
     * for every row. */
    const ingot_array *positions;
    /* [B, Tk], nonzero for real tokens and 0 for padding (any dtype,
     * converted to bool), where Tk = cache length + T: it covers the cached
     * tokens too; NULL: every token is real. */
    const ingot_array *attention_mask;
    /* Only the logits of each row's last position ([B, 1, V]). */
    bool last_only;
} ingot_forward_options;

/* *logits receives [B, T, V] f32 logits (a new array, V = vocab_size) for
 * ids [B, T] (any integer dtype, each in [0, vocab_size), T >= 1), appending
 * the new keys and values to cache when it is not NULL (cache NULL: causal
 * attention over ids alone). Attention is causal (and windowed on sliding
 * layers). opts may be NULL. With a cache it is inference-only (see Autograd
 * above). For a model on a GPU, ids, positions and attention_mask may be CPU
 * arrays (ids are checked on the host, the others uploaded); the logits are
 * on the model's device. The pass queues its work without waiting for the
 * GPU, except that ids given on the GPU are read back once to be checked
 * (pass them on the CPU to avoid that). The cache length reaches the kernels
 * as device data (the slot the new keys are written from, the length full
 * layers attend to, the default positions), never as launch arguments that
 * results depend on: consecutive decode steps launch the same kernels on the
 * same cache buffers while the cache does not grow (full layers append, and
 * sliding layers keep a ring of sliding_window slots), except that
 * attention's split of the keys over GPU blocks follows the length (a sizing
 * hint only; work launched for one length computes any other correctly).
 * Errors: INVALID_ARGUMENT (logits, m or ids NULL; ids not a 2-D integer
 * array; a cache made for another model or for another batch size), INDEX
 * (an id out of range, with its position), SHAPE (T == 0; positions not
 * [B, T] integers; attention_mask not [B, cache length + T]), LIMIT (cache
 * length + T exceeds the cache's capacity), DEVICE, OUT_OF_MEMORY. On error
 * *logits is NULL and the cache holds the same tokens as before (its
 * buffers may have grown, and after a failed one-token call a sliding layer
 * may have let go of the oldest token of its window, which only a later
 * ingot_kv_cache_trim can notice: UNSUPPORTED). */
ingot_status ingot_model_forward(ingot_array **logits, const ingot_model *m,
                                 const ingot_array *ids, ingot_kv_cache *cache,
                                 const ingot_forward_options *opts);

#ifdef __cplusplus
}
#endif
#endif
