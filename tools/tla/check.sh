#!/usr/bin/env bash
# Parses every models/*.tla with the TLA+ project's tree-sitter grammar
# (@tlaplus/tree-sitter-tlaplus through web-tree-sitter) and fails on any
# syntax error.  Installs the pinned packages first if needed (npm ci
# --ignore-scripts: no install scripts, no native builds, no downloads
# besides the registry tarballs).  Runs outside Bazel (tests there cannot
# reach npm).  TLC itself is not run here; the specs' checked twins are the
# Promela models under `bazel test //models/...`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "tla-check: FAIL: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi

if [ ! -f node_modules/web-tree-sitter/package.json ] ||
   [ ! -f node_modules/@tlaplus/tree-sitter-tlaplus/tree-sitter-tlaplus.wasm ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "tla-check: installing the parser (npm ci --ignore-scripts)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi

echo "tla-check: parsing models/*.tla with @tlaplus/tree-sitter-tlaplus $(node -p "require('./node_modules/@tlaplus/tree-sitter-tlaplus/package.json').version")"
if node parse.mjs; then
  echo "tla-check: PASS"
else
  echo "tla-check: FAIL: syntax errors above" >&2
  exit 1
fi
