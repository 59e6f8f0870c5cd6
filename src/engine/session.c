/* Sessions: prefill with prefix reuse, then decode with streaming and stops. */
#include <stdlib.h>

#include "core/internal.h"
#include "engine/engine_internal.h"
#include "ingot/chat.h"
#include "ingot/device.h"

/* Prompt tokens per forward pass while prefilling (bounds the attention
 * scores' memory on long prompts). */
#define PREFILL_CHUNK 512

struct ingot_session {
    const ingot_model *m;
    const ingot_tokenizer *tok; /* may be NULL */
    int64_t vocab, limit;       /* limit: tokens the cache may hold */
    int64_t capacity;
    ingot_kv_cache *cache; /* NULL while empty */
    int32_t *held;         /* the ids the cache holds */
    size_t n_held, cap_held;
    float *logits;       /* [V] the last position's logits */
    ingot_device device; /* where the model computes */
    int64_t long_after;  /* ingot_model_info.rope_long_after (0: none) */
    bool long_keys;      /* the cached keys rotated with the long factors */
};

ingot_status ingot_session_new(ingot_session **out, const ingot_model *m,
                               const ingot_tokenizer *tok, int64_t capacity) {
    const char *op = "session_new";
    INGOT__CHECK_NOT_NULL(out, op);
    *out = NULL;
    INGOT__CHECK_NOT_NULL(m, op);
    ingot_model_info info;
    ingot_model_get_info(&info, m);
    if (capacity < 0)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: capacity %lld is negative", op,
                            (long long)capacity);
    if (tok && ingot_tokenizer_vocab_size(tok) > info.vocab_size)
        return ingot__error(
            INGOT_ERR_INVALID_ARGUMENT,
            "%s: the tokenizer's %lld ids do not fit the model's vocabulary of %lld", op,
            (long long)ingot_tokenizer_vocab_size(tok), (long long)info.vocab_size);
    ingot_session *s = calloc(1, sizeof *s);
    if (s) s->logits = malloc((size_t)info.vocab_size * sizeof *s->logits);
    if (!s || !s->logits) {
        free(s);
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    }
    s->m = m;
    s->tok = tok;
    s->vocab = info.vocab_size;
    s->capacity = capacity;
    s->limit = capacity && capacity < info.context_length ? capacity : info.context_length;
    s->device = info.device;
    s->long_after = info.rope_long_after;
    *out = s;
    return INGOT_OK;
}

void ingot_session_reset(ingot_session *s) {
    if (!s) return;
    ingot_kv_cache_free(s->cache);
    s->cache = NULL;
    s->n_held = 0;
}

void ingot_session_free(ingot_session *s) {
    if (!s) return;
    ingot_session_reset(s);
    free(s->held);
    free(s->logits);
    free(s);
}

const int32_t *ingot_session_tokens(const ingot_session *s, size_t *n) {
    if (!n) return NULL;
    *n = s ? s->n_held : 0;
    return s ? s->held : NULL;
}

/* Runs ids through the model after what the cache holds, in chunks; leaves
 * the last position's logits in s->logits. A longrope model (Phi-3) rotates a
 * sequence longer than long_after with the long factors, a shorter one with
 * the short ones: when the cached keys do not rotate as the whole sequence
 * does, everything is computed again, as transformers' Phi-3 generate drops
 * its cache when the sequence grows past the switch; the first chunk then
 * reaches past it. */
static ingot_status feed(ingot_session *s, const int32_t *ids, size_t n) {
    ingot_status st = INGOT_OK;
    size_t first = PREFILL_CHUNK;
    int32_t *all = NULL;
    if (s->long_after > 0) {
        bool want_long = (int64_t)(s->n_held + n) > s->long_after;
        if (s->n_held && want_long != s->long_keys) {
            all = malloc((s->n_held + n) * sizeof *all);
            if (!all) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "session: out of memory");
            memcpy(all, s->held, s->n_held * sizeof *all);
            memcpy(all + s->n_held, ids, n * sizeof *all);
            n += s->n_held;
            ids = all;
            ingot_session_reset(s);
        }
        if (want_long && (int64_t)first <= s->long_after) first = (size_t)s->long_after + 1;
        s->long_keys = want_long;
    }
    if (!s->cache) st = ingot_kv_cache_new(&s->cache, s->m, 1, s->capacity);
    for (size_t at = 0, k = 0; !st && at < n; at += k) {
        k = at ? PREFILL_CHUNK : first;
        k = n - at < k ? n - at : k;
        int64_t shape[2] = {1, (int64_t)k};
        ingot_array *a_ids = NULL, *lg = NULL; /* [1, k], [1, 1, V] */
        st = ingot_array_from_data(&a_ids, ids + at, INGOT_I32, shape, 2);
        ingot_forward_options o = {.last_only = true};
        if (!st) st = ingot_model_forward(&lg, s->m, a_ids, s->cache, &o);
        if (!st && at + k == n)
            st = ingot_array_to_host(s->logits, (size_t)s->vocab * sizeof *s->logits, INGOT_F32,
                                     lg);
        if (!st) st = ingot__ids_append(&s->held, &s->n_held, &s->cap_held, ids + at, k, "session");
        ingot_array_free(a_ids);
        ingot_array_free(lg);
    }
    free(all);
    return st;
}

/* Keeps the longest common prefix of the held ids and prompt (at most n - 1
 * ids); returns how many are kept. A rotating cache that cannot be trimmed
 * there is emptied. */
static ingot_status reuse_prefix(ingot_session *s, const int32_t *prompt, size_t n, size_t *kept) {
    size_t common = 0;
    while (common < s->n_held && common + 1 < n && s->held[common] == prompt[common])
        common++;
    *kept = common;
    if (common == s->n_held) return INGOT_OK;
    ingot_status st = ingot_kv_cache_trim(s->cache, (int64_t)common);
    if (st == INGOT_ERR_UNSUPPORTED) {
        ingot_clear_error();
        ingot_session_reset(s);
        *kept = 0;
        return INGOT_OK;
    }
    if (!st) s->n_held = common;
    return st;
}

/* t0: the call's start, tp: the prefill's end, t1: the first token, t2: the
 * end. */
static void finish_metrics(ingot_metrics *mt, const ingot_session *s, double t0, double tp,
                           double t1, double t2) {
    mt->prefill_seconds = tp - t0;
    mt->decode_seconds = t2 - t1;
    if (mt->prefill_tokens > 0 && mt->prefill_seconds > 0)
        mt->prefill_tokens_per_second = (double)mt->prefill_tokens / mt->prefill_seconds;
    if (mt->generated_tokens > 1 && mt->decode_seconds > 0)
        mt->decode_tokens_per_second = (double)(mt->generated_tokens - 1) / mt->decode_seconds;
    ingot_memory_stats ms;
    if (ingot_memory_stats_get(&ms, s->device) == INGOT_OK) mt->peak_memory = ms.peak;
}

/* Prefill (with reuse) and the decode loop; fills st and mt. */
static ingot_status run(ingot_session *s, ingot_sampler *smp, ingot__stream *st, ingot_metrics *mt,
                        const int32_t *prompt, size_t n, const ingot_generate_options *o) {
    double t0 = ingot__now();
    ingot_memory_reset_peak(s->device);
    size_t kept;
    ingot_status e = reuse_prefix(s, prompt, n, &kept);
    if (!e) e = feed(s, prompt + kept, n - kept);
    mt->prompt_tokens = (int64_t)n;
    mt->reused_tokens = (int64_t)kept;
    mt->prefill_tokens = (int64_t)(n - kept);
    double tp = ingot__now(), t1 = tp;
    while (!e) {
        int32_t id;
        e = ingot_sampler_sample(&id, smp, s->logits, s->vocab);
        if (!e) e = ingot_sampler_accept(smp, &id, 1);
        if (!e) e = ingot__stream_push(st, id);
        if (e) break;
        if (++mt->generated_tokens == 1) {
            t1 = ingot__now();
            mt->time_to_first_token = t1 - t0;
        }
        if (!st->done && o->max_tokens > 0 && mt->generated_tokens >= o->max_tokens)
            ingot__stream_stop(st, INGOT_STOP_MAX_TOKENS);
        if (!st->done && (int64_t)s->n_held + 1 >= s->limit)
            ingot__stream_stop(st, INGOT_STOP_CONTEXT);
        if (st->done) break;
        e = feed(s, &id, 1);
    }
    finish_metrics(mt, s, t0, tp, t1, ingot__now());
    return e;
}

ingot_status ingot_session_generate(ingot_generation *out, ingot_session *s, const int32_t *prompt,
                                    size_t n, const ingot_generate_options *opts) {
    const char *op = "session_generate";
    INGOT__CHECK_NOT_NULL(out, op);
    memset(out, 0, sizeof *out);
    INGOT__CHECK_NOT_NULL(s, op);
    ingot_generate_options o = opts ? *opts : (ingot_generate_options){0};
    ingot_token_seq row = {prompt, n};
    ingot_status e = ingot__check_rows(&row, 1, s->vocab, "prompt", op);
    if (!e) e = ingot__check_generate_options(&o, s->tok, s->vocab, op);
    if (!e && (int64_t)n >= s->limit)
        e = ingot__error(INGOT_ERR_LIMIT,
                         "%s: a prompt of %zu tokens leaves no room in a context of %lld", op, n,
                         (long long)s->limit);
    if (e) return e;
    int32_t *own = malloc((n + 1) * sizeof *own); /* prompt may point into s->held */
    if (!own) {
        ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
        return INGOT_ERR_OUT_OF_MEMORY; /* spelled out for the static analyzer */
    }
    memcpy(own, prompt, n * sizeof *own);
    ingot_sampler *smp = NULL;
    ingot__stream st;
    e = ingot_sampler_new(&smp, &o.sampling, s->vocab);
    if (!e) e = ingot_sampler_accept(smp, own, n);
    if (!e) e = ingot__stream_init(&st, s->tok, &o, true);
    if (!e) {
        e = run(s, smp, &st, &out->metrics, own, n, &o);
        if (!e)
            e = ingot__stream_finish(&st, out);
        else
            ingot__stream_free(&st);
    }
    ingot_sampler_free(smp);
    free(own);
    if (e) {
        ingot_session_reset(s);
        memset(out, 0, sizeof *out);
    }
    return e;
}

/* Clears out and checks the session of a call that takes text (it needs a
 * tokenizer). */
static ingot_status check_text_call(const ingot_session *s, ingot_generation *out, const char *op) {
    INGOT__CHECK_NOT_NULL(out, op);
    memset(out, 0, sizeof *out);
    INGOT__CHECK_NOT_NULL(s, op);
    if (!s->tok)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: the session has no tokenizer", op);
    return INGOT_OK;
}

ingot_status ingot_session_generate_text(ingot_generation *out, ingot_session *s, const char *text,
                                         size_t len, const ingot_encode_options *eopts,
                                         const ingot_generate_options *opts) {
    const char *op = "session_generate_text";
    ingot_status e = check_text_call(s, out, op);
    if (e) return e;
    ingot_encode_options eo = eopts ? *eopts : (ingot_encode_options){.parse_special = true};
    ingot_tokens ids = {0};
    e = ingot_tokenizer_encode(&ids, s->tok, text, len, &eo);
    if (!e && ids.count == 0)
        e = ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: the text encodes to no tokens", op);
    if (!e) e = ingot_session_generate(out, s, ids.ids, ids.count, opts);
    ingot_tokens_free(&ids);
    return e;
}

ingot_status ingot_session_chat(ingot_generation *out, ingot_session *s,
                                const char *conversation_json, size_t len,
                                const char *extra_vars_json, const ingot_generate_options *opts) {
    const char *op = "session_chat";
    ingot_status e = check_text_call(s, out, op);
    if (e) return e;
    char *text = NULL;
    size_t text_len = 0;
    e = ingot_chat_apply(&text, &text_len, s->tok, conversation_json, len, true, extra_vars_json);
    if (!e) e = ingot_session_generate_text(out, s, text, text_len, NULL, opts);
    free(text);
    return e;
}
