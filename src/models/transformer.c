/* The decoder forward pass shared by every family. What differs is data in
 * the config: q/k norms (Qwen3, Gemma 3), biases (Qwen2, Llama), Gemma's four
 * (1 + w) norms per layer and scaled embedding, the activation, sliding
 * layers and their rope. Each step rounds where transformers rounds (see
 * docs/fast-ops.md and docs/models.md). */
#include <stdlib.h>

#include "core/internal.h"
#include "ingot/fast.h"
#include "ingot/ops.h"
#include "models/models_internal.h"
#include "nn/nn.h"
#include "ops/ops_internal.h"

#define OP "model_forward"

/* What one forward call needs besides the weights. */
typedef struct step {
    const ingot_model *m;
    int64_t B, T;
    int64_t L;                    /* cache length before the call */
    int64_t full_keys;            /* keys of a full layer: its cache capacity, or T */
    ingot__kv *kv;                /* the cache's, its step open; or NULL */
    ingot_array *positions;       /* [B, T] given, else [T]: the cache's L + t (device
                                     data, read by the kernels) or t */
    const ingot_array *freqs_full, *freqs_sliding; /* the call's rope frequencies (m's) */
    ingot_array *mask;            /* bool [B, 1, 1, max(L + T, full_keys)] or NULL */
    ingot_array *ring_mask;       /* bool [B, 1, 1, ring slots]: mask in ring order, made
                                     by the first sliding layer of a one-token call with a
                                     mask (every sliding layer has the model's window) */
} step;

/* Swaps axes 1 and 2: [B, T, H, D] <-> [B, H, T, D]. */
static const int swap_heads[4] = {0, 2, 1, 3};

typedef ingot_status (*unary_fn)(ingot_array **out, const ingot_array *a);

/* Makes *next (the result of a call that returned st) the new *x: the old
 * array is released either way; *x is NULL on error. next is passed by
 * address so that it is read here, after the call that wrote it: C leaves
 * open whether an argument passed by value is read before or after another
 * argument's call writes it. */
static ingot_status replace(ingot_array **x, ingot_status st, ingot_array **next) {
    ingot_array_free(*x);
    *x = st ? NULL : *next;
    return st;
}

static ingot_status norm(ingot_array **x, const ingot_array *w, const ingot_model *m) {
    ingot_array *y;
    ingot_status st = ingot_rms_norm(&y, *x, w, (float)m->cfg.rms_norm_eps);
    return replace(x, st, &y);
}

/* [B, T, H * D] projection -> [B, H, T, D] heads, normed (q/k) and rotated
 * (then contiguous: rope writes a new array); unrotated heads (v) stay a
 * transposed view, which the cache writes and sdpa read as they are. */
static ingot_status heads(ingot_array **out, const step *s, const ingot_array *h,
                          const ingot__linear *proj, const ingot_array *qk_norm, int64_t n_heads,
                          bool rotate, const ingot_array *freqs) {
    int64_t D = s->m->cfg.head_dim;
    int64_t shape[4] = {s->B, s->T, n_heads, D};
    ingot_array *x = NULL, *y = NULL; /* x [B, T, n_heads * D] */
    ingot_status st = ingot__linear_forward(&x, proj, h);
    if (!st) st = replace(&x, ingot_reshape(&y, x, shape, 4), &y); /* [B, T, n, D] */
    if (!st && qk_norm) st = norm(&x, qk_norm, s->m);
    if (!st) st = replace(&x, ingot_transpose(&y, x, swap_heads, 4), &y); /* [B, n, T, D] view */
    if (!st && rotate) {
        ingot_rope_options ro = {.freqs = freqs, .positions = s->positions};
        st = replace(&x, ingot_rope(&y, x, &ro), &y);
    }
    *out = x;
    return st;
}

/* How attention reads the keys of layer li: the keys and values (kv.k,
 * kv.v [B, Hkv, Tk, D]), the options, and the mask they need. */
typedef struct layer_keys {
    ingot__kv_view kv; /* owned */
    ingot_array *mask; /* owned */
    ingot_sdpa_options so;
} layer_keys;

/* The keys layer li attends to. Without a cache: k and v alone, causal (and
 * windowed on sliding layers). With one: what the cache gives after storing
 * k and v (ingot__kv_append): a full layer's whole buffers, of which
 * attention reads the first kv_len (device data); a sliding layer's ring (a
 * one-token call: no causal or window mask, the padding mask in ring order)
 * or its held window followed by k and v. */
static ingot_status layer_keys_of(layer_keys *lk, step *s, int64_t li, ingot_array *k,
                                  ingot_array *v) {
    const ingot__config *c = &s->m->cfg;
    *lk = (layer_keys){.so = {.scale = (float)c->attn_scale}};
    ingot_status st = INGOT_OK;
    if (s->kv)
        st = ingot__kv_append(&lk->kv, s->kv, li, k, v);
    else
        lk->kv = (ingot__kv_view){.k = ingot_array_retain(k),
                                  .v = ingot_array_retain(v),
                                  .window = c->layer_sliding[li] ? c->sliding_window : 0};
    if (st) return st;
    lk->so.causal = !lk->kv.ring;
    lk->so.window = lk->kv.window;
    lk->so.kv_len = lk->kv.len;
    lk->so.max_kv_len = lk->kv.max_len;
    if (!s->mask) return INGOT_OK;
    if (!lk->kv.ring) {
        int64_t first = lk->kv.first, Tk = ingot_array_dim(lk->kv.k, 2);
        return ingot_slice_axis(&lk->mask, s->mask, 3, first, first + Tk);
    }
    if (!s->ring_mask) st = ingot__kv_ring_order(&s->ring_mask, s->kv, li, s->mask, 3);
    lk->mask = st ? NULL : ingot_array_retain(s->ring_mask);
    return st;
}

static ingot_status attention(ingot_array **out, step *s, int64_t li, const ingot_array *h) {
    const ingot_model *m = s->m;
    const ingot__config *c = &m->cfg;
    const ingot__layer *w = &m->layers[li];
    const ingot_array *freqs = c->layer_sliding[li] ? s->freqs_sliding : s->freqs_full;
    ingot_array *q = NULL, *k = NULL, *v = NULL; /* [B, H, T, D] */
    ingot_array *o = NULL, *y = NULL;            /* [B, Hq, T, D], then [B, T, Hq * D] */
    layer_keys lk = {0};                         /* [B, Hkv, Tk, D] */
    ingot_status st = heads(&q, s, h, &w->q, w->q_norm, c->n_heads, true, freqs);
    if (!st) st = heads(&k, s, h, &w->k, w->k_norm, c->n_kv_heads, true, freqs);
    if (!st) st = heads(&v, s, h, &w->v, NULL, c->n_kv_heads, false, NULL);
    if (!st) st = layer_keys_of(&lk, s, li, k, v);
    lk.so.mask = lk.mask;
    if (!st) st = ingot_sdpa(&o, q, lk.kv.k, lk.kv.v, &lk.so); /* [B, Hq, T, D] */
    int64_t shape[3] = {s->B, s->T, c->n_heads * c->head_dim};
    if (!st) st = replace(&o, ingot_transpose(&y, o, swap_heads, 4), &y); /* [B, T, Hq, D] */
    if (!st) st = replace(&o, ingot_reshape(&y, o, shape, 3), &y);        /* [B, T, Hq * D] */
    if (!st) st = ingot__linear_forward(out, &w->o, o);
    ingot_array *tmp[] = {q, k, v, lk.mask, o};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++)
        ingot_array_free(tmp[i]);
    ingot__kv_view_free(&lk.kv);
    return st;
}

static ingot_status mlp(ingot_array **out, const ingot_model *m, const ingot__layer *w,
                        const ingot_array *h) {
    static const unary_fn acts[] = {[INGOT__ACT_SILU] = ingot_silu,
                                    [INGOT__ACT_GELU_TANH] = ingot_gelu_tanh,
                                    [INGOT__ACT_GELU] = ingot_gelu};
    ingot_array *g = NULL, *u = NULL, *y = NULL; /* [B, T, I] */
    ingot_status st = ingot__linear_forward(&g, &w->gate, h);
    if (!st) st = replace(&g, acts[m->cfg.act](&y, g), &y);
    if (!st) st = ingot__linear_forward(&u, &w->up, h);
    if (!st) st = replace(&g, ingot_mul(&y, g, u), &y);
    if (!st) st = ingot__linear_forward(out, &w->down, g);
    ingot_array_free(g);
    ingot_array_free(u);
    return st;
}

/* x + f(norm(x)), with Gemma's extra norm of f's output. */
static ingot_status residual(ingot_array **x, step *s, int64_t li, bool attn) {
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
    return replace(x, st, &y);
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
            st = ingot__error(
                INGOT_ERR_INDEX, OP ": token id %lld at (%lld,%lld) is out of range [0, %lld)",
                (long long)v[i], (long long)(i / T), (long long)(i % T), (long long)vocab);
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

/* s->positions without given ones: the cache's L + t, or t. */
static ingot_status default_positions(step *s) {
    if (s->kv) {
        s->positions = ingot_array_retain((ingot_array *)ingot__kv_positions(s->kv));
        return INGOT_OK;
    }
    ingot_array *host = NULL; /* i64 [T] */
    ingot_status st = ingot_arange(&host, INGOT_I64, 0.0, (double)s->T, 1.0);
    if (!st) st = ingot_array_to_device(&s->positions, host, s->m->device);
    ingot_array_free(host);
    return st;
}

/* Validates the call, opens the cache's step and fills s. */
static ingot_status prepare(step *s, const ingot_model *m, const ingot_array *ids,
                            ingot_kv_cache *cache, const ingot_forward_options *o) {
    ingot_status st = check_ids(ids, m->cfg.vocab_size);
    if (st) return st;
    *s = (step){.m = m, .B = ingot_array_dim(ids, 0), .T = ingot_array_dim(ids, 1)};
    if (s->T == 0) return ingot__error(INGOT_ERR_SHAPE, OP ": ids hold no tokens");
    if (cache) {
        if (cache->model != m)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                                OP ": the cache was made for another model");
        if (ingot__kv_batch(cache->kv) != s->B)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                                OP ": ids have batch %lld but the cache %lld", (long long)s->B,
                                (long long)ingot__kv_batch(cache->kv));
        s->L = ingot__kv_length(cache->kv);
    }
    const ingot_array *p = o ? o->positions : NULL;
    if (p && (ingot_array_ndim(p) != 2 || ingot_array_dim(p, 0) != s->B ||
              ingot_array_dim(p, 1) != s->T || !ingot_dtype_is_integer(ingot_array_dtype(p))))
        return ingot__error(INGOT_ERR_SHAPE,
                            OP ": positions must be a [B, T] = [%lld, %lld] integer array",
                            (long long)s->B, (long long)s->T);
    const ingot_array *am = o ? o->attention_mask : NULL;
    if (am && (ingot_array_ndim(am) != 2 || ingot_array_dim(am, 0) != s->B ||
               ingot_array_dim(am, 1) != s->L + s->T))
        return ingot__error(INGOT_ERR_SHAPE,
                            OP ": attention_mask must be [B, cache length + T] = [%lld, %lld]",
                            (long long)s->B, (long long)(s->L + s->T));
    if (cache && (st = ingot__kv_begin(cache->kv, s->T, OP))) return st; /* after every check */
    s->kv = cache ? cache->kv : NULL;
    s->full_keys = s->kv ? ingot__kv_capacity(s->kv) : s->T;
    st = p ? ingot_array_to_device(&s->positions, p, m->device) : default_positions(s);
    if (!st) st = ingot__rope_freqs_for(&s->freqs_full, &s->freqs_sliding, m, p, s->L + s->T);
    if (!st && am) st = make_mask(s, am);
    return st;
}

/* Final norm, lm_head, optional soft-capping, f32. */
static ingot_status head(ingot_array **logits, const step *s, ingot_array *x, bool last_only) {
    const ingot_model *m = s->m;
    ingot_array *h = NULL, *y = NULL, *cap = NULL;
    ingot_status st = last_only ? ingot_slice_axis(&h, x, 1, s->T - 1, s->T)
                                : (h = ingot_array_retain(x), INGOT_OK);
    if (!st) st = norm(&h, m->norm, m);
    if (!st) st = replace(&h, ingot__linear_forward(&y, &m->lm_head, h), &y); /* [B, T, V] */
    if (!st && m->cfg.final_logit_softcap > 0) {
        st = ingot__full_on(&cap, m->dtype, NULL, 0, m->cfg.final_logit_softcap, m->device, OP);
        if (!st) st = replace(&h, ingot_div(&y, h, cap), &y);
        if (!st) st = replace(&h, ingot_tanh(&y, h), &y);
        if (!st) st = replace(&h, ingot_mul(&y, h, cap), &y);
    }
    if (!st) st = ingot_astype(logits, h, INGOT_F32);
    ingot_array_free(h);
    ingot_array_free(cap);
    return st;
}

/* Releases the step's arrays. */
static void step_free(step *s) {
    ingot_array_free(s->positions);
    ingot_array_free(s->mask);
    ingot_array_free(s->ring_mask);
}

ingot_status ingot_model_forward(ingot_array **logits, const ingot_model *m, const ingot_array *ids,
                                 ingot_kv_cache *cache, const ingot_forward_options *opts) {
    INGOT__CHECK_NOT_NULL(logits, OP);
    *logits = NULL;
    INGOT__CHECK_NOT_NULL(m, OP);
    INGOT__CHECK_NOT_NULL(ids, OP);
    step s = {0};
    ingot_array *x = NULL; /* [B, T, H] */
    ingot_status st = prepare(&s, m, ids, cache, opts);
    if (!st) st = ingot__embedding_forward(&x, &m->embed, ids);
    for (int64_t i = 0; !st && i < m->cfg.n_layers; i++) {
        st = residual(&x, &s, i, true);
        if (!st) st = residual(&x, &s, i, false);
    }
    if (!st) st = head(logits, &s, x, opts && opts->last_only);
    if (!st && s.kv) st = ingot__kv_advance(s.kv); /* the new keys committed */
    if (st && s.kv) ingot__kv_cancel(s.kv);
    if (st) {
        ingot_array_free(*logits);
        *logits = NULL;
    }
    step_free(&s);
    ingot_array_free(x);
    return st;
}
