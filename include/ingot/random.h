/* ingot/random.h - seeded counter-based random numbers.
 *
 * Every value is a pure function of (key, counter, element index) through the
 * Philox-4x32-10 bijection, so results are identical across runs, platforms
 * and thread counts. An ingot_rng is a small value: copy it to replay a
 * stream. One counter gives four 32-bit words; a call that needs w words
 * (uniform: one per element, normal: two, categorical: one per logit)
 * advances rng->counter by ceil(w / 4), so consecutive calls give fresh
 * numbers. A call that fails on its arguments leaves rng unchanged. An rng is
 * used by one thread at a time. Results are CPU arrays (categorical: on the
 * logits' device; the noise is drawn on the CPU) and are not
 * differentiable. */
#ifndef INGOT_RANDOM_H
#define INGOT_RANDOM_H

#include <stdint.h>

#include "ingot/array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ingot_rng {
    uint64_t key;     /* the seed */
    uint64_t counter; /* the next unused counter */
} ingot_rng;

/* An rng at the start of the stream for seed. */
ingot_rng ingot_rng_seed(uint64_t seed);

/* A new independent rng derived from rng (rng itself advances by one
 * counter). rng must not be NULL. */
ingot_rng ingot_rng_split(ingot_rng *rng);

/* Uniform values in [low, high) of a float dtype: each element is
 * low + (high - low) * u with u in [0, 1) from 24 random bits, rounded to
 * dtype; a value that rounds to high (likely in f16/bf16) is replaced by the
 * largest value of dtype below high, so high is never returned.
 * Errors: INVALID_ARGUMENT (NULLs, low >= high, non-finite bounds, a bad
 * shape), DTYPE for non-float dtypes, LIMIT (size overflows),
 * OUT_OF_MEMORY. */
ingot_status ingot_random_uniform(ingot_array **out, ingot_rng *rng, ingot_dtype dtype,
                                  const int64_t *shape, int ndim, double low, double high);

/* Normal values with mean and std (>= 0) of a float dtype, by Box-Muller on
 * two uniforms per element. Errors: as ingot_random_uniform, with
 * INVALID_ARGUMENT for a negative or non-finite std or a non-finite mean. */
ingot_status ingot_random_normal(ingot_array **out, ingot_rng *rng, ingot_dtype dtype,
                                 const int64_t *shape, int ndim, double mean, double std);

/* Samples one index (i64) per row of unnormalised log-probabilities along
 * axis: out has logits' shape without that axis. Uses the Gumbel-max method
 * (argmax of logits + Gumbel noise, in f32), so -inf logits are never drawn
 * unless a whole row is -inf (then index 0). A NaN logit wins (argmax
 * semantics, ops.h): the first NaN of a row is always drawn.
 * Errors: INVALID_ARGUMENT (NULLs, axis out of range), SHAPE for an empty
 * axis, DTYPE for non-float logits, OUT_OF_MEMORY. */
ingot_status ingot_random_categorical(ingot_array **out, ingot_rng *rng,
                                      const ingot_array *logits, int axis);

#ifdef __cplusplus
}
#endif
#endif
