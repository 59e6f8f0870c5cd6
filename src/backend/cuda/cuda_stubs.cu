// TEMPORARY while the kernel files are written: weak fallbacks for every
// kernel entry, replaced at link time by the real definitions. This file is
// deleted once every entry exists.
#include "backend/cuda/cuda_internal.h"

__attribute__((weak)) ingot_status ingot__cuda_copy(ingot_array *dst, const ingot_array *src) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: copy not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_arange(ingot_array *dst, double start, double step) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: arange not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_fill(ingot_array *dst, double value) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: fill not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_unary(ingot__unary_op op, ingot_array *out, const ingot_array *a) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: unary not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_binary(ingot__binary_op op, ingot_array *out, const ingot_array *a,
                                const ingot_array *b) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: binary not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_where(ingot_array *out, const ingot_array *cond, const ingot_array *a,
                               const ingot_array *b) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: where not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_random_bits(ingot_array *out, ingot_rng rng) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: random_bits not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_reduce(ingot__reduce_op op, ingot_array *out, const ingot_array *a,
                                const bool reduce[INGOT_MAX_DIMS]) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: reduce not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_softmax(ingot_array *out, const ingot_array *a, int axis, bool log) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: softmax not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_cumsum(ingot_array *out, const ingot_array *a, int axis, bool reverse,
                                bool exclusive) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: cumsum not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_sort(ingot_array *values, ingot_array *indices, const ingot_array *a,
                              int axis) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: sort not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_argpartition(ingot_array *indices, const ingot_array *a, int kth,
                                      int axis) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: argpartition not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_gather(ingot_array *out, const ingot_array *a, const ingot_array *idx,
                                int axis) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: gather not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_scatter(ingot_array *out, const ingot_array *idx,
                                 const ingot_array *values, int axis, bool accumulate) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: scatter not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_matmul(ingot_array *out, const ingot_array *a, const ingot_array *b) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: matmul not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_rms_norm(ingot_array *out, const ingot_array *x, const ingot_array *w,
                                  float eps) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: rms_norm not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_rms_norm_vjp(ingot_array *dx, ingot_array *dw, const ingot_array *x,
                                      const ingot_array *w, const ingot_array *g, float eps) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: rms_norm_vjp not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_layer_norm(ingot_array *out, const ingot_array *x, const ingot_array *w,
                                    const ingot_array *b, float eps) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: layer_norm not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_layer_norm_vjp(ingot_array *dx, ingot_array *dw, ingot_array *db,
                                        const ingot_array *x, const ingot_array *w,
                                        const ingot_array *b, const ingot_array *g, float eps) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: layer_norm_vjp not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_rope(ingot_array *out, const ingot_array *x,
                              const ingot_rope_options *opts, bool inverse) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: rope not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_sdpa(ingot_array *out, ingot_array *lse, const ingot_array *q,
                              const ingot_array *k, const ingot_array *v,
                              const ingot_sdpa_options *opts) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: sdpa not implemented");
}

__attribute__((weak)) ingot_status ingot__cuda_sdpa_vjp(ingot_array *dq, ingot_array *dk, ingot_array *dv,
                                  const ingot_array *q, const ingot_array *k,
                                  const ingot_array *v, const ingot_array *out,
                                  const ingot_array *lse, const ingot_array *g,
                                  const ingot_sdpa_options *opts) {
    return ingot__error(INGOT_ERR_UNSUPPORTED, "cuda: sdpa_vjp not implemented");
}
