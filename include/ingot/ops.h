/* ingot/ops.h - array operations.
 *
 * Conventions for every function here:
 *  - the result comes back through the first argument(s) with one reference
 *    for the caller (see array.h); on error they are NULL;
 *  - inputs are borrowed and never modified;
 *  - binary ops and where broadcast their inputs with NumPy's rules;
 *  - inputs of different dtypes are first converted to
 *    ingot_promote_types(a, b) (see array.h); the result has that dtype except
 *    where stated (comparisons give bool, div gives a float);
 *  - float math on f16/bf16 is computed in f32 and rounded once to the output
 *    dtype (round to nearest even); integer math wraps on overflow;
 *  - axes may be negative; duplicate axes are an INVALID_ARGUMENT error;
 *  - an axes array `axes` of `naxes` entries selects reduction axes; axes NULL
 *    means every axis (naxes ignored); naxes 0 with non-NULL axes reduces none;
 *  - index outputs (argmax, argsort, topk, ...) are INGOT_I64; index inputs may
 *    be any integer dtype, negative indices count from the end, and indices
 *    out of range are an INDEX error; indices are checked on the host, so
 *    they may be CPU arrays even when the data is on a GPU (they are then
 *    uploaded without waiting), while indices on a GPU are copied back to be
 *    checked (the op then waits for the GPU);
 *  - every input of an op is on one device (except index inputs, above), and
 *    the output is on that device; otherwise DEVICE;
 *  - every op is recorded for autograd (autograd.h) when a tape is active,
 *    except those marked "not differentiable", whose outputs carry no gradient.
 *
 * Common errors: INVALID_ARGUMENT (NULL pointers, bad axes), SHAPE, DTYPE,
 * OUT_OF_MEMORY, INDEX, DEVICE. */
#ifndef INGOT_OPS_H
#define INGOT_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "ingot/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- unary elementwise (float or integer input; float ops on integers
 *      first convert to f32) ---- */

ingot_status ingot_neg(ingot_array **out, const ingot_array *a);
ingot_status ingot_abs(ingot_array **out, const ingot_array *a);
ingot_status ingot_square(ingot_array **out, const ingot_array *a);
/* The following give a float result (f32 for integer or bool inputs). */
ingot_status ingot_exp(ingot_array **out, const ingot_array *a);
ingot_status ingot_log(ingot_array **out, const ingot_array *a);
ingot_status ingot_sqrt(ingot_array **out, const ingot_array *a);
ingot_status ingot_rsqrt(ingot_array **out, const ingot_array *a);
ingot_status ingot_reciprocal(ingot_array **out, const ingot_array *a);
ingot_status ingot_tanh(ingot_array **out, const ingot_array *a);
ingot_status ingot_sigmoid(ingot_array **out, const ingot_array *a);
/* x * sigmoid(x) */
ingot_status ingot_silu(ingot_array **out, const ingot_array *a);
/* exact GELU: x/2 * (1 + erf(x/sqrt(2))) */
ingot_status ingot_gelu(ingot_array **out, const ingot_array *a);
/* tanh approximation: x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) */
ingot_status ingot_gelu_tanh(ingot_array **out, const ingot_array *a);
ingot_status ingot_sin(ingot_array **out, const ingot_array *a);
ingot_status ingot_cos(ingot_array **out, const ingot_array *a);

/* ---- binary elementwise ---- */

/* Two bools stay bool (the promotion rule): add and maximum are OR, mul and
 * minimum AND, sub XOR; neg, abs and square leave bools unchanged. */
ingot_status ingot_add(ingot_array **out, const ingot_array *a, const ingot_array *b);
ingot_status ingot_sub(ingot_array **out, const ingot_array *a, const ingot_array *b);
ingot_status ingot_mul(ingot_array **out, const ingot_array *a, const ingot_array *b);
/* True division: integer and bool inputs are converted to f32 first. */
ingot_status ingot_div(ingot_array **out, const ingot_array *a, const ingot_array *b);
/* a ** b; integer inputs are converted to f32 first. */
ingot_status ingot_pow(ingot_array **out, const ingot_array *a, const ingot_array *b);
/* Elementwise maximum/minimum; NaN wins (propagates). Gradient goes to a on
 * ties. */
ingot_status ingot_maximum(ingot_array **out, const ingot_array *a, const ingot_array *b);
ingot_status ingot_minimum(ingot_array **out, const ingot_array *a, const ingot_array *b);

/* Comparisons give bool; not differentiable. NaN compares unequal to all. */
ingot_status ingot_equal(ingot_array **out, const ingot_array *a, const ingot_array *b);
ingot_status ingot_not_equal(ingot_array **out, const ingot_array *a, const ingot_array *b);
ingot_status ingot_less(ingot_array **out, const ingot_array *a, const ingot_array *b);
ingot_status ingot_less_equal(ingot_array **out, const ingot_array *a, const ingot_array *b);
ingot_status ingot_greater(ingot_array **out, const ingot_array *a, const ingot_array *b);
ingot_status ingot_greater_equal(ingot_array **out, const ingot_array *a, const ingot_array *b);

/* cond ? a : b elementwise, all three broadcast together; cond may be any
 * dtype (nonzero is true); the result has ingot_promote_types(a, b).
 * Differentiable in a and b. */
ingot_status ingot_where(ingot_array **out, const ingot_array *cond, const ingot_array *a,
                         const ingot_array *b);

/* Converts to dtype. Float to integer truncates toward zero and saturates at
 * the integer's range (NaN gives 0); integer to integer keeps the low bits
 * (wraps, as C and NumPy do); anything to bool gives value != 0; floats to
 * f16/bf16 round to nearest even. A new reference to a when the dtype is
 * already dtype. Differentiable between float dtypes. */
ingot_status ingot_astype(ingot_array **out, const ingot_array *a, ingot_dtype dtype);

/* The value of a, recorded as a constant: no gradient flows through. */
ingot_status ingot_stop_gradient(ingot_array **out, const ingot_array *a);

/* ---- reductions ---- */

/* Sum and mean keep the dtype of a for floats; integer sums accumulate in i64
 * and give i64 (bool gives i64); mean of integers gives f32. Float sums
 * accumulate in f32 (in f64 for f32 inputs) in a fixed order. Reducing zero
 * elements gives 0 (mean gives NaN). */
ingot_status ingot_sum(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                       bool keepdims);
ingot_status ingot_mean(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                        bool keepdims);
/* Max/min keep a's dtype; NaN propagates; reducing an empty axis into a
 * non-empty result is a SHAPE error (an empty result is fine, as in NumPy).
 * The gradient is split evenly among tied maxima. */
ingot_status ingot_max(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                       bool keepdims);
ingot_status ingot_min(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                       bool keepdims);
/* log(sum(exp(a))) computed stably; float result. -inf for zero elements. */
ingot_status ingot_logsumexp(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                             bool keepdims);
/* Variance sum((a - mean)^2) / (N - ddof); float result; NaN when N - ddof <= 0
 * (and then the gradient is not finite either). */
ingot_status ingot_var(ingot_array **out, const ingot_array *a, const int *axes, int naxes,
                       bool keepdims, int ddof);
/* Index (i64) of the first maximum/minimum along one axis. NaN counts as the
 * maximum: argmax returns the first NaN, argmin skips NaNs unless the whole
 * row is NaN. Not differentiable. SHAPE error for an empty axis. */
ingot_status ingot_argmax(ingot_array **out, const ingot_array *a, int axis, bool keepdims);
ingot_status ingot_argmin(ingot_array **out, const ingot_array *a, int axis, bool keepdims);

/* exp(a - logsumexp(a)) along one axis; float result, computed in f32. */
ingot_status ingot_softmax(ingot_array **out, const ingot_array *a, int axis);
/* log(softmax(a)) computed stably. */
ingot_status ingot_log_softmax(ingot_array **out, const ingot_array *a, int axis);

/* Running sum along axis; reverse sums from the end; exclusive leaves out the
 * element itself (the first output is 0). Same dtype rules as ingot_sum. */
ingot_status ingot_cumsum(ingot_array **out, const ingot_array *a, int axis, bool reverse,
                          bool exclusive);

/* ---- linear algebra ---- */

/* Matrix product with NumPy's matmul rules: the last two dims multiply
 * ([..., M, K] x [..., K, N] -> [..., M, N]), leading dims broadcast, a 1-D
 * operand is a row (left) or column (right) vector whose dim is then dropped.
 * f32 goes through OpenBLAS; f16 and bf16 accumulate in f32 and round once;
 * mixed float dtypes promote. Integer inputs are a DTYPE error. */
ingot_status ingot_matmul(ingot_array **out, const ingot_array *a, const ingot_array *b);

/* ---- joining and indexing ---- */

/* Joins n arrays along an existing axis; all other dims must match; dtypes
 * promote. Errors: INVALID_ARGUMENT for n < 1. */
ingot_status ingot_concat(ingot_array **out, const ingot_array *const *arrays, int n, int axis);
/* Joins n arrays of one shape along a new axis (in [-(ndim+1), ndim]). */
ingot_status ingot_stack(ingot_array **out, const ingot_array *const *arrays, int n, int axis);

/* Selects entries of a along axis with integer indices of any shape:
 * out.shape = a.shape[:axis] + indices.shape + a.shape[axis+1:] (NumPy take).
 * Differentiable in a (gradients of repeated indices add up). */
ingot_status ingot_take(ingot_array **out, const ingot_array *a, const ingot_array *indices,
                        int axis);
/* out[..., i, ...] = a[..., indices[..., i, ...], ...] along axis (NumPy
 * take_along_axis): indices has a's ndim and broadcasts with a on the other
 * axes. Differentiable in a. */
ingot_status ingot_take_along_axis(ingot_array **out, const ingot_array *a,
                                   const ingot_array *indices, int axis);
/* A copy of a with values written at indices along axis (NumPy
 * put_along_axis); values broadcast to the indices' shape and are converted to
 * a's dtype. With repeated indices the last write (in row-major order of
 * indices) wins. Differentiable in a (zero at overwritten places) and values. */
ingot_status ingot_put_along_axis(ingot_array **out, const ingot_array *a,
                                  const ingot_array *indices, const ingot_array *values, int axis);

/* ---- sorting and selection (along one axis) ---- */

/* Ascending stable sort; NaN sorts last. Differentiable (gradient scatters
 * back to the source positions). */
ingot_status ingot_sort(ingot_array **out, const ingot_array *a, int axis);
/* Indices (i64) that sort a stably ascending. Not differentiable. */
ingot_status ingot_argsort(ingot_array **out, const ingot_array *a, int axis);
/* The k largest entries along axis in descending order, ties broken by lower
 * index first, and their indices (i64); either output may be NULL when not
 * wanted, but not both. k outside [0, dim] is an INVALID_ARGUMENT error.
 * O(n + k log k) per row for small k. Values are differentiable. */
ingot_status ingot_topk(ingot_array **values, ingot_array **indices, const ingot_array *a, int k,
                        int axis);
/* Indices (i64) of a partition around the kth entry: index kth holds the
 * position of the element that would be there after an ascending stable sort,
 * earlier ones are positions of elements <= it, later ones of elements >= it.
 * kth outside [0, dim) is an INVALID_ARGUMENT error. O(n) on average per row,
 * O(n log n) at worst. Not differentiable. */
ingot_status ingot_argpartition(ingot_array **out, const ingot_array *a, int kth, int axis);

#ifdef __cplusplus
}
#endif
#endif
