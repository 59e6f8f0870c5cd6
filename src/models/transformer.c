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
#include "nn/nn.h"

#define OP "model_forward"

/* What one forward call needs besides the weights. */
typedef struct step {
    const ingot_model *m;
    int64_t B, T;
    int64_t L;                    /* cache length before the call */
    int64_t full_keys;            /* keys of a full layer: its cache capacity, or T */
    /* The step's token data lives in device memory, read by the kernels, never
     * passed as launch arguments: */
    ingot_array *counts;          /* i64 [T + 3]: L, L + 1, ..., L + T, L mod W,
                                     min(L + 1, W) (W: the sliding window) */
    ingot_array *slots;           /* [T] view of counts: the new tokens' cache slots
                                     (the first of them is where they are written) */
    ingot_array *kv_len;          /* [1] view of counts: L + T, the keys in use */
    ingot_array *ring_slot;       /* [1] view: a decode step's slot in the rings */
    ingot_array *ring_len;        /* [1] view: the filled slots of the rings after it */
    ingot_array *positions;       /* [B, T] given, or slots (L + t) */
    const ingot_array *freqs_full, *freqs_sliding; /* the call's rope frequencies (m's) */
    ingot_array *mask;            /* bool [B, 1, 1, max(L + T, full_keys)] or NULL */
    ingot_array *ring_mask;       /* bool [B, 1, 1, ring slots]: mask in ring order, for
                                     a one-token call with a mask and sliding layers */
    ingot_kv_cache *cache;        /* or NULL */
    ingot_array **pending;        /* [2 * n_layers]: new sliding-layer k, v */
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

/* How attention reads the keys of layer li: the keys and values (k, v
 * [B, Hkv, Tk, D]), the options, and the mask they need. */
typedef struct layer_keys {
    ingot_array *k, *v, *mask; /* owned */
    ingot_sdpa_options so;
} layer_keys;

/* s->ring_mask for a one-token step: s->mask at each ring slot's position
 * ([B, 1, 1, R]; slots past the filled ones read position 0, hidden by
 * kv_len anyway). One per step, shared by every sliding layer. */
static ingot_status make_ring_mask(step *s, int64_t slots) {
    int64_t W = s->m->cfg.sliding_window, L = s->L, filled = L + 1 < W ? L + 1 : W;
    int64_t *pos = malloc((size_t)slots * sizeof *pos);
    if (!pos) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, OP ": out of memory");
    for (int64_t r = 0; r < slots; r++) pos[r] = r < filled ? L - (L - r) % W : 0;
    ingot_array *idx = NULL; /* [R] on the CPU: take uploads it */
    ingot_status st = ingot_array_from_data(&idx, pos, INGOT_I64, &slots, 1);
    free(pos);
    if (!st) st = ingot_take(&s->ring_mask, s->mask, idx, 3);
    ingot_array_free(idx);
    return st;
}

/* Sliding layer li of a cached call: with T == 1 (decode) the window first
 * moves on to end at L, whose ring slot (that of L - W) the new key and value
 * then take, and attention reads the whole ring: every filled slot lies in
 * the window, so neither causal nor window masking, and kv_len = min(L + 1, W)
 * (slot and length are device data). With T > 1 (prefill) the held window is
 * joined with the new keys, attended with the window mask, and its tail left
 * in pending for commit to write into the ring. */
static ingot_status sliding_keys(layer_keys *lk, const step *s, int64_t li, ingot_array *k,
                                 ingot_array *v, ingot_array **pending) {
    const ingot__kv_layer *l = &s->cache->layers[li];
    int64_t W = s->m->cfg.sliding_window, L = s->L;
    ingot_status st = INGOT_OK;
    if (s->T == 1) {
        ingot__kv_slide(s->cache, li, L, 1);
        st = ingot__kv_put(l->k, s->ring_slot, k);
        if (!st) st = ingot__kv_put(l->v, s->ring_slot, v);
        lk->mask = ingot_array_retain(s->ring_mask);
        lk->k = ingot_array_retain(l->k);
        lk->v = ingot_array_retain(l->v);
        lk->so.kv_len = s->ring_len;
        lk->so.max_kv_len = L + 1 < W ? L + 1 : W;
        return st;
    }
    ingot_array *const neu[2] = {k, v};
    ingot_array *const ring[2] = {l->k, l->v};
    ingot_array **all[2] = {&lk->k, &lk->v};
    int64_t total = l->n + s->T, keep = total < W ? total : W;
    for (int j = 0; j < 2 && !st; j++) {
        ingot_array *held = NULL, *tail = NULL; /* [B, Hkv, n, D], [B, Hkv, keep, D] */
        if (l->n == 0) {
            *all[j] = ingot_array_retain(neu[j]);
        } else {
            st = ingot__kv_ring_read(&held, ring[j], l->start, l->n, W);
            if (!st) st = ingot_concat(all[j], (const ingot_array *const[]){held, neu[j]}, 2, 2);
        }
        if (!st) st = ingot_slice_axis(&tail, *all[j], 2, total - keep, total);
        if (!st) st = ingot_contiguous(&pending[j], tail);
        ingot_array_free(held);
        ingot_array_free(tail);
    }
    lk->so.causal = true;
    lk->so.window = W;
    if (!st && s->mask) st = ingot_slice_axis(&lk->mask, s->mask, 3, l->start, L + s->T);
    return st;
}

/* The keys layer li attends to. Without a cache: k and v alone, causal (and
 * windowed on sliding layers). Full layers with a cache: the whole buffers,
 * after writing k and v from slot s->slots[0] on, of which attention reads
 * the first s->kv_len (device data). Sliding layers: sliding_keys. */
static ingot_status layer_keys_of(layer_keys *lk, const step *s, int64_t li, ingot_array *k,
                                  ingot_array *v) {
    const ingot__config *c = &s->m->cfg;
    bool sliding = c->layer_sliding[li];
    *lk = (layer_keys){.so = {.scale = (float)c->attn_scale}};
    if (s->cache && sliding) return sliding_keys(lk, s, li, k, v, &s->pending[2 * li]);
    lk->so.causal = true;
    lk->so.window = sliding ? c->sliding_window : 0;
    ingot_status st = INGOT_OK;
    if (s->cache) {
        const ingot__kv_layer *l = &s->cache->layers[li];
        st = ingot__kv_put(l->k, s->slots, k);
        if (!st) st = ingot__kv_put(l->v, s->slots, v);
        lk->k = ingot_array_retain(l->k);
        lk->v = ingot_array_retain(l->v);
        lk->so.kv_len = s->kv_len;
        lk->so.max_kv_len = s->L + s->T;
    } else {
        lk->k = ingot_array_retain(k);
        lk->v = ingot_array_retain(v);
    }
    if (!st && s->mask) st = ingot_slice_axis(&lk->mask, s->mask, 3, 0, s->full_keys);
    return st;
}

static ingot_status attention(ingot_array **out, const step *s, int64_t li, const ingot_array *h) {
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
    if (!st) st = ingot_sdpa(&o, q, lk.k, lk.v, &lk.so); /* [B, Hq, T, D] */
    int64_t shape[3] = {s->B, s->T, c->n_heads * c->head_dim};
    if (!st) st = replace(&o, ingot_transpose(&y, o, swap_heads, 4), &y); /* [B, T, Hq, D] */
    if (!st) st = replace(&o, ingot_reshape(&y, o, shape, 3), &y);        /* [B, T, Hq * D] */
    if (!st) st = ingot__linear_forward(out, &w->o, o);
    ingot_array *tmp[] = {q, k, v, lk.k, lk.v, lk.mask, o};
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

/* s->counts (see step) on the model's device, one upload, and its views. */
static ingot_status make_counts(step *s) {
    int64_t n = s->T + 3, W = s->m->cfg.sliding_window, *v = malloc((size_t)n * sizeof *v);
    if (!v) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, OP ": out of memory");
    for (int64_t t = 0; t <= s->T; t++) v[t] = s->L + t;
    v[s->T + 1] = W > 0 ? s->L % W : 0;
    v[s->T + 2] = W > 0 && W < s->L + 1 ? W : s->L + 1;
    ingot_array *host = NULL; /* [T + 3] */
    ingot_status st = ingot_array_from_data(&host, v, INGOT_I64, &n, 1);
    free(v);
    if (!st) st = ingot_array_to_device(&s->counts, host, s->m->device);
    if (!st) st = ingot_slice_axis(&s->slots, s->counts, 0, 0, s->T);
    if (!st) st = ingot_slice_axis(&s->kv_len, s->counts, 0, s->T, s->T + 1);
    if (!st) st = ingot_slice_axis(&s->ring_slot, s->counts, 0, s->T + 1, s->T + 2);
    if (!st) st = ingot_slice_axis(&s->ring_len, s->counts, 0, s->T + 2, n);
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
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                                OP ": the cache was made for another model");
        if (cache->batch != s->B)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                                OP ": ids have batch %lld but the cache %lld", (long long)s->B,
                                (long long)cache->batch);
        s->L = cache->length;
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
    if (cache && (st = ingot__kv_reserve(cache, s->T))) return st; /* after every check */
    s->full_keys = cache ? ingot__kv_full_capacity(cache) : s->T;
    if ((st = make_counts(s))) return st;
    st = p ? ingot_array_to_device(&s->positions, p, m->device)
           : (s->positions = ingot_array_retain(s->slots), INGOT_OK);
    if (!st) st = ingot__rope_freqs_for(&s->freqs_full, &s->freqs_sliding, m, p, s->L + s->T);
    if (!st && am) st = make_mask(s, am);
    if (!st && am && cache && s->T == 1 && m->cfg.sliding_window > 0)
        st = make_ring_mask(s, ingot__kv_ring_slots(cache));
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

/* Releases the step's device arrays (not pending). */
static void step_free(step *s) {
    ingot_array *arrays[] = {s->counts,    s->slots,     s->kv_len, s->ring_slot,
                             s->ring_len,  s->positions, s->mask,   s->ring_mask};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        ingot_array_free(arrays[i]);
}

/* Writes the prefill's new sliding windows into the rings, moves every
 * sliding window on to end at L + T, and advances the cache's length.
 * Errors: DEVICE (a failed write; the length is then unchanged but a ring
 * may hold part of the new window). */
static ingot_status commit(step *s) {
    ingot_kv_cache *c = s->cache;
    int64_t end = s->L + s->T, W = s->m->cfg.sliding_window;
    for (int64_t i = 0; i < s->m->cfg.n_layers; i++) {
        const ingot__kv_layer *l = &c->layers[i];
        if (!s->m->cfg.layer_sliding[i] || !s->pending[2 * i]) continue;
        int64_t first = end - ingot_array_dim(s->pending[2 * i], 2);
        ingot_status st = ingot__kv_ring_write(l->k, s->pending[2 * i], first, W);
        if (!st) st = ingot__kv_ring_write(l->v, s->pending[2 * i + 1], first, W);
        if (st) return st;
    }
    ingot__kv_advance(c, s->T);
    return INGOT_OK;
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
    st = s.pending ? ingot__embedding_forward(&x, &m->embed, ids)
                   : ingot__error(INGOT_ERR_OUT_OF_MEMORY, OP ": out of memory");
    for (int64_t i = 0; !st && i < n; i++) {
        st = residual(&x, &s, i, true);
        if (!st) st = residual(&x, &s, i, false);
    }
    if (!st) st = head(logits, &s, x, opts && opts->last_only);
    if (!st && cache) st = commit(&s);
    if (st) {
        ingot_array_free(*logits);
        *logits = NULL;
    }
    for (int64_t i = 0; s.pending && i < 2 * n; i++)
        ingot_array_free(s.pending[i]);
    free(s.pending);
    step_free(&s);
    ingot_array_free(x);
    return st;
}
