/* ingot_matmul (NumPy matmul rules) and its VJP. */
#include "backend/backend.h"
#include "ops/autograd_internal.h"
#include "ingot/ops.h"
#include "ops/ops_internal.h"

/* The shapes of one matmul: a [..., M, K] x b [..., K, N], with a 1-D a read
 * as [1, K] and a 1-D b as [K, 1]. */
typedef struct mm_shapes {
    int64_t m, k, n;
    int nbatch;                    /* broadcast batch dims */
    int64_t full[INGOT_MAX_DIMS];  /* batch + [M, N] (the kernel's out; batch <= 6 dims) */
    int64_t final[INGOT_MAX_DIMS]; /* full without the dims of 1-D operands */
    int final_ndim;
} mm_shapes;

static ingot_status mm_resolve(mm_shapes *s, const ingot_array *a, const ingot_array *b) {
    char sa[INGOT__SHAPE_STR_MAX], sb[INGOT__SHAPE_STR_MAX];
    if (a->ndim == 0 || b->ndim == 0)
        return ingot__error(INGOT_ERR_SHAPE, "matmul: operands need at least 1 dim, got %s x %s",
                            ingot__shape_str(sa, a->shape, a->ndim),
                            ingot__shape_str(sb, b->shape, b->ndim));
    s->m = a->ndim == 1 ? 1 : a->shape[a->ndim - 2];
    s->k = a->shape[a->ndim - 1];
    int64_t kb = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
    s->n = b->ndim == 1 ? 1 : b->shape[b->ndim - 1];
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nb = b->ndim > 2 ? b->ndim - 2 : 0;
    if (s->k != kb ||
        ingot_broadcast_shapes(s->full, &s->nbatch, a->shape, na, b->shape, nb) != INGOT_OK)
        return ingot__error(INGOT_ERR_SHAPE, "matmul: shapes %s x %s do not align",
                            ingot__shape_str(sa, a->shape, a->ndim),
                            ingot__shape_str(sb, b->shape, b->ndim));
    s->full[s->nbatch] = s->m;
    s->full[s->nbatch + 1] = s->n;
    memcpy(s->final, s->full, (size_t)s->nbatch * sizeof(int64_t));
    s->final_ndim = s->nbatch;
    if (a->ndim > 1) s->final[s->final_ndim++] = s->m;
    if (b->ndim > 1) s->final[s->final_ndim++] = s->n;
    return INGOT_OK;
}

/* The kernel's view of operand x: [batch..., rows, cols] with 0 strides for
 * broadcast batch dims; a 1-D left operand is the row [1, K], a 1-D right one
 * the column [K, 1]. Not recorded. */
static ingot_status operand_view(ingot_array **out, const ingot_array *x, const mm_shapes *s,
                                 bool left) {
    int64_t shape[INGOT_MAX_DIMS], strides[INGOT_MAX_DIMS];
    int nd = s->nbatch + 2;
    int xb = x->ndim > 2 ? x->ndim - 2 : 0; /* x's batch dims */
    for (int d = 0; d < s->nbatch; d++) {
        int xd = d - (s->nbatch - xb);
        shape[d] = s->full[d];
        strides[d] = xd < 0 || x->shape[xd] == 1 ? 0 : x->strides[xd];
    }
    if (x->ndim == 1) {
        int64_t len = x->shape[0], stride = x->strides[0];
        shape[nd - 2] = left ? 1 : len;
        shape[nd - 1] = left ? len : 1;
        strides[nd - 2] = left ? 0 : stride;
        strides[nd - 1] = left ? stride : 0;
    } else {
        for (int i = 0; i < 2; i++) {
            shape[nd - 2 + i] = x->shape[x->ndim - 2 + i];
            strides[nd - 2 + i] = x->strides[x->ndim - 2 + i];
        }
    }
    return ingot__array_view(out, x, shape, strides, nd, x->offset);
}

/* res (final shape, contiguous) = a @ b computed by the kernel. */
static ingot_status matmul_compute(ingot_array *res, const ingot_array *a, const ingot_array *b,
                                   const mm_shapes *s) {
    ingot_array *ac = NULL, *bc = NULL; /* a, b in res's dtype */
    ingot_array *av = NULL, *bv = NULL; /* [batch..., M, K], [batch..., K, N] */
    ingot_array *ov = NULL;             /* [batch..., M, N] view of res */
    int64_t strides[INGOT_MAX_DIMS];
    ingot__contiguous_strides(strides, s->full, s->nbatch + 2);
    const ingot__backend *be = NULL;
    const ingot_array *ab[2] = {a, b};
    ingot_status st = ingot__backend_get(&be, ab, 2, "matmul");
    if (st == INGOT_OK) st = ingot__copy_as(&ac, a, res->dtype, true, "matmul");
    if (st == INGOT_OK) st = ingot__copy_as(&bc, b, res->dtype, true, "matmul");
    if (st == INGOT_OK) st = operand_view(&av, ac, s, true);
    if (st == INGOT_OK) st = operand_view(&bv, bc, s, false);
    if (st == INGOT_OK) st = ingot__array_view(&ov, res, s->full, strides, s->nbatch + 2, 0);
    if (st == INGOT_OK) st = be->matmul(ov, av, bv);
    ingot_array_free(ov);
    ingot_array_free(bv);
    ingot_array_free(av);
    ingot_array_free(bc);
    ingot_array_free(ac);
    return st;
}

/* x itself (a new reference), or reshaped to shape2 when 1-D. */
static ingot_status as_matrix(ingot_array **out, const ingot_array *x, const int64_t shape2[2]) {
    if (x->ndim == 1) return ingot_reshape(out, x, shape2, 2);
    *out = ingot_array_retain((ingot_array *)x);
    return INGOT_OK;
}

/* grads: dA = g @ B^T and dB = A^T @ g, summed over broadcast batch dims.
 * When b is one matrix shared by the whole batch (x [B, T, D] @ W [D, N]),
 * dB is formed directly as one product over all B*T rows. */
static ingot_status matmul_backward(ingot_array **grads, const ingot_array *g,
                                    const ingot__node *node) {
    const ingot_array *a = node->inputs[0], *b = node->inputs[1];
    mm_shapes s;
    ingot_status st = mm_resolve(&s, a, b);
    if (st != INGOT_OK) return st;
    bool shared_b = b->ndim <= 2 && s.nbatch > 0;
    int64_t a2_shape[2] = {1, s.k}, b2_shape[2] = {s.k, 1};
    int64_t a_rows[2] = {-1, s.k}, g_rows[2] = {-1, s.n};
    ingot_array *gf = NULL;              /* [batch..., M, N] */
    ingot_array *a2 = NULL, *b2 = NULL;  /* a as [..., M, K], b as [..., K, N] */
    ingot_array *ar = NULL, *gr = NULL;  /* shared b: a as [rows, K], g as [rows, N] */
    ingot_array *at = NULL, *bt = NULL;  /* a (or ar) and b transposed */
    ingot_array *da = NULL;              /* [batch..., M, K] */
    ingot_array *db = NULL, *db1 = NULL; /* [batch..., K, N]; without N for a 1-D b */
    st = ingot_reshape(&gf, g, s.full, s.nbatch + 2);
    if (st == INGOT_OK) st = as_matrix(&a2, a, a2_shape);
    if (st == INGOT_OK) st = as_matrix(&b2, b, b2_shape);
    if (st == INGOT_OK && shared_b) st = ingot_reshape(&ar, a2, a_rows, 2);
    if (st == INGOT_OK && shared_b) st = ingot_reshape(&gr, gf, g_rows, 2);
    if (st == INGOT_OK) st = ingot_swapaxes(&bt, b2, -1, -2);
    if (st == INGOT_OK) st = ingot_swapaxes(&at, shared_b ? ar : a2, -1, -2);
    if (st == INGOT_OK) st = ingot_matmul(&da, gf, bt);
    if (st == INGOT_OK) st = ingot_matmul(&db, at, shared_b ? gr : gf);
    if (st == INGOT_OK && b->ndim == 1) {
        int last = -1;
        st = ingot_squeeze(&db1, db, &last, 1);
        ingot_array_free(db);
        db = db1;
    }
    if (st == INGOT_OK) {
        st = ingot__grad_for_input(&grads[0], da, a);
        da = NULL;
    }
    if (st == INGOT_OK) {
        st = ingot__grad_for_input(&grads[1], db, b);
        db = NULL;
    }
    ingot_array_free(db);
    ingot_array_free(da);
    ingot_array_free(at);
    ingot_array_free(bt);
    ingot_array_free(gr);
    ingot_array_free(ar);
    ingot_array_free(b2);
    ingot_array_free(a2);
    ingot_array_free(gf);
    return st;
}

ingot_status ingot_matmul(ingot_array **out, const ingot_array *a, const ingot_array *b) {
    INGOT__CHECK_NOT_NULL(out, "matmul");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(a, "matmul");
    INGOT__CHECK_NOT_NULL(b, "matmul");
    if (!ingot_dtype_is_float(a->dtype) || !ingot_dtype_is_float(b->dtype))
        return ingot__error(INGOT_ERR_DTYPE, "matmul: needs float inputs, got %s x %s",
                            ingot_dtype_name(a->dtype), ingot_dtype_name(b->dtype));
    mm_shapes s;
    ingot_status st = mm_resolve(&s, a, b);
    if (st != INGOT_OK) return st;
    ingot_array *res = NULL; /* final shape */
    st = ingot__array_new(&res, ingot_promote_types(a->dtype, b->dtype), s.final, s.final_ndim, ingot__device(a),
                          "matmul");
    if (st == INGOT_OK) st = matmul_compute(res, a, b, &s);
    if (st == INGOT_OK) {
        const ingot_array *inputs[2] = {a, b};
        ingot__node *node;
        st = ingot__record(&node, res, inputs, 2, matmul_backward, "matmul");
    }
    if (st != INGOT_OK) {
        ingot_array_free(res);
        return st;
    }
    *out = res;
    return INGOT_OK;
}
