#!/usr/bin/env bash
# The GPU run: correctness checks, a compute-sanitizer pass and the benchmarks, from the programs that
# bench/gpu/prepare.sh built on the development machine. Writes logs and one JSON summary to $OUT
# (default ./gpu-out) and prints the summary last. Exit status 0 only when every check passed.
#   bench/gpu/run.sh          (in the repository root on the GPU machine, with .gpucarry/ carried)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
carry=${FRSPEC_GPU_CARRY:-$root/.gpucarry}
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
bin=/tmp/frspec-bin
mkdir -p $bin
xz -dc "$carry/programs.tar.xz" | tar -C "$bin" -xf - && chmod +x "$bin"/*
[ -x "$bin/cuda_backend_test" ] || { echo "no test program in $carry/programs.tar.xz: run bench/gpu/prepare.sh first and carry .gpucarry"; exit 2; }
json=/tmp/frspec-json  # per-step JSON, merged into $out/summary.json (few files come back)
mkdir -p $json

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv \
  > "$out/nvidia-smi.csv" 2>&1
cat "$out/nvidia-smi.csv"
models=/tmp/frspec-models
mkdir -p $models
for m in demo-target demo-draft demo-eagle; do
  [ -f "$carry/models/$m.gguf.xz" ] && xz -dc "$carry/models/$m.gguf.xz" > $models/$m.gguf
done
cp "$carry/models/demo-target.reference.json" $models/ 2>/dev/null

step() {  # name, time limit (s), command...
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc in $(( $(date +%s) - t0 )) s"
  tail -n 30 "$out/$name.log"
  eval "rc_${name}=$rc"
}
step checks 100 "$bin/cuda_backend_test" --require-gpu --models $models --json $json/checks.json
# The same checks under the extreme decode-attention splits (cuda_bench --attn-sweep times them all): tree
# node == plain path and batch == one by one must hold bit for bit whatever the split.
step checks_attn 200 bash -c "FRSPEC_CUDA_ATTN_WARPS=4 FRSPEC_CUDA_ATTN_CHUNK=64 $bin/cuda_backend_test --require-gpu --models $models && FRSPEC_CUDA_ATTN_WARPS=8 FRSPEC_CUDA_ATTN_CHUNK=512 $bin/cuda_backend_test --require-gpu --models $models"
cat "$out/checks_attn.log" >> "$out/checks.log" && rm "$out/checks_attn.log"  # at most 8 files come back
[ "$rc_checks_attn" = 0 ] || rc_checks=$rc_checks_attn
step specops 30 "$bin/cuda_spec_ops_test" --require-gpu
step wtypes 30 "$bin/cuda_weight_types_test" --require-gpu
cat "$out/wtypes.log" >> "$out/specops.log" && rm "$out/wtypes.log"  # one file: at most 8 come back
step bench 150 "$bin/cuda_bench" --json $json/bench.json
step spec 240 "$bin/cuda_spec_bench" --models $models --prompts "$carry/prompts.txt" --vocab "$carry/vocab.frv" \
  --tokens 64 --json $json/spec.json
# FRSPEC_GPU_NCU=1: where the profiler works (Firecracker machines), the GEMV's limiters per weight type.
if [ "${FRSPEC_GPU_NCU:-0}" = 1 ]; then
  ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  step ncu 60 "$ncu" --clock-control none -k regex:gemv_kernel -c 4 --section SpeedOfLight --section WarpStateStats \
    --section Occupancy --section InstructionStats "$bin/cuda_bench" --profile
fi
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
step sanitizer 60 "$sanitizer" --tool memcheck --error-exitcode 9 "$bin/cuda_backend_test" --require-gpu
step sanitizer_specops 30 "$sanitizer" --tool memcheck --error-exitcode 9 "$bin/cuda_spec_ops_test" --require-gpu

python3 - "$out" "$json" "$rc_checks" "$rc_bench" "$rc_spec" "$rc_sanitizer" "$rc_specops" "$rc_sanitizer_specops" "$rc_wtypes" <<'PY'
import json, sys, os
out, jdir, rc_checks, rc_bench, rc_spec, rc_san, rc_specops, rc_san_specops, rc_wtypes = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
def load(name):
    try:
        return json.load(open(os.path.join(jdir, name)))
    except Exception as e:
        return {"error": str(e)}
checks, bench, spec = load("checks.json"), load("bench.json"), load("spec.json")
san = open(os.path.join(out, "sanitizer.log")).read()[-2000:] if os.path.exists(os.path.join(out, "sanitizer.log")) else ""
summary = {
    "device": bench.get("device") or checks.get("device"),
    "checks": {"exit": rc_checks, "passed": checks.get("passed"), "failed": checks.get("failed"),
               "failures": [c for c in checks.get("checks", []) if not c.get("ok")]},
    "sanitizer": {"exit": rc_san, "tail": san.strip().splitlines()[-3:], "spec_ops_exit": rc_san_specops},
    "spec_ops": {"exit": rc_specops},
    "weight_types": {"exit": rc_wtypes},
    "spec": dict(spec, exit=rc_spec),
    "bench": bench,
    "checks_all": checks.get("checks", []),
    "demo": {k: v for k, v in checks.items() if k.startswith("demo_")},
}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
print(json.dumps({k: summary[k] for k in ("device", "checks", "sanitizer", "demo")}))
print(json.dumps({"spec_exit": rc_spec, "spec_mismatches": spec.get("mismatches")}))
PY
[ "$rc_checks" = 0 ] && [ "$rc_sanitizer" = 0 ] && [ "$rc_bench" = 0 ] && [ "$rc_spec" = 0 ] && [ "$rc_specops" = 0 ] \
  && [ "$rc_sanitizer_specops" = 0 ] && [ "$rc_wtypes" = 0 ]
