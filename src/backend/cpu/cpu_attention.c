/* Placeholder: replaced by the real kernels. */
#include "backend/cpu/cpu.h"

ingot_status ingot__cpu_sdpa(ingot_array *out, ingot_array *lse, const ingot_array *q, const ingot_array *k, const ingot_array *v, const ingot_sdpa_options *opts) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_sdpa: not implemented yet");
}

ingot_status ingot__cpu_sdpa_vjp(ingot_array *dq, ingot_array *dk, ingot_array *dv, const ingot_array *q, const ingot_array *k, const ingot_array *v, const ingot_array *out, const ingot_array *lse, const ingot_array *g, const ingot_sdpa_options *opts) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_sdpa_vjp: not implemented yet");
}
