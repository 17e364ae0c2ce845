#!/usr/bin/env bash
# Side by side with a peer engine's llama-bench (ik_llama.cpp or llama.cpp, built by you on this host,
# outside this repository; nothing here fetches or builds it). For each model, qiusuo and the peer run
# the same tests interleaved (q p q p ...), the peer in its default mode and with run-time repacking
# (-rtr 1; the better of the two counts), and the ratio qiusuo / peer is printed per test with its
# spread over the pairs. Only interleaved pairs are comparable on a shared, noisy host.
#   bench/compare.sh PEER_LLAMA_BENCH MODEL.gguf [MODEL.gguf ...]
# Environment: PAIRS (3), THREADS (2), PP (512), TG (128), REPS (3, repetitions inside each run),
#              PEER_MODES ("0 1": the -rtr values to try; "0" for a peer without it),
#              DEPTHS ("": context depths for long-context decode, e.g. "4096 16384"), TG_DEPTH (32:
#              tokens generated after each depth). A depth test prefills DEPTH tokens untimed and times
#              TG_DEPTH generated tokens: qiusuo `bench -d`, ik_llama.cpp `-gp DEPTH,TG`, llama.cpp `-d`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: bench/compare.sh PEER_LLAMA_BENCH MODEL.gguf [MODEL.gguf ...]" >&2; exit 2; }
peer="$1"; shift
pairs="${PAIRS:-3}" threads="${THREADS:-2}" pp="${PP:-512}" tg="${TG:-128}" reps="${REPS:-3}"
modes="${PEER_MODES:-0 1}" depths="${DEPTHS:-}" tgd="${TG_DEPTH:-32}"
bin=build/qiusuo
[ -x "$bin" ] || scripts/build.sh release qiusuo_cli
[ -x "$peer" ] || { echo "compare: $peer is not an executable" >&2; exit 2; }
for d in $depths; do [[ "$d" =~ ^[1-9][0-9]*$ ]] || { echo "compare: DEPTHS must be positive integers" >&2; exit 2; }; done
# ik_llama.cpp spells "generate after a prompt" -gp PP,TG; llama.cpp has -d (depth) for every test.
peer_depth=""
if [ -n "$depths" ]; then
  if "$peer" --help 2>&1 | grep -q -- '-gp <pp,tg>'; then peer_depth=gp
  elif "$peer" --help 2>&1 | grep -q -- '--n-depth'; then peer_depth=d
  else echo "compare: $peer has neither -gp nor -d; cannot run DEPTHS" >&2; exit 2; fi
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
family=$(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
isa=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_vnni|avx512_bf16|amx_int8)$' | tr '\n' ' ')
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $cpu (family $family; $isa), $threads threads, pp$pp tg$tg${depths:+, tg$tgd at depths $depths}, $pairs interleaved pairs"
echo "# peer: $peer (modes -rtr: $modes)"
echo
echo "| model | test | qiusuo t/s (median) | peer t/s (median) | qiusuo / peer (median, min-max) |"
echo "|---|---|---|---|---|"
for model in "$@"; do
  for i in $(seq "$pairs"); do
    "$bin" bench -m "$model" -p "$pp" -n "$tg" -r "$reps" -t "$threads" --json > "$out/q$i.json"
    for d in $depths; do
      "$bin" bench -m "$model" -p 0 -n "$tgd" -d "$d" -r "$reps" -t "$threads" --json > "$out/q$i.d$d.json"
    done
    for m in $modes; do
      "$peer" -m "$model" -p "$pp" -n "$tg" -r "$reps" -t "$threads" -rtr "$m" -o json > "$out/p$i.$m.json" 2>/dev/null
      for d in $depths; do
        if [ "$peer_depth" = gp ]; then
          "$peer" -m "$model" -p 0 -n 0 -gp "$d,$tgd" -r "$reps" -t "$threads" -rtr "$m" -o json > "$out/p$i.$m.d$d.json" 2>/dev/null
        else
          "$peer" -m "$model" -p 0 -n "$tgd" -d "$d" -r "$reps" -t "$threads" -rtr "$m" -o json > "$out/p$i.$m.d$d.json" 2>/dev/null
        fi
      done
    done
  done
  node - "$out" "$pairs" "$pp" "$tg" "$tgd" "$model" "$depths" $modes <<'JS'
const fs = require("fs");
const [dir, pairs, pp, tg, tgd, model, depthList, ...modes] = process.argv.slice(2);
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const read = (f) => JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8"));
// [label, qiusuo file suffix, qiusuo key, peer file suffix, which peer entry]
const tests = [[`pp${pp}`, "", `pp${pp}`, "", (t) => t.n_prompt > 0 && t.n_gen === 0],
               [`tg${tg}`, "", `tg${tg}`, "", (t) => t.n_gen > 0 && t.n_prompt === 0 && !(t.n_depth > 0)]];
for (const d of depthList.split(" ").filter(Boolean))
  tests.push([`tg${tgd} @ d${d}`, `.d${d}`, `tg${tgd}`, `.d${d}`,
              (t) => t.n_gen === +tgd && (t.n_prompt === +d || t.n_depth === +d)]);
for (const [label, qsuf, key, psuf, pick] of tests) {
  const q = [], p = [], r = [];
  for (let i = 1; i <= +pairs; ++i) {
    const qs = read(`q${i}${qsuf}.json`)[key];
    let best = 0;
    for (const m of modes) for (const t of read(`p${i}.${m}${psuf}.json`)) if (pick(t)) best = Math.max(best, t.avg_ts);
    if (!(qs > 0) || !(best > 0)) { console.error(`compare: no ${label} result in pair ${i}`); process.exit(1); }
    q.push(qs); p.push(best); r.push(qs / best);
  }
  console.log(`| ${model.split("/").pop()} | ${label} | ${med(q).toFixed(2)} | ${med(p).toFixed(2)} | ` +
              `${med(r).toFixed(2)}x (${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)}) |`);
}
JS
done
