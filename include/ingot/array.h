/* ingot/array.h - n-dimensional arrays: dtypes, creation, views, host copies.
 *
 * An ingot_array is an immutable, reference-counted handle to a strided view
 * of a reference-counted buffer. Ops never modify their inputs; they return new
 * arrays through their first (output) arguments. Views (reshape of contiguous
 * data, transpose, slice, broadcast, expand/squeeze) share the input's buffer
 * and copy nothing.
 *
 * Ownership: every function that returns an array through `ingot_array **out`
 * gives the caller one reference, released with ingot_array_free. On error
 * *out is set to NULL and nothing is leaked. Input arrays are borrowed.
 *
 * Axes: wherever an axis is taken, negative values count from the end
 * (-1 is the last axis), as in NumPy.
 *
 * Thread rule: an array may be read by many threads at once; the reference
 * count is atomic. */
#ifndef INGOT_ARRAY_H
#define INGOT_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingot/device.h"
#include "ingot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INGOT_MAX_DIMS 8

/* Element types. The order is the promotion order within each kind. */
typedef enum ingot_dtype {
    INGOT_BOOL = 0,
    INGOT_U8 = 1,
    INGOT_I8 = 2,
    INGOT_I32 = 3,
    INGOT_U32 = 4,
    INGOT_I64 = 5,
    INGOT_F16 = 6,
    INGOT_BF16 = 7,
    INGOT_F32 = 8,
    INGOT_DTYPE_COUNT = 9
} ingot_dtype;

/* Bytes per element (bool is one byte holding 0 or 1); 0 for invalid values. */
size_t ingot_dtype_size(ingot_dtype dtype);

/* Lower-case name: "bool", "u8", "i8", "i32", "u32", "i64", "f16", "bf16",
 * "f32"; "invalid" otherwise. Static; never NULL. */
const char *ingot_dtype_name(ingot_dtype dtype);

bool ingot_dtype_is_float(ingot_dtype dtype);   /* f16, bf16, f32 */
bool ingot_dtype_is_integer(ingot_dtype dtype); /* u8, i8, i32, u32, i64 (not bool) */

/* Type promotion for binary ops and where:
 *  - equal dtypes promote to themselves;
 *  - bool with anything gives the other dtype;
 *  - two integers give the smallest integer dtype that holds both ranges:
 *    u8+i8 -> i32 (there is no i16), u32+i8/i32 -> i64, anything+i64 -> i64;
 *  - integer or bool with a float gives the float;
 *  - f16 with bf16 gives f32; f16 or bf16 with f32 gives f32. */
ingot_dtype ingot_promote_types(ingot_dtype a, ingot_dtype b);

typedef struct ingot_array ingot_array;

/* ---- creation (all results are contiguous, row-major, on the CPU, except
 * ingot_zeros_like; ingot_array_to_device moves them) ---- */

/* Copies ndim dims of host data (row-major, dtype elements) into a new array.
 * ndim 0 makes a scalar; dims of size 0 are allowed (data may then be NULL).
 * Errors: INVALID_ARGUMENT (out NULL, data NULL with nonzero size, ndim out of
 * [0, INGOT_MAX_DIMS], a negative dim), DTYPE, LIMIT (size overflows),
 * OUT_OF_MEMORY. */
ingot_status ingot_array_from_data(ingot_array **out, const void *data, ingot_dtype dtype,
                                   const int64_t *shape, int ndim);

/* Callback that releases memory wrapped by ingot_array_wrap. */
typedef void (*ingot_release_fn)(void *ctx);

/* Wraps caller-owned row-major host memory without copying. The memory must
 * stay valid and unmodified until release(ctx) is called, which happens once,
 * when the last array sharing it is freed (release may be NULL). data must be
 * aligned to the dtype's size. On error release is not called.
 * Errors: as ingot_array_from_data, and INVALID_ARGUMENT for misalignment. */
ingot_status ingot_array_wrap(ingot_array **out, void *data, ingot_dtype dtype,
                              const int64_t *shape, int ndim, ingot_release_fn release,
                              void *ctx);

/* Arrays filled with 0, 1 or value (converted to dtype as by ingot_astype).
 * shape may be NULL when ndim is 0. Errors: as ingot_array_from_data
 * (INVALID_ARGUMENT for out NULL or a bad shape, DTYPE, LIMIT,
 * OUT_OF_MEMORY). */
ingot_status ingot_zeros(ingot_array **out, ingot_dtype dtype, const int64_t *shape, int ndim);
ingot_status ingot_ones(ingot_array **out, ingot_dtype dtype, const int64_t *shape, int ndim);
ingot_status ingot_full(ingot_array **out, ingot_dtype dtype, const int64_t *shape, int ndim,
                        double value);

/* A 0-d array holding value. Errors: as ingot_full. */
ingot_status ingot_scalar(ingot_array **out, ingot_dtype dtype, double value);

/* Zeros with the dtype and shape of a, contiguous, on a's device. Errors:
 * INVALID_ARGUMENT for NULLs, DEVICE, OUT_OF_MEMORY. */
ingot_status ingot_zeros_like(ingot_array **out, const ingot_array *a);

/* The 1-D array start, start+step, ... up to (excluding) stop, of
 * ceil((stop-start)/step) elements (0 if negative). Element i is computed as
 * start + i*step in double precision, then converted to dtype.
 * Errors: INVALID_ARGUMENT for step 0 or non-finite bounds, LIMIT for more than
 * 2^40 elements. */
ingot_status ingot_arange(ingot_array **out, ingot_dtype dtype, double start, double stop,
                          double step);

/* ---- references ---- */

/* Adds a reference to a and returns a; NULL gives NULL. */
ingot_array *ingot_array_retain(ingot_array *a);

/* Drops one reference; the last one frees the array, and the buffer once no
 * view uses it. NULL is ignored. */
void ingot_array_free(ingot_array *a);

/* ---- properties (a must not be NULL) ---- */

ingot_dtype ingot_array_dtype(const ingot_array *a);
int ingot_array_ndim(const ingot_array *a);
/* The dims, ndim of them (a valid pointer even for ndim 0), alive as long as a. */
const int64_t *ingot_array_shape(const ingot_array *a);
/* Dim `axis` (negative counts from the end); -1 if axis is out of range. */
int64_t ingot_array_dim(const ingot_array *a, int axis);
/* Element strides (not bytes), ndim of them; 0 for broadcast dims. */
const int64_t *ingot_array_strides(const ingot_array *a);
/* The number of elements (1 for a scalar, 0 if any dim is 0). */
int64_t ingot_array_size(const ingot_array *a);
/* ingot_array_size * ingot_dtype_size. */
size_t ingot_array_nbytes(const ingot_array *a);
/* True when the elements are laid out row-major with no gaps. */
bool ingot_array_is_contiguous(const ingot_array *a);
ingot_device ingot_array_device(const ingot_array *a);

/* ---- host copies ---- */

/* Copies a's elements, row-major, converted to dtype (as ingot_astype does),
 * into dst, which must hold at least size * ingot_dtype_size(dtype) bytes
 * (dst may be NULL when a has no elements). Works for any layout (views are
 * gathered) and any device (a GPU array is copied back once its pending
 * work has finished). Errors: INVALID_ARGUMENT (a NULL, dst NULL with elements to
 * copy, dst_bytes too small), DTYPE (an invalid dtype). */
ingot_status ingot_array_to_host(void *dst, size_t dst_bytes, ingot_dtype dtype,
                                 const ingot_array *a);

/* A copy of a on device: contiguous, same dtype and shape; or a new
 * reference to a itself when it is already there. This is how arrays move
 * between the CPU and a GPU (creation functions make CPU arrays; ops run on
 * the device of their inputs, which must all be on one device). Not
 * recorded for autograd: move primals before differentiating.
 * Errors: INVALID_ARGUMENT (out or a NULL), DEVICE (no such device),
 * OUT_OF_MEMORY. */
ingot_status ingot_array_to_device(ingot_array **out, const ingot_array *a, ingot_device device);

/* The single element of a size-1 array as a double.
 * Errors: INVALID_ARGUMENT if out or a is NULL, SHAPE if a's size is not 1. */
ingot_status ingot_array_item(double *out, const ingot_array *a);

/* ---- views and layout (differentiable) ---- */

/* A row-major copy of a, or a new reference to a when already contiguous. */
ingot_status ingot_contiguous(ingot_array **out, const ingot_array *a);

/* Same elements with a new shape of equal size. One dim may be -1 and is then
 * inferred. A view when a's strides allow it, a copy otherwise.
 * Errors: SHAPE (sizes differ, several -1, -1 with an ambiguous size). */
ingot_status ingot_reshape(ingot_array **out, const ingot_array *a, const int64_t *shape, int ndim);

/* Collapses all dims into one. */
ingot_status ingot_flatten(ingot_array **out, const ingot_array *a);

/* Permutes the axes: out.shape[i] = a.shape[axes[i]]. axes NULL reverses them
 * (naxes is then ignored). A view. Errors: INVALID_ARGUMENT unless axes is a
 * permutation of the ndim axes. */
ingot_status ingot_transpose(ingot_array **out, const ingot_array *a, const int *axes, int naxes);

/* Exchanges two axes. A view. */
ingot_status ingot_swapaxes(ingot_array **out, const ingot_array *a, int axis1, int axis2);

/* Basic slicing a[start[i]:stop[i]:step[i]] along every axis, with NumPy's
 * rules: negative start/stop count from the end, out-of-range bounds clamp,
 * step may be negative but not 0. Each array has ndim entries. For an open
 * end pass INT64_MAX (or INT64_MIN), which clamps: a[::-1] is start
 * INT64_MAX, stop INT64_MIN, step -1. A view.
 * Errors: INVALID_ARGUMENT for NULL arrays or a 0 step. */
ingot_status ingot_slice(ingot_array **out, const ingot_array *a, const int64_t *start,
                         const int64_t *stop, const int64_t *step);

/* Slicing along one axis: a[..., start:stop, ...] with step 1 (NumPy rules). */
ingot_status ingot_slice_axis(ingot_array **out, const ingot_array *a, int axis, int64_t start,
                              int64_t stop);

/* Broadcasts a to shape with NumPy's rules (dims align at the right; a's dims
 * must be 1 or equal). A view with 0 strides. Errors: SHAPE. */
ingot_status ingot_broadcast_to(ingot_array **out, const ingot_array *a, const int64_t *shape,
                                int ndim);

/* Inserts a size-1 dim at axis (in [-(ndim+1), ndim]). A view. */
ingot_status ingot_expand_dims(ingot_array **out, const ingot_array *a, int axis);

/* Removes size-1 dims: the listed axes, or every size-1 dim when axes is NULL.
 * A view. Errors: SHAPE if a listed dim is not 1. */
ingot_status ingot_squeeze(ingot_array **out, const ingot_array *a, const int *axes, int naxes);

/* The NumPy broadcast of two shapes into out_shape (INGOT_MAX_DIMS entries)
 * and *out_ndim. Errors: SHAPE when they do not broadcast. */
ingot_status ingot_broadcast_shapes(int64_t *out_shape, int *out_ndim, const int64_t *a, int a_ndim,
                                    const int64_t *b, int b_ndim);

#ifdef __cplusplus
}
#endif
#endif
