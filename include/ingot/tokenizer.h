/* ingot/tokenizer.h - Hugging Face tokenizers, token-exact.
 *
 * Loads a model folder's tokenizer.json with tokenizer_config.json,
 * special_tokens_map.json and generation_config.json where present, and
 * encodes text to exactly the ids Hugging Face `tokenizers` produces: BPE with
 * merges in both file formats, byte-level BPE (Qwen2/Qwen3, Llama 3) with its
 * split regex, SentencePiece-style BPE with byte fallback (Gemma 3),
 * ignore_merges, added tokens (lstrip/rstrip/single_word/normalized), and the
 * normalizers, pre-tokenizers, decoders and post-processors those families
 * use. Unsupported components in a tokenizer.json are a load error naming
 * them, never a silent difference.
 *
 * Text is UTF-8. Invalid UTF-8 input is an INVALID_ARGUMENT error naming the
 * byte offset, unless the options ask for replacement by U+FFFD.
 *
 * Token ids are int32_t everywhere (ingot_tokens, decode, the detokenizer,
 * engine.h); ingot_model_forward takes them as an integer ingot_array
 * (e.g. ingot_array_from_data with INGOT_I32). The tokenizer of a model folder
 * is also where a model's EOS ids come from (ingot_tokenizer_stop_ids; the
 * model has no getter for them).
 *
 * Strings returned as `const char *` by the query functions below are owned
 * by the tokenizer and live as long as it; text returned through `char **`
 * is malloc'd and freed by the caller with free().
 *
 * Thread rule: a loaded tokenizer is immutable and may be used by many
 * threads at once; a detokenizer belongs to one thread at a time. */
#ifndef INGOT_TOKENIZER_H
#define INGOT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ingot_tokenizer ingot_tokenizer;

/* Size limits of the files ingot_tokenizer_load reads: tokenizer.json (Gemma
 * 3's is 33 MB), and each of the small configuration files
 * (tokenizer_config.json, special_tokens_map.json, generation_config.json,
 * chat_template.jinja). */
#define INGOT_TOKENIZER_JSON_MAX_BYTES ((size_t)256 << 20)
#define INGOT_TOKENIZER_CONFIG_MAX_BYTES ((size_t)16 << 20)

/* Loads the tokenizer of a model folder: dir/tokenizer.json (required) and
 * dir/tokenizer_config.json, dir/special_tokens_map.json,
 * dir/generation_config.json and, when tokenizer_config.json has no
 * chat_template, dir/chat_template.jinja (each optional). Every file is
 * validated; each must be a regular file within the limits above, checked
 * before it is read (a FIFO, device or directory is refused at once, without
 * waiting for a writer). Errors: INVALID_ARGUMENT (NULLs), NOT_FOUND (no
 * tokenizer.json), IO (a file cannot be read or is not a regular file:
 * named), LIMIT (a file over its limit: named, with the limit), FORMAT
 * (malformed JSON or inconsistent content, with the file and the key),
 * UNSUPPORTED (a model, normalizer, pre-tokenizer, decoder or post-processor
 * type ingot does not implement, named), OUT_OF_MEMORY. On success *out is
 * freed with ingot_tokenizer_free; on error it is NULL. */
ingot_status ingot_tokenizer_load(ingot_tokenizer **out, const char *dir);

/* Frees a tokenizer; NULL is ignored. Everything that refers to it
 * (detokenizers, sessions, strings and stop ids it returned) must be freed or
 * dropped first. */
void ingot_tokenizer_free(ingot_tokenizer *tok);

/* ---- encoding ---- */

/* Zero-initialised (`ingot_encode_options o = {0};`, or opts NULL) means: no
 * special tokens added, special-token text encoded as plain text, invalid
 * UTF-8 an error. */
typedef struct ingot_encode_options {
    bool add_special_tokens; /* apply the post-processor (BOS/EOS as Hugging Face
                                adds them for this tokenizer) */
    bool parse_special;      /* match the text of special added tokens (e.g.
                                "<|im_start|>") as those tokens; when false they
                                are encoded as plain text, so user content
                                cannot inject control tokens. Non-special added
                                tokens are always matched, as in Hugging Face */
    bool replace_invalid_utf8; /* replace invalid UTF-8 sequences by U+FFFD
                                  instead of failing */
} ingot_encode_options;

/* A growable array of token ids owned by the caller. Zero-initialise it
 * (`ingot_tokens t = {0};`), reuse it across calls to avoid allocations, and
 * release it with ingot_tokens_free. ids is malloc'd by the library (count
 * ids valid, capacity allocated); the caller may read it but should not
 * realloc or free it other than through ingot_tokens_free. */
typedef struct ingot_tokens {
    int32_t *ids;
    size_t count;
    size_t capacity;
} ingot_tokens;

/* Frees the ids and zeroes the struct; NULL is ignored. */
void ingot_tokens_free(ingot_tokens *tokens);

/* Replaces out's contents with the ids of len bytes of text (which need not be
 * NUL-terminated; text may be NULL when len is 0). opts NULL means all false
 * (no special tokens added, special-token text stays plain text; note that
 * ingot_session_generate_text's NULL default parses special tokens).
 * Errors: INVALID_ARGUMENT (out or tok NULL, text NULL with len > 0; invalid
 * UTF-8 unless replaced, with the byte offset), LIMIT (text over 1 GiB),
 * OUT_OF_MEMORY. On error out->count is 0 (its buffer stays allocated: still
 * free it with ingot_tokens_free). */
ingot_status ingot_tokenizer_encode(ingot_tokens *out, const ingot_tokenizer *tok, const char *text,
                                    size_t len, const ingot_encode_options *opts);

/* ---- decoding ---- */

/* The text of n ids as the tokenizer's decoder produces it, NUL-terminated,
 * in *text (malloc'd; the caller frees it with free(); "" for n == 0); *len
 * receives its length without the NUL (len may be NULL). ids may be NULL
 * when n is 0. skip_special leaves out special added tokens. Byte sequences
 * that are not valid UTF-8 after decoding become U+FFFD, as in Hugging Face.
 * On error *text is NULL and *len 0.
 * Errors: INVALID_ARGUMENT (text or tok NULL, ids NULL with n > 0), INDEX (an
 * id outside the vocabulary or at a hole in it, named with its position),
 * OUT_OF_MEMORY. */
ingot_status ingot_tokenizer_decode(char **text, size_t *len, const ingot_tokenizer *tok,
                                    const int32_t *ids, size_t n, bool skip_special);

/* Incremental decoding for streaming: push ids one at a time and receive the
 * text they complete. Only whole UTF-8 characters are ever emitted; bytes of
 * a character split across tokens are held back until it is complete. The
 * concatenation of everything emitted (pushes, then flush) equals
 * ingot_tokenizer_decode of all the ids. */
typedef struct ingot_detokenizer ingot_detokenizer;

/* A detokenizer for tok (which must outlive it); skip_special as in
 * ingot_tokenizer_decode. On success *out is freed with
 * ingot_detokenizer_free; on error it is NULL.
 * Errors: INVALID_ARGUMENT (out or tok NULL), OUT_OF_MEMORY. */
ingot_status ingot_detokenizer_new(ingot_detokenizer **out, const ingot_tokenizer *tok,
                                   bool skip_special);
/* Frees a detokenizer; NULL is ignored. */
void ingot_detokenizer_free(ingot_detokenizer *d);

/* Adds one id; *piece and *len receive the newly completed text (possibly
 * empty, NUL-terminated), owned by d and valid until the next call on d. len
 * may be NULL. On error *piece is "" (and *len 0).
 * Errors: INVALID_ARGUMENT (d or piece NULL), INDEX (an id outside the
 * vocabulary), OUT_OF_MEMORY. */
ingot_status ingot_detokenizer_push(const char **piece, size_t *len, ingot_detokenizer *d,
                                    int32_t id);
/* Emits what is held back (incomplete characters become U+FFFD) in *piece /
 * *len as push does, and resets d for a new sequence (also on error).
 * Errors: INVALID_ARGUMENT (d or piece NULL), OUT_OF_MEMORY. */
ingot_status ingot_detokenizer_flush(const char **piece, size_t *len, ingot_detokenizer *d);

/* ---- vocabulary ---- */

/* The number of ids: the model's vocabulary plus added tokens (the largest id
 * + 1); 0 for NULL. It may be smaller than the model's vocab_size (model.h),
 * whose extra rows have no text. */
int64_t ingot_tokenizer_vocab_size(const ingot_tokenizer *tok);

/* The id of a token's exact string (vocabulary or added token) in *id.
 * Errors: INVALID_ARGUMENT (NULLs), NOT_FOUND. */
ingot_status ingot_tokenizer_token_to_id(int32_t *id, const ingot_tokenizer *tok,
                                         const char *token);

/* The token string of id as stored in the vocabulary (byte-level tokens in
 * their printable form, e.g. "Ġthe"); NULL for ids outside the vocabulary
 * (or holes in it) and when tok is NULL. Lives as long as tok. */
const char *ingot_tokenizer_id_to_token(const ingot_tokenizer *tok, int32_t id);

/* True when id is a special added token; false for other ids, ids outside
 * the vocabulary and tok NULL. */
bool ingot_tokenizer_is_special(const ingot_tokenizer *tok, int32_t id);

/* Special token ids from the config files; -1 when the tokenizer has none
 * or tok is NULL. eos_id is the tokenizer config's single eos_token; to stop
 * generation use ingot_tokenizer_stop_ids, which may hold more ids. */
int32_t ingot_tokenizer_bos_id(const ingot_tokenizer *tok);
int32_t ingot_tokenizer_eos_id(const ingot_tokenizer *tok);
int32_t ingot_tokenizer_pad_id(const ingot_tokenizer *tok);

/* The ids that end a generated turn: generation_config.json's eos_token_id
 * (one or a list), the tokenizer config's eos_token, and the family's
 * end-of-turn token when present (<|im_end|>, <end_of_turn>, <|eot_id|>,
 * <|eom_id|>), without duplicates (the first occurrence kept), in that
 * order; ids outside the vocabulary (or not integers) are skipped, so there
 * are at most vocabulary-size ids however long the list. *ids lives as long
 * as tok (*n is 0 when there are none; *ids NULL and *n 0 when tok is NULL);
 * ids and n may each be NULL. This is how callers get a model's EOS ids
 * (model.h has no getter). */
void ingot_tokenizer_stop_ids(const int32_t **ids, size_t *n, const ingot_tokenizer *tok);

/* ---- chat template ---- */

/* The tokenizer config's chat_template (the default one when the config has a
 * list of named templates), or NULL when it has none or tok is NULL. Lives as
 * long as tok. */
const char *ingot_tokenizer_chat_template(const ingot_tokenizer *tok);

/* The text of the config's bos_token / eos_token ("" when absent or tok is
 * NULL; never NULL), as chat templates receive them. Live as long as tok. */
const char *ingot_tokenizer_bos_token(const ingot_tokenizer *tok);
const char *ingot_tokenizer_eos_token(const ingot_tokenizer *tok);

#ifdef __cplusplus
}
#endif
#endif
