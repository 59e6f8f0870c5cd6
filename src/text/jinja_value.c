/* Values of the chat-template language: reference counting, containers,
 * Python's truthiness, equality, ordering, str/repr and json.dumps. */
#include "text/jinja_value.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/internal.h"

/* ---- reference counting ---- */

static uint32_t *refs_of(jv v) {
    switch (v.type) {
    case JV_STR: return &v.u.s->refs;
    case JV_LIST: return &v.u.l->refs;
    case JV_DICT:
    case JV_NS: return &v.u.d->refs;
    case JV_LOOP: return &v.u.loop->refs;
    case JV_MACRO: return &v.u.macro->refs;
    default: return NULL;
    }
}

jv jv_incref(jv v) {
    uint32_t *r = refs_of(v);
    if (r && *r != JV_IMMORTAL) (*r)++;
    return v;
}

static void free_list(jv_list *l) {
    for (size_t i = 0; i < l->n; i++)
        jv_decref(l->items[i]);
    free(l->items);
    free(l);
}

void jv_dict_clear(jv_dict *d) {
    size_t n = d->n;
    d->n = 0; /* entries are released after the dict is consistent again */
    if (d->index) memset(d->index, 0, d->index_cap * sizeof *d->index);
    for (size_t i = 0; i < n; i++) {
        jv_decref(d->keys[i]);
        jv_decref(d->vals[i]);
    }
}

void jv_decref(jv v) {
    uint32_t *r = refs_of(v);
    if (!r || *r == JV_IMMORTAL || --*r > 0) return;
    switch (v.type) {
    case JV_STR: free(v.u.s); break;
    case JV_LIST: free_list(v.u.l); break;
    case JV_DICT:
    case JV_NS:
        jv_dict_clear(v.u.d);
        free(v.u.d->keys);
        free(v.u.d->vals);
        free(v.u.d->index);
        free(v.u.d);
        break;
    case JV_LOOP:
        jv_decref((jv){.type = JV_LIST, .u.l = v.u.loop->items});
        jv_decref(v.u.loop->changed);
        free(v.u.loop);
        break;
    case JV_MACRO:
        jv_decref(v.u.macro->closure);
        free(v.u.macro);
        break;
    default: break;
    }
}

static ingot_status oom(const char *what) {
    return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory (%s)", what);
}

/* ---- UTF-8 ---- */

uint32_t jv_utf8_next(const char *s, size_t *i) {
    const unsigned char *p = (const unsigned char *)s + *i;
    if (p[0] < 0x80) {
        *i += 1;
        return p[0];
    }
    if (p[0] < 0xe0) {
        *i += 2;
        return ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
    }
    if (p[0] < 0xf0) {
        *i += 3;
        return ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
    }
    *i += 4;
    return ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
           ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
}

bool jv_py_isspace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* ---- strings and buffers ---- */

static bool all_ascii(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80) return false;
    return true;
}

ingot_status jv_str_new(jv *out, const char *s, size_t len) {
    jv_str *str = malloc(sizeof *str + len + 1);
    if (!str) return oom("string");
    str->refs = 1;
    str->len = len;
    if (len) memcpy(str->data, s, len);
    str->data[len] = '\0';
    str->ascii = all_ascii(str->data, len);
    *out = (jv){.type = JV_STR, .u.s = str};
    return INGOT_OK;
}

ingot_status jv_str_cstr(jv *out, const char *s) { return jv_str_new(out, s, strlen(s)); }

jv jv_str_immortal(void *(*alloc_fn)(void *ctx, size_t n), void *ctx, const char *s, size_t len) {
    jv_str *str = alloc_fn(ctx, sizeof *str + len + 1);
    if (!str) return jv_none();
    str->refs = JV_IMMORTAL;
    str->len = len;
    if (len) memcpy(str->data, s, len);
    str->data[len] = '\0';
    str->ascii = all_ascii(str->data, len);
    return (jv){.type = JV_STR, .u.s = str};
}

size_t jv_str_ncp(const jv_str *s) {
    if (s->ascii) return s->len;
    size_t n = 0;
    for (size_t i = 0; i < s->len; i++)
        n += ((unsigned char)s->data[i] & 0xc0) != 0x80;
    return n;
}

static ingot_status buf_reserve(jv_buf *b, size_t n) {
    if (n > b->max || b->len > b->max - n)
        return ingot__error(INGOT_ERR_LIMIT,
                            "template: a string exceeds the output limit of %zu bytes", b->max);
    char *d = ingot__grow(b->data, &b->cap, b->len + n + 1, 1, 64);
    if (!d) return oom("buffer");
    b->data = d;
    return INGOT_OK;
}

ingot_status jv_buf_add(jv_buf *b, const char *s, size_t n) {
    if (n == 0) return INGOT_OK;
    ingot_status st = buf_reserve(b, n);
    if (st) return st;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return INGOT_OK;
}

ingot_status jv_buf_addc(jv_buf *b, char c) { return jv_buf_add(b, &c, 1); }

ingot_status jv_buf_addcp(jv_buf *b, uint32_t cp) {
    char u[4];
    size_t n = (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)u);
    return jv_buf_add(b, u, n);
}

ingot_status jv_buf_take(jv *out, jv_buf *b) {
    ingot_status st = jv_str_new(out, b->data ? b->data : "", b->len);
    jv_buf_free(b);
    return st;
}

void jv_buf_free(jv_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- containers ---- */

static uint16_t depth_of(jv v) {
    if (v.type == JV_LIST) return v.u.l->depth;
    if (v.type == JV_DICT) return v.u.d->depth;
    return 0;
}

static ingot_status note_depth(uint16_t *depth, jv child) {
    uint16_t d = depth_of(child);
    if (d >= JV_MAX_NEST)
        return ingot__error(INGOT_ERR_LIMIT, "template: lists and dicts nested deeper than %d",
                            JV_MAX_NEST);
    if (d + 1 > *depth) *depth = (uint16_t)(d + 1);
    return INGOT_OK;
}

ingot_status jv_list_new(jv *out, size_t cap, bool tuple) {
    jv_list *l = calloc(1, sizeof *l);
    if (!l) return oom("list");
    l->refs = 1;
    l->depth = 1;
    l->tuple = tuple;
    if (cap) {
        l->items = malloc(cap * sizeof *l->items);
        if (!l->items) {
            free(l);
            return oom("list");
        }
        l->cap = cap;
    }
    *out = (jv){.type = JV_LIST, .u.l = l};
    return INGOT_OK;
}

ingot_status jv_list_push(jv list, jv v) {
    jv_list *l = list.u.l;
    ingot_status st = note_depth(&l->depth, v);
    if (st) {
        jv_decref(v);
        return st;
    }
    jv *items = ingot__grow(l->items, &l->cap, l->n + 1, sizeof *items, 4);
    if (!items) {
        jv_decref(v);
        return oom("list");
    }
    l->items = items;
    l->items[l->n++] = v;
    return INGOT_OK;
}

ingot_status jv_dict_new(jv *out, jv_type type) {
    jv_dict *d = calloc(1, sizeof *d);
    if (!d) return oom("dict");
    d->refs = 1;
    d->depth = 1;
    *out = (jv){.type = (uint8_t)type, .u.d = d};
    return INGOT_OK;
}

static bool hashable(jv k) { return k.type >= JV_NONE && k.type <= JV_STR; }

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_key(jv k) {
    switch (k.type) {
    case JV_STR: return hash_bytes(k.u.s->data, k.u.s->len);
    case JV_BOOL: return mix64((uint64_t)k.u.b);
    case JV_INT: return mix64((uint64_t)k.u.i);
    case JV_FLOAT:
        if (k.u.f == floor(k.u.f) && fabs(k.u.f) < 9.2e18) return mix64((uint64_t)(int64_t)k.u.f);
        return mix64((uint64_t)k.u.f * 31u + 7u);
    default: return 0x9e3779b97f4a7c15ull;
    }
}

#define INDEX_MIN 16

static void index_insert(jv_dict *d, size_t entry) {
    size_t mask = d->index_cap - 1, h = (size_t)hash_key(d->keys[entry]) & mask;
    while (d->index[h])
        h = (h + 1) & mask;
    d->index[h] = (uint32_t)(entry + 1);
}

static ingot_status index_rebuild(jv_dict *d, size_t cap) {
    uint32_t *index = calloc(cap, sizeof *index);
    if (!index) return oom("dict");
    free(d->index);
    d->index = index;
    d->index_cap = cap;
    for (size_t i = 0; i < d->n; i++)
        index_insert(d, i);
    return INGOT_OK;
}

static jv *dict_find(const jv_dict *d, jv key, size_t *pos) {
    if (d->index) {
        size_t mask = d->index_cap - 1, h = (size_t)hash_key(key) & mask;
        for (; d->index[h]; h = (h + 1) & mask) {
            size_t e = d->index[h] - 1;
            if (jv_equal(d->keys[e], key)) {
                if (pos) *pos = e;
                return &d->vals[e];
            }
        }
        return NULL;
    }
    for (size_t i = 0; i < d->n; i++)
        if (jv_equal(d->keys[i], key)) {
            if (pos) *pos = i;
            return &d->vals[i];
        }
    return NULL;
}

jv *jv_dict_get(const jv_dict *d, jv key) { return dict_find(d, key, NULL); }

jv *jv_dict_get_str(const jv_dict *d, const char *key, size_t len) {
    if (d->index) {
        size_t mask = d->index_cap - 1, h = (size_t)hash_bytes(key, len) & mask;
        for (; d->index[h]; h = (h + 1) & mask) {
            jv k = d->keys[d->index[h] - 1];
            if (k.type == JV_STR && k.u.s->len == len && memcmp(k.u.s->data, key, len) == 0)
                return &d->vals[d->index[h] - 1];
        }
        return NULL;
    }
    for (size_t i = 0; i < d->n; i++) {
        jv k = d->keys[i];
        if (k.type == JV_STR && k.u.s->len == len && memcmp(k.u.s->data, key, len) == 0)
            return &d->vals[i];
    }
    return NULL;
}

ingot_status jv_dict_set(jv dict, jv key, jv val) {
    jv_dict *d = dict.u.d;
    ingot_status st = INGOT_OK;
    if (!hashable(key)) {
        st = ingot__error(INGOT_ERR_FORMAT, "template: unhashable type: '%s'", jv_type_name(key));
        goto fail;
    }
    if (dict.type == JV_DICT && (st = note_depth(&d->depth, val))) goto fail;
    size_t pos;
    jv *slot = dict_find(d, key, &pos);
    if (slot) {
        jv_decref(*slot);
        *slot = val;
        jv_decref(key);
        return INGOT_OK;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        if (cap >= UINT32_MAX / 2) {
            st = ingot__error(INGOT_ERR_LIMIT, "template: dict too large");
            goto fail;
        }
        jv *keys = realloc(d->keys, cap * sizeof *keys);
        if (!keys) goto nomem;
        d->keys = keys;
        jv *vals = realloc(d->vals, cap * sizeof *vals);
        if (!vals) goto nomem;
        d->vals = vals;
        d->cap = cap;
    }
    d->keys[d->n] = key;
    d->vals[d->n] = val;
    d->n++;
    if (d->n >= INDEX_MIN && d->n * 2 > d->index_cap) {
        if ((st = index_rebuild(d, d->index_cap ? d->index_cap * 2 : INDEX_MIN * 4))) {
            d->n--;
            goto fail;
        }
    } else if (d->index) {
        index_insert(d, d->n - 1);
    }
    return INGOT_OK;
nomem:
    st = oom("dict");
fail:
    jv_decref(key);
    jv_decref(val);
    return st;
}

/* ---- Python semantics ---- */

const char *jv_type_name(jv v) {
    switch (v.type) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST: return v.u.l->tuple ? "tuple" : "list";
    case JV_DICT: return "dict";
    case JV_NS: return "Namespace";
    case JV_LOOP: return "LoopContext";
    case JV_MACRO: return "Macro";
    default: return "builtin_function_or_method";
    }
}

bool jv_truthy(jv v) {
    switch (v.type) {
    case JV_UNDEF:
    case JV_NONE: return false;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0;
    case JV_STR: return v.u.s->len != 0;
    case JV_LIST: return v.u.l->n != 0;
    case JV_DICT: return v.u.d->n != 0;
    default: return true;
    }
}

bool jv_is_number(jv v) { return v.type == JV_INT || v.type == JV_FLOAT || v.type == JV_BOOL; }

double jv_as_double(jv v) {
    if (v.type == JV_FLOAT) return v.u.f;
    if (v.type == JV_INT) return (double)v.u.i;
    return v.type == JV_BOOL && v.u.b ? 1.0 : 0.0;
}

static int64_t as_int(jv v) { return v.type == JV_INT ? v.u.i : (int64_t)(v.u.b ? 1 : 0); }

/* Python's int == float comparison, exact for large values. */
static int cmp_int_float(int64_t i, double f) {
    if (f >= 9223372036854775808.0) return -1;
    if (f < -9223372036854775808.0) return 1;
    double t = trunc(f);
    int64_t fi = (int64_t)t;
    if (i != fi) return i < fi ? -1 : 1;
    return f > t ? -1 : (f < t ? 1 : 0);
}

bool jv_equal(jv a, jv b) {
    if (jv_is_number(a) && jv_is_number(b)) {
        if (a.type == JV_FLOAT && b.type == JV_FLOAT) return a.u.f == b.u.f;
        if (a.type == JV_FLOAT) return !isnan(a.u.f) && cmp_int_float(as_int(b), a.u.f) == 0;
        if (b.type == JV_FLOAT) return !isnan(b.u.f) && cmp_int_float(as_int(a), b.u.f) == 0;
        return as_int(a) == as_int(b);
    }
    if (a.type != b.type) return false;
    switch (a.type) {
    case JV_UNDEF:
    case JV_NONE: return true;
    case JV_STR:
        return a.u.s == b.u.s ||
               (a.u.s->len == b.u.s->len && memcmp(a.u.s->data, b.u.s->data, a.u.s->len) == 0);
    case JV_LIST:
        if (a.u.l->tuple != b.u.l->tuple || a.u.l->n != b.u.l->n) return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!jv_equal(a.u.l->items[i], b.u.l->items[i])) return false;
        return true;
    case JV_DICT:
        if (a.u.d->n != b.u.d->n) return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv *o = jv_dict_get(b.u.d, a.u.d->keys[i]);
            if (!o || !jv_equal(a.u.d->vals[i], *o)) return false;
        }
        return true;
    case JV_NS: return a.u.d == b.u.d;
    case JV_LOOP: return a.u.loop == b.u.loop;
    case JV_MACRO: return a.u.macro == b.u.macro;
    case JV_FUNC: return a.u.i == b.u.i;
    default: return false;
    }
}

ingot_status jv_compare(int *out, jv a, jv b) {
    if (jv_is_number(a) && jv_is_number(b)) {
        if (a.type != JV_FLOAT && b.type != JV_FLOAT) {
            int64_t x = as_int(a), y = as_int(b);
            *out = x < y ? -1 : x > y;
        } else if (a.type == JV_FLOAT && b.type == JV_FLOAT) {
            *out = a.u.f < b.u.f ? -1 : a.u.f > b.u.f; /* NaN compares as equal: never < */
        } else if (a.type == JV_FLOAT) {
            *out = isnan(a.u.f) ? 0 : -cmp_int_float(as_int(b), a.u.f);
        } else {
            *out = isnan(b.u.f) ? 0 : cmp_int_float(as_int(a), b.u.f);
        }
        return INGOT_OK;
    }
    if (a.type == JV_STR && b.type == JV_STR) {
        size_t n = a.u.s->len < b.u.s->len ? a.u.s->len : b.u.s->len;
        int c = memcmp(a.u.s->data, b.u.s->data, n);
        *out = c ? (c < 0 ? -1 : 1) : (a.u.s->len < b.u.s->len ? -1 : a.u.s->len > b.u.s->len);
        return INGOT_OK;
    }
    if (a.type == JV_LIST && b.type == JV_LIST && a.u.l->tuple == b.u.l->tuple) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (jv_equal(a.u.l->items[i], b.u.l->items[i])) continue;
            return jv_compare(out, a.u.l->items[i], b.u.l->items[i]);
        }
        *out = a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
        return INGOT_OK;
    }
    if (a.type == JV_UNDEF || b.type == JV_UNDEF)
        return ingot__error(INGOT_ERR_FORMAT, "'%s' is undefined",
                            (const char *)(a.type == JV_UNDEF ? a.u.p : b.u.p)
                                ? (const char *)(a.type == JV_UNDEF ? a.u.p : b.u.p)
                                : "value");
    return ingot__error(INGOT_ERR_FORMAT, "'<' not supported between instances of '%s' and '%s'",
                        jv_type_name(a), jv_type_name(b));
}

/* ---- str, repr ---- */

size_t jv_format_float(char *buf, double f) {
    if (isnan(f)) return (size_t)sprintf(buf, "nan");
    if (isinf(f)) return (size_t)sprintf(buf, f < 0 ? "-inf" : "inf");
    if (f == 0) return (size_t)sprintf(buf, signbit(f) ? "-0.0" : "0.0");
    char tmp[40];
    int p;
    for (p = 1; p < 17; p++) {
        ingot__snprintf_c(tmp, sizeof tmp, "%.*e", p - 1, f);
        if (ingot__strtod_c(tmp, NULL) == f) break;
    }
    if (p == 17) ingot__snprintf_c(tmp, sizeof tmp, "%.16e", f);
    /* tmp: [-]d[.ddd]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    const char *s = tmp;
    bool neg = *s == '-';
    if (neg) s++;
    for (; *s && *s != 'e'; s++)
        if (*s != '.') digits[nd++] = *s;
    int exp10 = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    size_t n = 0;
    if (neg) buf[n++] = '-';
    if (exp10 < -4 || exp10 >= 16) {
        buf[n++] = digits[0];
        if (nd > 1) {
            buf[n++] = '.';
            memcpy(buf + n, digits + 1, nd - 1);
            n += nd - 1;
        }
        n += (size_t)sprintf(buf + n, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (exp10 < 0) {
        buf[n++] = '0';
        buf[n++] = '.';
        for (int i = 0; i < -exp10 - 1; i++)
            buf[n++] = '0';
        memcpy(buf + n, digits, nd);
        n += nd;
    } else {
        for (int i = 0; i <= exp10; i++)
            buf[n++] = (size_t)i < nd ? digits[i] : '0';
        buf[n++] = '.';
        if ((size_t)exp10 + 1 < nd) {
            memcpy(buf + n, digits + exp10 + 1, nd - (size_t)exp10 - 1);
            n += nd - (size_t)exp10 - 1;
        } else {
            buf[n++] = '0';
        }
    }
    buf[n] = '\0';
    return n;
}

static ingot_status write_int(jv_buf *b, int64_t i) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, i);
    return jv_buf_add(b, tmp, (size_t)n);
}

static bool py_isprintable(uint32_t cp) {
    if (cp < 0x80) return cp >= 0x20 && cp < 0x7f;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS: return false;
    default: return true;
    }
}

static ingot_status write_str_repr(jv_buf *b, const jv_str *s) {
    bool has_sq = memchr(s->data, '\'', s->len) != NULL;
    bool has_dq = memchr(s->data, '"', s->len) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    ingot_status st = jv_buf_addc(b, q);
    for (size_t i = 0; i < s->len && !st;) {
        size_t start = i;
        uint32_t cp = jv_utf8_next(s->data, &i);
        char esc[16];
        if (cp == (uint32_t)q || cp == '\\') {
            esc[0] = '\\';
            esc[1] = (char)cp;
            st = jv_buf_add(b, esc, 2);
        } else if (cp == '\n') {
            st = jv_buf_add(b, "\\n", 2);
        } else if (cp == '\r') {
            st = jv_buf_add(b, "\\r", 2);
        } else if (cp == '\t') {
            st = jv_buf_add(b, "\\t", 2);
        } else if (py_isprintable(cp)) {
            st = jv_buf_add(b, s->data + start, i - start);
        } else {
            int n = cp < 0x100     ? snprintf(esc, sizeof esc, "\\x%02x", cp)
                    : cp < 0x10000 ? snprintf(esc, sizeof esc, "\\u%04x", cp)
                                   : snprintf(esc, sizeof esc, "\\U%08x", cp);
            st = jv_buf_add(b, esc, (size_t)n);
        }
    }
    return st ? st : jv_buf_addc(b, q);
}

static ingot_status write_value(jv_buf *b, jv v, bool repr) {
    char tmp[40];
    ingot_status st = INGOT_OK;
    switch (v.type) {
    case JV_UNDEF: return repr ? jv_buf_add(b, "Undefined", 9) : INGOT_OK;
    case JV_NONE: return jv_buf_add(b, "None", 4);
    case JV_BOOL: return v.u.b ? jv_buf_add(b, "True", 4) : jv_buf_add(b, "False", 5);
    case JV_INT: return write_int(b, v.u.i);
    case JV_FLOAT: return jv_buf_add(b, tmp, jv_format_float(tmp, v.u.f));
    case JV_STR: return repr ? write_str_repr(b, v.u.s) : jv_buf_add(b, v.u.s->data, v.u.s->len);
    case JV_LIST: {
        const jv_list *l = v.u.l;
        st = jv_buf_addc(b, l->tuple ? '(' : '[');
        for (size_t i = 0; i < l->n && !st; i++) {
            if (i) st = jv_buf_add(b, ", ", 2);
            if (!st) st = write_value(b, l->items[i], true);
        }
        if (!st && l->tuple && l->n == 1) st = jv_buf_addc(b, ',');
        return st ? st : jv_buf_addc(b, l->tuple ? ')' : ']');
    }
    case JV_NS:
        /* a namespace inside a container prints without its attributes:
         * namespaces can hold themselves */
        if (repr) return jv_buf_add(b, "<Namespace>", 11);
        st = jv_buf_add(b, "<Namespace ", 11);
        /* fall through */
    case JV_DICT: {
        const jv_dict *d = v.u.d;
        if (!st) st = jv_buf_addc(b, '{');
        for (size_t i = 0; i < d->n && !st; i++) {
            if (i) st = jv_buf_add(b, ", ", 2);
            if (!st) st = write_value(b, d->keys[i], true);
            if (!st) st = jv_buf_add(b, ": ", 2);
            if (!st) st = write_value(b, d->vals[i], true);
        }
        if (!st) st = jv_buf_addc(b, '}');
        if (!st && v.type == JV_NS) st = jv_buf_addc(b, '>');
        return st;
    }
    case JV_LOOP: {
        char tmp2[64];
        int n = snprintf(tmp2, sizeof tmp2, "<LoopContext %zu/%zu>", v.u.loop->index + 1,
                         v.u.loop->items->n);
        return jv_buf_add(b, tmp2, (size_t)n);
    }
    case JV_MACRO: {
        st = jv_buf_add(b, "<Macro '", 8);
        if (!st) st = jv_buf_add(b, v.u.macro->name, strlen(v.u.macro->name));
        return st ? st : jv_buf_add(b, "'>", 2);
    }
    default: return jv_buf_add(b, "<built-in function>", 19);
    }
}

ingot_status jv_write_str(jv_buf *b, jv v) { return write_value(b, v, false); }
ingot_status jv_write_repr(jv_buf *b, jv v) { return write_value(b, v, true); }

ingot_status jv_to_str(jv *out, jv v, size_t max) {
    if (v.type == JV_STR) {
        *out = jv_incref(v);
        return INGOT_OK;
    }
    jv_buf b = {.max = max};
    ingot_status st = jv_write_str(&b, v);
    if (st) {
        jv_buf_free(&b);
        return st;
    }
    return jv_buf_take(out, &b);
}

/* ---- json.dumps ---- */

static ingot_status json_put_string(jv_buf *b, const char *s, size_t len, bool ascii) {
    ingot_status st = jv_buf_addc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < len && !st; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[16];
        if (c >= 0x80 && ascii) {
            size_t j = i;
            uint32_t cp = jv_utf8_next(s, &j);
            if (cp >= 0x10000)
                snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", 0xd800 + ((cp - 0x10000) >> 10),
                         0xdc00 + ((cp - 0x10000) & 0x3ff));
            else
                snprintf(tmp, sizeof tmp, "\\u%04x", cp);
            st = jv_buf_add(b, s + run, i - run);
            if (!st) st = jv_buf_add(b, tmp, strlen(tmp));
            run = j;
            i = j - 1;
            continue;
        }
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", c);
                esc = tmp;
            }
        }
        if (!esc) continue;
        st = jv_buf_add(b, s + run, i - run);
        if (!st) st = jv_buf_add(b, esc, strlen(esc));
        run = i + 1;
    }
    if (!st) st = jv_buf_add(b, s + run, len - run);
    return st ? st : jv_buf_addc(b, '"');
}

static ingot_status json_put_float(jv_buf *b, double f) {
    if (isnan(f)) return jv_buf_add(b, "NaN", 3);
    if (isinf(f)) return f < 0 ? jv_buf_add(b, "-Infinity", 9) : jv_buf_add(b, "Infinity", 8);
    char tmp[40];
    return jv_buf_add(b, tmp, jv_format_float(tmp, f));
}

static ingot_status json_newline(jv_buf *b, const jv_json_opts *o, int level) {
    ingot_status st = jv_buf_addc(b, '\n');
    for (int i = 0; i < level && !st; i++)
        st = jv_buf_add(b, o->indent, o->indent_len);
    return st;
}

static ingot_status json_key(jv_buf *b, jv k, bool ascii) {
    char tmp[40];
    switch (k.type) {
    case JV_STR: return json_put_string(b, k.u.s->data, k.u.s->len, ascii);
    case JV_NONE: return jv_buf_add(b, "\"null\"", 6);
    case JV_BOOL: return k.u.b ? jv_buf_add(b, "\"true\"", 6) : jv_buf_add(b, "\"false\"", 7);
    case JV_INT: {
        int n = snprintf(tmp, sizeof tmp, "\"%" PRId64 "\"", k.u.i);
        return jv_buf_add(b, tmp, (size_t)n);
    }
    default: {
        ingot_status st = jv_buf_addc(b, '"');
        if (!st) st = json_put_float(b, k.u.f);
        return st ? st : jv_buf_addc(b, '"');
    }
    }
}

static ingot_status json_value(jv_buf *b, jv v, const jv_json_opts *o, int level);

static ingot_status json_dict(jv_buf *b, const jv_dict *d, const jv_json_opts *o, int level) {
    if (d->n == 0) return jv_buf_add(b, "{}", 2);
    size_t *order = malloc(d->n * sizeof *order);
    if (!order) return oom("tojson");
    for (size_t i = 0; i < d->n; i++)
        order[i] = i;
    ingot_status st = INGOT_OK;
    if (o->sort_keys) /* insertion sort: stable, and dicts in templates are small */
        for (size_t i = 1; i < d->n && !st; i++)
            for (size_t j = i; j > 0; j--) {
                int c;
                if ((st = jv_compare(&c, d->keys[order[j - 1]], d->keys[order[j]]))) break;
                if (c <= 0) break;
                size_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
    if (!st) st = jv_buf_addc(b, '{');
    for (size_t i = 0; i < d->n && !st; i++) {
        if (i) st = jv_buf_add(b, o->item_sep, strlen(o->item_sep));
        if (!st && o->indent) st = json_newline(b, o, level + 1);
        if (!st) st = json_key(b, d->keys[order[i]], o->ensure_ascii);
        if (!st) st = jv_buf_add(b, o->key_sep, strlen(o->key_sep));
        if (!st) st = json_value(b, d->vals[order[i]], o, level + 1);
    }
    if (!st && o->indent) st = json_newline(b, o, level);
    free(order);
    return st ? st : jv_buf_addc(b, '}');
}

static ingot_status json_value(jv_buf *b, jv v, const jv_json_opts *o, int level) {
    switch (v.type) {
    case JV_NONE: return jv_buf_add(b, "null", 4);
    case JV_BOOL: return v.u.b ? jv_buf_add(b, "true", 4) : jv_buf_add(b, "false", 5);
    case JV_INT: return write_int(b, v.u.i);
    case JV_FLOAT: return json_put_float(b, v.u.f);
    case JV_STR: return json_put_string(b, v.u.s->data, v.u.s->len, o->ensure_ascii);
    case JV_LIST: {
        const jv_list *l = v.u.l;
        if (l->n == 0) return jv_buf_add(b, "[]", 2);
        ingot_status st = jv_buf_addc(b, '[');
        for (size_t i = 0; i < l->n && !st; i++) {
            if (i) st = jv_buf_add(b, o->item_sep, strlen(o->item_sep));
            if (!st && o->indent) st = json_newline(b, o, level + 1);
            if (!st) st = json_value(b, l->items[i], o, level + 1);
        }
        if (!st && o->indent) st = json_newline(b, o, level);
        return st ? st : jv_buf_addc(b, ']');
    }
    case JV_DICT: return json_dict(b, v.u.d, o, level);
    default:
        return ingot__error(INGOT_ERR_FORMAT, "Object of type %s is not JSON serializable",
                            jv_type_name(v));
    }
}

ingot_status jv_write_json(jv_buf *b, jv v, const jv_json_opts *opts) {
    jv_json_opts o = *opts;
    if (!o.item_sep) o.item_sep = o.indent ? "," : ", ";
    if (!o.key_sep) o.key_sep = ": ";
    return json_value(b, v, &o, 0);
}

/* ---- JSON input ---- */

static ingot_status from_json(jv *out, json_t *j, int depth) {
    if (depth > JV_MAX_NEST)
        return ingot__error(INGOT_ERR_LIMIT, "template variables: JSON nested deeper than %d",
                            JV_MAX_NEST);
    ingot_status st = INGOT_OK;
    switch (json_typeof(j)) {
    case JSON_NULL: *out = jv_none(); return INGOT_OK;
    case JSON_TRUE: *out = jv_bool(true); return INGOT_OK;
    case JSON_FALSE: *out = jv_bool(false); return INGOT_OK;
    case JSON_INTEGER: *out = jv_int((int64_t)json_integer_value(j)); return INGOT_OK;
    case JSON_REAL: *out = jv_float(json_real_value(j)); return INGOT_OK;
    case JSON_STRING: return jv_str_new(out, json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        if ((st = jv_list_new(out, json_array_size(j), false))) return st;
        for (size_t i = 0; i < json_array_size(j) && !st; i++) {
            jv item;
            st = from_json(&item, json_array_get(j, i), depth + 1);
            if (!st) st = jv_list_push(*out, item);
        }
        break;
    }
    case JSON_OBJECT: {
        if ((st = jv_dict_new(out, JV_DICT))) return st;
        for (void *it = json_object_iter(j); it && !st; it = json_object_iter_next(j, it)) {
            jv k, val;
            st = jv_str_new(&k, json_object_iter_key(it), json_object_iter_key_len(it));
            if (st) break;
            if ((st = from_json(&val, json_object_iter_value(it), depth + 1))) {
                jv_decref(k);
                break;
            }
            st = jv_dict_set(*out, k, val);
        }
        break;
    }
    }
    if (st) jv_decref(*out);
    return st;
}

ingot_status jv_from_json(jv *out, const char *text, size_t len, const char *what) {
    json_error_t err;
    json_t *j =
        json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
    if (!j)
        return ingot__error(INGOT_ERR_FORMAT, "%s: invalid JSON at line %d column %d: %s", what,
                            err.line, err.column, err.text);
    ingot_status st = from_json(out, j, 0);
    json_decref(j);
    return st;
}
