/* Seeded random arrays on top of the backend's Philox bits. */
#include <math.h>

#include "backend/backend.h"
#include "ingot/ops.h"
#include "ingot/random.h"

ingot_rng ingot_rng_seed(uint64_t seed) { return (ingot_rng){seed, 0}; }

ingot_rng ingot_rng_split(ingot_rng *rng) {
    /* The child's key mixes the parent's key and counter (splitmix64 finaliser). */
    uint64_t z = rng->key ^ (rng->counter++ * 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (ingot_rng){z ^ (z >> 31), 0};
}

/* n fresh u32 (CPU) from rng, which advances by ceil(n / 4) blocks. */
static ingot_status random_bits(ingot_array **out, ingot_rng *rng, int64_t n, const char *op) {
    ingot_status st = ingot__array_new(out, INGOT_U32, &n, 1, ingot_cpu(), op);
    if (st) return st;
    st = ingot__cpu_backend.random_bits(*out, (ingot__philox){rng->key, rng->counter});
    if (st) {
        ingot_array_free(*out);
        *out = NULL;
        return st;
    }
    rng->counter += (uint64_t)(n + 3) / 4;
    return INGOT_OK;
}

static ingot_status check_args(ingot_array **out, const ingot_rng *rng, ingot_dtype dtype,
                               const char *op) {
    INGOT__CHECK_NOT_NULL(out, op);
    *out = NULL;
    INGOT__CHECK_NOT_NULL(rng, op);
    if (!ingot_dtype_is_float(dtype))
        return ingot__error(INGOT_ERR_DTYPE, "%s: dtype %s is not a float type", op,
                            ingot_dtype_name(dtype));
    return INGOT_OK; /* the shape is checked when the result is allocated */
}

/* The largest value of dtype strictly below high (high itself if it already
 * rounds below). */
static double largest_below(double high, ingot_dtype dtype) {
    union { float f; uint16_t h; } v;
    ingot__store_f64(&v, dtype, nextafter(high, -INFINITY));
    for (int i = 0; i < 4 && ingot__load_f64(&v, dtype) >= high; i++) {
        /* Rounded up to high: step the encoding one unit toward -inf. */
        if (dtype == INGOT_F32)
            v.f = nextafterf(v.f, -INFINITY);
        else
            v.h = (v.h & 0x8000u) ? (uint16_t)(v.h + 1) : (v.h ? (uint16_t)(v.h - 1) : 0x8001u);
    }
    return ingot__load_f64(&v, dtype);
}

/* A new array of dtype and shape (*res) and per_element * its size random
 * words from rng (*bits); neither is set on error. */
static ingot_status new_with_bits(ingot_array **res, ingot_array **bits, ingot_rng *rng,
                                  ingot_dtype dtype, const int64_t *shape, int ndim,
                                  int64_t per_element, const char *op) {
    ingot_status st = ingot__array_new(res, dtype, shape, ndim, ingot_cpu(), op);
    if (st) return st;
    st = random_bits(bits, rng, per_element * (*res)->size, op);
    if (st) {
        ingot_array_free(*res);
        *res = NULL;
    }
    return st;
}

ingot_status ingot_random_uniform(ingot_array **out, ingot_rng *rng, ingot_dtype dtype,
                                  const int64_t *shape, int ndim, double low, double high) {
    ingot_status st = check_args(out, rng, dtype, "random_uniform");
    if (st) return st;
    if (!isfinite(low) || !isfinite(high) || !(low < high))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "random_uniform: needs finite low < high (got %g, %g)", low, high);
    ingot_array *bits, *res; /* [size] u32; shape */
    st = new_with_bits(&res, &bits, rng, dtype, shape, ndim, 1, "random_uniform");
    if (st) return st;
    const uint32_t *b = ingot__data(bits);
    char *dst = ingot__data(res);
    size_t sz = ingot_dtype_size(dtype);
    double top = largest_below(high, dtype);
    for (int64_t i = 0; i < res->size; i++) {
        double u = (double)(b[i] >> 8) * 0x1p-24; /* [0, 1) in 24 bits */
        double v = low + (high - low) * u;
        ingot__store_f64(dst + i * (int64_t)sz, dtype, v);
        if (ingot__load_f64(dst + i * (int64_t)sz, dtype) >= high)
            ingot__store_f64(dst + i * (int64_t)sz, dtype, top);
    }
    ingot_array_free(bits);
    *out = res;
    return INGOT_OK;
}

ingot_status ingot_random_normal(ingot_array **out, ingot_rng *rng, ingot_dtype dtype,
                                 const int64_t *shape, int ndim, double mean, double std) {
    ingot_status st = check_args(out, rng, dtype, "random_normal");
    if (st) return st;
    if (!isfinite(mean) || !isfinite(std) || std < 0)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "random_normal: needs a finite mean and std >= 0 (got %g, %g)", mean,
                            std);
    ingot_array *bits, *res; /* [2 * size] u32; shape */
    st = new_with_bits(&res, &bits, rng, dtype, shape, ndim, 2, "random_normal");
    if (st) return st;
    const uint32_t *b = ingot__data(bits);
    char *dst = ingot__data(res);
    size_t sz = ingot_dtype_size(dtype);
    for (int64_t i = 0; i < res->size; i++) {
        /* Box-Muller: u1 in (0, 1], u2 in [0, 1). */
        double u1 = ((double)(b[2 * i] >> 8) + 1.0) * 0x1p-24;
        double u2 = (double)(b[2 * i + 1] >> 8) * 0x1p-24;
        double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
        ingot__store_f64(dst + i * (int64_t)sz, dtype, mean + std * z);
    }
    ingot_array_free(bits);
    *out = res;
    return INGOT_OK;
}

ingot_status ingot_random_categorical(ingot_array **out, ingot_rng *rng,
                                      const ingot_array *logits, int axis) {
    INGOT__CHECK_NOT_NULL(out, "random_categorical");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(rng, "random_categorical");
    INGOT__CHECK_NOT_NULL(logits, "random_categorical");
    if (!ingot_dtype_is_float(logits->dtype))
        return ingot__error(INGOT_ERR_DTYPE, "random_categorical: logits are %s, not a float type",
                            ingot_dtype_name(logits->dtype));
    ingot_status st = ingot__norm_axis(&axis, logits->ndim, "random_categorical");
    if (st) return st;
    if (logits->shape[axis] == 0)
        return ingot__error(INGOT_ERR_SHAPE, "random_categorical: axis %d is empty", axis);
    /* Gumbel-max: argmax(logits + g) with g = -log(-log(u)), u in (0, 1). */
    ingot_array *bits, *gumbel, *noisy = NULL; /* [size] u32; logits' shape (f32, twice) */
    st = new_with_bits(&gumbel, &bits, rng, INGOT_F32, logits->shape, logits->ndim, 1,
                       "random_categorical");
    if (st) return st;
    const uint32_t *b = ingot__data(bits);
    float *g = ingot__data(gumbel);
    for (int64_t i = 0; i < gumbel->size; i++) {
        double u = ((double)(b[i] >> 8) + 0.5) * 0x1p-24;
        g[i] = (float)-log(-log(u));
    }
    ingot_array_free(bits);
    ingot_array *l32 = NULL, *gd = NULL; /* logits in f32; the noise on their device */
    st = ingot_astype(&l32, logits, INGOT_F32);
    if (st == INGOT_OK) st = ingot_array_to_device(&gd, gumbel, ingot__device(logits));
    if (st == INGOT_OK) st = ingot_add(&noisy, l32, gd);
    ingot_array_free(l32);
    ingot_array_free(gd);
    ingot_array_free(gumbel);
    if (st == INGOT_OK) st = ingot_argmax(out, noisy, axis, false);
    ingot_array_free(noisy);
    return st;
}
