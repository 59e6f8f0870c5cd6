/* The ABI between libingot and the CUDA backend plugin (libingot_cuda.so).
 * Plain C, so it compiles as C and as CUDA C++. The plugin exports one
 * function, ingot_cuda_plugin, returning a static table. */
#ifndef INGOT_BACKEND_PLUGIN_H
#define INGOT_BACKEND_PLUGIN_H

#define INGOT__PLUGIN_ABI 2
#define INGOT__PLUGIN_SYMBOL "ingot_cuda_plugin"
#define INGOT__PLUGIN_FILE "libingot_cuda.so"

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
    int abi;                 /* INGOT__PLUGIN_ABI of the plugin's build */
    const char *name;        /* "cuda" */
    int (*device_count)(void); /* usable devices; 0 without a GPU or driver */
    const void *backend;     /* the ingot__backend kernel table */
} ingot__plugin;

/* The exported entry: called once, with host services that stay valid for
 * the life of the process. */
typedef const ingot__plugin *(*ingot__plugin_entry)(const ingot__plugin_host *host);

#ifdef __cplusplus
}
#endif
#endif
