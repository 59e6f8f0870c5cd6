/* Bounded reading of the command-line tool's inputs: standard input, prompt
 * and label files (the limits are listed in docs/cli.md). */
#ifndef INGOT_CLI_INPUT_H
#define INGOT_CLI_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_INPUT_MAX ((size_t)256 << 20) /* bytes of one input: a stream or file */
#define CLI_LINE_MAX ((size_t)1 << 20)    /* bytes of one line of a line-oriented input */
#define CLI_PROMPTS_MAX ((size_t)1 << 20) /* prompts of ingot classify */
#define CLI_LABELS_MAX ((size_t)4096)     /* labels of ingot classify */

/* Prints "ingot CMD: INGOT_ERR_LIMIT: MESSAGE" to stderr and returns 1. */
int cli_limit_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Opens path for reading. With streams, "-" is standard input and a pipe or
 * character device is read as a stream (waiting for its writer, as cat
 * does; the readers below bound it); otherwise anything but a regular file is
 * refused without blocking. A directory is always refused, a regular file of
 * more than CLI_INPUT_MAX bytes too. Prints the problem and returns NULL on
 * failure; close the result with cli_close_input. */
FILE *cli_open_input(const char *cmd, const char *path, bool streams);

/* Closes what cli_open_input returned (standard input stays open); NULL is
 * ignored. */
void cli_close_input(FILE *f);

/* Reads all of stream (name: what messages call it) into *out (malloc'd,
 * NUL-terminated) and its length into *len (when not NULL); more than
 * CLI_INPUT_MAX bytes is an error. Prints the error and returns 1 on failure. */
int cli_read_all(char **out, size_t *len, const char *cmd, const char *name, FILE *stream);

/* Reads the next line of stream into *line (grown as needed, *cap bytes;
 * free it with free), without its line ending ("\n", and any '\r' before
 * it), its length in *len. A line of more than CLI_LINE_MAX bytes is an
 * error, and so is going past CLI_INPUT_MAX bytes in all when total (the
 * bytes read so far, updated) is not NULL. Returns 0 for a line, -1 at the end
 * of the input, 1 after printing an error. */
int cli_read_line(char **line, size_t *cap, size_t *len, size_t *total, const char *cmd,
                  const char *name, FILE *stream);

#endif
