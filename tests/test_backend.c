/* The backend seam: the CPU table (and its one kernel with no public op,
 * copy_at), the registry (a kernel a table leaves NULL, device type names),
 * device queries, and the CUDA plugin's ABI when the build made one (without
 * a GPU it must report zero devices and fail every CUDA request cleanly). */
#include "common/testutil.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/plugin.h"

static void test_cpu_table_is_complete(void **state) {
    (void)state;
    /* The CPU's own table (not the registry's copy, whose NULL slots would
     * hold UNSUPPORTED stubs): every kernel slot is filled. */
    const ingot__backend *be = &ingot__cpu_backend;
    assert_string_equal(be->name, "cpu");
    const void *const *slot = (const void *const *)&be->copy;
    const void *const *end = (const void *const *)(be + 1);
    for (; slot < end; slot++) assert_non_null(*slot);
}

/* copy_at writes src into dst from a device-held offset along an axis,
 * clamped so that every row lands inside dst; checked against loops. */
static void test_cpu_copy_at(void **state) {
    (void)state;
    const ingot__backend *be = ingot__backend_for(ingot_cpu());
    int64_t ds[3] = {2, 7, 3}, ss[3] = {2, 3, 3}, one = 1;
    ingot_array *src = tu_random(INGOT_BF16, ss, 3, 5, -2, 2), *srct = NULL;
    const double starts[5] = {0, 2, 4, -3, 9}; /* -3 clamps to 0, 9 to 7 - 3 */
    const int64_t expect[5] = {0, 2, 4, 0, 4};
    for (int c = 0; c < 5; c++) {
        ingot_array *dst = NULL, *start = tu_from_f64(&starts[c], INGOT_I64, &one, 1);
        TU_OK(ingot_zeros(&dst, INGOT_BF16, ds, 3));
        TU_OK(be->copy_at(dst, src, 1, start));
        double *got = tu_values(dst), *sv = tu_values(src);
        for (int64_t b = 0; b < 2; b++)
            for (int64_t t = 0; t < 7; t++)
                for (int64_t d = 0; d < 3; d++) {
                    int64_t r = t - expect[c];
                    double want = r >= 0 && r < 3 ? sv[(b * 3 + r) * 3 + d] : 0;
                    assert_true(got[(b * 7 + t) * 3 + d] == want);
                }
        free(got);
        free(sv);
        ingot_array_free(dst);
        ingot_array_free(start);
    }
    /* A strided destination (a transposed view) and source. */
    int64_t bs[3] = {3, 7, 2};
    const int perm[3] = {2, 1, 0};
    ingot_array *base = NULL, *dst = NULL, *start = tu_from_f64(starts + 1, INGOT_I64, &one, 1);
    TU_OK(ingot_zeros(&base, INGOT_BF16, bs, 3));
    TU_OK(ingot_transpose(&dst, base, perm, 3)); /* [2, 7, 3] view */
    srct = tu_noncontiguous(src);
    TU_OK(be->copy_at(dst, srct, 1, start));
    double *got = tu_values(dst), *sv = tu_values(src);
    for (int64_t b = 0; b < 2; b++)
        for (int64_t t = 0; t < 7; t++)
            for (int64_t d = 0; d < 3; d++) {
                double want = t >= 2 && t < 5 ? sv[(b * 3 + t - 2) * 3 + d] : 0;
                assert_true(got[(b * 7 + t) * 3 + d] == want);
            }
    free(got);
    free(sv);
    ingot_array_free(base);
    ingot_array_free(dst);
    ingot_array_free(start);
    ingot_array_free(srct);
    ingot_array_free(src);
}

/* A table may leave a kernel NULL: the op then fails UNSUPPORTED, naming
 * the kernel and the device; with the full table back it runs again. */
static void test_null_kernel_is_unsupported(void **state) {
    (void)state;
    ingot__backend partial = ingot__cpu_backend;
    partial.matmul = NULL;
    ingot__backend_register(INGOT_DEVICE_CPU, &partial);
    int64_t shape[2] = {2, 2};
    ingot_array *a = NULL, *out = NULL;
    TU_OK(ingot_ones(&a, INGOT_F32, shape, 2));
    TU_FAILS(ingot_matmul(&out, a, a), INGOT_ERR_UNSUPPORTED, NULL);
    assert_string_equal(ingot_last_error(), "matmul: not supported on cpu:0");
    assert_null(out);
    ingot__backend_register(INGOT_DEVICE_CPU, &ingot__cpu_backend);
    TU_OK(ingot_matmul(&out, a, a));
    ingot_array_free(out);
    ingot_array_free(a);
}

/* Device types are named by the registry, also in messages. */
static void test_device_type_names(void **state) {
    (void)state;
    assert_string_equal(ingot__device_type_name(INGOT_DEVICE_CPU), "cpu");
    assert_string_equal(ingot__device_type_name(INGOT_DEVICE_CUDA), "cuda");
    assert_string_equal(ingot__device_type_name((ingot_device_type)7), "unknown");
    assert_null(ingot__backend_for((ingot_device){(ingot_device_type)7, 0}));
    assert_int_equal(ingot_device_count((ingot_device_type)7), 0);
    int64_t one = 1;
    ingot_array *a = NULL;
    TU_FAILS(ingot__array_new(&a, INGOT_F32, &one, 1, (ingot_device){(ingot_device_type)7, 0},
                              "test"),
             INGOT_ERR_DEVICE, "test: no device unknown:0");
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
    snprintf(path, sizeof path, "%s/lib/libingot_cuda.so", build);
    if (access(path, R_OK) != 0) {
        /* No nvcc at configure time: the CPU serves and CUDA reports none. */
        assert_int_equal(ingot_device_count(INGOT_DEVICE_CUDA), 0);
        skip();
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) print_error("dlopen %s: %s\n", path, dlerror());
    assert_non_null(h);
    ingot__plugin_entry entry = (ingot__plugin_entry)dlsym(h, "ingot_cuda_plugin");
    assert_non_null(entry);
    static const ingot__plugin_host host = {.set_error = record_error};
    const ingot__plugin *p = entry(&host);
    assert_int_equal(p->abi, INGOT__PLUGIN_ABI);
    assert_string_equal(p->name, "cuda");
    const ingot__device_ops *dev = p->device;
    assert_non_null(dev);
    int n = dev->count();
    assert_true(n >= 0);
    /* Every entry of the device's registry entry and of its kernel table is
     * filled. */
    for (const void *const *slot = (const void *const *)&dev->count;
         slot < (const void *const *)(dev + 1); slot++)
        assert_non_null(*slot);
    const ingot__backend *be = p->kernels;
    assert_non_null(be);
    assert_string_equal(be->name, "cuda");
    for (const void *const *slot = (const void *const *)&be->copy;
         slot < (const void *const *)(be + 1); slot++)
        assert_non_null(*slot);
    /* Errors travel back through the host's set_error. */
    if (n == 0) {
        ingot_memory_stats ms;
        assert_int_equal(dev->memory_stats(&ms, 0), INGOT_ERR_DEVICE);
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
        cmocka_unit_test(test_cpu_copy_at),
        cmocka_unit_test(test_null_kernel_is_unsupported),
        cmocka_unit_test(test_device_type_names),
        cmocka_unit_test(test_cuda_plugin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
