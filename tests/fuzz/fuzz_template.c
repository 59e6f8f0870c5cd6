/* libFuzzer target: chat templates. The input is a template, optionally
 * followed by a NUL byte and a JSON object of variables (otherwise a small
 * conversation is used). Parsing and rendering run under tight limits; the
 * API invariants are checked with __builtin_trap so that libFuzzer reports
 * violations, and the sanitizers report crashes and leaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingot/ingot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

static const char default_vars[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", "
    "\"content\": \"Hi <b>\\u00e9</b>\"}, {\"role\": \"assistant\", \"content\": "
    "\"<think>\\nok\\n</think>\\n\\nHello\", \"tool_calls\": [{\"function\": {\"name\": \"f\", "
    "\"arguments\": {\"x\": 1.5}}}]}, {\"role\": \"tool\", \"content\": \"42\"}, {\"role\": "
    "\"user\", \"content\": [{\"type\": \"image\"}, {\"type\": \"text\", \"text\": \" t \"}]}], "
    "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}], "
    "\"add_generation_prompt\": true, \"bos_token\": \"<bos>\", \"eos_token\": \"<eos>\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *src = (const char *)data;
    const uint8_t *nul = memchr(data, '\0', size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    const char *vars = nul ? src + tlen + 1 : default_vars;
    size_t vlen = nul ? size - tlen - 1 : sizeof default_vars - 1;
    ingot_template_limits lim = {.max_output = 1 << 16, .max_steps = 200000, .max_depth = 64};
    ingot_chat_template *t = NULL;
    ingot_status st = ingot_chat_template_parse(&t, src, tlen, &lim);
    if (st != INGOT_OK) {
        CHECK(t == NULL && ingot_last_error()[0] != '\0');
        CHECK(st == INGOT_ERR_FORMAT || st == INGOT_ERR_UNSUPPORTED || st == INGOT_ERR_LIMIT ||
              st == INGOT_ERR_INVALID_ARGUMENT);
        return 0;
    }
    char *out = NULL;
    size_t len = 0;
    st = ingot_chat_template_render(&out, &len, t, vars, vlen);
    if (st == INGOT_OK) {
        CHECK(out != NULL && out[len] == '\0' && len <= lim.max_output);
        free(out);
    } else {
        CHECK(out == NULL && st != INGOT_ERR_INTERNAL);
    }
    ingot_chat_template_free(t);
    return 0;
}
