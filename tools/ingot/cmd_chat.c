/* ingot chat: an interactive conversation with a model, one user line at a
 * time, through the tokenizer's chat template. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"

static int usage(FILE *f, int code) {
    fprintf(f, "usage: ingot chat --model DIR [--system TEXT] [options]\n\n"
               "Reads one user message per line from standard input, renders the whole\n"
               "conversation with the tokenizer's chat template and streams the reply. The\n"
               "session keeps its KV cache, so each turn computes only the new tokens. /exit,\n"
               "/quit or end of input ends the chat; /reset starts a new conversation. Works\n"
               "the same with a pipe as standard input (no prompt is printed then).\n\n"
               "  -m, --model DIR       the Hugging Face model folder (with a chat template)\n"
               "  --system TEXT         the system message\n"
               "  -v, --verbose         print each turn's measurements to standard error\n");
    cli_sampling_help(f);
    return code;
}

static bool stream_piece(void *user, int32_t id, const char *piece, size_t len) {
    (void)user;
    (void)id;
    if (len) fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return true;
}

static void add_message(json_t *msgs, const char *role, const char *content) {
    json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", role, "content", content));
}

/* A new conversation: only the system message, when given. */
static json_t *new_conversation(const char *system) {
    json_t *msgs = json_array();
    if (msgs && system) add_message(msgs, "system", system);
    return msgs;
}

/* One turn: renders msgs, generates and appends the assistant's reply. */
static int turn(json_t *msgs, ingot_session *session, const ingot_tokenizer *tok,
                const ingot_generate_options *go, bool verbose) {
    char *js = json_dumps(msgs, JSON_COMPACT), *text = NULL;
    size_t len = 0;
    int rc = js ? cli_chat_render(&text, &len, "chat", tok, js)
                : cli_fail("chat", INGOT_ERR_OUT_OF_MEMORY);
    free(js);
    ingot_generation g = {0};
    if (!rc) {
        ingot_status s = ingot_session_generate_text(session, text, len, NULL, go, &g);
        if (s) rc = cli_fail("chat", s);
    }
    if (!rc) {
        putchar('\n');
        add_message(msgs, "assistant", g.text ? g.text : "");
        fflush(stdout);
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
    cli_sampling sampling = cli_sampling_defaults();
    cli_option opts[3 + CLI_SAMPLING_OPTIONS] = {
        {"--model", "-m", CLI_STRING, &dir, 0, 0},
        {"--system", NULL, CLI_STRING, &system, 0, 0},
        {"--verbose", "-v", CLI_FLAG, &verbose, 0, 0},
    };
    cli_sampling_options(opts + 3, &sampling);
    if (cli_parse("chat", argc, argv, opts, sizeof opts / sizeof *opts, NULL, 0, NULL)) return 2;
    if (!dir) return cli_usage_error("chat", "--model DIR is required");
    ingot_model *m = NULL;
    ingot_tokenizer *tok = NULL;
    ingot_session *session = NULL;
    int rc = cli_load_model(&m, "chat", dir, NULL);
    if (!rc) rc = cli_load_tokenizer(&tok, "chat", dir, NULL);
    if (!rc && !ingot_tokenizer_chat_template(tok)) {
        fprintf(stderr, "ingot chat: the tokenizer of %s has no chat template\n", dir);
        rc = 1;
    }
    ingot_status s = rc ? INGOT_OK : ingot_session_new(&session, m, tok, 0);
    if (s) rc = cli_fail("chat", s);
    json_t *msgs = rc ? NULL : new_conversation(system);
    ingot_generate_options go = cli_generate_options(&sampling);
    go.callback = stream_piece;
    bool tty = isatty(STDIN_FILENO);
    char *line = NULL;
    size_t cap = 0;
    for (ssize_t n; !rc;) {
        if (tty) fputs("> ", stderr);
        if ((n = getline(&line, &cap, stdin)) < 0) break;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) break;
        if (!strcmp(line, "/reset")) {
            json_decref(msgs);
            msgs = new_conversation(system);
            ingot_session_reset(session);
            continue;
        }
        if (!n) continue;
        add_message(msgs, "user", line);
        rc = turn(msgs, session, tok, &go, verbose);
    }
    free(line);
    json_decref(msgs);
    ingot_session_free(session);
    ingot_tokenizer_free(tok);
    ingot_model_free(m);
    return rc;
}
