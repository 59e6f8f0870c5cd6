/* The sampling chain of engine.h on crafted distributions: each step's
 * surviving set and probabilities computed by hand (or with plain double
 * loops here), the order of the chain, greedy ties, the seed, statistics of
 * the draws (fixed seeds, bounds of several standard deviations), errors. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ingot/engine.h"

#define V 4
#define TOL 1e-6

/* The sampler's distribution for logits under params (with history). */
static void probs_of(float *out, const ingot_sampler_params *p, const float *logits, int64_t n,
                     const int32_t *history, size_t n_history) {
    ingot_sampler *s;
    TU_OK(ingot_sampler_new(&s, p, n));
    TU_OK(ingot_sampler_accept(s, history, n_history));
    TU_OK(ingot_sampler_probs(out, s, logits, n));
    ingot_sampler_free(s);
}

/* softmax(logits / t) restricted to keep[] (1 = kept), in double. */
static void reference(double *out, const float *logits, int n, double t, const int *keep) {
    double top = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++)
        if (keep[i]) top = fmax(top, logits[i] / t);
    for (int i = 0; i < n; i++) {
        out[i] = keep[i] ? exp(logits[i] / t - top) : 0.0;
        sum += out[i];
    }
    for (int i = 0; i < n; i++)
        out[i] /= sum;
}

static void expect_probs(const float *got, const double *want, int n, const char *what) {
    for (int i = 0; i < n; i++)
        if (fabs(got[i] - want[i]) > TOL)
            fail_msg("%s: p[%d] = %.9g, want %.9g", what, i, (double)got[i], want[i]);
}

static void expect_kept(const ingot_sampler_params *p, const float *logits, const int *keep,
                        double t, const char *what) {
    float got[V];
    double want[V];
    probs_of(got, p, logits, V, NULL, 0);
    reference(want, logits, V, t, keep);
    expect_probs(got, want, V, what);
}

/* probabilities 0.5, 0.3, 0.15, 0.05 as logits */
static float g_p4[V];

static int setup(void **state) {
    (void)state;
    const double p[V] = {0.5, 0.3, 0.15, 0.05};
    for (int i = 0; i < V; i++)
        g_p4[i] = (float)log(p[i]);
    return 0;
}

static void test_greedy(void **state) {
    (void)state;
    const float l[V] = {1.0f, 3.0f, 3.0f, -2.0f};
    ingot_sampler_params p = {0};
    float got[V];
    probs_of(got, &p, l, V, NULL, 0);
    expect_probs(got, (const double[]){0, 1, 0, 0}, V, "greedy one-hot, first of a tie");
    ingot_sampler *s;
    TU_OK(ingot_sampler_new(&s, NULL, V));
    int32_t id;
    for (int k = 0; k < 3; k++) {
        TU_OK(ingot_sampler_sample(&id, s, l, V));
        assert_int_equal(id, 1);
    }
    /* NaN is -inf; filters are ignored at temperature 0 */
    const float nan_l[V] = {NAN, 0.5f, 2.0f, 1.0f};
    TU_OK(ingot_sampler_sample(&id, s, nan_l, V));
    assert_int_equal(id, 2);
    ingot_sampler_free(s);
}

static void test_temperature(void **state) {
    (void)state;
    const float l[V] = {1.0f, 2.0f, 0.5f, -1.0f};
    const int all[V] = {1, 1, 1, 1};
    for (int k = 0; k < 3; k++) {
        float t = (float[]){1.0f, 0.5f, 2.5f}[k];
        ingot_sampler_params p = {.temperature = t};
        expect_kept(&p, l, all, t, "temperature");
    }
}

/* Fails unless the sampler's distribution is finite, sums to 1 and is want
 * (by hand), and unless draws land where want is positive. */
static void expect_limit(const ingot_sampler_params *p, const float *l, const double *want,
                         const char *what) {
    float got[V];
    probs_of(got, p, l, V, NULL, 0);
    double sum = 0;
    for (int i = 0; i < V; i++) {
        if (!isfinite(got[i])) fail_msg("%s: p[%d] = %g", what, i, (double)got[i]);
        sum += got[i];
    }
    if (fabs(sum - 1.0) > TOL) fail_msg("%s: probabilities sum to %.9g", what, sum);
    expect_probs(got, want, V, what);
    ingot_sampler *s;
    TU_OK(ingot_sampler_new(&s, p, V));
    for (int k = 0; k < 16; k++) {
        int32_t id;
        TU_OK(ingot_sampler_sample(&id, s, l, V));
        if (id < 0 || id >= V || want[id] == 0.0) fail_msg("%s: drew id %d", what, (int)id);
    }
    ingot_sampler_free(s);
}

/* Temperatures whose l / t overflows float (l / 1e-38 = inf for l = 20):
 * the limit of the softmax, the maximum with probability 1 (shared among
 * tied maxima), with every filter in the chain too; +inf logits likewise. */
static void test_tiny_temperature(void **state) {
    (void)state;
    const float temps[] = {1e-38f, 1e-45f, FLT_MIN, FLT_TRUE_MIN, 1e-40f, 1e-30f};
    const float l[V] = {10.0f, 20.0f, 5.0f, -3.0f}, tie[V] = {20.0f, 3.0f, 20.0f, -3.0f};
    const float low_tie[V] = {1.0f, 20.0f, 1.0f, 1.0f}, far[V] = {-FLT_MAX, FLT_MAX, 0.0f, -1.0f};
    const double one[V] = {0, 1, 0, 0}, first[V] = {1, 0, 0, 0}, half[V] = {0.5, 0, 0.5, 0};
    for (size_t t = 0; t < sizeof temps / sizeof *temps; t++) {
        for (int f = 0; f < 5; f++) {
            ingot_sampler_params p = {.temperature = temps[t], .seed = (uint64_t)t};
            if (f == 1) p.top_k = 2;
            if (f == 2) p.top_p = 0.5f;
            if (f == 3) p.min_p = 0.1f;
            if (f == 4)
                p = (ingot_sampler_params){
                    .temperature = temps[t], .top_k = 1, .top_p = 0.9f, .min_p = 0.05f, .seed = 7};
            expect_limit(&p, l, one, "tiny temperature");
            expect_limit(&p, low_tie, one, "tiny temperature, ties below the maximum");
            expect_limit(&p, far, one, "tiny temperature, logits +-FLT_MAX");
            /* top-p 0.5 keeps the lower id of the tie: the mass before the
             * other reaches 0.5 */
            expect_limit(&p, tie, f == 2 ? first : half, "tiny temperature, a tied maximum");
        }
    }
    ingot_sampler_params p = {.temperature = 1.0f};
    const float inf[V] = {INFINITY, 0.0f, INFINITY, 1.0f};
    expect_limit(&p, inf, half, "+inf logits at temperature 1");
}

static void test_top_k(void **state) {
    (void)state;
    const float l[V] = {1.0f, 3.0f, 2.0f, 0.0f};
    ingot_sampler_params p = {.temperature = 1.0f, .top_k = 2};
    expect_kept(&p, l, (const int[]){0, 1, 1, 0}, 1.0, "top_k 2");
    p.top_k = 1;
    expect_kept(&p, l, (const int[]){0, 1, 0, 0}, 1.0, "top_k 1");
    p.top_k = 10; /* more than the vocabulary: off */
    expect_kept(&p, l, (const int[]){1, 1, 1, 1}, 1.0, "top_k 10");
    /* ties with the k-th are kept (transformers) */
    const float tie[V] = {3.0f, 2.0f, 2.0f, 0.0f};
    p.top_k = 2;
    expect_kept(&p, tie, (const int[]){1, 1, 1, 0}, 1.0, "top_k tie");
}

static void test_top_p(void **state) {
    (void)state;
    ingot_sampler_params p = {.temperature = 1.0f, .top_p = 0.75f};
    expect_kept(&p, g_p4, (const int[]){1, 1, 0, 0}, 1.0, "top_p 0.75");
    p.top_p = 0.85f;
    expect_kept(&p, g_p4, (const int[]){1, 1, 1, 0}, 1.0, "top_p 0.85");
    p.top_p = 0.4f; /* the first token alone already covers it */
    expect_kept(&p, g_p4, (const int[]){1, 0, 0, 0}, 1.0, "top_p 0.4");
    p.top_p = 0.99f;
    expect_kept(&p, g_p4, (const int[]){1, 1, 1, 1}, 1.0, "top_p 0.99");
    /* after temperature 2: sqrt(p) renormalised = .379 .294 .208 .120 */
    p = (ingot_sampler_params){.temperature = 2.0f, .top_p = 0.6f};
    expect_kept(&p, g_p4, (const int[]){1, 1, 0, 0}, 2.0, "top_p 0.6 at T 2");
    p.top_p = 0.75f;
    expect_kept(&p, g_p4, (const int[]){1, 1, 1, 0}, 2.0, "top_p 0.75 at T 2");
}

static void test_min_p(void **state) {
    (void)state;
    ingot_sampler_params p = {.temperature = 1.0f, .min_p = 0.5f}; /* bound 0.25 */
    expect_kept(&p, g_p4, (const int[]){1, 1, 0, 0}, 1.0, "min_p 0.5");
    p.min_p = 0.2f; /* bound 0.1 */
    expect_kept(&p, g_p4, (const int[]){1, 1, 1, 0}, 1.0, "min_p 0.2");
    p.min_p = 1.0f;
    expect_kept(&p, g_p4, (const int[]){1, 0, 0, 0}, 1.0, "min_p 1");
    /* after temperature 2 the bound 0.5 * .379 = .19 keeps .294 and .208 */
    p = (ingot_sampler_params){.temperature = 2.0f, .min_p = 0.5f};
    expect_kept(&p, g_p4, (const int[]){1, 1, 1, 0}, 2.0, "min_p 0.5 at T 2");
}

static void test_filters_compose(void **state) {
    (void)state;
    /* top-p sees top-k's renormalised survivors: alone, top-p 0.6 keeps .5
     * and .3 (mass before .3 is .5); after top-k 2 (.625 .375) the mass
     * before the second is .625 and it goes */
    ingot_sampler_params p = {.temperature = 1.0f, .top_p = 0.6f};
    expect_kept(&p, g_p4, (const int[]){1, 1, 0, 0}, 1.0, "top_p alone");
    p.top_k = 2;
    expect_kept(&p, g_p4, (const int[]){1, 0, 0, 0}, 1.0, "top_k then top_p");
    /* all three: top-k 3, top-p 0.9 (.526 .316 .158: all kept), min-p 0.5
     * (bound .263 drops .158) */
    p = (ingot_sampler_params){.temperature = 1.0f, .top_k = 3, .top_p = 0.9f, .min_p = 0.5f};
    expect_kept(&p, g_p4, (const int[]){1, 1, 0, 0}, 1.0, "top_k, top_p, min_p");
}

static void test_penalties(void **state) {
    (void)state;
    const float l[V] = {2.0f, -1.0f, 0.5f, 1.0f};
    const int32_t hist[] = {0, 1, 1};
    const int all[V] = {1, 1, 1, 1};
    float got[V];
    double want[V];
    /* repetition 2: 2 -> 1 (positive divided), -1 -> -2 (negative multiplied),
     * once per distinct id */
    ingot_sampler_params p = {.temperature = 1.0f, .repetition_penalty = 2.0f};
    probs_of(got, &p, l, V, hist, 3);
    reference(want, (const float[]){1.0f, -2.0f, 0.5f, 1.0f}, V, 1.0, all);
    expect_probs(got, want, V, "repetition");
    /* presence 0.5, frequency 0.25: id 0 (once) -0.75, id 1 (twice) -1.0 */
    p = (ingot_sampler_params){
        .temperature = 1.0f, .presence_penalty = 0.5f, .frequency_penalty = 0.25f};
    probs_of(got, &p, l, V, hist, 3);
    reference(want, (const float[]){1.25f, -2.0f, 0.5f, 1.0f}, V, 1.0, all);
    expect_probs(got, want, V, "presence/frequency");
    /* the window: the last id only (1, once) */
    p.penalty_last_n = 1;
    probs_of(got, &p, l, V, hist, 3);
    reference(want, (const float[]){2.0f, -1.75f, 0.5f, 1.0f}, V, 1.0, all);
    expect_probs(got, want, V, "penalty_last_n 1");
    /* repetition, then presence/frequency, then temperature 2 */
    p = (ingot_sampler_params){
        .temperature = 2.0f, .repetition_penalty = 2.0f, .presence_penalty = 0.5f};
    probs_of(got, &p, l, V, hist, 3);
    reference(want, (const float[]){0.5f, -2.5f, 0.5f, 1.0f}, V, 2.0, all);
    expect_probs(got, want, V, "repetition, presence, temperature");
    /* greedy sees the penalties: 2 -> 1 loses to id 3 (first of a 1/1 tie is 0,
     * so use penalty 4: 0.5) */
    p = (ingot_sampler_params){.repetition_penalty = 4.0f};
    probs_of(got, &p, l, V, hist, 3);
    expect_probs(got, (const double[]){0, 0, 0, 1}, V, "greedy after the penalty");
}

static void test_logit_bias(void **state) {
    (void)state;
    const float l[V] = {2.0f, 1.0f, 0.5f, 1.0f};
    const ingot_logit_bias bias[] = {{0, -INFINITY}, {2, 1.0f}};
    ingot_sampler_params p = {.temperature = 1.0f, .logit_bias = bias, .n_logit_bias = 2};
    float got[V];
    double want[V];
    probs_of(got, &p, l, V, NULL, 0);
    reference(want, (const float[]){0.0f, 1.0f, 1.5f, 1.0f}, V, 1.0, (const int[]){0, 1, 1, 1});
    expect_probs(got, want, V, "bias");
    /* the bias comes before the repetition penalty: 1.5 / 3 = 0.5 */
    p.repetition_penalty = 3.0f;
    probs_of(got, &p, l, V, (const int32_t[]){2}, 1);
    reference(want, (const float[]){0.0f, 1.0f, 0.5f, 1.0f}, V, 1.0, (const int[]){0, 1, 1, 1});
    expect_probs(got, want, V, "bias before penalty");
    /* greedy with a ban */
    p = (ingot_sampler_params){.logit_bias = bias, .n_logit_bias = 1};
    probs_of(got, &p, l, V, NULL, 0);
    expect_probs(got, (const double[]){0, 1, 0, 0}, V, "greedy with a ban");
    /* the bias array is copied */
    ingot_logit_bias tmp = {3, 10.0f};
    ingot_sampler *s;
    p = (ingot_sampler_params){.logit_bias = &tmp, .n_logit_bias = 1};
    TU_OK(ingot_sampler_new(&s, &p, V));
    tmp.id = 1;
    int32_t id;
    TU_OK(ingot_sampler_sample(&id, s, l, V));
    assert_int_equal(id, 3);
    ingot_sampler_free(s);
}

/* Draws n ids; counts[V]. */
static void draw(int *counts, ingot_sampler *s, const float *l, int n) {
    memset(counts, 0, V * sizeof *counts);
    for (int k = 0; k < n; k++) {
        int32_t id;
        TU_OK(ingot_sampler_sample(&id, s, l, V));
        assert_true(id >= 0 && id < V);
        counts[id]++;
    }
}

static void test_draw_statistics(void **state) {
    (void)state;
    enum { N = 20000 };
    const double p[V] = {0.5, 0.3, 0.15, 0.05};
    int counts[V];
    ingot_sampler_params sp = {.temperature = 1.0f, .seed = 7};
    ingot_sampler *s;
    TU_OK(ingot_sampler_new(&s, &sp, V));
    draw(counts, s, g_p4, N);
    for (int i = 0; i < V; i++) { /* within 5 standard deviations */
        double mean = N * p[i], sd = sqrt(N * p[i] * (1 - p[i]));
        if (fabs(counts[i] - mean) > 5 * sd)
            fail_msg("id %d drawn %d times of %d, expected %.0f +- %.0f", i, counts[i], N, mean,
                     5 * sd);
    }
    ingot_sampler_free(s);
    /* top-k 2: only ids 0 and 1, in ratio 5:3 */
    sp.top_k = 2;
    TU_OK(ingot_sampler_new(&s, &sp, V));
    draw(counts, s, g_p4, N);
    assert_int_equal(counts[2] + counts[3], 0);
    double q = 0.5 / 0.8, sd = sqrt(N * q * (1 - q));
    assert_true(fabs(counts[0] - N * q) < 5 * sd);
    ingot_sampler_free(s);
}

static void test_seed(void **state) {
    (void)state;
    enum { N = 64 };
    const float l[V] = {0.1f, 0.2f, 0.3f, 0.0f};
    int32_t a[N], b[N], c[N];
    ingot_sampler_params p = {.temperature = 1.0f, .seed = 42};
    ingot_sampler *s1, *s2, *s3;
    TU_OK(ingot_sampler_new(&s1, &p, V));
    TU_OK(ingot_sampler_new(&s2, &p, V));
    p.seed = 43;
    TU_OK(ingot_sampler_new(&s3, &p, V));
    for (int k = 0; k < N; k++) {
        TU_OK(ingot_sampler_sample(&a[k], s1, l, V));
        TU_OK(ingot_sampler_sample(&b[k], s2, l, V));
        TU_OK(ingot_sampler_sample(&c[k], s3, l, V));
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    /* reset replays the stream */
    ingot_sampler_reset(s1);
    for (int k = 0; k < N; k++) {
        TU_OK(ingot_sampler_sample(&b[k], s1, l, V));
        assert_int_equal(a[k], b[k]);
    }
    /* probs does not consume randomness */
    ingot_sampler_reset(s1);
    float pr[V];
    TU_OK(ingot_sampler_probs(pr, s1, l, V));
    TU_OK(ingot_sampler_sample(&b[0], s1, l, V));
    assert_int_equal(a[0], b[0]);
    ingot_sampler_free(s1);
    ingot_sampler_free(s2);
    ingot_sampler_free(s3);
}

static void test_large_vocab(void **state) {
    (void)state;
    /* 1000 logits: top-k 5 keeps exactly the 5 largest, renormalised */
    enum { N = 1000 };
    float *l = malloc(N * sizeof *l), *got = malloc(N * sizeof *got);
    int *keep = calloc(N, sizeof *keep);
    double *want = malloc(N * sizeof *want), *r = tu_random_values(N, 3, -4, 4);
    for (int i = 0; i < N; i++)
        l[i] = (float)r[i];
    for (int k = 0; k < 5; k++) { /* the k-th largest by a plain scan */
        int best = -1;
        for (int i = 0; i < N; i++)
            if (!keep[i] && (best < 0 || l[i] > l[best])) best = i;
        keep[best] = 1;
    }
    ingot_sampler_params p = {.temperature = 0.7f, .top_k = 5};
    probs_of(got, &p, l, N, NULL, 0);
    reference(want, l, N, 0.7, keep);
    expect_probs(got, want, N, "top_k 5 of 1000");
    /* top-p 0.9 and 0.3: the most likely first until the mass before reaches
     * p (selection by repeated scans, in double) */
    for (int t = 0; t < 2; t++) {
        double top_p = t ? 0.3 : 0.9, before = 0;
        int all[N];
        for (int i = 0; i < N; i++)
            all[i] = 1;
        reference(want, l, N, 0.7, all);
        memset(keep, 0, N * sizeof *keep);
        while (before < top_p) {
            int best = -1;
            for (int i = 0; i < N; i++)
                if (!keep[i] && (best < 0 || want[i] > want[best])) best = i;
            keep[best] = 1;
            before += want[best];
        }
        p = (ingot_sampler_params){.temperature = 0.7f, .top_p = (float)top_p};
        probs_of(got, &p, l, N, NULL, 0);
        reference(want, l, N, 0.7, keep);
        expect_probs(got, want, N, t ? "top_p 0.3 of 1000" : "top_p 0.9 of 1000");
    }
    free(l);
    free(got);
    free(keep);
    free(want);
    free(r);
}

static void test_errors(void **state) {
    (void)state;
    ingot_sampler *s = NULL;
    const float l[V] = {0, 0, 0, 0};
    TU_FAILS(ingot_sampler_new(NULL, NULL, V), INGOT_ERR_INVALID_ARGUMENT, "out");
    TU_FAILS(ingot_sampler_new(&s, NULL, 0), INGOT_ERR_INVALID_ARGUMENT, "vocab_size");
    ingot_sampler_params p = {.temperature = -1.0f};
    TU_FAILS(ingot_sampler_new(&s, &p, V), INGOT_ERR_INVALID_ARGUMENT, "temperature");
    p = (ingot_sampler_params){.min_p = 1.5f};
    TU_FAILS(ingot_sampler_new(&s, &p, V), INGOT_ERR_INVALID_ARGUMENT, "min_p");
    p = (ingot_sampler_params){.repetition_penalty = -2.0f};
    TU_FAILS(ingot_sampler_new(&s, &p, V), INGOT_ERR_INVALID_ARGUMENT, "repetition_penalty");
    p = (ingot_sampler_params){.presence_penalty = NAN};
    TU_FAILS(ingot_sampler_new(&s, &p, V), INGOT_ERR_INVALID_ARGUMENT, "finite");
    ingot_logit_bias b = {V, 1.0f};
    p = (ingot_sampler_params){.logit_bias = &b, .n_logit_bias = 1};
    TU_FAILS(ingot_sampler_new(&s, &p, V), INGOT_ERR_INVALID_ARGUMENT, "outside the vocabulary");
    b = (ingot_logit_bias){1, NAN};
    TU_FAILS(ingot_sampler_new(&s, &p, V), INGOT_ERR_INVALID_ARGUMENT, "NaN");
    p = (ingot_sampler_params){.n_logit_bias = 1};
    TU_FAILS(ingot_sampler_new(&s, &p, V), INGOT_ERR_INVALID_ARGUMENT, "logit_bias");
    assert_null(s);
    TU_OK(ingot_sampler_new(&s, NULL, V));
    int32_t id;
    TU_FAILS(ingot_sampler_sample(&id, s, l, V - 1), INGOT_ERR_INVALID_ARGUMENT, "3 logits");
    TU_FAILS(ingot_sampler_sample(&id, s, NULL, V), INGOT_ERR_INVALID_ARGUMENT, "logits");
    TU_FAILS(ingot_sampler_sample(NULL, s, l, V), INGOT_ERR_INVALID_ARGUMENT, "id");
    const float ninf[V] = {-INFINITY, -INFINITY, NAN, -INFINITY};
    TU_FAILS(ingot_sampler_sample(&id, s, ninf, V), INGOT_ERR_INVALID_ARGUMENT, "-inf");
    float pr[V];
    TU_FAILS(ingot_sampler_probs(pr, s, ninf, V), INGOT_ERR_INVALID_ARGUMENT, "-inf");
    TU_FAILS(ingot_sampler_accept(s, (const int32_t[]){1, 4}, 2), INGOT_ERR_INDEX, "id 4");
    TU_FAILS(ingot_sampler_accept(s, NULL, 1), INGOT_ERR_INVALID_ARGUMENT, "ids");
    TU_OK(ingot_sampler_accept(s, NULL, 0));
    ingot_sampler_free(s);
    ingot_sampler_free(NULL);
    ingot_sampler_reset(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_filters_compose),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_logit_bias),
        cmocka_unit_test(test_draw_statistics),
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_large_vocab),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_tiny_temperature),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
