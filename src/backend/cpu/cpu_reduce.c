/* Placeholder: replaced by the real kernels. */
#include "backend/cpu/cpu.h"

ingot_status ingot__cpu_reduce(ingot__reduce_op op, ingot_array *out, const ingot_array *a, const bool reduce[INGOT_MAX_DIMS]) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_reduce: not implemented yet");
}

ingot_status ingot__cpu_softmax(ingot_array *out, const ingot_array *a, int axis, bool log) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_softmax: not implemented yet");
}

ingot_status ingot__cpu_cumsum(ingot_array *out, const ingot_array *a, int axis, bool reverse, bool exclusive) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_cumsum: not implemented yet");
}
