/* Batch generation: many prompts decoded together, left-padded, with a
 * per-row attention mask and positions. */
#include <stdlib.h>

#include "core/internal.h"
#include "engine/engine_internal.h"
#include "ingot/device.h"

typedef struct batch {
    size_t n;
    int64_t V, context, T, steps; /* T: padded prompt length; steps: most decode steps */
    ingot_sampler **samplers;     /* [n] */
    ingot__stream *streams;       /* [n] */
    int64_t *generated;           /* [n] */
    float *logits;                /* [n, V] host */
    int32_t *next;                /* [n] the ids to feed */
    int32_t *pos;                 /* [n] their positions */
    ingot_array *mask;            /* [n, T + steps] */
    ingot_kv_cache *cache;
} batch;

static void batch_free(batch *b) {
    for (size_t i = 0; b->samplers && i < b->n; i++)
        ingot_sampler_free(b->samplers[i]);
    for (size_t i = 0; b->streams && i < b->n; i++)
        ingot__stream_free(&b->streams[i]);
    free(b->samplers);
    free(b->streams);
    free(b->generated);
    free(b->logits);
    free(b->next);
    free(b->pos);
    ingot_array_free(b->mask);
    ingot_kv_cache_free(b->cache);
}

/* The mask of every step at once: row i is 0 on its padding, 1 after it. */
static ingot_status make_mask(batch *b, const ingot_token_seq *prompts) {
    int64_t Tk = b->T + b->steps, shape[2] = {(int64_t)b->n, Tk};
    int32_t *mask = malloc(b->n * (size_t)Tk * sizeof *mask); /* [n, Tk] */
    if (!mask) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "generate_batch: out of memory");
    for (size_t i = 0; i < b->n; i++)
        for (int64_t t = 0; t < Tk; t++)
            mask[i * (size_t)Tk + (size_t)t] = t >= b->T - (int64_t)prompts[i].n;
    ingot_status st = ingot_array_from_data(&b->mask, mask, INGOT_I32, shape, 2);
    free(mask);
    return st;
}

static ingot_status batch_init(batch *b, const ingot_model *m, const ingot_tokenizer *tok,
                               const ingot_token_seq *prompts, size_t n,
                               const ingot_generate_options *o) {
    ingot_model_info info;
    ingot_model_get_info(&info, m);
    size_t shortest = prompts[0].n;
    for (size_t i = 1; i < n; i++)
        shortest = prompts[i].n < shortest ? prompts[i].n : shortest;
    b->n = n;
    b->V = info.vocab_size;
    b->context = info.context_length;
    b->T = (int64_t)ingot__max_row(prompts, n);
    b->steps = b->context - (int64_t)shortest;
    if (o->max_tokens > 0 && o->max_tokens < b->steps) b->steps = o->max_tokens;
    b->samplers = calloc(n, sizeof *b->samplers);
    b->streams = calloc(n, sizeof *b->streams);
    b->generated = calloc(n, sizeof *b->generated);
    b->logits = malloc(n * (size_t)b->V * sizeof *b->logits);
    b->next = calloc(n, sizeof *b->next);
    b->pos = calloc(n, sizeof *b->pos);
    if (!b->samplers || !b->streams || !b->generated || !b->logits || !b->next || !b->pos)
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "generate_batch: out of memory");
    ingot_status st = INGOT_OK;
    for (size_t i = 0; !st && i < n; i++) {
        ingot_sampler_params sp = o->sampling;
        sp.seed += i;
        st = ingot_sampler_new(&b->samplers[i], &sp, b->V);
        if (!st) st = ingot_sampler_accept(b->samplers[i], prompts[i].ids, prompts[i].n);
        if (!st) st = ingot__stream_init(&b->streams[i], tok, o, false);
        b->pos[i] = (int32_t)prompts[i].n;
    }
    if (!st) st = make_mask(b, prompts);
    if (!st) st = ingot_kv_cache_new(&b->cache, m, (int64_t)n, b->T + b->steps);
    return st;
}

/* Samples the next id of every running row; true when some row runs on. */
static ingot_status sample_rows(batch *b, const ingot_generate_options *o, bool *running) {
    *running = false;
    for (size_t i = 0; i < b->n; i++) {
        ingot__stream *s = &b->streams[i];
        if (s->done) continue;
        int32_t id;
        ingot_status st =
            ingot_sampler_sample(&id, b->samplers[i], b->logits + i * (size_t)b->V, b->V);
        if (!st) st = ingot_sampler_accept(b->samplers[i], &id, 1);
        if (!st) st = ingot__stream_push(s, id);
        if (st) return st;
        b->generated[i]++;
        if (o->max_tokens > 0 && b->generated[i] >= o->max_tokens)
            ingot__stream_stop(s, INGOT_STOP_MAX_TOKENS);
        if (b->pos[i] + 1 >= b->context) ingot__stream_stop(s, INGOT_STOP_CONTEXT);
        b->next[i] = id;
        *running |= !s->done;
    }
    return INGOT_OK;
}

/* Feeds next at pos (one token per row) and reads the logits back. */
static ingot_status step(batch *b, const ingot_model *m) {
    int64_t shape[2] = {(int64_t)b->n, 1};
    int64_t cur = ingot_kv_cache_length(b->cache) + 1;
    ingot_array *ids = NULL, *pos = NULL, *mask = NULL, *lg = NULL; /* [n,1] [n,1] [n,cur] */
    ingot_status st = ingot_array_from_data(&ids, b->next, INGOT_I32, shape, 2);
    if (!st) st = ingot_array_from_data(&pos, b->pos, INGOT_I32, shape, 2);
    if (!st) st = ingot_slice_axis(&mask, b->mask, 1, 0, cur);
    ingot_forward_options fo = {.positions = pos, .attention_mask = mask, .last_only = true};
    if (!st) st = ingot_model_forward(&lg, m, ids, b->cache, &fo); /* [n, 1, V] */
    if (!st)
        st = ingot_array_to_host(b->logits, b->n * (size_t)b->V * sizeof *b->logits, INGOT_F32, lg);
    for (size_t i = 0; i < b->n; i++)
        b->pos[i]++;
    ingot_array *arrays[] = {ids, pos, mask, lg};
    for (size_t i = 0; i < 4; i++)
        ingot_array_free(arrays[i]);
    return st;
}

static ingot_status run(batch *b, const ingot_model *m, const ingot_token_seq *prompts,
                        const ingot_generate_options *o, ingot_metrics *mt) {
    double t0 = ingot__now(), t1 = t0;
    ingot_model_info info;
    ingot_model_get_info(&info, m);
    ingot_device dev = info.device; /* whose peak the metrics report */
    ingot_memory_reset_peak(dev);
    ingot_array *lg; /* [n, 1, V] */
    ingot_status st = ingot__forward_left_padded(&lg, m, prompts, b->n, b->cache, true);
    if (st) return st;
    st = ingot_array_to_host(b->logits, b->n * (size_t)b->V * sizeof *b->logits, INGOT_F32, lg);
    ingot_array_free(lg);
    double tp = ingot__now();
    bool running = true;
    for (bool first = true; !st && running; first = false) {
        st = sample_rows(b, o, &running);
        if (first) t1 = ingot__now();
        if (!st && running) st = step(b, m);
    }
    double t2 = ingot__now();
    for (size_t i = 0; i < b->n; i++) {
        mt->prompt_tokens += (int64_t)prompts[i].n;
        mt->generated_tokens += b->generated[i];
    }
    mt->prefill_tokens = mt->prompt_tokens;
    mt->prefill_seconds = tp - t0;
    mt->time_to_first_token = t1 - t0;
    mt->decode_seconds = t2 - t1;
    if (mt->prefill_seconds > 0)
        mt->prefill_tokens_per_second = (double)mt->prefill_tokens / mt->prefill_seconds;
    if (mt->generated_tokens > (int64_t)b->n && mt->decode_seconds > 0)
        mt->decode_tokens_per_second =
            (double)(mt->generated_tokens - (int64_t)b->n) / mt->decode_seconds;
    ingot_memory_stats ms;
    if (ingot_memory_stats_get(&ms, dev) == INGOT_OK) mt->peak_memory = ms.peak;
    return st;
}

ingot_status ingot_generate_batch(ingot_generation *out, const ingot_model *m,
                                  const ingot_tokenizer *tok, const ingot_token_seq *prompts,
                                  size_t n, const ingot_generate_options *opts) {
    const char *op = "generate_batch";
    INGOT__CHECK_NOT_NULL(out, op);
    memset(out, 0, n * sizeof *out);
    INGOT__CHECK_NOT_NULL(m, op);
    ingot_model_info info;
    ingot_model_get_info(&info, m);
    ingot_generate_options o = opts ? *opts : (ingot_generate_options){0};
    ingot_status st = ingot__check_rows(prompts, n, info.vocab_size, "prompt", op);
    if (!st) st = ingot__check_generate_options(&o, tok, info.vocab_size, op);
    if (!st && (int64_t)ingot__max_row(prompts, n) >= info.context_length)
        st = ingot__error(INGOT_ERR_LIMIT,
                          "%s: a prompt of %zu tokens leaves no room in a context of %lld", op,
                          ingot__max_row(prompts, n), (long long)info.context_length);
    if (st) return st;
    batch b = {0};
    ingot_metrics mt = {0};
    st = batch_init(&b, m, tok, prompts, n, &o);
    if (!st) st = run(&b, m, prompts, &o, &mt);
    for (size_t i = 0; !st && i < n; i++) {
        st = ingot__stream_finish(&b.streams[i], &out[i]);
        out[i].metrics = mt;
    }
    if (st)
        for (size_t i = 0; i < n; i++)
            ingot_generation_free(&out[i]);
    batch_free(&b);
    return st;
}
