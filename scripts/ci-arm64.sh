#!/usr/bin/env bash
# The arm64 engine, tested on an x86-64 CI machine: cross-compiles the native test programs for aarch64
# (Debian's g++-aarch64-linux-gnu, native/cmake/aarch64-linux-gnu.cmake) and runs them under qemu-user twice,
# on a CPU model without dotprod and i8mm (cortex-a57: the `neon` kernel variant is chosen) and on one with
# both (max: `i8mm`), one result line per program and CPU model (scripts/native-tests.ts). Then the demo
# models' greedy tokens (engine_greedy_tokens) of each arm64 variant must equal this machine's x86-64 build's.
# Needs the x86-64 build (build/, from `npm start`: the addon writes the fixtures and runs the x86 side) and
# ../shared for the demo models. Usage: scripts/ci-arm64.sh [build dir, default build-arm64]
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bin=${1:-build-arm64}
x86=${FRSPEC_X86_BIN_DIR:-build}  # the x86-64 build whose greedy tokens the arm64 ones must equal
sysroot=/usr/aarch64-linux-gnu

if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  pkgs=(g++-aarch64-linux-gnu qemu-user)
  echo "ci-arm64: apt-get install ${pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null ||
    { $SUDO apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null; }
fi

# The programs, run on both CPU models. Left out under qemu (they run natively on x86 in `npm test`): engine_argmax_test
# (the 8-bit LM-head prefilter is AVX-512 VNNI code; on arm64 it does not apply and the test only times the full
# head: ~90 s of CPU per run under qemu), spec_sampling_test (100000 speculative samples of a tiny F32 model: the
# statistics of shared code, minutes under qemu) and spec_loop_test (speculative loops on the demo models, many
# minutes under qemu); their arm64 kernels are kernels_test's and engine_greedy_tokens' below.
programs=(gguf_dump gguf_fuzz kernels_test engine_ops_test engine_head_test engine_alloc_test tokenizer_selftest
          tokenizer_vectors spec_verify_test)
# -O2 compiles faster than the default -O3; only these programs (no addon, no CUDA, no benchmarks).
cmake -S native -B "$bin" -DCMAKE_TOOLCHAIN_FILE="$PWD/native/cmake/aarch64-linux-gnu.cmake" -DFRSPEC_CUDA=OFF \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
cmake --build "$bin" -j"$(nproc)" --target "${programs[@]}" engine_greedy_tokens >/dev/null
built=$(date +%s)
echo "ci-arm64: cross build $((built - start)) s"

status=0
# kernels_test once per variant the CPU model runs: generic and neon without dotprod/i8mm, dotprod and i8mm with them.
for cpu_variants in cortex-a57:generic,neon max:dotprod,i8mm; do
  cpu=${cpu_variants%%:*}
  npx tsx scripts/native-tests.ts --bin-dir "$bin" --runner "qemu-aarch64 -L $sysroot -cpu $cpu" --label "aarch64 -cpu $cpu" \
    --variants "${cpu_variants#*:}" --fuzz-seconds 5 --timeout-scale 5 --only "$(IFS=,; echo "${programs[*]}")" || status=1
done

# Greedy decoding identical to x86-64, token for token (8 tokens after each of 4 prompts: qemu is slow): the demo
# target with each arm64 variant (generic and neon on cortex-a57, dotprod and i8mm on max), the draft with i8mm.
for run in demo-target:cortex-a57:generic demo-target:cortex-a57:neon demo-target:max:dotprod demo-target:max:i8mm \
           demo-draft:max:i8mm; do
  IFS=: read -r model cpu variant <<<"$run"
  file=.cache/models/$model.gguf
  [ -f "$file" ] || { echo "SKIP greedy tokens $model: $file is absent (npm start / npm test decompress it)"; continue; }
  t0=$(date +%s)
  want=$("$x86/engine_greedy_tokens" "$file" 8 2>/dev/null)
  got=$(FRSPEC_CPU_VARIANT=$variant qemu-aarch64 -L $sysroot -cpu "$cpu" "$bin/engine_greedy_tokens" "$file" 8 2>/dev/null) || got="(exit status $?)"
  if [ -n "$want" ] && [ "$got" = "$want" ]; then
    echo "PASS greedy tokens $model ($(($(date +%s) - t0)) s): aarch64 -cpu $cpu $variant == x86-64 ($(echo "$want" | wc -l) prompts)"
  else
    echo "FAIL greedy tokens $model: aarch64 -cpu $cpu $variant differs from x86-64 ($x86/engine_greedy_tokens)"
    diff <(echo "$want") <(echo "$got") | head -10 || true
    status=1
  fi
done
echo "ci-arm64: $([ $status = 0 ] && echo passed || echo FAILED) in $(($(date +%s) - start)) s (build $((built - start)) s)"
exit $status
