/* Library-internal op entry points that the floors above use besides the
 * public ops (ingot/ops.h, ingot/fast.h): unrecorded copies and filled
 * arrays on a given device, and in-place copies into arrays their caller
 * owns (nn: the KV cache). Like every front end they validate (errors name
 * the op), then call kernels; they record nothing for autograd. Not
 * installed. */
#ifndef INGOT_OPS_INTERNAL_H
#define INGOT_OPS_INTERNAL_H

#include "core/internal.h"

/* An array of value (converted to dtype) on device, as ingot_full. */
ingot_status ingot__full_on(ingot_array **out, ingot_dtype dtype, const int64_t *shape, int ndim,
                            double value, ingot_device device, const char *op);

/* a converted to dtype, not recorded for autograd: a new contiguous array
 * (from ingot__array_new) holding a's elements, copied by the kernel of a's
 * device. With `share` and a already of dtype, *out is instead a new
 * reference to a itself (which may be strided): use that for kernel inputs,
 * never for an array that will be written to. *out is NULL on error.
 * Errors: DEVICE (no backend for a's device), OUT_OF_MEMORY; `op` names the
 * caller in messages. */
ingot_status ingot__copy_as(ingot_array **out, const ingot_array *a, ingot_dtype dtype, bool share,
                            const char *op);

/* dst = src, element for element, in place. dst and src have one shape and
 * one dtype and live on one device; any strides (dst must not overlap
 * itself or src). Errors: INVALID_ARGUMENT (NULLs), SHAPE, DTYPE, DEVICE
 * (different devices, no backend, a failed kernel). */
ingot_status ingot__copy_into(ingot_array *dst, const ingot_array *src);

/* dst[..., s + t, ...] = src[..., t, ...] along axis for t < n (src's dim at
 * axis), in place, where s = start[0] is read on the device by the kernel
 * (not a launch argument: a decode step's launch does not depend on where it
 * writes) and clamped to [0, dst's dim - n]. dst and src have one dtype and
 * ndim, the same dims but at axis (src's <= dst's), any strides without
 * overlap; start is i64 with at least one element; all three on one device.
 * axis may be negative. Errors: INVALID_ARGUMENT (NULLs, axis out of range),
 * SHAPE, DTYPE, DEVICE (as ingot__copy_into). */
ingot_status ingot__copy_at(ingot_array *dst, const ingot_array *src, int axis,
                            const ingot_array *start);

#endif
