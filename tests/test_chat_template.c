/* Chat templates (include/ingot/chat.h): the Jinja2 language as transformers
 * configures it (trim_blocks, lstrip_blocks, loopcontrols, json.dumps
 * tojson), errors, limits and the real Qwen3 / Gemma3 / Llama 3 templates.
 * Expected outputs are derived by hand from Jinja2's and Python's documented
 * behaviour (and agree with python3-jinja2 3.1). */
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "ingot/ingot.h"

/* Parses and renders; returns the status of whichever failed first. */
static ingot_status try_render(char **out, size_t *len, const char *tpl, const char *vars,
                               const ingot_template_limits *limits) {
    ingot_chat_template *t = NULL;
    *out = NULL;
    ingot_status st = ingot_chat_template_parse(&t, tpl, strlen(tpl), limits);
    if (st) return st;
    st = ingot_chat_template_render(out, len, t, vars ? vars : "{}", strlen(vars ? vars : "{}"));
    ingot_chat_template_free(t);
    return st;
}

#define EXPECT(tpl, vars, want) expect_render((tpl), (vars), (want), sizeof(want) - 1, __LINE__)

static void expect_render(const char *tpl, const char *vars, const char *want, size_t want_len,
                          int line) {
    char *out;
    size_t len;
    ingot_status st = try_render(&out, &len, tpl, vars, NULL);
    if (st)
        fail_msg("line %d: %s: %s\n  template: %s", line, ingot_status_str(st), ingot_last_error(),
                 tpl);
    if (len != want_len || memcmp(out, want, len) != 0)
        fail_msg("line %d: template %s\n  got:  [%s]\n  want: [%s]", line, tpl, out, want);
    assert_int_equal(out[len], '\0');
    free(out);
}

#define EXPECT_FAIL(tpl, vars, status, needle)                                                     \
    do {                                                                                           \
        char *out_;                                                                                \
        size_t len_;                                                                               \
        TU_FAILS(try_render(&out_, &len_, (tpl), (vars), NULL), (status), (needle));               \
        assert_null(out_);                                                                         \
    } while (0)

/* ---- the language ---- */

static void test_text_and_expressions(void **state) {
    (void)state;
    EXPECT("", NULL, "");
    EXPECT("plain text", NULL, "plain text");
    EXPECT("Hello {{ name }}!", "{\"name\": \"W\"}", "Hello W!");
    EXPECT("{{ 1 + 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}", NULL,
           "3 3 -4 2 1024 0.5");
    EXPECT("{{ 7 / 2 }} {{ 4 / 2 }} {{ 5.5 % 2 }} {{ -5.5 // 2 }} {{ 3 * 1.0 }}", NULL,
           "3.5 2.0 1.5 -3.0 3.0");
    EXPECT("{{ true + 1 }} {{ 1 == 1.0 }} {{ 2 > 1.5 }} {{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }}", NULL,
           "2 True True True False");
    EXPECT("{{ 'a' ~ 1 ~ none ~ true ~ undefined_thing }}|{{ 'x' * 3 }}|{{ [1] * 2 }}", NULL,
           "a1NoneTrue|xxx|[1, 1]");
    EXPECT("{{ [1, 2] + [3] }} {{ (1,) + (2,) }} {{ (1,) }} {{ () }} {{ 'a' + 'b' }}", NULL,
           "[1, 2, 3] (1, 2) (1,) () ab");
    EXPECT("{{ [1, 2.5, 'a', none, true, {'k': [1]}] }}", NULL,
           "[1, 2.5, 'a', None, True, {'k': [1]}]");
    EXPECT("{{ [\"it's\", 'say \"x\"', 'both \\' \"', 'nl\\n', 'é'] }}", NULL,
           "[\"it's\", 'say \"x\"', 'both \\' \"', 'nl\\n', 'é']");
    EXPECT("{{ 'a' in 'abc' }} {{ 1 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'x' not in 'abc' }}",
           NULL, "True True True True");
    EXPECT("{{ not 1 }} {{ 1 and 2 }} {{ 0 or 'z' }} {{ none or [] }} {{ 0 and x.y }}", NULL,
           "False 2 z [] 0");
    EXPECT("{{ 1 if true else 2 }}|{{ 1 if false }}|{{ 'a' if x is defined else 'b' }}", NULL,
           "1||b");
    EXPECT("{{ -x }} {{ +x }} {{ - -x }} {{ -x|abs }}", "{\"x\": 3}", "-3 3 3 3");
    EXPECT("{{ messages|length - 1 }} {{ 'a' + x|trim + 'c' }}",
           "{\"messages\": [1, 2], \"x\": \" b \"}", "1 abc");
    EXPECT("{{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }} {{ 1.5e3 }} {{ 2E-3 }}", NULL,
           "31 15 5 1000 1500.0 0.002");
    EXPECT("{{ 1, 2 }}", NULL, "(1, 2)");
    EXPECT("{{ d.a }} {{ d['a'] }} {{ d.b.0 }} {{ d['b'][1] }} {{ l[-1] }} {{ l[5] }}|",
           "{\"d\": {\"a\": 1, \"b\": [7, 8]}, \"l\": [1, 2]}", "1 1 7 8 2 |");
}

static void test_strings_and_slices(void **state) {
    (void)state;
    EXPECT("{{ \"\\x41\\101\\u00e9\\U0001F600\\q\\n\\t|\" }}", NULL, "AAé😀\\q\n\t|");
    EXPECT("{{ 'a' \"b\" 'c' }}", NULL, "abc");
    EXPECT("{{ 'héllo'[1] }} {{ 'héllo'[::-1] }} {{ 'héllo'[1:3] }} {{ 'héllo'[-2:] }}", NULL,
           "é olléh él lo");
    EXPECT("{{ m[::-1] }} {{ m[1:] }} {{ m[:-1] }} {{ m[::2] }} {{ m[4:0:-2] }} {{ m[10:] }}",
           "{\"m\": [1, 2, 3, 4, 5]}",
           "[5, 4, 3, 2, 1] [2, 3, 4, 5] [1, 2, 3, 4] [1, 3, 5] [5, 3] []");
    EXPECT("{{ 'Hello World'.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }}",
           NULL, "['Hello', 'World'] ['a', 'b', '', 'c'] ['a', 'b,c']");
    EXPECT("{{ 'a,b,c'.rsplit(',', 1) }} {{ '  x  y '.split() }} {{ ' a b '.split(' ') }}", NULL,
           "['a,b', 'c'] ['x', 'y'] ['', 'a', 'b', '']");
    EXPECT("{{ '  xx  '.strip() }}|{{ 'xxhixx'.lstrip('x') }}|{{ '\\n\\nhi\\n'.rstrip('\\n') }}|"
           "{{ '\\u3000hi\\u00a0'.strip() }}",
           NULL, "xx|hixx|\n\nhi|hi");
    EXPECT(
        "{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'abc'.startswith('') }}",
        NULL, "True True True");
    EXPECT("{{ 'aaa'.replace('a', 'b', 2) }} {{ 'abc'.replace('', '-') }} {{ 'abab'.replace('ab', "
           "'x') }}",
           NULL, "bba -a-b-c- xx");
    EXPECT("{{ 'abcabc'.find('c') }} {{ 'abcabc'.rfind('c') }} {{ 'xé'.find('é') }} "
           "{{ 'abc'.find('z') }} {{ 'abcabc'.count('bc') }}",
           NULL, "2 5 1 -1 2");
    EXPECT("{{ '-'.join(['a', 'b']) }} {{ 'abc'.upper() }} {{ 'ÀBC'.lower() }} "
           "{{ 'hello wORLD'.title() }} {{ 'hELLO'.capitalize() }}",
           NULL, "a-b ABC àbc Hello World Hello");
    EXPECT("{{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} {{ "
           "'a\\nb\\r\\nc'.splitlines() }}",
           NULL, "True True True ['a', 'b', 'c']");
    EXPECT("{{ c.split('</think>')[-1].lstrip('\\n') }}|"
           "{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}",
           "{\"c\": \"<think>\\nwhy\\n</think>\\n\\nanswer\"}", "answer|why");
}

static void test_whitespace_control(void **state) {
    (void)state;
    /* trim_blocks drops the newline after a block tag, lstrip_blocks the
     * indentation before it; {{ }} is untouched */
    EXPECT("a\n  {% if true %}\n    b\n  {% endif %}\nc", NULL, "a\n    b\nc");
    EXPECT("{% for i in [1, 2] %}\n{{ i }}\n{% endfor %}\n", NULL, "1\n2\n");
    EXPECT("x  {% if true %}y{% endif %}", NULL, "x  y");
    EXPECT("  {{ 'k' }}\n", NULL, "  k");
    EXPECT("a\n{%- if true %} d {% endif -%}\n e", NULL, "a d e");
    EXPECT("a {{- ' f ' -}} b", NULL, "a f b");
    EXPECT("{%+ if true %}j{% endif %}|\n  {%+ if true %}k{% endif +%}\nl", NULL, "j|\n  k\nl");
    EXPECT("a{# comment #}b\n  {# own line #}\nc {#- x -#}  d", NULL, "ab\ncd");
    EXPECT("{% raw %}{{ x }}{% if %}{% endraw %}", NULL, "{{ x }}{% if %}");
    EXPECT("a\n  {% raw %}\n x\n  {% endraw %}\nb", NULL, "a\n\n x\nb");
    /* newlines are normalised and one trailing newline is dropped */
    EXPECT("a\r\nb\rc\n", NULL, "a\nb\nc");
    EXPECT("a\n\n", NULL, "a\n");
    EXPECT("{{ '\\u2003x' }}\n{%- if true -%}\n\u2003y{% endif %}", NULL, "\u2003xy");
}

static void test_statements(void **state) {
    (void)state;
    EXPECT("{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %}", "{\"x\": 2}", "two");
    EXPECT("{% if x %}t{% else %}f{% endif %}", "{\"x\": []}", "f");
    EXPECT("{% for a in [1, 2, 3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
           "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
           NULL, "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;");
    EXPECT("{% for a in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }}"
           "{{ loop.cycle('x', 'y') }};{% endfor %}",
           NULL, "-2x;1-3y;2-x;");
    EXPECT("{% for x in [] %}x{% else %}empty{% endfor %}", NULL, "empty");
    EXPECT("{% for x in [1, 1, 2, 1] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}",
           NULL, "121");
    EXPECT("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.index }}/{{ loop.length }} "
           "{% endfor %}",
           NULL, "2/1/2 4/2/2 ");
    EXPECT("{% for x in [1, 2, 3, 4, 5] %}{% if x == 2 %}{% continue %}{% endif %}"
           "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
           NULL, "13");
    EXPECT("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% "
           "endfor %}",
           "{\"d\": {\"b\": 1, \"a\": 2}}", "b=1;a=2;ba");
    EXPECT("{% for c in 'hé' %}[{{ c }}]{% endfor %}{% for x in nothing %}x{% endfor %}", NULL,
           "[h][é]");
    /* scopes: a loop body starts from the outer values each iteration, and
     * its assignments stay inside; namespaces carry state out */
    EXPECT("{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }};{% endfor %}{{ "
           "x }}",
           NULL, "111;111;1");
    EXPECT("{% for i in [1, 2] %}{% if i == 2 %}[{{ y }}]{% endif %}{% set y = i %}{% endfor %}",
           NULL, "[]");
    EXPECT("{% set ns = namespace(n=0, s='') %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}"
           "{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }} {{ ns.missing is defined }}",
           NULL, "6 123 False");
    EXPECT("{% set ns = namespace(a=1) %}{% set ns.l = [ns] %}{% set ns.m = ns %}{{ ns }}", NULL,
           "<Namespace {'a': 1, 'l': [<Namespace>], 'm': <Namespace>}>");
    EXPECT("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (3, 4) %}{% set c, d = t %}{{ c + d }}",
           NULL, "127");
    EXPECT(
        "{% set x %}block {{ 1 + 1 }}{% endset %}[{{ x }}]{% set y | upper %}up{% endset %}{{ y }}",
        NULL, "[block 2]UP");
    EXPECT("{% with y = 5, z = 6 %}{{ y + z }}{% endwith %}[{{ y }}]", NULL, "11[]");
    EXPECT("{% macro m(a, b=2) %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}"
           "{{ m(b=5, a=0) }}",
           NULL, "[12][13][05]");
    EXPECT("{% macro v() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ v(1, 2, k=3) }}", NULL,
           "(1, 2){'k': 3}");
    EXPECT("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}",
           NULL, "321");
    EXPECT("{% generation %}gen{% endgeneration %}", NULL, "gen");
    EXPECT("{% set g = 'top' %}{% macro m() %}{{ g }}{% endmacro %}{{ m() }}", NULL, "top");
    /* a macro sees the loop variables where it is defined, not where called */
    EXPECT("{% for i in [1] %}{% macro m() %}{{ i }}{% endmacro %}{{ m() }}{% endfor %}", NULL,
           "1");
    EXPECT("{% macro m() %}[{{ i }}]{% endmacro %}{% for i in [5] %}{{ m() }}{% endfor %}{{ m }}",
           NULL, "[]<Macro 'm'>");
    EXPECT("{% for x in [7, 8] %}{{ loop }} {% endfor %}{{ [x] }}", NULL,
           "<LoopContext 1/2> <LoopContext 2/2> [Undefined]");
}

static void test_filters(void **state) {
    (void)state;
    EXPECT("{{ 'abc'|length }} {{ 'hé'|count }} {{ [1, 2]|length }} {{ {'a': 1}|length }} {{ "
           "nope|length }}",
           NULL, "3 2 2 1 0");
    EXPECT("{{ '  a  '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 'abc'|upper }}|{{ 'AbC'|lower }}", NULL,
           "a|a|ABC|abc");
    EXPECT("{{ 'hello world-foo(bar'|title }}|{{ 'aBC dEF'|capitalize }}", NULL,
           "Hello World-Foo(Bar|Abc def");
    EXPECT("{{ 'aXbX'|replace('X', '-') }} {{ 'aaa'|replace('a', 'b', 1) }}", NULL, "a-b- baa");
    EXPECT("{{ x|default('d') }}{{ ''|default('e', true) }}{{ ''|default('e') }}{{ none|d('f') }}",
           NULL, "deNone");
    EXPECT("{{ [1, 2]|join(', ') }} {{ [1, 2]|join }} {{ users|join(', ', attribute='n') }}",
           "{\"users\": [{\"n\": \"a\"}, {\"n\": \"b\"}]}", "1, 2 12 a, b");
    EXPECT("{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} {{ 'abc'|last }} [{{ "
           "[]|first }}]",
           NULL, "1 3 a c []");
    EXPECT(
        "{{ 'ab'|list }} {{ {'a': 1}|list }} {{ {'a': 1}|items|list }} {{ [2, 1]|reverse|list }} "
        "{{ 'abc'|reverse }}",
        NULL, "['a', 'b'] ['a'] [('a', 1)] [1, 2] cba");
    EXPECT("{{ 5|string ~ 'x' }} {{ [1, [2]]|string }} {{ '3'|int + 1 }} {{ ' 4 '|int }} {{ "
           "'3.9'|int }} "
           "{{ 'x'|int }} {{ 'x'|int(7) }} {{ '1e3'|float }} {{ 7|float }} {{ 'y'|float }}",
           NULL, "5x [1, [2]] 4 4 3 0 7 1000.0 7.0 0.0");
    EXPECT("{{ -3|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 5|round }} "
           "{{ 3.14159|round(2) }} {{ 3.7|round(method='floor') }} {{ 3.2|round(method='ceil') }}",
           NULL, "3 2.5 2.0 4.0 5 3.14 3.0 4.0");
    EXPECT("{{ [3, 1, 3]|unique|list }} {{ ['A', 'a', 'b']|unique|list }} "
           "{{ ['A', 'a']|unique(case_sensitive=true)|list }}",
           NULL, "[3, 1] ['A', 'b'] ['A', 'a']");
    EXPECT("{{ {'b': 1, 'A': 2}|dictsort }} {{ {'a': 2, 'b': 1}|dictsort(by='value') }}", NULL,
           "[('A', 2), ('b', 1)] [('b', 1), ('a', 2)]");
    EXPECT("{{ [3, 1, 2]|sort }} {{ ['b', 'A', 'c']|sort(reverse=true) }} "
           "{{ [{'n': 2}, {'n': 1}]|sort(attribute='n') }}",
           NULL, "[1, 2, 3] ['c', 'b', 'A'] [{'n': 1}, {'n': 2}]");
    EXPECT("{{ [1, 2, 3]|sum }} {{ [1.5, 2]|sum }} {{ [1, 5, 2]|max }} {{ [4, 2, 8]|min }}", NULL,
           "6 3.5 5 2");
    EXPECT(
        "{{ users|selectattr('active')|map(attribute='name')|join(',') }} "
        "{{ users|rejectattr('active')|list|length }} "
        "{{ users|selectattr('name', 'equalto', 'b')|map(attribute='name')|first }} "
        "{{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} "
        "{{ ['a', 'b']|map('upper')|list }} {{ [0, 1, '']|select|list }}",
        "{\"users\": [{\"name\": \"a\", \"active\": true}, {\"name\": \"b\", \"active\": false}]}",
        "a 1 b [1, 3] [2, 4] ['A', 'B'] [1]");
    EXPECT("{{ 'a\\nb'|indent(2) }}|{{ 'a\\n\\nb'|indent(2, true) }}|"
           "{{ 'a\\n\\nb\\n'|indent(2, blank=true) }}|{{ 'x\\ny'|indent('--', first=true) }}",
           NULL, "a\n  b|  a\n\n  b|a\n  \n  b\n  |--x\n--y");
    EXPECT("{{ '<a href=\"x\">&\\'</a>'|e }} {{ '<b>'|escape }} {{ '<b>'|safe }}", NULL,
           "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt; &lt;b&gt; <b>");
    EXPECT("{{ 'one two  three'|wordcount }} [{{ 'x'|center(5) }}] {{ d|attr('k') }}",
           "{\"d\": {\"k\": 9}}", "3 [  x  ] 9");
    EXPECT("{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 0)|list }}", NULL,
           "[[1, 2], [3, 4], [5]] [[1, 2], [3, 0]]");
}

/* Python's printf-style formatting: the % operator and the format filter */
static void test_percent_format(void **state) {
    (void)state;
    EXPECT("{{ 'a%sb'|format('X') }} {{ '%s %s'|format(1, 2) }} {{ '%(x)s'|format(x=5) }}", NULL,
           "aXb 1 2 5");
    EXPECT("{{ '%s-%d-%5.2f|%-5s|%05d|%x|%X|%#x|%o|%#o|%+d|% d' % ('s', 42, 3.14159, 'ab', -42, "
           "255, 255, 255, 8, 8, 5, 5) }}",
           NULL, "s-42- 3.14|ab   |-0042|ff|FF|0xff|10|0o10|+5| 5");
    EXPECT("{{ '%e|%g|%G|%%|%c|%c|%r' % (12345.678, 0.00001234, 1e20, 65, 'z', 'q') }}", NULL,
           "1.234568e+04|1.234e-05|1E+20|%|A|z|'q'");
    EXPECT("{{ '%s' % none }} {{ '%s' % [1, 2] }} {{ '%s' % (1,) }} {{ '%d' % 3.9 }} "
           "{{ '%.2s' % 'héllo' }} {{ '%3s|%-3s|' % ('é', 'é') }} {{ '%(a)s %(b)d' % {'a': 'x', "
           "'b': 2} }} {{ '%x' % -255 }}",
           NULL, "None [1, 2] 1 3 hé   é|é  | x 2 -ff");
}

static void test_tests(void **state) {
    (void)state;
    EXPECT("{{ a is defined }}{{ b is defined }}{{ b is undefined }}{{ none is none }}"
           "{{ 'x' is string }}{{ 1 is string }}",
           "{\"a\": 1}", "TrueFalseTrueTrueTrueFalse");
    EXPECT("{{ 1 is number }}{{ 1.5 is number }}{{ true is number }}{{ 'x' is number }}", NULL,
           "TrueTrueTrueFalse");
    EXPECT("{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}{{ 1 is float }}", NULL,
           "TrueFalseTrueFalse");
    EXPECT("{{ {} is mapping }}{{ [] is mapping }}{{ [] is iterable }}{{ 'x' is iterable }}"
           "{{ 1 is iterable }}{{ [] is sequence }}{{ 3 is sequence }}",
           NULL, "TrueFalseTrueTrueFalseTrueFalse");
    EXPECT("{{ true is boolean }}{{ 1 is boolean }}{{ true is true }}{{ 1 is true }}{{ false is "
           "false }}"
           "{{ 0 is false }}",
           NULL, "TrueFalseTrueFalseTrueFalse");
    EXPECT("{{ 4 is even }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}", NULL,
           "TrueTrueTrueFalse");
    EXPECT("{{ 1 is eq 1 }}{{ 1 is equalto 2 }}{{ 1 is ne 2 }}{{ 1 is lt 2 }}{{ 2 is ge 2 }}"
           "{{ 3 is greaterthan 2 }}{{ [1, 2, 3]|select('==', 2)|list }}{{ [1, 2, 3]|select('>', "
           "1)|list }}",
           NULL, "TrueFalseTrueTrueTrueTrue[2][2, 3]");
    EXPECT("{{ 'ab' is lower }}{{ 'AB' is upper }}{{ 'Ab' is lower }}{{ 2 is in [1, 2] }}"
           "{{ 'a' is in 'cat' }}{{ x is not none }}{{ x is not defined }}",
           "{\"x\": null}", "TrueTrueFalseTrueTrueFalseFalse");
    EXPECT(
        "{{ range is callable }}{{ 'upper' is filter }}{{ 'nope' is filter }}{{ 'odd' is test }}",
        NULL, "TrueTrueFalseTrue");
}

static void test_dict_and_list_methods(void **state) {
    (void)state;
    EXPECT("{{ d.items()|list }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.get('a') }} "
           "{{ d.get('z', 9) }} {{ d.get('z') }}",
           "{\"d\": {\"a\": 1, \"b\": [2]}}",
           "[('a', 1), ('b', [2])] ['a', 'b'] [1, [2]] 1 9 None");
    /* attribute access prefers the dict method, item access the key */
    EXPECT("{{ d['items'] }} {{ d.items is defined }} {{ d.name }}",
           "{\"d\": {\"items\": 5, \"name\": \"n\"}}", "5 True n");
    EXPECT("{{ l.index(2) }} {{ l.count(1) }}", "{\"l\": [1, 2, 1]}", "1 2");
    EXPECT("{{ range(5)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }}", NULL,
           "[0, 1, 2, 3, 4] [1, 4, 7] [5, 3, 1]");
    EXPECT("{{ dict(a=1, b='x') }} {{ namespace(a=1).a }}", NULL, "{'a': 1, 'b': 'x'} 1");
    EXPECT("[{{ l.append }}]", "{\"l\": []}", "[]");
    EXPECT_FAIL("{{ l.append(1) }}", "{\"l\": []}", INGOT_ERR_FORMAT,
                "access to attribute 'append' of 'list' object is unsafe");
    EXPECT_FAIL("{{ d.update({}) }}", "{\"d\": {}}", INGOT_ERR_FORMAT, "unsafe");
}

/* ---- tojson is json.dumps(ensure_ascii=False) byte for byte ---- */

static void test_tojson(void **state) {
    (void)state;
    EXPECT("{{ 'x'|tojson }} {{ none|tojson }} {{ true|tojson }} {{ 3|tojson }} {{ [1, [2, []], "
           "{}]|tojson }}",
           NULL, "\"x\" null true 3 [1, [2, []], {}]");
    /* ints stay ints and floats floats, as the JSON input had them */
    EXPECT("{{ x|tojson }}",
           "{\"x\": {\"i\": 1, \"f\": 1.0, \"t\": 0.1, \"e\": 1e-05, \"big\": 1e16, \"neg\": -0.0, "
           "\"g\": 12345678901234567890e-10, \"n\": -17, \"huge\": 1e300}}",
           "{\"i\": 1, \"f\": 1.0, \"t\": 0.1, \"e\": 1e-05, \"big\": 1e+16, \"neg\": -0.0, "
           "\"g\": 1234567890.1234567, \"n\": -17, \"huge\": 1e+300}");
    /* escaping: quotes, backslashes, control characters; non-ASCII kept */
    EXPECT("{{ x|tojson }}",
           "{\"x\": \"q\\\" b\\\\ n\\n t\\t r\\r \\u0001 \\u001f \\u007f é 😀 </\"}",
           "\"q\\\" b\\\\ n\\n t\\t r\\r \\u0001 \\u001f \x7f é 😀 </\"");
    EXPECT("{{ 'é😀'|tojson(true) }} {{ 'é'|tojson(ensure_ascii=true) }}", NULL,
           "\"\\u00e9\\ud83d\\ude00\" \"\\u00e9\"");
    EXPECT("{{ x|tojson(indent=2) }}", "{\"x\": {\"a\": [1, {\"b\": null}], \"c\": {}, \"d\": []}}",
           "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {},\n  \"d\": "
           "[]\n}");
    EXPECT("{{ [1, 2]|tojson(indent='\\t') }} {{ [1]|tojson(indent=0) }}", NULL,
           "[\n\t1,\n\t2\n] [\n1\n]");
    EXPECT("{{ {'a': 1, 'b': [1, 2]}|tojson(separators=(',', ':')) }} "
           "{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ {1: 'x', none: 2}|tojson }}",
           NULL, "{\"a\":1,\"b\":[1,2]} {\"a\": 2, \"b\": 1} {\"1\": \"x\", \"null\": 2}");
    EXPECT("{{ (1, 2)|tojson }} {{ 0.1 + 0.2 }} {{ (0.1 + 0.2)|tojson }} {{ (1 / 3)|tojson }}",
           NULL, "[1, 2] 0.30000000000000004 0.30000000000000004 0.3333333333333333");
    EXPECT_FAIL("{{ x|tojson }}", NULL, INGOT_ERR_FORMAT, "Undefined is not JSON serializable");
    EXPECT_FAIL("{{ namespace()|tojson }}", NULL, INGOT_ERR_FORMAT, "not JSON serializable");
}

static void test_float_repr(void **state) {
    (void)state;
    /* Python's repr: shortest round-trip digits, exponent outside 1e-4..1e16 */
    EXPECT("{{ 1.0 }} {{ 0.1 }} {{ 1e-05 }} {{ 0.0001 }} {{ 1e16 }} {{ 1e15 }} {{ 123456789.123 }}",
           NULL, "1.0 0.1 1e-05 0.0001 1e+16 1000000000000000.0 123456789.123");
    EXPECT(
        "{{ 1e22 }} {{ 1.5e-7 }} {{ 5e-324 }} {{ 1.7976931348623157e308 }} {{ -1.5 }} {{ 100.0 }}",
        NULL, "1e+22 1.5e-07 5e-324 1.7976931348623157e+308 -1.5 100.0");
    EXPECT(
        "{{ 10 / 3 }} {{ 2 / 3 }} {{ 1e308 * 10 }} {{ -(1e308 * 10) }} {{ (1e308 * 10)|tojson }}",
        NULL, "3.3333333333333335 0.6666666666666666 inf -inf Infinity");
}

static void test_undefined(void **state) {
    (void)state;
    /* jinja2.Undefined: prints empty, is falsy and iterable-empty; using
     * it as an object is an error */
    EXPECT("[{{ x }}]{% if x %}t{% endif %}{% for i in x %}i{% endfor %}{{ x|length }}{{ x == y }}",
           NULL, "[]0True");
    EXPECT("{{ d.missing is defined }} {{ d['missing'] is defined }} {{ l[9] is defined }}",
           "{\"d\": {}, \"l\": []}", "False False False");
    EXPECT_FAIL("{{ x.y }}", NULL, INGOT_ERR_FORMAT, "'x' is undefined");
    EXPECT_FAIL("{{ x.y is defined }}", NULL, INGOT_ERR_FORMAT, "'x' is undefined");
    EXPECT_FAIL("{{ x + 1 }}", NULL, INGOT_ERR_FORMAT, "'x' is undefined");
    EXPECT_FAIL("{{ x() }}", NULL, INGOT_ERR_FORMAT, "'x' is undefined");
    EXPECT_FAIL("{{ d.a.b }}", "{\"d\": {}}", INGOT_ERR_FORMAT, "'a' is undefined");
}

/* ---- errors ---- */

static void test_errors(void **state) {
    (void)state;
    EXPECT_FAIL("a\n{% for %}", NULL, INGOT_ERR_FORMAT, "template:2:");
    EXPECT_FAIL("{{ 1 + }}", NULL, INGOT_ERR_FORMAT, "template:1:8: unexpected end of print");
    EXPECT_FAIL("{% if x %}", NULL, INGOT_ERR_FORMAT, "expected 'elif'");
    EXPECT_FAIL("{{ x", NULL, INGOT_ERR_FORMAT, "unclosed variable tag");
    EXPECT_FAIL("{# x", NULL, INGOT_ERR_FORMAT, "missing end of comment");
    EXPECT_FAIL("{{ 'abc }}", NULL, INGOT_ERR_FORMAT, "unterminated string");
    EXPECT_FAIL("{{ (1 }}", NULL, INGOT_ERR_FORMAT, "unexpected '}'");
    EXPECT_FAIL("{{ x ! y }}", NULL, INGOT_ERR_FORMAT, "unexpected char '!'");
    EXPECT_FAIL("{% endfor %}", NULL, INGOT_ERR_FORMAT, "unknown tag 'endfor'");
    EXPECT_FAIL("{% do x %}", NULL, INGOT_ERR_FORMAT, "unknown tag 'do'");
    EXPECT_FAIL("{% break %}", NULL, INGOT_ERR_FORMAT, "outside of a loop");
    EXPECT_FAIL("{{ x|nosuchfilter }}", NULL, INGOT_ERR_FORMAT, "no filter named 'nosuchfilter'");
    EXPECT_FAIL("{{ x is nosuchtest }}", NULL, INGOT_ERR_FORMAT, "no test named 'nosuchtest'");
    EXPECT_FAIL("{% extends 'base' %}", NULL, INGOT_ERR_UNSUPPORTED, "'extends'");
    EXPECT_FAIL("{% include 'x' %}", NULL, INGOT_ERR_UNSUPPORTED, "'include'");
    EXPECT_FAIL("{% filter upper %}x{% endfilter %}", NULL, INGOT_ERR_UNSUPPORTED, "'filter'");
    EXPECT_FAIL("{% call m() %}x{% endcall %}", NULL, INGOT_ERR_UNSUPPORTED, "'call'");
    EXPECT_FAIL("{{ x|wordwrap }}", NULL, INGOT_ERR_UNSUPPORTED, "filter 'wordwrap'");
    EXPECT_FAIL("{% for x in y recursive %}{% endfor %}", NULL, INGOT_ERR_UNSUPPORTED, "recursive");
    EXPECT_FAIL("{{ '%d' % 'x' }}", NULL, INGOT_ERR_FORMAT, "a real number is required");
    EXPECT_FAIL("{{ '%s %s' % (1,) }}", NULL, INGOT_ERR_FORMAT, "not enough arguments");
    EXPECT_FAIL("{{ '%s' % (1, 2) }}", NULL, INGOT_ERR_FORMAT, "not all arguments converted");
    /* runtime errors name the place */
    EXPECT_FAIL("line1\n  {{ 1 / 0 }}", NULL, INGOT_ERR_FORMAT, "template:2:8: division by zero");
    EXPECT_FAIL("{{ 'a' + 1 }}", NULL, INGOT_ERR_FORMAT, "unsupported operand type(s) for +");
    EXPECT_FAIL("{{ 'a' < 1 }}", NULL, INGOT_ERR_FORMAT, "'<' not supported");
    EXPECT_FAIL("{% for x in 3 %}{% endfor %}", NULL, INGOT_ERR_FORMAT, "not iterable");
    EXPECT_FAIL("{% set a, b = [1] %}", NULL, INGOT_ERR_FORMAT, "not enough values to unpack");
    EXPECT_FAIL("{% set x = 1 %}{% set x.a = 2 %}", NULL, INGOT_ERR_FORMAT, "non-namespace");
    EXPECT_FAIL("{{ 3() }}", NULL, INGOT_ERR_FORMAT, "not callable");
    EXPECT_FAIL("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", NULL, INGOT_ERR_FORMAT,
                "takes not more than 1");
    EXPECT_FAIL("{{ 'a'.format(1) }}", NULL, INGOT_ERR_UNSUPPORTED, "str.format");
    EXPECT_FAIL("{{ 9223372036854775807 + 1 }}", NULL, INGOT_ERR_UNSUPPORTED, "integer overflow");
    /* raise_exception: INVALID_ARGUMENT with exactly the template's message */
    EXPECT_FAIL("{{ raise_exception('Conversation roles must alternate') }}", NULL,
                INGOT_ERR_INVALID_ARGUMENT, "Conversation roles must alternate");
    char *out;
    TU_FAILS(try_render(&out, NULL, "{{ raise_exception('bad ' ~ 1) }}", NULL, NULL),
             INGOT_ERR_INVALID_ARGUMENT, NULL);
    assert_string_equal(ingot_last_error(), "bad 1");
    /* bad inputs */
    EXPECT_FAIL("x", "[1]", INGOT_ERR_INVALID_ARGUMENT, "expected a JSON object");
    EXPECT_FAIL("x", "{\"a\": ", INGOT_ERR_INVALID_ARGUMENT, "invalid JSON");
    EXPECT_FAIL("x", "{\"a\": 1, \"a\": 2}", INGOT_ERR_INVALID_ARGUMENT, "invalid JSON");
    EXPECT_FAIL("ab\xff", NULL, INGOT_ERR_INVALID_ARGUMENT, "invalid UTF-8 at byte 2");
    EXPECT_FAIL("\xed\xa0\x80", NULL, INGOT_ERR_INVALID_ARGUMENT, "invalid UTF-8 at byte 0");
    ingot_chat_template *t = NULL;
    TU_FAILS(ingot_chat_template_parse(NULL, "x", 1, NULL), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_FAILS(ingot_chat_template_parse(&t, NULL, 1, NULL), INGOT_ERR_INVALID_ARGUMENT, "NULL");
    TU_FAILS(ingot_chat_template_parse(&t, "x", 1, &(ingot_template_limits){.max_depth = -1}),
             INGOT_ERR_INVALID_ARGUMENT, "max_depth");
    TU_OK(ingot_chat_template_parse(&t, "x", 1, NULL));
    TU_FAILS(ingot_chat_template_render(&out, NULL, t, NULL, 0), INGOT_ERR_INVALID_ARGUMENT,
             "NULL");
    TU_FAILS(ingot_chat_template_render(&out, NULL, NULL, "{}", 2), INGOT_ERR_INVALID_ARGUMENT,
             "NULL");
    ingot_chat_template_free(t);
    ingot_chat_template_free(NULL);
    /* a template with a NUL byte and an empty source */
    TU_OK(ingot_chat_template_parse(&t, "a\0b", 3, NULL));
    size_t len;
    TU_OK(ingot_chat_template_render(&out, &len, t, "{}", 2));
    assert_int_equal(len, 3);
    assert_memory_equal(out, "a\0b", 3);
    free(out);
    ingot_chat_template_free(t);
    TU_OK(ingot_chat_template_parse(&t, NULL, 0, NULL));
    TU_OK(ingot_chat_template_render(&out, &len, t, "{}", 2));
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
    free(out);
    ingot_chat_template_free(t);
}

/* ---- limits: hostile templates fail with LIMIT, quickly ---- */

static void expect_limit(const char *tpl, const ingot_template_limits *limits, const char *needle) {
    char *out;
    size_t len;
    TU_FAILS(try_render(&out, &len, tpl, "{}", limits), INGOT_ERR_LIMIT, needle);
    assert_null(out);
}

static void test_limits(void **state) {
    (void)state;
    /* 10^15 iterations: stopped by the step limit */
    ingot_template_limits steps = {.max_steps = 200000};
    expect_limit(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        &steps, "evaluation steps");
    /* exponential string growth: stopped by the size limit */
    expect_limit(
        "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s|length }}",
        NULL, "limit");
    expect_limit("{{ 'x' * 1000000000000 }}", NULL, "output limit");
    expect_limit("{{ [1] * 1000000000000 }}", NULL, "output limit");
    /* work on big strings counts by size: comparing or indexing 8 MB strings in a loop */
    expect_limit(
        "{% set s = 'é' * 4000000 %}{% set t = 'é' * 4000000 %}{% for i in range(100000) %}"
        "{% if s == t %}{{ s[-1] }}{% endif %}{% endfor %}",
        NULL, "evaluation steps");
    /* huge ranges: the sandbox's MAX_RANGE */
    expect_limit("{{ range(1000000000)|length }}", NULL, "range too big");
    /* unbounded macro recursion: the depth limit */
    expect_limit("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", NULL, "nesting deeper");
    /* output cap */
    ingot_template_limits small = {.max_output = 100};
    expect_limit("{% for i in range(1000) %}xx{% endfor %}", &small, "output limit of 100");
    ingot_template_limits few = {.max_steps = 1000};
    expect_limit("{% for i in range(2000) %}{% endfor %}", &few, "more than 1000 evaluation steps");
    /* deep nesting in the source: a parse error, not a stack overflow */
    size_t n = 100000;
    char *deep = malloc(2 * n + 16);
    strcpy(deep, "{{ ");
    memset(deep + 3, '(', n);
    strcpy(deep + 3 + n, "1 }}");
    char *out;
    TU_FAILS(try_render(&out, NULL, deep, "{}", NULL), INGOT_ERR_FORMAT, NULL); /* unbalanced */
    memset(deep + 3, '[', 200);
    memset(deep + 203, ']', 200);
    strcpy(deep + 403, " }}");
    TU_FAILS(try_render(&out, NULL, deep, "{}", NULL), INGOT_ERR_LIMIT, "depth limit");
    size_t k = 0;
    for (int i = 0; i < 20000; i++)
        k += (size_t)sprintf(deep + k, "-");
    strcpy(deep + k, "1");
    TU_FAILS(ingot_chat_template_parse(&(ingot_chat_template *){NULL}, "{{ not not not not x }}",
                                       23, &(ingot_template_limits){.max_depth = 3}),
             INGOT_ERR_LIMIT, "depth limit");
    free(deep);
    char *blocks = malloc(20 * 1000 + 1);
    k = 0;
    for (int i = 0; i < 1000; i++)
        k += (size_t)sprintf(blocks + k, "{%% if 1 %%}");
    TU_FAILS(try_render(&out, NULL, blocks, "{}", NULL), INGOT_ERR_LIMIT, "depth limit");
    free(blocks);
    /* a long flat expression (no recursion at parse) is bounded when evaluated */
    char *flat = malloc(3 * 5000 + 16);
    k = (size_t)sprintf(flat, "{{ 1");
    for (int i = 0; i < 5000; i++)
        k += (size_t)sprintf(flat + k, "+1");
    strcpy(flat + k, " }}");
    TU_FAILS(try_render(&out, NULL, flat, "{}", NULL), INGOT_ERR_LIMIT, "nesting deeper");
    free(flat);
    /* so is a long chain of filters */
    char *chain = malloc(8 * 20000 + 16);
    k = (size_t)sprintf(chain, "{{ 'x'");
    for (int i = 0; i < 20000; i++)
        k += (size_t)sprintf(chain + k, "|upper");
    strcpy(chain + k, " }}");
    TU_FAILS(try_render(&out, NULL, chain, "{}", NULL), INGOT_ERR_LIMIT, "nesting deeper");
    free(chain);
    /* lists nested by a loop stay bounded too */
    expect_limit("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}"
                 "{% endfor %}",
                 NULL, "nested deeper");
}

/* ---- one parsed template rendered by several threads at once ---- */

static const char *shared_tpl =
    "{% for m in messages %}{{ m.role|upper }}:{{ m.content|trim }}{{ ' ' if not loop.last }}"
    "{% endfor %}{{ 'const'|length }}";

static void *render_many(void *arg) {
    const ingot_chat_template *t = arg;
    const char *vars = "{\"messages\": [{\"role\": \"user\", \"content\": \" hi \"}, "
                       "{\"role\": \"assistant\", \"content\": \"yo\"}]}";
    for (int i = 0; i < 300; i++) {
        char *out;
        if (ingot_chat_template_render(&out, NULL, t, vars, strlen(vars)) != INGOT_OK) return arg;
        bool ok = strcmp(out, "USER:hi ASSISTANT:yo5") == 0;
        free(out);
        if (!ok) return arg;
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    ingot_chat_template *t;
    TU_OK(ingot_chat_template_parse(&t, shared_tpl, strlen(shared_tpl), NULL));
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, render_many, t), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    ingot_chat_template_free(t);
}

/* ---- the real templates ---- */

static char *config_template(const char *family) {
    const char *assets = getenv("INGOT_ASSETS");
    if (!assets) return NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer-%s/models/tokenizer_config.json", assets, family);
    json_t *cfg = json_load_file(path, JSON_DECODE_INT_AS_REAL, NULL);
    if (!cfg) return NULL;
    const char *t = json_string_value(json_object_get(cfg, "chat_template"));
    char *copy = t ? strdup(t) : NULL;
    json_decref(cfg);
    return copy;
}

static void render_real(const char *tpl, const char *vars, const char *want) {
    char *out;
    size_t len;
    ingot_status st = try_render(&out, &len, tpl, vars, NULL);
    if (st) fail_msg("%s: %s\n vars %s", ingot_status_str(st), ingot_last_error(), vars);
    if (strcmp(out, want) != 0) fail_msg("got  [%s]\nwant [%s]", out, want);
    free(out);
}

static void test_real_templates(void **state) {
    (void)state;
    char *qwen = config_template("qwen3"), *gemma = config_template("gemma3"),
         *llama = config_template("llama3");
    if (!qwen || !gemma || !llama) {
        free(qwen);
        free(gemma);
        free(llama);
        skip(); /* run scripts/setup.sh for the assets */
    }
    render_real(
        qwen,
        "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", "
        "\"content\": \"Hi\"}], \"add_generation_prompt\": true, \"enable_thinking\": false}",
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\n");
    render_real(
        qwen,
        "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", "
        "\"content\": \"<think>\\nr\\n</think>\\n\\nA\"}]}",
        "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\nr\n</think>\n\n"
        "A<|im_end|>\n");
    render_real(
        qwen,
        "{\"messages\": [{\"role\": \"user\", \"content\": \"w?\"}, {\"role\": \"assistant\", "
        "\"content\": \"\", \"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": "
        "{\"c\": \"P\", \"n\": 2.0}}}]}, {\"role\": \"tool\", \"content\": \"ok\"}], "
        "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]}",
        "<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with "
        "the user query.\n\nYou are provided with function signatures within "
        "<tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": "
        "{\"name\": \"f\"}}\n</tools>\n\nFor each function call, return a json object with "
        "function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
        "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"
        "<|im_end|>\n<|im_start|>user\nw?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n"
        "{\"name\": \"f\", \"arguments\": {\"c\": \"P\", \"n\": 2.0}}\n</tool_call>"
        "<|im_end|>\n<|im_start|>user\n<tool_response>\nok\n</tool_response><|im_end|>\n");
    render_real(
        gemma,
        "{\"bos_token\": \"<bos>\", \"messages\": [{\"role\": \"system\", \"content\": \"S\"}, "
        "{\"role\": \"user\", \"content\": \" Hi \"}, {\"role\": \"assistant\", \"content\": "
        "[{\"type\": \"text\", \"text\": \"Yo\"}]}], \"add_generation_prompt\": true}",
        "<bos><start_of_turn>user\nS\n\nHi<end_of_turn>\n<start_of_turn>model\nYo"
        "<end_of_turn>\n<start_of_turn>model\n");
    char *out;
    const char *bad = "{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}]}";
    TU_FAILS(try_render(&out, NULL, gemma, bad, NULL), INGOT_ERR_INVALID_ARGUMENT,
             "Conversation roles must alternate user/assistant/user/assistant/...");
    render_real(llama,
                "{\"bos_token\": \"<|begin_of_text|>\", \"messages\": [{\"role\": \"user\", "
                "\"content\": \" Hi \\n\"}]}",
                "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\n");
    free(qwen);
    free(gemma);
    free(llama);
}

/* ingot_chat_apply with a loaded tokenizer: bos/eos from the tokenizer,
 * tools None when absent, extra variables override. */
static void test_chat_apply(void **state) {
    (void)state;
    const char *assets = getenv("INGOT_ASSETS");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tokenizer-gemma3/models", assets ? assets : ".");
    ingot_tokenizer *tok = NULL;
    if (!assets || ingot_tokenizer_load(&tok, dir) != INGOT_OK) skip();
    const char *conv = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}";
    char *out;
    size_t len;
    TU_OK(ingot_chat_apply(&out, &len, tok, conv, strlen(conv), true, NULL));
    assert_string_equal(out, "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
    assert_int_equal(len, strlen(out));
    free(out);
    TU_OK(ingot_chat_apply(&out, &len, tok, conv, strlen(conv), true,
                           "{\"add_generation_prompt\": false, \"bos_token\": \"B\"}"));
    assert_string_equal(out, "B<start_of_turn>user\nHi<end_of_turn>\n");
    free(out);
    TU_FAILS(ingot_chat_apply(&out, &len, tok, "[]", 2, false, NULL), INGOT_ERR_INVALID_ARGUMENT,
             "expected a JSON object");
    TU_FAILS(ingot_chat_apply(&out, &len, tok, conv, strlen(conv), false, "{"),
             INGOT_ERR_INVALID_ARGUMENT, "extra_vars");
    TU_FAILS(ingot_chat_apply(&out, &len, NULL, conv, strlen(conv), false, NULL),
             INGOT_ERR_INVALID_ARGUMENT, "NULL");
    ingot_tokenizer_free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_and_expressions),
        cmocka_unit_test(test_strings_and_slices),
        cmocka_unit_test(test_whitespace_control),
        cmocka_unit_test(test_statements),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_percent_format),
        cmocka_unit_test(test_tests),
        cmocka_unit_test(test_dict_and_list_methods),
        cmocka_unit_test(test_tojson),
        cmocka_unit_test(test_float_repr),
        cmocka_unit_test(test_undefined),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_real_templates),
        cmocka_unit_test(test_chat_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
