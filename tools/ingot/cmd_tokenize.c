/* ingot tokenize: encodes standard input with a model folder's tokenizer and
 * prints the pieces with their ids, or the ids as a JSON array. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"
#include "options.h"

static int usage(FILE *f, int code) {
    fprintf(f, "usage: ingot tokenize --tokenizer DIR [--no-special] [--parse-special] [--ids]\n\n"
               "Reads UTF-8 text from standard input and encodes it with DIR/tokenizer.json\n"
               "(plus tokenizer_config.json etc. when present), exactly as Hugging Face\n"
               "tokenizers does. Prints one line per token: the id, a tab, and the token as a\n"
               "JSON string; with --ids, just the ids as a JSON array.\n\n"
               "  --no-special     do not add special tokens (BOS/EOS of the post-processor)\n"
               "  --parse-special  match special-token text such as <|im_start|> in the input\n"
               "                   (by default it is encoded as plain text)\n"
               "  --replace-invalid  replace invalid UTF-8 by U+FFFD instead of failing\n");
    return code;
}

int cli_tokenize(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return usage(stdout, 0);
    const char *dir = NULL;
    bool ids_only = false;
    ingot_encode_options o = {.add_special_tokens = true};
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--no-special")) {
            o.add_special_tokens = false;
        } else if (!strcmp(argv[i], "--parse-special")) {
            o.parse_special = true;
        } else if (!strcmp(argv[i], "--replace-invalid")) {
            o.replace_invalid_utf8 = true;
        } else if (!strcmp(argv[i], "--ids")) {
            ids_only = true;
        } else {
            return usage(stderr, 2);
        }
    }
    if (!dir) return usage(stderr, 2);
    size_t len = 0;
    char *text = NULL;
    if (cli_read_all(&text, &len, "tokenize", "standard input", stdin)) return 1;
    ingot_tokenizer *tok = NULL;
    ingot_tokens t = {0};
    ingot_status s = ingot_tokenizer_load(&tok, dir);
    if (!s) s = ingot_tokenizer_encode(&t, tok, text, len, &o);
    free(text);
    if (!s && ids_only) {
        printf("[");
        for (size_t i = 0; i < t.count; i++)
            printf(i ? ", %d" : "%d", t.ids[i]);
        printf("]\n");
    } else if (!s) {
        for (size_t i = 0; i < t.count; i++) {
            printf("%d\t", t.ids[i]);
            const char *piece = ingot_tokenizer_id_to_token(tok, t.ids[i]);
            cli_print_json_string(stdout, piece, strlen(piece));
            putchar('\n');
        }
    }
    ingot_tokens_free(&t);
    ingot_tokenizer_free(tok);
    return s ? cli_fail("tokenize", s) : 0;
}
