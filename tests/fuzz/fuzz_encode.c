/* libFuzzer target: arbitrary bytes as text for the two small tokenizers of
 * tokenizer_fixtures.h (byte-level BPE, SentencePiece-style BPE with byte
 * fallback). The first byte picks the tokenizer and the encode options
 * (add_special_tokens, parse_special, replace_invalid_utf8); the rest is the text.
 * Checked with __builtin_trap so that libFuzzer reports violations:
 *   - valid UTF-8 always encodes; invalid UTF-8 fails with INVALID_ARGUMENT unless
 *     replacement is asked for, and then encodes;
 *   - every id is inside the vocabulary, and the ids decode (with and without
 *     special tokens) to valid UTF-8;
 *   - the byte-level tokenizer round-trips: decode(encode(x)) == x for valid UTF-8;
 *   - the streaming detokenizer's pieces concatenate to the decode. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingot/ingot.h"
#include "tokenizer_fixtures.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

/* Streams ids through a detokenizer and checks the pieces against want. */
static void check_stream(const ingot_tokenizer *tok, const ingot_tokens *t, bool skip,
                         const char *want, size_t want_len) {
    ingot_detokenizer *d = NULL;
    size_t used = 0;
    CHECK(ingot_detokenizer_new(&d, tok, skip) == INGOT_OK);
    for (size_t i = 0; i <= t->count; i++) {
        const char *piece = NULL;
        size_t len = 0;
        CHECK((i < t->count ? ingot_detokenizer_push(&piece, &len, d, t->ids[i])
                            : ingot_detokenizer_flush(&piece, &len, d)) == INGOT_OK);
        CHECK(len == 0 || piece != NULL);
        CHECK(fuzz_valid_utf8((const unsigned char *)piece, len));
        CHECK(used + len <= want_len && memcmp(want + used, piece, len) == 0);
        used += len;
    }
    CHECK(used == want_len);
    ingot_detokenizer_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    unsigned flags = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int which = flags & 1;
    const ingot_tokenizer *tok = fuzz_tokenizer(which);
    ingot_encode_options o = {.add_special_tokens = (flags & 2) != 0,
                              .parse_special = (flags & 4) != 0,
                              .replace_invalid_utf8 = (flags & 8) != 0};
    bool valid = fuzz_valid_utf8((const unsigned char *)text, len);
    ingot_tokens t = {0};
    ingot_status st = ingot_tokenizer_encode(&t, tok, len ? text : NULL, len, &o);
    if (!valid && !o.replace_invalid_utf8) {
        CHECK(st == INGOT_ERR_INVALID_ARGUMENT && t.count == 0);
        ingot_tokens_free(&t);
        return 0;
    }
    CHECK(st == INGOT_OK);
    int64_t vocab = ingot_tokenizer_vocab_size(tok);
    for (size_t i = 0; i < t.count; i++)
        CHECK(t.ids[i] >= 0 && t.ids[i] < vocab);
    /* the tokens' strings exist and map back to their ids */
    for (size_t i = 0; i < t.count && i < 64; i++) {
        const char *s = ingot_tokenizer_id_to_token(tok, t.ids[i]);
        int32_t back = -1;
        CHECK(s != NULL);
        CHECK(ingot_tokenizer_token_to_id(&back, tok, s) == INGOT_OK && back == t.ids[i]);
    }
    for (int skip = 0; skip < 2; skip++) {
        char *out = NULL;
        size_t out_len = 0;
        CHECK(ingot_tokenizer_decode(&out, &out_len, tok, t.ids, t.count, skip) == INGOT_OK);
        CHECK(out != NULL && out[out_len] == 0);
        CHECK(fuzz_valid_utf8((const unsigned char *)out, out_len));
        if (which == 0 && valid && !skip) CHECK(out_len == len && memcmp(out, text, len) == 0);
        check_stream(tok, &t, skip, out, out_len);
        free(out);
    }
    ingot_tokens_free(&t);
    return 0;
}
