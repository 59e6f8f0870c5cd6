#!/usr/bin/env python3
"""Chat-template oracle: Jinja2 configured exactly as transformers configures it.

Usage: template_oracle.py ASSETS OUT.jsonl

Renders, for each of the real templates (ASSETS/tokenizer-NAME/models/
tokenizer_config.json's chat_template), the generated conversations of
scripts/fixtures/chat_cases.py (a different seed from the committed goldens),
plus small feature templates that exercise the Jinja subset one construct at a
time. Writes one JSON record per line:
  {"id": N, "tokenizer": NAME}   or   {"id": N, "source": TEMPLATE}
  + "vars": the complete template variables (as ingot_chat_template_render gets them)
  + "text": the rendered text, or "error" and "error_type"
tests/oracle/template_oracle.mjs renders the same records with @huggingface/jinja
and tests/test_template_oracle.c compares ingot with both.

The environment is transformers' _compile_jinja_template (chat_template_utils.py):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[loopcontrols]), tojson = json.dumps(ensure_ascii=False, ...),
globals raise_exception and strftime_now. Variables are those of
apply_chat_template: messages, tools, add_generation_prompt, the tokenizer's
special tokens (bos_token, eos_token) and the extra keyword arguments.
"""

import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "fixtures"))
import chat_cases  # noqa: E402

NAMES = ["qwen3", "gemma3", "llama3"]
N_PER_TEMPLATE = 60
SEED = 7


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


# Feature templates: one construct each, rendered with FEATURE_VARS.
FEATURES = [
    "{{ messages | length }}",
    "{% for m in messages %}{{ loop.index }}/{{ loop.length }}:{{ m.role }}"
    "{% if not loop.last %}, {% endif %}{% endfor %}",
    "{% for m in messages %}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
    "{{ loop.revindex }}{{ loop.revindex0 }}{% endfor %}",
    "{% for m in messages if m.role == 'user' %}[{{ m.content }}]{% else %}none{% endfor %}",
    "{% for m in [] %}x{% else %}empty{% endfor %}",
    "{% for x in range(5) %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}",
    "{% for x in range(5) %}{% if x is even %}{% continue %}{% endif %}{{ x }}{% endfor %}",
    "{% set ns = namespace(n=0, s='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
    "{% set ns.s = ns.s ~ m.role[0] %}{% endfor %}{{ ns.n }} {{ ns.s }}",
    "{% set x %}block {{ 1 + 2 }}{% endset %}[{{ x }}]",
    "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
    "{{ greet('a') }} {{ greet('b', '?') }} {{ greet(name='c') }}",
    "{{ tools | tojson }}",
    "{{ tools[0] | tojson(indent=4) }}",
    "{{ messages[0] | tojson }}|{{ 'a\"b\\\\c\\n\u00e9\U0001F600' | tojson }}",
    "{{ 3.0 | tojson }} {{ [1, 2.5, none, true, false] | tojson }} {{ {'b': 1, 'a': 2} | tojson }}",
    "{{ numbers | tojson }}",
    "{{ '  x  ' | trim }}|{{ 'abc' | upper }}|{{ 'ABC' | lower }}|{{ 'hello world' | title }}"
    "|{{ 'hello' | capitalize }}",
    "{{ missing | default('dflt') }}|{{ none_value | default('d2', true) }}"
    "|{{ '' | default('d3') }}",
    "{{ ['a', 'b', 'c'] | join(', ') }}|{{ messages | map(attribute='role') | join(',') }}",
    "{{ messages | first | tojson }}|{{ (messages | last).role }}",
    "{{ 'abc' | list | tojson }}|{{ {'k': 'v', 'x': 1} | items | list | tojson }}",
    "{% for k, v in obj.items() %}{{ k }}={{ v }};{% endfor %}",
    "{{ obj.keys() | list | tojson }} {{ obj.values() | list | tojson }}",
    "{{ obj.get('a') }} {{ obj.get('zz', 'no') }} {{ obj.get('zz') is none }}",
    "{{ messages[0].content.startswith('Hel') }} {{ 'abc'.endswith('bc') }}",
    "{{ ' a b  c '.split() | tojson }} {{ 'a,b,,c'.split(',') | tojson }}"
    " {{ 'a b c'.split(' ', 1) | tojson }}",
    "[{{ '  xy  '.strip() }}][{{ 'xxyxx'.strip('x') }}][{{ '\\n\\nab\\n'.lstrip('\\n') }}]"
    "[{{ 'ab  '.rstrip() }}]",
    "{{ 'a-b-c'.replace('-', '+') }} {{ 'MiXeD'.upper() }} {{ 'MiXeD'.lower() }}",
    "{{ messages[-1].role }} {{ messages[1:] | length }} {{ messages[::-1][0].role }}"
    " {{ 'abcdef'[1:4] }} {{ 'abcdef'[::-1] }} {{ 'abcdef'[-2:] }}",
    "{{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ -3 + 1 }} {{ 2 * 3 - 1 }}",
    "{{ 1 < 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'x' != 'y' }} {{ not true }}"
    " {{ true and false }} {{ false or 'z' }}",
    "{{ 'ell' in 'hello' }} {{ 'q' not in 'hello' }} {{ 2 in [1, 2] }} {{ 'a' in obj }}",
    "{{ 'a' ~ 1 ~ none ~ true }}",
    "{{ x is defined }} {{ obj is mapping }} {{ 'x' is string }} {{ 1 is number }}"
    " {{ messages is iterable }} {{ none_value is none }} {{ true is true }}"
    " {{ false is false }} {{ undefined_thing is undefined }}",
    "{% if a_false %}a{% elif 1 > 2 %}b{% else %}c{% endif %}",
    "  {% if true %}\n    lstrip/trim\n  {% endif %}\n  after\n",
    "a  {{- ' b ' -}}  c\n{%- if true %}\n d {% endif -%}\n e",
    "{# comment #}x{#- c2 -#} y",
    "{{ 'yes' if messages else 'no' }} {{ 'y2' if none_value else 'n2' }}",
    "{{ raise_exception('custom failure: ' ~ messages | length) }}",
    "{{ messages[0]['content'] | length }} {{ 'héllo😀' | length }}",
    "{{ [3, 1, 2] | sort | tojson }} {{ [1, 2, 3] | reverse | list | tojson }}"
    " {{ [1, 2, 3] | sum }} {{ [4, 5] | max }} {{ [4, 5] | min }}",
    "{{ 'x' * 3 }} {{ [1] + [2] }} {{ 'a%sb' | format('X') }}",
    "{{ 1 | string }}{{ '5' | int + 1 }}{{ '2.5' | float }} {{ 1.5 }} {{ 10 / 4 }} {{ 1e20 }}",
    "{{ messages | selectattr('role', 'equalto', 'user') | list | length }}"
    " {{ messages | rejectattr('role', 'equalto', 'user') | list | length }}",
    "{{ obj.nested.deep }} {{ obj['nested']['deep'] }} {{ obj.missing is defined }}",
    "{{ true }} {{ none_value }} {{ 0 }} {{ -0.0 }} {{ [1, 'a'] }} {{ {'k': 'v'} }}",
    "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }} {% endfor %}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}",
    "{% for m in messages %}{% for c in m.role %}{{ loop.index }}{% endfor %}|{% endfor %}",
]

FEATURE_VARS = {
    "messages": [{"role": "system", "content": "Sys"}, {"role": "user", "content": "Hello"},
                 {"role": "assistant", "content": "Hi \u00e9\U0001F600"},
                 {"role": "user", "content": "Bye"}],
    "tools": chat_cases.TOOLS[:2],
    "obj": {"a": 1, "b": "two", "c": [1, 2], "nested": {"deep": "yes"}},
    "numbers": [0, -1, 1.5, 3.0, 1e-07, 12345678901234, 0.1, 100.0, 2.5e+20],
    "none_value": None, "a_false": False, "x": 1,
}


def render(env, source, variables):
    try:
        return {"text": env.from_string(source).render(**variables)}
    except Exception as e:  # noqa: BLE001 - the error is the expected outcome
        return {"error": str(e), "error_type": type(e).__name__}


def template_vars(case, config):
    v = dict(case["conversation"])
    v["add_generation_prompt"] = case["add_generation_prompt"]
    for key in ("bos_token", "eos_token"):
        tok = config.get(key)
        if isinstance(tok, dict):
            tok = tok.get("content")
        if tok is not None:
            v[key] = tok
    v.update(case["vars"])
    return v


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    assets, out = argv[1], argv[2]
    env = make_env()
    records = []
    for name in NAMES:
        path = os.path.join(assets, "tokenizer-" + name, "models", "tokenizer_config.json")
        if not os.path.exists(path):
            print("template_oracle: %s missing, skipping %s" % (path, name))
            continue
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        source = config["chat_template"]
        for case in chat_cases.cases(name, SEED, N_PER_TEMPLATE):
            # round-trip through JSON so the values are exactly what the C side parses
            v = json.loads(json.dumps(template_vars(case, config), ensure_ascii=False))
            rec = {"id": len(records), "tokenizer": name, "vars": v}
            rec.update(render(env, source, v))
            records.append(rec)
    for source in FEATURES:
        rec = {"id": len(records), "source": source, "vars": FEATURE_VARS}
        rec.update(render(env, source, FEATURE_VARS))
        records.append(rec)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print("template_oracle: %d records (jinja2 %s) -> %s" % (len(records), jinja2.__version__,
                                                            out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
