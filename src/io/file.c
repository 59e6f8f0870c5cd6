/* Bounded reads of whole regular files (io_internal.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "io/io_internal.h"

/* What a file that is not a regular one is, for the message. */
static const char *kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
    if (S_ISSOCK(mode)) return "a socket";
    return "a special file";
}

/* Reads want bytes of fd into buf; fewer (the file shrank) is an error. */
static ingot_status read_all(char *buf, size_t want, int fd, const char *path, const char *op) {
    size_t got = 0;
    while (got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return ingot__error(INGOT_ERR_IO, "%s: cannot read %s: %s", op, path, strerror(errno));
        if (r == 0) return ingot__error(INGOT_ERR_IO, "%s: %s shrank while read", op, path);
        got += (size_t)r;
    }
    return INGOT_OK;
}

ingot_status ingot__read_file(char **data, size_t *len, const char *path, size_t limit,
                              const char *op) {
    *data = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is then
     * refused as not a regular file); regular files ignore the flag. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) return ingot__error(INGOT_ERR_NOT_FOUND, "%s: %s not found", op, path);
        return ingot__error(INGOT_ERR_IO, "%s: cannot open %s: %s", op, path, strerror(e));
    }
    struct stat sb;
    ingot_status st = INGOT_OK;
    char *buf = NULL;
    if (fstat(fd, &sb) != 0) {
        st = ingot__error(INGOT_ERR_IO, "%s: cannot stat %s: %s", op, path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        st = ingot__error(INGOT_ERR_IO, "%s: %s is %s, not a regular file", op, path,
                          kind_of(sb.st_mode));
    } else if ((unsigned long long)sb.st_size > limit) {
        st = ingot__error(INGOT_ERR_LIMIT, "%s: %s is %lld bytes, over the limit of %g MiB", op,
                          path, (long long)sb.st_size, (double)limit / (1 << 20));
    } else if (!(buf = malloc((size_t)sb.st_size + 1))) {
        st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory reading %s", op, path);
    } else if (!(st = read_all(buf, (size_t)sb.st_size, fd, path, op))) {
        buf[sb.st_size] = '\0';
        *data = buf;
        *len = (size_t)sb.st_size;
        buf = NULL;
    }
    close(fd);
    free(buf);
    return st;
}
