/* CPU reductions, softmax and cumsum.
 *
 * Every output element is produced by one thread, which visits its input
 * elements in row-major order of the reduced dims; work is split over output
 * elements (or rows) only, so results are identical for any thread count.
 * Inputs are read in blocks converted to double (floats) or int64 (integers)
 * so the dtype switch stays outside the inner loops.
 *
 * Accumulators: f32 sums in double, f16/bf16 sums in f32 (each addition
 * rounded to float), integer and bool sums in int64 (wrapping). The output may
 * have any dtype: the result is converted on store (the op layer uses this to
 * sum f16 into an f32 buffer for mean). */
#include <math.h>
#include <stdlib.h>

#include "backend/cpu/cpu.h"

#define BLOCK 256
#define WORK_PER_CHUNK 32768 /* input elements per parallel_for chunk (at least) */

/* ---- block loads and stores ---- */

/* dst[i] = element i (stride `stride` elements) at p, as double; n <= BLOCK. */
static void load_f64_block(double *dst, const char *p, int64_t stride, int64_t n, ingot_dtype dt) {
    switch (dt) {
    case INGOT_F32: {
        const float *q = (const float *)p;
        for (int64_t i = 0; i < n; i++) dst[i] = q[i * stride];
        break;
    }
    case INGOT_F16: {
        const uint16_t *q = (const uint16_t *)p;
        for (int64_t i = 0; i < n; i++) dst[i] = ingot__f16_to_f32(q[i * stride]);
        break;
    }
    case INGOT_BF16: {
        const uint16_t *q = (const uint16_t *)p;
        for (int64_t i = 0; i < n; i++) dst[i] = ingot__bf16_to_f32(q[i * stride]);
        break;
    }
    default: {
        size_t esz = ingot_dtype_size(dt);
        for (int64_t i = 0; i < n; i++) dst[i] = ingot__load_f64(p + i * stride * (int64_t)esz, dt);
        break;
    }
    }
}

/* dst[i] = element i at p, as int64 (integer and bool dtypes); n <= BLOCK. */
static void load_i64_block(int64_t *dst, const char *p, int64_t stride, int64_t n, ingot_dtype dt) {
    size_t esz = ingot_dtype_size(dt);
    for (int64_t i = 0; i < n; i++) dst[i] = ingot__load_i64(p + i * stride * (int64_t)esz, dt);
}

/* Element i at p (stride elements) = v[i], converted to dt. */
static void store_f64_block(char *p, int64_t stride, const double *v, int64_t n, ingot_dtype dt) {
    switch (dt) {
    case INGOT_F32: {
        float *q = (float *)p;
        for (int64_t i = 0; i < n; i++) q[i * stride] = (float)v[i];
        break;
    }
    default: {
        size_t esz = ingot_dtype_size(dt);
        for (int64_t i = 0; i < n; i++) ingot__store_f64(p + i * stride * (int64_t)esz, dt, v[i]);
        break;
    }
    }
}

static bool is_int_like(ingot_dtype dt) { return !ingot_dtype_is_float(dt); }

/* ---- reduce ---- */

/* Running state of one output element's reduction. */
typedef struct red_state {
    double f;     /* float sum or running extreme */
    int64_t i;    /* integer sum or running extreme */
    int64_t arg;  /* position of the extreme */
    int64_t pos;  /* elements seen */
    bool found;   /* an extreme has been taken (argmin skips NaN) */
    bool nan;     /* a NaN was met: max/min/argmax are final */
    double shift; /* logsumexp: the maximum subtracted before exp */
    bool fixed;   /* logsumexp: the maximum is the result (NaN, +inf, all -inf) */
} red_state;

/* Which fold a pass applies: logsumexp runs a max pass and then an exp-sum pass. */
typedef enum red_pass {
    PASS_SUM, PASS_MAX, PASS_MIN, PASS_ARGMAX, PASS_ARGMIN, PASS_EXPSUM
} red_pass;

static void fold_f64(red_state *s, red_pass pass, bool f32_acc, const double *v, int64_t n) {
    switch (pass) {
    case PASS_SUM:
        if (f32_acc)
            for (int64_t k = 0; k < n; k++) s->f = (float)(s->f + v[k]);
        else
            for (int64_t k = 0; k < n; k++) s->f += v[k];
        break;
    case PASS_EXPSUM:
        for (int64_t k = 0; k < n; k++) s->f += exp(v[k] - s->shift);
        break;
    case PASS_MAX:
    case PASS_MIN:
    case PASS_ARGMAX:
        for (int64_t k = 0; k < n && !s->nan; k++, s->pos++) {
            double x = v[k];
            bool better = pass == PASS_MIN ? x < s->f : x > s->f;
            if (isnan(x)) {
                s->nan = true;
                s->f = x;
                s->arg = s->pos;
            } else if (better) {
                s->f = x;
                s->arg = s->pos;
            }
        }
        break;
    case PASS_ARGMIN: /* NaN counts as the maximum: it is never the minimum unless all are NaN */
        for (int64_t k = 0; k < n; k++, s->pos++) {
            double x = v[k];
            if (!isnan(x) && (!s->found || x < s->f)) {
                s->found = true;
                s->f = x;
                s->arg = s->pos;
            }
        }
        break;
    }
}

static void fold_i64(red_state *s, red_pass pass, const int64_t *v, int64_t n) {
    for (int64_t k = 0; k < n; k++, s->pos++) {
        int64_t x = v[k];
        switch (pass) {
        case PASS_SUM: s->i = (int64_t)((uint64_t)s->i + (uint64_t)x); break;
        case PASS_MAX:
        case PASS_ARGMAX:
            if (!s->found || x > s->i) s->i = x, s->arg = s->pos, s->found = true;
            break;
        case PASS_MIN:
        case PASS_ARGMIN:
            if (!s->found || x < s->i) s->i = x, s->arg = s->pos, s->found = true;
            break;
        case PASS_EXPSUM: break; /* the op layer converts integers to float first */
        }
    }
}

typedef struct red_ctx {
    ingot__reduce_op op;
    const char *src;  /* element 0 of a */
    ingot_dtype dt;   /* a's dtype */
    char *dst;        /* contiguous keepdims output */
    ingot_dtype odt;  /* out's dtype */
    int nk, nr;       /* kept and reduced dims */
    int64_t kshape[INGOT_MAX_DIMS], kstride[INGOT_MAX_DIMS];
    int64_t rshape[INGOT_MAX_DIMS], rstride[INGOT_MAX_DIMS];
} red_ctx;

/* Folds one value per lane: v[t] into s[t], t < m. */
static void fold_lanes(red_state *s, red_pass pass, bool ints, bool f32_acc, const double *fv,
                       const int64_t *iv, int64_t m) {
    if (ints) {
        for (int64_t t = 0; t < m; t++) fold_i64(&s[t], pass, &iv[t], 1);
    } else if (pass == PASS_SUM && !f32_acc) {
        for (int64_t t = 0; t < m; t++) s[t].f += fv[t];
    } else {
        for (int64_t t = 0; t < m; t++) fold_f64(&s[t], pass, f32_acc, &fv[t], 1);
    }
}

/* Folds every reduced element of m output elements into s[0..m), each in
 * row-major order of the reduced dims. Output t reads from input offset
 * base + t * lstride. One output (m = 1) is read in blocks along the innermost
 * reduced dim; several outputs are read a lane block at a time (one element
 * of each), which keeps strided reductions (e.g. over axis 0) cache friendly
 * while every output still sees its elements in the same order. */
static void red_walk(const red_ctx *c, int64_t base, int64_t m, int64_t lstride, red_state *s,
                     red_pass pass) {
    bool blocks = m == 1 && c->nr > 0;
    int ndims = blocks ? c->nr - 1 : c->nr; /* dims walked by the iterator */
    int64_t inner_n = blocks ? c->rshape[c->nr - 1] : 1;
    int64_t inner_s = blocks ? c->rstride[c->nr - 1] : 0;
    int64_t count = 1;
    for (int d = 0; d < ndims; d++) count *= c->rshape[d];
    if (count == 0 || inner_n == 0) return;
    size_t esz = ingot_dtype_size(c->dt);
    bool ints = is_int_like(c->dt);
    bool f32_acc = c->dt != INGOT_F32;
    const int64_t *strides[1] = {c->rstride};
    int64_t start[1] = {base};
    ingot__iter it;
    ingot__iter_init(&it, c->rshape, ndims, 1, strides, start, 0);
    double fbuf[BLOCK];
    int64_t ibuf[BLOCK];
    for (int64_t o = 0; o < count; o++, ingot__iter_next(&it)) {
        if (!blocks) {
            const char *p = c->src + it.off[0] * (int64_t)esz;
            if (ints) load_i64_block(ibuf, p, lstride, m, c->dt);
            else load_f64_block(fbuf, p, lstride, m, c->dt);
            fold_lanes(s, pass, ints, f32_acc, fbuf, ibuf, m);
            continue;
        }
        for (int64_t j = 0; j < inner_n; j += BLOCK) {
            int64_t n = inner_n - j < BLOCK ? inner_n - j : BLOCK;
            const char *p = c->src + (it.off[0] + j * inner_s) * (int64_t)esz;
            if (ints) {
                load_i64_block(ibuf, p, inner_s, n, c->dt);
                fold_i64(s, pass, ibuf, n);
            } else {
                load_f64_block(fbuf, p, inner_s, n, c->dt);
                fold_f64(s, pass, f32_acc, fbuf, n);
            }
        }
    }
}

/* Reduces m output elements (see red_walk) and stores them at dst[0..m). */
static void red_run(const red_ctx *c, int64_t base, int64_t m, int64_t lstride, char *dst) {
    red_state s[BLOCK];
    size_t oesz = ingot_dtype_size(c->odt);
    bool ints = is_int_like(c->dt);
    double init = c->op == INGOT__RED_MIN ? INFINITY : c->op == INGOT__RED_SUM ? 0 : -INFINITY;
    for (int64_t t = 0; t < m; t++)
        s[t] = (red_state){.f = init, .i = 0, .arg = 0, .pos = 0, .found = false, .nan = false,
                           .shift = 0, .fixed = false};
    switch (c->op) {
    case INGOT__RED_SUM: red_walk(c, base, m, lstride, s, PASS_SUM); break;
    case INGOT__RED_MAX: red_walk(c, base, m, lstride, s, PASS_MAX); break;
    case INGOT__RED_MIN: red_walk(c, base, m, lstride, s, PASS_MIN); break;
    case INGOT__RED_ARGMAX: red_walk(c, base, m, lstride, s, PASS_ARGMAX); break;
    case INGOT__RED_ARGMIN: red_walk(c, base, m, lstride, s, PASS_ARGMIN); break;
    case INGOT__RED_LOGSUMEXP:
        red_walk(c, base, m, lstride, s, PASS_MAX);
        for (int64_t t = 0; t < m; t++) {
            s[t].fixed = !isfinite(s[t].f); /* NaN, all -inf (or nothing), or a +inf term */
            if (s[t].fixed) continue;
            s[t].shift = s[t].f;
            s[t].f = 0;
        }
        red_walk(c, base, m, lstride, s, PASS_EXPSUM);
        break;
    case INGOT__REDUCE_COUNT: break;
    }
    for (int64_t t = 0; t < m; t++) {
        char *q = dst + t * (int64_t)oesz;
        switch (c->op) {
        case INGOT__RED_ARGMAX:
        case INGOT__RED_ARGMIN: ingot__store_i64(q, c->odt, s[t].arg); break;
        case INGOT__RED_LOGSUMEXP:
            ingot__store_f64(q, c->odt, s[t].fixed ? s[t].f : s[t].shift + log(s[t].f));
            break;
        default:
            if (ints) ingot__store_i64(q, c->odt, s[t].i);
            else ingot__store_f64(q, c->odt, s[t].f);
            break;
        }
    }
}

/* Outputs [begin, end), in runs of up to BLOCK along the last kept dim when
 * the reduction is strided (see red_walk). */
static void red_range(void *ctx, int64_t begin, int64_t end) {
    const red_ctx *c = ctx;
    size_t oesz = ingot_dtype_size(c->odt);
    int last = c->nk - 1;
    bool lanes = c->nk > 0 && !(c->nr > 0 && c->rstride[c->nr - 1] == 1);
    const int64_t *strides[1] = {c->kstride};
    int64_t start[1] = {0};
    ingot__iter it;
    ingot__iter_init(&it, c->kshape, c->nk, 1, strides, start, begin);
    for (int64_t o = begin; o < end;) {
        int64_t m = 1;
        if (lanes) {
            m = c->kshape[last] - it.idx[last];
            if (m > end - o) m = end - o;
            if (m > BLOCK) m = BLOCK;
        }
        red_run(c, it.off[0], m, lanes ? c->kstride[last] : 0, c->dst + o * (int64_t)oesz);
        for (int64_t t = 0; t < m; t++) ingot__iter_next(&it);
        o += m;
    }
}

ingot_status ingot__cpu_reduce(ingot__reduce_op op, ingot_array *out, const ingot_array *a,
                               const bool reduce[INGOT_MAX_DIMS]) {
    red_ctx c = {.op = op, .src = ingot__data(a), .dt = a->dtype, .dst = ingot__data(out),
                 .odt = out->dtype, .nk = 0, .nr = 0};
    int64_t rcount = 1;
    for (int d = 0; d < a->ndim; d++) {
        if (reduce[d]) {
            c.rshape[c.nr] = a->shape[d];
            c.rstride[c.nr++] = a->strides[d];
            rcount *= a->shape[d];
        } else {
            c.kshape[c.nk] = a->shape[d];
            c.kstride[c.nk++] = a->strides[d];
        }
    }
    int64_t grain = WORK_PER_CHUNK / (rcount > 0 ? rcount : 1);
    ingot__parallel_for(out->size, grain > 0 ? grain : 1, red_range, &c);
    return INGOT_OK;
}

/* ---- rows along one axis (softmax, cumsum) ---- */

/* The rows of `a` along axis: their count, length, and the strides that walk
 * the other dims (for a and a contiguous output of a's shape). */
typedef struct row_ctx {
    const char *src;
    ingot_dtype dt;
    char *dst;
    ingot_dtype odt;
    int nd;                       /* dims other than axis */
    int64_t shape[INGOT_MAX_DIMS];
    int64_t astride[INGOT_MAX_DIMS], ostride[INGOT_MAX_DIMS];
    int64_t n, as, os;            /* row length and its strides in a and out */
    bool log, reverse, exclusive;
} row_ctx;

static void row_ctx_init(row_ctx *c, ingot_array *out, const ingot_array *a, int axis) {
    int64_t ostrides[INGOT_MAX_DIMS];
    ingot__contiguous_strides(ostrides, out->shape, out->ndim);
    c->src = ingot__data(a);
    c->dt = a->dtype;
    c->dst = ingot__data(out);
    c->odt = out->dtype;
    c->nd = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (d == axis) continue;
        c->shape[c->nd] = a->shape[d];
        c->astride[c->nd] = a->strides[d];
        c->ostride[c->nd++] = ostrides[d];
    }
    c->n = a->shape[axis];
    c->as = a->strides[axis];
    c->os = ostrides[axis];
}

/* Calls fn(c, a_offset, out_offset) for rows [begin, end). */
static void row_walk(const row_ctx *c, int64_t begin, int64_t end,
                     void (*fn)(const row_ctx *, int64_t, int64_t)) {
    const int64_t *strides[2] = {c->astride, c->ostride};
    int64_t start[2] = {0, 0};
    ingot__iter it;
    ingot__iter_init(&it, c->shape, c->nd, 2, strides, start, begin);
    for (int64_t r = begin; r < end; r++, ingot__iter_next(&it)) fn(c, it.off[0], it.off[1]);
}

static int64_t row_grain(int64_t n) {
    int64_t g = WORK_PER_CHUNK / (n > 0 ? n : 1);
    return g > 0 ? g : 1;
}

/* ---- softmax ---- */

/* Three passes over the row: the maximum, the sum of exp(x - max) (in double
 * over f32 exponentials), the results. For an f32 softmax the exponentials of
 * the second pass are kept in out and scaled in place by the third. */
static void softmax_row(const row_ctx *c, int64_t aoff, int64_t ooff) {
    size_t esz = ingot_dtype_size(c->dt), oesz = ingot_dtype_size(c->odt);
    const char *src = c->src + aoff * (int64_t)esz;
    char *dst = c->dst + ooff * (int64_t)oesz;
    bool keep_exp = !c->log && c->odt == INGOT_F32;
    double buf[BLOCK];
    float mx = -INFINITY;
    bool nan = false;
    for (int64_t j = 0; j < c->n; j += BLOCK) {
        int64_t m = c->n - j < BLOCK ? c->n - j : BLOCK;
        load_f64_block(buf, src + j * c->as * (int64_t)esz, c->as, m, c->dt);
        for (int64_t k = 0; k < m; k++) {
            nan |= isnan(buf[k]);
            if ((float)buf[k] > mx) mx = (float)buf[k];
        }
    }
    if (nan) mx = NAN;
    double sum = 0;
    for (int64_t j = 0; j < c->n; j += BLOCK) {
        int64_t m = c->n - j < BLOCK ? c->n - j : BLOCK;
        load_f64_block(buf, src + j * c->as * (int64_t)esz, c->as, m, c->dt);
        for (int64_t k = 0; k < m; k++) {
            buf[k] = expf((float)buf[k] - mx);
            sum += buf[k];
        }
        if (keep_exp) store_f64_block(dst + j * c->os * (int64_t)oesz, c->os, buf, m, c->odt);
    }
    double lsum = log(sum), inv = 1.0 / sum;
    for (int64_t j = 0; j < c->n; j += BLOCK) {
        int64_t m = c->n - j < BLOCK ? c->n - j : BLOCK;
        char *q = dst + j * c->os * (int64_t)oesz;
        if (keep_exp) {
            load_f64_block(buf, q, c->os, m, c->odt);
            for (int64_t k = 0; k < m; k++) buf[k] *= inv;
        } else {
            load_f64_block(buf, src + j * c->as * (int64_t)esz, c->as, m, c->dt);
            for (int64_t k = 0; k < m; k++) {
                float z = (float)buf[k] - mx;
                buf[k] = c->log ? z - lsum : expf(z) * inv;
            }
        }
        store_f64_block(q, c->os, buf, m, c->odt);
    }
}

static void softmax_range(void *ctx, int64_t begin, int64_t end) {
    row_walk(ctx, begin, end, softmax_row);
}

ingot_status ingot__cpu_softmax(ingot_array *out, const ingot_array *a, int axis, bool log) {
    row_ctx c;
    row_ctx_init(&c, out, a, axis);
    c.log = log;
    int64_t rows = c.n > 0 ? out->size / c.n : 0;
    ingot__parallel_for(rows, row_grain(c.n), softmax_range, &c);
    return INGOT_OK;
}

/* ---- cumsum ---- */

/* One scan step: adds x to *acc and returns the output (the sum before the
 * step when exclusive, after it otherwise). */
static inline double scan_f64(double *acc, double x, bool f32_acc, bool exclusive) {
    double prev = *acc;
    *acc = f32_acc ? (float)(prev + x) : prev + x;
    return exclusive ? prev : *acc;
}

static inline int64_t scan_i64(int64_t *acc, int64_t x, bool exclusive) {
    int64_t prev = *acc;
    *acc = (int64_t)((uint64_t)prev + (uint64_t)x);
    return exclusive ? prev : *acc;
}

/* Scans m rows starting at offsets aoff/ooff; row t is offset by t * las in a
 * and t * los in out. One row is processed in blocks along it; several rows a
 * lane block (one element of each) per step, for rows along strided axes. */
static void cumsum_run(const row_ctx *c, int64_t aoff, int64_t ooff, int64_t m, int64_t las,
                       int64_t los) {
    size_t esz = ingot_dtype_size(c->dt), oesz = ingot_dtype_size(c->odt);
    int64_t as = c->reverse ? -c->as : c->as, os = c->reverse ? -c->os : c->os;
    if (c->reverse) { /* walk from the last element with negated strides */
        aoff += (c->n - 1) * c->as;
        ooff += (c->n - 1) * c->os;
    }
    bool ints = is_int_like(c->dt), f32_acc = c->dt != INGOT_F32;
    double fbuf[BLOCK], facc[BLOCK] = {0};
    int64_t ibuf[BLOCK], iacc[BLOCK] = {0};
    /* (step along the row, elements per step, their stride in a and out) */
    bool blocks = m == 1;
    int64_t step = blocks ? BLOCK : 1, per = blocks ? BLOCK : m;
    int64_t sa = blocks ? as : las, so = blocks ? os : los;
    for (int64_t j = 0; j < c->n; j += step) {
        int64_t k = blocks && c->n - j < per ? c->n - j : per;
        const char *p = c->src + (aoff + j * as) * (int64_t)esz;
        char *q = c->dst + (ooff + j * os) * (int64_t)oesz;
        if (ints) {
            load_i64_block(ibuf, p, sa, k, c->dt);
            for (int64_t t = 0; t < k; t++)
                ingot__store_i64(q + t * so * (int64_t)oesz, c->odt,
                                 scan_i64(&iacc[blocks ? 0 : t], ibuf[t], c->exclusive));
        } else {
            load_f64_block(fbuf, p, sa, k, c->dt);
            for (int64_t t = 0; t < k; t++)
                fbuf[t] = scan_f64(&facc[blocks ? 0 : t], fbuf[t], f32_acc, c->exclusive);
            store_f64_block(q, so, fbuf, k, c->odt);
        }
    }
}

/* Rows [begin, end); runs of adjacent rows go together when the axis is strided. */
static void cumsum_range(void *ctx, int64_t begin, int64_t end) {
    const row_ctx *c = ctx;
    int last = c->nd - 1;
    bool lanes = c->nd > 0 && c->as != 1;
    const int64_t *strides[2] = {c->astride, c->ostride};
    int64_t start[2] = {0, 0};
    ingot__iter it;
    ingot__iter_init(&it, c->shape, c->nd, 2, strides, start, begin);
    for (int64_t r = begin; r < end;) {
        int64_t m = 1;
        if (lanes) {
            m = c->shape[last] - it.idx[last];
            if (m > end - r) m = end - r;
            if (m > BLOCK) m = BLOCK;
        }
        cumsum_run(c, it.off[0], it.off[1], m, lanes ? c->astride[last] : 0,
                   lanes ? c->ostride[last] : 0);
        for (int64_t t = 0; t < m; t++) ingot__iter_next(&it);
        r += m;
    }
}

ingot_status ingot__cpu_cumsum(ingot_array *out, const ingot_array *a, int axis, bool reverse,
                               bool exclusive) {
    row_ctx c;
    row_ctx_init(&c, out, a, axis);
    c.reverse = reverse;
    c.exclusive = exclusive;
    int64_t rows = c.n > 0 ? out->size / c.n : 0;
    ingot__parallel_for(rows, row_grain(c.n), cumsum_range, &c);
    return INGOT_OK;
}
