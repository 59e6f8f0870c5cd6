/* The CPU kernel table. */
#include "backend/cpu/cpu.h"

const ingot__backend ingot__cpu_backend = {
    .name = "cpu",
    .alloc = ingot__cpu_alloc,
    .free = ingot__cpu_free,
    /* upload, download, synchronize and the statistics entries are for
     * devices other than the CPU (device.h answers for the CPU itself). */
    .copy = ingot__cpu_copy,
    .copy_at = ingot__cpu_copy_at,
    .arange = ingot__cpu_arange,
    .fill = ingot__cpu_fill,
    .unary = ingot__cpu_unary,
    .binary = ingot__cpu_binary,
    .where = ingot__cpu_where,
    .reduce = ingot__cpu_reduce,
    .softmax = ingot__cpu_softmax,
    .cumsum = ingot__cpu_cumsum,
    .matmul = ingot__cpu_matmul,
    .gather = ingot__cpu_gather,
    .scatter = ingot__cpu_scatter,
    .sort = ingot__cpu_sort,
    .argpartition = ingot__cpu_argpartition,
    .random_bits = ingot__cpu_random_bits,
    .rms_norm = ingot__cpu_rms_norm,
    .rms_norm_vjp = ingot__cpu_rms_norm_vjp,
    .layer_norm = ingot__cpu_layer_norm,
    .layer_norm_vjp = ingot__cpu_layer_norm_vjp,
    .rope = ingot__cpu_rope,
    .sdpa = ingot__cpu_sdpa,
    .sdpa_vjp = ingot__cpu_sdpa_vjp,
};
