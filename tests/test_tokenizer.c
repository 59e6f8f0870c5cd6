/* Tokenizer tests: small tokenizer.json files written here, with ids derived
 * by hand from the BPE rules (Hugging Face tokenizers semantics), error cases,
 * streaming decoding, config files; and a few checks of the real Qwen 3,
 * Llama 3 and Gemma 3 files against ids from the @huggingface/tokenizers
 * oracle (skipped when INGOT_ASSETS is unset). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/testutil.h"
#include "ingot/tokenizer.h"

static char tmpdir[256];

static int setup_dir(void **state) {
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/ingot_tok_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static void remove_file(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    unlink(p);
}

static int teardown_dir(void **state) {
    (void)state;
    static const char *const names[] = {"tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json", "generation_config.json"};
    for (size_t i = 0; i < 4; i++)
        remove_file(names[i]);
    return rmdir(tmpdir);
}

static void write_file(const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* Writes tokenizer.json from its parts (JSON text; NULL means null) and loads it. */
static ingot_tokenizer *make(const char *model, const char *normalizer, const char *pretok,
                             const char *post, const char *decoder, const char *added) {
    char *doc = malloc(1 << 16);
    assert_non_null(doc);
    snprintf(doc, 1 << 16,
             "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": %s,"
             " \"normalizer\": %s, \"pre_tokenizer\": %s, \"post_processor\": %s,"
             " \"decoder\": %s, \"model\": %s}",
             added ? added : "[]", normalizer ? normalizer : "null", pretok ? pretok : "null",
             post ? post : "null", decoder ? decoder : "null", model);
    write_file("tokenizer.json", doc);
    free(doc);
    ingot_tokenizer *t = NULL;
    TU_OK(ingot_tokenizer_load(&t, tmpdir));
    return t;
}

static ingot_status try_make(const char *json) {
    write_file("tokenizer.json", json);
    ingot_tokenizer *t = NULL;
    ingot_status st = ingot_tokenizer_load(&t, tmpdir);
    assert_true(st != INGOT_OK || t != NULL);
    ingot_tokenizer_free(t);
    return st;
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__}), (sizeof((const int32_t[]){__VA_ARGS__}) / 4)

static void expect_ids(const ingot_tokenizer *t, const char *text, bool add, bool parse,
                       const int32_t *want, size_t n) {
    ingot_tokens out = {0};
    ingot_encode_options o = {.add_special_tokens = add, .parse_special = parse};
    TU_OK(ingot_tokenizer_encode(&out, t, text, strlen(text), &o));
    char msg[512] = {0};
    bool same = out.count == n && (n == 0 || memcmp(out.ids, want, n * 4) == 0);
    if (!same) {
        int k = snprintf(msg, sizeof msg, "encode(\"%s\") gave", text);
        for (size_t i = 0; i < out.count && k < 400; i++)
            k += snprintf(msg + k, sizeof msg - (size_t)k, " %d", out.ids[i]);
        print_error("%s\n", msg);
    }
    ingot_tokens_free(&out);
    assert_true(same);
}

static void expect_decode(const ingot_tokenizer *t, const int32_t *ids, size_t n, bool skip,
                          const char *want) {
    char *text = NULL;
    size_t len = 0;
    TU_OK(ingot_tokenizer_decode(&text, &len, t, ids, n, skip));
    assert_int_equal(len, strlen(text));
    assert_string_equal(text, want);
    free(text);
}

/* Streams ids through a detokenizer; checks every piece is whole UTF-8 and the
 * concatenation equals the full decode. */
static void expect_stream(const ingot_tokenizer *t, const int32_t *ids, size_t n, bool skip) {
    ingot_detokenizer *d = NULL;
    TU_OK(ingot_detokenizer_new(&d, t, skip));
    size_t cap = 1024, used = 0;
    char *acc = malloc(cap);
    assert_non_null(acc);
    for (size_t i = 0; i <= n; i++) {
        const char *piece;
        size_t len;
        if (i < n) {
            TU_OK(ingot_detokenizer_push(&piece, &len, d, ids[i]));
        } else {
            TU_OK(ingot_detokenizer_flush(&piece, &len, d));
        }
        /* each piece is valid UTF-8 on its own: re-encoding it changes nothing */
        for (size_t k = 0; k < len;) {
            unsigned char c = (unsigned char)piece[k];
            size_t need = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
            assert_true(c < 0x80 || c >= 0xC2);
            assert_true(k + need <= len);
            for (size_t j = 1; j < need; j++)
                assert_int_equal((unsigned char)piece[k + j] & 0xC0, 0x80);
            k += need;
        }
        while (used + len + 1 > cap) {
            acc = realloc(acc, cap *= 2);
            assert_non_null(acc);
        }
        memcpy(acc + used, piece, len);
        used += len;
    }
    acc[used] = '\0';
    char *full = NULL;
    size_t flen;
    TU_OK(ingot_tokenizer_decode(&full, &flen, t, ids, n, skip));
    assert_int_equal(used, flen);
    assert_memory_equal(acc, full, flen);
    free(full);
    free(acc);
    ingot_detokenizer_free(d);
}

/* ---- byte-level BPE (GPT-2 style) ---- */

#define BL_VOCAB                                                                                   \
    "{\"a\":0,\"b\":1,\"c\":2,\"\\u0120\":3,\"ab\":4,\"\\u0120b\":5,\"abc\":6,\"bc\":7,\"<\":8,"   \
    "\">\":9,\"s\":10,\"x\":11,\"m\":12}"
#define BL_PRE "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}"
#define BL_DEC "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}"

static const char *bl_model(const char *merges, bool ignore) {
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":"
             "null,\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,"
             "\"ignore_merges\":%s,\"vocab\":" BL_VOCAB ",\"merges\":%s}",
             ignore ? "true" : "false", merges);
    return buf;
}

static void test_bpe_string_merges(void **state) {
    (void)state;
    ingot_tokenizer *t = make(bl_model("[\"a b\", \"\\u0120 b\", \"b c\"]", false), NULL, BL_PRE,
                              NULL, BL_DEC, NULL);
    /* "ab c" -> words "ab", " c" -> "ab", "Gc": a+b merge (rank 0); G c has no merge */
    expect_ids(t, "ab c", false, false, IDS(4, 3, 2));
    /* a b c: (a,b) rank 0 beats (b,c) rank 2; "ab c" is not a merge */
    expect_ids(t, "abc", false, false, IDS(4, 2));
    expect_ids(t, " b", false, false, IDS(5));
    expect_ids(t, "cab", false, false, IDS(2, 4));
    expect_ids(t, "", true, false, NULL, 0);
    expect_decode(t, IDS(4, 3, 2), false, "ab c");
    expect_decode(t, IDS(5, 5), false, " b b");
    assert_int_equal(ingot_tokenizer_vocab_size(t), 13);
    assert_string_equal(ingot_tokenizer_id_to_token(t, 5), "\xC4\xA0"
                                                           "b");
    assert_null(ingot_tokenizer_id_to_token(t, 13));
    assert_null(ingot_tokenizer_id_to_token(t, -1));
    int32_t id;
    TU_OK(ingot_tokenizer_token_to_id(&id, t, "abc"));
    assert_int_equal(id, 6);
    TU_FAILS(ingot_tokenizer_token_to_id(&id, t, "zz"), INGOT_ERR_NOT_FOUND, "zz");
    assert_int_equal(ingot_tokenizer_bos_id(t), -1);
    assert_null(ingot_tokenizer_chat_template(t));
    assert_string_equal(ingot_tokenizer_bos_token(t), "");
    ingot_tokenizer_free(t);
}

static void test_bpe_pair_merges_and_ranks(void **state) {
    (void)state;
    ingot_tokenizer *t = make(bl_model("[[\"a\",\"b\"],[\"\\u0120\",\"b\"],[\"b\",\"c\"]]", false),
                              NULL, BL_PRE, NULL, BL_DEC, NULL);
    expect_ids(t, "ab c", false, false, IDS(4, 3, 2));
    expect_ids(t, "abc", false, false, IDS(4, 2));
    ingot_tokenizer_free(t);
    /* (b,c) ranked first: a + bc, and "a bc" is no merge */
    t = make(bl_model("[\"b c\", \"a b\"]", false), NULL, BL_PRE, NULL, BL_DEC, NULL);
    expect_ids(t, "abc", false, false, IDS(0, 7));
    expect_ids(t, "abab", false, false, IDS(4, 4));
    ingot_tokenizer_free(t);
}

static void test_bpe_ignore_merges(void **state) {
    (void)state;
    ingot_tokenizer *t = make(bl_model("[\"a b\"]", true), NULL, BL_PRE, NULL, BL_DEC, NULL);
    expect_ids(t, "abc", false, false, IDS(6)); /* the whole word is in the vocabulary */
    expect_ids(t, "abca", false, false, IDS(4, 2, 0));
    ingot_tokenizer_free(t);
    t = make(bl_model("[\"a b\"]", false), NULL, BL_PRE, NULL, BL_DEC, NULL);
    expect_ids(t, "abc", false, false, IDS(4, 2));
    ingot_tokenizer_free(t);
}

#define ADDED                                                                                      \
    "[{\"id\":13,\"content\":\"<s>\",\"special\":true,\"normalized\":false,\"lstrip\":false,"      \
    "\"rstrip\":false,\"single_word\":false},"                                                     \
    "{\"id\":14,\"content\":\"<x>\",\"special\":false,\"normalized\":false,\"lstrip\":false,"      \
    "\"rstrip\":false,\"single_word\":false},"                                                     \
    "{\"id\":15,\"content\":\"<m>\",\"special\":true,\"normalized\":false,\"lstrip\":true,"        \
    "\"rstrip\":true,\"single_word\":false},"                                                      \
    "{\"id\":16,\"content\":\"cab\",\"special\":false,\"normalized\":false,\"lstrip\":false,"      \
    "\"rstrip\":false,\"single_word\":true}]"

static void test_added_tokens(void **state) {
    (void)state;
    ingot_tokenizer *t =
        make(bl_model("[\"a b\", \"\\u0120 b\"]", false), NULL, BL_PRE, NULL, BL_DEC, ADDED);
    assert_int_equal(ingot_tokenizer_vocab_size(t), 17);
    /* special text stays plain text unless asked: a, <, s, >, b */
    expect_ids(t, "a<s>b", false, false, IDS(0, 8, 10, 9, 1));
    expect_ids(t, "a<s>b", false, true, IDS(0, 13, 1));
    /* non-special added tokens always match */
    expect_ids(t, "a<x>b", false, false, IDS(0, 14, 1));
    /* lstrip/rstrip take the spaces around <m> */
    expect_ids(t, "a <m> b", false, true, IDS(0, 15, 1));
    /* as plain text: a, " <" (G <), m, >, " b" (merge G b) */
    expect_ids(t, "a <m> b", false, false, IDS(0, 3, 8, 12, 9, 5));
    /* single_word: not inside a word */
    expect_ids(t, "cab", false, false, IDS(16));
    expect_ids(t, "xcab", false, false, IDS(11, 2, 4));
    expect_ids(t, "x cab", false, false, IDS(11, 3, 16));
    assert_true(ingot_tokenizer_is_special(t, 13));
    assert_false(ingot_tokenizer_is_special(t, 14));
    assert_false(ingot_tokenizer_is_special(t, 99));
    assert_string_equal(ingot_tokenizer_id_to_token(t, 15), "<m>");
    /* decoding: specials kept or skipped */
    expect_decode(t, IDS(0, 13, 1, 14), false, "a<s>b<x>");
    expect_decode(t, IDS(0, 13, 1, 14), true, "ab<x>");
    expect_stream(t, IDS(0, 13, 1, 14, 5), true);
    expect_stream(t, IDS(0, 13, 1, 14, 5), false);
    ingot_tokenizer_free(t);
}

static void test_added_normalized(void **state) {
    (void)state;
    ingot_tokenizer *t = make(
        bl_model("[\"a b\"]", false), "{\"type\":\"Lowercase\"}", BL_PRE, NULL, BL_DEC,
        "[{\"id\":13,\"content\":\"<Up>\",\"special\":false,\"normalized\":true,\"lstrip\":false,"
        "\"rstrip\":false,\"single_word\":false}]");
    /* "A<UP>B" -> "a<up>b", where the normalized content "<up>" matches */
    expect_ids(t, "A<UP>B", false, false, IDS(0, 13, 1));
    ingot_tokenizer_free(t);
}

static void test_post_processors(void **state) {
    (void)state;
    ingot_tokenizer *t = make(bl_model("[\"a b\"]", false), NULL, BL_PRE,
                              "{\"type\":\"RobertaProcessing\",\"sep\":[\"b\",1],\"cls\":[\"a\",0],"
                              "\"trim_offsets\":true,\"add_prefix_space\":false}",
                              BL_DEC, NULL);
    expect_ids(t, "c", true, false, IDS(0, 2, 1));
    expect_ids(t, "c", false, false, IDS(2));
    ingot_tokenizer_free(t);
    t = make(
        bl_model("[\"a b\"]", false), NULL, BL_PRE,
        "{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\",\"trim_offsets\":false},"
        "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<m>\","
        "\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{"
        "\"id\":\"<e>\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{\"<m>\":{\"id\":"
        "\"<m>\",\"ids\":[12],\"tokens\":[\"m\"]},\"<e>\":{\"id\":\"<e>\",\"ids\":[11,10],"
        "\"tokens\":[\"x\",\"s\"]}}}]}",
        BL_DEC, NULL);
    expect_ids(t, "ab", true, false, IDS(12, 4, 11, 10));
    expect_ids(t, "", true, false, IDS(12, 11, 10));
    ingot_tokenizer_free(t);
}

/* ---- SentencePiece-style BPE (Gemma) ---- */

#define SP_MODEL                                                                                   \
    "{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":"    \
    "null,\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":true,"                   \
    "\"ignore_merges\":false,\"vocab\":{\"<unk>\":0,\"<s>\":1,\"\\u2581\":2,\"h\":3,\"i\":4,"      \
    "\"hi\":5,\"\\u2581hi\":6,\"<0xC3>\":7,\"<0xA9>\":8,\"<0xE2>\":9},"                            \
    "\"merges\":[[\"h\",\"i\"],[\"\\u2581\",\"hi\"]]}"
#define SP_NORM "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}"
#define SP_PRE                                                                                     \
    "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"MergedWithPrevious\","      \
    "\"invert\":false}"
#define SP_POST                                                                                    \
    "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":"  \
    "0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{\"<s>\":{"   \
    "\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}}"
#define SP_DEC                                                                                     \
    "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":"          \
    "\"\\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]}"
#define SP_ADDED                                                                                   \
    "[{\"id\":0,\"content\":\"<unk>\",\"special\":true,\"normalized\":false,\"lstrip\":false,"     \
    "\"rstrip\":false,\"single_word\":false},{\"id\":1,\"content\":\"<s>\",\"special\":true,"      \
    "\"normalized\":false,\"lstrip\":false,\"rstrip\":false,\"single_word\":false}]"

static void test_byte_fallback(void **state) {
    (void)state;
    ingot_tokenizer *t = make(SP_MODEL, SP_NORM, SP_PRE, SP_POST, SP_DEC, SP_ADDED);
    /* "hi hi" -> "hi\u2581hi": h+i, then \u2581+hi */
    expect_ids(t, "hi hi", true, false, IDS(1, 5, 6));
    expect_ids(t, "hi hi", false, false, IDS(5, 6));
    /* e-acute is not in the vocabulary: its bytes C3 A9 are */
    expect_ids(t, "\xC3\xA9", false, false, IDS(7, 8));
    /* CJK characters whose bytes are missing: one fused <unk> */
    expect_ids(t, "h\xE6\x97\xA5\xE6\x9C\xACi", false, false, IDS(3, 0, 4));
    expect_ids(t, "<s>", false, false, IDS(0)); /* plain text: <, s, > are all unknown */
    expect_ids(t, "<s>", false, true, IDS(1));
    expect_decode(t, IDS(5, 7, 8, 6), false, "hi\xC3\xA9 hi");
    expect_decode(t, IDS(1, 5), false, "<s>hi");
    expect_decode(t, IDS(1, 5), true, "hi");
    /* an unfinished byte sequence: one U+FFFD per byte, as tokenizers' ByteFallback */
    expect_decode(t, IDS(7), false, "\xEF\xBF\xBD");
    expect_decode(t, IDS(7, 9, 5), false, "\xEF\xBF\xBD\xEF\xBF\xBDhi");
    expect_stream(t, IDS(5, 7, 8, 6, 7, 9, 5, 7), false);
    expect_stream(t, IDS(1, 7, 8, 1, 7, 8), true);
    /* a word of >= 256 bytes is cut where no token spans two characters (i|\u2581: yes;
     * \u2581|h: no, "\u2581hi" spans it): "hi" + " hi" x 100 + " CJK CJK" + " hi" x 100 */
    char *text = malloc(2048);
    int32_t want[210];
    size_t n = 0, len = 0;
    assert_non_null(text);
    len += (size_t)sprintf(text + len, "hi");
    want[n++] = 5;
    for (int k = 0; k < 100; k++, want[n++] = 6)
        len += (size_t)sprintf(text + len, " hi");
    len += (size_t)sprintf(text + len, " \xE6\x97\xA5\xE6\x97\xA5");
    want[n++] = 2;
    want[n++] = 0;
    for (int k = 0; k < 100; k++, want[n++] = 6)
        len += (size_t)sprintf(text + len, " hi");
    expect_ids(t, text, false, false, want, n);
    free(text);
    ingot_tokenizer_free(t);
}

static void test_metaspace_and_nfc(void **state) {
    (void)state;
    ingot_tokenizer *t = make(
        "{\"type\":\"BPE\",\"vocab\":{\"\\u2581\":0,\"a\":1,\"b\":2,\"\\u2581a\":3,\"\\u2581b\":4,"
        "\"\\u00e9\":5},\"merges\":[\"\\u2581 a\",\"\\u2581 b\"]}",
        "{\"type\":\"NFC\"}",
        "{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\","
        "\"split\":true}",
        NULL,
        "{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\","
        "\"split\":true}",
        NULL);
    expect_ids(t, "a b", false, false, IDS(3, 4));
    expect_ids(t, "ab", false, false, IDS(3, 2));
    /* e + combining acute composes to U+00E9 */
    expect_ids(t, "e\xCC\x81", false, false, IDS(0, 5));
    expect_decode(t, IDS(3, 4), false, "a b");
    expect_stream(t, IDS(3, 4, 0, 2), false);
    ingot_tokenizer_free(t);
}

static void test_split_behaviors(void **state) {
    (void)state;
    static const struct {
        const char *behavior;
        bool invert;
        int32_t ids[8];
        size_t n;
    } cases[] = {
        /* text "a-b--c" split on "-": pieces become single-token words where possible */
        {"Removed", false, {0, 1, 2}, 3},
        {"Isolated", false, {0, 3, 1, 3, 3, 2}, 6},
        {"MergedWithPrevious", false, {4, 1, 3, 3, 2}, 5}, /* a- | b- | - | c */
        {"MergedWithNext", false, {0, 5, 3, 3, 2}, 5},     /* a | -b | - | -c */
        {"Contiguous", false, {0, 3, 1, 3, 3, 2}, 6},      /* a | - | b | -- | c */
        {"Removed", true, {3, 3, 3}, 3},                   /* keep only the dashes */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char pre[256];
        snprintf(pre, sizeof pre,
                 "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"-\"},\"behavior\":\"%s\","
                 "\"invert\":%s}",
                 cases[i].behavior, cases[i].invert ? "true" : "false");
        ingot_tokenizer *t =
            make("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"-\":3,\"a-\":4,\"-b\":5,"
                 "\"--\":6},\"merges\":[\"a -\",\"- b\"]}",
                 NULL, pre, NULL, NULL, NULL);
        expect_ids(t, "a-b--c", false, false, cases[i].ids, cases[i].n);
        ingot_tokenizer_free(t);
    }
}

static void test_invalid_utf8(void **state) {
    (void)state;
    ingot_tokenizer *t = make(bl_model("[\"a b\"]", false), NULL, BL_PRE, NULL, BL_DEC, NULL);
    ingot_tokens out = {0};
    TU_FAILS(ingot_tokenizer_encode(&out, t,
                                    "ab\xFF"
                                    "c",
                                    4, NULL),
             INGOT_ERR_INVALID_ARGUMENT, "byte offset 2");
    assert_int_equal(out.count, 0);
    TU_FAILS(ingot_tokenizer_encode(&out, t, "a\xE2\x82", 3, NULL), INGOT_ERR_INVALID_ARGUMENT,
             "byte offset 1");
    TU_FAILS(ingot_tokenizer_encode(&out, t, "\xED\xA0\x80", 3, NULL), INGOT_ERR_INVALID_ARGUMENT,
             "byte offset 0"); /* a UTF-16 surrogate */
    /* replaced: "ab\uFFFDc" -> "ab", "\uFFFD" (its byte chars are not in the vocabulary and
     * there is no unk: dropped, as in tokenizers), "c" */
    ingot_encode_options o = {.replace_invalid_utf8 = true};
    TU_OK(ingot_tokenizer_encode(&out, t,
                                 "ab\xFF"
                                 "c",
                                 4, &o));
    assert_int_equal(out.count, 2);
    assert_int_equal(out.ids[0], 4);
    assert_int_equal(out.ids[1], 2);
    /* NUL bytes are text like any other (here dropped: not in the vocabulary) */
    TU_OK(ingot_tokenizer_encode(&out, t, "a\0b", 3, NULL));
    assert_int_equal(out.count, 2);
    ingot_tokens_free(&out);
    ingot_tokenizer_free(t);
}

static void test_errors(void **state) {
    (void)state;
    ingot_tokenizer *t = NULL;
    TU_FAILS(ingot_tokenizer_load(&t, "/nonexistent/ingot"), INGOT_ERR_NOT_FOUND, "tokenizer.json");
    TU_FAILS(ingot_tokenizer_load(NULL, tmpdir), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_FAILS(ingot_tokenizer_load(&t, NULL), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_FAILS(try_make("{\"model\": "), INGOT_ERR_FORMAT, "malformed JSON at line 1");
    TU_FAILS(try_make("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}} x"),
             INGOT_ERR_FORMAT, "trailing");
    TU_FAILS(try_make("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"\\ud800\"}}}"),
             INGOT_ERR_FORMAT, "surrogate");
    TU_FAILS(try_make("[1, 2]"), INGOT_ERR_FORMAT, "not an object");
    TU_FAILS(try_make("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}"),
             INGOT_ERR_UNSUPPORTED, "WordPiece");
    const char *model = "{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[]}";
    char doc[1024];
    static const char *const unsupported[][2] = {{"normalizer", "BertNormalizer"},
                                                 {"pre_tokenizer", "Whitespace"},
                                                 {"decoder", "CTC"},
                                                 {"post_processor", "Unknown"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(doc, sizeof doc, "{\"model\": %s, \"%s\": {\"type\": \"%s\"}}", model,
                 unsupported[i][0], unsupported[i][1]);
        TU_FAILS(try_make(doc), INGOT_ERR_UNSUPPORTED, unsupported[i][1]);
    }
    TU_FAILS(try_make("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a z\"]}}"),
             INGOT_ERR_FORMAT, "\"z\" is not in the vocabulary");
    TU_FAILS(try_make("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a\"]}}"),
             INGOT_ERR_FORMAT, "merged \"aa\"");
    TU_FAILS(try_make("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"aa\"]}}"),
             INGOT_ERR_FORMAT, "merges[0]");
    TU_FAILS(try_make("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"a\":1},\"merges\":[]}}"),
             INGOT_ERR_FORMAT, "repeats");
    TU_FAILS(try_make("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}}"),
             INGOT_ERR_FORMAT, "id 0");
    TU_FAILS(try_make("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}"),
             INGOT_ERR_FORMAT, "not a valid id");
    TU_FAILS(try_make("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],"
                      "\"unk_token\":\"<unk>\"}}"),
             INGOT_ERR_FORMAT, "unk_token");
    TU_FAILS(try_make("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
                      "\"added_tokens\":[{\"id\":5,\"content\":\"<s>\"}]}"),
             INGOT_ERR_FORMAT, "would give it 1");
    TU_FAILS(try_make("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
                      "\"truncation\":{\"max_length\":5}}"),
             INGOT_ERR_UNSUPPORTED, "truncation");
    TU_FAILS(try_make("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
                      "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},"
                      "\"behavior\":\"Isolated\"}}"),
             INGOT_ERR_UNSUPPORTED, "regex");
    /* API misuse on a good tokenizer */
    t = make(bl_model("[\"a b\"]", false), NULL, BL_PRE, NULL, BL_DEC, NULL);
    ingot_tokens out = {0};
    char *text = NULL;
    TU_FAILS(ingot_tokenizer_encode(NULL, t, "a", 1, NULL), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_FAILS(ingot_tokenizer_encode(&out, NULL, "a", 1, NULL), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_FAILS(ingot_tokenizer_encode(&out, t, NULL, 1, NULL), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_OK(ingot_tokenizer_encode(&out, t, NULL, 0, NULL));
    assert_int_equal(out.count, 0);
    TU_FAILS(ingot_tokenizer_decode(&text, NULL, t, IDS(0, 13), false), INGOT_ERR_INDEX,
             "position 1");
    TU_FAILS(ingot_tokenizer_decode(&text, NULL, t, IDS(-4), false), INGOT_ERR_INDEX, "-4");
    assert_null(text);
    TU_FAILS(ingot_tokenizer_decode(&text, NULL, t, NULL, 2, false), INGOT_ERR_INVALID_ARGUMENT,
             "NULL");
    ingot_detokenizer *d = NULL;
    const char *piece;
    TU_OK(ingot_detokenizer_new(&d, t, false));
    TU_FAILS(ingot_detokenizer_push(&piece, NULL, d, 99), INGOT_ERR_INDEX, "99");
    TU_FAILS(ingot_detokenizer_push(&piece, NULL, NULL, 1), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    ingot_detokenizer_free(d);
    ingot_tokens_free(&out);
    ingot_tokens_free(NULL);
    ingot_tokenizer_free(t);
    ingot_tokenizer_free(NULL);
    ingot_detokenizer_free(NULL);
}

static void test_config_files(void **state) {
    (void)state;
    write_file("tokenizer_config.json",
               "{\"bos_token\": {\"content\": \"<s>\", \"lstrip\": false}, \"eos_token\": \"<x>\","
               " \"pad_token\": null, \"chat_template\": [{\"name\": \"default\", \"template\": "
               "\"T{{ x }}\"}, {\"name\": \"tool_use\", \"template\": \"U\"}]}");
    write_file("generation_config.json", "{\"eos_token_id\": [14, 12], \"bos_token_id\": 13}");
    write_file("special_tokens_map.json", "{\"pad_token\": \"<m>\"}");
    ingot_tokenizer *t = make(bl_model("[\"a b\"]", false), NULL, BL_PRE, NULL, BL_DEC, ADDED);
    assert_int_equal(ingot_tokenizer_bos_id(t), 13);
    assert_int_equal(ingot_tokenizer_eos_id(t), 14);
    assert_int_equal(ingot_tokenizer_pad_id(t), 15);
    assert_string_equal(ingot_tokenizer_bos_token(t), "<s>");
    assert_string_equal(ingot_tokenizer_eos_token(t), "<x>");
    assert_string_equal(ingot_tokenizer_chat_template(t), "T{{ x }}");
    const int32_t *stop;
    size_t n;
    ingot_tokenizer_stop_ids(&stop, &n, t);
    assert_int_equal(n, 2);
    assert_int_equal(stop[0], 14);
    assert_int_equal(stop[1], 12);
    ingot_tokenizer_free(t);
    write_file("generation_config.json", "{\"eos_token_id\": 12");
    write_file("tokenizer.json",
               "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}");
    TU_FAILS(ingot_tokenizer_load(&t, tmpdir), INGOT_ERR_FORMAT, "generation_config.json");
    remove_file("generation_config.json");
    remove_file("special_tokens_map.json");
    remove_file("tokenizer_config.json");
}

/* Replaces name in tmpdir by a sparse file of size bytes (zeros). */
static void write_sparse(const char *name, off_t size) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    unlink(p);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), size), 0);
    assert_int_equal(fclose(f), 0);
}

/* Every file the loader reads is a regular file within its documented limit:
 * FIFOs, devices and directories are refused without waiting for a writer
 * (the alarm turns a blocked open into a failure instead of a hang), files
 * one byte over the limit fail with LIMIT naming the file and the limit. */
static void test_file_limits(void **state) {
    (void)state;
    const char *tiny = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}";
    write_file("tokenizer.json", tiny);
    char p[512];
    snprintf(p, sizeof p, "%s/tokenizer_config.json", tmpdir);
    assert_int_equal(mkfifo(p, 0600), 0);
    ingot_tokenizer *t = NULL;
    alarm(30);
    TU_FAILS(ingot_tokenizer_load(&t, tmpdir), INGOT_ERR_IO, "tokenizer_config.json is a FIFO");
    alarm(0);
    remove_file("tokenizer_config.json");
    snprintf(p, sizeof p, "%s/chat_template.jinja", tmpdir);
    assert_int_equal(mkdir(p, 0700), 0);
    TU_FAILS(ingot_tokenizer_load(&t, tmpdir), INGOT_ERR_IO, "chat_template.jinja is a directory");
    assert_int_equal(rmdir(p), 0);
    write_sparse("generation_config.json", ((off_t)16 << 20) + 1);
    TU_FAILS(ingot_tokenizer_load(&t, tmpdir), INGOT_ERR_LIMIT, "over the limit of 16 MiB");
    remove_file("generation_config.json");
    write_sparse("tokenizer.json", ((off_t)256 << 20) + 1);
    TU_FAILS(ingot_tokenizer_load(&t, tmpdir), INGOT_ERR_LIMIT,
             "tokenizer.json is 268435457 bytes, over the limit of 256 MiB");
    assert_null(t);
    /* at the limit is fine: a generation_config.json padded to 16 MiB */
    write_file("tokenizer.json", tiny);
    write_sparse("generation_config.json", (off_t)16 << 20);
    snprintf(p, sizeof p, "%s/generation_config.json", tmpdir);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    char *pad = malloc((size_t)16 << 20);
    assert_non_null(pad);
    memset(pad, ' ', (size_t)16 << 20);
    memcpy(pad, "{\"eos_token_id\": 0}", 19);
    assert_int_equal(fwrite(pad, 1, (size_t)16 << 20, f), (size_t)16 << 20);
    assert_int_equal(fclose(f), 0);
    free(pad);
    TU_OK(ingot_tokenizer_load(&t, tmpdir));
    assert_int_equal(ingot_tokenizer_eos_id(t), 0);
    ingot_tokenizer_free(t);
    remove_file("generation_config.json");
}

/* A generation_config.json listing every id of a 2^20-token vocabulary
 * (permuted), then repeats and ids that are not in the vocabulary: the stop
 * ids are each vocabulary id once, in first-listed order. The sizes are the
 * test: a scan of the ids so far per listed id (the old deduplication) makes
 * 5.5e11 comparisons here, minutes, where the bitset takes milliseconds; the
 * alarm, far above the load's normal second or two, fails such a regression
 * instead of leaving it to ctest's timeout. */
static void test_stop_ids_long_list(void **state) {
    (void)state;
    enum { N = 1 << 20 };
    size_t cap = (size_t)N * 24 + 64, len = 0;
    char *doc = malloc(cap);
    int32_t *perm = malloc(N * sizeof *perm);
    assert_non_null(doc);
    assert_non_null(perm);
    len += (size_t)snprintf(doc, cap, "{\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":{");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(doc + len, cap - len, "%s\"t%d\":%d", i ? "," : "", i, i);
    snprintf(doc + len, cap - len, "}}}");
    write_file("tokenizer.json", doc);
    len = (size_t)snprintf(doc, cap, "{\"eos_token_id\": [");
    for (int i = 0; i < N; i++) { /* 7919 is odd: i -> 7919 i mod 2^20 is a permutation */
        perm[i] = (int32_t)(((int64_t)i * 7919) % N);
        len += (size_t)snprintf(doc + len, cap - len, "%d, ", (int)perm[i]);
    }
    snprintf(doc + len, cap - len, "%d, %d, %d, -1, 2.5, \"x\", %d, %d]}", (int)perm[0], 5,
             (int)perm[N - 1], N, N + 7);
    write_file("generation_config.json", doc);
    free(doc);
    ingot_tokenizer *t = NULL;
    alarm(120);
    TU_OK(ingot_tokenizer_load(&t, tmpdir));
    alarm(0);
    const int32_t *stop;
    size_t n;
    ingot_tokenizer_stop_ids(&stop, &n, t);
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++)
        if (stop[i] != perm[i]) fail_msg("stop[%d] = %d, want %d", i, (int)stop[i], (int)perm[i]);
    assert_int_equal(ingot_tokenizer_eos_id(t), perm[0]);
    ingot_tokenizer_free(t);
    free(perm);
    remove_file("generation_config.json");
}

/* ---- threads: one tokenizer, many encoders ---- */

typedef struct {
    const ingot_tokenizer *t;
    const char *text;
    int32_t ids[64];
    size_t n;
} thread_job;

static void *encode_job(void *arg) {
    thread_job *j = arg;
    ingot_tokens out = {0};
    for (int rep = 0; rep < 200; rep++)
        if (ingot_tokenizer_encode(&out, j->t, j->text, strlen(j->text), NULL) == INGOT_OK &&
            out.count <= 64) {
            j->n = out.count;
            memcpy(j->ids, out.ids, out.count * 4);
        }
    ingot_tokens_free(&out);
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    ingot_tokenizer *t = make(bl_model("[\"a b\", \"\\u0120 b\", \"b c\"]", false), NULL, BL_PRE,
                              NULL, BL_DEC, ADDED);
    thread_job jobs[4] = {
        {t, "ab c", {0}, 0}, {t, "a <m> b", {0}, 0}, {t, "x cab", {0}, 0}, {t, "abc abc", {0}, 0}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, encode_job, &jobs[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    static const int32_t want[4][6] = {
        {4, 3, 2}, {0, 3, 8, 12, 9, 5}, {11, 3, 16}, {4, 2, 3, 4, 2}};
    static const size_t wn[4] = {3, 6, 3, 5};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(jobs[i].n, wn[i]);
        assert_memory_equal(jobs[i].ids, want[i], wn[i] * 4);
    }
    ingot_tokenizer_free(t);
}

/* ---- the real files ---- */

static ingot_tokenizer *load_real(const char *name) {
    const char *assets = getenv("INGOT_ASSETS");
    if (!assets) return NULL;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tokenizer-%s/models", assets, name);
    struct stat sb;
    if (stat(dir, &sb) != 0) return NULL;
    ingot_tokenizer *t = NULL;
    TU_OK(ingot_tokenizer_load(&t, dir));
    return t;
}

/* Random ids (special ones too) through the detokenizer, and a round trip. */
static void stream_random(const ingot_tokenizer *t, uint64_t seed) {
    int32_t ids[300];
    int64_t n = ingot_tokenizer_vocab_size(t);
    for (size_t i = 0; i < 300; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((seed >> 33) % (uint64_t)n);
        if (!ingot_tokenizer_id_to_token(t, ids[i])) ids[i] = 0;
    }
    expect_stream(t, ids, 300, false);
    expect_stream(t, ids, 300, true);
    static const char *const texts[] = {"Hello world", "  Ünïcödé 日本語 😀 12345\n\n\tx",
                                        "emoji 👨‍👩‍👧 ok"};
    for (size_t k = 0; k < 3; k++) {
        ingot_tokens out = {0};
        TU_OK(ingot_tokenizer_encode(&out, t, texts[k], strlen(texts[k]), NULL));
        expect_decode(t, out.ids, out.count, false, texts[k]);
        expect_stream(t, out.ids, out.count, false);
        ingot_tokens_free(&out);
    }
}

static void test_real_qwen3(void **state) {
    (void)state;
    ingot_tokenizer *t = load_real("qwen3");
    if (!t) skip();
    expect_ids(t, "Hello world", true, false, IDS(9707, 1879));
    expect_ids(t, "  Ünïcödé 日本語 😀 12345", true, false,
               IDS(220, 30512, 77, 37572, 66, 2956, 128505, 75402, 21894, 102819, 90316, 220, 16,
                   17, 18, 19, 20));
    expect_ids(t, "<|im_start|>user\nhi<|im_end|>", true, true,
               IDS(151644, 872, 198, 6023, 151645));
    expect_ids(t, "aaaaaaaaaaaaaaaa", true, false, IDS(69440, 69440));
    /* <think> is a non-special added token: matched even without parse_special */
    int32_t think;
    TU_OK(ingot_tokenizer_token_to_id(&think, t, "<think>"));
    expect_ids(t, "<think>", false, false, &think, 1);
    assert_int_equal(ingot_tokenizer_eos_id(t), 151645);
    assert_int_equal(ingot_tokenizer_pad_id(t), 151643);
    assert_int_equal(ingot_tokenizer_bos_id(t), -1);
    assert_non_null(ingot_tokenizer_chat_template(t));
    const int32_t *stop;
    size_t n;
    ingot_tokenizer_stop_ids(&stop, &n, t);
    assert_int_equal(n, 1);
    assert_int_equal(stop[0], 151645);
    stream_random(t, 1);
    ingot_tokenizer_free(t);
}

static void test_real_llama3(void **state) {
    (void)state;
    ingot_tokenizer *t = load_real("llama3");
    if (!t) skip();
    expect_ids(t, "Hello world", true, false, IDS(9906, 1917));
    expect_ids(t, "  Ünïcödé 日本語 😀 12345", true, false,
               IDS(220, 105766, 38672, 66, 3029, 67, 978, 105180, 102158, 91416, 220, 4513, 1774));
    expect_ids(t, "<|eot_id|>x", true, true, IDS(128009, 87));
    expect_ids(t, "aaaaaaaaaaaaaaaa", true, false, IDS(70540, 70540));
    assert_int_equal(ingot_tokenizer_bos_id(t), 128000);
    const int32_t *stop;
    size_t n;
    ingot_tokenizer_stop_ids(&stop, &n, t);
    assert_int_equal(n, 2); /* <|end_of_text|>, <|eot_id|> (this Llama 3 has no <|eom_id|>) */
    assert_int_equal(stop[0], 128001);
    assert_int_equal(stop[1], 128009);
    stream_random(t, 2);
    ingot_tokenizer_free(t);
}

static void test_real_gemma3(void **state) {
    (void)state;
    ingot_tokenizer *t = load_real("gemma3");
    if (!t) skip();
    expect_ids(t, "Hello world", true, false, IDS(2, 9259, 1902));
    expect_ids(t, "Hello world", false, false, IDS(9259, 1902));
    expect_ids(t, "  Ünïcödé 日本語 😀 12345", true, false,
               IDS(2, 138, 238194, 236749, 238527, 236755, 55515, 236859, 33375, 238582, 163543,
                   236743, 236770, 236778, 236800, 236812, 236810));
    expect_ids(t, "<start_of_turn>user\nhi<end_of_turn>", true, true,
               IDS(2, 105, 2364, 107, 2202, 106));
    expect_ids(t, "aaaaaaaaaaaaaaaa", true, false, IDS(2, 128820, 128820));
    assert_int_equal(ingot_tokenizer_bos_id(t), 2);
    assert_int_equal(ingot_tokenizer_eos_id(t), 106);
    assert_int_equal(ingot_tokenizer_pad_id(t), 0);
    stream_random(t, 3);
    /* a long word without spaces (Gemma never splits it): encodes and round-trips */
    size_t len = 200000;
    char *big = malloc(len + 1);
    assert_non_null(big);
    for (size_t i = 0; i < len; i++)
        big[i] = "abcdefgh"[(i * 7 + i / 13) % 8];
    big[len] = '\0';
    ingot_tokens out = {0};
    TU_OK(ingot_tokenizer_encode(&out, t, big, len, NULL));
    expect_decode(t, out.ids, out.count, false, big);
    ingot_tokens_free(&out);
    free(big);
    ingot_tokenizer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bpe_string_merges),
        cmocka_unit_test(test_bpe_pair_merges_and_ranks),
        cmocka_unit_test(test_bpe_ignore_merges),
        cmocka_unit_test(test_added_tokens),
        cmocka_unit_test(test_added_normalized),
        cmocka_unit_test(test_post_processors),
        cmocka_unit_test(test_byte_fallback),
        cmocka_unit_test(test_metaspace_and_nfc),
        cmocka_unit_test(test_split_behaviors),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_config_files),
        cmocka_unit_test(test_file_limits),
        cmocka_unit_test(test_stop_ids_long_list),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_real_qwen3),
        cmocka_unit_test(test_real_llama3),
        cmocka_unit_test(test_real_gemma3),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
