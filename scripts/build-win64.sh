#!/usr/bin/env bash
# Builds the native engine for 64-bit Windows with MinGW-w64 GCC, CUDA off, into build-win64/ (or $1): every
# native test program (.exe) and the addon (frspec.node, linked against Node-API's exports from the
# node-api-headers package: npm ci first). On Linux it cross-compiles (native/cmake/x86_64-w64-mingw32.cmake,
# Debian's g++-mingw-w64-x86-64-posix); on Windows it runs in MSYS2's UCRT64 shell with its gcc, cmake and ninja
# (.github/workflows/release.yml). MSVC is not supported (native/cmake/windows.cmake says why).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-win64}
root=$(pwd -W 2>/dev/null || pwd)  # MSYS2: a Windows path (D:/a/...), which the native cmake understands
toolchain=()
[ "$(uname -s)" = Linux ] && toolchain=(-DCMAKE_TOOLCHAIN_FILE="$root/native/cmake/x86_64-w64-mingw32.cmake")
cmake -S native -B "$dir" -G Ninja "${toolchain[@]}" -DFRSPEC_CUDA=OFF -DCMAKE_BUILD_TYPE=Release \
  -DFRSPEC_NODE_API_HEADERS="$root/node_modules/node-api-headers" >/dev/null
# The test programs and the addon; the benchmarks (native/bench) are left out.
tests=()
for f in native/tests/*.cpp; do tests+=("$(basename "$f" .cpp)"); done
cmake --build "$dir" -j"$(nproc)" --target frspec_addon "${tests[@]}"
echo "build-win64: $dir/frspec.node and ${#tests[@]} test programs for win32-x64"
