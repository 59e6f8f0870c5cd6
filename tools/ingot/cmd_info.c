/* ingot info: what a model folder holds (architecture, size, dtype, context
 * length, memory). */
#include <inttypes.h>

#include "cli.h"
#include "options.h"

static int usage(FILE *f, int code) {
    fprintf(f, "usage: ingot info --model DIR [--device DEV]\n\n"
               "Loads the Hugging Face model folder DIR and prints its architecture, number\n"
               "of parameters, weight dtype, context length, shape and the memory its weights\n"
               "take on the device.\n\n"
               CLI_MODEL_HELP);
    cli_device_help(f);
    return code;
}

int cli_info(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return usage(stdout, 0);
    const char *dir = NULL;
    cli_device dev = {0};
    const cli_option opts[] = {{"--model", "-m", CLI_MODEL, &dir, 0, 0}, cli_device_option(&dev)};
    int rc = cli_parse("info", argc, argv, opts, sizeof opts / sizeof *opts, NULL, 0, NULL);
    if (rc) return rc;
    if (!dir) return cli_usage_error("info", "--model DIR is required");
    ingot_model *m = NULL;
    if (cli_load_model(&m, "info", dir, &dev)) return 1;
    ingot_model_info i;
    ingot_model_get_info(&i, m);
    printf("model folder    %s\n", dir);
    printf("model type      %s\n", i.model_type);
    printf("architecture    %s\n", i.architecture[0] ? i.architecture : "(not given)");
    double p = (double)i.n_params;
    printf("parameters      %" PRId64 " (%.2f %s)\n", i.n_params,
           p >= 1e9   ? p / 1e9
           : p >= 1e6 ? p / 1e6
                      : p / 1e3,
           p >= 1e9   ? "B"
           : p >= 1e6 ? "M"
                      : "K");
    printf("dtype           %s\n", ingot_dtype_name(i.dtype));
    printf("context length  %" PRId64 "\n", i.context_length);
    printf("vocabulary      %" PRId64 "\n", i.vocab_size);
    printf("hidden size     %" PRId64 "\n", i.hidden_size);
    printf("layers          %" PRId64 "\n", i.n_layers);
    printf("heads           %" PRId64 " query, %" PRId64 " key/value, head dim %" PRId64 "\n",
           i.n_heads, i.n_kv_heads, i.head_dim);
    if (i.sliding_window)
        printf("sliding window  %" PRId64 "\n", i.sliding_window);
    else
        printf("sliding window  none\n");
    char device[32];
    printf("weights memory  %zu bytes (%.1f MiB) on %s\n", i.weight_bytes,
           (double)i.weight_bytes / (1024.0 * 1024.0),
           cli_device_name(device, sizeof device, cli_device_get(&dev)));
    /* keys and values of every layer, per token of context, in the weights' dtype */
    double kv_per_token =
        2.0 * (double)(i.n_layers * i.n_kv_heads * i.head_dim) * (double)ingot_dtype_size(i.dtype);
    printf("KV cache        %.0f bytes per token (%.1f MiB for 4096 tokens)\n", kv_per_token,
           kv_per_token * 4096 / (1024.0 * 1024.0));
    ingot_model_free(m);
    return 0;
}
