/* Memory: the CPU's registry entry (counted host buffers), and the
 * per-device statistics, limits and synchronisation of device.h, answered
 * by each device's registry entry. */
#include <stdlib.h>

#include "core/internal.h"

static atomic_size_t cpu_active, cpu_peak;

void *ingot__host_alloc(size_t nbytes) {
    size_t rounded = (nbytes + 63) & ~(size_t)63;
    if (rounded < nbytes) return NULL;
    void *p = aligned_alloc(64, rounded);
    if (!p) return NULL;
    size_t now = atomic_fetch_add(&cpu_active, nbytes) + nbytes;
    size_t peak = atomic_load(&cpu_peak);
    while (now > peak && !atomic_compare_exchange_weak(&cpu_peak, &peak, now)) {
    }
    return p;
}

void ingot__host_free(void *p, size_t nbytes) {
    if (!p) return;
    atomic_fetch_sub(&cpu_active, nbytes);
    free(p);
}

static ingot_status cpu_alloc(void **ptr, size_t nbytes, int index) {
    (void)index;
    *ptr = ingot__host_alloc(nbytes);
    return *ptr ? INGOT_OK
                : ingot__error(INGOT_ERR_OUT_OF_MEMORY, "cpu: cannot allocate %zu bytes", nbytes);
}

static void cpu_free(void *ptr, size_t nbytes, int index) {
    (void)index;
    ingot__host_free(ptr, nbytes);
}

static int cpu_count(void) { return 1; }

static ingot_status cpu_stats(ingot_memory_stats *out, int index) {
    (void)index;
    *out = (ingot_memory_stats){.active = atomic_load(&cpu_active), .peak = atomic_load(&cpu_peak)};
    return INGOT_OK;
}

static void cpu_reset_peak(int index) {
    (void)index;
    atomic_store(&cpu_peak, atomic_load(&cpu_active));
}

static ingot_status cpu_no_limit(size_t bytes, int index) {
    (void)bytes, (void)index;
    return ingot__error(INGOT_ERR_DEVICE, "memory_set_limit: the CPU has no memory limit");
}

/* The CPU keeps no cache and runs every kernel before it returns. */
static ingot_status cpu_nothing(int index) {
    (void)index;
    return INGOT_OK;
}

const ingot__device_ops ingot__cpu_device = {
    .count = cpu_count,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .synchronize = cpu_nothing,
    .memory_stats = cpu_stats,
    .reset_peak = cpu_reset_peak,
    .set_memory_limit = cpu_no_limit,
    .empty_cache = cpu_nothing,
};

/* ---- device.h, for any device of the registry ---- */

ingot_status ingot_memory_stats_get(ingot_memory_stats *out, ingot_device device) {
    INGOT__CHECK_NOT_NULL(out, "memory_stats_get");
    const ingot__device_ops *d = ingot__device_ops_of(device, "memory_stats_get");
    return d ? d->memory_stats(out, device.index) : INGOT_ERR_DEVICE;
}

void ingot_memory_reset_peak(ingot_device device) {
    const ingot__device_ops *d = ingot__device_ops_of(device, "memory_reset_peak");
    if (d) d->reset_peak(device.index);
}

ingot_status ingot_memory_set_limit(size_t bytes, ingot_device device) {
    const ingot__device_ops *d = ingot__device_ops_of(device, "memory_set_limit");
    return d ? d->set_memory_limit(bytes, device.index) : INGOT_ERR_DEVICE;
}

ingot_status ingot_memory_empty_cache(ingot_device device) {
    const ingot__device_ops *d = ingot__device_ops_of(device, "memory_empty_cache");
    return d ? d->empty_cache(device.index) : INGOT_ERR_DEVICE;
}

ingot_status ingot_device_synchronize(ingot_device device) {
    const ingot__device_ops *d = ingot__device_ops_of(device, "device_synchronize");
    return d ? d->synchronize(device.index) : INGOT_ERR_DEVICE;
}

ingot_device ingot_default_device(void) {
    return ingot_device_count(INGOT_DEVICE_CUDA) > 0 ? (ingot_device){INGOT_DEVICE_CUDA, 0}
                                                      : ingot_cpu();
}
