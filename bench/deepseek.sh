#!/usr/bin/env bash
# The standard DeepSeek CPU benchmark: synthesises the bench-moe model (V2-Lite widths, q-LoRA,
# 8 layers, 64 experts top-6; random weights) in Q8_0 and Q4_K, then runs `qiusuo bench` on each:
# pp512, tg128, roofline fraction, KV bytes per token and peak RSS, at 2 threads.
#   bench/deepseek.sh [MODEL_DIR] [THREADS] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.work/models}"
threads="${2:-2}"
reps="${3:-3}"
bin=build/qiusuo
[ -x "$bin" ] || scripts/build.sh release
mkdir -p "$dir"
echo "| model | pp512 t/s | tg128 t/s | roofline | bandwidth GB/s | weights MB/token | KV B/token | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|"
for type in q8_0 q4_k; do
  model="$dir/bench-moe.$type.gguf"
  [ -f "$model" ] || "$bin" synth --arch deepseek2 --preset bench-moe --type "$type" -o "$model" >&2
  json="$dir/bench-moe.$type.json"
  "$bin" bench -m "$model" -p 512 -n 128 -r "$reps" -t "$threads" --json > "$json"
  node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const f = (x, d) => x.toFixed(d);
    console.log(`| bench-moe ${process.argv[2]} | ${f(j.pp512, 1)} ± ${f(j.pp512_sd, 1)} | ${f(j.tg128, 2)} ± ${f(j.tg128_sd, 2)} | ` +
      `${f(100 * j.roofline_fraction, 1)}% | ${f(j.bandwidth_gbps, 1)} | ${f(j.bytes_per_token / 1e6, 1)} | ${j.kv_bytes_per_token} | ${f(j.peak_rss_mib, 0)} |`);
  ' "$json" "$type"
done
