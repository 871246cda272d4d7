#!/usr/bin/env bash
# Compiles every CUDA source of the engine (native/src/cuda/*.cu) for the given GPU architectures, compile
# only (no link, no GPU needed), to show they build for cards the addon's default list may not cover.
#   scripts/check-cuda-archs.sh [ARCH ...]     (default: 75 120: RTX 20xx and RTX 50xx)
# Skips with a message when nvcc is absent. Exit status: nvcc's first failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(75 120)
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
if [ ! -x "$nvcc" ]; then echo "check-cuda-archs: no nvcc: skipped"; exit 0; fi
gencode=()
for a in "${archs[@]}"; do gencode+=(-gencode "arch=compute_$a,code=sm_$a"); done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s)
# Two at a time (the CI machine has 2 cores); each file's errors are printed with its name.
ls "$root"/native/src/cuda/*.cu | xargs -P 2 -I{} sh -c '
  f={}; o='"$out"'/$(basename "$f").o
  if "$0" -std=c++20 -O3 -I "'"$root"'/native/src" "$@" -c "$f" -o "$o" > "$o.log" 2>&1; then echo "  ok $(basename "$f")"
  else echo "  FAILED $(basename "$f"):"; cat "$o.log"; exit 255; fi' "$nvcc" "${gencode[@]}"
rc=$?
echo "check-cuda-archs: sm_${archs[*]// /, sm_}: $([ $rc = 0 ] && echo ok || echo FAILED) in $(( $(date +%s) - start )) s ($("$nvcc" --version | tail -1))"
exit $rc
