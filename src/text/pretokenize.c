/* Pre-tokenizers: Split (string or regex pattern, every split behavior,
 * invert), ByteLevel (prefix space, GPT-2 regex, byte -> printable char),
 * Metaspace and Sequence. Regexes are PCRE2 with UTF+UCP+JIT, with \s and \S
 * rewritten to Unicode White_Space, which is what Oniguruma (used by
 * Hugging Face tokenizers) means by \s. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "text/tok_internal.h"

typedef enum { P_SPLIT, P_BYTELEVEL, P_METASPACE, P_SEQUENCE } p_kind;
typedef enum { B_REMOVED, B_ISOLATED, B_PREV, B_NEXT, B_CONTIGUOUS } p_behavior;

struct tok_pretok {
    p_kind kind;
    pcre2_code *re;  /* SPLIT (regex) or BYTELEVEL (use_regex) */
    const char *lit; /* SPLIT with a string pattern */
    size_t litlen;
    p_behavior behavior;
    bool invert;
    bool prefix_space; /* BYTELEVEL */
    char rep[4];       /* METASPACE replacement (UTF-8) */
    size_t replen;
    int prepend; /* METASPACE: 0 never, 1 first, 2 always */
    bool split;
    tok_pretok **items; /* SEQUENCE */
    size_t n;
    const tok_pretok **flat; /* the root's steps in order, Sequences flattened */
    size_t nflat;
};

static const char GPT2_REGEX[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char WS_CLASS[] = "\\t-\\r\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}"
                               "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}";

static tok_bytelevel bytelevel_table;
static pthread_once_t bytelevel_once = PTHREAD_ONCE_INIT;

static void bytelevel_init(void) {
    tok_bytelevel *t = &bytelevel_table;
    int extra = 0;
    for (int i = 0; i < 324; i++)
        t->byte_of[i] = -1;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        uint32_t cp = printable ? (uint32_t)b : 256u + (uint32_t)extra++;
        char enc[4];
        int k = ingot__utf8_encode(cp, enc);
        memcpy(t->s[b], enc, (size_t)k);
        t->len[b] = (uint8_t)k;
        t->byte_of[cp] = (int16_t)b;
    }
}

const tok_bytelevel *ingot__bytelevel(void) {
    pthread_once(&bytelevel_once, bytelevel_init);
    return &bytelevel_table;
}

void ingot__pretok_free(tok_pretok *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++)
        ingot__pretok_free(p->items[i]);
    free(p->items);
    free(p->flat);
    pcre2_code_free(p->re);
    free(p);
}

/* Compiles an Oniguruma-style pattern: \s and \S become White_Space classes. */
static ingot_status compile_regex(pcre2_code **out, const char *pat, size_t len) {
    tok_buf b = {0};
    ingot_status st = INGOT_OK;
    bool in_class = false;
    for (size_t i = 0; i < len && !st; i++) {
        char c = pat[i];
        if (c == '\\' && i + 1 < len) {
            char e = pat[i + 1];
            if (e == 's' && in_class) {
                st = ingot__buf_append(&b, WS_CLASS, sizeof WS_CLASS - 1);
            } else if ((e == 's' || e == 'S') && !in_class) {
                st = ingot__buf_append(&b, e == 's' ? "[" : "[^", e == 's' ? 1 : 2);
                if (!st) st = ingot__buf_append(&b, WS_CLASS, sizeof WS_CLASS - 1);
                if (!st) st = ingot__buf_append(&b, "]", 1);
            } else {
                st = ingot__buf_append(&b, pat + i, 2);
            }
            i++;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            st = ingot__buf_append(&b, &c, 1);
            /* a ']' right after '[' or '[^' is a literal */
            if (!st && i + 1 < len && pat[i + 1] == '^') st = ingot__buf_append(&b, pat + ++i, 1);
            if (!st && i + 1 < len && pat[i + 1] == ']') st = ingot__buf_append(&b, pat + ++i, 1);
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        st = ingot__buf_append(&b, &c, 1);
    }
    if (st) {
        ingot__buf_free(&b);
        return st;
    }
    int err;
    PCRE2_SIZE erroff;
    *out = pcre2_compile((PCRE2_SPTR)b.data, b.len, PCRE2_UTF | PCRE2_UCP, &err, &erroff, NULL);
    ingot__buf_free(&b);
    if (!*out) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return ingot__error(INGOT_ERR_UNSUPPORTED,
                            "tokenizer.json: regex /%.*s/ is not supported: %s at offset %zu",
                            (int)(len > 200 ? 200 : len), pat, (const char *)msg, (size_t)erroff);
    }
    pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is off */
    return INGOT_OK;
}

static ingot_status build_split(tok_pretok *p, const tj_value *v) {
    const tj_value *pat = ingot__tj_get(v, "pattern");
    const tj_value *s = ingot__tj_get(pat, "String"), *r = ingot__tj_get(pat, "Regex");
    const tj_value *beh = ingot__tj_get(v, "behavior"), *inv = ingot__tj_get(v, "invert");
    if (!(s && s->type == TJ_STRING) && !(r && r->type == TJ_STRING))
        return ingot__error(INGOT_ERR_FORMAT,
                            "tokenizer.json: Split pre-tokenizer needs pattern.String or .Regex");
    if (!beh || beh->type != TJ_STRING)
        return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: Split pre-tokenizer needs behavior");
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
                                        "MergedWithNext", "Contiguous"};
    size_t k = 0;
    while (k < 5 && strcmp(beh->u.str, names[k]) != 0)
        k++;
    if (k == 5)
        return ingot__error(INGOT_ERR_UNSUPPORTED, "tokenizer.json: Split behavior \"%s\"",
                            beh->u.str);
    p->behavior = (p_behavior)k;
    p->invert = inv && inv->type == TJ_TRUE;
    if (s && s->type == TJ_STRING) {
        p->lit = s->u.str;
        p->litlen = s->len;
        return INGOT_OK;
    }
    return compile_regex(&p->re, r->u.str, r->len);
}

static ingot_status build_metaspace(tok_pretok *p, const tj_value *v) {
    const tj_value *rep = ingot__tj_get(v, "replacement"), *ps = ingot__tj_get(v, "prepend_scheme");
    const tj_value *aps = ingot__tj_get(v, "add_prefix_space"), *sp = ingot__tj_get(v, "split");
    if (!rep || rep->type != TJ_STRING || rep->len == 0 ||
        ingot__utf8_seq((const unsigned char *)rep->u.str, rep->len) != rep->len)
        return ingot__error(INGOT_ERR_FORMAT,
                            "tokenizer.json: Metaspace needs a one-character replacement");
    memcpy(p->rep, rep->u.str, rep->len);
    p->replen = rep->len;
    p->prepend = 2;
    if (ps && ps->type == TJ_STRING) {
        p->prepend = !strcmp(ps->u.str, "never") ? 0 : !strcmp(ps->u.str, "first") ? 1 : 2;
    } else if (aps && aps->type == TJ_FALSE) {
        p->prepend = 0;
    }
    p->split = !(sp && sp->type == TJ_FALSE);
    return INGOT_OK;
}

static ingot_status pretok_build(tok_pretok **out, const tj_value *v, int depth) {
    *out = NULL;
    if (depth > 16) return ingot__error(INGOT_ERR_LIMIT, "tokenizer.json: pre_tokenizer too deep");
    if (!v || v->type == TJ_NULL) return INGOT_OK;
    const tj_value *t = ingot__tj_get(v, "type");
    if (!t || t->type != TJ_STRING)
        return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: pre_tokenizer without a \"type\"");
    tok_pretok *p = calloc(1, sizeof *p);
    if (!p) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    const char *type = t->u.str;
    ingot_status st = INGOT_OK;
    if (!strcmp(type, "Split")) {
        p->kind = P_SPLIT;
        st = build_split(p, v);
    } else if (!strcmp(type, "ByteLevel")) {
        p->kind = P_BYTELEVEL;
        const tj_value *aps = ingot__tj_get(v, "add_prefix_space"),
                       *ur = ingot__tj_get(v, "use_regex");
        p->prefix_space = aps && aps->type == TJ_TRUE;
        if (!(ur && ur->type == TJ_FALSE))
            st = compile_regex(&p->re, GPT2_REGEX, sizeof GPT2_REGEX - 1);
    } else if (!strcmp(type, "Metaspace")) {
        p->kind = P_METASPACE;
        st = build_metaspace(p, v);
    } else if (!strcmp(type, "Sequence")) {
        p->kind = P_SEQUENCE;
        const tj_value *list = ingot__tj_get(v, "pretokenizers");
        if (!list || list->type != TJ_ARRAY) {
            st = ingot__error(INGOT_ERR_FORMAT,
                              "tokenizer.json: Sequence pre-tokenizer needs a list");
        } else if (list->len && !(p->items = calloc(list->len, sizeof *p->items))) {
            st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        } else {
            for (uint32_t i = 0; i < list->len && !st; i++) {
                st = pretok_build(&p->items[i], &list->u.items[i], depth + 1);
                if (!st) p->n++;
            }
        }
    } else {
        st = ingot__error(INGOT_ERR_UNSUPPORTED, "tokenizer.json: pre-tokenizer type \"%s\"", type);
    }
    if (st) {
        ingot__pretok_free(p);
        return st;
    }
    *out = p;
    return INGOT_OK;
}

static size_t count_steps(const tok_pretok *p) {
    if (p->kind != P_SEQUENCE) return 1;
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += count_steps(p->items[i]);
    return n;
}

static void flatten(const tok_pretok *p, const tok_pretok **out, size_t *n) {
    if (p->kind != P_SEQUENCE) {
        out[(*n)++] = p;
        return;
    }
    for (size_t i = 0; i < p->n; i++)
        flatten(p->items[i], out, n);
}

ingot_status ingot__pretok_build(tok_pretok **out, const tj_value *v) {
    ingot_status st = pretok_build(out, v, 0);
    if (st || !*out) return st;
    tok_pretok *p = *out;
    size_t n = count_steps(p);
    if (!(p->flat = malloc((n ? n : 1) * sizeof *p->flat))) {
        ingot__pretok_free(p);
        *out = NULL;
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    }
    flatten(p, p->flat, &p->nflat);
    return INGOT_OK;
}

/* ---- splitting ---- */

typedef struct {
    size_t start, end;
    bool match;
} span;

typedef struct {
    span *s;
    size_t n, cap;
} spans;

static ingot_status spans_add(spans *v, size_t start, size_t end, bool match) {
    span *ns = ingot__grow(v->s, &v->cap, v->n + 1, sizeof *ns, 256);
    if (!ns) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    v->s = ns;
    v->s[v->n++] = (span){start, end, match};
    return INGOT_OK;
}

/* The (offsets, is_match) cover of s as tokenizers' Pattern::find_matches. */
static ingot_status find_matches(const tok_pretok *p, pcre2_match_data *md, const char *s,
                                 size_t len, spans *out) {
    out->n = 0;
    if (len == 0) return spans_add(out, 0, 0, false);
    size_t prev = 0, pos = 0;
    ingot_status st = INGOT_OK;
    while (pos <= len && !st) {
        size_t ms, me;
        if (p->re) {
            int rc = pcre2_match(p->re, (PCRE2_SPTR)s, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return ingot__error(INGOT_ERR_LIMIT, "tokenizer: regex match failed: %s",
                                    (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            ms = ov[0];
            me = ov[1];
        } else {
            const char *hit = memmem(s + pos, len - pos, p->lit, p->litlen);
            if (!hit) break;
            ms = (size_t)(hit - s);
            me = ms + p->litlen;
        }
        if (prev != ms) st = spans_add(out, prev, ms, false);
        if (!st) st = spans_add(out, ms, me, true);
        prev = me;
        if (me == ms) { /* empty match: step one character */
            if (me >= len) break;
            size_t adv = 1;
            ingot__utf8_decode((const unsigned char *)s + me, &adv);
            pos = me + adv;
        } else {
            pos = me;
        }
    }
    if (!st && prev != len) st = spans_add(out, prev, len, false);
    return st;
}

/* Applies a split behavior in place (tokenizers' NormalizedString::split); afterwards a span
 * with match set is to be removed. */
static void apply_behavior(spans *v, p_behavior b, bool invert) {
    if (invert)
        for (size_t i = 0; i < v->n; i++)
            v->s[i].match = !v->s[i].match;
    if (b == B_REMOVED) return;
    size_t n = v->n, w = 0;
    bool prev = false, have_prev = false;
    if (b == B_NEXT) { /* fold from the back, writing from the back */
        size_t r = n;
        for (size_t k = n; k-- > 0;) {
            span cur = v->s[k];
            if (cur.match && !prev && r < n) {
                v->s[r].start = cur.start;
            } else {
                v->s[--r] = cur;
                v->s[r].match = false;
            }
            prev = cur.match;
        }
        memmove(v->s, v->s + r, (n - r) * sizeof *v->s);
        v->n = n - r;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        bool m = v->s[i].match;
        bool merge = b == B_PREV         ? m && !prev && w > 0
                     : b == B_CONTIGUOUS ? have_prev && m == prev && w > 0
                                         : false;
        if (merge) {
            v->s[w - 1].end = v->s[i].end;
        } else {
            v->s[w] = v->s[i];
            v->s[w++].match = false;
        }
        prev = m;
        have_prev = true;
    }
    v->n = w;
}

struct tok_pretok_work {
    pcre2_match_data *md;
    spans *sp; /* per depth */
    tok_buf *buf, *mapped;
    size_t depth;
};

tok_pretok_work *ingot__pretok_work_new(const tok_pretok *p) {
    tok_pretok_work *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->depth = p ? p->nflat : 0;
    size_t d = w->depth ? w->depth : 1;
    w->sp = calloc(d, sizeof *w->sp);
    w->buf = calloc(d, sizeof *w->buf);
    w->mapped = calloc(d, sizeof *w->mapped);
    w->md = pcre2_match_data_create(4, NULL);
    if (!w->sp || !w->buf || !w->mapped || !w->md) {
        ingot__pretok_work_free(w);
        return NULL;
    }
    return w;
}

void ingot__pretok_work_free(tok_pretok_work *w) {
    if (!w) return;
    for (size_t i = 0; i < w->depth && w->sp && w->buf && w->mapped; i++) {
        free(w->sp[i].s);
        ingot__buf_free(&w->buf[i]);
        ingot__buf_free(&w->mapped[i]);
    }
    free(w->sp);
    free(w->buf);
    free(w->mapped);
    pcre2_match_data_free(w->md);
    free(w);
}

typedef struct {
    const tok_pretok *p;
    tok_pretok_work *w;
    tok_word_fn fn;
    void *ctx;
} pt_run;

static ingot_status run_depth(const pt_run *r, size_t k, const char *s, size_t len, bool origin);

/* Splits s by step (pattern, behavior) and passes each kept piece to depth k + 1. */
static ingot_status split_and_recurse(const pt_run *r, size_t k, const tok_pretok *step,
                                      const char *s, size_t len, p_behavior b, bool origin) {
    spans *sp = &r->w->sp[k];
    ingot_status st = find_matches(step, r->w->md, s, len, sp);
    if (st) return st;
    apply_behavior(sp, b, step->invert);
    for (size_t i = 0; i < sp->n && !st; i++) {
        span x = sp->s[i];
        if (x.match || x.end == x.start) continue; /* removed, or empty */
        st = run_depth(r, k + 1, s + x.start, x.end - x.start, origin && x.start == 0);
    }
    return st;
}

/* Maps bytes to the printable ByteLevel characters and passes them on. */
static ingot_status bytelevel_recurse(const pt_run *r, size_t k, const char *s, size_t len,
                                      bool origin) {
    const tok_bytelevel *bl = ingot__bytelevel();
    tok_buf *m = &r->w->mapped[k];
    m->len = 0;
    ingot_status st = ingot__buf_reserve(m, 2 * len + 1);
    if (st) return st;
    for (size_t j = 0; j < len; j++) {
        unsigned char c = (unsigned char)s[j];
        memcpy(m->data + m->len, bl->s[c], 2);
        m->len += bl->len[c];
    }
    return run_depth(r, k + 1, m->data, m->len, origin);
}

static ingot_status run_depth(const pt_run *r, size_t k, const char *s, size_t len, bool origin) {
    if (!len) return INGOT_OK;
    if (k == r->p->nflat) return r->fn(r->ctx, s, len);
    const tok_pretok *step = r->p->flat[k];
    tok_buf *b = &r->w->buf[k];
    ingot_status st = INGOT_OK;
    switch (step->kind) {
    case P_SPLIT: return split_and_recurse(r, k, step, s, len, step->behavior, origin);
    case P_BYTELEVEL:
        if (step->prefix_space && s[0] != ' ') {
            b->len = 0;
            if ((st = ingot__buf_append(b, " ", 1)) || (st = ingot__buf_append(b, s, len)))
                return st;
            s = b->data;
            len = b->len;
        }
        if (!step->re) return bytelevel_recurse(r, k, s, len, origin);
        {
            spans *sp = &r->w->sp[k];
            if ((st = find_matches(step, r->w->md, s, len, sp))) return st;
            for (size_t i = 0; i < sp->n && !st; i++)
                st = bytelevel_recurse(r, k, s + sp->s[i].start, sp->s[i].end - sp->s[i].start,
                                       origin && sp->s[i].start == 0);
        }
        return st;
    case P_METASPACE: {
        b->len = 0;
        bool starts =
            (len >= step->replen && memcmp(s, step->rep, step->replen) == 0) || s[0] == ' ';
        if ((step->prepend == 2 || (step->prepend == 1 && origin)) && !starts)
            st = ingot__buf_append(b, step->rep, step->replen);
        for (size_t j = 0; j < len && !st;) {
            const char *sp = memchr(s + j, ' ', len - j);
            size_t stop = sp ? (size_t)(sp - s) : len;
            st = ingot__buf_append(b, s + j, stop - j);
            if (!st && sp) st = ingot__buf_append(b, step->rep, step->replen);
            j = sp ? stop + 1 : len;
        }
        if (st) return st;
        if (!step->split) return run_depth(r, k + 1, b->data, b->len, origin);
        tok_pretok lit = {.kind = P_SPLIT, .lit = step->rep, .litlen = step->replen};
        return split_and_recurse(r, k, &lit, b->data, b->len, B_NEXT, origin);
    }
    case P_SEQUENCE: break; /* flattened away */
    }
    return INGOT_OK;
}

ingot_status ingot__pretokenize(const tok_pretok *p, tok_pretok_work *w, const char *s, size_t len,
                                bool at_origin, tok_word_fn fn, void *ctx) {
    if (!p) return len ? fn(ctx, s, len) : INGOT_OK;
    pt_run r = {p, w, fn, ctx};
    return run_depth(&r, 0, s, len, at_origin);
}
