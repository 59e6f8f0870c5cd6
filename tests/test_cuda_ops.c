/* The CUDA backend against the CPU backend (the reference): every public op
 * of ops.h and fast.h, the view and layout functions of array.h, astype and
 * contiguous run on seeded random shapes (scalars, size-1 and empty dims),
 * dtypes and layouts (contiguous, transposed, sliced with steps, broadcast
 * with 0 strides), once on CPU arrays and once on the same arrays moved to
 * cuda:0, and the results are compared element by element:
 *  - exactly for integer, bool and index results and for ops that only move
 *    or select data (views, astype, index ops, max/min, sort);
 *  - floats otherwise within ulps * ulp(|cpu|) + row_ulps * ulp(row max) +
 *    rtol * scale, in the result's dtype, where the row is the result's last
 *    axis and scale is max(1, |cpu|) for elementwise ops and max(1, row max
 *    |cpu|) for reductions, matmul and the fast ops (see the tol constants);
 *  - argpartition by the partition property (its kth entry exactly);
 *  - gradients (ingot_vjp with the same random cotangents) of every
 *    differentiable op family;
 *  - random bits and copy_at (KV-cache writes) through the kernel tables,
 *    bit for bit;
 *  - the allocator: stats return to their start, no cudaMalloc once warm,
 *    the memory limit, and mixed-device inputs.
 * An op that fails on the CPU must fail on the GPU with the same status.
 * Without a CUDA device the program exits 77 (skipped). Environment:
 * INGOT_CUDA_TEST_QUICK=1 runs fewer and smaller cases (compute-sanitizer),
 * INGOT_CUDA_TEST_SEED=N changes the seed. A summary line gives the number of
 * cases compared and the worst error per op family. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"

#include "backend/backend.h"

static const ingot_device g_gpu = {INGOT_DEVICE_CUDA, 0};
static int g_reps = 12;           /* random cases per op */
static int64_t g_max_size = 6000; /* elements per random input at most */
static uint64_t g_rng_state = 20261125;
static char g_case[600]; /* the current case, for failure messages */

/* ---- seeded randomness (splitmix64; independent of ingot's Philox) ---- */

static uint64_t rnd(void) {
    uint64_t z = (g_rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int rnd_int(int n) { return (int)(rnd() % (uint64_t)n); }
static double rnd_unit(void) { return (double)(rnd() >> 11) * 0x1p-53; }
static bool coin(int one_in) { return rnd_int(one_in) == 0; }

static ingot_dtype pick_dtype(const ingot_dtype *list, int n) { return list[rnd_int(n)]; }

static const ingot_dtype FLOATS[] = {INGOT_F32, INGOT_F32, INGOT_F16, INGOT_BF16};
static const ingot_dtype NUMERIC[] = {INGOT_F32, INGOT_F32, INGOT_F16, INGOT_BF16, INGOT_I32,
                                      INGOT_I64, INGOT_U8,  INGOT_I8,  INGOT_U32,  INGOT_BOOL};
static const ingot_dtype ALL_DTYPES[] = {INGOT_BOOL, INGOT_U8,  INGOT_I8,   INGOT_I32, INGOT_U32,
                                         INGOT_I64,  INGOT_F16, INGOT_BF16, INGOT_F32};
static const ingot_dtype INDEX_DTYPES[] = {INGOT_I64, INGOT_I64, INGOT_I32, INGOT_I8, INGOT_U8,
                                           INGOT_U32};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- shapes ---- */

static int64_t shape_size(const int64_t *shape, int nd) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= shape[i];
    return n;
}

/* A random shape of min_nd..max_nd dims (scalars when min_nd is 0), with
 * sizes 1 and 0 among the dims, of at most max_size elements. */
static int rand_shape(int64_t *shape, int min_nd, int max_nd, int64_t max_size) {
    static const int64_t dims[] = {1, 1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 33, 64, 100};
    int nd = min_nd + rnd_int(max_nd - min_nd + 1);
    for (int i = 0; i < nd; i++) shape[i] = coin(24) ? 0 : dims[rnd_int(COUNT(dims))];
    for (;;) {
        int big = 0;
        for (int i = 1; i < nd; i++)
            if (shape[i] > shape[big]) big = i;
        if (nd == 0 || shape_size(shape, nd) <= max_size) return nd;
        shape[big] /= 2;
    }
}

/* A shape that broadcasts to shape: leading dims dropped, some dims 1. */
static int broadcastable_shape(int64_t *out, const int64_t *shape, int nd) {
    int drop = coin(3) ? rnd_int(nd + 1) : 0;
    for (int i = drop; i < nd; i++) out[i - drop] = coin(3) ? 1 : shape[i];
    return nd - drop;
}

static void shape_text(char *buf, size_t cap, const int64_t *shape, int nd) {
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < nd && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, ")");
}

/* ---- inputs: the same values on the CPU and on the GPU ---- */

typedef enum values {
    V_NORMAL,  /* uniform [-2, 2); integers in [-20, 20] ([0, 40] unsigned) */
    V_POS,     /* uniform [0.05, 3) */
    V_GRID,    /* multiples of 0.5 in [-2, 2]: ties */
    V_NAN,     /* V_GRID with about 8% NaN */
    V_SPECIAL, /* wide ranges, NaN, +-inf, halfway cases: conversions */
} values;

static double special_value(void) {
    static const double s[] = {NAN, INFINITY, -INFINITY, 0.5, -0.5, 1.5, 2.5, -2.5, 255.5, 256,
                               -129, 127.5, 65504, 65520, 70000, 3e9, -3e9, 5e18, -1e30, 1e-8};
    switch (rnd_int(3)) {
    case 0: return s[rnd_int(COUNT(s))];
    case 1: return (rnd_unit() - 0.5) * 600;
    default: return ldexp(rnd_unit() - 0.5, rnd_int(70) - 20);
    }
}

/* Integers of every magnitude up to 2^63, either sign (i64 wraps to dt). */
static int64_t special_int(void) {
    int64_t m = (int64_t)(rnd() >> (1 + rnd_int(63)));
    return coin(2) ? m : -m;
}

static double rand_value(ingot_dtype dt, values v) {
    bool is_float = ingot_dtype_is_float(dt);
    bool is_unsigned = dt == INGOT_U8 || dt == INGOT_U32;
    if (dt == INGOT_BOOL) return (double)rnd_int(2);
    switch (v) {
    case V_SPECIAL: /* floats only: integers come from special_int */
        if (is_float) return special_value();
        /* fall through */
    case V_POS: return is_float ? 0.05 + 2.95 * rnd_unit() : (double)(1 + rnd_int(20));
    case V_NAN:
        if (is_float && coin(12)) return NAN;
        /* fall through */
    case V_GRID: return is_unsigned ? rnd_int(5) : 0.5 * (rnd_int(9) - 4) * (is_float ? 1 : 2);
    case V_NORMAL:
    default:
        if (is_float) return 4 * rnd_unit() - 2;
        return is_unsigned ? rnd_int(41) : rnd_int(41) - 20;
    }
}

/* A contiguous CPU array of random values (floats are made in f32 and
 * rounded to dt by the CPU's astype; integers through i64, exactly). */
static ingot_array *host_array(ingot_dtype dt, const int64_t *shape, int nd, values v) {
    int64_t n = shape_size(shape, nd);
    ingot_array *base = NULL, *a = NULL;
    if (ingot_dtype_is_float(dt)) {
        float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
        assert_non_null(f);
        for (int64_t i = 0; i < n; i++) f[i] = (float)rand_value(dt, v);
        TU_OK(ingot_array_from_data(&base, f, INGOT_F32, shape, nd));
        free(f);
    } else {
        int64_t *q = malloc((size_t)(n ? n : 1) * sizeof *q);
        assert_non_null(q);
        for (int64_t i = 0; i < n; i++)
            q[i] = v == V_SPECIAL && dt != INGOT_BOOL ? special_int() : (int64_t)rand_value(dt, v);
        TU_OK(ingot_array_from_data(&base, q, INGOT_I64, shape, nd));
        free(q);
    }
    TU_OK(ingot_astype(&a, base, dt));
    ingot_array_free(base);
    return a;
}

typedef struct pair {
    ingot_array *c; /* on the CPU */
    ingot_array *g; /* the same values on cuda:0 */
} pair;

static void pair_free(pair *p) {
    ingot_array_free(p->c);
    ingot_array_free(p->g);
    p->c = p->g = NULL;
}

static ingot_array *to_gpu(const ingot_array *a) {
    ingot_array *g = NULL;
    TU_OK(ingot_array_to_device(&g, a, g_gpu));
    return g;
}

static pair pair_of(ingot_array *c) { return (pair){c, to_gpu(c)}; }

typedef enum layout_kind { L_CONTIG, L_TRANSPOSED, L_STEPPED, L_BROADCAST } layout_kind;

/* How a view of the wanted shape is made from a stored base array. */
typedef struct layout {
    layout_kind kind;
    bool reverse_all;          /* L_TRANSPOSED: all axes reversed, else the last two */
    int neg_axis;              /* L_STEPPED: the axis sliced with step -2 (-1: none) */
    int base_nd;               /* L_BROADCAST: dims of the base */
    bool one[INGOT_MAX_DIMS];  /* L_BROADCAST: base dims of size 1 */
} layout;

static layout rand_layout(int nd) {
    layout l = {.kind = L_CONTIG, .neg_axis = -1, .base_nd = nd};
    int r = rnd_int(10);
    if (nd == 0 || r < 4) return l;
    if (r < 6 && nd >= 2) {
        l.kind = L_TRANSPOSED;
        l.reverse_all = nd >= 3 && coin(2);
    } else if (r < 8) {
        l.kind = L_STEPPED;
        l.neg_axis = coin(2) ? rnd_int(nd) : -1;
    } else {
        l.kind = L_BROADCAST;
        l.base_nd = nd - (coin(3) ? rnd_int(nd + 1) : 0);
        for (int i = 0; i < l.base_nd; i++) l.one[i] = coin(2);
    }
    return l;
}

/* The shape of the base that l turns into shape. */
static int layout_base_shape(int64_t *base, const layout *l, const int64_t *shape, int nd) {
    switch (l->kind) {
    case L_TRANSPOSED:
        for (int i = 0; i < nd; i++) base[i] = shape[i];
        if (l->reverse_all)
            for (int i = 0; i < nd; i++) base[i] = shape[nd - 1 - i];
        else if (nd >= 2) {
            base[nd - 1] = shape[nd - 2];
            base[nd - 2] = shape[nd - 1];
        }
        return nd;
    case L_STEPPED:
        for (int i = 0; i < nd; i++) base[i] = 2 * shape[i] + (i == l->neg_axis ? 0 : 1);
        return nd;
    case L_BROADCAST:
        for (int i = 0; i < l->base_nd; i++) {
            int64_t d = shape[nd - l->base_nd + i];
            base[i] = l->one[i] ? 1 : d;
        }
        return l->base_nd;
    case L_CONTIG:
    default:
        for (int i = 0; i < nd; i++) base[i] = shape[i];
        return nd;
    }
}

/* The view of base that l describes (a new reference). */
static ingot_array *layout_apply(const layout *l, const ingot_array *base, const int64_t *shape,
                                 int nd) {
    ingot_array *v = NULL;
    int64_t start[INGOT_MAX_DIMS], stop[INGOT_MAX_DIMS], step[INGOT_MAX_DIMS];
    switch (l->kind) {
    case L_TRANSPOSED:
        if (l->reverse_all) TU_OK(ingot_transpose(&v, base, NULL, 0));
        else TU_OK(ingot_swapaxes(&v, base, -1, -2));
        break;
    case L_STEPPED:
        for (int i = 0; i < nd; i++) {
            bool neg = i == l->neg_axis;
            start[i] = neg ? INT64_MAX : 1;
            stop[i] = neg ? INT64_MIN : INT64_MAX;
            step[i] = neg ? -2 : 2;
        }
        TU_OK(ingot_slice(&v, base, start, stop, step));
        break;
    case L_BROADCAST: TU_OK(ingot_broadcast_to(&v, base, shape, nd)); break;
    case L_CONTIG:
    default: v = ingot_array_retain((ingot_array *)base); break;
    }
    return v;
}

/* Random values of dt and shape in a random layout, on both devices: the
 * base is stored once, moved to the GPU, and viewed the same way on both. */
static pair make_input_as(ingot_dtype dt, const int64_t *shape, int nd, values v, layout l) {
    int64_t bshape[INGOT_MAX_DIMS];
    int bnd = layout_base_shape(bshape, &l, shape, nd);
    ingot_array *base = host_array(dt, bshape, bnd, v), *gbase = to_gpu(base);
    pair p = {layout_apply(&l, base, shape, nd), layout_apply(&l, gbase, shape, nd)};
    ingot_array_free(base);
    ingot_array_free(gbase);
    return p;
}

static pair make_input(ingot_dtype dt, const int64_t *shape, int nd, values v) {
    return make_input_as(dt, shape, nd, v, rand_layout(nd));
}

/* A contiguous pair of random values. */
static pair make_plain(ingot_dtype dt, const int64_t *shape, int nd, values v) {
    return pair_of(host_array(dt, shape, nd, v));
}

/* Integers in [-dim, dim) ([0, dim) for unsigned dtypes or nonneg). */
static pair make_indices(ingot_dtype dt, const int64_t *shape, int nd, int64_t dim, bool nonneg) {
    int64_t n = shape_size(shape, nd), *q = malloc((size_t)(n ? n : 1) * sizeof *q);
    assert_non_null(q);
    bool is_unsigned = dt == INGOT_U8 || dt == INGOT_U32;
    for (int64_t i = 0; i < n; i++) {
        int64_t r = dim ? (int64_t)(rnd() % (uint64_t)dim) : 0;
        q[i] = !is_unsigned && !nonneg && coin(3) ? r - dim : r;
    }
    ingot_array *a64 = NULL, *a = NULL;
    TU_OK(ingot_array_from_data(&a64, q, INGOT_I64, shape, nd));
    TU_OK(ingot_astype(&a, a64, dt));
    ingot_array_free(a64);
    free(q);
    return pair_of(a);
}

/* ---- comparison ---- */

/* Allowed |gpu - cpu| = ulps * ulp(|cpu|) + row_ulps * ulp(row max |cpu|) +
 * rtol * scale, in the result's dtype; scale = max(1, row max |cpu|) when
 * row, else max(1, |cpu|). All zero: exact. */
typedef struct tol {
    double ulps, row_ulps, rtol;
    bool row;
} tol;

static const tol T_EXACT = {0, 0, 0, false};
/* Elementwise math: f32 libm vs CUDA's (both within a few f32 ulps; the
 * rtol absorbs cancellation in gelu, silu, pow), then one rounding. */
static const tol T_ELEM = {2, 0, 2e-6, false};
/* Reductions, matmul, softmax, cumsum: f32 accumulations in another order. */
static const tol T_RED = {2, 1, 1e-5, true};
/* Fast ops: rounding points inside (rope's rounded products, norms' rounded
 * normalised x) add up to two ulps of the row's magnitude in f16/bf16. */
static const tol T_FAST = {2, 2, 1e-5, true};
/* Gradients: chains of ops, each rounded in the primal's dtype. */
static const tol T_GRAD = {4, 4, 1e-5, true};

static bool is_exact(tol t) { return t.ulps == 0 && t.row_ulps == 0 && t.rtol == 0; }

static double ulp_of(ingot_dtype dt, double x) {
    int mbits = dt == INGOT_F16 ? 10 : dt == INGOT_BF16 ? 7 : 23;
    int emin = dt == INGOT_F16 ? -14 : -126, e = 0;
    if (x != 0 && isfinite(x)) frexp(fabs(x), &e);
    int lead = x != 0 && isfinite(x) ? e - 1 : emin;
    return ldexp(1.0, (lead < emin ? emin : lead) - mbits);
}

typedef struct famstat {
    char name[24];
    int64_t cases, errors;
    double worst_err, worst_ratio; /* |d| / scale; |d| / allowed */
    char worst_op[40];
} famstat;

static famstat g_fams[40];
static int g_nfams;
static int64_t g_compared;

static famstat *family(const char *name) {
    for (int i = 0; i < g_nfams; i++)
        if (strcmp(g_fams[i].name, name) == 0) return &g_fams[i];
    assert_true(g_nfams < COUNT(g_fams));
    famstat *f = &g_fams[g_nfams++];
    snprintf(f->name, sizeof f->name, "%s", name);
    return f;
}

static void note(famstat *f, const char *op, double err, double ratio) {
    if (ratio > f->worst_ratio || (ratio == f->worst_ratio && err > f->worst_err)) {
        f->worst_ratio = ratio;
        snprintf(f->worst_op, sizeof f->worst_op, "%s", op);
    }
    if (err > f->worst_err) f->worst_err = err;
}

static void check_meta(const char *op, const ingot_array *c, const ingot_array *g) {
    ingot_device d = ingot_array_device(g);
    if (d.type != INGOT_DEVICE_CUDA || d.index != 0)
        fail_msg("%s [%s]: the result is not on cuda:0", op, g_case);
    char cs[200], gs[200];
    shape_text(cs, sizeof cs, ingot_array_shape(c), ingot_array_ndim(c));
    shape_text(gs, sizeof gs, ingot_array_shape(g), ingot_array_ndim(g));
    if (ingot_array_dtype(c) != ingot_array_dtype(g) || strcmp(cs, gs) != 0)
        fail_msg("%s [%s]: CPU gives %s %s, CUDA %s %s", op, g_case,
                 ingot_dtype_name(ingot_array_dtype(c)), cs,
                 ingot_dtype_name(ingot_array_dtype(g)), gs);
}

static void compare_ints(famstat *f, const char *op, const ingot_array *c, const ingot_array *g) {
    int64_t n = ingot_array_size(c);
    int64_t *cv = malloc((size_t)(n ? n : 1) * 8), *gv = malloc((size_t)(n ? n : 1) * 8);
    assert_true(cv && gv);
    TU_OK(ingot_array_to_host(cv, (size_t)n * 8, INGOT_I64, c));
    TU_OK(ingot_array_to_host(gv, (size_t)n * 8, INGOT_I64, g));
    for (int64_t i = 0; i < n; i++)
        if (cv[i] != gv[i])
            fail_msg("%s [%s]: element %lld: CPU %lld, CUDA %lld", op, g_case, (long long)i,
                     (long long)cv[i], (long long)gv[i]);
    free(cv);
    free(gv);
    note(f, op, 0, 0);
}

static void compare_floats(famstat *f, const char *op, const ingot_array *c, const ingot_array *g,
                           tol t) {
    ingot_dtype dt = ingot_array_dtype(c);
    int nd = ingot_array_ndim(c);
    int64_t n = ingot_array_size(c), row = nd ? ingot_array_shape(c)[nd - 1] : 1;
    float *cv = malloc((size_t)(n ? n : 1) * 4), *gv = malloc((size_t)(n ? n : 1) * 4);
    assert_true(cv && gv);
    TU_OK(ingot_array_to_host(cv, (size_t)n * 4, INGOT_F32, c));
    TU_OK(ingot_array_to_host(gv, (size_t)n * 4, INGOT_F32, g));
    for (int64_t r0 = 0; r0 < n; r0 += row) {
        double rowmax = 0;
        for (int64_t i = r0; i < r0 + row; i++)
            if (isfinite(cv[i]) && fabs(cv[i]) > rowmax) rowmax = fabs(cv[i]);
        for (int64_t i = r0; i < r0 + row; i++) {
            double x = cv[i], y = gv[i];
            if (isnan(x) && isnan(y)) continue;
            double d = x == y ? 0 : fabs(x - y);
            if (isnan(d)) d = INFINITY; /* one NaN, or infinities that differ */
            double scale = fmax(1, t.row ? rowmax : fabs(x));
            double allowed = t.ulps * ulp_of(dt, x) + t.row_ulps * ulp_of(dt, rowmax) +
                             t.rtol * scale;
            if (d > allowed)
                fail_msg("%s [%s]: %s element %lld: CPU %.9g, CUDA %.9g (|d| %.3g > %.3g)", op,
                         g_case, ingot_dtype_name(dt), (long long)i, x, y, d, allowed);
            note(f, op, d / scale, allowed > 0 ? d / allowed : 0);
        }
    }
    free(cv);
    free(gv);
}

/* Compares a CPU result with a GPU result under family `fam`. */
static void compare(const char *fam, const char *op, const ingot_array *c, const ingot_array *g,
                    tol t) {
    famstat *f = family(fam);
    check_meta(op, c, g);
    if (!ingot_dtype_is_float(ingot_array_dtype(c)) || is_exact(t)) {
        if (ingot_dtype_is_float(ingot_array_dtype(c))) compare_floats(f, op, c, g, T_EXACT);
        else compare_ints(f, op, c, g);
    } else {
        compare_floats(f, op, c, g, t);
    }
    f->cases++;
    g_compared++;
}

/* ---- running a case on both devices ---- */

/* One op case: fn (an ingot_fn, so that it can also be differentiated) runs
 * on the CPU inputs and on the GPU inputs. */
typedef struct opcase {
    const char *fam, *op;
    ingot_fn fn;
    void *user;
    pair *in;
    int n_in, n_out;
    tol t;
    bool grad;        /* also compare ingot_vjp with random cotangents */
    double grad_rtol; /* the gradients' rtol when wider than T_GRAD's (0: none) */
} opcase;

static bool all_float(ingot_array *const *a, int n) {
    for (int i = 0; i < n; i++)
        if (!a[i] || !ingot_dtype_is_float(ingot_array_dtype(a[i]))) return false;
    return true;
}

static void free_all(ingot_array **a, int n) {
    for (int i = 0; i < n; i++) {
        ingot_array_free(a[i]);
        a[i] = NULL;
    }
}

static void same_status(const char *what, ingot_status sc, const char *msg_c, ingot_status sg,
                        const char *msg_g) {
    if (sc != sg)
        fail_msg("%s [%s]: CPU %s (%s), CUDA %s (%s)", what, g_case, ingot_status_str(sc), msg_c,
                 ingot_status_str(sg), msg_g);
}

static void run_grad(const opcase *oc, ingot_array *const *cout, ingot_array **ci,
                     ingot_array **gi) {
    char fam[32];
    snprintf(fam, sizeof fam, "grad %s", oc->fam);
    pair cot[2] = {{0}};
    ingot_array *cc[2], *gc[2], *cg[8] = {0}, *gg[8] = {0};
    for (int j = 0; j < oc->n_out; j++) {
        cot[j] = make_plain(ingot_array_dtype(cout[j]), ingot_array_shape(cout[j]),
                            ingot_array_ndim(cout[j]), V_NORMAL);
        cc[j] = cot[j].c;
        gc[j] = cot[j].g;
    }
    ingot_status sc = ingot_vjp(NULL, cg, oc->fn, oc->user, ci, (size_t)oc->n_in, cc,
                                (size_t)oc->n_out);
    char msg_c[1024];
    snprintf(msg_c, sizeof msg_c, "%s", ingot_last_error());
    ingot_status sg = ingot_vjp(NULL, gg, oc->fn, oc->user, gi, (size_t)oc->n_in, gc,
                                (size_t)oc->n_out);
    same_status(fam, sc, msg_c, sg, ingot_last_error());
    tol t = T_GRAD;
    if (oc->grad_rtol > t.rtol) t.rtol = oc->grad_rtol;
    for (int i = 0; sc == INGOT_OK && i < oc->n_in; i++) {
        if (!ingot_dtype_is_float(ingot_array_dtype(ci[i]))) continue;
        char what[64];
        snprintf(what, sizeof what, "%s, gradient of input %d", oc->op, i);
        compare(fam, what, cg[i], gg[i], t);
    }
    free_all(cg, oc->n_in);
    free_all(gg, oc->n_in);
    for (int j = 0; j < oc->n_out; j++) pair_free(&cot[j]);
}

static void describe(const opcase *oc) {
    size_t n = (size_t)snprintf(g_case, sizeof g_case, "%s", oc->op);
    for (int i = 0; i < oc->n_in && n < sizeof g_case; i++) {
        char s[200];
        const ingot_array *a = oc->in[i].c;
        if (!a) continue;
        shape_text(s, sizeof s, ingot_array_shape(a), ingot_array_ndim(a));
        n += (size_t)snprintf(g_case + n, sizeof g_case - n, " %s%s%s",
                              ingot_dtype_name(ingot_array_dtype(a)), s,
                              ingot_array_is_contiguous(a) ? "" : "/strided");
    }
}

/* Runs oc on both devices, compares, frees the inputs. */
static void run_case(const opcase *oc) {
    ingot_array *ci[8], *gi[8], *co[2] = {0}, *go[2] = {0};
    assert_true(oc->n_in <= 8 && oc->n_out <= 2);
    for (int i = 0; i < oc->n_in; i++) {
        ci[i] = oc->in[i].c;
        gi[i] = oc->in[i].g;
    }
    describe(oc);
    ingot_status sc = oc->fn(co, (size_t)oc->n_out, ci, (size_t)oc->n_in, oc->user);
    char msg_c[1024];
    snprintf(msg_c, sizeof msg_c, "%s", ingot_last_error());
    ingot_status sg = oc->fn(go, (size_t)oc->n_out, gi, (size_t)oc->n_in, oc->user);
    same_status(oc->op, sc, msg_c, sg, ingot_last_error());
    if (sc != INGOT_OK) {
        family(oc->fam)->errors++;
    } else {
        for (int j = 0; j < oc->n_out; j++) compare(oc->fam, oc->op, co[j], go[j], oc->t);
        if (oc->grad && all_float(co, oc->n_out)) run_grad(oc, co, ci, gi);
    }
    free_all(co, oc->n_out);
    free_all(go, oc->n_out);
    for (int i = 0; i < oc->n_in; i++) pair_free(&oc->in[i]);
}

/* ---- elementwise ---- */

typedef ingot_status (*unary_fn)(ingot_array **out, const ingot_array *a);
typedef ingot_status (*binary_fn)(ingot_array **out, const ingot_array *a, const ingot_array *b);

typedef struct named_unary {
    const char *name;
    unary_fn f;
    values v; /* preferred inputs */
} named_unary;

static const named_unary UNARY[] = {
    {"neg", ingot_neg, V_NORMAL},         {"abs", ingot_abs, V_GRID},
    {"square", ingot_square, V_NORMAL},   {"exp", ingot_exp, V_NORMAL},
    {"log", ingot_log, V_POS},            {"sqrt", ingot_sqrt, V_POS},
    {"rsqrt", ingot_rsqrt, V_POS},        {"reciprocal", ingot_reciprocal, V_POS},
    {"tanh", ingot_tanh, V_NORMAL},       {"sigmoid", ingot_sigmoid, V_NORMAL},
    {"silu", ingot_silu, V_NORMAL},       {"gelu", ingot_gelu, V_NORMAL},
    {"gelu_tanh", ingot_gelu_tanh, V_NORMAL}, {"sin", ingot_sin, V_NORMAL},
    {"cos", ingot_cos, V_NORMAL},
};

static ingot_status unary_case(ingot_array **out, size_t n_out, ingot_array *const *in,
                               size_t n_in, void *user) {
    return ((const named_unary *)user)->f(&out[0], in[0]);
}

static void test_unary(void **state) {
    for (int op = 0; op < COUNT(UNARY); op++)
        for (int r = 0; r < g_reps; r++) {
            int64_t shape[INGOT_MAX_DIMS];
            int nd = rand_shape(shape, 0, 4, g_max_size);
            ingot_dtype dt = pick_dtype(NUMERIC, COUNT(NUMERIC));
            values v = coin(4) ? (values)rnd_int(4) : UNARY[op].v;
            pair in[1] = {make_input(dt, shape, nd, v)};
            opcase oc = {"unary", UNARY[op].name, unary_case, (void *)&UNARY[op], in, 1, 1,
                         T_ELEM, true, 0};
            run_case(&oc);
        }
}

typedef struct named_binary {
    const char *name;
    binary_fn f;
    bool grad;
} named_binary;

static const named_binary BINARY[] = {
    {"add", ingot_add, true},           {"sub", ingot_sub, true},
    {"mul", ingot_mul, true},           {"div", ingot_div, true},
    {"pow", ingot_pow, true},           {"maximum", ingot_maximum, true},
    {"minimum", ingot_minimum, true},   {"equal", ingot_equal, false},
    {"not_equal", ingot_not_equal, false}, {"less", ingot_less, false},
    {"less_equal", ingot_less_equal, false}, {"greater", ingot_greater, false},
    {"greater_equal", ingot_greater_equal, false},
};

static ingot_status binary_case(ingot_array **out, size_t n_out, ingot_array *const *in,
                                size_t n_in, void *user) {
    return ((const named_binary *)user)->f(&out[0], in[0], in[1]);
}

/* Two inputs that broadcast to shape (one of them often smaller). */
static void binary_inputs(pair *in, const int64_t *shape, int nd, ingot_dtype da, ingot_dtype db,
                          values v) {
    int64_t small[INGOT_MAX_DIMS];
    int snd = broadcastable_shape(small, shape, nd);
    bool swap = coin(2);
    in[swap] = make_input(da, shape, nd, v);
    in[!swap] = coin(2) ? make_input(db, small, snd, v) : make_input(db, shape, nd, v);
}

static void test_binary(void **state) {
    for (int op = 0; op < COUNT(BINARY); op++)
        for (int r = 0; r < g_reps; r++) {
            ingot_dtype da = pick_dtype(NUMERIC, COUNT(NUMERIC));
            ingot_dtype db = coin(3) ? pick_dtype(NUMERIC, COUNT(NUMERIC)) : da;
            bool is_pow = strcmp(BINARY[op].name, "pow") == 0;
            values v = is_pow ? V_POS : op >= 5 ? (coin(2) ? V_GRID : V_NAN) : V_NORMAL;
            int64_t shape[INGOT_MAX_DIMS];
            int nd = rand_shape(shape, 0, 4, g_max_size);
            pair in[2];
            binary_inputs(in, shape, nd, da, db, v);
            opcase oc = {op >= 7 ? "compare" : "binary", BINARY[op].name, binary_case,
                         (void *)&BINARY[op], in, 2, 1, T_ELEM, BINARY[op].grad, 0};
            run_case(&oc);
        }
}

static ingot_status where_case(ingot_array **out, size_t n_out, ingot_array *const *in,
                               size_t n_in, void *user) {
    return ingot_where(&out[0], in[0], in[1], in[2]);
}

static void test_where(void **state) {
    for (int r = 0; r < 4 * g_reps; r++) {
        int64_t shape[INGOT_MAX_DIMS], small[INGOT_MAX_DIMS];
        int nd = rand_shape(shape, 0, 4, g_max_size), snd = broadcastable_shape(small, shape, nd);
        ingot_dtype dc = coin(2) ? INGOT_BOOL : pick_dtype(NUMERIC, COUNT(NUMERIC));
        ingot_dtype da = pick_dtype(NUMERIC, COUNT(NUMERIC));
        pair in[3];
        in[0] = make_input(dc, small, snd, V_GRID);
        binary_inputs(&in[1], shape, nd, da, coin(3) ? pick_dtype(NUMERIC, COUNT(NUMERIC)) : da,
                      V_NORMAL);
        opcase oc = {"where", "where", where_case, NULL, in, 3, 1, T_EXACT, true, 0};
        run_case(&oc);
    }
}

/* ---- astype and views (data movement: exact) ---- */

typedef struct view_params {
    int op;
    ingot_dtype dtype;
    int axes[INGOT_MAX_DIMS], naxes, a1, a2;
    int64_t shape[INGOT_MAX_DIMS], start[INGOT_MAX_DIMS], stop[INGOT_MAX_DIMS],
        step[INGOT_MAX_DIMS];
    int nd;
} view_params;

static const char *const VIEW_NAMES[] = {"contiguous", "reshape", "flatten",    "transpose",
                                         "swapaxes",   "slice",   "slice_axis", "broadcast_to",
                                         "expand_dims", "squeeze", "stop_gradient", "astype"};

static ingot_status view_case(ingot_array **out, size_t n_out, ingot_array *const *in,
                              size_t n_in, void *user) {
    const view_params *p = user;
    const ingot_array *a = in[0];
    switch (p->op) {
    case 0: return ingot_contiguous(&out[0], a);
    case 1: return ingot_reshape(&out[0], a, p->shape, p->nd);
    case 2: return ingot_flatten(&out[0], a);
    case 3: return ingot_transpose(&out[0], a, p->axes, p->naxes);
    case 4: return ingot_swapaxes(&out[0], a, p->a1, p->a2);
    case 5: return ingot_slice(&out[0], a, p->start, p->stop, p->step);
    case 6: return ingot_slice_axis(&out[0], a, p->a1, p->start[0], p->stop[0]);
    case 7: return ingot_broadcast_to(&out[0], a, p->shape, p->nd);
    case 8: return ingot_expand_dims(&out[0], a, p->a1);
    case 9: return ingot_squeeze(&out[0], a, NULL, 0);
    case 10: return ingot_stop_gradient(&out[0], a);
    default: return ingot_astype(&out[0], a, p->dtype);
    }
}

static int64_t rand_bound(int64_t dim) {
    if (coin(6)) return coin(2) ? INT64_MAX : INT64_MIN;
    return (int64_t)rnd_int((int)(2 * dim + 3)) - dim - 1;
}

/* Random parameters for view op p->op on shape (nd dims). */
static void view_params_for(view_params *p, const int64_t *shape, int nd) {
    p->a1 = nd ? rnd_int(2 * nd) - nd : 0;
    p->a2 = nd ? rnd_int(nd) : 0;
    p->naxes = nd;
    for (int i = 0; i < nd; i++) p->axes[i] = i;
    for (int i = nd - 1; i > 0; i--) { /* a random permutation */
        int j = rnd_int(i + 1), t = p->axes[i];
        p->axes[i] = p->axes[j];
        p->axes[j] = t;
    }
    for (int i = 0; i < nd; i++) {
        p->start[i] = rand_bound(shape[i]);
        p->stop[i] = rand_bound(shape[i]);
        p->step[i] = (rnd_int(3) + 1) * (coin(3) ? -1 : 1);
    }
    if (p->op == 1) { /* reshape: merge two neighbours, one dim inferred */
        p->nd = 0;
        for (int i = 0; i < nd; i++) {
            if (i + 1 < nd && coin(2)) {
                p->shape[p->nd++] = shape[i] * shape[i + 1];
                i++;
            } else {
                p->shape[p->nd++] = shape[i];
            }
        }
        if (p->nd && shape_size(shape, nd) > 0) p->shape[rnd_int(p->nd)] = -1;
    } else if (p->op == 7) { /* broadcast_to: a new leading dim, size-1 dims stretched */
        p->nd = nd + 1;
        p->shape[0] = rnd_int(3) + 1;
        for (int i = 0; i < nd; i++) p->shape[i + 1] = shape[i] == 1 ? rnd_int(4) : shape[i];
    } else if (p->op == 8) {
        p->a1 = rnd_int(2 * nd + 2) - nd - 1;
    }
}

static void test_views(void **state) {
    for (int op = 0; op < COUNT(VIEW_NAMES); op++)
        for (int r = 0; r < (op == 11 ? 8 : 1) * g_reps; r++) { /* astype: every dtype pair */
            int64_t shape[INGOT_MAX_DIMS];
            int nd = rand_shape(shape, op == 6 ? 1 : 0, 4, g_max_size);
            if (op == 9 && nd && coin(2)) shape[rnd_int(nd)] = 1; /* something to squeeze */
            view_params p = {.op = op, .dtype = pick_dtype(ALL_DTYPES, COUNT(ALL_DTYPES))};
            view_params_for(&p, shape, nd);
            ingot_dtype dt = pick_dtype(ALL_DTYPES, COUNT(ALL_DTYPES));
            pair in[1] = {make_input(dt, shape, nd, op == 11 ? V_SPECIAL : V_NORMAL)};
            opcase oc = {op == 11 ? "astype" : "views", VIEW_NAMES[op], view_case, &p, in, 1, 1,
                         T_EXACT, true, 0};
            run_case(&oc);
        }
}

/* ---- joining and indexing ---- */

typedef struct index_params {
    int op, axis, n;
} index_params;

static const char *const INDEX_NAMES[] = {"concat", "stack", "take", "take_along_axis",
                                          "put_along_axis"};

static ingot_status index_case(ingot_array **out, size_t n_out, ingot_array *const *in,
                               size_t n_in, void *user) {
    const index_params *p = user;
    switch (p->op) {
    case 0: return ingot_concat(&out[0], (const ingot_array *const *)in, p->n, p->axis);
    case 1: return ingot_stack(&out[0], (const ingot_array *const *)in, p->n, p->axis);
    case 2: return ingot_take(&out[0], in[0], in[1], p->axis);
    case 3: return ingot_take_along_axis(&out[0], in[0], in[1], p->axis);
    default: return ingot_put_along_axis(&out[0], in[0], in[1], in[2], p->axis);
    }
}

static void index_case_inputs(index_params *p, pair *in, int *n_in) {
    int64_t shape[INGOT_MAX_DIMS], s2[INGOT_MAX_DIMS];
    int nd = rand_shape(shape, 1, 4, g_max_size / 4);
    ingot_dtype dt = pick_dtype(NUMERIC, COUNT(NUMERIC));
    p->axis = rnd_int(nd);
    int64_t dim = shape[p->axis];
    ingot_dtype idt = pick_dtype(INDEX_DTYPES, COUNT(INDEX_DTYPES));
    switch (p->op) {
    case 0: /* concat: other dims equal, the axis varies */
    case 1: /* stack: one shape */
        p->n = 1 + rnd_int(3);
        for (int i = 0; i < p->n; i++) {
            memcpy(s2, shape, sizeof s2);
            if (p->op == 0) s2[p->axis] = rnd_int(4);
            in[i] = make_input(coin(4) ? pick_dtype(NUMERIC, COUNT(NUMERIC)) : dt, s2, nd,
                               V_NORMAL);
        }
        if (p->op == 1) p->axis = rnd_int(2 * nd + 2) - nd - 1;
        else if (coin(2)) p->axis -= nd;
        *n_in = p->n;
        return;
    case 2: { /* take: indices of any shape */
        int ind = rand_shape(s2, 0, 2, 64);
        if (dim == 0 && ind == 0) s2[ind++] = 0;
        if (dim == 0) s2[0] = 0;
        in[0] = make_input(dt, shape, nd, V_NORMAL);
        in[1] = make_indices(idt, s2, ind, dim, false);
        *n_in = 2;
        return;
    }
    default: { /* take/put_along_axis: indices with a's ndim */
        memcpy(s2, shape, sizeof s2);
        s2[p->axis] = dim ? 1 + rnd_int(6) : 0;
        for (int i = 0; p->op == 3 && i < nd; i++)
            if (i != p->axis && coin(4)) s2[i] = 1; /* broadcasts with a */
        in[0] = make_input(dt, shape, nd, V_NORMAL);
        in[1] = make_indices(idt, s2, nd, dim, false);
        *n_in = 2;
        if (p->op == 4) {
            int64_t vs[INGOT_MAX_DIMS];
            int vnd = broadcastable_shape(vs, s2, nd);
            in[2] = make_input(coin(4) ? pick_dtype(NUMERIC, COUNT(NUMERIC)) : dt, vs, vnd,
                               V_NORMAL);
            *n_in = 3;
        }
        if (coin(2)) p->axis -= nd;
    }
    }
}

static void test_index(void **state) {
    for (int op = 0; op < COUNT(INDEX_NAMES); op++)
        for (int r = 0; r < 2 * g_reps; r++) {
            index_params p = {.op = op};
            pair in[4];
            int n_in = 0;
            index_case_inputs(&p, in, &n_in);
            opcase oc = {"index", INDEX_NAMES[op], index_case, &p, in, n_in, 1,
                         T_EXACT, true, 0};
            run_case(&oc);
        }
}

/* ---- reductions, softmax, cumsum ---- */

typedef struct reduce_params {
    int op, axes[INGOT_MAX_DIMS], naxes, axis, ddof;
    bool all, keepdims, reverse, exclusive;
} reduce_params;

static const char *const REDUCE_NAMES[] = {"sum", "mean", "max", "min", "logsumexp", "var",
                                           "argmax", "argmin", "softmax", "log_softmax",
                                           "cumsum"};

static ingot_status reduce_case(ingot_array **out, size_t n_out, ingot_array *const *in,
                                size_t n_in, void *user) {
    const reduce_params *p = user;
    const int *axes = p->all ? NULL : p->axes;
    switch (p->op) {
    case 0: return ingot_sum(&out[0], in[0], axes, p->naxes, p->keepdims);
    case 1: return ingot_mean(&out[0], in[0], axes, p->naxes, p->keepdims);
    case 2: return ingot_max(&out[0], in[0], axes, p->naxes, p->keepdims);
    case 3: return ingot_min(&out[0], in[0], axes, p->naxes, p->keepdims);
    case 4: return ingot_logsumexp(&out[0], in[0], axes, p->naxes, p->keepdims);
    case 5: return ingot_var(&out[0], in[0], axes, p->naxes, p->keepdims, p->ddof);
    case 6: return ingot_argmax(&out[0], in[0], p->axis, p->keepdims);
    case 7: return ingot_argmin(&out[0], in[0], p->axis, p->keepdims);
    case 8: return ingot_softmax(&out[0], in[0], p->axis);
    case 9: return ingot_log_softmax(&out[0], in[0], p->axis);
    default: return ingot_cumsum(&out[0], in[0], p->axis, p->reverse, p->exclusive);
    }
}

static void test_reduce(void **state) {
    for (int op = 0; op < COUNT(REDUCE_NAMES); op++)
        for (int r = 0; r < 2 * g_reps; r++) {
            int64_t shape[INGOT_MAX_DIMS];
            int nd = rand_shape(shape, op >= 6 ? 1 : 0, 4, 4 * g_max_size);
            reduce_params p = {.op = op, .all = coin(4), .keepdims = coin(2),
                               .reverse = coin(2), .exclusive = coin(2), .ddof = rnd_int(2)};
            p.axis = nd ? rnd_int(2 * nd) - nd : 0;
            for (int i = 0; i < nd; i++)
                if (coin(2)) p.axes[p.naxes++] = coin(2) ? i : i - nd;
            bool selects = op == 2 || op == 3 || op == 6 || op == 7;
            values v = selects ? (coin(2) ? V_GRID : V_NAN) : V_NORMAL;
            pair in[1] = {make_input(pick_dtype(NUMERIC, COUNT(NUMERIC)), shape, nd, v)};
            opcase oc = {op >= 8 ? "softmax/cumsum" : "reduce", REDUCE_NAMES[op], reduce_case,
                         &p, in, 1, 1, selects ? T_EXACT : T_RED, op != 6 && op != 7, 0};
            run_case(&oc);
        }
}

/* ---- matmul ---- */

static ingot_status matmul_case(ingot_array **out, size_t n_out, ingot_array *const *in,
                                size_t n_in, void *user) {
    return ingot_matmul(&out[0], in[0], in[1]);
}

static void test_matmul(void **state) {
    static const int64_t dims[] = {0, 1, 2, 3, 7, 16, 17, 32, 64, 65, 128, 200};
    for (int r = 0; r < 6 * g_reps; r++) {
        int64_t M = dims[1 + rnd_int(COUNT(dims) - 1)], K = dims[rnd_int(COUNT(dims))];
        int64_t N = dims[1 + rnd_int(COUNT(dims) - 1)];
        if (coin(20)) M = 0;
        int64_t sa[INGOT_MAX_DIMS], sb[INGOT_MAX_DIMS];
        int nb = rnd_int(3), na = 0, nbb = 0;
        for (int i = 0; i < nb; i++) { /* batch dims; some broadcast */
            int64_t d = 1 + rnd_int(3);
            sa[na++] = coin(4) ? 1 : d;
            sb[nbb++] = coin(4) ? 1 : d;
        }
        if (nb && coin(3)) memmove(sb, sb + 1, (size_t)--nbb * sizeof *sb); /* fewer dims */
        bool vec_a = nb == 0 && coin(5), vec_b = nb == 0 && coin(5);
        if (!vec_a) sa[na++] = M;
        sa[na++] = K;
        sb[nbb++] = K;
        if (!vec_b) sb[nbb++] = N;
        int64_t big = shape_size(sa, na) + shape_size(sb, nbb);
        if (big > 40 * g_max_size) continue;
        ingot_dtype da = pick_dtype(FLOATS, COUNT(FLOATS));
        ingot_dtype db = coin(4) ? pick_dtype(FLOATS, COUNT(FLOATS)) : da;
        pair in[2] = {make_input(da, sa, na, V_NORMAL), make_input(db, sb, nbb, V_NORMAL)};
        opcase oc = {"matmul", "matmul", matmul_case, NULL, in, 2, 1, T_RED, true, 0};
        run_case(&oc);
    }
    /* integers are a DTYPE error on both */
    int64_t s[2] = {2, 2};
    pair in[2] = {make_plain(INGOT_I32, s, 2, V_NORMAL), make_plain(INGOT_I32, s, 2, V_NORMAL)};
    opcase oc = {"matmul", "matmul int", matmul_case, NULL, in, 2, 1, T_RED, false, 0};
    run_case(&oc);
}

/* ---- sorting and selection ---- */

typedef struct sort_params {
    int op, axis, k;
} sort_params;

static const char *const SORT_NAMES[] = {"sort", "argsort", "topk"};

static ingot_status sort_case(ingot_array **out, size_t n_out, ingot_array *const *in,
                              size_t n_in, void *user) {
    const sort_params *p = user;
    if (p->op == 0) return ingot_sort(&out[0], in[0], p->axis);
    if (p->op == 1) return ingot_argsort(&out[0], in[0], p->axis);
    /* n_out 1 (differentiated): the values only */
    return ingot_topk(&out[0], n_out == 2 ? &out[1] : NULL, in[0], p->k, p->axis);
}

/* Whether x sorts before y (NaN last). */
static bool sorts_before(double x, double y) { return !isnan(x) && (isnan(y) || x < y); }

/* argpartition on the GPU: per line along axis, a permutation of the line
 * whose kth entry is the CPU's stable argsort at kth, with no later element
 * before it and no earlier one after it. */
static void check_argpartition(const pair *a, int kth, int axis) {
    ingot_array *idx = NULL, *ref = NULL;
    TU_OK(ingot_argpartition(&idx, a->g, kth, axis));
    TU_OK(ingot_argsort(&ref, a->c, axis));
    ingot_array *c_idx = NULL;
    TU_OK(ingot_argpartition(&c_idx, a->c, kth, axis));
    check_meta("argpartition", c_idx, idx);
    int nd = ingot_array_ndim(a->c);
    const int64_t *shape = ingot_array_shape(a->c);
    int ax = axis < 0 ? axis + nd : axis;
    int64_t n = ingot_array_size(a->c), dim = shape[ax], inner = 1;
    for (int i = ax + 1; i < nd; i++) inner *= shape[i];
    double *v = tu_values(a->c);
    int64_t *iv = malloc((size_t)(n ? n : 1) * 8), *rv = malloc((size_t)(n ? n : 1) * 8);
    char *seen = malloc((size_t)(dim ? dim : 1));
    assert_true(iv && rv && seen);
    TU_OK(ingot_array_to_host(iv, (size_t)n * 8, INGOT_I64, idx));
    TU_OK(ingot_array_to_host(rv, (size_t)n * 8, INGOT_I64, ref));
    for (int64_t line = 0; dim && line < n / dim; line++) {
        int64_t base = line / inner * dim * inner + line % inner;
        memset(seen, 0, (size_t)dim);
        int64_t at_k = iv[base + kth * inner];
        if (at_k != rv[base + kth * inner])
            fail_msg("argpartition [%s]: line %lld: index %lld at kth %d, stable sort has %lld",
                     g_case, (long long)line, (long long)at_k, kth,
                     (long long)rv[base + kth * inner]);
        double pivot = v[base + at_k * inner];
        for (int64_t j = 0; j < dim; j++) {
            int64_t i = iv[base + j * inner];
            if (i < 0 || i >= dim || seen[i]++)
                fail_msg("argpartition [%s]: line %lld is not a permutation", g_case,
                         (long long)line);
            double x = v[base + i * inner];
            if ((j < kth && sorts_before(pivot, x)) || (j > kth && sorts_before(x, pivot)))
                fail_msg("argpartition [%s]: line %lld: entry %lld (value %g) on the wrong side "
                         "of kth %d (value %g)",
                         g_case, (long long)line, (long long)j, x, kth, pivot);
        }
    }
    free(v);
    free(iv);
    free(rv);
    free(seen);
    ingot_array_free(idx);
    ingot_array_free(ref);
    ingot_array_free(c_idx);
    famstat *f = family("sort");
    f->cases++;
    g_compared++;
    note(f, "argpartition", 0, 0);
}

static void test_sort(void **state) {
    for (int op = 0; op < 4; op++)
        for (int r = 0; r < 2 * g_reps; r++) {
            int64_t shape[INGOT_MAX_DIMS];
            int nd = rand_shape(shape, 1, 3, 4 * g_max_size);
            sort_params p = {.op = op, .axis = rnd_int(2 * nd) - nd};
            int64_t dim = shape[p.axis < 0 ? p.axis + nd : p.axis];
            p.k = coin(8) ? (int)dim : rnd_int((int)(dim < 20 ? dim + 1 : 20));
            values v = (values)(V_NORMAL + rnd_int(4));
            pair in[1] = {make_input(pick_dtype(NUMERIC, COUNT(NUMERIC)), shape, nd, v)};
            if (op == 3) {
                snprintf(g_case, sizeof g_case, "argpartition %s", ingot_dtype_name(
                                                                       ingot_array_dtype(in[0].c)));
                if (dim) check_argpartition(&in[0], rnd_int((int)dim), p.axis);
                pair_free(&in[0]);
                continue;
            }
            opcase oc = {"sort", SORT_NAMES[op], sort_case, &p, in, 1, op == 2 ? 2 : 1, T_EXACT,
                         op == 0, 0};
            run_case(&oc);
            if (op == 2) { /* topk values' gradient */
                pair in2[1] = {make_input(pick_dtype(FLOATS, COUNT(FLOATS)), shape, nd, v)};
                opcase og = {"sort", "topk values", sort_case, &p, in2, 1, 1, T_EXACT, true, 0};
                run_case(&og);
            }
        }
}

/* ---- fast ops ---- */

typedef struct fast_params {
    int op; /* 0 rms_norm, 1 layer_norm, 2 rope, 3 sdpa */
    float eps;
    bool has_w, has_b;
    ingot_rope_options rope; /* freqs and positions come as inputs 1 and 2 */
    bool has_freqs, has_pos;
    ingot_sdpa_options sdpa; /* the mask and kv_len come as inputs 3 and 4 */
    bool has_mask, has_kv_len;
} fast_params;

static ingot_status fast_case(ingot_array **out, size_t n_out, ingot_array *const *in,
                              size_t n_in, void *user) {
    const fast_params *p = user;
    switch (p->op) {
    case 0: return ingot_rms_norm(&out[0], in[0], p->has_w ? in[1] : NULL, p->eps);
    case 1:
        return ingot_layer_norm(&out[0], in[0], p->has_w ? in[1] : NULL, p->has_b ? in[2] : NULL,
                                p->eps);
    case 2: {
        ingot_rope_options o = p->rope;
        o.freqs = p->has_freqs ? in[1] : NULL;
        o.positions = p->has_pos ? in[2] : NULL;
        return ingot_rope(&out[0], in[0], &o);
    }
    default: {
        ingot_sdpa_options o = p->sdpa;
        o.mask = p->has_mask ? in[3] : NULL;
        o.kv_len = p->has_kv_len ? in[4] : NULL;
        return ingot_sdpa(&out[0], in[0], in[1], in[2], &o);
    }
    }
}

static void norm_case(int op) {
    int64_t shape[INGOT_MAX_DIMS], d[1];
    int nd = rand_shape(shape, 1, 4, g_max_size);
    if (coin(3)) shape[nd - 1] = (int64_t[]){64, 128, 1024, 4096}[rnd_int(4)];
    while (shape_size(shape, nd) > 8 * g_max_size && nd > 1) shape[0] = shape[0] / 2;
    d[0] = shape[nd - 1];
    ingot_dtype dt = pick_dtype(FLOATS, COUNT(FLOATS));
    fast_params p = {.op = op, .eps = coin(2) ? 1e-6f : 1e-5f, .has_w = !coin(4),
                     .has_b = !coin(4)};
    ingot_dtype wt = coin(3) ? INGOT_F32 : dt;
    pair in[3] = {make_input(dt, shape, nd, V_NORMAL), make_input(wt, d, 1, V_NORMAL),
                  make_input(wt, d, 1, V_NORMAL)};
    opcase oc = {"fast", op ? "layer_norm" : "rms_norm", fast_case, &p, in, 3, 1, T_FAST, true, 0};
    run_case(&oc);
}

static void rope_case(void) {
    int64_t shape[4] = {1 + rnd_int(2), 1 + rnd_int(4), 1 + rnd_int(20), 2 * (1 + rnd_int(40))};
    if (coin(5)) shape[2] = 0;
    fast_params p = {.op = 2};
    int64_t hd = shape[3];
    p.rope.dims = coin(2) ? 0 : (int)(2 * (1 + rnd_int((int)(hd / 2))));
    p.rope.interleaved = coin(3);
    p.rope.base = coin(2) ? 0 : (float[]){10000, 1e6f, 5e5f}[rnd_int(3)];
    p.rope.scale = coin(2) ? 0 : (float[]){1, 0.125f, 2}[rnd_int(3)];
    p.rope.offset = coin(2) ? 0 : rnd_int(5000);
    p.has_freqs = coin(4);
    p.has_pos = coin(3);
    int64_t nf[1] = {(p.rope.dims ? p.rope.dims : hd) / 2};
    int64_t ps[2] = {coin(2) ? 1 : shape[0], shape[2]};
    int pnd = coin(3) ? 1 : 2;
    ingot_dtype dt = pick_dtype(FLOATS, COUNT(FLOATS));
    pair in[3] = {make_input(dt, shape, 4, V_NORMAL), make_plain(INGOT_F32, nf, 1, V_POS),
                  make_indices(coin(2) ? INGOT_I64 : INGOT_I32, pnd == 1 ? ps + 1 : ps, pnd,
                               4096, true)};
    opcase oc = {"fast", "rope", fast_case, &p, in, 3, 1, T_FAST, true, 0};
    run_case(&oc);
}

/* Shapes: SDPA_SMALL (the register path), SDPA_DECODE (a few queries against
 * hundreds to thousands of keys: split-KV) or SDPA_PREFILL (64+ query rows a
 * kv head and head dims 64, 128, 256: f16/bf16 take the tensor-core path). */
enum { SDPA_SMALL, SDPA_DECODE, SDPA_PREFILL };

static void sdpa_case(int kind) {
    bool decode = kind == SDPA_DECODE;
    int64_t B = 1 + rnd_int(2), Hkv = 1 + rnd_int(3), G = 1 + rnd_int(3);
    int64_t Tq = coin(3) ? 1 : 1 + rnd_int(40), Tk = Tq + (coin(2) ? rnd_int(60) : 0);
    int64_t D = (int64_t[]){8, 16, 32, 64, 80, 128}[rnd_int(6)], Dv = coin(4) ? 16 : D;
    if (coin(12)) Tq = 0;
    if (decode) {
        G = 1 + rnd_int(8);
        Tq = coin(2) ? 1 : 1 + rnd_int(4);
        Tk = 128 + rnd_int(2500);
        D = Dv = coin(2) ? 64 : 128;
    }
    if (kind == SDPA_PREFILL) {
        B = 1 + rnd_int(2);
        Hkv = 1 + rnd_int(2);
        G = 1 + rnd_int(4);
        Tq = (64 + rnd_int(140) + G - 1) / G;
        Tk = Tq + (coin(2) ? rnd_int(100) : 0);
        D = Dv = (int64_t[]){64, 128, 256}[rnd_int(3)];
    }
    int64_t qs[4] = {B, Hkv * G, Tq, D}, ks[4] = {B, Hkv, Tk, D}, vs[4] = {B, Hkv, Tk, Dv};
    fast_params p = {.op = 3};
    p.sdpa.scale = coin(2) ? 0 : 0.3f;
    p.sdpa.causal = coin(2);
    p.sdpa.window = coin(3) ? 1 + rnd_int(16) : 0;
    p.has_mask = coin(3);
    int64_t ms[4] = {coin(2) ? 1 : B, coin(2) ? 1 : Hkv * G, Tq, Tk};
    int mnd = coin(2) ? 4 : 2;
    ingot_dtype dt = pick_dtype(FLOATS, COUNT(FLOATS));
    if (kind == SDPA_PREFILL && !coin(4)) dt = coin(2) ? INGOT_BF16 : INGOT_F16;
    pair in[5] = {make_input(dt, qs, 4, V_NORMAL), make_input(dt, ks, 4, V_NORMAL),
                  make_input(dt, vs, 4, V_NORMAL), {0}, {0}};
    /* kv_len: [B] or [], mostly within [0, Tk], sometimes past either end */
    p.has_kv_len = coin(3);
    int64_t kb[1] = {B};
    in[4] = make_indices(coin(2) ? INGOT_I32 : INGOT_I64, kb, coin(4) ? 0 : 1, Tk + 3, !coin(5));
    p.sdpa.max_kv_len = coin(2) ? 0 : 1 + rnd_int((int)Tk + 10); /* a hint, right or wrong */
    ingot_dtype mt = coin(2) ? INGOT_BOOL : dt;
    const int64_t *mshape = mnd == 4 ? ms : ms + 2;
    in[3] = make_input(mt, mshape, mnd, V_NORMAL);
    if (mt != INGOT_BOOL && coin(2)) { /* -inf hides keys */
        pair_free(&in[3]);
        ingot_array *b = host_array(INGOT_BOOL, mshape, mnd, V_NORMAL), *z = NULL, *ninf = NULL,
                    *m = NULL;
        TU_OK(ingot_zeros(&z, mt, NULL, 0));
        TU_OK(ingot_full(&ninf, mt, NULL, 0, -INFINITY));
        TU_OK(ingot_where(&m, b, z, ninf));
        in[3] = pair_of(m);
        ingot_array_free(b);
        ingot_array_free(z);
        ingot_array_free(ninf);
    }
    /* f32 sums over Tk keys in another order (split-KV, tensor-core tiles):
     * the relative tolerance grows with Tk past 128. The gradients also sum
     * over D (dO . V, delta = dO . O) with cancellation; in f16/bf16 delta
     * uses the stored output, which the two backends may round one ulp
     * apart, so their gradients get 2e-3 (two f16 ulps of 1). */
    double keys = Tk > 128 ? (double)Tk / 128 : 1, dims = D > 32 ? (double)D / 32 : 1;
    tol t = T_FAST;
    t.rtol *= keys;
    opcase oc = {"fast", "sdpa", fast_case, &p, in, 5, 1, t, true,
                 dt == INGOT_F32 ? 1e-5 * keys * dims : 2e-3};
    run_case(&oc);
}

static void test_fast(void **state) {
    for (int r = 0; r < 2 * g_reps; r++) {
        norm_case(0);
        norm_case(1);
        rope_case();
        sdpa_case(SDPA_SMALL);
        if (r % 2 == 0) sdpa_case(SDPA_DECODE);
        if (r % 2 == 1) sdpa_case(SDPA_PREFILL);
    }
}

/* ---- random bits through the kernel tables ---- */

static void test_random_bits(void **state) {
    const ingot__backend *cpu = ingot__backend_for(ingot_cpu()), *gpu = ingot__backend_for(g_gpu);
    assert_non_null(cpu);
    assert_non_null(gpu);
    static const int64_t sizes[] = {0, 1, 3, 4, 5, 7, 1000, 4099, 1 << 20};
    static const uint64_t counters[] = {0, 1, 0xfffffffeull, 0xffffffffffffff00ull, 12345};
    famstat *f = family("random bits");
    for (int i = 0; i < COUNT(sizes); i++)
        for (int j = 0; j < COUNT(counters); j++) {
            ingot__philox rng = {0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) ^ (uint64_t)j,
                                 counters[j]};
            int64_t n = sizes[i];
            ingot_array *c = NULL, *z = NULL, *g = NULL;
            TU_OK(ingot_zeros(&c, INGOT_U32, &n, 1));
            TU_OK(ingot_zeros(&z, INGOT_U32, &n, 1));
            TU_OK(ingot_array_to_device(&g, z, g_gpu)); /* a fresh contiguous GPU array */
            TU_OK(cpu->random_bits(c, rng));
            TU_OK(gpu->random_bits(g, rng));
            uint32_t *cv = malloc((size_t)(n ? n : 1) * 4), *gv = malloc((size_t)(n ? n : 1) * 4);
            assert_true(cv && gv);
            TU_OK(ingot_array_to_host(cv, (size_t)n * 4, INGOT_U32, c));
            TU_OK(ingot_array_to_host(gv, (size_t)n * 4, INGOT_U32, g));
            for (int64_t k = 0; k < n; k++)
                if (cv[k] != gv[k])
                    fail_msg("random_bits n %lld counter %llu: word %lld: CPU %08x, CUDA %08x",
                             (long long)n, (unsigned long long)rng.counter, (long long)k, cv[k],
                             gv[k]);
            free(cv);
            free(gv);
            ingot_array_free(c);
            ingot_array_free(z);
            ingot_array_free(g);
            f->cases++;
            g_compared++;
        }
}

/* ---- copy_at (KV-cache writes) through the kernel tables ---- */

/* dst gets src from a device-held start along an axis: the same bits on both
 * backends, for every dtype size, strided operands and starts that clamp. */
static void test_copy_at(void **state) {
    (void)state;
    const ingot__backend *cpu = ingot__backend_for(ingot_cpu()), *gpu = ingot__backend_for(g_gpu);
    famstat *f = family("copy_at");
    for (int r = 0; r < 4 * g_reps; r++) {
        int64_t ds[INGOT_MAX_DIMS], ss[INGOT_MAX_DIMS];
        int nd = 2 + rnd_int(3), axis = rnd_int(nd);
        for (int d = 0; d < nd; d++) ds[d] = ss[d] = 1 + rnd_int(d == axis ? 40 : 6);
        ss[axis] = 1 + rnd_int((int)ds[axis]);
        int64_t room = ds[axis] - ss[axis], one = 1, sv = rnd_int((int)room + 7) - 3;
        ingot_dtype dt = pick_dtype(NUMERIC, COUNT(NUMERIC));
        layout ld = {.kind = coin(2) ? L_CONTIG : L_TRANSPOSED, .reverse_all = coin(2)};
        pair dst = make_input_as(dt, ds, nd, V_NORMAL, ld), src = make_input(dt, ss, nd, V_NORMAL);
        ingot_array *sc = NULL;
        TU_OK(ingot_array_from_data(&sc, &sv, INGOT_I64, &one, 1));
        pair start = pair_of(sc);
        snprintf(g_case, sizeof g_case, "copy_at %s axis %d of %d, %lld of %lld rows from %lld",
                 ingot_dtype_name(dt), axis, nd, (long long)ss[axis], (long long)ds[axis],
                 (long long)sv);
        TU_OK(cpu->copy_at(dst.c, src.c, axis, start.c));
        TU_OK(gpu->copy_at(dst.g, src.g, axis, start.g));
        size_t n = (size_t)ingot_array_nbytes(dst.c);
        char *cb = malloc(n + 1), *gb = malloc(n + 1);
        assert_true(cb && gb);
        TU_OK(ingot_array_to_host(cb, n, dt, dst.c));
        TU_OK(ingot_array_to_host(gb, n, dt, dst.g));
        if (memcmp(cb, gb, n)) fail_msg("%s: CPU and CUDA differ", g_case);
        free(cb);
        free(gb);
        pair_free(&dst);
        pair_free(&src);
        pair_free(&start);
        note(f, "copy_at", 0, 0);
        f->cases++;
        g_compared++;
    }
}

/* ---- memory and devices ---- */

static ingot_memory_stats gpu_stats(void) {
    ingot_memory_stats s;
    TU_OK(ingot_device_synchronize(g_gpu));
    TU_OK(ingot_memory_stats_get(&s, g_gpu));
    return s;
}

/* One op on the GPU: out = a * b + a, freed at once. */
static void one_op(const ingot_array *a, const ingot_array *b) {
    ingot_array *m = NULL, *s = NULL;
    TU_OK(ingot_mul(&m, a, b));
    TU_OK(ingot_add(&s, m, a));
    ingot_array_free(m);
    ingot_array_free(s);
}

static void test_memory_stats(void **state) {
    ingot_memory_stats s0 = gpu_stats();
    int64_t shape[2] = {256, 300};
    pair a = make_plain(INGOT_F32, shape, 2, V_NORMAL), b = make_plain(INGOT_BF16, shape, 2,
                                                                       V_NORMAL);
    ingot_memory_stats s1 = gpu_stats();
    assert_true(s1.active >= s0.active + 256 * 300 * 6);
    assert_true(s1.peak >= s1.active);
    for (int i = 0; i < 5; i++) one_op(a.g, b.g); /* warm the cache */
    ingot_memory_stats warm = gpu_stats();
    for (int i = 0; i < 100; i++) one_op(a.g, b.g);
    ingot_memory_stats after = gpu_stats();
    if (after.device_allocs != warm.device_allocs)
        fail_msg("device_allocs grew from %zu to %zu over 100 repeats of one op",
                 warm.device_allocs, after.device_allocs);
    assert_int_equal(after.active, s1.active);
    pair_free(&a);
    pair_free(&b);
    ingot_memory_stats end = gpu_stats();
    if (end.active != s0.active)
        fail_msg("active %zu after freeing everything, %zu at the start", end.active, s0.active);
    assert_true(end.cached > 0);
    TU_OK(ingot_memory_empty_cache(g_gpu));
    end = gpu_stats();
    assert_int_equal(end.active, s0.active);
    TU_OK(ingot_memory_empty_cache(ingot_cpu()));
    ingot_memory_stats cpu;
    TU_OK(ingot_memory_stats_get(&cpu, ingot_cpu()));
    assert_int_equal(cpu.device_allocs, 0);
    ingot_device missing = {INGOT_DEVICE_CUDA, ingot_device_count(INGOT_DEVICE_CUDA)};
    TU_FAILS(ingot_memory_stats_get(&cpu, missing), INGOT_ERR_DEVICE, NULL);
    TU_FAILS(ingot_memory_empty_cache(missing), INGOT_ERR_DEVICE, NULL);
    TU_FAILS(ingot_device_synchronize(missing), INGOT_ERR_DEVICE, NULL);
}

static void test_memory_limit(void **state) {
    ingot_memory_stats s0 = gpu_stats();
    int64_t n = 64 << 20, one = 1; /* 256 MiB of f32 */
    ingot_array *x = NULL, *gx = NULL, *wide = NULL, *big = NULL;
    TU_OK(ingot_full(&x, INGOT_F32, &one, 1, 3));
    gx = to_gpu(x);
    TU_OK(ingot_broadcast_to(&wide, gx, &n, 1)); /* a view: no memory */
    TU_OK(ingot_memory_set_limit(s0.active + s0.cached + (32u << 20), g_gpu));
    ingot_memory_stats lim = gpu_stats();
    assert_true(lim.limit > 0);
    TU_FAILS(ingot_contiguous(&big, wide), INGOT_ERR_OUT_OF_MEMORY, NULL);
    assert_null(big);
    TU_OK(ingot_memory_set_limit(0, g_gpu));
    assert_int_equal(gpu_stats().limit, 0);
    TU_OK(ingot_contiguous(&big, wide));
    double v = 0;
    ingot_array *last = NULL;
    TU_OK(ingot_slice_axis(&last, big, 0, n - 1, n));
    TU_OK(ingot_array_item(&v, last));
    assert_true(v == 3);
    ingot_array *arrays[] = {x, gx, wide, big, last};
    for (int i = 0; i < 5; i++) ingot_array_free(arrays[i]);
    TU_OK(ingot_memory_empty_cache(g_gpu));
    assert_int_equal(gpu_stats().active, s0.active);
    TU_FAILS(ingot_memory_set_limit(1 << 20, ingot_cpu()), INGOT_ERR_DEVICE, NULL);
    family("memory")->cases += 2;
}

static void test_mixed_devices(void **state) {
    int64_t shape[2] = {3, 4}, ws[1] = {4};
    pair a = make_plain(INGOT_F32, shape, 2, V_NORMAL), b = make_plain(INGOT_F32, shape, 2,
                                                                       V_NORMAL);
    pair w = make_plain(INGOT_F32, ws, 1, V_NORMAL);
    ingot_array *out = NULL;
    TU_FAILS(ingot_add(&out, a.c, b.g), INGOT_ERR_DEVICE, NULL);
    assert_null(out);
    TU_FAILS(ingot_where(&out, a.g, a.c, b.g), INGOT_ERR_DEVICE, NULL);
    TU_FAILS(ingot_rms_norm(&out, a.g, w.c, 1e-5f), INGOT_ERR_DEVICE, NULL);
    int64_t ms[2] = {4, 3};
    pair m = make_plain(INGOT_F32, ms, 2, V_NORMAL);
    TU_FAILS(ingot_matmul(&out, a.c, m.g), INGOT_ERR_DEVICE, NULL);
    const ingot_array *parts[2] = {a.c, b.g};
    TU_FAILS(ingot_concat(&out, parts, 2, 0), INGOT_ERR_DEVICE, NULL);
    ingot_device bad = {INGOT_DEVICE_CUDA, ingot_device_count(INGOT_DEVICE_CUDA)};
    TU_FAILS(ingot_array_to_device(&out, a.c, bad), INGOT_ERR_DEVICE, NULL);
    /* to_device of an array already there is the same array */
    TU_OK(ingot_array_to_device(&out, a.g, g_gpu));
    assert_ptr_equal(out, a.g);
    ingot_array_free(out);
    TU_OK(ingot_array_to_device(&out, a.g, ingot_cpu()));
    assert_int_equal(ingot_array_device(out).type, INGOT_DEVICE_CPU);
    ingot_array_free(out);
    ingot_device dflt = ingot_default_device();
    assert_int_equal(dflt.type, INGOT_DEVICE_CUDA);
    pair_free(&a);
    pair_free(&b);
    pair_free(&w);
    pair_free(&m);
    family("memory")->cases += 7;
}

/* ---- main ---- */

static void print_summary(void) {
    printf("test_cuda_ops: %lld op cases compared (seed %llu%s); worst |gpu-cpu|/scale (worst "
           "fraction of the tolerance, op) per family:\n",
           (long long)g_compared, (unsigned long long)g_rng_state, g_reps < 12 ? ", quick" : "");
    for (int i = 0; i < g_nfams; i++) {
        const famstat *f = &g_fams[i];
        printf("  %-16s %6lld cases %4lld same-error  worst %.3g (%.2f of tol, %s)\n", f->name,
               (long long)f->cases, (long long)f->errors, f->worst_err, f->worst_ratio,
               f->worst_op[0] ? f->worst_op : "-");
    }
}

int main(void) {
    if (ingot_device_count(INGOT_DEVICE_CUDA) == 0) {
        printf("test_cuda_ops: no CUDA device (the plugin libingot_cuda.so or a GPU is "
               "missing): skipped\n");
        return 77;
    }
    const char *quick = getenv("INGOT_CUDA_TEST_QUICK"), *seed = getenv("INGOT_CUDA_TEST_SEED");
    if (quick && *quick && strcmp(quick, "0") != 0) {
        g_reps = 2;
        g_max_size = 600;
    }
    if (seed && *seed) g_rng_state = strtoull(seed, NULL, 10);
    uint64_t start_seed = g_rng_state;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary),       cmocka_unit_test(test_binary),
        cmocka_unit_test(test_where),       cmocka_unit_test(test_views),
        cmocka_unit_test(test_index),       cmocka_unit_test(test_reduce),
        cmocka_unit_test(test_matmul),      cmocka_unit_test(test_sort),
        cmocka_unit_test(test_fast),        cmocka_unit_test(test_random_bits),
        cmocka_unit_test(test_copy_at),
        cmocka_unit_test(test_memory_stats), cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_mixed_devices),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    g_rng_state = start_seed;
    print_summary();
    return tu_cuda_release() ? 1 : rc;
}
