/* The KV cache (nn.h): full-attention layers append into a buffer that
 * doubles when full (written from a slot, and attended up to a length, that
 * are device data: the step's i64 array); sliding-window layers keep the
 * last W tokens (the window the next query needs plus one for a one-token
 * rollback) in a ring of W slots, position p in slot p mod W, so that a
 * decode step writes one slot and attends over the ring. Saved as a
 * safetensors file of the held tokens in position order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/internal.h"
#include "ingot/ops.h"
#include "nn/nn.h"
#include "ops/ops_internal.h"

/* One layer: keys and values [B, Hkv, cap, D] (NULL before the first step)
 * of which n slots hold the tokens at positions start .. start + n - 1: a
 * full layer's slot is the position (start 0), a sliding layer's ring
 * (cap = R = min(W, limit)) holds position p in slot p mod W. */
typedef struct kv_layer {
    ingot_array *k, *v;
    int64_t cap, n, start;
    int64_t ring;                 /* sliding: the index of W in the cache's windows */
    ingot_array *tail_k, *tail_v; /* an open prefill step's new window [B, Hkv, keep, D]
                                     (contiguous), written into the ring by advance */
} kv_layer;

struct ingot__kv {
    ingot__kv_geometry g; /* g.window points at window */
    int64_t *window;      /* [g.layers]: the cache's copy of the windows */
    int64_t length;       /* tokens held per sequence */
    kv_layer *layers;     /* [g.layers] */
    int64_t *windows;     /* [n_windows]: the distinct sliding windows */
    int64_t n_windows;
    /* The open step (T = 0: none): */
    int64_t T;
    ingot_array *counts;    /* i64 [T + 1 + 2 * n_windows] on the device: L, L + 1, ...,
                               L + T, then for each window W: L mod W, min(L + 1, W) */
    ingot_array *positions; /* [T] view of counts: L .. L + T - 1 */
};

ingot_status ingot__kv_new(ingot__kv **out, const ingot__kv_geometry *g) {
    *out = NULL;
    size_t n = (size_t)g->layers + 1; /* + 1: no zero-size calloc */
    ingot__kv *c = calloc(1, sizeof *c);
    int64_t *window = calloc(n, sizeof *window), *windows = calloc(n, sizeof *windows);
    kv_layer *layers = calloc(n, sizeof *layers);
    if (!c || !window || !windows || !layers) {
        free(c);
        free(window);
        free(windows);
        free(layers);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "kv_cache_new: out of memory");
    }
    *c = (ingot__kv){.g = *g, .window = window, .layers = layers, .windows = windows};
    c->g.window = window;
    for (int64_t i = 0; i < g->layers; i++) {
        int64_t W = window[i] = g->window[i], r = 0;
        if (W == 0) continue;
        while (r < c->n_windows && windows[r] != W)
            r++;
        if (r == c->n_windows) windows[c->n_windows++] = W;
        layers[i].ring = r;
    }
    *out = c;
    return INGOT_OK;
}

/* Ends the open step: releases what it holds. */
static void step_end(ingot__kv *c) {
    for (int64_t i = 0; i < c->g.layers; i++) {
        ingot_array_free(c->layers[i].tail_k);
        ingot_array_free(c->layers[i].tail_v);
        c->layers[i].tail_k = c->layers[i].tail_v = NULL;
    }
    ingot_array_free(c->counts);
    ingot_array_free(c->positions);
    c->counts = c->positions = NULL;
    c->T = 0;
}

void ingot__kv_free(ingot__kv *c) {
    if (!c) return;
    step_end(c);
    for (int64_t i = 0; i < c->g.layers; i++) {
        ingot_array_free(c->layers[i].k);
        ingot_array_free(c->layers[i].v);
    }
    free(c->layers);
    free(c->windows);
    free(c->window);
    free(c);
}

int64_t ingot__kv_length(const ingot__kv *c) { return c->length; }

int64_t ingot__kv_batch(const ingot__kv *c) { return c->g.batch; }

/* Copies slots from .. from + n - 1 of src [B, Hkv, S, D] into slots
 * at .. at + n - 1 of dst [B, Hkv, cap, D] (host offsets: growing, loading
 * and prefill commits, never a decode step). */
static ingot_status copy_slots(ingot_array *dst, int64_t at, const ingot_array *src, int64_t from,
                               int64_t n) {
    ingot_array *to = NULL, *piece = NULL; /* [B, Hkv, n, D] views */
    ingot_status st = ingot_slice_axis(&to, dst, 2, at, at + n);
    if (!st) st = ingot_slice_axis(&piece, src, 2, from, from + n);
    if (!st) st = ingot__copy_into(to, piece);
    ingot_array_free(to);
    ingot_array_free(piece);
    return st;
}

/* The layer's buffers moved into new ones of cap slots (n tokens kept). */
static ingot_status regrow(kv_layer *l, int64_t cap, const ingot__kv *c) {
    int64_t shape[4] = {c->g.batch, c->g.kv_heads, cap, c->g.head_dim};
    ingot_array *k = NULL, *v = NULL; /* [B, Hkv, cap, D] */
    ingot_status st = ingot__array_new(&k, c->g.dtype, shape, 4, c->g.device, "kv_cache");
    if (!st) st = ingot__array_new(&v, c->g.dtype, shape, 4, c->g.device, "kv_cache");
    if (!st && l->n > 0) st = copy_slots(k, 0, l->k, 0, l->n);
    if (!st && l->n > 0) st = copy_slots(v, 0, l->v, 0, l->n);
    if (st) {
        ingot_array_free(k);
        ingot_array_free(v);
        return st;
    }
    ingot_array_free(l->k);
    ingot_array_free(l->v);
    l->k = k;
    l->v = v;
    l->cap = cap;
    return INGOT_OK;
}

/* R, the slots of sliding layer i's ring. */
static int64_t ring_slots(const ingot__kv *c, int64_t i) {
    int64_t W = c->g.window[i];
    return W < c->g.limit ? W : c->g.limit; /* positions stay below limit: slot p mod W < limit */
}

/* Room for `more` tokens: full layers grown, rings allocated. */
static ingot_status reserve(ingot__kv *c, int64_t more, const char *op) {
    int64_t need = c->length + more, limit = c->g.limit;
    if (need > limit)
        return ingot__error(INGOT_ERR_LIMIT,
                            "%s: %lld cached + %lld new tokens exceed the cache's capacity of %lld",
                            op, (long long)c->length, (long long)more, (long long)limit);
    for (int64_t i = 0; i < c->g.layers; i++) {
        kv_layer *l = &c->layers[i];
        if (c->g.window[i]) {
            ingot_status st = l->k ? INGOT_OK : regrow(l, ring_slots(c, i), c);
            if (st) return st;
            continue;
        }
        if (l->cap >= need) continue;
        int64_t cap = l->cap ? l->cap : 256;
        while (cap < need)
            cap = cap > limit / 2 ? limit : cap * 2; /* no overflow near INT64_MAX */
        ingot_status st = regrow(l, cap < limit ? cap : limit, c);
        if (st) return st;
    }
    return INGOT_OK;
}

/* c->counts (see ingot__kv) for a step of T tokens, one upload, and c->positions. */
static ingot_status upload_counts(ingot__kv *c, int64_t T) {
    int64_t n = T + 1 + 2 * c->n_windows, L = c->length, *v = malloc((size_t)n * sizeof *v);
    if (!v) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "kv_cache: out of memory");
    for (int64_t t = 0; t <= T; t++)
        v[t] = L + t;
    for (int64_t r = 0; r < c->n_windows; r++) {
        int64_t W = c->windows[r];
        v[T + 1 + 2 * r] = L % W;
        v[T + 2 + 2 * r] = W < L + 1 ? W : L + 1;
    }
    ingot_array *host = NULL; /* [n] */
    ingot_status st = ingot_array_from_data(&host, v, INGOT_I64, &n, 1);
    free(v);
    if (!st) st = ingot_array_to_device(&c->counts, host, c->g.device);
    if (!st) st = ingot_slice_axis(&c->positions, c->counts, 0, 0, T);
    ingot_array_free(host);
    return st;
}

ingot_status ingot__kv_begin(ingot__kv *c, int64_t T, const char *op) {
    step_end(c);
    ingot_status st = reserve(c, T, op);
    if (!st) st = upload_counts(c, T);
    if (st) {
        step_end(c);
        return st;
    }
    c->T = T;
    return INGOT_OK;
}

const ingot_array *ingot__kv_positions(const ingot__kv *c) { return c->positions; }

int64_t ingot__kv_capacity(const ingot__kv *c) {
    for (int64_t i = 0; i < c->g.layers; i++)
        if (!c->g.window[i]) return c->layers[i].cap;
    return 0;
}

void ingot__kv_view_free(ingot__kv_view *view) {
    if (!view) return;
    ingot_array_free(view->k);
    ingot_array_free(view->v);
    ingot_array_free(view->len);
    *view = (ingot__kv_view){0};
}

/* Positions [start, start + n) (n <= W) of a ring [B, Hkv, R, D] in order:
 * a view, or a new array when they wrap. */
static ingot_status ring_read(ingot_array **out, const ingot_array *ring, int64_t start, int64_t n,
                              int64_t W) {
    int64_t s0 = start % W, run = n < W - s0 ? n : W - s0;
    if (run == n) return ingot_slice_axis(out, ring, 2, s0, s0 + n);
    ingot_array *parts[2] = {NULL, NULL}; /* [B, Hkv, run, D], [B, Hkv, n - run, D] views */
    ingot_status st = ingot_slice_axis(&parts[0], ring, 2, s0, W);
    if (!st) st = ingot_slice_axis(&parts[1], ring, 2, 0, n - run);
    if (!st) st = ingot_concat(out, (const ingot_array *const *)parts, 2, 2);
    ingot_array_free(parts[0]);
    ingot_array_free(parts[1]);
    return st;
}

/* Stores src [B, Hkv, m, D] (m <= W), positions [first, first + m), into a
 * ring in place. */
static ingot_status ring_write(ingot_array *ring, const ingot_array *src, int64_t first,
                               int64_t W) {
    int64_t n = ingot_array_dim(src, 2), s0 = first % W;
    int64_t run = n < W - s0 ? n : W - s0; /* up to the ring's end, then wrapped */
    ingot_status st = run > 0 ? copy_slots(ring, s0, src, 0, run) : INGOT_OK;
    return st || run == n ? st : copy_slots(ring, 0, src, run, n - run);
}

/* Moves a sliding layer's window on so that it holds the positions
 * [start, end), at most W - room of them: room slots stay free for keys
 * about to be written (1 for a decode step's new key, whose slot is that of
 * end - W). */
static void slide(kv_layer *l, int64_t W, int64_t end, int64_t room) {
    int64_t first = end - (W - room);
    if (l->start < first) l->start = first;
    l->n = end - l->start;
}

/* Full layer: write at the step's slots, view the whole buffers. */
static ingot_status append_full(ingot__kv_view *view, ingot__kv *c, kv_layer *l,
                                const ingot_array *k, const ingot_array *v) {
    ingot_status st = ingot__copy_at(l->k, k, 2, c->positions);
    if (!st) st = ingot__copy_at(l->v, v, 2, c->positions);
    if (!st) st = ingot_slice_axis(&view->len, c->counts, 0, c->T, c->T + 1); /* L + T */
    if (st) return st;
    view->k = ingot_array_retain(l->k);
    view->v = ingot_array_retain(l->v);
    view->max_len = c->length + c->T;
    return INGOT_OK;
}

/* Sliding layer, one token: slide, write the freed slot, view the ring. */
static ingot_status append_ring(ingot__kv_view *view, ingot__kv *c, int64_t i, const ingot_array *k,
                                const ingot_array *v) {
    kv_layer *l = &c->layers[i];
    int64_t W = c->g.window[i], L = c->length, at = c->T + 1 + 2 * l->ring;
    ingot_array *slot = NULL; /* [1]: L mod W */
    slide(l, W, L, 1);
    ingot_status st = ingot_slice_axis(&slot, c->counts, 0, at, at + 1);
    if (!st) st = ingot__copy_at(l->k, k, 2, slot);
    if (!st) st = ingot__copy_at(l->v, v, 2, slot);
    if (!st) st = ingot_slice_axis(&view->len, c->counts, 0, at + 1, at + 2); /* min(L + 1, W) */
    ingot_array_free(slot);
    if (st) return st;
    view->k = ingot_array_retain(l->k);
    view->v = ingot_array_retain(l->v);
    view->max_len = L + 1 < W ? L + 1 : W;
    view->ring = true;
    return INGOT_OK;
}

/* Sliding layer, T > 1: view held ++ new in order; keep the new window's
 * tokens for advance. */
static ingot_status append_window(ingot__kv_view *view, ingot__kv *c, int64_t i,
                                  const ingot_array *k, const ingot_array *v) {
    kv_layer *l = &c->layers[i];
    int64_t W = c->g.window[i], total = l->n + c->T, keep = total < W ? total : W;
    const ingot_array *const neu[2] = {k, v};
    ingot_array *const ring[2] = {l->k, l->v};
    ingot_array **all[2] = {&view->k, &view->v}, **tail[2] = {&l->tail_k, &l->tail_v};
    ingot_status st = INGOT_OK;
    for (int j = 0; j < 2 && !st; j++) {
        ingot_array *held = NULL, *last = NULL; /* [B, Hkv, n, D], [B, Hkv, keep, D] */
        if (l->n == 0) {
            *all[j] = ingot_array_retain((ingot_array *)neu[j]);
        } else {
            st = ring_read(&held, ring[j], l->start, l->n, W);
            if (!st) st = ingot_concat(all[j], (const ingot_array *const[]){held, neu[j]}, 2, 2);
        }
        if (!st) st = ingot_slice_axis(&last, *all[j], 2, total - keep, total);
        if (!st) st = ingot_contiguous(tail[j], last);
        ingot_array_free(held);
        ingot_array_free(last);
    }
    view->first = l->start;
    view->window = W;
    return st;
}

ingot_status ingot__kv_append(ingot__kv_view *view, ingot__kv *c, int64_t layer,
                              const ingot_array *k, const ingot_array *v) {
    *view = (ingot__kv_view){0};
    int64_t W = c->g.window[layer];
    ingot_status st = !W          ? append_full(view, c, &c->layers[layer], k, v)
                      : c->T == 1 ? append_ring(view, c, layer, k, v)
                                  : append_window(view, c, layer, k, v);
    if (st) ingot__kv_view_free(view);
    return st;
}

ingot_status ingot__kv_ring_order(ingot_array **out, const ingot__kv *c, int64_t layer,
                                  const ingot_array *a, int axis) {
    int64_t W = c->g.window[layer], L = c->length, R = c->layers[layer].cap;
    int64_t filled = L + 1 < W ? L + 1 : W, *pos = malloc((size_t)R * sizeof *pos);
    if (!pos) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "kv_cache: out of memory");
    for (int64_t r = 0; r < R; r++)
        pos[r] = r < filled ? L - (L - r) % W : 0;
    ingot_array *idx = NULL; /* [R] on the CPU: take uploads it */
    ingot_status st = ingot_array_from_data(&idx, pos, INGOT_I64, &R, 1);
    free(pos);
    if (!st) st = ingot_take(out, a, idx, axis);
    ingot_array_free(idx);
    return st;
}

ingot_status ingot__kv_advance(ingot__kv *c) {
    int64_t end = c->length + c->T;
    ingot_status st = INGOT_OK;
    for (int64_t i = 0; !st && i < c->g.layers; i++) {
        const kv_layer *l = &c->layers[i];
        if (!l->tail_k) continue;
        int64_t first = end - ingot_array_dim(l->tail_k, 2), W = c->g.window[i];
        st = ring_write(l->k, l->tail_k, first, W);
        if (!st) st = ring_write(l->v, l->tail_v, first, W);
    }
    for (int64_t i = 0; !st && i < c->g.layers; i++) {
        if (c->g.window[i])
            slide(&c->layers[i], c->g.window[i], end, 0);
        else
            c->layers[i].n += c->T;
    }
    if (!st) c->length = end;
    step_end(c);
    return st;
}

void ingot__kv_cancel(ingot__kv *c) { step_end(c); }

ingot_status ingot__kv_trim(ingot__kv *c, int64_t length) {
    if (length < 0 || length > c->length)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "kv_cache_trim: length %lld is outside [0, %lld]", (long long)length,
                            (long long)c->length);
    for (int64_t i = 0; i < c->g.layers; i++) {
        int64_t need = length - (c->g.window[i] - 1); /* first key the next query sees */
        if (c->g.window[i] && c->layers[i].start > (need > 0 ? need : 0))
            return ingot__error(
                INGOT_ERR_UNSUPPORTED,
                "kv_cache_trim: layer %lld keeps tokens from %lld on; going back to %lld needs them from %lld",
                (long long)i, (long long)c->layers[i].start, (long long)length,
                (long long)(need > 0 ? need : 0));
    }
    for (int64_t i = 0; i < c->g.layers; i++)
        c->layers[i].n = length - c->layers[i].start;
    c->length = length;
    return INGOT_OK;
}

/* ---- save / load ---- */

static void layer_name(char *buf, size_t n, int64_t i, char kv) {
    snprintf(buf, n, "layers.%lld.%c", (long long)i, kv);
}

/* Layer i's held keys (kv 0) or values (1) in position order
 * [B, Hkv, n, D]: a view, a new array (a wrapped ring) or zeros when empty. */
static ingot_status held(ingot_array **out, const ingot__kv *c, int64_t i, int kv) {
    const kv_layer *l = &c->layers[i];
    const ingot_array *src = kv ? l->v : l->k;
    int64_t empty[4] = {c->g.batch, c->g.kv_heads, 0, c->g.head_dim};
    if (!src || !l->n) return ingot_zeros(out, c->g.dtype, empty, 4);
    if (c->g.window[i]) return ring_read(out, src, l->start, l->n, c->g.window[i]);
    return ingot_slice_axis(out, src, 2, 0, l->n);
}

ingot_status ingot__kv_save(const ingot__kv *c, const char *path, const char *const *keys,
                            const char *const *values, size_t n_meta) {
    size_t n = (size_t)(2 * c->g.layers), nm = n_meta + 2;
    char counts[2][24]; /* batch, length */
    char(*names)[32] = calloc(n + 1, sizeof *names);
    const char **np = calloc(n + 1, sizeof *np);
    ingot_array **arrays = calloc(n + 1, sizeof *arrays);
    const char **kp = calloc(nm, sizeof *kp), **vp = calloc(nm, sizeof *vp);
    ingot_status st = INGOT_OK;
    if (!names || !np || !arrays || !kp || !vp)
        st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "kv_cache_save: out of memory");
    for (size_t j = 0; !st && j < n_meta; j++) {
        kp[j] = keys[j];
        vp[j] = values[j];
    }
    if (!st) {
        snprintf(counts[0], sizeof counts[0], "%lld", (long long)c->g.batch);
        snprintf(counts[1], sizeof counts[1], "%lld", (long long)c->length);
        kp[n_meta] = "batch";
        kp[n_meta + 1] = "length";
        vp[n_meta] = counts[0];
        vp[n_meta + 1] = counts[1];
    }
    for (size_t i = 0; !st && i < n; i++) {
        layer_name(names[i], sizeof names[i], (int64_t)(i / 2), i % 2 ? 'v' : 'k');
        np[i] = names[i];
        st = held(&arrays[i], c, (int64_t)(i / 2), (int)(i % 2));
    }
    if (!st)
        st = ingot_safetensors_save(path, np, (const ingot_array *const *)arrays, n, kp, vp, nm);
    for (size_t i = 0; arrays && i < n; i++)
        ingot_array_free(arrays[i]);
    free(arrays);
    free(np);
    free(names);
    free(kp);
    free(vp);
    return st;
}

static ingot_status meta_int(int64_t *out, const ingot_safetensors *st, const char *path,
                             const char *key) {
    const char *v = ingot_safetensors_metadata(st, key);
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : -1;
    if (!v || errno || *end || end == v || x < 0)
        return ingot__error(INGOT_ERR_FORMAT,
                            "kv_cache_load: %s: metadata '%s' is missing or not a count", path,
                            key);
    *out = x;
    return INGOT_OK;
}

/* Layer i's keys and values from the file, checked and copied. */
static ingot_status load_layer(ingot__kv *c, int64_t i, const ingot_safetensors *st,
                               const char *path) {
    kv_layer *l = &c->layers[i];
    int64_t W = c->g.window[i];
    ingot_array *a[2] = {NULL, NULL}; /* [B, Hkv, n, D] on the device */
    ingot_status s = INGOT_OK;
    for (int j = 0; j < 2 && !s; j++) {
        char name[32];
        layer_name(name, sizeof name, i, j ? 'v' : 'k');
        ingot_array *raw = NULL;
        s = ingot_safetensors_get(&raw, st, name);
        if (s) break;
        const int64_t *sh = ingot_array_shape(raw);
        int64_t n = ingot_array_ndim(raw) == 4 ? sh[2] : -1;
        /* a sliding layer must hold what the next query sees */
        int64_t need = c->length < W - 1 ? c->length : W - 1;
        bool ok = n >= 0 && sh[0] == c->g.batch && sh[1] == c->g.kv_heads &&
                  sh[3] == c->g.head_dim && ingot_array_dtype(raw) == c->g.dtype &&
                  (W ? n <= W && n <= c->length && n >= need : n == c->length) &&
                  (j == 0 || n == l->n);
        if (!ok) {
            char buf[INGOT__SHAPE_STR_MAX];
            s = ingot__error(
                INGOT_ERR_FORMAT,
                "kv_cache_load: %s: tensor '%s' %s %s does not fit the model and a cache of %lld tokens",
                path, name, ingot_dtype_name(ingot_array_dtype(raw)),
                ingot__shape_str(buf, sh, ingot_array_ndim(raw)), (long long)c->length);
        } else {
            l->n = l->cap = n;
            l->start = c->length - n;
            ingot_array *host = NULL; /* the tensor copied out of the file */
            s = ingot__copy_as(&host, raw, c->g.dtype, false, "kv_cache_load");
            if (!s) s = ingot_array_to_device(&a[j], host, c->g.device);
            ingot_array_free(host);
        }
        ingot_array_free(raw);
    }
    if (!s && W) { /* into a ring: position p in slot p mod W */
        int64_t n = l->n;
        l->n = 0;
        s = regrow(l, ring_slots(c, i), c);
        for (int j = 0; j < 2 && !s; j++)
            s = ring_write(j ? l->v : l->k, a[j], l->start, W);
        l->n = n;
        ingot_array_free(a[0]);
        ingot_array_free(a[1]);
        a[0] = a[1] = NULL;
    }
    if (s) {
        ingot_array_free(a[0]);
        ingot_array_free(a[1]);
        l->n = l->cap = l->start = 0;
        return s;
    }
    if (!W) {
        l->k = a[0];
        l->v = a[1];
    }
    return INGOT_OK;
}

ingot_status ingot__kv_load(ingot__kv **out, const ingot__kv_geometry *g,
                            const ingot_safetensors *st, const char *path) {
    *out = NULL;
    ingot__kv_geometry file = *g; /* with the file's batch */
    int64_t length = 0;
    ingot__kv *c = NULL;
    ingot_status s = meta_int(&file.batch, st, path, "batch");
    if (!s) s = meta_int(&length, st, path, "length");
    if (!s && (file.batch < 1 || length > g->limit))
        s = ingot__error(INGOT_ERR_FORMAT,
                         "kv_cache_load: %s: batch %lld or length %lld out of range", path,
                         (long long)file.batch, (long long)length);
    if (!s && ingot_safetensors_count(st) != (size_t)(2 * g->layers))
        s = ingot__error(INGOT_ERR_FORMAT, "kv_cache_load: %s: %zu tensors, expected %lld", path,
                         ingot_safetensors_count(st), 2 * (long long)g->layers);
    if (!s) s = ingot__kv_new(&c, &file);
    if (c) c->length = length; /* c is set exactly when the cache was made */
    for (int64_t i = 0; c && !s && i < g->layers; i++)
        s = load_layer(c, i, st, path);
    if (s) {
        ingot__kv_free(c);
        return s;
    }
    *out = c;
    return INGOT_OK;
}
