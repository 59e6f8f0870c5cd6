/* Library-internal pieces shared by the files of src/io. Not installed. */
#ifndef INGOT_IO_INTERNAL_H
#define INGOT_IO_INTERNAL_H

#include <stdbool.h>

#include "ingot/status.h"

/* Whether the '/'-separated path has a ".." component. */
bool ingot__path_has_dotdot(const char *path);

/* When the real path dir lies in a Hugging Face cache snapshot
 * (.../models--X/snapshots/REV, or a folder below it), the real path of that
 * repo's blobs folder (.../models--X/blobs) into *out, malloc'd; else, and
 * when the blobs folder does not exist, *out = NULL. Errors: OUT_OF_MEMORY. */
ingot_status ingot__hub_blobs_dir(char **out, const char *dir);

#endif
