// Internal to the cpu_matmul*.cpp files: the arm64 matmul kernels (NEON; SDOT with dotprod, SMMLA with
// i8mm). Each cpu_matmul_<type>.cpp takes its kernel from here when it is compiled for an arm64 variant
// with Advanced SIMD (neon, dotprod, i8mm; native/CMakeLists.txt); the `generic` variant
// (FRSPEC_SCALAR_KERNELS) keeps the files' scalar code. Empty on every other target.
//
// Quantized weights, as on x86: the activation row is quantized once per call to 8-bit blocks
// (cpu_matmul_tiles.h), each weight block is unpacked to int8 values (Unpacked: in the activation's order,
// with one integer scale per sub-block), and per (row, token) and block the kernel forms ONE exact int32,
//   isum = sum over sub-blocks s of scale_s * (w_s . x_s),
// with SDOT (dotprod), a widening multiply + pairwise add (plain NEON) or, for pairs of rows x pairs of
// tokens, SMMLA (i8mm: a 2x8 by 8x2 int8 product per instruction). Integer sums are exact whatever the
// instruction, so isum is the same bits in the GEMV, in any tile and on any variant; it then enters the
// type's one float chain per (row, token) over the blocks in order (Type::finish, the same form as the
// scalar fallback's). So a token's output never depends on n, the tiling or the thread count (the tile
// contract), and GEMV == GEMM bit for bit.
//
// The packed GEMM for prompt chunks (cpu_gemm_neon.cpp, dotprod and i8mm) unpacks with the same Type::unpack
// and runs the same Type::finish chain on 4 outputs at once (MinTerm says which second term it has).
//
// Float weights (F32/F16/BF16): 8 lanes as two float32x4 (FMA), summed in the pairs the portable code uses.
#pragma once

#if defined(__aarch64__) && defined(__ARM_NEON) && !defined(FRSPEC_SCALAR_KERNELS)
#define FRSPEC_NEON_KERNELS 1
#include <arm_neon.h>

#include <cmath>
#include <cstring>

#include "engine/cpu_matmul_kscales.h"
#include "engine/cpu_matmul_simd.h"

namespace frspec::FRSPEC_CPU::kernels::neon {

// ------------------------------------------------------------------ integer dot products

// acc (4 int32 lanes) += the 16 products a_i * b_i, summed in groups of 4 (SDOT) or pairs (plain NEON:
// each product fits int16, |a_i b_i| <= 128 * 127, and every pair is widened before it is added).
FRSPEC_INLINE int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, a, b);
#else
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
  return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}

// The exact sum of n (a multiple of 16) products a_i * b_i.
FRSPEC_INLINE int32x4_t dot_n(const int8_t* a, const int8_t* b, int n) {
  int32x4_t acc = vdupq_n_s32(0);
  for (int i = 0; i < n; i += 16) acc = dot16(acc, vld1q_s8(a + i), vld1q_s8(b + i));
  return acc;
}

#if defined(__ARM_FEATURE_MATMUL_INT8)
// acc += {a0 . b0, a0 . b1, a1 . b0, a1 . b1} over n (a multiple of 16) values: SMMLA multiplies the 2x8
// int8 matrix [a0; a1] (8 values of each row in one register) by [b0; b1] transposed.
FRSPEC_INLINE int32x4_t mmla_n(int32x4_t acc, const int8_t* a0, const int8_t* a1, const int8_t* b0, const int8_t* b1, int n) {
  for (int i = 0; i < n; i += 16) {
    const int64x2_t x0 = vreinterpretq_s64_s8(vld1q_s8(a0 + i)), x1 = vreinterpretq_s64_s8(vld1q_s8(a1 + i));
    const int64x2_t y0 = vreinterpretq_s64_s8(vld1q_s8(b0 + i)), y1 = vreinterpretq_s64_s8(vld1q_s8(b1 + i));
    acc = vmmlaq_s32(acc, vreinterpretq_s8_s64(vzip1q_s64(x0, x1)), vreinterpretq_s8_s64(vzip1q_s64(y0, y1)));
    acc = vmmlaq_s32(acc, vreinterpretq_s8_s64(vzip2q_s64(x0, x1)), vreinterpretq_s8_s64(vzip2q_s64(y0, y1)));
  }
  return acc;
}
#endif

// ------------------------------------------------------------------ weight blocks unpacked to int8

// One weight block ready for integer dots: kValues int8 values in the order of the activation's quants,
// one integer scale per kSub values (1 for the 32-value formats), and what the float chain needs.
template <int kValues, int kSub>
struct Unpacked {
  alignas(16) int8_t q[kValues];
  int32_t scale[kValues / kSub];
  float d = 0.f;       // the block's scale (F16 d widened)
  float m = 0.f;       // Q4_1 / Q5_1: the min; Q4_K / Q5_K: -dmin
  uint8_t mins[8] = {};  // Q4_K / Q5_K: the sub-blocks' 6-bit mins
};

// The 16 low nibbles and 16 high nibbles of 16 bytes.
FRSPEC_INLINE uint8x16_t low_nibbles(uint8x16_t v) { return vandq_u8(v, vdupq_n_u8(0x0F)); }
FRSPEC_INLINE uint8x16_t high_nibbles(uint8x16_t v) { return vshrq_n_u8(v, 4); }

// 0x10 in byte i where bit i of the 16-bit value `bits` is set (the 5th bit of 16 five-bit quants).
FRSPEC_INLINE uint8x16_t fifth_bits(uint32_t bits) {
  static const uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t spread = vcombine_u8(vdup_n_u8(uint8_t(bits)), vdup_n_u8(uint8_t(bits >> 8)));
  return vandq_u8(vtstq_u8(spread, vld1q_u8(kBit)), vdupq_n_u8(0x10));
}

// Activations of the 32-value formats (ActQ8_0x2) and of the K-quants (ActQ8_K), block b.
FRSPEC_INLINE const int8_t* act_q(const ActQ8_0x2* x, int64_t b) { return x[b / 2].qs + QK8_0 * (b % 2); }
FRSPEC_INLINE float act_d(const ActQ8_0x2* x, int64_t b) { return x[b / 2].d[8 * (b % 2)]; }
FRSPEC_INLINE const int8_t* act_q(const ActQ8_K* x, int64_t b) { return x[b].qs; }
FRSPEC_INLINE float act_d(const ActQ8_K* x, int64_t b) { return x[b].d; }

// The term a type's float chain adds after acc = fma(isum, d dx, acc) (the packed GEMM, cpu_gemm_neon.cpp,
// computes it for 4 outputs at once): none, the K-quants' mins (fma(msum, -dmin dx, acc)) or the legacy
// formats' min (fma(m, sx dx, acc)).
enum class MinTerm { none, k_mins, legacy_min };

// Q8_0: x = d q.  chain: acc = fma(isum, d dx, acc)
struct TypeQ8_0 {
  using Block = BlockQ8_0;
  using Act = ActQ8_0x2;
  static constexpr int kValues = 32, kSub = 32;
  static constexpr MinTerm kMin = MinTerm::none;
  using U = Unpacked<kValues, kSub>;
  static FRSPEC_INLINE void unpack(const Block& b, U& u) {
    vst1q_s8(u.q, vld1q_s8(b.qs));
    vst1q_s8(u.q + 16, vld1q_s8(b.qs + 16));
    u.scale[0] = 1;
    u.d = f16_to_f32(b.d);
  }
  static FRSPEC_INLINE float finish(float acc, int32_t isum, const U& u, const Act* x, int64_t b) {
    return std::fma(float(isum), u.d * act_d(x, b), acc);
  }
};

// Q4_0 / Q4_1 / Q5_0 / Q5_1 (F = cpu_matmul_q4_0.cpp's Legacy<...>): 4- or 5-bit q, value j in the low
// nibble of qs[j], j + 16 in the high one. Without a min the offset is taken out before the dot (q - 8 or
// q - 16, so isum is the scalar code's dot - o sx); with a min q stays unsigned and the chain adds m dx sx:
//   acc = fma(isum, d dx, acc)   [then acc = fma(m, sx dx, acc)]
template <class F>
struct TypeLegacy {
  using Block = typename F::B;
  using Act = ActQ8_0x2;
  static constexpr int kValues = 32, kSub = 32;
  static constexpr MinTerm kMin = F::has_min ? MinTerm::legacy_min : MinTerm::none;
  using U = Unpacked<kValues, kSub>;
  static FRSPEC_INLINE void unpack(const Block& b, U& u) {
    const uint8x16_t qs = vld1q_u8(b.qs);
    uint8x16_t lo = low_nibbles(qs), hi = high_nibbles(qs);
    if constexpr (F::five_bit) {
      const uint32_t h = F::high_bits(b);
      lo = vorrq_u8(lo, fifth_bits(h & 0xFFFF));
      hi = vorrq_u8(hi, fifth_bits(h >> 16));
    }
    int8x16_t slo = vreinterpretq_s8_u8(lo), shi = vreinterpretq_s8_u8(hi);
    if constexpr (!F::has_min) {
      const int8x16_t o = vdupq_n_s8(int8_t(1 << F::offset_shift));
      slo = vsubq_s8(slo, o), shi = vsubq_s8(shi, o);
    }
    vst1q_s8(u.q, slo);
    vst1q_s8(u.q + 16, shi);
    u.scale[0] = 1;
    u.d = f16_to_f32(b.d);
    u.m = f16_to_f32(F::min_bits(b));
  }
  static FRSPEC_INLINE float finish(float acc, int32_t isum, const U& u, const Act* x, int64_t b) {
    const float dx = act_d(x, b);
    acc = std::fma(float(isum), u.d * dx, acc);
    if constexpr (F::has_min) {
      const int8_t* xq = act_q(x, b);
      const int32_t sx = vaddlvq_s8(vld1q_s8(xq)) + vaddlvq_s8(vld1q_s8(xq + 16));
      acc = std::fma(u.m, float(sx) * dx, acc);
    }
    return acc;
  }
};

// Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins; sub-block j sits in the activation at slot
// kQ4KSlot[j] (cpu_matmul_tiles.h). chain: acc = fma(isum, d dx, acc); acc = fma(msum, -dmin dx, acc)
// with msum = sum_j m_j (bsums of j).
template <bool kFiveBit>
struct TypeK45 {
  using Block = std::conditional_t<kFiveBit, BlockQ5_K, BlockQ4_K>;
  using Act = ActQ8_K;
  static constexpr int kValues = QK_K, kSub = 32;
  static constexpr MinTerm kMin = MinTerm::k_mins;
  using U = Unpacked<kValues, kSub>;
  static FRSPEC_INLINE void unpack(const Block& b, U& u) {
    uint8_t sc[8];
    unpack_scales(b.scales, sc, u.mins);
    for (int j = 0; j < 8; ++j) u.scale[kQ4KSlot[j]] = sc[j];
    for (int k = 0; k < 4; ++k)      // qs[32k .. 32k + 32): low nibbles = sub-block 2k, high = 2k + 1
      for (int h = 0; h < 2; ++h) {  // 16 bytes at a time
        const uint8x16_t qs = vld1q_u8(b.qs + 32 * k + 16 * h);
        uint8x16_t lo = low_nibbles(qs), hi = high_nibbles(qs);
        if constexpr (kFiveBit) {  // bit 4 of value 32 j + l is bit j of qh[l]
          const uint8x16_t qh = vld1q_u8(b.qh + 16 * h);
          lo = vorrq_u8(lo, vandq_u8(vtstq_u8(qh, vdupq_n_u8(uint8_t(1 << (2 * k)))), vdupq_n_u8(0x10)));
          hi = vorrq_u8(hi, vandq_u8(vtstq_u8(qh, vdupq_n_u8(uint8_t(2 << (2 * k)))), vdupq_n_u8(0x10)));
        }
        vst1q_s8(u.q + 32 * kQ4KSlot[2 * k] + 16 * h, vreinterpretq_s8_u8(lo));
        vst1q_s8(u.q + 32 * kQ4KSlot[2 * k + 1] + 16 * h, vreinterpretq_s8_u8(hi));
      }
    u.d = f16_to_f32(b.d);
    u.m = -f16_to_f32(b.dmin);
  }
  static FRSPEC_INLINE float finish(float acc, int32_t isum, const U& u, const Act* x, int64_t b) {
    int32_t msum = 0;
    for (int j = 0; j < 8; ++j) msum += int32_t(u.mins[j]) * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
    acc = std::fma(float(isum), u.d * x[b].d, acc);
    return std::fma(float(msum), u.m * x[b].d, acc);
  }
};

// Q6_K: 16 sub-blocks of 16 with int8 scales; 6-bit q - 32 (so isum is the scalar code's
// sum_g scale_g (dot_g - 32 bsums_g)). chain: acc = fma(isum, d dx, acc)
struct TypeQ6_K {
  using Block = BlockQ6_K;
  using Act = ActQ8_K;
  static constexpr int kValues = QK_K, kSub = 16;
  static constexpr MinTerm kMin = MinTerm::none;
  using U = Unpacked<kValues, kSub>;
  static FRSPEC_INLINE void unpack(const Block& b, U& u) {
    for (int g = 0; g < 16; ++g) u.scale[g] = b.scales[g];
    // Value 128 h + 32 q + l: low 4 bits from ql[64 h + 32 (q & 1) + l] (low nibble for q < 2), high 2 bits
    // from bits 2q, 2q + 1 of qh[32 h + l].
    for (int h = 0; h < 2; ++h)
      for (int half = 0; half < 2; ++half) {  // l in [16 half, 16 half + 16)
        const uint8x16_t qh = vld1q_u8(b.qh + 32 * h + 16 * half);
        for (int q = 0; q < 4; ++q) {
          const uint8x16_t ql = vld1q_u8(b.ql + 64 * h + 32 * (q & 1) + 16 * half);
          const uint8x16_t lo = q < 2 ? low_nibbles(ql) : high_nibbles(ql);
          const uint8x16_t hi = vshlq_n_u8(vandq_u8(vshlq_u8(qh, vdupq_n_s8(int8_t(-2 * q))), vdupq_n_u8(3)), 4);
          const int8x16_t v = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, hi)), vdupq_n_s8(32));
          vst1q_s8(u.q + 128 * h + 32 * q + 16 * half, v);
        }
      }
    u.d = f16_to_f32(b.d);
  }
  static FRSPEC_INLINE float finish(float acc, int32_t isum, const U& u, const Act* x, int64_t b) {
    return std::fma(float(isum), u.d * x[b].d, acc);
  }
};

// IQ4_NL: Q4_0's block (value j in the low nibble of qs[j], j + 16 in the high one) with each nibble indexing
// the non-linear table kIQ4NL (TBL looks it up). chain: acc = fma(isum, d dx, acc), as x86's PairChains.
struct TypeIQ4NL {
  using Block = BlockIQ4_NL;
  using Act = ActQ8_0x2;
  static constexpr int kValues = 32, kSub = 32;
  static constexpr MinTerm kMin = MinTerm::none;
  using U = Unpacked<kValues, kSub>;
  static FRSPEC_INLINE void unpack(const Block& b, U& u) {
    const int8x16_t table = vld1q_s8(kIQ4NL);
    const uint8x16_t qs = vld1q_u8(b.qs);
    vst1q_s8(u.q, vqtbl1q_s8(table, low_nibbles(qs)));
    vst1q_s8(u.q + 16, vqtbl1q_s8(table, high_nibbles(qs)));
    u.scale[0] = 1;
    u.d = f16_to_f32(b.d);
  }
  static FRSPEC_INLINE float finish(float acc, int32_t isum, const U& u, const Act* x, int64_t b) {
    return std::fma(float(isum), u.d * act_d(x, b), acc);
  }
};

// IQ4_XS: 8 sub-blocks of 32 with signed 6-bit scales ls - 32 (iq4xs_scale); sub-block j's values 0..15 in the
// low nibbles of qs[16 j ..], 16..31 in the high ones, each indexing kIQ4NL; activation in natural order.
// chain: acc = fma(isum, d dx, acc), as x86's ScalarChains.
struct TypeIQ4XS {
  using Block = BlockIQ4_XS;
  using Act = ActQ8_K;
  static constexpr int kValues = QK_K, kSub = 32;
  static constexpr MinTerm kMin = MinTerm::none;
  using U = Unpacked<kValues, kSub>;
  static FRSPEC_INLINE void unpack(const Block& b, U& u) {
    const int8x16_t table = vld1q_s8(kIQ4NL);
    for (int j = 0; j < 8; ++j) {
      const uint8x16_t qs = vld1q_u8(b.qs + 16 * j);
      vst1q_s8(u.q + 32 * j, vqtbl1q_s8(table, low_nibbles(qs)));
      vst1q_s8(u.q + 32 * j + 16, vqtbl1q_s8(table, high_nibbles(qs)));
      u.scale[j] = iq4xs_scale(b, j);
    }
    u.d = f16_to_f32(b.d);
  }
  static FRSPEC_INLINE float finish(float acc, int32_t isum, const U& u, const Act* x, int64_t b) {
    return std::fma(float(isum), u.d * x[b].d, acc);
  }
};

// isum of one (row, token): the sub-blocks' lane sums scaled, then one horizontal add.
template <class Ty>
FRSPEC_INLINE int32_t block_isum(const typename Ty::U& u, const int8_t* xq) {
  int32x4_t s = vdupq_n_s32(0);
  for (int k = 0; k < Ty::kValues / Ty::kSub; ++k) s = vmlaq_n_s32(s, dot_n(u.q + Ty::kSub * k, xq + Ty::kSub * k, Ty::kSub), u.scale[k]);
  return vaddvq_s32(s);
}

// The tile kernel (cpu_matmul_tiles.h) of one quantized type: per block, R rows unpacked once and reused by
// the T tokens. With i8mm, pairs of rows x pairs of tokens take SMMLA; the rest takes dot16.
template <class Ty>
struct QuantKernel {
  static constexpr int kGemvRows = 4, kRows = 4, kToks = 4;

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    using Block = typename Ty::Block;
    using Act = typename Ty::Act;
    const int64_t nb = j.w->cols / Ty::kValues;
    const Block* w[R];
    const Act* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const Block*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const Act*>(j.act_row(tok + t));
    float acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = 0.f;
    typename Ty::U u[R];
    for (int64_t b = 0; b < nb; ++b) {
      for (int r = 0; r < R; ++r) {
        prefetch_block_ahead(&w[r][b]);
        Ty::unpack(w[r][b], u[r]);
      }
      int32_t isum[R][T];
      int t0 = 0;
#if defined(__ARM_FEATURE_MATMUL_INT8)
      if constexpr (R % 2 == 0 && T >= 2) {
        for (; t0 + 2 <= T; t0 += 2) {
          const int8_t* x0 = act_q(x[t0], b);
          const int8_t* x1 = act_q(x[t0 + 1], b);
          for (int r = 0; r < R; r += 2) {
            int32x4_t s = vdupq_n_s32(0);  // {r t0, r t0+1, r+1 t0, r+1 t0+1}
            for (int k = 0; k < Ty::kValues / Ty::kSub; ++k) {
              const int32x4_t p = mmla_n(vdupq_n_s32(0), u[r].q + Ty::kSub * k, u[r + 1].q + Ty::kSub * k,
                                         x0 + Ty::kSub * k, x1 + Ty::kSub * k, Ty::kSub);
              const int32x4_t sc = vcombine_s32(vdup_n_s32(u[r].scale[k]), vdup_n_s32(u[r + 1].scale[k]));
              s = vmlaq_s32(s, p, sc);
            }
            isum[r][t0] = vgetq_lane_s32(s, 0), isum[r][t0 + 1] = vgetq_lane_s32(s, 1);
            isum[r + 1][t0] = vgetq_lane_s32(s, 2), isum[r + 1][t0 + 1] = vgetq_lane_s32(s, 3);
          }
        }
      }
#endif
      for (int t = t0; t < T; ++t) {
        const int8_t* xq = act_q(x[t], b);
        for (int r = 0; r < R; ++r) isum[r][t] = block_isum<Ty>(u[r], xq);
      }
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = Ty::finish(acc[r][t], isum[r][t], u[r], x[t], b);
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) j.store(row + r, tok + t, acc[r][t]);
  }
};

// ------------------------------------------------------------------ float weights

// 8 lanes as two float32x4 (lanes 0..3, 4..7), like the portable code's 8-lane vector.
constexpr int kLanes = 8;
struct vf {
  float32x4_t lo, hi;
};
FRSPEC_INLINE vf vzero() { return {vdupq_n_f32(0.f), vdupq_n_f32(0.f)}; }
FRSPEC_INLINE vf vfma(vf a, vf b, vf c) { return {vfmaq_f32(c.lo, a.lo, b.lo), vfmaq_f32(c.hi, a.hi, b.hi)}; }
// lane i + lane i+4, then i + i+2, then 0 + 1: the pairing of the portable and AVX2 sums.
FRSPEC_INLINE float hsum(vf v) {
  const float32x4_t s4 = vaddq_f32(v.lo, v.hi);
  const float32x2_t s2 = vadd_f32(vget_low_f32(s4), vget_high_f32(s4));
  return vget_lane_f32(s2, 0) + vget_lane_f32(s2, 1);
}
FRSPEC_INLINE vf vload(const float* p) { return {vld1q_f32(p), vld1q_f32(p + 4)}; }
// F16 -> F32 (FCVTL, exact; part of armv8-a's Advanced SIMD).
FRSPEC_INLINE vf vload(const f16_t* p) {
  const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(p));
  return {vcvt_f32_f16(vget_low_f16(h)), vcvt_high_f32_f16(h)};
}
// BF16 -> F32: the 16 bits become the high half of the float.
FRSPEC_INLINE vf vload(const bf16_t* p, int) {
  const uint16x8_t h = vld1q_u16(p);
  return {vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)), vreinterpretq_f32_u32(vshll_high_n_u16(h, 16))};
}
// The first `rest` (< kLanes) elements, zeros after them; reads nothing beyond them.
template <class E>
FRSPEC_INLINE void copy_part(E* dst, const E* src, int rest) {
  for (int i = 0; i < rest; ++i) dst[i] = src[i];
}
FRSPEC_INLINE vf vload_part(const float* p, int rest) {
  alignas(16) float b[kLanes] = {};
  copy_part(b, p, rest);
  return vload(b);
}
FRSPEC_INLINE vf vload_part(const f16_t* p, int rest) {
  alignas(16) f16_t b[kLanes] = {};
  copy_part(b, p, rest);
  return vload(b);
}
FRSPEC_INLINE vf vload_part(const bf16_t* p, int rest, int) {
  alignas(16) bf16_t b[kLanes] = {};
  copy_part(b, p, rest);
  return vload(b, 0);
}

}  // namespace frspec::FRSPEC_CPU::kernels::neon

#endif  // FRSPEC_NEON_KERNELS
