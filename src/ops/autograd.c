/* The reverse-mode tape.
 *
 * While ingot_vjp runs the user's function, each op that reads a tracked array
 * appends a node (inputs, output, backward function, parameters) to this
 * thread's tape and marks its output tracked. Nodes are appended in execution
 * order, which is a topological order, so the backward pass is one reverse
 * sweep that hands each node the summed cotangent of its output. */
#include <stdlib.h>

#include "ops/autograd_internal.h"
#include "ingot/autograd.h"
#include "ingot/ops.h"
#include "ops/ops_internal.h"

typedef struct tape {
    uint64_t gen;       /* unique per tape; arrays carry it in tape_gen */
    bool recording;     /* false during the backward sweep */
    ingot__node *nodes;
    int64_t n, cap;
} tape;

static _Thread_local tape *active;
static atomic_uint_fast64_t next_gen = 1;

static bool tracked(const tape *t, const ingot_array *a) {
    return a && t && a->tape_gen == t->gen && a->tape_node >= 0;
}

bool ingot__grad_needed(const ingot_array *const *inputs, int n) {
    if (!active || !active->recording) return false;
    for (int i = 0; i < n; i++)
        if (tracked(active, inputs[i])) return true;
    return false;
}

static ingot_status append_node(tape *t, ingot__node **node, ingot_array *out) {
    if (t->n == t->cap) {
        int64_t cap = t->cap ? t->cap * 2 : 64;
        ingot__node *nodes = realloc(t->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "autograd: tape is full");
        t->nodes = nodes;
        t->cap = cap;
    }
    ingot__node *nd = &t->nodes[t->n];
    memset(nd, 0, sizeof *nd);
    nd->output = ingot_array_retain(out);
    out->tape_gen = t->gen;
    out->tape_node = t->n++;
    *node = nd;
    return INGOT_OK;
}

ingot_status ingot__record(ingot__node **node, ingot_array *out, const ingot_array *const *inputs,
                           int n, ingot__backward_fn backward, const char *name) {
    *node = NULL;
    if (!ingot__grad_needed(inputs, n)) return INGOT_OK;
    if (n > INGOT__NODE_MAX_INPUTS)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: %d inputs recorded (at most %d)",
                            name, n, INGOT__NODE_MAX_INPUTS);
    ingot_status st = append_node(active, node, out);
    if (st) return st;
    (*node)->name = name;
    (*node)->backward = backward;
    (*node)->n_inputs = n;
    for (int i = 0; i < n; i++) (*node)->inputs[i] = ingot_array_retain((ingot_array *)inputs[i]);
    return INGOT_OK;
}

static void tape_free(tape *t) {
    for (int64_t k = 0; k < t->n; k++) {
        ingot__node *nd = &t->nodes[k];
        for (int i = 0; i < nd->n_inputs; i++) ingot_array_free(nd->inputs[i]);
        for (int i = 0; i < INGOT__NODE_MAX_SAVED; i++) ingot_array_free(nd->saved[i]);
        ingot_array_free(nd->output);
    }
    free(t->nodes);
}

/* ---- helpers for backward functions ---- */

ingot_status ingot__sum_to_shape(ingot_array **out, const ingot_array *g, const int64_t *shape,
                                 int ndim) {
    int lead = g->ndim - ndim, axes[INGOT_MAX_DIMS], naxes = 0;
    bool same = lead == 0;
    for (int i = 0; i < g->ndim; i++) {
        if (i < lead || (shape[i - lead] == 1 && g->shape[i] != 1)) axes[naxes++] = i;
        else if (shape[i - lead] != g->shape[i]) {
            char a[INGOT__SHAPE_STR_MAX], b[INGOT__SHAPE_STR_MAX];
            return ingot__error(INGOT_ERR_INTERNAL, "autograd: gradient %s does not reduce to %s",
                                ingot__shape_str(a, g->shape, g->ndim),
                                ingot__shape_str(b, shape, ndim));
        }
    }
    if (lead < 0) return ingot__error(INGOT_ERR_INTERNAL, "autograd: gradient has too few dims");
    if (same && naxes == 0) {
        *out = ingot_array_retain((ingot_array *)g);
        return INGOT_OK;
    }
    ingot_array *s;
    ingot_status st = ingot_sum(&s, g, axes, naxes, true);
    if (st) return st;
    st = ingot_reshape(out, s, shape, ndim);
    ingot_array_free(s);
    return st;
}

ingot_status ingot__grad_for_input(ingot_array **grad, ingot_array *g, const ingot_array *input) {
    ingot_array *wide = NULL, *summed = NULL; /* g's shape; input's shape (both the wider dtype) */
    ingot_status st = ingot_astype(&wide, g, ingot_promote_types(g->dtype, input->dtype));
    ingot_array_free(g);
    if (!st) st = ingot__sum_to_shape(&summed, wide, input->shape, input->ndim);
    if (!st) st = ingot_astype(grad, summed, input->dtype);
    ingot_array_free(summed);
    ingot_array_free(wide);
    return st;
}

/* ---- the backward sweep ---- */

/* grads[k] += g (taking over g). */
static ingot_status accumulate(ingot_array **slot, ingot_array *g) {
    if (!*slot) {
        *slot = g;
        return INGOT_OK;
    }
    ingot_array *sum;
    ingot_status st = ingot_add(&sum, *slot, g);
    ingot_array_free(g);
    if (st) return st;
    ingot_array_free(*slot);
    *slot = sum;
    return INGOT_OK;
}

static ingot_status check_grad(const ingot__node *nd, int i, const ingot_array *g) {
    const ingot_array *in = nd->inputs[i];
    if (ingot__same_shape(g, in) && g->dtype == in->dtype) return INGOT_OK;
    char a[INGOT__SHAPE_STR_MAX], b[INGOT__SHAPE_STR_MAX];
    return ingot__error(INGOT_ERR_INTERNAL, "autograd: %s gave a %s %s gradient for a %s %s input",
                        nd->name, ingot_dtype_name(g->dtype), ingot__shape_str(a, g->shape, g->ndim),
                        ingot_dtype_name(in->dtype), ingot__shape_str(b, in->shape, in->ndim));
}

static ingot_status backward_sweep(tape *t, ingot_array **grads) {
    for (int64_t k = t->n - 1; k >= 0; k--) {
        const ingot__node *nd = &t->nodes[k];
        if (!grads[k] || !nd->backward) continue; /* no cotangent, or a leaf */
        ingot_array *in_grads[INGOT__NODE_MAX_INPUTS] = {0};
        ingot_status st = nd->backward(in_grads, grads[k], nd);
        ingot_array_free(grads[k]);
        grads[k] = NULL;
        for (int i = 0; i < nd->n_inputs; i++) {
            ingot_array *g = in_grads[i];
            in_grads[i] = NULL;
            if (!g) continue;
            if (st == INGOT_OK && tracked(t, nd->inputs[i])) {
                st = check_grad(nd, i, g);
                if (st == INGOT_OK) {
                    st = accumulate(&grads[nd->inputs[i]->tape_node], g);
                    continue;
                }
            }
            ingot_array_free(g);
        }
        if (st) return st;
    }
    return INGOT_OK;
}

/* ingot_vjp and ingot_value_and_grad; cotangents NULL means a size-1 output
 * with cotangent 1. */
static ingot_status differentiate(ingot_array **outputs, ingot_array **grads, ingot_fn fn,
                                  void *user, ingot_array *const *primals, size_t n_primals,
                                  ingot_array *const *cotangents, size_t n_outputs,
                                  const char *op) {
    INGOT__CHECK_NOT_NULL(grads, op);
    for (size_t i = 0; i < n_primals; i++) grads[i] = NULL;
    if (outputs)
        for (size_t j = 0; j < n_outputs; j++) outputs[j] = NULL;
    INGOT__CHECK_NOT_NULL(fn, op);
    if (n_primals && !primals) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: primals is NULL", op);
    if (n_outputs < 1 || n_outputs > 1024 || n_primals > 1024)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: %zu outputs, %zu primals", op,
                            n_outputs, n_primals);
    for (size_t i = 0; i < n_primals; i++)
        if (!primals[i]) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: primal %zu is NULL", op, i);
    if (cotangents)
        for (size_t j = 0; j < n_outputs; j++)
            if (!cotangents[j])
                return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: cotangent %zu is NULL", op, j);
    if (active) return ingot__error(INGOT_ERR_AUTOGRAD, "%s: called inside a differentiated function", op);

    tape t = {.gen = atomic_fetch_add(&next_gen, 1), .recording = true};
    ingot_array **leaves = calloc(n_primals + 1, sizeof *leaves);
    ingot_array **outs = calloc(n_outputs, sizeof *outs);
    ingot_array **acc = NULL;
    ingot_status st = leaves && outs ? INGOT_OK
                                     : ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    /* Leaves: views of the primals that the tape can mark without touching
     * the caller's arrays. */
    for (size_t i = 0; st == INGOT_OK && i < n_primals; i++) {
        const ingot_array *p = primals[i];
        ingot__node *nd;
        st = ingot__array_view(&leaves[i], p, p->shape, p->strides, p->ndim, p->offset);
        if (st == INGOT_OK && ingot_dtype_is_float(p->dtype)) st = append_node(&t, &nd, leaves[i]);
    }
    if (st == INGOT_OK) {
        active = &t;
        st = fn(outs, n_outputs, leaves, n_primals, user);
        active = NULL;
        t.recording = false;
    }
    for (size_t j = 0; st == INGOT_OK && j < n_outputs; j++) {
        if (!outs[j]) st = ingot__error(INGOT_ERR_AUTOGRAD, "%s: the function left output %zu NULL", op, j);
        else if (!cotangents && outs[j]->size != 1)
            st = ingot__error(INGOT_ERR_SHAPE, "%s: the function's output has %lld elements, not 1",
                              op, (long long)outs[j]->size);
        else if (cotangents && !ingot__same_shape(cotangents[j], outs[j])) {
            char a[INGOT__SHAPE_STR_MAX], b[INGOT__SHAPE_STR_MAX];
            st = ingot__error(INGOT_ERR_SHAPE, "%s: cotangent %zu has shape %s, output has %s", op,
                              j, ingot__shape_str(a, cotangents[j]->shape, cotangents[j]->ndim),
                              ingot__shape_str(b, outs[j]->shape, outs[j]->ndim));
        }
    }
    if (st == INGOT_OK && t.n) {
        acc = calloc((size_t)t.n, sizeof *acc);
        if (!acc) st = ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    }
    /* Seed the cotangents of tracked outputs, then sweep. */
    active = &t; /* recording stays off; ops only need the tape for lookups */
    for (size_t j = 0; st == INGOT_OK && acc && j < n_outputs; j++) {
        if (!tracked(&t, outs[j]) || !ingot_dtype_is_float(outs[j]->dtype)) continue;
        ingot_array *seed;
        st = cotangents ? ingot_astype(&seed, cotangents[j], outs[j]->dtype)
                        : ingot__full_on(&seed, outs[j]->dtype, outs[j]->shape, outs[j]->ndim, 1.0,
                                         ingot__device(outs[j]), "vjp");
        if (st == INGOT_OK) st = accumulate(&acc[outs[j]->tape_node], seed);
    }
    if (st == INGOT_OK && acc) st = backward_sweep(&t, acc);
    active = NULL;
    for (size_t i = 0; st == INGOT_OK && i < n_primals; i++) {
        ingot_array *leaf = leaves[i];
        if (tracked(&t, leaf) && acc[leaf->tape_node]) {
            grads[i] = acc[leaf->tape_node];
            acc[leaf->tape_node] = NULL;
        } else {
            st = ingot_zeros_like(&grads[i], primals[i]);
        }
    }
    for (int64_t k = 0; acc && k < t.n; k++) ingot_array_free(acc[k]);
    free(acc);
    tape_free(&t);
    for (size_t i = 0; leaves && i < n_primals; i++) ingot_array_free(leaves[i]);
    free(leaves);
    for (size_t j = 0; outs && j < n_outputs; j++) {
        if (outs[j]) outs[j]->tape_node = -1;
        if (st == INGOT_OK && outputs) outputs[j] = outs[j];
        else ingot_array_free(outs[j]);
    }
    free(outs);
    if (st)
        for (size_t i = 0; i < n_primals; i++) {
            ingot_array_free(grads[i]);
            grads[i] = NULL;
        }
    return st;
}

ingot_status ingot_vjp(ingot_array **outputs, ingot_array **grads, ingot_fn fn, void *user,
                       ingot_array *const *primals, size_t n_primals,
                       ingot_array *const *cotangents, size_t n_outputs) {
    INGOT__CHECK_NOT_NULL(cotangents, "vjp");
    return differentiate(outputs, grads, fn, user, primals, n_primals, cotangents, n_outputs, "vjp");
}

ingot_status ingot_value_and_grad(ingot_array **value, ingot_array **grads, ingot_fn fn,
                                  void *user, ingot_array *const *primals, size_t n_primals) {
    return differentiate(value, grads, fn, user, primals, n_primals, NULL, 1, "value_and_grad");
}
