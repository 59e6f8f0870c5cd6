/* Library-internal op entry points that the floors above use besides the
 * public ops (ingot/ops.h, ingot/fast.h): unrecorded copies and filled
 * arrays on a given device. Not installed. */
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

#endif
