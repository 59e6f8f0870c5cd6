/* KV cache: full-attention layers append into a buffer that doubles when
 * full (written from a slot, and attended up to a length, that are device
 * data: see ingot__kv_put and sdpa's kv_len); sliding-window layers keep the
 * last `sliding_window` (W) tokens (the window the next query needs plus one
 * for a one-token rollback) in a ring of W slots, position p in slot p mod W,
 * so that a decode step writes one slot and attends over the ring. Saved as
 * a safetensors file with metadata that load checks against the model. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "ingot/ops.h"
#include "ingot/safetensors.h"
#include "models/models_internal.h"
#include "ops/ops_internal.h"

#define FORMAT_NAME "ingot_kv_cache"
#define FORMAT_VERSION "1"

ingot_status ingot_kv_cache_new(ingot_kv_cache **out, const ingot_model *m, int64_t batch,
                                int64_t capacity) {
    INGOT__CHECK_NOT_NULL(out, "kv_cache_new");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(m, "kv_cache_new");
    if (batch < 1 || capacity < 0)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "kv_cache_new: batch %lld and capacity %lld must be >= 1 and >= 0",
                            (long long)batch, (long long)capacity);
    ingot_kv_cache *c = calloc(1, sizeof *c);
    if (c) c->layers = calloc((size_t)m->cfg.n_layers, sizeof *c->layers);
    if (!c || !c->layers) {
        free(c);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "kv_cache_new: out of memory");
    }
    c->model = m;
    c->batch = batch;
    c->limit = capacity ? capacity : m->cfg.max_position_embeddings;
    *out = c;
    return INGOT_OK;
}

void ingot_kv_cache_free(ingot_kv_cache *c) {
    if (!c) return;
    for (int64_t i = 0; i < c->model->cfg.n_layers; i++) {
        ingot_array_free(c->layers[i].k);
        ingot_array_free(c->layers[i].v);
    }
    free(c->layers);
    free(c);
}

int64_t ingot_kv_cache_length(const ingot_kv_cache *c) { return c ? c->length : 0; }

ingot_status ingot__kv_put(ingot_array *buf, const ingot_array *first, const ingot_array *src) {
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, (const ingot_array *const[]){buf, src}, 2, "kv_cache");
    return st ? st : be->copy_at(buf, src, 2, first);
}

/* Copies slots from .. from + n - 1 of src [B, Hkv, S, D] into slots
 * at .. at + n - 1 of dst [B, Hkv, cap, D] (host offsets: growing, loading
 * and prefill commits, never a decode step). */
static ingot_status copy_slots(ingot_array *dst, int64_t at, const ingot_array *src, int64_t from,
                               int64_t n) {
    ingot_array *to = NULL, *piece = NULL; /* [B, Hkv, n, D] views */
    const ingot__backend *be;
    ingot_status st = ingot__backend_get(&be, (const ingot_array *const[]){dst, src}, 2, "kv_cache");
    if (!st) st = ingot_slice_axis(&to, dst, 2, at, at + n);
    if (!st) st = ingot_slice_axis(&piece, src, 2, from, from + n);
    if (!st) st = be->copy(to, piece);
    ingot_array_free(to);
    ingot_array_free(piece);
    return st;
}

/* The layer's buffers moved into new ones of cap slots (n tokens kept). */
static ingot_status regrow(ingot__kv_layer *l, int64_t cap, const ingot_kv_cache *c) {
    const ingot_model *m = c->model;
    int64_t shape[4] = {c->batch, m->cfg.n_kv_heads, cap, m->cfg.head_dim};
    ingot_array *k = NULL, *v = NULL; /* [B, Hkv, cap, D] */
    ingot_status st = ingot__array_new(&k, m->dtype, shape, 4, m->device, "kv_cache");
    if (!st) st = ingot__array_new(&v, m->dtype, shape, 4, m->device, "kv_cache");
    if (st) {
        ingot_array_free(k);
        return st;
    }
    if (l->n > 0) {
        st = copy_slots(k, 0, l->k, 0, l->n);
        if (!st) st = copy_slots(v, 0, l->v, 0, l->n);
        if (st) {
            ingot_array_free(k);
            ingot_array_free(v);
            return st;
        }
    }
    ingot_array_free(l->k);
    ingot_array_free(l->v);
    l->k = k;
    l->v = v;
    l->cap = cap;
    return INGOT_OK;
}

ingot_status ingot__kv_reserve(ingot_kv_cache *c, int64_t more) {
    int64_t need = c->length + more;
    if (need > c->limit)
        return ingot__error(
            INGOT_ERR_LIMIT,
            "model_forward: %lld cached + %lld new tokens exceed the cache's capacity of %lld",
            (long long)c->length, (long long)more, (long long)c->limit);
    for (int64_t i = 0; i < c->model->cfg.n_layers; i++) {
        ingot__kv_layer *l = &c->layers[i];
        if (c->model->cfg.layer_sliding[i]) {
            ingot_status st = l->k ? INGOT_OK : regrow(l, ingot__kv_ring_slots(c), c);
            if (st) return st;
            continue;
        }
        if (l->cap >= need) continue;
        int64_t cap = l->cap ? l->cap : 256;
        while (cap < need)
            cap = cap > c->limit / 2 ? c->limit : cap * 2; /* no overflow near INT64_MAX */
        ingot_status st = regrow(l, cap < c->limit ? cap : c->limit, c);
        if (st) return st;
    }
    return INGOT_OK;
}

int64_t ingot__kv_ring_slots(const ingot_kv_cache *c) {
    int64_t w = c->model->cfg.sliding_window;
    return w < c->limit ? w : c->limit; /* positions stay below limit: slot p mod w < limit */
}

ingot_status ingot__kv_ring_read(ingot_array **out, const ingot_array *ring, int64_t start,
                                 int64_t n, int64_t window) {
    int64_t s0 = start % window, run = n < window - s0 ? n : window - s0;
    if (run == n) return ingot_slice_axis(out, ring, 2, s0, s0 + n);
    ingot_array *parts[2] = {NULL, NULL}; /* [B, Hkv, run, D], [B, Hkv, n - run, D] views */
    ingot_status st = ingot_slice_axis(&parts[0], ring, 2, s0, window);
    if (!st) st = ingot_slice_axis(&parts[1], ring, 2, 0, n - run);
    if (!st) st = ingot_concat(out, (const ingot_array *const *)parts, 2, 2);
    ingot_array_free(parts[0]);
    ingot_array_free(parts[1]);
    return st;
}

ingot_status ingot__kv_ring_write(ingot_array *ring, const ingot_array *src, int64_t first,
                                  int64_t window) {
    int64_t n = ingot_array_dim(src, 2), s0 = first % window;
    int64_t run = n < window - s0 ? n : window - s0; /* up to the ring's end, then wrapped */
    ingot_status st = run > 0 ? copy_slots(ring, s0, src, 0, run) : INGOT_OK;
    return st || run == n ? st : copy_slots(ring, 0, src, run, n - run);
}

void ingot__kv_slide(ingot_kv_cache *c, int64_t li, int64_t end, int64_t room) {
    ingot__kv_layer *l = &c->layers[li];
    int64_t first = end - (c->model->cfg.sliding_window - room);
    if (l->start < first) l->start = first;
    l->n = end - l->start;
}

void ingot__kv_advance(ingot_kv_cache *c, int64_t T) {
    const ingot__config *cfg = &c->model->cfg;
    for (int64_t i = 0; i < cfg->n_layers; i++) {
        if (cfg->layer_sliding[i])
            ingot__kv_slide(c, i, c->length + T, 0);
        else
            c->layers[i].n += T;
    }
    c->length += T;
}

int64_t ingot__kv_full_capacity(const ingot_kv_cache *c) {
    for (int64_t i = 0; i < c->model->cfg.n_layers; i++)
        if (!c->model->cfg.layer_sliding[i]) return c->layers[i].cap;
    return 0;
}

ingot_status ingot_kv_cache_trim(ingot_kv_cache *c, int64_t length) {
    INGOT__CHECK_NOT_NULL(c, "kv_cache_trim");
    if (length < 0 || length > c->length)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "kv_cache_trim: length %lld is outside [0, %lld]", (long long)length,
                            (long long)c->length);
    const ingot__config *cfg = &c->model->cfg;
    int64_t need = length - (cfg->sliding_window - 1); /* first key the next query sees */
    for (int64_t i = 0; i < cfg->n_layers; i++)
        if (cfg->layer_sliding[i] && c->layers[i].start > (need > 0 ? need : 0))
            return ingot__error(
                INGOT_ERR_UNSUPPORTED,
                "kv_cache_trim: layer %lld keeps tokens from %lld on; going back to %lld needs them from %lld",
                (long long)i, (long long)c->layers[i].start, (long long)length,
                (long long)(need > 0 ? need : 0));
    for (int64_t i = 0; i < cfg->n_layers; i++)
        c->layers[i].n = length - c->layers[i].start;
    c->length = length;
    return INGOT_OK;
}

/* ---- save / load ---- */

typedef struct meta {
    char keys[16][32];
    char values[16][64];
    const char *kp[16], *vp[16];
    size_t n;
} meta;

static void meta_add(meta *md, const char *key, const char *value) {
    snprintf(md->keys[md->n], sizeof md->keys[0], "%s", key);
    snprintf(md->values[md->n], sizeof md->values[0], "%s", value);
    md->kp[md->n] = md->keys[md->n];
    md->vp[md->n] = md->values[md->n];
    md->n++;
}

static void meta_add_int(meta *md, const char *key, int64_t value) {
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)value);
    meta_add(md, key, text);
}

/* The metadata that identifies the model a cache belongs to. */
static void model_meta(meta *md, const ingot_model *m) {
    const ingot__config *c = &m->cfg;
    md->n = 0;
    meta_add(md, "format", FORMAT_NAME);
    meta_add(md, "version", FORMAT_VERSION);
    meta_add(md, "model_type", c->model_type);
    meta_add(md, "dtype", ingot_dtype_name(m->dtype));
    meta_add_int(md, "n_layers", c->n_layers);
    meta_add_int(md, "n_kv_heads", c->n_kv_heads);
    meta_add_int(md, "head_dim", c->head_dim);
    meta_add_int(md, "sliding_window", c->sliding_window);
}

static void layer_name(char *buf, size_t n, int64_t i, char kv) {
    snprintf(buf, n, "layers.%lld.%c", (long long)i, kv);
}

ingot_status ingot_kv_cache_save(const ingot_kv_cache *c, const char *path) {
    INGOT__CHECK_NOT_NULL(c, "kv_cache_save");
    INGOT__CHECK_NOT_NULL(path, "kv_cache_save");
    const ingot_model *m = c->model;
    int64_t n = m->cfg.n_layers;
    meta md;
    model_meta(&md, m);
    meta_add_int(&md, "batch", c->batch);
    meta_add_int(&md, "length", c->length);
    char(*names)[32] = calloc((size_t)(2 * n), sizeof *names);
    const char **np = calloc((size_t)(2 * n), sizeof *np);
    ingot_array **arrays = calloc((size_t)(2 * n), sizeof *arrays);
    if (!names || !np || !arrays) {
        free(names);
        free(np);
        free(arrays);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "kv_cache_save: out of memory");
    }
    ingot_status st = INGOT_OK;
    int64_t empty_shape[4] = {c->batch, m->cfg.n_kv_heads, 0, m->cfg.head_dim};
    for (int64_t i = 0; !st && i < 2 * n; i++) {
        const ingot__kv_layer *l = &c->layers[i / 2];
        ingot_array *src = i % 2 ? l->v : l->k;
        layer_name(names[i], sizeof names[i], i / 2, i % 2 ? 'v' : 'k');
        np[i] = names[i];
        if (!src || !l->n)
            st = ingot_zeros(&arrays[i], m->dtype, empty_shape, 4);
        else if (m->cfg.layer_sliding[i / 2])
            st = ingot__kv_ring_read(&arrays[i], src, l->start, l->n, m->cfg.sliding_window);
        else
            st = ingot_slice_axis(&arrays[i], src, 2, 0, l->n);
    }
    if (!st)
        st = ingot_safetensors_save(path, np, (const ingot_array *const *)arrays, (size_t)(2 * n),
                                    md.kp, md.vp, md.n);
    for (int64_t i = 0; arrays && i < 2 * n; i++)
        ingot_array_free(arrays[i]);
    free(arrays);
    free(np);
    free(names);
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

/* Every identifying entry must equal the model's. */
static ingot_status check_meta(const ingot_safetensors *st, const ingot_model *m,
                               const char *path) {
    meta md;
    model_meta(&md, m);
    for (size_t i = 0; i < md.n; i++) {
        const char *v = ingot_safetensors_metadata(st, md.keys[i]);
        if (!v || strcmp(v, md.values[i]))
            return ingot__error(
                INGOT_ERR_FORMAT, "kv_cache_load: %s: '%s' is %s%s%s, the model needs %s", path,
                md.keys[i], v ? "'" : "", v ? v : "missing", v ? "'" : "", md.values[i]);
    }
    return INGOT_OK;
}

/* Layer i's keys or values from the file, checked and copied. */
static ingot_status load_layer(ingot__kv_layer *l, const ingot_safetensors *st,
                               const ingot_kv_cache *c, int64_t i, const char *path) {
    const ingot__config *cfg = &c->model->cfg;
    ingot_array *a[2] = {NULL, NULL};
    ingot_status s = INGOT_OK;
    for (int j = 0; j < 2 && !s; j++) {
        char name[32];
        layer_name(name, sizeof name, i, j ? 'v' : 'k');
        ingot_array *raw = NULL;
        s = ingot_safetensors_get(&raw, st, name);
        if (s) break;
        const int64_t *sh = ingot_array_shape(raw);
        int64_t n = ingot_array_ndim(raw) == 4 ? sh[2] : -1;
        bool sliding = cfg->layer_sliding[i];
        /* a sliding layer must hold what the next query sees */
        int64_t need = c->length < cfg->sliding_window - 1 ? c->length : cfg->sliding_window - 1;
        bool ok =
            n >= 0 && sh[0] == c->batch && sh[1] == cfg->n_kv_heads && sh[3] == cfg->head_dim &&
            ingot_array_dtype(raw) == c->model->dtype &&
            (sliding ? n <= cfg->sliding_window && n <= c->length && n >= need : n == c->length) &&
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
            s = ingot__copy_as(&host, raw, c->model->dtype, false, "kv_cache_load");
            if (!s) s = ingot_array_to_device(&a[j], host, c->model->device);
            ingot_array_free(host);
        }
        ingot_array_free(raw);
    }
    if (!s && cfg->layer_sliding[i]) { /* into a ring: position p in slot p mod W */
        int64_t n = l->n;
        l->n = 0;
        s = regrow(l, ingot__kv_ring_slots(c), c);
        for (int j = 0; j < 2 && !s; j++)
            s = ingot__kv_ring_write(j ? l->v : l->k, a[j], l->start, cfg->sliding_window);
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
    if (!cfg->layer_sliding[i]) {
        l->k = a[0];
        l->v = a[1];
    }
    return INGOT_OK;
}

ingot_status ingot_kv_cache_load(ingot_kv_cache **out, const ingot_model *m, const char *path) {
    INGOT__CHECK_NOT_NULL(out, "kv_cache_load");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(m, "kv_cache_load");
    INGOT__CHECK_NOT_NULL(path, "kv_cache_load");
    ingot_safetensors *st = NULL;
    ingot_kv_cache *c = NULL;
    int64_t batch = 0, length = 0;
    ingot_status s = ingot_safetensors_open(&st, path);
    if (!s) s = check_meta(st, m, path);
    if (!s) s = meta_int(&batch, st, path, "batch");
    if (!s) s = meta_int(&length, st, path, "length");
    if (!s && (batch < 1 || length > m->cfg.max_position_embeddings))
        s = ingot__error(INGOT_ERR_FORMAT,
                         "kv_cache_load: %s: batch %lld or length %lld out of range", path,
                         (long long)batch, (long long)length);
    if (!s && ingot_safetensors_count(st) != (size_t)(2 * m->cfg.n_layers))
        s = ingot__error(INGOT_ERR_FORMAT, "kv_cache_load: %s: %zu tensors, expected %lld", path,
                         ingot_safetensors_count(st), 2 * (long long)m->cfg.n_layers);
    if (!s) s = ingot_kv_cache_new(&c, m, batch, 0);
    if (c) c->length = length; /* c is set exactly when the cache was made */
    for (int64_t i = 0; c && !s && i < m->cfg.n_layers; i++)
        s = load_layer(&c->layers[i], st, c, i, path);
    ingot_safetensors_close(st);
    if (s) {
        ingot_kv_cache_free(c);
        return s;
    }
    *out = c;
    return INGOT_OK;
}
