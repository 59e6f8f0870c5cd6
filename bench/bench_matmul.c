/* Small matmul benchmark (not a test): GFLOP/s of ingot_matmul for a few
 * LLM-like shapes in f32, bf16 and f16, with b given as the transpose of a
 * row-major [N, K] weight (x @ W^T, as a linear layer does).
 *
 * Build from a configured tree, e.g.:
 *   clang -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/bench_matmul.c build/libingot.a \
 *     $(pkg-config --libs openblas jansson) -lpthread -lm -ldl -o bench_matmul
 * Usage: bench_matmul [threads]   (default: all online processors) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ingot/ingot.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* An array of dtype and shape with values in [-1, 1). */
static ingot_array *filled_array(ingot_dtype dtype, const int64_t *shape, int ndim,
                                 unsigned seed) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return NULL;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((double)(s >> 11) * 0x1p-53 * 2.0 - 1.0);
    }
    ingot_array *f = NULL, *a = NULL;
    if (ingot_array_from_data(&f, v, INGOT_F32, shape, ndim) == INGOT_OK)
        ingot_astype(&a, f, dtype);
    ingot_array_free(f);
    free(v);
    return a;
}

/* Seconds per x[M, K] @ W[N, K]^T, the best of a few repetitions. */
static double time_linear(ingot_dtype dtype, int64_t m, int64_t k, int64_t n) {
    ingot_array *x = filled_array(dtype, (int64_t[]){m, k}, 2, 1);
    ingot_array *w = filled_array(dtype, (int64_t[]){n, k}, 2, 2);
    ingot_array *wt = NULL;
    double best = -1;
    if (x && w && ingot_transpose(&wt, w, NULL, 0) == INGOT_OK) {
        for (int rep = 0; rep < 5; rep++) {
            ingot_array *out = NULL;
            double t0 = now_s();
            ingot_status st = ingot_matmul(&out, x, wt);
            double dt = now_s() - t0;
            ingot_array_free(out);
            if (st != INGOT_OK) {
                fprintf(stderr, "matmul failed: %s\n", ingot_last_error());
                best = -1;
                break;
            }
            if (best < 0 || dt < best) best = dt;
        }
    }
    ingot_array_free(wt);
    ingot_array_free(w);
    ingot_array_free(x);
    return best;
}

int main(int argc, char **argv) {
    if (argc > 1) ingot_set_num_threads(atoi(argv[1]));
    static const int64_t shapes[][3] = {
        {1, 2048, 2048}, {16, 2048, 2048}, {128, 2048, 2048}, {512, 512, 512}, {512, 2048, 8192},
    };
    static const ingot_dtype dtypes[] = {INGOT_F32, INGOT_BF16, INGOT_F16};
    printf("threads %d\n%-20s %6s %10s %10s\n", ingot_get_num_threads(), "M x K x N", "dtype",
           "ms", "GFLOP/s");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
            int64_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
            double t = time_linear(dtypes[d], m, k, n);
            char dims[64];
            snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)m, (long long)k,
                     (long long)n);
            if (t < 0) return 1;
            printf("%-20s %6s %10.3f %10.1f\n", dims, ingot_dtype_name(dtypes[d]), t * 1e3,
                   2.0 * (double)(m * k * n) / t * 1e-9);
        }
    }
    return 0;
}
