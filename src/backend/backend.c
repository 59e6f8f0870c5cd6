/* The registry of kernel tables: one per device type. The CPU table is
 * built in; another type's table is the one its plugin brought, which the
 * device registry (core/device.c) loads on first use. A table is served
 * with its NULL kernels filled by ones that fail UNSUPPORTED. */
#include <pthread.h>

#include "backend/backend.h"

typedef struct slot {
    pthread_once_t once;
    const ingot__backend *table; /* &filled once installed, else NULL */
    ingot__backend filled;       /* the installed table, NULL kernels filled */
} slot;

static void load_cpu(void);
static void load_cuda(void);

static slot registry[INGOT__DEVICE_TYPES] = {
    [INGOT_DEVICE_CPU] = {.once = PTHREAD_ONCE_INIT},
    [INGOT_DEVICE_CUDA] = {.once = PTHREAD_ONCE_INIT},
};
static void (*const loaders[INGOT__DEVICE_TYPES])(void) = {
    [INGOT_DEVICE_CPU] = load_cpu,
    [INGOT_DEVICE_CUDA] = load_cuda,
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

/* Makes a copy of table, its NULL kernels filled, serve s's device type. */
static void install(slot *s, const ingot__backend *table) {
    s->filled = *table;
#define FILL(P, name, params, device)                                                              \
    if (!s->filled.name) s->filled.name = unsupported_##name;
    INGOT__KERNELS(FILL, )
#undef FILL
    s->table = &s->filled;
}

static void load_cpu(void) { install(&registry[INGOT_DEVICE_CPU], &ingot__cpu_backend); }

static void load_cuda(void) {
    const ingot__backend *t = ingot__device_kernels(INGOT_DEVICE_CUDA);
    if (t) install(&registry[INGOT_DEVICE_CUDA], t);
}

/* The slot of type, loaded; NULL for a type outside the enum. */
static slot *slot_of(ingot_device_type type) {
    if ((unsigned)type >= INGOT__DEVICE_TYPES) return NULL;
    slot *s = &registry[type];
    pthread_once(&s->once, loaders[type]);
    return s;
}

void ingot__backend_register(ingot_device_type type, const ingot__backend *table) {
    install(slot_of(type), table);
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
        ingot_device d = ingot__device(arrays[i]);
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
