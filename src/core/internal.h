/* Library-internal core: the array struct, error helpers, dtype conversion,
 * strided iteration and the autograd recording hook. Not installed. */
#ifndef INGOT_CORE_INTERNAL_H
#define INGOT_CORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingot/array.h"
#include "ingot/status.h"

/* The CUDA plugin compiles this header as C++ (nvcc): std::atomic<long> has
 * the layout of C11's atomic_long on every compiler we build with. */
#ifdef __cplusplus
#include <atomic>
typedef std::atomic<long> ingot__atomic_long;
extern "C" {
#else
#include <stdatomic.h>
typedef atomic_long ingot__atomic_long;
#endif

/* ---- errors ---- */

/* Sets the thread's error message (printf format) and returns status. */
ingot_status ingot__error(ingot_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Formats a shape as "(4,8)" into buf (at least 8 + 21 * INGOT_MAX_DIMS bytes). */
#define INGOT__SHAPE_STR_MAX (8 + 21 * INGOT_MAX_DIMS)
const char *ingot__shape_str(char *buf, const int64_t *shape, int ndim);

/* Shorthand for the common NULL checks at API entry. */
#define INGOT__CHECK_NOT_NULL(ptr, op)                                                        \
    do {                                                                                      \
        if (!(ptr)) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", (op),   \
                                        #ptr);                                                \
    } while (0)

/* ---- buffers and arrays ---- */

typedef struct ingot__buffer {
    ingot__atomic_long refs;
    void *data;
    size_t nbytes;
    ingot_device device;
    bool owned;               /* data came from the device's alloc (registry) */
    ingot_release_fn release; /* for wrapped memory: called once at the end; may be NULL */
    void *release_ctx;
} ingot__buffer;

struct ingot_array {
    ingot__atomic_long refs;
    ingot_dtype dtype;
    int ndim;
    int64_t shape[INGOT_MAX_DIMS];
    int64_t strides[INGOT_MAX_DIMS]; /* in elements; 0 for broadcast dims */
    int64_t offset;                  /* in elements from buf->data */
    int64_t size;                    /* product of shape */
    ingot__buffer *buf;
    /* autograd: node index on the tape of generation tape_gen, or -1 */
    uint64_t tape_gen;
    int64_t tape_node;
};

/* A new contiguous, uninitialised array on device. Validates dtype and shape
 * (ndim in [0, 8], dims >= 0, byte size without overflow); `op` names the
 * caller in error messages. Errors: DTYPE, INVALID_ARGUMENT, LIMIT, DEVICE
 * (no such device), OUT_OF_MEMORY. */
ingot_status ingot__array_new(ingot_array **out, ingot_dtype dtype, const int64_t *shape, int ndim,
                              ingot_device device, const char *op);

/* The device of a's buffer. */
static inline ingot_device ingot__device(const ingot_array *a) { return a->buf->device; }

/* A new contiguous, uninitialised array on a's device with a's shape. */
ingot_status ingot__array_new_like(ingot_array **out, const ingot_array *a, ingot_dtype dtype);

/* A view sharing base's buffer with the given shape, strides and offset
 * (elements). Not recorded for autograd. */
ingot_status ingot__array_view(ingot_array **out, const ingot_array *base, const int64_t *shape,
                               const int64_t *strides, int ndim, int64_t offset);

/* a viewed with `shape` (ndim >= a->ndim dims, a NumPy broadcast of a's shape
 * that the caller has checked): 0 strides on the added leading dims and on
 * dims of size 1 that are stretched. Not recorded for autograd. */
ingot_status ingot__broadcast_view(ingot_array **out, const ingot_array *a, const int64_t *shape,
                                   int ndim);

/* Pointer to element 0 of a (buffer data + offset). */
static inline void *ingot__data(const ingot_array *a) {
    return (char *)a->buf->data + a->offset * (int64_t)ingot_dtype_size(a->dtype);
}

/* Row-major strides for shape (inline: the CUDA plugin uses it too). */
static inline void ingot__contiguous_strides(int64_t *strides, const int64_t *shape, int ndim) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

/* strtod and snprintf in the "C" numeric locale (a decimal point), whatever
 * the host program's LC_NUMERIC is (src/core/cnumeric.c). */
double ingot__strtod_c(const char *s, char **end);
int ingot__snprintf_c(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Product of dims, or -1 on overflow past INT64_MAX / 2. */
int64_t ingot__shape_size(const int64_t *shape, int ndim);

/* Normalises a possibly negative axis for ndim dims into *axis.
 * Errors: INVALID_ARGUMENT naming op. */
ingot_status ingot__norm_axis(int *axis, int ndim, const char *op);

/* Turns (axes, naxes) as documented in ops.h into a flag per axis.
 * Errors: INVALID_ARGUMENT for out-of-range or duplicate axes. */
ingot_status ingot__axes_mask(bool mask[INGOT_MAX_DIMS], const int *axes, int naxes, int ndim,
                              const char *op);

/* Same dims? */
bool ingot__same_shape(const ingot_array *a, const ingot_array *b);

/* ---- dtype conversion ---- */

/* Inline so that kernels converting whole rows stay fast. */

static inline uint32_t ingot__f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float ingot__bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float ingot__bf16_to_f32(uint16_t h) { return ingot__bits_f32((uint32_t)h << 16); }

/* Round to nearest even; NaN stays (quiet) NaN. */
static inline uint16_t ingot__f32_to_bf16(float f) {
    uint32_t x = ingot__f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

static inline float ingot__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0) { /* zero or subnormal: mant * 2^-24 */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    if (exp == 31) return ingot__bits_f32(sign | 0x7f800000u | (mant << 13));
    return ingot__bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* Round to nearest even; overflow gives inf. */
static inline uint16_t ingot__f32_to_f16(float f) {
    uint32_t x = ingot__f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | (ax > 0x7f800000u ? 0x7e00 : 0x7c00);
    if (ax >= 0x477ff000u) return sign | 0x7c00; /* >= 65520 rounds to inf */
    if (ax < 0x38800000u) {                      /* below 2^-14: subnormal or zero */
        /* |f| * 2^24 is exact and below 2^10; adding 1.5 * 2^23 rounds it to
         * an integer, nearest even, in the low mantissa bits. */
        float scaled = ingot__bits_f32(ax) * 0x1p24f + 0x1.8p23f;
        return sign | (uint16_t)(ingot__f32_bits(scaled) & 0x7ffu);
    }
    ax += 0xfffu + ((ax >> 13) & 1u);
    return sign | (uint16_t)((ax - 0x38000000u) >> 13);
}

/* v rounded to dtype (f16, bf16; other dtypes unchanged), as f32. */
static inline float ingot__round_f32(ingot_dtype dtype, float v) {
    if (dtype == INGOT_BF16) return ingot__bf16_to_f32(ingot__f32_to_bf16(v));
    if (dtype == INGOT_F16) return ingot__f16_to_f32(ingot__f32_to_f16(v));
    return v;
}

/* Load/store one element of any dtype as double (exact for every dtype
 * except i64 beyond 2^53). Stores convert as ingot_astype does. */
double ingot__load_f64(const void *p, ingot_dtype dtype);
void ingot__store_f64(void *p, ingot_dtype dtype, double v);
/* Load/store as int64 (floats truncate and saturate, NaN -> 0). */
int64_t ingot__load_i64(const void *p, ingot_dtype dtype);
void ingot__store_i64(void *p, ingot_dtype dtype, int64_t v);

/* ---- strided iteration ----
 * Walks a shape in row-major order while tracking an element offset for up
 * to INGOT__ITER_MAX_OPS operands with their own strides (0 = broadcast). */
#define INGOT__ITER_MAX_OPS 4
typedef struct ingot__iter {
    int ndim;
    int nops;
    int64_t shape[INGOT_MAX_DIMS];
    int64_t idx[INGOT_MAX_DIMS];
    int64_t strides[INGOT__ITER_MAX_OPS][INGOT_MAX_DIMS];
    int64_t off[INGOT__ITER_MAX_OPS]; /* current offsets, in elements */
} ingot__iter;

/* Starts at row-major linear index `start` of shape. strides[i] are operand
 * i's strides (ndim each); base[i] its starting element offset. */
void ingot__iter_init(ingot__iter *it, const int64_t *shape, int ndim, int nops,
                      const int64_t *const *strides, const int64_t *base, int64_t start);
/* Advances to the next element. */
static inline void ingot__iter_next(ingot__iter *it) {
    for (int d = it->ndim - 1; d >= 0; d--) {
        for (int o = 0; o < it->nops; o++) it->off[o] += it->strides[o][d];
        if (++it->idx[d] < it->shape[d]) return;
        for (int o = 0; o < it->nops; o++) it->off[o] -= it->strides[o][d] * it->shape[d];
        it->idx[d] = 0;
    }
}

/* ---- CPU parallelism ----
 * Runs fn(ctx, begin, end) over [0, n) split into contiguous chunks of at least
 * `grain` items on the thread pool, and waits. Chunks never overlap, so a
 * kernel whose items are independent gives identical results for any thread
 * count. Nested calls run inline. */
typedef void (*ingot__range_fn)(void *ctx, int64_t begin, int64_t end);
void ingot__parallel_for(int64_t n, int64_t grain, ingot__range_fn fn, void *ctx);

/* ---- growing arrays ---- */

/* Room for need elements of elem bytes in the malloc'd array items of *cap
 * elements: items itself when it has the room, else items realloc'd to
 * twice its capacity (first_cap when it has none) as often as need asks,
 * with *cap updated. NULL when the size overflows or realloc fails; items
 * and *cap are then unchanged (the caller still owns items). need >= 1. */
static inline void *ingot__grow(void *items, size_t *cap, size_t need, size_t elem,
                                size_t first_cap) {
    if (need <= *cap) return items;
    size_t c = *cap ? *cap : first_cap;
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : 2 * c;
    if (c > SIZE_MAX / elem) return NULL;
    void *grown = realloc(items, c * elem);
    if (grown) *cap = c;
    return grown;
}

/* ---- devices: the registry ---- */
/* The device types ingot knows (ingot_device_type runs from 0 below this). */
#define INGOT__DEVICE_TYPES 2

/* The name of a device type in text and messages ("cpu", "cuda"; "unknown"
 * outside the enum): "%s:%d" with the index names a device. */
const char *ingot__device_type_name(ingot_device_type type);

/* What a device type gives the array floor (index = the device ordinal, in
 * [0, count())). The CPU's entry is core's own; every other type's comes
 * from its plugin (core/plugin.h). Entries the CPU has no use for (upload,
 * download) are NULL in its entry.
 *  - count: usable devices (0 without a GPU or driver);
 *  - alloc: *ptr = nbytes (> 0) of uninitialised memory, 256-byte aligned
 *    (64 on the CPU); OUT_OF_MEMORY with a message when the device is full
 *    or the limit would be passed. free gives back what alloc gave, with the
 *    same nbytes; ptr NULL is ignored. Device memory is freed in stream
 *    order: work already queued may still read it, later work may reuse it;
 *  - upload, download: nbytes from host memory to device memory or back.
 *    download returns once the bytes are on the host, after all work queued
 *    before it; upload may return before the copy ends, but src can be
 *    reused at once;
 *  - synchronize: waits for all queued work; reports a failed kernel;
 *  - memory_stats .. empty_cache: as documented in ingot/device.h. */
typedef struct ingot__device_ops {
    int (*count)(void);
    ingot_status (*alloc)(void **ptr, size_t nbytes, int index);
    void (*free)(void *ptr, size_t nbytes, int index);
    ingot_status (*upload)(void *dst, const void *src, size_t nbytes, int index);
    ingot_status (*download)(void *dst, const void *src, size_t nbytes, int index);
    ingot_status (*synchronize)(int index);
    ingot_status (*memory_stats)(ingot_memory_stats *out, int index);
    void (*reset_peak)(int index);
    ingot_status (*set_memory_limit)(size_t bytes, int index);
    ingot_status (*empty_cache)(int index);
} ingot__device_ops;

/* The entry of device type `type`, its plugin loaded on the first call
 * (thread-safe); NULL for a type outside the enum or whose plugin is not
 * there (the machine has no such device). */
const ingot__device_ops *ingot__device_ops_for(ingot_device_type type);

/* The entry of `device` when that device exists; else NULL with DEVICE
 * "op: no device cuda:3" set. */
const ingot__device_ops *ingot__device_ops_of(ingot_device device, const char *op);

/* The kernel table that type's plugin brought (an ingot__backend, which
 * src/backend reads: opaque here); NULL for the CPU, whose table is built
 * into src/backend, and for a type without a plugin. */
const void *ingot__device_kernels(ingot_device_type type);

/* ---- memory accounting (CPU) ---- */
void *ingot__host_alloc(size_t nbytes); /* 64-byte aligned, counted; NULL on failure */
void ingot__host_free(void *p, size_t nbytes);

/* The CPU's registry entry (memory.c). */
extern const ingot__device_ops ingot__cpu_device;

#ifdef __cplusplus
}
#endif
#endif
