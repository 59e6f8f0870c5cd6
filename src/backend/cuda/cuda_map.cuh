// The elementwise map shared by copy and the elementwise kernels:
// out[i] = f(in_0[i], ...) over arrays of out's shape, every operand with its
// own strides (0 for broadcast dims; out may be strided too). f is a functor
// with a __device__ operator() taking the inputs' storage types and returning
// the output's storage type.
//
// Two kernels per functor: when every operand is contiguous after
// ingot__cu_iter merged its dims, and every pointer is aligned to a 16-byte
// vector of the widest operand, each thread maps whole vectors; otherwise
// each thread maps one element at the offsets of the strided walk.
#ifndef INGOT_BACKEND_CUDA_MAP_CUH
#define INGOT_BACKEND_CUDA_MAP_CUH

#include <cstdint>
#include <utility>

#include "backend/cuda/cuda_dtype.cuh"

template <class T, int V> struct alignas(sizeof(T) * V) ingot__cu_vec { T v[V]; };

// Elements per vector: 16 bytes of the widest operand.
template <class Out, class... In> constexpr int ingot__cu_map_width() {
    size_t widest = sizeof(Out);
    ((widest = sizeof(In) > widest ? sizeof(In) : widest), ...);
    return (int)(16 / widest);
}

// *o = f applied lane by lane to the vectors x.
template <int V, class F, class Out, class... In>
__device__ inline void ingot__cu_map_vec(const F &f, ingot__cu_vec<Out, V> *o,
                                         const ingot__cu_vec<In, V> &...x) {
    ingot__cu_vec<Out, V> r;
#pragma unroll
    for (int k = 0; k < V; k++)
        r.v[k] = f(x.v[k]...);
    *o = r;
}

// Contiguous operands [n], pointers aligned to V elements: one thread maps V
// consecutive elements per grid-stride step; the thread at the end maps the
// last n % V elements one by one.
template <int V, class F, class Out, class... In>
__global__ void ingot__cu_map_contig(int64_t n, F f, Out *__restrict__ o,
                                     const In *__restrict__... in) {
    int64_t step = (int64_t)gridDim.x * blockDim.x * V;
    for (int64_t i = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * V; i < n; i += step) {
        if (i + V <= n) {
            ingot__cu_map_vec<V>(f, reinterpret_cast<ingot__cu_vec<Out, V> *>(o + i),
                                 *reinterpret_cast<const ingot__cu_vec<In, V> *>(in + i)...);
        } else {
            for (int64_t j = i; j < n; j++)
                o[j] = f(in[j]...);
        }
    }
}

// o[off[0]] = f(in_k[off[k + 1]]...).
template <class F, class Out, size_t... K, class... In>
__device__ inline void ingot__cu_map_at(const F &f, Out *o, const int64_t *off,
                                        std::index_sequence<K...>, const In *...in) {
    o[off[0]] = f(in[off[K + 1]]...);
}

// Any strides (operand 0 is the output, operand k + 1 is in_k): one thread
// maps element i of the row-major walk of it per grid-stride step.
template <class F, class Out, class... In>
__global__ void ingot__cu_map_strided(ingot__cu_iter it, F f, Out *o, const In *...in) {
    int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < it.size; i += step) {
        int64_t off[1 + sizeof...(In)];
        ingot__cu_offsets(it, i, off);
        ingot__cu_map_at(f, o, off, std::index_sequence_for<In...>{}, in...);
    }
}

// Queues out = f(in...) on out's device. Out and In are the storage types
// of out and of the inputs; every input has out's shape. Size 0 launches
// nothing.
template <class Out, class... In, class F, class... A>
static ingot_status ingot__cu_map(const char *op, const F &f, ingot_array *out, const A *...in) {
    static_assert(sizeof...(A) == sizeof...(In) && sizeof...(In) + 1 <= INGOT__CU_MAX_OPS);
    constexpr int nops = 1 + (int)sizeof...(In);
    constexpr int V = ingot__cu_map_width<Out, In...>();
    if (out->size == 0) return INGOT_OK;
    const ingot_array *arrays[nops] = {out, in...};
    const int64_t *strides[nops];
    for (int k = 0; k < nops; k++)
        strides[k] = arrays[k]->strides;
    ingot__cu_iter it;
    ingot__cu_iter_init(&it, out->shape, out->ndim, nops, strides);
    // Contiguous: one merged dim of stride 1 everywhere (or one element).
    bool contig = it.ndim <= 1;
    for (int k = 0; k < nops; k++) {
        size_t esize = ingot_dtype_size(arrays[k]->dtype);
        contig = contig && (it.ndim == 0 || it.strides[k][0] == 1) &&
                 (uintptr_t)(char *)ingot__data(arrays[k]) % (V * esize) == 0;
    }
    cudaStream_t stream = ingot__cu_stream(ingot__cu_index(out));
    Out *o = (Out *)(char *)ingot__data(out);
    if (contig) {
        ingot__cu_map_contig<V><<<ingot__cu_blocks((it.size + V - 1) / V), 256, 0, stream>>>(
            it.size, f, o, (const In *)(char *)ingot__data(in)...);
    } else {
        ingot__cu_map_strided<<<ingot__cu_blocks(it.size), 256, 0, stream>>>(
            it, f, o, (const In *)(char *)ingot__data(in)...);
    }
    INGOT__CU_CHECK(cudaGetLastError(), op);
    return INGOT_OK;
}

#endif
