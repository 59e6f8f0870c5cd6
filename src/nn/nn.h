/* src/nn: the layers that models and training share. Floor: above src/ops
 * (it includes core, io, backend and ops, and the public headers of those
 * floors), below src/text and src/models. Not installed.
 *
 *   linear.c     y = x W^T + b, the one place where a model multiplies by a
 *                weight (a quantized weight or a LoRA pair wraps it here)
 *   embedding.c  rows of a table by token id, optionally scaled
 *   kv_cache.c   the KV cache: per-layer keys and values, an append/view
 *                API that owns its bookkeeping, save/load
 *
 * Pointer arguments are never NULL unless a comment says so; outputs come
 * first. */
#ifndef INGOT_NN_H
#define INGOT_NN_H

#include <stdbool.h>
#include <stdint.h>

#include "ingot/array.h"
#include "ingot/device.h"
#include "ingot/safetensors.h"
#include "ingot/status.h"

/* ---- linear ---- */

/* A linear layer: weight [out, in] as Hugging Face stores it, bias [out] or
 * NULL. The layer does not own them: their owner (a model's weights, freed
 * with the model) frees them and outlives every forward call. */
typedef struct ingot__linear {
    ingot_array *weight;
    ingot_array *bias;
} ingot__linear;

/* *out = x W^T (+ b): x [..., in] -> [..., out], in the dtypes ingot_matmul
 * and ingot_add promote to, recorded for autograd like the ops it calls.
 * Errors: those of ingot_matmul and ingot_add (SHAPE when in does not match). */
ingot_status ingot__linear_forward(ingot_array **out, const ingot__linear *l, const ingot_array *x);

/* ---- embedding ---- */

/* An embedding: weight [V, D], and scale (a 0-d array in weight's dtype the
 * rows are multiplied by, Gemma's sqrt(hidden) rounded to that dtype) or
 * NULL. Not owned, as for ingot__linear. */
typedef struct ingot__embedding {
    ingot_array *weight;
    ingot_array *scale;
} ingot__embedding;

/* *out = weight[ids] (* scale): ids [...] integers in [0, V) -> [..., D] in
 * weight's dtype, recorded for autograd like ingot_take and ingot_mul.
 * Errors: those of ingot_take (INDEX for an id out of range) and ingot_mul. */
ingot_status ingot__embedding_forward(ingot_array **out, const ingot__embedding *e,
                                      const ingot_array *ids);

/* ---- KV cache ----
 * Keys and values of the tokens seen so far, per layer, for batch sequences
 * of equal length. A full-attention layer holds every token in a buffer
 * [B, Hkv, cap, D] (slot = position) that doubles when full (from 256 slots,
 * up to the limit); a sliding layer of window W holds the last W tokens (the
 * W - 1 the next query sees, plus one for a one-token rollback) in a ring
 * [B, Hkv, R, D] of R = min(W, limit) slots, position p in slot p mod W.
 *
 * A forward step of T tokens is
 *     ingot__kv_begin(c, T, op)               room, and the step's device data
 *     ingot__kv_append(&view, c, layer, k, v) per layer: store, and what to attend
 *     ingot__kv_advance(c)                    commit: the length grows by T
 * or ingot__kv_cancel(c) in place of advance when the step fails. Only these
 * functions and trim/load change what the cache holds. The slots the new
 * keys go to and the lengths attention reads are device data (one i64
 * upload per step), so a decode step's kernel launches do not depend on the
 * cache length (docs/cuda.md). The cache is inference-only: its copies are
 * not recorded for autograd. One thread at a time. */

typedef struct ingot__kv ingot__kv;

/* What a cache holds, fixed when it is made. */
typedef struct ingot__kv_geometry {
    int64_t layers; /* >= 0 */
    int64_t batch;  /* sequences, >= 1 */
    int64_t kv_heads, head_dim;
    const int64_t *window; /* [layers]: layer i's sliding window W >= 1, or 0 for
                              full attention (copied by ingot__kv_new) */
    ingot_dtype dtype;     /* of keys and values */
    ingot_device device;   /* where the buffers live */
    int64_t limit;         /* most tokens per sequence, >= 1 */
} ingot__kv_geometry;

/* An empty cache of geometry g (as documented above; not checked). No
 * buffer is allocated before the first step. On success *out is freed with
 * ingot__kv_free; on error it is NULL. Errors: OUT_OF_MEMORY. */
ingot_status ingot__kv_new(ingot__kv **out, const ingot__kv_geometry *g);

/* Frees the cache, its buffers and an open step; NULL is ignored. */
void ingot__kv_free(ingot__kv *c);

/* Tokens held per sequence (the position of the next token). */
int64_t ingot__kv_length(const ingot__kv *c);

/* The geometry's batch. */
int64_t ingot__kv_batch(const ingot__kv *c);

/* Opens a step of T >= 1 new tokens per sequence at positions L .. L + T - 1
 * (L = the length), cancelling a step still open: grows every full layer to
 * hold L + T tokens (contents kept; all full layers have one capacity),
 * allocates the rings, and uploads the step's device data. op names the
 * caller in the LIMIT message. On error no step is open and the held tokens
 * are unchanged. Errors: LIMIT (L + T above the limit), OUT_OF_MEMORY,
 * DEVICE. */
ingot_status ingot__kv_begin(ingot__kv *c, int64_t T, const char *op);

/* The open step's positions L .. L + T - 1: i64 [T] on the cache's device,
 * borrowed until the step ends. */
const ingot_array *ingot__kv_positions(const ingot__kv *c);

/* The slots of every full layer's buffers (after begin: at least L + T), or
 * 0 when no layer has full attention. */
int64_t ingot__kv_capacity(const ingot__kv *c);

/* What attention reads at one layer of a step (ingot__kv_append). */
typedef struct ingot__kv_view {
    /* k, v and len are new references, released with ingot__kv_view_free. */
    ingot_array *k, *v; /* [B, Hkv, Tk, D] */
    ingot_array *len;   /* i64 [1] on the device: only the first len keys are in
                           use (a whole buffer or ring), the step's queries the
                           last T of them; or NULL: all Tk */
    int64_t max_len;    /* with len: its value, known on the host (a bound for
                           sdpa's split of the keys) */
    bool ring;          /* the keys are a sliding layer's ring in slot order (a
                           one-token step): every key in use is in the window,
                           so attention needs no causal or window mask, and a
                           padding mask must be put in ring order
                           (ingot__kv_ring_order). Otherwise the keys are in
                           position order from `first` and attention is causal */
    int64_t first;      /* not ring: key j holds position first + j */
    int64_t window;     /* not ring: a query sees the last `window` keys up to
                           its own (sliding layers; 0: all of them) */
} ingot__kv_view;

/* Releases the view's arrays and zeroes it; NULL is ignored. */
void ingot__kv_view_free(ingot__kv_view *view);

/* Stores layer's new keys and values k, v [B, Hkv, T, D] (any layout, the
 * cache's dtype and device) for the open step and gives *view, what the
 * step's queries attend to. Full layers: k and v are written into the
 * buffers at slots L .. L + T - 1 (device data), and the view is the whole
 * buffers with len = L + T. Sliding layers, T = 1: the window moves on to
 * [L - W + 1, L) and the new key takes the freed ring slot (that of L - W),
 * the view is the ring with len = min(L + 1, W). Sliding layers, T > 1: the
 * view is the held window followed by k and v (first = the oldest held
 * position), whose last min(held + T, W) tokens advance writes into the
 * ring. Once per layer and step. *view is zeroed on error. Errors: SHAPE, DTYPE, DEVICE (k or v not
 * fitting the cache, a failed kernel), OUT_OF_MEMORY. */
ingot_status ingot__kv_append(ingot__kv_view *view, ingot__kv *c, int64_t layer,
                              const ingot_array *k, const ingot_array *v);

/* *out = a's entries along axis (indexed by position, at least L + 1 of
 * them) in the slot order of the ring view that a one-token step at sliding
 * layer `layer` attends ([..., R, ...]; slots not yet filled, which the
 * view's len hides, take position 0's entry). For a padding mask. Needs an
 * open step. Errors: those of ingot_take, OUT_OF_MEMORY. */
ingot_status ingot__kv_ring_order(ingot_array **out, const ingot__kv *c, int64_t layer,
                                  const ingot_array *a, int axis);

/* Commits the open step: writes the sliding layers' new windows into their
 * rings, moves every window on to end at L + T and makes the length L + T.
 * The step ends either way. Errors: DEVICE (a failed write: the length is
 * unchanged but a ring may hold part of its new window). */
ingot_status ingot__kv_advance(ingot__kv *c);

/* Ends the open step without committing it (none open: nothing happens).
 * The held tokens are those before the step, except that a sliding layer a
 * one-token step reached has dropped its oldest token (its slot was
 * overwritten): it still holds what the next query needs. */
void ingot__kv_cancel(ingot__kv *c);

/* Drops everything after the first length tokens (rollback); nothing is
 * freed. Errors: INVALID_ARGUMENT (length < 0 or above the length),
 * UNSUPPORTED when a sliding layer no longer holds the keys a query at
 * position length would see (the cache is then unchanged). */
ingot_status ingot__kv_trim(ingot__kv *c, int64_t length);

/* Writes the cache to a safetensors file at path, atomically: tensors
 * "layers.<i>.k" / ".v" [B, Hkv, n, D] of the tokens layer i holds, in
 * position order, and metadata: the caller's n_meta entries (keys[j] =
 * values[j], borrowed), then "batch" and "length".
 * Errors: IO, LIMIT, OUT_OF_MEMORY. */
ingot_status ingot__kv_save(const ingot__kv *c, const char *path, const char *const *keys,
                            const char *const *values, size_t n_meta);

/* A new cache of geometry g, but for the batch, which is the file's, holding
 * what ingot__kv_save wrote to st (opened from path, named in messages; the
 * caller has checked its own metadata). Every tensor must fit g and the
 * length: a full layer holds every token, a sliding one at most W of them
 * and at least what the next query sees. On error *out is NULL.
 * Errors: FORMAT (missing or bad batch or length, a length above g's limit,
 * a tensor count other than 2 * layers, a tensor that does not fit, named),
 * NOT_FOUND, UNSUPPORTED, OUT_OF_MEMORY, DEVICE. */
ingot_status ingot__kv_load(ingot__kv **out, const ingot__kv_geometry *g,
                            const ingot_safetensors *st, const char *path);

#endif
