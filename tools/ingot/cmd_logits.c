/* ingot logits: the model's logits for a prompt as JSON, to compare ingot with
 * another implementation. */
#include <stdlib.h>

#include "cli.h"
#include "options.h"

static int usage(FILE *f, int code) {
    fprintf(f, "usage: ingot logits --model DIR (--prompt TEXT | --prompt-ids 1,2,3) "
               "[--all-positions] [--device DEV]\n\n"
               "Runs one forward pass over the prompt (no cache) and prints the logits as JSON:\n"
               "the last position's array of vocab_size numbers, or with --all-positions one\n"
               "array per prompt position. Numbers have 9 significant digits, enough to\n"
               "round-trip f32.\n\n"
               CLI_MODEL_HELP
               "  -p, --prompt TEXT     text, encoded with the folder's tokenizer (special tokens\n"
               "                        added as Hugging Face does, e.g. a BOS)\n"
               "  --prompt-ids 1,2,3    token ids instead of text (no tokenizer needed)\n"
               "  --all-positions       every position, not just the last\n");
    cli_device_help(f);
    return code;
}

/* Prints rows x vocab floats as JSON: one array, or an array of arrays. */
static void print_logits(const float *x, int64_t rows, int64_t vocab, bool nested) {
    if (nested) putchar('[');
    for (int64_t r = 0; r < rows; r++) {
        printf(r ? ",\n[" : "[");
        for (int64_t v = 0; v < vocab; v++) {
            if (v) putchar(',');
            cli_print_float(stdout, x[r * vocab + v]);
        }
        putchar(']');
    }
    printf(nested ? "]\n" : "\n");
}

int cli_logits(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return usage(stdout, 0);
    const char *dir = NULL, *text = NULL;
    cli_ids given = {0};
    bool all = false;
    cli_device dev = {0};
    const cli_option opts[] = {
        {"--model", "-m", CLI_MODEL, &dir, 0, 0},
        {"--prompt", "-p", CLI_STRING, &text, 0, 0},
        {"--prompt-ids", NULL, CLI_IDS, &given, 0, 0},
        {"--all-positions", NULL, CLI_FLAG, &all, 0, 0},
        cli_device_option(&dev),
    };
    int rc = cli_parse("logits", argc, argv, opts, sizeof opts / sizeof *opts, NULL, 0, NULL);
    if (rc) return rc;
    if (!dir)
        rc = cli_usage_error("logits", "--model DIR is required");
    else if (!text == !given.ids)
        rc = cli_usage_error("logits", "give exactly one of --prompt TEXT and --prompt-ids IDS");
    ingot_model *m = NULL;
    ingot_tokenizer *tok = NULL;
    ingot_tokens ids = {0};
    ingot_array *input = NULL, *logits = NULL; /* [1, T] i32, [1, T, V] f32 */
    float *host = NULL;
    if (!rc) rc = cli_load_model(&m, "logits", dir, &dev);
    if (!rc && text)
        rc = cli_load_tokenizer(&tok, "logits", dir, "--prompt-ids takes token ids instead");
    if (!rc) rc = cli_prompt_tokens(&ids, "logits", tok, text, &given, true);
    if (!rc) {
        int64_t shape[2] = {1, (int64_t)ids.count};
        ingot_forward_options fo = {.last_only = !all};
        ingot_status s = ingot_array_from_data(&input, ids.ids, INGOT_I32, shape, 2);
        if (!s) s = ingot_model_forward(&logits, m, input, NULL, &fo);
        size_t bytes = s ? 0 : (size_t)ingot_array_size(logits) * sizeof(float);
        if (!s && !(host = malloc(bytes ? bytes : 1))) /* [T or 1, V] */
            rc = cli_out_of_memory("logits");
        else if (!s)
            s = ingot_array_to_host(host, bytes, INGOT_F32, logits);
        if (s) rc = cli_fail("logits", s);
    }
    if (!rc && host)
        print_logits(host, ingot_array_dim(logits, 1), ingot_array_dim(logits, 2), all);
    free(host);
    ingot_array_free(logits);
    ingot_array_free(input);
    ingot_tokens_free(&ids);
    ingot_tokenizer_free(tok);
    ingot_model_free(m);
    cli_ids_free(&given);
    return rc;
}
