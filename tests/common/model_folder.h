/* Hand-made model folders for tests: a config.json built as a JSON object
 * and the named weights of model.safetensors, written to a directory. */
#ifndef INGOT_MODEL_FOLDER_H
#define INGOT_MODEL_FOLDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ingot/ingot.h"

#define TU_FOLDER_MAX 64

/* A folder under construction: its config (owned; NULL writes none) and its
 * weights (owned). */
typedef struct tu_folder {
    json_t *cfg;
    char names[TU_FOLDER_MAX][96];
    ingot_array *arrays[TU_FOLDER_MAX];
    int n;
} tu_folder;

/* Appends weight name [d0, d1] (d1 == 0: [d0]) of dtype dt with random values
 * in [-0.5, 0.5) (tu_random seeded by its index + 1). */
void tu_folder_add(tu_folder *f, const char *name, int64_t d0, int64_t d1, ingot_dtype dt);

/* Appends weight name holding a (the folder takes the reference). */
void tu_folder_put(tu_folder *f, const char *name, ingot_array *a);

/* The index of weight name (fails the test when there is none). */
int tu_folder_find(const tu_folder *f, const char *name);

/* Removes weight name. */
void tu_folder_drop(tu_folder *f, const char *name);

/* Creates directory dir, writes config.json (when f->cfg) and, when weights,
 * model.safetensors into it, then frees f's config and weights. */
void tu_folder_write(tu_folder *f, const char *dir, bool weights);

/* Frees f's config and weights (f is then empty). */
void tu_folder_free(tu_folder *f);

/* cmocka group setup and teardown: a fresh temporary directory
 * ($TMPDIR/ingot_folders_XXXXXX, /tmp without TMPDIR) for the group's
 * folders, then removed with everything in it. */
int tu_folder_setup(void **state);
int tu_folder_teardown(void **state);

/* A path for a new folder in that directory (caseN, N counting up) into buf. */
void tu_folder_path(char *buf, size_t cap);

#endif
