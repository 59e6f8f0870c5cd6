/* Library-internal op front ends for the floors above (nn: the KV cache):
 * in-place copies into arrays their caller owns. Like every front end they
 * validate (errors name the op: "copy_at: ..."), then call one kernel; unlike
 * the public ops they write into an existing array and record nothing for
 * autograd (autograd.h: the cache is inference-only). Not installed. */
#ifndef INGOT_OPS_INTERNAL_H
#define INGOT_OPS_INTERNAL_H

#include "ingot/array.h"
#include "ingot/status.h"

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
