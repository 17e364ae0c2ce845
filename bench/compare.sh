#!/usr/bin/env bash
# Side by side with a peer engine's llama-bench (ik_llama.cpp or llama.cpp, built by you on this host,
# outside this repository; nothing here fetches or builds it). For each model, qiusuo and the peer run
# the same tests interleaved (q p q p ...), the peer in its default mode and with run-time repacking
# (-rtr 1; the better of the two counts), and the ratio qiusuo / peer is printed per test with its
# spread over the pairs. Only interleaved pairs are comparable on a shared, noisy host.
#   bench/compare.sh PEER_LLAMA_BENCH MODEL.gguf [MODEL.gguf ...]
# Environment: PAIRS (3), THREADS (2), PP (512), TG (128), REPS (3, repetitions inside each run),
#              PEER_MODES ("0 1": the -rtr values to try; "0" for a peer without it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: bench/compare.sh PEER_LLAMA_BENCH MODEL.gguf [MODEL.gguf ...]" >&2; exit 2; }
peer="$1"; shift
pairs="${PAIRS:-3}" threads="${THREADS:-2}" pp="${PP:-512}" tg="${TG:-128}" reps="${REPS:-3}"
modes="${PEER_MODES:-0 1}"
bin=build/qiusuo
[ -x "$bin" ] || scripts/build.sh release qiusuo_cli
[ -x "$peer" ] || { echo "compare: $peer is not an executable" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
family=$(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
isa=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_vnni|avx512_bf16|amx_int8)$' | tr '\n' ' ')
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $cpu (family $family; $isa), $threads threads, pp$pp tg$tg, $pairs interleaved pairs"
echo "# peer: $peer (modes -rtr: $modes)"
echo
echo "| model | test | qiusuo t/s (median) | peer t/s (median) | qiusuo / peer (median, min-max) |"
echo "|---|---|---|---|---|"
for model in "$@"; do
  for i in $(seq "$pairs"); do
    "$bin" bench -m "$model" -p "$pp" -n "$tg" -r "$reps" -t "$threads" --json > "$out/q$i.json"
    for m in $modes; do
      "$peer" -m "$model" -p "$pp" -n "$tg" -r "$reps" -t "$threads" -rtr "$m" -o json > "$out/p$i.$m.json" 2>/dev/null
    done
  done
  node - "$out" "$pairs" "$pp" "$tg" "$model" $modes <<'JS'
const fs = require("fs");
const [dir, pairs, pp, tg, model, ...modes] = process.argv.slice(2);
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
for (const [test, key, pick] of [[`pp${pp}`, `pp${pp}`, (t) => t.n_prompt > 0 && t.n_gen === 0],
                                 [`tg${tg}`, `tg${tg}`, (t) => t.n_gen > 0 && t.n_prompt === 0]]) {
  const q = [], p = [], r = [];
  for (let i = 1; i <= +pairs; ++i) {
    const qs = JSON.parse(fs.readFileSync(`${dir}/q${i}.json`, "utf8"))[key];
    let best = 0;
    for (const m of modes) {
      const runs = JSON.parse(fs.readFileSync(`${dir}/p${i}.${m}.json`, "utf8"));
      for (const t of runs) if (pick(t)) best = Math.max(best, t.avg_ts);
    }
    q.push(qs); p.push(best); r.push(qs / best);
  }
  console.log(`| ${model.split("/").pop()} | ${test} | ${med(q).toFixed(2)} | ${med(p).toFixed(2)} | ` +
              `${med(r).toFixed(2)}x (${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)}) |`);
}
JS
done
