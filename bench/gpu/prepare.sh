#!/usr/bin/env bash
# Builds, on the development machine, everything the GPU run needs and puts it in .gpucarry/ (ignored via
# .git/info/exclude; pass it in the device call's `carry`; at most 64 MiB travel, so binaries and models
# go xz-compressed): the CUDA test and benchmark programs (portable x86-64-v3 host code, sm_90 device
# code for the H100/H200), the compressed demo models, the target's reference, the speculative prompts
# (token ids) and an FR-Spec vocabulary. Nothing is built on the GPU machine.
#   bench/gpu/prepare.sh [ARCHS]     (default 90)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
archs=${1:-90}
build=$root/build-gpu-carry
carry=$root/.gpucarry
shared=${FRSPEC_SHARED:-$root/../shared}
vocab=$root/.cache/spec-test/train-head.frv  # counted by test/unit/spec.test.ts from the train split
cmake -S "$root/native" -B "$build" -DFRSPEC_CUDA=ON -DFRSPEC_PORTABLE=ON -DCMAKE_CUDA_ARCHITECTURES="$archs" >/dev/null
cmake --build "$build" -j2 --target cuda_backend_test cuda_bench cuda_spec_bench cuda_spec_ops_test cuda_weight_types_test
rm -rf "$carry"
mkdir -p "$carry/bin" "$carry/models"
# One xz stream for all programs: they share the engine and the CUDA kernels, so the archive is ~2 MB
# instead of ~7 MB of separately compressed files (the 64 MiB a device call carries is nearly full).
for b in cuda_backend_test cuda_bench cuda_spec_bench cuda_spec_ops_test cuda_weight_types_test; do strip -o "$carry/bin/$b" "$build/$b"; done
tar -C "$carry/bin" -cf - . | xz -9e > "$carry/programs.tar.xz"
rm -rf "$carry/bin"
if [ -f "$shared/models/demo-target.gguf.xz" ]; then
  cp "$shared"/models/demo-{target,draft,eagle}.gguf.xz "$shared/models/demo-target.reference.json" "$carry/models/"
  (cd "$root" && npx tsx bench/gpu/make-prompts.ts "$carry/prompts.txt")
else
  echo "note: $shared/models not found: the GPU run will skip the demo-model checks"
fi
if [ -f "$vocab" ]; then cp "$vocab" "$carry/vocab.frv"; else echo "note: no $vocab (run npx mocha test/unit/spec.test.ts): no FR-Spec demo run"; fi
grep -qx '/.gpucarry/' "$root/.git/info/exclude" 2>/dev/null || echo '/.gpucarry/' >> "$root/.git/info/exclude"
du -sh "$carry"
