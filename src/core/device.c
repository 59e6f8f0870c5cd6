/* The names of the device types: the part of the device registry that core
 * and every floor above it name devices with (the kernel tables are
 * src/backend's). */
#include "core/internal.h"

static const char *const names[INGOT__DEVICE_TYPES] = {
    [INGOT_DEVICE_CPU] = "cpu",
    [INGOT_DEVICE_CUDA] = "cuda",
};

const char *ingot__device_type_name(ingot_device_type type) {
    return (unsigned)type < INGOT__DEVICE_TYPES ? names[type] : "unknown";
}
