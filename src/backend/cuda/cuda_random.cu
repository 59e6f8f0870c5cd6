// Philox-4x32-10 random bits, bit-identical to src/backend/cpu/cpu_random.c:
// element i of a call is lane i % 4 of the block for counter
// rng.counter + i / 4 (mod 2^64) under key rng.key.
#include "backend/cuda/cuda_dtype.cuh"

// One Philox-4x32-10 block: counter (the 128-bit counter's low 64 bits, the
// rest 0) under key (64 bits).
__device__ inline uint4 philox(uint64_t counter, uint64_t key) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
#pragma unroll
    for (int r = 0; r < 10; r++) {
        uint32_t hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        uint32_t hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return make_uint4(c0, c1, c2, c3);
}

// out [n] u32: one thread computes block b (elements 4b .. 4b + 3, fewer in
// the last block) per grid-stride step; whole blocks go out as one 16-byte
// store when out is 16-byte aligned.
__global__ void random_bits_kernel(uint32_t *out, int64_t n, uint64_t counter, uint64_t key) {
    int64_t blocks = (n + 3) / 4, step = (int64_t)gridDim.x * blockDim.x;
    bool aligned = ((uintptr_t)out & 15) == 0;
    for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += step) {
        uint4 r = philox(counter + (uint64_t)b, key);
        int64_t i = 4 * b;
        if (aligned && i + 4 <= n) {
            *reinterpret_cast<uint4 *>(out + i) = r;
        } else {
            const uint32_t lanes[4] = {r.x, r.y, r.z, r.w};
            for (int k = 0; k < 4 && i + k < n; k++)
                out[i + k] = lanes[k];
        }
    }
}

ingot_status ingot__cuda_random_bits(ingot_array *out, ingot__philox rng) {
    // out: [n] u32, contiguous.
    int64_t n = out->size;
    if (n == 0) return INGOT_OK;
    cudaStream_t stream = ingot__cu_stream(ingot__cu_index(out));
    random_bits_kernel<<<ingot__cu_blocks((n + 3) / 4), 256, 0, stream>>>(
        (uint32_t *)(char *)ingot__data(out), n, rng.counter, rng.key);
    INGOT__CU_CHECK(cudaGetLastError(), "random_bits");
    return INGOT_OK;
}
