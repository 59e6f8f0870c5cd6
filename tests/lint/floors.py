#!/usr/bin/env python3
"""Checks that data flows downward through the source floors.

Each folder of src/ is a floor (../shared/DESIGN.md, docs/architecture.md);
a file may include headers of its own floor and of the floors below it, never
above. The public headers in include/ingot/ belong to the floor that
implements them. tools/, tests/, bench/ and examples/ stand on top.

Usage: floors.py ROOT          check ROOT/src and ROOT/tools
       floors.py --self-test
Exit status 1 when an include points upward, with one line per include.
"""
import os
import re
import sys

# bottom to top
FLOORS = ["core", "io", "backend", "ops", "nn", "text", "models", "train", "engine", "server",
          "tools"]
PUBLIC = {  # include/ingot/NAME.h -> its floor
    "status.h": "core", "version.h": "core", "array.h": "core", "device.h": "core",
    "safetensors.h": "io", "hub.h": "io",
    "ops.h": "ops", "fast.h": "ops", "autograd.h": "ops", "random.h": "ops",
    "tokenizer.h": "text", "chat.h": "text",
    "model.h": "models",
    "engine.h": "engine",
    "ingot.h": "tools",
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def floor_of_header(path):
    """The floor of an included "dir/name.h" (None: not a floor of ours)."""
    head, _, name = path.partition("/")
    if head == "ingot":
        return PUBLIC.get(name, "tools")
    return head if head in FLOORS else None


def floor_of_file(rel):
    """The floor of a source file, from its path relative to the root."""
    parts = rel.split(os.sep)
    if parts[0] == "src" and len(parts) > 2 and parts[1] in FLOORS:
        return parts[1]
    return "tools" if parts[0] == "tools" else None


def check_text(floor, text):
    """The includes of text (a file of floor) that point upward."""
    up = []
    for m in INCLUDE.finditer(text):
        target = floor_of_header(m.group(1))
        if target and FLOORS.index(target) > FLOORS.index(floor):
            up.append((text.count("\n", 0, m.start()) + 1, m.group(1), target))
    return up


def check_tree(root):
    bad = 0
    for top in ("src", "tools"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if not f.endswith((".c", ".h", ".cu", ".cuh")):
                    continue
                path = os.path.join(d, f)
                floor = floor_of_file(os.path.relpath(path, root))
                if floor is None:
                    print(f"{path}: not in a floor folder ({', '.join(FLOORS)})")
                    bad += 1
                    continue
                with open(path, encoding="utf-8") as fh:
                    for line, inc, target in check_text(floor, fh.read()):
                        print(f"{path}:{line}: {floor} includes \"{inc}\" of {target}, a floor above")
                        bad += 1
    print(f"floors: {bad} upward include(s)")
    return 1 if bad else 0


def self_test():
    cases = [("core", '#include "backend/backend.h"\n', 1),
             ("backend", '#include "core/internal.h"\n#include "ingot/array.h"\n', 0),
             ("backend", '#include "ingot/ops.h"\n', 1),
             ("ops", '#  include "backend/backend.h"\n#include <stdio.h>\n', 0),
             ("models", '#include "engine/engine_internal.h"\n', 1),
             ("tools", '#include "ingot/ingot.h"\n', 0)]
    fails = sum(len(check_text(f, t)) != n for f, t, n in cases)
    print(f"floors self-test: {len(cases) - fails} passed, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(check_tree(sys.argv[1]))
