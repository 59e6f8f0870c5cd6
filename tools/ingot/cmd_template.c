/* ingot template: renders a model folder's chat template for a conversation
 * read as JSON from standard input, exactly as transformers'
 * apply_chat_template(tokenize=False) does, and prints the text as is. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"
#include "options.h"

static int usage(FILE *f, int code) {
    fprintf(f,
            "usage: ingot template --tokenizer DIR [--generation-prompt] [--var NAME=VALUE]...\n\n"
            "Reads a conversation as a JSON object from standard input, e.g.\n"
            "  {\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"tools\": [...]}\n"
            "(any other keys become template variables too), renders the chat template of\n"
            "DIR/tokenizer_config.json with the tokenizer's bos_token and eos_token, and\n"
            "prints the text exactly, with nothing added (no trailing newline).\n\n"
            "  --generation-prompt  set add_generation_prompt (open an assistant turn)\n"
            "  --var NAME=VALUE     one more variable, overriding the input's; VALUE is read\n"
            "                       as JSON when it parses (true, 3, \"x\", {...}), else as\n"
            "                       a string (e.g. --var enable_thinking=false)\n");
    return code;
}

/* Adds NAME=VALUE to vars; false when the argument has no '='. */
static bool add_var(json_t *vars, const char *arg) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return false;
    char *name = strndup(arg, (size_t)(eq - arg));
    if (!name) return false;
    json_t *value = json_loads(eq + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (!value) value = json_string(eq + 1);
    bool ok = value && json_object_set_new(vars, name, value) == 0;
    free(name);
    return ok;
}

int cli_template(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return usage(stdout, 0);
    const char *dir = NULL;
    bool generation_prompt = false;
    json_t *vars = json_object();
    if (!vars) return cli_out_of_memory("template");
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--generation-prompt")) {
            generation_prompt = true;
        } else if (!strcmp(argv[i], "--var") && i + 1 < argc && add_var(vars, argv[i + 1])) {
            i++;
        } else {
            json_decref(vars);
            return usage(stderr, 2);
        }
    }
    if (!dir) {
        json_decref(vars);
        return usage(stderr, 2);
    }
    char *extra = json_dumps(vars, JSON_COMPACT);
    json_decref(vars);
    if (!extra) return cli_out_of_memory("template");
    size_t len = 0;
    char *conversation = NULL;
    if (cli_read_all(&conversation, &len, "template", "standard input", stdin)) {
        free(extra);
        return 1;
    }
    ingot_tokenizer *tok = NULL;
    char *text = NULL;
    size_t text_len = 0;
    ingot_status s = ingot_tokenizer_load(&tok, dir);
    if (!s)
        s = ingot_chat_apply(&text, &text_len, tok, conversation, len, generation_prompt, extra);
    if (!s) fwrite(text, 1, text_len, stdout);
    free(text);
    free(extra);
    free(conversation);
    ingot_tokenizer_free(tok);
    return s ? cli_fail("template", s) : 0;
}
