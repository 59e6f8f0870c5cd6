#!/usr/bin/env python3
"""Hugging Face `tokenizers` on the texts bench_tokenizer writes (--dump-text DIR), for the
comparison table: load time, single-thread encode MB/s of the mixed text, 4 MB / 8 MB without
spaces, and the FNV-1a checksums of the ids (equal to bench_tokenizer's when the ids agree).

Usage: bench_tokenizer_hf.py ASSETS_DIR TEXT_DIR"""
import os
import struct
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer  # noqa: E402


def fnv(ids):
    h = 0xCBF29CE484222325
    for b in struct.pack("<%di" % len(ids), *ids):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def best(tok, text):
    t, enc = 1e30, None
    for _ in range(3):
        a = time.perf_counter()
        enc = tok.encode(text, add_special_tokens=True)
        t = min(t, time.perf_counter() - a)
    return t, enc.ids


def main():
    assets, texts = sys.argv[1], sys.argv[2]
    raw = open(os.path.join(texts, "mixed.txt"), "rb").read()
    mixed = raw.decode("utf-8")
    ns8 = open(os.path.join(texts, "nospace8.txt"), "rb").read().decode("utf-8")
    ns4 = ns8[: len(ns8.encode("utf-8")[: 4 << 20].decode("utf-8", "ignore"))]
    print("mixed text: %.2f MB; Hugging Face tokenizers, single thread" % (len(raw) / 1e6))
    for name in ("qwen3", "llama3", "gemma3"):
        a = time.perf_counter()
        tok = Tokenizer.from_file(os.path.join(assets, "tokenizer-%s/models/tokenizer.json" % name))
        load = time.perf_counter() - a
        t, ids = best(tok, mixed)
        t4, ids4 = best(tok, ns4)
        t8, ids8 = best(tok, ns8)
        print("%-8s %9.3f %12.2f %10d %11.3fs %11.3fs %8.2f   ids %016x %016x %016x"
              % (name, load, len(raw) / 1e6 / t, len(ids), t4, t8, t8 / t4, fnv(ids), fnv(ids4),
                 fnv(ids8)))


if __name__ == "__main__":
    main()
