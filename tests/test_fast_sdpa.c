/* sdpa: values against a naive double-precision attention with an explicit
 * visibility matrix, grouped-query heads, decode, causal and sliding-window
 * masks, additive and bool masks, per-row key counts (kv_len), fully masked
 * rows, dtypes, views, thread
 * count independence, errors and gradient checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"

typedef struct ref_attn {
    double scale; /* 0: 1/sqrt(D) */
    int causal;
    int64_t window;
    const ingot_array *mask; /* broadcastable to [B, Hq, Tq, Tk], bool or float */
    const ingot_array *kv_len; /* integer [], [1] or [B]: keys per batch row */
} ref_attn;

/* Batch row b's key count: kv_len's value (broadcast) clamped to [0, Tk]. */
static int64_t ref_keys(const double *kl, const ingot_array *kv_len, int64_t b, int64_t Tk) {
    if (!kl) return Tk;
    double n = kl[ingot_array_size(kv_len) == 1 ? 0 : b];
    return n < 0 ? 0 : n > (double)Tk ? Tk : (int64_t)n;
}

/* The element of a mask of shape ms (nd dims) at [b, h, i, j] with NumPy
 * broadcasting, from its row-major values mv. */
static double mask_at(const double *mv, const int64_t *ms, int nd, const int64_t idx[4]) {
    int64_t off = 0;
    for (int d = 0; d < nd; d++) {
        int64_t n = ms[d], k = idx[4 - nd + d];
        off = off * n + (n == 1 ? 0 : k);
    }
    return mv[off];
}

/* Naive attention of q [B, Hq, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv].
 * With a cotangent u ([B, Hq, Tq, Dv] values) it also accumulates the
 * gradients of sum(u * out) into grads[0..2] (zeroed, shaped like q, k, v):
 * dv_j += p_j u, ds_j = p_j (u . v_j - sum_l p_l u . v_l),
 * dq += scale ds_j k_j, dk_j += scale ds_j q. */
static double *ref_sdpa_grad(const ingot_array *q, const ingot_array *k, const ingot_array *v,
                             const ref_attn *r, const double *u, double *const grads[3]) {
    const int64_t *qs = ingot_array_shape(q), *ks = ingot_array_shape(k);
    int64_t B = qs[0], Hq = qs[1], Tq = qs[2], D = qs[3], Hkv = ks[1], Tk = ks[2];
    int64_t Dv = ingot_array_dim(v, 3);
    double *qv = tu_values(q), *kv = tu_values(k), *vv = tu_values(v);
    double *mv = r->mask ? tu_values(r->mask) : NULL;
    double *kl = r->kv_len ? tu_values(r->kv_len) : NULL;
    int bool_mask = r->mask && ingot_array_dtype(r->mask) == INGOT_BOOL;
    double scale = r->scale != 0 ? r->scale : 1 / sqrt((double)D);
    double *out = calloc((size_t)(B * Hq * Tq * Dv + 1), sizeof(double));
    double *s = malloc((size_t)(Tk + 1) * sizeof(double));
    unsigned char *vis = malloc((size_t)(Tk + 1));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < Tq; i++) {
                int64_t hk = h / (Hq / Hkv), tk = ref_keys(kl, r->kv_len, b, Tk), p = tk - Tq + i;
                double mx = -INFINITY;
                for (int64_t j = 0; j < Tk; j++) {
                    vis[j] = j < tk;
                    if (r->causal && j > p) vis[j] = 0;
                    if (r->window > 0 && p - j >= r->window) vis[j] = 0;
                    double dotp = 0;
                    for (int64_t d = 0; d < D; d++)
                        dotp += qv[((b * Hq + h) * Tq + i) * D + d] *
                                kv[((b * Hkv + hk) * Tk + j) * D + d];
                    s[j] = scale * dotp;
                    if (mv) {
                        int64_t idx[4] = {b, h, i, j};
                        double m = mask_at(mv, ingot_array_shape(r->mask),
                                           ingot_array_ndim(r->mask), idx);
                        if (bool_mask && m == 0) vis[j] = 0;
                        if (!bool_mask) s[j] += m;
                    }
                    if (s[j] == -INFINITY) vis[j] = 0;
                    if (vis[j] && s[j] > mx) mx = s[j];
                }
                double l = 0;
                for (int64_t j = 0; j < Tk; j++) l += vis[j] ? exp(s[j] - mx) : 0;
                double *o = out + ((b * Hq + h) * Tq + i) * Dv;
                const double *ui = u ? u + ((b * Hq + h) * Tq + i) * Dv : NULL;
                double delta = 0;
                for (int64_t j = 0; l > 0 && j < Tk; j++) {
                    if (!vis[j]) continue;
                    s[j] = exp(s[j] - mx) / l; /* now p_j */
                    const double *vj = vv + ((b * Hkv + hk) * Tk + j) * Dv;
                    for (int64_t d = 0; d < Dv; d++) {
                        o[d] += s[j] * vj[d];
                        if (ui) delta += s[j] * ui[d] * vj[d];
                    }
                }
                for (int64_t j = 0; ui && l > 0 && j < Tk; j++) {
                    if (!vis[j]) continue;
                    const double *vj = vv + ((b * Hkv + hk) * Tk + j) * Dv;
                    const double *kj = kv + ((b * Hkv + hk) * Tk + j) * D;
                    const double *qi = qv + ((b * Hq + h) * Tq + i) * D;
                    double dp = 0;
                    for (int64_t d = 0; d < Dv; d++) {
                        dp += ui[d] * vj[d];
                        grads[2][((b * Hkv + hk) * Tk + j) * Dv + d] += s[j] * ui[d];
                    }
                    double ds = s[j] * (dp - delta) * scale;
                    for (int64_t d = 0; d < D; d++) {
                        grads[0][((b * Hq + h) * Tq + i) * D + d] += ds * kj[d];
                        grads[1][((b * Hkv + hk) * Tk + j) * D + d] += ds * qi[d];
                    }
                }
            }
    free(qv);
    free(kv);
    free(vv);
    free(mv);
    free(kl);
    free(s);
    free(vis);
    return out;
}

static double *ref_sdpa(const ingot_array *q, const ingot_array *k, const ingot_array *v,
                        const ref_attn *r) {
    return ref_sdpa_grad(q, k, v, r, NULL, NULL);
}

/* Runs sdpa with the reference's options and compares. */
static void check(const ingot_array *q, const ingot_array *k, const ingot_array *v,
                  const ref_attn *r, double tol, const char *what) {
    ingot_sdpa_options o = {.scale = (float)r->scale, .causal = r->causal, .window = r->window,
                            .mask = r->mask, .kv_len = r->kv_len};
    ingot_array *y = NULL;
    TU_OK(ingot_sdpa(&y, q, k, v, &o));
    const int64_t *qs = ingot_array_shape(q);
    int64_t os[4] = {qs[0], qs[1], qs[2], ingot_array_dim(v, 3)};
    tu_assert_shape(y, ingot_array_dtype(q), os, 4);
    double *want = ref_sdpa(q, k, v, r);
    tu_assert_close(y, want, os[0] * os[1] * os[2] * os[3], tol, tol, what);
    free(want);
    ingot_array_free(y);
}

typedef struct qkv {
    ingot_array *q, *k, *v;
} qkv;

static qkv make_qkv(ingot_dtype dt, int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk,
                    int64_t D, int64_t Dv, uint64_t seed) {
    int64_t qs[4] = {B, Hq, Tq, D}, ks[4] = {B, Hkv, Tk, D}, vs[4] = {B, Hkv, Tk, Dv};
    qkv t = {tu_random(dt, qs, 4, seed, -1.5, 1.5), tu_random(dt, ks, 4, seed + 1, -1.5, 1.5),
             tu_random(dt, vs, 4, seed + 2, -1, 1)};
    return t;
}

static void free_qkv(qkv t) {
    ingot_array_free(t.q);
    ingot_array_free(t.k);
    ingot_array_free(t.v);
}

static void test_basic_and_gqa(void **state) {
    (void)state;
    qkv t = make_qkv(INGOT_F32, 2, 2, 2, 5, 5, 8, 8, 1);
    ingot_array *y = NULL;
    TU_OK(ingot_sdpa(&y, t.q, t.k, t.v, NULL)); /* NULL options */
    double *want = ref_sdpa(t.q, t.k, t.v, &(ref_attn){0});
    tu_assert_close(y, want, 2 * 2 * 5 * 8, 1e-5, 1e-5, "Hq = Hkv, no options");
    free(want);
    ingot_array_free(y);
    check(t.q, t.k, t.v, &(ref_attn){.causal = 1}, 1e-5, "causal Tq = Tk");
    check(t.q, t.k, t.v, &(ref_attn){.scale = 0.3}, 1e-5, "custom scale");
    free_qkv(t);
    t = make_qkv(INGOT_F32, 1, 4, 1, 6, 6, 4, 4, 2);
    check(t.q, t.k, t.v, &(ref_attn){.causal = 1}, 1e-5, "GQA 4:1 causal");
    free_qkv(t);
    t = make_qkv(INGOT_F32, 2, 6, 2, 4, 7, 8, 5, 3);
    check(t.q, t.k, t.v, &(ref_attn){.causal = 1}, 1e-5, "GQA 6:2 causal, Tq < Tk, D != Dv");
    check(t.q, t.k, t.v, &(ref_attn){0}, 1e-5, "GQA 6:2 D != Dv");
    free_qkv(t);
}

static void test_decode_and_windows(void **state) {
    (void)state;
    qkv t = make_qkv(INGOT_F32, 2, 4, 2, 1, 9, 8, 8, 4);
    check(t.q, t.k, t.v, &(ref_attn){.causal = 1}, 1e-5, "decode Tq = 1, Tk = 9");
    check(t.q, t.k, t.v, &(ref_attn){.causal = 1, .window = 3}, 1e-5, "decode window 3");
    free_qkv(t);
    t = make_qkv(INGOT_F32, 1, 2, 2, 8, 8, 4, 4, 5);
    check(t.q, t.k, t.v, &(ref_attn){.causal = 1, .window = 3}, 1e-5, "causal window 3");
    check(t.q, t.k, t.v, &(ref_attn){.window = 3}, 1e-5, "window 3 without causal");
    check(t.q, t.k, t.v, &(ref_attn){.window = 100}, 1e-5, "window wider than Tk");
    free_qkv(t);
    /* Several query and key blocks. */
    t = make_qkv(INGOT_F32, 1, 2, 1, 70, 75, 4, 3, 6);
    check(t.q, t.k, t.v, &(ref_attn){.causal = 1, .window = 20}, 1e-5, "blocks causal window");
    check(t.q, t.k, t.v, &(ref_attn){.window = 9}, 1e-5, "blocks window");
    check(t.q, t.k, t.v, &(ref_attn){0}, 1e-5, "blocks full");
    free_qkv(t);
}

static void test_masks(void **state) {
    (void)state;
    qkv t = make_qkv(INGOT_F32, 2, 4, 2, 3, 6, 4, 4, 7);
    /* padding: batch 0 hides keys 0 and 1, batch 1 hides key 5 */
    const double fv[12] = {-INFINITY, -INFINITY, 0, 0.5, 0, -1, 0, 0, 0, 0, 0.25, -INFINITY};
    const double bv[12] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    int64_t ms[4] = {2, 1, 1, 6};
    ingot_array *fm = tu_from_f64(fv, INGOT_F32, ms, 4);
    ingot_array *bm = tu_from_f64(bv, INGOT_BOOL, ms, 4);
    ingot_array *hm = tu_from_f64(fv, INGOT_BF16, ms, 4);
    check(t.q, t.k, t.v, &(ref_attn){.mask = fm}, 1e-5, "additive float mask [B,1,1,Tk]");
    check(t.q, t.k, t.v, &(ref_attn){.mask = bm}, 1e-5, "bool mask [B,1,1,Tk]");
    check(t.q, t.k, t.v, &(ref_attn){.mask = hm, .causal = 1}, 1e-5, "bf16 mask with causal");
    check(t.q, t.k, t.v, &(ref_attn){.mask = bm, .causal = 1, .window = 2}, 1e-5,
          "bool mask causal window");
    /* a 2-D [Tq, Tk] float mask */
    int64_t m2[2] = {3, 6};
    ingot_array *m2a = tu_random(INGOT_F32, m2, 2, 8, -2, 2);
    check(t.q, t.k, t.v, &(ref_attn){.mask = m2a}, 1e-5, "[Tq, Tk] mask");
    ingot_array *m2n = tu_noncontiguous(m2a);
    check(t.q, t.k, t.v, &(ref_attn){.mask = m2n}, 1e-5, "non-contiguous mask");
    ingot_array_free(fm);
    ingot_array_free(bm);
    ingot_array_free(hm);
    ingot_array_free(m2a);
    ingot_array_free(m2n);
    free_qkv(t);
}

/* Rows that see no key give zeros, and zero gradients. */
static ingot_status sdpa_mask_fn(ingot_array **outs, size_t no, ingot_array *const *in, size_t ni,
                                 void *user) {
    (void)no;
    (void)ni;
    return ingot_sdpa(outs, in[0], in[1], in[2], user);
}

static void test_fully_masked(void **state) {
    (void)state;
    qkv t = make_qkv(INGOT_F32, 2, 2, 1, 3, 4, 4, 4, 9);
    const double bv[8] = {0, 0, 0, 0, 1, 0, 1, 1}; /* batch 0 sees nothing */
    int64_t ms[4] = {2, 1, 1, 4};
    ingot_array *bm = tu_from_f64(bv, INGOT_BOOL, ms, 4);
    check(t.q, t.k, t.v, &(ref_attn){.mask = bm}, 1e-5, "fully masked batch");
    ingot_sdpa_options o = {.mask = bm};
    int64_t os[4] = {2, 2, 3, 4};
    ingot_array *u = tu_random(INGOT_F32, os, 4, 10, -1, 1);
    ingot_array *prim[3] = {t.q, t.k, t.v}, *grads[3] = {NULL, NULL, NULL}, *out = NULL;
    TU_OK(ingot_vjp(&out, grads, sdpa_mask_fn, &o, prim, 3, &u, 1));
    double *y = tu_values(out), *dq = tu_values(grads[0]), *dk = tu_values(grads[1]);
    double *dv = tu_values(grads[2]);
    for (int i = 0; i < 2 * 3 * 4; i++) {
        assert_true(y[i] == 0 && dq[i] == 0); /* batch 0: [2, 3, 4] */
    }
    for (int i = 0; i < 4 * 4; i++) assert_true(dk[i] == 0 && dv[i] == 0);
    /* batch 1, key 1 is hidden: its dk and dv rows are zero too */
    for (int d = 0; d < 4; d++) assert_true(dk[16 + 4 + d] == 0 && dv[16 + 4 + d] == 0);
    assert_true(fabs(dv[16]) > 0);
    free(y);
    free(dq);
    free(dk);
    free(dv);
    for (int i = 0; i < 3; i++) ingot_array_free(grads[i]);
    ingot_array_free(out);
    ingot_array_free(u);
    ingot_array_free(bm);
    free_qkv(t);
    /* causal with Tq > Tk: the first query sits at position -1 */
    t = make_qkv(INGOT_F32, 1, 1, 1, 3, 2, 4, 4, 11);
    check(t.q, t.k, t.v, &(ref_attn){.causal = 1}, 1e-5, "causal Tq > Tk");
    free_qkv(t);
}

static void test_dtypes_views_sizes(void **state) {
    (void)state;
    const ingot_dtype dts[2] = {INGOT_F16, INGOT_BF16};
    const double tols[2] = {4e-3, 2e-2};
    for (int i = 0; i < 2; i++) {
        qkv t = make_qkv(dts[i], 1, 4, 2, 5, 7, 8, 8, 12 + (uint64_t)i);
        check(t.q, t.k, t.v, &(ref_attn){.causal = 1, .window = 4}, tols[i],
              ingot_dtype_name(dts[i]));
        free_qkv(t);
    }
    /* q, k, v as transposed views of [B, T, H, D] storage */
    int64_t qs[4] = {2, 5, 4, 8}, ks[4] = {2, 5, 2, 8};
    ingot_array *qr = tu_random(INGOT_F32, qs, 4, 20, -1, 1);
    ingot_array *kr = tu_random(INGOT_F32, ks, 4, 21, -1, 1);
    ingot_array *vr = tu_random(INGOT_BF16, ks, 4, 22, -1, 1);
    const int perm[4] = {0, 2, 1, 3};
    ingot_array *q = NULL, *k = NULL, *v = NULL;
    TU_OK(ingot_transpose(&q, qr, perm, 4));
    TU_OK(ingot_transpose(&k, kr, perm, 4));
    TU_OK(ingot_transpose(&v, vr, perm, 4));
    check(q, k, v, &(ref_attn){.causal = 1}, 1e-5, "transposed views, bf16 v promoted");
    ingot_array *qn = tu_noncontiguous(q);
    check(qn, k, v, &(ref_attn){.window = 2}, 1e-5, "non-contiguous q");
    /* size 1 and size 0 */
    qkv t = make_qkv(INGOT_F32, 1, 1, 1, 1, 1, 1, 1, 23);
    check(t.q, t.k, t.v, &(ref_attn){.causal = 1}, 1e-6, "all dims 1");
    free_qkv(t);
    t = make_qkv(INGOT_F32, 1, 2, 1, 3, 0, 4, 4, 24);
    check(t.q, t.k, t.v, &(ref_attn){0}, 0, "Tk = 0 gives zeros");
    free_qkv(t);
    t = make_qkv(INGOT_F32, 1, 2, 1, 0, 3, 4, 4, 25);
    check(t.q, t.k, t.v, &(ref_attn){.causal = 1}, 0, "Tq = 0");
    free_qkv(t);
    ingot_array_free(qr);
    ingot_array_free(kr);
    ingot_array_free(vr);
    ingot_array_free(q);
    ingot_array_free(k);
    ingot_array_free(v);
    ingot_array_free(qn);
}

/* Results are bit-identical for 1 and 3 threads, forward and backward. */
static void test_thread_count(void **state) {
    (void)state;
    qkv t = make_qkv(INGOT_F32, 1, 4, 2, 40, 80, 8, 8, 30);
    ingot_sdpa_options o = {.causal = true, .window = 50};
    int64_t os[4] = {1, 4, 40, 8};
    ingot_array *u = tu_random(INGOT_F32, os, 4, 31, -1, 1);
    ingot_array *prim[3] = {t.q, t.k, t.v};
    double *vals[2][4];
    int saved = ingot_get_num_threads();
    for (int run = 0; run < 2; run++) {
        ingot_set_num_threads(run ? 3 : 1);
        ingot_array *grads[3] = {NULL, NULL, NULL}, *out = NULL;
        TU_OK(ingot_vjp(&out, grads, sdpa_mask_fn, &o, prim, 3, &u, 1));
        vals[run][0] = tu_values(out);
        for (int i = 0; i < 3; i++) vals[run][i + 1] = tu_values(grads[i]);
        for (int i = 0; i < 3; i++) ingot_array_free(grads[i]);
        ingot_array_free(out);
    }
    ingot_set_num_threads(saved);
    const int64_t n[4] = {4 * 40 * 8, 4 * 40 * 8, 2 * 80 * 8, 2 * 80 * 8};
    for (int i = 0; i < 4; i++) {
        assert_memory_equal(vals[0][i], vals[1][i], (size_t)n[i] * sizeof(double));
        free(vals[0][i]);
        free(vals[1][i]);
    }
    ingot_array_free(u);
    free_qkv(t);
}

/* kv_len: k and v are a whole cache buffer of which each batch row uses its
 * first kv_len[b] keys, its queries sitting at kv_len[b] - Tq + i. */
static void test_kv_len(void **state) {
    (void)state;
    qkv t = make_qkv(INGOT_F32, 3, 4, 2, 3, 70, 8, 6, 80); /* Tk spans two key blocks */
    int64_t b3[1] = {3}, one[1] = {1};
    const double lens[3] = {0, 5, 70}, odd[3] = {-2, 66, 99}; /* odd: clamped to 0 and Tk */
    ingot_array *kl = tu_from_f64(lens, INGOT_I32, b3, 1);
    ingot_array *ko = tu_from_f64(odd, INGOT_I64, b3, 1);
    ingot_array *k1 = tu_from_f64(lens + 1, INGOT_U8, one, 1);    /* [1] */
    ingot_array *k0 = tu_from_f64(odd + 1, INGOT_U32, NULL, 0);   /* [] */
    int64_t ms[4] = {3, 1, 1, 70};
    ingot_array *m = tu_random(INGOT_F32, ms, 4, 81, -1, 1);
    const ref_attn cases[] = {
        {.kv_len = kl},
        {.kv_len = kl, .causal = 1},
        {.kv_len = ko, .causal = 1, .window = 4},
        {.kv_len = ko, .mask = m, .scale = 0.5},
        {.kv_len = k1, .causal = 1},
        {.kv_len = k0, .window = 9},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) check(t.q, t.k, t.v, &cases[c],
                                                                       1e-5, "kv_len");
    /* The same bits as attention over the filled slice of the buffer. */
    ingot_array *ks = NULL, *vs = NULL, *q1 = NULL, *ya = NULL, *yb = NULL;
    TU_OK(ingot_slice_axis(&q1, t.q, 0, 1, 2)); /* batch row 1: 5 keys */
    TU_OK(ingot_slice_axis(&ks, t.k, 0, 1, 2));
    TU_OK(ingot_slice_axis(&vs, t.v, 0, 1, 2));
    ingot_array *kf = NULL, *vf = NULL;
    TU_OK(ingot_slice_axis(&kf, ks, 2, 0, 5));
    TU_OK(ingot_slice_axis(&vf, vs, 2, 0, 5));
    ingot_sdpa_options o = {.causal = true, .kv_len = k1};
    TU_OK(ingot_sdpa(&ya, q1, ks, vs, &o));
    TU_OK(ingot_sdpa(&yb, q1, kf, vf, &(ingot_sdpa_options){.causal = true}));
    double *va = tu_values(ya), *vb = tu_values(yb);
    assert_memory_equal(va, vb, (size_t)ingot_array_size(ya) * sizeof(double));
    free(va);
    free(vb);
    /* Gradients: keys past kv_len get none, the rest match the reference. */
    int64_t os[4] = {3, 4, 3, 6};
    ingot_array *ua = tu_random(INGOT_F32, os, 4, 82, -1, 1);
    double *u = tu_values(ua);
    ingot_array *prim[3] = {t.q, t.k, t.v};
    const int64_t n[3] = {3 * 4 * 3 * 8, 3 * 2 * 70 * 8, 3 * 2 * 70 * 6};
    const ref_attn gcases[2] = {{.kv_len = ko, .mask = m}, {.kv_len = kl, .causal = 1}};
    for (int c = 0; c < 2; c++) {
        double *want[3];
        for (int i = 0; i < 3; i++) want[i] = calloc((size_t)n[i], sizeof(double));
        free(ref_sdpa_grad(t.q, t.k, t.v, &gcases[c], u, want));
        ingot_sdpa_options go = {.causal = gcases[c].causal, .mask = gcases[c].mask,
                                 .kv_len = gcases[c].kv_len};
        ingot_array *grads[3] = {NULL, NULL, NULL};
        TU_OK(ingot_vjp(NULL, grads, sdpa_mask_fn, &go, prim, 3, &ua, 1));
        for (int i = 0; i < 3; i++) {
            tu_assert_close(grads[i], want[i], n[i], 1e-4, 1e-4, "kv_len gradient");
            ingot_array_free(grads[i]);
            free(want[i]);
        }
    }
    free(u);
    ingot_array_free(ua);
    ingot_array *kv = NULL, *k2 = NULL, *kb = NULL, *y = NULL;
    int64_t s2[2] = {3, 1}, s4[1] = {4};
    kv = tu_random(INGOT_F32, b3, 1, 83, 0, 5);
    k2 = tu_from_f64(odd, INGOT_I32, s2, 2);
    kb = tu_random(INGOT_I32, s4, 1, 84, 0, 5);
    o = (ingot_sdpa_options){.kv_len = kv};
    TU_FAILS(ingot_sdpa(&y, t.q, t.k, t.v, &o), INGOT_ERR_DTYPE, "kv_len must be an integer");
    o.kv_len = k2;
    TU_FAILS(ingot_sdpa(&y, t.q, t.k, t.v, &o), INGOT_ERR_SHAPE, "kv_len must be [], [1] or [B]");
    o.kv_len = kb;
    TU_FAILS(ingot_sdpa(&y, t.q, t.k, t.v, &o), INGOT_ERR_SHAPE, "kv_len must be [], [1] or [B]");
    assert_null(y);
    ingot_array *arrays[] = {kl, ko, k1, k0, m, ks, vs, q1, ya, yb, kf, vf, kv, k2, kb};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) ingot_array_free(arrays[i]);
    free_qkv(t);
}

static void test_errors(void **state) {
    (void)state;
    qkv t = make_qkv(INGOT_F32, 2, 4, 2, 3, 5, 8, 6, 40);
    int64_t s3[3] = {4, 3, 8}, kb[4] = {2, 3, 5, 8}, kd[4] = {2, 2, 5, 7}, vt[4] = {2, 2, 4, 6},
            qb[4] = {1, 4, 3, 8}, mb[4] = {2, 4, 3, 4}, m5[5] = {1, 2, 4, 3, 5};
    ingot_array *q3 = tu_random(INGOT_F32, s3, 3, 1, -1, 1);
    ingot_array *qi = tu_random(INGOT_I32, qb, 4, 1, -1, 1);
    ingot_array *k3 = tu_random(INGOT_F32, kb, 4, 1, -1, 1);
    ingot_array *kd7 = tu_random(INGOT_F32, kd, 4, 1, -1, 1);
    ingot_array *v4 = tu_random(INGOT_F32, vt, 4, 1, -1, 1);
    ingot_array *q1 = tu_random(INGOT_F32, qb, 4, 1, -1, 1);
    ingot_array *mbad = tu_random(INGOT_F32, mb, 4, 1, -1, 1);
    ingot_array *mi = tu_random(INGOT_I32, mb, 4, 1, -1, 1);
    ingot_array *m5d = tu_random(INGOT_F32, m5, 5, 1, -1, 1);
    ingot_array *y = NULL;
    TU_FAILS(ingot_sdpa(NULL, t.q, t.k, t.v, NULL), INGOT_ERR_INVALID_ARGUMENT, "out is NULL");
    TU_FAILS(ingot_sdpa(&y, NULL, t.k, t.v, NULL), INGOT_ERR_INVALID_ARGUMENT, "q is NULL");
    TU_FAILS(ingot_sdpa(&y, t.q, NULL, t.v, NULL), INGOT_ERR_INVALID_ARGUMENT, "k is NULL");
    TU_FAILS(ingot_sdpa(&y, t.q, t.k, NULL, NULL), INGOT_ERR_INVALID_ARGUMENT, "v is NULL");
    TU_FAILS(ingot_sdpa(&y, q3, t.k, t.v, NULL), INGOT_ERR_SHAPE, "q must be [B");
    TU_FAILS(ingot_sdpa(&y, qi, t.k, t.v, NULL), INGOT_ERR_DTYPE, "q must be a float");
    TU_FAILS(ingot_sdpa(&y, t.q, k3, t.v, NULL), INGOT_ERR_SHAPE, "different head counts");
    TU_FAILS(ingot_sdpa(&y, t.q, kd7, t.v, NULL), INGOT_ERR_SHAPE, "head_dim");
    TU_FAILS(ingot_sdpa(&y, t.q, t.k, v4, NULL), INGOT_ERR_SHAPE, "token counts");
    TU_FAILS(ingot_sdpa(&y, q1, t.k, t.v, NULL), INGOT_ERR_SHAPE, "batch sizes differ");
    TU_FAILS(ingot_sdpa(&y, t.q, k3, k3, NULL), INGOT_ERR_SHAPE, "not a multiple");
    ingot_sdpa_options o = {.window = -1};
    TU_FAILS(ingot_sdpa(&y, t.q, t.k, t.v, &o), INGOT_ERR_INVALID_ARGUMENT, "window");
    o = (ingot_sdpa_options){.max_kv_len = -1};
    TU_FAILS(ingot_sdpa(&y, t.q, t.k, t.v, &o), INGOT_ERR_INVALID_ARGUMENT, "max_kv_len");
    o = (ingot_sdpa_options){.scale = NAN};
    TU_FAILS(ingot_sdpa(&y, t.q, t.k, t.v, &o), INGOT_ERR_INVALID_ARGUMENT, "scale");
    o = (ingot_sdpa_options){.mask = mbad};
    TU_FAILS(ingot_sdpa(&y, t.q, t.k, t.v, &o), INGOT_ERR_SHAPE, "does not broadcast");
    o = (ingot_sdpa_options){.mask = m5d};
    TU_FAILS(ingot_sdpa(&y, t.q, t.k, t.v, &o), INGOT_ERR_SHAPE, "does not broadcast");
    o = (ingot_sdpa_options){.mask = mi};
    TU_FAILS(ingot_sdpa(&y, t.q, t.k, t.v, &o), INGOT_ERR_DTYPE, "bool or float");
    assert_null(y);
    ingot_array_free(q3);
    ingot_array_free(qi);
    ingot_array_free(k3);
    ingot_array_free(kd7);
    ingot_array_free(v4);
    ingot_array_free(q1);
    ingot_array_free(mbad);
    ingot_array_free(mi);
    ingot_array_free(m5d);
    free_qkv(t);
}

/* f32 central differences, eps 1e-3, |num - ana| <= 1e-3 + 1e-2 |num|. */
static void test_gradients(void **state) {
    (void)state;
    qkv t = make_qkv(INGOT_F32, 2, 4, 2, 4, 6, 4, 3, 50);
    ingot_array *prim[3] = {t.q, t.k, t.v};
    tu_gradcheck(sdpa_mask_fn, &(ingot_sdpa_options){0}, prim, 3, NULL, 1e-3, 1e-2, 1e-3,
                 "sdpa plain");
    /* causal + window + GQA + additive mask with a hidden key */
    const double fv[12] = {0, -INFINITY, 0.5, 0, -0.5, 0, 0.3, 0, 0, -INFINITY, 0, 0.1};
    int64_t ms[4] = {2, 1, 1, 6};
    ingot_array *fm = tu_from_f64(fv, INGOT_F32, ms, 4);
    ingot_sdpa_options o = {.causal = true, .window = 3, .mask = fm, .scale = 0.8f};
    tu_gradcheck(sdpa_mask_fn, &o, prim, 3, NULL, 1e-3, 1e-2, 1e-3, "sdpa causal window mask");
    ingot_array_free(fm);
    free_qkv(t);
    /* several blocks of queries and keys */
    t = make_qkv(INGOT_F32, 1, 2, 1, 20, 70, 2, 2, 60);
    ingot_array *p2[3] = {t.q, t.k, t.v};
    ingot_sdpa_options ob = {.causal = true, .window = 30};
    tu_gradcheck(sdpa_mask_fn, &ob, p2, 3, NULL, 1e-3, 1e-2, 1e-3, "sdpa blocks");
    free_qkv(t);
}

/* Every element of dq, dk and dv against the naive reference, over several
 * query and key blocks with GQA, causal, window and mask (f32, tolerance
 * 1e-4 absolute and relative). */
static void test_gradients_reference(void **state) {
    (void)state;
    int64_t ms[2] = {80, 80};
    ingot_array *m = tu_random(INGOT_F32, ms, 2, 70, -1, 1);
    const ref_attn cases[4] = {{.causal = 1, .window = 10},
                               {.window = 7, .scale = 0.6},
                               {.causal = 1, .mask = m},
                               {.scale = 0}};
    qkv t = make_qkv(INGOT_F32, 2, 4, 2, 80, 80, 3, 2, 71);
    int64_t os[4] = {2, 4, 80, 2};
    ingot_array *ua = tu_random(INGOT_F32, os, 4, 72, -1, 1);
    double *u = tu_values(ua);
    ingot_array *prim[3] = {t.q, t.k, t.v};
    const int64_t n[3] = {2 * 4 * 80 * 3, 2 * 2 * 80 * 3, 2 * 2 * 80 * 2};
    for (int c = 0; c < 4; c++) {
        double *want[3];
        for (int i = 0; i < 3; i++) want[i] = calloc((size_t)n[i], sizeof(double));
        free(ref_sdpa_grad(t.q, t.k, t.v, &cases[c], u, want));
        ingot_sdpa_options o = {.scale = (float)cases[c].scale, .causal = cases[c].causal,
                                .window = cases[c].window, .mask = cases[c].mask};
        ingot_array *grads[3] = {NULL, NULL, NULL};
        TU_OK(ingot_vjp(NULL, grads, sdpa_mask_fn, &o, prim, 3, &ua, 1));
        const char *names[3] = {"dq", "dk", "dv"};
        for (int i = 0; i < 3; i++) {
            tu_assert_close(grads[i], want[i], n[i], 1e-4, 1e-4, names[i]);
            ingot_array_free(grads[i]);
            free(want[i]);
        }
    }
    free(u);
    ingot_array_free(ua);
    ingot_array_free(m);
    free_qkv(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_and_gqa),      cmocka_unit_test(test_decode_and_windows),
        cmocka_unit_test(test_masks),              cmocka_unit_test(test_fully_masked),
        cmocka_unit_test(test_dtypes_views_sizes), cmocka_unit_test(test_thread_count),
        cmocka_unit_test(test_errors),             cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_gradients_reference), cmocka_unit_test(test_kv_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
