#!/usr/bin/env python3
"""Chat-template oracle: Jinja2 configured exactly as transformers configures it.

Usage: template_oracle.py ASSETS OUT.jsonl

Renders, for each of the real templates (ASSETS/tokenizer-NAME/models/
tokenizer_config.json's chat_template), the generated conversations of
scripts/fixtures/chat_cases.py (a different seed from the committed goldens),
plus small feature templates that exercise the Jinja subset one construct at a
time. Writes one JSON record per line:
  {"id": N, "tokenizer": NAME}   or   {"id": N, "source": TEMPLATE [, "label": NAME]}
  (a label marks a real-world template held to the same standard as the tokenizers' ones;
  without it, a one-construct feature template)
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
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
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


# Other widely used templates (written after the published Llama 3.1 and Qwen2.5 ones), rendered
# with generated conversations too: more of the subset under real-world load (tojson with indent,
# `in` on mappings, `items`, `reject`, mapping/iterable tests, messages reassigned by `set`).
LLAMA31 = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

QWEN25 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

# label -> (source, conversation family of chat_cases, extra variables per case index)
EXTRA_TEMPLATES = {
    "llama3.1-style": (LLAMA31, "qwen3", lambda i: [
        {}, {"tools_in_user_message": False}, {"date_string": "01 Jan 2025"},
        {"builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"]}][i % 4]),
    "qwen2.5-style": (QWEN25, "qwen3", lambda i: {}),
}
N_EXTRA = 30


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
    bos_eos = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
    for label, (source, family, extra_vars) in EXTRA_TEMPLATES.items():
        for i, case in enumerate(chat_cases.cases(family, SEED + 1, N_EXTRA)):
            case = dict(case, vars=dict(case["vars"], **extra_vars(i)))
            v = json.loads(json.dumps(template_vars(case, bos_eos), ensure_ascii=False))
            rec = {"id": len(records), "label": label, "source": source, "vars": v}
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
