/* The CUDA plugin's internal contract: streams, errors, scratch memory,
 * strided iteration, element loads/stores, and the kernel entries that
 * fill the plugin's ingot__backend table (cuda_backend.cu). Compiled as
 * CUDA C++ by nvcc only.
 *
 * Every entry has the signature and contract of the matching field of
 * ingot__backend (backend/backend.h) and of the CPU kernel it mirrors
 * (src/backend/cpu); the CPU backend is the reference the GPU test suite
 * compares against. Conventions for every kernel:
 *  - all arrays of one call are on one device, ingot__cu_index(out); data
 *    pointers are ingot__data(a) (device memory), offsets and strides are in
 *    elements from there;
 *  - work is queued on ingot__cu_stream(index) and never waits for the
 *    device (no cudaDeviceSynchronize, no cudaMemcpy to the host inside a
 *    kernel entry): results are read by download, which orders after it;
 *  - a launch is followed by INGOT__CU_CHECK(cudaGetLastError(), "op");
 *  - scratch memory comes from ingot__cu_alloc and goes back with
 *    ingot__cu_free before returning (stream order makes that safe);
 *  - f16 and bf16 compute in f32 and round where the CPU kernel rounds. */
#ifndef INGOT_BACKEND_CUDA_INTERNAL_H
#define INGOT_BACKEND_CUDA_INTERNAL_H

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "backend/backend.h"

/* ---- device, stream, errors ---- */

/* The CUDA ordinal of the device holding a. */
static inline int ingot__cu_index(const ingot_array *a) { return a->buf->device.index; }

/* Makes device `index` current for the calling thread and returns its one
 * stream; all work of that device runs on it, in order. */
cudaStream_t ingot__cu_stream(int index);

/* INGOT_OK for cudaSuccess; otherwise DEVICE "op: <CUDA error text>" (and the
 * sticky error is cleared where CUDA allows). */
ingot_status ingot__cu_check(cudaError_t err, const char *op);
#define INGOT__CU_CHECK(expr, op)                                                                \
    do {                                                                                         \
        ingot_status cu_st_ = ingot__cu_check((expr), (op));                                     \
        if (cu_st_) return cu_st_;                                                               \
    } while (0)

/* Scratch device memory from the caching allocator (same accounting as
 * array buffers); OUT_OF_MEMORY with a message on failure. nbytes 0 gives a
 * valid 1-byte block. Free with the same nbytes. */
ingot_status ingot__cu_alloc(void **ptr, size_t nbytes, int index);
void ingot__cu_free(void *ptr, size_t nbytes, int index);

/* Blocks of 256 threads covering n items, capped for grid-stride loops. */
static inline unsigned ingot__cu_blocks(int64_t n) {
    int64_t b = (n + 255) / 256;
    return (unsigned)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

/* ---- strided iteration ----
 * A shape walked in row-major order with up to INGOT__CU_MAX_OPS operands
 * of their own strides. ingot__cu_iter_init drops size-1 dims and merges
 * neighbouring dims that are contiguous in every operand, so a contiguous
 * array becomes one dim; pass the struct to kernels by value. */
#define INGOT__CU_MAX_OPS 4
typedef struct ingot__cu_iter {
    int ndim; /* after merging; 0 for a single element */
    int nops;
    int64_t size;
    int64_t shape[INGOT_MAX_DIMS];
    int64_t strides[INGOT__CU_MAX_OPS][INGOT_MAX_DIMS];
} ingot__cu_iter;

void ingot__cu_iter_init(ingot__cu_iter *it, const int64_t *shape, int ndim, int nops,
                         const int64_t *const *strides);

/* The rows of a along axis (softmax, cumsum, sort): `other` walks the
 * other dims with operands a and a contiguous output of a's shape (out's
 * shape, which the caller gives: a's, or a's with axis kept); n is the row
 * length, as and os the row's strides in a and in the output, count the
 * number of rows. */
typedef struct ingot__cu_rows {
    ingot__cu_iter other;
    int64_t n, as, os, count;
} ingot__cu_rows;

ingot__cu_rows ingot__cu_rows_of(const ingot_array *out, const ingot_array *a, int axis);

/* off[k] = element offset of row-major index i (< it.size) for operand k
 * (NOPS = it.nops). The count is a template argument so that off stays in
 * registers; the outermost dim needs no division (none at all for a single
 * merged dim: contiguous, a broadcast scalar, a plain stride). */
template <int NOPS>
__device__ static inline void ingot__cu_offsets(const ingot__cu_iter &it, int64_t i,
                                                int64_t (&off)[NOPS]) {
#pragma unroll
    for (int k = 0; k < NOPS; k++) off[k] = 0;
    for (int d = it.ndim - 1; d > 0; d--) {
        int64_t q = i / it.shape[d], r = i - q * it.shape[d];
#pragma unroll
        for (int k = 0; k < NOPS; k++) off[k] += r * it.strides[k][d];
        i = q;
    }
    if (it.ndim > 0) {
#pragma unroll
        for (int k = 0; k < NOPS; k++) off[k] += i * it.strides[k][0];
    }
}

/* dst[di] = src[si] for one element of esize bytes (the bits unchanged). */
__device__ static inline void ingot__cu_copy_elem(void *dst, int64_t di, const void *src,
                                                  int64_t si, size_t esize) {
    switch (esize) {
    case 1: ((uint8_t *)dst)[di] = ((const uint8_t *)src)[si]; break;
    case 2: ((uint16_t *)dst)[di] = ((const uint16_t *)src)[si]; break;
    case 4: ((uint32_t *)dst)[di] = ((const uint32_t *)src)[si]; break;
    default: ((uint64_t *)dst)[di] = ((const uint64_t *)src)[si]; break;
    }
}

/* ---- element access ----
 * Float dtypes (f32, f16, bf16) as f32; stores round to nearest even (f16
 * overflow gives inf), as the CPU's ingot__f32_to_f16/_bf16 do. */
__device__ static inline float ingot__cu_load_f32(const void *p, ingot_dtype dt, int64_t i) {
    if (dt == INGOT_F32) return ((const float *)p)[i];
    if (dt == INGOT_BF16) return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    return __half2float(((const __half *)p)[i]);
}

__device__ static inline void ingot__cu_store_f32(void *p, ingot_dtype dt, int64_t i, float v) {
    if (dt == INGOT_F32)
        ((float *)p)[i] = v;
    else if (dt == INGOT_BF16)
        ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
    else
        ((__half *)p)[i] = __float2half_rn(v);
}

/* v rounded to a float dtype, as f32 (ingot__round_f32 on the CPU). */
__device__ static inline float ingot__cu_round_f32(ingot_dtype dt, float v) {
    if (dt == INGOT_BF16) return __bfloat162float(__float2bfloat16_rn(v));
    if (dt == INGOT_F16) return __half2float(__float2half_rn(v));
    return v;
}

/* ---- the kernel entries (the list and contracts in backend/backend.h) ----
 * ingot__cuda_copy ... ingot__cuda_sdpa_vjp, one op family per file:
 * cuda_copy.cu (copy, copy_at, arange, fill), cuda_elementwise.cu (unary,
 * binary, where), cuda_reduce.cu (reduce, softmax, cumsum), cuda_matmul.cu
 * (cuBLASLt), cuda_index.cu (gather, scatter), cuda_sort.cu (sort,
 * argpartition), cuda_random.cu, cuda_norm.cu (rms_norm, layer_norm + vjp),
 * cuda_rope.cu, cuda_attention.cu (sdpa + vjp). */
INGOT__KERNELS(INGOT__KERNEL_PROTOTYPE, ingot__cuda_)

#endif
