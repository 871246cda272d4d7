// Internal to cpu_matmul.cpp: the arm64 NEON form of the activation quantization (the neon, dotprod and i8mm
// variants; empty elsewhere): a block of B floats to symmetric 8-bit values, with the bits of cpu_matmul.cpp's
// scalar quantize_block (d = max|x| / 127, q = x * (127 / max|x|) clamped to [-127, 127], rounded to nearest even).
// Why the same bits: the maximum of |x| is exact in any order, and FMAXNM skips a NaN as std::max(amax, NaN) does
// (the NaN sets d to NaN through the separate flag); FMAXNM(v, -127) / FMINNM(., 127) give -127 for a NaN v as
// std::max(-127, v) / std::min(127, .) do; FCVTNS rounds to nearest even as std::nearbyint does in the default mode.
// It was scalar on arm64: ~1.3 M of the instructions of a 64 x 1536 matmul call (arm64-insn-count.sh).
#pragma once

#if defined(__aarch64__) && defined(__ARM_NEON) && !defined(FRSPEC_SCALAR_KERNELS)
#ifndef FRSPEC_NEON_KERNELS
#define FRSPEC_NEON_KERNELS 1
#endif
#include <arm_neon.h>

#include <cmath>
#include <cstdint>

#include "engine/cpu_variant.h"

namespace frspec::FRSPEC_CPU::kernels::neon {

// q[0, B) and the block's scale d, B a multiple of 16.
template <int B>
inline float quantize_block(const float* x, int8_t* q) {
  static_assert(B % 16 == 0, "blocks of 16 values");
  float32x4_t vmax = vdupq_n_f32(0.f);
  uint32x4_t nan = vdupq_n_u32(0);
  for (int i = 0; i < B; i += 4) {
    const float32x4_t v = vld1q_f32(x + i);
    vmax = vmaxnmq_f32(vmax, vabsq_f32(v));
    nan = vornq_u32(nan, vceqq_f32(v, v));  // lanes where v != v
  }
  const float amax = vmaxnmvq_f32(vmax);
  const float d = vmaxvq_u32(nan) ? NAN : amax / 127.f, id = amax > 0 ? 127.f / amax : 0.f;
  const float32x4_t vid = vdupq_n_f32(id), lo = vdupq_n_f32(-127.f), hi = vdupq_n_f32(127.f);
  auto q4 = [&](const float* p) { return vcvtnq_s32_f32(vminnmq_f32(vmaxnmq_f32(vmulq_f32(vld1q_f32(p), vid), lo), hi)); };
  for (int i = 0; i < B; i += 16) {
    const int16x8_t a = vcombine_s16(vmovn_s32(q4(x + i)), vmovn_s32(q4(x + i + 4)));
    const int16x8_t b = vcombine_s16(vmovn_s32(q4(x + i + 8)), vmovn_s32(q4(x + i + 12)));
    vst1q_s8(q + i, vcombine_s8(vmovn_s16(a), vmovn_s16(b)));
  }
  return d;
}

}  // namespace frspec::FRSPEC_CPU::kernels::neon

#endif
