// Internal to cpu_matmul_q4_K.cpp and cpu_matmul_q5_K.cpp: their kernels where the two formats are the same but
// for Q5_K's fifth bit (q = nibble | (bit j of qh) << 4, Q4_K's nibble layout and scales otherwise): AVX2 and the
// portable fallback. For one 256-value block:
//   dot = d * dx * sum_j sc[j] * (q . xq)_j  -  dmin * dx * sum_j m[j] * (sum of xq in sub-block j)
// The first sum is exact in int32 (maddubs pairs <= 7874 in int16, weighted by the 6-bit scales); the second uses
// the activation's 16-value sums. (AVX-512 has a kernel per format in its file: Q4_K's GEMV takes its own path.)
#pragma once
#include <type_traits>

#include "engine/cpu_matmul_kscales.h"

namespace frspec::FRSPEC_CPU::kernels {

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
// 32 values (one sub-block) per step.
template <bool kFiveBit>
struct K45Avx2Kernel {
  using Block = std::conditional_t<kFiveBit, BlockQ5_K, BlockQ4_K>;
  static constexpr int kGemvRows = 2, kRows = 1, kToks = 4;  // 16 ymm registers

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    const Block* w[R];
    const ActQ8_K* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const Block*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
    const __m256i nib = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(0x01);
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      for (int r = 0; r < R; ++r) prefetch_block_ahead(&w[r][b]);
      uint8_t sc[R][8], m[R][8];
      __m256i m16[R], qh[R];
      for (int r = 0; r < R; ++r) {
        unpack_scales(w[r][b].scales, sc[r], m[r]);
        const __m128i mm = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(m[r]));
        m16[r] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mm, mm));
        if constexpr (kFiveBit) qh[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qh));
      }
      __m256i isum[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) isum[r][t] = _mm256_setzero_si256();
      for (int sb = 0; sb < 8; ++sb) {
        __m256i q[R], s[R];
        for (int r = 0; r < R; ++r) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qs + 32 * (sb / 2)));
          q[r] = (sb & 1) ? _mm256_and_si256(_mm256_srli_epi16(v, 4), nib) : _mm256_and_si256(v, nib);
          if constexpr (kFiveBit) q[r] = _mm256_or_si256(q[r], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh[r], sb), one), 4));
          s[r] = _mm256_set1_epi16(short(sc[r][sb]));
        }
        for (int t = 0; t < T; ++t) {
          const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].qs + 32 * kQ4KSlot[sb]));
          for (int r = 0; r < R; ++r)
            isum[r][t] = _mm256_add_epi32(isum[r][t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[r], xq), s[r]));
        }
      }
      for (int r = 0; r < R; ++r) {
        const float d = _cvtsh_ss(w[r][b].d), dmin = _cvtsh_ss(w[r][b].dmin);
        for (int t = 0; t < T; ++t) {
          const float dx = x[t][b].d;
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r][t]), _mm256_set1_ps(d * dx), acc[r][t]);
          const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].bsums));
          const __m256 msum = _mm256_cvtepi32_ps(_mm256_madd_epi16(m16[r], bs));
          acc[r][t] = _mm256_fmadd_ps(msum, _mm256_set1_ps(-dmin * dx), acc[r][t]);
        }
      }
    }
    store_tile<R, T>(j, row, tok, acc);
  }
};
#endif

// Portable fallback: the same integer sums, one (row, token) pair at a time.
template <bool kFiveBit>
struct K45PortableKernel {
  using Block = std::conditional_t<kFiveBit, BlockQ5_K, BlockQ4_K>;
  static constexpr int kGemvRows = 1, kRows = 1, kToks = 1;

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        const Block* w = reinterpret_cast<const Block*>(j.weight_row(row + r));
        const ActQ8_K* x = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
        float acc = 0;
        for (int64_t b = 0; b < nb; ++b) {
          uint8_t sc[8], m[8];
          unpack_scales(w[b].scales, sc, m);
          int32_t isum = 0, msum = 0;
          for (int sb = 0; sb < 8; ++sb) {
            const uint8_t* q = w[b].qs + 32 * (sb / 2);
            int32_t dot = 0;
            for (int i = 0; i < 32; ++i) {
              int v = (sb & 1) ? (q[i] >> 4) : (q[i] & 0xF);
              if constexpr (kFiveBit) v |= ((w[b].qh[i] >> sb) & 1) << 4;
              dot += v * int32_t(x[b].qs[32 * kQ4KSlot[sb] + i]);
            }
            isum += dot * sc[sb];
            msum += int32_t(m[sb]) * (x[b].bsums[2 * sb] + x[b].bsums[2 * sb + 1]);
          }
          acc += float(isum) * (f16_to_f32(w[b].d) * x[b].d);
          acc += float(msum) * (-f16_to_f32(w[b].dmin) * x[b].d);
        }
        j.store(row + r, tok + t, acc);
      }
  }
};

}  // namespace frspec::FRSPEC_CPU::kernels
