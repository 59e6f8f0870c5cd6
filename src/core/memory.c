/* Memory: CPU buffer accounting, and the per-device statistics, limits and
 * synchronisation of device.h, answered by each device's backend. */
#include <stdlib.h>

#include "backend/backend.h"

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

ingot_status ingot__cpu_alloc(void **ptr, size_t nbytes, int index) {
    (void)index;
    *ptr = ingot__host_alloc(nbytes);
    return *ptr ? INGOT_OK
                : ingot__error(INGOT_ERR_OUT_OF_MEMORY, "cpu: cannot allocate %zu bytes", nbytes);
}

void ingot__cpu_free(void *ptr, size_t nbytes, int index) {
    (void)index;
    ingot__host_free(ptr, nbytes);
}

/* The backend of a GPU device that exists, or NULL with DEVICE set. */
static const ingot__backend *gpu(ingot_device device, const char *op) {
    const ingot__backend *be = ingot__backend_for(device);
    if (device.type == INGOT_DEVICE_CUDA && be && device.index >= 0 &&
        device.index < ingot_device_count(INGOT_DEVICE_CUDA))
        return be;
    ingot__error(INGOT_ERR_DEVICE, "%s: no device %s:%d", op,
                 ingot__device_type_name(device.type), device.index);
    return NULL;
}

static bool is_cpu(ingot_device device) {
    return device.type == INGOT_DEVICE_CPU && device.index == 0;
}

ingot_status ingot_memory_stats_get(ingot_memory_stats *out, ingot_device device) {
    INGOT__CHECK_NOT_NULL(out, "memory_stats_get");
    if (is_cpu(device)) {
        *out = (ingot_memory_stats){.active = atomic_load(&cpu_active),
                                    .peak = atomic_load(&cpu_peak)};
        return INGOT_OK;
    }
    const ingot__backend *be = gpu(device, "memory_stats_get");
    return be ? be->memory_stats(out, device.index) : INGOT_ERR_DEVICE;
}

void ingot_memory_reset_peak(ingot_device device) {
    if (is_cpu(device)) {
        atomic_store(&cpu_peak, atomic_load(&cpu_active));
        return;
    }
    const ingot__backend *be = gpu(device, "memory_reset_peak");
    if (be) be->reset_peak(device.index);
}

ingot_status ingot_memory_set_limit(size_t bytes, ingot_device device) {
    if (is_cpu(device))
        return ingot__error(INGOT_ERR_DEVICE, "memory_set_limit: the CPU has no memory limit");
    const ingot__backend *be = gpu(device, "memory_set_limit");
    return be ? be->set_memory_limit(bytes, device.index) : INGOT_ERR_DEVICE;
}

ingot_status ingot_memory_empty_cache(ingot_device device) {
    if (is_cpu(device)) return INGOT_OK;
    const ingot__backend *be = gpu(device, "memory_empty_cache");
    return be ? be->empty_cache(device.index) : INGOT_ERR_DEVICE;
}

ingot_status ingot_device_synchronize(ingot_device device) {
    if (is_cpu(device)) return INGOT_OK;
    const ingot__backend *be = gpu(device, "device_synchronize");
    return be ? be->synchronize(device.index) : INGOT_ERR_DEVICE;
}

ingot_device ingot_default_device(void) {
    return ingot_device_count(INGOT_DEVICE_CUDA) > 0 ? (ingot_device){INGOT_DEVICE_CUDA, 0}
                                                      : ingot_cpu();
}
