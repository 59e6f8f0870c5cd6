/* The decoder forward pass shared by every family. What differs is data in
 * the config: q/k norms (Qwen3, Gemma 3), biases (Qwen2, Llama), Gemma's four
 * (1 + w) norms per layer and scaled embedding, the activation, sliding
 * layers and their rope. Each step rounds where transformers rounds (see
 * docs/fast-ops.md and docs/models.md). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "ingot/fast.h"
#include "ingot/ops.h"
#include "models/models_internal.h"

#define OP "model_forward"

/* What one forward call needs besides the weights. */
typedef struct step {
    const ingot_model *m;
    int64_t B, T;
    int64_t L;                    /* cache length before the call */
    int64_t full_keys;            /* keys of a full layer: its cache capacity, or T */
    /* The step's token data lives in device memory, read by the kernels, never
     * passed as launch arguments: */
    ingot_array *counts;          /* i64 [T + 1]: L, L + 1, ..., L + T */
    ingot_array *slots;           /* [T] view of counts: the new tokens' cache slots
                                     (the first of them is where they are written) */
    ingot_array *kv_len;          /* [1] view of counts: L + T, the keys in use */
    ingot_array *positions;       /* [B, T] given, or slots (L + t) */
    ingot_array *mask;            /* bool [B, 1, 1, max(L + T, full_keys)] or NULL */
    ingot_kv_cache *cache;        /* or NULL */
    ingot_array **pending;        /* [2 * n_layers]: new sliding-layer k, v */
} step;

/* y = x w^T (+ b); x [..., in], w [out, in] -> [..., out] */
static ingot_status linear(ingot_array **out, const ingot_array *x, const ingot_array *w,
                           const ingot_array *b) {
    ingot_array *wt = NULL, *y = NULL; /* wt [in, out] view */
    ingot_status st = ingot_transpose(&wt, w, NULL, 0);
    if (!st) st = ingot_matmul(b ? &y : out, x, wt);
    if (!st && b) st = ingot_add(out, y, b);
    ingot_array_free(wt);
    ingot_array_free(y);
    return st;
}

/* Swaps axes 1 and 2: [B, T, H, D] <-> [B, H, T, D]. */
static const int swap_heads[4] = {0, 2, 1, 3};

typedef ingot_status (*unary_fn)(ingot_array **out, const ingot_array *a);

/* Makes next (the result of a call that returned st) the new *x: the old
 * array is released either way; *x is NULL on error. */
static ingot_status replace(ingot_array **x, ingot_status st, ingot_array *next) {
    ingot_array_free(*x);
    *x = st ? NULL : next;
    return st;
}

static ingot_status norm(ingot_array **x, const ingot_array *w, const ingot_model *m) {
    ingot_array *y;
    ingot_status st = ingot_rms_norm(&y, *x, w, (float)m->cfg.rms_norm_eps);
    return replace(x, st, y);
}

/* [B, T, H * D] projection -> [B, H, T, D] heads, normed (q/k) and rotated. */
static ingot_status heads(ingot_array **out, const step *s, const ingot_array *h,
                          const ingot_array *w, const ingot_array *b, const ingot_array *qk_norm,
                          int64_t n_heads, bool rotate, const ingot_array *freqs) {
    int64_t D = s->m->cfg.head_dim;
    int64_t shape[4] = {s->B, s->T, n_heads, D};
    ingot_array *x = NULL, *y = NULL; /* x [B, T, n_heads * D] */
    ingot_status st = linear(&x, h, w, b);
    if (!st) st = replace(&x, ingot_reshape(&y, x, shape, 4), y); /* [B, T, n, D] */
    if (!st && qk_norm) st = norm(&x, qk_norm, s->m);
    if (!st) st = replace(&x, ingot_transpose(&y, x, swap_heads, 4), y); /* [B, n, T, D] view */
    if (!st && rotate) {
        ingot_rope_options ro = {.freqs = freqs, .positions = s->positions};
        st = replace(&x, ingot_rope(&y, x, &ro), y);
    }
    if (!st) st = replace(&x, ingot_contiguous(&y, x), y);
    *out = x;
    return st;
}

/* The keys (or values) attention sees for layer li: new [B, Hkv, T, D] alone
 * without a cache; else the layer's whole buffer after writing them from
 * slot s->slots[0] on (full layers, of which attention reads the first s->kv_len), or
 * the held window joined with them (sliding layers, whose next window is
 * left in *pending). *first is the absolute position of the first key. */
static ingot_status with_cache(ingot_array **out, int64_t *first, const step *s, int64_t li,
                               ingot_array *neu, ingot_array **buf, ingot_array **pending) {
    *first = 0;
    if (!s->cache) {
        *out = ingot_array_retain(neu);
        return INGOT_OK;
    }
    ingot__kv_layer *l = &s->cache->layers[li];
    if (!s->m->cfg.layer_sliding[li]) {
        ingot_status st = ingot__kv_put(*buf, s->slots, neu);
        if (!st) *out = ingot_array_retain(*buf);
        return st;
    }
    *first = l->start;
    ingot_array *held = NULL, *all = NULL, *tail = NULL; /* [B, Hkv, *, D] */
    ingot_status st = INGOT_OK;
    if (l->n == 0) {
        all = ingot_array_retain(neu);
    } else {
        st = ingot_slice_axis(&held, *buf, 2, 0, l->n);
        const ingot_array *parts[2] = {held, neu};
        if (!st) st = ingot_concat(&all, parts, 2, 2);
    }
    int64_t total = l->n + s->T,
            keep = total < s->m->cfg.sliding_window ? total : s->m->cfg.sliding_window;
    if (!st) st = ingot_slice_axis(&tail, all, 2, total - keep, total);
    if (!st) st = ingot_contiguous(pending, tail);
    ingot_array_free(held);
    ingot_array_free(tail);
    if (st) {
        ingot_array_free(all);
        return st;
    }
    *out = all;
    return INGOT_OK;
}

static ingot_status attention(ingot_array **out, const step *s, int64_t li, const ingot_array *h) {
    const ingot_model *m = s->m;
    const ingot__config *c = &m->cfg;
    const ingot__layer *w = &m->layers[li];
    bool sliding = c->layer_sliding[li];
    const ingot_array *freqs = sliding ? m->freqs_sliding : m->freqs_full;
    ingot_array *q = NULL, *k = NULL, *v = NULL; /* [B, H, T, D] */
    ingot_array *K = NULL, *V = NULL;            /* [B, Hkv, Tk, D] */
    ingot_array *mask = NULL;                    /* bool [B, 1, 1, Tk] */
    ingot_array *o = NULL, *y = NULL;            /* [B, Hq, T, D], then [B, T, Hq * D] */
    int64_t first = 0;
    ingot__kv_layer *cl = s->cache ? &s->cache->layers[li] : NULL;
    ingot_status st = heads(&q, s, h, w->q_w, w->q_b, w->q_norm, c->n_heads, true, freqs);
    if (!st) st = heads(&k, s, h, w->k_w, w->k_b, w->k_norm, c->n_kv_heads, true, freqs);
    if (!st) st = heads(&v, s, h, w->v_w, w->v_b, NULL, c->n_kv_heads, false, NULL);
    if (!st) st = with_cache(&K, &first, s, li, k, cl ? &cl->k : NULL, &s->pending[2 * li]);
    if (!st) st = with_cache(&V, &first, s, li, v, cl ? &cl->v : NULL, &s->pending[2 * li + 1]);
    if (!st && s->mask)
        st = ingot_slice_axis(&mask, s->mask, 3, first, sliding ? s->L + s->T : s->full_keys);
    if (!st) {
        ingot_sdpa_options so = {.scale = (float)c->attn_scale,
                                 .causal = true,
                                 .window = sliding ? c->sliding_window : 0,
                                 .mask = mask,
                                 .kv_len = s->cache && !sliding ? s->kv_len : NULL,
                                 .max_kv_len = s->L + s->T};
        st = ingot_sdpa(&o, q, K, V, &so); /* [B, Hq, T, D] */
    }
    int64_t shape[3] = {s->B, s->T, c->n_heads * c->head_dim};
    if (!st) st = replace(&o, ingot_transpose(&y, o, swap_heads, 4), y); /* [B, T, Hq, D] */
    if (!st) st = replace(&o, ingot_reshape(&y, o, shape, 3), y);        /* [B, T, Hq * D] */
    if (!st) st = linear(out, o, w->o_w, w->o_b);
    ingot_array *tmp[] = {q, k, v, K, V, mask, o};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        ingot_array_free(tmp[i]);
    return st;
}

static ingot_status mlp(ingot_array **out, const ingot_model *m, const ingot__layer *w,
                        const ingot_array *h) {
    static const unary_fn acts[] = {[INGOT__ACT_SILU] = ingot_silu,
                                    [INGOT__ACT_GELU_TANH] = ingot_gelu_tanh,
                                    [INGOT__ACT_GELU] = ingot_gelu};
    ingot_array *g = NULL, *u = NULL, *y = NULL; /* [B, T, I] */
    ingot_status st = linear(&g, h, w->gate_w, w->gate_b);
    if (!st) st = replace(&g, acts[m->cfg.act](&y, g), y);
    if (!st) st = linear(&u, h, w->up_w, w->up_b);
    if (!st) st = replace(&g, ingot_mul(&y, g, u), y);
    if (!st) st = linear(out, g, w->down_w, w->down_b);
    ingot_array_free(g);
    ingot_array_free(u);
    return st;
}

/* x + f(norm(x)), with Gemma's extra norm of f's output. */
static ingot_status residual(ingot_array **x, const step *s, int64_t li, bool attn) {
    const ingot__layer *w = &s->m->layers[li];
    bool g = s->m->cfg.gemma_norms;
    const ingot_array *pre = attn ? w->in_norm : g ? w->pre_ff_norm : w->post_attn_norm;
    const ingot_array *post = !g ? NULL : attn ? w->post_attn_norm : w->post_ff_norm;
    ingot_array *h = NULL, *f = NULL, *y = NULL; /* [B, T, H] */
    ingot_status st = ingot_rms_norm(&h, *x, pre, (float)s->m->cfg.rms_norm_eps);
    if (!st) st = attn ? attention(&f, s, li, h) : mlp(&f, s->m, w, h);
    if (!st && post) st = norm(&f, post, s->m);
    if (!st) st = ingot_add(&y, *x, f);
    ingot_array_free(h);
    ingot_array_free(f);
    return replace(x, st, y);
}

/* Checks ids [B, T] (integers in [0, V)). */
static ingot_status check_ids(const ingot_array *ids, int64_t vocab) {
    if (ingot_array_ndim(ids) != 2 || !ingot_dtype_is_integer(ingot_array_dtype(ids)))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, OP ": ids must be a [B, T] integer array");
    int64_t n = ingot_array_size(ids), T = ingot_array_dim(ids, 1);
    int64_t *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, OP ": out of memory");
    ingot_status st = ingot_array_to_host(v, (size_t)n * sizeof *v, INGOT_I64, ids);
    for (int64_t i = 0; !st && i < n; i++)
        if (v[i] < 0 || v[i] >= vocab)
            st = ingot__error(INGOT_ERR_INDEX,
                              OP ": token id %lld at (%lld,%lld) is out of "
                                 "range [0, %lld)",
                              (long long)v[i], (long long)(i / T), (long long)(i % T),
                              (long long)vocab);
    free(v);
    return st;
}

/* s->mask = attention_mask am [B, L + T] as bool [B, 1, 1, W] with
 * W = max(L + T, full_keys): entries past L + T (unused slots of the full
 * layers' buffers, which kv_len hides anyway) are false. */
static ingot_status make_mask(step *s, const ingot_array *am) {
    int64_t Tk = s->L + s->T;
    int64_t W = s->full_keys > Tk ? s->full_keys : Tk;
    int64_t shape[4] = {s->B, 1, 1, W}, pad[2] = {s->B, W - Tk};
    ingot_array *d = NULL, *b = NULL, *z = NULL, *all = NULL; /* [B, Tk], [B, Tk], [B, W - Tk], [B, W] */
    ingot_status st = ingot_array_to_device(&d, am, s->m->device);
    if (!st) st = ingot_astype(&b, d, INGOT_BOOL);
    if (!st && W > Tk) st = ingot__full_on(&z, INGOT_BOOL, pad, 2, 0.0, s->m->device, OP);
    if (!st && W > Tk) st = ingot_concat(&all, (const ingot_array *const[]){b, z}, 2, 1);
    if (!st) st = ingot_reshape(&s->mask, W > Tk ? all : b, shape, 4);
    ingot_array *tmp[] = {d, b, z, all};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        ingot_array_free(tmp[i]);
    return st;
}

/* s->counts = L, L + 1, ..., L + T (i64) on the model's device, one upload,
 * with its views s->slots and s->kv_len. */
static ingot_status make_counts(step *s) {
    int64_t n = s->T + 1, *v = malloc((size_t)n * sizeof *v);
    if (!v) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, OP ": out of memory");
    for (int64_t t = 0; t < n; t++) v[t] = s->L + t;
    ingot_array *host = NULL; /* [T + 1] */
    ingot_status st = ingot_array_from_data(&host, v, INGOT_I64, &n, 1);
    free(v);
    if (!st) st = ingot_array_to_device(&s->counts, host, s->m->device);
    if (!st) st = ingot_slice_axis(&s->slots, s->counts, 0, 0, s->T);
    if (!st) st = ingot_slice_axis(&s->kv_len, s->counts, 0, s->T, n);
    ingot_array_free(host);
    return st;
}

/* Validates the call, reserves the cache and fills s. */
static ingot_status prepare(step *s, const ingot_model *m, const ingot_array *ids,
                            ingot_kv_cache *cache, const ingot_forward_options *o) {
    ingot_status st = check_ids(ids, m->cfg.vocab_size);
    if (st) return st;
    *s = (step){.m = m, .B = ingot_array_dim(ids, 0), .T = ingot_array_dim(ids, 1), .cache = cache};
    if (s->T == 0) return ingot__error(INGOT_ERR_SHAPE, OP ": ids hold no tokens");
    if (cache) {
        if (cache->model != m)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, OP ": the cache was made for "
                                                               "another model");
        if (cache->batch != s->B)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                                OP ": ids have batch %lld but the "
                                   "cache %lld",
                                (long long)s->B, (long long)cache->batch);
        s->L = cache->length;
    }
    const ingot_array *p = o ? o->positions : NULL;
    if (p && (ingot_array_ndim(p) != 2 || ingot_array_dim(p, 0) != s->B ||
              ingot_array_dim(p, 1) != s->T || !ingot_dtype_is_integer(ingot_array_dtype(p))))
        return ingot__error(INGOT_ERR_SHAPE,
                            OP ": positions must be a [B, T] = [%lld, %lld] "
                               "integer array",
                            (long long)s->B, (long long)s->T);
    const ingot_array *am = o ? o->attention_mask : NULL;
    if (am && (ingot_array_ndim(am) != 2 || ingot_array_dim(am, 0) != s->B ||
               ingot_array_dim(am, 1) != s->L + s->T))
        return ingot__error(INGOT_ERR_SHAPE,
                            OP ": attention_mask must be [B, cache length + T] "
                               "= [%lld, %lld]",
                            (long long)s->B, (long long)(s->L + s->T));
    if (cache && (st = ingot__kv_reserve(cache, s->T))) return st; /* after every check */
    s->full_keys = cache ? ingot__kv_full_capacity(cache) : s->T;
    if ((st = make_counts(s))) return st;
    st = p ? ingot_array_to_device(&s->positions, p, m->device)
           : (s->positions = ingot_array_retain(s->slots), INGOT_OK);
    return st ? st : am ? make_mask(s, am) : INGOT_OK;
}

/* Embedding (Gemma: times sqrt(hidden) rounded to the weight dtype). */
static ingot_status embed(ingot_array **x, const ingot_model *m, const ingot_array *ids) {
    ingot_status st = ingot_take(x, m->embed, ids, 0); /* [B, T, H] */
    if (st || !m->embed_scale) return st;
    ingot_array *y;
    return replace(x, ingot_mul(&y, *x, m->embed_scale), y);
}

/* Final norm, lm_head, optional soft-capping, f32. */
static ingot_status head(ingot_array **logits, const step *s, ingot_array *x, bool last_only) {
    const ingot_model *m = s->m;
    ingot_array *h = NULL, *y = NULL, *cap = NULL;
    ingot_status st = last_only ? ingot_slice_axis(&h, x, 1, s->T - 1, s->T)
                                : (h = ingot_array_retain(x), INGOT_OK);
    if (!st) st = norm(&h, m->norm, m);
    if (!st) st = replace(&h, linear(&y, h, m->lm_head, NULL), y); /* [B, T, V] */
    if (!st && m->cfg.final_logit_softcap > 0) {
        st = ingot__full_on(&cap, m->dtype, NULL, 0, m->cfg.final_logit_softcap, m->device, OP);
        if (!st) st = replace(&h, ingot_div(&y, h, cap), y);
        if (!st) st = replace(&h, ingot_tanh(&y, h), y);
        if (!st) st = replace(&h, ingot_mul(&y, h, cap), y);
    }
    if (!st) st = ingot_astype(logits, h, INGOT_F32);
    ingot_array_free(h);
    ingot_array_free(cap);
    return st;
}

/* Releases the step's device arrays (not pending). */
static void step_free(step *s) {
    ingot_array *arrays[] = {s->counts, s->slots, s->kv_len, s->positions, s->mask};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        ingot_array_free(arrays[i]);
}

/* Makes the new sliding windows the cache's and advances its length. */
static void commit(step *s) {
    ingot_kv_cache *c = s->cache;
    for (int64_t i = 0; i < s->m->cfg.n_layers; i++) {
        ingot__kv_layer *l = &c->layers[i];
        if (!s->m->cfg.layer_sliding[i]) {
            l->n += s->T;
            continue;
        }
        ingot_array_free(l->k);
        ingot_array_free(l->v);
        l->k = s->pending[2 * i];
        l->v = s->pending[2 * i + 1];
        s->pending[2 * i] = s->pending[2 * i + 1] = NULL;
        l->cap = l->n = ingot_array_dim(l->k, 2);
        l->start = s->L + s->T - l->n;
    }
    c->length += s->T;
}

ingot_status ingot_model_forward(ingot_array **logits, const ingot_model *m, const ingot_array *ids,
                                 ingot_kv_cache *cache, const ingot_forward_options *opts) {
    INGOT__CHECK_NOT_NULL(logits, OP);
    *logits = NULL;
    INGOT__CHECK_NOT_NULL(m, OP);
    INGOT__CHECK_NOT_NULL(ids, OP);
    step s = {0};
    ingot_status st = prepare(&s, m, ids, cache, opts);
    if (st) {
        step_free(&s);
        return st;
    }
    int64_t n = m->cfg.n_layers;
    s.pending = calloc((size_t)(2 * n), sizeof *s.pending);
    ingot_array *x = NULL; /* [B, T, H] */
    st =
        s.pending ? embed(&x, m, ids) : ingot__error(INGOT_ERR_OUT_OF_MEMORY, OP ": out of memory");
    for (int64_t i = 0; !st && i < n; i++) {
        st = residual(&x, &s, i, true);
        if (!st) st = residual(&x, &s, i, false);
    }
    if (!st) st = head(logits, &s, x, opts && opts->last_only);
    if (!st && cache) commit(&s);
    for (int64_t i = 0; s.pending && i < 2 * n; i++)
        ingot_array_free(s.pending[i]);
    free(s.pending);
    step_free(&s);
    ingot_array_free(x);
    return st;
}
