#!/usr/bin/env bash
# Builds, on the development machine, everything the GPU run needs and puts it in .gpucarry/ (ignored via
# .git/info/exclude; pass it in the device call's `carry`): the CUDA test and benchmark programs (portable
# x86-64-v3 host code, sm_90 device code for the H100/H200) and the compressed demo target with its
# reference. Nothing is built on the GPU machine.
#   bench/gpu/prepare.sh [ARCHS]     (default 90)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
archs=${1:-90}
build=$root/build-gpu-carry
carry=$root/.gpucarry
shared=${FRSPEC_SHARED:-$root/../shared}
cmake -S "$root/native" -B "$build" -DFRSPEC_CUDA=ON -DFRSPEC_PORTABLE=ON -DCMAKE_CUDA_ARCHITECTURES="$archs" >/dev/null
cmake --build "$build" -j2 --target cuda_backend_test cuda_bench
rm -rf "$carry"
mkdir -p "$carry/bin" "$carry/models"
cp "$build/cuda_backend_test" "$build/cuda_bench" "$carry/bin/"
strip "$carry/bin/"*
if [ -f "$shared/models/demo-target.gguf.xz" ]; then
  cp "$shared/models/demo-target.gguf.xz" "$shared/models/demo-target.reference.json" "$carry/models/"
else
  echo "note: $shared/models not found: the GPU run will skip the demo-model checks"
fi
grep -qx '/.gpucarry/' "$root/.git/info/exclude" 2>/dev/null || echo '/.gpucarry/' >> "$root/.git/info/exclude"
du -sh "$carry"
