/* ingot classify: for every prompt of a file, the most likely next tokens or
 * the scores of given labels, as JSON lines, from batched prefills. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"
#include "options.h"

static int usage(FILE *f, int code) {
    fprintf(f,
            "usage: ingot classify --model DIR --prompts FILE [--labels a,b,c | --labels-file F]\n"
            "                      [--top-k K] [--batch-size N] [--ids] [--device DEV]\n\n"
            "Reads one prompt per line from FILE ('-': standard input) and prints one JSON\n"
            "object per prompt: without labels, the K most likely next tokens with their\n"
            "log-probabilities ({\"prompt\", \"top_k\": [{\"id\", \"token\", \"logprob\"}]});\n"
            "with labels, each label's log-probability as a continuation of the prompt (the\n"
            "sum over its tokens) and the best label ({\"prompt\", \"scores\", \"label\"}).\n"
            "Prompts run in batches: one padded forward pass per batch. FILE and F may be\n"
            "pipes; limits: 1 MiB a line, 256 MiB a file, 1048576 prompts, 4096 labels.\n\n"
            CLI_MODEL_HELP
            "  --prompts FILE        the prompts, one per line (encoded with special tokens\n"
            "                        added, as Hugging Face does)\n"
            "  --labels a,b,c        candidate continuations (encoded without special tokens;\n"
            "                        a leading space is often wanted: --labels ' yes, no')\n"
            "  --labels-file F       candidate continuations, one per line\n"
            "  --top-k K             next tokens per prompt without labels (default 5)\n"
            "  --batch-size N        prompts (or prompt-label pairs) per pass (default 8)\n"
            "  --ids                 prompts and labels are comma-separated token ids\n");
    cli_device_help(f);
    return code;
}

/* A list of strings read from a file or split from a comma list: at most
 * max of them (what they are and where they come from name the limit). */
typedef struct lines {
    char **items;
    size_t count, cap, max;
    const char *what, *source;
} lines;

static void lines_free(lines *l) {
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
}

static int lines_add(lines *l, const char *s, size_t n) {
    if (l->count == l->max)
        return cli_limit_error("classify", "%s holds more than %zu %s", l->source, l->max, l->what);
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **items = realloc(l->items, cap * sizeof *items);
        if (!items) return cli_out_of_memory("classify");
        l->items = items;
        l->cap = cap;
    }
    if (!(l->items[l->count] = strndup(s, n))) return cli_out_of_memory("classify");
    l->count++;
    return 0;
}

/* Reads the non-empty lines of l->source ('-': stdin, or any stream). */
static int read_lines(lines *l) {
    FILE *f = cli_open_input("classify", l->source, true);
    if (!f) return 1;
    char *line = NULL;
    size_t cap = 0, n = 0, total = 0;
    int rc; /* 0 a line, -1 the end, 1 an error */
    while (!(rc = cli_read_line(&line, &cap, &n, &total, "classify", l->source, f)))
        if (n && (rc = lines_add(l, line, n))) break;
    free(line);
    cli_close_input(f);
    return rc > 0;
}

static int split_commas(lines *l, const char *s) {
    for (const char *p = s;; p++) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && lines_add(l, p, n)) return 1;
        if (!e) return 0;
        p = e;
    }
}

/* Turns texts into token sequences: ids lists with --ids, else encoded. */
static int encode_all(ingot_tokens *out, const lines *l, const ingot_tokenizer *tok, bool ids,
                      bool add_special) {
    for (size_t i = 0; i < l->count; i++) {
        cli_ids given = {0};
        const char *text = ids ? NULL : l->items[i];
        if (ids && !cli_parse_ids(&given, l->items[i])) {
            fprintf(stderr, "ingot classify: '%s' is not a list of token ids\n", l->items[i]);
            return 1;
        }
        int rc = cli_prompt_tokens(&out[i], "classify", tok, text, &given, add_special);
        cli_ids_free(&given);
        if (rc) return rc;
    }
    return 0;
}

static void print_prompt_key(const char *prompt) {
    fputs("{\"prompt\": ", stdout);
    cli_print_json_string(stdout, prompt, strlen(prompt));
}

static int top_k(const ingot_model *m, const ingot_tokenizer *tok, const lines *prompts,
                 const ingot_token_seq *seqs, size_t batch, int k) {
    size_t n = prompts->count;
    int32_t *ids = malloc(n * (size_t)k * sizeof *ids); /* [n, k] */
    float *lp = malloc(n * (size_t)k * sizeof *lp);     /* [n, k] */
    if (!ids || !lp) {
        free(ids);
        free(lp);
        return cli_out_of_memory("classify");
    }
    ingot_status s = ingot_classify_topk(ids, lp, m, seqs, n, batch, k);
    for (size_t i = 0; i < n && !s; i++) {
        print_prompt_key(prompts->items[i]);
        fputs(", \"top_k\": [", stdout);
        for (int j = 0; j < k && ids[i * (size_t)k + (size_t)j] >= 0; j++) {
            int32_t id = ids[i * (size_t)k + (size_t)j];
            const char *t = tok ? ingot_tokenizer_id_to_token(tok, id) : NULL;
            printf("%s{\"id\": %d, ", j ? ", " : "", id);
            if (t) {
                fputs("\"token\": ", stdout);
                cli_print_json_string(stdout, t, strlen(t));
                fputs(", ", stdout);
            }
            fputs("\"logprob\": ", stdout);
            cli_print_float(stdout, lp[i * (size_t)k + (size_t)j]);
            putchar('}');
        }
        puts("]}");
    }
    free(ids);
    free(lp);
    return s ? cli_fail("classify", s) : 0;
}

static int score(const ingot_model *m, const lines *prompts, const ingot_token_seq *seqs,
                 const lines *labels, const ingot_token_seq *lseqs, size_t batch) {
    size_t n = prompts->count, nl = labels->count;
    double *sc = malloc(n * nl * sizeof *sc); /* [n, nl] */
    if (!sc) return cli_out_of_memory("classify");
    ingot_status s = ingot_score_labels(sc, m, seqs, n, lseqs, nl, batch);
    for (size_t i = 0; i < n && !s; i++) {
        print_prompt_key(prompts->items[i]);
        fputs(", \"scores\": {", stdout);
        size_t best = 0;
        for (size_t j = 0; j < nl; j++) {
            if (sc[i * nl + j] > sc[i * nl + best]) best = j;
            fputs(j ? ", " : "", stdout);
            cli_print_json_string(stdout, labels->items[j], strlen(labels->items[j]));
            fputs(": ", stdout);
            cli_print_float(stdout, sc[i * nl + j]);
        }
        fputs("}, \"label\": ", stdout);
        cli_print_json_string(stdout, labels->items[best], strlen(labels->items[best]));
        puts("}");
    }
    free(sc);
    return s ? cli_fail("classify", s) : 0;
}

/* Token sequences viewing toks. */
static ingot_token_seq *as_seqs(const ingot_tokens *toks, size_t n) {
    ingot_token_seq *seqs = toks ? calloc(n ? n : 1, sizeof *seqs) : NULL;
    for (size_t i = 0; seqs && i < n; i++)
        seqs[i] = (ingot_token_seq){toks[i].ids, toks[i].count};
    return seqs;
}

int cli_classify(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return usage(stdout, 0);
    const char *dir = NULL, *prompts_path = NULL, *labels_arg = NULL, *labels_path = NULL;
    int64_t k = 5, batch = 8;
    bool ids = false;
    cli_device dev = {0};
    const cli_option opts[] = {
        {"--model", "-m", CLI_MODEL, &dir, 0, 0},
        {"--prompts", NULL, CLI_STRING, &prompts_path, 0, 0},
        {"--labels", NULL, CLI_STRING, &labels_arg, 0, 0},
        {"--labels-file", NULL, CLI_STRING, &labels_path, 0, 0},
        {"--top-k", NULL, CLI_INT, &k, 1, 1 << 20},
        {"--batch-size", NULL, CLI_INT, &batch, 1, 1 << 16},
        {"--ids", NULL, CLI_FLAG, &ids, 0, 0},
        cli_device_option(&dev),
    };
    int rc = cli_parse("classify", argc, argv, opts, sizeof opts / sizeof *opts, NULL, 0, NULL);
    if (rc) return rc;
    if (!dir) return cli_usage_error("classify", "--model DIR is required");
    if (!prompts_path) return cli_usage_error("classify", "--prompts FILE is required");
    if (labels_arg && labels_path)
        return cli_usage_error("classify", "give --labels or --labels-file, not both");
    lines prompts = {.max = CLI_PROMPTS_MAX, .what = "prompts", .source = prompts_path};
    lines labels = {.max = CLI_LABELS_MAX, .what = "labels", .source = labels_path};
    rc = read_lines(&prompts);
    if (!rc && labels_path) rc = read_lines(&labels);
    if (!rc && labels_arg) {
        labels.source = "--labels";
        rc = split_commas(&labels, labels_arg);
    }
    if (!rc && !prompts.count) {
        fprintf(stderr, "ingot classify: %s holds no prompts\n", prompts_path);
        rc = 1;
    }
    if (!rc && (labels_arg || labels_path) && !labels.count) {
        fprintf(stderr, "ingot classify: no labels given\n");
        rc = 1;
    }
    ingot_model *m = NULL;
    ingot_tokenizer *tok = NULL;
    ingot_tokens *pt = calloc(prompts.count + 1, sizeof *pt);
    ingot_tokens *lt = calloc(labels.count + 1, sizeof *lt);
    ingot_token_seq *ps = NULL, *ls = NULL;
    if (!rc && (!pt || !lt)) rc = cli_out_of_memory("classify");
    if (!rc) rc = cli_load_model(&m, "classify", dir, &dev);
    if (!rc && !ids)
        rc = cli_load_tokenizer(&tok, "classify", dir, "--ids takes prompts as token ids instead");
    if (!rc && ids) ingot_tokenizer_load(&tok, dir); /* optional: names the top-k tokens */
    if (!rc) rc = encode_all(pt, &prompts, tok, ids, true);
    if (!rc) rc = encode_all(lt, &labels, tok, ids, false);
    if (!rc && (!(ps = as_seqs(pt, prompts.count)) || !(ls = as_seqs(lt, labels.count))))
        rc = cli_out_of_memory("classify");
    if (!rc && labels.count)
        rc = score(m, &prompts, ps, &labels, ls, (size_t)batch);
    else if (!rc)
        rc = top_k(m, tok, &prompts, ps, (size_t)batch, (int)k);
    for (size_t i = 0; pt && i < prompts.count; i++)
        ingot_tokens_free(&pt[i]);
    for (size_t i = 0; lt && i < labels.count; i++)
        ingot_tokens_free(&lt[i]);
    free(pt);
    free(lt);
    free(ps);
    free(ls);
    ingot_tokenizer_free(tok);
    ingot_model_free(m);
    lines_free(&prompts);
    lines_free(&labels);
    return rc;
}
