/* libFuzzer target: arbitrary id sequences into decode and the streaming
 * detokenizer of the two small tokenizers of tokenizer_fixtures.h. The first
 * byte picks the tokenizer and skip_special; every following pair of bytes is an
 * id in [-2, vocab_size + 2), so ids out of the vocabulary occur too.
 * Checked with __builtin_trap:
 *   - decode succeeds exactly when every id is in the vocabulary (else INDEX),
 *     and its text is valid UTF-8 (invalid byte sequences become U+FFFD);
 *   - the detokenizer rejects the same ids, emits only whole UTF-8 characters,
 *     and its pieces (pushes, then flush) concatenate to the decode;
 *   - after a flush the detokenizer starts afresh: a second pass gives the same. */
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

/* One pass of ids through d: the in-vocabulary ids' pieces, compared with want. */
static void stream_pass(ingot_detokenizer *d, const int32_t *ids, size_t n, size_t vocab,
                        const char *want, size_t want_len) {
    size_t used = 0;
    for (size_t i = 0; i <= n; i++) {
        const char *piece = NULL;
        size_t len = 0;
        ingot_status st = i < n ? ingot_detokenizer_push(&piece, &len, d, ids[i])
                                : ingot_detokenizer_flush(&piece, &len, d);
        if (i < n && (ids[i] < 0 || (size_t)ids[i] >= vocab)) {
            CHECK(st == INGOT_ERR_INDEX);
            continue;
        }
        CHECK(st == INGOT_OK);
        CHECK(len == 0 || piece != NULL);
        CHECK(fuzz_valid_utf8((const unsigned char *)piece, len));
        if (want) CHECK(used + len <= want_len && memcmp(want + used, piece, len) == 0);
        used += len;
    }
    if (want) CHECK(used == want_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const ingot_tokenizer *tok = fuzz_tokenizer(data[0] & 1);
    bool skip = (data[0] & 2) != 0;
    int64_t vocab = ingot_tokenizer_vocab_size(tok);
    size_t n = (size - 1) / 2;
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    bool in_vocab = true;
    CHECK(ids != NULL);
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)data[1 + 2 * i] | (unsigned)data[2 + 2 * i] << 8;
        ids[i] = (int32_t)(v % (unsigned)(vocab + 4)) - 2;
        in_vocab = in_vocab && ids[i] >= 0 && ids[i] < vocab;
    }
    char *out = NULL;
    size_t out_len = 0;
    ingot_status st = ingot_tokenizer_decode(&out, &out_len, tok, ids, n, skip);
    CHECK(in_vocab ? st == INGOT_OK : st == INGOT_ERR_INDEX);
    if (st == INGOT_OK) {
        CHECK(out != NULL && out[out_len] == 0);
        CHECK(fuzz_valid_utf8((const unsigned char *)out, out_len));
        for (size_t i = 0; i < n; i++)
            CHECK(ingot_tokenizer_id_to_token(tok, ids[i]) != NULL);
    }
    ingot_detokenizer *d = NULL;
    CHECK(ingot_detokenizer_new(&d, tok, skip) == INGOT_OK);
    /* with out-of-vocabulary ids only the validity of the pieces is checked */
    stream_pass(d, ids, n, vocab, st == INGOT_OK ? out : NULL, out_len);
    stream_pass(d, ids, n, vocab, st == INGOT_OK ? out : NULL, out_len);
    ingot_detokenizer_free(d);
    free(out);
    free(ids);
    return 0;
}
