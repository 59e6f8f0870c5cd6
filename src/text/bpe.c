/* The BPE model, as Hugging Face tokenizers' BPE::merge_word + Word::merge_all:
 * symbols in a linked list, candidate merges in a binary heap ordered by
 * (rank, position), stale entries skipped. O(n log n) per word, so a 4 MB word
 * without spaces (Gemma 3 never splits on anything) stays linear-ish. A
 * per-call cache (owned by the encode call, never shared) remembers the ids
 * of short words. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "text/tok_internal.h"

#define EMPTY_KEY UINT64_MAX
#define CP_TABLE 0x10000
#define CACHE_WORD_MAX 64
#define CACHE_SLOTS ((size_t)1 << 15)
#define CUT_MIN 256 /* words at least this long are cut where no merge can reach across */

typedef struct {
    uint64_t key; /* a << 32 | b */
    uint32_t rank;
    int32_t id;
} merge_slot;

struct tok_bpe {
    merge_slot *merges;
    size_t mcap;
    int32_t unk;
    bool fuse_unk, byte_fallback, ignore_merges;
    const char *prefix, *suffix;
    size_t plen, slen;
    int32_t byte_tok[256]; /* <0xNN> ids, -1 when absent */
    int32_t *cp_id;        /* single-codepoint tokens (no prefix/suffix), -1 when absent */
    /* adjacent codepoint pairs (c1 << 32 | c2, plus 1; 0 is empty) occurring inside some
     * token, built on the first long word: 0 not built, 1 ready, 2 unavailable */
    uint64_t *bigrams;
    size_t bcap;
    atomic_int bigram_state;
    pthread_mutex_t bigram_mu;
};

typedef struct {
    int32_t c, prev, next;
    uint32_t len; /* bytes; 0 marks a removed symbol */
} symbol;

typedef struct {
    uint32_t rank, pos;
    int32_t id, left, right; /* the merged id; the pair it was found for */
} heap_item;

typedef struct {
    uint32_t key_off, key_len, ids_off, ids_len; /* key_len 0: empty slot */
} cache_slot;

struct tok_bpe_work {
    symbol *sym;
    size_t sym_cap;
    heap_item *heap;
    size_t heap_n, heap_cap;
    tok_buf key;  /* cached words */
    int32_t *ids; /* cached ids */
    size_t ids_n, ids_cap;
    cache_slot *cache;
    size_t cache_n;
};

void ingot__bpe_free(tok_bpe *b) {
    if (!b) return;
    free(b->merges);
    free(b->cp_id);
    free(b->bigrams);
    pthread_mutex_destroy(&b->bigram_mu);
    free(b);
}

tok_bpe_work *ingot__bpe_work_new(void) { return calloc(1, sizeof(tok_bpe_work)); }

void ingot__bpe_work_free(tok_bpe_work *w) {
    if (!w) return;
    free(w->sym);
    free(w->heap);
    ingot__buf_free(&w->key);
    free(w->ids);
    free(w->cache);
    free(w);
}

static size_t merge_find(const tok_bpe *b, uint64_t key) {
    size_t mask = b->mcap - 1, i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
    while (b->merges[i].key != EMPTY_KEY && b->merges[i].key != key)
        i = (i + 1) & mask;
    return i;
}

static inline const merge_slot *merge_get(const tok_bpe *b, int32_t x, int32_t y) {
    const merge_slot *s = &b->merges[merge_find(b, (uint64_t)(uint32_t)x << 32 | (uint32_t)y)];
    return s->key == EMPTY_KEY ? NULL : s;
}

static bool opt_string(const tj_value *v, const char **s, size_t *len) {
    if (!v || v->type == TJ_NULL) {
        *s = NULL;
        *len = 0;
        return true;
    }
    if (v->type != TJ_STRING) return false;
    *s = v->u.str;
    *len = v->len;
    return true;
}

static ingot_status build_vocab(tok_vocab *vocab, const tj_value *v) {
    if (!v || v->type != TJ_OBJECT)
        return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: model.vocab must be an object");
    int64_t max = -1;
    for (uint32_t i = 0; i < v->len; i++) {
        int64_t id;
        if (!ingot__tj_int(&v->u.items[2 * i + 1], 0, INT32_MAX - 1, &id))
            return ingot__error(INGOT_ERR_FORMAT,
                                "tokenizer.json: model.vocab[\"%.64s\"] is not a valid id",
                                v->u.items[2 * i].u.str);
        if (id > max) max = id;
    }
    if (max >= (int64_t)v->len * 2 + 4096)
        return ingot__error(
            INGOT_ERR_FORMAT,
            "tokenizer.json: model.vocab ids are too sparse (%u tokens, max id %lld)", v->len,
            (long long)max);
    vocab->n = (size_t)(max + 1);
    vocab->tok = calloc(vocab->n ? vocab->n : 1, sizeof *vocab->tok);
    vocab->tok_len = calloc(vocab->n ? vocab->n : 1, sizeof *vocab->tok_len);
    if (!vocab->tok || !vocab->tok_len)
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    ingot_status st = ingot__smap_init(&vocab->map, v->len);
    for (uint32_t i = 0; i < v->len && !st; i++) {
        const tj_value *k = &v->u.items[2 * i];
        int32_t id = (int32_t)v->u.items[2 * i + 1].u.num;
        bool existed;
        st = ingot__smap_put(&vocab->map, k->u.str, k->len, id, &existed);
        if (!st && existed)
            st = ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: model.vocab repeats \"%.64s\"",
                              k->u.str);
        if (!st && vocab->tok[id])
            st = ingot__error(INGOT_ERR_FORMAT,
                              "tokenizer.json: model.vocab gives id %d to \"%.64s\" and \"%.64s\"",
                              id, vocab->tok[id], k->u.str);
        vocab->tok[id] = k->u.str;
        vocab->tok_len[id] = k->len;
    }
    return st;
}

static ingot_status merge_parts(const tj_value *m, uint32_t i, const char **a, size_t *alen,
                                const char **b, size_t *blen) {
    if (m->type == TJ_ARRAY && m->len == 2 && m->u.items[0].type == TJ_STRING &&
        m->u.items[1].type == TJ_STRING) {
        *a = m->u.items[0].u.str;
        *alen = m->u.items[0].len;
        *b = m->u.items[1].u.str;
        *blen = m->u.items[1].len;
        return INGOT_OK;
    }
    if (m->type == TJ_STRING) {
        const char *sp = memchr(m->u.str, ' ', m->len);
        if (sp) {
            *a = m->u.str;
            *alen = (size_t)(sp - m->u.str);
            *b = sp + 1;
            *blen = m->len - *alen - 1;
            return INGOT_OK;
        }
    }
    return ingot__error(INGOT_ERR_FORMAT,
                        "tokenizer.json: model.merges[%u] is neither \"a b\" nor [\"a\", \"b\"]",
                        i);
}

#define MERGE_BATCH 32

typedef struct {
    const char *a, *b;
    size_t alen, blen, cat_off, cat_len;
    uint64_t ha, hb, hc;
} merge_req;

/* Resolves merges [first, first + n) whose strings are in r (hashes computed, slots prefetched). */
static ingot_status resolve_merges(tok_bpe *bpe, const tok_vocab *vocab, const merge_req *r,
                                   size_t n, uint32_t first, const char *cat) {
    for (size_t k = 0; k < n; k++) {
        uint32_t i = first + (uint32_t)k;
        int32_t ia = ingot__smap_get_h(&vocab->map, r[k].a, r[k].alen, r[k].ha);
        int32_t ib = ingot__smap_get_h(&vocab->map, r[k].b, r[k].blen, r[k].hb);
        if (ia < 0 || ib < 0)
            return ingot__error(
                INGOT_ERR_FORMAT,
                "tokenizer.json: model.merges[%u]: \"%.*s\" is not in the vocabulary", i,
                (int)(ia < 0 ? r[k].alen : r[k].blen), ia < 0 ? r[k].a : r[k].b);
        int32_t id = ingot__smap_get_h(&vocab->map, cat + r[k].cat_off, r[k].cat_len, r[k].hc);
        if (id < 0)
            return ingot__error(
                INGOT_ERR_FORMAT,
                "tokenizer.json: model.merges[%u]: merged \"%.*s\" is not in the vocabulary", i,
                (int)r[k].cat_len, cat + r[k].cat_off);
        uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
        merge_slot *s = &bpe->merges[merge_find(bpe, key)];
        *s = (merge_slot){key, i, id}; /* a repeated pair takes its last rank, as in tokenizers */
    }
    return INGOT_OK;
}

/* Merges are resolved in batches whose hash-table slots are prefetched first: the lookups
 * are cache misses, and overlapping them halves Gemma 3's load time. */
static ingot_status build_merges(tok_bpe *bpe, const tok_vocab *vocab, const tj_value *list) {
    if (!list || list->type != TJ_ARRAY)
        return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: model.merges must be a list");
    bpe->mcap = 16;
    while (bpe->mcap < (size_t)list->len * 2)
        bpe->mcap *= 2;
    bpe->merges = malloc(bpe->mcap * sizeof *bpe->merges);
    if (!bpe->merges) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    for (size_t i = 0; i < bpe->mcap; i++)
        bpe->merges[i].key = EMPTY_KEY;
    tok_buf cat = {0};
    merge_req r[MERGE_BATCH];
    ingot_status st = INGOT_OK;
    for (uint32_t first = 0; first < list->len && !st; first += MERGE_BATCH) {
        size_t n = list->len - first < MERGE_BATCH ? list->len - first : MERGE_BATCH;
        cat.len = 0;
        for (size_t k = 0; k < n && !st; k++) {
            merge_req *q = &r[k];
            if ((st = merge_parts(&list->u.items[first + k], first + (uint32_t)k, &q->a, &q->alen,
                                  &q->b, &q->blen)))
                break;
            if (bpe->plen && (q->blen < bpe->plen || memcmp(q->b, bpe->prefix, bpe->plen) != 0)) {
                st = ingot__error(
                    INGOT_ERR_FORMAT,
                    "tokenizer.json: model.merges[%u]: \"%.*s\" lacks the subword prefix",
                    first + (uint32_t)k, (int)q->blen, q->b);
                break;
            }
            q->cat_off = cat.len;
            if ((st = ingot__buf_append(&cat, q->a, q->alen)) ||
                (st = ingot__buf_append(&cat, q->b + bpe->plen, q->blen - bpe->plen)))
                break;
            q->cat_len = cat.len - q->cat_off;
            q->ha = ingot__tok_hash(q->a, q->alen);
            q->hb = ingot__tok_hash(q->b, q->blen);
            q->hc = ingot__tok_hash(cat.data + q->cat_off, q->cat_len);
            ingot__smap_prefetch(&vocab->map, q->ha);
            ingot__smap_prefetch(&vocab->map, q->hb);
            ingot__smap_prefetch(&vocab->map, q->hc);
        }
        if (!st) st = resolve_merges(bpe, vocab, r, n, first, cat.data);
    }
    ingot__buf_free(&cat);
    return st;
}

ingot_status ingot__bpe_build(tok_bpe **out, const tj_value *model, tok_vocab *vocab) {
    *out = NULL;
    const tj_value *type = ingot__tj_get(model, "type");
    if (!model || model->type != TJ_OBJECT)
        return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: no \"model\" object");
    if (type && (type->type != TJ_STRING || strcmp(type->u.str, "BPE") != 0))
        return ingot__error(INGOT_ERR_UNSUPPORTED, "tokenizer.json: model type \"%s\"",
                            type->type == TJ_STRING ? type->u.str : "?");
    const tj_value *drop = ingot__tj_get(model, "dropout");
    if (drop && drop->type == TJ_NUMBER && drop->u.num > 0)
        return ingot__error(INGOT_ERR_UNSUPPORTED, "tokenizer.json: BPE dropout (random encoding)");
    tok_bpe *b = calloc(1, sizeof *b);
    if (!b) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    pthread_mutex_init(&b->bigram_mu, NULL);
    atomic_init(&b->bigram_state, 0);
    ingot_status st = build_vocab(vocab, ingot__tj_get(model, "vocab"));
    const char *unk = NULL;
    size_t unklen = 0;
    if (!st &&
        (!opt_string(ingot__tj_get(model, "unk_token"), &unk, &unklen) ||
         !opt_string(ingot__tj_get(model, "continuing_subword_prefix"), &b->prefix, &b->plen) ||
         !opt_string(ingot__tj_get(model, "end_of_word_suffix"), &b->suffix, &b->slen)))
        st = ingot__error(
            INGOT_ERR_FORMAT,
            "tokenizer.json: model.unk_token, continuing_subword_prefix and end_of_word_suffix must be strings or null");
    b->unk = -1;
    if (!st && unk && (b->unk = ingot__smap_get(&vocab->map, unk, unklen)) < 0)
        st =
            ingot__error(INGOT_ERR_FORMAT,
                         "tokenizer.json: model.unk_token \"%.64s\" is not in the vocabulary", unk);
    const tj_value *f;
    b->fuse_unk = (f = ingot__tj_get(model, "fuse_unk")) && f->type == TJ_TRUE;
    b->byte_fallback = (f = ingot__tj_get(model, "byte_fallback")) && f->type == TJ_TRUE;
    b->ignore_merges = (f = ingot__tj_get(model, "ignore_merges")) && f->type == TJ_TRUE;
    if (!st) st = build_merges(b, vocab, ingot__tj_get(model, "merges"));
    for (int i = 0; i < 256 && !st; i++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", i);
        b->byte_tok[i] = ingot__smap_get(&vocab->map, name, 6);
    }
    if (!st && !b->plen && !b->slen) {
        if (!(b->cp_id = malloc(CP_TABLE * sizeof *b->cp_id))) {
            st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        } else {
            for (size_t i = 0; i < CP_TABLE; i++)
                b->cp_id[i] = -1;
            for (size_t id = 0; id < vocab->n; id++) {
                const unsigned char *t = (const unsigned char *)vocab->tok[id];
                size_t adv;
                if (!t || !vocab->tok_len[id]) continue;
                uint32_t cp = ingot__utf8_decode(t, &adv);
                if (adv == vocab->tok_len[id] && cp < CP_TABLE) b->cp_id[cp] = (int32_t)id;
            }
        }
    }
    if (st) {
        ingot__bpe_free(b);
        return st;
    }
    *out = b;
    return INGOT_OK;
}

/* ---- encoding ---- */

static ingot_status add_symbol(tok_bpe_work *w, size_t *n, int32_t c, size_t len) {
    /* symbols link by int32 index; a word can outgrow them after lossy UTF-8 repair and
     * normalization even under the encoder's 1 GiB text limit */
    if (*n >= INT32_MAX - 1)
        return ingot__error(INGOT_ERR_LIMIT, "tokenizer: a word of over %d characters",
                            INT32_MAX - 2);
    symbol *ns = ingot__grow(w->sym, &w->sym_cap, *n + 1, sizeof *ns, 256);
    if (!ns) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    w->sym = ns;
    w->sym[*n] = (symbol){c, (int32_t)*n - 1, (int32_t)*n + 1, (uint32_t)len};
    (*n)++;
    return INGOT_OK;
}

static inline bool heap_less(const heap_item *x, const heap_item *y) {
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static ingot_status heap_push(tok_bpe_work *w, heap_item it) {
    heap_item *nh = ingot__grow(w->heap, &w->heap_cap, w->heap_n + 1, sizeof *nh, 256);
    if (!nh) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    w->heap = nh;
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (!heap_less(&it, &w->heap[parent])) break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = it;
    return INGOT_OK;
}

/* A 4-ary heap: half the levels of a binary one, and a node's children share cache lines. */
static heap_item heap_pop(tok_bpe_work *w) {
    heap_item top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t first = 4 * i + 1, c = first;
        if (first >= n) break;
        for (size_t k = first + 1; k < first + 4 && k < n; k++)
            if (heap_less(&w->heap[k], &w->heap[c])) c = k;
        if (!heap_less(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

static ingot_status push_pair(const tok_bpe *b, tok_bpe_work *w, size_t pos, int32_t x, int32_t y) {
    const merge_slot *m = merge_get(b, x, y);
    return m ? heap_push(w, (heap_item){m->rank, (uint32_t)pos, m->id, x, y}) : INGOT_OK;
}

static void prefetch_pair(const tok_bpe *b, int32_t x, int32_t y) {
    uint64_t key = (uint64_t)(uint32_t)x << 32 | (uint32_t)y;
    __builtin_prefetch(&b->merges[(size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (b->mcap - 1)]);
}

/* The initial symbols of word (tokenizers' merge_word). */
static ingot_status initial_symbols(const tok_bpe *b, const tok_vocab *vocab, tok_bpe_work *w,
                                    const char *word, size_t len, size_t *n) {
    tok_buf tmp = {0};
    ingot_status st = INGOT_OK;
    int32_t unk_id = -1;
    size_t unk_len = 0;
    *n = 0;
    for (size_t i = 0; i < len && !st;) {
        size_t adv;
        uint32_t cp = ingot__utf8_decode((const unsigned char *)word + i, &adv);
        int32_t id;
        if (b->cp_id && cp < CP_TABLE) {
            id = b->cp_id[cp];
        } else {
            tmp.len = 0;
            if (i > 0 && b->plen) st = ingot__buf_append(&tmp, b->prefix, b->plen);
            if (!st) st = ingot__buf_append(&tmp, word + i, adv);
            if (!st && i + adv == len && b->slen) st = ingot__buf_append(&tmp, b->suffix, b->slen);
            if (st) break;
            id = ingot__smap_get(&vocab->map, tmp.data, tmp.len);
        }
        if (id >= 0) {
            if (unk_id >= 0) {
                st = add_symbol(w, n, unk_id, unk_len);
                unk_id = -1;
            }
            if (!st) st = add_symbol(w, n, id, adv);
        } else {
            bool done = false;
            if (b->byte_fallback) {
                /* the prefix/suffix decorated string's bytes, as tokenizers does */
                const unsigned char *s = (const unsigned char *)word + i;
                size_t sl = adv;
                if (!b->cp_id || cp >= CP_TABLE) {
                    s = (const unsigned char *)tmp.data;
                    sl = tmp.len;
                }
                done = true;
                for (size_t k = 0; k < sl; k++)
                    done = done && b->byte_tok[s[k]] >= 0;
                for (size_t k = 0; done && k < sl && !st; k++)
                    st = add_symbol(w, n, b->byte_tok[s[k]], 1);
            }
            if (!done && b->unk >= 0) {
                if (unk_id >= 0 && b->fuse_unk) {
                    unk_len += adv;
                } else {
                    if (unk_id >= 0) st = add_symbol(w, n, unk_id, unk_len);
                    unk_id = b->unk;
                    unk_len = adv;
                }
            }
            /* no unk token: the character is dropped, as in tokenizers */
        }
        i += adv;
    }
    if (!st && unk_id >= 0) st = add_symbol(w, n, unk_id, unk_len);
    ingot__buf_free(&tmp);
    if (!st && *n) w->sym[*n - 1].next = -1;
    return st;
}

static ingot_status merge_word(const tok_bpe *b, const tok_vocab *vocab, tok_bpe_work *w,
                               const char *word, size_t len, ingot_tokens *out) {
    size_t n;
    ingot_status st = initial_symbols(b, vocab, w, word, len, &n);
    if (st) return st;
    symbol *sym = w->sym;
    w->heap_n = 0;
    for (size_t i = 0; i + 1 < n && !st; i++) {
        if (i + 9 < n) prefetch_pair(b, sym[i + 8].c, sym[i + 9].c);
        st = push_pair(b, w, i, sym[i].c, sym[i + 1].c);
    }
    while (w->heap_n && !st) {
        heap_item top = heap_pop(w);
        symbol *cur = &sym[top.pos];
        if (cur->len == 0 || cur->next < 0) continue;
        symbol *right = &sym[cur->next];
        /* a stale entry: tokenizers re-checks that the current pair still merges into top.id;
         * symbols only grow, so two pairs covering the same bytes with the same merged string
         * are the same pair, and comparing the ids is equivalent (and saves a lookup) */
        if (cur->c != top.left || right->c != top.right) continue;
        cur->c = top.id;
        cur->len += right->len;
        right->len = 0;
        cur->next = right->next;
        if (right->next >= 0) sym[right->next].prev = (int32_t)top.pos;
        if (cur->prev >= 0) st = push_pair(b, w, (size_t)cur->prev, sym[cur->prev].c, cur->c);
        if (!st && cur->next >= 0) st = push_pair(b, w, top.pos, cur->c, sym[cur->next].c);
    }
    for (size_t i = 0; i < n && !st; i++)
        if (sym[i].len) st = ingot__tokens_push(out, &sym[i].c, 1);
    return st;
}

static cache_slot *cache_find(tok_bpe_work *w, const char *word, size_t len, uint64_t h) {
    size_t mask = CACHE_SLOTS - 1, i = (size_t)h & mask;
    while (w->cache[i].key_len && !(w->cache[i].key_len == len &&
                                    memcmp(w->key.data + w->cache[i].key_off, word, len) == 0))
        i = (i + 1) & mask;
    return &w->cache[i];
}

/* ---- cutting long words ----
 * No merge ever joins two adjacent characters c1 c2 (both single-character tokens) when no
 * vocabulary token contains "c1c2": the merged token would contain it. Merges on the two sides
 * of such a point touch disjoint symbols and commute, so the word cut there encodes exactly as
 * a whole, in pieces that are short and cacheable. Gemma 3 needs this: its pre-tokenizer never
 * splits, so a whole prompt is one word. */

static size_t bigram_slot(const uint64_t *set, size_t cap, uint64_t key) {
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
    while (set[i] && set[i] != key)
        i = (i + 1) & (cap - 1);
    return i;
}

static bool bigram_insert(uint64_t **set, size_t *cap, size_t *n, uint64_t key) {
    if ((*n + 1) * 2 > *cap) {
        size_t ncap = *cap ? *cap * 2 : 1 << 16;
        uint64_t *ns = calloc(ncap, sizeof *ns);
        if (!ns) return false;
        for (size_t i = 0; i < *cap; i++)
            if ((*set)[i]) ns[bigram_slot(ns, ncap, (*set)[i])] = (*set)[i];
        free(*set);
        *set = ns;
        *cap = ncap;
    }
    size_t i = bigram_slot(*set, *cap, key);
    if (!(*set)[i]) {
        (*set)[i] = key;
        (*n)++;
    }
    return true;
}

static inline uint64_t bigram_key(uint32_t a, uint32_t c) { return ((uint64_t)a << 32 | c) + 1; }

/* Builds the bigram set once (thread-safe); false when it is unavailable (no memory). */
static bool bigrams_ready(tok_bpe *b, const tok_vocab *vocab) {
    int s = atomic_load_explicit(&b->bigram_state, memory_order_acquire);
    if (s) return s == 1;
    pthread_mutex_lock(&b->bigram_mu);
    if (!atomic_load_explicit(&b->bigram_state, memory_order_relaxed)) {
        uint64_t *set = NULL;
        size_t cap = 0, n = 0;
        bool ok = true;
        for (size_t id = 0; id < vocab->n && ok; id++) {
            const unsigned char *t = (const unsigned char *)vocab->tok[id];
            size_t len = vocab->tok_len[id], i = 0, adv;
            uint32_t prev = UINT32_MAX;
            while (t && i < len && ok) {
                uint32_t cp = ingot__utf8_decode(t + i, &adv);
                if (prev != UINT32_MAX) ok = bigram_insert(&set, &cap, &n, bigram_key(prev, cp));
                prev = cp;
                i += adv;
            }
        }
        if (!ok) {
            free(set);
            set = NULL;
        }
        b->bigrams = set;
        b->bcap = cap;
        atomic_store_explicit(&b->bigram_state, ok && set ? 1 : 2, memory_order_release);
    }
    pthread_mutex_unlock(&b->bigram_mu);
    return atomic_load_explicit(&b->bigram_state, memory_order_acquire) == 1;
}

static ingot_status tokenize_piece(const tok_bpe *b, const tok_vocab *vocab, tok_bpe_work *w,
                                   const char *word, size_t len, ingot_tokens *out);

/* Encodes a long word in pieces cut where no merge can reach across. */
static ingot_status tokenize_cut(const tok_bpe *b, const tok_vocab *vocab, tok_bpe_work *w,
                                 const char *word, size_t len, ingot_tokens *out) {
    const unsigned char *u = (const unsigned char *)word;
    size_t start = 0, i = 0, adv;
    uint32_t prev = UINT32_MAX; /* UINT32_MAX: no cut before the next character */
    ingot_status st = INGOT_OK;
    while (i < len && !st) {
        uint32_t cp = ingot__utf8_decode(u + i, &adv);
        bool single = cp < CP_TABLE && b->cp_id[cp] >= 0;
        if (single && prev != UINT32_MAX &&
            !b->bigrams[bigram_slot(b->bigrams, b->bcap, bigram_key(prev, cp))]) {
            st = tokenize_piece(b, vocab, w, word + start, i - start, out);
            start = i;
        }
        prev = single ? cp : UINT32_MAX;
        i += adv;
    }
    return st ? st : tokenize_piece(b, vocab, w, word + start, len - start, out);
}

ingot_status ingot__bpe_tokenize(const tok_bpe *b, const tok_vocab *vocab, tok_bpe_work *w,
                                 const char *word, size_t len, ingot_tokens *out) {
    if (len == 0) return INGOT_OK;
    if (b->ignore_merges) {
        int32_t id = ingot__smap_get(&vocab->map, word, len);
        if (id >= 0) return ingot__tokens_push(out, &id, 1);
    }
    /* (with ignore_merges a piece could be looked up whole where the word was not: no cuts) */
    if (len >= CUT_MIN && b->cp_id && !b->ignore_merges && bigrams_ready((tok_bpe *)b, vocab))
        return tokenize_cut(b, vocab, w, word, len, out);
    return tokenize_piece(b, vocab, w, word, len, out);
}

/* The cached path: words up to CACHE_WORD_MAX bytes are remembered for this call. */
static ingot_status tokenize_piece(const tok_bpe *b, const tok_vocab *vocab, tok_bpe_work *w,
                                   const char *word, size_t len, ingot_tokens *out) {
    if (len > CACHE_WORD_MAX) return merge_word(b, vocab, w, word, len, out);
    if (!w->cache && !(w->cache = calloc(CACHE_SLOTS, sizeof *w->cache)))
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    cache_slot *slot = cache_find(w, word, len, ingot__tok_hash(word, len));
    if (slot->key_len)
        return slot->ids_len ? ingot__tokens_push(out, w->ids + slot->ids_off, slot->ids_len)
                             : INGOT_OK;
    size_t before = out->count;
    ingot_status st = merge_word(b, vocab, w, word, len, out);
    if (st) return st;
    size_t got = out->count - before;
    if (w->cache_n * 2 >= CACHE_SLOTS) { /* full: start over */
        memset(w->cache, 0, CACHE_SLOTS * sizeof *w->cache);
        w->cache_n = 0;
        w->key.len = 0;
        w->ids_n = 0;
        slot = cache_find(w, word, len, ingot__tok_hash(word, len));
    }
    if (w->ids_cap - w->ids_n < got) {
        int32_t *ni = ingot__grow(w->ids, &w->ids_cap, w->ids_n + got, sizeof *ni, 1024);
        if (!ni) return INGOT_OK; /* the cache is optional */
        w->ids = ni;
    }
    size_t key_off = w->key.len;
    if (ingot__buf_append(&w->key, word, len)) {
        ingot_clear_error();
        return INGOT_OK;
    }
    if (got) memcpy(w->ids + w->ids_n, out->ids + before, got * sizeof *w->ids);
    *slot = (cache_slot){(uint32_t)key_off, (uint32_t)len, (uint32_t)w->ids_n, (uint32_t)got};
    w->ids_n += got;
    w->cache_n++;
    return INGOT_OK;
}
