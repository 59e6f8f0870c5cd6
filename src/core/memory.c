/* CPU memory accounting for array buffers. */
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

ingot_status ingot_memory_stats_get(ingot_memory_stats *out, ingot_device device) {
    INGOT__CHECK_NOT_NULL(out, "memory_stats_get");
    if (device.type != INGOT_DEVICE_CPU || device.index != 0)
        return ingot__error(INGOT_ERR_DEVICE, "memory_stats_get: no statistics for device %d:%d",
                            (int)device.type, device.index);
    out->active = atomic_load(&cpu_active);
    out->peak = atomic_load(&cpu_peak);
    out->cached = 0;
    return INGOT_OK;
}

void ingot_memory_reset_peak(ingot_device device) {
    if (device.type == INGOT_DEVICE_CPU) atomic_store(&cpu_peak, atomic_load(&cpu_active));
}
