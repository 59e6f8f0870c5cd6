/* libFuzzer target: an arbitrary byte string as a whole safetensors file
 * image, parsed in memory (no files). Every accepted image is walked through
 * every query and every tensor is fetched as an array; the API invariants are
 * checked with __builtin_trap so that libFuzzer reports violations. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ingot/ingot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

static void walk_tensor(const ingot_safetensors *st, const char *name) {
    ingot_tensor_info info;
    CHECK(ingot_safetensors_info(&info, st, name) == INGOT_OK);
    CHECK(strcmp(info.name, name) == 0 && info.ndim >= 0 && info.shape != NULL);
    ingot_array *a = NULL;
    ingot_status s = ingot_safetensors_get(&a, st, name);
    CHECK((s == INGOT_OK) == (a != NULL));
    CHECK(s != INGOT_ERR_UNSUPPORTED || !info.supported);
    if (s != INGOT_OK) return;
    CHECK(info.supported && ingot_array_dtype(a) == info.dtype);
    CHECK(ingot_array_ndim(a) == info.ndim && ingot_array_nbytes(a) == info.nbytes);
    /* read every element: the bytes must lie inside the image */
    double first = 0;
    if (ingot_array_size(a) == 1) CHECK(ingot_array_item(&first, a) == INGOT_OK);
    _Alignas(8) uint8_t sink[64];
    if (info.nbytes <= sizeof sink)
        CHECK(ingot_array_to_host(sink, sizeof sink, info.dtype, a) == INGOT_OK);
    ingot_array_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ingot_safetensors *st = NULL;
    if (ingot_safetensors_open_memory(&st, data, size, "fuzz") != INGOT_OK) {
        CHECK(st == NULL && ingot_last_error()[0] != '\0');
        return 0;
    }
    size_t n = ingot_safetensors_count(st);
    for (size_t i = 0; i < n; i++) {
        const char *name = ingot_safetensors_name(st, i);
        CHECK(name != NULL && name[0] != '\0');
        if (i > 0) CHECK(strcmp(ingot_safetensors_name(st, i - 1), name) < 0);
        walk_tensor(st, name);
    }
    CHECK(ingot_safetensors_name(st, n) == NULL);
    for (size_t i = 0; i < ingot_safetensors_metadata_count(st); i++) {
        const char *key = ingot_safetensors_metadata_key(st, i);
        CHECK(key != NULL &&
              ingot_safetensors_metadata(st, key) == ingot_safetensors_metadata_value(st, i));
    }
    CHECK(ingot_safetensors_file_count(st) == 1);
    ingot_safetensors_close(st);
    return 0;
}
