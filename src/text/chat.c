/* Public chat-template API (include/ingot/chat.h): parse once, render with
 * JSON variables, and apply a tokenizer's template as transformers'
 * apply_chat_template does. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "ingot/chat.h"
#include "text/jinja_eval.h"
#include "text/tok_internal.h"

#define DEFAULT_MAX_OUTPUT ((size_t)16 << 20)
#define DEFAULT_MAX_STEPS 10000000ull
#define DEFAULT_MAX_DEPTH 200
#define MAX_DEPTH_CAP 1000 /* bounds the C stack the parser and evaluator use */

struct ingot_chat_template {
    jarena arena;
    jnodes body;
    ingot_template_limits limits;
};

ingot_status ingot_chat_template_parse(ingot_chat_template **out, const char *source, size_t len,
                                       const ingot_template_limits *limits) {
    INGOT__CHECK_NOT_NULL(out, "chat_template_parse");
    *out = NULL;
    if (!source && len) INGOT__CHECK_NOT_NULL(source, "chat_template_parse");
    ingot_template_limits lim = limits ? *limits : (ingot_template_limits){0};
    if (!lim.max_output) lim.max_output = DEFAULT_MAX_OUTPUT;
    if (!lim.max_steps) lim.max_steps = DEFAULT_MAX_STEPS;
    if (!lim.max_depth) lim.max_depth = DEFAULT_MAX_DEPTH;
    if (lim.max_depth < 0 || lim.max_depth > MAX_DEPTH_CAP)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "chat_template_parse: max_depth %d outside [1, %d]", lim.max_depth,
                            MAX_DEPTH_CAP);
    if (lim.max_output > SIZE_MAX / 4) lim.max_output = SIZE_MAX / 4;
    size_t bad = ingot__utf8_check((const unsigned char *)(source ? source : ""), len);
    if (bad < len)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "chat_template_parse: invalid UTF-8 at byte %zu", bad);
    ingot_chat_template *t = calloc(1, sizeof *t);
    if (!t) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "chat_template_parse: out of memory");
    t->limits = lim;
    jtokens toks = {0};
    ingot_status st = jinja__lex(&toks, &t->arena, source ? source : "", len);
    if (!st) st = jinja__parse(&t->body, &t->arena, &toks, lim.max_depth);
    free(toks.v);
    if (st) {
        ingot_chat_template_free(t);
        return st;
    }
    *out = t;
    return INGOT_OK;
}

void ingot_chat_template_free(ingot_chat_template *t) {
    if (!t) return;
    jarena_free(&t->arena);
    free(t);
}

static ingot_status render_vars(char **out, size_t *out_len, const ingot_chat_template *t,
                                jv vars) {
    jv_buf buf = {.max = t->limits.max_output};
    ingot_status st = jinja__render(&buf, &t->body, vars, &t->limits);
    if (!st && !buf.data) {
        buf.data = malloc(1);
        if (!buf.data) st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "chat template: out of memory");
    }
    if (st) {
        jv_buf_free(&buf);
        return st;
    }
    buf.data[buf.len] = '\0';
    *out = buf.data;
    if (out_len) *out_len = buf.len;
    return INGOT_OK;
}

/* Parses a JSON object of variables; what names it in messages. */
static ingot_status parse_object(jv *out, const char *json, size_t len, const char *what) {
    ingot_status st = jv_from_json(out, json, len, what);
    if (st) return st == INGOT_ERR_FORMAT ? (ingot_status)INGOT_ERR_INVALID_ARGUMENT : st;
    if (out->type != JV_DICT) {
        jv_decref(*out);
        *out = jv_none();
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: expected a JSON object", what);
    }
    return INGOT_OK;
}

ingot_status ingot_chat_template_render(char **out, size_t *out_len, const ingot_chat_template *t,
                                        const char *vars_json, size_t len) {
    INGOT__CHECK_NOT_NULL(out, "chat_template_render");
    *out = NULL;
    if (out_len) *out_len = 0;
    INGOT__CHECK_NOT_NULL(t, "chat_template_render");
    INGOT__CHECK_NOT_NULL(vars_json, "chat_template_render");
    jv vars;
    ingot_status st = parse_object(&vars, vars_json, len, "chat_template_render: vars");
    if (st) return st;
    st = render_vars(out, out_len, t, vars);
    jv_decref(vars);
    return st;
}

static ingot_status set_str(jv dict, const char *key, const char *value) {
    jv k, v;
    ingot_status st = jv_str_cstr(&k, key);
    if (st) return st;
    if ((st = jv_str_cstr(&v, value))) {
        jv_decref(k);
        return st;
    }
    return jv_dict_set(dict, k, v);
}

static ingot_status set_value(jv dict, const char *key, jv value) {
    jv k;
    ingot_status st = jv_str_cstr(&k, key);
    if (st) {
        jv_decref(value);
        return st;
    }
    return jv_dict_set(dict, k, value);
}

/* The variables apply_chat_template passes: the tokenizer's special tokens,
 * then the conversation's keys, tools/documents as None when absent,
 * add_generation_prompt, then the extra variables. */
static ingot_status chat_vars(jv *vars, const ingot_tokenizer *tok, const char *conv, size_t len,
                              bool add_generation_prompt, const char *extra) {
    jv c = jv_none(), x = jv_none();
    ingot_status st = parse_object(&c, conv, len, "chat_apply: conversation");
    if (!st && extra) st = parse_object(&x, extra, strlen(extra), "chat_apply: extra_vars");
    if (!st) st = jv_dict_new(vars, JV_DICT);
    if (st) {
        jv_decref(c);
        jv_decref(x);
        return st;
    }
    const char *bos = ingot_tokenizer_bos_token(tok), *eos = ingot_tokenizer_eos_token(tok);
    if (bos && *bos) st = set_str(*vars, "bos_token", bos);
    if (!st && eos && *eos) st = set_str(*vars, "eos_token", eos);
    for (size_t i = 0; !st && i < c.u.d->n; i++)
        st = jv_dict_set(*vars, jv_incref(c.u.d->keys[i]), jv_incref(c.u.d->vals[i]));
    if (!st && !jv_dict_get_str(vars->u.d, "tools", 5)) st = set_value(*vars, "tools", jv_none());
    if (!st && !jv_dict_get_str(vars->u.d, "documents", 9))
        st = set_value(*vars, "documents", jv_none());
    if (!st) st = set_value(*vars, "add_generation_prompt", jv_bool(add_generation_prompt));
    for (size_t i = 0; !st && x.type == JV_DICT && i < x.u.d->n; i++)
        st = jv_dict_set(*vars, jv_incref(x.u.d->keys[i]), jv_incref(x.u.d->vals[i]));
    jv_decref(c);
    jv_decref(x);
    if (st) jv_decref(*vars);
    return st;
}

ingot_status ingot_chat_apply(char **out, size_t *out_len, const ingot_tokenizer *tok,
                              const char *conversation_json, size_t len, bool add_generation_prompt,
                              const char *extra_vars_json) {
    INGOT__CHECK_NOT_NULL(out, "chat_apply");
    *out = NULL;
    if (out_len) *out_len = 0;
    INGOT__CHECK_NOT_NULL(tok, "chat_apply");
    INGOT__CHECK_NOT_NULL(conversation_json, "chat_apply");
    const char *source = ingot_tokenizer_chat_template(tok);
    if (!source)
        return ingot__error(INGOT_ERR_NOT_FOUND, "chat_apply: the tokenizer has no chat template");
    ingot_chat_template *t;
    ingot_status st = ingot_chat_template_parse(&t, source, strlen(source), NULL);
    if (st) return st;
    jv vars;
    if (!(st = chat_vars(&vars, tok, conversation_json, len, add_generation_prompt,
                         extra_vars_json))) {
        st = render_vars(out, out_len, t, vars);
        jv_decref(vars);
    }
    ingot_chat_template_free(t);
    return st;
}
