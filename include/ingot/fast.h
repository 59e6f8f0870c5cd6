/* ingot/fast.h - fused transformer ops: normalisation, rotary embeddings,
 * attention.
 *
 * Each is one kernel per backend with a matching backward kernel, recorded for
 * autograd like any op (see ops.h for the common conventions). f16 and bf16
 * inputs are computed in f32 and rounded to the input dtype where Hugging
 * Face rounds, so that models match transformers bit for bit; the exact
 * rounding points of each op are listed in docs/fast-ops.md.
 *
 * Attention layout is [batch, heads, tokens, head_dim] throughout. */
#ifndef INGOT_FAST_H
#define INGOT_FAST_H

#include <stdbool.h>
#include <stdint.h>

#include "ingot/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = x / sqrt(mean(x^2 over the last axis) + eps) * weight.
 * x: [..., D] float; weight: [D] or NULL (no scaling); the output has x's
 * dtype. A weight in x's dtype rounds the normalised x to that dtype before
 * the product (Llama, Qwen); an f32 weight multiplies in f32 and rounds once
 * (Gemma: pass 1 + w computed in f32); other float weights are converted to
 * x's dtype. Differentiable in x and weight.
 * Errors: INVALID_ARGUMENT (out or x NULL, eps negative or not finite), DTYPE
 * (non-float x or weight), SHAPE (x a scalar, weight not [D]), DEVICE,
 * OUT_OF_MEMORY. */
ingot_status ingot_rms_norm(ingot_array **out, const ingot_array *x, const ingot_array *weight,
                            float eps);

/* y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis
 * (biased variance). weight and bias: [D] or NULL. Differentiable in all.
 * Errors: as ingot_rms_norm (bias checked like weight). */
ingot_status ingot_layer_norm(ingot_array **out, const ingot_array *x, const ingot_array *weight,
                              const ingot_array *bias, float eps);

/* Zero-initialised (`ingot_rope_options o = {0};`, or opts NULL) means: rotate
 * all of head_dim in halves, base 10000, scale 1, positions 0, 1, ... */
typedef struct ingot_rope_options {
    int dims;           /* rotate the first `dims` features of head_dim (even,
                           <= head_dim); 0 means all of head_dim */
    bool interleaved;   /* true: pairs (x[2i], x[2i+1]) (GPT-J, MLX "traditional");
                           false: halves (x[i], x[i + dims/2]) (Llama, Qwen, Gemma) */
    float base;         /* theta; frequencies are base^(-2i/dims); 0 means 10000;
                           otherwise finite and > 0 */
    float scale;        /* positions are multiplied by scale; 0 means 1; finite */
    int64_t offset;     /* position of token 0 when positions is NULL */
    const ingot_array *freqs;     /* optional [dims/2] f32 inverse frequencies
                                     replacing base (llama3 or yarn scaling) */
    const ingot_array *positions; /* optional integer positions, [T], [1, T] or
                                     [B, T], replacing offset + t (batched
                                     prompts); offset is then ignored */
    /* freqs and positions are borrowed for the call and must be on x's device. */
} ingot_rope_options;

/* Rotary position embedding of x: [B, H, T, head_dim] float (rank 4). With
 * angle a = scale * pos * freq_i computed in f32, the pair (x1, x2) becomes
 * (x1 cos a - x2 sin a, x1 sin a + x2 cos a); features past dims pass through.
 * For f16/bf16 x, cos and sin are rounded to x's dtype and each product is
 * rounded, as transformers does. opts may be NULL (all defaults).
 * Differentiable in x.
 * Errors: INVALID_ARGUMENT (out or x NULL, dims odd or outside [0, head_dim],
 * a bad base or scale), DTYPE (non-float x, freqs not f32, non-integer
 * positions), SHAPE (x not rank 4, freqs not [dims/2], positions of another
 * shape), DEVICE, OUT_OF_MEMORY. */
ingot_status ingot_rope(ingot_array **out, const ingot_array *x, const ingot_rope_options *opts);

/* Zero-initialised (`ingot_sdpa_options o = {0};`, or opts NULL) means scale
 * 1/sqrt(head_dim), not causal, no window, no mask: every query sees every
 * key. */
typedef struct ingot_sdpa_options {
    float scale;   /* multiplies q.k; 0 means 1/sqrt(head_dim); finite */
    bool causal;   /* query i (at absolute position Tk - Tq + i) sees keys
                      j <= its position */
    int64_t window; /* > 0: a query at position p sees keys j with p - j < window
                       (sliding window; implies nothing about causal); 0: no
                       window; negative is INVALID_ARGUMENT */
    const ingot_array *mask; /* optional additive float mask broadcastable to
                                [B, Hq, Tq, Tk] (-inf hides a key); bool masks:
                                true = visible */
    const ingot_array *kv_len; /* optional integer [] or [B] on q's device: row
                                  b's keys are only the first kv_len[b] (values
                                  clamped to [0, Tk]), and its query i sits at
                                  position kv_len[b] - Tq + i (for causal and
                                  window). Lets k and v be a whole KV-cache
                                  buffer whose filled length is device data,
                                  read by the kernel: no host round trip, the
                                  same launch at every decode step. */
    int64_t max_kv_len; /* with kv_len: a bound of its values known on the host
                           (like flash-attention's max_seqlen_k), which only
                           sizes the GPU's split of the keys over blocks;
                           results never depend on it. 0 means Tk; negative is
                           INVALID_ARGUMENT */
} ingot_sdpa_options;

/* softmax(scale * q k^T + masks) v with grouped-query heads; q, k and v are
 * promoted to one float dtype, which the output has; scale must be finite;
 * scores and probabilities stay in f32:
 * q: [B, Hq, Tq, D], k: [B, Hkv, Tk, D], v: [B, Hkv, Tk, Dv] -> [B, Hq, Tq, Dv].
 * Hq must be a multiple of Hkv; query head h reads kv head h / (Hq / Hkv),
 * without copying K or V. A query that sees no key gives zeros.
 * opts may be NULL. Differentiable in q, k and v (not in mask or kv_len;
 * keys past kv_len get zero gradients).
 * Errors: INVALID_ARGUMENT (out, q, k or v NULL, a negative window or
 * max_kv_len, a non-finite scale), DTYPE (non-float q, k, v; a mask neither
 * bool nor float; a non-integer kv_len), SHAPE (ranks other than 4,
 * mismatched B, D, Tk or heads, a mask that does not broadcast, kv_len
 * neither [] nor [1] nor [B]), DEVICE (an operand, mask or kv_len on another device),
 * OUT_OF_MEMORY. */
ingot_status ingot_sdpa(ingot_array **out, const ingot_array *q, const ingot_array *k,
                        const ingot_array *v, const ingot_sdpa_options *opts);

#ifdef __cplusplus
}
#endif
#endif
