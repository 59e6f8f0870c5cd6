/* The chat-template evaluator (jinja_eval.c) and its builtins: filters,
 * tests, methods and global functions (jinja_builtins.c). */
#ifndef INGOT_TEXT_JINJA_EVAL_H
#define INGOT_TEXT_JINJA_EVAL_H

#include "ingot/chat.h"
#include "text/jinja_ast.h"

/* A scope: template level, a loop iteration, a macro call, a with block. */
typedef struct jframe {
    struct jframe *parent;
    jv vars; /* JV_DICT, or JV_NONE until the first assignment */
} jframe;

typedef struct jctx {
    size_t max_output;
    uint64_t max_steps;
    int max_depth;
    uint64_t steps;
    int depth;
    jframe *frame, *root;
    jv vars;       /* the render's variables (JV_DICT) */
    jv namespaces; /* every namespace() made (JV_LIST): cleared at the end */
    jv_buf *out;
    bool located; /* the error message already names its place */
} jctx;

/* Call arguments, evaluated. */
typedef struct jargs {
    const jv *pos;
    size_t npos;
    const char *const *kwnames;
    const jv *kw;
    size_t nkw;
} jargs;

/* Adds n to the step count: LIMIT beyond max_steps. */
ingot_status jinja__charge(jctx *c, uint64_t n);
/* Charges work proportional to data: one step per JINJA_UNITS_PER_STEP bytes
 * or items. */
#define JINJA_UNITS_PER_STEP 64
ingot_status jinja__charge_size(jctx *c, uint64_t n);

/* Argument i by position, or by name: a borrowed pointer or NULL. */
const jv *jinja__arg(const jargs *a, size_t i, const char *name);
/* FORMAT when more than maxpos positional arguments or a keyword outside
 * names (NULL-terminated) were passed to what. */
ingot_status jinja__check_args(const jargs *a, size_t maxpos, const char *const *names,
                               const char *what);

/* Attribute and item lookup as Jinja2's sandboxed getattr / getitem (new
 * reference; a missing one gives undefined). */
ingot_status jinja__getattr(jctx *c, jv obj, const char *name, size_t len, jv *out);
ingot_status jinja__getitem(jctx *c, jv obj, jv key, jv *out);

/* Python's iteration of v as a new list (dict: keys; str: characters;
 * undefined: empty). FORMAT for values that are not iterable. */
ingot_status jinja__iterate(jctx *c, jv v, jv *out);

/* Builtins (jinja_builtins.c). Results are new references. */
ingot_status jinja__filter(jctx *c, int id, jv value, const jargs *a, jv *out);
ingot_status jinja__test(jctx *c, int id, jv value, const jargs *a, bool *out);
/* A method call obj.name(args); *found false when obj has no such method. */
ingot_status jinja__method(jctx *c, jv obj, const char *name, const jargs *a, jv *out, bool *found);
/* True when obj (str, list, dict) has a method of that name in Python. */
bool jinja__has_method(jv obj, const char *name);
/* True for the methods that modify their object (unsafe in the sandbox). */
bool jinja__is_mutator(const char *name);
/* Python's fmt % args (args: a tuple of values, a dict for %(key)s, or one
 * value). */
ingot_status jinja__percent_format(jctx *c, const jv_str *fmt, jv args, jv *out);
/* Global functions: an id >= 0, or -1. */
int jinja__global_id(const char *name);
ingot_status jinja__call_global(jctx *c, int id, const jargs *a, jv *out);

/* Renders a parsed body with the variables of vars (a JV_DICT). */
ingot_status jinja__render(jv_buf *out, const jnodes *body, jv vars,
                           const ingot_template_limits *limits);

#endif
