/* Per-element math shared by the CPU and CUDA elementwise kernels, so that
 * both backends compute every element with one formula. Floats are computed
 * in f32; integers (and bool) in int64 wrapping as uint64; the float-only ops
 * (div, pow, exp, ...) never reach the integer functions (the front end
 * converts to f32). Under nvcc the functions are host and device. */
#ifndef INGOT_BACKEND_ELEM_H
#define INGOT_BACKEND_ELEM_H

#include <math.h>
#include <stdint.h>

#include "backend/backend.h"

#ifdef __CUDACC__
#define INGOT__ELEM __host__ __device__ static inline
#else
#define INGOT__ELEM static inline
#endif

INGOT__ELEM float ingot__unary_f32(ingot__unary_op op, float x) {
    const float sqrt1_2 = 0.70710678118654752440f;
    const float inv_sqrt_2pi = 0.3989422804014327f;
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    const float c = 0.044715f;
    switch (op) {
    case INGOT__NEG: return -x;
    case INGOT__ABS: return fabsf(x);
    case INGOT__SQUARE: return x * x;
    case INGOT__EXP: return expf(x);
    case INGOT__LOG: return logf(x);
    case INGOT__SQRT: return sqrtf(x);
    case INGOT__RSQRT: return 1.0f / sqrtf(x);
    case INGOT__RECIPROCAL: return 1.0f / x;
    case INGOT__TANH: return tanhf(x);
    case INGOT__SIGMOID: return 1.0f / (1.0f + expf(-x));
    case INGOT__SILU: return x / (1.0f + expf(-x));
    case INGOT__GELU: return 0.5f * x * (1.0f + erff(x * sqrt1_2));
    case INGOT__GELU_TANH: return 0.5f * x * (1.0f + tanhf(k * (x + c * x * x * x)));
    case INGOT__SIN: return sinf(x);
    case INGOT__COS: return cosf(x);
    case INGOT__SIGN: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); /* keeps 0, -0, NaN */
    case INGOT__GELU_GRAD:
        return 0.5f * (1.0f + erff(x * sqrt1_2)) + x * inv_sqrt_2pi * expf(-0.5f * x * x);
    case INGOT__GELU_TANH_GRAD: {
        float t = tanhf(k * (x + c * x * x * x));
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * c * x * x);
    }
    case INGOT__UNARY_COUNT: break;
    }
    return x;
}

/* The unary ops that keep integers; others return x. */
INGOT__ELEM int64_t ingot__unary_i64(ingot__unary_op op, int64_t x) {
    uint64_t u = (uint64_t)x;
    switch (op) {
    case INGOT__NEG: return (int64_t)(0u - u);
    case INGOT__ABS: return x < 0 ? (int64_t)(0u - u) : x;
    case INGOT__SQUARE: return (int64_t)(u * u);
    case INGOT__SIGN: return (x > 0) - (x < 0);
    default: return x;
    }
}

/* Arithmetic (not comparisons). maximum/minimum: NaN wins, ties give x. */
INGOT__ELEM float ingot__binary_f32(ingot__binary_op op, float x, float y) {
    switch (op) {
    case INGOT__ADD: return x + y;
    case INGOT__SUB: return x - y;
    case INGOT__MUL: return x * y;
    case INGOT__DIV: return x / y;
    case INGOT__POW: return powf(x, y);
    case INGOT__MAXIMUM: return x != x ? x : (x >= y ? x : y);
    case INGOT__MINIMUM: return x != x ? x : (x <= y ? x : y);
    default: return 0.0f;
    }
}

INGOT__ELEM int64_t ingot__binary_i64(ingot__binary_op op, int64_t x, int64_t y) {
    switch (op) {
    case INGOT__ADD: return (int64_t)((uint64_t)x + (uint64_t)y);
    case INGOT__SUB: return (int64_t)((uint64_t)x - (uint64_t)y);
    case INGOT__MUL: return (int64_t)((uint64_t)x * (uint64_t)y);
    case INGOT__MAXIMUM: return x >= y ? x : y;
    case INGOT__MINIMUM: return x <= y ? x : y;
    default: return 0;
    }
}

/* Comparisons for either compute type (NaN makes all but NE false). */
#define INGOT__COMPARE(op, x, y)                                                                   \
    ((op) == INGOT__EQ   ? (x) == (y)                                                              \
     : (op) == INGOT__NE ? (x) != (y)                                                              \
     : (op) == INGOT__LT ? (x) < (y)                                                               \
     : (op) == INGOT__LE ? (x) <= (y)                                                              \
     : (op) == INGOT__GT ? (x) > (y)                                                               \
                         : (x) >= (y))

#endif
