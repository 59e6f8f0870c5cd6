// The CUDA backend plugin: entry point, errors, one stream per device, the
// caching device allocator and the kernel table. The kernels live one op
// family per file (see cuda_internal.h).
#include <cstdarg>
#include <cstdio>
#include <map>
#include <mutex>
#include <vector>

#include "backend/cuda/cuda_internal.h"
#include "core/plugin.h"

// ---- errors ----

static const ingot__plugin_host *host;

// The plugin's own ingot__error (hidden: kernels here bind to it), forwarding
// the message to libingot's thread-local error.
ingot_status ingot__error(ingot_status status, const char *fmt, ...) {
    char msg[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    if (host) host->set_error(msg);
    return status;
}

ingot_status ingot__cu_check(cudaError_t err, const char *op) {
    if (err == cudaSuccess) return INGOT_OK;
    cudaGetLastError(); // clears non-sticky errors
    return ingot__error(INGOT_ERR_DEVICE, "%s: CUDA error: %s", op, cudaGetErrorString(err));
}

// ---- devices and streams ----

#define MAX_DEVICES 16

static int device_count(void) {
    static std::once_flag once;
    static int n;
    std::call_once(once, [] {
        // Without a driver or a GPU this fails cleanly: no device.
        if (cudaGetDeviceCount(&n) != cudaSuccess) {
            cudaGetLastError();
            n = 0;
        }
        if (n > MAX_DEVICES) n = MAX_DEVICES;
    });
    return n;
}

static cudaStream_t streams[MAX_DEVICES];
static std::once_flag stream_once[MAX_DEVICES];

cudaStream_t ingot__cu_stream(int index) {
    cudaSetDevice(index);
    std::call_once(stream_once[index], [index] {
        cudaStreamCreateWithFlags(&streams[index], cudaStreamNonBlocking);
    });
    return streams[index];
}

// ---- strided iteration ----

void ingot__cu_iter_init(ingot__cu_iter *it, const int64_t *shape, int ndim, int nops,
                         const int64_t *const *strides) {
    it->nops = nops;
    it->ndim = 0;
    it->size = 1;
    for (int d = 0; d < ndim; d++) it->size *= shape[d];
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        int k = it->ndim;
        // Merge into the previous kept dim when every operand steps evenly.
        bool merge = k > 0;
        for (int o = 0; merge && o < nops; o++)
            merge = strides[o][d] * shape[d] == it->strides[o][k - 1];
        if (merge) {
            it->shape[k - 1] *= shape[d];
            for (int o = 0; o < nops; o++) it->strides[o][k - 1] = strides[o][d];
            continue;
        }
        it->shape[k] = shape[d];
        for (int o = 0; o < nops; o++) it->strides[o][k] = strides[o][d];
        it->ndim++;
    }
}

ingot__cu_rows ingot__cu_rows_of(const ingot_array *out, const ingot_array *a, int axis) {
    int64_t ostrides[INGOT_MAX_DIMS], shape[INGOT_MAX_DIMS], as[INGOT_MAX_DIMS], os[INGOT_MAX_DIMS];
    ingot__contiguous_strides(ostrides, out->shape, out->ndim);
    int nd = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (d == axis) continue;
        shape[nd] = a->shape[d];
        as[nd] = a->strides[d];
        os[nd++] = ostrides[d];
    }
    ingot__cu_rows r;
    const int64_t *strides[2] = {as, os};
    ingot__cu_iter_init(&r.other, shape, nd, 2, strides);
    r.n = a->shape[axis];
    r.as = a->strides[axis];
    r.os = ostrides[axis];
    r.count = r.other.size;
    return r;
}

// ---- the caching allocator ----
// Sizes are rounded up (512 bytes, then quarter steps of the power of two
// below), freed blocks wait in per-size lists and are handed out again for
// the same rounded size; all use is in stream order on the device's single
// stream, so a block freed by one kernel is safe for the next. When the
// driver has no memory left, or the limit would be passed, the cache is
// released and the allocation tried again once.

namespace {
struct pool {
    std::mutex mu;
    std::map<size_t, std::vector<void *>> free_blocks; // rounded size -> blocks
    size_t active = 0, peak = 0, cached = 0, limit = 0;
    size_t device_allocs = 0;
};
} // namespace

static pool pools[MAX_DEVICES];

static size_t round_size(size_t n) {
    if (n <= 512) return 512;
    size_t p = 1;
    while (p <= n / 2) p <<= 1; // largest power of two <= n
    size_t step = p >= 2048 ? p / 4 : 512;
    return (n + step - 1) / step * step;
}

// Gives every cached block back to the driver (pool lock held).
static void release_cache(pool &p, int index) {
    if (!p.cached) return;
    cudaSetDevice(index);
    cudaStreamSynchronize(ingot__cu_stream(index));
    for (auto &kv : p.free_blocks)
        for (void *b : kv.second) cudaFree(b);
    p.free_blocks.clear();
    p.cached = 0;
}

static ingot_status cuda_alloc(void **ptr, size_t nbytes, int index) {
    *ptr = nullptr;
    if (index < 0 || index >= device_count())
        return ingot__error(INGOT_ERR_DEVICE, "cuda:%d: no such device", index);
    size_t size = round_size(nbytes);
    pool &p = pools[index];
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.free_blocks.find(size);
    if (it != p.free_blocks.end() && !it->second.empty()) {
        *ptr = it->second.back();
        it->second.pop_back();
        p.cached -= size;
    } else {
        if (p.limit && p.active + p.cached + size > p.limit) release_cache(p, index);
        if (p.limit && p.active + size > p.limit)
            return ingot__error(
                INGOT_ERR_OUT_OF_MEMORY,
                "cuda:%d: allocating %zu bytes would pass the memory limit of %zu bytes (%zu in use)",
                index, nbytes, p.limit, p.active);
        cudaSetDevice(index);
        cudaError_t err = cudaMalloc(ptr, size);
        if (err == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            release_cache(p, index);
            err = cudaMalloc(ptr, size);
        }
        if (err != cudaSuccess) {
            cudaGetLastError();
            *ptr = nullptr;
            return ingot__error(INGOT_ERR_OUT_OF_MEMORY,
                                "cuda:%d: cannot allocate %zu bytes (%zu in use): %s", index,
                                nbytes, p.active, cudaGetErrorString(err));
        }
        p.device_allocs++;
    }
    p.active += size;
    if (p.active > p.peak) p.peak = p.active;
    return INGOT_OK;
}

static void cuda_free(void *ptr, size_t nbytes, int index) {
    if (!ptr) return;
    size_t size = round_size(nbytes);
    pool &p = pools[index];
    std::lock_guard<std::mutex> lock(p.mu);
    p.free_blocks[size].push_back(ptr);
    p.active -= size;
    p.cached += size;
}

ingot_status ingot__cu_alloc(void **ptr, size_t nbytes, int index) {
    return cuda_alloc(ptr, nbytes ? nbytes : 1, index);
}

void ingot__cu_free(void *ptr, size_t nbytes, int index) { cuda_free(ptr, nbytes ? nbytes : 1, index); }

static ingot_status cuda_memory_stats(ingot_memory_stats *out, int index) {
    if (index < 0 || index >= device_count())
        return ingot__error(INGOT_ERR_DEVICE, "memory_stats_get: no device cuda:%d", index);
    pool &p = pools[index];
    std::lock_guard<std::mutex> lock(p.mu);
    out->active = p.active;
    out->peak = p.peak;
    out->cached = p.cached;
    out->limit = p.limit;
    out->device_allocs = p.device_allocs;
    return INGOT_OK;
}

static void cuda_reset_peak(int index) {
    if (index < 0 || index >= device_count()) return;
    pool &p = pools[index];
    std::lock_guard<std::mutex> lock(p.mu);
    p.peak = p.active;
}

static ingot_status cuda_set_memory_limit(size_t bytes, int index) {
    if (index < 0 || index >= device_count())
        return ingot__error(INGOT_ERR_DEVICE, "memory_set_limit: no device cuda:%d", index);
    pool &p = pools[index];
    std::lock_guard<std::mutex> lock(p.mu);
    p.limit = bytes;
    if (bytes && p.active + p.cached > bytes) release_cache(p, index);
    return INGOT_OK;
}

static ingot_status cuda_empty_cache(int index) {
    if (index < 0 || index >= device_count())
        return ingot__error(INGOT_ERR_DEVICE, "memory_empty_cache: no device cuda:%d", index);
    pool &p = pools[index];
    std::lock_guard<std::mutex> lock(p.mu);
    release_cache(p, index);
    return INGOT_OK;
}

// ---- transfers ----

static ingot_status cuda_upload(void *dst, const void *src, size_t nbytes, int index) {
    cudaStream_t s = ingot__cu_stream(index);
    INGOT__CU_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, s), "upload");
    return INGOT_OK;
}

static ingot_status cuda_download(void *dst, const void *src, size_t nbytes, int index) {
    cudaStream_t s = ingot__cu_stream(index);
    INGOT__CU_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, s), "download");
    INGOT__CU_CHECK(cudaStreamSynchronize(s), "download");
    return INGOT_OK;
}

static ingot_status cuda_synchronize(int index) {
    if (index < 0 || index >= device_count())
        return ingot__error(INGOT_ERR_DEVICE, "synchronize: no device cuda:%d", index);
    INGOT__CU_CHECK(cudaStreamSynchronize(ingot__cu_stream(index)), "synchronize");
    return INGOT_OK;
}

// ---- the registry entry, the kernel table and the entry point ----

static const ingot__device_ops device = {
    .count = device_count,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .synchronize = cuda_synchronize,
    .memory_stats = cuda_memory_stats,
    .reset_peak = cuda_reset_peak,
    .set_memory_limit = cuda_set_memory_limit,
    .empty_cache = cuda_empty_cache,
};

static const ingot__backend table = {
    .name = "cuda",
    INGOT__KERNELS(INGOT__KERNEL_INIT, ingot__cuda_)
};

static const ingot__plugin plugin = {
    INGOT__PLUGIN_ABI,
    "cuda",
    &device,
    &table,
};

extern "C" __attribute__((visibility("default"))) const ingot__plugin *
ingot_cuda_plugin(const ingot__plugin_host *h) {
    host = h;
    return &plugin;
}
