#!/usr/bin/env bash
# Checks that a binary built with several CPU kernel variants (native/src/engine/cpu_variant.h) runs on the
# most portable one's CPU: no function that code outside the avx512/amx variants can call holds an AVX-512
# (EVEX-encoded) or AMX instruction. The risk it guards against: every variant's objects instantiate the
# same inline functions and std:: templates (weak symbols), and the linker keeps one copy of each for the
# whole binary; if it kept a wide variant's copy, baseline code would call it and crash on an AVX2-only CPU.
# Usage: scripts/check-cpu-variants.sh [BINARY...]   (default: build/Release/frspec.node). Exit 1 on a find.
set -euo pipefail
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(build/Release/frspec.node)
status=0
for bin in "${bins[@]}"; do
  # Functions other objects can bind to (global or weak), outside the wide variants' namespaces.
  shared=$(nm --defined-only "$bin" | awk '$2 ~ /^[TWiu]$/ { print $3 }' | grep -v -E 'cpu_avx512|cpu_amx' | sort -u || true)
  # Disassemble and report each shared function with an EVEX prefix (0x62 after optional segment or
  # address-size prefixes: always EVEX in 64-bit mode) or an AMX instruction.
  found=$(objdump -d --no-addresses -w "$bin" 2>/dev/null | awk -v list=<(printf '%s\n' "$shared") '
    BEGIN { while ((getline s < list) > 0) want[s] = 1 }
    /^<.*>:$/ { fn = substr($0, 2, length($0) - 3); check = (fn in want); next }
    check && /\t/ {
      n = split($0, part, "\t")
      split(part[2], bytes, " ")
      i = 1
      while (bytes[i] ~ /^(26|2e|36|3e|64|65|67)$/) i++
      if (bytes[i] == "62" || part[n] ~ /^(tile|tdp|ldtilecfg|sttilecfg)/) { print fn ": " part[n]; check = 0 }
    }')
  if [ -n "$found" ]; then
    echo "FAIL $bin: functions shared with baseline code hold AVX-512/AMX instructions (a wide variant's copy was linked):"
    echo "$found" | head -20 | c++filt
    status=1
  else
    echo "ok $bin: $(echo "$shared" | grep -c . ) shared functions, none with AVX-512/AMX instructions"
  fi
done
exit $status
