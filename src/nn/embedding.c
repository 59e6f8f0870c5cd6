/* The embedding layer (nn.h). */
#include "ingot/ops.h"
#include "nn/nn.h"

ingot_status ingot__embedding_forward(ingot_array **out, const ingot__embedding *e,
                                      const ingot_array *ids) {
    if (!e->scale) return ingot_take(out, e->weight, ids, 0);
    ingot_array *rows = NULL; /* [..., D] before the scale */
    ingot_status st = ingot_take(&rows, e->weight, ids, 0);
    if (!st) st = ingot_mul(out, rows, e->scale);
    ingot_array_free(rows);
    return st;
}
