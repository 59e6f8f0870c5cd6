// The CUDA backend plugin. This build provides the device query only; the
// kernels arrive with the CUDA backend work (backend table stays NULL, so ops
// on CUDA devices report INGOT_ERR_UNSUPPORTED until then).
#include <cuda_runtime.h>

#include "backend/plugin.h"

static int cuda_device_count(void) {
    int n = 0;
    // Without a driver or a GPU this fails cleanly; treat it as no device.
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

static const ingot__plugin plugin = {
    INGOT__PLUGIN_ABI,
    "cuda",
    cuda_device_count,
    nullptr,
};

extern "C" __attribute__((visibility("default"))) const ingot__plugin *ingot_cuda_plugin(void) {
    return &plugin;
}
