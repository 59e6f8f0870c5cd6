/* The CPU kernel table. */
#include "backend/cpu/cpu.h"

const ingot__backend ingot__cpu_backend = {
    .name = "cpu",
    .alloc = ingot__cpu_alloc,
    .free = ingot__cpu_free,
    /* upload, download, synchronize and the statistics entries are for
     * devices other than the CPU (device.h answers for the CPU itself). */
    INGOT__KERNELS(INGOT__KERNEL_INIT, ingot__cpu_)
};
