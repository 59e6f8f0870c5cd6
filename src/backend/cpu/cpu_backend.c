/* The CPU kernel table. */
#include "backend/cpu/cpu.h"

const ingot__backend ingot__cpu_backend = {
    .name = "cpu",
    INGOT__KERNELS(INGOT__KERNEL_INIT, ingot__cpu_)
};
