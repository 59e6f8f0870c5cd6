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

/* The kernels, ingot__cpu_copy ... ingot__cpu_sdpa_vjp (the list in
 * backend/backend.h). */
INGOT__KERNELS(INGOT__KERNEL_PROTOTYPE, ingot__cpu_)

/* The instruction sets the matmul kernels are compiled for (cpu_matmul.c).
 * Each call uses the widest one the CPU has, capped by ingot__cpu_set_isa_cap:
 * tests lower the cap to run every variant this machine can; the library
 * never changes it. */
typedef enum { INGOT__ISA_BASELINE, INGOT__ISA_AVX2, INGOT__ISA_AVX512 } ingot__isa;
ingot__isa ingot__cpu_isa(void); /* the widest this CPU runs */
void ingot__cpu_set_isa_cap(ingot__isa cap);

#endif
