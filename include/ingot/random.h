/* ingot/random.h - seeded counter-based random numbers.
 *
 * Every value is a pure function of (key, counter, element index) through the
 * Philox-4x32-10 bijection, so results are identical across runs, platforms
 * and thread counts. An ingot_rng is a small value: copy it to replay a
 * stream. Each call consumes as many counters as it produces elements and
 * advances rng->counter past them, so consecutive calls give fresh numbers.
 * An rng is used by one thread at a time. Results are not differentiable. */
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

/* A new independent rng derived from rng (rng itself advances by one). */
ingot_rng ingot_rng_split(ingot_rng *rng);

/* Uniform values in [low, high) of a float dtype; each element uses 24 random
 * bits (for f32; fewer for f16/bf16 so that high is never reached).
 * Errors: INVALID_ARGUMENT (NULLs, low >= high, non-finite bounds), DTYPE for
 * non-float dtypes, SHAPE/LIMIT for a bad shape. */
ingot_status ingot_random_uniform(ingot_array **out, ingot_rng *rng, ingot_dtype dtype,
                                  const int64_t *shape, int ndim, double low, double high);

/* Normal values with mean and std (>= 0) of a float dtype, by Box-Muller on
 * two uniforms per element. */
ingot_status ingot_random_normal(ingot_array **out, ingot_rng *rng, ingot_dtype dtype,
                                 const int64_t *shape, int ndim, double mean, double std);

/* Samples one index (i64) per row of unnormalised log-probabilities along
 * axis: out has logits' shape without that axis. Uses the Gumbel-max method
 * (argmax of logits + Gumbel noise), so -inf logits are never drawn.
 * Errors: SHAPE for an empty axis, DTYPE for non-float logits. */
ingot_status ingot_random_categorical(ingot_array **out, ingot_rng *rng,
                                      const ingot_array *logits, int axis);

#ifdef __cplusplus
}
#endif
#endif
