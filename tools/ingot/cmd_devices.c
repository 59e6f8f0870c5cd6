/* ingot devices: the devices ingot can use. */
#include "cli.h"

int cli_devices(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: ingot devices\n\nLists the CPU (with its thread count) and any CUDA "
               "GPUs.\n");
        return 0;
    }
    printf("cpu       %d threads\n", ingot_get_num_threads());
    int n = ingot_device_count(INGOT_DEVICE_CUDA);
    for (int i = 0; i < n; i++) printf("cuda:%d\n", i);
    if (n == 0) printf("(no CUDA device: the CPU backend serves)\n");
    return 0;
}
