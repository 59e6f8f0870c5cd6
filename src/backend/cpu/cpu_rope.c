/* Placeholder: replaced by the real kernels. */
#include "backend/cpu/cpu.h"

ingot_status ingot__cpu_rope(ingot_array *out, const ingot_array *x, const ingot_rope_options *opts, bool inverse) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_rope: not implemented yet");
}
