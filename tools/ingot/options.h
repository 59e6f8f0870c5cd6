/* Shared command-line option parsing and helpers of the model commands. */
#ifndef INGOT_CLI_OPTIONS_H
#define INGOT_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ingot/ingot.h"

typedef enum cli_opt_kind {
    CLI_FLAG,   /* bool: present or not */
    CLI_STRING, /* const char *: the next argument */
    CLI_INT,    /* int64_t in [min, max] */
    CLI_FLOAT,  /* double in [min, max] */
    CLI_IDS,    /* cli_ids: comma-separated non-negative integers */
    CLI_LIST,   /* cli_list: repeatable string option */
    CLI_DEVICE, /* cli_device: cpu, cuda or cuda:N (ingot_device_parse) */
    CLI_MODEL,  /* const char *: a model folder, or a Hugging Face repo id resolved to
                   its snapshot folder in the local cache (ingot_hub_resolve); the path
                   lives until the next CLI_MODEL value is stored */
} cli_opt_kind;

#define CLI_LIST_MAX 16

typedef struct cli_list {
    const char *items[CLI_LIST_MAX];
    size_t count;
} cli_list;

typedef struct cli_ids {
    int32_t *ids; /* malloc'd; release with cli_ids_free */
    size_t count;
} cli_ids;

/* A --device choice; not given means ingot_default_device() at load time. */
typedef struct cli_device {
    bool given;
    ingot_device device;
} cli_device;

typedef struct cli_option {
    const char *name;  /* "--max-tokens" */
    const char *alias; /* "-n", or NULL */
    cli_opt_kind kind;
    void *dest;      /* bool*, const char**, int64_t*, double*, cli_ids*, cli_list*, cli_device* */
    double min, max; /* numeric bounds (CLI_INT, CLI_FLOAT) */
} cli_option;

/* Parses argv against opts (n entries). Positional arguments are stored in
 * positional[] (up to n_positional; NULL when none is accepted) and counted in
 * *n_pos. Prints "ingot CMD: ..." and returns 2 on a usage error (unknown
 * option, missing or malformed value, value out of bounds), 1 when --device
 * names a device this machine lacks or a CLI_MODEL value is a repo id the
 * Hugging Face cache lacks, 0 otherwise. On error everything
 * allocated for CLI_IDS options is released. */
int cli_parse(const char *cmd, int argc, char **argv, const cli_option *opts, size_t n,
              const char **positional, size_t n_positional, size_t *n_pos);

void cli_ids_free(cli_ids *ids);

/* Prints "ingot CMD: MESSAGE" to stderr and returns 2 (usage error). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "ingot CMD: out of memory" to stderr and returns 1. */
int cli_out_of_memory(const char *cmd);

/* The help lines of the --model option (a CLI_MODEL), for a usage text. */
#define CLI_MODEL_HELP                                                                             \
    "  -m, --model DIR       the model folder, or a Hugging Face repo id (ORG/NAME,\n"             \
    "                        ORG/NAME@REVISION) found in the local Hugging Face cache\n"           \
    "                        ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub)\n"

/* The --device option entry of a command that loads a model, and its help
 * line. */
cli_option cli_device_option(cli_device *dest);
void cli_device_help(FILE *f);

/* The device dev chose: the parsed one, else ingot_default_device(). */
ingot_device cli_device_get(const cli_device *dev);

/* "cpu" or "cuda:N" into buf. */
const char *cli_device_name(char *buf, size_t cap, ingot_device d);

/* Loads the model folder dir onto dev's device in its stored dtype; prints
 * the error and returns 1 on failure. */
int cli_load_model(ingot_model **out, const char *cmd, const char *dir, const cli_device *dev);

/* Loads dir's tokenizer; prints the error (and the hint, e.g.
 * "--prompt-ids takes token ids instead", when not NULL) and returns 1 on
 * failure. */
int cli_load_tokenizer(ingot_tokenizer **out, const char *cmd, const char *dir, const char *hint);

/* Prints a float with enough digits (%.9g) to round-trip f32; nan/inf as
 * JSON-compatible strings "NaN", "Infinity", "-Infinity". */
void cli_print_float(FILE *f, double v);

/* Prints s (len bytes) as a JSON string. */
void cli_print_json_string(FILE *f, const char *s, size_t len);

/* Prints n ids as a JSON array followed by a newline. */
void cli_print_ids(FILE *f, const int32_t *ids, size_t n);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* Fills *out with the prompt's ids: a copy of given when text is NULL, else
 * text encoded with tok (special tokens added when add_special). Prints the
 * error and returns 1 on failure (an empty prompt included), 0 on success. */
int cli_prompt_tokens(ingot_tokens *out, const char *cmd, const ingot_tokenizer *tok,
                      const char *text, const cli_ids *given, bool add_special);
/* Parses "1,2,3" into *out (replacing what it held); false when malformed. */
bool cli_parse_ids(cli_ids *out, const char *text);

/* Sampling and generation options shared by generate and chat. */
typedef struct cli_sampling {
    double temp, top_p, min_p, repeat_penalty;
    int64_t top_k, seed, max_tokens;
    bool ignore_eos;
    cli_list stop;
} cli_sampling;

/* Default values (greedy, as mlx-lm; max 256 tokens). */
cli_sampling cli_sampling_defaults(void);

#define CLI_SAMPLING_OPTIONS 9

/* Writes the CLI_SAMPLING_OPTIONS option entries that fill *s into opts. */
void cli_sampling_options(cli_option *opts, cli_sampling *s);

/* The help text of those options. */
void cli_sampling_help(FILE *f);

/* Generation options for s; stop strings point into s. */
ingot_generate_options cli_generate_options(const cli_sampling *s);

/* Renders the conversation messages (a JSON array of {"role", "content"})
 * with tok's chat template and a generation prompt into *out (malloc'd).
 * Prints the error and returns 1 on failure. */
int cli_chat_render(char **out, size_t *len, const char *cmd, const ingot_tokenizer *tok,
                    const char *messages_json);

/* Appends {"role": role, "content": content} to the JSON array msgs; prints
 * the error and returns 1 when content is not UTF-8 (or memory runs out). */
int cli_add_message(json_t *msgs, const char *cmd, const char *role, const char *content);

/* A generation callback that writes each piece to standard output at once. */
bool cli_stream_stdout(void *user, int32_t id, const char *piece, size_t len);

/* Prints the metrics of one generation to stderr. */
void cli_print_metrics(const ingot_generation *g);

#endif
