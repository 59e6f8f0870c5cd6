/* ingot: run and fine-tune open LLMs from the Hugging Face layout.
 * This file dispatches to one function per command (tools/ingot/cmd_*.c). */
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    cli_command_fn fn;
    const char *summary;
} commands[] = {
    {"demo", cli_demo, "a short tour of the library: arrays, autograd, safetensors"},
    {"tensors", cli_tensors, "list the tensors of a .safetensors file or model folder"},
    {"devices", cli_devices, "list the devices ingot can use"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: ingot <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'ingot <command> --help' describes a command; 'ingot --version' prints the "
               "version.\n");
}

int cli_fail(const char *what, ingot_status st) {
    fprintf(stderr, "ingot %s: %s: %s\n", what, ingot_status_str(st), ingot_last_error());
    return 1;
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("ingot %s\n", ingot_version());
        return 0;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "ingot: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
