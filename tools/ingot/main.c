/* ingot command-line tool (placeholder main; subcommands arrive with their modules). */
#include <stdio.h>
#include <string.h>

#include "ingot/ingot.h"

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("ingot %s\n", ingot_version());
        return 0;
    }
    printf("ingot %s\n", ingot_version());
    return 0;
}
