/* Strided rows of float arrays to and from f32 scratch: the load/store step
 * shared by the fused kernels (norms, rope, attention). */
#include "backend/cpu/cpu.h"

void ingot__cpu_load_row_f32(float *dst, const ingot_array *a, int64_t off, int64_t stride,
                             int64_t n) {
    const void *p = ingot__data(a);
    switch (a->dtype) {
    case INGOT_F32:
        for (int64_t i = 0; i < n; i++) dst[i] = ((const float *)p)[off + i * stride];
        break;
    case INGOT_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = ingot__bf16_to_f32(((const uint16_t *)p)[off + i * stride]);
        break;
    case INGOT_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = ingot__f16_to_f32(((const uint16_t *)p)[off + i * stride]);
        break;
    default: {
        size_t es = ingot_dtype_size(a->dtype);
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)ingot__load_f64((const char *)p + (off + i * stride) * (int64_t)es,
                                            a->dtype);
    }
    }
}

void ingot__cpu_store_row_f32(ingot_array *a, int64_t off, int64_t stride, const float *src,
                              int64_t n) {
    void *p = ingot__data(a);
    switch (a->dtype) {
    case INGOT_F32:
        for (int64_t i = 0; i < n; i++) ((float *)p)[off + i * stride] = src[i];
        break;
    case INGOT_BF16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)p)[off + i * stride] = ingot__f32_to_bf16(src[i]);
        break;
    case INGOT_F16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)p)[off + i * stride] = ingot__f32_to_f16(src[i]);
        break;
    default: {
        size_t es = ingot_dtype_size(a->dtype);
        for (int64_t i = 0; i < n; i++)
            ingot__store_f64((char *)p + (off + i * stride) * (int64_t)es, a->dtype, src[i]);
    }
    }
}
