/* ingot/autograd.h - reverse-mode automatic differentiation.
 *
 * ingot_vjp and ingot_value_and_grad call a C function on the primals while a
 * per-thread tape records every differentiable op that depends on them, then
 * walk the tape backwards to form gradients. Ops on arrays that do not depend
 * on the primals are not recorded. Recording happens only during these calls;
 * at other times ops cost nothing extra. One tape per thread: calling either
 * function from inside the callback is an AUTOGRAD error. Gradients are not
 * themselves recorded (no higher-order derivatives yet). */
#ifndef INGOT_AUTOGRAD_H
#define INGOT_AUTOGRAD_H

#include <stddef.h>

#include "ingot/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The function to differentiate: computes n_outputs arrays from n_inputs
 * arrays and stores them (each with one reference the caller of ingot_vjp will
 * own) into outputs. inputs are views of the primals (same values, not the
 * same pointers), borrowed for the call. It must use only ingot ops on inputs
 * for gradients to flow (work done outside the tape, such as ingot_model_forward's
 * KV cache writes, carries no gradient). Returning a non-OK status aborts the
 * differentiation with that status. */
typedef ingot_status (*ingot_fn)(ingot_array **outputs, size_t n_outputs,
                                 ingot_array *const *inputs, size_t n_inputs, void *user);

/* Vector-Jacobian product. Calls fn(outputs, n_outputs, primals, n_primals,
 * user), then computes grads[i] = sum_j cotangents[j] . d outputs[j] / d
 * primals[i]. cotangents[j] must have the shape of outputs[j] (a dtype
 * mismatch is converted). grads[i] has primals[i]'s shape and dtype; it is
 * zeros when outputs do not depend on primals[i], and for non-float primals.
 * outputs (n_outputs entries) may be NULL when the values are not wanted;
 * grads is a caller array of n_primals entries, each receiving one reference.
 * primals and cotangents are borrowed.
 * Errors: INVALID_ARGUMENT (grads, fn or cotangents NULL, primals NULL with
 * n_primals > 0, a NULL primal or cotangent, n_outputs outside [1, 1024],
 * n_primals over 1024), SHAPE (cotangent shapes), AUTOGRAD (nested call, fn
 * left an output NULL), OUT_OF_MEMORY, anything fn or an op returns. On error
 * every output and grad is NULL (when grads is not NULL). */
ingot_status ingot_vjp(ingot_array **outputs, ingot_array **grads, ingot_fn fn, void *user,
                       ingot_array *const *primals, size_t n_primals,
                       ingot_array *const *cotangents, size_t n_outputs);

/* Value and gradient of a function with one output of size 1 (a loss; fn is
 * called with n_outputs 1): *value receives that output, grads[i] d value /
 * d primals[i]. value may be NULL. Errors: as ingot_vjp, and SHAPE if the
 * output's size is not 1. */
ingot_status ingot_value_and_grad(ingot_array **value, ingot_array **grads, ingot_fn fn,
                                  void *user, ingot_array *const *primals, size_t n_primals);

#ifdef __cplusplus
}
#endif
#endif
