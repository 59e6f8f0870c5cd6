/* The backend seam: one table of kernels per device type (memory and the
 * device count are the device registry's, core/internal.h).
 *
 * The op layer (src/ops) validates arguments, resolves shapes and dtypes,
 * allocates outputs and records autograd; it then calls a kernel from the
 * table of the inputs' device. Kernels trust their arguments:
 *  - outputs are freshly allocated, contiguous, on the backend's device;
 *  - inputs are arbitrary strided views on the same device, already broadcast
 *    to the shape the kernel documents (0 strides) and, where stated, already
 *    converted to the required dtype;
 *  - a kernel returns INGOT_OK, or an error status with the message set.
 * The CPU table is always present; another type's table comes with its
 * plugin (core/plugin.h), through the device registry. */
#ifndef INGOT_BACKEND_H
#define INGOT_BACKEND_H

#include "core/internal.h"

typedef enum ingot__unary_op {
    INGOT__NEG, INGOT__ABS, INGOT__SQUARE, INGOT__EXP, INGOT__LOG, INGOT__SQRT, INGOT__RSQRT,
    INGOT__RECIPROCAL, INGOT__TANH, INGOT__SIGMOID, INGOT__SILU, INGOT__GELU, INGOT__GELU_TANH,
    INGOT__SIN, INGOT__COS,
    INGOT__SIGN,           /* -1, 0, 1 (used by the abs gradient) */
    INGOT__GELU_GRAD,      /* d gelu / dx */
    INGOT__GELU_TANH_GRAD, /* d gelu_tanh / dx */
    INGOT__UNARY_COUNT
} ingot__unary_op;

typedef enum ingot__binary_op {
    INGOT__ADD, INGOT__SUB, INGOT__MUL, INGOT__DIV, INGOT__POW, INGOT__MAXIMUM, INGOT__MINIMUM,
    INGOT__EQ, INGOT__NE, INGOT__LT, INGOT__LE, INGOT__GT, INGOT__GE,
    INGOT__BINARY_COUNT
} ingot__binary_op;

typedef enum ingot__reduce_op {
    INGOT__RED_SUM, INGOT__RED_MAX, INGOT__RED_MIN, INGOT__RED_LOGSUMEXP,
    INGOT__RED_ARGMAX, INGOT__RED_ARGMIN,
    INGOT__REDUCE_COUNT
} ingot__reduce_op;

/* Parameters of the fast-op kernels, resolved by their front ends (src/ops)
 * from the public options of ingot/fast.h and ingot/random.h: no field is a
 * "0 means default" here. Arrays are borrowed for the call and on the
 * kernel's device. */
typedef struct ingot__rope_params {
    int dims;                     /* rotated features: even, in [2, head_dim] */
    bool interleaved;             /* pairs (2i, 2i+1); else halves (i, i + dims/2) */
    float base;                   /* theta: finite, > 0 */
    float scale;                  /* multiplies positions: finite */
    int64_t offset;               /* position of token 0 when positions is NULL */
    const ingot_array *freqs;     /* NULL or f32 [dims/2], replacing base */
    const ingot_array *positions; /* NULL or integer [T], [1, T] or [B, T] */
} ingot__rope_params;

typedef struct ingot__sdpa_params {
    float scale;               /* multiplies q.k: finite, set */
    bool causal;               /* query i sits at position Tk - Tq + i (or kv_len - Tq + i) */
    int64_t window;            /* > 0: keys j with p - j < window; 0: none */
    const ingot_array *mask;   /* NULL or an additive [B, Hq, Tq, Tk] view */
    const ingot_array *kv_len; /* NULL or an i32/i64 [B] view, values not yet clamped */
    int64_t max_kv_len;        /* >= 0: a bound of kv_len's values, a sizing hint only */
} ingot__sdpa_params;

/* The Philox counter stream: key (the seed) and the first counter. */
typedef struct ingot__philox {
    uint64_t key, counter;
} ingot__philox;

/* The kernel list, written once: X(P, name, parameters, device) for each
 * entry, in table order. Every kernel returns ingot_status; `device` names
 * the parameter (an array that is never NULL) whose device an error names.
 * P is passed through to X (a backend's name prefix, see below). Adding a
 * kernel: one line here, the kernel in each backend that has it, and
 * INGOT__PLUGIN_ABI (core/plugin.h) raised, since the table grows. */
#define INGOT__KERNELS(X, P)                                                                       \
    /* dst = src converted to dst's dtype; src has dst's shape. Unlike other                       \
     * outputs, dst may be any strided view without self-overlap (the                              \
     * backward of slicing writes into a slice of zeros). */                                       \
    X(P, copy, (ingot_array *dst, const ingot_array *src), src)                                    \
    /* dst[..., s + t, ...] = src[..., t, ...] along axis, for t < n = src's                       \
     * dim at axis, with s = start[0] (i64, on dst's device) read by the                           \
     * kernel and clamped to [0, dst's dim - n]: an offset that is device                          \
     * data, not a launch argument (KV-cache writes). dst and src have one                         \
     * dtype and the same shape except at axis (src's <= dst's); any strides,                      \
     * no overlap. */                                                                              \
    X(P, copy_at, (ingot_array *dst, const ingot_array *src, int axis, const ingot_array *start),  \
      dst)                                                                                         \
    /* dst[i] = start + i * step (converted to dst's dtype), dst 1-D. */                           \
    X(P, arange, (ingot_array *dst, double start, double step), dst)                               \
    /* dst[...] = value. */                                                                        \
    X(P, fill, (ingot_array *dst, double value), dst)                                              \
    /* out = op(a); a has out's shape and dtype. */                                                \
    X(P, unary, (ingot__unary_op op, ingot_array *out, const ingot_array *a), a)                   \
    /* out = a op b; a and b have out's shape and one common dtype (out's, or                      \
     * bool out for comparisons). */                                                               \
    X(P, binary,                                                                                   \
      (ingot__binary_op op, ingot_array *out, const ingot_array *a, const ingot_array *b), a)      \
    /* out = cond ? a : b; all have out's shape; a, b have out's dtype. */                         \
    X(P, where,                                                                                    \
      (ingot_array *out, const ingot_array *cond, const ingot_array *a, const ingot_array *b),     \
      cond)                                                                                        \
    /* out has a's shape with reduced axes set to 1 (keepdims); axes flagged in                    \
     * `reduce`. Sum of integers: out i64. Arg ops: out i64. */                                    \
    X(P, reduce,                                                                                   \
      (ingot__reduce_op op, ingot_array *out, const ingot_array *a,                                \
       const bool reduce[INGOT_MAX_DIMS]),                                                         \
      a)                                                                                           \
    /* Softmax (log_softmax when log) along axis; out has a's shape, float. */                     \
    X(P, softmax, (ingot_array *out, const ingot_array *a, int axis, bool log), a)                 \
    X(P, cumsum,                                                                                   \
      (ingot_array *out, const ingot_array *a, int axis, bool reverse, bool exclusive), a)         \
    /* out[..., M, N] = a[..., M, K] @ b[..., K, N]; batch dims of a and b are                     \
     * already broadcast to out's; one float dtype for all three. */                               \
    X(P, matmul, (ingot_array *out, const ingot_array *a, const ingot_array *b), a)                \
    /* out = a with the `axis` entries picked by idx (take_along_axis): a and                      \
     * idx have out's shape except a's dim at axis; idx values are in range. */                    \
    X(P, gather, (ingot_array *out, const ingot_array *a, const ingot_array *idx, int axis), a)    \
    /* out (already a copy of the base) gets out[..idx..] = values along axis                      \
     * (accumulate: +=); idx and values have one shape; values out's dtype. */                     \
    X(P, scatter,                                                                                  \
      (ingot_array *out, const ingot_array *idx, const ingot_array *values, int axis,              \
       bool accumulate),                                                                           \
      out)                                                                                         \
    /* Stable ascending sort along axis: values and/or indices (either NULL). */                   \
    X(P, sort, (ingot_array *values, ingot_array *indices, const ingot_array *a, int axis), a)     \
    /* Indices of a partition around kth along axis. */                                            \
    X(P, argpartition, (ingot_array *indices, const ingot_array *a, int kth, int axis), a)         \
    /* out = the Philox bits for counters rng.counter + i (u32 out). */                            \
    X(P, random_bits, (ingot_array *out, ingot__philox rng), out)                                  \
    /* fast ops, forward and backward side by side; see ingot/fast.h. */                           \
    X(P, rms_norm, (ingot_array *out, const ingot_array *x, const ingot_array *w, float eps), x)   \
    X(P, rms_norm_vjp,                                                                             \
      (ingot_array *dx, ingot_array *dw, const ingot_array *x, const ingot_array *w,               \
       const ingot_array *g, float eps),                                                           \
      x)                                                                                           \
    X(P, layer_norm,                                                                               \
      (ingot_array *out, const ingot_array *x, const ingot_array *w, const ingot_array *b,         \
       float eps),                                                                                 \
      x)                                                                                           \
    X(P, layer_norm_vjp,                                                                           \
      (ingot_array *dx, ingot_array *dw, ingot_array *db, const ingot_array *x,                    \
       const ingot_array *w, const ingot_array *b, const ingot_array *g, float eps),               \
      x)                                                                                           \
    /* inverse rotates by -angle (the VJP of rope). */                                             \
    X(P, rope,                                                                                     \
      (ingot_array *out, const ingot_array *x, const ingot__rope_params *opts, bool inverse), x)   \
    /* lse (optional, f32 [B, Hq, Tq]) receives the row log-sum-exp for the                        \
     * backward pass. */                                                                           \
    X(P, sdpa,                                                                                     \
      (ingot_array *out, ingot_array *lse, const ingot_array *q, const ingot_array *k,             \
       const ingot_array *v, const ingot__sdpa_params *opts),                                      \
      q)                                                                                           \
    X(P, sdpa_vjp,                                                                                 \
      (ingot_array *dq, ingot_array *dk, ingot_array *dv, const ingot_array *q,                    \
       const ingot_array *k, const ingot_array *v, const ingot_array *out, const ingot_array *lse, \
       const ingot_array *g, const ingot__sdpa_params *opts),                                      \
      q)

/* What the list generates: a table field; and, for a backend whose kernels
 * are named PREFIX##name (ingot__cpu_, ingot__cuda_), each prototype and
 * each table initialiser: INGOT__KERNELS(INGOT__KERNEL_PROTOTYPE, prefix). */
#define INGOT__KERNEL_FIELD(P, name, params, device) ingot_status(*name) params;
#define INGOT__KERNEL_PROTOTYPE(P, name, params, device) ingot_status P##name params;
#define INGOT__KERNEL_INIT(P, name, params, device) .name = P##name,

typedef struct ingot__backend {
    const char *name;
    INGOT__KERNELS(INGOT__KERNEL_FIELD, )
} ingot__backend;

/* The table serving arrays on `device`'s type; NULL if none (the op then
 * fails with INGOT_ERR_DEVICE). A kernel its backend left NULL is there as
 * one that fails UNSUPPORTED "copy_at: not supported on cuda:0" (the
 * kernel's name and the device of its array), so front ends call every
 * entry without a check. */
const ingot__backend *ingot__backend_for(ingot_device device);

/* Makes a copy of table (NULL kernels filled as above) serve device type
 * `type` (one of the enum) from now on, in place of the built-in table or
 * the plugin's; the number of devices stays. A test hook: call it while no
 * other thread uses ingot. */
void ingot__backend_register(ingot_device_type type, const ingot__backend *table);

/* *be = the table serving the device of `arrays` (n entries; NULL entries are
 * skipped, at least one must be non-NULL). The lookup every op front end and
 * backward function uses before calling a kernel.
 * Errors: DEVICE "op: inputs are on different devices" when the arrays do not
 * share one device; DEVICE "op: no backend for device cuda:0" when no table
 * serves it. */
ingot_status ingot__backend_get(const ingot__backend **be, const ingot_array *const *arrays, int n,
                                const char *op);

/* The CPU table (src/backend/cpu). */
extern const ingot__backend ingot__cpu_backend;

#endif
