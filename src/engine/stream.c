/* The output side of a generated sequence: ids, streamed text, stop
 * conditions (EOS ids, stop ids, stop strings held back, the callback). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "engine/engine_internal.h"

double ingot__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

ingot_status ingot__check_generate_options(const ingot_generate_options *opts,
                                           const ingot_tokenizer *tok, int64_t vocab,
                                           const char *op) {
    if (opts->n_stop_ids && !opts->stop_ids)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: stop_ids is NULL", op);
    if (opts->n_stop_strings && !opts->stop_strings)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: stop_strings is NULL", op);
    if (opts->n_stop_strings && !tok)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: stop strings need a tokenizer", op);
    for (size_t i = 0; i < opts->n_stop_strings; i++)
        if (!opts->stop_strings[i] || !opts->stop_strings[i][0])
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: stop_strings[%zu] is %s", op, i,
                                opts->stop_strings[i] ? "empty" : "NULL");
    return ingot__check_sampler_params(&opts->sampling, vocab);
}

ingot_status ingot__stream_init(ingot__stream *st, const ingot_tokenizer *tok,
                                const ingot_generate_options *opts, bool call_back) {
    memset(st, 0, sizeof *st);
    st->tok = tok;
    st->opts = opts;
    st->call_back = call_back && opts->callback;
    if (!tok) return INGOT_OK;
    st->tok_vocab = ingot_tokenizer_vocab_size(tok);
    if (!opts->ignore_eos) ingot_tokenizer_stop_ids(&st->eos, &st->n_eos, tok);
    st->cap = 64;
    st->text = malloc(st->cap);
    if (!st->text) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "generate: out of memory");
    st->text[0] = '\0';
    ingot_status s = ingot_detokenizer_new(&st->detok, tok, opts->skip_special);
    if (s) ingot__stream_free(st);
    return s;
}

void ingot__stream_free(ingot__stream *st) {
    ingot_detokenizer_free(st->detok);
    free(st->ids);
    free(st->text);
    memset(st, 0, sizeof *st);
}

void ingot__stream_stop(ingot__stream *st, ingot_stop_reason reason) {
    if (st->done) return;
    st->done = true;
    st->reason = reason;
}

static bool contains(const int32_t *ids, size_t n, int32_t id) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

static ingot_status append_text(ingot__stream *st, const char *piece, size_t len) {
    char *t = ingot__grow(st->text, &st->cap, st->len + len + 1, 1, 64);
    if (!t) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "generate: out of memory");
    st->text = t;
    memcpy(st->text + st->len, piece, len);
    st->len += len;
    st->text[st->len] = '\0';
    return INGOT_OK;
}

/* Cuts the text at the earliest stop string starting at or after emitted
 * (none can start before: that text was held back); true when one was found. */
static bool cut_at_stop_string(ingot__stream *st) {
    const ingot_generate_options *o = st->opts;
    const char *first = NULL;
    for (size_t i = 0; i < o->n_stop_strings; i++) {
        const char *s = o->stop_strings[i];
        const char *at = memmem(st->text + st->emitted, st->len - st->emitted, s, strlen(s));
        if (at && (!first || at < first)) first = at;
    }
    if (!first) return false;
    st->len = (size_t)(first - st->text);
    st->text[st->len] = '\0';
    return true;
}

/* The end of the text that may be emitted: the start of the earliest suffix
 * that is a proper prefix of a stop string, or the whole text. */
static size_t safe_end(const ingot__stream *st) {
    const ingot_generate_options *o = st->opts;
    for (size_t p = st->emitted; p < st->len; p++) {
        size_t rest = st->len - p;
        for (size_t i = 0; i < o->n_stop_strings; i++) {
            const char *s = o->stop_strings[i];
            if (strlen(s) > rest && memcmp(s, st->text + p, rest) == 0) return p;
        }
    }
    return st->len;
}

/* Gives text[emitted..end) to the callback with id; a false return stops. */
static void emit(ingot__stream *st, int32_t id, size_t end) {
    const char *piece = st->text ? st->text + st->emitted : NULL;
    size_t n = end - st->emitted;
    st->emitted = end;
    if (!st->call_back) return;
    if (!st->opts->callback(st->opts->user, id, piece, n)) {
        st->call_back = false;
        ingot__stream_stop(st, INGOT_STOP_CALLBACK);
    }
}

ingot_status ingot__ids_append(int32_t **buf, size_t *len, size_t *cap, const int32_t *ids,
                               size_t n, const char *op) {
    if (n > *cap - *len) {
        int32_t *grown = ingot__grow(*buf, cap, *len + n, sizeof *grown, 64);
        if (!grown) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
        *buf = grown;
    }
    memcpy(*buf + *len, ids, n * sizeof *ids);
    *len += n;
    return INGOT_OK;
}

ingot_status ingot__stream_push(ingot__stream *st, int32_t id) {
    ingot_status s = ingot__ids_append(&st->ids, &st->n_ids, &st->cap_ids, &id, 1, "generate");
    if (s) return s;
    const ingot_generate_options *o = st->opts;
    bool is_eos = contains(st->eos, st->n_eos, id);
    bool is_stop = contains(o->stop_ids, o->n_stop_ids, id);
    if (is_eos || is_stop) {
        emit(st, id, st->emitted);
        ingot__stream_stop(st, is_eos ? INGOT_STOP_EOS : INGOT_STOP_ID);
        return INGOT_OK;
    }
    if (st->detok && id >= 0 && id < st->tok_vocab) {
        const char *piece;
        size_t n;
        s = ingot_detokenizer_push(&piece, &n, st->detok, id);
        if (!s) s = append_text(st, piece, n);
        if (s) return s;
        if (cut_at_stop_string(st)) {
            ingot__stream_stop(st, INGOT_STOP_STRING);
            emit(st, id, st->len);
            return INGOT_OK;
        }
    }
    emit(st, id, st->text ? safe_end(st) : 0);
    return INGOT_OK;
}

ingot_status ingot__stream_finish(ingot__stream *st, ingot_generation *out) {
    ingot_status s = INGOT_OK;
    if (st->detok && st->reason != INGOT_STOP_STRING) {
        const char *piece;
        size_t n;
        s = ingot_detokenizer_flush(&piece, &n, st->detok);
        if (!s) s = append_text(st, piece, n);
        if (!s) {
            if (cut_at_stop_string(st)) st->reason = INGOT_STOP_STRING;
            if (st->len > st->emitted) emit(st, -1, st->len);
        }
    }
    if (!s) {
        out->ids = st->ids;
        out->n_ids = st->n_ids;
        out->text = st->text;
        out->text_len = st->len;
        out->stop_reason = st->reason;
        st->ids = NULL;
        st->text = NULL;
    }
    ingot__stream_free(st);
    return s;
}

void ingot_generation_free(ingot_generation *g) {
    if (!g) return;
    free(g->ids);
    free(g->text);
    memset(g, 0, sizeof *g);
}
