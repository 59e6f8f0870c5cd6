/* Left-padded batched forward passes shared by classify, score and batch
 * generation. */
#include <stdlib.h>

#include "core/internal.h"
#include "engine/engine_internal.h"

ingot_status ingot__check_rows(const ingot_token_seq *rows, size_t n, int64_t vocab,
                               const char *what, const char *op) {
    if (n == 0) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: no %ss", op, what);
    INGOT__CHECK_NOT_NULL(rows, op);
    for (size_t i = 0; i < n; i++) {
        if (rows[i].n == 0 || !rows[i].ids)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: %s %zu is %s", op, what, i,
                                rows[i].n ? "NULL" : "empty");
        for (size_t t = 0; t < rows[i].n; t++)
            if (rows[i].ids[t] < 0 || rows[i].ids[t] >= vocab)
                return ingot__error(
                    INGOT_ERR_INDEX,
                    "%s: %s %zu position %zu: id %d is outside the vocabulary of %lld", op, what, i,
                    t, (int)rows[i].ids[t], (long long)vocab);
    }
    return INGOT_OK;
}

size_t ingot__max_row(const ingot_token_seq *rows, size_t n) {
    size_t T = 0;
    for (size_t i = 0; i < n; i++)
        T = rows[i].n > T ? rows[i].n : T;
    return T;
}

ingot_status ingot__forward_left_padded(ingot_array **logits, const ingot_model *m,
                                        const ingot_token_seq *rows, size_t n,
                                        ingot_kv_cache *cache, bool last_only) {
    *logits = NULL;
    size_t T = ingot__max_row(rows, n);
    int64_t shape[2] = {(int64_t)n, (int64_t)T};
    int32_t *ids = calloc(n * T + 1, sizeof *ids);   /* [n, T] */
    int32_t *pos = calloc(n * T + 1, sizeof *pos);   /* [n, T] */
    int32_t *mask = calloc(n * T + 1, sizeof *mask); /* [n, T] */
    if (!ids || !pos || !mask) {
        free(ids);
        free(pos);
        free(mask);
        ingot__error(INGOT_ERR_OUT_OF_MEMORY, "forward: out of memory");
        return INGOT_ERR_OUT_OF_MEMORY; /* spelled out for the static analyzer */
    }
    for (size_t b = 0; b < n; b++) {
        size_t pad = T - rows[b].n;
        for (size_t t = pad; t < T; t++) {
            ids[b * T + t] = rows[b].ids[t - pad];
            pos[b * T + t] = (int32_t)(t - pad);
            mask[b * T + t] = 1;
        }
    }
    ingot_array *a_ids = NULL, *a_pos = NULL, *a_mask = NULL;
    ingot_status st = ingot_array_from_data(&a_ids, ids, INGOT_I32, shape, 2);
    if (!st) st = ingot_array_from_data(&a_pos, pos, INGOT_I32, shape, 2);
    if (!st) st = ingot_array_from_data(&a_mask, mask, INGOT_I32, shape, 2);
    if (!st) {
        ingot_forward_options o = {
            .positions = a_pos, .attention_mask = a_mask, .last_only = last_only};
        st = ingot_model_forward(logits, m, a_ids, cache, &o);
    }
    ingot_array_free(a_ids);
    ingot_array_free(a_pos);
    ingot_array_free(a_mask);
    free(ids);
    free(pos);
    free(mask);
    return st;
}
