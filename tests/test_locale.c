/* Numbers are read and written with a decimal point whatever LC_NUMERIC the
 * host program has set: chat-template floats (literals, str(), format, %,
 * round, float, tojson, variables) and index metadata numbers render as
 * Python does, checked against Jinja2's output for the same template (the
 * literal strings below) under a decimal-comma locale (de_DE, made with
 * localedef into a temporary LOCPATH when the system lacks it; the
 * `locales` package that provides its source comes from scripts/setup.sh). */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/testutil.h"

static char g_dir[] = "/tmp/ingot_locale_XXXXXX";

/* Switches LC_NUMERIC to German (decimal comma), generating the locale when
 * the system has not got it. */
static void use_comma_locale(void) {
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8")) return;
    assert_non_null(mkdtemp(g_dir));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "localedef -c -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1",
             g_dir);
    int rc = system(cmd);
    setenv("LOCPATH", g_dir, 1);
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8"))
        fail_msg("cannot make a de_DE.UTF-8 locale (localedef exit %d): install Debian's "
                 "'locales' package (scripts/setup.sh does)",
                 rc);
}

static char *render(const char *tpl, const char *vars) {
    ingot_chat_template *t = NULL;
    char *out = NULL;
    TU_OK(ingot_chat_template_parse(&t, tpl, strlen(tpl), NULL));
    TU_OK(ingot_chat_template_render(&out, NULL, t, vars, strlen(vars)));
    ingot_chat_template_free(t);
    return out;
}

/* Jinja2 3.1 renders this template with x = 0.25 as the string below. */
static const char TEMPLATE[] =
    "{{ 3.5 }}|{{ 0.1 + 0.2 }}|{{ \"%.2f\"|format(2.5) }}|{{ \"%e\" % 1234.5 }}|"
    "{{ 2.675|round(2) }}|{{ \"1.25\"|float }}|{{ 1e20 }}|{{ x }}|{{ -0.0 }}|{{ 7 / 2 }}|"
    "{{ [1.5, x]|tojson }}";
static const char JINJA2[] =
    "3.5|0.30000000000000004|2.50|1.234500e+03|2.67|1.25|1e+20|0.25|-0.0|3.5|[1.5, 0.25]";

static void test_template_numbers(void **state) {
    (void)state;
    char *c = render(TEMPLATE, "{\"x\": 0.25}");
    assert_string_equal(c, JINJA2);
    use_comma_locale();
    assert_string_equal(localeconv()->decimal_point, ",");
    char *de = render(TEMPLATE, "{\"x\": 0.25}");
    assert_string_equal(de, JINJA2);
    setlocale(LC_NUMERIC, "C");
    free(c);
    free(de);
}

/* An index's numeric metadata is given as its JSON text. */
static void test_index_metadata(void **state) {
    (void)state;
    char dir[] = "/tmp/ingot_locale_st_XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    int64_t shape[1] = {2};
    ingot_array *a = NULL;
    TU_OK(ingot_zeros(&a, INGOT_F32, shape, 1));
    snprintf(path, sizeof path, "%s/s.safetensors", dir);
    const char *names[1] = {"a"};
    TU_OK(ingot_safetensors_save(path, names, (const ingot_array *const *)&a, 1, NULL, NULL, 0));
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"metadata\": {\"scale\": 0.5}, \"weight_map\": {\"a\": \"s.safetensors\"}}", f);
    fclose(f);
    use_comma_locale();
    ingot_safetensors *st = NULL;
    TU_OK(ingot_safetensors_open(&st, dir));
    assert_string_equal(ingot_safetensors_metadata(st, "scale"), "0.5");
    setlocale(LC_NUMERIC, "C");
    ingot_safetensors_close(st);
    ingot_array_free(a);
    remove(path);
    snprintf(path, sizeof path, "%s/s.safetensors", dir);
    remove(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_numbers),
        cmocka_unit_test(test_index_metadata),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (strcmp(g_dir, "/tmp/ingot_locale_XXXXXX")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
        if (system(cmd)) rc = rc ? rc : 1;
    }
    return rc;
}
