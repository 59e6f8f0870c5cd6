/* ingot/device.h - devices, CPU threads and memory statistics.
 *
 * Arrays live on a device. The CPU device always exists. CUDA devices exist
 * when the CUDA backend plugin (libingot_cuda.so) is installed beside the
 * library and a GPU is present; without either, every CUDA query reports zero
 * devices and the CPU serves. */
#ifndef INGOT_DEVICE_H
#define INGOT_DEVICE_H

#include <stddef.h>

#include "ingot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ingot_device_type {
    INGOT_DEVICE_CPU = 0,
    INGOT_DEVICE_CUDA = 1,
} ingot_device_type;

typedef struct ingot_device {
    ingot_device_type type;
    int index; /* 0 for the CPU; the CUDA ordinal otherwise */
} ingot_device;

/* The CPU device, {INGOT_DEVICE_CPU, 0}. */
ingot_device ingot_cpu(void);

/* The number of usable devices of a type: 1 for the CPU; for CUDA, the number
 * of GPUs the plugin sees, 0 when the plugin or a GPU is missing. */
int ingot_device_count(ingot_device_type type);

/* Parses "cpu", "cuda" (= "cuda:0") or "cuda:N" into *out.
 * Errors: INGOT_ERR_INVALID_ARGUMENT for NULL or unparsable text,
 * INGOT_ERR_DEVICE for a CUDA device that does not exist. */
ingot_status ingot_device_parse(ingot_device *out, const char *text);

/* The device a program should use when the user names none: cuda:0 when a
 * CUDA device exists, else the CPU. (Library calls never pick a device by
 * themselves: a zero-initialised ingot_device is the CPU.) */
ingot_device ingot_default_device(void);

/* Waits until all work queued on device has finished. Ops on a GPU return
 * once their work is queued; reading results (ingot_array_to_host,
 * ingot_array_item) waits by itself, so call this only to time work or to
 * surface an asynchronous kernel error. The CPU returns INGOT_OK at once.
 * Errors: DEVICE (a missing device, or a kernel that failed). */
ingot_status ingot_device_synchronize(ingot_device device);

/* Sets the number of CPU threads used by matmul, attention and large
 * elementwise ops, process-wide. n <= 0 selects the number of processors
 * this process may run on, as `nproc` counts them (the default); values
 * above 256 are capped at 256. Results are identical for every thread count:
 * work is cut into pieces that do not depend on it. Call it while no other
 * thread is running ingot ops. */
void ingot_set_num_threads(int n);

/* The number of CPU threads currently used; always >= 1. */
int ingot_get_num_threads(void);

/* Memory statistics are per device and process-wide: they count the buffers
 * of every thread, and one reset affects every reader. */
typedef struct ingot_memory_stats {
    size_t active;        /* bytes held by live array buffers now (on a GPU:
                             rounded up to the allocator's block sizes) */
    size_t peak;          /* the largest value of active since start or reset */
    size_t cached;        /* bytes held by the allocator for reuse (0 on the CPU) */
    size_t limit;         /* the memory limit; 0 = none (always 0 on the CPU) */
    size_t device_allocs; /* times the allocator asked the driver for memory
                             (cudaMalloc) since start; 0 on the CPU. Steady
                             when a loop reuses cached blocks. */
} ingot_memory_stats;

/* Fills *out with the memory statistics of a device. Buffers that wrap
 * caller memory or a mapped file (ingot_array_wrap, ingot_safetensors_get,
 * model weights kept in their stored dtype) are not counted.
 * Errors: INGOT_ERR_INVALID_ARGUMENT if out is NULL, INGOT_ERR_DEVICE for a
 * missing device. */
ingot_status ingot_memory_stats_get(ingot_memory_stats *out, ingot_device device);

/* Caps the bytes a GPU's allocator holds (live buffers plus its cache) at
 * bytes; 0 removes the cap. Cached blocks are given back to the driver when
 * needed to stay under it; an allocation that would still pass it fails
 * with INGOT_ERR_OUT_OF_MEMORY (as does one the GPU cannot satisfy: running
 * out of memory is an error status, never a crash).
 * Errors: DEVICE for the CPU (which has no limit) or a missing device. */
ingot_status ingot_memory_set_limit(size_t bytes, ingot_device device);

/* Gives a GPU's cached blocks back to the driver (live buffers stay). The
 * CPU has no cache: INGOT_OK. Errors: DEVICE for a missing device. */
ingot_status ingot_memory_empty_cache(ingot_device device);

/* Sets the peak of a device's statistics to its current active bytes, for
 * the whole process (the engine's generation calls do this at their start:
 * see ingot_metrics.peak_memory in engine.h). A device without statistics
 * is ignored. */
void ingot_memory_reset_peak(ingot_device device);

#ifdef __cplusplus
}
#endif
#endif
