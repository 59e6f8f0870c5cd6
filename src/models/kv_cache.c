/* The public KV cache (model.h): nn's cache (src/nn/kv_cache.c) with the
 * geometry of a model, one layer per decoder layer, its window when it
 * slides. Saved files carry metadata identifying the model, which load
 * checks against the model it is given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "ingot/safetensors.h"
#include "models/models_internal.h"
#include "ops/ops_internal.h"

#define FORMAT_NAME "ingot_kv_cache"
#define FORMAT_VERSION "1"

/* *g for m's cache of batch sequences of up to limit tokens, its windows in
 * window [n_layers] (which g points at). */
static void geometry(ingot__kv_geometry *g, int64_t *window, const ingot_model *m, int64_t batch,
                     int64_t limit) {
    const ingot__config *c = &m->cfg;
    for (int64_t i = 0; i < c->n_layers; i++)
        window[i] = c->layer_sliding[i] ? c->sliding_window : 0;
    *g = (ingot__kv_geometry){.layers = c->n_layers,
                              .batch = batch,
                              .kv_heads = c->n_kv_heads,
                              .head_dim = c->head_dim,
                              .window = window,
                              .dtype = m->dtype,
                              .device = m->device,
                              .limit = limit};
}

/* *out = a cache for m of batch sequences of up to limit tokens each: a
 * new, empty one, or with file (opened from path) the one saved there, whose
 * batch is the file's (pass 0). */
static ingot_status wrap(ingot_kv_cache **out, const ingot_model *m, int64_t batch, int64_t limit,
                         const ingot_safetensors *file, const char *path) {
    ingot_kv_cache *c = calloc(1, sizeof *c);
    int64_t *window = calloc((size_t)m->cfg.n_layers + 1, sizeof *window);
    if (!c || !window) {
        free(c);
        free(window);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "kv_cache_new: out of memory");
    }
    ingot__kv_geometry g;
    geometry(&g, window, m, batch, limit);
    ingot_status st = file ? ingot__kv_load(&c->kv, &g, file, path) : ingot__kv_new(&c->kv, &g);
    free(window);
    if (st) {
        free(c);
        return st;
    }
    c->model = m;
    *out = c;
    return INGOT_OK;
}

ingot_status ingot_kv_cache_new(ingot_kv_cache **out, const ingot_model *m, int64_t batch,
                                int64_t capacity) {
    INGOT__CHECK_NOT_NULL(out, "kv_cache_new");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(m, "kv_cache_new");
    if (batch < 1 || capacity < 0)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "kv_cache_new: batch %lld and capacity %lld must be >= 1 and >= 0",
                            (long long)batch, (long long)capacity);
    return wrap(out, m, batch, capacity ? capacity : m->cfg.max_position_embeddings, NULL, NULL);
}

void ingot_kv_cache_free(ingot_kv_cache *c) {
    if (!c) return;
    ingot__kv_free(c->kv);
    free(c);
}

int64_t ingot_kv_cache_length(const ingot_kv_cache *c) { return c ? ingot__kv_length(c->kv) : 0; }

ingot_status ingot_kv_cache_trim(ingot_kv_cache *c, int64_t length) {
    INGOT__CHECK_NOT_NULL(c, "kv_cache_trim");
    return ingot__kv_trim(c->kv, length);
}

/* ---- save / load ---- */

/* The metadata that identifies the model a cache belongs to. */
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

ingot_status ingot_kv_cache_save(const ingot_kv_cache *c, const char *path) {
    INGOT__CHECK_NOT_NULL(c, "kv_cache_save");
    INGOT__CHECK_NOT_NULL(path, "kv_cache_save");
    meta md;
    model_meta(&md, c->model);
    return ingot__kv_save(c->kv, path, md.kp, md.vp, md.n);
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

ingot_status ingot_kv_cache_load(ingot_kv_cache **out, const ingot_model *m, const char *path) {
    INGOT__CHECK_NOT_NULL(out, "kv_cache_load");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(m, "kv_cache_load");
    INGOT__CHECK_NOT_NULL(path, "kv_cache_load");
    ingot_safetensors *st = NULL;
    ingot_status s = ingot_safetensors_open(&st, path);
    if (!s) s = check_meta(st, m, path);
    if (!s) s = wrap(out, m, 0, m->cfg.max_position_embeddings, st, path);
    ingot_safetensors_close(st);
    return s;
}
