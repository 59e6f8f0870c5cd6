/* A small JSON reader for tokenizer files: one pass, all values in an arena,
 * strict RFC 8259 grammar, validated UTF-8, nesting depth capped. Faster than
 * a general DOM for the 33 MB / 800k-value Gemma 3 tokenizer.json. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "text/tok_internal.h"

#define TJ_MAX_DEPTH 128
#define TJ_CHUNK ((size_t)1 << 16)

typedef struct tj_chunk {
    struct tj_chunk *next;
    size_t used, cap;
    tj_value v[];
} tj_chunk;

struct tj_doc {
    tj_chunk *chunks;
    char *strings; /* unescaped string bytes, one NUL after each */
};

typedef struct {
    const char *s, *end, *start;
    char *sout;
    tj_doc *doc;
    tj_value *stack; /* items of the open arrays/objects */
    size_t sp, scap;
    const char *what;
} tj_parser;

static ingot_status tj_fail(const tj_parser *p, const char *msg) {
    size_t line = 1, col = 1;
    for (const char *q = p->start; q < p->s && q < p->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return ingot__error(INGOT_ERR_FORMAT, "%s: malformed JSON at line %zu, column %zu: %s", p->what,
                        line, col, msg);
}

static tj_value *tj_alloc(tj_doc *doc, size_t n) {
    tj_chunk *c = doc->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > TJ_CHUNK ? n : TJ_CHUNK;
        tj_chunk *nc = malloc(sizeof *nc + cap * sizeof(tj_value));
        if (!nc) return NULL;
        nc->used = 0;
        nc->cap = cap;
        nc->next = c;
        doc->chunks = nc;
        c = nc;
    }
    tj_value *v = c->v + c->used;
    c->used += n;
    return v;
}

static ingot_status tj_push(tj_parser *p, const tj_value *v) {
    tj_value *ns = ingot__grow(p->stack, &p->scap, p->sp + 1, sizeof *ns, 1024);
    if (!ns) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", p->what);
    p->stack = ns;
    p->stack[p->sp++] = *v;
    return INGOT_OK;
}

static void tj_ws(tj_parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t'))
        p->s++;
}

static int tj_hex4(const char *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static ingot_status tj_string(tj_parser *p, tj_value *out) {
    p->s++; /* opening quote */
    char *o = p->sout;
    const char *s = p->s;
    for (;;) {
        const char *run = s;
        while (s < p->end && (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x80 && *s != '"' &&
               *s != '\\')
            s++;
        memcpy(o, run, (size_t)(s - run));
        o += s - run;
        if (s >= p->end) {
            p->s = s;
            return tj_fail(p, "unterminated string");
        }
        unsigned char c = (unsigned char)*s;
        if (c == '"') break;
        if (c < 0x20) {
            p->s = s;
            return tj_fail(p, "control character in string");
        }
        if (c >= 0x80) {
            size_t n = ingot__utf8_seq((const unsigned char *)s, (size_t)(p->end - s));
            if (!n) {
                p->s = s;
                return tj_fail(p, "invalid UTF-8 in string");
            }
            memcpy(o, s, n);
            o += n;
            s += n;
            continue;
        }
        /* escape */
        if (p->end - s < 2) {
            p->s = s;
            return tj_fail(p, "unterminated escape");
        }
        char e = s[1];
        s += 2;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char repl[] = "\"\\/\b\f\n\r\t";
            *o++ = repl[simple - "\"\\/bfnrt"];
            continue;
        }
        if (e != 'u' || p->end - s < 4 || tj_hex4(s) < 0) {
            p->s = s - 2;
            return tj_fail(p, "invalid escape");
        }
        uint32_t cp = (uint32_t)tj_hex4(s);
        s += 4;
        if (cp >= 0xD800 && cp < 0xDC00) {
            int lo = p->end - s >= 6 && s[0] == '\\' && s[1] == 'u' ? tj_hex4(s + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) {
                p->s = s - 6;
                return tj_fail(p, "unpaired surrogate escape");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            s += 6;
        } else if (cp >= 0xDC00 && cp < 0xE000) {
            p->s = s - 6;
            return tj_fail(p, "unpaired surrogate escape");
        }
        o += ingot__utf8_encode(cp, o);
    }
    out->type = TJ_STRING;
    out->u.str = p->sout;
    size_t len = (size_t)(o - p->sout);
    if (len > UINT32_MAX) return tj_fail(p, "string too long");
    out->len = (uint32_t)len;
    *o++ = '\0';
    p->sout = o;
    p->s = s + 1;
    return INGOT_OK;
}

static ingot_status tj_number(tj_parser *p, tj_value *out) {
    const char *s = p->s, *b = s;
    if (s < p->end && *s == '-') s++;
    if (s >= p->end || *s < '0' || *s > '9') return tj_fail(p, "invalid value");
    if (*s == '0') {
        s++;
    } else {
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    }
    bool integer = true;
    if (s < p->end && *s == '.') {
        integer = false;
        s++;
        if (s >= p->end || *s < '0' || *s > '9') return tj_fail(p, "invalid number");
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < p->end && (*s == 'e' || *s == 'E')) {
        integer = false;
        s++;
        if (s < p->end && (*s == '+' || *s == '-')) s++;
        if (s >= p->end || *s < '0' || *s > '9') return tj_fail(p, "invalid number");
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    }
    out->type = TJ_NUMBER;
    out->len = 0;
    if (integer && s - b <= 15) {
        int64_t v = 0;
        for (const char *q = *b == '-' ? b + 1 : b; q < s; q++)
            v = v * 10 + (*q - '0');
        out->u.num = (double)(*b == '-' ? -v : v);
    } else {
        char tmp[64];
        size_t n = (size_t)(s - b);
        if (n >= sizeof tmp) {
            char *heap = malloc(n + 1);
            if (!heap) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", p->what);
            memcpy(heap, b, n);
            heap[n] = '\0';
            out->u.num = ingot__strtod_c(heap, NULL);
            free(heap);
        } else {
            memcpy(tmp, b, n);
            tmp[n] = '\0';
            out->u.num = ingot__strtod_c(tmp, NULL);
        }
    }
    p->s = s;
    return INGOT_OK;
}

static bool tj_lit(tj_parser *p, const char *lit, size_t n) {
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, lit, n) != 0) return false;
    p->s += n;
    return true;
}

static ingot_status tj_value_parse(tj_parser *p, tj_value *out, int depth);

static ingot_status tj_container(tj_parser *p, tj_value *out, int depth, bool object) {
    if (depth >= TJ_MAX_DEPTH) return tj_fail(p, "nesting too deep");
    char close = object ? '}' : ']';
    p->s++;
    size_t base = p->sp;
    ingot_status st = INGOT_OK;
    tj_ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
    } else {
        for (;;) {
            tj_value v;
            tj_ws(p);
            if (object) {
                if (p->s >= p->end || *p->s != '"') return tj_fail(p, "expected a string key");
                if ((st = tj_string(p, &v)) || (st = tj_push(p, &v))) return st;
                tj_ws(p);
                if (p->s >= p->end || *p->s != ':') return tj_fail(p, "expected ':'");
                p->s++;
                tj_ws(p);
            }
            if ((st = tj_value_parse(p, &v, depth + 1)) || (st = tj_push(p, &v))) return st;
            tj_ws(p);
            if (p->s < p->end && *p->s == ',') {
                p->s++;
                continue;
            }
            if (p->s < p->end && *p->s == close) {
                p->s++;
                break;
            }
            return tj_fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    size_t n = p->sp - base;
    out->type = object ? TJ_OBJECT : TJ_ARRAY;
    if (n / (object ? 2 : 1) > UINT32_MAX) return tj_fail(p, "too many items");
    out->len = (uint32_t)(object ? n / 2 : n);
    out->u.items = NULL;
    if (n) {
        out->u.items = tj_alloc(p->doc, n);
        if (!out->u.items)
            return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", p->what);
        memcpy(out->u.items, p->stack + base, n * sizeof(tj_value));
    }
    p->sp = base;
    return INGOT_OK;
}

static ingot_status tj_value_parse(tj_parser *p, tj_value *out, int depth) {
    tj_ws(p);
    if (p->s >= p->end) return tj_fail(p, "unexpected end of document");
    out->len = 0;
    switch (*p->s) {
    case '{': return tj_container(p, out, depth, true);
    case '[': return tj_container(p, out, depth, false);
    case '"': return tj_string(p, out);
    case 't':
        out->type = TJ_TRUE;
        return tj_lit(p, "true", 4) ? INGOT_OK : tj_fail(p, "invalid literal");
    case 'f':
        out->type = TJ_FALSE;
        return tj_lit(p, "false", 5) ? INGOT_OK : tj_fail(p, "invalid literal");
    case 'n':
        out->type = TJ_NULL;
        return tj_lit(p, "null", 4) ? INGOT_OK : tj_fail(p, "invalid literal");
    default: return tj_number(p, out);
    }
}

void ingot__tj_free(tj_doc *doc) {
    if (!doc) return;
    for (tj_chunk *c = doc->chunks; c;) {
        tj_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(doc->strings);
    free(doc);
}

ingot_status ingot__tj_parse(tj_doc **out, tj_value **root, const char *text, size_t len,
                             const char *what) {
    *out = NULL;
    *root = NULL;
    tj_doc *doc = calloc(1, sizeof *doc);
    if (!doc) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
    doc->strings = malloc(len + 1);
    tj_value *r = tj_alloc(doc, 1);
    if (!doc->strings || !r) {
        ingot__tj_free(doc);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
    }
    tj_parser p = {.s = text,
                   .end = text + len,
                   .start = text,
                   .sout = doc->strings,
                   .doc = doc,
                   .what = what};
    ingot_status st = tj_value_parse(&p, r, 0);
    if (!st) {
        tj_ws(&p);
        if (p.s != p.end) st = tj_fail(&p, "trailing characters after the document");
    }
    free(p.stack);
    if (st) {
        ingot__tj_free(doc);
        return st;
    }
    *out = doc;
    *root = r;
    return INGOT_OK;
}

const tj_value *ingot__tj_get(const tj_value *v, const char *key) {
    if (!v || v->type != TJ_OBJECT) return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < v->len; i++) {
        const tj_value *k = &v->u.items[2 * i];
        if (k->len == klen && memcmp(k->u.str, key, klen) == 0) return &v->u.items[2 * i + 1];
    }
    return NULL;
}

bool ingot__tj_int(const tj_value *v, int64_t lo, int64_t hi, int64_t *out) {
    if (!v || v->type != TJ_NUMBER) return false;
    double d = v->u.num;
    if (!(d >= (double)lo && d <= (double)hi) || floor(d) != d) return false;
    *out = (int64_t)d;
    return true;
}
