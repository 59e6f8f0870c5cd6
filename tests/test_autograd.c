/* The autograd tape: value_and_grad and vjp mechanics, error paths, and the
 * gradients of the view and conversion ops (ops.h's other ops are checked in
 * their own test files). */
#include "common/testutil.h"

#include <stdlib.h>

/* out = x[1, 2] of a (3,4) input, as a scalar, through several views. */
static ingot_status pick(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                         size_t n_inputs, void *user) {
    ingot_array *t = NULL, *s = NULL;
    ingot_status st = ingot_transpose(&t, inputs[0], NULL, 0); /* (4,3) */
    if (st == INGOT_OK) {
        int64_t b[2] = {2, 1}, e[2] = {3, 2}, one[2] = {1, 1};
        st = ingot_slice(&s, t, b, e, one); /* (1,1) = x[1,2] */
    }
    if (st == INGOT_OK) st = ingot_reshape(&outputs[0], s, NULL, 0);
    ingot_array_free(t);
    ingot_array_free(s);
    return st;
}

static void test_value_and_grad_one_hot(void **state) {
    (void)state;
    int64_t shape[2] = {3, 4};
    ingot_array *x = tu_random(INGOT_F32, shape, 2, 1, -1, 1), *value = NULL, *grad = NULL;
    double *xv = tu_values(x);
    TU_OK(ingot_value_and_grad(&value, &grad, pick, NULL, &x, 1));
    tu_assert_close(value, &xv[1 * 4 + 2], 1, 0, 0, "value");
    double e[12] = {0};
    e[6] = 1;
    tu_assert_shape(grad, INGOT_F32, shape, 2);
    tu_assert_close(grad, e, 12, 0, 0, "one-hot gradient");
    free(xv);
    ingot_array_free(x);
    ingot_array_free(value);
    ingot_array_free(grad);
}

/* Two outputs: a reshape of x and x[::-1] along axis 0; y is unused. */
static ingot_status two_outputs(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                                size_t n_inputs, void *user) {
    int64_t flat[1] = {-1};
    ingot_status st = ingot_reshape(&outputs[0], inputs[0], flat, 1);
    if (st) return st;
    int64_t b[2] = {INT64_MAX, 0}, e[2] = {INT64_MIN, INT64_MAX}, s[2] = {-1, 1};
    return ingot_slice(&outputs[1], inputs[0], b, e, s);
}

static void test_vjp_two_outputs(void **state) {
    (void)state;
    int64_t shape[2] = {2, 3}, flat[1] = {6}, ishape[1] = {4};
    ingot_array *x = tu_random(INGOT_F32, shape, 2, 2, -1, 1);
    ingot_array *y = tu_random(INGOT_F32, ishape, 1, 3, -1, 1);
    ingot_array *iy = tu_random(INGOT_I32, ishape, 1, 3, 0, 9);
    double c0[6] = {1, 2, 3, 4, 5, 6}, c1[6] = {10, 20, 30, 40, 50, 60};
    ingot_array *cot[2] = {tu_from_f64(c0, INGOT_F32, flat, 1), tu_from_f64(c1, INGOT_F32, shape, 2)};
    ingot_array *primals[3] = {x, y, iy}, *outs[2] = {NULL, NULL}, *grads[3] = {NULL, NULL, NULL};
    TU_OK(ingot_vjp(outs, grads, two_outputs, NULL, primals, 3, cot, 2));
    /* d/dx: c0 reshaped plus c1 flipped back along axis 0 */
    double e[6] = {1 + 40, 2 + 50, 3 + 60, 4 + 10, 5 + 20, 6 + 30};
    tu_assert_close(grads[0], e, 6, 0, 0, "gradient of x");
    double zeros[4] = {0};
    tu_assert_shape(grads[1], INGOT_F32, ishape, 1);
    tu_assert_close(grads[1], zeros, 4, 0, 0, "unused primal");
    tu_assert_shape(grads[2], INGOT_I32, ishape, 1);
    tu_assert_close(grads[2], zeros, 4, 0, 0, "integer primal");
    tu_assert_shape(outs[0], INGOT_F32, flat, 1);
    for (int i = 0; i < 3; i++) ingot_array_free(grads[i]);
    for (int i = 0; i < 2; i++) ingot_array_free(outs[i]);
    /* outputs may be NULL */
    TU_OK(ingot_vjp(NULL, grads, two_outputs, NULL, primals, 3, cot, 2));
    tu_assert_close(grads[0], e, 6, 0, 0, "gradient of x without outputs");
    for (int i = 0; i < 3; i++) ingot_array_free(grads[i]);
    ingot_array_free(cot[0]);
    ingot_array_free(cot[1]);
    ingot_array_free(x);
    ingot_array_free(y);
    ingot_array_free(iy);
}

static ingot_status failing(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                            size_t n_inputs, void *user) {
    ingot_array *t = NULL;
    ingot_status st = ingot_transpose(&t, inputs[0], NULL, 0); /* recorded, then dropped */
    ingot_array_free(t);
    if (st) return st;
    int64_t bad[1] = {7};
    return ingot_reshape(&outputs[0], inputs[0], bad, 1); /* SHAPE error */
}

static ingot_status leaves_null(ingot_array **outputs, size_t n_outputs,
                                ingot_array *const *inputs, size_t n_inputs, void *user) {
    return INGOT_OK;
}

static ingot_status identity(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                             size_t n_inputs, void *user) {
    outputs[0] = ingot_array_retain(inputs[0]);
    return INGOT_OK;
}

static ingot_status nested(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                           size_t n_inputs, void *user) {
    ingot_array *g = NULL;
    return ingot_value_and_grad(&outputs[0], &g, identity, NULL, inputs, 1);
}

static void test_errors(void **state) {
    (void)state;
    int64_t shape[2] = {2, 3}, one[1] = {1};
    ingot_array *x = tu_random(INGOT_F32, shape, 2, 4, -1, 1), *s = tu_random(INGOT_F32, one, 1, 5, 0, 1);
    ingot_array *out = (ingot_array *)1, *grad = (ingot_array *)1;
    TU_FAILS(ingot_value_and_grad(&out, &grad, failing, NULL, &x, 1), INGOT_ERR_SHAPE,
             "cannot reshape (2,3) to (7)");
    assert_null(out);
    assert_null(grad);
    TU_FAILS(ingot_value_and_grad(&out, &grad, leaves_null, NULL, &x, 1), INGOT_ERR_AUTOGRAD,
             "output 0 NULL");
    TU_FAILS(ingot_value_and_grad(&out, &grad, identity, NULL, &x, 1), INGOT_ERR_SHAPE,
             "6 elements, not 1");
    TU_FAILS(ingot_value_and_grad(&out, &grad, nested, NULL, &s, 1), INGOT_ERR_AUTOGRAD,
             "inside a differentiated function");
    TU_FAILS(ingot_value_and_grad(&out, &grad, NULL, NULL, &x, 1), INGOT_ERR_INVALID_ARGUMENT,
             "fn is NULL");
    ingot_array *bad_cot = tu_random(INGOT_F32, one, 1, 6, 0, 1);
    TU_FAILS(ingot_vjp(&out, &grad, identity, NULL, &x, 1, &bad_cot, 1), INGOT_ERR_SHAPE,
             "cotangent 0 has shape (1), output has (2,3)");
    TU_FAILS(ingot_vjp(&out, &grad, identity, NULL, &x, 1, NULL, 1), INGOT_ERR_INVALID_ARGUMENT,
             "cotangents is NULL");
    /* identity: the gradient is the cotangent itself */
    TU_OK(ingot_value_and_grad(&out, &grad, identity, NULL, &s, 1));
    double e1[1] = {1};
    tu_assert_close(grad, e1, 1, 0, 0, "identity gradient");
    ingot_array_free(out);
    ingot_array_free(grad);
    ingot_array_free(bad_cot);
    ingot_array_free(x);
    ingot_array_free(s);
}

/* ---- gradients of views and conversions, by finite differences ---- */

static ingot_status view_chain(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                               size_t n_inputs, void *user) {
    /* (2,3,4) -> expand (2,1,3,4) -> swap (4,1,3,2) -> squeeze (4,3,2)
     * -> slice [1:, ::-1, :] (3,3,2) -> reshape (9,2) -> astype f16 -> f32 */
    ingot_array *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL, *f = NULL;
    int64_t start[3] = {1, INT64_MAX, 0}, stop[3] = {INT64_MAX, INT64_MIN, INT64_MAX};
    int64_t step[3] = {1, -1, 1}, shape[2] = {9, 2};
    ingot_status st = ingot_expand_dims(&a, inputs[0], 1);
    if (st == INGOT_OK) st = ingot_swapaxes(&b, a, 0, 3);
    if (st == INGOT_OK) st = ingot_squeeze(&c, b, NULL, 0);
    if (st == INGOT_OK) st = ingot_slice(&d, c, start, stop, step);
    if (st == INGOT_OK) st = ingot_reshape(&e, d, shape, 2);
    if (st == INGOT_OK) st = ingot_astype(&f, e, INGOT_F16);
    if (st == INGOT_OK) st = ingot_astype(&outputs[0], f, INGOT_F32);
    ingot_array_free(a);
    ingot_array_free(b);
    ingot_array_free(c);
    ingot_array_free(d);
    ingot_array_free(e);
    ingot_array_free(f);
    return st;
}

static void test_view_gradients(void **state) {
    (void)state;
    int64_t shape[3] = {2, 3, 4};
    /* Inputs on a grid of 1/64 in [-2, 2): they and x +- 1/8 are exact in
     * f16, so the f16 round trip is the identity and the differences are
     * exact. The cotangent passes through f16 on its way back (as in
     * PyTorch), hence rtol 1e-3. */
    double v[24];
    for (int i = 0; i < 24; i++) v[i] = ((i * 37) % 256 - 128) / 64.0;
    ingot_array *x = tu_from_f64(v, INGOT_F32, shape, 3);
    tu_gradcheck(view_chain, NULL, &x, 1, NULL, 0.125, 1e-3, 1e-6, "view chain");
    ingot_array *nc = tu_noncontiguous(x);
    tu_gradcheck(view_chain, NULL, &nc, 1, NULL, 0.125, 1e-3, 1e-6, "view chain, strided input");
    ingot_array_free(nc);
    ingot_array_free(x);
}

/* (3,4,5) -> transpose (5,3,4) -> contiguous -> slice_axis 1:3 on axis 1
 * (5,2,4) -> flatten (40) */
static ingot_status layout_chain(ingot_array **outputs, size_t n_outputs,
                                 ingot_array *const *inputs, size_t n_inputs, void *user) {
    int perm[3] = {2, 0, 1};
    ingot_array *t = NULL, *c = NULL, *s = NULL;
    ingot_status st = ingot_transpose(&t, inputs[0], perm, 3);
    if (st == INGOT_OK) st = ingot_contiguous(&c, t);
    if (st == INGOT_OK) st = ingot_slice_axis(&s, c, 1, 1, 3);
    if (st == INGOT_OK) st = ingot_flatten(&outputs[0], s);
    ingot_array_free(t);
    ingot_array_free(c);
    ingot_array_free(s);
    return st;
}

static void test_layout_gradients(void **state) {
    (void)state;
    int64_t shape[3] = {3, 4, 5};
    ingot_array *x = tu_random(INGOT_F32, shape, 3, 11, -1, 1);
    /* linear and exact in f32 */
    tu_gradcheck(layout_chain, NULL, &x, 1, NULL, 0.125, 1e-6, 1e-6, "layout chain");
    ingot_array_free(x);
}

static ingot_status broadcast_fn(ingot_array **outputs, size_t n_outputs,
                                 ingot_array *const *inputs, size_t n_inputs, void *user) {
    int64_t shape[3] = {2, 3, 4};
    return ingot_broadcast_to(&outputs[0], inputs[0], shape, 3);
}

static void test_broadcast_gradient(void **state) {
    (void)state;
    int64_t shape[2] = {3, 1};
    ingot_array *x = tu_random(INGOT_F32, shape, 2, 9, -1, 1);
    tu_gradcheck(broadcast_fn, NULL, &x, 1, NULL, 1e-2, 1e-4, 1e-4, "broadcast_to");
    ingot_array_free(x);
}

/* The same input used twice: gradients accumulate. stop_gradient blocks. */
static ingot_status twice(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                          size_t n_inputs, void *user) {
    ingot_array *t = NULL, *frozen = NULL, *partial = NULL;
    ingot_status st = ingot_transpose(&t, inputs[0], NULL, 0);
    if (st == INGOT_OK) st = ingot_stop_gradient(&frozen, inputs[0]);
    if (st == INGOT_OK) st = ingot_add(&partial, t, t);
    if (st == INGOT_OK) st = ingot_add(&outputs[0], partial, frozen);
    ingot_array_free(t);
    ingot_array_free(frozen);
    ingot_array_free(partial);
    return st;
}

static void test_accumulation_and_stop_gradient(void **state) {
    (void)state;
    int64_t shape[2] = {3, 3};
    ingot_array *x = tu_random(INGOT_F32, shape, 2, 10, -1, 1), *cot = NULL, *out = NULL, *g = NULL;
    TU_OK(ingot_ones(&cot, INGOT_F32, shape, 2));
    TU_OK(ingot_vjp(&out, &g, twice, NULL, &x, 1, &cot, 1));
    double e[9] = {2, 2, 2, 2, 2, 2, 2, 2, 2};
    tu_assert_close(g, e, 9, 0, 0, "accumulated gradient");
    ingot_array_free(x);
    ingot_array_free(cot);
    ingot_array_free(out);
    ingot_array_free(g);
}

/* x (bf16, [1, 1]) @ a f32 [2, 1, 1] constant passed as user data. */
static ingot_status batched_product(ingot_array **outputs, size_t n_outputs,
                                    ingot_array *const *inputs, size_t n_inputs, void *user) {
    return ingot_matmul(&outputs[0], inputs[0], (const ingot_array *)user);
}

/* The gradient of a bf16 input broadcast over a batch is summed in the f32 of
 * the cotangent before it is rounded: dx = 1000.5 + -1000 = 0.5 exactly,
 * where rounding each term to bf16 first (1000.5 -> 1000) would give 0. */
static void test_broadcast_gradient_sums_before_rounding(void **state) {
    (void)state;
    int64_t xs[2] = {1, 1}, ys[3] = {2, 1, 1};
    double xv[1] = {1}, yv[2] = {1000.5, -1000};
    ingot_array *x = tu_from_f64(xv, INGOT_BF16, xs, 2), *y = tu_from_f64(yv, INGOT_F32, ys, 3);
    ingot_array *cot = NULL, *out = NULL, *g = NULL;
    TU_OK(ingot_ones(&cot, INGOT_F32, ys, 3));
    TU_OK(ingot_vjp(&out, &g, batched_product, y, &x, 1, &cot, 1));
    double e[1] = {0.5};
    tu_assert_shape(g, INGOT_BF16, xs, 2);
    tu_assert_close(g, e, 1, 0, 0, "bf16 gradient summed in f32");
    ingot_array_free(x);
    ingot_array_free(y);
    ingot_array_free(cot);
    ingot_array_free(out);
    ingot_array_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_and_grad_one_hot),
        cmocka_unit_test(test_vjp_two_outputs),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_view_gradients),
        cmocka_unit_test(test_layout_gradients),
        cmocka_unit_test(test_broadcast_gradient),
        cmocka_unit_test(test_accumulation_and_stop_gradient),
        cmocka_unit_test(test_broadcast_gradient_sums_before_rounding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
