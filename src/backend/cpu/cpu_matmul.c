/* Placeholder: replaced by the real kernels. */
#include "backend/cpu/cpu.h"

ingot_status ingot__cpu_matmul(ingot_array *out, const ingot_array *a, const ingot_array *b) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_matmul: not implemented yet");
}
