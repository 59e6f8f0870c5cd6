#!/usr/bin/env python3
"""Hugging Face transformers measured as `ingot bench` measures, on the same model folder.

ppN: one forward pass over N random ids into an empty KV cache; tgN: N forward passes of one
random id each from an empty cache (a manual loop over past_key_values, not generate(), so the
work matches ingot's). Each test runs once to warm up, then --repetitions times; the timer
starts on an idle device (torch.cuda.synchronize) after the ids and the cache exist and stops
once the device has finished (torch.cuda.synchronize again). Only the last position's logits
are computed (logits_to_keep=1), as ingot's last_only. Prints one JSON line per test with the
mean and standard deviation of tokens/s and the peak memory torch allocated (weights
included).

Usage: hf_bench.py --model DIR [--device cuda] [-p 512] [-n 128] [-r 3] [--seed 0]"""
import argparse
import json
import statistics
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, DynamicCache


def new_cache(model):
    try:
        return DynamicCache(config=model.config)
    except TypeError:  # transformers before 4.56 takes no config
        return DynamicCache()


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def run_once(model, device, gen, n_prompt, n_gen):
    """One run: n_prompt ids at once, then n_gen ids one at a time; returns tokens/s."""
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (1, n_prompt + n_gen), generator=gen).to(device)  # [1, T]
    cache = new_cache(model)
    synchronize(device)
    t0 = time.perf_counter()
    if n_prompt:
        model(input_ids=ids[:, :n_prompt], past_key_values=cache, use_cache=True,
              logits_to_keep=1)
    for i in range(n_prompt, n_prompt + n_gen):
        model(input_ids=ids[:, i:i + 1], past_key_values=cache, use_cache=True, logits_to_keep=1)
    synchronize(device)
    return (n_prompt + n_gen) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", "-m", required=True, help="the model folder")
    ap.add_argument("--device", default="cuda", help="torch device (default cuda)")
    ap.add_argument("--n-prompt", "-p", type=int, default=512, help="prompt tokens (0 skips pp)")
    ap.add_argument("--n-gen", "-n", type=int, default=128, help="generated tokens (0 skips tg)")
    ap.add_argument("--repetitions", "-r", type=int, default=3, help="repetitions of each test")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random ids")
    args = ap.parse_args()
    if args.repetitions < 1:
        ap.error("--repetitions must be at least 1")
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16,
                                                 attn_implementation="sdpa",
                                                 device_map=str(device)).eval()
    gen = torch.Generator().manual_seed(args.seed)
    tests = [(args.n_prompt, 0)] if args.n_prompt else []
    tests += [(0, args.n_gen)] if args.n_gen else []
    for n_prompt, n_gen in tests:
        run_once(model, device, gen, n_prompt, n_gen)  # warm-up
        tps = [run_once(model, device, gen, n_prompt, n_gen) for _ in range(args.repetitions)]
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
        print(json.dumps({
            "impl": "transformers",
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "model": args.model,
            "n_params": sum(p.numel() for p in model.parameters()),
            "test": "pp%d" % n_prompt if n_prompt else "tg%d" % n_gen,
            "n_prompt": n_prompt,
            "n_gen": n_gen,
            "avg_ts": statistics.mean(tps),
            "stddev_ts": statistics.stdev(tps) if len(tps) > 1 else 0.0,
            "samples_ts": tps,
            "peak_memory": peak,
        }), flush=True)


if __name__ == "__main__":
    main()
