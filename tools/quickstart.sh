#!/usr/bin/env bash
# The README's first command: installs whatever is missing (idempotent), then
# builds and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bazel run //examples:demo
