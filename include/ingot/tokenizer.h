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

/* Loads the tokenizer of a model folder: dir/tokenizer.json (required) and
 * dir/tokenizer_config.json, dir/special_tokens_map.json,
 * dir/generation_config.json (each optional). Every file is validated.
 * Errors: INVALID_ARGUMENT (NULLs), NOT_FOUND (no tokenizer.json), IO,
 * FORMAT (malformed JSON or inconsistent content, with the file and the key),
 * UNSUPPORTED (a model, normalizer, pre-tokenizer, decoder or post-processor
 * type ingot does not implement, named), OUT_OF_MEMORY. */
ingot_status ingot_tokenizer_load(ingot_tokenizer **out, const char *dir);

/* Frees a tokenizer; NULL is ignored. Detokenizers made from it must be freed
 * first. */
void ingot_tokenizer_free(ingot_tokenizer *tok);

/* ---- encoding ---- */

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
 * release it with ingot_tokens_free. */
typedef struct ingot_tokens {
    int32_t *ids;
    size_t count;
    size_t capacity;
} ingot_tokens;

/* Frees the ids and zeroes the struct; NULL is ignored. */
void ingot_tokens_free(ingot_tokens *tokens);

/* Replaces out's contents with the ids of len bytes of text (which need not be
 * NUL-terminated; text may be NULL when len is 0). opts NULL means all false
 * (no special tokens added, special-token text stays plain text).
 * Errors: INVALID_ARGUMENT (NULLs; invalid UTF-8 unless replaced, with the
 * byte offset), LIMIT (text over 1 GiB), OUT_OF_MEMORY. On error out->count
 * is 0. */
ingot_status ingot_tokenizer_encode(ingot_tokens *out, const ingot_tokenizer *tok, const char *text,
                                    size_t len, const ingot_encode_options *opts);

/* ---- decoding ---- */

/* The text of n ids as the tokenizer's decoder produces it, NUL-terminated,
 * in *text (malloc'd; the caller frees it with free()); *len receives its
 * length without the NUL (len may be NULL). skip_special leaves out special
 * added tokens. Byte sequences that are not valid UTF-8 after decoding become
 * U+FFFD, as in Hugging Face.
 * Errors: INVALID_ARGUMENT (NULLs), INDEX (an id outside the vocabulary, named
 * with its position), OUT_OF_MEMORY. */
ingot_status ingot_tokenizer_decode(char **text, size_t *len, const ingot_tokenizer *tok,
                                    const int32_t *ids, size_t n, bool skip_special);

/* Incremental decoding for streaming: push ids one at a time and receive the
 * text they complete. Only whole UTF-8 characters are ever emitted; bytes of
 * a character split across tokens are held back until it is complete. The
 * concatenation of everything emitted (pushes, then flush) equals
 * ingot_tokenizer_decode of all the ids. */
typedef struct ingot_detokenizer ingot_detokenizer;

ingot_status ingot_detokenizer_new(ingot_detokenizer **out, const ingot_tokenizer *tok,
                                   bool skip_special);
/* Frees a detokenizer; NULL is ignored. */
void ingot_detokenizer_free(ingot_detokenizer *d);

/* Adds one id; *piece and *len receive the newly completed text (possibly
 * empty), valid until the next call on d. Errors: INVALID_ARGUMENT, INDEX. */
ingot_status ingot_detokenizer_push(ingot_detokenizer *d, int32_t id, const char **piece,
                                    size_t *len);
/* Emits what is held back (incomplete characters become U+FFFD) and resets d
 * for a new sequence. */
ingot_status ingot_detokenizer_flush(ingot_detokenizer *d, const char **piece, size_t *len);

/* ---- vocabulary ---- */

/* The number of ids: the model's vocabulary plus added tokens (the largest id
 * + 1). */
size_t ingot_tokenizer_vocab_size(const ingot_tokenizer *tok);

/* The id of a token's exact string (vocabulary or added token).
 * Errors: INVALID_ARGUMENT (NULLs), NOT_FOUND. */
ingot_status ingot_tokenizer_token_to_id(int32_t *id, const ingot_tokenizer *tok,
                                         const char *token);

/* The token string of id as stored in the vocabulary (byte-level tokens in
 * their printable form, e.g. "Ġthe"); NULL for ids outside the vocabulary.
 * Lives as long as tok. */
const char *ingot_tokenizer_id_to_token(const ingot_tokenizer *tok, int32_t id);

/* True when id is a special added token. */
bool ingot_tokenizer_is_special(const ingot_tokenizer *tok, int32_t id);

/* Special token ids from the config files; -1 when the tokenizer has none. */
int32_t ingot_tokenizer_bos_id(const ingot_tokenizer *tok);
int32_t ingot_tokenizer_eos_id(const ingot_tokenizer *tok);
int32_t ingot_tokenizer_pad_id(const ingot_tokenizer *tok);

/* The ids that end a generated turn: generation_config.json's eos_token_id
 * (one or a list), the tokenizer config's eos_token, and the family's
 * end-of-turn token when present (<|im_end|>, <end_of_turn>, <|eot_id|>,
 * <|eom_id|>), without duplicates, in that order. *ids lives as long as tok. */
void ingot_tokenizer_stop_ids(const int32_t **ids, size_t *n, const ingot_tokenizer *tok);

/* ---- chat template ---- */

/* The tokenizer config's chat_template (the default one when the config has a
 * list of named templates), or NULL when it has none. Lives as long as tok. */
const char *ingot_tokenizer_chat_template(const ingot_tokenizer *tok);

/* The text of the config's bos_token / eos_token ("" when absent), as chat
 * templates receive them. */
const char *ingot_tokenizer_bos_token(const ingot_tokenizer *tok);
const char *ingot_tokenizer_eos_token(const ingot_tokenizer *tok);

#ifdef __cplusplus
}
#endif
#endif
