#!/usr/bin/env bash
# The standard DeepSeek CPU benchmark: synthesises the bench-moe model (V2-Lite widths, q-LoRA,
# 8 layers, 64 experts top-6; random weights) in Q8_0 and Q4_K, then runs `qiusuo bench` on each:
# pp512, tg128, roofline fraction, KV bytes per token and peak RSS, at 2 threads.
#   bench/deepseek.sh [MODEL_DIR] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.work/models}"
threads="${2:-2}"
bin=build/qiusuo
[ -x "$bin" ] || scripts/build.sh release
mkdir -p "$dir"
for type in q8_0 q4_k; do
  model="$dir/bench-moe.$type.gguf"
  [ -f "$model" ] || "$bin" synth --arch deepseek2 --preset bench-moe --type "$type" -o "$model"
  echo "== bench-moe $type ($threads threads)"
  "$bin" bench -m "$model" -p 512 -n 128 -r 3 -t "$threads"
  "$bin" bench -m "$model" -p 512 -n 128 -r 3 -t "$threads" --json > "$dir/bench-moe.$type.json"
done
