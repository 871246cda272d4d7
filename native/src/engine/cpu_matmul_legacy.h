// Internal to the kernels of the 32-value legacy formats (cpu_matmul_q4_0.cpp, and the arm64 packed GEMM
// cpu_gemm_neon.cpp): what differs between Q4_0, Q4_1, Q5_0 and Q5_1 — the block type, 4 or 5 bits, and an
// offset o (8 or 16) or a min m.
#pragma once
#include <cstdint>

#include "engine/cpu_variant.h"
#include "engine/quant.h"

namespace frspec::FRSPEC_CPU::kernels {

template <class Block, bool kFiveBit, bool kHasMin>
struct Legacy {
  using B = Block;
  static constexpr bool five_bit = kFiveBit, has_min = kHasMin;
  static constexpr int offset_shift = kFiveBit ? 4 : 3;  // o = 16 or 8 (types without m)
  // Byte offsets in a block: d first, then m (with a min), then qh (5-bit), then qs.
  static constexpr int kBytes = int(sizeof(Block)), kQh = kHasMin ? 4 : 2, kQs = kQh + (kFiveBit ? 4 : 0);
  static uint32_t high_bits(const B& b) {
    if constexpr (kFiveBit) return q5_high_bits(b.qh);
    else return 0;
  }
  static f16_t min_bits(const B& b) {  // m as stored (raw half bits); 0 (+0.0) for the types without m
    if constexpr (kHasMin) return b.m;
    else return 0;
  }
};
using Q4_0 = Legacy<BlockQ4_0, false, false>;
using Q4_1 = Legacy<BlockQ4_1, false, true>;
using Q5_0 = Legacy<BlockQ5_0, true, false>;
using Q5_1 = Legacy<BlockQ5_1, true, true>;

}  // namespace frspec::FRSPEC_CPU::kernels
