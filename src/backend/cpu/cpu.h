/* CPU kernels: the entries of ingot__cpu_backend (see backend/backend.h for
 * the contract of each). One op family per file:
 *   cpu_copy.c        copy, copy_at, arange, fill
 *   cpu_elementwise.c unary, binary, where
 *   cpu_reduce.c      reduce, softmax, cumsum
 *   cpu_sort.c        sort, argpartition
 *   cpu_matmul.c      matmul
 *   cpu_index.c       gather, scatter
 *   cpu_random.c      random_bits
 *   cpu_norm.c        rms_norm, layer_norm (+ vjp)
 *   cpu_rope.c        rope
 *   cpu_attention.c   sdpa (+ vjp)
 *   cpu_rows.c        f32 row load/store shared by the fused kernels */
#ifndef INGOT_BACKEND_CPU_H
#define INGOT_BACKEND_CPU_H

#include "backend/backend.h"

/* Shared by the fused kernels (cpu_rows.c): dst[i] = element off + i * stride
 * of the float array a as f32, for i < n; and the reverse, rounding src[i] to
 * a's dtype. Offsets and strides are in elements from ingot__data(a). */
void ingot__cpu_load_row_f32(float *dst, const ingot_array *a, int64_t off, int64_t stride,
                             int64_t n);
void ingot__cpu_store_row_f32(ingot_array *a, int64_t off, int64_t stride, const float *src,
                              int64_t n);

/* One element of a float array as f32, and its store. */
static inline float ingot__cpu_load_f32(const ingot_array *a, int64_t off) {
    float v;
    ingot__cpu_load_row_f32(&v, a, off, 1, 1);
    return v;
}

static inline void ingot__cpu_store_f32(ingot_array *a, int64_t off, float v) {
    ingot__cpu_store_row_f32(a, off, 1, &v, 1);
}

ingot_status ingot__cpu_copy(ingot_array *dst, const ingot_array *src);
ingot_status ingot__cpu_copy_at(ingot_array *dst, const ingot_array *src, int axis,
                                const ingot_array *start);
ingot_status ingot__cpu_arange(ingot_array *dst, double start, double step);
ingot_status ingot__cpu_fill(ingot_array *dst, double value);

ingot_status ingot__cpu_unary(ingot__unary_op op, ingot_array *out, const ingot_array *a);
ingot_status ingot__cpu_binary(ingot__binary_op op, ingot_array *out, const ingot_array *a,
                               const ingot_array *b);
ingot_status ingot__cpu_where(ingot_array *out, const ingot_array *cond, const ingot_array *a,
                              const ingot_array *b);

ingot_status ingot__cpu_reduce(ingot__reduce_op op, ingot_array *out, const ingot_array *a,
                               const bool reduce[INGOT_MAX_DIMS]);
ingot_status ingot__cpu_softmax(ingot_array *out, const ingot_array *a, int axis, bool log);
ingot_status ingot__cpu_cumsum(ingot_array *out, const ingot_array *a, int axis, bool reverse,
                               bool exclusive);

ingot_status ingot__cpu_sort(ingot_array *values, ingot_array *indices, const ingot_array *a,
                             int axis);
ingot_status ingot__cpu_argpartition(ingot_array *indices, const ingot_array *a, int kth, int axis);

ingot_status ingot__cpu_matmul(ingot_array *out, const ingot_array *a, const ingot_array *b);

/* The instruction sets the matmul kernels are compiled for (cpu_matmul.c).
 * Each call uses the widest one the CPU has, capped by ingot__cpu_set_isa_cap:
 * tests lower the cap to run every variant this machine can; the library
 * never changes it. */
typedef enum { INGOT__ISA_BASELINE, INGOT__ISA_AVX2, INGOT__ISA_AVX512 } ingot__isa;
ingot__isa ingot__cpu_isa(void); /* the widest this CPU runs */
void ingot__cpu_set_isa_cap(ingot__isa cap);

ingot_status ingot__cpu_gather(ingot_array *out, const ingot_array *a, const ingot_array *idx,
                               int axis);
ingot_status ingot__cpu_scatter(ingot_array *out, const ingot_array *idx, const ingot_array *values,
                                int axis, bool accumulate);

ingot_status ingot__cpu_random_bits(ingot_array *out, ingot_rng rng);

ingot_status ingot__cpu_rms_norm(ingot_array *out, const ingot_array *x, const ingot_array *w,
                                 float eps);
ingot_status ingot__cpu_rms_norm_vjp(ingot_array *dx, ingot_array *dw, const ingot_array *x,
                                     const ingot_array *w, const ingot_array *g, float eps);
ingot_status ingot__cpu_layer_norm(ingot_array *out, const ingot_array *x, const ingot_array *w,
                                   const ingot_array *b, float eps);
ingot_status ingot__cpu_layer_norm_vjp(ingot_array *dx, ingot_array *dw, ingot_array *db,
                                       const ingot_array *x, const ingot_array *w,
                                       const ingot_array *b, const ingot_array *g, float eps);
ingot_status ingot__cpu_rope(ingot_array *out, const ingot_array *x, const ingot_rope_options *opts,
                             bool inverse);
ingot_status ingot__cpu_sdpa(ingot_array *out, ingot_array *lse, const ingot_array *q,
                             const ingot_array *k, const ingot_array *v,
                             const ingot_sdpa_options *opts);
ingot_status ingot__cpu_sdpa_vjp(ingot_array *dq, ingot_array *dk, ingot_array *dv,
                                 const ingot_array *q, const ingot_array *k, const ingot_array *v,
                                 const ingot_array *out, const ingot_array *lse,
                                 const ingot_array *g, const ingot_sdpa_options *opts);

#endif
