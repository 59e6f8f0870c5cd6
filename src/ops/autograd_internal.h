/* Library-internal autograd hook used by every op implementation.
 *
 * An op that may be differentiated calls ingot__record after computing its
 * output. When a tape is active on this thread and any input is tracked by it,
 * a node is appended that keeps references to the inputs and the output, and
 * the output becomes tracked; otherwise nothing happens and *node is NULL.
 *
 *     ingot__node *node;
 *     st = ingot__record(&node, out, inputs, 2, add_backward, "add");
 *     if (st != INGOT_OK) { ingot_array_free(out); return st; }
 *     if (node) node->i[0] = axis;     // parameters the backward needs
 */
#ifndef INGOT_CORE_AUTOGRAD_INTERNAL_H
#define INGOT_CORE_AUTOGRAD_INTERNAL_H

#include "core/internal.h"

#define INGOT__NODE_MAX_INPUTS 8
#define INGOT__NODE_MAX_SAVED 4

typedef struct ingot__node ingot__node;

/* Computes grads[i] (shape and dtype of node->inputs[i]) from the cotangent of
 * node->output; leaves grads[i] NULL for inputs that receive nothing (non-float
 * or constant inputs). grads arrive zeroed to NULL; whatever the function
 * leaves in them is freed by the caller when it returns an error, so it may
 * allocate gradients in place. Recording is off while it runs, so it may use
 * any ingot op. */
typedef ingot_status (*ingot__backward_fn)(ingot_array **grads, const ingot_array *cotangent,
                                           const ingot__node *node);

struct ingot__node {
    const char *name;
    ingot__backward_fn backward;
    int n_inputs;
    ingot_array *inputs[INGOT__NODE_MAX_INPUTS]; /* retained; may hold NULL */
    ingot_array *output;                         /* retained */
    ingot_array *saved[INGOT__NODE_MAX_SAVED];   /* retained by the tape when set */
    int64_t i[INGOT_MAX_DIMS * 2];               /* integer parameters */
    double f[4];                                 /* float parameters */
};

/* True when a tape is active on this thread and one of inputs is tracked. */
bool ingot__grad_needed(const ingot_array *const *inputs, int n);

/* Records out = op(inputs) as described above. inputs may contain NULLs
 * (absent optional inputs). Errors: OUT_OF_MEMORY, INVALID_ARGUMENT for more
 * than INGOT__NODE_MAX_INPUTS inputs. */
ingot_status ingot__record(ingot__node **node, ingot_array *out, const ingot_array *const *inputs,
                           int n, ingot__backward_fn backward, const char *name);

/* Sums g over the dims that broadcasting added or stretched so the result has
 * `shape` (used by backward functions of broadcasting ops). A new reference to
 * g when the shapes already match. */
ingot_status ingot__sum_to_shape(ingot_array **out, const ingot_array *g, const int64_t *shape,
                                 int ndim);

/* grads[i] = g summed down to the shape of input (node->inputs[i]), then
 * converted to input's dtype; the common tail of backward functions. The sum
 * runs in the wider of g's and input's dtypes, so a f32 cotangent of a bf16
 * or f16 input is summed in f32 before rounding. Takes over (frees) g. */
ingot_status ingot__grad_for_input(ingot_array **grad, ingot_array *g, const ingot_array *input);

#endif
