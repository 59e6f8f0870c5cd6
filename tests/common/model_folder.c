/* Hand-made model folders; see model_folder.h. */
#include "common/model_folder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/testutil.h"

void tu_folder_put(tu_folder *f, const char *name, ingot_array *a) {
    assert_true(f->n < TU_FOLDER_MAX);
    snprintf(f->names[f->n], sizeof f->names[0], "%s", name);
    f->arrays[f->n++] = a;
}

void tu_folder_add(tu_folder *f, const char *name, int64_t d0, int64_t d1, ingot_dtype dt) {
    int64_t shape[2] = {d0, d1};
    tu_folder_put(f, name, tu_random(dt, shape, d1 ? 2 : 1, (uint64_t)f->n + 1, -0.5, 0.5));
}

int tu_folder_find(const tu_folder *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) return i;
    fail_msg("no weight %s", name);
    return -1;
}

void tu_folder_drop(tu_folder *f, const char *name) {
    int i = tu_folder_find(f, name);
    ingot_array_free(f->arrays[i]);
    f->n--;
    memmove(&f->names[i], &f->names[i + 1], (size_t)(f->n - i) * sizeof f->names[0]);
    memmove(&f->arrays[i], &f->arrays[i + 1], (size_t)(f->n - i) * sizeof f->arrays[0]);
}

void tu_folder_write(tu_folder *f, const char *dir, bool weights) {
    assert_int_equal(mkdir(dir, 0777), 0);
    char p[512];
    if (f->cfg) {
        snprintf(p, sizeof p, "%s/config.json", dir);
        assert_int_equal(json_dump_file(f->cfg, p, JSON_INDENT(1)), 0);
    }
    if (weights) {
        const char *names[TU_FOLDER_MAX];
        for (int i = 0; i < f->n; i++)
            names[i] = f->names[i];
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        TU_OK(ingot_safetensors_save(p, names, (const ingot_array *const *)f->arrays, (size_t)f->n,
                                     NULL, NULL, 0));
    }
    tu_folder_free(f);
}

void tu_folder_free(tu_folder *f) {
    json_decref(f->cfg);
    f->cfg = NULL;
    for (int i = 0; i < f->n; i++)
        ingot_array_free(f->arrays[i]);
    f->n = 0;
}

static char g_dir[256];
static int g_case;

int tu_folder_setup(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/ingot_folders_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

int tu_folder_teardown(void **state) {
    (void)state;
    return tu_remove_tree(g_dir);
}

void tu_folder_path(char *buf, size_t cap) {
    snprintf(buf, cap, "%s/case%d", g_dir, g_case++);
}
