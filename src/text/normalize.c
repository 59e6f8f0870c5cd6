/* Normalizers: NFC, NFD, NFKC, NFKD (utf8proc), Lowercase, Replace (string
 * pattern), Prepend, Strip and Sequence, as Hugging Face tokenizers applies them. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/internal.h"
#include "text/tok_internal.h"

typedef enum { N_UNICODE, N_LOWERCASE, N_REPLACE, N_PREPEND, N_STRIP, N_SEQUENCE } n_kind;

struct tok_normalizer {
    n_kind kind;
    utf8proc_option_t form; /* N_UNICODE */
    const char *a, *b;      /* REPLACE: pattern, content; PREPEND: a */
    size_t alen, blen;
    bool left, right;       /* STRIP */
    tok_normalizer **items; /* SEQUENCE */
    size_t n;
};

/* ---- NFC quick path ----
 * A codepoint is "inert" when it is a starter (combining class 0), NFC maps it to itself and
 * it is never the second half of a canonical composition. NFC(A + B) = NFC(A) + NFC(B) when B
 * starts with an inert character, and a run of inert characters is its own NFC, so only the
 * stretches around other characters go through utf8proc. */
#define INERT_LIMIT 0x30000 /* no canonical decomposition above this */
static uint8_t nfc_unsafe[INERT_LIMIT / 8];
static pthread_once_t nfc_once = PTHREAD_ONCE_INIT;

static void mark_unsafe(utf8proc_int32_t cp) {
    if (cp >= 0 && cp < INERT_LIMIT) nfc_unsafe[cp >> 3] |= (uint8_t)(1u << (cp & 7));
}

static void nfc_init(void) {
    for (utf8proc_int32_t cp = 0x300; cp < INERT_LIMIT; cp++) {
        const utf8proc_property_t *p = utf8proc_get_property(cp);
        if (p->combining_class != 0) mark_unsafe(cp);
        utf8proc_int32_t d[8];
        int last = 0;
        utf8proc_ssize_t n = utf8proc_decompose_char(cp, d, 8, UTF8PROC_DECOMPOSE, &last);
        if (n == 1 && d[0] == cp) continue;
        for (utf8proc_ssize_t k = 1; k < n && n <= 8; k++)
            mark_unsafe(d[k]);
        /* a decomposable character is inert only when NFC gives it back (not a singleton,
         * not excluded from composition) */
        char enc[4];
        utf8proc_uint8_t *nfc = NULL;
        int len = ingot__utf8_encode((uint32_t)cp, enc);
        utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)enc, len, &nfc,
                                          UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (r != len || memcmp(nfc, enc, (size_t)len) != 0) mark_unsafe(cp);
        free(nfc);
    }
}

static bool nfc_inert(uint32_t cp) {
    if (cp < 0x300) return true;
    if (cp < INERT_LIMIT) return !(nfc_unsafe[cp >> 3] & (1u << (cp & 7)));
    return utf8proc_get_property((utf8proc_int32_t)cp)->combining_class == 0;
}

static ingot_status map_append(const char *s, size_t len, utf8proc_option_t form, tok_buf *out) {
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r =
        utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst, form);
    if (r < 0) {
        free(dst);
        return ingot__error(r == UTF8PROC_ERROR_NOMEM ? INGOT_ERR_OUT_OF_MEMORY
                                                      : INGOT_ERR_INVALID_ARGUMENT,
                            "tokenizer: normalization failed: %s", utf8proc_errmsg(r));
    }
    ingot_status st = ingot__buf_append(out, dst, (size_t)r);
    free(dst);
    return st;
}

/* Appends the NFC form of s, running utf8proc only around non-inert characters. */
static ingot_status nfc_append(const char *s, size_t len, utf8proc_option_t form, tok_buf *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, prev = 0; /* prev: start of the character before position k */
    ingot_status st = INGOT_OK;
    while (i < len && !st) {
        size_t k = i, adv = 1;
        prev = i;
        for (;;) {
            while (k < len && u[k] < 0x80)
                prev = k++;
            if (k >= len) break;
            uint32_t cp = ingot__utf8_decode(u + k, &adv);
            if (!nfc_inert(cp)) break;
            prev = k;
            k += adv;
        }
        if (k >= len) return ingot__buf_append(out, s + i, len - i);
        size_t r = k > i ? prev : k; /* the starter before the first non-inert character */
        size_t e = k + adv;
        while (e < len) {
            uint32_t cp = ingot__utf8_decode(u + e, &adv);
            if (nfc_inert(cp)) break;
            e += adv;
        }
        st = ingot__buf_append(out, s + i, r - i);
        if (!st) st = map_append(s + r, e - r, form, out);
        i = e;
    }
    return st;
}

void ingot__normalizer_free(tok_normalizer *n) {
    if (!n) return;
    for (size_t i = 0; i < n->n; i++)
        ingot__normalizer_free(n->items[i]);
    free(n->items);
    free(n);
}

static bool str_field(const tj_value *v, const char *key, const char **s, size_t *len) {
    const tj_value *f = ingot__tj_get(v, key);
    if (!f || f->type != TJ_STRING) return false;
    *s = f->u.str;
    *len = f->len;
    return true;
}

ingot_status ingot__normalizer_build(tok_normalizer **out, const tj_value *v) {
    *out = NULL;
    if (!v || v->type == TJ_NULL) return INGOT_OK;
    const tj_value *t = ingot__tj_get(v, "type");
    if (!t || t->type != TJ_STRING)
        return ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: normalizer without a \"type\"");
    tok_normalizer *n = calloc(1, sizeof *n);
    if (!n) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    const char *type = t->u.str;
    ingot_status st = INGOT_OK;
    if (!strcmp(type, "NFC") || !strcmp(type, "NFD") || !strcmp(type, "NFKC") ||
        !strcmp(type, "NFKD")) {
        n->kind = N_UNICODE;
        n->form = UTF8PROC_STABLE |
                  (type[2] == 'C' || type[3] == 'C' ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE);
        if (type[2] == 'K') n->form |= UTF8PROC_COMPAT;
        if (!strcmp(type, "NFC")) pthread_once(&nfc_once, nfc_init);
    } else if (!strcmp(type, "Lowercase")) {
        n->kind = N_LOWERCASE;
    } else if (!strcmp(type, "Replace")) {
        n->kind = N_REPLACE;
        const tj_value *pat = ingot__tj_get(v, "pattern");
        if (ingot__tj_get(pat, "Regex"))
            st = ingot__error(INGOT_ERR_UNSUPPORTED,
                              "tokenizer.json: Replace normalizer with a Regex pattern");
        else if (!str_field(pat, "String", &n->a, &n->alen) ||
                 !str_field(v, "content", &n->b, &n->blen) || n->alen == 0)
            st =
                ingot__error(INGOT_ERR_FORMAT,
                             "tokenizer.json: Replace normalizer needs pattern.String and content");
    } else if (!strcmp(type, "Prepend")) {
        n->kind = N_PREPEND;
        if (!str_field(v, "prepend", &n->a, &n->alen))
            st = ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: Prepend normalizer needs prepend");
    } else if (!strcmp(type, "Strip")) {
        n->kind = N_STRIP;
        const tj_value *l = ingot__tj_get(v, "strip_left"), *r = ingot__tj_get(v, "strip_right");
        n->left = l && l->type == TJ_TRUE;
        n->right = r && r->type == TJ_TRUE;
    } else if (!strcmp(type, "Sequence")) {
        n->kind = N_SEQUENCE;
        const tj_value *list = ingot__tj_get(v, "normalizers");
        if (!list || list->type != TJ_ARRAY) {
            st = ingot__error(INGOT_ERR_FORMAT, "tokenizer.json: Sequence normalizer needs a list");
        } else if (list->len && !(n->items = calloc(list->len, sizeof *n->items))) {
            st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        } else {
            for (uint32_t i = 0; i < list->len && !st; i++) {
                st = ingot__normalizer_build(&n->items[i], &list->u.items[i]);
                if (!st) n->n++;
            }
        }
    } else {
        st = ingot__error(INGOT_ERR_UNSUPPORTED, "tokenizer.json: normalizer type \"%s\"", type);
    }
    if (st) {
        ingot__normalizer_free(n);
        return st;
    }
    *out = n;
    return INGOT_OK;
}

static ingot_status norm_one(const tok_normalizer *n, const char *s, size_t len, tok_buf *out) {
    ingot_status st = INGOT_OK;
    switch (n->kind) {
    case N_UNICODE: {
        if (n->form == (UTF8PROC_STABLE | UTF8PROC_COMPOSE))
            return nfc_append(s, len, n->form, out);
        size_t i = 0;
        while (i < len && (unsigned char)s[i] < 0x80)
            i++;
        if (i == len) return ingot__buf_append(out, s, len);
        return map_append(s, len, n->form, out);
    }
    case N_LOWERCASE:
        for (size_t i = 0; i < len && !st;) {
            size_t adv;
            uint32_t cp = ingot__utf8_decode((const unsigned char *)s + i, &adv);
            char enc[4];
            int k = ingot__utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), enc);
            /* Rust's char::to_lowercase: U+0130 is the one character that becomes two */
            st = cp == 0x130 ? ingot__buf_append(out, "i\xCC\x87", 3)
                             : ingot__buf_append(out, enc, (size_t)k);
            i += adv;
        }
        return st;
    case N_REPLACE: return ingot__buf_append_replaced(out, s, len, n->a, n->alen, n->b, n->blen);
    case N_PREPEND:
        if (len && (st = ingot__buf_append(out, n->a, n->alen))) return st;
        return ingot__buf_append(out, s, len);
    case N_STRIP: {
        size_t b = 0, e = len;
        while (n->left && b < e) {
            size_t adv;
            if (!ingot__unicode_ws(ingot__utf8_decode((const unsigned char *)s + b, &adv))) break;
            b += adv;
        }
        while (n->right && e > b) {
            size_t k = e - 1, adv;
            while (k > b && ((unsigned char)s[k] & 0xC0) == 0x80)
                k--;
            if (!ingot__unicode_ws(ingot__utf8_decode((const unsigned char *)s + k, &adv))) break;
            e = k;
        }
        return ingot__buf_append(out, s + b, e - b);
    }
    case N_SEQUENCE: {
        tok_buf a = {0}, b = {0};
        st = ingot__buf_append(&a, s, len);
        for (size_t i = 0; i < n->n && !st; i++) {
            b.len = 0;
            st = ingot__buf_reserve(&b, 1);
            if (!st) st = norm_one(n->items[i], a.data, a.len, &b);
            tok_buf t = a;
            a = b;
            b = t;
        }
        if (!st) st = ingot__buf_append(out, a.data, a.len);
        ingot__buf_free(&a);
        ingot__buf_free(&b);
        return st;
    }
    }
    return INGOT_OK;
}

ingot_status ingot__normalize(const tok_normalizer *n, const char *s, size_t len, tok_buf *out) {
    if (!n) return ingot__buf_append(out, s, len);
    return norm_one(n, s, len, out);
}
