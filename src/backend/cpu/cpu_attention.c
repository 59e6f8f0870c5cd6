/* CPU kernels for sdpa and its VJP, flash-attention style.
 *
 * Forward: one task per (batch, query head, block of QB queries). Keys are
 * visited in blocks of KB in ascending order; each query row keeps a running
 * max m, a running sum l of exp(s - m) and an accumulator of exp(s - m) v, all
 * in f32 (online softmax). A score is s = scale * (q . k) + mask, with hidden
 * keys (past kv_len, causal, window, bool mask false, -inf mask) skipped. The row result is
 * acc / l rounded once to out's dtype, and lse = m + log(l); a row that sees
 * no key gives zeros and lse = -inf.
 *
 * VJP, with p = exp(s - lse) and delta_i = dO_i . O_i:
 *   dV_j = sum_i p_ij dO_i,  dS_ij = p_ij (dO_i . V_j - delta_i),
 *   dQ_i = scale sum_j dS_ij K_j,  dK_j = scale sum_i dS_ij Q_i.
 * Pass A runs over (batch, query head, query block) and forms dQ and delta;
 * pass B runs over (batch, kv head, key block) and forms dK and dV, summing
 * over the query heads of the group and the queries in ascending order. No
 * element is accumulated by two tasks, so results do not depend on the
 * thread count. Grouped-query heads index kv head h / (Hq / Hkv) directly. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "backend/cpu/cpu.h"

enum { QB = 16, KB = 64 };

typedef struct sdpa_args {
    const ingot_array *q;    /* [B, Hq, Tq, D] */
    const ingot_array *k;    /* [B, Hkv, Tk, D] */
    const ingot_array *v;    /* [B, Hkv, Tk, Dv] */
    const ingot_array *mask; /* [B, Hq, Tq, Tk] (broadcast view) or NULL */
    const ingot_array *kv_len; /* [B] i32/i64 (view) or NULL: keys per batch row */
    const ingot_array *o;    /* [B, Hq, Tq, Dv] forward output (vjp) */
    const ingot_array *g;    /* [B, Hq, Tq, Dv] cotangent (vjp) */
    ingot_array *out;        /* [B, Hq, Tq, Dv] contiguous (forward) */
    ingot_array *lse_out;    /* [B, Hq, Tq] f32 or NULL (forward) */
    const ingot_array *lse;  /* [B, Hq, Tq] f32 (vjp) */
    ingot_array *dq;         /* [B, Hq, Tq, D] contiguous or NULL */
    ingot_array *dk;         /* [B, Hkv, Tk, D] contiguous or NULL */
    ingot_array *dv;         /* [B, Hkv, Tk, Dv] contiguous or NULL */
    float *delta;            /* [B, Hq, Tq] dO . O (vjp) */
    int64_t B, Hq, Hkv, Tq, Tk, D, Dv, group, nqb, nkb;
    float scale;
    bool causal;
    int64_t window; /* 0: no window (also when the window covers every key) */
    atomic_bool failed;
} sdpa_args;

/* Rows r0 .. r0 + n - 1 of a[b, h] (a: [., ., T, C]) as f32 rows *ld apart:
 * a pointer into a when it is f32 with unit column stride, else a copy in
 * scratch ([n, C]). */
static const float *load_rows(const ingot_array *a, int64_t b, int64_t h, int64_t r0, int64_t n,
                              float *scratch, int64_t *ld) {
    int64_t C = a->shape[3];
    int64_t base = b * a->strides[0] + h * a->strides[1] + r0 * a->strides[2];
    if (a->dtype == INGOT_F32 && a->strides[3] == 1) {
        *ld = a->strides[2];
        return (const float *)ingot__data(a) + base;
    }
    const void *p = ingot__data(a);
    int64_t cs = a->strides[3];
    for (int64_t r = 0; r < n; r++) {
        float *dst = scratch + r * C;
        int64_t off = base + r * a->strides[2];
        switch (a->dtype) {
        case INGOT_BF16: /* exact: the bf16 bits are the high half of the f32 */
            for (int64_t c = 0; c < C; c++) {
                uint32_t bits = (uint32_t)((const uint16_t *)p)[off + c * cs] << 16;
                memcpy(dst + c, &bits, sizeof bits);
            }
            break;
        case INGOT_F16:
            for (int64_t c = 0; c < C; c++)
                dst[c] = ingot__f16_to_f32(((const uint16_t *)p)[off + c * cs]);
            break;
        default:
            ingot__cpu_load_row_f32(dst, a, off, cs, C);
        }
    }
    *ld = C;
    return scratch;
}

static float dot(const float *x, const float *y, int64_t n) {
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int u = 0; u < 8; u++) s[u] += x[i + u] * y[i + u];
    }
    for (; i < n; i++) s[0] += x[i] * y[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static void axpy(float *y, float alpha, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

/* The number of keys batch row b has: kv_len[b] clamped to [0, Tk], or Tk. */
static int64_t keys_of(const sdpa_args *a, int64_t b) {
    if (!a->kv_len) return a->Tk;
    const void *p = ingot__data(a->kv_len);
    int64_t i = b * a->kv_len->strides[0];
    int64_t n = a->kv_len->dtype == INGOT_I64 ? ((const int64_t *)p)[i] : ((const int32_t *)p)[i];
    return n < 0 ? 0 : n > a->Tk ? a->Tk : n;
}

/* Keys [*lo, *hi] that kv_len, causal and window let query i of batch row b
 * see (empty if lo > hi). */
static void key_range(const sdpa_args *a, int64_t b, int64_t i, int64_t *lo, int64_t *hi) {
    int64_t tk = keys_of(a, b), p = tk - a->Tq + i;
    *lo = 0;
    *hi = tk - 1;
    if (a->causal && p < *hi) *hi = p;
    if (a->window > 0 && p - a->window + 1 > *lo) *lo = p - a->window + 1;
}

/* The score of query row qr (scaled) against key row kr, with the mask entry
 * of (b, h, i, j); -inf when the mask hides the key. */
static float score(const sdpa_args *a, const float *qr, const float *kr, int64_t b, int64_t h,
                   int64_t i, int64_t j) {
    float s = a->scale * dot(qr, kr, a->D);
    const ingot_array *m = a->mask;
    if (!m) return s;
    int64_t off = b * m->strides[0] + h * m->strides[1] + i * m->strides[2] + j * m->strides[3];
    if (m->dtype == INGOT_BOOL) return ((const uint8_t *)ingot__data(m))[off] ? s : -INFINITY;
    return s + ingot__cpu_load_f32(m, off);
}

static int64_t lse_offset(const ingot_array *lse, int64_t b, int64_t h, int64_t i) {
    return b * lse->strides[0] + h * lse->strides[1] + i * lse->strides[2];
}

/* A task's f32 scratch of n floats; NULL, with a->failed set, when out of
 * memory. */
static float *task_buffer(sdpa_args *a, size_t n) {
    float *buf = malloc(n * sizeof(float));
    if (!buf) atomic_store(&a->failed, true);
    return buf;
}

/* The keys [*lo, *hi] that query i of batch row b sees within the block
 * [j0, j0 + nk). */
static void block_keys(const sdpa_args *a, int64_t b, int64_t i, int64_t j0, int64_t nk,
                       int64_t *lo, int64_t *hi) {
    key_range(a, b, i, lo, hi);
    if (*lo < j0) *lo = j0;
    if (*hi > j0 + nk - 1) *hi = j0 + nk - 1;
}

/* For query i (rows qr of q, gr of the cotangent) and key j (rows kr, vr):
 * the attention probability *p = exp(score - lse) and the score gradient
 * *ds = p * (gr . vr - delta). False (nothing set) when the mask hides j. */
static bool prob_and_dscore(float *p, float *ds, const sdpa_args *a, const float *qr,
                            const float *kr, const float *gr, const float *vr, int64_t b,
                            int64_t h, int64_t i, int64_t j, float lse, float delta) {
    float sc = score(a, qr, kr, b, h, i, j);
    if (sc == -INFINITY) return false;
    *p = expf(sc - lse);
    *ds = *p * (dot(gr, vr, a->Dv) - delta);
    return true;
}

static void sdpa_forward_tasks(void *ctx, int64_t begin, int64_t end) {
    sdpa_args *a = ctx;
    int64_t D = a->D, Dv = a->Dv;
    size_t nbuf = (size_t)(QB * D + KB * D + KB * Dv + QB * Dv + KB + 2 * QB);
    float *buf = task_buffer(a, nbuf);
    if (!buf) return;
    float *qs = buf;           /* [QB, D] */
    float *ks = qs + QB * D;   /* [KB, D] */
    float *vs = ks + KB * D;   /* [KB, Dv] */
    float *acc = vs + KB * Dv; /* [QB, Dv] */
    float *s = acc + QB * Dv;  /* [KB] */
    float *m = s + KB;         /* [QB] */
    float *l = m + QB;         /* [QB] */
    for (int64_t task = begin; task < end; task++) {
        int64_t b = task / (a->Hq * a->nqb), h = task / a->nqb % a->Hq;
        int64_t i0 = task % a->nqb * QB, n = a->Tq - i0 < QB ? a->Tq - i0 : QB;
        int64_t hk = h / a->group, ldq, ldk, ldv, jlo, jhi, unused;
        const float *qp = load_rows(a->q, b, h, i0, n, qs, &ldq);
        for (int64_t r = 0; r < n; r++) {
            m[r] = -INFINITY;
            l[r] = 0;
        }
        memset(acc, 0, (size_t)(n * Dv) * sizeof(float));
        key_range(a, b, i0, &jlo, &unused);
        key_range(a, b, i0 + n - 1, &unused, &jhi);
        for (int64_t j0 = jlo; j0 <= jhi; j0 += KB) {
            int64_t nk = jhi - j0 + 1 < KB ? jhi - j0 + 1 : KB;
            const float *kp = load_rows(a->k, b, hk, j0, nk, ks, &ldk);
            const float *vp = load_rows(a->v, b, hk, j0, nk, vs, &ldv);
            for (int64_t r = 0; r < n; r++) {
                int64_t lo, hi;
                block_keys(a, b, i0 + r, j0, nk, &lo, &hi);
                float bm = -INFINITY;
                for (int64_t j = lo; j <= hi; j++) {
                    s[j - j0] = score(a, qp + r * ldq, kp + (j - j0) * ldk, b, h, i0 + r, j);
                    if (s[j - j0] > bm) bm = s[j - j0];
                }
                if (bm == -INFINITY) continue;
                float mn = m[r] > bm ? m[r] : bm;
                float alpha = expf(m[r] - mn);
                if (alpha != 1.0f) {
                    l[r] *= alpha;
                    for (int64_t d = 0; d < Dv; d++) acc[r * Dv + d] *= alpha;
                }
                for (int64_t j = lo; j <= hi; j++) {
                    float p = expf(s[j - j0] - mn);
                    l[r] += p;
                    axpy(acc + r * Dv, p, vp + (j - j0) * ldv, Dv);
                }
                m[r] = mn;
            }
        }
        for (int64_t r = 0; r < n; r++) {
            float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
            for (int64_t d = 0; d < Dv; d++) acc[r * Dv + d] *= inv;
            ingot__cpu_store_row_f32(a->out, ((b * a->Hq + h) * a->Tq + i0 + r) * Dv, 1,
                                     acc + r * Dv, Dv);
            if (a->lse_out)
                ingot__cpu_store_f32(a->lse_out, lse_offset(a->lse_out, b, h, i0 + r),
                          l[r] > 0 ? m[r] + logf(l[r]) : -INFINITY);
        }
    }
    free(buf);
}

/* Pass A: dQ and delta for (b, query head, query block) tasks. */
static void sdpa_dq_tasks(void *ctx, int64_t begin, int64_t end) {
    sdpa_args *a = ctx;
    int64_t D = a->D, Dv = a->Dv;
    float *buf = task_buffer(a, (size_t)(2 * QB * D + 2 * QB * Dv + KB * D + KB * Dv + 1));
    if (!buf) return;
    float *qs = buf;            /* [QB, D] */
    float *dqs = qs + QB * D;   /* [QB, D] */
    float *gs = dqs + QB * D;   /* [QB, Dv] */
    float *os = gs + QB * Dv;   /* [QB, Dv] */
    float *ks = os + QB * Dv;   /* [KB, D] */
    float *vs = ks + KB * D;    /* [KB, Dv] */
    for (int64_t task = begin; task < end; task++) {
        int64_t b = task / (a->Hq * a->nqb), h = task / a->nqb % a->Hq;
        int64_t i0 = task % a->nqb * QB, n = a->Tq - i0 < QB ? a->Tq - i0 : QB;
        int64_t hk = h / a->group, ldq, ldg, ldo, ldk, ldv, jlo, jhi, unused;
        const float *qp = load_rows(a->q, b, h, i0, n, qs, &ldq);
        const float *gp = load_rows(a->g, b, h, i0, n, gs, &ldg);
        const float *op = load_rows(a->o, b, h, i0, n, os, &ldo);
        float *delta = a->delta + (b * a->Hq + h) * a->Tq + i0; /* [n] */
        for (int64_t r = 0; r < n; r++) delta[r] = dot(gp + r * ldg, op + r * ldo, Dv);
        memset(dqs, 0, (size_t)(n * D) * sizeof(float));
        key_range(a, b, i0, &jlo, &unused);
        key_range(a, b, i0 + n - 1, &unused, &jhi);
        for (int64_t j0 = jlo; a->dq && j0 <= jhi; j0 += KB) {
            int64_t nk = jhi - j0 + 1 < KB ? jhi - j0 + 1 : KB;
            const float *kp = load_rows(a->k, b, hk, j0, nk, ks, &ldk);
            const float *vp = load_rows(a->v, b, hk, j0, nk, vs, &ldv);
            for (int64_t r = 0; r < n; r++) {
                int64_t i = i0 + r, lo, hi;
                float lse = ingot__cpu_load_f32(a->lse, lse_offset(a->lse, b, h, i));
                if (lse == -INFINITY) continue;
                block_keys(a, b, i, j0, nk, &lo, &hi);
                for (int64_t j = lo; j <= hi; j++) {
                    float p, ds;
                    if (!prob_and_dscore(&p, &ds, a, qp + r * ldq, kp + (j - j0) * ldk,
                                         gp + r * ldg, vp + (j - j0) * ldv, b, h, i, j, lse,
                                         delta[r]))
                        continue;
                    axpy(dqs + r * D, a->scale * ds, kp + (j - j0) * ldk, D);
                }
            }
        }
        if (a->dq)
            ingot__cpu_store_row_f32(a->dq, ((b * a->Hq + h) * a->Tq + i0) * D, 1, dqs, n * D);
    }
    free(buf);
}

/* The queries [*ilo, *ihi] of batch row b that can see some key in [j0, j1]
 * (empty if ilo > ihi). */
static void query_range(const sdpa_args *a, int64_t b, int64_t j0, int64_t j1, int64_t *ilo,
                        int64_t *ihi) {
    int64_t tk = keys_of(a, b), shift = tk - a->Tq; /* query i sits at position i + shift */
    *ilo = a->causal && j0 - shift > 0 ? j0 - shift : 0;
    *ihi = j0 < tk ? a->Tq - 1 : -1; /* keys past kv_len are seen by none */
    if (a->window > 0 && j1 + a->window - 1 - shift < *ihi) *ihi = j1 + a->window - 1 - shift;
}

/* Pass B: dK and dV for (b, kv head, key block) tasks. */
static void sdpa_dkv_tasks(void *ctx, int64_t begin, int64_t end) {
    sdpa_args *a = ctx;
    int64_t D = a->D, Dv = a->Dv;
    float *buf = task_buffer(a, (size_t)(2 * KB * D + 2 * KB * Dv + QB * D + QB * Dv + 1));
    if (!buf) return;
    float *ks = buf;             /* [KB, D] */
    float *dks = ks + KB * D;    /* [KB, D] */
    float *vs = dks + KB * D;    /* [KB, Dv] */
    float *dvs = vs + KB * Dv;   /* [KB, Dv] */
    float *qs = dvs + KB * Dv;   /* [QB, D] */
    float *gs = qs + QB * D;     /* [QB, Dv] */
    for (int64_t task = begin; task < end; task++) {
        int64_t b = task / (a->Hkv * a->nkb), hk = task / a->nkb % a->Hkv;
        int64_t j0 = task % a->nkb * KB, nk = a->Tk - j0 < KB ? a->Tk - j0 : KB;
        int64_t ldk, ldv, ldq, ldg, ilo, ihi;
        const float *kp = load_rows(a->k, b, hk, j0, nk, ks, &ldk);
        const float *vp = load_rows(a->v, b, hk, j0, nk, vs, &ldv);
        memset(dks, 0, (size_t)(nk * D) * sizeof(float));
        memset(dvs, 0, (size_t)(nk * Dv) * sizeof(float));
        query_range(a, b, j0, j0 + nk - 1, &ilo, &ihi);
        for (int64_t h = hk * a->group; h < (hk + 1) * a->group; h++) {
            for (int64_t i0 = ilo; i0 <= ihi; i0 += QB) {
                int64_t n = ihi - i0 + 1 < QB ? ihi - i0 + 1 : QB;
                const float *qp = load_rows(a->q, b, h, i0, n, qs, &ldq);
                const float *gp = load_rows(a->g, b, h, i0, n, gs, &ldg);
                for (int64_t r = 0; r < n; r++) {
                    int64_t i = i0 + r, lo, hi;
                    float lse = ingot__cpu_load_f32(a->lse, lse_offset(a->lse, b, h, i));
                    if (lse == -INFINITY) continue;
                    float delta = a->delta[(b * a->Hq + h) * a->Tq + i];
                    block_keys(a, b, i, j0, nk, &lo, &hi);
                    for (int64_t j = lo; j <= hi; j++) {
                        float p, ds;
                        if (!prob_and_dscore(&p, &ds, a, qp + r * ldq, kp + (j - j0) * ldk,
                                             gp + r * ldg, vp + (j - j0) * ldv, b, h, i, j, lse,
                                             delta))
                            continue;
                        axpy(dvs + (j - j0) * Dv, p, gp + r * ldg, Dv);
                        axpy(dks + (j - j0) * D, a->scale * ds, qp + r * ldq, D);
                    }
                }
            }
        }
        if (a->dk)
            ingot__cpu_store_row_f32(a->dk, ((b * a->Hkv + hk) * a->Tk + j0) * D, 1, dks, nk * D);
        if (a->dv)
            ingot__cpu_store_row_f32(a->dv, ((b * a->Hkv + hk) * a->Tk + j0) * Dv, 1, dvs,
                                     nk * Dv);
    }
    free(buf);
}

static void sdpa_init(sdpa_args *a, const ingot_array *q, const ingot_array *k,
                      const ingot_array *v, const ingot__sdpa_params *opts) {
    a->q = q;
    a->k = k;
    a->v = v;
    a->mask = opts->mask;
    a->kv_len = opts->kv_len;
    a->B = q->shape[0];
    a->Hq = q->shape[1];
    a->Tq = q->shape[2];
    a->D = q->shape[3];
    a->Hkv = k->shape[1];
    a->Tk = k->shape[2];
    a->Dv = v->shape[3];
    a->group = a->Hkv > 0 ? a->Hq / a->Hkv : 1;
    a->nqb = (a->Tq + QB - 1) / QB;
    a->nkb = (a->Tk + KB - 1) / KB;
    a->scale = opts->scale;
    a->causal = opts->causal;
    a->window = opts->window > 0 && opts->window < a->Tk ? opts->window : 0;
    atomic_init(&a->failed, false);
}

ingot_status ingot__cpu_sdpa(ingot_array *out, ingot_array *lse, const ingot_array *q,
                             const ingot_array *k, const ingot_array *v,
                             const ingot__sdpa_params *opts) {
    sdpa_args a = {.out = out, .lse_out = lse};
    sdpa_init(&a, q, k, v, opts);
    ingot__parallel_for(a.B * a.Hq * a.nqb, 1, sdpa_forward_tasks, &a);
    if (atomic_load(&a.failed))
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "sdpa: out of memory for a work buffer");
    return INGOT_OK;
}

ingot_status ingot__cpu_sdpa_vjp(ingot_array *dq, ingot_array *dk, ingot_array *dv,
                                 const ingot_array *q, const ingot_array *k, const ingot_array *v,
                                 const ingot_array *out, const ingot_array *lse,
                                 const ingot_array *g, const ingot__sdpa_params *opts) {
    sdpa_args a = {.o = out, .g = g, .lse = lse, .dq = dq, .dk = dk, .dv = dv};
    sdpa_init(&a, q, k, v, opts);
    a.delta = malloc((size_t)(a.B * a.Hq * a.Tq + 1) * sizeof(float));
    if (!a.delta) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "sdpa_vjp: out of memory");
    ingot__parallel_for(a.B * a.Hq * a.nqb, 1, sdpa_dq_tasks, &a);
    if (!atomic_load(&a.failed) && (dk || dv))
        ingot__parallel_for(a.B * a.Hkv * a.nkb, 1, sdpa_dkv_tasks, &a);
    free(a.delta);
    if (atomic_load(&a.failed))
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "sdpa_vjp: out of memory for a work buffer");
    return INGOT_OK;
}
