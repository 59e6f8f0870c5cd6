#!/usr/bin/env python3
"""Finds expressions whose result depends on C's unspecified evaluation order.

C leaves the order in which the operands of an expression (and the arguments
of a call) are evaluated unspecified. When one operand is a call that writes a
variable through its address and another operand reads that variable, gcc and
clang may produce different programs:

    replace(&x, ingot_reshape(&y, x, shape, 4), y);   /* gcc reads y first */

This script flags every read of a variable (or member path such as s->n) that
is not sequenced against a call receiving its address: the read sits outside
that call's own argument list, in the same full expression, with no sequence
point (&&, ||, ?:, the comma operator) between the two. Reads inside the
call's own arguments are fine (they happen before the call), and so is a
plain assignment of the call's result to the same variable (x = f(&x)).

Usage: eval_order.py PATH...     check .c/.h/.cu files under each path
       eval_order.py --self-test check the checker on known cases
Exit status 1 when something is flagged, with one line per finding.
"""
import os
import re
import sys

TOKEN = re.compile(r"""
    (?P<id>[A-Za-z_]\w*)
  | (?P<num>\.?\d(?:[\w.]|[eEpP][+-])*)
  | (?P<op>->|\+\+|--|&&|\|\||<<=|>>=|[-+*/%&|^!=<>]=|<<|>>|::|[][(){};,.?:~!&|^*/%+<>=-])
""", re.X)
CONTROL = {"if", "while", "for", "switch"}
SEQUENCE = {"&&", "||", "?", ":"}
PRECEDES_UNARY = {"(", "[", "{", ",", ";", "=", "return", "?", ":", "&&", "||", "!",
                  "+", "-", "*", "/", "%", "<", ">", "<=", ">=", "==", "!=", "|", "^",
                  "~", "<<", ">>", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=",
                  ">>=", "&", "case"}


def strip(text):
    """Blanks comments, string and character literals and preprocessor lines,
    keeping every newline so that positions map to the same lines."""
    out, i, n = [], 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c == "#":
            j = i
            while j < n and text[j] != "\n":
                j = j + 2 if text[j] == "\\" else j + 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == "\n":
            at_line_start = True
        elif not c.isspace():
            at_line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append("0" + " " * (j - i))  # a literal reads no variable
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def tokens(text):
    line = 1
    pos = 0
    for m in TOKEN.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        yield m.group(0), line


def segments(toks):
    """Splits a token list into full expressions: statements, the conditions
    of if/while/switch, the three clauses of for, and declarators."""
    seg, depth, i = [], 0, 0
    init_depth = []  # brace depths that are initializer lists
    while i < len(toks):
        t = toks[i][0]
        if depth == 0 and t in CONTROL and i + 1 < len(toks) and toks[i + 1][0] == "(":
            if seg:
                yield seg
                seg = []
            j, d, part = i + 2, 1, []
            while j < len(toks) and d:
                u = toks[j][0]
                d += u == "("
                d -= u == ")"
                if d and not (d == 1 and u == ";"):
                    part.append(toks[j])
                elif part:
                    yield part
                    part = []
                j += 1
            if part:
                yield part
            i = j
            continue
        if t in "{}":
            prev = seg[-1][0] if seg else ";"
            if t == "{" and (depth > 0 or prev in ("=", ",", "{") or init_depth):
                init_depth.append(True)  # an initializer list: part of the expression
                seg.append(toks[i])
            elif t == "}" and init_depth:
                init_depth.pop()
                seg.append(toks[i])
            else:  # a block
                if seg:
                    yield seg
                seg = []
            i += 1
            continue
        if t == ";" or (t == "," and depth == 0 and not init_depth):
            if seg:
                yield seg
            seg = []
            i += 1
            continue
        depth += t in "(["
        depth -= t in ")]"
        seg.append(toks[i])
        i += 1
    if seg:
        yield seg


def groups(seg):
    """For each token, the index of the innermost open bracket around it
    (-1 at top level), and for each bracket whether it opens a call's
    argument list, and where it closes."""
    owner, stack, is_call, close = [], [], {}, {}
    for k, (t, _) in enumerate(seg):
        if t in ")]}":
            if stack:
                close[stack.pop()] = k
            owner.append(stack[-1] if stack else -1)
            continue
        owner.append(stack[-1] if stack else -1)
        if t in "([{":
            prev = seg[k - 1][0] if k else ""
            is_call[k] = t == "(" and (re.match(r"[A-Za-z_]", prev) is not None and
                                       prev not in ("sizeof", "return", "_Alignof") or
                                       prev in (")", "]"))
            stack.append(k)
    for k in stack:
        close[k] = len(seg)
    return owner, is_call, close


def path_at(seg, k):
    """The member path starting at token k (a, a.b, a->b->c) as a tuple."""
    p = [seg[k][0]]
    while k + 2 < len(seg) and seg[k + 1][0] in (".", "->") and \
            re.match(r"[A-Za-z_]", seg[k + 2][0]):
        p += [seg[k + 1][0], seg[k + 2][0]]
        k += 2
    return tuple(p)


def ancestors(owner, k):
    chain = []
    g = owner[k]
    while g >= 0:
        chain.append(g)
        g = owner[g]
    return chain


def check_segment(seg):
    owner, is_call, close = groups(seg)
    found = []
    writes = []  # (path, index of '&', call bracket that receives it)
    for k, (t, _) in enumerate(seg):
        if t != "&" or k + 1 >= len(seg) or not re.match(r"[A-Za-z_]", seg[k + 1][0]):
            continue
        if k and seg[k - 1][0] not in PRECEDES_UNARY:
            continue  # binary and
        call = next((g for g in ancestors(owner, k) if is_call.get(g)), None)
        if call is not None:
            writes.append((path_at(seg, k + 1), k, call))
    for k, (t, _) in enumerate(seg):  # a bare pointer argument: h(p) may write *p
        if (re.match(r"[A-Za-z_]", t) and k and is_call.get(owner[k]) and
                seg[k - 1][0] in ("(", ",") and k + 1 < len(seg) and seg[k + 1][0] in (")", ",")):
            writes.append((("*", t), k - 1, owner[k]))
    if not writes:
        return found
    for k, (t, line) in enumerate(seg):
        if not re.match(r"[A-Za-z_]", t):
            continue
        prev = seg[k - 1][0] if k else ""
        if prev in (".", "->") or (prev == "&" and (k < 2 or seg[k - 2][0] in PRECEDES_UNARY)):
            continue
        if k + 1 < len(seg) and seg[k + 1][0] == "(":
            continue  # a function name
        if "sizeof" in (seg[g - 1][0] for g in ancestors(owner, k) if g) or prev == "sizeof":
            continue
        p = path_at(seg, k)
        if prev == "*" and (k < 2 or seg[k - 2][0] in PRECEDES_UNARY):
            p = ("*",) + p  # a read of *p
        end = k + 2 * (len(p) // 2) + 1
        if end < len(seg) and seg[end][0] == "=" and owner[k] == -1:
            continue  # the target of a plain assignment
        for wpath, wk, call in writes:
            if p[:len(wpath)] != wpath:
                continue
            if call < k <= close[call] or k == wk + 1:
                continue  # sequenced before the call, or the written operand itself
            if not unsequenced(seg, owner, is_call, wk, k):
                continue
            callee = seg[call - 1][0]
            found.append((line, "".join(wpath), callee + "()" if callee[0].isalpha() else "a call"))
    return found


def unsequenced(seg, owner, is_call, a, b):
    """True when no sequence point separates tokens a and b: none of && || ?:
    or a comma operator at the level of their innermost common bracket."""
    anc_a = [-1] + list(reversed(ancestors(owner, a)))
    anc_b = [-1] + list(reversed(ancestors(owner, b)))
    common = -1
    for x, y in zip(anc_a, anc_b):
        if x != y:
            break
        common = x
    lo, hi = min(a, b), max(a, b)
    for k in range(lo, hi):
        if owner[k] == common and seg[k][0] in (SEQUENCE | ({","} if not is_call.get(common)
                                                             else set())):
            if seg[k][0] == "," and common >= 0 and seg[common][0] == "{":
                continue  # initializer lists are unsequenced
            return False
    return True


def check_text(text):
    toks = list(tokens(strip(text)))
    found = []
    for seg in segments(toks):
        found.extend(check_segment(seg))
    return sorted(set(found))


def check_paths(paths):
    bad = 0
    for root in paths:
        if not os.path.exists(root):
            continue  # a tree without examples/, say
        files = [root] if os.path.isfile(root) else sorted(
            os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
            if f.endswith((".c", ".h", ".cu", ".cuh")) and "node_modules" not in d)
        for path in files:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line, var, call in check_text(fh.read()):
                    print(f"{path}:{line}: '{var}' is read in the same expression in which "
                          f"{call} writes it: the order is unspecified")
                    bad += 1
    print(f"eval_order: {bad} finding(s) in {', '.join(paths)}")
    return 1 if bad else 0


# Cases the checker must flag (first) and must accept (second).
BAD = [
    "void f(void) { st = replace(&x, ingot_reshape(&y, x, shape, 4), y); }",
    "void f(void) { g(y, h(&y)); }",
    "void f(void) { n = n + h(&n); }",
    "void f(void) { return h(&s->n) + s->n; }",
    "void f(void) { if (!st) st = g(h(&s.a), s.a->b); }",
    "void f(void) { int a[] = {h(&y), y}; }",
    "void f(void) { if (g(h(&y), y)) return; }",
    "void f(void) { for (i = 0; g(h(&i), i); i++) ; }",
    "void f(void) { g(a & b, h(&b)); }",
    "void f(void) { g(h(out), *out); }",
]
GOOD = [
    "void f(void) { st = replace(&x, ingot_reshape(&y, x, shape, 4), &y); }",
    "void f(void) { st = ingot_reshape(&y, x, shape, 4); if (!st) g(y); }",
    "void f(void) { g(&y, y); }",
    "void f(void) { x = h(&x); }",
    "void f(void) { if (!h(&y) && y) return; }",
    "void f(void) { return h(&y) ? y : NULL; }",
    "void f(void) { if (h(&y)) g(y); }",
    "void f(void) { a = h(&y), b = y; }",
    "void f(void) { g(h(&s->a), s->b); }",
    "void f(void) { g(h(&y), sizeof y, sizeof(y)); }",
    "void f(void) { g(h(x & y), y); }",
    "void f(void) { g(h(out, *out), a * out); }",  # a binary and takes no address
    "void f(void) { /* g(h(&y), y); */ g(\"&y\", y); }",
    "#define M(y) g(h(&y), y)\nvoid f(void) { }",
]


def self_test():
    failures = 0
    for src in BAD:
        if not check_text(src):
            print(f"not flagged: {src}")
            failures += 1
    for src in GOOD:
        if check_text(src):
            print(f"flagged: {src}")
            failures += 1
    print(f"eval_order self-test: {len(BAD) + len(GOOD) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(check_paths(sys.argv[1:]))
