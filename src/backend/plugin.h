/* The ABI between libingot and the CUDA backend plugin (libingot_cuda.so).
 * Plain C, so it compiles as C and as CUDA C++. The plugin exports one
 * function, ingot_cuda_plugin, returning a static table. */
#ifndef INGOT_BACKEND_PLUGIN_H
#define INGOT_BACKEND_PLUGIN_H

#define INGOT__PLUGIN_ABI 1
#define INGOT__PLUGIN_SYMBOL "ingot_cuda_plugin"
#define INGOT__PLUGIN_FILE "libingot_cuda.so"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ingot__plugin {
    int abi;                 /* INGOT__PLUGIN_ABI of the plugin's build */
    const char *name;        /* "cuda" */
    int (*device_count)(void); /* usable devices; 0 without a GPU or driver */
    const void *backend;     /* the ingot__backend kernel table; NULL while the
                                plugin has no kernels */
} ingot__plugin;

typedef const ingot__plugin *(*ingot__plugin_entry)(void);

#ifdef __cplusplus
}
#endif
#endif
