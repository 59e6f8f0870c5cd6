/* Philox-4x32-10 random bits (Salmon et al., "Parallel random numbers: as
 * easy as 1, 2, 3", SC 2011). Element i of a call is lane i % 4 of the block
 * for counter rng.counter + i / 4, so any split of the work gives the same
 * bits. */
#include "backend/cpu/cpu.h"

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

/* One Philox-4x32-10 block: ctr (128 bits) under key (64 bits). */
static void philox(uint32_t out[4], uint64_t counter, uint64_t key) {
    uint32_t c[4] = {(uint32_t)counter, (uint32_t)(counter >> 32), 0, 0};
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(0xD2511F53u, c[0], &hi0, &lo0);
        mulhilo(0xCD9E8D57u, c[2], &hi1, &lo1);
        uint32_t n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
        c[0] = n0;
        c[1] = lo1;
        c[2] = n2;
        c[3] = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    memcpy(out, c, sizeof c);
}

typedef struct bits_job {
    uint32_t *out;
    ingot__philox rng;
} bits_job;

static void bits_range(void *ctx, int64_t begin, int64_t end) {
    const bits_job *job = ctx;
    /* Whole blocks of 4 elements per item. */
    for (int64_t b = begin; b < end; b++) {
        uint32_t block[4];
        philox(block, job->rng.counter + (uint64_t)b, job->rng.key);
        memcpy(job->out + 4 * b, block, sizeof block);
    }
}

ingot_status ingot__cpu_random_bits(ingot_array *out, ingot__philox rng) {
    /* [n] u32 */
    int64_t n = out->size, whole = n / 4;
    uint32_t *dst = ingot__data(out);
    bits_job job = {dst, rng};
    ingot__parallel_for(whole, 4096, bits_range, &job);
    if (n % 4) {
        uint32_t block[4];
        philox(block, rng.counter + (uint64_t)whole, rng.key);
        memcpy(dst + 4 * whole, block, (size_t)(n % 4) * sizeof *block);
    }
    return INGOT_OK;
}
