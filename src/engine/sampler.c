/* The sampling chain of engine.h: logit bias, penalties, temperature, top-k,
 * top-p, min-p, then one seeded draw. */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "engine/engine_internal.h"
#include "ingot/random.h"

/* [V] working arrays of one evaluation of the chain. */
typedef struct scratch {
    float *l;       /* the logits as the chain changes them */
    float *prob;    /* the survivors' probabilities */
    int32_t *order; /* penalty counts, then the surviving ids (increasing) */
    int32_t *idx;   /* top-p's candidates */
} scratch;

static void scratch_free(scratch *w) {
    free(w->l);
    free(w->prob);
    free(w->order);
    free(w->idx);
}

static ingot_status scratch_new(scratch *w, int64_t vocab, const char *op) {
    size_t v = (size_t)vocab;
    w->l = calloc(v, sizeof *w->l);
    w->prob = calloc(v, sizeof *w->prob);
    w->order = calloc(v, sizeof *w->order);
    w->idx = calloc(v, sizeof *w->idx);
    if (w->l && w->prob && w->order && w->idx) return INGOT_OK;
    scratch_free(w);
    ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    return INGOT_ERR_OUT_OF_MEMORY; /* spelled out for the static analyzer */
}

struct ingot_sampler {
    ingot_sampler_params params; /* logit_bias points at bias below */
    ingot_logit_bias *bias;
    int64_t vocab;
    ingot_rng rng;
    int32_t *history;
    size_t n_history, cap_history;
    scratch w;
};

static bool is_off(float v, float off) { return v == 0.0f || v == off; }

static ingot_status check_params(const ingot_sampler_params *p, int64_t vocab) {
    const char *op = "sampler";
    if (!(p->temperature >= 0.0f) || !isfinite(p->temperature))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: temperature %g is not >= 0", op,
                            (double)p->temperature);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: min_p %g is not in [0, 1]", op,
                            (double)p->min_p);
    if (isnan(p->top_p)) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: top_p is NaN", op);
    if (!(p->repetition_penalty >= 0.0f) || !isfinite(p->repetition_penalty))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: repetition_penalty %g is not >= 0", op,
                            (double)p->repetition_penalty);
    if (!isfinite(p->presence_penalty) || !isfinite(p->frequency_penalty))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "%s: presence/frequency penalties must be finite", op);
    if (p->n_logit_bias && !p->logit_bias)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: logit_bias is NULL", op);
    for (size_t i = 0; i < p->n_logit_bias; i++) {
        ingot_logit_bias b = p->logit_bias[i];
        if (b.id < 0 || b.id >= vocab)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                                "%s: logit_bias[%zu] id %d is outside the vocabulary of %lld", op,
                                i, (int)b.id, (long long)vocab);
        if (isnan(b.bias) || b.bias == INFINITY)
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                                "%s: logit_bias[%zu] (id %d) is NaN or +inf", op, i, (int)b.id);
    }
    return INGOT_OK;
}

ingot_status ingot__check_sampler_params(const ingot_sampler_params *p, int64_t vocab_size) {
    if (vocab_size < 1 || vocab_size > INT32_MAX)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "sampler_new: vocab_size %lld",
                            (long long)vocab_size);
    return check_params(p, vocab_size);
}

ingot_status ingot_sampler_new(ingot_sampler **out, const ingot_sampler_params *params,
                               int64_t vocab_size) {
    INGOT__CHECK_NOT_NULL(out, "sampler_new");
    *out = NULL;
    ingot_sampler_params p = params ? *params : (ingot_sampler_params){0};
    ingot_status st = ingot__check_sampler_params(&p, vocab_size);
    if (st) return st;
    ingot_sampler *s = calloc(1, sizeof *s);
    if (!s) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "sampler_new: out of memory");
    s->vocab = vocab_size;
    if (p.n_logit_bias) {
        s->bias = malloc(p.n_logit_bias * sizeof *s->bias);
        if (!s->bias) {
            free(s);
            return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "sampler_new: out of memory");
        }
        memcpy(s->bias, p.logit_bias, p.n_logit_bias * sizeof *s->bias);
    }
    st = scratch_new(&s->w, vocab_size, "sampler_new");
    if (st) {
        free(s->bias);
        free(s);
        return st;
    }
    p.logit_bias = s->bias;
    s->params = p;
    s->rng = ingot_rng_seed(p.seed);
    *out = s;
    return INGOT_OK;
}

void ingot_sampler_free(ingot_sampler *s) {
    if (!s) return;
    free(s->bias);
    free(s->history);
    scratch_free(&s->w);
    free(s);
}

void ingot_sampler_reset(ingot_sampler *s) {
    if (!s) return;
    s->n_history = 0;
    s->rng = ingot_rng_seed(s->params.seed);
}

ingot_status ingot_sampler_accept(ingot_sampler *s, const int32_t *ids, size_t n) {
    INGOT__CHECK_NOT_NULL(s, "sampler_accept");
    if (n == 0) return INGOT_OK;
    INGOT__CHECK_NOT_NULL(ids, "sampler_accept");
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= s->vocab)
            return ingot__error(INGOT_ERR_INDEX,
                                "sampler_accept: id %d at %zu is outside the vocabulary of %lld",
                                (int)ids[i], i, (long long)s->vocab);
    return ingot__ids_append(&s->history, &s->n_history, &s->cap_history, ids, n, "sampler_accept");
}

/* Steps 2-3: repetition, presence and frequency penalties over the window;
 * counts[V] is scratch. */
static void apply_penalties(const ingot_sampler *s, float *l, int32_t *counts) {
    const ingot_sampler_params *p = &s->params;
    bool rep = !is_off(p->repetition_penalty, 1.0f);
    if (!rep && p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f) return;
    size_t start = 0;
    if (p->penalty_last_n > 0 && s->n_history > (size_t)p->penalty_last_n)
        start = s->n_history - (size_t)p->penalty_last_n;
    for (size_t i = start; i < s->n_history; i++)
        counts[s->history[i]] = 0;
    for (size_t i = start; i < s->n_history; i++)
        counts[s->history[i]]++;
    for (size_t i = start; i < s->n_history; i++) {
        int32_t id = s->history[i];
        int32_t c = counts[id];
        if (c == 0) continue; /* already penalised */
        counts[id] = 0;
        if (rep)
            l[id] = l[id] > 0.0f ? l[id] / p->repetition_penalty : l[id] * p->repetition_penalty;
        l[id] -= (float)c * p->frequency_penalty + p->presence_penalty;
    }
}

static _Thread_local const float *sort_keys; /* qsort has no context argument */

/* Positions j by decreasing sort_keys[j], lower j first among equals. */
static int by_key_desc(const void *a, const void *b) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (sort_keys[i] != sort_keys[j]) return sort_keys[i] > sort_keys[j] ? -1 : 1;
    return (i > j) - (i < j);
}

static int by_value(const void *a, const void *b) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    return (i > j) - (i < j);
}

/* Restores the min-heap property of heap[0..n) below slot i. */
static void sift_down(float *heap, int64_t n, int64_t i) {
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && heap[c + 1] < heap[c]) c++;
        if (heap[i] <= heap[c]) return;
        float t = heap[i];
        heap[i] = heap[c];
        heap[c] = t;
        i = c;
    }
}

/* The k-th largest of l[order[0..m)] (0 < k < m) with a min-heap of the k
 * largest so far in heap[k]: O(m log k), so top-k needs no full sort. */
static float kth_largest(const float *l, const int32_t *order, int64_t m, int64_t k, float *heap) {
    for (int64_t j = 0; j < k; j++)
        heap[j] = l[order[j]];
    for (int64_t i = k / 2 - 1; i >= 0; i--)
        sift_down(heap, k, i);
    for (int64_t j = k; j < m; j++)
        if (l[order[j]] > heap[0]) {
            heap[0] = l[order[j]];
            sift_down(heap, k, 0);
        }
    return heap[0];
}

/* Renormalises prob[0..m) to sum 1; returns m. */
static int64_t renormalise(float *prob, int64_t m) {
    double sum = 0.0;
    for (int64_t j = 0; j < m; j++)
        sum += prob[j];
    for (int64_t j = 0; j < m; j++)
        prob[j] = (float)(prob[j] / sum);
    return m;
}

/* Keeps the entries j of order/prob[0..m) for which keep[j] (a sorted list
 * of n positions); returns n. */
static int64_t compact(int32_t *order, float *prob, const int32_t *keep, int64_t n) {
    for (int64_t k = 0; k < n; k++) {
        order[k] = order[keep[k]];
        prob[k] = prob[keep[k]];
    }
    return n;
}

/* Top-p over prob[0..m) (sum 1, in id order): the smallest set of most
 * likely tokens whose mass reaches top_p. Only the tokens at or above a
 * threshold whose set already holds top_p are sorted (that set contains the
 * answer), so a peaked distribution over a large vocabulary costs a few
 * passes, not a sort. */
static int64_t top_p_filter(int32_t *order, float *prob, int64_t m, double top_p, int32_t *idx) {
    float top = 0.0f;
    for (int64_t j = 0; j < m; j++)
        top = prob[j] > top ? prob[j] : top;
    int64_t n = 0;
    for (float tau = top;; tau = tau > 1e-30f ? tau / 16.0f : 0.0f) {
        double mass = 0.0;
        n = 0;
        for (int64_t j = 0; j < m; j++)
            if (prob[j] >= tau) {
                mass += prob[j];
                idx[n++] = (int32_t)j;
            }
        if (mass >= top_p || tau == 0.0f) break;
    }
    sort_keys = prob;
    qsort(idx, (size_t)n, sizeof *idx, by_key_desc);
    double before = 0.0;
    int64_t k = 0;
    while (k < n && before < top_p)
        before += prob[idx[k++]];
    qsort(idx, (size_t)k, sizeof *idx, by_value);
    return compact(order, prob, idx, k);
}

/* prob[j] = exp((l[order[j]] - top) / t) for the m survivors, top their
 * largest logit, in double: the difference is scaled, not each logit, so no
 * t > 0 overflows (l / t could reach inf - inf). A t too small for the gaps
 * leaves 1 at the maxima and 0 elsewhere; a maximum of +inf is 1 as well. */
static void softmax(float *prob, const float *l, const int32_t *order, int64_t m, float top,
                    float t) {
    for (int64_t j = 0; j < m; j++) {
        float v = l[order[j]];
        prob[j] = v == top ? 1.0f : (float)exp(((double)v - (double)top) / (double)t);
    }
}

/* The whole chain over n logits: returns how many ids survive, 0 when
 * nothing is left after the bias and penalties; w->order[0..kept) are their
 * ids in increasing order, w->prob[0..kept) their probabilities. */
static int64_t distribution(const ingot_sampler *s, const float *logits, int64_t n,
                            const scratch *w) {
    const ingot_sampler_params *p = &s->params;
    float *l = w->l, *prob = w->prob;
    int32_t *order = w->order;
    for (int64_t i = 0; i < n; i++)
        l[i] = isnan(logits[i]) ? -INFINITY : logits[i];
    for (size_t i = 0; i < p->n_logit_bias; i++)
        l[p->logit_bias[i].id] += p->logit_bias[i].bias;
    apply_penalties(s, l, order);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (l[i] > -INFINITY) order[m++] = (int32_t)i;
    if (m == 0) return 0;
    if (p->temperature == 0.0f) { /* greedy: the first maximum */
        int32_t best = order[0];
        for (int64_t j = 1; j < m; j++)
            if (l[order[j]] > l[best]) best = order[j];
        order[0] = best;
        prob[0] = 1.0f;
        return 1;
    }
    /* top-k on the penalised logits: a positive temperature keeps their order */
    if (p->top_k > 0 && p->top_k < m) { /* ties with the k-th are kept */
        float kth = kth_largest(l, order, m, p->top_k, prob);
        int64_t k = 0;
        for (int64_t j = 0; j < m; j++)
            if (l[order[j]] >= kth) order[k++] = order[j];
        m = k;
    }
    float top = -INFINITY;
    for (int64_t j = 0; j < m; j++)
        top = l[order[j]] > top ? l[order[j]] : top;
    softmax(prob, l, order, m, top, p->temperature);
    m = renormalise(prob, m);
    if (p->top_p > 0.0f && p->top_p < 1.0f)
        m = renormalise(prob, top_p_filter(order, prob, m, p->top_p, w->idx));
    if (p->min_p > 0.0f) {
        float most = 0.0f;
        for (int64_t j = 0; j < m; j++)
            most = prob[j] > most ? prob[j] : most;
        float bound = p->min_p * most;
        int64_t k = 0;
        for (int64_t j = 0; j < m; j++)
            if (prob[j] >= bound) {
                order[k] = order[j];
                prob[k++] = prob[j];
            }
        m = renormalise(prob, k);
    }
    return m;
}

/* Runs the chain into w, *kept >= 1 on success; checks the arguments of
 * sample / probs. */
static ingot_status evaluate(const ingot_sampler *s, const float *logits, int64_t n,
                             const scratch *w, int64_t *kept, const char *op) {
    *kept = logits && n == s->vocab ? distribution(s, logits, n, w) : 0;
    if (*kept > 0) return INGOT_OK;
    INGOT__CHECK_NOT_NULL(logits, op);
    if (n != s->vocab)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "%s: %lld logits for a sampler of vocabulary %lld", op, (long long)n,
                            (long long)s->vocab);
    return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                        "%s: every logit is -inf after the bias and penalties", op);
}

ingot_status ingot_sampler_sample(int32_t *id, ingot_sampler *s, const float *logits, int64_t n) {
    const char *op = "sampler_sample";
    INGOT__CHECK_NOT_NULL(id, op);
    *id = -1;
    INGOT__CHECK_NOT_NULL(s, op);
    int64_t m = 0;
    ingot_status st = evaluate(s, logits, n, &s->w, &m, op);
    if (st) return st;
    float r = 0.0f;
    if (s->params.temperature > 0.0f) {
        ingot_array *u; /* [1] */
        int64_t one = 1;
        st = ingot_random_uniform(&u, &s->rng, INGOT_F32, &one, 1, 0.0, 1.0);
        if (st) return st;
        st = ingot_array_to_host(&r, sizeof r, INGOT_F32, u);
        ingot_array_free(u);
        if (st) return st;
    }
    double cum = 0.0;
    int64_t j = 0;
    for (; j + 1 < m; j++) {
        cum += s->w.prob[j];
        if ((double)r < cum) break;
    }
    *id = s->w.order[j];
    return INGOT_OK;
}

ingot_status ingot_sampler_probs(float *probs, const ingot_sampler *s, const float *logits,
                                 int64_t n) {
    const char *op = "sampler_probs";
    INGOT__CHECK_NOT_NULL(probs, op);
    INGOT__CHECK_NOT_NULL(s, op);
    scratch w;
    ingot_status st = scratch_new(&w, s->vocab, op);
    if (st) return st;
    int64_t m = 0;
    st = evaluate(s, logits, n, &w, &m, op);
    if (!st) {
        memset(probs, 0, (size_t)s->vocab * sizeof *probs);
        for (int64_t j = 0; j < m; j++)
            probs[w.order[j]] = w.prob[j];
    }
    scratch_free(&w);
    return st;
}
