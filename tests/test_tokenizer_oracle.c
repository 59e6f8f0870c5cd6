/* Live differential test against @huggingface/tokenizers (npm, pure JavaScript):
 * tests/oracle/tokenizer_oracle.mjs writes >= 10,000 seeded random strings per
 * tokenizer with their ids into $INGOT_BUILD_DIR/oracle/ (the ctest fixture
 * oracle_tokenizer_data, tests/oracle/oracle.cmake); this test encodes and decodes
 * them with ingot and requires every one to match. The JavaScript library always
 * parses special-token text, so ingot is checked with parse_special = true, and
 * also with parse_special = false where the text holds no special-token text. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ingot/tokenizer.h"

#define SHOW_DIFFS 5
#define TEXT_SHOWN 120 /* bytes of a text printed with a difference */

typedef struct run {
    const ingot_tokenizer *tok;
    size_t strings, checks, bad;
} run;

static void encode_case(run *r, const char *text, size_t len, bool add, bool parse,
                        const json_t *want, const char *mode) {
    ingot_tokens got = {0};
    ingot_encode_options o = {.add_special_tokens = add, .parse_special = parse};
    ingot_status st = ingot_tokenizer_encode(&got, r->tok, text, len, &o);
    r->checks++;
    if (st != INGOT_OK || !tu_ids_equal(got.ids, got.count, want)) {
        if (r->bad++ < SHOW_DIFFS) {
            print_message("  mismatch (%s)\n", mode);
            tu_print_text("text    ", text, len, TEXT_SHOWN);
            tu_print_ids_mismatch(want, st, &got);
        }
    }
    ingot_tokens_free(&got);
}

static void decode_case(run *r, const char *text, size_t len, const json_t *ids_j,
                        const json_t *want) {
    size_t n, got_len = 0;
    int32_t *ids = tu_json_ids(ids_j, &n);
    char *got = NULL;
    ingot_status st = ingot_tokenizer_decode(&got, &got_len, r->tok, ids, n, false);
    r->checks++;
    if (st != INGOT_OK || got_len != json_string_length(want) ||
        memcmp(got, json_string_value(want), got_len) != 0) {
        if (r->bad++ < SHOW_DIFFS) {
            print_message("  mismatch (decode)\n");
            tu_print_text("text    ", text, len, TEXT_SHOWN);
            tu_print_text("expected", json_string_value(want), json_string_length(want),
                          TEXT_SHOWN);
            if (st == INGOT_OK)
                tu_print_text("got     ", got, got_len, TEXT_SHOWN);
            else
                tu_print_got_error(st);
        }
    }
    free(got);
    free(ids);
}

static void check_record(run *r, const json_t *rec) {
    if (json_object_get(rec, "meta")) return;
    const json_t *text_j = json_object_get(rec, "text");
    const char *text = json_string_value(text_j);
    size_t len = json_string_length(text_j);
    const json_t *ids = json_object_get(rec, "ids");
    const json_t *ids_special = json_object_get(rec, "ids_special");
    assert_non_null(text);
    r->strings++;
    encode_case(r, text, len, false, true, ids, "parse_special");
    encode_case(r, text, len, true, true, ids_special, "parse_special + special tokens");
    if (!json_is_true(json_object_get(rec, "has_special"))) {
        encode_case(r, text, len, false, false, ids, "plain");
        encode_case(r, text, len, true, false, ids_special, "plain + special tokens");
    }
    decode_case(r, text, len, ids_special, json_object_get(rec, "decoded"));
}

static void oracle(const char *name) {
    const char *build = getenv("INGOT_BUILD_DIR");
    char *dir = tu_asset_dir(name);
    char path[4096];
    json_t *lines = NULL;
    if (build) {
        snprintf(path, sizeof path, "%s/oracle/tokenizer_oracle_%s.jsonl", build, name);
        lines = tu_read_jsonl(path);
    }
    if (!dir || !lines) {
        /* the data step writes nothing when the assets are missing */
        print_message("%s: no tokenizer assets or no oracle data (run scripts/setup.sh)\n", name);
        json_decref(lines);
        free(dir);
        skip();
    }
    ingot_tokenizer *tok = NULL;
    TU_OK(ingot_tokenizer_load(&tok, dir));
    run r = {tok, 0, 0, 0};
    size_t i;
    json_t *rec;
    json_array_foreach(lines, i, rec) check_record(&r, rec);
    json_decref(lines);
    print_message("%s: %zu random strings, %zu checks against @huggingface/tokenizers, "
                  "%zu mismatches\n",
                  name, r.strings, r.checks, r.bad);
    ingot_tokenizer_free(tok);
    free(dir);
    assert_true(r.strings >= 10000);
    assert_int_equal(r.bad, 0);
}

static void test_oracle_qwen3(void **state) { oracle("qwen3"); }
static void test_oracle_gemma3(void **state) { oracle("gemma3"); }
static void test_oracle_llama3(void **state) { oracle("llama3"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_qwen3),
        cmocka_unit_test(test_oracle_gemma3),
        cmocka_unit_test(test_oracle_llama3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
