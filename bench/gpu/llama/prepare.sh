#!/usr/bin/env bash
# Prepares, on the development machine, the llama.cpp side of the GPU comparison in .gpucarry-llama/
# (ignored via .git/info/exclude; carry it in the device call, at most 64 MiB travel):
#  * node-llama-cpp 3.21.1's prebuilt CUDA binaries (npm pack of @node-llama-cpp/linux-x64-cuda, fetched
#    on demand into .cache/llama-gpu/, never a dependency of the project). libggml-cuda.so is 159 MB, so
#    its fat binary keeps only what an H100/H200 runs: sm_90 cubins compiled here from its compute_90 PTX,
#    plus that PTX as a fallback (prune_fatbin.py), then xz;
#  * llama_gpu_bench, our driver of those libraries through llama.h (headers from node-llama-cpp's git
#    bundle of the exact llama.cpp source, tag v0.4.0), portable x86-64-v3;
#  * make_random_gguf and a tokenizer template (Qwen2.5's, from demo-target.gguf) to write real-shape
#    random-weight models on the GPU machine;
#  * our engine's cuda_gguf_bench (native/bench/cuda_gguf_bench.cpp, sm_90), the FIM prompts as ids and an
#    FR-Spec vocabulary (for the speculative rows on the demo models).
#   bench/gpu/llama/prepare.sh          (FRSPEC_LLAMA_NO_PTX=1: without the PTX fallback, see below)
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
here=$root/bench/gpu/llama
cache=$root/.cache/llama-gpu
carry=$root/.gpucarry-llama
build=$root/build-c3-gpu
version=3.21.1
mkdir -p "$cache"

# 1. The npm packages (only downloaded once).
[ -f "$cache/node-llama-cpp-linux-x64-cuda-$version.tgz" ] ||
  (cd "$cache" && npm pack "@node-llama-cpp/linux-x64-cuda@$version" >/dev/null)
[ -f "$cache/node-llama-cpp-$version.tgz" ] || (cd "$cache" && npm pack "node-llama-cpp@$version" >/dev/null)
libs=$cache/linux-x64-cuda
if [ ! -f "$libs/libllama.cuda.v0.4.0.so" ]; then
  rm -rf "$cache/x" && mkdir -p "$cache/x" "$libs"
  tar xzf "$cache/node-llama-cpp-linux-x64-cuda-$version.tgz" -C "$cache/x"
  mv "$cache"/x/package/bins/linux-x64-cuda/* "$libs/"
  rm -rf "$cache/x"
fi
inc=$cache/include
if [ ! -f "$inc/llama.h" ]; then
  rm -rf "$cache/src" && mkdir -p "$cache/src" "$inc"
  tar xzf "$cache/node-llama-cpp-$version.tgz" -C "$cache/src" package/llama/gitRelease.bundle package/llama/llama.cpp.info.json
  git init -q "$cache/src/git"
  git -C "$cache/src/git" fetch -q "$cache/src/package/llama/gitRelease.bundle" HEAD
  for f in $(git -C "$cache/src/git" ls-tree -r --name-only FETCH_HEAD include ggml/include); do
    git -C "$cache/src/git" show "FETCH_HEAD:$f" > "$inc/$(basename "$f")"
  done
  cp "$cache/src/package/llama/llama.cpp.info.json" "$inc/"
  rm -rf "$cache/src"
fi

rm -rf "$carry"
mkdir -p "$carry/lib" "$carry/bin"
# 2. The libraries: the CUDA backend reduced to what sm_90 runs (below); one CPU backend variant (ggml needs one)
# plus the generic fallback; libllama, libggml, libggml-base. All xz; the run unpacks them next to the driver.
# The GPU machine's driver (CUDA 13.0) cannot JIT the library's CUDA 13.1 PTX, so every unit's compute_90
# PTX is compiled here by ptxas (same CUDA 13.0 as that driver) into an sm_90 cubin, once (cached; 12
# minutes of one core here for the 254 MB of PTX), and the PTX stays beside it, its ISA lowered to 9.0, as
# the driver's fallback. A unit ptxas refuses keeps only its PTX (reported here).
sm90=$cache/sm90
[ -f "$sm90/000.ptx" ] || python3 "$here/prune_fatbin.py" "$libs/libggml-cuda.so" --extract-ptx "$sm90" --ptx-version 9.0
ptxas=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
for f in $(ls -Sr "$sm90"/*.ptx); do
  c=${f%.ptx}.cubin
  [ -f "$c" ] && continue
  if "$ptxas" -arch=sm_90 -O3 "$f" -o "$c.tmp" 2> "${f%.ptx}.err"; then mv "$c.tmp" "$c"
  else echo "warning: ptxas refused $f (that unit will be JIT-compiled from PTX): $(head -c 300 "${f%.ptx}.err")"; fi
done
# FRSPEC_LLAMA_NO_PTX=1 drops the PTX fallback where a cubin exists (the folder: ~26 instead of ~49 MiB).
python3 "$here/prune_fatbin.py" "$libs/libggml-cuda.so" "$cache/libggml-cuda.sm90.so" --cubins "$sm90" --ptx-version 9.0 \
  $([ "${FRSPEC_LLAMA_NO_PTX:-0}" = 1 ] && echo --no-ptx-fallback)
cp "$cache/libggml-cuda.sm90.so" "$carry/lib/libggml-cuda.so"
for f in libggml-base.so libggml.cuda.v0.4.0.so libllama.cuda.v0.4.0.so libggml-cpu-haswell.so libggml-cpu-x64.so; do
  cp "$libs/$f" "$carry/lib/"
done

# 3. Our driver of llama.cpp (linked against the prebuilt libraries, found next to it at run time).
g++ -std=c++20 -O2 -march=x86-64-v3 -Wall -Wextra -I "$inc" -o "$carry/lib/llama_gpu_bench" "$here/llama_gpu_bench.cpp" \
  -L "$carry/lib" -l:libllama.cuda.v0.4.0.so -l:libggml.cuda.v0.4.0.so -l:libggml-base.so -Wl,-rpath,'$ORIGIN'
(cd "$carry" && tar cf - lib | xz -T2 -6 > lib.tar.xz && rm -rf lib)

# 4. The random-model generator and its tokenizer template.
g++ -std=c++20 -O2 -march=x86-64-v3 -Wall -Wextra -o "$carry/bin/make_random_gguf" "$here/make_random_gguf.cpp"
"$carry/bin/make_random_gguf" --make-template "$root/.cache/models/demo-target.gguf" --out "$carry/tokenizer-template.gguf"
xz -T2 -6 "$carry/tokenizer-template.gguf"

# 5. Our engine's side: the same measurements through the CUDA backend (sm_90 device code).
cmake -S "$root/native" -B "$build" -DFRSPEC_CUDA=ON -DFRSPEC_PORTABLE=ON -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build "$build" -j2 --target cuda_gguf_bench
strip -o "$carry/bin/cuda_gguf_bench" "$build/cuda_gguf_bench"
xz -9 "$carry/bin/cuda_gguf_bench"
xz -9 "$carry/bin/make_random_gguf"

# 6. The FIM prompts as token ids, for the speculative comparison on the demo models.
if [ -f "$root/.gpucarry/prompts.txt" ]; then cp "$root/.gpucarry/prompts.txt" "$carry/prompts.txt"
else (cd "$root" && npx tsx bench/gpu/make-prompts.ts "$carry/prompts.txt"); fi

# 7. An FR-Spec vocabulary for our speculative rows (counted by test/unit/spec.test.ts from the train split).
for v in "$root/.cache/spec-test/train-head.frv" "$root/.gpucarry/vocab.frv"; do
  [ -f "$v" ] && cp "$v" "$carry/vocab.frv" && break
done
[ -f "$carry/vocab.frv" ] || echo "note: no FR-Spec vocabulary (run npx mocha test/unit/spec.test.ts): no FR-Spec rows"

grep -qx '/.gpucarry-llama/' "$root/.git/info/exclude" 2>/dev/null || echo '/.gpucarry-llama/' >> "$root/.git/info/exclude"
du -b -s "$carry" | awk '{printf "%s: %.1f MiB\n", $2, $1 / 1048576}'
ls -la "$carry" "$carry/bin"
