/* The device registry: one entry per device type, the way redis's ae.c
 * picks its event backend, but at run time. The CPU's entry is built in
 * (memory.c); every other type is a plugin, libingot_NAME.so, loaded once
 * on first use: a machine without the plugin or without the device simply
 * has none of that type. The plugin also brings its type's kernel table,
 * which core keeps without reading (src/backend serves it). */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/plugin.h"

typedef struct entry {
    const char *name;             /* "cuda": names the plugin's file and symbol */
    const char *label;            /* "CUDA": names its variable, INGOT_CUDA_PLUGIN */
    void (*load)(void);           /* loads the plugin, run once; NULL: built in */
    pthread_once_t once;
    const ingot__device_ops *ops; /* NULL until (unless) loaded */
    const void *kernels;          /* the plugin's ingot__backend table */
} entry;

static void load_cuda(void);

static entry registry[INGOT__DEVICE_TYPES] = {
    [INGOT_DEVICE_CPU] = {.name = "cpu", .label = "CPU", .ops = &ingot__cpu_device},
    [INGOT_DEVICE_CUDA] = {.name = "cuda", .label = "CUDA", .load = load_cuda,
                           .once = PTHREAD_ONCE_INIT},
};

const char *ingot__device_type_name(ingot_device_type type) {
    return (unsigned)type < INGOT__DEVICE_TYPES ? registry[type].name : "unknown";
}

/* ---- plugins ---- */

/* The plugin's errors become the calling thread's message. */
static void set_error(const char *message) { ingot__error(INGOT_OK, "%s", message); }

/* The plugin of e at path, or NULL; keeps the handle open for the life of
 * the process. */
static const ingot__plugin *try_load(const entry *e, const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return NULL;
    char symbol[64];
    snprintf(symbol, sizeof symbol, "ingot_%s_plugin", e->name);
    ingot__plugin_entry fn = (ingot__plugin_entry)dlsym(h, symbol);
    static const ingot__plugin_host host = {.set_error = set_error};
    const ingot__plugin *p = fn ? fn(&host) : NULL;
    if (!p || p->abi != INGOT__PLUGIN_ABI || !p->device || !p->kernels ||
        strcmp(p->name, e->name) != 0) {
        dlclose(h);
        return NULL;
    }
    return p;
}

/* Where the plugin file is looked for, in order: INGOT_NAME_PLUGIN when set
 * (and nowhere else then); relative to the object that holds this code
 * (libingot.so or an executable linked statically): beside it, in lib/ or
 * ../lib/ from there (the build tree), or where `cmake --install` puts
 * plugins, LIBDIR/ingot (ingot/ beside an installed libingot.so, or reached
 * from BINDIR for an installed executable); then the configured install
 * folder (a program linking libingot.a, wherever it is); then the loader's
 * search path. CMakeLists.txt defines the INGOT_PLUGIN_* folders. */
static const ingot__plugin *find_plugin(const entry *e) {
    char file[64], var[64];
    snprintf(file, sizeof file, "libingot_%s.so", e->name);
    snprintf(var, sizeof var, "INGOT_%s_PLUGIN", e->label);
    const char *env = getenv(var);
    if (env && *env) return try_load(e, env);
    const ingot__plugin *p = NULL;
    char path[PATH_MAX + 128];
    Dl_info info;
    if (dladdr((void *)&find_plugin, &info) && info.dli_fname) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", info.dli_fname);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            static const char *const rel[] = {"", "lib/", "../lib/", INGOT_PLUGIN_SUBDIR "/",
                                              INGOT_PLUGIN_FROM_BINDIR "/"};
            for (size_t i = 0; i < sizeof rel / sizeof *rel && !p; i++) {
                snprintf(path, sizeof path, "%s/%s%s", dir, rel[i], file);
                p = try_load(e, path);
            }
        }
    }
    if (!p) {
        snprintf(path, sizeof path, "%s/%s", INGOT_PLUGIN_DIR, file);
        p = try_load(e, path);
    }
    return p ? p : try_load(e, file);
}

/* Loads e's plugin and takes its entry and kernels (nothing when absent). */
static void load(entry *e) {
    const ingot__plugin *p = find_plugin(e);
    if (p) {
        e->ops = p->device;
        e->kernels = p->kernels;
    }
}

static void load_cuda(void) { load(&registry[INGOT_DEVICE_CUDA]); }

/* ---- lookups ---- */

static const entry *entry_of(ingot_device_type type) {
    if ((unsigned)type >= INGOT__DEVICE_TYPES) return NULL;
    entry *e = &registry[type];
    if (e->load) pthread_once(&e->once, e->load);
    return e;
}

const ingot__device_ops *ingot__device_ops_for(ingot_device_type type) {
    const entry *e = entry_of(type);
    return e ? e->ops : NULL;
}

const void *ingot__device_kernels(ingot_device_type type) {
    const entry *e = entry_of(type);
    return e ? e->kernels : NULL;
}

const ingot__device_ops *ingot__device_ops_of(ingot_device device, const char *op) {
    const ingot__device_ops *ops = ingot__device_ops_for(device.type);
    if (ops && device.index >= 0 && device.index < ops->count()) return ops;
    ingot__error(INGOT_ERR_DEVICE, "%s: no device %s:%d", op, ingot__device_type_name(device.type),
                 device.index);
    return NULL;
}

ingot_device ingot_cpu(void) { return (ingot_device){INGOT_DEVICE_CPU, 0}; }

int ingot_device_count(ingot_device_type type) {
    const ingot__device_ops *ops = ingot__device_ops_for(type);
    return ops ? ops->count() : 0;
}

ingot_status ingot_device_parse(ingot_device *out, const char *text) {
    INGOT__CHECK_NOT_NULL(out, "device_parse");
    INGOT__CHECK_NOT_NULL(text, "device_parse");
    if (strcmp(text, "cpu") == 0) {
        *out = ingot_cpu();
        return INGOT_OK;
    }
    int index = 0;
    if (strcmp(text, "cuda") != 0) {
        char *end;
        if (strncmp(text, "cuda:", 5) != 0 || text[5] < '0' || text[5] > '9')
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                                "device '%s': expected cpu, cuda or cuda:N", text);
        long v = strtol(text + 5, &end, 10);
        if (*end || v > INT_MAX)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                                "device '%s': expected cpu, cuda or cuda:N", text);
        index = (int)v;
    }
    int n = ingot_device_count(INGOT_DEVICE_CUDA);
    if (index >= n) {
        if (n == 0) {
            bool loaded = ingot__device_ops_for(INGOT_DEVICE_CUDA) != NULL;
            return ingot__error(INGOT_ERR_DEVICE, "device '%s': no CUDA device (%s)", text,
                                loaded ? "no GPU found" : "CUDA plugin not loaded");
        }
        return ingot__error(INGOT_ERR_DEVICE, "device '%s': only %d CUDA device(s)", text, n);
    }
    *out = (ingot_device){INGOT_DEVICE_CUDA, index};
    return INGOT_OK;
}
