/* Tokens and syntax tree of the chat-template language, the arena they live
 * in, and the lexer and parser entry points. */
#ifndef INGOT_TEXT_JINJA_AST_H
#define INGOT_TEXT_JINJA_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/jinja_value.h"

/* ---- arena: everything of a parsed template, freed at once ---- */

typedef struct jarena {
    struct jchunk *head;
} jarena;

void *jarena_alloc(void *arena, size_t n); /* zeroed, 16-byte aligned; NULL on OOM */
char *jarena_strdup(jarena *a, const char *s, size_t len);
void jarena_free(jarena *a);

/* ---- tokens ---- */

typedef enum jtok_kind {
    TK_DATA,
    TK_VAR_BEGIN,
    TK_VAR_END,
    TK_BLOCK_BEGIN,
    TK_BLOCK_END,
    TK_NAME,
    TK_STRING,
    TK_INT,
    TK_FLOAT,
    TK_OP,
    TK_EOF,
} jtok_kind;

typedef enum jop {
    OP_ADD,
    OP_SUB,
    OP_DIV,
    OP_FLOORDIV,
    OP_MUL,
    OP_MOD,
    OP_POW,
    OP_TILDE,
    OP_LBRACKET,
    OP_RBRACKET,
    OP_LPAREN,
    OP_RPAREN,
    OP_LBRACE,
    OP_RBRACE,
    OP_EQ,
    OP_NE,
    OP_GT,
    OP_GTEQ,
    OP_LT,
    OP_LTEQ,
    OP_ASSIGN,
    OP_DOT,
    OP_COLON,
    OP_PIPE,
    OP_COMMA,
    OP_SEMICOLON,
    OP_IN,    /* comparison operators made of names */
    OP_NOTIN, /* (only in N_COMPARE) */
} jop;

typedef struct jtok {
    uint8_t kind; /* jtok_kind */
    uint8_t op;   /* jop, for TK_OP */
    int line, col;
    const char *s; /* name, decoded string or data text (arena, NUL-terminated) */
    size_t len;
    int64_t i;
    double f;
} jtok;

typedef struct jtokens {
    jtok *v;
    size_t n, cap;
} jtokens;

/* Splits normalised template source into tokens (Jinja2's lexer with
 * trim_blocks and lstrip_blocks). Errors: FORMAT with line:column,
 * OUT_OF_MEMORY. toks->v is malloc'd (the caller frees it). */
ingot_status jinja__lex(jtokens *toks, jarena *arena, const char *src, size_t len);

/* ---- syntax tree ---- */

typedef enum jnode_kind {
    /* statements */
    N_DATA,
    N_PRINT,
    N_IF,
    N_FOR,
    N_SET,
    N_SETBLOCK,
    N_MACRO,
    N_BREAK,
    N_CONTINUE,
    N_WITH,
    N_BLOCK, /* a body on its own ({% generation %}) */
    /* expressions */
    N_CONST,
    N_NAME,
    N_GETATTR,
    N_GETITEM,
    N_SLICE,
    N_CALL,
    N_FILTER,
    N_TEST,
    N_BINOP,
    N_NEG,
    N_POS,
    N_NOT,
    N_AND,
    N_OR,
    N_COMPARE,
    N_COND,
    N_LIST,
    N_TUPLE,
    N_DICT,
    N_CONCAT,
} jnode_kind;

typedef struct jnode jnode;

typedef struct jnodes {
    jnode **v;
    size_t n;
} jnodes;

/* One node; the fields used depend on the kind:
 *   N_DATA value | N_PRINT a | N_IF a=cond body else_body
 *   N_FOR a=target b=iterable c=filter-or-NULL body else_body
 *   N_SET a=target (N_NAME, N_GETATTR on a name, N_TUPLE of names) b=value
 *   N_SETBLOCK a=target body c=filter chain (N_FILTER whose innermost a is NULL) or NULL
 *   N_MACRO name args=params (N_NAME) kw=defaults (NULL where none) body
 *                flag=uses varargs/kwargs (bit 0 varargs, bit 1 kwargs)
 *   N_WITH args=targets kw=values body | N_BLOCK body
 *   N_CONST value | N_NAME name | N_GETATTR a name | N_GETITEM a b
 *   N_SLICE args=[start, stop, step] (NULL entries; only as N_GETITEM's b)
 *   N_CALL a args kw kwnames
 *   N_FILTER a name fn args kw kwnames | N_TEST a name fn args kw kwnames flag=negated
 *   N_BINOP op a b | N_NEG/N_POS/N_NOT a | N_AND/N_OR a b
 *   N_COMPARE a args=operands ops | N_COND a=test b=then c=else-or-NULL
 *   N_LIST/N_TUPLE/N_CONCAT args | N_DICT args=keys kw=values */
struct jnode {
    uint8_t kind; /* jnode_kind */
    uint8_t op;   /* jop */
    uint8_t flag;
    int fn;
    int line, col;
    const char *name;
    jv value;
    jnode *a, *b, *c;
    jnodes args, kw, body, else_body;
    const char **kwnames;
    uint8_t *ops;
};

/* Filter and test names (jinja_builtins.c): an id >= 0, JINJA_UNKNOWN for
 * names Jinja2 does not know, JINJA_UNSUPPORTED for Jinja2's own that ingot
 * leaves out. */
#define JINJA_UNKNOWN (-1)
#define JINJA_UNSUPPORTED (-2)
int jinja__filter_id(const char *name);
int jinja__test_id(const char *name);

/* Parses tokens into a body of statements. max_depth bounds the nesting of
 * blocks and expressions (LIMIT beyond). Errors: FORMAT (line:column),
 * UNSUPPORTED (named feature), LIMIT, OUT_OF_MEMORY. */
ingot_status jinja__parse(jnodes *body, jarena *arena, const jtokens *toks, int max_depth);

#endif
