/* Decoders, as tokenizers' Decoder::decode_chain: ByteLevel, Replace (string
 * pattern), ByteFallback, Fuse, Strip, Metaspace and Sequence, applied to the
 * list of token strings and joined. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "text/tok_internal.h"

typedef enum { D_BYTELEVEL, D_REPLACE, D_BYTEFALLBACK, D_FUSE, D_STRIP, D_METASPACE } d_kind;

typedef struct {
    d_kind kind;
    const char *a, *b; /* REPLACE: pattern, content */
    size_t alen, blen;
    char ch[4]; /* STRIP content / METASPACE replacement */
    size_t chlen;
    size_t start, stop; /* STRIP */
    bool prepend;       /* METASPACE: prepend_scheme != never */
} d_step;

struct tok_decoder {
    d_step *steps;
    size_t n, cap;
};

void ingot__decoder_free(tok_decoder *d) {
    if (!d) return;
    free(d->steps);
    free(d);
}

static ingot_status one_char(const tj_value *v, const char *what, char out[4], size_t *len) {
    if (!v || v->type != TJ_STRING || v->len == 0 ||
        ingot__utf8_seq((const unsigned char *)v->u.str, v->len) != v->len)
        return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: %s decoder needs one character",
                            what);
    memcpy(out, v->u.str, v->len);
    *len = v->len;
    return INGOT_OK;
}

static ingot_status add_steps(tok_decoder *d, const tj_value *v, int depth) {
    const tj_value *t = ingot__tj_get(v, "type");
    if (!t || t->type != TJ_STRING)
        return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: decoder without a \"type\"");
    if (depth > 16)
        return ingot__error(INGOT_ERR_LIMIT, "tokenizer.json: decoders nested too deep");
    const char *type = t->u.str;
    if (!strcmp(type, "Sequence")) {
        const tj_value *list = ingot__tj_get(v, "decoders");
        if (!list || list->type != TJ_ARRAY)
            return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: Sequence decoder needs a list");
        for (uint32_t i = 0; i < list->len; i++) {
            ingot_status st = add_steps(d, &list->u.items[i], depth + 1);
            if (st) return st;
        }
        return INGOT_OK;
    }
    d_step s = {0};
    ingot_status st = INGOT_OK;
    if (!strcmp(type, "ByteLevel")) {
        s.kind = D_BYTELEVEL;
    } else if (!strcmp(type, "ByteFallback")) {
        s.kind = D_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        s.kind = D_FUSE;
    } else if (!strcmp(type, "Replace")) {
        s.kind = D_REPLACE;
        const tj_value *pat = ingot__tj_get(v, "pattern"), *c = ingot__tj_get(v, "content");
        const tj_value *ps = ingot__tj_get(pat, "String");
        if (ingot__tj_get(pat, "Regex"))
            return ingot__error(INGOT_ERR_UNSUPPORTED,
                                "tokenizer.json: Replace decoder with a Regex pattern");
        if (!ps || ps->type != TJ_STRING || !ps->len || !c || c->type != TJ_STRING)
            return ingot__error(INGOT_ERR_FORMAT,
                                "tokenizer.json: Replace decoder needs pattern.String and content");
        s.a = ps->u.str;
        s.alen = ps->len;
        s.b = c->u.str;
        s.blen = c->len;
    } else if (!strcmp(type, "Strip")) {
        s.kind = D_STRIP;
        int64_t a, b;
        if ((st = one_char(ingot__tj_get(v, "content"), "Strip", s.ch, &s.chlen))) return st;
        if (!ingot__tj_int(ingot__tj_get(v, "start"), 0, 1 << 20, &a) ||
            !ingot__tj_int(ingot__tj_get(v, "stop"), 0, 1 << 20, &b))
            return ingot__error(INGOT_ERR_FORMAT,
                                "tokenizer.json: Strip decoder needs start, stop");
        s.start = (size_t)a;
        s.stop = (size_t)b;
    } else if (!strcmp(type, "Metaspace")) {
        s.kind = D_METASPACE;
        if ((st = one_char(ingot__tj_get(v, "replacement"), "Metaspace", s.ch, &s.chlen)))
            return st;
        const tj_value *ps = ingot__tj_get(v, "prepend_scheme"),
                       *aps = ingot__tj_get(v, "add_prefix_space");
        s.prepend = ps && ps->type == TJ_STRING ? strcmp(ps->u.str, "never") != 0
                                                : !(aps && aps->type == TJ_FALSE);
    } else {
        return ingot__error(INGOT_ERR_UNSUPPORTED, "tokenizer.json: decoder type \"%s\"", type);
    }
    d_step *ns = ingot__grow(d->steps, &d->cap, d->n + 1, sizeof *ns, 4);
    if (!ns) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    d->steps = ns;
    d->steps[d->n++] = s;
    return INGOT_OK;
}

ingot_status ingot__decoder_build(tok_decoder **out, const tj_value *v) {
    *out = NULL;
    if (!v || v->type == TJ_NULL) return INGOT_OK;
    tok_decoder *d = calloc(1, sizeof *d);
    if (!d) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    ingot_status st = add_steps(d, v, 0);
    if (st) {
        ingot__decoder_free(d);
        return st;
    }
    *out = d;
    return INGOT_OK;
}

/* ---- decoding ---- */

static int byte_token(const char *t, size_t len) {
    if (len != 6 || memcmp(t, "<0x", 3) != 0 || t[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = t[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Appends the bytes a ByteLevel decoder makes of one token. */
static ingot_status bytelevel_bytes(const char *t, size_t len, tok_buf *out) {
    const tok_bytelevel *bl = ingot__bytelevel();
    size_t start = out->len;
    for (size_t i = 0; i < len;) {
        size_t adv;
        uint32_t cp = ingot__utf8_decode((const unsigned char *)t + i, &adv);
        if (cp >= 324 || bl->byte_of[cp] < 0) { /* not all mapped: the raw bytes */
            out->len = start;
            return ingot__buf_append(out, t, len);
        }
        char b = (char)bl->byte_of[cp];
        ingot_status st = ingot__buf_append(out, &b, 1);
        if (st) return st;
        i += adv;
    }
    return ingot__buf_reserve(out, 1);
}

/* ByteLevel and Fuse: every piece joined into one (ByteLevel: the bytes the characters stand
 * for, invalid UTF-8 replaced). */
static ingot_status step_join(const d_step *s, const tok_pieces *in, tok_pieces *out) {
    tok_buf tmp = {0};
    ingot_status st = INGOT_OK;
    for (size_t i = 0; i < in->n && !st; i++) {
        const char *t = in->text.data + in->p[i].off;
        st = s->kind == D_FUSE ? ingot__buf_append(&tmp, t, in->p[i].len)
                               : bytelevel_bytes(t, in->p[i].len, &tmp);
    }
    if (!st && s->kind == D_BYTELEVEL) {
        tok_buf lossy = {0};
        st = ingot__utf8_append_lossy(&lossy, (const unsigned char *)tmp.data, tmp.len);
        ingot__buf_free(&tmp);
        tmp = lossy;
    }
    if (!st) st = ingot__pieces_add(out, tmp.data ? tmp.data : "", tmp.len);
    ingot__buf_free(&tmp);
    return st;
}

/* Emits a run of `group` <0xNN> tokens' bytes: as they are when valid UTF-8, else one U+FFFD
 * per token (tokenizers' ByteFallback). Empties the run. */
static ingot_status flush_bytes(tok_buf *bytes, size_t *group, tok_pieces *out) {
    if (!*group) return INGOT_OK;
    ingot_status st = INGOT_OK;
    if (ingot__utf8_check((const unsigned char *)bytes->data, bytes->len) != bytes->len) {
        bytes->len = 0;
        for (size_t k = 0; k < *group && !st; k++)
            st = ingot__buf_append(bytes, "\xEF\xBF\xBD", 3);
    }
    if (!st) st = ingot__pieces_add(out, bytes->data, bytes->len);
    bytes->len = 0;
    *group = 0;
    return st;
}

/* ByteFallback: runs of <0xNN> tokens become one piece of text; other pieces pass. */
static ingot_status step_byte_fallback(const tok_pieces *in, tok_pieces *out) {
    tok_buf bytes = {0};
    size_t group = 0;
    ingot_status st = INGOT_OK;
    for (size_t i = 0; i < in->n && !st; i++) {
        const char *t = in->text.data + in->p[i].off;
        size_t len = in->p[i].len;
        int v = byte_token(t, len);
        if (v >= 0) {
            char c = (char)v;
            st = ingot__buf_append(&bytes, &c, 1);
            group++;
            continue;
        }
        st = flush_bytes(&bytes, &group, out);
        if (!st) st = ingot__pieces_add(out, t, len);
    }
    if (!st) st = flush_bytes(&bytes, &group, out);
    ingot__buf_free(&bytes);
    return st;
}

/* Metaspace on one piece: the replacement character becomes a space, except the sequence's
 * very first one when a space was prepended at encoding. */
static ingot_status metaspace_piece(const d_step *s, const char *t, size_t len, bool first,
                                    tok_buf *out) {
    ingot_status st = INGOT_OK;
    for (size_t k = 0; k < len && !st;) {
        if (len - k >= s->chlen && memcmp(t + k, s->ch, s->chlen) == 0) {
            if (!(first && s->prepend)) st = ingot__buf_append(out, " ", 1);
            k += s->chlen;
        } else {
            st = ingot__buf_append(out, t + k, 1);
            k++;
        }
    }
    return st;
}

/* Strip on one piece: up to start copies of the character removed at the front, stop at the
 * back. */
static ingot_status strip_piece(const d_step *s, const char *t, size_t len, tok_buf *out) {
    size_t b = 0, e = len;
    for (size_t k = 0; k < s->start && e - b >= s->chlen && !memcmp(t + b, s->ch, s->chlen); k++)
        b += s->chlen;
    for (size_t k = 0;
         k < s->stop && e - b >= s->chlen && !memcmp(t + e - s->chlen, s->ch, s->chlen); k++)
        e -= s->chlen;
    return ingot__buf_append(out, t + b, e - b);
}

/* Replace, Metaspace and Strip: each piece rewritten on its own. */
static ingot_status step_each(const d_step *s, const tok_pieces *in, tok_pieces *out,
                              bool at_start) {
    tok_buf tmp = {0};
    ingot_status st = INGOT_OK;
    for (size_t i = 0; i < in->n && !st; i++) {
        const char *t = in->text.data + in->p[i].off;
        size_t len = in->p[i].len;
        tmp.len = 0;
        if (s->kind == D_REPLACE)
            st = ingot__buf_append_replaced(&tmp, t, len, s->a, s->alen, s->b, s->blen);
        else if (s->kind == D_METASPACE)
            st = metaspace_piece(s, t, len, i == 0 && at_start, &tmp);
        else
            st = strip_piece(s, t, len, &tmp);
        if (!st) st = ingot__pieces_add(out, tmp.data ? tmp.data : "", tmp.len);
    }
    ingot__buf_free(&tmp);
    return st;
}

static ingot_status apply_step(const d_step *s, const tok_pieces *in, tok_pieces *out,
                               bool at_start) {
    switch (s->kind) {
    case D_BYTELEVEL:
    case D_FUSE: return step_join(s, in, out);
    case D_BYTEFALLBACK: return step_byte_fallback(in, out);
    case D_REPLACE:
    case D_METASPACE:
    case D_STRIP: return step_each(s, in, out, at_start);
    }
    return INGOT_OK;
}

ingot_status ingot__decode_tokens(const tok_decoder *d, const char *const *toks,
                                  const uint32_t *lens, size_t n, bool at_start, tok_buf *out) {
    ingot_status st = INGOT_OK;
    if (!d) { /* no decoder: the tokens joined by spaces */
        for (size_t i = 0; i < n && !st; i++) {
            if (i > 0 || !at_start) st = ingot__buf_append(out, " ", 1);
            if (!st) st = ingot__buf_append(out, toks[i], lens[i]);
        }
        return st ? st : ingot__buf_reserve(out, 1);
    }
    tok_pieces a = {0}, b = {0};
    for (size_t i = 0; i < n && !st; i++)
        st = ingot__pieces_add(&a, toks[i], lens[i]);
    for (size_t k = 0; k < d->n && !st; k++) {
        ingot__pieces_clear(&b);
        st = apply_step(&d->steps[k], &a, &b, at_start);
        tok_pieces t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < a.n && !st; i++)
        st = ingot__utf8_append_lossy(out, (const unsigned char *)a.text.data + a.p[i].off,
                                      a.p[i].len);
    if (!st) st = ingot__buf_reserve(out, 1);
    ingot__pieces_free(&a);
    ingot__pieces_free(&b);
    return st;
}

/* True when the bytes end inside a character that later bytes could complete. */
static bool incomplete_tail(const unsigned char *p, size_t n) {
    for (size_t k = n; k-- > 0 && n - k <= 3;) {
        if ((p[k] & 0xC0) == 0x80) continue;
        if (p[k] < 0xC2 || p[k] > 0xF4) return false;
        size_t need = p[k] < 0xE0 ? 2 : p[k] < 0xF0 ? 3 : 4;
        return n - k < need && ingot__utf8_bad_len(p + k, n - k) == n - k;
    }
    return false;
}

bool ingot__decoder_safe_point(const tok_decoder *d, const char *const *toks, const uint32_t *lens,
                               size_t n) {
    if (!d || n == 0) return true;
    for (size_t k = 0; k < d->n; k++) {
        if (d->steps[k].kind == D_BYTEFALLBACK && byte_token(toks[n - 1], lens[n - 1]) >= 0)
            return false;
        if (d->steps[k].kind == D_BYTELEVEL) {
            tok_buf b = {0};
            bool bad = false;
            /* only the last few tokens can hold an unfinished character */
            size_t from = n > 4 ? n - 4 : 0;
            for (size_t i = from; i < n && !bad; i++)
                bad = bytelevel_bytes(toks[i], lens[i], &b) != INGOT_OK;
            bad = bad || incomplete_tail((const unsigned char *)b.data, b.len);
            ingot__buf_free(&b);
            if (bad) return false;
        }
    }
    return true;
}
