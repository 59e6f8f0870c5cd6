/* The chat-template parser: Jinja2's grammar (statements and expressions
 * with its precedence), depth-limited recursive descent into an arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "text/jinja_ast.h"

typedef struct parser {
    const jtok *t;
    size_t n, pos;
    jarena *arena;
    int depth, max_depth;
    int loops;    /* enclosing for loops (for break/continue) */
    jnode *macro; /* the macro being parsed, or NULL */
} parser;

static const jtok *cur(const parser *P) { return &P->t[P->pos]; }
static const jtok *peek(const parser *P) { return &P->t[P->pos + 1 < P->n ? P->pos + 1 : P->pos]; }
static void next(parser *P) {
    if (P->pos + 1 < P->n) P->pos++;
}

static bool is_op(const jtok *t, jop op) { return t->kind == TK_OP && t->op == op; }
static bool is_name(const jtok *t, const char *name) {
    return t->kind == TK_NAME && strcmp(t->s, name) == 0;
}

static const char *describe(const jtok *t, char *buf, size_t n) {
    static const char *const opnames[] = {
        "+", "-",  "/",  "//", "*",  "%", "**", "~", "[", "]", "(", ")", "{",
        "}", "==", "!=", ">",  ">=", "<", "<=", "=", ".", ":", "|", ",", ";"};
    switch (t->kind) {
    case TK_NAME: snprintf(buf, n, "'%.40s'", t->s); return buf;
    case TK_STRING: return "string";
    case TK_INT: return "integer";
    case TK_FLOAT: return "float";
    case TK_OP: snprintf(buf, n, "'%s'", opnames[t->op]); return buf;
    case TK_VAR_END: return "end of print statement";
    case TK_BLOCK_END: return "end of statement block";
    case TK_VAR_BEGIN: return "begin of print statement";
    case TK_BLOCK_BEGIN: return "begin of statement block";
    case TK_DATA: return "template data";
    default: return "end of template";
    }
}

static ingot_status fail_at(const jtok *t, ingot_status st, const char *fmt, const char *a,
                            const char *b) {
    return ingot__error(st, "template:%d:%d: %s%s%s", t->line, t->col, fmt, a ? a : "", b ? b : "");
}

static ingot_status unexpected(parser *P, const char *expected) {
    char what[48], got[64]; /* what holds at most '%.40s' */
    const char *tok = describe(cur(P), what, sizeof what);
    if (!expected) return fail_at(cur(P), INGOT_ERR_FORMAT, "unexpected ", tok, NULL);
    snprintf(got, sizeof got, ", got %s", tok);
    return fail_at(cur(P), INGOT_ERR_FORMAT, "expected ", expected, got);
}

static ingot_status nomem(void) {
    return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory while parsing");
}

static ingot_status expect_op(parser *P, jop op, const char *what) {
    if (!is_op(cur(P), op)) return unexpected(P, what);
    next(P);
    return INGOT_OK;
}

static ingot_status enter(parser *P) {
    if (++P->depth > P->max_depth)
        return fail_at(cur(P), INGOT_ERR_LIMIT, "nesting deeper than the depth limit", NULL, NULL);
    return INGOT_OK;
}

static jnode *new_node(parser *P, jnode_kind kind, const jtok *at) {
    jnode *n = jarena_alloc(P->arena, sizeof *n);
    if (!n) return NULL;
    n->kind = (uint8_t)kind;
    n->line = at->line;
    n->col = at->col;
    n->fn = -1;
    return n;
}

/* A growable node list built in malloc memory, then moved into the arena. */
typedef struct nodevec {
    jnode **v;
    const char **names;
    size_t n, cap;
} nodevec;

static ingot_status vec_push(nodevec *v, jnode *node, const char *name) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        jnode **nv = realloc(v->v, cap * sizeof *nv);
        if (!nv) return nomem();
        v->v = nv;
        const char **nn = realloc(v->names, cap * sizeof *nn);
        if (!nn) return nomem();
        v->names = nn;
        v->cap = cap;
    }
    v->v[v->n] = node;
    v->names[v->n++] = name;
    return INGOT_OK;
}

static void vec_free(nodevec *v) {
    free(v->v);
    free(v->names);
}

static ingot_status vec_take(parser *P, jnodes *out, const char ***names, nodevec *v) {
    ingot_status st = INGOT_OK;
    out->n = v->n;
    out->v = v->n ? jarena_alloc(P->arena, v->n * sizeof *out->v) : NULL;
    if (v->n && !out->v)
        st = nomem();
    else if (v->n)
        memcpy(out->v, v->v, v->n * sizeof *out->v);
    if (!st && names && v->n) {
        *names = jarena_alloc(P->arena, v->n * sizeof **names);
        if (!*names)
            st = nomem();
        else
            memcpy(*names, v->names, v->n * sizeof **names);
    }
    vec_free(v);
    return st;
}

/* Moves args and kw into n->args and n->kw when st is OK; frees them either way. */
static ingot_status take_args_kw(parser *P, ingot_status st, jnode *n, nodevec *args, nodevec *kw) {
    if (!st)
        st = vec_take(P, &n->args, NULL, args);
    else
        vec_free(args);
    if (!st)
        st = vec_take(P, &n->kw, NULL, kw);
    else
        vec_free(kw);
    return st;
}

/* ---- expressions ---- */

static ingot_status parse_expression(parser *P, jnode **out, bool with_condexpr);
static ingot_status parse_unary(parser *P, jnode **out, bool with_filter);
static ingot_status parse_primary(parser *P, jnode **out);
static ingot_status parse_postfix(parser *P, jnode **node);

typedef struct end_rules {
    const char *names[3];
} end_rules;

static bool is_tuple_end(const parser *P, const end_rules *extra) {
    const jtok *t = cur(P);
    if (t->kind == TK_VAR_END || t->kind == TK_BLOCK_END || is_op(t, OP_RPAREN)) return true;
    for (int i = 0; extra && i < 3 && extra->names[i]; i++)
        if (is_name(t, extra->names[i])) return true;
    return false;
}

/* Jinja2's parse_tuple: one expression, or a tuple when commas follow. */
static ingot_status parse_tuple(parser *P, jnode **out, bool simplified, bool with_condexpr,
                                const end_rules *extra, bool explicit_parens) {
    const jtok *start = cur(P);
    nodevec items = {0};
    bool is_tuple = false;
    ingot_status st = INGOT_OK;
    for (;;) {
        if (items.n && (st = expect_op(P, OP_COMMA, "','"))) break;
        if (is_tuple_end(P, extra)) break;
        jnode *e;
        st = simplified ? parse_primary(P, &e) : parse_expression(P, &e, with_condexpr);
        if (st || (st = vec_push(&items, e, NULL))) break;
        if (!is_op(cur(P), OP_COMMA)) break;
        is_tuple = true;
    }
    if (st) {
        vec_free(&items);
        return st;
    }
    if (!is_tuple) {
        if (items.n) {
            *out = items.v[0];
            vec_free(&items);
            return INGOT_OK;
        }
        if (!explicit_parens) {
            vec_free(&items);
            return unexpected(P, "an expression");
        }
    }
    jnode *n = new_node(P, N_TUPLE, start);
    if (!n) {
        vec_free(&items);
        return nomem();
    }
    *out = n;
    return vec_take(P, &n->args, NULL, &items);
}

static ingot_status parse_call_args(parser *P, jnode *call) {
    nodevec args = {0}, kw = {0};
    ingot_status st = expect_op(P, OP_LPAREN, "'('");
    bool require_comma = false;
    while (!st && !is_op(cur(P), OP_RPAREN)) {
        if (require_comma) {
            if ((st = expect_op(P, OP_COMMA, "','"))) break;
            if (is_op(cur(P), OP_RPAREN)) break;
        }
        if (is_op(cur(P), OP_MUL) || is_op(cur(P), OP_POW)) {
            st = fail_at(cur(P), INGOT_ERR_UNSUPPORTED,
                         "*args and **kwargs in calls are not "
                         "supported",
                         NULL, NULL);
            break;
        }
        jnode *e;
        if (cur(P)->kind == TK_NAME && is_op(peek(P), OP_ASSIGN)) {
            const char *key = cur(P)->s;
            next(P);
            next(P);
            if (!(st = parse_expression(P, &e, true))) st = vec_push(&kw, e, key);
        } else if (kw.n) {
            st = fail_at(cur(P), INGOT_ERR_FORMAT,
                         "positional argument follows keyword "
                         "argument",
                         NULL, NULL);
        } else if (!(st = parse_expression(P, &e, true))) {
            st = vec_push(&args, e, NULL);
        }
        require_comma = true;
    }
    if (!st) st = expect_op(P, OP_RPAREN, "')'");
    if (st) {
        vec_free(&args);
        vec_free(&kw);
        return st;
    }
    if ((st = vec_take(P, &call->args, NULL, &args))) {
        vec_free(&kw);
        return st;
    }
    return vec_take(P, &call->kw, &call->kwnames, &kw);
}

/* A dotted name after '|' or 'is'. */
static ingot_status dotted_name(parser *P, const char **out) {
    if (cur(P)->kind != TK_NAME) return unexpected(P, "a name");
    const char *name = cur(P)->s;
    next(P);
    while (is_op(cur(P), OP_DOT) && peek(P)->kind == TK_NAME) {
        size_t a = strlen(name), b = strlen(peek(P)->s);
        char *joined = jarena_alloc(P->arena, a + b + 2);
        if (!joined) return nomem();
        memcpy(joined, name, a);
        joined[a] = '.';
        memcpy(joined + a + 1, peek(P)->s, b);
        name = joined;
        next(P);
        next(P);
    }
    *out = name;
    return INGOT_OK;
}

static ingot_status resolve(parser *P, jnode *n, const jtok *at, bool filter) {
    n->fn = filter ? jinja__filter_id(n->name) : jinja__test_id(n->name);
    if (n->fn >= 0) return INGOT_OK;
    if (n->fn == JINJA_UNSUPPORTED)
        return fail_at(at, INGOT_ERR_UNSUPPORTED, filter ? "filter '" : "test '", n->name,
                       "' is not supported by ingot");
    return fail_at(at, INGOT_ERR_FORMAT, filter ? "no filter named '" : "no test named '", n->name,
                   "'");
}

static ingot_status parse_filter(parser *P, jnode **node) {
    while (is_op(cur(P), OP_PIPE)) {
        next(P);
        const jtok *at = cur(P);
        jnode *f = new_node(P, N_FILTER, at);
        if (!f) return nomem();
        ingot_status st = dotted_name(P, &f->name);
        if (!st) st = resolve(P, f, at, true);
        if (!st && is_op(cur(P), OP_LPAREN)) st = parse_call_args(P, f);
        if (st) return st;
        f->a = *node;
        *node = f;
    }
    return INGOT_OK;
}

static ingot_status parse_test(parser *P, jnode **node) {
    next(P); /* 'is' */
    jnode *t = new_node(P, N_TEST, cur(P));
    if (!t) return nomem();
    if (is_name(cur(P), "not")) {
        t->flag = 1;
        next(P);
    }
    const jtok *at = cur(P);
    ingot_status st = dotted_name(P, &t->name);
    if (!st) st = resolve(P, t, at, false);
    if (st) return st;
    const jtok *c = cur(P);
    if (is_op(c, OP_LPAREN)) {
        if ((st = parse_call_args(P, t))) return st;
    } else if ((c->kind == TK_NAME || c->kind == TK_STRING || c->kind == TK_INT ||
                c->kind == TK_FLOAT || is_op(c, OP_LBRACKET) || is_op(c, OP_LBRACE)) &&
               !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
        if (is_name(c, "is")) return unexpected(P, NULL);
        jnode *arg;
        if ((st = parse_primary(P, &arg)) || (st = parse_postfix(P, &arg))) return st;
        t->args.v = jarena_alloc(P->arena, sizeof *t->args.v);
        if (!t->args.v) return nomem();
        t->args.v[0] = arg;
        t->args.n = 1;
    }
    t->a = *node;
    *node = t;
    return INGOT_OK;
}

static ingot_status parse_subscribed(parser *P, jnode **out) {
    const jtok *start = cur(P);
    jnode *parts[3] = {0};
    ingot_status st;
    if (is_op(cur(P), OP_COLON)) {
        next(P);
    } else {
        if ((st = parse_expression(P, &parts[0], true))) return st;
        if (!is_op(cur(P), OP_COLON)) {
            *out = parts[0];
            return INGOT_OK;
        }
        next(P);
    }
    if (!is_op(cur(P), OP_COLON) && !is_op(cur(P), OP_RBRACKET) && !is_op(cur(P), OP_COMMA) &&
        (st = parse_expression(P, &parts[1], true)))
        return st;
    if (is_op(cur(P), OP_COLON)) {
        next(P);
        if (!is_op(cur(P), OP_RBRACKET) && !is_op(cur(P), OP_COMMA) &&
            (st = parse_expression(P, &parts[2], true)))
            return st;
    }
    jnode *s = new_node(P, N_SLICE, start);
    if (!s || !(s->args.v = jarena_alloc(P->arena, 3 * sizeof *s->args.v))) return nomem();
    memcpy(s->args.v, parts, sizeof parts);
    s->args.n = 3;
    *out = s;
    return INGOT_OK;
}

static ingot_status parse_postfix(parser *P, jnode **node) {
    for (;;) {
        const jtok *t = cur(P);
        ingot_status st = INGOT_OK;
        if (is_op(t, OP_DOT)) {
            next(P);
            const jtok *a = cur(P);
            jnode *n;
            if (a->kind == TK_NAME) {
                if (!(n = new_node(P, N_GETATTR, t))) return nomem();
                n->name = a->s;
            } else if (a->kind == TK_INT) {
                jnode *k = new_node(P, N_CONST, a);
                if (!k || !(n = new_node(P, N_GETITEM, t))) return nomem();
                k->value = jv_int(a->i);
                n->b = k;
            } else {
                return unexpected(P, "a name or number after '.'");
            }
            next(P);
            n->a = *node;
            *node = n;
        } else if (is_op(t, OP_LBRACKET)) {
            next(P);
            nodevec keys = {0};
            while (!st && !is_op(cur(P), OP_RBRACKET)) {
                if (keys.n && (st = expect_op(P, OP_COMMA, "','"))) break;
                jnode *k = NULL;
                if (!(st = parse_subscribed(P, &k))) st = vec_push(&keys, k, NULL);
            }
            if (!st) st = expect_op(P, OP_RBRACKET, "']'");
            if (!st && keys.n == 0) st = unexpected(P, "a subscript");
            jnode *n = st ? NULL : new_node(P, N_GETITEM, t);
            if (!st && !n) st = nomem();
            if (st) {
                vec_free(&keys);
                return st;
            }
            if (keys.n == 1) {
                n->b = keys.v[0];
                vec_free(&keys);
            } else {
                jnode *tup = new_node(P, N_TUPLE, t);
                if (!tup) {
                    vec_free(&keys);
                    return nomem();
                }
                if ((st = vec_take(P, &tup->args, NULL, &keys))) return st;
                n->b = tup;
            }
            n->a = *node;
            *node = n;
        } else if (is_op(t, OP_LPAREN)) {
            jnode *n = new_node(P, N_CALL, t);
            if (!n) return nomem();
            if ((st = parse_call_args(P, n))) return st;
            n->a = *node;
            *node = n;
        } else {
            return INGOT_OK;
        }
    }
}

/* Filters, tests and calls after a unary expression (Jinja2's
 * parse_filter_expr). */
static ingot_status parse_filter_expr(parser *P, jnode **node) {
    for (;;) {
        const jtok *t = cur(P);
        ingot_status st;
        if (is_op(t, OP_PIPE)) {
            st = parse_filter(P, node);
        } else if (is_name(t, "is")) {
            st = parse_test(P, node);
        } else if (is_op(t, OP_LPAREN)) {
            jnode *n = new_node(P, N_CALL, t);
            if (!n) return nomem();
            st = parse_call_args(P, n);
            n->a = *node;
            *node = n;
        } else {
            return INGOT_OK;
        }
        if (st) return st;
    }
}

static ingot_status parse_sequence(parser *P, jnode *n, bool dict) {
    jop close = dict ? OP_RBRACE : OP_RBRACKET;
    nodevec keys = {0}, vals = {0};
    ingot_status st = INGOT_OK;
    next(P);
    while (!st && !is_op(cur(P), close)) {
        if (keys.n && (st = expect_op(P, OP_COMMA, "','"))) break;
        if (is_op(cur(P), close)) break;
        jnode *k, *v;
        if ((st = parse_expression(P, &k, true)) || (st = vec_push(&keys, k, NULL))) break;
        if (dict && !(st = expect_op(P, OP_COLON, "':'")) && !(st = parse_expression(P, &v, true)))
            st = vec_push(&vals, v, NULL);
    }
    if (!st) st = expect_op(P, close, dict ? "'}'" : "']'");
    return take_args_kw(P, st, n, &keys, &vals);
}

static ingot_status parse_primary(parser *P, jnode **out) {
    const jtok *t = cur(P);
    ingot_status st = INGOT_OK;
    jnode *n = NULL;
    switch (t->kind) {
    case TK_NAME:
        if (!(n = new_node(P, N_CONST, t))) return nomem();
        if (is_name(t, "true") || is_name(t, "True")) {
            n->value = jv_bool(true);
        } else if (is_name(t, "false") || is_name(t, "False")) {
            n->value = jv_bool(false);
        } else if (is_name(t, "none") || is_name(t, "None")) {
            n->value = jv_none();
        } else {
            n->kind = N_NAME;
            n->name = t->s;
            if (P->macro && strcmp(t->s, "varargs") == 0) P->macro->flag |= 1;
            if (P->macro && strcmp(t->s, "kwargs") == 0) P->macro->flag |= 2;
        }
        next(P);
        break;
    case TK_STRING: {
        /* adjacent string literals concatenate */
        size_t len = 0, i = P->pos;
        for (; P->t[i].kind == TK_STRING; i++)
            len += P->t[i].len;
        char *s = jarena_alloc(P->arena, len + 1);
        if (!s || !(n = new_node(P, N_CONST, t))) return nomem();
        len = 0;
        for (; cur(P)->kind == TK_STRING; next(P)) {
            memcpy(s + len, cur(P)->s, cur(P)->len);
            len += cur(P)->len;
        }
        n->value = jv_str_immortal(jarena_alloc, P->arena, s, len);
        if (n->value.type != JV_STR) return nomem();
        break;
    }
    case TK_INT:
    case TK_FLOAT:
        if (!(n = new_node(P, N_CONST, t))) return nomem();
        n->value = t->kind == TK_INT ? jv_int(t->i) : jv_float(t->f);
        next(P);
        break;
    case TK_OP:
        if (t->op == OP_LPAREN) {
            next(P);
            if ((st = parse_tuple(P, &n, false, true, NULL, true))) return st;
            if ((st = expect_op(P, OP_RPAREN, "')'"))) return st;
            break;
        }
        if (t->op == OP_LBRACKET || t->op == OP_LBRACE) {
            bool dict = t->op == OP_LBRACE;
            if (!(n = new_node(P, dict ? N_DICT : N_LIST, t))) return nomem();
            if ((st = parse_sequence(P, n, dict))) return st;
            break;
        }
        /* fall through */
    default: return unexpected(P, NULL);
    }
    *out = n;
    return INGOT_OK;
}

static ingot_status parse_unary(parser *P, jnode **out, bool with_filter) {
    ingot_status st = enter(P);
    if (st) return st;
    const jtok *t = cur(P);
    jnode *n;
    if (is_op(t, OP_SUB) || is_op(t, OP_ADD)) {
        next(P);
        if (!(n = new_node(P, is_op(t, OP_SUB) ? N_NEG : N_POS, t))) return nomem();
        if ((st = parse_unary(P, &n->a, false))) return st;
    } else if ((st = parse_primary(P, &n))) {
        return st;
    }
    if ((st = parse_postfix(P, &n)) || (with_filter && (st = parse_filter_expr(P, &n)))) return st;
    P->depth--;
    *out = n;
    return INGOT_OK;
}

typedef ingot_status (*level_fn)(parser *P, jnode **out);

/* left-associative binary levels: a list of operators and the next level */
static ingot_status parse_binary(parser *P, jnode **out, level_fn sub, const jop *ops, size_t nops,
                                 jnode_kind kind) {
    jnode *left;
    ingot_status st = sub(P, &left);
    for (;;) {
        if (st) return st;
        const jtok *t = cur(P);
        size_t k = 0;
        while (k < nops && !is_op(t, ops[k]))
            k++;
        if (k == nops) break;
        next(P);
        jnode *n = new_node(P, kind, t);
        if (!n) return nomem();
        n->op = (uint8_t)ops[k];
        n->a = left;
        st = sub(P, &n->b);
        left = n;
    }
    *out = left;
    return INGOT_OK;
}

static ingot_status parse_unary_f(parser *P, jnode **out) { return parse_unary(P, out, true); }

static ingot_status parse_pow(parser *P, jnode **out) {
    static const jop ops[] = {OP_POW};
    return parse_binary(P, out, parse_unary_f, ops, 1, N_BINOP);
}

static ingot_status parse_math2(parser *P, jnode **out) {
    static const jop ops[] = {OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD};
    return parse_binary(P, out, parse_pow, ops, 4, N_BINOP);
}

static ingot_status parse_concat(parser *P, jnode **out) {
    jnode *first;
    ingot_status st = parse_math2(P, &first);
    if (st || !is_op(cur(P), OP_TILDE)) {
        *out = first;
        return st;
    }
    jnode *n = new_node(P, N_CONCAT, cur(P));
    if (!n) return nomem();
    nodevec parts = {0};
    st = vec_push(&parts, first, NULL);
    while (!st && is_op(cur(P), OP_TILDE)) {
        next(P);
        jnode *e;
        if (!(st = parse_math2(P, &e))) st = vec_push(&parts, e, NULL);
    }
    if (st) {
        vec_free(&parts);
        return st;
    }
    *out = n;
    return vec_take(P, &n->args, NULL, &parts);
}

static ingot_status parse_math1(parser *P, jnode **out) {
    static const jop ops[] = {OP_ADD, OP_SUB};
    return parse_binary(P, out, parse_concat, ops, 2, N_BINOP);
}

static ingot_status parse_compare(parser *P, jnode **out) {
    jnode *first;
    ingot_status st = parse_math1(P, &first);
    if (st) return st;
    nodevec operands = {0};
    uint8_t ops[64];
    const jtok *start = cur(P);
    for (;;) {
        const jtok *t = cur(P);
        int op = -1;
        if (t->kind == TK_OP && (t->op == OP_EQ || t->op == OP_NE || t->op == OP_GT ||
                                 t->op == OP_GTEQ || t->op == OP_LT || t->op == OP_LTEQ)) {
            op = t->op;
            next(P);
        } else if (is_name(t, "in")) {
            op = OP_IN;
            next(P);
        } else if (is_name(t, "not") && is_name(peek(P), "in")) {
            op = OP_NOTIN;
            next(P);
            next(P);
        } else {
            break;
        }
        if (operands.n == sizeof ops) {
            vec_free(&operands);
            return fail_at(t, INGOT_ERR_LIMIT, "too many chained comparisons", NULL, NULL);
        }
        ops[operands.n] = (uint8_t)op;
        jnode *e;
        if ((st = parse_math1(P, &e)) || (st = vec_push(&operands, e, NULL))) {
            vec_free(&operands);
            return st;
        }
    }
    if (!operands.n) {
        *out = first;
        return INGOT_OK;
    }
    jnode *n = new_node(P, N_COMPARE, start);
    if (!n || !(n->ops = jarena_alloc(P->arena, operands.n))) {
        vec_free(&operands);
        return nomem();
    }
    memcpy(n->ops, ops, operands.n);
    n->a = first;
    *out = n;
    return vec_take(P, &n->args, NULL, &operands);
}

static ingot_status parse_not(parser *P, jnode **out) {
    if (!is_name(cur(P), "not")) return parse_compare(P, out);
    ingot_status st = enter(P);
    if (st) return st;
    jnode *n = new_node(P, N_NOT, cur(P));
    if (!n) return nomem();
    next(P);
    if ((st = parse_not(P, &n->a))) return st;
    P->depth--;
    *out = n;
    return INGOT_OK;
}

static ingot_status parse_logic(parser *P, jnode **out, bool is_and) {
    jnode *left;
    ingot_status st = is_and ? parse_not(P, &left) : parse_logic(P, &left, true);
    while (!st && is_name(cur(P), is_and ? "and" : "or")) {
        jnode *n = new_node(P, is_and ? N_AND : N_OR, cur(P));
        if (!n) return nomem();
        next(P);
        n->a = left;
        st = is_and ? parse_not(P, &n->b) : parse_logic(P, &n->b, true);
        left = n;
    }
    *out = left;
    return st;
}

static ingot_status parse_expression(parser *P, jnode **out, bool with_condexpr) {
    ingot_status st = enter(P);
    if (st) return st;
    jnode *expr = NULL;
    if ((st = parse_logic(P, &expr, false))) return st;
    while (with_condexpr && is_name(cur(P), "if")) {
        jnode *n = new_node(P, N_COND, cur(P));
        if (!n) return nomem();
        next(P);
        if ((st = parse_logic(P, &n->a, false))) return st;
        if (is_name(cur(P), "else")) {
            next(P);
            if ((st = parse_expression(P, &n->c, true))) return st;
        }
        n->b = expr;
        expr = n;
    }
    P->depth--;
    *out = expr;
    return INGOT_OK;
}

/* ---- statements ---- */

static ingot_status parse_body(parser *P, jnodes *body, const char *const *ends);

static ingot_status expect_block_end(parser *P) {
    if (cur(P)->kind != TK_BLOCK_END) return unexpected(P, "end of statement block");
    next(P);
    return INGOT_OK;
}

/* Checks that an assignment target holds only names (or ns.attr). */
static ingot_status check_target(const jnode *t, bool allow_ns) {
    if (t->kind == N_NAME) return INGOT_OK;
    if (allow_ns && t->kind == N_GETATTR && t->a->kind == N_NAME) return INGOT_OK;
    if (t->kind == N_TUPLE) {
        for (size_t i = 0; i < t->args.n; i++)
            if (t->args.v[i]->kind != N_NAME)
                return fail_at(&(jtok){.line = t->line, .col = t->col}, INGOT_ERR_FORMAT,
                               "can't assign to this expression", NULL, NULL);
        return INGOT_OK;
    }
    return ingot__error(INGOT_ERR_FORMAT, "template:%d:%d: can't assign to this expression",
                        t->line, t->col);
}

static ingot_status parse_target(parser *P, jnode **out, const end_rules *extra, bool allow_ns) {
    ingot_status st;
    if (allow_ns && cur(P)->kind == TK_NAME && is_op(peek(P), OP_DOT)) {
        jnode *base, *n = new_node(P, N_GETATTR, cur(P));
        if (!n) return nomem();
        if ((st = parse_primary(P, &base))) return st;
        next(P); /* '.' */
        if (cur(P)->kind != TK_NAME) return unexpected(P, "an attribute name");
        n->a = base;
        n->name = cur(P)->s;
        next(P);
        *out = n;
        return INGOT_OK;
    }
    if ((st = parse_tuple(P, out, true, true, extra, false))) return st;
    return check_target(*out, false);
}

static ingot_status parse_for(parser *P, jnode *n) {
    static const end_rules in_rule = {{"in"}}, rec_rule = {{"recursive"}};
    ingot_status st = parse_target(P, &n->a, &in_rule, false);
    if (st) return st;
    if (!is_name(cur(P), "in")) return unexpected(P, "'in'");
    next(P);
    if ((st = parse_tuple(P, &n->b, false, false, &rec_rule, false))) return st;
    if (is_name(cur(P), "if")) {
        next(P);
        if ((st = parse_expression(P, &n->c, true))) return st;
    }
    if (is_name(cur(P), "recursive"))
        return fail_at(cur(P), INGOT_ERR_UNSUPPORTED, "recursive for loops are not supported", NULL,
                       NULL);
    if ((st = expect_block_end(P))) return st;
    static const char *const ends[] = {"endfor", "else", NULL};
    P->loops++;
    st = parse_body(P, &n->body, ends);
    P->loops--;
    if (st) return st;
    if (is_name(cur(P), "else")) {
        next(P);
        static const char *const end_for[] = {"endfor", NULL};
        if ((st = expect_block_end(P)) || (st = parse_body(P, &n->else_body, end_for))) return st;
    }
    next(P);
    return expect_block_end(P);
}

static ingot_status parse_if(parser *P, jnode *n) {
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    ingot_status st = parse_tuple(P, &n->a, false, false, NULL, false);
    if (!st) st = expect_block_end(P);
    if (!st) st = parse_body(P, &n->body, ends);
    if (st) return st;
    if (is_name(cur(P), "elif")) {
        jnode *e = new_node(P, N_IF, cur(P));
        if (!e || !(n->else_body.v = jarena_alloc(P->arena, sizeof *n->else_body.v)))
            return nomem();
        n->else_body.v[0] = e;
        n->else_body.n = 1;
        next(P);
        if ((st = enter(P))) return st;
        st = parse_if(P, e);
        P->depth--;
        return st;
    }
    if (is_name(cur(P), "else")) {
        static const char *const end_if[] = {"endif", NULL};
        next(P);
        if ((st = expect_block_end(P)) || (st = parse_body(P, &n->else_body, end_if))) return st;
    }
    next(P);
    return expect_block_end(P);
}

static ingot_status parse_set(parser *P, jnode *n) {
    ingot_status st = parse_target(P, &n->a, NULL, true);
    if (st) return st;
    if (is_op(cur(P), OP_ASSIGN)) {
        next(P);
        if ((st = parse_tuple(P, &n->b, false, true, NULL, false))) return st;
        return expect_block_end(P);
    }
    if (n->a->kind == N_TUPLE) return unexpected(P, "'='");
    n->kind = N_SETBLOCK;
    if (is_op(cur(P), OP_PIPE)) {
        jnode *chain = NULL;
        if ((st = parse_filter(P, &chain))) return st;
        n->c = chain;
    }
    static const char *const ends[] = {"endset", NULL};
    if ((st = expect_block_end(P)) || (st = parse_body(P, &n->body, ends))) return st;
    next(P);
    return expect_block_end(P);
}

static ingot_status parse_macro(parser *P, jnode *n) {
    if (cur(P)->kind != TK_NAME) return unexpected(P, "a macro name");
    n->name = cur(P)->s;
    next(P);
    nodevec params = {0}, defaults = {0};
    ingot_status st = expect_op(P, OP_LPAREN, "'('");
    while (!st && !is_op(cur(P), OP_RPAREN)) {
        if (params.n && (st = expect_op(P, OP_COMMA, "','"))) break;
        if (cur(P)->kind != TK_NAME) {
            st = unexpected(P, "a parameter name");
            break;
        }
        jnode *p = new_node(P, N_NAME, cur(P)), *def = NULL;
        if (!p) {
            st = nomem();
            break;
        }
        p->name = cur(P)->s;
        next(P);
        if (is_op(cur(P), OP_ASSIGN)) {
            next(P);
            st = parse_expression(P, &def, true);
        } else if (defaults.n && defaults.v[defaults.n - 1]) {
            st = fail_at(cur(P), INGOT_ERR_FORMAT,
                         "non-default argument follows default "
                         "argument",
                         NULL, NULL);
        }
        if (!st) st = vec_push(&params, p, NULL);
        if (!st) st = vec_push(&defaults, def, NULL);
    }
    if (!st) st = expect_op(P, OP_RPAREN, "')'");
    if (!st) st = expect_block_end(P);
    if ((st = take_args_kw(P, st, n, &params, &defaults))) return st;
    static const char *const ends[] = {"endmacro", NULL};
    jnode *outer = P->macro;
    int loops = P->loops;
    P->macro = n;
    P->loops = 0;
    st = parse_body(P, &n->body, ends);
    P->macro = outer;
    P->loops = loops;
    if (st) return st;
    next(P);
    return expect_block_end(P);
}

static ingot_status parse_with(parser *P, jnode *n) {
    nodevec targets = {0}, values = {0};
    ingot_status st = INGOT_OK;
    while (!st && cur(P)->kind != TK_BLOCK_END) {
        if (targets.n && (st = expect_op(P, OP_COMMA, "','"))) break;
        jnode *t, *v;
        if ((st = parse_target(P, &t, NULL, false))) break;
        if (t->kind != N_NAME) {
            st = fail_at(cur(P), INGOT_ERR_FORMAT, "with: targets must be names", NULL, NULL);
            break;
        }
        if (!(st = expect_op(P, OP_ASSIGN, "'='")) && !(st = parse_expression(P, &v, true)) &&
            !(st = vec_push(&targets, t, NULL)))
            st = vec_push(&values, v, NULL);
    }
    if (!st) st = expect_block_end(P);
    st = take_args_kw(P, st, n, &targets, &values);
    static const char *const ends[] = {"endwith", NULL};
    if (!st) st = parse_body(P, &n->body, ends);
    if (st) return st;
    next(P);
    return expect_block_end(P);
}

static ingot_status parse_statement(parser *P, jnode **out) {
    const jtok *t = cur(P);
    if (t->kind != TK_NAME) return unexpected(P, "a statement name");
    static const char *const unsupported[] = {"extends", "include", "import",     "from", "block",
                                              "call",    "filter",  "autoescape", NULL};
    for (int i = 0; unsupported[i]; i++)
        if (is_name(t, unsupported[i]))
            return fail_at(t, INGOT_ERR_UNSUPPORTED, "the '", t->s,
                           "' tag is not supported in chat templates");
    static const struct {
        const char *name;
        jnode_kind kind;
    } tags[] = {{"if", N_IF},       {"for", N_FOR},         {"set", N_SET},
                {"macro", N_MACRO}, {"break", N_BREAK},     {"continue", N_CONTINUE},
                {"with", N_WITH},   {"generation", N_BLOCK}};
    size_t k = 0;
    while (k < sizeof tags / sizeof *tags && !is_name(t, tags[k].name))
        k++;
    if (k == sizeof tags / sizeof *tags)
        return fail_at(t, INGOT_ERR_FORMAT, "encountered unknown tag '", t->s, "'");
    jnode *n = new_node(P, tags[k].kind, t);
    if (!n) return nomem();
    next(P);
    ingot_status st = enter(P);
    if (st) return st;
    switch (tags[k].kind) {
    case N_IF: st = parse_if(P, n); break;
    case N_FOR: st = parse_for(P, n); break;
    case N_SET: st = parse_set(P, n); break;
    case N_MACRO: st = parse_macro(P, n); break;
    case N_WITH: st = parse_with(P, n); break;
    case N_BLOCK: {
        static const char *const ends[] = {"endgeneration", NULL};
        if (!(st = expect_block_end(P)) && !(st = parse_body(P, &n->body, ends))) {
            next(P);
            st = expect_block_end(P);
        }
        break;
    }
    default: /* break, continue */
        if (P->loops == 0) {
            st = fail_at(t, INGOT_ERR_FORMAT, "'", t->s, "' outside of a loop");
            break;
        }
        st = expect_block_end(P);
    }
    P->depth--;
    *out = n;
    return st;
}

/* Statements until a block tag named in ends (NULL-terminated; ends NULL:
 * until the end of the template). Leaves the end tag's name current. */
static ingot_status parse_body(parser *P, jnodes *body, const char *const *ends) {
    nodevec v = {0};
    ingot_status st = INGOT_OK;
    const jtok *open = P->pos > 0 ? &P->t[P->pos - 1] : cur(P);
    for (;;) {
        const jtok *t = cur(P);
        jnode *n = NULL;
        if (t->kind == TK_EOF) {
            if (ends) {
                char buf[96];
                snprintf(buf, sizeof buf, "unexpected end of template; expected '%s'", ends[0]);
                st = fail_at(open, INGOT_ERR_FORMAT, buf, NULL, NULL);
            }
            break;
        }
        if (t->kind == TK_DATA) {
            if (!(n = new_node(P, N_DATA, t))) {
                st = nomem();
                break;
            }
            n->value = jv_str_immortal(jarena_alloc, P->arena, t->s, t->len);
            if (n->value.type != JV_STR) {
                st = nomem();
                break;
            }
            next(P);
        } else if (t->kind == TK_VAR_BEGIN) {
            if (!(n = new_node(P, N_PRINT, t))) {
                st = nomem();
                break;
            }
            next(P);
            if ((st = parse_tuple(P, &n->a, false, true, NULL, false))) break;
            if (cur(P)->kind != TK_VAR_END) {
                st = unexpected(P, "end of print statement");
                break;
            }
            next(P);
        } else if (t->kind == TK_BLOCK_BEGIN) {
            next(P);
            bool is_end = false;
            for (int i = 0; ends && ends[i]; i++)
                is_end |= is_name(cur(P), ends[i]);
            if (is_end) break;
            if ((st = parse_statement(P, &n))) break;
        } else {
            st = unexpected(P, NULL);
            break;
        }
        if ((st = vec_push(&v, n, NULL))) break;
    }
    if (st) {
        vec_free(&v);
        return st;
    }
    return vec_take(P, body, NULL, &v);
}

ingot_status jinja__parse(jnodes *body, jarena *arena, const jtokens *toks, int max_depth) {
    parser P = {.t = toks->v, .n = toks->n, .arena = arena, .max_depth = max_depth};
    return parse_body(&P, body, NULL);
}
