/* Placeholder: replaced by the real kernels. */
#include "backend/cpu/cpu.h"

ingot_status ingot__cpu_rms_norm(ingot_array *out, const ingot_array *x, const ingot_array *w, float eps) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_rms_norm: not implemented yet");
}

ingot_status ingot__cpu_rms_norm_vjp(ingot_array *dx, ingot_array *dw, const ingot_array *x, const ingot_array *w, const ingot_array *g, float eps) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_rms_norm_vjp: not implemented yet");
}

ingot_status ingot__cpu_layer_norm(ingot_array *out, const ingot_array *x, const ingot_array *w, const ingot_array *b, float eps) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_layer_norm: not implemented yet");
}

ingot_status ingot__cpu_layer_norm_vjp(ingot_array *dx, ingot_array *dw, ingot_array *db, const ingot_array *x, const ingot_array *w, const ingot_array *b, const ingot_array *g, float eps) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "ingot_status ingot__cpu_layer_norm_vjp: not implemented yet");
}
