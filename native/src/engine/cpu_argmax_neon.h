// Internal to cpu_argmax_filter.cpp: the greedy argmax filter's integer dot products on arm64 (the neon,
// dotprod and i8mm variants; the generic variant has no filter). The 8-bit head is stored in blocks of 16
// rows, for each group of 4 columns the 16 rows' 4 bytes (64 bytes: 4 registers of 4 rows x 4 values), so
// one SDOT by element multiplies 4 rows by the 4 activation values of one group (the int32 lanes are rows,
// no horizontal sums), as vpdpbusd does on x86. Without dotprod the same lanes come from a widening
// multiply and two pairwise adds (each pair of products fits int16: 2 * 127 * 127 < 2^15).
#pragma once

#if defined(__aarch64__) && defined(__ARM_NEON) && !defined(FRSPEC_SCALAR_KERNELS)
#define FRSPEC_ARGMAX_FILTER_NEON 1
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#include "engine/cpu_variant.h"

namespace frspec::FRSPEC_CPU::argmax_neon {

// acc (4 rows) += w (4 rows x 4 values) . values 4k .. 4k + 3 of x.
template <int k>
inline __attribute__((always_inline)) int32x4_t dot4(int32x4_t acc, int8x16_t w, int8x16_t x) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_laneq_s32(acc, w, x, k);
#else
  const int8x16_t xk = vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(x), k));
  return vpadalq_s16(acc, vpaddq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(xk)), vmull_high_s8(w, xk)));
#endif
}

// out[k][l] = sum_j q[l][j] * r_k[j] for the 16 rows l of one block (qt: the block's interleaved bytes) and N
// rounded x rows r_k (stored + 128, r_stride bytes apart; cols a multiple of 16). Each weight register is
// loaded once for all N rows.
template <int N>
inline void block_dots_n(const uint8_t* r, size_t r_stride, const int8_t* qt, int cols, int32_t (*out)[16]) {
  int32x4_t acc[N][4];
  for (int k = 0; k < N; ++k)
    for (int quad = 0; quad < 4; ++quad) acc[k][quad] = vdupq_n_s32(0);
  const uint8x16_t bias = vdupq_n_u8(0x80);
  for (int c = 0; c < cols; c += 16) {
    int8x16_t x[N];
    for (int k = 0; k < N; ++k) x[k] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(r + size_t(k) * r_stride + c), bias));  // r + 128 -> r
    const int8_t* w = qt + size_t(c) * 16;  // 4 groups of 4 columns, 64 bytes each
    for (int quad = 0; quad < 4; ++quad) {
      const int8x16_t w0 = vld1q_s8(w + 16 * quad), w1 = vld1q_s8(w + 64 + 16 * quad);
      const int8x16_t w2 = vld1q_s8(w + 128 + 16 * quad), w3 = vld1q_s8(w + 192 + 16 * quad);
      for (int k = 0; k < N; ++k)
        acc[k][quad] = dot4<3>(dot4<2>(dot4<1>(dot4<0>(acc[k][quad], w0, x[k]), w1, x[k]), w2, x[k]), w3, x[k]);
    }
  }
  for (int k = 0; k < N; ++k)
    for (int quad = 0; quad < 4; ++quad) vst1q_s32(out[k] + 4 * quad, acc[k][quad]);
}

// block_dots_n for any n <= 16 x rows, 4 at a time (the accumulators stay in registers).
inline void block_dots(const uint8_t* r, size_t r_stride, const int8_t* qt, int cols, int n, int32_t (*out)[16]) {
  for (int first = 0; first < n; first += 4) {
    const uint8_t* rf = r + size_t(first) * r_stride;
    switch (n - first < 4 ? n - first : 4) {
      case 1: block_dots_n<1>(rf, r_stride, qt, cols, out + first); break;
      case 2: block_dots_n<2>(rf, r_stride, qt, cols, out + first); break;
      case 3: block_dots_n<3>(rf, r_stride, qt, cols, out + first); break;
      default: block_dots_n<4>(rf, r_stride, qt, cols, out + first); break;
    }
  }
}

}  // namespace frspec::FRSPEC_CPU::argmax_neon

#endif
