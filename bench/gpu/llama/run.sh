#!/usr/bin/env bash
# The GPU run of the llama.cpp comparison (GPU machine, repository root, .gpucarry-llama/ carried; made by
# bench/gpu/llama/prepare.sh). Writes random-weight Qwen2.5-Coder-7B-shaped GGUFs (Q8_0, F16) and a
# 0.5B-shaped one on local memory/disk, then times, on each file, llama.cpp (node-llama-cpp 3.21.1's prebuilt
# CUDA libraries through llama_gpu_bench; flash attention on and off) and our engine (cuda_gguf_bench),
# one process after the other, same prompt ids. If the demo models are on the machine (unpacked by
# bench/gpu/run.sh in /tmp/frspec-models, or carried in .gpucarry/models), also speculative decoding with
# the demo draft model in both engines. Logs, results.jsonl and llama-summary.json go to $OUT.
#   bench/gpu/llama/run.sh        env: FRSPEC_LLAMA_BUDGET_S (default 270): no new step starts after it
#   FRSPEC_LLAMA_TYPES="q4_k_m iq4_xs q5_k_m q4_0": first, the 7B shape in these file types (llama-quantize's
#   tensor mixes, make_random_gguf); FRSPEC_LLAMA_TYPES_ONLY=1: nothing else (bench/gpu/run-all.sh).
# FRSPEC_LLAMA_SMOKE=1 checks the script itself on a machine without a GPU: tiny models, few tokens, CPU.
set -uo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
carry=${FRSPEC_LLAMA_CARRY:-$root/.gpucarry-llama}
out=${OUT:-$root/gpu-out}
budget=${FRSPEC_LLAMA_BUDGET_S:-270}
t_start=$(date +%s)
mkdir -p "$out"
[ -f "$carry/lib.tar.xz" ] || { echo "no $carry/lib.tar.xz: run bench/gpu/llama/prepare.sh and carry .gpucarry-llama"; exit 2; }

work=/tmp/frspec-llama
rm -rf "$work/lib" "$work/bin" && mkdir -p "$work/bin"
xz -dc "$carry/lib.tar.xz" | tar x -C "$work"
for f in "$carry"/bin/*.xz; do xz -dc "$f" > "$work/bin/$(basename "$f" .xz)" && chmod +x "$work/bin/$(basename "$f" .xz)"; done
lib=$work/lib bin=$work/bin
results=$out/llama-results.jsonl steps=$work/steps.jsonl
logs=$work/logs  # one log per step, packed into $out/llama-logs.tar.xz at the end (at most 8 files come back)
rm -rf "$logs" && mkdir -p "$logs"
: > "$results"; : > "$steps"

# libggml-cuda.so needs libcudart.so.13 and libcublas.so.13: the CUDA toolkit's, or the pip wheels' under
# python3's site-packages/nvidia/.
cudalibs=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $(python3 -c 'import nvidia, os; [print(os.path.join(p, s, "lib")) for p in nvidia.__path__ for s in sorted(os.listdir(p))]' 2>/dev/null); do
  if compgen -G "$d/libcublas.so.13*" >/dev/null || compgen -G "$d/libcudart.so.13*" >/dev/null; then
    cudalibs="$cudalibs:$d"
  fi
done
if [ -z "$cudalibs" ]; then  # anywhere else (slower)
  for f in $(find /usr /opt -maxdepth 9 \( -name 'libcublas.so.13' -o -name 'libcudart.so.13' \) 2>/dev/null); do
    cudalibs="$cudalibs:$(dirname "$f")"
  done
fi
export LD_LIBRARY_PATH="$lib${cudalibs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# libggml-cuda.so carries sm_90 cubins (no JIT); if the driver ever falls back to its compute_90 PTX, the
# JIT cache lets later processes reuse what the first one compiled.
export CUDA_CACHE_PATH=/tmp/frspec-nvcache CUDA_CACHE_MAXSIZE=4294967296
{ echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; ldd "$lib/libggml-cuda.so"; } > "$out/llama-ldd.txt" 2>&1
grep -E "not found|cublas|cudart" "$out/llama-ldd.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv > "$out/llama-nvidia-smi.csv" 2>&1
cat "$out/llama-nvidia-smi.csv"

# Models go to memory when /dev/shm has room (writing and mapping 15 GB there takes seconds), else /tmp.
models=/tmp/frspec-llama/models
if [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')" -gt 40000000 ] 2>/dev/null; then models=/dev/shm/frspec-llama; fi
mkdir -p "$models"
xz -dc "$carry/tokenizer-template.gguf.xz" > "$work/tokenizer-template.gguf"

step() {  # name, time limit (s), command...: skipped once the budget is spent
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s)
  if [ $(( t0 - t_start )) -ge "$budget" ]; then
    echo "== $name: skipped (budget of $budget s spent)"
    echo "{\"step\": \"$name\", \"skipped\": true}" >> "$steps"
    return 1
  fi
  timeout "$limit" "$@" > "$logs/llama-$name.log" 2>&1
  local rc=$?
  local dt=$(( $(date +%s) - t0 ))
  echo "== $name: exit $rc in $dt s"
  tail -n 4 "$logs/llama-$name.log"
  echo "{\"step\": \"$name\", \"exit\": $rc, \"seconds\": $dt}" >> "$steps"
  return $rc
}
shape7=qwen2.5-coder-7b shape05=qwen2.5-coder-0.5b llama_args=(--require-gpu) ours_args=() run_args=()
prompts=$carry/prompts.txt spec_gen=64
if [ "${FRSPEC_LLAMA_SMOKE:-0}" = 1 ]; then
  shape7=tiny shape05=tiny llama_args=(--threads 2) ours_args=(--backend cpu) run_args=(--n-prompt 32 --n-gen 4 --reps 1)
  head -n 2 "$carry/prompts.txt" > "$work/prompts.txt" && prompts=$work/prompts.txt spec_gen=8
fi
# The three programs with their common options (arrays, since `timeout` cannot run shell functions).
llama=("$lib/llama_gpu_bench" "${llama_args[@]}" --json "$results")
ours=("$bin/cuda_gguf_bench" "${ours_args[@]}" --json "$results")
gen=("$bin/make_random_gguf" --template "$work/tokenizer-template.gguf")

# Steps run in order of importance; once the budget is spent the rest are skipped (and listed as such).
# 0. Issue 16: the 7B shape in the quantized file types asked for, each file written, timed in both engines
#    (tokens compared) and deleted before the next.
for t in ${FRSPEC_LLAMA_TYPES:-}; do
  m=$models/qwen7b-$t.gguf
  T=$(echo "$t" | tr a-z A-Z)
  if step gen-7b-$t 120 "${gen[@]}" --shape $shape7 --type $t --out "$m"; then
    step llama-7b-$t-fa-on 150 "${llama[@]}" "${run_args[@]}" --model "$m" --fa on --label "7B $T" --tokens-out "$work/7b-$t.llama.tok"
    step ours-7b-$t 150 "${ours[@]}" "${run_args[@]}" --model "$m" --label "7B $T" --compare-tokens "$work/7b-$t.llama.tok"
  fi
  rm -f "$m"
done
if [ "${FRSPEC_LLAMA_TYPES_ONLY:-0}" = 1 ]; then
  python3 "$root/bench/gpu/llama/summarize.py" "$results" "$steps" "$out/llama-nvidia-smi.csv" "$out/llama-summary.json"
  tar -C "$logs" -cf - . | xz > "$out/llama-logs.tar.xz"
  echo "total $(( $(date +%s) - t_start )) s"
  exit 0
fi
# 1. Qwen2.5-Coder-7B shape, Q8_0. The first llama.cpp process's step seconds and warmup_ms show its
#    first-load cost (module loading, and JIT if the cubins were refused); its timed runs come after warm-up.
m=$models/qwen7b-q8_0.gguf
if step gen-7b-q8_0 120 "${gen[@]}" --shape $shape7 --type q8_0 --out "$m"; then
  step llama-7b-q8_0-fa-on-first 240 "${llama[@]}" "${run_args[@]}" --model "$m" --fa on --label "7B Q8_0 (first process)" --tokens-out "$work/7b-q8_0.llama.tok"
  step ours-7b-q8_0 120 "${ours[@]}" "${run_args[@]}" --model "$m" --label "7B Q8_0" --compare-tokens "$work/7b-q8_0.llama.tok"
  step llama-7b-q8_0-fa-off 120 "${llama[@]}" "${run_args[@]}" --model "$m" --fa off --label "7B Q8_0"
  step llama-7b-q8_0-fa-on-backend-sampling 120 "${llama[@]}" "${run_args[@]}" --model "$m" --fa on --backend-sampling --label "7B Q8_0"
fi
rm -f "$m"

# 2. Speculative decoding on the demo models (real weights), if they are here: llama.cpp's scheme (chain of
#    --draft-max greedy drafts) in both engines, plus our tree and FR-Spec rows; and plain decoding of the
#    demo target (its tokens compared between the engines).
demo=""
for d in "${FRSPEC_DEMO_MODELS:-}" /tmp/frspec-models; do
  [ -n "$d" ] && [ -f "$d/demo-target.gguf" ] && [ -f "$d/demo-draft.gguf" ] && demo=$d && break
done
if [ -z "$demo" ] && [ -f "$root/.gpucarry/models/demo-target.gguf.xz" ] && [ -f "$root/.gpucarry/models/demo-draft.gguf.xz" ]; then
  demo=$work/demo && mkdir -p "$demo"
  for x in target draft; do xz -dc "$root/.gpucarry/models/demo-$x.gguf.xz" > "$demo/demo-$x.gguf"; done
fi
vocab=()
[ -f "$carry/vocab.frv" ] && vocab=(--vocab "$carry/vocab.frv" --vocab-k 32768)
spec() {  # draft-max: both engines on the demo models (llama.cpp: draft greedy on the GPU, its default)
  step llama-demo-spec-$1 120 "${llama[@]}" --model "$demo/demo-target.gguf" --draft "$demo/demo-draft.gguf" \
    --prompts "$prompts" --n-gen $spec_gen --draft-max $1 --fa on --backend-sampling --label "demo spec" ||
  step llama-demo-spec-$1-host-argmax 120 "${llama[@]}" --model "$demo/demo-target.gguf" --draft "$demo/demo-draft.gguf" \
    --prompts "$prompts" --n-gen $spec_gen --draft-max $1 --fa on --label "demo spec"
  step ours-demo-spec-$1 120 "${ours[@]}" --model "$demo/demo-target.gguf" --draft "$demo/demo-draft.gguf" \
    --prompts "$prompts" --n-gen $spec_gen --draft-max $1 --label "demo spec" "${vocab[@]}"
}
if [ -n "$demo" ]; then
  spec 3
  step llama-demo-target 60 "${llama[@]}" "${run_args[@]}" --model "$demo/demo-target.gguf" --fa on --label "demo-target" --tokens-out "$work/demo.llama.tok"
  step ours-demo-target 60 "${ours[@]}" "${run_args[@]}" --model "$demo/demo-target.gguf" --label "demo-target" --compare-tokens "$work/demo.llama.tok"
else
  echo "== demo models not found (run bench/gpu/run.sh first on this machine, or carry .gpucarry): no speculative comparison"
fi

# 3. The 7B shape in F16 (15 GB).
m=$models/qwen7b-f16.gguf
if step gen-7b-f16 120 "${gen[@]}" --shape $shape7 --type f16 --out "$m"; then
  step llama-7b-f16-fa-on 150 "${llama[@]}" "${run_args[@]}" --model "$m" --fa on --label "7B F16" --tokens-out "$work/7b-f16.llama.tok"
  step ours-7b-f16 150 "${ours[@]}" "${run_args[@]}" --model "$m" --label "7B F16" --compare-tokens "$work/7b-f16.llama.tok"
  step llama-7b-f16-fa-off 150 "${llama[@]}" "${run_args[@]}" --model "$m" --fa off --label "7B F16"
fi
rm -f "$m"

# 4. Qwen2.5-Coder-0.5B shape, F16 (a draft-sized model: launch overheads dominate).
m=$models/qwen0.5b-f16.gguf
if step gen-0.5b-f16 60 "${gen[@]}" --shape $shape05 --type f16 --out "$m"; then
  step llama-0.5b-f16-fa-on 60 "${llama[@]}" "${run_args[@]}" --model "$m" --fa on --label "0.5B F16" --tokens-out "$work/0.5b.llama.tok"
  step ours-0.5b-f16 60 "${ours[@]}" "${run_args[@]}" --model "$m" --label "0.5B F16" --compare-tokens "$work/0.5b.llama.tok"
  step llama-0.5b-f16-fa-off 60 "${llama[@]}" "${run_args[@]}" --model "$m" --fa off --label "0.5B F16"
fi
rm -f "$m"
rmdir "$models" 2>/dev/null

# 5. Longer drafts, if time is left.
[ -n "$demo" ] && spec 8

python3 "$root/bench/gpu/llama/summarize.py" "$results" "$steps" "$out/llama-nvidia-smi.csv" "$out/llama-summary.json"
tar -C "$logs" -cf - . | xz > "$out/llama-logs.tar.xz"
echo "total $(( $(date +%s) - t_start )) s"
