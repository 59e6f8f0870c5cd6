// CUDA gather and scatter along one axis (take_along_axis / put_along_axis
// and the scatter-add of their gradients; mirrors cpu_index.c). Indices
// arrive as validated i64.
//
// Scatter works in lines, as the CPU's units: a line is every position of idx
// along axis for fixed other coordinates. Lines write to disjoint parts of
// out, so one thread per line, walking its positions in order, gives the
// CPU's results exactly: the last write wins, and sums are added in the same
// order. Accumulation with few lines and long ones instead adds every
// element with an atomic (f32, f16, bf16, i32, u32, i64): the same per-step
// rounding as the CPU (f16/bf16 added in f32 and rounded once), in an
// unspecified order.
#include "backend/cuda/cuda_internal.h"

// ---- gather ----

// One thread per element i of out (contiguous): it = (a with its axis
// stride 0, idx) over out's shape.
static __global__ void gather_elems(void *out, const void *a, const int64_t *idx, size_t esize,
                                    ingot__cu_iter it, int64_t axis_stride) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.size;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[2];
        ingot__cu_offsets(it, i, off);
        ingot__cu_copy_elem(out, i, a, off[0] + idx[off[1]] * axis_stride, esize);
    }
}

ingot_status ingot__cuda_gather(ingot_array *out, const ingot_array *a, const ingot_array *idx,
                                int axis) {
    if (out->size == 0) return INGOT_OK;
    int64_t astrides[INGOT_MAX_DIMS];
    memcpy(astrides, a->strides, (size_t)a->ndim * sizeof(int64_t));
    astrides[axis] = 0;
    const int64_t *strides[2] = {astrides, idx->strides};
    ingot__cu_iter it;
    ingot__cu_iter_init(&it, out->shape, out->ndim, 2, strides);
    cudaStream_t stream = ingot__cu_stream(ingot__cu_index(out));
    gather_elems<<<ingot__cu_blocks(out->size), 256, 0, stream>>>(
        ingot__data(out), ingot__data(a), (const int64_t *)ingot__data(idx),
        ingot_dtype_size(out->dtype), it, a->strides[axis]);
    INGOT__CU_CHECK(cudaGetLastError(), "gather");
    return INGOT_OK;
}

// ---- scatter ----

namespace {
// Operands of the scatter kernels: 0 out, 1 idx, 2 values.
struct scatter_args {
    void *out;
    const int64_t *idx;
    const void *values;
    ingot_dtype dt;
    size_t esize;
    int64_t len;            // idx's dim at axis
    int64_t axis_stride[3]; // out, idx, values along axis
};
} // namespace

// out[o] += v[i] for one element of dtype dt, in the CPU's arithmetic
// (floats in f32 rounded once, integers wrapping, bool a logical or).
__device__ static inline void add_elem(void *out, int64_t o, const void *v, int64_t i,
                                       ingot_dtype dt) {
    switch (dt) {
    case INGOT_F32:
    case INGOT_F16:
    case INGOT_BF16:
        ingot__cu_store_f32(out, dt, o,
                            ingot__cu_load_f32(out, dt, o) + ingot__cu_load_f32(v, dt, i));
        break;
    case INGOT_BOOL: ((uint8_t *)out)[o] |= ((const uint8_t *)v)[i]; break;
    case INGOT_U8:
    case INGOT_I8: ((uint8_t *)out)[o] += ((const uint8_t *)v)[i]; break;
    case INGOT_I32:
    case INGOT_U32: ((uint32_t *)out)[o] += ((const uint32_t *)v)[i]; break;
    default: ((uint64_t *)out)[o] += ((const uint64_t *)v)[i]; break;
    }
}

// One thread per line (it: out, idx, values over idx's shape without axis):
// its positions in order, each written (or added) to out at its index.
static __global__ void scatter_lines(scatter_args s, ingot__cu_iter it, bool accumulate) {
    for (int64_t line = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; line < it.size;
         line += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[3];
        ingot__cu_offsets(it, line, off);
        for (int64_t t = 0; t < s.len; t++) {
            int64_t o = off[0] + s.idx[off[1] + t * s.axis_stride[1]] * s.axis_stride[0];
            int64_t v = off[2] + t * s.axis_stride[2];
            if (accumulate)
                add_elem(s.out, o, s.values, v, s.dt);
            else
                ingot__cu_copy_elem(s.out, o, s.values, v, s.esize);
        }
    }
}

// Whether dt has a native atomic add matching add_elem.
static bool has_atomic_add(ingot_dtype dt) {
    return dt == INGOT_F32 || dt == INGOT_F16 || dt == INGOT_BF16 || dt == INGOT_I32 ||
           dt == INGOT_U32 || dt == INGOT_I64;
}

// out[o] += v[i] atomically (dt has_atomic_add).
__device__ static inline void atomic_add_elem(void *out, int64_t o, const void *v, int64_t i,
                                              ingot_dtype dt) {
    switch (dt) {
    case INGOT_F32: atomicAdd((float *)out + o, ((const float *)v)[i]); break;
    case INGOT_F16: atomicAdd((__half *)out + o, ((const __half *)v)[i]); break;
    case INGOT_BF16: atomicAdd((__nv_bfloat16 *)out + o, ((const __nv_bfloat16 *)v)[i]); break;
    case INGOT_I32:
    case INGOT_U32: atomicAdd((unsigned *)out + o, ((const unsigned *)v)[i]); break;
    default: atomicAdd((unsigned long long *)out + o, ((const unsigned long long *)v)[i]); break;
    }
}

// One thread per element of idx (it: out with its axis stride 0, idx,
// values over idx's shape): an atomic add into out at its index.
static __global__ void scatter_add_atomic(scatter_args s, ingot__cu_iter it) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.size;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[3];
        ingot__cu_offsets(it, i, off);
        atomic_add_elem(s.out, off[0] + s.idx[off[1]] * s.axis_stride[0], s.values, off[2], s.dt);
    }
}

enum { ATOMIC_MAX_LINES = 4096, ATOMIC_MIN_LEN = 64 };

ingot_status ingot__cuda_scatter(ingot_array *out, const ingot_array *idx,
                                 const ingot_array *values, int axis, bool accumulate) {
    if (idx->size == 0) return INGOT_OK;
    const ingot_array *ops[3] = {out, idx, values};
    scatter_args s = {ingot__data(out), (const int64_t *)ingot__data(idx), ingot__data(values),
                      out->dtype,       ingot_dtype_size(out->dtype),      idx->shape[axis],
                      {0, 0, 0}};
    for (int o = 0; o < 3; o++)
        s.axis_stride[o] = ops[o]->strides[axis];
    int64_t nlines = idx->size / s.len;
    cudaStream_t stream = ingot__cu_stream(ingot__cu_index(out));
    int64_t strides[3][INGOT_MAX_DIMS];
    const int64_t *sp[3] = {strides[0], strides[1], strides[2]};
    ingot__cu_iter it;
    if (accumulate && has_atomic_add(out->dtype) && nlines < ATOMIC_MAX_LINES &&
        s.len >= ATOMIC_MIN_LEN) {
        for (int o = 0; o < 3; o++)
            memcpy(strides[o], ops[o]->strides, (size_t)idx->ndim * sizeof(int64_t));
        strides[0][axis] = 0;
        ingot__cu_iter_init(&it, idx->shape, idx->ndim, 3, sp);
        scatter_add_atomic<<<ingot__cu_blocks(idx->size), 256, 0, stream>>>(s, it);
    } else {
        int64_t shape[INGOT_MAX_DIMS];
        int nd = 0;
        for (int d = 0; d < idx->ndim; d++) {
            if (d == axis) continue;
            shape[nd] = idx->shape[d];
            for (int o = 0; o < 3; o++)
                strides[o][nd] = ops[o]->strides[d];
            nd++;
        }
        ingot__cu_iter_init(&it, shape, nd, 3, sp);
        scatter_lines<<<ingot__cu_blocks(nlines), 256, 0, stream>>>(s, it, accumulate);
    }
    INGOT__CU_CHECK(cudaGetLastError(), "scatter");
    return INGOT_OK;
}
