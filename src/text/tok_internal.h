/* Tokenizer internals shared by src/text/{tokenizer,tok_json,bpe,normalize,pretokenize,
 * added_tokens,decode}.c. Not installed. */
#ifndef INGOT_TEXT_TOK_INTERNAL_H
#define INGOT_TEXT_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "ingot/tokenizer.h"

/* ---- a small, fast JSON reader (tok_json.c) ----
 * The whole document lives in one arena; strings are unescaped, validated
 * UTF-8 and NUL-terminated (they may hold NULs: use len). Objects keep their
 * members in document order. */
typedef enum { TJ_NULL, TJ_FALSE, TJ_TRUE, TJ_NUMBER, TJ_STRING, TJ_ARRAY, TJ_OBJECT } tj_type;

typedef struct tj_value tj_value;
struct tj_value {
    tj_type type;
    uint32_t len; /* string bytes, array items or object members */
    union {
        double num;
        const char *str;
        tj_value *items; /* arrays: len values; objects: 2 * len (key, value) */
    } u;
};

typedef struct tj_doc tj_doc;

/* Parses len bytes; `what` names the document in errors (FORMAT with line and column). */
ingot_status ingot__tj_parse(tj_doc **out, tj_value **root, const char *text, size_t len,
                             const char *what);
void ingot__tj_free(tj_doc *doc);
/* The member named key of an object, or NULL (also NULL when v is not an object). */
const tj_value *ingot__tj_get(const tj_value *v, const char *key);
/* True for a number that is an integer in [lo, hi]. */
bool ingot__tj_int(const tj_value *v, int64_t lo, int64_t hi, int64_t *out);

/* ---- hashing ---- */
uint64_t ingot__tok_hash(const void *p, size_t n);

/* String -> int32 map over strings owned elsewhere (open addressing). */
typedef struct {
    const char *key;
    uint32_t len, hash;
    int32_t value;
} tok_smap_slot;

typedef struct {
    tok_smap_slot *slots;
    size_t cap, count; /* cap is a power of two */
} tok_smap;

ingot_status ingot__smap_init(tok_smap *m, size_t expected);
void ingot__smap_free(tok_smap *m);
/* Inserts key (not copied); *existed receives whether it was present (value unchanged then). */
ingot_status ingot__smap_put(tok_smap *m, const char *key, size_t len, int32_t value,
                             bool *existed);
/* The value of key, or -1. */
int32_t ingot__smap_get(const tok_smap *m, const char *key, size_t len);
/* The same with h = ingot__tok_hash(key, len) computed by the caller. */
int32_t ingot__smap_get_h(const tok_smap *m, const char *key, size_t len, uint64_t h);
/* Hints the cache to load the slot of hash h (for batched lookups). */
void ingot__smap_prefetch(const tok_smap *m, uint64_t h);

/* ---- growable byte buffer ---- */
typedef struct {
    char *data;
    size_t len, cap;
} tok_buf;

/* Appends n ids to out, growing it (ids may be NULL when n is 0). */
ingot_status ingot__tokens_push(ingot_tokens *out, const int32_t *ids, size_t n);

ingot_status ingot__buf_reserve(tok_buf *b, size_t extra);
ingot_status ingot__buf_append(tok_buf *b, const void *p, size_t n);
void ingot__buf_free(tok_buf *b);
/* Appends s with every occurrence of pat (plen > 0), left to right, replaced by with. */
ingot_status ingot__buf_append_replaced(tok_buf *b, const char *s, size_t len, const char *pat,
                                        size_t plen, const char *with, size_t wlen);

/* ---- UTF-8 ---- */
/* Length of the valid UTF-8 sequence at p (n bytes available), or 0 when the
 * bytes there are not a complete valid sequence. */
size_t ingot__utf8_seq(const unsigned char *p, size_t n);
/* Length of the maximal prefix of a valid sequence at p (>= 1: the bytes one
 * U+FFFD replaces, as in Rust's String::from_utf8_lossy / Unicode §3.9). */
size_t ingot__utf8_bad_len(const unsigned char *p, size_t n);
/* Appends p with invalid sequences replaced by U+FFFD (one per maximal subpart). */
ingot_status ingot__utf8_append_lossy(tok_buf *b, const unsigned char *p, size_t n);
/* Byte offset of the first invalid sequence, or n. */
size_t ingot__utf8_check(const unsigned char *p, size_t n);
/* Decodes one valid sequence (as checked) at p; sets *adv. */
uint32_t ingot__utf8_decode(const unsigned char *p, size_t *adv);
/* Encodes cp; returns the byte count (1..4). */
int ingot__utf8_encode(uint32_t cp, char out[4]);
/* Rust's char::is_whitespace (Unicode White_Space). */
bool ingot__unicode_ws(uint32_t cp);

/* ---- pieces: a list of strings in one buffer ---- */
typedef struct {
    size_t off, len;
} tok_piece;

typedef struct {
    tok_buf text;
    tok_piece *p;
    size_t n, cap;
} tok_pieces;

ingot_status ingot__pieces_add(tok_pieces *ps, const char *s, size_t len);
void ingot__pieces_clear(tok_pieces *ps);
void ingot__pieces_free(tok_pieces *ps);

/* ---- normalizers (normalize.c) ---- */
typedef struct tok_normalizer tok_normalizer;
/* Builds a normalizer from its JSON (NULL or JSON null: none). */
ingot_status ingot__normalizer_build(tok_normalizer **out, const tj_value *v);
void ingot__normalizer_free(tok_normalizer *n);
/* Appends the normalized form of s to out. */
ingot_status ingot__normalize(const tok_normalizer *n, const char *s, size_t len, tok_buf *out);

/* ---- pre-tokenizers (pretokenize.c) ---- */
typedef struct tok_pretok tok_pretok;
ingot_status ingot__pretok_build(tok_pretok **out, const tj_value *v);
void ingot__pretok_free(tok_pretok *p);
/* Per-call work area of the pre-tokenizer (NULL when out of memory). */
typedef struct tok_pretok_work tok_pretok_work;
tok_pretok_work *ingot__pretok_work_new(const tok_pretok *p);
void ingot__pretok_work_free(tok_pretok_work *w);
/* Receives each pre-tokenized word, in order. */
typedef ingot_status (*tok_word_fn)(void *ctx, const char *word, size_t len);
/* Pre-tokenizes s (at_origin: s starts at offset 0 of the input) depth first, calling fn on
 * every non-empty word. p NULL: s is one word. */
ingot_status ingot__pretokenize(const tok_pretok *p, tok_pretok_work *w, const char *s, size_t len,
                                bool at_origin, tok_word_fn fn, void *ctx);

/* The GPT-2 byte -> printable character mapping (UTF-8 of each of the 256 chars). */
typedef struct {
    char s[256][3];
    uint8_t len[256];
    int16_t byte_of[324]; /* codepoint -> byte, -1 when not a byte char (all cps < 324) */
} tok_bytelevel;
const tok_bytelevel *ingot__bytelevel(void);

/* ---- BPE model (bpe.c) ---- */
typedef struct tok_bpe tok_bpe;

typedef struct {
    const char **tok; /* id -> token (NULL for holes) */
    uint32_t *tok_len;
    size_t n; /* ids in the model vocabulary */
    tok_smap map;
} tok_vocab;

ingot_status ingot__bpe_build(tok_bpe **out, const tj_value *model, tok_vocab *vocab);
void ingot__bpe_free(tok_bpe *b);
/* Per-call scratch and word cache for the BPE model. */
typedef struct tok_bpe_work tok_bpe_work;
tok_bpe_work *ingot__bpe_work_new(void);
void ingot__bpe_work_free(tok_bpe_work *w);
/* Appends the ids of one pre-tokenized word. */
ingot_status ingot__bpe_tokenize(const tok_bpe *b, const tok_vocab *vocab, tok_bpe_work *w,
                                 const char *word, size_t len, ingot_tokens *out);

/* ---- added tokens (added_tokens.c) ---- */
typedef struct {
    const char *content; /* as in the file */
    uint32_t len;
    int32_t id;
    bool special, lstrip, rstrip, single_word, normalized;
} tok_added;

typedef struct tok_trie tok_trie;
/* A leftmost-longest matcher over the contents of `n` tokens (pattern i is
 * patterns[i]/lens[i], returning token index i). */
ingot_status ingot__trie_build(tok_trie **out, const char *const *patterns, const uint32_t *lens,
                               size_t n);
void ingot__trie_free(tok_trie *t);

typedef struct {
    size_t start, end;
    int32_t token; /* index into the added tokens, or -1 for plain text */
} tok_split;

/* Splits s as Hugging Face's AddedVocabulary::find_matches does. skip_special leaves special
 * tokens unmatched (encode_special_tokens). *splits is realloc'd, *n set. */
ingot_status ingot__added_split(const tok_trie *t, const tok_added *tokens, const int32_t *pat_tok,
                                const char *s, size_t len, bool skip_special, tok_split **splits,
                                size_t *n, size_t *cap);

/* ---- decoders (decode.c) ---- */
typedef struct tok_decoder tok_decoder;
ingot_status ingot__decoder_build(tok_decoder **out, const tj_value *v);
void ingot__decoder_free(tok_decoder *d);
/* Decodes tokens (at_start: the first token is the first of the sequence) and appends. */
ingot_status ingot__decode_tokens(const tok_decoder *d, const char *const *toks,
                                  const uint32_t *lens, size_t n, bool at_start, tok_buf *out);
/* Streaming safe point: after these window tokens, can the text be emitted for good? */
bool ingot__decoder_safe_point(const tok_decoder *d, const char *const *toks, const uint32_t *lens,
                               size_t n);

/* ---- post-processor ---- */
typedef struct {
    int32_t *before, *after; /* ids added around the single sequence */
    size_t n_before, n_after;
} tok_post;

/* ---- the tokenizer ---- */
struct ingot_tokenizer {
    tj_doc *doc;     /* tokenizer.json, kept alive: strings point into it */
    tok_vocab vocab; /* model vocabulary */
    tok_bpe *bpe;
    tok_normalizer *normalizer;
    tok_pretok *pretok;
    tok_decoder *decoder;
    tok_post post;
    tok_added *added;
    size_t n_added;
    char **added_norm; /* normalized contents of normalized tokens (owned) */
    tok_trie *trie_raw, *trie_norm;
    int32_t *pat_raw, *pat_norm; /* trie pattern -> added token index */
    size_t size;                 /* largest id + 1 */
    const char **id_tok;         /* id -> token text (model or added) */
    uint32_t *id_len;
    uint8_t *id_special; /* id -> 1 when special added token */
    tok_smap added_map;  /* added content -> id */
    int32_t bos, eos, pad;
    char *bos_text, *eos_text, *chat_template;
    int32_t *stop;
    size_t n_stop;
};

#endif
