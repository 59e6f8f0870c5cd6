/* Small tokenizers for the tokenizer fuzz targets (fuzz_encode.c, fuzz_decode.c),
 * written once into a temporary folder so they load fast:
 *   [0] byte-level BPE in the Qwen/Llama style: the Qwen split regex, ByteLevel
 *       pre-tokenizer, post-processor and decoder, the 256 byte tokens, a few merges
 *       (ASCII, a space run, UTF-8 pairs), two special and one normal added token;
 *   [1] SentencePiece-style BPE in the Gemma style: " " -> "\u2581" normalizer,
 *       byte_fallback with <0xNN> tokens, TemplateProcessing adding <bos>, decoder
 *       Replace + ByteFallback + Fuse.
 * Test code only: any failure to build them aborts the fuzzer. */
#ifndef INGOT_FUZZ_TOKENIZER_FIXTURES_H
#define INGOT_FUZZ_TOKENIZER_FIXTURES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingot/tokenizer.h"

#define FUZZ_N_TOKENIZERS 2

static void fuzz_die(const char *what) {
    fprintf(stderr, "tokenizer fixture: %s: %s\n", what, ingot_last_error());
    abort();
}

/* GPT-2's byte-to-printable-character map, as UTF-8 (at most 2 bytes). */
static void byte_token(unsigned b, char out[3]) {
    unsigned cp = b, n = 0;
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    if (!printable) {
        for (unsigned c = 0; c < b; c++)
            if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE))) n++;
        cp = 256 + n;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

static json_t *added_token(int id, const char *content, bool special) {
    return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content,
                     "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special",
                     special);
}

/* Adds merges (pairs of existing tokens, in priority order) and their results. */
static void add_merges(json_t *vocab, json_t *merges, const char *const (*pairs)[2], size_t n) {
    for (size_t i = 0; i < n; i++) {
        char merged[64];
        snprintf(merged, sizeof merged, "%s%s", pairs[i][0], pairs[i][1]);
        if (!json_object_get(vocab, merged))
            json_object_set_new(vocab, merged, json_integer((json_int_t)json_object_size(vocab)));
        json_array_append_new(merges, json_pack("[s, s]", pairs[i][0], pairs[i][1]));
    }
}

static json_t *byte_level_json(void) {
    static const char *const pairs[][2] = {{"\xC4\xA0", "t"},
                                           {"h", "e"},
                                           {"\xC4\xA0t", "he"},
                                           {"i", "n"},
                                           {"\xC4\xA0", "a"},
                                           {"e", "r"},
                                           {"\xC4\x8A", "\xC4\x8A"},
                                           {"\xC4\xA0", "\xC4\xA0"},
                                           {"\xC4\xA0\xC4\xA0", "\xC4\xA0\xC4\xA0"},
                                           {"\xC3\x83", "\xC2\xA9"} /* "é" */,
                                           {"\xC3\x83", "\xC2\xBC"} /* "ü" */,
                                           {"'", "s"},
                                           {"1", "2"},
                                           {"12", "3"}};
    static const char *const regex =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
        "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    json_t *vocab = json_object(), *merges = json_array();
    for (unsigned b = 0; b < 256; b++) {
        char tok[3];
        byte_token(b, tok);
        json_object_set_new(vocab, tok, json_integer(b));
    }
    add_merges(vocab, merges, pairs, sizeof pairs / sizeof pairs[0]);
    int n = (int)json_object_size(vocab);
    json_t *bl = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                           "trim_offsets", 0, "use_regex", 0);
    return json_pack(
        "{s:s, s:n, s:n, s:[o, o, o], s:n, s:{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, O]}, s:O, s:o,"
        " s:{s:s, s:n, s:n, s:s, s:s, s:b, s:b, s:b, s:o, s:o}}",
        "version", "1.0", "truncation", "padding", "added_tokens",
        added_token(n, "<|im_start|>", true), added_token(n + 1, "<|im_end|>", true),
        added_token(n + 2, "<think>", false), "normalizer", "pre_tokenizer", "type", "Sequence",
        "pretokenizers", "type", "Split", "pattern", "Regex", regex, "behavior", "Isolated",
        "invert", 0, bl, "post_processor", bl, "decoder", bl /* stolen by the last "o" */, "model",
        "type", "BPE", "dropout", "unk_token", "continuing_subword_prefix", "",
        "end_of_word_suffix", "", "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 0, "vocab",
        vocab, "merges", merges);
}

static json_t *sentencepiece_json(void) {
    static const char *const specials[] = {"<pad>", "<eos>", "<bos>", "<unk>"};
    static const char *const chars[] = {
        "\xE2\x96\x81", "a", "b", "c", "d", "e", "h", "i", "n", "o", "r", "s", "t", "\xC3\xA9",
        "\xE4\xB8\xAD", ".", "<", ">"};
    static const char *const pairs[][2] = {{"\xE2\x96\x81", "t"},
                                           {"h", "e"},
                                           {"\xE2\x96\x81t", "he"},
                                           {"i", "n"},
                                           {"e", "r"},
                                           {"\xE2\x96\x81", "\xE2\x96\x81"},
                                           {"\xE2\x96\x81", "a"},
                                           {"o", "n"}};
    json_t *vocab = json_object(), *merges = json_array(), *added = json_array();
    for (int i = 0; i < 4; i++) {
        json_object_set_new(vocab, specials[i], json_integer(i));
        json_array_append_new(added, added_token(i, specials[i], true));
    }
    for (unsigned b = 0; b < 256; b++) {
        char tok[8];
        snprintf(tok, sizeof tok, "<0x%02X>", b);
        json_object_set_new(vocab, tok, json_integer((json_int_t)json_object_size(vocab)));
    }
    for (size_t i = 0; i < sizeof chars / sizeof chars[0]; i++)
        json_object_set_new(vocab, chars[i], json_integer((json_int_t)json_object_size(vocab)));
    add_merges(vocab, merges, pairs, sizeof pairs / sizeof pairs[0]);
    int sot = (int)json_object_size(vocab);
    json_object_set_new(vocab, "<start_of_turn>", json_integer(sot));
    json_array_append_new(added, added_token(sot, "<start_of_turn>", true));
    return json_pack(
        "{s:s, s:n, s:n, s:o, s:{s:s, s:{s:s}, s:s}, s:{s:s, s:{s:s}, s:s, s:b},"
        " s:{s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}], s:[{s:{s:s, s:i}}, {s:{s:s, s:i}},"
        " {s:{s:s, s:i}}, {s:{s:s, s:i}}], s:{s:{s:s, s:[i], s:[s]}}},"
        " s:{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}]},"
        " s:{s:s, s:n, s:s, s:n, s:n, s:b, s:b, s:b, s:o, s:o}}",
        "version", "1.0", "truncation", "padding", "added_tokens", added, "normalizer", "type",
        "Replace", "pattern", "String", " ", "content", "\xE2\x96\x81", "pre_tokenizer", "type",
        "Split", "pattern", "String", " ", "behavior", "MergedWithPrevious", "invert", 0,
        "post_processor", "type", "TemplateProcessing", "single", "SpecialToken", "id", "<bos>",
        "type_id", 0, "Sequence", "id", "A", "type_id", 0, "pair", "SpecialToken", "id", "<bos>",
        "type_id", 0, "Sequence", "id", "A", "type_id", 0, "SpecialToken", "id", "<bos>", "type_id",
        1, "Sequence", "id", "B", "type_id", 1, "special_tokens", "<bos>", "id", "<bos>", "ids", 2,
        "tokens", "<bos>", "decoder", "type", "Sequence", "decoders", "type", "Replace", "pattern",
        "String", "\xE2\x96\x81", "content", " ", "type", "ByteFallback", "type", "Fuse", "model",
        "type", "BPE", "dropout", "unk_token", "<unk>", "continuing_subword_prefix",
        "end_of_word_suffix", "fuse_unk", 1, "byte_fallback", 1, "ignore_merges", 0, "vocab", vocab,
        "merges", merges);
}

/* Writes a tokenizer.json into a fresh folder under TMPDIR and loads it. */
static ingot_tokenizer *load_fixture(json_t *doc) {
    const char *tmp = getenv("TMPDIR");
    char dir[4096], file[4200];
    ingot_tokenizer *tok = NULL;
    if (!doc) fuzz_die("json_pack");
    snprintf(dir, sizeof dir, "%s/ingot-fuzz-tok-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) fuzz_die("mkdtemp");
    snprintf(file, sizeof file, "%s/tokenizer.json", dir);
    if (json_dump_file(doc, file, JSON_COMPACT) != 0) fuzz_die("json_dump_file");
    json_decref(doc);
    if (ingot_tokenizer_load(&tok, dir) != INGOT_OK) fuzz_die("ingot_tokenizer_load");
    unlink(file);
    rmdir(dir);
    return tok;
}

/* The fixtures, loaded on first use and kept for the process. */
static ingot_tokenizer *fuzz_tokenizer(int which) {
    static ingot_tokenizer *toks[FUZZ_N_TOKENIZERS];
    if (!toks[0]) {
        toks[0] = load_fixture(byte_level_json());
        toks[1] = load_fixture(sentencepiece_json());
    }
    return toks[which % FUZZ_N_TOKENIZERS];
}

/* Whether s[0..n) is valid UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
static bool fuzz_valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], len, cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            len = 2, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4, cp = c & 0x07;
        else
            return false;
        if (i + len > n) return false;
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

#endif
