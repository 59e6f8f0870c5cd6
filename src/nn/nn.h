/* src/nn: the layers that models and training share. Floor: above src/ops
 * (it includes core, backend and ops, and the public headers of those
 * floors), below src/text and src/models. Not installed.
 *
 *   linear.c     y = x W^T + b, the one place where a model multiplies by a
 *                weight (a quantized weight or a LoRA pair wraps it here)
 *   embedding.c  rows of a table by token id, optionally scaled */
#ifndef INGOT_NN_H
#define INGOT_NN_H

#include "ingot/array.h"
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

#endif
