// The arm64 packed GEMM for prompt chunks and verification batches (n >= gemm_min_n() tokens) of every
// quantized type, in the dotprod (SDOT) and i8mm (SMMLA) variants; the NEON counterpart of
// cpu_gemm_packed.h. Why: the tile kernels (cpu_matmul_neon.h) unpack each weight block again for every
// 4-token tile, interleave the SMMLA operands on the fly and run one scalar float chain per (row, token).
// Here a group of 8 weight rows is unpacked once per call into the operand layout of the instruction, and
// every token tile then passes over it while it sits in L1/L2:
//   i8mm:    a register holds 8 values of 2 rows (a row pair); the activations are copied once per task as
//            token pairs in the same form, so one SMMLA gives the 2 x 2 block {r t, r t+1, r+1 t, r+1 t+1}
//            of a row pair and a token pair (8 rows x 4 tokens per register tile).
//   dotprod: a register holds 4 values of 4 rows; SDOT by element takes 4 activation values of one token
//            straight from its row, and the 4 int32 lanes are 4 rows of that token (8 rows x 4 tokens).
// Exactness: each (row, token) block sum is the same exact int32 as in the tile kernel and the GEMV
// (isum = sum_s scale_s (w_s . x_s), the K-quants' msum = sum_j m_j bsum_j), and the type's float chain
// (Type::finish in cpu_matmul_neon.h) runs on 4 outputs per instruction with the same operations in the same
// order, so a token gets the same bits from the GEMV, the tile GEMM and this GEMM (kernels_test).
// msum by integer instructions too: bsum_j = 128 hi_j + lo_j (lo 0..127, hi -32..31, both int8), so
// msum = 128 (m . hi) + (m . lo), two SMMLA (or four SDOT) for 4 outputs.
#include "engine/cpu_gemm_neon.h"

#include <cstring>
#include <vector>

#include "common/thread_scratch.h"
#include "engine/cpu_matmul_legacy.h"
#include "engine/cpu_matmul_neon.h"

namespace frspec::FRSPEC_CPU::kernels {

#if defined(FRSPEC_NEON_KERNELS) && defined(__ARM_FEATURE_DOTPROD)
namespace neon {
namespace {

constexpr int kGroup = 8;  // weight rows packed together
#if defined(__ARM_FEATURE_MATMUL_INT8)
constexpr bool kMmla = true;
constexpr int kRowRegs = 4;    // per group: 4 row pairs; a register's lanes are rows {r, r, r+1, r+1} x tokens {t, t+1, t, t+1}
constexpr int kTokSlot = 2;    // tokens per activation slot: a pair
constexpr int kTileSlots = 2;  // slots per register tile (4 tokens)
#else
constexpr bool kMmla = false;
constexpr int kRowRegs = 2;    // per group: 2 row quads; a register's lanes are 4 rows of one token
constexpr int kTokSlot = 1;
constexpr int kTileSlots = 4;
#endif
// The group row of lane l of row register g.
constexpr int lane_row(int g, int l) { return kMmla ? 2 * g + l / 2 : 4 * g + l; }

// One weight block of the 8 rows of a group, in the instruction's operand layout:
//   i8mm:    q[(chunk of 8 values c) * kRowRegs + pair g][16]: 8 values of row 2g, then 8 of row 2g + 1
//   dotprod: q[((16-value group h) * kRowRegs + quad g) * 4 + k][16]: values 16h + 4k .. + 4 of rows 4g .. 4g + 3
// and per lane of a row register its row's sub-block scales, d and m (cpu_matmul_neon.h's Unpacked).
template <class Ty>
struct alignas(16) Unit {
  static constexpr int kSubs = Ty::kValues / Ty::kSub;
  int8_t q[kGroup * Ty::kValues];
  int32_t scale[kSubs][kRowRegs][4];
  float d[kRowRegs][4];
  float m[kRowRegs][4];
  // K-quants' 6-bit mins. i8mm: per pair g, 16 bytes {8 mins of row 2g, 8 of row 2g + 1}; dotprod: per quad
  // g, 32 bytes: sub-blocks 0..3 of its 4 rows (4 bytes a row), then sub-blocks 4..7.
  int8_t mins[64];
};

// What the float chain needs of the tokens of one activation slot and block, per lane of a register.
struct alignas(16) SlotInfo {
  float dx[4];    // the token's activation scale
  float sxdx[4];  // legacy formats with a min: float(sx) * dx (sx: the block's sum of activation quants)
  // K-quants: bsum_j = bsums[2j] + bsums[2j+1] = 128 hi_j + lo_j. i8mm: {lo of t, lo of t+1}, {hi of t, hi of
  // t+1} (8 bytes each); dotprod: {lo, hi}.
  int8_t bs[32];
};

// Rows [row, row + valid) of the weight, every block, into units (rows past `valid`: zeros).
template <class Ty>
void pack(const MatmulJob& j, int64_t row, int valid, Unit<Ty>* out) {
  using Block = typename Ty::Block;
  const int64_t nb = j.w->cols / Ty::kValues;
  typename Ty::U u[kGroup];
  for (int r = valid; r < kGroup; ++r) std::memset(static_cast<void*>(&u[r]), 0, sizeof u[r]);
  for (int64_t b = 0; b < nb; ++b) {
    for (int r = 0; r < valid; ++r) Ty::unpack(reinterpret_cast<const Block*>(j.weight_row(row + r))[b], u[r]);
    Unit<Ty>& o = out[b];
    if constexpr (kMmla) {
      for (int c = 0; c < Ty::kValues / 8; ++c)
        for (int g = 0; g < kRowRegs; ++g)
          vst1q_s8(o.q + (c * kRowRegs + g) * 16, vcombine_s8(vld1_s8(u[2 * g].q + 8 * c), vld1_s8(u[2 * g + 1].q + 8 * c)));
    } else {
      for (int h = 0; h < Ty::kValues / 16; ++h)
        for (int g = 0; g < kRowRegs; ++g) {  // 4 rows x 16 values, transposed as 4 x 4 int32
          int32x4_t a[4];
          for (int i = 0; i < 4; ++i) a[i] = vreinterpretq_s32_s8(vld1q_s8(u[4 * g + i].q + 16 * h));
          const int64x2_t t0 = vreinterpretq_s64_s32(vtrn1q_s32(a[0], a[1])), t1 = vreinterpretq_s64_s32(vtrn2q_s32(a[0], a[1]));
          const int64x2_t t2 = vreinterpretq_s64_s32(vtrn1q_s32(a[2], a[3])), t3 = vreinterpretq_s64_s32(vtrn2q_s32(a[2], a[3]));
          int8_t* dst = o.q + (h * kRowRegs + g) * 64;
          vst1q_s8(dst, vreinterpretq_s8_s64(vtrn1q_s64(t0, t2)));
          vst1q_s8(dst + 16, vreinterpretq_s8_s64(vtrn1q_s64(t1, t3)));
          vst1q_s8(dst + 32, vreinterpretq_s8_s64(vtrn2q_s64(t0, t2)));
          vst1q_s8(dst + 48, vreinterpretq_s8_s64(vtrn2q_s64(t1, t3)));
        }
    }
    for (int g = 0; g < kRowRegs; ++g)
      for (int l = 0; l < 4; ++l) {
        const typename Ty::U& ur = u[lane_row(g, l)];
        for (int s = 0; s < Unit<Ty>::kSubs; ++s) o.scale[s][g][l] = ur.scale[s];
        o.d[g][l] = ur.d;
        o.m[g][l] = ur.m;
      }
    if constexpr (Ty::kMin == MinTerm::k_mins) {
      for (int g = 0; g < kRowRegs; ++g)
        for (int i = 0; i < 16; ++i) {
          if constexpr (kMmla) o.mins[16 * g + i] = int8_t(u[2 * g + i / 8].mins[i % 8]);
          else o.mins[32 * g + i] = int8_t(u[4 * g + i / 4].mins[i % 4]), o.mins[32 * g + 16 + i] = int8_t(u[4 * g + i / 4].mins[4 + i % 4]);
        }
    }
  }
}

// Every token's SlotInfo per block (and, for i8mm, the activation quants as token pairs: per slot and block,
// chunk c of 8 values at xz[c][16] = {8 of t, 8 of t+1}; a missing t+1 is zeros).
template <class Ty>
void prepare_acts(const MatmulJob& j, std::vector<SlotInfo>& info, std::vector<int8_t>& xz) {
  using Act = typename Ty::Act;
  const int64_t nb = j.w->cols / Ty::kValues;
  const int slots = (j.n + kTokSlot - 1) / kTokSlot;
  info.resize(size_t(slots) * size_t(nb));
  if constexpr (kMmla) xz.resize(size_t(slots) * size_t(nb) * 2 * Ty::kValues);
  for (int s = 0; s < slots; ++s) {
    const Act* x[kTokSlot];
    for (int i = 0; i < kTokSlot; ++i) x[i] = s * kTokSlot + i < j.n ? reinterpret_cast<const Act*>(j.act_row(s * kTokSlot + i)) : nullptr;
    for (int64_t b = 0; b < nb; ++b) {
      SlotInfo& o = info[size_t(s) * size_t(nb) + size_t(b)];
      float dx[kTokSlot] = {}, sxdx[kTokSlot] = {};
      int8_t lo[kTokSlot][8] = {}, hi[kTokSlot][8] = {};
      for (int i = 0; i < kTokSlot; ++i) {
        if (!x[i]) continue;
        dx[i] = act_d(x[i], b);
        if constexpr (Ty::kMin == MinTerm::legacy_min) {  // as TypeLegacy::finish
          const int8_t* xq = act_q(x[i], b);
          const int32_t sx = vaddlvq_s8(vld1q_s8(xq)) + vaddlvq_s8(vld1q_s8(xq + 16));
          sxdx[i] = float(sx) * dx[i];
        }
        if constexpr (Ty::kMin == MinTerm::k_mins)
          for (int k = 0; k < 8; ++k) {
            const int v = x[i][b].bsums[2 * k] + x[i][b].bsums[2 * k + 1];  // |v| <= 32 * 127
            hi[i][k] = int8_t(v >> 7), lo[i][k] = int8_t(v & 127);
          }
      }
      for (int l = 0; l < 4; ++l) o.dx[l] = dx[kMmla ? l % 2 : 0], o.sxdx[l] = sxdx[kMmla ? l % 2 : 0];
      for (int i = 0; i < kTokSlot; ++i) {
        std::memcpy(o.bs + 8 * i, lo[i], 8);
        std::memcpy(o.bs + 8 * kTokSlot + 8 * i, hi[i], 8);
      }
      if constexpr (kMmla) {
        int8_t* dst = xz.data() + (size_t(s) * size_t(nb) + size_t(b)) * 2 * Ty::kValues;
        const int8x8_t zero = vdup_n_s8(0);
        for (int c = 0; c < Ty::kValues / 8; ++c)
          vst1q_s8(dst + 16 * c, vcombine_s8(vld1_s8(act_q(x[0], b) + 8 * c), x[1] ? vld1_s8(act_q(x[1], b) + 8 * c) : zero));
      }
    }
  }
}

// isum[g][s] of block b: rows of register g x the tokens of slot s0 + s.
template <class Ty, int S>
FRSPEC_INLINE void block_isums(const MatmulJob& j, const Unit<Ty>& u, const int8_t* xz, int64_t nb, int64_t b, int s0,
                               int32x4_t (&isum)[kRowRegs][S]) {
  constexpr int kSubs = Unit<Ty>::kSubs;
#if defined(__ARM_FEATURE_MATMUL_INT8)
  (void)j;
  const int8_t* xs[S];
  for (int s = 0; s < S; ++s) xs[s] = xz + (size_t(s0 + s) * size_t(nb) + size_t(b)) * 2 * Ty::kValues;
  constexpr int kChunks = Ty::kSub / 8;  // SMMLA operands per sub-block
  for (int sub = 0; sub < kSubs; ++sub) {
    int32x4_t p[kRowRegs][S];
    for (int g = 0; g < kRowRegs; ++g)
      for (int s = 0; s < S; ++s) p[g][s] = vdupq_n_s32(0);
#pragma GCC unroll 4
    for (int c = sub * kChunks; c < (sub + 1) * kChunks; ++c) {
      int8x16_t x[S];
      for (int s = 0; s < S; ++s) x[s] = vld1q_s8(xs[s] + 16 * c);
      for (int g = 0; g < kRowRegs; ++g) {
        const int8x16_t w = vld1q_s8(u.q + (c * kRowRegs + g) * 16);
        for (int s = 0; s < S; ++s) p[g][s] = vmmlaq_s32(p[g][s], w, x[s]);
      }
    }
    for (int g = 0; g < kRowRegs; ++g)
      for (int s = 0; s < S; ++s) {
        if constexpr (kSubs == 1) isum[g][s] = p[g][s];  // scale 1
        else isum[g][s] = sub == 0 ? vmulq_s32(p[g][s], vld1q_s32(u.scale[sub][g])) : vmlaq_s32(isum[g][s], p[g][s], vld1q_s32(u.scale[sub][g]));
      }
  }
#else
  (void)nb, (void)xz;
  using Act = typename Ty::Act;
  const int8_t* xq[S];
  for (int s = 0; s < S; ++s) xq[s] = act_q(reinterpret_cast<const Act*>(j.act_row(s0 + s)), b);
  constexpr int kGroups = Ty::kSub / 16;  // 16-value groups per sub-block
  for (int sub = 0; sub < kSubs; ++sub) {
    int32x4_t p[kRowRegs][S];
    for (int g = 0; g < kRowRegs; ++g)
      for (int s = 0; s < S; ++s) p[g][s] = vdupq_n_s32(0);
#pragma GCC unroll 2
    for (int h = sub * kGroups; h < (sub + 1) * kGroups; ++h) {
      int8x16_t x[S];
      for (int s = 0; s < S; ++s) x[s] = vld1q_s8(xq[s] + 16 * h);
      for (int g = 0; g < kRowRegs; ++g) {
        const int8_t* w = u.q + (h * kRowRegs + g) * 64;
        const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
        for (int s = 0; s < S; ++s) {
          p[g][s] = vdotq_laneq_s32(p[g][s], w0, x[s], 0);
          p[g][s] = vdotq_laneq_s32(p[g][s], w1, x[s], 1);
          p[g][s] = vdotq_laneq_s32(p[g][s], w2, x[s], 2);
          p[g][s] = vdotq_laneq_s32(p[g][s], w3, x[s], 3);
        }
      }
    }
    for (int g = 0; g < kRowRegs; ++g)
      for (int s = 0; s < S; ++s) {
        if constexpr (kSubs == 1) isum[g][s] = p[g][s];
        else isum[g][s] = sub == 0 ? vmulq_s32(p[g][s], vld1q_s32(u.scale[sub][g])) : vmlaq_s32(isum[g][s], p[g][s], vld1q_s32(u.scale[sub][g]));
      }
  }
#endif
}

// The K-quants' msum of register g's lanes: 128 (m . hi) + (m . lo).
template <class Ty>
FRSPEC_INLINE int32x4_t mins_sum(const Unit<Ty>& u, int g, const SlotInfo& in) {
#if defined(__ARM_FEATURE_MATMUL_INT8)
  const int8x16_t m = vld1q_s8(u.mins + 16 * g), lo = vld1q_s8(in.bs), hi = vld1q_s8(in.bs + 16);
  return vmmlaq_s32(vshlq_n_s32(vmmlaq_s32(vdupq_n_s32(0), m, hi), 7), m, lo);
#else
  const int8x16_t m0 = vld1q_s8(u.mins + 32 * g), m1 = vld1q_s8(u.mins + 32 * g + 16), bs = vld1q_s8(in.bs);
  const int32x4_t h = vdotq_laneq_s32(vdotq_laneq_s32(vdupq_n_s32(0), m0, bs, 2), m1, bs, 3);
  return vdotq_laneq_s32(vdotq_laneq_s32(vshlq_n_s32(h, 7), m0, bs, 0), m1, bs, 1);
#endif
}

// 4 consecutive rows [row, row + 4) of token t (only the first `valid` rows exist; t may be past n).
FRSPEC_INLINE void store4(const MatmulJob& j, int64_t row, int valid, int t, float32x4_t v) {
  if (t >= j.n || valid <= 0) return;
  float* y = j.y + size_t(t) * size_t(j.w->rows) + size_t(row);
  if (valid >= 4) {
    vst1q_f32(y, j.bias ? vaddq_f32(v, vld1q_f32(j.bias + row)) : v);
    return;
  }
  float lanes[4];
  vst1q_f32(lanes, v);
  for (int i = 0; i < valid; ++i) y[i] = j.bias ? lanes[i] + j.bias[row + i] : lanes[i];
}

// The group's rows [row, row + valid) x the tokens of slots [s0, s0 + S), all blocks.
template <class Ty, int S>
void tile(const MatmulJob& j, const Unit<Ty>* units, const SlotInfo* info, const int8_t* xz, int64_t row, int valid, int s0) {
  const int64_t nb = j.w->cols / Ty::kValues;
  float32x4_t acc[kRowRegs][S];
  for (int g = 0; g < kRowRegs; ++g)
    for (int s = 0; s < S; ++s) acc[g][s] = vdupq_n_f32(0.f);
  for (int64_t b = 0; b < nb; ++b) {
    const Unit<Ty>& u = units[b];
    int32x4_t isum[kRowRegs][S];
    block_isums<Ty, S>(j, u, xz, nb, b, s0, isum);
    for (int s = 0; s < S; ++s) {  // Type::finish, 4 lanes at a time
      const SlotInfo& in = info[size_t(s0 + s) * size_t(nb) + size_t(b)];
      const float32x4_t dx = vld1q_f32(in.dx);
      for (int g = 0; g < kRowRegs; ++g) {
        acc[g][s] = vfmaq_f32(acc[g][s], vcvtq_f32_s32(isum[g][s]), vmulq_f32(vld1q_f32(u.d[g]), dx));
        if constexpr (Ty::kMin == MinTerm::k_mins)
          acc[g][s] = vfmaq_f32(acc[g][s], vcvtq_f32_s32(mins_sum(u, g, in)), vmulq_f32(vld1q_f32(u.m[g]), dx));
        if constexpr (Ty::kMin == MinTerm::legacy_min) acc[g][s] = vfmaq_f32(acc[g][s], vld1q_f32(u.m[g]), vld1q_f32(in.sxdx));
      }
    }
  }
  for (int s = 0; s < S; ++s) {
#if defined(__ARM_FEATURE_MATMUL_INT8)
    for (int h = 0; h < 2; ++h) {  // rows 4h .. 4h + 3: pairs 2h and 2h + 1; lanes 0, 2 token t, lanes 1, 3 token t + 1
      const int t = 2 * (s0 + s);
      store4(j, row + 4 * h, valid - 4 * h, t, vuzp1q_f32(acc[2 * h][s], acc[2 * h + 1][s]));
      store4(j, row + 4 * h, valid - 4 * h, t + 1, vuzp2q_f32(acc[2 * h][s], acc[2 * h + 1][s]));
    }
#else
    for (int g = 0; g < kRowRegs; ++g) store4(j, row + 4 * g, valid - 4 * g, s0 + s, acc[g][s]);
#endif
  }
}

template <class Ty>
void gemm_rows(const MatmulJob& j, int64_t r0, int64_t r1) {
  struct Scratch {
    std::vector<Unit<Ty>> units;
    std::vector<SlotInfo> info;
    std::vector<int8_t> xz;
  };
  thread_local ThreadScratch<Scratch> scratch;  // common/thread_scratch.h: why
  auto& [units, info, xz] = scratch.get();
  const int64_t nb = j.w->cols / Ty::kValues;
  if (units.size() < size_t(nb)) units.resize(size_t(nb));
  prepare_acts<Ty>(j, info, xz);
  const int slots = (j.n + kTokSlot - 1) / kTokSlot;
  for (int64_t row = r0; row < r1; row += kGroup) {
    const int valid = int(r1 - row < kGroup ? r1 - row : kGroup);
    pack<Ty>(j, row, valid, units.data());
    int s = 0;
    for (; s + kTileSlots <= slots; s += kTileSlots) tile<Ty, kTileSlots>(j, units.data(), info.data(), xz.data(), row, valid, s);
    switch (slots - s) {
      case 1: tile<Ty, 1>(j, units.data(), info.data(), xz.data(), row, valid, s); break;
      case 2: if constexpr (kTileSlots > 2) tile<Ty, 2>(j, units.data(), info.data(), xz.data(), row, valid, s); break;
      case 3: if constexpr (kTileSlots > 3) tile<Ty, 3>(j, units.data(), info.data(), xz.data(), row, valid, s); break;
      default: break;
    }
  }
}

}  // namespace
}  // namespace neon

RowsFn gemm_fn_neon(DType t) {
  using namespace neon;
  switch (t) {
    case DType::Q8_0: return gemm_rows<TypeQ8_0>;
    case DType::Q4_0: return gemm_rows<TypeLegacy<Q4_0>>;
    case DType::Q4_1: return gemm_rows<TypeLegacy<Q4_1>>;
    case DType::Q5_0: return gemm_rows<TypeLegacy<Q5_0>>;
    case DType::Q5_1: return gemm_rows<TypeLegacy<Q5_1>>;
    case DType::Q4_K: return gemm_rows<TypeK45<false>>;
    case DType::Q5_K: return gemm_rows<TypeK45<true>>;
    case DType::Q6_K: return gemm_rows<TypeQ6_K>;
    case DType::IQ4_NL: return gemm_rows<TypeIQ4NL>;
    case DType::IQ4_XS: return gemm_rows<TypeIQ4XS>;
    default: return nullptr;
  }
}

#else
RowsFn gemm_fn_neon(DType) { return nullptr; }
#endif

}  // namespace frspec::FRSPEC_CPU::kernels
