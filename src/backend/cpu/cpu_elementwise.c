/* CPU elementwise kernels: unary, binary (arithmetic and comparisons), where.
 *
 * One generic driver serves every op and dtype. The operands (output first,
 * then the inputs) are walked row by row with their own strides after merging
 * dims that are contiguous in all of them; each row is processed in chunks of
 * CHUNK elements. A chunk of every input is loaded into a contiguous buffer of
 * the compute type (float for f32/f16/bf16, int64 for integers and bool) or
 * used in place when it is already contiguous f32; the op runs over the
 * buffers with a loop whose per-element function is selected by a switch
 * outside the loop, so the compiler sees (and vectorises) one simple loop per
 * op; the result is stored once, rounded to the output dtype.
 *
 * Integer math is done in uint64 (wraps, no undefined behaviour) and stored
 * truncated to the output width, which wraps i8/u8/i32/u32 as well. Bool
 * operands take the integer path and store value != 0, so on bool add is OR,
 * mul and minimum are AND, maximum is OR, sub is XOR; neg/abs/square keep the
 * value. Float-only ops (div, pow, exp, ...) on integer dtypes never reach the
 * kernels (the front end converts to f32); they are reported as INTERNAL. */
#include <math.h>

#include "backend/cpu/cpu.h"
#include "backend/elem.h"

#define CHUNK 512
#define PARALLEL_MIN 32768
#define PARALLEL_GRAIN 16384
#define MAX_OPS 4

/* The per-element functions are backend/elem.h's (op is a constant after
 * inlining). */

static bool is_compare(ingot__binary_op op) { return op >= INGOT__EQ; }

/* ---- loops over contiguous compute buffers, one instance per op ---- */

#define UNARY_CASE(OP, ELEM)                                                                       \
    case OP:                                                                                       \
        for (int64_t i = 0; i < n; i++)                                                            \
            o[i] = ELEM(OP, a[i]);                                                                 \
        break;

static void unary_f32_loop(ingot__unary_op op, float *restrict o, const float *restrict a,
                           int64_t n) {
    switch (op) {
        UNARY_CASE(INGOT__NEG, ingot__unary_f32)
        UNARY_CASE(INGOT__ABS, ingot__unary_f32)
        UNARY_CASE(INGOT__SQUARE, ingot__unary_f32)
        UNARY_CASE(INGOT__EXP, ingot__unary_f32)
        UNARY_CASE(INGOT__LOG, ingot__unary_f32)
        UNARY_CASE(INGOT__SQRT, ingot__unary_f32)
        UNARY_CASE(INGOT__RSQRT, ingot__unary_f32)
        UNARY_CASE(INGOT__RECIPROCAL, ingot__unary_f32)
        UNARY_CASE(INGOT__TANH, ingot__unary_f32)
        UNARY_CASE(INGOT__SIGMOID, ingot__unary_f32)
        UNARY_CASE(INGOT__SILU, ingot__unary_f32)
        UNARY_CASE(INGOT__GELU, ingot__unary_f32)
        UNARY_CASE(INGOT__GELU_TANH, ingot__unary_f32)
        UNARY_CASE(INGOT__SIN, ingot__unary_f32)
        UNARY_CASE(INGOT__COS, ingot__unary_f32)
        UNARY_CASE(INGOT__SIGN, ingot__unary_f32)
        UNARY_CASE(INGOT__GELU_GRAD, ingot__unary_f32)
        UNARY_CASE(INGOT__GELU_TANH_GRAD, ingot__unary_f32)
    case INGOT__UNARY_COUNT: break;
    }
}

static void unary_i64_loop(ingot__unary_op op, int64_t *restrict o, const int64_t *restrict a,
                           int64_t n) {
    switch (op) {
        UNARY_CASE(INGOT__NEG, ingot__unary_i64)
        UNARY_CASE(INGOT__ABS, ingot__unary_i64)
        UNARY_CASE(INGOT__SQUARE, ingot__unary_i64)
        UNARY_CASE(INGOT__SIGN, ingot__unary_i64)
    default: break;
    }
}

#define BINARY_CASE(OP, ELEM)                                                                      \
    case OP:                                                                                       \
        for (int64_t i = 0; i < n; i++)                                                            \
            o[i] = ELEM(OP, a[i], b[i]);                                                           \
        break;

/* Arithmetic (T = float or int64, suffix f32 or i64) and comparisons into
 * bytes, generated for both compute types. */
#define BINARY_LOOPS(T, SUF)                                                                       \
    static void binary_##SUF##_loop(ingot__binary_op op, T *restrict o, const T *restrict a,       \
                                    const T *restrict b, int64_t n) {                              \
        switch (op) {                                                                              \
            BINARY_CASE(INGOT__ADD, ingot__binary_##SUF)                                           \
            BINARY_CASE(INGOT__SUB, ingot__binary_##SUF)                                           \
            BINARY_CASE(INGOT__MUL, ingot__binary_##SUF)                                           \
            BINARY_CASE(INGOT__DIV, ingot__binary_##SUF)                                           \
            BINARY_CASE(INGOT__POW, ingot__binary_##SUF)                                           \
            BINARY_CASE(INGOT__MAXIMUM, ingot__binary_##SUF)                                       \
            BINARY_CASE(INGOT__MINIMUM, ingot__binary_##SUF)                                       \
        default: break;                                                                            \
        }                                                                                          \
    }                                                                                              \
    static void compare_##SUF##_loop(ingot__binary_op op, uint8_t *restrict o,                     \
                                     const T *restrict a, const T *restrict b, int64_t n) {        \
        switch (op) {                                                                              \
            BINARY_CASE(INGOT__EQ, INGOT__COMPARE)                                                 \
            BINARY_CASE(INGOT__NE, INGOT__COMPARE)                                                 \
            BINARY_CASE(INGOT__LT, INGOT__COMPARE)                                                 \
            BINARY_CASE(INGOT__LE, INGOT__COMPARE)                                                 \
            BINARY_CASE(INGOT__GT, INGOT__COMPARE)                                                 \
            BINARY_CASE(INGOT__GE, INGOT__COMPARE)                                                 \
        default: break;                                                                            \
        }                                                                                          \
    }

BINARY_LOOPS(float, f32)
BINARY_LOOPS(int64_t, i64)

/* ---- loading and storing chunks ---- */

/* n elements of dtype dt at p (stride in elements) as floats: p itself when it
 * is contiguous f32, else converted into buf. */
static const float *load_f32(float *buf, const char *p, ingot_dtype dt, int64_t stride, int64_t n) {
    if (dt == INGOT_F32) {
        const float *s = (const float *)p;
        if (stride == 1) return s;
        for (int64_t i = 0; i < n; i++)
            buf[i] = s[i * stride];
    } else {
        const uint16_t *s = (const uint16_t *)p;
        if (dt == INGOT_F16) {
            for (int64_t i = 0; i < n; i++)
                buf[i] = ingot__f16_to_f32(s[i * stride]);
        } else {
            for (int64_t i = 0; i < n; i++)
                buf[i] = ingot__bf16_to_f32(s[i * stride]);
        }
    }
    return buf;
}

#define LOAD_INT(T)                                                                                \
    for (int64_t i = 0; i < n; i++)                                                                \
        buf[i] = ((const T *)p)[i * stride];                                                       \
    break;

/* n integer (or bool) elements as int64 into buf. */
static const int64_t *load_i64(int64_t *buf, const char *p, ingot_dtype dt, int64_t stride,
                               int64_t n) {
    switch (dt) {
    case INGOT_BOOL:
    case INGOT_U8: LOAD_INT(uint8_t)
    case INGOT_I8: LOAD_INT(int8_t)
    case INGOT_I32: LOAD_INT(int32_t)
    case INGOT_U32: LOAD_INT(uint32_t)
    case INGOT_I64:
        if (stride == 1) return (const int64_t *)p;
        LOAD_INT(int64_t)
    default: break;
    }
    return buf;
}

/* Stores n computed floats into contiguous o of dtype dt (no-op when the
 * computation already wrote into o). */
static void store_f32(char *o, ingot_dtype dt, const float *v, int64_t n) {
    uint16_t *d = (uint16_t *)o;
    if (dt == INGOT_F16) {
        for (int64_t i = 0; i < n; i++)
            d[i] = ingot__f32_to_f16(v[i]);
    } else if (dt == INGOT_BF16) {
        for (int64_t i = 0; i < n; i++)
            d[i] = ingot__f32_to_bf16(v[i]);
    }
}

#define STORE_INT(T)                                                                               \
    for (int64_t i = 0; i < n; i++)                                                                \
        ((T *)o)[i] = (T)(uint64_t)v[i];                                                           \
    break;

/* Stores n int64 values truncated to dt's width (bool: value != 0). */
static void store_i64(char *o, ingot_dtype dt, const int64_t *v, int64_t n) {
    switch (dt) {
    case INGOT_BOOL:
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)o)[i] = v[i] != 0;
        break;
    case INGOT_U8:
    case INGOT_I8: STORE_INT(uint8_t)
    case INGOT_I32:
    case INGOT_U32: STORE_INT(uint32_t)
    case INGOT_I64:
        if ((const char *)v != o) memcpy(o, v, (size_t)n * sizeof(int64_t));
        break;
    default: break;
    }
}

/* True for every element that is not zero (NaN counts as nonzero): the sign
 * bit of floats is ignored, any other bit set makes it true. */
#define COND_BITS(T, MASK)                                                                         \
    for (int64_t i = 0; i < n; i++)                                                                \
        c[i] = (((const T *)p)[i * stride] & (MASK)) != 0;                                         \
    break;

static void load_cond(uint8_t *c, const char *p, ingot_dtype dt, int64_t stride, int64_t n) {
    switch (dt) {
    case INGOT_BOOL:
    case INGOT_U8:
    case INGOT_I8: COND_BITS(uint8_t, 0xffu)
    case INGOT_F16:
    case INGOT_BF16: COND_BITS(uint16_t, 0x7fffu)
    case INGOT_I32:
    case INGOT_U32: COND_BITS(uint32_t, 0xffffffffu)
    case INGOT_F32: COND_BITS(uint32_t, 0x7fffffffu)
    case INGOT_I64: COND_BITS(uint64_t, ~(uint64_t)0)
    default: break;
    }
}

#define SELECT(T)                                                                                  \
    for (int64_t i = 0; i < n; i++)                                                                \
        ((T *)o)[i] = c[i] ? ((const T *)a)[i * sa] : ((const T *)b)[i * sb];                      \
    break;

static void select_elems(char *o, const uint8_t *c, const char *a, int64_t sa, const char *b,
                         int64_t sb, size_t esize, int64_t n) {
    switch (esize) {
    case 1: SELECT(uint8_t)
    case 2: SELECT(uint16_t)
    case 4: SELECT(uint32_t)
    case 8: SELECT(uint64_t)
    default: break;
    }
}

/* ---- the generic driver ---- */

typedef enum ew_kind { KIND_UNARY, KIND_BINARY, KIND_WHERE } ew_kind;

typedef struct ew_ctx {
    ew_kind kind;
    int op; /* ingot__unary_op or ingot__binary_op */
    int nops;
    char *base[MAX_OPS]; /* element 0 of each operand; operand 0 is the output */
    ingot_dtype dtype[MAX_OPS];
    size_t esize[MAX_OPS];
    int ndim; /* >= 1 after merging */
    int64_t shape[INGOT_MAX_DIMS];
    int64_t strides[MAX_OPS][INGOT_MAX_DIMS];
} ew_ctx;

/* Processes n elements of one row starting at p[k] (operand k, element
 * stride s[k]). */
static void ew_segment(const ew_ctx *c, char *const *p, const int64_t *s, int64_t n) {
    float fbuf[3][CHUNK];
    int64_t ibuf[3][CHUNK];
    uint8_t cbuf[CHUNK];
    ingot_dtype od = c->dtype[0], in = c->dtype[c->kind == KIND_WHERE ? 2 : 1];
    bool fl = ingot_dtype_is_float(in);
    for (int64_t done = 0; done < n; done += CHUNK) {
        int64_t m = n - done < CHUNK ? n - done : CHUNK;
        char *o = p[0] + done * (int64_t)c->esize[0];
        const char *q[MAX_OPS];
        for (int k = 1; k < c->nops; k++)
            q[k] = p[k] + done * s[k] * (int64_t)c->esize[k];
        if (c->kind == KIND_WHERE) {
            load_cond(cbuf, q[1], c->dtype[1], s[1], m);
            select_elems(o, cbuf, q[2], s[2], q[3], s[3], c->esize[0], m);
        } else if (fl) {
            float *res = od == INGOT_F32 ? (float *)o : fbuf[0];
            const float *a = load_f32(fbuf[1], q[1], in, s[1], m);
            if (c->kind == KIND_UNARY) {
                unary_f32_loop((ingot__unary_op)c->op, res, a, m);
            } else {
                const float *b = load_f32(fbuf[2], q[2], in, s[2], m);
                if (is_compare((ingot__binary_op)c->op)) {
                    compare_f32_loop((ingot__binary_op)c->op, (uint8_t *)o, a, b, m);
                    continue;
                }
                binary_f32_loop((ingot__binary_op)c->op, res, a, b, m);
            }
            store_f32(o, od, res, m);
        } else {
            int64_t *res = od == INGOT_I64 ? (int64_t *)o : ibuf[0];
            const int64_t *a = load_i64(ibuf[1], q[1], in, s[1], m);
            if (c->kind == KIND_UNARY) {
                unary_i64_loop((ingot__unary_op)c->op, res, a, m);
            } else {
                const int64_t *b = load_i64(ibuf[2], q[2], in, s[2], m);
                if (is_compare((ingot__binary_op)c->op)) {
                    compare_i64_loop((ingot__binary_op)c->op, (uint8_t *)o, a, b, m);
                    continue;
                }
                binary_i64_loop((ingot__binary_op)c->op, res, a, b, m);
            }
            store_i64(o, od, res, m);
        }
    }
}

/* Runs elements [begin, end) in row-major order. */
static void ew_range(void *vctx, int64_t begin, int64_t end) {
    const ew_ctx *c = vctx;
    int last = c->ndim - 1;
    int64_t inner = c->shape[last];
    int64_t s[MAX_OPS];
    const int64_t *strides[MAX_OPS];
    int64_t zero[MAX_OPS] = {0};
    for (int k = 0; k < c->nops; k++) {
        s[k] = c->strides[k][last];
        strides[k] = c->strides[k];
    }
    ingot__iter it; /* over the outer dims; unused when there are none */
    if (last > 0) ingot__iter_init(&it, c->shape, last, c->nops, strides, zero, begin / inner);
    int64_t col = begin % inner;
    while (begin < end) {
        int64_t n = inner - col < end - begin ? inner - col : end - begin;
        char *p[MAX_OPS];
        for (int k = 0; k < c->nops; k++) {
            int64_t off = last > 0 ? it.off[k] : 0;
            p[k] = c->base[k] + (off + col * s[k]) * (int64_t)c->esize[k];
        }
        ew_segment(c, p, s, n);
        begin += n;
        col = 0;
        if (last > 0) ingot__iter_next(&it);
    }
}

/* Fills the context from out and its inputs (all of out's shape), merging
 * adjacent dims that are contiguous with each other in every operand. */
static void ew_setup(ew_ctx *c, ew_kind k, int op, ingot_array *out, const ingot_array *const *in,
                     int nin) {
    c->kind = k;
    c->op = op;
    c->nops = nin + 1;
    for (int i = 0; i < c->nops; i++) {
        const ingot_array *x = i == 0 ? out : in[i - 1];
        c->base[i] = ingot__data(x);
        c->dtype[i] = x->dtype;
        c->esize[i] = ingot_dtype_size(x->dtype);
    }
    c->ndim = 0;
    for (int d = 0; d < out->ndim; d++) {
        if (out->shape[d] == 1) continue; /* size-1 dims carry no stride information */
        bool merge = c->ndim > 0;
        for (int i = 0; merge && i < c->nops; i++) {
            const ingot_array *x = i == 0 ? out : in[i - 1];
            merge = c->strides[i][c->ndim - 1] == x->strides[d] * out->shape[d];
        }
        if (merge) {
            c->shape[c->ndim - 1] *= out->shape[d];
            for (int i = 0; i < c->nops; i++) {
                const ingot_array *x = i == 0 ? out : in[i - 1];
                c->strides[i][c->ndim - 1] = x->strides[d];
            }
            continue;
        }
        c->shape[c->ndim] = out->shape[d];
        for (int i = 0; i < c->nops; i++) {
            const ingot_array *x = i == 0 ? out : in[i - 1];
            c->strides[i][c->ndim] = x->strides[d];
        }
        c->ndim++;
    }
    if (c->ndim == 0) { /* a single element */
        c->ndim = 1;
        c->shape[0] = 1;
        for (int i = 0; i < c->nops; i++)
            c->strides[i][0] = 1;
    }
}

static void ew_run(ew_ctx *c, int64_t size) {
    if (size == 0) return;
    if (size >= PARALLEL_MIN) {
        ingot__parallel_for(size, PARALLEL_GRAIN, ew_range, c);
    } else {
        ew_range(c, 0, size);
    }
}

/* ---- kernel entry points ---- */

static bool unary_keeps_integers(ingot__unary_op op) {
    return op == INGOT__NEG || op == INGOT__ABS || op == INGOT__SQUARE || op == INGOT__SIGN;
}

ingot_status ingot__cpu_unary(ingot__unary_op op, ingot_array *out, const ingot_array *a) {
    if (!ingot_dtype_is_float(a->dtype) && !unary_keeps_integers(op)) {
        return ingot__error(INGOT_ERR_INTERNAL, "cpu unary: op %d on %s", (int)op,
                            ingot_dtype_name(a->dtype));
    }
    ew_ctx c;
    ew_setup(&c, KIND_UNARY, (int)op, out, &a, 1);
    ew_run(&c, out->size);
    return INGOT_OK;
}

ingot_status ingot__cpu_binary(ingot__binary_op op, ingot_array *out, const ingot_array *a,
                               const ingot_array *b) {
    if (!ingot_dtype_is_float(a->dtype) && (op == INGOT__DIV || op == INGOT__POW)) {
        return ingot__error(INGOT_ERR_INTERNAL, "cpu binary: op %d on %s", (int)op,
                            ingot_dtype_name(a->dtype));
    }
    const ingot_array *in[2] = {a, b};
    ew_ctx c;
    ew_setup(&c, KIND_BINARY, (int)op, out, in, 2);
    ew_run(&c, out->size);
    return INGOT_OK;
}

ingot_status ingot__cpu_where(ingot_array *out, const ingot_array *cond, const ingot_array *a,
                              const ingot_array *b) {
    const ingot_array *in[3] = {cond, a, b};
    ew_ctx c;
    ew_setup(&c, KIND_WHERE, 0, out, in, 3);
    ew_run(&c, out->size);
    return INGOT_OK;
}
