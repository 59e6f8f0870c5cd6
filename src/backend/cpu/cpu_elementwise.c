/* Placeholder: replaced by the real kernels. */
#include "backend/cpu/cpu.h"

ingot_status ingot__cpu_unary(ingot__unary_op op, ingot_array *out, const ingot_array *a) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_unary: not implemented yet");
}

ingot_status ingot__cpu_binary(ingot__binary_op op, ingot_array *out, const ingot_array *a, const ingot_array *b) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_binary: not implemented yet");
}

ingot_status ingot__cpu_where(ingot_array *out, const ingot_array *cond, const ingot_array *a, const ingot_array *b) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_where: not implemented yet");
}
