/* Placeholder: replaced by the real kernels. */
#include "backend/cpu/cpu.h"

ingot_status ingot__cpu_sort(ingot_array *values, ingot_array *indices, const ingot_array *a, int axis) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_sort: not implemented yet");
}

ingot_status ingot__cpu_argpartition(ingot_array *indices, const ingot_array *a, int kth, int axis) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_argpartition: not implemented yet");
}
