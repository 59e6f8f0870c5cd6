/* Shared pieces of the ingot command-line tool: one function per command. */
#ifndef INGOT_CLI_H
#define INGOT_CLI_H

#include <stdio.h>

#include "ingot/ingot.h"

/* Each command gets argv after the command name and returns the exit code:
 * 0 success, 1 failure (message printed), 2 bad usage. */
typedef int (*cli_command_fn)(int argc, char **argv);

int cli_demo(int argc, char **argv);
int cli_tensors(int argc, char **argv);
int cli_devices(int argc, char **argv);

/* Prints "ingot <what>: <status name>: <last error>" to stderr; returns 1. */
int cli_fail(const char *what, ingot_status st);

/* True when argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
