/* Library-internal pieces shared by the engine's files. Not installed. */
#ifndef INGOT_ENGINE_INTERNAL_H
#define INGOT_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingot/engine.h"

/* Checks sampling parameters and a vocabulary of vocab_size ids as
 * ingot_sampler_new does, without making a sampler (sampler.c). */
ingot_status ingot__check_sampler_params(const ingot_sampler_params *p, int64_t vocab_size);

/* ---- the output side of one generated sequence (stream.c) ----
 * Collects the ids, decodes them into text through a streaming detokenizer,
 * holds back text that could start a stop string, and decides when the
 * sequence stops (EOS ids, stop ids, stop strings, the callback). */
typedef struct ingot__stream {
    const ingot_tokenizer *tok; /* NULL: ids only */
    int64_t tok_vocab;          /* ids at or past it decode to nothing */
    ingot_detokenizer *detok;
    const ingot_generate_options *opts;
    bool call_back;     /* call opts->callback */
    const int32_t *eos; /* the tokenizer's stop ids (none when ignored) */
    size_t n_eos;
    int32_t *ids;
    size_t n_ids, cap_ids;
    char *text;               /* everything decoded, NUL-terminated */
    size_t len, cap, emitted; /* text[0..emitted) went to the callback */
    bool done;
    ingot_stop_reason reason;
} ingot__stream;

/* Checks opts against the tokenizer (stop strings need one) and a vocabulary
 * of vocab ids, including the sampling parameters. */
ingot_status ingot__check_generate_options(const ingot_generate_options *opts,
                                           const ingot_tokenizer *tok, int64_t vocab,
                                           const char *op);

/* A fresh stream; opts must outlive it. call_back: call opts->callback. */
ingot_status ingot__stream_init(ingot__stream *st, const ingot_tokenizer *tok,
                                const ingot_generate_options *opts, bool call_back);

/* Takes one generated id; sets st->done and st->reason when it ends the
 * sequence. */
ingot_status ingot__stream_push(ingot__stream *st, int32_t id);

/* Marks the stream done with reason (unless it already is). */
void ingot__stream_stop(ingot__stream *st, ingot_stop_reason reason);

/* Flushes held-back text and moves the ids, text and stop reason into out
 * (metrics untouched). The stream is freed either way. */
ingot_status ingot__stream_finish(ingot__stream *st, ingot_generation *out);

/* Frees what the stream holds; zeroes it. */
void ingot__stream_free(ingot__stream *st);

/* Appends ids[0..n) to the growable array *buf holding *len of *cap ids
 * (doubling from 64). Errors: OUT_OF_MEMORY, message "op: out of memory". */
ingot_status ingot__ids_append(int32_t **buf, size_t *len, size_t *cap, const int32_t *ids,
                               size_t n, const char *op);

/* ---- batched forward passes (batch_forward.c) ---- */

/* Checks that every id of rows[0..n) is in [0, vocab) and no row is empty;
 * what names a row in messages ("prompt", "label"). */
ingot_status ingot__check_rows(const ingot_token_seq *rows, size_t n, int64_t vocab,
                               const char *what, const char *op);

/* The longest row. */
size_t ingot__max_row(const ingot_token_seq *rows, size_t n);

/* Runs the model on n rows left-padded to the longest (T): ids [n, T] with
 * pad id 0, positions t - pad (0 on the padding), attention mask 1 on real
 * tokens; appends to cache when not NULL (which must be empty). logits:
 * [n, 1, V] when last_only, else [n, T, V]. */
ingot_status ingot__forward_left_padded(ingot_array **logits, const ingot_model *m,
                                        const ingot_token_seq *rows, size_t n,
                                        ingot_kv_cache *cache, bool last_only);

/* Seconds on a monotonic clock. */
double ingot__now(void);

#endif
