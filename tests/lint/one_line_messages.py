#!/usr/bin/env python3
"""Checks that every error message is written on one source line.

The library's messages (ingot__error(status, "format", ...)) are what users
paste into a search: a format string split over several literals on several
lines cannot be found with grep. This flags every ingot__error call whose
format is more than one string literal, and with --fix joins them.

Usage: one_line_messages.py [--fix] PATH...   check .c/.h/.cu files under PATH
       one_line_messages.py --self-test
Exit status 1 when a message is split (after --fix: when one could not be joined).
"""
import os
import re
import sys

CALL = re.compile(r"\bingot__error\s*\(")
LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"')
BETWEEN = re.compile(r"\s*")
PREFIX = re.compile(r"\s*(?:[A-Z][A-Z0-9_]*\s*)?")


def split_messages(text):
    """(start, end, pieces) of each format string made of several literals."""
    found = []
    for m in CALL.finditer(text):
        comma = text.find(",", m.end())
        lit = LITERAL.search(text, comma)
        if not lit or not PREFIX.fullmatch(text[comma + 1:lit.start()]):
            continue  # the format is not a literal (a macro name may lead it)
        pieces, end = [lit], lit.end()
        while True:
            gap = BETWEEN.match(text, end)
            nxt = LITERAL.match(text, gap.end())
            if not nxt:
                break
            pieces.append(nxt)
            end = nxt.end()
        if len(pieces) > 1:
            found.append((lit.start(), end, pieces))
    return found


def joined(pieces):
    return '"' + "".join(p.group(0)[1:-1] for p in pieces) + '"'


def files_under(paths):
    for root in paths:
        if os.path.isfile(root):
            yield root
        for d, _, fs in os.walk(root):
            for f in sorted(fs):
                if f.endswith((".c", ".h", ".cu", ".cuh")):
                    yield os.path.join(d, f)


def main(args):
    fix = args[:1] == ["--fix"]
    paths = args[1:] if fix else args
    bad = 0
    for path in files_under(paths):
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        found = split_messages(text)
        if not found:
            continue
        if fix:
            for start, end, pieces in reversed(found):
                text = text[:start] + joined(pieces) + text[end:]
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            found = split_messages(text)
        for start, _, _ in found:
            line = text.count("\n", 0, start) + 1
            print(f"{path}:{line}: an error message split over several string literals")
            bad += 1
    print(f"one_line_messages: {bad} split message(s)")
    return 1 if bad else 0


def self_test():
    bad = ['ingot__error(INGOT_ERR_SHAPE, "matmul: shapes %s "\n    "and %s", a, b);',
           'return ingot__error(st,\n "a"\n "b");', 'ingot__error(st, OP ": a "\n "b");']
    good = ['ingot__error(INGOT_ERR_SHAPE, "matmul: shapes %s and %s", a,\n b);',
            'ingot__error(st, msg);', 'ingot__error(st, "a", "b");',
            'ingot__error(st, OP ": x %d", n);']
    fails = sum(not split_messages(s) for s in bad) + sum(bool(split_messages(s)) for s in good)
    fixed = split_messages(bad[0])[0]
    if joined(fixed[2]) != '"matmul: shapes %s and %s"':
        fails += 1
    print(f"one_line_messages self-test: {len(bad) + len(good) + 1 - fails} passed, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
