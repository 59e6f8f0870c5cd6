/* Builtins of the chat-template language: Jinja2's filters and tests,
 * Python's str/dict/list methods (as the immutable sandbox allows them) and
 * the globals range, namespace, dict, raise_exception and strftime_now. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "core/internal.h"
#include "text/jinja_eval.h"

/* ---- small helpers ---- */

static ingot_status type_error(const char *what, jv v) {
    return ingot__error(INGOT_ERR_FORMAT, "%s: unexpected %s value", what, jv_type_name(v));
}

static ingot_status need_str(const char *what, const jv *v) {
    if (!v || v->type != JV_STR)
        return ingot__error(INGOT_ERR_FORMAT, "%s: expected a string argument, got %s", what,
                            v ? jv_type_name(*v) : "nothing");
    return INGOT_OK;
}

static bool opt_bool(const jv *v, bool dflt) { return v ? jv_truthy(*v) : dflt; }

/* *out = v's integer, or dflt when v is absent or None (and on error). */
static ingot_status opt_int(const char *what, const jv *v, int64_t dflt, int64_t *out) {
    *out = dflt;
    if (!v || v->type == JV_NONE) return INGOT_OK;
    if (v->type == JV_INT || v->type == JV_BOOL) {
        *out = v->type == JV_INT ? v->u.i : v->u.b;
        return INGOT_OK;
    }
    return ingot__error(INGOT_ERR_FORMAT, "%s: expected an integer, got %s", what,
                        jv_type_name(*v));
}

/* str(v) as a new string value. */
static ingot_status to_str(jctx *c, jv v, jv *out) { return jv_to_str(out, v, c->max_output); }

static ingot_status new_str_buf(jv *out, jv_buf *b, ingot_status st) {
    if (st) {
        jv_buf_free(b);
        return st;
    }
    return jv_buf_take(out, b);
}

/* Maps every code point of s through fn (utf8proc case mappings). */
typedef utf8proc_int32_t (*cp_map)(utf8proc_int32_t);

static ingot_status map_case(jctx *c, const jv_str *s, cp_map first, cp_map rest, bool words,
                             jv *out) {
    jv_buf b = {.max = c->max_output};
    ingot_status st = jinja__charge_size(c, s->len);
    bool prev_cased = false;
    for (size_t i = 0; i < s->len && !st;) {
        uint32_t cp = jv_utf8_next(s->data, &i);
        cp_map fn = rest;
        if (words) {
            utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
            bool cased = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
                         cat == UTF8PROC_CATEGORY_LT;
            fn = prev_cased ? rest : first;
            prev_cased = cased;
        } else if (first && i == (size_t)utf8proc_encode_char((utf8proc_int32_t)cp,
                                                              (utf8proc_uint8_t[4]){0})) {
            fn = first;
        }
        st = jv_buf_addcp(&b, fn ? (uint32_t)fn((utf8proc_int32_t)cp) : cp);
    }
    return new_str_buf(out, &b, st);
}

static ingot_status str_upper(jctx *c, const jv_str *s, jv *out) {
    return map_case(c, s, NULL, utf8proc_toupper, false, out);
}
static ingot_status str_lower(jctx *c, const jv_str *s, jv *out) {
    return map_case(c, s, NULL, utf8proc_tolower, false, out);
}
static ingot_status str_capitalize(jctx *c, const jv_str *s, jv *out) {
    return map_case(c, s, utf8proc_totitle, utf8proc_tolower, false, out);
}
static ingot_status str_title(jctx *c, const jv_str *s, jv *out) {
    return map_case(c, s, utf8proc_totitle, utf8proc_tolower, true, out);
}

/* Is cp in the code points of chars (NULL: whitespace)? */
static bool in_set(uint32_t cp, const jv_str *chars) {
    if (!chars) return jv_py_isspace(cp);
    for (size_t i = 0; i < chars->len;)
        if (jv_utf8_next(chars->data, &i) == cp) return true;
    return false;
}

static size_t cp_start_before(const char *s, size_t end) {
    size_t i = end - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
        i--;
    return i;
}

/* str.strip / lstrip / rstrip: which: 1 left, 2 right, 3 both. */
static ingot_status str_strip(jv s, const jv *chars_arg, int which, jv *out) {
    const jv_str *chars = NULL;
    if (chars_arg && chars_arg->type != JV_NONE) {
        ingot_status st = need_str("strip", chars_arg);
        if (st) return st;
        chars = chars_arg->u.s;
    }
    size_t start = 0, end = s.u.s->len;
    const char *d = s.u.s->data;
    if (which & 1)
        while (start < end) {
            size_t j = start;
            if (!in_set(jv_utf8_next(d, &j), chars)) break;
            start = j;
        }
    if (which & 2)
        while (end > start) {
            size_t k = cp_start_before(d, end), j = k;
            if (!in_set(jv_utf8_next(d, &j), chars)) break;
            end = k;
        }
    if (start == 0 && end == s.u.s->len) {
        *out = jv_incref(s);
        return INGOT_OK;
    }
    return jv_str_new(out, d + start, end - start);
}

static size_t cp_count(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xc0) != 0x80;
    return k;
}

/* The pieces of a split as [from, to) byte ranges, in order of discovery. */
typedef struct {
    size_t *r; /* from, to pairs */
    size_t n, cap;
} split_ranges;

static ingot_status range_add(split_ranges *v, size_t from, size_t to) {
    size_t *r = ingot__grow(v->r, &v->cap, v->n + 1, 2 * sizeof *r, 16); /* (from, to) pairs */
    if (!r) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory");
    v->r = r;
    v->r[2 * v->n] = from;
    v->r[2 * v->n + 1] = to;
    v->n++;
    return INGOT_OK;
}

static bool may_split(const split_ranges *v, int64_t maxsplit) {
    return maxsplit < 0 || (int64_t)v->n < maxsplit;
}

/* str.split(sep): the pieces between occurrences of sep, left to right. */
static ingot_status split_sep(split_ranges *v, const char *d, size_t len, const jv_str *sep,
                              int64_t maxsplit) {
    size_t pos = 0;
    ingot_status st = INGOT_OK;
    while (!st && may_split(v, maxsplit)) {
        const char *hit = memmem(d + pos, len - pos, sep->data, sep->len);
        if (!hit) break;
        st = range_add(v, pos, (size_t)(hit - d));
        pos = (size_t)(hit - d) + sep->len;
    }
    return st ? st : range_add(v, pos, len);
}

/* str.rsplit(sep): the same right to left. */
static ingot_status rsplit_sep(split_ranges *v, const char *d, size_t len, const jv_str *sep,
                               int64_t maxsplit) {
    size_t end = len;
    ingot_status st = INGOT_OK;
    while (!st && may_split(v, maxsplit) && end >= sep->len) {
        size_t k = end - sep->len + 1, found = SIZE_MAX;
        while (k-- > 0)
            if (memcmp(d + k, sep->data, sep->len) == 0) {
                found = k;
                break;
            }
        if (found == SIZE_MAX) break;
        st = range_add(v, found + sep->len, end);
        end = found;
    }
    return st ? st : range_add(v, 0, end);
}

/* str.split(): runs of non-whitespace, left to right; past maxsplit the rest as it is. */
static ingot_status split_ws(split_ranges *v, const char *d, size_t len, int64_t maxsplit) {
    size_t pos = 0;
    ingot_status st = INGOT_OK;
    while (!st) {
        while (pos < len) {
            size_t j = pos;
            if (!jv_py_isspace(jv_utf8_next(d, &j))) break;
            pos = j;
        }
        if (pos >= len) break;
        if (!may_split(v, maxsplit)) return range_add(v, pos, len);
        size_t e = pos;
        while (e < len) {
            size_t j = e;
            if (jv_py_isspace(jv_utf8_next(d, &j))) break;
            e = j;
        }
        st = range_add(v, pos, e);
        pos = e;
    }
    return st;
}

/* str.rsplit(): the same right to left. */
static ingot_status rsplit_ws(split_ranges *v, const char *d, size_t len, int64_t maxsplit) {
    size_t end = len;
    ingot_status st = INGOT_OK;
    while (!st) {
        while (end > 0) {
            size_t k = cp_start_before(d, end), j = k;
            if (!jv_py_isspace(jv_utf8_next(d, &j))) break;
            end = k;
        }
        if (end == 0) break;
        if (!may_split(v, maxsplit)) return range_add(v, 0, end);
        size_t b = end;
        while (b > 0) {
            size_t k = cp_start_before(d, b), j = k;
            if (jv_py_isspace(jv_utf8_next(d, &j))) break;
            b = k;
        }
        st = range_add(v, b, end);
        end = b;
    }
    return st;
}

/* str.split / rsplit (sep NULL: runs of whitespace). */
static ingot_status str_split(jctx *c, jv s, const jv *sep_arg, const jv *max_arg, bool right,
                              jv *out) {
    int64_t maxsplit;
    ingot_status st = opt_int("split", max_arg, -1, &maxsplit);
    if (st) return st;
    const jv_str *sep = NULL;
    if (sep_arg && sep_arg->type != JV_NONE) {
        if ((st = need_str("split", sep_arg))) return st;
        sep = sep_arg->u.s;
        if (sep->len == 0) return ingot__error(INGOT_ERR_FORMAT, "split: empty separator");
    }
    if ((st = jinja__charge_size(c, s.u.s->len)) || (st = jv_list_new(out, 0, false))) return st;
    const char *d = s.u.s->data;
    size_t len = s.u.s->len;
    split_ranges v = {0};
    if (sep)
        st = right ? rsplit_sep(&v, d, len, sep, maxsplit) : split_sep(&v, d, len, sep, maxsplit);
    else
        st = right ? rsplit_ws(&v, d, len, maxsplit) : split_ws(&v, d, len, maxsplit);
    for (size_t k = 0; k < v.n && !st; k++) {
        size_t idx = right ? v.n - 1 - k : k;
        jv piece;
        if (!(st = jv_str_new(&piece, d + v.r[2 * idx], v.r[2 * idx + 1] - v.r[2 * idx])))
            st = jv_list_push(*out, piece);
    }
    free(v.r);
    if (st) jv_decref(*out);
    return st;
}

static ingot_status str_replace(jctx *c, jv s, const jv *old_arg, const jv *new_arg,
                                const jv *count_arg, jv *out) {
    ingot_status st;
    int64_t count;
    if ((st = need_str("replace", old_arg)) || (st = need_str("replace", new_arg)) ||
        (st = opt_int("replace", count_arg, -1, &count)))
        return st;
    const jv_str *old = old_arg->u.s, *rep = new_arg->u.s;
    const char *d = s.u.s->data;
    size_t len = s.u.s->len;
    jv_buf b = {.max = c->max_output};
    if ((st = jinja__charge_size(c, len))) return st;
    int64_t done = 0;
    if (old->len == 0) {
        for (size_t i = 0; i <= len && !st;) {
            if (count < 0 || done < count) {
                st = jv_buf_add(&b, rep->data, rep->len);
                done++;
            }
            if (i == len) break;
            size_t j = i;
            jv_utf8_next(d, &j);
            if (!st) st = jv_buf_add(&b, d + i, j - i);
            i = j;
        }
        return new_str_buf(out, &b, st);
    }
    size_t pos = 0;
    while (!st && (count < 0 || done < count)) {
        const char *hit = memmem(d + pos, len - pos, old->data, old->len);
        if (!hit) break;
        st = jv_buf_add(&b, d + pos, (size_t)(hit - d) - pos);
        if (!st) st = jv_buf_add(&b, rep->data, rep->len);
        pos = (size_t)(hit - d) + old->len;
        done++;
        if (!st) st = jinja__charge(c, 1);
    }
    if (!st) st = jv_buf_add(&b, d + pos, len - pos);
    return new_str_buf(out, &b, st);
}

/* str.splitlines boundaries (Python's): \n \r \r\n \v \f \x1c-\x1e \x85 \u2028 \u2029. */
static bool line_break(uint32_t cp) {
    return cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || (cp >= 0x1c && cp <= 0x1e) ||
           cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

static ingot_status str_splitlines(jv s, bool keepends, jv *out) {
    ingot_status st = jv_list_new(out, 0, false);
    const char *d = s.u.s->data;
    size_t len = s.u.s->len, start = 0;
    for (size_t i = 0; i < len && !st;) {
        size_t at = i;
        uint32_t cp = jv_utf8_next(d, &i);
        if (!line_break(cp)) continue;
        if (cp == '\r' && i < len && d[i] == '\n') i++;
        jv piece;
        if (!(st = jv_str_new(&piece, d + start, (keepends ? i : at) - start)))
            st = jv_list_push(*out, piece);
        start = i;
    }
    if (!st && start < len) {
        jv piece;
        if (!(st = jv_str_new(&piece, d + start, len - start))) st = jv_list_push(*out, piece);
    }
    if (st) jv_decref(*out);
    return st;
}

static ingot_status join_items(jctx *c, jv seq, const jv_str *sep, bool strict, jv *out) {
    jv items;
    ingot_status st = jinja__iterate(c, seq, &items);
    if (st) return st;
    jv_buf b = {.max = c->max_output};
    for (size_t i = 0; i < items.u.l->n && !st; i++) {
        jv it = items.u.l->items[i];
        if (i && sep) st = jv_buf_add(&b, sep->data, sep->len);
        if (!st && strict && it.type != JV_STR)
            st =
                ingot__error(INGOT_ERR_FORMAT, "sequence item %zu: expected str instance, %s found",
                             i, jv_type_name(it));
        if (!st) st = jv_write_str(&b, it);
    }
    jv_decref(items);
    if (!st) st = jinja__charge_size(c, b.len);
    return new_str_buf(out, &b, st);
}

/* str.startswith / endswith with a string or a tuple of strings. */
static ingot_status str_affix(jv s, const jv *arg, bool end, jv *out) {
    if (!arg) return ingot__error(INGOT_ERR_FORMAT, "startswith/endswith: missing argument");
    const jv *cands = arg;
    size_t n = 1;
    if (arg->type == JV_LIST) {
        cands = arg->u.l->items;
        n = arg->u.l->n;
    }
    for (size_t i = 0; i < n; i++) {
        if (cands[i].type != JV_STR)
            return ingot__error(INGOT_ERR_FORMAT,
                                "%s first arg must be str or a tuple of str, not %s",
                                end ? "endswith" : "startswith", jv_type_name(cands[i]));
        const jv_str *p = cands[i].u.s;
        if (p->len <= s.u.s->len &&
            memcmp(s.u.s->data + (end ? s.u.s->len - p->len : 0), p->data, p->len) == 0) {
            *out = jv_bool(true);
            return INGOT_OK;
        }
    }
    *out = jv_bool(false);
    return INGOT_OK;
}

static ingot_status str_find(jctx *c, jv s, const jv *sub, bool reverse, bool count, jv *out) {
    ingot_status st = need_str(count ? "count" : "find", sub);
    if (st || (st = jinja__charge_size(c, s.u.s->len))) return st;
    const char *d = s.u.s->data, *p = sub->u.s->data;
    size_t len = s.u.s->len, plen = sub->u.s->len;
    if (count) {
        if (plen == 0) {
            *out = jv_int((int64_t)jv_str_ncp(s.u.s) + 1);
            return INGOT_OK;
        }
        int64_t k = 0;
        for (const char *h = d; (h = memmem(h, len - (size_t)(h - d), p, plen)); h += plen)
            k++;
        *out = jv_int(k);
        return INGOT_OK;
    }
    int64_t at = -1;
    if (!reverse) {
        const char *h = memmem(d, len, p, plen);
        if (h) at = (int64_t)cp_count(d, (size_t)(h - d));
    } else if (plen <= len) {
        for (size_t k = len - plen + 1; k-- > 0;)
            if (memcmp(d + k, p, plen) == 0) {
                at = (int64_t)cp_count(d, k);
                break;
            }
    }
    *out = jv_int(at);
    return INGOT_OK;
}

/* str.isdigit and friends over every code point (false when empty). */
static bool str_all(const jv_str *s, int kind) {
    if (s->len == 0) return false;
    bool any_cased = false;
    for (size_t i = 0; i < s->len;) {
        uint32_t cp = jv_utf8_next(s->data, &i);
        utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
        bool letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
        bool digit = cat == UTF8PROC_CATEGORY_ND;
        bool numeric = digit || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
        switch (kind) {
        case 0:
            if (!digit) return false;
            break;
        case 1:
            if (!letter) return false;
            break;
        case 2:
            if (!letter && !numeric) return false;
            break;
        case 3:
            if (!jv_py_isspace(cp)) return false;
            break;
        case 4: /* islower */
            if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT) return false;
            any_cased |= cat == UTF8PROC_CATEGORY_LL;
            break;
        default: /* isupper */
            if (cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT) return false;
            any_cased |= cat == UTF8PROC_CATEGORY_LU;
        }
    }
    return kind < 4 || any_cased;
}

/* ---- methods ---- */

static const char *const str_methods[] = {
    "startswith",   "endswith",     "split",        "rsplit",    "strip",      "lstrip",
    "rstrip",       "replace",      "upper",        "lower",     "title",      "capitalize",
    "find",         "rfind",        "index",        "rindex",    "count",      "join",
    "isdigit",      "isalpha",      "isalnum",      "isspace",   "islower",    "isupper",
    "splitlines",   "removeprefix", "removesuffix", "format",    "format_map", "center",
    "ljust",        "rjust",        "zfill",        "casefold",  "swapcase",   "partition",
    "rpartition",   "expandtabs",   "encode",       "isnumeric", "isdecimal",  "istitle",
    "isidentifier", "isprintable",  "isascii",      "translate", "maketrans",  NULL};
static const char *const dict_methods[] = {"get",        "items", "keys",     "values",
                                           "copy",       "pop",   "popitem",  "update",
                                           "setdefault", "clear", "fromkeys", NULL};
static const char *const list_methods[] = {"index",   "count",  "copy",  "append",
                                           "extend",  "insert", "pop",   "remove",
                                           "reverse", "sort",   "clear", NULL};
static const char *const mutators[] = {"pop",    "popitem", "update", "setdefault",
                                       "clear",  "append",  "extend", "insert",
                                       "remove", "reverse", "sort",   NULL};

/* The index of name in a NULL-terminated list of names, or -1. */
static int name_index(const char *const *names, const char *name) {
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

static bool in_list(const char *const *names, const char *name) {
    return name_index(names, name) >= 0;
}

bool jinja__is_mutator(const char *name) { return in_list(mutators, name); }

bool jinja__has_method(jv obj, const char *name) {
    switch (obj.type) {
    case JV_STR: return in_list(str_methods, name);
    case JV_DICT: return in_list(dict_methods, name);
    case JV_LIST: return in_list(list_methods, name);
    default: return false;
    }
}

static ingot_status dict_view(jv d, int which, jv *out) {
    ingot_status st = jv_list_new(out, d.u.d->n, false);
    for (size_t i = 0; i < d.u.d->n && !st; i++) {
        jv item;
        if (which == 0) {
            item = jv_incref(d.u.d->keys[i]);
        } else if (which == 1) {
            item = jv_incref(d.u.d->vals[i]);
        } else {
            if ((st = jv_list_new(&item, 2, true))) break;
            if (!(st = jv_list_push(item, jv_incref(d.u.d->keys[i]))))
                st = jv_list_push(item, jv_incref(d.u.d->vals[i]));
            if (st) {
                jv_decref(item);
                break;
            }
        }
        st = jv_list_push(*out, item);
    }
    if (st) jv_decref(*out);
    return st;
}

/* The most positional arguments of the str methods ingot implements. */
static size_t str_method_arity(const char *m) {
    static const struct {
        const char *name;
        size_t n;
    } arity[] = {{"startswith", 1},   {"endswith", 1}, {"split", 2},      {"rsplit", 2},
                 {"strip", 1},        {"lstrip", 1},   {"rstrip", 1},     {"replace", 3},
                 {"find", 1},         {"rfind", 1},    {"index", 1},      {"rindex", 1},
                 {"count", 1},        {"join", 1},     {"splitlines", 1}, {"removeprefix", 1},
                 {"removesuffix", 1}, {"upper", 0},    {"lower", 0},      {"title", 0},
                 {"capitalize", 0},   {"casefold", 0}, {"isdigit", 0},    {"isalpha", 0},
                 {"isalnum", 0},      {"isspace", 0},  {"islower", 0},    {"isupper", 0}};
    for (size_t i = 0; i < sizeof arity / sizeof *arity; i++)
        if (!strcmp(arity[i].name, m)) return arity[i].n;
    return SIZE_MAX; /* not implemented: reported below */
}

static ingot_status str_method(jctx *c, jv s, const char *m, const jargs *a, jv *out) {
    const jv *a0 = jinja__arg(a, 0, NULL), *a1 = jinja__arg(a, 1, NULL);
    static const char *const kw_split[] = {"sep", "maxsplit", NULL};
    static const char *const kw_lines[] = {"keepends", NULL};
    const char *const *kw = !strcmp(m, "split") || !strcmp(m, "rsplit") ? kw_split
                            : !strcmp(m, "splitlines")                  ? kw_lines
                                                                        : NULL;
    char what[40];
    snprintf(what, sizeof what, "str.%s", m);
    size_t arity = str_method_arity(m);
    ingot_status st = arity == SIZE_MAX ? INGOT_OK : jinja__check_args(a, arity, kw, what);
    if (st) return st;
    if (!strcmp(m, "startswith") || !strcmp(m, "endswith"))
        return str_affix(s, a0, m[0] == 'e', out);
    if (!strcmp(m, "split") || !strcmp(m, "rsplit"))
        return str_split(c, s, jinja__arg(a, 0, "sep"), jinja__arg(a, 1, "maxsplit"), m[0] == 'r',
                         out);
    if (!strcmp(m, "strip")) return str_strip(s, a0, 3, out);
    if (!strcmp(m, "lstrip")) return str_strip(s, a0, 1, out);
    if (!strcmp(m, "rstrip")) return str_strip(s, a0, 2, out);
    if (!strcmp(m, "replace")) return str_replace(c, s, a0, a1, jinja__arg(a, 2, "count"), out);
    if (!strcmp(m, "upper")) return str_upper(c, s.u.s, out);
    if (!strcmp(m, "lower") || !strcmp(m, "casefold")) return str_lower(c, s.u.s, out);
    if (!strcmp(m, "title")) return str_title(c, s.u.s, out);
    if (!strcmp(m, "capitalize")) return str_capitalize(c, s.u.s, out);
    if (!strcmp(m, "find") || !strcmp(m, "rfind") || !strcmp(m, "index") || !strcmp(m, "rindex")) {
        if ((st = str_find(c, s, a0, m[0] == 'r', false, out))) return st;
        if (m[strlen(m) - 1] == 'x' && out->u.i < 0)
            return ingot__error(INGOT_ERR_FORMAT, "substring not found");
        return INGOT_OK;
    }
    if (!strcmp(m, "count")) return str_find(c, s, a0, false, true, out);
    if (!strcmp(m, "join")) {
        if (!a0) return ingot__error(INGOT_ERR_FORMAT, "join: missing argument");
        return join_items(c, *a0, s.u.s, true, out);
    }
    static const char *const preds[] = {"isdigit", "isalpha", "isalnum", "isspace",
                                        "islower", "isupper", NULL};
    for (int k = 0; preds[k]; k++)
        if (!strcmp(m, preds[k])) {
            *out = jv_bool(str_all(s.u.s, k));
            return INGOT_OK;
        }
    if (!strcmp(m, "splitlines"))
        return str_splitlines(s, opt_bool(jinja__arg(a, 0, "keepends"), false), out);
    if (!strcmp(m, "removeprefix") || !strcmp(m, "removesuffix")) {
        if ((st = need_str(m, a0))) return st;
        bool suffix = m[6] == 's';
        jv hit;
        str_affix(s, a0, suffix, &hit);
        if (!hit.u.b) {
            *out = jv_incref(s);
            return INGOT_OK;
        }
        size_t n = s.u.s->len - a0->u.s->len;
        return jv_str_new(out, s.u.s->data + (suffix ? 0 : a0->u.s->len), n);
    }
    return ingot__error(INGOT_ERR_UNSUPPORTED, "template: str.%s is not supported", m);
}

ingot_status jinja__method(jctx *c, jv obj, const char *name, const jargs *a, jv *out,
                           bool *found) {
    *found = false;
    if (obj.type == JV_LOOP && strcmp(name, "changed") == 0) {
        *found = true;
        jv args;
        ingot_status st = jv_list_new(&args, a->npos, true);
        for (size_t i = 0; i < a->npos && !st; i++)
            st = jv_list_push(args, jv_incref(a->pos[i]));
        if (st) {
            if (args.type == JV_LIST) jv_decref(args);
            return st;
        }
        jv_loop *l = obj.u.loop;
        bool changed = l->changed.type != JV_LIST || !jv_equal(l->changed, args);
        if (changed) {
            jv_decref(l->changed);
            l->changed = args;
        } else {
            jv_decref(args);
        }
        *out = jv_bool(changed);
        return INGOT_OK;
    }
    if (obj.type == JV_LOOP) {
        if (strcmp(name, "cycle") != 0) return INGOT_OK;
        *found = true;
        if (a->npos == 0) return ingot__error(INGOT_ERR_FORMAT, "no items for cycling given");
        *out = jv_incref(a->pos[obj.u.loop->index % a->npos]);
        return INGOT_OK;
    }
    if (!jinja__has_method(obj, name)) return INGOT_OK;
    *found = true;
    if (in_list(mutators, name))
        return ingot__error(INGOT_ERR_FORMAT, "access to attribute '%s' of '%s' object is unsafe",
                            name, jv_type_name(obj));
    if (obj.type == JV_STR) return str_method(c, obj, name, a, out);
    const jv *a0 = jinja__arg(a, 0, NULL);
    if (!strcmp(name, "copy")) {
        *out = jv_incref(obj);
        return INGOT_OK;
    }
    if (obj.type == JV_DICT) {
        if (!strcmp(name, "get")) {
            if (!a0) return ingot__error(INGOT_ERR_FORMAT, "get expected at least 1 argument");
            jv *v = jv_dict_get(obj.u.d, *a0);
            const jv *dflt = jinja__arg(a, 1, NULL);
            *out = v ? jv_incref(*v) : dflt ? jv_incref(*dflt) : jv_none();
            return INGOT_OK;
        }
        if (!strcmp(name, "keys")) return dict_view(obj, 0, out);
        if (!strcmp(name, "values")) return dict_view(obj, 1, out);
        if (!strcmp(name, "items")) return dict_view(obj, 2, out);
    } else { /* list: index, count */
        if (!a0) return ingot__error(INGOT_ERR_FORMAT, "%s expected 1 argument", name);
        int64_t k = 0, at = -1;
        for (size_t i = 0; i < obj.u.l->n; i++)
            if (jv_equal(obj.u.l->items[i], *a0)) {
                if (at < 0) at = (int64_t)i;
                k++;
            }
        if (name[0] == 'c') {
            *out = jv_int(k);
            return INGOT_OK;
        }
        if (at < 0) return ingot__error(INGOT_ERR_FORMAT, "value is not in list");
        *out = jv_int(at);
        return jinja__charge_size(c, obj.u.l->n);
    }
    return ingot__error(INGOT_ERR_UNSUPPORTED, "template: %s.%s is not supported",
                        jv_type_name(obj), name);
}

/* ---- globals ---- */

enum { G_RANGE, G_NAMESPACE, G_DICT, G_RAISE, G_STRFTIME, G_LIPSUM, G_CYCLER, G_JOINER };
static const char *const globals[] = {"range",           "namespace",    "dict",
                                      "raise_exception", "strftime_now", "lipsum",
                                      "cycler",          "joiner",       NULL};

_Static_assert(sizeof globals / sizeof *globals == G_JOINER + 2, "a name for every G_ id");

int jinja__global_id(const char *name) { return name_index(globals, name); }

#define MAX_RANGE 100000 /* the sandbox's limit */

static ingot_status call_range(jctx *c, const jargs *a, jv *out) {
    int64_t v[3] = {0, 0, 1};
    ingot_status st = jinja__check_args(a, 3, NULL, "range");
    if (st) return st;
    if (a->npos == 0) return ingot__error(INGOT_ERR_FORMAT, "range expected at least 1 argument");
    for (size_t i = 0; i < a->npos; i++) {
        if (a->pos[i].type != JV_INT && a->pos[i].type != JV_BOOL)
            return ingot__error(INGOT_ERR_FORMAT, "'%s' object cannot be interpreted as an integer",
                                jv_type_name(a->pos[i]));
        v[a->npos == 1 ? 1 : i] = a->pos[i].type == JV_INT ? a->pos[i].u.i : a->pos[i].u.b;
    }
    int64_t start = v[0], stop = v[1], step = v[2];
    if (step == 0) return ingot__error(INGOT_ERR_FORMAT, "range() arg 3 must not be zero");
    double count = step > 0 ? ceil(((double)stop - (double)start) / (double)step)
                            : ceil(((double)start - (double)stop) / -(double)step);
    if (count < 0) count = 0;
    if (count > MAX_RANGE)
        return ingot__error(INGOT_ERR_LIMIT,
                            "range too big: the sandbox blocks ranges larger than %d", MAX_RANGE);
    if ((st = jinja__charge_size(c, (uint64_t)count)) ||
        (st = jv_list_new(out, (size_t)count, false)))
        return st;
    for (int64_t i = 0; i < (int64_t)count && !st; i++)
        st = jv_list_push(*out, jv_int(start + i * step));
    if (st) jv_decref(*out);
    return st;
}

/* namespace(...) and dict(...): an optional mapping then keyword arguments. */
static ingot_status call_mapping(jctx *c, const jargs *a, jv_type type, jv *out) {
    ingot_status st = jinja__check_args(a, 1, NULL, type == JV_NS ? "namespace" : "dict");
    if (st && a->nkw == 0) return st;
    if (a->npos > 1) return st;
    if ((st = jv_dict_new(out, type))) return st;
    if (a->npos == 1) {
        jv src = a->pos[0];
        if (src.type == JV_DICT || src.type == JV_NS) {
            for (size_t i = 0; i < src.u.d->n && !st; i++)
                st = jv_dict_set(*out, jv_incref(src.u.d->keys[i]), jv_incref(src.u.d->vals[i]));
        } else if (src.type == JV_LIST) {
            for (size_t i = 0; i < src.u.l->n && !st; i++) {
                jv pair = src.u.l->items[i];
                if (pair.type != JV_LIST || pair.u.l->n != 2)
                    st = ingot__error(
                        INGOT_ERR_FORMAT,
                        "dictionary update sequence element #%zu has the wrong length", i);
                else
                    st = jv_dict_set(*out, jv_incref(pair.u.l->items[0]),
                                     jv_incref(pair.u.l->items[1]));
            }
        } else if (src.type != JV_UNDEF) {
            st = ingot__error(INGOT_ERR_FORMAT, "'%s' object is not iterable", jv_type_name(src));
        }
    }
    for (size_t k = 0; k < a->nkw && !st; k++) {
        jv key;
        if (!(st = jv_str_cstr(&key, a->kwnames[k])))
            st = jv_dict_set(*out, key, jv_incref(a->kw[k]));
    }
    if (!st && type == JV_NS) st = jv_list_push(c->namespaces, jv_incref(*out));
    if (st) jv_decref(*out);
    return st;
}

ingot_status jinja__call_global(jctx *c, int id, const jargs *a, jv *out) {
    switch (id) {
    case G_RANGE: return call_range(c, a, out);
    case G_NAMESPACE: return call_mapping(c, a, JV_NS, out);
    case G_DICT: return call_mapping(c, a, JV_DICT, out);
    case G_RAISE: {
        const jv *m = jinja__arg(a, 0, "message");
        jv_buf b = {.max = 4096};
        if (m) jv_write_str(&b, *m);
        ingot_status st =
            ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%.*s", (int)b.len, b.data ? b.data : "");
        jv_buf_free(&b);
        c->located = true;
        return st;
    }
    case G_STRFTIME: {
        const jv *f = jinja__arg(a, 0, "format");
        ingot_status st = need_str("strftime_now", f);
        if (st) return st;
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char buf[512];
        size_t n = f->u.s->len ? strftime(buf, sizeof buf, f->u.s->data, &tm) : 0;
        if (n == 0 && f->u.s->len)
            return ingot__error(INGOT_ERR_FORMAT, "strftime_now: format too long or empty result");
        return jv_str_new(out, buf, n);
    }
    default:
        return ingot__error(INGOT_ERR_UNSUPPORTED, "template: the global '%s' is not supported",
                            globals[id]);
    }
}

/* ---- printf-style formatting: str % args ---- */

static ingot_status pad_to(jv_buf *b, const char *s, size_t n, size_t ncp, int64_t width,
                           bool left) {
    ingot_status st = INGOT_OK;
    for (int64_t i = (int64_t)ncp; !left && i < width && !st; i++)
        st = jv_buf_addc(b, ' ');
    if (!st) st = jv_buf_add(b, s, n);
    for (int64_t i = (int64_t)ncp; left && i < width && !st; i++)
        st = jv_buf_addc(b, ' ');
    return st;
}

/* An integer conversion (d i u x X o) as Python does it, sign and all. */
static ingot_status format_int(jv_buf *b, int64_t v, char conv, const char *flags, int64_t width,
                               int64_t prec) {
    char digits[80], body[160];
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int base = conv == 'x' || conv == 'X' ? 16 : conv == 'o' ? 8 : 10;
    const char *alpha = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t nd = 0;
    do {
        digits[nd++] = alpha[mag % (uint64_t)base];
        mag /= (uint64_t)base;
    } while (mag);
    while ((int64_t)nd < prec && nd < 64)
        digits[nd++] = '0';
    size_t n = 0;
    if (v < 0)
        body[n++] = '-';
    else if (strchr(flags, '+'))
        body[n++] = '+';
    else if (strchr(flags, ' '))
        body[n++] = ' ';
    if (strchr(flags, '#') && base != 10) {
        body[n++] = '0';
        body[n++] = conv == 'o' ? 'o' : conv;
    }
    size_t prefix = n;
    bool left = strchr(flags, '-') != NULL, zero = !left && strchr(flags, '0');
    while (zero && (int64_t)(n + nd) < width && n < 80)
        body[n++] = '0';
    (void)prefix;
    while (nd)
        body[n++] = digits[--nd];
    return pad_to(b, body, n, n, width, left);
}

static ingot_status format_one(jctx *c, jv_buf *b, jv v, char conv, const char *flags,
                               int64_t width, int64_t prec) {
    ingot_status st = INGOT_OK;
    bool left = strchr(flags, '-') != NULL;
    if (width > (int64_t)c->max_output || prec > (int64_t)c->max_output)
        return ingot__error(INGOT_ERR_LIMIT, "format: width over the output limit");
    switch (conv) {
    case 's':
    case 'r':
    case 'a': {
        jv_buf t = {.max = c->max_output};
        st = conv == 's' ? jv_write_str(&t, v) : jv_write_repr(&t, v);
        size_t n = t.len, ncp = 0, i = 0;
        while (i < t.len && (prec < 0 || (int64_t)ncp < prec)) {
            jv_utf8_next(t.data, &i);
            ncp++;
        }
        n = i;
        if (!st) st = pad_to(b, t.data ? t.data : "", n, ncp, width, left);
        jv_buf_free(&t);
        return st;
    }
    case 'c': {
        char u[4];
        if (v.type == JV_STR && jv_str_ncp(v.u.s) == 1)
            return pad_to(b, v.u.s->data, v.u.s->len, 1, width, left);
        if (v.type != JV_INT || v.u.i < 0 || v.u.i > 0x10ffff)
            return ingot__error(INGOT_ERR_FORMAT,
                                "%%c requires an int in range(0x110000) or a single character");
        size_t n = (size_t)utf8proc_encode_char((utf8proc_int32_t)v.u.i, (utf8proc_uint8_t *)u);
        return pad_to(b, u, n, 1, width, left);
    }
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o':
        if (v.type == JV_FLOAT && strchr("diu", conv)) {
            if (!isfinite(v.u.f) || fabs(v.u.f) >= 9.2e18)
                return ingot__error(INGOT_ERR_UNSUPPORTED, "template: %%d of a huge float");
            v = jv_int((int64_t)v.u.f);
        }
        if (v.type != JV_INT && v.type != JV_BOOL)
            return ingot__error(INGOT_ERR_FORMAT, "%%%c format: %s is required, not %s", conv,
                                strchr("diu", conv) ? "a real number" : "an integer",
                                jv_type_name(v));
        return format_int(b, v.type == JV_INT ? v.u.i : v.u.b, conv == 'u' ? 'd' : conv, flags,
                          width, prec);
    default: { /* e E f F g G */
        if (!jv_is_number(v))
            return ingot__error(INGOT_ERR_FORMAT, "must be real number, not %s", jv_type_name(v));
        char spec[32], tmp[512];
        snprintf(spec, sizeof spec, "%%%s*.*%c", flags, conv);
        int n = ingot__snprintf_c(tmp, sizeof tmp, spec, (int)(width < 0 ? 0 : width),
                         (int)(prec < 0     ? 6
                               : prec > 400 ? 400
                                            : prec),
                         jv_as_double(v));
        if (n < 0 || (size_t)n >= sizeof tmp)
            return ingot__error(INGOT_ERR_LIMIT, "format: number too wide");
        return jv_buf_add(b, tmp, (size_t)n);
    }
    }
}

ingot_status jinja__percent_format(jctx *c, const jv_str *fmt, jv args, jv *out) {
    /* CPython's argument walk: a tuple gives its items; anything else is one
     * argument (consumed once); a %(key) spec makes the mapping's value the
     * next argument */
    const jv *items = NULL, *single = &args;
    int64_t arglen = -1, argidx = -2;
    if (args.type == JV_LIST && args.u.l->tuple) {
        items = args.u.l->items;
        arglen = (int64_t)args.u.l->n;
        argidx = 0;
    }
    bool mapping = args.type == JV_DICT;
    jv_buf b = {.max = c->max_output};
    ingot_status st = jinja__charge_size(c, fmt->len);
    const char *f = fmt->data, *end = f + fmt->len;
    while (f < end && !st) {
        const char *pct = memchr(f, '%', (size_t)(end - f));
        if (!pct) {
            st = jv_buf_add(&b, f, (size_t)(end - f));
            break;
        }
        if ((st = jv_buf_add(&b, f, (size_t)(pct - f)))) break;
        f = pct + 1;
        if (f < end && *f == '(') {
            const char *close = memchr(f, ')', (size_t)(end - f));
            if (!close || !mapping) {
                st = ingot__error(INGOT_ERR_FORMAT,
                                  close ? "format requires a mapping" : "incomplete format key");
                break;
            }
            jv *hit = jv_dict_get_str(args.u.d, f + 1, (size_t)(close - f - 1));
            if (!hit) {
                st = ingot__error(INGOT_ERR_FORMAT, "format: key %.*s not found",
                                  (int)(close - f - 1), f + 1);
                break;
            }
            single = hit;
            arglen = -1;
            argidx = -2;
            f = close + 1;
        }
        char flags[8];
        size_t nf = 0;
        while (f < end && strchr("-+ #0", *f) && *f) {
            if (nf < sizeof flags - 1 && !memchr(flags, *f, nf)) flags[nf++] = *f;
            f++;
        }
        flags[nf] = '\0';
        int64_t width = -1, prec = -1;
        if (f < end && *f == '*') {
            st = ingot__error(INGOT_ERR_UNSUPPORTED,
                              "template: '*' widths in %% formats are not supported");
            break;
        }
        for (; f < end && *f >= '0' && *f <= '9'; f++)
            width = width >= 100000000 ? width : (width < 0 ? 0 : width) * 10 + (*f - '0');
        if (f < end && *f == '.') {
            prec = 0;
            for (f++; f < end && *f >= '0' && *f <= '9'; f++)
                prec = prec >= 100000000 ? prec : prec * 10 + (*f - '0');
        }
        while (f < end && (*f == 'l' || *f == 'h' || *f == 'L'))
            f++;
        if (f >= end) {
            st = ingot__error(INGOT_ERR_FORMAT, "incomplete format");
            break;
        }
        char conv = *f++;
        if (conv == '%') {
            st = jv_buf_addc(&b, '%');
            continue;
        }
        if (!strchr("srcdiuoxXeEfFgGa", conv)) {
            st = ingot__error(INGOT_ERR_FORMAT, "unsupported format character '%c'", conv);
            break;
        }
        if (argidx >= arglen) {
            st = ingot__error(INGOT_ERR_FORMAT, "not enough arguments for format string");
            break;
        }
        argidx++;
        jv v = arglen < 0 ? *single : items[argidx - 1];
        st = format_one(c, &b, v, conv, flags, width, prec);
    }
    if (!st && argidx < arglen && !mapping)
        st = ingot__error(INGOT_ERR_FORMAT, "not all arguments converted during string formatting");
    return new_str_buf(out, &b, st);
}

/* ---- tests ---- */

enum {
    T_BOOLEAN,
    T_CALLABLE,
    T_DEFINED,
    T_DIVISIBLEBY,
    T_EQ,
    T_EQUALTO,
    T_ESCAPED,
    T_EVEN,
    T_FALSE,
    T_FILTER,
    T_FLOAT,
    T_GE,
    T_GT,
    T_GREATERTHAN,
    T_IN,
    T_INTEGER,
    T_ITERABLE,
    T_LE,
    T_LESSTHAN,
    T_LOWER,
    T_LT,
    T_MAPPING,
    T_NE,
    T_NONE,
    T_NUMBER,
    T_ODD,
    T_SAMEAS,
    T_SEQUENCE,
    T_STRING,
    T_TEST,
    T_TRUE,
    T_UNDEFINED,
    T_UPPER,
    T_EQ_OP,
    T_NE_OP,
    T_LT_OP,
    T_LE_OP,
    T_GT_OP,
    T_GE_OP,
};
static const char *const tests[] = {
    "boolean", "callable", "defined",  "divisibleby", "eq",       "equalto", "escaped",
    "even",    "false",    "filter",   "float",       "ge",       "gt",      "greaterthan",
    "in",      "integer",  "iterable", "le",          "lessthan", "lower",   "lt",
    "mapping", "ne",       "none",     "number",      "odd",      "sameas",  "sequence",
    "string",  "test",     "true",     "undefined",   "upper",    "==",      "!=",
    "<",       "<=",       ">",        ">=",          NULL};

_Static_assert(sizeof tests / sizeof *tests == T_GE_OP + 2, "a name for every T_ id");

int jinja__test_id(const char *name) {
    int id = name_index(tests, name);
    return id >= 0 ? id : JINJA_UNKNOWN;
}

static ingot_status cmp_test(jctx *c, jv a, const jv *b, int want, bool *out) {
    if (!b) return ingot__error(INGOT_ERR_FORMAT, "test: missing argument");
    int cmp;
    ingot_status st = jv_compare(&cmp, a, *b);
    (void)c;
    if (st) return st;
    *out = want == 0 ? cmp < 0 : want == 1 ? cmp <= 0 : want == 2 ? cmp > 0 : cmp >= 0;
    return INGOT_OK;
}

static ingot_status parity(jv v, int64_t div, bool *out) {
    if (v.type == JV_UNDEF)
        return ingot__error(INGOT_ERR_FORMAT, "'%s' is undefined",
                            v.u.p ? (const char *)v.u.p : "value");
    if (v.type == JV_INT || v.type == JV_BOOL) {
        int64_t x = v.type == JV_INT ? v.u.i : v.u.b;
        *out = div != 0 && x % div == 0;
        if (div == 0) return ingot__error(INGOT_ERR_FORMAT, "division by zero");
        return INGOT_OK;
    }
    if (v.type == JV_FLOAT) {
        if (div == 0) return ingot__error(INGOT_ERR_FORMAT, "division by zero");
        *out = fmod(v.u.f, (double)div) == 0;
        return INGOT_OK;
    }
    return ingot__error(INGOT_ERR_FORMAT, "unsupported operand type(s) for %%: '%s' and 'int'",
                        jv_type_name(v));
}

ingot_status jinja__test(jctx *c, int id, jv v, const jargs *a, bool *out) {
    const jv *a0 = jinja__arg(a, 0, NULL);
    ingot_status st;
    switch (id) {
    case T_BOOLEAN: *out = v.type == JV_BOOL; return INGOT_OK;
    case T_CALLABLE: *out = v.type == JV_MACRO || v.type == JV_FUNC; return INGOT_OK;
    case T_DEFINED: *out = v.type != JV_UNDEF; return INGOT_OK;
    case T_UNDEFINED: *out = v.type == JV_UNDEF; return INGOT_OK;
    case T_DIVISIBLEBY: {
        int64_t d;
        if ((st = opt_int("divisibleby", a0, 0, &d))) return st;
        return parity(v, d, out);
    }
    case T_EVEN: return parity(v, 2, out);
    case T_ODD:
        st = parity(v, 2, out);
        *out = !*out;
        return st;
    case T_EQ:
    case T_EQUALTO:
    case T_EQ_OP:
    case T_NE:
    case T_NE_OP:
        if (!a0) return ingot__error(INGOT_ERR_FORMAT, "test: missing argument");
        *out = jv_equal(v, *a0) == (id != T_NE && id != T_NE_OP);
        return INGOT_OK;
    case T_LT:
    case T_LESSTHAN:
    case T_LT_OP: return cmp_test(c, v, a0, 0, out);
    case T_LE:
    case T_LE_OP: return cmp_test(c, v, a0, 1, out);
    case T_GT:
    case T_GREATERTHAN:
    case T_GT_OP: return cmp_test(c, v, a0, 2, out);
    case T_GE:
    case T_GE_OP: return cmp_test(c, v, a0, 3, out);
    case T_ESCAPED: *out = false; return INGOT_OK;
    case T_FALSE: *out = v.type == JV_BOOL && !v.u.b; return INGOT_OK;
    case T_TRUE: *out = v.type == JV_BOOL && v.u.b; return INGOT_OK;
    case T_FILTER:
    case T_TEST:
        *out = v.type == JV_STR &&
               (id == T_FILTER ? jinja__filter_id(v.u.s->data) : jinja__test_id(v.u.s->data)) >= 0;
        return INGOT_OK;
    case T_FLOAT: *out = v.type == JV_FLOAT; return INGOT_OK;
    case T_INTEGER: *out = v.type == JV_INT; return INGOT_OK;
    case T_NUMBER: *out = jv_is_number(v); return INGOT_OK;
    case T_IN: {
        if (!a0) return ingot__error(INGOT_ERR_FORMAT, "test: missing argument");
        if (a0->type == JV_STR) {
            if (v.type != JV_STR)
                return ingot__error(INGOT_ERR_FORMAT,
                                    "'in <string>' requires string as left operand");
            *out = memmem(a0->u.s->data, a0->u.s->len, v.u.s->data, v.u.s->len) != NULL ||
                   v.u.s->len == 0;
            return INGOT_OK;
        }
        if (a0->type == JV_LIST) {
            *out = false;
            for (size_t i = 0; i < a0->u.l->n && !*out; i++)
                *out = jv_equal(v, a0->u.l->items[i]);
            return INGOT_OK;
        }
        if (a0->type == JV_DICT) {
            *out = jv_dict_get(a0->u.d, v) != NULL;
            return INGOT_OK;
        }
        if (a0->type == JV_UNDEF) {
            *out = false;
            return INGOT_OK;
        }
        return ingot__error(INGOT_ERR_FORMAT, "argument of type '%s' is not iterable",
                            jv_type_name(*a0));
    }
    case T_ITERABLE:
        *out = v.type == JV_STR || v.type == JV_LIST || v.type == JV_DICT || v.type == JV_UNDEF;
        return INGOT_OK;
    case T_SEQUENCE:
        *out = v.type == JV_STR || v.type == JV_LIST || v.type == JV_DICT || v.type == JV_UNDEF;
        return INGOT_OK;
    case T_MAPPING: *out = v.type == JV_DICT; return INGOT_OK;
    case T_NONE: *out = v.type == JV_NONE; return INGOT_OK;
    case T_STRING: *out = v.type == JV_STR; return INGOT_OK;
    case T_SAMEAS:
        if (!a0) return ingot__error(INGOT_ERR_FORMAT, "test: missing argument");
        if (v.type != a0->type)
            *out = false;
        else if (v.type == JV_STR)
            *out = v.u.s == a0->u.s;
        else if (v.type == JV_LIST)
            *out = v.u.l == a0->u.l;
        else if (v.type == JV_DICT || v.type == JV_NS)
            *out = v.u.d == a0->u.d;
        else
            *out = jv_equal(v, *a0);
        return INGOT_OK;
    case T_LOWER:
    case T_UPPER: {
        jv s;
        if ((st = to_str(c, v, &s))) return st;
        *out = str_all(s.u.s, id == T_LOWER ? 4 : 5);
        jv_decref(s);
        return INGOT_OK;
    }
    default: return ingot__error(INGOT_ERR_INTERNAL, "template: bad test id %d", id);
    }
}

/* ---- filters ---- */

enum {
    F_ABS,
    F_ATTR,
    F_BATCH,
    F_CAPITALIZE,
    F_CENTER,
    F_COUNT,
    F_D,
    F_DEFAULT,
    F_DICTSORT,
    F_E,
    F_ESCAPE,
    F_FIRST,
    F_FLOAT,
    F_FORCEESCAPE,
    F_FORMAT,
    F_INDENT,
    F_INT,
    F_ITEMS,
    F_JOIN,
    F_LAST,
    F_LENGTH,
    F_LIST,
    F_LOWER,
    F_MAP,
    F_MAX,
    F_MIN,
    F_REJECT,
    F_REJECTATTR,
    F_REPLACE,
    F_REVERSE,
    F_ROUND,
    F_SAFE,
    F_SELECT,
    F_SELECTATTR,
    F_SORT,
    F_STRING,
    F_SUM,
    F_TITLE,
    F_TOJSON,
    F_TRIM,
    F_UNIQUE,
    F_UPPER,
    F_WORDCOUNT,
};
static const char *const filters[] = {
    "abs",       "attr",     "batch", "capitalize", "center", "count",      "d",
    "default",   "dictsort", "e",     "escape",     "first",  "float",      "forceescape",
    "format",    "indent",   "int",   "items",      "join",   "last",       "length",
    "list",      "lower",    "map",   "max",        "min",    "reject",     "rejectattr",
    "replace",   "reverse",  "round", "safe",       "select", "selectattr", "sort",
    "string",    "sum",      "title", "tojson",     "trim",   "unique",     "upper",
    "wordcount", NULL};
_Static_assert(sizeof filters / sizeof *filters == F_WORDCOUNT + 2, "a name for every F_ id");
static const char *const unsupported_filters[] = {
    "filesizeformat", "groupby",   "pprint", "random",   "slice",   "striptags",
    "truncate",       "urlencode", "urlize", "wordwrap", "xmlattr", NULL};

/* Each filter's parameters after the value (NULL-terminated); "*" for the
 * filters that take any arguments (select, map, ...). */
static const char *const filter_params[][5] = {
    [F_ABS] = {NULL},
    [F_ATTR] = {"name", NULL},
    [F_BATCH] = {"linecount", "fill_with", NULL},
    [F_CAPITALIZE] = {NULL},
    [F_CENTER] = {"width", NULL},
    [F_COUNT] = {NULL},
    [F_D] = {"default_value", "boolean", NULL},
    [F_DEFAULT] = {"default_value", "boolean", NULL},
    [F_DICTSORT] = {"case_sensitive", "by", "reverse", NULL},
    [F_E] = {NULL},
    [F_ESCAPE] = {NULL},
    [F_FIRST] = {NULL},
    [F_FLOAT] = {"default", NULL},
    [F_FORCEESCAPE] = {NULL},
    [F_FORMAT] = {"*", NULL},
    [F_INDENT] = {"width", "first", "blank", NULL},
    [F_INT] = {"default", "base", NULL},
    [F_ITEMS] = {NULL},
    [F_JOIN] = {"d", "attribute", NULL},
    [F_LAST] = {NULL},
    [F_LENGTH] = {NULL},
    [F_LIST] = {NULL},
    [F_LOWER] = {NULL},
    [F_MAP] = {"*", NULL},
    [F_MAX] = {"case_sensitive", "attribute", NULL},
    [F_MIN] = {"case_sensitive", "attribute", NULL},
    [F_REJECT] = {"*", NULL},
    [F_REJECTATTR] = {"*", NULL},
    [F_REPLACE] = {"old", "new", "count", NULL},
    [F_REVERSE] = {NULL},
    [F_ROUND] = {"precision", "method", NULL},
    [F_SAFE] = {NULL},
    [F_SELECT] = {"*", NULL},
    [F_SELECTATTR] = {"*", NULL},
    [F_SORT] = {"reverse", "case_sensitive", "attribute", NULL},
    [F_STRING] = {NULL},
    [F_SUM] = {"attribute", "start", NULL},
    [F_TITLE] = {NULL},
    [F_TOJSON] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL},
    [F_TRIM] = {"chars", NULL},
    [F_UNIQUE] = {"case_sensitive", "attribute", NULL},
    [F_UPPER] = {NULL},
    [F_WORDCOUNT] = {NULL},
};

int jinja__filter_id(const char *name) {
    int id = name_index(filters, name);
    if (id >= 0) return id;
    return in_list(unsupported_filters, name) ? JINJA_UNSUPPORTED : JINJA_UNKNOWN;
}

static ingot_status length_of(jv v, int64_t *n) {
    switch (v.type) {
    case JV_UNDEF: *n = 0; return INGOT_OK;
    case JV_STR: *n = (int64_t)jv_str_ncp(v.u.s); return INGOT_OK;
    case JV_LIST: *n = (int64_t)v.u.l->n; return INGOT_OK;
    case JV_DICT: *n = (int64_t)v.u.d->n; return INGOT_OK;
    default:
        return ingot__error(INGOT_ERR_FORMAT, "object of type '%s' has no len()", jv_type_name(v));
    }
}

/* Jinja2's attribute path "a.b.0" on v (environment.getitem per part). */
static ingot_status get_path(jctx *c, jv v, const jv *path, jv *out) {
    if (path->type == JV_INT) return jinja__getitem(c, v, *path, out);
    ingot_status st = need_str("attribute", path);
    if (st) return st;
    jv cur = jv_incref(v);
    const char *p = path->u.s->data, *end = p + path->u.s->len;
    while (p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        if (!dot) dot = end;
        jv key, next;
        bool digits = dot > p;
        for (const char *q = p; q < dot; q++)
            digits &= *q >= '0' && *q <= '9';
        if (digits && dot - p < 18)
            key = jv_int(strtoll(p, NULL, 10));
        else if ((st = jv_str_new(&key, p, (size_t)(dot - p))))
            break;
        st = jinja__getitem(c, cur, key, &next);
        jv_decref(key);
        jv_decref(cur);
        if (st) return st;
        cur = next;
        p = dot + 1;
    }
    if (st) {
        jv_decref(cur);
        return st;
    }
    *out = cur;
    return INGOT_OK;
}

/* The key a sort or unique compares: the attribute, lowercased strings
 * unless case_sensitive. */
static ingot_status sort_key(jctx *c, jv v, const jv *attr, bool case_sensitive, jv *out) {
    jv k;
    ingot_status st =
        attr && attr->type != JV_NONE ? get_path(c, v, attr, &k) : (k = jv_incref(v), INGOT_OK);
    if (st) return st;
    if (!case_sensitive && k.type == JV_STR) {
        st = str_lower(c, k.u.s, out);
        jv_decref(k);
        return st;
    }
    *out = k;
    return INGOT_OK;
}

/* Stable merge sort of items by keys (parallel arrays); errors propagate. */
static ingot_status merge_sort(jv *keys, jv *items, jv *tk, jv *ti, size_t n, bool reverse) {
    if (n < 2) return INGOT_OK;
    size_t h = n / 2;
    ingot_status st = merge_sort(keys, items, tk, ti, h, reverse);
    if (!st) st = merge_sort(keys + h, items + h, tk, ti, n - h, reverse);
    if (st) return st;
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        int cmp;
        if ((st = jv_compare(&cmp, keys[j], keys[i]))) return st;
        bool take_right = reverse ? cmp > 0 : cmp < 0;
        size_t from = take_right ? j++ : i++;
        tk[k] = keys[from];
        ti[k++] = items[from];
    }
    while (i < h) {
        tk[k] = keys[i];
        ti[k++] = items[i++];
    }
    while (j < n) {
        tk[k] = keys[j];
        ti[k++] = items[j++];
    }
    memcpy(keys, tk, n * sizeof *keys);
    memcpy(items, ti, n * sizeof *items);
    return INGOT_OK;
}

/* Sorted copy of a list (items borrowed from seq, keys computed). */
static ingot_status sorted(jctx *c, jv seq, const jv *attr, bool case_sensitive, bool reverse,
                           jv *out) {
    size_t n = seq.u.l->n;
    ingot_status st = jinja__charge(c, n * 2);
    if (st) return st;
    jv *keys = calloc(n ? 4 * n : 1, sizeof *keys);
    if (!keys) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory");
    jv *items = keys + n, *tk = keys + 2 * n, *ti = keys + 3 * n;
    size_t made = 0;
    for (; made < n && !st; made++) {
        items[made] = seq.u.l->items[made];
        st = sort_key(c, items[made], attr, case_sensitive, &keys[made]);
        if (st) break;
    }
    if (!st) st = merge_sort(keys, items, tk, ti, n, reverse);
    if (!st) st = jv_list_new(out, n, false);
    for (size_t i = 0; i < n && !st; i++)
        st = jv_list_push(*out, jv_incref(items[i]));
    for (size_t i = 0; i < made; i++)
        jv_decref(keys[i]);
    free(keys);
    return st;
}

static ingot_status as_list(jctx *c, jv v, jv *out) { return jinja__iterate(c, v, out); }

static ingot_status filter_unique(jctx *c, jv v, const jargs *a, jv *out) {
    jv items;
    ingot_status st = as_list(c, v, &items);
    if (st) return st;
    bool cs = opt_bool(jinja__arg(a, 0, "case_sensitive"), false);
    const jv *attr = jinja__arg(a, 1, "attribute");
    size_t n = items.u.l->n, nk = 0;
    *out = jv_none(); /* read on failure */
    jv *keys = calloc(n ? n : 1, sizeof *keys);
    if (!keys) st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory");
    if (!st) st = jv_list_new(out, 0, false);
    for (size_t i = 0; i < n && !st; i++) {
        jv k;
        if ((st = sort_key(c, items.u.l->items[i], attr, cs, &k))) break;
        bool seen = false;
        for (size_t j = 0; j < nk && !seen; j++)
            seen = jv_equal(keys[j], k);
        if ((st = jinja__charge_size(c, nk))) {
            jv_decref(k);
            break;
        }
        if (seen) {
            jv_decref(k);
            continue;
        }
        keys[nk++] = k;
        st = jv_list_push(*out, jv_incref(items.u.l->items[i]));
    }
    for (size_t j = 0; j < nk; j++)
        jv_decref(keys[j]);
    free(keys);
    if (st && out->type == JV_LIST) jv_decref(*out);
    jv_decref(items);
    return st;
}

/* select / reject / selectattr / rejectattr / map */
static ingot_status filter_select(jctx *c, int id, jv v, const jargs *a, jv *out) {
    jv items;
    ingot_status st = as_list(c, v, &items);
    if (st) return st;
    bool attr_mode = id == F_SELECTATTR || id == F_REJECTATTR;
    bool want = id == F_SELECT || id == F_SELECTATTR;
    size_t first_arg = attr_mode ? 1 : 0;
    const jv *attr = attr_mode ? jinja__arg(a, 0, NULL) : NULL;
    const jv *test_name = jinja__arg(a, first_arg, NULL);
    int test_id = -1;
    if (attr_mode && !attr)
        st = ingot__error(INGOT_ERR_FORMAT, "missing parameter for attribute name");
    if (!st && test_name) {
        if ((st = need_str("select", test_name))) goto done;
        test_id = jinja__test_id(test_name->u.s->data);
        if (test_id < 0)
            st = ingot__error(INGOT_ERR_FORMAT, "no test named '%s'", test_name->u.s->data);
    }
    jargs rest = {.pos = a->npos > first_arg + 1 ? a->pos + first_arg + 1 : NULL,
                  .npos = a->npos > first_arg + 1 ? a->npos - first_arg - 1 : 0,
                  .kwnames = a->kwnames,
                  .kw = a->kw,
                  .nkw = a->nkw};
    if (!st) st = jv_list_new(out, 0, false);
    if (st) goto done;
    for (size_t i = 0; i < items.u.l->n && !st; i++) {
        jv item = items.u.l->items[i], subject;
        if (attr)
            st = get_path(c, item, attr, &subject);
        else
            subject = jv_incref(item);
        if (st) break;
        bool r = jv_truthy(subject);
        if (test_id >= 0) st = jinja__test(c, test_id, subject, &rest, &r);
        jv_decref(subject);
        if (!st && r == want) st = jv_list_push(*out, jv_incref(item));
    }
    if (st) jv_decref(*out);
done:
    jv_decref(items);
    return st;
}

static ingot_status filter_map(jctx *c, jv v, const jargs *a, jv *out) {
    jv items;
    ingot_status st = as_list(c, v, &items);
    if (st) return st;
    const jv *attr = NULL, *dflt = NULL;
    int fid = -1;
    for (size_t k = 0; k < a->nkw; k++) {
        if (!strcmp(a->kwnames[k], "attribute"))
            attr = &a->kw[k];
        else if (!strcmp(a->kwnames[k], "default"))
            dflt = &a->kw[k];
    }
    if (!attr) {
        const jv *name = jinja__arg(a, 0, NULL);
        if ((st = need_str("map", name))) goto done;
        fid = jinja__filter_id(name->u.s->data);
        if (fid < 0) {
            st = ingot__error(INGOT_ERR_FORMAT, "no filter named '%s'", name->u.s->data);
            goto done;
        }
    }
    jargs rest = {.pos = a->npos > 1 ? a->pos + 1 : NULL, .npos = a->npos > 1 ? a->npos - 1 : 0};
    if ((st = jv_list_new(out, items.u.l->n, false))) goto done;
    for (size_t i = 0; i < items.u.l->n && !st; i++) {
        jv r;
        if (attr) {
            st = get_path(c, items.u.l->items[i], attr, &r);
            if (!st && r.type == JV_UNDEF && dflt) r = jv_incref(*dflt);
        } else {
            st = jinja__filter(c, fid, items.u.l->items[i], &rest, &r);
        }
        if (!st) st = jv_list_push(*out, r);
    }
    if (st) jv_decref(*out);
done:
    jv_decref(items);
    return st;
}

static ingot_status filter_tojson(jctx *c, jv v, const jargs *a, jv *out) {
    static const char *const names[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
    ingot_status st = jinja__check_args(a, 4, names, "tojson");
    if (st) return st;
    const jv *ascii = jinja__arg(a, 0, "ensure_ascii"), *indent = jinja__arg(a, 1, "indent");
    const jv *seps = jinja__arg(a, 2, "separators"), *sort = jinja__arg(a, 3, "sort_keys");
    char spaces[256];
    jv_json_opts o = {.ensure_ascii = opt_bool(ascii, false), .sort_keys = opt_bool(sort, false)};
    if (indent && indent->type == JV_STR) {
        o.indent = indent->u.s->data;
        o.indent_len = indent->u.s->len;
    } else if (indent && (indent->type == JV_INT || indent->type == JV_BOOL)) {
        int64_t w = indent->type == JV_INT ? indent->u.i : indent->u.b;
        if (w > (int64_t)sizeof spaces)
            return ingot__error(INGOT_ERR_LIMIT, "tojson: indent too large");
        memset(spaces, ' ', sizeof spaces);
        o.indent = spaces;
        o.indent_len = w > 0 ? (size_t)w : 0;
    } else if (indent && indent->type != JV_NONE) {
        return type_error("tojson indent", *indent);
    }
    if (seps && seps->type != JV_NONE) {
        if (seps->type != JV_LIST || seps->u.l->n != 2 || seps->u.l->items[0].type != JV_STR ||
            seps->u.l->items[1].type != JV_STR)
            return ingot__error(INGOT_ERR_FORMAT, "tojson: separators must be a pair of strings");
        o.item_sep = seps->u.l->items[0].u.s->data;
        o.key_sep = seps->u.l->items[1].u.s->data;
    }
    jv_buf b = {.max = c->max_output};
    st = jv_write_json(&b, v, &o);
    if (!st) st = jinja__charge_size(c, b.len);
    return new_str_buf(out, &b, st);
}

static ingot_status filter_indent(jctx *c, jv v, const jargs *a, jv *out) {
    if (v.type != JV_STR) /* Jinja2 appends "\n" to the value: only strings work */
        return ingot__error(INGOT_ERR_FORMAT, "indent: expected a string, got %s", jv_type_name(v));
    jv s = jv_incref(v);
    ingot_status st;
    const jv *w = jinja__arg(a, 0, "width");
    bool first = opt_bool(jinja__arg(a, 1, "first"), false);
    bool blank = opt_bool(jinja__arg(a, 2, "blank"), false);
    jv_buf ind = {.max = c->max_output}, b = {.max = c->max_output};
    if (w && w->type == JV_STR) {
        st = jv_buf_add(&ind, w->u.s->data, w->u.s->len);
    } else {
        int64_t width;
        if (!(st = opt_int("indent", w, 4, &width)))
            for (int64_t i = 0; i < width && !st; i++)
                st = jv_buf_addc(&ind, ' ');
    }
    jv lines = jv_none();
    if (!st) { /* s + "\n", split into lines */
        jv_buf t = {.max = c->max_output};
        jv tmp;
        if (!(st = jv_buf_add(&t, s.u.s->data, s.u.s->len)) && !(st = jv_buf_addc(&t, '\n')) &&
            !(st = jv_buf_take(&tmp, &t))) {
            st = str_splitlines(tmp, false, &lines);
            jv_decref(tmp);
        } else {
            jv_buf_free(&t);
        }
    }
    const char *pad = ind.data ? ind.data : "";
    for (size_t i = 0; !st && i < lines.u.l->n; i++) {
        const jv_str *line = lines.u.l->items[i].u.s;
        if (i) st = jv_buf_addc(&b, '\n');
        bool do_pad = i == 0 ? first : (blank || line->len > 0);
        if (!st && do_pad) st = jv_buf_add(&b, pad, ind.len);
        if (!st) st = jv_buf_add(&b, line->data, line->len);
    }
    jv_decref(lines);
    jv_decref(s);
    jv_buf_free(&ind);
    if (!st) st = jinja__charge_size(c, b.len);
    return new_str_buf(out, &b, st);
}

/* Python's int(str) / float(str) for the int and float filters. */
static bool parse_number(const jv_str *s, bool want_int, int base, double *f, int64_t *i) {
    char buf[128];
    size_t n = 0;
    size_t a = 0, b = s->len;
    while (a < b && strchr(" \t\n\v\f\r", s->data[a]) && s->data[a])
        a++;
    while (b > a && strchr(" \t\n\v\f\r", s->data[b - 1]) && s->data[b - 1])
        b--;
    for (size_t k = a; k < b; k++) {
        char ch = s->data[k];
        if (ch == '_') {
            if (k == a || k + 1 == b) return false;
            continue;
        }
        if (n + 1 >= sizeof buf) return false;
        buf[n++] = ch;
    }
    buf[n] = '\0';
    if (n == 0) return false;
    char *end;
    if (want_int) {
        errno = 0;
        long long v = strtoll(buf, &end, base);
        if (*end || errno || buf[0] == ' ') return false;
        *i = v;
        return true;
    }
    *f = ingot__strtod_c(buf, &end);
    return *end == '\0' && !(buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'));
}

static ingot_status filter_int(jv v, const jargs *a, jv *out) {
    const jv *dflt = jinja__arg(a, 0, "default");
    int64_t base;
    ingot_status st = opt_int("int", jinja__arg(a, 1, "base"), 10, &base);
    if (st) return st;
    double f;
    int64_t i;
    switch (v.type) {
    case JV_INT: *out = v; return INGOT_OK;
    case JV_BOOL: *out = jv_int(v.u.b); return INGOT_OK;
    case JV_FLOAT:
        if (isfinite(v.u.f) && fabs(v.u.f) < 9.2e18) {
            *out = jv_int((int64_t)v.u.f);
            return INGOT_OK;
        }
        break;
    case JV_STR:
        if (base >= 2 && base <= 36 && parse_number(v.u.s, true, (int)base, &f, &i)) {
            *out = jv_int(i);
            return INGOT_OK;
        }
        if (parse_number(v.u.s, false, 10, &f, &i) && isfinite(f) && fabs(f) < 9.2e18) {
            *out = jv_int((int64_t)f);
            return INGOT_OK;
        }
        break;
    default: break;
    }
    *out = dflt ? jv_incref(*dflt) : jv_int(0);
    return INGOT_OK;
}

static ingot_status filter_float(jv v, const jargs *a, jv *out) {
    const jv *dflt = jinja__arg(a, 0, "default");
    double f;
    int64_t i;
    if (jv_is_number(v)) {
        *out = jv_float(jv_as_double(v));
        return INGOT_OK;
    }
    if (v.type == JV_STR && parse_number(v.u.s, false, 10, &f, &i)) {
        *out = jv_float(f);
        return INGOT_OK;
    }
    *out = dflt ? jv_incref(*dflt) : jv_float(0.0);
    return INGOT_OK;
}

static ingot_status filter_round(jv v, const jargs *a, jv *out) {
    int64_t prec;
    ingot_status st = opt_int("round", jinja__arg(a, 0, "precision"), 0, &prec);
    if (st) return st;
    const jv *method = jinja__arg(a, 1, "method");
    const char *m = method && method->type == JV_STR ? method->u.s->data : "common";
    if (strcmp(m, "common") && strcmp(m, "floor") && strcmp(m, "ceil"))
        return ingot__error(INGOT_ERR_FORMAT, "method must be common, ceil or floor");
    if (!jv_is_number(v)) return type_error("round", v);
    double x = jv_as_double(v), p10 = pow(10.0, (double)prec);
    if (m[0] != 'c' || m[1] != 'o') {
        *out = jv_float((m[0] == 'f' ? floor(x * p10) : ceil(x * p10)) / p10);
        return INGOT_OK;
    }
    if (v.type != JV_FLOAT) { /* round(int, n) stays an int */
        *out = jv_int(v.type == JV_INT ? v.u.i : v.u.b);
        return INGOT_OK;
    }
    if (!isfinite(x) || prec > 17) {
        *out = v;
        return INGOT_OK;
    }
    if (prec >= 0) {
        char buf[400];
        ingot__snprintf_c(buf, sizeof buf, "%.*f", (int)prec, x);
        *out = jv_float(ingot__strtod_c(buf, NULL));
    } else {
        double y = x / pow(10.0, (double)-prec);
        *out = jv_float(nearbyint(y) * pow(10.0, (double)-prec));
    }
    return INGOT_OK;
}

static ingot_status filter_escape(jctx *c, jv v, jv *out) {
    jv s;
    ingot_status st = to_str(c, v, &s);
    if (st) return st;
    jv_buf b = {.max = c->max_output};
    for (size_t i = 0; i < s.u.s->len && !st; i++) {
        char ch = s.u.s->data[i];
        switch (ch) {
        case '&': st = jv_buf_add(&b, "&amp;", 5); break;
        case '<': st = jv_buf_add(&b, "&lt;", 4); break;
        case '>': st = jv_buf_add(&b, "&gt;", 4); break;
        case '"': st = jv_buf_add(&b, "&#34;", 5); break;
        case '\'': st = jv_buf_add(&b, "&#39;", 5); break;
        default: st = jv_buf_addc(&b, ch);
        }
    }
    jv_decref(s);
    return new_str_buf(out, &b, st);
}

/* Jinja2's title filter: words split at runs of [-\s({[<]. */
static ingot_status filter_title(jctx *c, jv s, jv *out) {
    jv_buf b = {.max = c->max_output};
    ingot_status st = INGOT_OK;
    bool word_start = true;
    for (size_t i = 0; i < s.u.s->len && !st;) {
        uint32_t cp = jv_utf8_next(s.u.s->data, &i);
        bool sep =
            jv_py_isspace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
        uint32_t o = sep ? cp
                         : (uint32_t)(word_start ? utf8proc_toupper((utf8proc_int32_t)cp)
                                                 : utf8proc_tolower((utf8proc_int32_t)cp));
        word_start = sep;
        st = jv_buf_addcp(&b, o);
    }
    return new_str_buf(out, &b, st);
}

static ingot_status filter_wordcount(jv s, jv *out) {
    int64_t n = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.u.s->len;) {
        uint32_t cp = jv_utf8_next(s.u.s->data, &i);
        utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
        bool w = cp == '_' || (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
                 (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) ||
                 (cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME);
        if (w && !in_word) n++;
        in_word = w;
    }
    *out = jv_int(n);
    return INGOT_OK;
}

static ingot_status filter_center(jctx *c, jv s, const jargs *a, jv *out) {
    int64_t width;
    ingot_status st = opt_int("center", jinja__arg(a, 0, "width"), 80, &width);
    if (st) return st;
    int64_t n = (int64_t)jv_str_ncp(s.u.s);
    if (width <= n) {
        *out = jv_incref(s);
        return INGOT_OK;
    }
    if ((uint64_t)width > c->max_output)
        return ingot__error(INGOT_ERR_LIMIT, "center: width over the output limit");
    int64_t pad = width - n, left = pad / 2 + (pad & width & 1);
    jv_buf b = {.max = c->max_output};
    for (int64_t i = 0; i < left && !st; i++)
        st = jv_buf_addc(&b, ' ');
    if (!st) st = jv_buf_add(&b, s.u.s->data, s.u.s->len);
    for (int64_t i = 0; i < pad - left && !st; i++)
        st = jv_buf_addc(&b, ' ');
    return new_str_buf(out, &b, st);
}

static ingot_status filter_minmax(jctx *c, jv v, const jargs *a, bool max, jv *out) {
    jv items, sorted_items;
    ingot_status st = as_list(c, v, &items);
    if (st) return st;
    st = sorted(c, items, jinja__arg(a, 1, "attribute"),
                opt_bool(jinja__arg(a, 0, "case_sensitive"), false), false, &sorted_items);
    jv_decref(items);
    if (st) return st;
    size_t n = sorted_items.u.l->n;
    if (n == 0)
        *out = jv_undef(NULL);
    else if (!max)
        *out = jv_incref(sorted_items.u.l->items[0]);
    else { /* Python's max keeps the first of equal maxima */
        size_t k = n - 1;
        while (k > 0) {
            int cmp;
            jv ka, kb;
            if ((st = sort_key(c, sorted_items.u.l->items[k - 1], jinja__arg(a, 1, "attribute"),
                               opt_bool(jinja__arg(a, 0, "case_sensitive"), false), &ka)))
                break;
            if ((st = sort_key(c, sorted_items.u.l->items[n - 1], jinja__arg(a, 1, "attribute"),
                               opt_bool(jinja__arg(a, 0, "case_sensitive"), false), &kb))) {
                jv_decref(ka);
                break;
            }
            st = jv_compare(&cmp, ka, kb);
            jv_decref(ka);
            jv_decref(kb);
            if (st || cmp != 0) break;
            k--;
        }
        if (!st) *out = jv_incref(sorted_items.u.l->items[k]);
    }
    jv_decref(sorted_items);
    return st;
}

static ingot_status filter_dictsort(jctx *c, jv v, const jargs *a, jv *out) {
    if (v.type != JV_DICT) return type_error("dictsort", v);
    bool cs = opt_bool(jinja__arg(a, 0, "case_sensitive"), false);
    const jv *by = jinja__arg(a, 1, "by");
    bool by_value = by && by->type == JV_STR && strcmp(by->u.s->data, "value") == 0;
    if (by && !by_value && (by->type != JV_STR || strcmp(by->u.s->data, "key") != 0))
        return ingot__error(INGOT_ERR_FORMAT, "You can only sort by either \"key\" or \"value\"");
    bool reverse = opt_bool(jinja__arg(a, 2, "reverse"), false);
    jv pairs;
    ingot_status st = dict_view(v, 2, &pairs);
    if (st) return st;
    jv idx = jv_int(by_value ? 1 : 0);
    st = sorted(c, pairs, &idx, cs, reverse, out);
    jv_decref(pairs);
    return st;
}

static ingot_status filter_batch(jctx *c, jv v, const jargs *a, jv *out) {
    int64_t size;
    ingot_status st = opt_int("batch", jinja__arg(a, 0, "linecount"), 0, &size);
    if (st) return st;
    if (size <= 0) return ingot__error(INGOT_ERR_FORMAT, "batch: linecount must be positive");
    const jv *fill = jinja__arg(a, 1, "fill_with");
    jv items, row = jv_none();
    if ((st = as_list(c, v, &items))) return st;
    if ((st = jv_list_new(out, 0, false))) {
        jv_decref(items);
        return st;
    }
    for (size_t i = 0; i < items.u.l->n && !st; i++) {
        if (row.type != JV_LIST && (st = jv_list_new(&row, 0, false))) break;
        if ((st = jv_list_push(row, jv_incref(items.u.l->items[i])))) break;
        if ((int64_t)row.u.l->n == size) {
            st = jv_list_push(*out, row);
            row = jv_none();
        }
    }
    if (!st && row.type == JV_LIST) {
        /* the fill is as long as linecount says: each item counts as a step */
        if (fill && fill->type != JV_NONE)
            st = jinja__charge(c, (uint64_t)(size - (int64_t)row.u.l->n));
        while (!st && fill && fill->type != JV_NONE && (int64_t)row.u.l->n < size)
            st = jv_list_push(row, jv_incref(*fill));
        if (!st)
            st = jv_list_push(*out, row);
        else
            jv_decref(row);
    } else {
        jv_decref(row);
    }
    jv_decref(items);
    if (st) jv_decref(*out);
    return st;
}

static ingot_status filter_sum(jctx *c, jv v, const jargs *a, jv *out) {
    jv items;
    ingot_status st = as_list(c, v, &items);
    if (st) return st;
    const jv *attr = jinja__arg(a, 0, "attribute"), *start = jinja__arg(a, 1, "start");
    jv acc = start ? jv_incref(*start) : jv_int(0);
    for (size_t i = 0; i < items.u.l->n && !st; i++) {
        jv x, r;
        if (attr && attr->type != JV_NONE)
            st = get_path(c, items.u.l->items[i], attr, &x);
        else
            x = jv_incref(items.u.l->items[i]);
        if (st) break;
        if (!jv_is_number(x) || !jv_is_number(acc)) {
            st = ingot__error(INGOT_ERR_FORMAT, "unsupported operand type(s) for +: '%s' and '%s'",
                              jv_type_name(acc), jv_type_name(x));
        } else if (acc.type == JV_FLOAT || x.type == JV_FLOAT) {
            r = jv_float(jv_as_double(acc) + jv_as_double(x));
            acc = r;
        } else {
            int64_t s;
            if (__builtin_add_overflow(acc.type == JV_INT ? acc.u.i : acc.u.b,
                                       x.type == JV_INT ? x.u.i : x.u.b, &s))
                st = ingot__error(INGOT_ERR_UNSUPPORTED, "template: integer overflow");
            else
                acc = jv_int(s);
        }
        jv_decref(x);
    }
    jv_decref(items);
    if (st) {
        jv_decref(acc);
        return st;
    }
    *out = acc;
    return INGOT_OK;
}

static ingot_status filter_reverse(jctx *c, jv v, jv *out) {
    if (v.type == JV_STR) {
        jv_buf b = {.max = c->max_output};
        ingot_status st = INGOT_OK;
        size_t end = v.u.s->len;
        while (end > 0 && !st) {
            size_t k = cp_start_before(v.u.s->data, end);
            st = jv_buf_add(&b, v.u.s->data + k, end - k);
            end = k;
        }
        return new_str_buf(out, &b, st);
    }
    jv items;
    ingot_status st = as_list(c, v, &items);
    if (st) return st;
    if (!(st = jv_list_new(out, items.u.l->n, false)))
        for (size_t i = items.u.l->n; i-- > 0 && !st;)
            st = jv_list_push(*out, jv_incref(items.u.l->items[i]));
    jv_decref(items);
    return st;
}

static ingot_status str_filter(jctx *c, int id, jv v, const jargs *a, jv *out) {
    jv s;
    ingot_status st = to_str(c, v, &s);
    if (st) return st;
    switch (id) {
    case F_UPPER: st = str_upper(c, s.u.s, out); break;
    case F_LOWER: st = str_lower(c, s.u.s, out); break;
    case F_CAPITALIZE: st = str_capitalize(c, s.u.s, out); break;
    case F_TITLE: st = filter_title(c, s, out); break;
    case F_TRIM: st = str_strip(s, jinja__arg(a, 0, "chars"), 3, out); break;
    case F_WORDCOUNT: st = filter_wordcount(s, out); break;
    case F_CENTER: st = filter_center(c, s, a, out); break;
    case F_REPLACE:
        st = str_replace(c, s, jinja__arg(a, 0, "old"), jinja__arg(a, 1, "new"),
                         jinja__arg(a, 2, "count"), out);
        break;
    default: *out = jv_incref(s); /* string, safe */
    }
    jv_decref(s);
    return st;
}

ingot_status jinja__filter(jctx *c, int id, jv v, const jargs *a, jv *out) {
    ingot_status st;
    int64_t n = 0;
    jv items;
    const char *const *params = filter_params[id];
    if (!params[0] || strcmp(params[0], "*") != 0) {
        size_t np = 0;
        while (params[np])
            np++;
        char what[48];
        snprintf(what, sizeof what, "filter '%s'", filters[id]);
        if ((st = jinja__check_args(a, np, params, what))) return st;
    }
    switch (id) {
    case F_ABS:
        if (v.type == JV_FLOAT)
            *out = jv_float(fabs(v.u.f));
        else if (v.type == JV_INT && v.u.i == INT64_MIN)
            return ingot__error(INGOT_ERR_UNSUPPORTED, "template: integer overflow");
        else if (v.type == JV_INT || v.type == JV_BOOL)
            *out = jv_int(v.type == JV_INT ? (v.u.i < 0 ? -v.u.i : v.u.i) : v.u.b);
        else
            return ingot__error(INGOT_ERR_FORMAT, "bad operand type for abs(): '%s'",
                                jv_type_name(v));
        return INGOT_OK;
    case F_ATTR: {
        const jv *name = jinja__arg(a, 0, "name");
        if ((st = need_str("attr", name))) return st;
        return jinja__getattr(c, v, name->u.s->data, name->u.s->len, out);
    }
    case F_BATCH: return filter_batch(c, v, a, out);
    case F_COUNT:
    case F_LENGTH:
        if (v.type == JV_STR && !v.u.s->ascii && (st = jinja__charge_size(c, v.u.s->len)))
            return st;
        if ((st = length_of(v, &n))) return st;
        *out = jv_int(n);
        return INGOT_OK;
    case F_D:
    case F_DEFAULT: {
        const jv *dflt = jinja__arg(a, 0, "default_value");
        bool boolean = opt_bool(jinja__arg(a, 1, "boolean"), false);
        if (v.type == JV_UNDEF || (boolean && !jv_truthy(v))) {
            if (dflt)
                *out = jv_incref(*dflt);
            else if ((st = jv_str_new(out, "", 0)))
                return st;
        } else {
            *out = jv_incref(v);
        }
        return INGOT_OK;
    }
    case F_DICTSORT: return filter_dictsort(c, v, a, out);
    case F_E:
    case F_ESCAPE:
    case F_FORCEESCAPE: return filter_escape(c, v, out);
    case F_FIRST:
    case F_LAST:
        if (v.type == JV_UNDEF) {
            *out = jv_undef(NULL);
            return INGOT_OK;
        }
        if ((st = as_list(c, v, &items))) return st;
        n = (int64_t)items.u.l->n;
        *out = n == 0 ? jv_undef(NULL) : jv_incref(items.u.l->items[id == F_FIRST ? 0 : n - 1]);
        jv_decref(items);
        return INGOT_OK;
    case F_FLOAT: return filter_float(v, a, out);
    case F_FORMAT: {
        if (a->npos && a->nkw)
            return ingot__error(INGOT_ERR_FORMAT,
                                "can't handle positional and keyword arguments at the same time");
        jv s, args;
        if ((st = to_str(c, v, &s))) return st;
        if (a->nkw) {
            st = jv_dict_new(&args, JV_DICT);
            for (size_t k = 0; k < a->nkw && !st; k++) {
                jv key;
                if (!(st = jv_str_cstr(&key, a->kwnames[k])))
                    st = jv_dict_set(args, key, jv_incref(a->kw[k]));
            }
        } else {
            st = jv_list_new(&args, a->npos, true);
            for (size_t i = 0; i < a->npos && !st; i++)
                st = jv_list_push(args, jv_incref(a->pos[i]));
        }
        if (!st) st = jinja__percent_format(c, s.u.s, args, out);
        if (args.type == JV_LIST || args.type == JV_DICT) jv_decref(args);
        jv_decref(s);
        return st;
    }
    case F_INT: return filter_int(v, a, out);
    case F_INDENT: return filter_indent(c, v, a, out);
    case F_ITEMS:
        if (v.type == JV_UNDEF) return jv_list_new(out, 0, false);
        if (v.type != JV_DICT)
            return ingot__error(INGOT_ERR_FORMAT, "Can only get item pairs from a mapping.");
        return dict_view(v, 2, out);
    case F_JOIN: {
        const jv *d = jinja__arg(a, 0, "d"), *attr = jinja__arg(a, 1, "attribute");
        jv sep = jv_none();
        if (d && (st = to_str(c, *d, &sep))) return st;
        const jv_str *sep_s = d ? sep.u.s : NULL;
        if (attr && attr->type != JV_NONE) {
            jargs ma = {.kwnames = (const char *const[]){"attribute"}, .kw = attr, .nkw = 1};
            if (!(st = filter_map(c, v, &ma, &items))) {
                st = join_items(c, items, sep_s, false, out);
                jv_decref(items);
            }
        } else {
            st = join_items(c, v, sep_s, false, out);
        }
        jv_decref(sep);
        return st;
    }
    case F_LIST: return as_list(c, v, out);
    case F_MAP: return filter_map(c, v, a, out);
    case F_MAX:
    case F_MIN: return filter_minmax(c, v, a, id == F_MAX, out);
    case F_REJECT:
    case F_REJECTATTR:
    case F_SELECT:
    case F_SELECTATTR: return filter_select(c, id, v, a, out);
    case F_REVERSE: return filter_reverse(c, v, out);
    case F_ROUND: return filter_round(v, a, out);
    case F_SORT: {
        if ((st = as_list(c, v, &items))) return st;
        st = sorted(c, items, jinja__arg(a, 2, "attribute"),
                    opt_bool(jinja__arg(a, 1, "case_sensitive"), false),
                    opt_bool(jinja__arg(a, 0, "reverse"), false), out);
        jv_decref(items);
        return st;
    }
    case F_SUM: return filter_sum(c, v, a, out);
    case F_TOJSON: return filter_tojson(c, v, a, out);
    case F_UNIQUE: return filter_unique(c, v, a, out);
    case F_UPPER:
    case F_LOWER:
    case F_CAPITALIZE:
    case F_TITLE:
    case F_TRIM:
    case F_WORDCOUNT:
    case F_CENTER:
    case F_REPLACE:
    case F_STRING:
    case F_SAFE: return str_filter(c, id, v, a, out);
    default: return ingot__error(INGOT_ERR_INTERNAL, "template: bad filter id %d", id);
    }
}
