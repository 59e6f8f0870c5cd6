/* The chat-template evaluator: statements, scopes, expressions and Python's
 * operators, within the limits on steps, depth and output. */
#include "text/jinja_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

enum { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE };

ingot_status jinja__charge(jctx *c, uint64_t n) {
    c->steps += n;
    if (c->steps > c->max_steps)
        return ingot__error(INGOT_ERR_LIMIT, "template: more than %llu evaluation steps",
                            (unsigned long long)c->max_steps);
    return INGOT_OK;
}

ingot_status jinja__charge_size(jctx *c, uint64_t n) {
    return jinja__charge(c, n / JINJA_UNITS_PER_STEP);
}

static ingot_status enter(jctx *c) {
    if (++c->depth > c->max_depth) {
        c->depth--;
        return ingot__error(INGOT_ERR_LIMIT, "template: nesting deeper than %d", c->max_depth);
    }
    return jinja__charge(c, 1);
}

/* Prefixes the current error message with the node's place, once. */
static ingot_status locate(jctx *c, const jnode *n, ingot_status st) {
    if (!st || c->located) return st;
    c->located = true;
    if (strncmp(ingot_last_error(), "template:", 9) == 0 && ingot_last_error()[9] >= '0' &&
        ingot_last_error()[9] <= '9')
        return st;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ingot_last_error());
    const char *m = strncmp(msg, "template: ", 10) == 0 ? msg + 10 : msg;
    return ingot__error(st, "template:%d:%d: %s", n->line, n->col, m);
}

static ingot_status undefined_error(jv v) {
    const char *hint = v.u.p;
    if (hint) return ingot__error(INGOT_ERR_FORMAT, "'%s' is undefined", hint);
    return ingot__error(INGOT_ERR_FORMAT, "a value is undefined");
}

/* ---- arguments ---- */

const jv *jinja__arg(const jargs *a, size_t i, const char *name) {
    if (i < a->npos) return &a->pos[i];
    for (size_t k = 0; name && k < a->nkw; k++)
        if (strcmp(a->kwnames[k], name) == 0) return &a->kw[k];
    return NULL;
}

ingot_status jinja__check_args(const jargs *a, size_t maxpos, const char *const *names,
                               const char *what) {
    if (a->npos > maxpos)
        return ingot__error(INGOT_ERR_FORMAT,
                            "%s takes at most %zu positional argument(s), got %zu", what, maxpos,
                            a->npos);
    for (size_t k = 0; k < a->nkw; k++) {
        size_t i = 0;
        while (names && names[i] && strcmp(names[i], a->kwnames[k]) != 0)
            i++;
        if (!names || !names[i])
            return ingot__error(INGOT_ERR_FORMAT, "%s got an unexpected keyword argument '%s'",
                                what, a->kwnames[k]);
        if (i < a->npos)
            return ingot__error(INGOT_ERR_FORMAT, "%s got multiple values for argument '%s'", what,
                                a->kwnames[k]);
    }
    return INGOT_OK;
}

/* ---- scopes ----
 * As in Jinja2: a for-loop iteration, a with block and a macro call each run in a fresh
 * frame whose parent is the frame around them (a macro's: its closure, then the template
 * level), and {% set %} writes to the innermost frame, so an assignment inside a loop is gone
 * after it (templates carry state out of loops through namespace() objects, which are shared
 * by reference). if blocks open no frame. A name is looked up through the frames inside out,
 * then the render's variables, then the global functions; otherwise it is undefined. */

static ingot_status frame_set(jframe *f, const char *name, jv v) {
    ingot_status st;
    if (f->vars.type != JV_DICT && (st = jv_dict_new(&f->vars, JV_DICT))) {
        jv_decref(v);
        return st;
    }
    jv key;
    if ((st = jv_str_cstr(&key, name))) {
        jv_decref(v);
        return st;
    }
    return jv_dict_set(f->vars, key, v);
}

static jv lookup(jctx *c, const char *name) {
    size_t len = strlen(name);
    for (jframe *f = c->frame; f; f = f->parent) {
        if (f->vars.type != JV_DICT) continue;
        jv *v = jv_dict_get_str(f->vars.u.d, name, len);
        if (v) return jv_incref(*v);
    }
    jv *v = jv_dict_get_str(c->vars.u.d, name, len);
    if (v) return jv_incref(*v);
    int g = jinja__global_id(name);
    if (g >= 0) return (jv){.type = JV_FUNC, .u.i = g};
    return jv_undef(name);
}

/* ---- attribute and item access ---- */

static ingot_status loop_attr(jctx *c, const jv_loop *l, const char *name, jv *out) {
    int64_t i = (int64_t)l->index, n = (int64_t)l->items->n;
    if (strcmp(name, "index") == 0)
        *out = jv_int(i + 1);
    else if (strcmp(name, "index0") == 0)
        *out = jv_int(i);
    else if (strcmp(name, "revindex") == 0)
        *out = jv_int(n - i);
    else if (strcmp(name, "revindex0") == 0)
        *out = jv_int(n - i - 1);
    else if (strcmp(name, "first") == 0)
        *out = jv_bool(i == 0);
    else if (strcmp(name, "last") == 0)
        *out = jv_bool(i == n - 1);
    else if (strcmp(name, "length") == 0)
        *out = jv_int(n);
    else if (strcmp(name, "depth") == 0)
        *out = jv_int(1);
    else if (strcmp(name, "depth0") == 0)
        *out = jv_int(0);
    else if (strcmp(name, "previtem") == 0)
        *out = i > 0 ? jv_incref(l->items->items[i - 1]) : jv_undef("previtem");
    else if (strcmp(name, "nextitem") == 0)
        *out = i + 1 < n ? jv_incref(l->items->items[i + 1]) : jv_undef("nextitem");
    else if (strcmp(name, "cycle") == 0 || strcmp(name, "changed") == 0)
        *out = (jv){.type = JV_FUNC, .u.i = -1};
    else
        *out = jv_undef(NULL);
    (void)c;
    return INGOT_OK;
}

ingot_status jinja__getattr(jctx *c, jv obj, const char *name, size_t len, jv *out) {
    switch (obj.type) {
    case JV_UNDEF: return undefined_error(obj);
    case JV_DICT:
    case JV_NS: {
        if (obj.type == JV_DICT && jinja__has_method(obj, name)) {
            *out = jinja__is_mutator(name) ? jv_undef(NULL) : (jv){.type = JV_FUNC, .u.i = -1};
            return INGOT_OK;
        }
        jv *v = jv_dict_get_str(obj.u.d, name, len);
        *out = v ? jv_incref(*v) : jv_undef(NULL);
        return INGOT_OK;
    }
    case JV_LOOP: return loop_attr(c, obj.u.loop, name, out);
    case JV_STR:
    case JV_LIST:
        *out = jinja__has_method(obj, name) && !jinja__is_mutator(name)
                   ? (jv){.type = JV_FUNC, .u.i = -1}
                   : jv_undef(NULL);
        return INGOT_OK;
    default: *out = jv_undef(NULL); return INGOT_OK;
    }
}

/* Python's slice indices for a sequence of n items. */
static ingot_status slice_indices(const jv *parts, int64_t n, int64_t *start, int64_t *stop,
                                  int64_t *step) {
    int64_t v[3];
    bool given[3];
    for (int k = 0; k < 3; k++) {
        given[k] = parts[k].type != JV_NONE;
        if (given[k] && parts[k].type != JV_INT && parts[k].type != JV_BOOL)
            return ingot__error(INGOT_ERR_FORMAT, "slice indices must be integers or None");
        v[k] = parts[k].type == JV_INT ? parts[k].u.i : parts[k].type == JV_BOOL && parts[k].u.b;
    }
    *step = given[2] ? v[2] : 1;
    if (*step == 0) return ingot__error(INGOT_ERR_FORMAT, "slice step cannot be zero");
    if (*step == INT64_MIN) *step = -INT64_MAX;
    bool neg = *step < 0;
    int64_t lo = neg ? -1 : 0, hi = neg ? n - 1 : n;
    for (int k = 0; k < 2; k++) {
        int64_t x;
        if (!given[k]) {
            x = k == 0 ? (neg ? hi : lo) : (neg ? lo : hi);
        } else {
            x = v[k];
            if (x < 0) x = x < -n ? lo : x + n;
            if (x < lo) x = lo;
            if (x > hi) x = hi;
        }
        if (k == 0)
            *start = x;
        else
            *stop = x;
    }
    return INGOT_OK;
}

static ingot_status do_slice(jctx *c, jv obj, const jv *parts, jv *out) {
    ingot_status st;
    if (obj.type == JV_UNDEF) return undefined_error(obj);
    if (obj.type != JV_LIST && obj.type != JV_STR) {
        *out = jv_undef(NULL);
        return INGOT_OK;
    }
    size_t *offs = NULL;
    int64_t n;
    if (obj.type == JV_LIST) {
        n = (int64_t)obj.u.l->n;
    } else if (obj.u.s->ascii) {
        n = (int64_t)obj.u.s->len;
    } else { /* code point offsets */
        n = (int64_t)jv_str_ncp(obj.u.s);
        if (!(offs = malloc(((size_t)n + 1) * sizeof *offs)))
            return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory");
        size_t i = 0;
        for (int64_t k = 0; k < n; k++) {
            offs[k] = i;
            jv_utf8_next(obj.u.s->data, &i);
        }
        offs[n] = i;
    }
    int64_t start = 0, stop = 0, step = 1;
    if ((st = slice_indices(parts, n, &start, &stop, &step)) ||
        (st = jinja__charge_size(c, (uint64_t)n))) {
        free(offs);
        return st;
    }
    if (obj.type == JV_LIST) {
        if ((st = jv_list_new(out, 0, obj.u.l->tuple))) return st;
        for (int64_t i = start; (step > 0 ? i < stop : i > stop) && !st; i += step)
            st = jv_list_push(*out, jv_incref(obj.u.l->items[i]));
        if (st) jv_decref(*out);
        return st;
    }
    jv_buf b = {.max = c->max_output};
    for (int64_t i = start; (step > 0 ? i < stop : i > stop) && !st; i += step) {
        size_t from = offs ? offs[i] : (size_t)i, to = offs ? offs[i + 1] : (size_t)i + 1;
        st = jv_buf_add(&b, obj.u.s->data + from, to - from);
    }
    free(offs);
    if (st) {
        jv_buf_free(&b);
        return st;
    }
    return jv_buf_take(out, &b);
}

/* The code point at index i (may be negative) of s, or undefined. */
static ingot_status str_index(jv s, int64_t i, jv *out) {
    int64_t n = (int64_t)jv_str_ncp(s.u.s);
    if (i < 0) i += n;
    if (i < 0 || i >= n) {
        *out = jv_undef(NULL);
        return INGOT_OK;
    }
    size_t pos = 0;
    if (s.u.s->ascii) {
        pos = (size_t)i;
    } else {
        for (int64_t k = 0; k < i; k++)
            jv_utf8_next(s.u.s->data, &pos);
    }
    size_t end = pos;
    jv_utf8_next(s.u.s->data, &end);
    return jv_str_new(out, s.u.s->data + pos, end - pos);
}

ingot_status jinja__getitem(jctx *c, jv obj, jv key, jv *out) {
    switch (obj.type) {
    case JV_UNDEF: return undefined_error(obj);
    case JV_LIST:
    case JV_STR:
        if (key.type == JV_INT || key.type == JV_BOOL) {
            int64_t i = key.type == JV_INT ? key.u.i : key.u.b;
            if (obj.type == JV_STR) {
                ingot_status st = obj.u.s->ascii ? INGOT_OK : jinja__charge_size(c, obj.u.s->len);
                return st ? st : str_index(obj, i, out);
            }
            int64_t n = (int64_t)obj.u.l->n;
            if (i < 0) i += n;
            *out = i >= 0 && i < n ? jv_incref(obj.u.l->items[i]) : jv_undef(NULL);
            return INGOT_OK;
        }
        break;
    case JV_DICT: {
        jv *v = jv_dict_get(obj.u.d, key);
        if (v) {
            *out = jv_incref(*v);
            return INGOT_OK;
        }
        break;
    }
    default: break;
    }
    if (key.type == JV_STR) return jinja__getattr(c, obj, key.u.s->data, key.u.s->len, out);
    *out = jv_undef(NULL);
    return INGOT_OK;
}

ingot_status jinja__iterate(jctx *c, jv v, jv *out) {
    ingot_status st;
    switch (v.type) {
    case JV_LIST: *out = jv_incref(v); return INGOT_OK;
    case JV_UNDEF: return jv_list_new(out, 0, false);
    case JV_DICT:
        if ((st = jv_list_new(out, v.u.d->n, false))) return st;
        for (size_t i = 0; i < v.u.d->n && !st; i++)
            st = jv_list_push(*out, jv_incref(v.u.d->keys[i]));
        break;
    case JV_STR:
        if ((st = jinja__charge_size(c, v.u.s->len)) || (st = jv_list_new(out, 0, false)))
            return st;
        for (size_t i = 0; i < v.u.s->len && !st;) {
            size_t start = i;
            jv_utf8_next(v.u.s->data, &i);
            jv ch;
            if (!(st = jv_str_new(&ch, v.u.s->data + start, i - start)))
                st = jv_list_push(*out, ch);
        }
        break;
    default: return ingot__error(INGOT_ERR_FORMAT, "'%s' object is not iterable", jv_type_name(v));
    }
    if (st) jv_decref(*out);
    return st;
}

/* ---- operators ---- */

static ingot_status int_overflow(void) {
    return ingot__error(INGOT_ERR_UNSUPPORTED,
                        "template: integer overflow (Python's big integers are not supported)");
}

static ingot_status zero_division(void) {
    return ingot__error(INGOT_ERR_FORMAT, "division by zero");
}

static ingot_status repeat(jctx *c, jv seq, int64_t times, jv *out) {
    if (times < 0) times = 0;
    size_t unit = seq.type == JV_STR ? seq.u.s->len : seq.u.l->n;
    if (unit && (uint64_t)times > c->max_output / unit)
        return ingot__error(INGOT_ERR_LIMIT, "template: repetition exceeds the output limit of %zu",
                            c->max_output);
    ingot_status st = jinja__charge_size(c, unit * (uint64_t)times);
    if (st) return st;
    if (seq.type == JV_STR) {
        jv_buf b = {.max = c->max_output};
        for (int64_t i = 0; i < times && !st; i++)
            st = jv_buf_add(&b, seq.u.s->data, unit);
        if (st) {
            jv_buf_free(&b);
            return st;
        }
        return jv_buf_take(out, &b);
    }
    if ((st = jv_list_new(out, unit * (size_t)times, seq.u.l->tuple))) return st;
    for (int64_t i = 0; i < times && !st; i++)
        for (size_t k = 0; k < unit && !st; k++)
            st = jv_list_push(*out, jv_incref(seq.u.l->items[k]));
    if (st) jv_decref(*out);
    return st;
}

static ingot_status concat_seq(jctx *c, jv a, jv b, jv *out) {
    ingot_status st;
    if (a.type == JV_STR) {
        jv_buf buf = {.max = c->max_output};
        if ((st = jinja__charge_size(c, (a.u.s->len + b.u.s->len))) ||
            (st = jv_buf_add(&buf, a.u.s->data, a.u.s->len)) ||
            (st = jv_buf_add(&buf, b.u.s->data, b.u.s->len))) {
            jv_buf_free(&buf);
            return st;
        }
        return jv_buf_take(out, &buf);
    }
    if (a.u.l->tuple != b.u.l->tuple)
        return ingot__error(INGOT_ERR_FORMAT, "can only concatenate %s (not \"%s\") to %s",
                            jv_type_name(a), jv_type_name(b), jv_type_name(a));
    if (a.u.l->n + b.u.l->n > c->max_output)
        return ingot__error(INGOT_ERR_LIMIT, "template: list longer than the output limit");
    if ((st = jinja__charge_size(c, (a.u.l->n + b.u.l->n))) ||
        (st = jv_list_new(out, a.u.l->n + b.u.l->n, a.u.l->tuple)))
        return st;
    for (size_t i = 0; i < a.u.l->n && !st; i++)
        st = jv_list_push(*out, jv_incref(a.u.l->items[i]));
    for (size_t i = 0; i < b.u.l->n && !st; i++)
        st = jv_list_push(*out, jv_incref(b.u.l->items[i]));
    if (st) jv_decref(*out);
    return st;
}

static ingot_status float_floordiv_mod(double x, double y, double *fd, double *md) {
    if (y == 0) return zero_division();
    double mod = fmod(x, y), div = (x - mod) / y;
    if (mod != 0) {
        if ((y < 0) != (mod < 0)) {
            mod += y;
            div -= 1.0;
        }
    } else {
        mod = copysign(0.0, y);
    }
    double floordiv;
    if (div != 0) {
        floordiv = floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
    } else {
        floordiv = copysign(0.0, x / y);
    }
    *fd = floordiv;
    *md = mod;
    return INGOT_OK;
}

static ingot_status int_pow(int64_t base, int64_t e, jv *out) {
    if (e < 0) {
        if (base == 0)
            return ingot__error(INGOT_ERR_FORMAT, "0 cannot be raised to a negative power");
        *out = jv_float(pow((double)base, (double)e));
        return INGOT_OK;
    }
    int64_t r = 1;
    while (e > 0) {
        if (e & 1 && __builtin_mul_overflow(r, base, &r)) return int_overflow();
        e >>= 1;
        if (e && __builtin_mul_overflow(base, base, &base)) return int_overflow();
    }
    *out = jv_int(r);
    return INGOT_OK;
}

static ingot_status binop_error(int op, jv a, jv b) {
    static const char *const names[] = {"+", "-", "/", "//", "*", "%", "**"};
    return ingot__error(INGOT_ERR_FORMAT, "unsupported operand type(s) for %s: '%s' and '%s'",
                        op <= OP_POW ? names[op] : "?", jv_type_name(a), jv_type_name(b));
}

static ingot_status arith(jctx *c, int op, jv a, jv b, jv *out) {
    if (op == OP_MOD && a.type == JV_STR) return jinja__percent_format(c, a.u.s, b, out);
    if (a.type == JV_UNDEF) return undefined_error(a);
    if (b.type == JV_UNDEF) return undefined_error(b);
    if (jv_is_number(a) && jv_is_number(b)) {
        bool fl = a.type == JV_FLOAT || b.type == JV_FLOAT;
        if (!fl) {
            int64_t x = a.type == JV_INT ? a.u.i : a.u.b, y = b.type == JV_INT ? b.u.i : b.u.b, r;
            switch (op) {
            case OP_ADD:
                if (__builtin_add_overflow(x, y, &r)) return int_overflow();
                *out = jv_int(r);
                return INGOT_OK;
            case OP_SUB:
                if (__builtin_sub_overflow(x, y, &r)) return int_overflow();
                *out = jv_int(r);
                return INGOT_OK;
            case OP_MUL:
                if (__builtin_mul_overflow(x, y, &r)) return int_overflow();
                *out = jv_int(r);
                return INGOT_OK;
            case OP_DIV:
                if (y == 0) return zero_division();
                *out = jv_float((double)x / (double)y);
                return INGOT_OK;
            case OP_FLOORDIV:
            case OP_MOD: {
                if (y == 0) return zero_division();
                if (x == INT64_MIN && y == -1) {
                    if (op == OP_MOD) {
                        *out = jv_int(0);
                        return INGOT_OK;
                    }
                    return int_overflow();
                }
                int64_t q = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) {
                    q -= 1;
                    m += y;
                }
                *out = jv_int(op == OP_MOD ? m : q);
                return INGOT_OK;
            }
            case OP_POW: return int_pow(x, y, out);
            default: break;
            }
        }
        double x = jv_as_double(a), y = jv_as_double(b), fd = 0, md = 0;
        ingot_status st;
        switch (op) {
        case OP_ADD: *out = jv_float(x + y); return INGOT_OK;
        case OP_SUB: *out = jv_float(x - y); return INGOT_OK;
        case OP_MUL: *out = jv_float(x * y); return INGOT_OK;
        case OP_DIV:
            if (y == 0) return zero_division();
            *out = jv_float(x / y);
            return INGOT_OK;
        case OP_FLOORDIV:
        case OP_MOD:
            if ((st = float_floordiv_mod(x, y, &fd, &md))) return st;
            *out = jv_float(op == OP_MOD ? md : fd);
            return INGOT_OK;
        case OP_POW:
            if (x == 0 && y < 0)
                return ingot__error(INGOT_ERR_FORMAT, "0.0 cannot be raised to a negative power");
            if (x < 0 && y != floor(y))
                return ingot__error(INGOT_ERR_UNSUPPORTED,
                                    "template: complex numbers are not supported");
            *out = jv_float(pow(x, y));
            return INGOT_OK;
        default: break;
        }
    }
    if (op == OP_ADD && a.type == b.type && (a.type == JV_STR || a.type == JV_LIST))
        return concat_seq(c, a, b, out);
    if (op == OP_MUL && (a.type == JV_STR || a.type == JV_LIST) &&
        (b.type == JV_INT || b.type == JV_BOOL))
        return repeat(c, a, b.type == JV_INT ? b.u.i : b.u.b, out);
    if (op == OP_MUL && (b.type == JV_STR || b.type == JV_LIST) &&
        (a.type == JV_INT || a.type == JV_BOOL))
        return repeat(c, b, a.type == JV_INT ? a.u.i : a.u.b, out);
    return binop_error(op, a, b);
}

static ingot_status contains(jctx *c, jv needle, jv hay, bool *out) {
    switch (hay.type) {
    case JV_UNDEF: *out = false; return INGOT_OK;
    case JV_STR:
        if (needle.type != JV_STR)
            return ingot__error(INGOT_ERR_FORMAT,
                                "'in <string>' requires string as left operand, not %s",
                                jv_type_name(needle));
        *out = needle.u.s->len == 0 ||
               memmem(hay.u.s->data, hay.u.s->len, needle.u.s->data, needle.u.s->len) != NULL;
        return jinja__charge_size(c, hay.u.s->len);
    case JV_LIST:
        *out = false;
        for (size_t i = 0; i < hay.u.l->n && !*out; i++)
            *out = jv_equal(needle, hay.u.l->items[i]);
        return jinja__charge_size(c, hay.u.l->n);
    case JV_DICT:
    case JV_NS: *out = jv_dict_get(hay.u.d, needle) != NULL; return INGOT_OK;
    default:
        return ingot__error(INGOT_ERR_FORMAT, "argument of type '%s' is not iterable",
                            jv_type_name(hay));
    }
}

static ingot_status compare_op(jctx *c, int op, jv a, jv b, bool *out) {
    int cmp;
    ingot_status st;
    switch (op) {
    case OP_EQ:
    case OP_NE:
        *out = jv_equal(a, b) == (op == OP_EQ);
        return jinja__charge_size(c, a.type == JV_STR    ? a.u.s->len
                                     : a.type == JV_LIST ? a.u.l->n
                                                         : 0);
    case OP_IN: return contains(c, a, b, out);
    case OP_NOTIN:
        st = contains(c, a, b, out);
        *out = !*out;
        return st;
    default:
        if (a.type == JV_FLOAT && isnan(a.u.f)) {
            *out = false;
            return INGOT_OK;
        }
        if (b.type == JV_FLOAT && isnan(b.u.f)) {
            *out = false;
            return INGOT_OK;
        }
        if ((st = jv_compare(&cmp, a, b))) return st;
        *out = op == OP_LT ? cmp < 0 : op == OP_LTEQ ? cmp <= 0 : op == OP_GT ? cmp > 0 : cmp >= 0;
        return INGOT_OK;
    }
}

/* ---- expressions ---- */

static ingot_status eval(jctx *c, const jnode *n, jv *out);
static ingot_status exec_body(jctx *c, const jnodes *body, int *flow);

/* Evaluated call arguments: one array for positional then keyword values. */
typedef struct evargs {
    jargs a;
    jv *vals;
} evargs;

static void evargs_free(evargs *e) {
    for (size_t i = 0; e->vals && i < e->a.npos + e->a.nkw; i++)
        jv_decref(e->vals[i]);
    free(e->vals);
}

static ingot_status eval_args(jctx *c, const jnode *n, evargs *e) {
    size_t total = n->args.n + n->kw.n;
    *e = (evargs){.a = {.npos = 0, .nkw = 0, .kwnames = n->kwnames}};
    if (!total) return INGOT_OK;
    if (!(e->vals = calloc(total, sizeof *e->vals)))
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory");
    e->a.pos = e->vals;
    e->a.kw = e->vals + n->args.n;
    for (size_t i = 0; i < total; i++) {
        const jnode *arg = i < n->args.n ? n->args.v[i] : n->kw.v[i - n->args.n];
        ingot_status st = eval(c, arg, &e->vals[i]);
        if (st) {
            for (size_t k = 0; k < i; k++)
                jv_decref(e->vals[k]);
            free(e->vals);
            e->vals = NULL;
            return st;
        }
    }
    e->a.npos = n->args.n;
    e->a.nkw = n->kw.n;
    return INGOT_OK;
}

static ingot_status call_macro(jctx *c, const jv_macro *mv, const jargs *a, jv *out) {
    const jnode *m = mv->node;
    jframe closure = {.parent = c->root, .vars = mv->closure};
    jframe f = {.parent = mv->closure.type == JV_DICT ? &closure : c->root, .vars = jv_none()};
    ingot_status st = INGOT_OK;
    size_t np = m->args.n;
    if (a->npos > np && !(m->flag & 1))
        return ingot__error(INGOT_ERR_FORMAT, "macro '%s' takes not more than %zu argument(s)",
                            m->name, np);
    jframe *saved_frame = c->frame;
    c->frame = &f;
    jv varargs = jv_none(), kwargs = jv_none();
    if (!(st = jv_list_new(&varargs, 0, true))) st = jv_dict_new(&kwargs, JV_DICT);
    for (size_t i = np; i < a->npos && !st; i++)
        st = jv_list_push(varargs, jv_incref(a->pos[i]));
    for (size_t k = 0; k < a->nkw && !st; k++) {
        size_t i = 0;
        while (i < np && strcmp(m->args.v[i]->name, a->kwnames[k]) != 0)
            i++;
        if (i < np) {
            if (i < a->npos)
                st = ingot__error(INGOT_ERR_FORMAT,
                                  "macro '%s' got multiple values for argument '%s'", m->name,
                                  a->kwnames[k]);
            continue;
        }
        if (!(m->flag & 2)) {
            st = ingot__error(INGOT_ERR_FORMAT, "macro '%s' takes no keyword argument '%s'",
                              m->name, a->kwnames[k]);
            break;
        }
        jv key;
        if (!(st = jv_str_cstr(&key, a->kwnames[k])))
            st = jv_dict_set(kwargs, key, jv_incref(a->kw[k]));
    }
    for (size_t i = 0; i < np && !st; i++) {
        const jv *v = jinja__arg(a, i, m->args.v[i]->name);
        jv val;
        if (v)
            val = jv_incref(*v);
        else if (m->kw.v[i])
            st = eval(c, m->kw.v[i], &val);
        else
            val = jv_undef(m->args.v[i]->name);
        if (!st) st = frame_set(&f, m->args.v[i]->name, val);
    }
    if (!st) {
        st = frame_set(&f, "varargs", varargs);
        varargs = jv_none();
    }
    if (!st) {
        st = frame_set(&f, "kwargs", kwargs);
        kwargs = jv_none();
    }
    jv_decref(varargs);
    jv_decref(kwargs);
    jv_buf buf = {.max = c->max_output};
    jv_buf *saved_out = c->out;
    if (!st) {
        c->out = &buf;
        int flow = FLOW_NORMAL;
        st = exec_body(c, &m->body, &flow);
        c->out = saved_out;
    }
    c->frame = saved_frame;
    jv_decref(f.vars);
    if (st) {
        jv_buf_free(&buf);
        return st;
    }
    return jv_buf_take(out, &buf);
}

static ingot_status call_value(jctx *c, jv callee, const jargs *a, jv *out) {
    switch (callee.type) {
    case JV_MACRO: return call_macro(c, callee.u.macro, a, out);
    case JV_FUNC:
        if (callee.u.i >= 0) return jinja__call_global(c, (int)callee.u.i, a, out);
        return ingot__error(INGOT_ERR_UNSUPPORTED, "template: stored methods cannot be called");
    case JV_UNDEF: return undefined_error(callee);
    default:
        return ingot__error(INGOT_ERR_FORMAT, "'%s' object is not callable", jv_type_name(callee));
    }
}

static ingot_status eval_call(jctx *c, const jnode *n, jv *out) {
    jv obj = jv_none(), callee = jv_none();
    evargs e = {0};
    ingot_status st;
    if (n->a->kind == N_GETATTR) {
        if ((st = eval(c, n->a->a, &obj))) return st;
        if ((st = eval_args(c, n, &e))) goto done;
        bool found = false;
        if (obj.type != JV_UNDEF && obj.type != JV_NS &&
            (obj.type != JV_DICT || jinja__has_method(obj, n->a->name))) {
            if ((st = jinja__method(c, obj, n->a->name, &e.a, out, &found)) || found) goto done;
        }
        if ((st = jinja__getattr(c, obj, n->a->name, strlen(n->a->name), &callee))) goto done;
        if (callee.type == JV_UNDEF) callee.u.p = n->a->name;
    } else {
        if ((st = eval(c, n->a, &callee))) return st;
        if ((st = eval_args(c, n, &e))) goto done;
    }
    st = call_value(c, callee, &e.a, out);
done:
    evargs_free(&e);
    jv_decref(obj);
    jv_decref(callee);
    return st;
}

/* A filter applied to its operand, or (innermost a NULL: a block set's
 * filters) to value. Chains recurse, so each link counts for the depth. */
static ingot_status filter_link(jctx *c, const jnode *n, jv value, jv *out);

static ingot_status eval_filter_chain(jctx *c, const jnode *n, jv value, jv *out) {
    ingot_status st = enter(c);
    if (!st) st = filter_link(c, n, value, out);
    c->depth--;
    return st;
}

static ingot_status filter_link(jctx *c, const jnode *n, jv value, jv *out) {
    jv inner;
    ingot_status st;
    if (n->a == NULL)
        inner = jv_incref(value);
    else if (n->a->kind == N_FILTER && (st = eval_filter_chain(c, n->a, value, &inner)))
        return st;
    else if (n->a->kind != N_FILTER && (st = eval(c, n->a, &inner)))
        return st;
    evargs e;
    if ((st = eval_args(c, n, &e))) {
        jv_decref(inner);
        return st;
    }
    st = jinja__filter(c, n->fn, inner, &e.a, out);
    evargs_free(&e);
    jv_decref(inner);
    return st;
}

static ingot_status eval_seq(jctx *c, const jnode *n, jv *out) {
    ingot_status st = n->kind == N_DICT ? jv_dict_new(out, JV_DICT)
                                        : jv_list_new(out, n->args.n, n->kind == N_TUPLE);
    for (size_t i = 0; i < n->args.n && !st; i++) {
        jv k, v;
        if ((st = eval(c, n->args.v[i], &k))) break;
        if (n->kind != N_DICT) {
            st = jv_list_push(*out, k);
        } else if ((st = eval(c, n->kw.v[i], &v))) {
            jv_decref(k);
        } else {
            st = jv_dict_set(*out, k, v);
        }
    }
    if (st) jv_decref(*out);
    return st;
}

static ingot_status eval_getitem(jctx *c, const jnode *n, jv *out) {
    jv obj, key;
    ingot_status st = eval(c, n->a, &obj);
    if (st) return st;
    if (n->b->kind == N_SLICE) {
        jv parts[3] = {jv_none(), jv_none(), jv_none()};
        for (int k = 0; k < 3 && !st; k++)
            if (n->b->args.v[k]) st = eval(c, n->b->args.v[k], &parts[k]);
        if (!st) st = do_slice(c, obj, parts, out);
        for (int k = 0; k < 3; k++)
            jv_decref(parts[k]);
    } else if (!(st = eval(c, n->b, &key))) {
        st = jinja__getitem(c, obj, key, out);
        jv_decref(key);
    }
    jv_decref(obj);
    return st;
}

static ingot_status eval_inner(jctx *c, const jnode *n, jv *out) {
    ingot_status st;
    jv a, b;
    switch (n->kind) {
    case N_CONST: *out = n->value; return INGOT_OK;
    case N_SLICE: /* a slice inside a tuple subscript: no such key anywhere */
        *out = jv_undef(NULL);
        return INGOT_OK;
    case N_NAME: *out = lookup(c, n->name); return INGOT_OK;
    case N_GETATTR:
        if ((st = eval(c, n->a, &a))) return st;
        st = jinja__getattr(c, a, n->name, strlen(n->name), out);
        if (!st && out->type == JV_UNDEF) out->u.p = n->name;
        jv_decref(a);
        return st;
    case N_GETITEM: return eval_getitem(c, n, out);
    case N_CALL: return eval_call(c, n, out);
    case N_FILTER: return eval_filter_chain(c, n, jv_none(), out);
    case N_TEST: {
        if ((st = eval(c, n->a, &a))) return st;
        evargs e;
        if ((st = eval_args(c, n, &e))) {
            jv_decref(a);
            return st;
        }
        bool r = false;
        st = jinja__test(c, n->fn, a, &e.a, &r);
        evargs_free(&e);
        jv_decref(a);
        *out = jv_bool(r != (n->flag != 0));
        return st;
    }
    case N_BINOP:
        if ((st = eval(c, n->a, &a))) return st;
        if ((st = eval(c, n->b, &b))) {
            jv_decref(a);
            return st;
        }
        st = arith(c, n->op, a, b, out);
        jv_decref(a);
        jv_decref(b);
        return st;
    case N_NEG:
    case N_POS:
        if ((st = eval(c, n->a, &a))) return st;
        if (a.type == JV_UNDEF)
            st = undefined_error(a);
        else if (!jv_is_number(a))
            st = ingot__error(INGOT_ERR_FORMAT, "bad operand type for unary %c: '%s'",
                              n->kind == N_NEG ? '-' : '+', jv_type_name(a));
        else if (a.type == JV_FLOAT)
            *out = jv_float(n->kind == N_NEG ? -a.u.f : a.u.f);
        else {
            int64_t i = a.type == JV_INT ? a.u.i : a.u.b;
            if (n->kind == N_NEG && i == INT64_MIN)
                st = int_overflow();
            else
                *out = jv_int(n->kind == N_NEG ? -i : i);
        }
        jv_decref(a);
        return st;
    case N_NOT:
        if ((st = eval(c, n->a, &a))) return st;
        *out = jv_bool(!jv_truthy(a));
        jv_decref(a);
        return INGOT_OK;
    case N_AND:
    case N_OR:
        if ((st = eval(c, n->a, &a))) return st;
        if (jv_truthy(a) == (n->kind == N_OR)) {
            *out = a;
            return INGOT_OK;
        }
        jv_decref(a);
        return eval(c, n->b, out);
    case N_COMPARE: {
        if ((st = eval(c, n->a, &a))) return st;
        bool r = true;
        for (size_t i = 0; i < n->args.n && r; i++) {
            if ((st = eval(c, n->args.v[i], &b))) break;
            st = compare_op(c, n->ops[i], a, b, &r);
            jv_decref(a);
            a = b;
            if (st) break;
        }
        jv_decref(a);
        *out = jv_bool(r);
        return st;
    }
    case N_COND:
        if ((st = eval(c, n->a, &a))) return st;
        bool t = jv_truthy(a);
        jv_decref(a);
        if (t) return eval(c, n->b, out);
        if (n->c) return eval(c, n->c, out);
        *out = jv_undef(NULL);
        return INGOT_OK;
    case N_LIST:
    case N_TUPLE:
    case N_DICT: return eval_seq(c, n, out);
    case N_CONCAT: {
        jv_buf buf = {.max = c->max_output};
        st = INGOT_OK;
        for (size_t i = 0; i < n->args.n && !st; i++) {
            if ((st = eval(c, n->args.v[i], &a))) break;
            st = jv_write_str(&buf, a);
            jv_decref(a);
        }
        if (!st) st = jinja__charge_size(c, buf.len);
        if (st) {
            jv_buf_free(&buf);
            return st;
        }
        return jv_buf_take(out, &buf);
    }
    default: return ingot__error(INGOT_ERR_INTERNAL, "template: bad expression node %d", n->kind);
    }
}

static ingot_status eval(jctx *c, const jnode *n, jv *out) {
    ingot_status st = enter(c);
    if (!st) st = eval_inner(c, n, out);
    c->depth--;
    return locate(c, n, st);
}

/* ---- statements ---- */

/* Binds a for/set target: a name, or a tuple of names unpacking value. */
static ingot_status assign(jctx *c, jframe *f, const jnode *target, jv value) {
    if (target->kind == N_NAME) return frame_set(f, target->name, value);
    jv items;
    ingot_status st = jinja__iterate(c, value, &items);
    jv_decref(value);
    if (st) return st;
    size_t want = target->args.n, got = items.u.l->n;
    if (got != want) {
        jv_decref(items);
        return got > want
                   ? ingot__error(INGOT_ERR_FORMAT, "too many values to unpack (expected %zu)",
                                  want)
                   : ingot__error(INGOT_ERR_FORMAT,
                                  "not enough values to unpack (expected %zu, got %zu)", want, got);
    }
    for (size_t i = 0; i < want && !st; i++)
        st = frame_set(f, target->args.v[i]->name, jv_incref(items.u.l->items[i]));
    jv_decref(items);
    return st;
}

static ingot_status exec_set(jctx *c, const jnode *target, jv value) {
    if (target->kind != N_GETATTR) return assign(c, c->frame, target, value);
    jv ns = lookup(c, target->a->name);
    ingot_status st;
    if (ns.type != JV_NS) {
        st = ingot__error(INGOT_ERR_FORMAT, "cannot assign attribute on non-namespace object");
        jv_decref(value);
    } else {
        jv key;
        if ((st = jv_str_cstr(&key, target->name)))
            jv_decref(value);
        else
            st = jv_dict_set(ns, key, value);
    }
    jv_decref(ns);
    return st;
}

static ingot_status exec_for(jctx *c, const jnode *n) {
    jv iter, items;
    ingot_status st = eval(c, n->b, &iter);
    if (st) return st;
    st = jinja__iterate(c, iter, &items);
    jv_decref(iter);
    if (st) return st;
    jframe *outer = c->frame;
    if (n->c) { /* the loop filter sees the target, not `loop` */
        jv kept;
        if ((st = jv_list_new(&kept, 0, false))) {
            jv_decref(items);
            return st;
        }
        for (size_t i = 0; i < items.u.l->n && !st; i++) {
            jframe f = {.parent = outer, .vars = jv_none()};
            jv r = jv_none();
            c->frame = &f;
            if (!(st = assign(c, &f, n->a, jv_incref(items.u.l->items[i]))) &&
                !(st = eval(c, n->c, &r)) && jv_truthy(r))
                st = jv_list_push(kept, jv_incref(items.u.l->items[i]));
            jv_decref(r);
            c->frame = outer;
            jv_decref(f.vars);
        }
        jv_decref(items);
        items = kept;
        if (st) {
            jv_decref(items);
            return st;
        }
    }
    jv_loop *loop = calloc(1, sizeof *loop);
    if (!loop) {
        jv_decref(items);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory");
    }
    loop->refs = 1;
    loop->items = items.u.l;
    loop->changed = jv_none();
    jv loopv = {.type = JV_LOOP, .u.loop = loop};
    size_t n_items = items.u.l->n;
    for (size_t i = 0; i < n_items && !st; i++) {
        if ((st = jinja__charge(c, 1))) break;
        loop->index = i;
        jframe f = {.parent = outer, .vars = jv_none()};
        c->frame = &f;
        int flow = FLOW_NORMAL;
        if (!(st = assign(c, &f, n->a, jv_incref(items.u.l->items[i]))) &&
            !(st = frame_set(&f, "loop", jv_incref(loopv))))
            st = exec_body(c, &n->body, &flow);
        c->frame = outer;
        jv_decref(f.vars);
        if (flow == FLOW_BREAK) break;
    }
    jv_decref(loopv);
    if (!st && n_items == 0 && n->else_body.n) {
        jframe f = {.parent = outer, .vars = jv_none()};
        c->frame = &f;
        int flow = FLOW_NORMAL;
        st = exec_body(c, &n->else_body, &flow);
        c->frame = outer;
        jv_decref(f.vars);
    }
    return st;
}

static ingot_status exec_with(jctx *c, const jnode *n) {
    jframe f = {.parent = c->frame, .vars = jv_none()};
    ingot_status st = INGOT_OK;
    for (size_t i = 0; i < n->args.n && !st; i++) {
        jv v;
        if (!(st = eval(c, n->kw.v[i], &v))) st = frame_set(&f, n->args.v[i]->name, v);
    }
    jframe *outer = c->frame;
    c->frame = &f;
    int flow = FLOW_NORMAL;
    if (!st) st = exec_body(c, &n->body, &flow);
    c->frame = outer;
    jv_decref(f.vars);
    return st;
}

/* A macro closes over the variables of the scopes it is defined in (below
 * the template level, which it sees live). */
static ingot_status define_macro(jctx *c, const jnode *n) {
    jv_macro *m = calloc(1, sizeof *m);
    if (!m) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory");
    *m = (jv_macro){.refs = 1, .node = n, .name = n->name, .closure = jv_none()};
    jv mv = {.type = JV_MACRO, .u.macro = m};
    ingot_status st = INGOT_OK;
    for (jframe *f = c->frame; f != c->root && !st; f = f->parent) {
        if (f->vars.type != JV_DICT) continue;
        if (m->closure.type != JV_DICT && (st = jv_dict_new(&m->closure, JV_DICT))) break;
        for (size_t i = 0; i < f->vars.u.d->n && !st; i++)
            if (!jv_dict_get(m->closure.u.d, f->vars.u.d->keys[i]))
                st = jv_dict_set(m->closure, jv_incref(f->vars.u.d->keys[i]),
                                 jv_incref(f->vars.u.d->vals[i]));
    }
    if (st) {
        jv_decref(mv);
        return st;
    }
    return frame_set(c->frame, n->name, mv);
}

static ingot_status exec_stmt(jctx *c, const jnode *n, int *flow) {
    ingot_status st;
    jv v;
    switch (n->kind) {
    case N_DATA: return jv_buf_add(c->out, n->value.u.s->data, n->value.u.s->len);
    case N_PRINT:
        if ((st = eval(c, n->a, &v))) return st;
        size_t before = c->out->len;
        st = jv_write_str(c->out, v);
        jv_decref(v);
        return st ? st : jinja__charge_size(c, (c->out->len - before));
    case N_IF:
        if ((st = eval(c, n->a, &v))) return st;
        bool t = jv_truthy(v);
        jv_decref(v);
        return exec_body(c, t ? &n->body : &n->else_body, flow);
    case N_FOR: return exec_for(c, n);
    case N_SET:
        if ((st = eval(c, n->b, &v))) return st;
        return exec_set(c, n->a, v);
    case N_SETBLOCK: {
        jv_buf buf = {.max = c->max_output};
        jv_buf *saved = c->out;
        c->out = &buf;
        int inner = FLOW_NORMAL;
        st = exec_body(c, &n->body, &inner);
        c->out = saved;
        if (!st)
            st = jv_buf_take(&v, &buf);
        else
            jv_buf_free(&buf);
        if (st) return st;
        if (n->c) {
            jv filtered;
            st = eval_filter_chain(c, n->c, v, &filtered);
            jv_decref(v);
            if (st) return st;
            v = filtered;
        }
        return exec_set(c, n->a, v);
    }
    case N_MACRO: return define_macro(c, n);
    case N_BREAK: *flow = FLOW_BREAK; return INGOT_OK;
    case N_CONTINUE: *flow = FLOW_CONTINUE; return INGOT_OK;
    case N_WITH: return exec_with(c, n);
    case N_BLOCK: return exec_body(c, &n->body, flow);
    default: return ingot__error(INGOT_ERR_INTERNAL, "template: bad statement node %d", n->kind);
    }
}

static ingot_status exec_body(jctx *c, const jnodes *body, int *flow) {
    for (size_t i = 0; i < body->n && *flow == FLOW_NORMAL; i++) {
        ingot_status st = enter(c);
        if (!st) st = exec_stmt(c, body->v[i], flow);
        c->depth--;
        if ((st = locate(c, body->v[i], st))) return st;
    }
    return INGOT_OK;
}

ingot_status jinja__render(jv_buf *out, const jnodes *body, jv vars,
                           const ingot_template_limits *limits) {
    jframe root = {.parent = NULL, .vars = jv_none()};
    jctx c = {.max_output = limits->max_output,
              .max_steps = limits->max_steps,
              .max_depth = limits->max_depth,
              .frame = &root,
              .root = &root,
              .vars = vars,
              .out = out};
    ingot_status st = jv_list_new(&c.namespaces, 0, false);
    int flow = FLOW_NORMAL;
    if (!st) st = exec_body(&c, body, &flow);
    jv_decref(root.vars);
    if (c.namespaces.type == JV_LIST) {
        for (size_t i = 0; i < c.namespaces.u.l->n; i++)
            jv_dict_clear(c.namespaces.u.l->items[i].u.d);
        jv_decref(c.namespaces);
    }
    return st;
}
