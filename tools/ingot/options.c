/* Shared command-line option parsing and helpers of the model commands. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ingot %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'ingot %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

void cli_ids_free(cli_ids *ids) {
    free(ids->ids);
    ids->ids = NULL;
    ids->count = 0;
}

bool cli_parse_ids(cli_ids *out, const char *text) {
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    int32_t *ids = malloc(cap * sizeof *ids);
    size_t n = 0;
    const char *p = text;
    while (ids && *p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ',')) break;
        ids[n++] = (int32_t)v;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p) break; /* trailing comma */
    }
    if (!ids || *p || n == 0) {
        free(ids);
        return false;
    }
    cli_ids_free(out);
    out->ids = ids;
    out->count = n;
    return true;
}

/* Prints "ingot CMD: --option: STATUS: message" and returns 1. */
static int option_fail(const char *cmd, const cli_option *o, ingot_status s) {
    fprintf(stderr, "ingot %s: %s: %s: %s\n", cmd, o->name, ingot_status_str(s),
            ingot_last_error());
    return 1;
}

/* Parses a --device value: 2 (usage) when malformed, 1 when the device does
 * not exist here (the library's message says why, e.g. "no CUDA device (CUDA
 * plugin not loaded)"). */
static int store_device(const char *cmd, const cli_option *o, const char *value) {
    cli_device *d = o->dest;
    ingot_status s = ingot_device_parse(&d->device, value);
    if (s == INGOT_ERR_INVALID_ARGUMENT)
        return cli_usage_error(cmd, "%s expects cpu, cuda or cuda:N, got '%s'", o->name, value);
    if (s) return option_fail(cmd, o, s);
    d->given = true;
    return 0;
}

/* Resolves a --model value (a path, or a repo id in the Hugging Face cache):
 * 2 (usage) when empty, 1 when a repo id is not in the cache (the library's
 * message says where it looked). */
static int store_model(const char *cmd, const cli_option *o, const char *value) {
    static char *resolved; /* the last value's path: commands read it until they exit */
    char *path = NULL;
    ingot_status s = ingot_hub_resolve(&path, value, NULL);
    if (s == INGOT_ERR_INVALID_ARGUMENT)
        return cli_usage_error(cmd, "%s needs a non-empty value", o->name);
    if (s) return option_fail(cmd, o, s);
    free(resolved);
    resolved = path;
    *(const char **)o->dest = path;
    return 0;
}

/* Stores value for option o; returns 0, or 2 (1 for a missing device) after
 * printing the problem. */
static int store(const char *cmd, const cli_option *o, const char *value) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case CLI_FLAG: *(bool *)o->dest = true; return 0;
    case CLI_STRING: *(const char **)o->dest = value; return 0;
    case CLI_INT: {
        long long v = strtoll(value, &end, 10);
        if (end == value || *end || errno)
            return cli_usage_error(cmd, "%s expects an integer, got '%s'", o->name, value);
        if ((double)v < o->min || (double)v > o->max)
            return cli_usage_error(cmd, "%s must be in [%.0f, %.0f], got %lld", o->name, o->min,
                                   o->max, v);
        *(int64_t *)o->dest = v;
        return 0;
    }
    case CLI_FLOAT: {
        double v = strtod(value, &end);
        if (end == value || *end || errno || !isfinite(v))
            return cli_usage_error(cmd, "%s expects a number, got '%s'", o->name, value);
        if (v < o->min || v > o->max)
            return cli_usage_error(cmd, "%s must be in [%g, %g], got %g", o->name, o->min, o->max,
                                   v);
        *(double *)o->dest = v;
        return 0;
    }
    case CLI_IDS:
        if (!cli_parse_ids(o->dest, value))
            return cli_usage_error(cmd,
                                   "%s expects comma-separated token ids such as 1,2,3, "
                                   "got '%s'",
                                   o->name, value);
        return 0;
    case CLI_LIST: {
        cli_list *l = o->dest;
        if (!*value) return cli_usage_error(cmd, "%s needs a non-empty value", o->name);
        if (l->count == CLI_LIST_MAX)
            return cli_usage_error(cmd, "%s given more than %d times", o->name, CLI_LIST_MAX);
        l->items[l->count++] = value;
        return 0;
    }
    case CLI_DEVICE: return store_device(cmd, o, value);
    case CLI_MODEL: return store_model(cmd, o, value);
    }
    return 2;
}

static void release_ids(const cli_option *opts, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (opts[i].kind == CLI_IDS) cli_ids_free(opts[i].dest);
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_option *opts, size_t n,
              const char **positional, size_t n_positional, size_t *n_pos) {
    size_t npos = 0;
    int rc = 0;
    for (int i = 0; i < argc && !rc; i++) {
        const char *arg = argv[i];
        const cli_option *o = NULL;
        for (size_t k = 0; k < n && !o; k++)
            if (!strcmp(arg, opts[k].name) || (opts[k].alias && !strcmp(arg, opts[k].alias)))
                o = &opts[k];
        if (o && o->kind == CLI_FLAG) {
            rc = store(cmd, o, NULL);
        } else if (o && i + 1 >= argc) {
            rc = cli_usage_error(cmd, "%s needs a value", arg);
        } else if (o) {
            rc = store(cmd, o, argv[++i]);
        } else if (arg[0] == '-' && arg[1]) {
            rc = cli_usage_error(cmd, "unknown option '%s'", arg);
        } else if (npos < n_positional) {
            positional[npos++] = arg;
        } else {
            rc = cli_usage_error(cmd, "unexpected argument '%s'", arg);
        }
    }
    if (rc) release_ids(opts, n);
    if (n_pos) *n_pos = npos;
    return rc;
}

int cli_out_of_memory(const char *cmd) {
    fprintf(stderr, "ingot %s: out of memory\n", cmd);
    return 1;
}

cli_option cli_device_option(cli_device *dest) {
    return (cli_option){"--device", NULL, CLI_DEVICE, dest, 0, 0};
}

void cli_device_help(FILE *f) {
    fprintf(f, "  --device DEV          cpu, cuda or cuda:N (default: cuda:0 when a GPU is\n"
               "                        present, else cpu)\n");
}

ingot_device cli_device_get(const cli_device *dev) {
    return dev->given ? dev->device : ingot_default_device();
}

const char *cli_device_name(char *buf, size_t cap, ingot_device d) {
    if (d.type == INGOT_DEVICE_CPU)
        snprintf(buf, cap, "cpu");
    else
        snprintf(buf, cap, "cuda:%d", d.index);
    return buf;
}

int cli_load_model(ingot_model **out, const char *cmd, const char *dir, const cli_device *dev) {
    ingot_model_options o = {.device = cli_device_get(dev)};
    ingot_status s = ingot_model_load(out, dir, &o);
    return s ? cli_fail(cmd, s) : 0;
}

int cli_load_tokenizer(ingot_tokenizer **out, const char *cmd, const char *dir, const char *hint) {
    ingot_status s = ingot_tokenizer_load(out, dir);
    if (!s) return 0;
    cli_fail(cmd, s);
    if (hint)
        fprintf(stderr, "ingot %s: text needs the model folder's tokenizer.json; %s\n", cmd, hint);
    return 1;
}

void cli_print_float(FILE *f, double v) {
    if (isnan(v))
        fputs("\"NaN\"", f);
    else if (isinf(v))
        fputs(v > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
    else
        fprintf(f, "%.9g", v);
}

void cli_print_json_string(FILE *f, const char *s, size_t len) {
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void cli_print_ids(FILE *f, const int32_t *ids, size_t n) {
    fputc('[', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, i ? ", %d" : "%d", ids[i]);
    fputs("]\n", f);
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_prompt_tokens(ingot_tokens *out, const char *cmd, const ingot_tokenizer *tok,
                      const char *text, const cli_ids *given, bool add_special) {
    ingot_status s = INGOT_OK;
    if (text) {
        ingot_encode_options eo = {.add_special_tokens = add_special};
        s = ingot_tokenizer_encode(out, tok, text, strlen(text), &eo);
    } else {
        int32_t *ids = realloc(out->ids, (given->count ? given->count : 1) * sizeof *ids);
        if (!ids) return cli_out_of_memory(cmd);
        memcpy(ids, given->ids, given->count * sizeof *ids);
        out->ids = ids;
        out->count = out->capacity = given->count;
    }
    if (s) return cli_fail(cmd, s);
    if (out->count == 0) {
        fprintf(stderr, "ingot %s: the prompt holds no tokens\n", cmd);
        return 1;
    }
    return 0;
}

cli_sampling cli_sampling_defaults(void) {
    return (cli_sampling){.top_p = 1.0, .repeat_penalty = 1.0, .max_tokens = 256};
}

void cli_sampling_options(cli_option *opts, cli_sampling *s) {
    const cli_option o[CLI_SAMPLING_OPTIONS] = {
        {"--max-tokens", "-n", CLI_INT, &s->max_tokens, 1, 1e9},
        {"--temp", NULL, CLI_FLOAT, &s->temp, 0, 1e6},
        {"--top-p", NULL, CLI_FLOAT, &s->top_p, 0, 1},
        {"--top-k", NULL, CLI_INT, &s->top_k, 0, 1e9},
        {"--min-p", NULL, CLI_FLOAT, &s->min_p, 0, 1},
        {"--repeat-penalty", "--repetition-penalty", CLI_FLOAT, &s->repeat_penalty, 0, 1e6},
        {"--seed", "-s", CLI_INT, &s->seed, 0, 9007199254740992.0},
        {"--ignore-eos", NULL, CLI_FLAG, &s->ignore_eos, 0, 0},
        {"--stop", NULL, CLI_LIST, &s->stop, 0, 0},
    };
    memcpy(opts, o, sizeof o);
}

void cli_sampling_help(FILE *f) {
    fprintf(f,
            "  -n, --max-tokens N    tokens to generate at most (default 256)\n"
            "  --temp T              temperature; 0 (default) is greedy\n"
            "  --top-p P             nucleus sampling mass in (0, 1); 1 (default) is off\n"
            "  --top-k K             keep the K most likely tokens; 0 (default) is off\n"
            "  --min-p P             drop tokens below P x the top probability; 0 is off\n"
            "  --repeat-penalty R    repetition penalty (also --repetition-penalty); 1 is off\n"
            "  -s, --seed S          random seed of the sampler (default 0)\n"
            "  --ignore-eos          do not stop at end-of-sequence tokens\n"
            "  --stop STR            stop when the text reaches STR (not printed); repeatable\n");
}

ingot_generate_options cli_generate_options(const cli_sampling *s) {
    return (ingot_generate_options){
        .sampling = {.temperature = (float)s->temp,
                     .top_k = (int32_t)s->top_k,
                     .top_p = (float)s->top_p,
                     .min_p = (float)s->min_p,
                     .repetition_penalty = (float)s->repeat_penalty,
                     .seed = (uint64_t)s->seed},
        .max_tokens = s->max_tokens,
        .ignore_eos = s->ignore_eos,
        .stop_strings = s->stop.items,
        .n_stop_strings = s->stop.count,
        .skip_special = true,
    };
}

int cli_chat_render(char **out, size_t *len, const char *cmd, const ingot_tokenizer *tok,
                    const char *messages_json) {
    size_t n = strlen(messages_json) + 32;
    char *conv = malloc(n);
    if (!conv) return cli_out_of_memory(cmd);
    snprintf(conv, n, "{\"messages\": %s}", messages_json);
    ingot_status s = ingot_chat_apply(out, len, tok, conv, strlen(conv), true, NULL);
    free(conv);
    return s ? cli_fail(cmd, s) : 0;
}

int cli_add_message(json_t *msgs, const char *cmd, const char *role, const char *content) {
    json_error_t err;
    json_t *m = json_pack_ex(&err, 0, "{s:s,s:s}", "role", role, "content", content);
    if (m && json_array_append_new(msgs, m) == 0) return 0;
    if (!m && json_error_code(&err) == json_error_invalid_utf8) {
        fprintf(stderr, "ingot %s: the %s message is not valid UTF-8\n", cmd, role);
        return 1;
    }
    return cli_out_of_memory(cmd);
}

bool cli_stream_stdout(void *user, int32_t id, const char *piece, size_t len) {
    (void)user;
    (void)id;
    if (len) fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return true;
}

static const char *stop_reason_name(ingot_stop_reason r) {
    static const char *names[] = {"max tokens",  "end of sequence", "stop id",
                                  "stop string", "stopped",         "context length"};
    return (unsigned)r < sizeof names / sizeof *names ? names[r] : "?";
}

void cli_print_metrics(const ingot_generation *g) {
    const ingot_metrics *m = &g->metrics;
    fprintf(stderr,
            "prompt: %lld tokens (%lld reused), prefill %.2f tokens/s | generated %lld tokens, "
            "decode %.2f tokens/s | time to first token %.3f s | peak memory %.1f MiB | "
            "stop: %s\n",
            (long long)m->prompt_tokens, (long long)m->reused_tokens, m->prefill_tokens_per_second,
            (long long)m->generated_tokens, m->decode_tokens_per_second, m->time_to_first_token,
            (double)m->peak_memory / (1024.0 * 1024.0), stop_reason_name(g->stop_reason));
}
