#!/usr/bin/env bash
# Executed-instruction counts of the arm64 matmul kernels under qemu-user (no arm64 hardware here, and qemu's wall
# time means nothing): per weight type, the marginal guest instructions per multiply-accumulate of one matmul call
# through the packed GEMM (cpu_gemm_neon.cpp) and through the tile kernels (cpu_matmul_neon.h), 1 thread, N tokens.
# Marginal = (instructions per call at 2 ROWS) - (at ROWS), over ROWS x COLS x N: the per-call activation
# quantization and copies cancel. A count of work asked for, not a speed: it says nothing about latencies, ports or
# memory. Plugin: scripts/qemu-insn-count.c (built here with gcc); program: native/bench/matmul_calls.cpp.
# Usage: scripts/arm64-insn-count.sh [build dir, default build-arm64] [variants, default i8mm,dotprod] [types] [N] [ROWS] [COLS]
#        scripts/arm64-insn-count.sh --ops [build dir] [variants, default generic,neon,i8mm] [ops]
# --ops: the row operations instead (native/bench/row_ops_calls.cpp: RMSNorm, RoPE, SwiGLU, softmax, argmax, the
# activation quantization at the 1.5B model's shapes), instructions per call of each; generic is the scalar code.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --ops ]; then
  bin=${2:-build-arm64}
  variants=${3:-generic,neon,i8mm}
  ops=${4:-rms_norm,rms_norm1,rope,swiglu,softmax,softmax_libm,argmax,quant_q8_K,quant_q8_0}
  cmake --build "$bin" -j2 --target row_ops_calls >/dev/null
  plugin=$(mktemp -d)/qemu-insn-count.so
  gcc -shared -fPIC -O2 -o "$plugin" scripts/qemu-insn-count.c
  count() {  # count VARIANT OP CALLS
    FRSPEC_CPU_VARIANT=$1 qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max -plugin "$plugin" "$bin/row_ops_calls" "$2" "$3" 2>&1 >/dev/null |
      awk '/^insns /{print $2}'
  }
  for o in ${ops//,/ }; do
    line="$o:"
    for v in ${variants//,/ }; do line+=" $v $(( $(count "$v" "$o" 2) - $(count "$v" "$o" 1) ))"; done
    echo "$line instructions per call"
  done
  exit 0
fi
bin=${1:-build-arm64}
variants=${2:-i8mm,dotprod}
types=${3:-Q4_K,Q5_K,Q6_K,Q8_0,Q4_0,IQ4_XS}
n=${4:-64} rows=${5:-128} cols=${6:-1536}
cmake --build "$bin" -j2 --target matmul_calls >/dev/null
plugin=$(mktemp -d)/qemu-insn-count.so
gcc -shared -fPIC -O2 -o "$plugin" scripts/qemu-insn-count.c
count() {  # count VARIANT TYPE ROWS CALLS MODE
  FRSPEC_CPU_VARIANT=$1 qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max -plugin "$plugin" "$bin/matmul_calls" "$2" "$3" "$cols" "$n" "$4" "$5" 2>&1 >/dev/null |
    awk '/^insns /{print $2}'
}
per_call() { echo $(( $(count "$1" "$2" "$3" 1 "$4") - $(count "$1" "$2" "$3" 0 "$4") )); }
for v in ${variants//,/ }; do
  for t in ${types//,/ }; do
    line="$v $t n=$n ${rows}..$((2 * rows))x$cols:"
    for mode in --packed --tiles; do
      lo=$(per_call "$v" "$t" "$rows" "$mode") hi=$(per_call "$v" "$t" "$((2 * rows))" "$mode")
      line+=" ${mode#--} $(awk -v d=$((hi - lo)) -v m=$((rows * cols * n)) 'BEGIN{printf "%.3f", d / m}')"
    done
    echo "$line instructions per MAC"
  done
done
