#!/usr/bin/env bash
# Prepares, on the development machine, everything bench/gpu/run-all.sh needs, in ONE folder a device call
# carries (at most 64 MiB): bench/gpu/llama/prepare.sh's llama.cpp side without the PTX fallback (~26 MiB:
# node-llama-cpp 3.21.1's CUDA libraries with sm_90 cubins, llama_gpu_bench, make_random_gguf, cuda_gguf_bench,
# the tokenizer template, prompts), plus our CUDA test and benchmark programs (sm_90, portable x86-64-v3 host
# code) as one xz stream, programs.tar.xz. Prints the folder's size and refuses to leave it over 64 MiB.
#   bench/gpu/prepare-all.sh [ARCHS]     (default 90: the H100/H200 the device calls get)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
archs=${1:-90}
carry=$root/.gpucarry-llama
build=$root/build-gpu-all
FRSPEC_LLAMA_NO_PTX=1 bash "$root/bench/gpu/llama/prepare.sh"
progs="cuda_backend_test cuda_bench cuda_spec_ops_test cuda_weight_types_test cuda_layout_test"
cmake -S "$root/native" -B "$build" -DFRSPEC_CUDA=ON -DFRSPEC_PORTABLE=ON -DCMAKE_CUDA_ARCHITECTURES="$archs" >/dev/null
cmake --build "$build" -j2 --target $progs
tmp=$(mktemp -d)
for b in $progs; do strip -o "$tmp/$b" "$build/$b"; done
tar -C "$tmp" -cf - . | xz -9e > "$carry/programs.tar.xz"
rm -rf "$tmp"
bytes=$(du -b -s "$carry" | awk '{print $1}')
awk -v b="$bytes" -v d="$carry" 'BEGIN { printf "%s: %.1f MiB (a device call carries at most 64 MiB)\n", d, b / 1048576 }'
[ "$bytes" -le $(( 64 * 1048576 )) ] || { echo "too large to carry"; exit 1; }
