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
#include <sys/stat.h>

#include "common/testutil.h"
#include "ingot/tokenizer.h"

#define SHOW_DIFFS 5

static char *asset_dir(const char *name) {
    const char *assets = getenv("INGOT_ASSETS");
    char buf[4096];
    struct stat st;
    if (!assets) return NULL;
    snprintf(buf, sizeof buf, "%s/tokenizer-%s/models", assets, name);
    return stat(buf, &st) == 0 ? strdup(buf) : NULL;
}

static bool tokens_equal(const ingot_tokens *t, const json_t *want) {
    if (t->count != json_array_size(want)) return false;
    for (size_t i = 0; i < t->count; i++)
        if (t->ids[i] != json_integer_value(json_array_get(want, i))) return false;
    return true;
}

static void print_escaped(const char *what, const char *s, size_t len) {
    char buf[600];
    size_t off = 0;
    for (size_t i = 0; i < len && i < 120; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            off += (size_t)snprintf(buf + off, sizeof buf - off, "\\x%02x", c);
        else
            buf[off++] = (char)c;
    }
    buf[off] = 0;
    print_message("      %s \"%s\"%s (%zu bytes)\n", what, buf, len > 120 ? "..." : "", len);
}

static void print_ids(const char *what, const ingot_tokens *t, const json_t *arr) {
    char buf[400];
    size_t off = 0, n = t ? t->count : json_array_size(arr);
    for (size_t i = 0; i < n && off < sizeof buf - 32; i++) {
        long long v = t ? t->ids[i] : json_integer_value(json_array_get(arr, i));
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%lld", i ? "," : "", v);
    }
    print_message("      %s [%s%s] (%zu ids)\n", what, off ? buf : "",
                  off >= sizeof buf - 32 ? ",..." : "", n);
}

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
    if (st != INGOT_OK || !tokens_equal(&got, want)) {
        if (r->bad++ < SHOW_DIFFS) {
            print_message("  mismatch (%s)\n", mode);
            print_escaped("text    ", text, len);
            print_ids("expected", NULL, want);
            if (st == INGOT_OK)
                print_ids("got     ", &got, NULL);
            else
                print_message("      got error %s: %s\n", ingot_status_str(st), ingot_last_error());
        }
    }
    ingot_tokens_free(&got);
}

static void decode_case(run *r, const char *text, size_t len, const json_t *ids_j,
                        const json_t *want) {
    size_t n = json_array_size(ids_j), got_len = 0;
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    char *got = NULL;
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)json_integer_value(json_array_get(ids_j, i));
    ingot_status st = ingot_tokenizer_decode(&got, &got_len, r->tok, ids, n, false);
    r->checks++;
    if (st != INGOT_OK || got_len != json_string_length(want) ||
        memcmp(got, json_string_value(want), got_len) != 0) {
        if (r->bad++ < SHOW_DIFFS) {
            print_message("  mismatch (decode)\n");
            print_escaped("text    ", text, len);
            print_escaped("expected", json_string_value(want), json_string_length(want));
            if (st == INGOT_OK)
                print_escaped("got     ", got, got_len);
            else
                print_message("      got error %s: %s\n", ingot_status_str(st), ingot_last_error());
        }
    }
    free(got);
    free(ids);
}

static void check_line(run *r, const char *line, size_t n, const char *path) {
    json_error_t err;
    json_t *rec = json_loadb(line, n, JSON_ALLOW_NUL, &err);
    if (!rec) fail_msg("%s: %s", path, err.text);
    if (json_object_get(rec, "meta")) {
        json_decref(rec);
        return;
    }
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
    json_decref(rec);
}

static void oracle(const char *name) {
    const char *build = getenv("INGOT_BUILD_DIR");
    char *dir = asset_dir(name);
    char path[4096];
    FILE *f = NULL;
    if (build) {
        snprintf(path, sizeof path, "%s/oracle/tokenizer_oracle_%s.jsonl", build, name);
        f = fopen(path, "rb");
    }
    if (!dir || !f) {
        /* the data step writes nothing when the assets are missing */
        print_message("%s: no tokenizer assets or no oracle data (run scripts/setup.sh)\n", name);
        if (f) fclose(f);
        free(dir);
        skip();
    }
    ingot_tokenizer *tok = NULL;
    TU_OK(ingot_tokenizer_load(&tok, dir));
    run r = {tok, 0, 0, 0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0)
        check_line(&r, line, (size_t)n, path);
    free(line);
    fclose(f);
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
