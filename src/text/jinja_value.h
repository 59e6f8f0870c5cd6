/* Values of the chat-template language: Python's types as Jinja2 sees them
 * (undefined, None, bool, int, float, str, list/tuple, dict, namespace) plus
 * the template's own objects (loop, macro, builtin function). Strings, lists,
 * dicts and objects are reference counted; values built into a parsed
 * template are immortal so that many threads may render it at once. */
#ifndef INGOT_TEXT_JINJA_VALUE_H
#define INGOT_TEXT_JINJA_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingot/status.h"

typedef enum jv_type {
    JV_UNDEF,
    JV_NONE,
    JV_BOOL,
    JV_INT,
    JV_FLOAT,
    JV_STR,
    JV_LIST,  /* list or tuple */
    JV_DICT,  /* dict (insertion ordered) */
    JV_NS,    /* namespace(): a dict whose attributes may be assigned */
    JV_LOOP,  /* the `loop` object of a for loop */
    JV_MACRO, /* a macro: its node in the template and the variables it closes over */
    JV_FUNC,  /* a global function or an uncalled method: u.i names it */
} jv_type;

#define JV_IMMORTAL UINT32_MAX
/* Deepest nesting of lists and dicts a value may have (bounds the recursion
 * of printing, comparison, serialisation and freeing). */
#define JV_MAX_NEST 512

typedef struct jv_str {
    uint32_t refs;
    bool ascii; /* every byte < 0x80: byte index == code point index */
    size_t len; /* bytes, without the NUL */
    char data[];
} jv_str;

typedef struct jv_list jv_list;
typedef struct jv_dict jv_dict;
typedef struct jv_loop jv_loop;
typedef struct jv_macro jv_macro;

typedef struct jv {
    uint8_t type; /* jv_type */
    union {
        bool b;
        int64_t i;
        double f;
        jv_str *s;
        jv_list *l;
        jv_dict *d;
        jv_loop *loop;
        jv_macro *macro;
        const void *p; /* JV_UNDEF name hint (a NUL-terminated string
                          living as long as the template) or NULL */
    } u;
} jv;

struct jv_list {
    uint32_t refs;
    uint16_t depth; /* 1 + the deepest element's depth */
    bool tuple;
    size_t n, cap;
    jv *items;
};

struct jv_dict {
    uint32_t refs;
    uint16_t depth;
    size_t n, cap;
    jv *keys, *vals;
    uint32_t *index;  /* open-addressing hash index (entry + 1; 0 = empty), or NULL */
    size_t index_cap; /* power of two */
};

struct jv_macro {
    uint32_t refs;
    const void *node; /* the N_MACRO node (lives as long as the template) */
    const char *name;
    jv closure; /* JV_DICT of the enclosing scopes' variables, or JV_NONE at top level */
};

struct jv_loop {
    uint32_t refs;
    jv_list *items; /* what the loop iterates over (after its filter) */
    size_t index;   /* index0 of the current iteration */
    jv changed;     /* the arguments of the last loop.changed() (a tuple), or JV_NONE */
};

static inline jv jv_undef(const char *hint) {
    jv v = {.type = JV_UNDEF};
    v.u.p = hint;
    return v;
}
static inline jv jv_none(void) { return (jv){.type = JV_NONE}; }
static inline jv jv_bool(bool b) {
    jv v = {.type = JV_BOOL};
    v.u.b = b;
    return v;
}
static inline jv jv_int(int64_t i) {
    jv v = {.type = JV_INT};
    v.u.i = i;
    return v;
}
static inline jv jv_float(double f) {
    jv v = {.type = JV_FLOAT};
    v.u.f = f;
    return v;
}

jv jv_incref(jv v);
void jv_decref(jv v);

/* ---- strings ---- */

/* A new string of len bytes (valid UTF-8 by the caller's guarantee);
 * INGOT_ERR_OUT_OF_MEMORY when allocation fails. */
ingot_status jv_str_new(jv *out, const char *s, size_t len);
/* A string value of a NUL-terminated C string. */
ingot_status jv_str_cstr(jv *out, const char *s);
/* Immortal string allocated by alloc_fn(ctx, bytes) (the template's arena). */
jv jv_str_immortal(void *(*alloc_fn)(void *ctx, size_t n), void *ctx, const char *s, size_t len);
size_t jv_str_ncp(const jv_str *s); /* length in code points */

/* A growable byte buffer with a size cap (LIMIT when exceeded). */
typedef struct jv_buf {
    char *data;
    size_t len, cap, max;
} jv_buf;
ingot_status jv_buf_add(jv_buf *b, const char *s, size_t n);
ingot_status jv_buf_addc(jv_buf *b, char c);
ingot_status jv_buf_addcp(jv_buf *b, uint32_t cp); /* UTF-8 encode */
/* Moves the buffer into a string value (the buffer is left empty). */
ingot_status jv_buf_take(jv *out, jv_buf *b);
void jv_buf_free(jv_buf *b);

/* ---- lists ---- */

ingot_status jv_list_new(jv *out, size_t cap, bool tuple);
/* Appends v, taking over the caller's reference (also on failure). */
ingot_status jv_list_push(jv list, jv v);

/* ---- dicts and namespaces ---- */

ingot_status jv_dict_new(jv *out, jv_type type); /* JV_DICT or JV_NS */
/* Sets key to val, taking over both references (also on failure). Keys
 * must be hashable (None, bool, int, float, str): INGOT_ERR_FORMAT otherwise. */
ingot_status jv_dict_set(jv dict, jv key, jv val);
/* A borrowed pointer to the value at key, or NULL. */
jv *jv_dict_get(const jv_dict *d, jv key);
jv *jv_dict_get_str(const jv_dict *d, const char *key, size_t len);
/* Drops every entry (breaks reference cycles through namespaces). */
void jv_dict_clear(jv_dict *d);

/* ---- Python semantics ---- */

const char *jv_type_name(jv v); /* Python's type name: 'str', 'dict', ... */
bool jv_truthy(jv v);
bool jv_equal(jv a, jv b);
/* Three-way order of a and b as Python's <: INGOT_ERR_FORMAT when the types
 * are not orderable (message set). */
ingot_status jv_compare(int *out, jv a, jv b);
bool jv_is_number(jv v); /* int, float or bool */
double jv_as_double(jv v);

/* str(v) appended to b (Python's str: repr for items of containers). */
ingot_status jv_write_str(jv_buf *b, jv v);
/* repr(v) appended to b. */
ingot_status jv_write_repr(jv_buf *b, jv v);
/* str(v) as a new string value (the same string when v is one). */
ingot_status jv_to_str(jv *out, jv v, size_t max);
/* Python's repr of a float into buf (at least 32 bytes); returns its length. */
size_t jv_format_float(char *buf, double f);

/* json.dumps(v, ensure_ascii=False, indent=..., separators=..., sort_keys=...)
 * appended to b. indent NULL means no indent (one line); item_sep/key_sep NULL
 * take json.dumps' defaults for the indent. Errors: FORMAT for values that
 * are not JSON serializable (message names the type). */
typedef struct jv_json_opts {
    const char *indent; /* the indent string, or NULL */
    size_t indent_len;
    const char *item_sep, *key_sep;
    bool sort_keys;
    bool ensure_ascii; /* non-ASCII as \uXXXX escapes */
} jv_json_opts;
ingot_status jv_write_json(jv_buf *b, jv v, const jv_json_opts *opts);

/* Parses a JSON document into a value. Errors: FORMAT (with the position),
 * LIMIT (nested deeper than JV_MAX_NEST), OUT_OF_MEMORY. */
ingot_status jv_from_json(jv *out, const char *text, size_t len, const char *what);

/* ---- UTF-8 helpers ---- */

/* Decodes the code point at s[*i] (valid UTF-8) and advances *i. */
uint32_t jv_utf8_next(const char *s, size_t *i);
bool jv_py_isspace(uint32_t cp);

#endif
