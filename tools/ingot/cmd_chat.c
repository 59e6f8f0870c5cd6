/* ingot chat: an interactive conversation with a model, one user line at a
 * time, through the tokenizer's chat template. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"
#include "options.h"

static int usage(FILE *f, int code) {
    fprintf(f, "usage: ingot chat --model DIR [--system TEXT] [--device DEV] [options]\n\n"
               "Reads one user message per line from standard input, renders the whole\n"
               "conversation with the tokenizer's chat template and streams the reply. The\n"
               "session keeps its KV cache, so each turn computes only the new tokens. /exit,\n"
               "/quit or end of input ends the chat; /reset starts a new conversation. Works\n"
               "the same with a pipe as standard input (no prompt is printed then). A line\n"
               "of more than 1 MiB ends the chat with an error.\n\n"
               CLI_MODEL_HELP
               "  --system TEXT         the system message\n"
               "  -v, --verbose         print each turn's measurements to standard error\n");
    cli_device_help(f);
    cli_sampling_help(f);
    return code;
}

/* A new conversation: only the system message, when given; NULL (error
 * printed) when it cannot be made. */
static json_t *new_conversation(const char *system) {
    json_t *msgs = json_array();
    if (!msgs || (system && cli_add_message(msgs, "chat", "system", system))) {
        if (!msgs) cli_out_of_memory("chat");
        json_decref(msgs);
        return NULL;
    }
    return msgs;
}

/* One turn: renders msgs, generates and appends the assistant's reply. */
static int turn(json_t *msgs, ingot_session *session, const ingot_tokenizer *tok,
                const ingot_generate_options *go, bool verbose) {
    char *js = json_dumps(msgs, JSON_COMPACT), *text = NULL;
    size_t len = 0;
    int rc = js ? cli_chat_render(&text, &len, "chat", tok, js) : cli_out_of_memory("chat");
    free(js);
    ingot_generation g = {0};
    if (!rc) {
        ingot_status s = ingot_session_generate_text(&g, session, text, len, NULL, go);
        if (s) rc = cli_fail("chat", s);
    }
    if (!rc) {
        putchar('\n');
        fflush(stdout);
        /* a reply that cannot be kept is reported; the chat goes on without it */
        cli_add_message(msgs, "chat", "assistant", g.text ? g.text : "");
        if (verbose) cli_print_metrics(&g);
    }
    ingot_generation_free(&g);
    free(text);
    return rc;
}

int cli_chat(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return usage(stdout, 0);
    const char *dir = NULL, *system = NULL;
    bool verbose = false;
    cli_device dev = {0};
    cli_sampling sampling = cli_sampling_defaults();
    cli_option opts[4 + CLI_SAMPLING_OPTIONS] = {
        {"--model", "-m", CLI_MODEL, &dir, 0, 0},
        {"--system", NULL, CLI_STRING, &system, 0, 0},
        {"--verbose", "-v", CLI_FLAG, &verbose, 0, 0},
        cli_device_option(&dev),
    };
    cli_sampling_options(opts + 4, &sampling);
    int rc = cli_parse("chat", argc, argv, opts, sizeof opts / sizeof *opts, NULL, 0, NULL);
    if (rc) return rc;
    if (!dir) return cli_usage_error("chat", "--model DIR is required");
    ingot_model *m = NULL;
    ingot_tokenizer *tok = NULL;
    ingot_session *session = NULL;
    rc = cli_load_model(&m, "chat", dir, &dev);
    if (!rc) rc = cli_load_tokenizer(&tok, "chat", dir, NULL);
    if (!rc && !ingot_tokenizer_chat_template(tok)) {
        fprintf(stderr, "ingot chat: the tokenizer of %s has no chat template\n", dir);
        rc = 1;
    }
    ingot_status s = rc ? INGOT_OK : ingot_session_new(&session, m, tok, 0);
    if (s) rc = cli_fail("chat", s);
    json_t *msgs = rc ? NULL : new_conversation(system);
    if (!rc && !msgs) rc = 1;
    ingot_generate_options go = cli_generate_options(&sampling);
    go.callback = cli_stream_stdout;
    bool tty = isatty(STDIN_FILENO);
    char *line = NULL;
    size_t cap = 0, n = 0;
    while (!rc) {
        if (tty) fputs("> ", stderr);
        int got = cli_read_line(&line, &cap, &n, NULL, "chat", "standard input", stdin);
        if (got) {
            rc = got > 0;
            break;
        }
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) break;
        if (!strcmp(line, "/reset")) {
            json_decref(msgs);
            if (!(msgs = new_conversation(system))) rc = 1;
            ingot_session_reset(session);
            continue;
        }
        if (!n) continue;
        if (cli_add_message(msgs, "chat", "user", line)) continue; /* a bad line: the next */
        rc = turn(msgs, session, tok, &go, verbose);
    }
    free(line);
    json_decref(msgs);
    ingot_session_free(session);
    ingot_tokenizer_free(tok);
    ingot_model_free(m);
    return rc;
}
