/* Placeholder: replaced by the real kernels. */
#include "backend/cpu/cpu.h"

ingot_status ingot__cpu_gather(ingot_array *out, const ingot_array *a, const ingot_array *idx, int axis) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_gather: not implemented yet");
}

ingot_status ingot__cpu_scatter(ingot_array *out, const ingot_array *idx, const ingot_array *values, int axis, bool accumulate) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_scatter: not implemented yet");
}
