/* CPU kernel for rope (its VJP is the same kernel with inverse = true).
 *
 * The front end passes resolved options: dims even in [0, head_dim], base > 0,
 * scale != 0, freqs NULL or f32 [dims/2], positions NULL or integer [T] or
 * [1 or B, T]. Arithmetic follows Hugging Face's Llama rotary code:
 *   inv_freq[i] = 1 / powf(base, (float)(2i) / (float)dims)   (f32; or freqs)
 *   angle = ((float)pos * scale) * inv_freq[i]                (f32)
 *   c, s = cosf(angle), sinf(angle), rounded to x's dtype
 *   y1 = R(R(x1 c) - R(x2 s)), y2 = R(R(x2 c) + R(x1 s))
 * where R rounds to x's dtype (the identity for f32): for f16/bf16 this is
 * `q * cos + rotate_half(q) * sin` evaluated in the input dtype, as
 * transformers does. The inverse negates s. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "backend/cpu/cpu.h"

typedef struct rope_args {
    const ingot_array *x;           /* [B, H, T, Dh] */
    ingot_array *out;               /* [B, H, T, Dh] contiguous */
    const ingot__rope_params *opts; /* resolved */
    float *inv_freq;                /* [half] */
    float *cs;                      /* [P, T, half, 2]: cos and sin of each angle */
    int64_t P;                      /* 1, or B when positions are per batch row */
    int64_t H, T, Dh, half;
    bool inverse;
    atomic_bool failed;
} rope_args;

/* Fills the cos/sin table for position rows [begin, end) of P * T. */
static void rope_table(void *ctx, int64_t begin, int64_t end) {
    rope_args *a = ctx;
    const ingot__rope_params *o = a->opts;
    const ingot_array *pos = o->positions;
    ingot_dtype dt = a->x->dtype;
    for (int64_t r = begin; r < end; r++) {
        int64_t p = r / a->T, t = r % a->T;
        int64_t position = o->offset + t;
        if (pos) {
            int64_t off = pos->ndim == 2 ? p * pos->strides[0] + t * pos->strides[1]
                                         : t * pos->strides[0];
            position = ingot__load_i64((const char *)ingot__data(pos) +
                                           (size_t)off * ingot_dtype_size(pos->dtype),
                                       pos->dtype);
        }
        float scaled = (float)position * o->scale;
        float *cs = a->cs + r * a->half * 2;
        for (int64_t i = 0; i < a->half; i++) {
            float angle = scaled * a->inv_freq[i];
            cs[2 * i] = ingot__round_f32(dt, cosf(angle));
            cs[2 * i + 1] = ingot__round_f32(dt, sinf(angle));
        }
    }
}

/* Rotates rows [begin, end) of B * H * T. */
static void rope_rows(void *ctx, int64_t begin, int64_t end) {
    rope_args *a = ctx;
    const ingot_array *x = a->x;
    ingot_dtype dt = x->dtype;
    int64_t Dh = a->Dh, half = a->half;
    float *row = malloc((size_t)(Dh > 0 ? Dh : 1) * sizeof(float)); /* [Dh] */
    if (!row) {
        atomic_store(&a->failed, true);
        return;
    }
    float sign = a->inverse ? -1.0f : 1.0f;
    for (int64_t r = begin; r < end; r++) {
        int64_t t = r % a->T, h = (r / a->T) % a->H, b = r / (a->T * a->H);
        int64_t xoff = b * x->strides[0] + h * x->strides[1] + t * x->strides[2];
        ingot__cpu_load_row_f32(row, x, xoff, x->strides[3], Dh);
        const float *cs = a->cs + ((a->P == 1 ? 0 : b) * a->T + t) * half * 2;
        for (int64_t i = 0; i < half; i++) {
            int64_t i1 = a->opts->interleaved ? 2 * i : i;
            int64_t i2 = a->opts->interleaved ? 2 * i + 1 : i + half;
            float c = cs[2 * i], s = sign * cs[2 * i + 1];
            float x1 = row[i1], x2 = row[i2];
            float x1c = ingot__round_f32(dt, x1 * c), x2s = ingot__round_f32(dt, x2 * s);
            float x2c = ingot__round_f32(dt, x2 * c), x1s = ingot__round_f32(dt, x1 * s);
            row[i1] = x1c - x2s;
            row[i2] = x2c + x1s;
        }
        ingot__cpu_store_row_f32(a->out, r * Dh, 1, row, Dh);
    }
    free(row);
}

ingot_status ingot__cpu_rope(ingot_array *out, const ingot_array *x, const ingot__rope_params *opts,
                             bool inverse) {
    rope_args a = {.x = x, .out = out, .opts = opts, .inverse = inverse};
    int64_t B = x->shape[0];
    a.H = x->shape[1];
    a.T = x->shape[2];
    a.Dh = x->shape[3];
    a.half = opts->dims / 2;
    const ingot_array *pos = opts->positions;
    a.P = pos && pos->ndim == 2 ? pos->shape[0] : 1;
    if (ingot__shape_size(x->shape, 4) == 0) return INGOT_OK;
    a.inv_freq = malloc((size_t)(a.half + 1) * sizeof(float));
    a.cs = malloc((size_t)(a.P * a.T * a.half * 2 + 1) * sizeof(float));
    if (!a.inv_freq || !a.cs) {
        free(a.inv_freq);
        free(a.cs);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "rope: out of memory for the angle table");
    }
    for (int64_t i = 0; i < a.half; i++) {
        a.inv_freq[i] = opts->freqs ? ingot__cpu_load_f32(opts->freqs, i * opts->freqs->strides[0])
                                    : 1.0f / powf(opts->base, (float)(2 * i) / (float)opts->dims);
    }
    atomic_init(&a.failed, false);
    ingot__parallel_for(a.P * a.T, 64, rope_table, &a);
    ingot__parallel_for(B * a.H * a.T, 64, rope_rows, &a);
    free(a.inv_freq);
    free(a.cs);
    if (atomic_load(&a.failed))
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "rope: out of memory for a row buffer");
    return INGOT_OK;
}
