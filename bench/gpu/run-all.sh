#!/usr/bin/env bash
# Issue 16's GPU run in ONE device call (15 minutes of device time in all): the weight-type checks, the op
# and model checks, a compute-sanitizer pass, the quantized GEMV bandwidth on 7B shapes (every type alone and
# the Q4_K_M / Q5_K_M / Q4_0 / IQ4_XS file mixes) and llama.cpp vs our engine on random-weight 7B files of those
# types written on the GPU machine. Everything it runs was built by bench/gpu/prepare-all.sh on the development
# machine and travels in .gpucarry-llama/ (no demo models: they would not fit beside llama.cpp's libraries, so
# the demo-model checks and the speculative rows are left to bench/gpu/run.sh). Writes logs and ONE JSON summary,
# $OUT/summary-all.json, printed last. Steps run in order of importance; none starts after FRSPEC_GPU_BUDGET_S
# (default 480) seconds. Exit status 0 only when every check that ran passed.
#   bash bench/gpu/run-all.sh      (GPU machine, repository root; device call: carry [".gpucarry-llama"],
#                                   timeout_s 600)
# FRSPEC_GPU_SMOKE=1 checks the script on a machine without a GPU (the CPU parts run, GPU steps report a skip).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
carry=${FRSPEC_LLAMA_CARRY:-$root/.gpucarry-llama}
out=${OUT:-$root/gpu-out}
budget=${FRSPEC_GPU_BUDGET_S:-480}
smoke=${FRSPEC_GPU_SMOKE:-0}
t_start=$(date +%s)
mkdir -p "$out"
[ -f "$carry/programs.tar.xz" ] || { echo "no $carry/programs.tar.xz: run bench/gpu/prepare-all.sh and carry .gpucarry-llama"; exit 2; }
bin=/tmp/frspec-all-bin json=/tmp/frspec-all-json logs=/tmp/frspec-all-logs
rm -rf "$bin" "$json" "$logs" && mkdir -p "$bin" "$json" "$logs"
xz -dc "$carry/programs.tar.xz" | tar -C "$bin" -xf - && chmod +x "$bin"/*
require=(--require-gpu)
[ "$smoke" = 1 ] && require=()

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv > "$out/nvidia-smi.csv" 2>&1
cat "$out/nvidia-smi.csv"

steps=$json/steps.jsonl
: > "$steps"
step() {  # name, time limit (s), command...: skipped once the budget is spent; log in $logs/NAME.log
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s)
  if [ $(( t0 - t_start )) -ge "$budget" ]; then
    echo "== $name: skipped (budget of $budget s spent)"
    echo "{\"step\": \"$name\", \"skipped\": true}" >> "$steps"
    return 1
  fi
  timeout "$limit" "$@" > "$logs/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc in $(( $(date +%s) - t0 )) s"
  tail -n 6 "$logs/$name.log"
  echo "{\"step\": \"$name\", \"exit\": $rc, \"seconds\": $(( $(date +%s) - t0 ))}" >> "$steps"
  return $rc
}

# 1. Correctness of the new weight types, cheapest first: the layouts on the CPU, then every type against the
#    CPU backend, then the full op/model checks (GEMV, batches, tensor-core GEMM, tall, fused, gather for every
#    type; no demo models here), the spec ops, and compute-sanitizer over the weight-type check.
step layout 30 "$bin/cuda_layout_test"
step wtypes 60 "$bin/cuda_weight_types_test" "${require[@]}"
step checks 150 "$bin/cuda_backend_test" "${require[@]}" --json "$json/checks.json"
step specops 30 "$bin/cuda_spec_ops_test" "${require[@]}"
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$sanitizer" ]; then
  step sanitizer 90 "$sanitizer" --tool memcheck --error-exitcode 9 "$bin/cuda_weight_types_test" "${require[@]}"
else
  echo "== sanitizer: no compute-sanitizer on this machine"
fi

# 2. Bandwidth: each quantized type's GEMV on the 7B FFN shapes and the file mixes' decode-step GEMVs, as a
#    share of the device-to-device copy measured in the same run (goal: >= 75% for the quantized GEMVs).
step bench_types 120 "$bin/cuda_bench" --types --json "$json/bench-types.json"

# 3. llama.cpp (node-llama-cpp 3.21.1's CUDA build) vs ours on 7B files of the four file types.
left=$(( budget - ($(date +%s) - t_start) ))
if [ "$smoke" = 1 ]; then llama_env=(FRSPEC_LLAMA_SMOKE=1); else llama_env=(); fi
if [ "$left" -gt 60 ]; then
  env "${llama_env[@]}" FRSPEC_LLAMA_TYPES="${FRSPEC_LLAMA_TYPES:-q4_k_m iq4_xs q5_k_m q4_0}" FRSPEC_LLAMA_TYPES_ONLY=1 \
    FRSPEC_LLAMA_BUDGET_S=$(( left - 30 )) OUT="$out" bash "$root/bench/gpu/llama/run.sh" > "$logs/llama.log" 2>&1
  echo "{\"step\": \"llama\", \"exit\": $?}" >> "$steps"
  tail -n 30 "$logs/llama.log"
else
  echo "== llama: skipped (budget of $budget s spent)"
  echo "{\"step\": \"llama\", \"skipped\": true}" >> "$steps"
fi

tar -C "$logs" -cf - . | xz > "$out/logs-all.tar.xz"
python3 - "$out" "$json" <<'PY'
import json, os, sys
out, jdir = sys.argv[1], sys.argv[2]
def load(path):
    try:
        return json.load(open(path))
    except Exception as e:
        return {"error": str(e)}
steps = [json.loads(l) for l in open(os.path.join(jdir, "steps.jsonl")) if l.strip()]
checks, bench = load(os.path.join(jdir, "checks.json")), load(os.path.join(jdir, "bench-types.json"))
llama = load(os.path.join(out, "llama-summary.json"))
copy = bench.get("copy_GBps")
rows = [r for r in bench.get("results", []) if isinstance(r, dict)]
summary = {
    "device": bench.get("device") or checks.get("device"),
    "steps": steps,
    "checks": {"passed": checks.get("passed"), "failed": checks.get("failed"),
               "failures": [c for c in checks.get("checks", []) if not c.get("ok")]},
    "copy_GBps": copy,
    "gemv": rows,
    "llama": llama,
    "checks_all": checks.get("checks", []),
}
json.dump(summary, open(os.path.join(out, "summary-all.json"), "w"), indent=1)
brief = {"device": summary["device"], "steps": {s["step"]: s.get("exit", "skipped") for s in steps},
         "checks": {k: summary["checks"][k] for k in ("passed", "failed")}, "copy_GBps": copy,
         "gemv_frac_of_copy": {r.get("name"): round(r["frac_of_copy"], 3) for r in rows if "frac_of_copy" in r}}
print(json.dumps(brief))
PY
ok=1
while read -r l; do
  case "$l" in *'"exit": 0'*|*'"skipped": true'*) ;; *) ok=0 ;; esac
done < "$steps"
echo "total $(( $(date +%s) - t_start )) s"
[ "$ok" = 1 ]
