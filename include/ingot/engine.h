/* ingot/engine.h - text generation: sampling, sessions, classify and score,
 * batch generation.
 *
 * The engine drives ingot_model_forward (model.h) with a KV cache:
 *  - a sampler turns one row of logits into a token id (temperature, top-k,
 *    top-p, min-p, repetition/presence/frequency penalties, logit bias, a
 *    seed; greedy at temperature 0);
 *  - a session prefills a prompt and decodes token by token, streaming each
 *    token's text to a callback, stopping on end-of-sequence ids, given stop
 *    ids, stop strings or a token budget, and measuring the call. A session
 *    keeps its KV cache between calls and reuses the longest common token
 *    prefix of the next prompt: multi-turn chat recomputes only the new turn;
 *  - classify and score run many prompts in one batched prefill (left padding
 *    with an attention mask and per-row positions);
 *  - batch generation decodes many prompts together, each row giving what it
 *    gives alone (the same ids up to floating-point differences of the
 *    batched forward pass that could flip a near tie).
 *
 * Token ids are int32_t, as in tokenizer.h (ingot_tokens.ids can be passed
 * straight in); ingot_model_forward itself takes them as an integer array.
 * Every fallible function returns an ingot_status with the thread's message
 * set (ingot_last_error); nothing stays allocated after a failed call or a
 * stopped generation, and outputs are left zeroed / NULL on failure.
 *
 * End of sequence: the model has no EOS ids of its own (model.h); the engine
 * takes them from the tokenizer (ingot_tokenizer_stop_ids). Without a
 * tokenizer nothing is an EOS id: pass the ids in
 * ingot_generate_options.stop_ids.
 *
 * Thread rule: the model and tokenizer are shared read-only; a sampler or a
 * session belongs to one thread at a time. */
#ifndef INGOT_ENGINE_H
#define INGOT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingot/array.h"
#include "ingot/model.h"
#include "ingot/status.h"
#include "ingot/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sampling ----
 *
 * The chain, applied to one row of logits (the order of Hugging Face
 * transformers' generate(): logits processors, then warpers):
 *   1. logit bias: logits[id] += bias for every entry (-INFINITY bans a token);
 *   2. repetition penalty (transformers' RepetitionPenaltyLogitsProcessor,
 *      llama.cpp's penalty_repeat): for every distinct id in the penalty
 *      window, a logit l becomes l / penalty when l > 0 and l * penalty
 *      otherwise;
 *   3. presence and frequency penalties (OpenAI's definition, as llama.cpp
 *      applies them): l -= count * frequency_penalty + (count > 0) *
 *      presence_penalty, count = occurrences of the id in the window;
 *   4. temperature 0: greedy - the argmax of the penalised logits (the lowest
 *      id among equal maxima); steps 5-8 are skipped;
 *   5. temperature: l /= temperature;
 *   6. top-k: keep the tokens whose logit is >= the k-th largest (ties at the
 *      boundary are all kept, as in transformers; compared before the
 *      division, whose order a positive temperature does not change);
 *   7. top-p: softmax (see below); in the order of decreasing probability
 *      (lower id first among equals) keep a token while the mass of the
 *      tokens before it is < top_p (the smallest such prefix whose mass
 *      reaches top_p; at least one token);
 *   8. min-p: drop tokens whose probability (after temperature and the
 *      filters above, renormalised) is < min_p * the largest probability;
 *   9. draw from the renormalised survivors with one uniform number from the
 *      sampler's ingot_rng (inverse CDF over the survivors in increasing id
 *      order), so the same seed and the same logits give the same tokens.
 * The softmax is computed as exp((l - max) / temperature) in double, so no
 * positive temperature overflows: one too small for the gaps between the
 * logits (1e-38, a subnormal) gives probability 1 to the maximum, shared
 * evenly among equal maxima (as among +inf logits), never NaN; that is the
 * greedy choice unless the maximum is tied.
 * The penalty window is the last penalty_last_n ids of the sampler's history
 * (ingot_sampler_accept), or the whole history when penalty_last_n <= 0 (as
 * transformers, which penalises the prompt and everything generated).
 * Sessions and batch generation put the prompt and every generated id in the
 * history. */

typedef struct ingot_logit_bias {
    int32_t id; /* in [0, vocab_size) */
    float bias; /* added to the logit; -INFINITY bans the token */
} ingot_logit_bias;

/* Zero-initialised (`ingot_sampler_params p = {0};`) means greedy with no
 * filter and no penalty. Values that switch a step off: temperature 0 (greedy),
 * top_k <= 0, top_p <= 0 or >= 1, min_p <= 0, repetition_penalty 0 or 1,
 * presence/frequency_penalty 0. */
typedef struct ingot_sampler_params {
    float temperature;                  /* >= 0; 0 = greedy */
    int32_t top_k;                      /* keep the k most likely; <= 0 = off */
    float top_p;                        /* nucleus mass in (0, 1); otherwise off */
    float min_p;                        /* in [0, 1]; 0 = off */
    float repetition_penalty;           /* > 0; 0 or 1 = off */
    float presence_penalty;             /* any finite value; 0 = off */
    float frequency_penalty;            /* any finite value; 0 = off */
    int32_t penalty_last_n;             /* window of the penalties; <= 0 = the whole
                                           history */
    const ingot_logit_bias *logit_bias; /* n_logit_bias entries (may be NULL when
                                           n_logit_bias is 0); copied, and a later
                                           entry for the same id adds to it */
    size_t n_logit_bias;
    uint64_t seed; /* the sampler's ingot_rng_seed */
} ingot_sampler_params;

typedef struct ingot_sampler ingot_sampler;

/* A sampler for logits rows of vocab_size entries. params may be NULL
 * (greedy); it is copied (the logit_bias array too), so it need not outlive
 * the call. On success *out is freed with ingot_sampler_free; on error it is
 * NULL. Errors: INVALID_ARGUMENT (NULL out, vocab_size outside [1, INT32_MAX],
 * a negative or
 * non-finite temperature, a NaN top_p, min_p outside [0, 1], a negative or
 * non-finite repetition_penalty, non-finite presence/frequency penalties,
 * logit_bias NULL with n_logit_bias > 0, a NaN or +inf bias, a bias id
 * outside the vocabulary: named), OUT_OF_MEMORY. */
ingot_status ingot_sampler_new(ingot_sampler **out, const ingot_sampler_params *params,
                               int64_t vocab_size);

/* Frees a sampler; NULL is ignored. */
void ingot_sampler_free(ingot_sampler *s);

/* Forgets the history and restarts the random stream at the seed; NULL is
 * ignored. */
void ingot_sampler_reset(ingot_sampler *s);

/* Appends n ids to the penalty history (ids is read during the call only;
 * it may be NULL when n is 0). Errors: INVALID_ARGUMENT (s NULL, ids NULL
 * with n > 0), INDEX (an id outside the vocabulary, named), OUT_OF_MEMORY; on
 * error the history is unchanged. */
ingot_status ingot_sampler_accept(ingot_sampler *s, const int32_t *ids, size_t n);

/* Samples one id into *id from n (= vocab_size) f32 logits on the host: the
 * chain above; advances the random stream by one counter (not at temperature
 * 0). logits is not modified. It does not add the id to the history: call
 * ingot_sampler_accept. NaN logits are treated as -inf. On error *id is -1
 * (when id is not NULL) and the stream does not advance.
 * Errors: INVALID_ARGUMENT (NULLs, n != vocab_size, every logit -inf after
 * the bias and penalties), OUT_OF_MEMORY. */
ingot_status ingot_sampler_sample(int32_t *id, ingot_sampler *s, const float *logits, int64_t n);

/* The distribution step 9 draws from, in the caller's probs[n] (0 for
 * removed tokens; one-hot at temperature 0), without consuming randomness:
 * what sample would draw from. For tests and for inspecting a configuration.
 * probs is untouched on error. Errors as sample (OUT_OF_MEMORY for its
 * scratch space). */
ingot_status ingot_sampler_probs(float *probs, const ingot_sampler *s, const float *logits,
                                 int64_t n);

/* ---- generation (shared by sessions and batch generation) ---- */

/* Called once per generated token with its id and the text it completes
 * (from the streaming detokenizer; possibly empty, and text that could be the
 * start of a stop string is held back until it is known not to be one, so
 * piece may hold text of earlier tokens). EOS and stop ids, and ids the
 * tokenizer does not know (model vocabulary past the tokenizer's), come with
 * an empty piece; piece is NULL with len 0 when there is no tokenizer. piece
 * is not NUL-terminated and is valid during the call only. Return false to
 * stop generation (the token is kept in the output); the callback is not
 * called again. Text still held back when generation ends comes in one more
 * call with id -1. The pieces concatenated equal the generation's text. The
 * callback must not call into the session that runs it. */
typedef bool (*ingot_token_callback)(void *user, int32_t id, const char *piece, size_t len);

/* Zero-initialised (`ingot_generate_options o = {0};`, or opts NULL) means
 * greedy sampling, no token limit (until an EOS id or the context), no stop
 * ids or strings, special tokens kept in the text, no callback. The pointers
 * are borrowed for the duration of the call. */
typedef struct ingot_generate_options {
    ingot_sampler_params sampling;
    int64_t max_tokens;      /* generated tokens at most; <= 0: until another stop or the
                                context length (or the session's capacity) */
    bool ignore_eos;         /* do not stop on the tokenizer's EOS ids
                                (ingot_tokenizer_stop_ids); stop_ids still stop */
    const int32_t *stop_ids; /* n_stop_ids more ids that end generation (may be
                                NULL when n_stop_ids is 0) */
    size_t n_stop_ids;
    const char *const *stop_strings; /* NUL-terminated, non-empty; need a tokenizer;
                                        matched in the decoded text */
    size_t n_stop_strings;
    bool skip_special;             /* leave special tokens out of the text */
    ingot_token_callback callback; /* may be NULL */
    void *user;
} ingot_generate_options;

/* Why a generation ended. */
typedef enum ingot_stop_reason {
    INGOT_STOP_MAX_TOKENS = 0, /* max_tokens generated */
    INGOT_STOP_EOS = 1,        /* an EOS id (not ignored) was generated */
    INGOT_STOP_ID = 2,         /* one of stop_ids was generated */
    INGOT_STOP_STRING = 3,     /* the text reached a stop string */
    INGOT_STOP_CALLBACK = 4,   /* the callback returned false */
    INGOT_STOP_CONTEXT = 5,    /* the model's context length, or the session's
                                  capacity, is reached */
} ingot_stop_reason;

/* Measurements of one call. Times are wall-clock seconds (monotonic clock). */
typedef struct ingot_metrics {
    int64_t prompt_tokens;    /* tokens of the prompt given (batch: all rows) */
    int64_t reused_tokens;    /* of them, taken from the session's cache (batch: 0) */
    int64_t prefill_tokens;   /* of them, computed: prompt_tokens - reused_tokens */
    int64_t generated_tokens; /* tokens sampled (the stop token included; batch:
                                 all rows) */
    double prefill_seconds;
    double decode_seconds;            /* from the first sampled token to the end */
    double prefill_tokens_per_second; /* prefill_tokens / prefill_seconds (0 if none) */
    double decode_tokens_per_second;  /* (generated_tokens - 1) / decode_seconds; batch:
                                         (generated_tokens - rows) / decode_seconds;
                                         0 if none */
    double time_to_first_token;       /* from the call's start to the first sampled token */
    size_t peak_memory;               /* the device's peak active bytes at the end of
                                         the call (ingot_memory_stats_get). The call
                                         resets the device's peak with
                                         ingot_memory_reset_peak at its start: that
                                         statistic is process-wide, so this clobbers
                                         any peak the caller or another thread was
                                         measuring, and allocations by other threads
                                         during the call are counted. Counts array
                                         buffers only: weights mapped from the files
                                         (the stored dtype) are not included,
                                         converted weights are. */
} ingot_metrics;

/* The result of one generation, filled by the library (the caller's struct;
 * any previous contents are overwritten, not freed: free them first). Zero-
 * initialise; free with ingot_generation_free (which zeroes it, so it can be
 * reused). ids and text are malloc'd and owned by the struct. */
typedef struct ingot_generation {
    int32_t *ids; /* n_ids generated ids, the stop token included */
    size_t n_ids;
    char *text; /* NUL-terminated text of the ids (without a stop
                   string and what follows it; EOS / stop ids are not
                   decoded into it; special tokens left out when
                   skip_special); NULL without a tokenizer */
    size_t text_len;
    ingot_stop_reason stop_reason;
    ingot_metrics metrics;
} ingot_generation;

/* Frees the ids and text and zeroes *g; NULL is ignored. */
void ingot_generation_free(ingot_generation *g);

/* ---- sessions ---- */

typedef struct ingot_session ingot_session;

/* A session on model m (which must outlive it) with tokenizer tok (may be
 * NULL: ids only, no text, no stop strings, no EOS ids; otherwise it must
 * outlive the session and its vocabulary must fit the model's). The EOS ids
 * are the tokenizer's ingot_tokenizer_stop_ids. capacity is the most tokens
 * the session's KV cache may hold (0, or more than the model's context
 * length: the context length); the cache is allocated on demand.
 * On success *out is freed with ingot_session_free; on error it is NULL.
 * Errors: INVALID_ARGUMENT (out or m NULL, capacity < 0, a tokenizer larger
 * than the model's vocabulary), OUT_OF_MEMORY. */
ingot_status ingot_session_new(ingot_session **out, const ingot_model *m,
                               const ingot_tokenizer *tok, int64_t capacity);

/* Frees a session and its cache; NULL is ignored. */
void ingot_session_free(ingot_session *s);

/* Empties the cache (frees it): the next prompt is computed from scratch.
 * NULL is ignored. */
void ingot_session_reset(ingot_session *s);

/* The ids whose keys and values the cache holds (*n of them), owned by s and
 * valid until the next call on s. n must not be NULL (NULL is then
 * returned); s NULL gives NULL with *n = 0. The pointer may be NULL when *n
 * is 0. */
const int32_t *ingot_session_tokens(const ingot_session *s, size_t *n);

/* Generates a continuation of prompt (n ids, n >= 1; read during the call
 * only, and it may point into ingot_session_tokens). The prompt is the
 * whole sequence, not an addition: the session keeps the longest common
 * prefix of prompt and the ids its cache holds (at most n - 1 of them, so the
 * last prompt position is always computed), trims the cache to it and
 * prefills only the rest (metrics.reused_tokens). A rotating (sliding-window)
 * cache that can no longer be trimmed there is recomputed from scratch.
 * After the call the cache holds the prompt and the generated ids except the
 * last one. opts may be NULL (greedy, no limit but EOS and the context).
 * The sampler is made fresh for each call from opts->sampling (same seed,
 * same output) and its history is the prompt. *out is filled on success (also
 * when stopped by the callback); free it with ingot_generation_free.
 * Errors: INVALID_ARGUMENT (s, out or prompt NULL, n == 0, stop_ids or
 * stop_strings NULL with a nonzero count, stop strings without a tokenizer,
 * a NULL or empty stop string, bad sampling parameters), INDEX (an id
 * outside the model's vocabulary, named), LIMIT (n >= the context length or
 * capacity: one position must be left for the first generated token),
 * OUT_OF_MEMORY, and any error of the forward pass. *out is zeroed on every
 * error. An argument error (found before any work) leaves the session as it
 * was; an error during prefill or decoding empties it (as
 * ingot_session_reset). */
ingot_status ingot_session_generate(ingot_generation *out, ingot_session *s, const int32_t *prompt,
                                    size_t n, const ingot_generate_options *opts);

/* As ingot_session_generate for len bytes of UTF-8 text, encoded by the
 * session's tokenizer with encode options eopts (NULL: no special tokens
 * added, special-token text parsed as those tokens, which is what a rendered
 * chat template needs; note that this differs from the all-false default of
 * ingot_tokenizer_encode). For multi-turn chat, render the whole conversation
 * with ingot_chat_apply (chat.h, add_generation_prompt true) and pass it
 * here each turn: the shared prefix of the earlier turns is reused.
 * Errors: as ingot_session_generate and ingot_tokenizer_encode
 * (INVALID_ARGUMENT for invalid UTF-8 unless replaced, LIMIT), and
 * INVALID_ARGUMENT without a tokenizer or for an empty encoding (these leave
 * the session as it was). */
ingot_status ingot_session_generate_text(ingot_generation *out, ingot_session *s, const char *text,
                                         size_t len, const ingot_encode_options *eopts,
                                         const ingot_generate_options *opts);

/* Multi-turn chat in one call: renders conversation_json (len bytes:
 * {"messages": [...]} and any other template variables) with the tokenizer's
 * chat template through ingot_chat_apply (chat.h; add_generation_prompt true;
 * extra_vars_json, NUL-terminated, may be NULL) and generates from the result
 * as
 * ingot_session_generate_text does with eopts NULL. Append the reply
 * (out->text) as an assistant message and the next user message, and call
 * again: the tokens of the earlier turns are reused from the cache.
 * Errors: as ingot_chat_apply (NOT_FOUND without a chat template) and
 * ingot_session_generate_text; INVALID_ARGUMENT without a tokenizer. */
ingot_status ingot_session_chat(ingot_generation *out, ingot_session *s,
                                const char *conversation_json, size_t len,
                                const char *extra_vars_json, const ingot_generate_options *opts);

/* ---- classify and score ---- */

/* One token sequence: n ids, borrowed (e.g. {t.ids, t.count} of an
 * ingot_tokens). */
typedef struct ingot_token_seq {
    const int32_t *ids;
    size_t n;
} ingot_token_seq;

/* The last position's logits of n prompts (each n >= 1 ids), computed in
 * batches of at most max_batch prompts (0: all at once), each batch one
 * left-padded forward pass with an attention mask and per-row positions.
 * *logits is a new [n, V] f32 array (V = the model's vocab_size; the caller
 * frees it with ingot_array_free; NULL on error); row i equals what prompt i
 * alone gives, up to floating-point differences of the batched pass.
 * Errors: INVALID_ARGUMENT (NULLs, n == 0, an empty prompt or one with NULL
 * ids), INDEX (an id outside the vocabulary: prompt and position named),
 * LIMIT (a prompt longer than the context), OUT_OF_MEMORY, the forward pass's
 * errors. */
ingot_status ingot_classify_logits(ingot_array **logits, const ingot_model *m,
                                   const ingot_token_seq *prompts, size_t n, size_t max_batch);

/* The k most likely next tokens of each of n prompts: ids[i*k + j] and their
 * log-probabilities logprobs[i*k + j] (log-softmax of the last position's
 * logits, computed in double, stored as float), most likely first, lower id
 * first among equal values. ids and logprobs are caller arrays of n*k
 * entries (logprobs may be NULL). k is clamped to the vocabulary: entries
 * past it are id -1 and -INFINITY. On error their contents are unspecified.
 * Errors: as ingot_classify_logits, INVALID_ARGUMENT for ids NULL or
 * k < 1. */
ingot_status ingot_classify_topk(int32_t *ids, float *logprobs, const ingot_model *m,
                                 const ingot_token_seq *prompts, size_t n, size_t max_batch, int k);

/* Label scoring into the caller's array scores of n_prompts * n_labels
 * doubles: scores[i*n_labels + j] = log P(label j | prompt i), the sum
 * over the label's tokens of the log-softmax of the token given the prompt
 * and the label's earlier tokens (no length normalisation), in double. Every
 * (prompt, label) pair is one row of a batched forward pass over
 * prompt + label, at most max_batch rows per pass (0: as many as keep each
 * pass's [rows, T, V] logits within 256 MiB). Each label has n >= 1 ids; the
 * label's ids are taken as given (encode labels without special tokens, with
 * the leading space a tokenizer expects after the prompt). On error the
 * contents of scores are unspecified. Errors: as ingot_classify_logits (also
 * for labels: n_labels == 0, an empty label; LIMIT when the longest prompt
 * plus the longest label exceed the context, even if no such pair is
 * scored). */
ingot_status ingot_score_labels(double *scores, const ingot_model *m,
                                const ingot_token_seq *prompts, size_t n_prompts,
                                const ingot_token_seq *labels, size_t n_labels, size_t max_batch);

/* ---- batch generation ---- */

/* Generates a continuation for each of n prompts, decoding them together in
 * one batch (left padding, a per-row attention mask and positions). Row i
 * gives what ingot_session_generate gives for prompt i alone with the same
 * options (row i's sampler is seeded with opts->sampling.seed + i): the same
 * ids, up to floating-point differences between the batched and the single
 * forward pass that could flip a near tie. A finished row stops contributing
 * output while the others go on (its slot is still computed). The callback,
 * when given, is not called (use a session for streaming). tok may be NULL
 * (ids only, no text, no stop strings, and no EOS ids: give stop_ids);
 * otherwise its EOS ids (ingot_tokenizer_stop_ids) stop a row. out is a
 * caller array of n generations, each to be freed with
 * ingot_generation_free; their metrics are all the same and describe the
 * whole batch (prompt_tokens and generated_tokens: sums over rows; see
 * ingot_metrics).
 * Errors: as ingot_session_generate (INVALID_ARGUMENT also for n == 0, an
 * empty prompt or one with NULL ids; LIMIT when the longest prompt leaves no
 * room in the context); on error every out[i] is zeroed (out NULL: nothing
 * is written). */
ingot_status ingot_generate_batch(ingot_generation *out, const ingot_model *m,
                                  const ingot_tokenizer *tok, const ingot_token_seq *prompts,
                                  size_t n, const ingot_generate_options *opts);

#ifdef __cplusplus
}
#endif
#endif
