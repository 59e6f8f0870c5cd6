#!/usr/bin/env bash
# ingot against Hugging Face transformers on a GPU, in one run on one machine:
# writes random-weight Qwen3 models (bf16) at the qwen3-0.6b and qwen3-8b
# shapes into a scratch folder, runs `ingot bench --device cuda` and
# bench/hf_bench.py on each (pp512 and tg128, the same repetitions), and prints
# a markdown table with the card, date and commit (also to $OUT/bench.md when
# OUT is set).
#
# usage: scripts/bench_gpu.sh BUILD_DIR [REPETITIONS]   (from the repo root)
#   BUILD_DIR    a build with bin/ingot and the CUDA plugin (lib/libingot_cuda.so)
#   REPETITIONS  of each test, after one warm-up (default 3)
# Environment: SHAPES (default "qwen3-0.6b qwen3-8b"); COMMIT names the
# commit when the tree has no .git; SCRATCH, a folder kept for the models
# (written once, reused by later runs), else a new folder under ${TMPDIR:-/tmp}
# removed at the end. The two models take ~18 GB of disk.
set -euo pipefail
build=${1:?usage: scripts/bench_gpu.sh BUILD_DIR [REPETITIONS]}
reps=${2:-3}
read -ra shapes <<<"${SHAPES:-qwen3-0.6b qwen3-8b}"
ingot="$build/bin/ingot"
[[ -x $ingot ]] || { echo "bench_gpu.sh: no $ingot" >&2; exit 1; }
"$ingot" devices | grep '^cuda:0' >/dev/null || { "$ingot" devices >&2; echo "bench_gpu.sh: no GPU" >&2; exit 1; }

scratch=${SCRATCH:-$(mktemp -d "${TMPDIR:-/tmp}/ingot-bench.XXXXXX")}
[[ -n ${SCRATCH:-} ]] || trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch"

for shape in "${shapes[@]}"; do
  dir="$scratch/$shape"
  if [[ ! -f $dir/model.safetensors ]]; then # a kept SCRATCH reuses its models
    start=$SECONDS
    "$ingot" random-model --shape "$shape" --dtype bf16 "$dir"
    echo "$shape: random model written in $((SECONDS - start)) s" >&2
  fi
  # A failed side leaves its file empty and its cells "failed": the other still runs.
  "$ingot" bench --device cuda -m "$dir" -p 512 -n 128 -r "$reps" --json >"$scratch/$shape.ingot.json" ||
    echo "bench_gpu.sh: ingot bench failed on $shape" >&2
  python3 bench/hf_bench.py --device cuda -m "$dir" -p 512 -n 128 -r "$reps" >"$scratch/$shape.hf.jsonl" ||
    echo "bench_gpu.sh: hf_bench.py failed on $shape" >&2
done

table=$(python3 bench/gpu_table.py "$scratch" "$reps" "${shapes[@]}")
echo "$table"
if [[ -n ${OUT:-} ]]; then
  printf '%s\n' "$table" >"$OUT/bench.md"
  cp "$scratch"/*.json* "$OUT"/ 2>/dev/null || true
fi
