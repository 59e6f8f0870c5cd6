/* ingot devices: the devices ingot can use, with their memory statistics. */
#include "cli.h"
#include "options.h"

/* Prints one device's allocator statistics (this process's: a fresh process
 * holds nothing yet, but a cap or a cache would show). */
static void print_stats(ingot_device d) {
    ingot_memory_stats ms;
    if (ingot_memory_stats_get(&ms, d)) return;
    const double mib = 1024.0 * 1024.0;
    printf("  memory: %.1f MiB active, %.1f MiB peak, %.1f MiB cached", (double)ms.active / mib,
           (double)ms.peak / mib, (double)ms.cached / mib);
    if (ms.limit) printf(", limit %.1f MiB", (double)ms.limit / mib);
    putchar('\n');
}

int cli_devices(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: ingot devices\n\nLists the CPU (with its thread count) and the CUDA "
               "GPUs, with this process's\nmemory statistics of each, and marks the default "
               "device of --device.\n");
        return 0;
    }
    if (argc) return cli_usage_error("devices", "unexpected argument '%s'", argv[0]);
    ingot_device def = ingot_default_device();
    printf("cpu       %d threads%s\n", ingot_get_num_threads(),
           def.type == INGOT_DEVICE_CPU ? " (default)" : "");
    print_stats(ingot_cpu());
    int n = ingot_device_count(INGOT_DEVICE_CUDA);
    for (int i = 0; i < n; i++) {
        ingot_device d = {INGOT_DEVICE_CUDA, i};
        char name[32];
        printf("%-9s CUDA GPU%s\n", cli_device_name(name, sizeof name, d),
               def.type == INGOT_DEVICE_CUDA && def.index == i ? " (default)" : "");
        print_stats(d);
    }
    ingot_device probe;
    if (n == 0 && ingot_device_parse(&probe, "cuda"))
        printf("cuda      none: %s\n", ingot_last_error());
    return 0;
}
