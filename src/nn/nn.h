/* src/nn: the layers that models and training share. Floor: above src/ops
 * (it includes core, backend and ops, and the public headers of those
 * floors), below src/text and src/models. Not installed.
 *
 *   linear.c   y = x W^T + b, the one place where a model multiplies by a
 *              weight (a quantized weight or a LoRA pair wraps it here) */
#ifndef INGOT_NN_H
#define INGOT_NN_H

#include "ingot/array.h"
#include "ingot/status.h"

/* A linear layer: weight [out, in] as Hugging Face stores it, bias [out] or
 * NULL. Borrowed arrays: the owner (a model's weights) outlives the layer. */
typedef struct ingot__linear {
    const ingot_array *weight;
    const ingot_array *bias;
} ingot__linear;

/* *out = x W^T (+ b): x [..., in] -> [..., out], in the dtypes ingot_matmul
 * and ingot_add promote to, recorded for autograd like the ops it calls.
 * Errors: those of ingot_matmul and ingot_add (SHAPE when in does not match). */
ingot_status ingot__linear_forward(ingot_array **out, const ingot__linear *l, const ingot_array *x);

#endif
