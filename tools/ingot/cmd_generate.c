/* ingot generate: streams a model's continuation of a prompt. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"
#include "options.h"

static int usage(FILE *f, int code) {
    fprintf(f,
            "usage: ingot generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [options]\n\n"
            "Generates a continuation of the prompt and streams its text to standard output;\n"
            "the measurements (prompt tokens, prefill and decode tokens/s, time to first\n"
            "token) go to standard error. A text prompt is wrapped in the tokenizer's chat\n"
            "template when it has one (as mlx-lm does), unless --raw.\n\n"
            CLI_MODEL_HELP
            "  -p, --prompt TEXT     the prompt ('-': read it from standard input)\n"
            "  --prompt-ids 1,2,3    token ids instead of text (used as they are)\n"
            "  --system TEXT         a system message (chat template only)\n"
            "  --chat-template       require the chat template (fail when there is none)\n"
            "  --raw                 encode the prompt as it is, without the chat template\n"
            "  --ids                 print only the generated ids, as a JSON array\n"
            "  -q, --quiet           do not print the measurements\n");
    cli_device_help(f);
    cli_sampling_help(f);
    return code;
}

typedef struct generate_args {
    const char *dir, *prompt, *system;
    cli_ids prompt_ids;
    bool chat_template, raw, ids_only, quiet;
    cli_device device;
    cli_sampling sampling;
} generate_args;

/* The prompt text to give the session: the rendered template or the raw
 * prompt (*owned is what to free). */
static int prompt_text(const char **text, char **owned, const generate_args *a,
                       const ingot_tokenizer *tok) {
    bool has_template = ingot_tokenizer_chat_template(tok) != NULL;
    if (a->raw || (!has_template && !a->chat_template && !a->system)) {
        *text = a->prompt;
        return 0;
    }
    if (!has_template) {
        fprintf(stderr,
                "ingot generate: the tokenizer of %s has no chat template "
                "(--system and --chat-template need one; --raw skips it)\n",
                a->dir);
        return 1;
    }
    json_t *msgs = json_array();
    int rc = a->system ? cli_add_message(msgs, "generate", "system", a->system) : 0;
    if (!rc) rc = cli_add_message(msgs, "generate", "user", a->prompt);
    char *js = rc ? NULL : json_dumps(msgs, JSON_COMPACT);
    json_decref(msgs);
    if (rc) return rc;
    if (!js) return cli_out_of_memory("generate");
    rc = cli_chat_render(owned, NULL, "generate", tok, js);
    free(js);
    *text = *owned;
    return rc;
}

static int check_args(const generate_args *a) {
    const char *cmd = "generate";
    if (!a->dir) return cli_usage_error(cmd, "--model DIR is required");
    if (!a->prompt == !a->prompt_ids.ids)
        return cli_usage_error(cmd, "give exactly one of --prompt TEXT and --prompt-ids IDS");
    if (a->raw && (a->chat_template || a->system))
        return cli_usage_error(cmd, "--raw excludes --chat-template and --system");
    if (a->prompt_ids.ids && (a->chat_template || a->system))
        return cli_usage_error(cmd, "--prompt-ids are used as they are: no --chat-template or "
                                    "--system");
    if (a->ids_only && a->sampling.stop.count)
        return cli_usage_error(cmd, "--stop needs text output: drop --ids");
    return 0;
}

/* Loads the model and, when the call needs it, the tokenizer. */
static int load(ingot_model **m, ingot_tokenizer **tok, const generate_args *a) {
    if (cli_load_model(m, "generate", a->dir, &a->device)) return 1;
    bool need_tok = a->prompt || !a->ids_only || a->sampling.stop.count;
    if (need_tok)
        return cli_load_tokenizer(tok, "generate", a->dir,
                                  a->prompt ? "--prompt-ids takes token ids instead"
                                            : "--ids prints token ids instead");
    /* ids in and out: the tokenizer only supplies the EOS ids, when present */
    if (ingot_tokenizer_load(tok, a->dir) && !a->sampling.ignore_eos)
        fprintf(stderr,
                "ingot generate: no tokenizer in %s: generation stops only at "
                "--max-tokens\n",
                a->dir);
    return 0;
}

int cli_generate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return usage(stdout, 0);
    generate_args a = {.sampling = cli_sampling_defaults()};
    cli_option opts[9 + CLI_SAMPLING_OPTIONS] = {
        {"--model", "-m", CLI_MODEL, &a.dir, 0, 0},
        {"--prompt", "-p", CLI_STRING, &a.prompt, 0, 0},
        {"--prompt-ids", NULL, CLI_IDS, &a.prompt_ids, 0, 0},
        {"--system", NULL, CLI_STRING, &a.system, 0, 0},
        {"--chat-template", NULL, CLI_FLAG, &a.chat_template, 0, 0},
        {"--raw", NULL, CLI_FLAG, &a.raw, 0, 0},
        {"--ids", NULL, CLI_FLAG, &a.ids_only, 0, 0},
        {"--quiet", "-q", CLI_FLAG, &a.quiet, 0, 0},
        cli_device_option(&a.device),
    };
    cli_sampling_options(opts + 9, &a.sampling);
    int rc = cli_parse("generate", argc, argv, opts, sizeof opts / sizeof *opts, NULL, 0, NULL);
    if (!rc) rc = check_args(&a);
    ingot_model *m = NULL;
    ingot_tokenizer *tok = NULL;
    ingot_session *session = NULL;
    ingot_generation g = {0};
    char *rendered = NULL;
    const char *text = NULL;
    char *stdin_prompt = NULL;
    if (!rc && a.prompt && !strcmp(a.prompt, "-") &&
        !(rc = cli_read_all(&stdin_prompt, NULL, "generate", "standard input", stdin)))
        a.prompt = stdin_prompt;
    if (!rc) rc = load(&m, &tok, &a);
    if (!rc && a.prompt) rc = prompt_text(&text, &rendered, &a, tok);
    if (!rc) {
        ingot_generate_options go = cli_generate_options(&a.sampling);
        if (!a.ids_only) go.callback = cli_stream_stdout;
        ingot_encode_options raw_eo = {.add_special_tokens = true, .parse_special = true};
        ingot_status s = ingot_session_new(&session, m, tok, 0);
        if (!s && text)
            s = ingot_session_generate_text(&g, session, text, strlen(text),
                                            rendered ? NULL : &raw_eo, &go);
        else if (!s)
            s = ingot_session_generate(&g, session, a.prompt_ids.ids, a.prompt_ids.count, &go);
        if (s) rc = cli_fail("generate", s);
    }
    if (!rc && a.ids_only)
        cli_print_ids(stdout, g.ids, g.n_ids);
    else if (!rc)
        putchar('\n');
    fflush(stdout);
    if (!rc && !a.quiet) cli_print_metrics(&g);
    ingot_generation_free(&g);
    ingot_session_free(session);
    free(rendered);
    free(stdin_prompt);
    ingot_tokenizer_free(tok);
    ingot_model_free(m);
    cli_ids_free(&a.prompt_ids);
    return rc;
}
