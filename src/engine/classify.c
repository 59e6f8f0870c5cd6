/* Classify (last-position logits, top-k) and label scoring over batched,
 * left-padded prefills. */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "engine/engine_internal.h"

/* Bytes of [rows, T, V] f32 logits that label scoring lets one pass make when
 * max_batch is 0. */
#define SCORE_LOGITS_BUDGET ((size_t)256 << 20)

/* Sets the OOM message; returns the status (spelled out for the analyzer). */
static ingot_status out_of_memory(const char *op) {
    ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    return INGOT_ERR_OUT_OF_MEMORY;
}

static int64_t vocab_of(const ingot_model *m) {
    ingot_model_info info;
    ingot_model_get_info(&info, m);
    return info.vocab_size;
}

static ingot_status check_model_rows(const ingot_model *m, const ingot_token_seq *rows, size_t n,
                                     const char *what, const char *op) {
    INGOT__CHECK_NOT_NULL(m, op);
    ingot_model_info info;
    ingot_model_get_info(&info, m);
    ingot_status st = ingot__check_rows(rows, n, info.vocab_size, what, op);
    if (st) return st;
    size_t T = ingot__max_row(rows, n);
    if ((int64_t)T > info.context_length)
        return ingot__error(INGOT_ERR_LIMIT, "%s: a %s of %zu tokens exceeds the context of %lld",
                            op, what, T, (long long)info.context_length);
    return INGOT_OK;
}

/* The last-position logits of rows into host[n * V], max_batch rows a pass. */
static ingot_status last_logits(float *host, const ingot_model *m, const ingot_token_seq *rows,
                                size_t n, size_t max_batch, int64_t V) {
    size_t step = max_batch ? max_batch : n;
    for (size_t at = 0; at < n; at += step) {
        size_t k = n - at < step ? n - at : step;
        ingot_array *lg; /* [k, 1, V] */
        ingot_status st = ingot__forward_left_padded(&lg, m, rows + at, k, NULL, true);
        if (st) return st;
        st =
            ingot_array_to_host(host + at * (size_t)V, k * (size_t)V * sizeof *host, INGOT_F32, lg);
        ingot_array_free(lg);
        if (st) return st;
    }
    return INGOT_OK;
}

ingot_status ingot_classify_logits(ingot_array **logits, const ingot_model *m,
                                   const ingot_token_seq *prompts, size_t n, size_t max_batch) {
    const char *op = "classify_logits";
    INGOT__CHECK_NOT_NULL(logits, op);
    *logits = NULL;
    ingot_status st = check_model_rows(m, prompts, n, "prompt", op);
    if (st) return st;
    int64_t V = vocab_of(m), shape[2] = {(int64_t)n, V};
    float *host = malloc(n * (size_t)V * sizeof *host); /* [n, V] */
    if (!host) return out_of_memory(op);
    st = last_logits(host, m, prompts, n, max_batch, V);
    if (!st) st = ingot_array_from_data(logits, host, INGOT_F32, shape, 2);
    free(host);
    return st;
}

/* log(sum(exp(row))) over V entries, in double. */
static double log_sum_exp(const float *row, int64_t V) {
    double top = -INFINITY, sum = 0.0;
    for (int64_t i = 0; i < V; i++)
        top = row[i] > top ? row[i] : top;
    if (top == -INFINITY) return top;
    for (int64_t i = 0; i < V; i++)
        sum += exp((double)row[i] - top);
    return top + log(sum);
}

/* The k largest entries of row (ties: lower id first) into ids/lp as
 * log-probabilities, by insertion into a sorted list; k <= V. */
static void top_k_row(int32_t *ids, float *lp, const float *row, int64_t V, int k) {
    int count = 0;
    for (int64_t i = 0; i < V; i++) {
        float v = row[i];
        if (count == k && !(v > row[ids[k - 1]])) continue;
        int j = count < k ? count++ : k - 1;
        for (; j > 0 && row[ids[j - 1]] < v; j--)
            ids[j] = ids[j - 1];
        ids[j] = (int32_t)i;
    }
    double lse = log_sum_exp(row, V);
    for (int j = 0; lp && j < k; j++)
        lp[j] = (float)((double)row[ids[j]] - lse);
}

ingot_status ingot_classify_topk(int32_t *ids, float *logprobs, const ingot_model *m,
                                 const ingot_token_seq *prompts, size_t n, size_t max_batch,
                                 int k) {
    const char *op = "classify_topk";
    INGOT__CHECK_NOT_NULL(ids, op);
    if (k < 1) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: k %d is < 1", op, k);
    ingot_status st = check_model_rows(m, prompts, n, "prompt", op);
    if (st) return st;
    int64_t V = vocab_of(m);
    int kk = (int64_t)k < V ? k : (int)V;
    float *host = malloc(n * (size_t)V * sizeof *host); /* [n, V] */
    if (!host) return out_of_memory(op);
    st = last_logits(host, m, prompts, n, max_batch, V);
    for (size_t i = 0; !st && i < n; i++) {
        top_k_row(ids + i * (size_t)k, logprobs ? logprobs + i * (size_t)k : NULL,
                  host + i * (size_t)V, V, kk);
        for (int j = kk; j < k; j++) {
            ids[i * (size_t)k + (size_t)j] = -1;
            if (logprobs) logprobs[i * (size_t)k + (size_t)j] = -INFINITY;
        }
    }
    free(host);
    return st;
}

/* Scores the pairs [first, first + k) of the prompts x labels grid (pair p:
 * prompt p / n_labels, label p % n_labels) with one forward pass over the
 * rows prompt + label. */
static ingot_status score_pass(double *scores, const ingot_model *m, const ingot_token_seq *prompts,
                               const ingot_token_seq *labels, size_t n_labels, size_t first,
                               size_t k, int64_t V) {
    size_t total = 0;
    for (size_t r = 0; r < k; r++)
        total += prompts[(first + r) / n_labels].n + labels[(first + r) % n_labels].n;
    ingot_token_seq *rows = malloc(k * sizeof *rows);
    int32_t *buf = malloc(total * sizeof *buf); /* the rows' ids one after another */
    ingot_array *lg = NULL;                     /* [k, T, V] */
    float *host = NULL;                         /* [k, T, V] */
    ingot_status st = rows && buf ? INGOT_OK : out_of_memory("score_labels");
    size_t T = 0;
    for (size_t r = 0, at = 0; !st && r < k; r++) {
        const ingot_token_seq *p = &prompts[(first + r) / n_labels];
        const ingot_token_seq *l = &labels[(first + r) % n_labels];
        memcpy(buf + at, p->ids, p->n * sizeof *p->ids);
        memcpy(buf + at + p->n, l->ids, l->n * sizeof *l->ids);
        rows[r] = (ingot_token_seq){buf + at, p->n + l->n};
        at += rows[r].n;
        T = rows[r].n > T ? rows[r].n : T;
    }
    if (!st) st = ingot__forward_left_padded(&lg, m, rows, k, NULL, false);
    if (!st) {
        host = malloc(k * T * (size_t)V * sizeof *host);
        st = host ? ingot_array_to_host(host, k * T * (size_t)V * sizeof *host, INGOT_F32, lg)
                  : out_of_memory("score_labels");
    }
    for (size_t r = 0; !st && r < k; r++) {
        const ingot_token_seq *p = &prompts[(first + r) / n_labels];
        const ingot_token_seq *l = &labels[(first + r) % n_labels];
        size_t pad = T - rows[r].n;
        double sum = 0.0;
        for (size_t j = 0; j < l->n; j++) { /* label token j is predicted at p->n + j - 1 */
            const float *row = host + (r * T + pad + p->n + j - 1) * (size_t)V;
            sum += (double)row[l->ids[j]] - log_sum_exp(row, V);
        }
        scores[first + r] = sum;
    }
    free(rows);
    free(buf);
    free(host);
    ingot_array_free(lg);
    return st;
}

ingot_status ingot_score_labels(double *scores, const ingot_model *m,
                                const ingot_token_seq *prompts, size_t n_prompts,
                                const ingot_token_seq *labels, size_t n_labels, size_t max_batch) {
    const char *op = "score_labels";
    INGOT__CHECK_NOT_NULL(scores, op);
    ingot_status st = check_model_rows(m, prompts, n_prompts, "prompt", op);
    if (!st) st = check_model_rows(m, labels, n_labels, "label", op);
    if (st) return st;
    ingot_model_info info;
    ingot_model_get_info(&info, m);
    int64_t V = info.vocab_size;
    size_t T = ingot__max_row(prompts, n_prompts) + ingot__max_row(labels, n_labels);
    if ((int64_t)T > info.context_length)
        return ingot__error(INGOT_ERR_LIMIT,
                            "%s: prompt and label of %zu tokens exceed the context of %lld", op, T,
                            (long long)info.context_length);
    size_t pairs = n_prompts * n_labels, step = max_batch;
    if (!step) {
        size_t row_bytes = T * (size_t)V * sizeof(float);
        step = SCORE_LOGITS_BUDGET / row_bytes ? SCORE_LOGITS_BUDGET / row_bytes : 1;
    }
    for (size_t at = 0; !st && at < pairs; at += step)
        st = score_pass(scores, m, prompts, labels, n_labels, at,
                        pairs - at < step ? pairs - at : step, V);
    return st;
}
