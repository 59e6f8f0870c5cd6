/* Library-internal pieces of src/io shared with the loaders of src/models
 * and src/text. Not installed. */
#ifndef INGOT_IO_INTERNAL_H
#define INGOT_IO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "ingot/status.h"

/* Reads the whole regular file at path into *data (malloc'd, NUL-terminated
 * after its *len bytes; the caller frees it). The file is opened without
 * blocking and checked before anything is read: a FIFO, device, socket or
 * directory is refused at once, as is a file of more than limit bytes. Every
 * message starts with op and names the path (and the limit).
 * Errors: NOT_FOUND (no such file), IO (it cannot be opened or read, or is
 * not a regular file), LIMIT (larger than limit), OUT_OF_MEMORY. On error
 * *data is NULL and *len 0. */
ingot_status ingot__read_file(char **data, size_t *len, const char *path, size_t limit,
                              const char *op);

/* Whether the '/'-separated path has a ".." component. */
bool ingot__path_has_dotdot(const char *path);

/* When the real path dir lies in a Hugging Face cache snapshot
 * (.../models--X/snapshots/REV, or a folder below it), the real path of that
 * repo's blobs folder (.../models--X/blobs) into *out, malloc'd; else, and
 * when the blobs folder does not exist, *out = NULL. Errors: OUT_OF_MEMORY. */
ingot_status ingot__hub_blobs_dir(char **out, const char *dir);

#endif
