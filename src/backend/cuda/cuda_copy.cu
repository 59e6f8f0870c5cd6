// CUDA copy (with dtype conversion), copy at a device-held offset, fill and
// arange; mirrors src/backend/cpu/cpu_copy.c.
#include <cmath>

#include "backend/cuda/cuda_map.cuh"

// dst element of D from a src element of S (cpu_copy.c's conversions).
template <ingot_dtype D, ingot_dtype S> struct convert_fn {
    __device__ ingot__cu_t<D> operator()(ingot__cu_t<S> x) const {
        return ingot__cu_convert<D, S>(x);
    }
};

// A raw element copy (one dtype: the bits move unchanged).
template <class T> struct identity_fn {
    __device__ T operator()(T x) const { return x; }
};

ingot_status ingot__cuda_copy(ingot_array *dst, const ingot_array *src) {
    // dst: any strides, no self-overlap; src: dst's shape, any strides.
    return ingot__cu_dispatch_dtype(dst->dtype, [&](auto dc) {
        return ingot__cu_dispatch_dtype(src->dtype, [&](auto sc) {
            constexpr ingot_dtype D = dc, S = sc;
            using TD = ingot__cu_t<D>;
            using TS = ingot__cu_t<S>;
            if constexpr (D == S) {
                using T = ingot__cu_uint_t<sizeof(TD)>; // one kernel per element size
                return ingot__cu_map<T, T>("copy", identity_fn<T>{}, dst, src);
            } else {
                return ingot__cu_map<TD, TS>("copy", convert_fn<D, S>{}, dst, src);
            }
        });
    });
}

// One thread per element of src (it: src, dst over src's shape): dst from
// start[0] on along the axis (stride axis_stride), the start clamped to
// [0, room].
static __global__ void copy_at_kernel(void *dst, const void *src, size_t esize,
                                      ingot__cu_iter it, const int64_t *start,
                                      int64_t axis_stride, int64_t room) {
    const int64_t s = *start < 0 ? 0 : *start > room ? room : *start;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.size;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[2];
        ingot__cu_offsets(it, i, off);
        ingot__cu_copy_elem(dst, off[1] + s * axis_stride, src, off[0], esize);
    }
}

ingot_status ingot__cuda_copy_at(ingot_array *dst, const ingot_array *src, int axis,
                                 const ingot_array *start) {
    if (src->size == 0) return INGOT_OK;
    const int64_t *strides[2] = {src->strides, dst->strides};
    ingot__cu_iter it;
    ingot__cu_iter_init(&it, src->shape, src->ndim, 2, strides);
    cudaStream_t stream = ingot__cu_stream(ingot__cu_index(dst));
    copy_at_kernel<<<ingot__cu_blocks(src->size), 256, 0, stream>>>(
        ingot__data(dst), ingot__data(src), ingot_dtype_size(dst->dtype), it,
        (const int64_t *)ingot__data(start), dst->strides[axis],
        dst->shape[axis] - src->shape[axis]);
    INGOT__CU_CHECK(cudaGetLastError(), "copy_at");
    return INGOT_OK;
}

// dst contiguous [n]: one thread stores one element per grid-stride step,
// start + i * step rounded as the CPU does (a product and a sum, not fused),
// or start itself when step is 0 (fill), converted to D.
template <ingot_dtype D>
__global__ void fill_kernel(ingot__cu_t<D> *dst, int64_t n, double start, double step) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        double v = step == 0.0 ? start : __dadd_rn(start, __dmul_rn((double)i, step));
        dst[i] = ingot__cu_from_f64<D>(v);
    }
}

// Queues dst[i] = start + i * step; +0 (all-zero bytes in every dtype) is a
// memset.
static ingot_status fill_run(ingot_array *dst, double start, double step, const char *op) {
    int64_t n = dst->size;
    if (n == 0) return INGOT_OK;
    cudaStream_t stream = ingot__cu_stream(ingot__cu_index(dst));
    char *d = (char *)ingot__data(dst);
    if (step == 0.0 && start == 0.0 && !std::signbit(start)) {
        size_t nbytes = (size_t)n * ingot_dtype_size(dst->dtype);
        INGOT__CU_CHECK(cudaMemsetAsync(d, 0, nbytes, stream), op);
        return INGOT_OK;
    }
    return ingot__cu_dispatch_dtype(dst->dtype, [&](auto dc) {
        constexpr ingot_dtype D = dc;
        fill_kernel<D>
            <<<ingot__cu_blocks(n), 256, 0, stream>>>((ingot__cu_t<D> *)d, n, start, step);
        INGOT__CU_CHECK(cudaGetLastError(), op);
        return INGOT_OK;
    });
}

ingot_status ingot__cuda_fill(ingot_array *dst, double value) {
    return fill_run(dst, value, 0.0, "fill");
}

ingot_status ingot__cuda_arange(ingot_array *dst, double start, double step) {
    return fill_run(dst, start, step, "arange");
}
