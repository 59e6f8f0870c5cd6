/* The linear layer (nn.h). */
#include "ingot/ops.h"
#include "nn/nn.h"

ingot_status ingot__linear_forward(ingot_array **out, const ingot__linear *l,
                                   const ingot_array *x) {
    ingot_array *wt = NULL, *y = NULL; /* wt [in, out] view; y [..., out] before the bias */
    ingot_status st = ingot_transpose(&wt, l->weight, NULL, 0);
    if (!st) st = ingot_matmul(l->bias ? &y : out, x, wt);
    if (!st && l->bias) st = ingot_add(out, y, l->bias);
    ingot_array_free(wt);
    ingot_array_free(y);
    return st;
}
