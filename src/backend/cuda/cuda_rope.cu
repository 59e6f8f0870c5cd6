// CUDA rope (its VJP is the same kernel with inverse = true), mirroring
// cpu_rope.c and docs/fast-ops.md:
//   inv_freq[i] = 1 / powf(base, (float)(2i) / (float)dims)   (f32; or freqs)
//   angle = ((float)pos * scale) * inv_freq[i]                (f32)
//   c, s = cosf(angle), sinf(angle), rounded to x's dtype
//   y1 = R(R(x1 c) - R(x2 s)), y2 = R(R(x2 c) + R(x1 s))
// with R rounding to x's dtype; the inverse negates s. powf, cosf and sinf
// are evaluated in double and rounded to f32 (correctly rounded but for
// rare ties), which tracks glibc's f32 functions more closely than CUDA's
// f32 ones; products and sums use _rn intrinsics so nvcc does not fuse
// them into FMAs.
#include "backend/cuda/cuda_internal.h"

enum { ROPE_THREADS = 256, MAX_SHARED_BYTES = 48 * 1024 };

struct rope_params {
    const void *x; // [B, H, T, Dh], strides xs
    ingot_dtype dt;
    int64_t xs[4];
    void *out; // [B, H, T, Dh] contiguous
    int64_t H, T, Dh, half, dims;
    bool interleaved;
    float sign; // -1 for the inverse
    float base, scale;
    int64_t offset;
    const float *freqs; // [half] with stride fs, or NULL
    int64_t fs;
    const void *pos; // [T] or [P, T] integers, or NULL
    ingot_dtype pos_dt;
    int pos_ndim;
    int64_t ps0, ps1; // its strides
    int64_t P;        // 1, or B when positions are per batch row
};

// Element i of an integer array as int64.
__device__ static inline int64_t load_i64(const void *p, ingot_dtype dt, int64_t i) {
    switch (dt) {
    case INGOT_BOOL:
    case INGOT_U8: return ((const uint8_t *)p)[i];
    case INGOT_I8: return ((const int8_t *)p)[i];
    case INGOT_I32: return ((const int32_t *)p)[i];
    case INGOT_U32: return ((const uint32_t *)p)[i];
    default: return ((const int64_t *)p)[i];
    }
}

// The position of token t of batch row b.
__device__ static inline int64_t position(const rope_params &p, int64_t b, int64_t t) {
    if (!p.pos) return p.offset + t;
    int64_t off = p.pos_ndim == 2 ? (p.P == 1 ? 0 : b) * p.ps0 + t * p.ps1 : t * p.ps0;
    return load_i64(p.pos, p.pos_dt, off);
}

// Block (blockIdx.x = b * T + t, blockIdx.y = a slice of the work) first
// writes cos and sin of position (b, t) for every pair into shared cs
// [half, 2], then its threads take work items q (grid-stride over H * W
// within blockIdx.y's slices, W = half pairs + Dh - dims pass-through
// features): head q / W, and pair or pass-through feature q % W of row
// (b, h, t).
__global__ void rope_kernel(rope_params p) {
    extern __shared__ float cs[];
    int64_t b = blockIdx.x / p.T, t = blockIdx.x % p.T;
    float scaled = __fmul_rn((float)position(p, b, t), p.scale);
    for (int64_t i = threadIdx.x; i < p.half; i += blockDim.x) {
        float inv = p.freqs ? p.freqs[i * p.fs]
                            : 1.0f / (float)pow((double)p.base,
                                                (double)((float)(2 * i) / (float)p.dims));
        double angle = (double)__fmul_rn(scaled, inv);
        cs[2 * i] = ingot__cu_round_f32(p.dt, (float)cos(angle));
        cs[2 * i + 1] = ingot__cu_round_f32(p.dt, (float)sin(angle));
    }
    __syncthreads();
    int64_t W = p.half + (p.Dh - p.dims);
    int64_t xrow = b * p.xs[0] + t * p.xs[2];
    int64_t orow = t * p.Dh + b * p.H * p.T * p.Dh;
    ingot_dtype dt = p.dt;
    for (int64_t q = blockIdx.y * (int64_t)blockDim.x + threadIdx.x; q < p.H * W;
         q += (int64_t)gridDim.y * blockDim.x) {
        int64_t h = q / W, j = q % W;
        int64_t xo = xrow + h * p.xs[1], oo = orow + h * p.T * p.Dh;
        if (j >= p.half) { // a feature past dims passes through
            int64_t d = p.dims + (j - p.half);
            ingot__cu_store_f32(p.out, dt, oo + d, ingot__cu_load_f32(p.x, dt, xo + d * p.xs[3]));
            continue;
        }
        int64_t i1 = p.interleaved ? 2 * j : j;
        int64_t i2 = p.interleaved ? 2 * j + 1 : j + p.half;
        float c = cs[2 * j], s = p.sign * cs[2 * j + 1];
        float x1 = ingot__cu_load_f32(p.x, dt, xo + i1 * p.xs[3]);
        float x2 = ingot__cu_load_f32(p.x, dt, xo + i2 * p.xs[3]);
        float x1c = ingot__cu_round_f32(dt, __fmul_rn(x1, c));
        float x2s = ingot__cu_round_f32(dt, __fmul_rn(x2, s));
        float x2c = ingot__cu_round_f32(dt, __fmul_rn(x2, c));
        float x1s = ingot__cu_round_f32(dt, __fmul_rn(x1, s));
        ingot__cu_store_f32(p.out, dt, oo + i1, __fsub_rn(x1c, x2s));
        ingot__cu_store_f32(p.out, dt, oo + i2, __fadd_rn(x2c, x1s));
    }
}

ingot_status ingot__cuda_rope(ingot_array *out, const ingot_array *x,
                              const ingot__rope_params *opts, bool inverse) {
    int64_t B = x->shape[0];
    if (x->size == 0) return INGOT_OK;
    rope_params p = {};
    p.x = ingot__data(x);
    p.dt = x->dtype;
    for (int d = 0; d < 4; d++) p.xs[d] = x->strides[d];
    p.out = ingot__data(out);
    p.H = x->shape[1];
    p.T = x->shape[2];
    p.Dh = x->shape[3];
    p.dims = opts->dims;
    p.half = opts->dims / 2;
    p.interleaved = opts->interleaved;
    p.sign = inverse ? -1.0f : 1.0f;
    p.base = opts->base;
    p.scale = opts->scale;
    p.offset = opts->offset;
    if (opts->freqs) {
        p.freqs = (const float *)ingot__data(opts->freqs);
        p.fs = opts->freqs->strides[0];
    }
    const ingot_array *pos = opts->positions;
    p.P = 1;
    if (pos) {
        p.pos = ingot__data(pos);
        p.pos_dt = pos->dtype;
        p.pos_ndim = pos->ndim;
        p.ps0 = pos->strides[0];
        p.ps1 = pos->ndim == 2 ? pos->strides[1] : 0;
        p.P = pos->ndim == 2 ? pos->shape[0] : 1;
    }
    size_t shared = (size_t)(2 * p.half) * sizeof(float);
    if (shared > MAX_SHARED_BYTES)
        return ingot__error(INGOT_ERR_LIMIT, "rope: %lld rotated dims exceed the CUDA kernel's %d",
                            (long long)p.dims, MAX_SHARED_BYTES / (int)sizeof(float));
    if (B * p.T > INT32_MAX)
        return ingot__error(INGOT_ERR_LIMIT, "rope: %lld rows of tokens exceed the CUDA kernel's",
                            (long long)(B * p.T));
    int64_t work = p.H * (p.half + p.Dh - p.dims);
    int64_t slices = (work + ROPE_THREADS - 1) / ROPE_THREADS;
    dim3 grid((unsigned)(B * p.T), (unsigned)(slices < 65535 ? slices : 65535));
    cudaStream_t s = ingot__cu_stream(ingot__cu_index(out));
    rope_kernel<<<grid, ROPE_THREADS, shared, s>>>(p);
    INGOT__CU_CHECK(cudaGetLastError(), "rope");
    return INGOT_OK;
}
