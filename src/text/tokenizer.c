/* Tokenizer loading, configuration files and the public API (ingot/tokenizer.h).
 * The pipeline follows Hugging Face tokenizers' TokenizerImpl::encode_single_sequence:
 * split on non-normalized added tokens, normalize, split on normalized added
 * tokens, pre-tokenize, BPE, post-process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "io/io_internal.h"
#include "text/tok_internal.h"

#define TEXT_LIMIT ((size_t)1 << 30)

/* ---- files ---- */

/* Reads dir/name (at most limit bytes) with ingot__read_file. */
static ingot_status read_file(char **data, size_t *len, const char *dir, const char *name,
                              size_t limit) {
    *data = NULL;
    *len = 0;
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (!path) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    snprintf(path, n, "%s/%s", dir, name);
    ingot_status st = ingot__read_file(data, len, path, limit, "tokenizer");
    free(path);
    return st;
}

/* Parses an optional JSON file; *doc stays NULL when it is absent. */
static ingot_status load_optional(tj_doc **doc, tj_value **root, const char *dir,
                                  const char *name) {
    char *data;
    size_t len;
    *doc = NULL;
    *root = NULL;
    ingot_status st = read_file(&data, &len, dir, name, INGOT_TOKENIZER_CONFIG_MAX_BYTES);
    if (st == INGOT_ERR_NOT_FOUND) {
        ingot_clear_error();
        return INGOT_OK;
    }
    if (st) return st;
    st = ingot__tj_parse(doc, root, data, len, name);
    free(data);
    if (!st && (*root)->type != TJ_OBJECT) {
        ingot__tj_free(*doc);
        *doc = NULL;
        st = ingot__error(INGOT_ERR_FORMAT, "%s: the document is not an object", name);
    }
    return st;
}

static char *dup_str(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- added tokens ---- */

static bool flag(const tj_value *o, const char *key, bool dflt) {
    const tj_value *v = ingot__tj_get(o, key);
    return v ? v->type == TJ_TRUE : dflt;
}

static ingot_status load_added(ingot_tokenizer *t, const tj_value *list) {
    if (!list || list->type == TJ_NULL) return INGOT_OK;
    if (list->type != TJ_ARRAY)
        return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: added_tokens must be a list");
    if (list->len && !(t->added = calloc(list->len, sizeof *t->added)))
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    ingot_status st = ingot__smap_init(&t->added_map, list->len);
    int64_t next = -1; /* the largest added id so far */
    for (uint32_t i = 0; i < list->len && !st; i++) {
        const tj_value *o = &list->u.items[i], *c = ingot__tj_get(o, "content");
        int64_t file_id;
        if (!c || c->type != TJ_STRING ||
            !ingot__tj_int(ingot__tj_get(o, "id"), 0, INT32_MAX - 1, &file_id))
            return ingot__error(INGOT_ERR_FORMAT,
                                "tokenizer.json: added_tokens[%u] needs a string content and an id",
                                i);
        bool existed;
        if (ingot__smap_get(&t->added_map, c->u.str, c->len) >= 0) continue; /* a repeat */
        /* the id tokenizers gives it: the model's id of that string, else the next free one */
        int32_t id = ingot__smap_get(&t->vocab.map, c->u.str, c->len);
        int64_t model_size = (int64_t)t->vocab.map.count; /* the model's get_vocab_size() */
        if (id < 0) id = (int32_t)(next >= model_size || model_size == 0 ? next + 1 : model_size);
        if (id != file_id)
            return ingot__error(
                INGOT_ERR_FORMAT,
                "tokenizer.json: added_tokens[%u] \"%.64s\" has id %lld but Hugging Face tokenizers would give it %d",
                i, c->u.str, (long long)file_id, id);
        if (id > next) next = id;
        tok_added *a = &t->added[t->n_added++];
        *a = (tok_added){c->u.str,
                         c->len,
                         id,
                         flag(o, "special", false),
                         flag(o, "lstrip", false),
                         flag(o, "rstrip", false),
                         flag(o, "single_word", false),
                         flag(o, "normalized", !flag(o, "special", false))};
        st = ingot__smap_put(&t->added_map, c->u.str, c->len, id, &existed);
    }
    return st;
}

static ingot_status build_tries(ingot_tokenizer *t) {
    size_t n = t->n_added;
    const char **pats = calloc(n ? n : 1, sizeof *pats);
    uint32_t *lens = calloc(n ? n : 1, sizeof *lens);
    t->pat_raw = calloc(n ? n : 1, sizeof *t->pat_raw);
    t->pat_norm = calloc(n ? n : 1, sizeof *t->pat_norm);
    t->added_norm = calloc(n ? n : 1, sizeof *t->added_norm);
    ingot_status st = INGOT_OK;
    if (!pats || !lens || !t->pat_raw || !t->pat_norm || !t->added_norm)
        st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    for (int pass = 0; pass < 2 && !st; pass++) {
        size_t k = 0;
        for (size_t i = 0; i < n && !st; i++) {
            const tok_added *a = &t->added[i];
            if (a->normalized != (pass == 1)) continue;
            if (pass == 0) {
                pats[k] = a->content;
                lens[k] = a->len;
            } else {
                tok_buf b = {0};
                st = ingot__normalize(t->normalizer, a->content, a->len, &b);
                if (!st) st = ingot__buf_reserve(&b, 1);
                t->added_norm[i] = b.data;
                pats[k] = b.data;
                lens[k] = (uint32_t)b.len;
                if (st) break;
            }
            (pass ? t->pat_norm : t->pat_raw)[k++] = (int32_t)i;
        }
        if (!st && k) st = ingot__trie_build(pass ? &t->trie_norm : &t->trie_raw, pats, lens, k);
    }
    free(pats);
    free(lens);
    return st;
}

/* ---- post-processor ---- */

static ingot_status post_ids(int32_t **ids, size_t *n, const int32_t *add, size_t m) {
    int32_t *g = realloc(*ids, (*n + m + 1) * sizeof *g);
    if (!g) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    memcpy(g + *n, add, m * sizeof *add);
    *ids = g;
    *n += m;
    return INGOT_OK;
}

static ingot_status load_template(tok_post *p, const tj_value *v) {
    const tj_value *single = ingot__tj_get(v, "single"),
                   *specials = ingot__tj_get(v, "special_tokens");
    if (!single || single->type != TJ_ARRAY)
        return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: TemplateProcessing needs single");
    bool seen_a = false;
    ingot_status st = INGOT_OK;
    for (uint32_t i = 0; i < single->len && !st; i++) {
        const tj_value *it = &single->u.items[i], *sp = ingot__tj_get(it, "SpecialToken"),
                       *sq = ingot__tj_get(it, "Sequence");
        if (sq) {
            const tj_value *id = ingot__tj_get(sq, "id");
            if (seen_a || !id || id->type != TJ_STRING || strcmp(id->u.str, "A") != 0)
                return ingot__error(
                    INGOT_ERR_FORMAT,
                    "tokenizer.json: TemplateProcessing single must hold sequence A exactly once");
            seen_a = true;
            continue;
        }
        const tj_value *name = ingot__tj_get(sp, "id");
        if (!name || name->type != TJ_STRING)
            return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: TemplateProcessing item %u", i);
        const tj_value *def = ingot__tj_get(specials, name->u.str),
                       *ids = ingot__tj_get(def, "ids");
        if (!ids || ids->type != TJ_ARRAY)
            return ingot__error(
                INGOT_ERR_FORMAT,
                "tokenizer.json: TemplateProcessing special token \"%.64s\" is not defined",
                name->u.str);
        for (uint32_t k = 0; k < ids->len && !st; k++) {
            int64_t id;
            if (!ingot__tj_int(&ids->u.items[k], 0, INT32_MAX - 1, &id))
                return ingot__error(INGOT_ERR_FORMAT,
                                    "tokenizer.json: TemplateProcessing \"%.64s\" has a bad id",
                                    name->u.str);
            int32_t v32 = (int32_t)id;
            st = seen_a ? post_ids(&p->after, &p->n_after, &v32, 1)
                        : post_ids(&p->before, &p->n_before, &v32, 1);
        }
    }
    if (!st && !seen_a)
        st = ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: TemplateProcessing single lacks A");
    return st;
}

static ingot_status load_post(tok_post *p, const tj_value *v, int depth) {
    if (!v || v->type == TJ_NULL) return INGOT_OK;
    const tj_value *t = ingot__tj_get(v, "type");
    if (!t || t->type != TJ_STRING)
        return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: post_processor without a type");
    if (depth > 8) return ingot__error(INGOT_ERR_LIMIT, "tokenizer.json: post_processor too deep");
    const char *type = t->u.str;
    if (!strcmp(type, "ByteLevel")) return INGOT_OK; /* offsets only */
    if (!strcmp(type, "TemplateProcessing")) return load_template(p, v);
    if (!strcmp(type, "Sequence")) {
        const tj_value *list = ingot__tj_get(v, "processors");
        if (!list || list->type != TJ_ARRAY)
            return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: Sequence post_processor list");
        for (uint32_t i = 0; i < list->len; i++) {
            ingot_status st = load_post(p, &list->u.items[i], depth + 1);
            if (st) return st;
        }
        return INGOT_OK;
    }
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        const tj_value *cls = ingot__tj_get(v, "cls"), *sep = ingot__tj_get(v, "sep");
        int64_t c, s;
        if (!cls || cls->type != TJ_ARRAY || cls->len != 2 || !sep || sep->type != TJ_ARRAY ||
            sep->len != 2 || !ingot__tj_int(&cls->u.items[1], 0, INT32_MAX - 1, &c) ||
            !ingot__tj_int(&sep->u.items[1], 0, INT32_MAX - 1, &s))
            return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: %s needs cls and sep", type);
        int32_t c32 = (int32_t)c, s32 = (int32_t)s;
        ingot_status st = post_ids(&p->before, &p->n_before, &c32, 1);
        return st ? st : post_ids(&p->after, &p->n_after, &s32, 1);
    }
    return ingot__error(INGOT_ERR_UNSUPPORTED, "tokenizer.json: post_processor type \"%s\"", type);
}

/* ---- configuration files ---- */

/* A token given as "text" or {"content": "text"} (or null). */
static const tj_value *token_text(const tj_value *v) {
    if (v && v->type == TJ_OBJECT) v = ingot__tj_get(v, "content");
    return v && v->type == TJ_STRING ? v : NULL;
}

static int32_t config_id(const ingot_tokenizer *t, const tj_value *cfg, const tj_value *map,
                         const tj_value *gen, const char *key, const char *gen_key, char **text) {
    const tj_value *s = token_text(ingot__tj_get(cfg, key));
    if (!s) s = token_text(ingot__tj_get(map, key));
    if (s && text && !*text) *text = dup_str(s->u.str, s->len);
    if (s) {
        int32_t id = -1;
        if (ingot_tokenizer_token_to_id(&id, t, s->u.str) == INGOT_OK) return id;
        ingot_clear_error();
    }
    const tj_value *g = ingot__tj_get(gen, gen_key);
    if (g && g->type == TJ_ARRAY) g = g->len ? &g->u.items[0] : NULL;
    int64_t id;
    if (g && ingot__tj_int(g, 0, (int64_t)t->size - 1, &id)) return (int32_t)id;
    return -1;
}

/* Appends id to the stop ids unless it is outside the vocabulary or already
 * there (seen: a bit per vocabulary id); t->stop has room for it. */
static void add_stop(ingot_tokenizer *t, uint8_t *seen, int64_t id) {
    if (id < 0 || id >= (int64_t)t->size || seen[id / 8] & (1u << (id % 8))) return;
    seen[id / 8] |= (uint8_t)(1u << (id % 8));
    t->stop[t->n_stop++] = (int32_t)id;
}

/* The stop ids: generation_config's eos_token_id(s), the config eos, the
 * end-of-turn tokens, in that order without repeats. The bitset makes it
 * O(listed ids + vocabulary) (a scan per id was quadratic in a long list). */
static ingot_status load_stops(ingot_tokenizer *t, const tj_value *gen) {
    static const char *const eot[] = {"<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|eom_id|>"};
    const size_t n_eot = sizeof eot / sizeof *eot;
    const tj_value *g = ingot__tj_get(gen, "eos_token_id");
    size_t cap = (g && g->type == TJ_ARRAY ? g->len : 1) + 1 + n_eot;
    cap = cap < t->size ? cap : t->size; /* distinct ids of the vocabulary */
    uint8_t *seen = calloc(t->size / 8 + 1, 1);
    t->stop = malloc((cap ? cap : 1) * sizeof *t->stop);
    if (!seen || !t->stop) {
        free(seen);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    }
    int64_t id;
    if (g && g->type == TJ_ARRAY) {
        for (uint32_t i = 0; i < g->len; i++)
            if (ingot__tj_int(&g->u.items[i], 0, INT32_MAX, &id)) add_stop(t, seen, id);
    } else if (ingot__tj_int(g, 0, INT32_MAX, &id)) {
        add_stop(t, seen, id);
    }
    add_stop(t, seen, t->eos);
    for (size_t i = 0; i < n_eot; i++) {
        int32_t e = ingot__smap_get(&t->added_map, eot[i], strlen(eot[i]));
        add_stop(t, seen, e < 0 ? ingot__smap_get(&t->vocab.map, eot[i], strlen(eot[i])) : e);
    }
    free(seen);
    return INGOT_OK;
}

static ingot_status load_configs(ingot_tokenizer *t, const char *dir) {
    tj_doc *dc = NULL, *dm = NULL, *dg = NULL;
    tj_value *cfg = NULL, *map = NULL, *gen = NULL;
    ingot_status st = load_optional(&dc, &cfg, dir, "tokenizer_config.json");
    if (!st) st = load_optional(&dm, &map, dir, "special_tokens_map.json");
    if (!st) st = load_optional(&dg, &gen, dir, "generation_config.json");
    if (!st) {
        t->bos = config_id(t, cfg, map, gen, "bos_token", "bos_token_id", &t->bos_text);
        t->eos = config_id(t, cfg, map, gen, "eos_token", "eos_token_id", &t->eos_text);
        t->pad = config_id(t, cfg, map, gen, "pad_token", "pad_token_id", NULL);
        const tj_value *ct = ingot__tj_get(cfg, "chat_template");
        if (ct && ct->type == TJ_ARRAY) {
            const tj_value *found = NULL;
            for (uint32_t i = 0; i < ct->len; i++) {
                const tj_value *nm = ingot__tj_get(&ct->u.items[i], "name");
                if (nm && nm->type == TJ_STRING && !strcmp(nm->u.str, "default"))
                    found = ingot__tj_get(&ct->u.items[i], "template");
            }
            ct = found;
        }
        if (ct && ct->type == TJ_STRING && !(t->chat_template = dup_str(ct->u.str, ct->len)))
            st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    }
    if (!st && !t->chat_template) {
        char *data;
        size_t len;
        st = read_file(&data, &len, dir, "chat_template.jinja", INGOT_TOKENIZER_CONFIG_MAX_BYTES);
        if (st == INGOT_ERR_NOT_FOUND) {
            ingot_clear_error();
            st = INGOT_OK;
        } else if (!st) {
            if (ingot__utf8_check((const unsigned char *)data, len) != len) {
                free(data);
                st = ingot__error(INGOT_ERR_FORMAT, "chat_template.jinja: invalid UTF-8");
            } else {
                t->chat_template = data;
            }
        }
    }
    if (!st && ((!t->bos_text && !(t->bos_text = dup_str("", 0))) ||
                (!t->eos_text && !(t->eos_text = dup_str("", 0)))))
        st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    if (!st) st = load_stops(t, gen);
    ingot__tj_free(dc);
    ingot__tj_free(dm);
    ingot__tj_free(dg);
    return st;
}

/* ---- load ---- */

void ingot_tokenizer_free(ingot_tokenizer *t) {
    if (!t) return;
    ingot__bpe_free(t->bpe);
    free(t->vocab.tok);
    free(t->vocab.tok_len);
    ingot__smap_free(&t->vocab.map);
    ingot__normalizer_free(t->normalizer);
    ingot__pretok_free(t->pretok);
    ingot__decoder_free(t->decoder);
    free(t->post.before);
    free(t->post.after);
    if (t->added_norm)
        for (size_t i = 0; i < t->n_added; i++)
            free(t->added_norm[i]);
    free(t->added_norm);
    free(t->added);
    ingot__trie_free(t->trie_raw);
    ingot__trie_free(t->trie_norm);
    free(t->pat_raw);
    free(t->pat_norm);
    free(t->id_tok);
    free(t->id_len);
    free(t->id_special);
    ingot__smap_free(&t->added_map);
    free(t->bos_text);
    free(t->eos_text);
    free(t->chat_template);
    free(t->stop);
    ingot__tj_free(t->doc);
    free(t);
}

static ingot_status check_unused(const tj_value *root) {
    const tj_value *tr = ingot__tj_get(root, "truncation"), *pad = ingot__tj_get(root, "padding");
    if (tr && tr->type != TJ_NULL)
        return ingot__error(INGOT_ERR_UNSUPPORTED, "tokenizer.json: truncation is set");
    if (pad && pad->type != TJ_NULL) {
        const tj_value *s = ingot__tj_get(pad, "strategy");
        if (!(s && s->type == TJ_STRING && !strcmp(s->u.str, "BatchLongest")))
            return ingot__error(INGOT_ERR_UNSUPPORTED,
                                "tokenizer.json: padding to a fixed length is set");
    }
    return INGOT_OK;
}

static ingot_status build_ids(ingot_tokenizer *t) {
    size_t size = t->vocab.n;
    for (size_t i = 0; i < t->n_added; i++)
        if ((size_t)t->added[i].id + 1 > size) size = (size_t)t->added[i].id + 1;
    for (size_t i = 0; i < t->post.n_before + t->post.n_after; i++) {
        int32_t id = i < t->post.n_before ? t->post.before[i] : t->post.after[i - t->post.n_before];
        if ((size_t)id >= size)
            return ingot__error(INGOT_ERR_FORMAT,
                                "tokenizer.json: post_processor id %d is outside the vocabulary",
                                id);
    }
    t->size = size;
    t->id_tok = calloc(size ? size : 1, sizeof *t->id_tok);
    t->id_len = calloc(size ? size : 1, sizeof *t->id_len);
    t->id_special = calloc(size ? size : 1, 1);
    if (!t->id_tok || !t->id_len || !t->id_special)
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    memcpy(t->id_tok, t->vocab.tok, t->vocab.n * sizeof *t->id_tok);
    memcpy(t->id_len, t->vocab.tok_len, t->vocab.n * sizeof *t->id_len);
    for (size_t i = 0; i < t->n_added; i++) {
        t->id_tok[t->added[i].id] = t->added[i].content;
        t->id_len[t->added[i].id] = t->added[i].len;
        t->id_special[t->added[i].id] = t->added[i].special;
    }
    return INGOT_OK;
}

ingot_status ingot_tokenizer_load(ingot_tokenizer **out, const char *dir) {
    INGOT__CHECK_NOT_NULL(out, "tokenizer_load");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(dir, "tokenizer_load");
    char *data;
    size_t len;
    ingot_status st = read_file(&data, &len, dir, "tokenizer.json", INGOT_TOKENIZER_JSON_MAX_BYTES);
    if (st) return st;
    ingot_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        free(data);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    }
    tj_value *root;
    st = ingot__tj_parse(&t->doc, &root, data, len, "tokenizer.json");
    free(data);
    if (!st && root->type != TJ_OBJECT)
        st = ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: the document is not an object");
    if (!st) st = check_unused(root);
    if (!st) st = ingot__bpe_build(&t->bpe, ingot__tj_get(root, "model"), &t->vocab);
    if (!st) st = load_added(t, ingot__tj_get(root, "added_tokens"));
    if (!st) st = ingot__normalizer_build(&t->normalizer, ingot__tj_get(root, "normalizer"));
    if (!st) st = ingot__pretok_build(&t->pretok, ingot__tj_get(root, "pre_tokenizer"));
    if (!st) st = ingot__decoder_build(&t->decoder, ingot__tj_get(root, "decoder"));
    if (!st) st = load_post(&t->post, ingot__tj_get(root, "post_processor"), 0);
    if (!st) st = build_ids(t);
    if (!st) st = build_tries(t);
    if (!st) st = load_configs(t, dir);
    if (st) {
        ingot_tokenizer_free(t);
        return st;
    }
    *out = t;
    return INGOT_OK;
}

/* ---- encoding ---- */

void ingot_tokens_free(ingot_tokens *tokens) {
    if (!tokens) return;
    free(tokens->ids);
    memset(tokens, 0, sizeof *tokens);
}

typedef struct {
    const ingot_tokenizer *t;
    ingot_tokens *out;
    tok_pretok_work *pre;
    tok_buf norm;
    tok_split *splits, *nsplits;
    size_t ns, ncap, nns, nncap;
    tok_bpe_work *bpe;
} encode_work;

static ingot_status encode_word(void *ctx, const char *word, size_t len) {
    encode_work *w = ctx;
    return ingot__bpe_tokenize(w->t->bpe, &w->t->vocab, w->bpe, word, len, w->out);
}

/* Pre-tokenizes and runs the model on one stretch of normalized text. */
static ingot_status encode_plain(encode_work *w, const char *s, size_t len, bool at_origin) {
    return ingot__pretokenize(w->t->pretok, w->pre, s, len, at_origin, encode_word, w);
}

static ingot_status encode_text(const ingot_tokenizer *t, encode_work *w, const char *text,
                                size_t len, bool parse_special, ingot_tokens *out) {
    ingot_status st = ingot__added_split(t->trie_raw, t->added, t->pat_raw, text, len,
                                         !parse_special, &w->splits, &w->ns, &w->ncap);
    for (size_t i = 0; i < w->ns && !st; i++) {
        const tok_split *sp = &w->splits[i];
        if (sp->token >= 0) {
            st = ingot__tokens_push(out, &t->added[sp->token].id, 1);
            continue;
        }
        w->norm.len = 0;
        st = ingot__normalize(t->normalizer, text + sp->start, sp->end - sp->start, &w->norm);
        if (!st) st = ingot__buf_reserve(&w->norm, 1);
        if (!st && !t->trie_norm) {
            st = encode_plain(w, w->norm.data, w->norm.len, sp->start == 0);
            continue;
        }
        if (!st)
            st = ingot__added_split(t->trie_norm, t->added, t->pat_norm, w->norm.data, w->norm.len,
                                    !parse_special, &w->nsplits, &w->nns, &w->nncap);
        for (size_t k = 0; k < w->nns && !st; k++) {
            const tok_split *q = &w->nsplits[k];
            st = q->token >= 0 ? ingot__tokens_push(out, &t->added[q->token].id, 1)
                               : encode_plain(w, w->norm.data + q->start, q->end - q->start,
                                              sp->start == 0 && q->start == 0);
        }
    }
    return st;
}

ingot_status ingot_tokenizer_encode(ingot_tokens *out, const ingot_tokenizer *tok, const char *text,
                                    size_t len, const ingot_encode_options *opts) {
    INGOT__CHECK_NOT_NULL(out, "tokenizer_encode");
    out->count = 0;
    INGOT__CHECK_NOT_NULL(tok, "tokenizer_encode");
    if (!text && len)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "tokenizer_encode: text is NULL");
    if (len > TEXT_LIMIT)
        return ingot__error(INGOT_ERR_LIMIT, "tokenizer_encode: text of %zu bytes is over 1 GiB",
                            len);
    ingot_encode_options o = opts ? *opts : (ingot_encode_options){0};
    tok_buf fixed = {0};
    size_t bad = ingot__utf8_check((const unsigned char *)text, len);
    ingot_status st = INGOT_OK;
    if (bad < len) {
        if (!o.replace_invalid_utf8)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                                "tokenizer_encode: invalid UTF-8 at byte offset %zu", bad);
        if ((st = ingot__utf8_append_lossy(&fixed, (const unsigned char *)text, len))) return st;
        text = fixed.data;
        len = fixed.len;
    }
    encode_work w = {.t = tok, .out = out};
    if (!(w.bpe = ingot__bpe_work_new()) || !(w.pre = ingot__pretok_work_new(tok->pretok)))
        st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    if (!st && o.add_special_tokens)
        st = ingot__tokens_push(out, tok->post.before, tok->post.n_before);
    if (!st && len) st = encode_text(tok, &w, text, len, o.parse_special, out);
    if (!st && o.add_special_tokens)
        st = ingot__tokens_push(out, tok->post.after, tok->post.n_after);
    ingot__pretok_work_free(w.pre);
    ingot__buf_free(&w.norm);
    free(w.splits);
    free(w.nsplits);
    ingot__bpe_work_free(w.bpe);
    ingot__buf_free(&fixed);
    if (st) out->count = 0;
    return st;
}

/* ---- decoding ---- */

static ingot_status check_id(const ingot_tokenizer *t, int32_t id, size_t pos) {
    if (id < 0 || (size_t)id >= t->size || !t->id_tok[id])
        return ingot__error(INGOT_ERR_INDEX,
                            "tokenizer: id %d at position %zu is not in the vocabulary (size %zu)",
                            id, pos, t->size);
    return INGOT_OK;
}

ingot_status ingot_tokenizer_decode(char **text, size_t *len, const ingot_tokenizer *tok,
                                    const int32_t *ids, size_t n, bool skip_special) {
    INGOT__CHECK_NOT_NULL(text, "tokenizer_decode");
    *text = NULL;
    if (len) *len = 0;
    INGOT__CHECK_NOT_NULL(tok, "tokenizer_decode");
    if (!ids && n) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "tokenizer_decode: ids is NULL");
    const char **toks = malloc((n ? n : 1) * sizeof *toks);
    uint32_t *lens = malloc((n ? n : 1) * sizeof *lens);
    if (!toks || !lens) {
        free(toks);
        free(lens);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    }
    ingot_status st = INGOT_OK;
    size_t m = 0;
    for (size_t i = 0; i < n && !st; i++) {
        if ((st = check_id(tok, ids[i], i))) break;
        if (skip_special && tok->id_special[ids[i]]) continue;
        toks[m] = tok->id_tok[ids[i]];
        lens[m++] = tok->id_len[ids[i]];
    }
    tok_buf b = {0};
    if (!st) st = ingot__decode_tokens(tok->decoder, toks, lens, m, true, &b);
    if (!st) st = ingot__buf_append(&b, "", 0); /* NUL-terminated even when empty */
    free(toks);
    free(lens);
    if (st) {
        ingot__buf_free(&b);
        return st;
    }
    *text = b.data;
    if (len) *len = b.len;
    return INGOT_OK;
}

struct ingot_detokenizer {
    const ingot_tokenizer *tok;
    bool skip_special, at_start;
    const char **win;
    uint32_t *win_len;
    size_t n, cap;
    tok_buf out;
};

ingot_status ingot_detokenizer_new(ingot_detokenizer **out, const ingot_tokenizer *tok,
                                   bool skip_special) {
    INGOT__CHECK_NOT_NULL(out, "detokenizer_new");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(tok, "detokenizer_new");
    ingot_detokenizer *d = calloc(1, sizeof *d);
    if (!d) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    d->tok = tok;
    d->skip_special = skip_special;
    d->at_start = true;
    *out = d;
    return INGOT_OK;
}

void ingot_detokenizer_free(ingot_detokenizer *d) {
    if (!d) return;
    free(d->win);
    free(d->win_len);
    ingot__buf_free(&d->out);
    free(d);
}

/* Decodes the window into d->out; commits it when final or at a safe point. */
static ingot_status detok_emit(ingot_detokenizer *d, bool final, const char **piece, size_t *len) {
    d->out.len = 0;
    ingot_status st = ingot__buf_reserve(&d->out, 1);
    if (st) return st;
    d->out.data[0] = '\0';
    if (final || ingot__decoder_safe_point(d->tok->decoder, d->win, d->win_len, d->n)) {
        st = ingot__decode_tokens(d->tok->decoder, d->win, d->win_len, d->n, d->at_start, &d->out);
        if (st) {
            d->out.len = 0;
            return st;
        }
        /* at the start, text stripped away (Metaspace/Strip) may depend on what follows */
        if (final || !d->at_start || d->out.len) {
            d->n = 0;
            d->at_start = final || (d->at_start && d->out.len == 0);
        } else {
            d->out.len = 0;
        }
        d->out.data[d->out.len] = '\0';
    }
    *piece = d->out.data;
    if (len) *len = d->out.len;
    return INGOT_OK;
}

ingot_status ingot_detokenizer_push(const char **piece, size_t *len, ingot_detokenizer *d,
                                    int32_t id) {
    INGOT__CHECK_NOT_NULL(d, "detokenizer_push");
    INGOT__CHECK_NOT_NULL(piece, "detokenizer_push");
    *piece = "";
    if (len) *len = 0;
    ingot_status st = check_id(d->tok, id, 0);
    if (st) return st;
    if (d->skip_special && d->tok->id_special[id]) return INGOT_OK;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        const char **nw = realloc(d->win, cap * sizeof *nw);
        if (!nw) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        d->win = nw;
        uint32_t *nl = realloc(d->win_len, cap * sizeof *nl);
        if (!nl) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        d->win_len = nl;
        d->cap = cap;
    }
    d->win[d->n] = d->tok->id_tok[id];
    d->win_len[d->n++] = d->tok->id_len[id];
    return detok_emit(d, false, piece, len);
}

ingot_status ingot_detokenizer_flush(const char **piece, size_t *len, ingot_detokenizer *d) {
    INGOT__CHECK_NOT_NULL(d, "detokenizer_flush");
    INGOT__CHECK_NOT_NULL(piece, "detokenizer_flush");
    ingot_status st = detok_emit(d, true, piece, len);
    d->n = 0;
    d->at_start = true;
    return st;
}

/* ---- vocabulary ---- */

int64_t ingot_tokenizer_vocab_size(const ingot_tokenizer *tok) {
    return tok ? (int64_t)tok->size : 0;
}

ingot_status ingot_tokenizer_token_to_id(int32_t *id, const ingot_tokenizer *tok,
                                         const char *token) {
    INGOT__CHECK_NOT_NULL(id, "tokenizer_token_to_id");
    INGOT__CHECK_NOT_NULL(tok, "tokenizer_token_to_id");
    INGOT__CHECK_NOT_NULL(token, "tokenizer_token_to_id");
    size_t n = strlen(token);
    int32_t v = ingot__smap_get(&tok->added_map, token, n);
    if (v < 0) v = ingot__smap_get(&tok->vocab.map, token, n);
    if (v < 0) return ingot__error(INGOT_ERR_NOT_FOUND, "tokenizer: no token \"%.64s\"", token);
    *id = v;
    return INGOT_OK;
}

const char *ingot_tokenizer_id_to_token(const ingot_tokenizer *tok, int32_t id) {
    if (!tok || id < 0 || (size_t)id >= tok->size) return NULL;
    return tok->id_tok[id];
}

bool ingot_tokenizer_is_special(const ingot_tokenizer *tok, int32_t id) {
    return tok && id >= 0 && (size_t)id < tok->size && tok->id_special[id];
}

int32_t ingot_tokenizer_bos_id(const ingot_tokenizer *tok) { return tok ? tok->bos : -1; }
int32_t ingot_tokenizer_eos_id(const ingot_tokenizer *tok) { return tok ? tok->eos : -1; }
int32_t ingot_tokenizer_pad_id(const ingot_tokenizer *tok) { return tok ? tok->pad : -1; }

void ingot_tokenizer_stop_ids(const int32_t **ids, size_t *n, const ingot_tokenizer *tok) {
    if (ids) *ids = tok ? tok->stop : NULL;
    if (n) *n = tok ? tok->n_stop : 0;
}

const char *ingot_tokenizer_chat_template(const ingot_tokenizer *tok) {
    return tok ? tok->chat_template : NULL;
}
const char *ingot_tokenizer_bos_token(const ingot_tokenizer *tok) {
    return tok && tok->bos_text ? tok->bos_text : "";
}
const char *ingot_tokenizer_eos_token(const ingot_tokenizer *tok) {
    return tok && tok->eos_text ? tok->eos_text : "";
}
