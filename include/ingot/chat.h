/* ingot/chat.h - chat templates: the Jinja subset of Hugging Face templates.
 *
 * Renders a tokenizer_config.json chat_template exactly as transformers'
 * apply_chat_template does (Jinja2 with trim_blocks and lstrip_blocks on, the
 * loopcontrols extension, tojson equal to Python's
 * json.dumps(ensure_ascii=False), raise_exception and strftime_now). The
 * subset covers what the Qwen 2/3, Gemma 3 and Llama 3 templates use:
 * if/elif/else, for with loop.* and else, set (including block set and
 * namespace attributes), macros, filters (length, tojson, trim, upper, lower,
 * default, join, first, last, list, items, ...), tests (defined, undefined,
 * none, string, number, mapping, iterable, true, false, ...), string methods
 * (startswith, endswith, split, strip, lstrip, rstrip, replace, upper, lower,
 * ...), dict methods (get, items, keys, values), indexing, slicing,
 * arithmetic, comparisons, `in`, `~`, whitespace control.
 *
 * Templates come from outside and are not trusted: parsing and rendering are
 * bounded in output size, evaluation steps and nesting depth, and a
 * template that exceeds a bound fails with INGOT_ERR_LIMIT instead of hanging
 * or exhausting memory.
 *
 * Thread rule: a parsed template is immutable and may be rendered by many
 * threads at once. */
#ifndef INGOT_CHAT_H
#define INGOT_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingot/status.h"
#include "ingot/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ingot_chat_template ingot_chat_template;

/* Bounds on a template's work; zero fields take the defaults
 * (`ingot_template_limits l = {0};`, or limits NULL: all defaults). */
typedef struct ingot_template_limits {
    size_t max_output;  /* bytes of rendered text; default 16 MiB */
    uint64_t max_steps; /* evaluation steps (nodes, loop iterations); default 10^7 */
    int max_depth;      /* nesting of blocks, calls and expressions; default 200,
                           in [1, 1000] (a negative or larger value is
                           INVALID_ARGUMENT) */
} ingot_template_limits;

/* Parses len bytes of template source (not necessarily NUL-terminated; source
 * may be NULL when len is 0). limits may be NULL (defaults); they are copied
 * and kept for every render. On success *out is freed with
 * ingot_chat_template_free; on error it is NULL.
 * Errors: INVALID_ARGUMENT (out NULL, source NULL with len > 0, invalid
 * UTF-8, a bad max_depth), FORMAT (a syntax error, with line and column),
 * UNSUPPORTED (a Jinja feature outside the subset, named), LIMIT (nesting
 * deeper than max_depth), OUT_OF_MEMORY. */
ingot_status ingot_chat_template_parse(ingot_chat_template **out, const char *source, size_t len,
                                       const ingot_template_limits *limits);

/* Frees a template; NULL is ignored. */
void ingot_chat_template_free(ingot_chat_template *t);

/* Renders the template with the variables of a JSON object (vars_json, len
 * bytes, not necessarily NUL-terminated; invalid JSON or a repeated key is
 * INVALID_ARGUMENT): each key
 * becomes a template variable, e.g. {"messages": [...], "tools": [...],
 * "add_generation_prompt": true, "enable_thinking": false, "bos_token":
 * "<bos>"}. The result is NUL-terminated in *out (malloc'd; the
 * caller frees it with free()), its length in *out_len (may be NULL). On
 * error *out is NULL and *out_len 0.
 * Errors: INVALID_ARGUMENT (out, t or vars_json NULL, vars not a JSON
 * object; a template's
 * raise_exception, with its message: the conversation was rejected), FORMAT
 * (a runtime type error, e.g. calling a missing method, with the line),
 * LIMIT, OUT_OF_MEMORY. */
ingot_status ingot_chat_template_render(char **out, size_t *out_len, const ingot_chat_template *t,
                                        const char *vars_json, size_t len);

/* The tokenizer's chat template rendered for a conversation given as JSON
 * (len bytes: {"messages": [...], "tools": [...]} plus any other variables,
 * e.g. "enable_thinking"), as apply_chat_template does. The variables, later
 * ones overriding earlier: bos_token and eos_token from the tokenizer (only
 * when it has them: ingot_tokenizer_bos_token / _eos_token not ""); the
 * conversation's keys; tools and documents as none when the conversation
 * lacks them; add_generation_prompt as given; then the keys of
 * extra_vars_json (a NUL-terminated JSON object, may be NULL). The template
 * (ingot_tokenizer_chat_template) is parsed on every call with the default
 * limits; to render one template many times, or with other limits, parse it
 * once with ingot_chat_template_parse. Output and ownership as
 * ingot_chat_template_render.
 * Errors: as ingot_chat_template_parse and ingot_chat_template_render
 * (INVALID_ARGUMENT also for tok or conversation_json NULL, or extra vars
 * that are not a JSON object), and NOT_FOUND when the tokenizer has no chat
 * template. */
ingot_status ingot_chat_apply(char **out, size_t *out_len, const ingot_tokenizer *tok,
                              const char *conversation_json, size_t len,
                              bool add_generation_prompt, const char *extra_vars_json);

#ifdef __cplusplus
}
#endif
#endif
