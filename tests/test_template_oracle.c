/* Live differential test of the chat templates against two oracles, both run by
 * ctest fixtures (tests/oracle/oracle.cmake) into $INGOT_BUILD_DIR/oracle/:
 *   template_py.jsonl  python3-jinja2 configured exactly as transformers configures
 *                      it (tests/oracle/template_oracle.py): the reference;
 *   template_js.jsonl  @huggingface/jinja (tests/oracle/template_oracle.mjs).
 * Each case is a real template (Qwen3, Gemma3, Llama 3 chat_template from the
 * tokenizer assets, or a labelled real-world template carried by the record: Llama 3.1
 * and Qwen2.5 style) with a generated conversation, or a small feature template.
 * ingot's ingot_chat_template_render must be byte-identical to Jinja2 (or fail where
 * Jinja2 fails; a raise_exception with its message). Where the two oracles disagree
 * with each other the case is listed and ingot is held to Jinja2, the transformers
 * behaviour. A feature template that ingot reports UNSUPPORTED is listed, not
 * failed: the subset in chat.h is what must match. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ingot/chat.h"
#include "ingot/tokenizer.h"

#define SHOW_DIFFS 8
#define TEXT_SHOWN 300 /* bytes of a text printed with a difference */

static const char *const NAMES[] = {"qwen3", "gemma3", "llama3"};

/* The outcome of one render: text, or an error message. */
typedef struct outcome {
    bool ok;
    const char *text;
    size_t len;
} outcome;

static outcome outcome_of(const json_t *rec) {
    const json_t *t = json_object_get(rec, "text");
    if (t) return (outcome){true, json_string_value(t), json_string_length(t)};
    const json_t *e = json_object_get(rec, "error");
    return (outcome){false, e ? json_string_value(e) : "", e ? json_string_length(e) : 0};
}

static bool same_outcome(outcome a, outcome b) {
    if (a.ok != b.ok) return false;
    return !a.ok || (a.len == b.len && memcmp(a.text, b.text, a.len) == 0);
}

static void print_outcome(const char *what, outcome o) {
    if (o.ok)
        tu_print_text(what, o.text, o.len, TEXT_SHOWN);
    else
        print_message("      %s error: %s\n", what, o.text);
}

typedef struct totals {
    size_t cases, real, other, feature, match, bad, unsupported, oracle_disagree, js_match;
} totals;

static void print_case(const json_t *rec, const char *why) {
    const json_t *src = json_object_get(rec, "source");
    const json_t *name = json_object_get(rec, "tokenizer");
    const json_t *label = json_object_get(rec, "label");
    char *vars = json_dumps(json_object_get(rec, "vars"), JSON_COMPACT);
    print_message("  case %lld (%s): %s\n",
                  (long long)json_integer_value(json_object_get(rec, "id")),
                  name    ? json_string_value(name)
                  : label ? json_string_value(label)
                          : "feature template",
                  why);
    if (src && !label)
        tu_print_text("template", json_string_value(src), json_string_length(src), TEXT_SHOWN);
    tu_print_text("vars    ", vars, strlen(vars), TEXT_SHOWN);
    free(vars);
}

/* Renders one case with ingot and compares it with the Jinja2 record py (and js). */
static void check_case(totals *t, const ingot_chat_template *tmpl, const json_t *py,
                       const json_t *js) {
    outcome want = outcome_of(py);
    outcome other = js ? outcome_of(js) : (outcome){false, "missing", 7};
    /* a one-construct feature template (no tokenizer, no label) */
    bool feature = json_object_get(py, "source") && !json_object_get(py, "label");
    char *vars = json_dumps(json_object_get(py, "vars"), JSON_COMPACT | JSON_REAL_PRECISION(17));
    char *out = NULL;
    size_t out_len = 0;
    ingot_status st = tmpl ? ingot_chat_template_render(&out, &out_len, tmpl, vars, strlen(vars))
                           : INGOT_ERR_UNSUPPORTED;
    outcome got = {st == INGOT_OK, st == INGOT_OK ? out : ingot_last_error(),
                   st == INGOT_OK ? out_len : strlen(ingot_last_error())};
    bool ok;
    t->cases++;
    *(feature ? &t->feature : json_object_get(py, "label") ? &t->other : &t->real) += 1;
    if (!same_outcome(want, other)) {
        if (t->oracle_disagree++ < SHOW_DIFFS) {
            print_case(py, "the oracles disagree; ingot is held to Jinja2");
            print_outcome("jinja2          ", want);
            print_outcome("@huggingface/jinja", other);
        }
    }
    if (want.ok) {
        ok = got.ok && same_outcome(want, got);
    } else {
        /* Jinja2 failed: ingot must fail too; a raise_exception carries its message */
        const char *type = json_string_value(json_object_get(py, "error_type"));
        ok = !got.ok;
        if (ok && tmpl && type && strcmp(type, "TemplateError") == 0)
            ok = st == INGOT_ERR_INVALID_ARGUMENT && strstr(got.text, want.text);
    }
    if (ok) {
        t->match++;
        if (got.ok == other.ok && (!got.ok || same_outcome(got, other))) t->js_match++;
    } else if (feature && st == INGOT_ERR_UNSUPPORTED) {
        t->unsupported++;
        print_case(py, "ingot: UNSUPPORTED (outside the subset; not a failure)");
        print_message("      %s\n", got.text);
    } else if (t->bad++ < SHOW_DIFFS) {
        print_case(py, "ingot differs from Jinja2");
        print_outcome("expected", want);
        if (got.ok)
            print_outcome("got     ", got);
        else
            print_message("      got %s: %s\n", ingot_status_str(st), got.text);
    }
    free(out);
    free(vars);
}

static void test_templates(void **state) {
    const char *build = getenv("INGOT_BUILD_DIR");
    const char *assets = getenv("INGOT_ASSETS");
    char path[4096];
    if (!build || !assets) skip();
    snprintf(path, sizeof path, "%s/oracle/template_py.jsonl", build);
    json_t *py = tu_read_jsonl(path);
    snprintf(path, sizeof path, "%s/oracle/template_js.jsonl", build);
    json_t *js = tu_read_jsonl(path);
    if (!py || !js) {
        print_message("no oracle data in %s/oracle (assets or node_modules missing: run "
                      "scripts/setup.sh)\n",
                      build);
        json_decref(py);
        json_decref(js);
        skip();
    }
    /* the real templates, parsed once from the tokenizers */
    ingot_tokenizer *toks[3] = {NULL, NULL, NULL};
    ingot_chat_template *real[3] = {NULL, NULL, NULL};
    size_t per_template[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        char *dir = tu_asset_dir(NAMES[k]);
        if (!dir) continue;
        TU_OK(ingot_tokenizer_load(&toks[k], dir));
        free(dir);
        const char *src = ingot_tokenizer_chat_template(toks[k]);
        assert_non_null(src);
        TU_OK(ingot_chat_template_parse(&real[k], src, strlen(src), NULL));
    }
    totals t = {0};
    size_t i;
    json_t *rec;
    json_array_foreach(py, i, rec) {
        const json_t *name = json_object_get(rec, "tokenizer");
        const json_t *src = json_object_get(rec, "source");
        const json_t *other = json_array_get(js, i);
        assert_int_equal(json_integer_value(json_object_get(other, "id")),
                         json_integer_value(json_object_get(rec, "id")));
        if (name) {
            int k = 0;
            while (k < 3 && strcmp(NAMES[k], json_string_value(name)) != 0)
                k++;
            assert_true(k < 3 && real[k]);
            per_template[k]++;
            check_case(&t, real[k], rec, other);
        } else {
            ingot_chat_template *tmpl = NULL;
            ingot_status st = ingot_chat_template_parse(&tmpl, json_string_value(src),
                                                        json_string_length(src), NULL);
            if (st != INGOT_OK && st != INGOT_ERR_UNSUPPORTED)
                fail_msg("feature template %s does not parse: %s: %s", json_string_value(src),
                         ingot_status_str(st), ingot_last_error());
            check_case(&t, tmpl, rec, other);
            ingot_chat_template_free(tmpl);
        }
    }
    print_message("templates: %zu cases (qwen3 %zu, gemma3 %zu, llama3 %zu, other real-world "
                  "%zu, feature templates %zu); ingot == jinja2: %zu, differs: %zu, "
                  "unsupported feature templates: %zu; ingot == @huggingface/jinja: %zu; oracles "
                  "disagree: %zu\n",
                  t.cases, per_template[0], per_template[1], per_template[2], t.other, t.feature,
                  t.match, t.bad, t.unsupported, t.js_match, t.oracle_disagree);
    for (int k = 0; k < 3; k++) {
        ingot_chat_template_free(real[k]);
        ingot_tokenizer_free(toks[k]);
    }
    json_decref(py);
    json_decref(js);
    assert_int_equal(t.bad, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
