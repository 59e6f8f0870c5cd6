/* Elementwise ops (ops.h): unary math, binary arithmetic, comparisons and
 * where, with their backward functions.
 *
 * Front ends validate, promote dtypes (ingot_promote_types; div, pow and the
 * float unary ops turn integers and bool into f32; comparisons compare in the
 * promoted dtype and give bool), broadcast the inputs into 0-stride views of
 * the output shape and call the backend kernel. Arithmetic on two bools stays
 * bool, computed as integers and stored as value != 0 (add and maximum are OR,
 * mul and minimum AND, sub XOR; neg/abs/square leave bools unchanged).
 *
 * Autograd: every op with a float result is recorded with the promoted (not
 * yet broadcast) inputs; one backward function per family switches on the op
 * kept in node->i[0]. Gradients of broadcast inputs are summed back to their
 * shapes by ingot__grad_for_input.
 *
 * pow's gradient: d/da a^b = b * a^(b-1); d/db a^b = a^b * log(a) where
 * a > 0 and 0 elsewhere (log is undefined there; this matches the limit for
 * a -> 0+ whenever a^b -> 0 and keeps NaNs out of the gradient). */
#include <math.h>

#include "backend/backend.h"
#include "ops/autograd_internal.h"
#include "ingot/ops.h"
#include "ops/ops_internal.h"

static const char *const unary_names[INGOT__UNARY_COUNT] = {
    "neg",  "abs",     "square", "exp",  "log",       "sqrt", "rsqrt", "reciprocal", "tanh",
    "sigmoid", "silu", "gelu", "gelu_tanh", "sin", "cos", "sign", "gelu_grad", "gelu_tanh_grad",
};

static const char *const binary_names[INGOT__BINARY_COUNT] = {
    "add",   "sub",       "mul",  "div",        "pow",     "maximum", "minimum",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
};

static ingot_status unary_backward(ingot_array **grads, const ingot_array *g,
                                   const ingot__node *node);
static ingot_status binary_backward(ingot_array **grads, const ingot_array *g,
                                    const ingot__node *node);
static ingot_status where_backward(ingot_array **grads, const ingot_array *g,
                                   const ingot__node *node);

/* ---- shared front-end helpers ---- */

/* The NumPy broadcast of the shapes of n arrays; SHAPE error naming them all. */
static ingot_status broadcast_shape(int64_t *shape, int *ndim, const ingot_array *const *in, int n,
                                    const char *op) {
    int nd = 0;
    for (int i = 0; i < n; i++) nd = in[i]->ndim > nd ? in[i]->ndim : nd;
    for (int d = 0; d < nd; d++) {
        shape[d] = 1;
        for (int i = 0; i < n; i++) {
            int j = d - (nd - in[i]->ndim);
            int64_t s = j >= 0 ? in[i]->shape[j] : 1;
            if (s == 1 || s == shape[d]) continue;
            if (shape[d] != 1) {
                char buf[3][INGOT__SHAPE_STR_MAX];
                for (int k = 0; k < n; k++) ingot__shape_str(buf[k], in[k]->shape, in[k]->ndim);
                if (n == 2) {
                    return ingot__error(INGOT_ERR_SHAPE, "%s: shapes %s and %s do not broadcast",
                                        op, buf[0], buf[1]);
                }
                return ingot__error(INGOT_ERR_SHAPE, "%s: shapes %s, %s and %s do not broadcast",
                                    op, buf[0], buf[1], buf[2]);
            }
            shape[d] = s;
        }
    }
    *ndim = nd;
    return INGOT_OK;
}

/* Records out = op(in) with a backward function and the op in node->i[0];
 * frees out on failure. */
static ingot_status record(ingot_array **out, ingot_array *o, const ingot_array *const *in, int n,
                           ingot__backward_fn backward, int op, const char *name) {
    ingot__node *node;
    ingot_status st = ingot__record(&node, o, in, n, backward, name);
    if (st != INGOT_OK) {
        ingot_array_free(o);
        return st;
    }
    if (node) node->i[0] = op;
    *out = o;
    return INGOT_OK;
}

static void free_all(ingot_array **arr, int n) {
    for (int i = 0; i < n; i++) ingot_array_free(arr[i]);
}

/* ---- unary ---- */

static bool unary_keeps_integers(ingot__unary_op op) {
    return op == INGOT__NEG || op == INGOT__ABS || op == INGOT__SQUARE;
}

/* op(x) in x's dtype, not recorded. */
static ingot_status unary_compute(ingot_array **out, const ingot_array *x, ingot__unary_op op) {
    const char *name = unary_names[op];
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, &x, 1, name);
    if (st != INGOT_OK) return st;
    ingot_array *o;
    st = ingot__array_new_like(&o, x, x->dtype);
    if (st != INGOT_OK) return st;
    st = be->unary(op, o, x);
    if (st != INGOT_OK) {
        ingot_array_free(o);
        return st;
    }
    *out = o;
    return INGOT_OK;
}

static ingot_status unary_op(ingot_array **out, const ingot_array *a, ingot__unary_op op) {
    const char *name = unary_names[op];
    INGOT__CHECK_NOT_NULL(out, name);
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, name);
    bool keep = ingot_dtype_is_float(a->dtype) || unary_keeps_integers(op);
    ingot_array *x; /* a in the compute dtype */
    ingot_status st = ingot_astype(&x, a, keep ? a->dtype : INGOT_F32);
    if (st != INGOT_OK) return st;
    ingot_array *o;
    st = unary_compute(&o, x, op);
    if (st == INGOT_OK && ingot_dtype_is_float(o->dtype)) {
        const ingot_array *in[1] = {x};
        st = record(&o, o, in, 1, unary_backward, (int)op, name);
    }
    if (st == INGOT_OK) *out = o;
    ingot_array_free(x);
    return st;
}

ingot_status ingot_neg(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__NEG);
}
ingot_status ingot_abs(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__ABS);
}
ingot_status ingot_square(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__SQUARE);
}
ingot_status ingot_exp(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__EXP);
}
ingot_status ingot_log(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__LOG);
}
ingot_status ingot_sqrt(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__SQRT);
}
ingot_status ingot_rsqrt(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__RSQRT);
}
ingot_status ingot_reciprocal(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__RECIPROCAL);
}
ingot_status ingot_tanh(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__TANH);
}
ingot_status ingot_sigmoid(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__SIGMOID);
}
ingot_status ingot_silu(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__SILU);
}
ingot_status ingot_gelu(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__GELU);
}
ingot_status ingot_gelu_tanh(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__GELU_TANH);
}
ingot_status ingot_sin(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__SIN);
}
ingot_status ingot_cos(ingot_array **out, const ingot_array *a) {
    return unary_op(out, a, INGOT__COS);
}

/* ---- binary and where ---- */

static bool is_compare(ingot__binary_op op) { return op >= INGOT__EQ; }

/* Broadcasts the n inputs (already in their kernel dtypes) to one shape,
 * allocates the output of dtype out_dtype and runs the kernel. */
static ingot_status broadcast_compute(ingot_array **out, const ingot_array *const *in, int n,
                                      ingot_dtype out_dtype, int op, const char *name) {
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, in, n, name);
    if (st != INGOT_OK) return st;
    int64_t shape[INGOT_MAX_DIMS];
    int ndim = 0;
    st = broadcast_shape(shape, &ndim, in, n, name);
    if (st != INGOT_OK) return st;
    ingot_array *v[3] = {NULL, NULL, NULL}; /* inputs viewed with the output's shape */
    for (int i = 0; i < n && st == INGOT_OK; i++)
        st = ingot__broadcast_view(&v[i], in[i], shape, ndim);
    ingot_array *o = NULL;
    if (st == INGOT_OK) st = ingot__array_new(&o, out_dtype, shape, ndim, ingot__device(in[0]), name);
    if (st == INGOT_OK) {
        st = n == 2 ? be->binary((ingot__binary_op)op, o, v[0], v[1])
                    : be->where(o, v[0], v[1], v[2]);
    }
    free_all(v, 3);
    if (st != INGOT_OK) {
        ingot_array_free(o);
        return st;
    }
    *out = o;
    return INGOT_OK;
}

static ingot_status binary_op(ingot_array **out, const ingot_array *a, const ingot_array *b,
                              ingot__binary_op op) {
    const char *name = binary_names[op];
    INGOT__CHECK_NOT_NULL(out, name);
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, name);
    INGOT__CHECK_NOT_NULL(b, name);
    ingot_dtype dt = ingot_promote_types(a->dtype, b->dtype);
    if ((op == INGOT__DIV || op == INGOT__POW) && !ingot_dtype_is_float(dt)) dt = INGOT_F32;
    ingot_array *x[2] = {NULL, NULL}; /* a and b in dtype dt */
    ingot_status st = ingot_astype(&x[0], a, dt);
    if (st == INGOT_OK) st = ingot_astype(&x[1], b, dt);
    ingot_array *o = NULL;
    const ingot_array *in[2] = {x[0], x[1]};
    if (st == INGOT_OK) {
        st = broadcast_compute(&o, in, 2, is_compare(op) ? INGOT_BOOL : dt, (int)op, name);
    }
    if (st == INGOT_OK && ingot_dtype_is_float(o->dtype)) {
        st = record(&o, o, in, 2, binary_backward, (int)op, name);
    }
    if (st == INGOT_OK) *out = o;
    free_all(x, 2);
    return st;
}

ingot_status ingot_add(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__ADD);
}
ingot_status ingot_sub(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__SUB);
}
ingot_status ingot_mul(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__MUL);
}
ingot_status ingot_div(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__DIV);
}
ingot_status ingot_pow(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__POW);
}
ingot_status ingot_maximum(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__MAXIMUM);
}
ingot_status ingot_minimum(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__MINIMUM);
}
ingot_status ingot_equal(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__EQ);
}
ingot_status ingot_not_equal(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__NE);
}
ingot_status ingot_less(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__LT);
}
ingot_status ingot_less_equal(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__LE);
}
ingot_status ingot_greater(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__GT);
}
ingot_status ingot_greater_equal(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    return binary_op(out, a, b, INGOT__GE);
}

ingot_status ingot_where(ingot_array **out, const ingot_array *cond, const ingot_array *a,
                         const ingot_array *b) {
    INGOT__CHECK_NOT_NULL(out, "where");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(cond, "where");
    INGOT__CHECK_NOT_NULL(a, "where");
    INGOT__CHECK_NOT_NULL(b, "where");
    ingot_dtype dt = ingot_promote_types(a->dtype, b->dtype);
    ingot_array *x[2] = {NULL, NULL}; /* a and b in dtype dt */
    ingot_status st = ingot_astype(&x[0], a, dt);
    if (st == INGOT_OK) st = ingot_astype(&x[1], b, dt);
    ingot_array *o = NULL;
    const ingot_array *in[3] = {cond, x[0], x[1]};
    if (st == INGOT_OK) st = broadcast_compute(&o, in, 3, dt, 0, "where");
    if (st == INGOT_OK && ingot_dtype_is_float(dt)) {
        st = record(&o, o, in, 3, where_backward, 0, "where");
    }
    if (st == INGOT_OK) *out = o;
    free_all(x, 2);
    return st;
}

/* ---- backward ----
 * A scope owns the temporaries of one backward pass; each helper does nothing
 * once an earlier step failed, so the formulas read straight through. */

#define SCOPE_MAX 16

typedef struct scope {
    ingot_status st;
    int n;
    ingot_array *tmp[SCOPE_MAX];
    ingot_device device; /* where the constants go: the gradient's device */
} scope;

/* Keeps *a, the result of a call that returned st (read here, after that call
 * has run: passing the pointer's address keeps the order defined). */
static const ingot_array *keep(scope *s, ingot_status st, ingot_array **a) {
    if (st == INGOT_OK && s->n == SCOPE_MAX) {
        ingot_array_free(*a);
        st = ingot__error(INGOT_ERR_INTERNAL, "elementwise backward: too many temporaries");
    }
    if (st != INGOT_OK) {
        s->st = st;
        return NULL;
    }
    s->tmp[s->n++] = *a;
    return *a;
}

static const ingot_array *un(scope *s, ingot__unary_op op, const ingot_array *x) {
    ingot_array *o = NULL;
    return s->st != INGOT_OK ? NULL : keep(s, unary_compute(&o, x, op), &o);
}

static const ingot_array *bin(scope *s, ingot__binary_op op, const ingot_array *a,
                              const ingot_array *b) {
    ingot_array *o = NULL;
    return s->st != INGOT_OK ? NULL : keep(s, binary_op(&o, a, b, op), &o);
}

static const ingot_array *sel(scope *s, const ingot_array *c, const ingot_array *a,
                              const ingot_array *b) {
    ingot_array *o = NULL;
    return s->st != INGOT_OK ? NULL : keep(s, ingot_where(&o, c, a, b), &o);
}

static const ingot_array *cst(scope *s, double v, ingot_dtype dtype) {
    ingot_array *o = NULL;
    return s->st != INGOT_OK
               ? NULL
               : keep(s, ingot__full_on(&o, dtype, NULL, 0, v, s->device, "backward"), &o);
}

/* grads[i] = g reduced and converted for node->inputs[i] (float inputs only). */
static void give(scope *s, ingot_array **grads, int i, const ingot_array *g,
                 const ingot__node *node) {
    const ingot_array *input = node->inputs[i];
    if (s->st != INGOT_OK || !input || !ingot_dtype_is_float(input->dtype)) return;
    s->st = ingot__grad_for_input(&grads[i], ingot_array_retain((ingot_array *)g), input);
}

/* Frees the temporaries, and on failure the grads given so far. */
static ingot_status scope_end(scope *s, ingot_array **grads, int n) {
    free_all(s->tmp, s->n);
    if (s->st != INGOT_OK) {
        for (int i = 0; i < n; i++) {
            ingot_array_free(grads[i]);
            grads[i] = NULL;
        }
    }
    return s->st;
}

static ingot_status unary_backward(ingot_array **grads, const ingot_array *g,
                                   const ingot__node *node) {
    const ingot_array *x = node->inputs[0], *y = node->output;
    ingot_dtype dt = x->dtype;
    scope s = {INGOT_OK, 0, {NULL}, ingot__device(g)};
    const ingot_array *gx = NULL, *t = NULL;
    switch ((ingot__unary_op)node->i[0]) {
    case INGOT__NEG: gx = un(&s, INGOT__NEG, g); break;
    case INGOT__ABS: gx = bin(&s, INGOT__MUL, g, un(&s, INGOT__SIGN, x)); break;
    case INGOT__SQUARE: gx = bin(&s, INGOT__MUL, g, bin(&s, INGOT__MUL, x, cst(&s, 2, dt))); break;
    case INGOT__EXP: gx = bin(&s, INGOT__MUL, g, y); break;
    case INGOT__LOG: gx = bin(&s, INGOT__DIV, g, x); break;
    case INGOT__SQRT: gx = bin(&s, INGOT__DIV, g, bin(&s, INGOT__MUL, y, cst(&s, 2, dt))); break;
    case INGOT__RSQRT: /* -x^(-3/2) / 2 = -y / (2 x) */
        t = bin(&s, INGOT__DIV, y, bin(&s, INGOT__MUL, x, cst(&s, -2, dt)));
        gx = bin(&s, INGOT__MUL, g, t);
        break;
    case INGOT__RECIPROCAL: /* -y^2 */
        gx = bin(&s, INGOT__MUL, un(&s, INGOT__NEG, g), un(&s, INGOT__SQUARE, y));
        break;
    case INGOT__TANH: /* 1 - y^2 */
        gx = bin(&s, INGOT__MUL, g, bin(&s, INGOT__SUB, cst(&s, 1, dt), un(&s, INGOT__SQUARE, y)));
        break;
    case INGOT__SIGMOID: /* y (1 - y) */
        t = bin(&s, INGOT__MUL, y, bin(&s, INGOT__SUB, cst(&s, 1, dt), y));
        gx = bin(&s, INGOT__MUL, g, t);
        break;
    case INGOT__SILU: /* s (1 + x (1 - s)) with s = sigmoid(x) */
        t = un(&s, INGOT__SIGMOID, x);
        t = bin(&s, INGOT__MUL, t,
                bin(&s, INGOT__ADD, cst(&s, 1, dt),
                    bin(&s, INGOT__MUL, x, bin(&s, INGOT__SUB, cst(&s, 1, dt), t))));
        gx = bin(&s, INGOT__MUL, g, t);
        break;
    case INGOT__GELU: gx = bin(&s, INGOT__MUL, g, un(&s, INGOT__GELU_GRAD, x)); break;
    case INGOT__GELU_TANH: gx = bin(&s, INGOT__MUL, g, un(&s, INGOT__GELU_TANH_GRAD, x)); break;
    case INGOT__SIN: gx = bin(&s, INGOT__MUL, g, un(&s, INGOT__COS, x)); break;
    case INGOT__COS: gx = bin(&s, INGOT__MUL, un(&s, INGOT__NEG, g), un(&s, INGOT__SIN, x)); break;
    default:
        s.st = ingot__error(INGOT_ERR_INTERNAL, "%s: no gradient", node->name);
        break;
    }
    give(&s, grads, 0, gx, node);
    return scope_end(&s, grads, 1);
}

static ingot_status binary_backward(ingot_array **grads, const ingot_array *g,
                                    const ingot__node *node) {
    const ingot_array *a = node->inputs[0], *b = node->inputs[1], *y = node->output;
    ingot_dtype dt = y->dtype;
    scope s = {INGOT_OK, 0, {NULL}, ingot__device(g)};
    const ingot_array *ga = NULL, *gb = NULL, *t = NULL;
    switch ((ingot__binary_op)node->i[0]) {
    case INGOT__ADD:
        ga = gb = g;
        break;
    case INGOT__SUB:
        ga = g;
        gb = un(&s, INGOT__NEG, g);
        break;
    case INGOT__MUL:
        ga = bin(&s, INGOT__MUL, g, b);
        gb = bin(&s, INGOT__MUL, g, a);
        break;
    case INGOT__DIV: /* d/db (a / b) = -(a / b) / b */
        ga = bin(&s, INGOT__DIV, g, b);
        gb = un(&s, INGOT__NEG, bin(&s, INGOT__MUL, ga, y));
        break;
    case INGOT__POW: /* see the note at the top of the file */
        t = bin(&s, INGOT__POW, a, bin(&s, INGOT__SUB, b, cst(&s, 1, dt)));
        ga = bin(&s, INGOT__MUL, g, bin(&s, INGOT__MUL, b, t));
        t = sel(&s, bin(&s, INGOT__GT, a, cst(&s, 0, dt)), un(&s, INGOT__LOG, a), cst(&s, 0, dt));
        gb = bin(&s, INGOT__MUL, g, bin(&s, INGOT__MUL, y, t));
        break;
    case INGOT__MAXIMUM:
    case INGOT__MINIMUM: /* a was chosen where it is NaN or wins the comparison (ties too) */
        t = bin(&s, node->i[0] == INGOT__MAXIMUM ? INGOT__GE : INGOT__LE, a, b);
        t = bin(&s, INGOT__MAXIMUM, t, bin(&s, INGOT__NE, a, a)); /* logical or */
        ga = sel(&s, t, g, cst(&s, 0, dt));
        gb = sel(&s, t, cst(&s, 0, dt), g);
        break;
    default:
        s.st = ingot__error(INGOT_ERR_INTERNAL, "%s: no gradient", node->name);
        break;
    }
    give(&s, grads, 0, ga, node);
    give(&s, grads, 1, gb, node);
    return scope_end(&s, grads, 2);
}

static ingot_status where_backward(ingot_array **grads, const ingot_array *g,
                                   const ingot__node *node) {
    const ingot_array *c = node->inputs[0];
    scope s = {INGOT_OK, 0, {NULL}, ingot__device(g)};
    const ingot_array *zero = cst(&s, 0, node->output->dtype);
    give(&s, grads, 1, sel(&s, c, g, zero), node);
    give(&s, grads, 2, sel(&s, c, zero, g), node);
    return scope_end(&s, grads, 3);
}
