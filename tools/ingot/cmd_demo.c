/* ingot demo: fits a linear model with gradient descent on the CPU, using
 * the array library, autograd and (when present) safetensors IO. It is the
 * main job until text generation lands. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum { SAMPLES = 512, FEATURES = 8, STEPS = 60 };

typedef struct problem {
    ingot_array *x; /* [SAMPLES, FEATURES] */
    ingot_array *y; /* [SAMPLES, 1] */
} problem;

/* loss(w) = mean((x @ w - y)^2) with w: [FEATURES, 1]. */
static ingot_status loss_fn(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                            size_t n_inputs, void *user) {
    const problem *p = user;
    ingot_array *pred = NULL, *err = NULL, *sq = NULL;
    ingot_status st = ingot_matmul(&pred, p->x, inputs[0]);     /* [SAMPLES, 1] */
    if (st == INGOT_OK) st = ingot_sub(&err, pred, p->y);       /* [SAMPLES, 1] */
    if (st == INGOT_OK) st = ingot_square(&sq, err);            /* [SAMPLES, 1] */
    if (st == INGOT_OK) st = ingot_mean(&outputs[0], sq, NULL, 0, false); /* [] */
    ingot_array_free(pred);
    ingot_array_free(err);
    ingot_array_free(sq);
    return st;
}

/* w <- w - lr * g */
static ingot_status sgd_step(ingot_array **w, const ingot_array *g, double lr) {
    ingot_array *rate = NULL, *delta = NULL, *next = NULL;
    ingot_status st = ingot_scalar(&rate, INGOT_F32, lr);
    if (st == INGOT_OK) st = ingot_mul(&delta, g, rate);
    if (st == INGOT_OK) st = ingot_sub(&next, *w, delta);
    ingot_array_free(rate);
    ingot_array_free(delta);
    if (st == INGOT_OK) {
        ingot_array_free(*w);
        *w = next;
    }
    return st;
}

/* Saves the fitted weights with ingot_safetensors_save, maps them back and
 * checks the round trip is bit-exact. */
static ingot_status save_and_reload(const ingot_array *w) {
    char dir[] = "/tmp/ingot-demo-XXXXXX", path[64];
    if (!mkdtemp(dir)) {
        fprintf(stderr, "ingot demo: cannot create a temporary folder\n");
        return INGOT_ERR_IO;
    }
    snprintf(path, sizeof path, "%s/weights.safetensors", dir);
    const char *names[1] = {"linear.weight"}, *keys[1] = {"format"}, *values[1] = {"pt"};
    ingot_safetensors *st = NULL;
    ingot_array *back = NULL;
    ingot_status s = ingot_safetensors_save(path, names, &w, 1, keys, values, 1);
    if (s == INGOT_OK) s = ingot_safetensors_open(&st, path);
    if (s == INGOT_OK) s = ingot_safetensors_get(&back, st, "linear.weight");
    if (s == INGOT_OK) {
        float a[FEATURES], b[FEATURES];
        s = ingot_array_to_host(a, sizeof a, INGOT_F32, w);
        if (s == INGOT_OK) s = ingot_array_to_host(b, sizeof b, INGOT_F32, back);
        if (s == INGOT_OK)
            printf("saved %s and mapped it back: %s\n", path,
                   memcmp(a, b, sizeof a) ? "MISMATCH" : "bit-identical");
    }
    ingot_array_free(back);
    ingot_safetensors_close(st);
    remove(path);
    rmdir(dir);
    return s;
}

static int run(void) {
    ingot_rng rng = ingot_rng_seed(2026);
    int64_t xs[2] = {SAMPLES, FEATURES}, ws[2] = {FEATURES, 1}, ys[2] = {SAMPLES, 1};
    problem p = {0};
    ingot_array *w_true = NULL, *noise = NULL, *clean = NULL, *w = NULL, *loss = NULL, *g = NULL;
    ingot_status st = ingot_random_normal(&p.x, &rng, INGOT_F32, xs, 2, 0.0, 1.0);
    if (st == INGOT_OK) st = ingot_random_uniform(&w_true, &rng, INGOT_F32, ws, 2, -2.0, 2.0);
    if (st == INGOT_OK) st = ingot_random_normal(&noise, &rng, INGOT_F32, ys, 2, 0.0, 0.01);
    if (st == INGOT_OK) st = ingot_matmul(&clean, p.x, w_true);
    if (st == INGOT_OK) st = ingot_add(&p.y, clean, noise);
    if (st == INGOT_OK) st = ingot_zeros(&w, INGOT_F32, ws, 2);
    if (st) goto done;

    printf("ingot %s: fitting y = x @ w (%d samples, %d features) by gradient descent\n",
           ingot_version(), SAMPLES, FEATURES);
    for (int step = 0; step <= STEPS && st == INGOT_OK; step++) {
        st = ingot_value_and_grad(&loss, &g, loss_fn, &p, &w, 1);
        if (st) break;
        double l;
        ingot_array_item(&l, loss);
        if (step % 10 == 0) printf("  step %2d  loss %.6f\n", step, l);
        st = sgd_step(&w, g, 0.1);
        ingot_array_free(loss);
        ingot_array_free(g);
        loss = g = NULL;
    }
    if (st) goto done;
    float got[FEATURES], want[FEATURES];
    st = ingot_array_to_host(got, sizeof got, INGOT_F32, w);
    if (st == INGOT_OK) st = ingot_array_to_host(want, sizeof want, INGOT_F32, w_true);
    if (st) goto done;
    double worst = 0;
    for (int i = 0; i < FEATURES; i++) worst = fmax(worst, fabs(got[i] - want[i]));
    printf("largest weight error after %d steps: %.4f\n", STEPS, worst);

    st = save_and_reload(w);
    if (st) goto done;

    ingot_memory_stats mem;
    ingot_memory_stats_get(&mem, ingot_cpu());
    printf("CPU memory: %zu bytes active, %zu peak; %d threads\n", mem.active, mem.peak,
           ingot_get_num_threads());
    printf("Text generation arrives with the model loaders; see README.md.\n");
done:
    ingot_array_free(p.x);
    ingot_array_free(p.y);
    ingot_array_free(w_true);
    ingot_array_free(noise);
    ingot_array_free(clean);
    ingot_array_free(w);
    ingot_array_free(loss);
    ingot_array_free(g);
    return st ? cli_fail("demo", st) : 0;
}

int cli_demo(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: ingot demo\n\nFits a small linear model with gradient descent on the "
               "CPU\n(random data, autograd through matmul/sub/square/mean).\n");
        return 0;
    }
    if (argc > 0) {
        fprintf(stderr, "ingot demo: unexpected argument '%s'\n", argv[0]);
        return 2;
    }
    return run();
}
