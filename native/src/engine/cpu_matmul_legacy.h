// Internal to the kernels of the 32-value formats with Q4_0's block layout (cpu_matmul_q4_0.cpp, and the arm64
// packed GEMM cpu_gemm_neon.cpp): what differs between Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL — the block type, 4 or 5
// bits, an offset o (8 or 16; IQ4_NL: 128, the bias its table values are looked up with) or a min m, and whether
// the 4-bit q indexes the non-linear table kIQ4NL (IQ4_NL).
#pragma once
#include <cstdint>

#include "engine/cpu_variant.h"
#include "engine/quant.h"

namespace frspec::FRSPEC_CPU::kernels {

template <class Block, bool kFiveBit, bool kHasMin, bool kTable = false>
struct Legacy {
  using B = Block;
  static constexpr bool five_bit = kFiveBit, has_min = kHasMin, table = kTable;
  static constexpr int offset_shift = kTable ? 7 : kFiveBit ? 4 : 3;  // o = 128, 16 or 8 (types without m)
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
using IQ4_NL = Legacy<BlockIQ4_NL, false, false, true>;

}  // namespace frspec::FRSPEC_CPU::kernels
