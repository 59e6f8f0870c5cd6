/* ingot tensors: lists the tensors of a safetensors file, index or model
 * folder, after full validation. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static void print_shape(const ingot_tensor_info *t) {
    printf("[");
    for (int d = 0; d < t->ndim; d++) printf(d ? ", %" PRId64 : "%" PRId64, t->shape[d]);
    printf("]");
}

int cli_tensors(int argc, char **argv) {
    if (cli_wants_help(argc, argv) || argc != 1) {
        FILE *f = argc == 1 ? stdout : stderr;
        fprintf(f, "usage: ingot tensors PATH\n\n"
                   "PATH is a .safetensors file, a model.safetensors.index.json, or a folder\n"
                   "holding either. Prints each tensor's name, dtype, shape and size, then the\n"
                   "metadata and totals. The files are validated as they are opened.\n");
        return argc == 1 ? 0 : 2;
    }
    ingot_safetensors *st = NULL;
    ingot_status s = ingot_safetensors_open(&st, argv[0]);
    if (s) return cli_fail("tensors", s);
    uint64_t elements = 0, bytes = 0;
    size_t n = ingot_safetensors_count(st);
    for (size_t i = 0; i < n; i++) {
        ingot_tensor_info t;
        s = ingot_safetensors_info(&t, st, ingot_safetensors_name(st, i));
        if (s) break;
        uint64_t count = 1;
        for (int d = 0; d < t.ndim; d++) count *= (uint64_t)t.shape[d];
        elements += count;
        bytes += t.nbytes;
        printf("%-48s %-5s ", t.name, t.dtype_name);
        print_shape(&t);
        printf("  %" PRIu64 " bytes%s\n", t.nbytes, t.supported ? "" : "  (unsupported dtype)");
    }
    for (size_t i = 0; s == INGOT_OK && i < ingot_safetensors_metadata_count(st); i++)
        printf("metadata %s = %s\n", ingot_safetensors_metadata_key(st, i),
               ingot_safetensors_metadata_value(st, i));
    if (s == INGOT_OK)
        printf("%zu tensors in %zu file(s), %" PRIu64 " elements, %" PRIu64 " bytes\n", n,
               ingot_safetensors_file_count(st), elements, bytes);
    ingot_safetensors_close(st);
    return s ? cli_fail("tensors", s) : 0;
}
