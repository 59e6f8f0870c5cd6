/* Bounded reading of standard input, prompt and label files (input.h). */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingot/status.h"
#include "options.h"

int cli_limit_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ingot %s: %s: ", cmd, ingot_status_str(INGOT_ERR_LIMIT));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int limit_mib(size_t limit) { return (int)(limit >> 20); }

/* Why sb cannot be read as an input (NULL when it can). */
static const char *refusal(const struct stat *sb, bool streams) {
    if (S_ISDIR(sb->st_mode)) return "is a directory";
    if (!S_ISREG(sb->st_mode) && (!streams || S_ISSOCK(sb->st_mode)))
        return "is not a regular file";
    return NULL;
}

FILE *cli_open_input(const char *cmd, const char *path, bool streams) {
    if (streams && !strcmp(path, "-")) return stdin;
    struct stat sb;
    /* a stream is opened as cat opens it; anything else without blocking (a
     * FIFO then opens at once and is refused below) */
    bool stream = streams && stat(path, &sb) == 0 && !S_ISREG(sb.st_mode);
    int fd = open(path, O_RDONLY | O_CLOEXEC | (stream ? 0 : O_NONBLOCK));
    if (fd < 0) {
        fprintf(stderr, "ingot %s: cannot open %s: %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    const char *why = fstat(fd, &sb) != 0 ? strerror(errno) : refusal(&sb, streams);
    if (!why && S_ISREG(sb.st_mode) && (unsigned long long)sb.st_size > CLI_INPUT_MAX) {
        cli_limit_error(cmd, "%s is %lld bytes, over the limit of %d MiB", path,
                        (long long)sb.st_size, limit_mib(CLI_INPUT_MAX));
        close(fd);
        return NULL;
    }
    FILE *f = why ? NULL : fdopen(fd, "rb");
    if (!f) {
        fprintf(stderr, "ingot %s: cannot read %s: %s\n", cmd, path, why ? why : strerror(errno));
        close(fd);
    }
    return f;
}

void cli_close_input(FILE *f) {
    if (f && f != stdin) fclose(f);
}

int cli_read_all(char **out, size_t *out_len, const char *cmd, const char *name, FILE *stream) {
    size_t len = 0, cap = 1 << 12;
    char *text = malloc(cap);
    /* reads up to one byte past the limit, to tell a full input from a longer one */
    for (size_t got; text && (got = fread(text + len, 1, cap - len - 1, stream)) > 0;) {
        len += got;
        if (len > CLI_INPUT_MAX) break;
        if (len + 1 < cap) continue;
        size_t grown = cap * 2 < CLI_INPUT_MAX + 2 ? cap * 2 : CLI_INPUT_MAX + 2;
        char *bigger = realloc(text, grown);
        if (!bigger) free(text);
        text = bigger;
        cap = grown;
    }
    if (text && len > CLI_INPUT_MAX) {
        free(text);
        return cli_limit_error(cmd, "%s is over the limit of %d MiB", name,
                               limit_mib(CLI_INPUT_MAX));
    }
    if (!text || ferror(stream)) {
        free(text);
        fprintf(stderr, "ingot %s: cannot read %s\n", cmd, name);
        return 1;
    }
    text[len] = 0;
    *out = text;
    if (out_len) *out_len = len;
    return 0;
}

int cli_read_line(char **line, size_t *cap, size_t *len, size_t *total, const char *cmd,
                  const char *name, FILE *stream) {
    size_t n = 0;
    int c = EOF;
    for (;;) {
        if (n + 1 >= *cap) { /* room for one more byte and the NUL */
            size_t grown = *cap ? *cap * 2 : 256;
            char *bigger = realloc(*line, grown);
            if (!bigger) return cli_out_of_memory(cmd);
            *line = bigger;
            *cap = grown;
        }
        c = getc(stream);
        if (c == EOF || c == '\n') break;
        if (n == CLI_LINE_MAX)
            return cli_limit_error(cmd, "%s: a line is longer than the limit of %d MiB", name,
                                   limit_mib(CLI_LINE_MAX));
        (*line)[n++] = (char)c;
    }
    if (ferror(stream)) {
        fprintf(stderr, "ingot %s: cannot read %s\n", cmd, name);
        return 1;
    }
    if (c == EOF && n == 0) return -1;
    if (total) {
        *total += n + (c == '\n');
        if (*total > CLI_INPUT_MAX)
            return cli_limit_error(cmd, "%s is over the limit of %d MiB", name,
                                   limit_mib(CLI_INPUT_MAX));
    }
    while (n > 0 && (*line)[n - 1] == '\r')
        n--;
    (*line)[n] = 0;
    *len = n;
    return 0;
}
