/* The registry of kernel tables: one entry per device type (as redis's ae.c
 * picks its event backend, but at run time). The CPU table is built in; the
 * CUDA table comes from the plugin libingot_cuda.so, loaded once on first
 * use: a machine without the plugin or without a GPU simply has no CUDA
 * devices. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "backend/plugin.h"

typedef struct slot {
    pthread_once_t once;
    void (*load)(void);          /* run once: finds the table and installs it */
    int (*count)(void);          /* usable devices; NULL: none */
    const ingot__backend *table; /* &filled once installed, else NULL */
    ingot__backend filled;       /* the installed table, NULL kernels filled */
} slot;

static void load_cpu(void);
static void load_cuda(void);

static slot registry[INGOT__DEVICE_TYPES] = {
    [INGOT_DEVICE_CPU] = {.once = PTHREAD_ONCE_INIT, .load = load_cpu},
    [INGOT_DEVICE_CUDA] = {.once = PTHREAD_ONCE_INIT, .load = load_cuda},
};

/* ---- kernels a table leaves NULL ---- */

/* UNSUPPORTED "kernel: not supported on cuda:0", naming a's device. */
static ingot_status unsupported(const char *kernel, const ingot_array *a) {
    ingot_device d = ingot__device(a);
    return ingot__error(INGOT_ERR_UNSUPPORTED, "%s: not supported on %s:%d", kernel,
                        ingot__device_type_name(d.type), d.index);
}

#define UNSUPPORTED(P, name, params, device)                                                       \
    static ingot_status unsupported_##name params { return unsupported(#name, device); }
INGOT__KERNELS(UNSUPPORTED, )
#undef UNSUPPORTED

/* Makes a copy of table, its NULL kernels filled, serve s's device type,
 * with count giving the number of devices. */
static void install(slot *s, const ingot__backend *table, int (*count)(void)) {
    s->filled = *table;
#define FILL(P, name, params, device)                                                              \
    if (!s->filled.name) s->filled.name = unsupported_##name;
    INGOT__KERNELS(FILL, )
#undef FILL
    s->count = count;
    s->table = &s->filled;
}

/* The slot of type, loaded; NULL for a type outside the enum. */
static slot *slot_of(ingot_device_type type) {
    if ((unsigned)type >= INGOT__DEVICE_TYPES) return NULL;
    slot *s = &registry[type];
    pthread_once(&s->once, s->load);
    return s;
}

void ingot__backend_register(ingot_device_type type, const ingot__backend *table) {
    slot *s = slot_of(type);
    install(s, table, s->count);
}

/* ---- the CPU ---- */

static int one(void) { return 1; }

static void load_cpu(void) { install(&registry[INGOT_DEVICE_CPU], &ingot__cpu_backend, one); }

/* ---- the CUDA plugin ---- */

static char plugin_error[512];

/* The plugin's errors become the calling thread's message. */
static void set_error(const char *message) { ingot__error(INGOT_OK, "%s", message); }

/* Tries dir/rel; keeps the handle open for the life of the process. */
static const ingot__plugin *try_load(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(plugin_error, sizeof plugin_error, "%s", dlerror());
        return NULL;
    }
    ingot__plugin_entry entry = (ingot__plugin_entry)dlsym(h, INGOT__PLUGIN_SYMBOL);
    static const ingot__plugin_host host = {.set_error = set_error};
    const ingot__plugin *p = entry ? entry(&host) : NULL;
    if (!p || p->abi != INGOT__PLUGIN_ABI || !p->backend) {
        snprintf(plugin_error, sizeof plugin_error, "%s: not an ingot plugin of ABI %d", path,
                 INGOT__PLUGIN_ABI);
        dlclose(h);
        return NULL;
    }
    return p;
}

static const ingot__plugin *find_plugin(void) {
    const char *env = getenv("INGOT_CUDA_PLUGIN");
    if (env && *env) return try_load(env);
    /* Relative to the object that holds this code (libingot.so or an
     * executable linked statically): beside it, or in lib/ or ../lib/ from
     * there (the build tree), or where `cmake --install` puts the plugin,
     * LIBDIR/ingot: ingot/ beside an installed libingot.so, or LIBDIR/ingot
     * reached from BINDIR for an installed executable. Then the configured
     * install folder (a program linking libingot.a, wherever it is), then
     * the loader's search path. CMakeLists.txt defines the INGOT_PLUGIN_*
     * folders. */
    const ingot__plugin *p = NULL;
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
                char path[PATH_MAX + sizeof INGOT_PLUGIN_FROM_BINDIR + sizeof INGOT__PLUGIN_FILE +
                          8];
                snprintf(path, sizeof path, "%s/%s%s", dir, rel[i], INGOT__PLUGIN_FILE);
                p = try_load(path);
            }
        }
    }
    if (!p) p = try_load(INGOT_PLUGIN_DIR "/" INGOT__PLUGIN_FILE);
    return p ? p : try_load(INGOT__PLUGIN_FILE);
}

static void load_cuda(void) {
    const ingot__plugin *p = find_plugin();
    if (p) install(&registry[INGOT_DEVICE_CUDA], p->backend, p->device_count);
}

/* ---- lookups ---- */

const ingot__backend *ingot__backend_for(ingot_device device) {
    const slot *s = slot_of(device.type);
    return s ? s->table : NULL;
}

ingot_status ingot__backend_get(const ingot__backend **be, const ingot_array *const *arrays, int n,
                                const char *op) {
    *be = NULL;
    bool found = false;
    ingot_device dev = {INGOT_DEVICE_CPU, 0};
    for (int i = 0; i < n; i++) {
        if (!arrays[i]) continue;
        ingot_device d = ingot_array_device(arrays[i]);
        if (!found) {
            dev = d;
            found = true;
        } else if (d.type != dev.type || d.index != dev.index) {
            return ingot__error(INGOT_ERR_DEVICE, "%s: inputs are on different devices", op);
        }
    }
    if (!found) return ingot__error(INGOT_ERR_INTERNAL, "%s: no array to find a backend for", op);
    *be = ingot__backend_for(dev);
    if (!*be)
        return ingot__error(INGOT_ERR_DEVICE, "%s: no backend for device %s:%d", op,
                            ingot__device_type_name(dev.type), dev.index);
    return INGOT_OK;
}

ingot_device ingot_cpu(void) { return (ingot_device){INGOT_DEVICE_CPU, 0}; }

int ingot_device_count(ingot_device_type type) {
    const slot *s = slot_of(type);
    return s && s->count ? s->count() : 0;
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
            bool loaded = ingot__backend_for((ingot_device){INGOT_DEVICE_CUDA, 0});
            return ingot__error(INGOT_ERR_DEVICE, "device '%s': no CUDA device (%s)", text,
                                loaded ? "no GPU found" : "CUDA plugin not loaded");
        }
        return ingot__error(INGOT_ERR_DEVICE, "device '%s': only %d CUDA device(s)", text, n);
    }
    *out = (ingot_device){INGOT_DEVICE_CUDA, index};
    return INGOT_OK;
}
