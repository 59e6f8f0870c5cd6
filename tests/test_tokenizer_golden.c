/* Goldens from Hugging Face: every string of tests/fixtures/tokenizer/encode_NAME.jsonl
 * (made by scripts/fixtures/gen_tokenizer_goldens.py with `tokenizers` and
 * `transformers` on the GPU machine; docs/reference-data.md) encoded in the four
 * modes and decoded three ways, plus the streaming detokenizer; and every
 * conversation of chat_NAME.jsonl rendered by ingot_chat_apply, byte for byte
 * against transformers' apply_chat_template (or failing where it failed). 100% must
 * match; the first few differences are printed. Also the special-token ids, texts and
 * stop ids, with constants read off the config files. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ingot/chat.h"
#include "ingot/tokenizer.h"

#define SHOW_DIFFS 5
#define TEXT_SHOWN 120 /* bytes of a text printed with a difference */

static const char *const NAMES[] = {"qwen3", "gemma3", "llama3"};

/* ---- helpers ---- */

/* prefix + ids + suffix as a new JSON array. */
static json_t *with_affixes(const json_t *prefix, const json_t *ids, const json_t *suffix) {
    json_t *out = json_array();
    json_array_extend(out, (json_t *)prefix);
    json_array_extend(out, (json_t *)ids);
    json_array_extend(out, (json_t *)suffix);
    return out;
}

typedef struct tally {
    const char *name;
    size_t checks, bad;
} tally;

/* Counts a check; prints the first few failures with the case's text. */
static bool tally_check(tally *t, bool ok, const char *mode, const char *text, size_t len) {
    t->checks++;
    if (ok) return true;
    if (t->bad++ < SHOW_DIFFS) {
        print_message("  %s: mismatch (%s)\n", t->name, mode);
        tu_print_text("text", text, len, TEXT_SHOWN);
    }
    return false;
}

/* ---- encode / decode goldens ---- */

static void check_encode(tally *t, const ingot_tokenizer *tok, const char *text, size_t len,
                         bool add, bool parse, const json_t *want, const char *mode) {
    ingot_tokens got = {0};
    ingot_encode_options o = {.add_special_tokens = add, .parse_special = parse};
    ingot_status st = ingot_tokenizer_encode(&got, tok, text, len, &o);
    bool ok = st == INGOT_OK && tu_ids_equal(got.ids, got.count, want);
    if (!tally_check(t, ok, mode, text, len) && t->bad <= SHOW_DIFFS) {
        tu_print_ids_mismatch(want, st, &got);
    }
    ingot_tokens_free(&got);
}

static void check_decode(tally *t, const ingot_tokenizer *tok, const json_t *ids_json, bool skip,
                         const json_t *want, const char *mode, const char *text, size_t len) {
    size_t n, got_len = 0;
    int32_t *ids = tu_json_ids(ids_json, &n);
    char *got = NULL;
    ingot_status st = ingot_tokenizer_decode(&got, &got_len, tok, ids, n, skip);
    const char *w = json_string_value(want);
    size_t wlen = json_string_length(want);
    bool ok = st == INGOT_OK && got_len == wlen && memcmp(got, w, wlen) == 0;
    if (!tally_check(t, ok, mode, text, len) && t->bad <= SHOW_DIFFS) {
        tu_print_ids("ids     ", ids, n);
        tu_print_text("expected", w, wlen, TEXT_SHOWN);
        if (st == INGOT_OK)
            tu_print_text("got     ", got, got_len, TEXT_SHOWN);
        else
            tu_print_got_error(st);
    }
    free(got);
    free(ids);
}

/* Pushes ids one at a time through a detokenizer: the pieces (each whole UTF-8)
 * concatenated, then the flush, must equal the golden decode. */
static void check_stream(tally *t, const ingot_tokenizer *tok, const json_t *ids_json,
                         const json_t *want, const char *text, size_t len) {
    size_t n, cap = 64, used = 0;
    int32_t *ids = tu_json_ids(ids_json, &n);
    char *acc = malloc(cap);
    ingot_detokenizer *d = NULL;
    bool ok = ingot_detokenizer_new(&d, tok, false) == INGOT_OK;
    for (size_t i = 0; ok && i <= n; i++) {
        const char *piece = NULL;
        size_t plen = 0;
        ok = (i < n ? ingot_detokenizer_push(&piece, &plen, d, ids[i])
                    : ingot_detokenizer_flush(&piece, &plen, d)) == INGOT_OK;
        if (!ok) break;
        if (used + plen + 1 > cap) {
            cap = 2 * (used + plen + 1);
            acc = realloc(acc, cap);
            assert_non_null(acc);
        }
        memcpy(acc + used, piece, plen);
        used += plen;
    }
    ok = ok && used == json_string_length(want) && memcmp(acc, json_string_value(want), used) == 0;
    if (!tally_check(t, ok, "stream decode", text, len) && t->bad <= SHOW_DIFFS) {
        tu_print_text("expected", json_string_value(want), json_string_length(want), TEXT_SHOWN);
        tu_print_text("got     ", acc, used, TEXT_SHOWN);
    }
    ingot_detokenizer_free(d);
    free(acc);
    free(ids);
}

/* Fields left out of a golden record equal their default (gen_tokenizer_goldens.py). */
static const json_t *field(const json_t *rec, const char *key, const json_t *dflt) {
    const json_t *v = json_object_get(rec, key);
    return v ? v : dflt;
}

/* One golden file: the tokenizer NAME and the parsed lines of
 * $INGOT_FIXTURES/tokenizer/KIND_NAME.jsonl (line 0 is the meta record). */
typedef struct golden {
    char *dir;
    ingot_tokenizer *tok;
    json_t *lines;
} golden;

/* Loads the tokenizer and the golden file; skips the test without the assets. */
static golden golden_open(const char *kind, const char *name) {
    golden g = {tu_asset_dir(name), NULL, NULL};
    char path[4096];
    const char *fixtures = getenv("INGOT_FIXTURES");
    if (!g.dir || !fixtures) {
        free(g.dir);
        print_message("%s: tokenizer assets not found (run scripts/setup.sh)\n", name);
        skip();
    }
    TU_OK(ingot_tokenizer_load(&g.tok, g.dir));
    snprintf(path, sizeof path, "%s/tokenizer/%s_%s.jsonl", fixtures, kind, name);
    g.lines = tu_read_jsonl(path);
    if (!g.lines) fail_msg("cannot open %s", path);
    return g;
}

static void golden_close(golden *g) {
    json_decref(g->lines);
    ingot_tokenizer_free(g->tok);
    free(g->dir);
}

static void encode_goldens(const char *name) {
    golden g = golden_open("encode", name);
    const ingot_tokenizer *tok = g.tok;
    const json_t *lines = g.lines;
    const json_t *meta = json_object_get(json_array_get(lines, 0), "meta");
    const json_t *prefix = json_object_get(meta, "add_prefix");
    const json_t *suffix = json_object_get(meta, "add_suffix");
    assert_non_null(prefix);
    assert_non_null(suffix);
    tally t = {name, 0, 0};
    for (size_t i = 1; i < json_array_size(lines); i++) {
        const json_t *rec = json_array_get(lines, i);
        const json_t *text_j = json_object_get(rec, "text");
        const char *text = json_string_value(text_j);
        size_t len = json_string_length(text_j);
        const json_t *ids = json_object_get(rec, "ids");
        json_t *dflt_add = with_affixes(prefix, ids, suffix);
        const json_t *ids_add = field(rec, "ids_add", dflt_add);
        const json_t *ids_sp = field(rec, "ids_sp", ids);
        json_t *dflt_sp_add = with_affixes(prefix, ids_sp, suffix);
        const json_t *ids_sp_add = field(rec, "ids_sp_add", dflt_sp_add);
        const json_t *dec_skip = field(rec, "dec_skip", text_j);
        const json_t *dec = field(rec, "dec", dec_skip);
        const json_t *dec_plain = field(rec, "dec_plain", text_j);

        check_encode(&t, tok, text, len, false, false, ids, "encode plain");
        check_encode(&t, tok, text, len, true, false, ids_add, "encode plain + special tokens");
        check_encode(&t, tok, text, len, false, true, ids_sp, "encode parse_special");
        check_encode(&t, tok, text, len, true, true, ids_sp_add,
                     "encode parse_special + special tokens");
        check_decode(&t, tok, ids_sp_add, false, dec, "decode", text, len);
        check_decode(&t, tok, ids_sp_add, true, dec_skip, "decode skip_special", text, len);
        check_decode(&t, tok, ids, false, dec_plain, "decode plain ids", text, len);
        check_stream(&t, tok, ids_sp_add, dec, text, len);
        json_decref(dflt_add);
        json_decref(dflt_sp_add);
    }
    print_message("%s: %zu golden strings, %zu checks, %zu mismatches (HF tokenizers %s)\n", name,
                  json_array_size(lines) - 1, t.checks, t.bad,
                  json_string_value(json_object_get(meta, "tokenizers")));
    golden_close(&g);
    assert_int_equal(t.bad, 0);
}

/* Random id sequences (byte tokens that leave invalid or split UTF-8, added tokens, any
 * vocabulary id): decode and the streaming detokenizer against HF's decode, which
 * fixes the U+FFFD replacement. */
static void decode_goldens(const char *name) {
    golden g = golden_open("decode", name);
    const ingot_tokenizer *tok = g.tok;
    const json_t *lines = g.lines;
    tally t = {name, 0, 0};
    for (size_t i = 1; i < json_array_size(lines); i++) {
        const json_t *rec = json_array_get(lines, i);
        const json_t *ids = json_object_get(rec, "ids");
        const json_t *dec = json_object_get(rec, "dec");
        char *ids_text = json_dumps(ids, JSON_COMPACT);
        size_t ids_len = strlen(ids_text);
        check_decode(&t, tok, ids, false, dec, "decode ids", ids_text, ids_len);
        check_decode(&t, tok, ids, true, field(rec, "dec_skip", dec), "decode ids skip_special",
                     ids_text, ids_len);
        check_stream(&t, tok, ids, dec, ids_text, ids_len);
        free(ids_text);
    }
    print_message("%s: %zu golden id sequences, %zu checks, %zu mismatches\n", name,
                  json_array_size(lines) - 1, t.checks, t.bad);
    golden_close(&g);
    assert_int_equal(t.bad, 0);
}

/* ---- chat-template goldens ---- */

static void chat_goldens(const char *name) {
    golden g = golden_open("chat", name);
    const ingot_tokenizer *tok = g.tok;
    const json_t *lines = g.lines;
    tally t = {name, 0, 0};
    size_t n_err = 0;
    for (size_t i = 1; i < json_array_size(lines); i++) {
        const json_t *rec = json_array_get(lines, i);
        char *conv = json_dumps(json_object_get(rec, "conversation"),
                                JSON_COMPACT | JSON_REAL_PRECISION(17));
        char *vars = json_dumps(json_object_get(rec, "vars"), JSON_COMPACT);
        bool gen = json_is_true(json_object_get(rec, "add_generation_prompt"));
        const json_t *want = json_object_get(rec, "text");
        char *out = NULL;
        size_t out_len = 0;
        ingot_status st = ingot_chat_apply(&out, &out_len, tok, conv, strlen(conv), gen, vars);
        bool ok;
        if (want) {
            ok = st == INGOT_OK && out_len == json_string_length(want) &&
                 memcmp(out, json_string_value(want), out_len) == 0;
        } else {
            /* transformers failed: a template's raise_exception is INVALID_ARGUMENT with
             * its message; any other failure (a type error) just has to fail */
            const char *type = json_string_value(json_object_get(rec, "error_type"));
            const char *msg = json_string_value(json_object_get(rec, "error"));
            n_err++;
            ok = st != INGOT_OK;
            if (ok && type && strcmp(type, "TemplateError") == 0)
                ok = st == INGOT_ERR_INVALID_ARGUMENT && strstr(ingot_last_error(), msg);
        }
        if (!tally_check(&t, ok, "chat template", conv, strlen(conv)) && t.bad <= SHOW_DIFFS) {
            print_message("      add_generation_prompt %d, vars %s\n", gen, vars);
            if (want)
                tu_print_text("expected", json_string_value(want), json_string_length(want),
                              TEXT_SHOWN);
            else
                print_message("      expected an error: %s\n",
                              json_string_value(json_object_get(rec, "error")));
            if (st == INGOT_OK)
                tu_print_text("got     ", out, out_len, TEXT_SHOWN);
            else
                tu_print_got_error(st);
        }
        free(out);
        free(conv);
        free(vars);
    }
    print_message("%s: %zu golden conversations (%zu expected errors), %zu mismatches\n", name,
                  json_array_size(lines) - 1, n_err, t.bad);
    golden_close(&g);
    assert_int_equal(t.bad, 0);
}

/* ---- special tokens (constants read off the config files by hand) ---- */

typedef struct special_case {
    const char *name;
    int64_t vocab_size;
    int32_t bos, eos, pad;
    const char *bos_text, *eos_text;
    int32_t stop[4];
    size_t n_stop;
} special_case;

static const special_case SPECIALS[] = {
    /* Qwen3: no bos_token; eos <|im_end|>, pad <|endoftext|> */
    {"qwen3", 151669, -1, 151645, 151643, "", "<|im_end|>", {151645}, 1},
    /* Gemma3: <bos> 2, eos <end_of_turn> 106, <pad> 0 */
    {"gemma3", 262145, 2, 106, 0, "<bos>", "<end_of_turn>", {106}, 1},
    /* Llama 3: no pad; stop on <|end_of_text|> then <|eot_id|> (this vocabulary has no
     * <|eom_id|>) */
    {"llama3",
     128256,
     128000,
     128001,
     -1,
     "<|begin_of_text|>",
     "<|end_of_text|>",
     {128001, 128009},
     2},
};

static void special_tokens(const special_case *c) {
    char *dir = tu_asset_dir(c->name);
    char path[4096];
    if (!dir) skip();
    ingot_tokenizer *tok = NULL;
    TU_OK(ingot_tokenizer_load(&tok, dir));
    assert_int_equal(ingot_tokenizer_vocab_size(tok), c->vocab_size);
    assert_int_equal(ingot_tokenizer_bos_id(tok), c->bos);
    assert_int_equal(ingot_tokenizer_eos_id(tok), c->eos);
    assert_int_equal(ingot_tokenizer_pad_id(tok), c->pad);
    assert_string_equal(ingot_tokenizer_bos_token(tok), c->bos_text);
    assert_string_equal(ingot_tokenizer_eos_token(tok), c->eos_text);
    const int32_t *stop = NULL;
    size_t n_stop = 0;
    ingot_tokenizer_stop_ids(&stop, &n_stop, tok);
    assert_int_equal(n_stop, c->n_stop);
    for (size_t i = 0; i < n_stop; i++)
        assert_int_equal(stop[i], c->stop[i]);
    /* eos is a special added token whose text maps back to its id */
    int32_t id = -1;
    assert_true(ingot_tokenizer_is_special(tok, c->eos));
    assert_string_equal(ingot_tokenizer_id_to_token(tok, c->eos), c->eos_text);
    TU_OK(ingot_tokenizer_token_to_id(&id, tok, c->eos_text));
    assert_int_equal(id, c->eos);
    assert_null(ingot_tokenizer_id_to_token(tok, (int32_t)c->vocab_size));
    assert_null(ingot_tokenizer_id_to_token(tok, -1));
    /* the chat template is the config's, byte for byte */
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    json_t *config = json_load_file(path, JSON_DECODE_INT_AS_REAL, NULL); /* Llama 3: 1e30 */
    assert_non_null(config);
    assert_string_equal(ingot_tokenizer_chat_template(tok),
                        json_string_value(json_object_get(config, "chat_template")));
    json_decref(config);
    ingot_tokenizer_free(tok);
    free(dir);
}

static void test_special_qwen3(void **state) { special_tokens(&SPECIALS[0]); }
static void test_special_gemma3(void **state) { special_tokens(&SPECIALS[1]); }
static void test_special_llama3(void **state) { special_tokens(&SPECIALS[2]); }

static void test_encode_qwen3(void **state) { encode_goldens(NAMES[0]); }
static void test_encode_gemma3(void **state) { encode_goldens(NAMES[1]); }
static void test_encode_llama3(void **state) { encode_goldens(NAMES[2]); }
static void test_decode_qwen3(void **state) { decode_goldens(NAMES[0]); }
static void test_decode_gemma3(void **state) { decode_goldens(NAMES[1]); }
static void test_decode_llama3(void **state) { decode_goldens(NAMES[2]); }
static void test_chat_qwen3(void **state) { chat_goldens(NAMES[0]); }
static void test_chat_gemma3(void **state) { chat_goldens(NAMES[1]); }
static void test_chat_llama3(void **state) { chat_goldens(NAMES[2]); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_qwen3),   cmocka_unit_test(test_encode_gemma3),
        cmocka_unit_test(test_encode_llama3),  cmocka_unit_test(test_decode_qwen3),
        cmocka_unit_test(test_decode_gemma3),  cmocka_unit_test(test_decode_llama3),
        cmocka_unit_test(test_chat_qwen3),     cmocka_unit_test(test_chat_gemma3),
        cmocka_unit_test(test_chat_llama3),    cmocka_unit_test(test_special_qwen3),
        cmocka_unit_test(test_special_gemma3), cmocka_unit_test(test_special_llama3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
