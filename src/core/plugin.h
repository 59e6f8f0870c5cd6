/* The ABI between libingot and a device plugin (libingot_cuda.so for the
 * type "cuda"). Plain C, so it compiles as C and as CUDA C++. The plugin of
 * type NAME is the file libingot_NAME.so and exports one function,
 * ingot_NAME_plugin, returning a static table; the device registry
 * (core/device.c) loads it on first use of the type. */
#ifndef INGOT_CORE_PLUGIN_H
#define INGOT_CORE_PLUGIN_H

#include "core/internal.h"

#define INGOT__PLUGIN_ABI 3

#ifdef __cplusplus
extern "C" {
#endif

/* What libingot lends the plugin: the plugin's kernels report errors
 * through set_error, which stores the message as the calling thread's
 * ingot_last_error() (the plugin has its own ingot__error that formats and
 * forwards here). */
typedef struct ingot__plugin_host {
    void (*set_error)(const char *message);
} ingot__plugin_host;

typedef struct ingot__plugin {
    int abi;                         /* INGOT__PLUGIN_ABI of the plugin's build */
    const char *name;                /* the device type's name, "cuda" */
    const ingot__device_ops *device; /* count, memory, synchronisation: never NULL */
    const void *kernels;             /* its ingot__backend kernel table (src/backend) */
} ingot__plugin;

/* The exported entry: called once, with host services that stay valid for
 * the life of the process. */
typedef const ingot__plugin *(*ingot__plugin_entry)(const ingot__plugin_host *host);

#ifdef __cplusplus
}
#endif
#endif
