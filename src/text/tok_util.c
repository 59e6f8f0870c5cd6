/* Tokenizer utilities: hashing, the string map, byte buffers, UTF-8 and piece lists. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "text/tok_internal.h"

uint64_t ingot__tok_hash(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ (w * 0xc4ceb9fe1a85ec53ull)) * 0x100000001b3ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ (w * 0xc4ceb9fe1a85ec53ull)) * 0x100000001b3ull;
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

ingot_status ingot__smap_init(tok_smap *m, size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    m->cap = cap;
    m->count = 0;
    if (!m->slots) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    return INGOT_OK;
}

void ingot__smap_free(tok_smap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static size_t smap_find(const tok_smap *m, const char *key, size_t len, uint64_t h) {
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    uint32_t h32 = (uint32_t)(h >> 32);
    for (;;) {
        const tok_smap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h32 && s->len == len && memcmp(s->key, key, len) == 0)) return i;
        i = (i + 1) & mask;
    }
}

ingot_status ingot__smap_put(tok_smap *m, const char *key, size_t len, int32_t value,
                             bool *existed) {
    if ((m->count + 1) * 2 > m->cap) {
        tok_smap bigger;
        ingot_status st = ingot__smap_init(&bigger, m->cap);
        if (st) return st;
        for (size_t i = 0; i < m->cap; i++) {
            const tok_smap_slot *e = &m->slots[i];
            if (!e->key) continue;
            size_t at = smap_find(&bigger, e->key, e->len, ingot__tok_hash(e->key, e->len));
            bigger.slots[at] = *e;
        }
        bigger.count = m->count;
        free(m->slots);
        *m = bigger;
    }
    uint64_t h = ingot__tok_hash(key, len);
    size_t i = smap_find(m, key, len, h);
    *existed = m->slots[i].key != NULL;
    if (!*existed) {
        m->slots[i] = (tok_smap_slot){key, (uint32_t)len, (uint32_t)(h >> 32), value};
        m->count++;
    }
    return INGOT_OK;
}

int32_t ingot__smap_get_h(const tok_smap *m, const char *key, size_t len, uint64_t h) {
    if (!m->cap) return -1;
    const tok_smap_slot *s = &m->slots[smap_find(m, key, len, h)];
    return s->key ? s->value : -1;
}

int32_t ingot__smap_get(const tok_smap *m, const char *key, size_t len) {
    return ingot__smap_get_h(m, key, len, ingot__tok_hash(key, len));
}

void ingot__smap_prefetch(const tok_smap *m, uint64_t h) {
    if (m->cap) __builtin_prefetch(&m->slots[(size_t)h & (m->cap - 1)]);
}

ingot_status ingot__buf_reserve(tok_buf *b, size_t extra) {
    if (b->cap - b->len >= extra) return INGOT_OK;
    char *d = ingot__grow(b->data, &b->cap, b->len + extra, 1, 64);
    if (!d) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    b->data = d;
    return INGOT_OK;
}

ingot_status ingot__buf_append(tok_buf *b, const void *p, size_t n) {
    ingot_status st = ingot__buf_reserve(b, n + 1);
    if (st) return st;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return INGOT_OK;
}

void ingot__buf_free(tok_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

ingot_status ingot__tokens_push(ingot_tokens *out, const int32_t *ids, size_t n) {
    if (out->capacity - out->count < n) {
        int32_t *ni = ingot__grow(out->ids, &out->capacity, out->count + n, sizeof *ni, 64);
        if (!ni) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        out->ids = ni;
    }
    if (n) memcpy(out->ids + out->count, ids, n * sizeof *ids);
    out->count += n;
    return INGOT_OK;
}

/* The length a UTF-8 lead byte announces (0 for bytes that cannot lead) and
 * the valid range of the byte after it (RFC 3629: no overlongs, surrogates
 * or code points past U+10FFFF). */
static size_t utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F;
        return 4;
    }
    return 0;
}

size_t ingot__utf8_seq(const unsigned char *p, size_t n) {
    if (p[0] < 0x80) return 1;
    unsigned char lo, hi;
    size_t need = utf8_lead(p[0], &lo, &hi);
    if (!need || n < need || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < need; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return need;
}

size_t ingot__utf8_bad_len(const unsigned char *p, size_t n) {
    unsigned char lo, hi;
    size_t need = utf8_lead(p[0], &lo, &hi);
    if (!need || n < 2 || p[1] < lo || p[1] > hi) return 1;
    size_t i = 2;
    while (i < need && i < n && (p[i] & 0xC0) == 0x80)
        i++;
    return i;
}

size_t ingot__utf8_check(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = ingot__utf8_seq(p + i, n - i);
        if (!k) return i;
        i += k;
    }
    return n;
}

ingot_status ingot__utf8_append_lossy(tok_buf *b, const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t bad = ingot__utf8_check(p + i, n - i);
        ingot_status st = ingot__buf_append(b, p + i, bad);
        if (st) return st;
        i += bad;
        if (i < n) {
            if ((st = ingot__buf_append(b, "\xEF\xBF\xBD", 3))) return st;
            i += ingot__utf8_bad_len(p + i, n - i);
        }
    }
    return ingot__buf_reserve(b, 1);
}

uint32_t ingot__utf8_decode(const unsigned char *p, size_t *adv) {
    unsigned char c = p[0];
    if (c < 0x80) {
        *adv = 1;
        return c;
    }
    if (c < 0xE0) {
        *adv = 2;
        return ((uint32_t)(c & 0x1F) << 6) | (p[1] & 0x3F);
    }
    if (c < 0xF0) {
        *adv = 3;
        return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    }
    *adv = 4;
    return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
           ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

int ingot__utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

ingot_status ingot__buf_append_replaced(tok_buf *b, const char *s, size_t len, const char *pat,
                                        size_t plen, const char *with, size_t wlen) {
    ingot_status st = INGOT_OK;
    for (size_t i = 0; i < len && !st;) {
        const char *hit = memmem(s + i, len - i, pat, plen);
        size_t stop = hit ? (size_t)(hit - s) : len;
        st = ingot__buf_append(b, s + i, stop - i);
        if (!st && hit) st = ingot__buf_append(b, with, wlen);
        i = hit ? stop + plen : len;
    }
    return st;
}

bool ingot__unicode_ws(uint32_t cp) {
    return (cp >= 9 && cp <= 13) || cp == ' ' || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

ingot_status ingot__pieces_add(tok_pieces *ps, const char *s, size_t len) {
    tok_piece *np = ingot__grow(ps->p, &ps->cap, ps->n + 1, sizeof *np, 64);
    if (!np) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    ps->p = np;
    size_t off = ps->text.len;
    ingot_status st = ingot__buf_append(&ps->text, s, len);
    if (st) return st;
    ps->p[ps->n++] = (tok_piece){off, len};
    return INGOT_OK;
}

void ingot__pieces_clear(tok_pieces *ps) {
    ps->n = 0;
    ps->text.len = 0;
}

void ingot__pieces_free(tok_pieces *ps) {
    ingot__buf_free(&ps->text);
    free(ps->p);
    memset(ps, 0, sizeof *ps);
}
