/* The backend seam: the CPU table, device queries, and the CUDA plugin's ABI
 * when the build made one (without a GPU it must report zero devices and
 * fail every CUDA request cleanly). */
#include "common/testutil.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/plugin.h"

static void test_cpu_table_is_complete(void **state) {
    (void)state;
    const ingot__backend *be = ingot__backend_for(ingot_cpu());
    assert_non_null(be);
    assert_string_equal(be->name, "cpu");
    /* Every kernel slot is filled. */
    const void *const *slot = (const void *const *)&be->copy;
    const void *const *end = (const void *const *)(be + 1);
    for (; slot < end; slot++) assert_non_null(*slot);
}

static char plugin_message[256];
static void record_error(const char *message) {
    snprintf(plugin_message, sizeof plugin_message, "%s", message);
}

static void test_cuda_plugin(void **state) {
    (void)state;
    char path[4096];
    const char *build = getenv("INGOT_BUILD_DIR");
    assert_non_null(build);
    snprintf(path, sizeof path, "%s/lib/%s", build, INGOT__PLUGIN_FILE);
    if (access(path, R_OK) != 0) {
        /* No nvcc at configure time: the CPU serves and CUDA reports none. */
        assert_int_equal(ingot_device_count(INGOT_DEVICE_CUDA), 0);
        skip();
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) print_error("dlopen %s: %s\n", path, dlerror());
    assert_non_null(h);
    ingot__plugin_entry entry = (ingot__plugin_entry)dlsym(h, INGOT__PLUGIN_SYMBOL);
    assert_non_null(entry);
    static const ingot__plugin_host host = {.set_error = record_error};
    const ingot__plugin *p = entry(&host);
    assert_int_equal(p->abi, INGOT__PLUGIN_ABI);
    assert_string_equal(p->name, "cuda");
    int n = p->device_count();
    assert_true(n >= 0);
    /* Every entry of the CUDA table is filled. */
    const ingot__backend *be = p->backend;
    assert_non_null(be);
    for (const void *const *slot = (const void *const *)&be->alloc;
         slot < (const void *const *)(be + 1); slot++)
        assert_non_null(*slot);
    /* Errors travel back through the host's set_error. */
    if (n == 0) {
        ingot_memory_stats ms;
        assert_int_equal(be->memory_stats(&ms, 0), INGOT_ERR_DEVICE);
        assert_non_null(strstr(plugin_message, "no device cuda:0"));
    }
    /* The library finds the same plugin through INGOT_CUDA_PLUGIN. */
    setenv("INGOT_CUDA_PLUGIN", path, 1);
    assert_int_equal(ingot_device_count(INGOT_DEVICE_CUDA), n);
    ingot_device d;
    if (n == 0) TU_FAILS(ingot_device_parse(&d, "cuda:0"), INGOT_ERR_DEVICE, "no GPU found");
    else TU_OK(ingot_device_parse(&d, "cuda:0"));
    dlclose(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_table_is_complete),
        cmocka_unit_test(test_cuda_plugin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
