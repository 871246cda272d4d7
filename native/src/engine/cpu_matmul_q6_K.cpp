// Matmul kernel for Q6_K weights against ActQ8_K activations. For one 256-value block:
//   dot = d * dx * ( sum_g sc[g] * (q . xq)_g  -  32 * sum_g sc[g] * bsum_g )      q = 6-bit value in 0..63
// computed exactly in int32: unsigned q times int8 xq pairs (maddubs, <= 16002 in int16), weighted by the
// signed 8-bit sub-block scales (vpdpwssd / madd); the "-32" offset comes from the activation's 16-value
// sums, so the kernel never has to make q signed. AVX-512: the block's sum is reduced to one int32 per
// (row, token) and scaled in one float chain per output (ScalarChains), as the packed GEMM does.
#include "engine/cpu_matmul_simd.h"
#include "engine/cpu_matmul_neon.h"

namespace frspec::FRSPEC_CPU::kernels {
namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
// 64 values per step k: low (k even) or high (k odd) nibbles of ql[64*(k/2) ..+64), with 2-bit pairs
// of qh[32*(k/2) ..+32) shifted by 4*(k%2) and 4*(k%2)+2 for the two 32-value halves.
struct Q6KKernel {
  // GEMM: 1 row x 8 tokens (measured 1.2-1.9x faster than 2 x 4 at n = 8..64: fewer registers spilled).
  static constexpr int kGemvRows = 4, kRows = 1, kToks = 8;

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    const BlockQ6_K* w[R];
    const ActQ8_K* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ6_K*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
    const __m512i low4 = _mm512_set1_epi8(0x0f), low2x2 = _mm512_set1_epi8(0x33);
    ScalarChains<R, T> out;
    for (int64_t b = 0; b < nb; ++b) {
      for (int r = 0; r < R; ++r) prefetch_block_ahead(&w[r][b]);
      __m256i sc16[R];  // the 16 scales as int16
      for (int r = 0; r < R; ++r) sc16[r] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r][b].scales)));
      __m512i isum[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) isum[r][t] = _mm512_setzero_si512();
      for (int half = 0; half < 2; ++half) {
        // The 2-bit pairs of qh[32*half ..+32) for the four 32-value quarters: H = [qh | qh >> 2] & 0x33 holds
        // quarter 0 (low 256 bits) and 1 (high) in bits 0-1 of each byte, quarters 2 and 3 in bits 4-5. One
        // ternary-logic op then merges a nibble of ql (bits 0-3) with the pair moved to bits 4-5.
        __m512i hq[R], lq[R];
        for (int r = 0; r < R; ++r) {
          const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qh + 32 * half));
          hq[r] = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1), low2x2);
          lq[r] = _mm512_loadu_si512(w[r][b].ql + 64 * half);
        }
        if constexpr (T == 1) {
          // One token: vpdpbusd sums 4 products per int32 lane (<= 4 * 63 * 127 = 32004, so int16 holds it);
          // steps 2*half and 2*half+1 pack into one int16 vector (per 128-bit lane L: 4 lanes of group
          // 4k+L, then 4 of group 4k+4+L) weighted by the scales in one vpdpwssd. Same integer sum.
          alignas(64) int16_t pick_idx[32];
          for (int l = 0; l < 4; ++l)
            for (int i = 0; i < 8; ++i) pick_idx[8 * l + i] = short(8 * half + l + (i < 4 ? 0 : 4));
          const __m512i pick = _mm512_load_si512(pick_idx);
          const __m512i x0 = _mm512_loadu_si512(x[0][b].qs + 128 * half), x1 = _mm512_loadu_si512(x[0][b].qs + 128 * half + 64);
          for (int r = 0; r < R; ++r) {
            const __m512i q0 = _mm512_ternarylogic_epi32(lq[r], _mm512_slli_epi16(hq[r], 4), low4, 0xE4);
            const __m512i q1 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(lq[r], 4), hq[r], low4, 0xE4);
            const __m512i d0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q0, x0), d1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q1, x1);
            isum[r][0] = _mm512_dpwssd_epi32(isum[r][0], _mm512_packs_epi32(d0, d1), _mm512_permutexvar_epi16(pick, _mm512_zextsi256_si512(sc16[r])));
          }
          continue;
        }
        for (int odd = 0; odd < 2; ++odd) {
          const int k = 2 * half + odd;
          // int16 lanes 8g'..8g'+7 (16 values each) take scale 4k + g'
          const __m512i pick = _mm512_inserti64x4(
              _mm512_zextsi256_si512(_mm256_set_m128i(_mm_set1_epi16(short(4 * k + 1)), _mm_set1_epi16(short(4 * k)))),
              _mm256_set_m128i(_mm_set1_epi16(short(4 * k + 3)), _mm_set1_epi16(short(4 * k + 2))), 1);
          __m512i q[R], s[R];
          for (int r = 0; r < R; ++r) {
            // bits 0-3 from the nibble (0xF0 mask bits: taken from the pair), i.e. (a & 0x0f) | (b & 0xf0)
            const __m512i nibble = odd ? _mm512_srli_epi16(lq[r], 4) : lq[r];
            const __m512i pair = odd ? hq[r] : _mm512_slli_epi16(hq[r], 4);
            q[r] = _mm512_ternarylogic_epi32(nibble, pair, low4, 0xE4);  // c ? a : b
            s[r] = _mm512_permutexvar_epi16(pick, _mm512_zextsi256_si512(sc16[r]));
          }
          for (int t = 0; t < T; ++t) {
            const __m512i xq = _mm512_loadu_si512(x[t][b].qs + 64 * k);
            for (int r = 0; r < R; ++r) isum[r][t] = _mm512_dpwssd_epi32(isum[r][t], _mm512_maddubs_epi16(q[r], xq), s[r]);
          }
        }
      }
      // isum - 32 * sum_g sc[g] * bsum_g, lane by lane (the offset in lanes 0..7)
      float d[R], dx[T];
      for (int r = 0; r < R; ++r) {
        d[r] = _cvtsh_ss(w[r][b].d);
        for (int t = 0; t < T; ++t) {
          const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].bsums));
          const __m512i offset = _mm512_slli_epi32(_mm512_zextsi256_si512(_mm256_madd_epi16(sc16[r], bs)), 5);
          isum[r][t] = _mm512_sub_epi32(isum[r][t], offset);
        }
      }
      for (int t = 0; t < T; ++t) dx[t] = x[t][b].d;
      out.template add_block<false>(isum, nullptr, d, d, dx);
    }
    out.store(j, row, tok);
  }
};

#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
// 32 values per step e (0..7): half e/4, quarter e%4 (ql[l] or ql[l+32], low or high nibble; qh >> 2*quarter).
struct Q6KKernel {
  static constexpr int kGemvRows = 2, kRows = 1, kToks = 4;  // 16 ymm registers

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    const BlockQ6_K* w[R];
    const ActQ8_K* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ6_K*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
    const __m256i low4 = _mm256_set1_epi8(0x0f), low2 = _mm256_set1_epi8(0x03);
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      for (int r = 0; r < R; ++r) prefetch_block_ahead(&w[r][b]);
      __m256i isum[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) isum[r][t] = _mm256_setzero_si256();
      for (int e = 0; e < 8; ++e) {
        const int half = e / 4, quarter = e % 4;
        __m256i q[R], s[R];
        for (int r = 0; r < R; ++r) {
          const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].ql + 64 * half + 32 * (quarter & 1)));
          const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qh + 32 * half));
          const __m256i lo = quarter < 2 ? _mm256_and_si256(ql, low4) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low4);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * quarter), low2);
          q[r] = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
          s[r] = _mm256_set_m128i(_mm_set1_epi16(w[r][b].scales[2 * e + 1]), _mm_set1_epi16(w[r][b].scales[2 * e]));
        }
        for (int t = 0; t < T; ++t) {
          const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].qs + 32 * e));
          for (int r = 0; r < R; ++r)
            isum[r][t] = _mm256_add_epi32(isum[r][t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[r], xq), s[r]));
        }
      }
      for (int r = 0; r < R; ++r) {
        const float d = _cvtsh_ss(w[r][b].d);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r][b].scales)));
        for (int t = 0; t < T; ++t) {
          const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].bsums));
          const __m256i total = _mm256_sub_epi32(isum[r][t], _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), 5));
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_set1_ps(d * x[t][b].d), acc[r][t]);
        }
      }
    }
    store_tile<R, T>(j, row, tok, acc);
  }
};

#elif defined(FRSPEC_NEON_KERNELS)
// arm64 (neon, dotprod, i8mm variants): cpu_matmul_neon.h.
using Q6KKernel = neon::QuantKernel<neon::TypeQ6_K>;

#else
// Portable fallback: the same integer sums, one (row, token) pair at a time.
struct Q6KKernel {
  static constexpr int kGemvRows = 1, kRows = 1, kToks = 1;

  static int value(const BlockQ6_K& b, int e) {
    const int half = e / 128, rem = e % 128, quarter = rem / 32, l = rem % 32;
    const uint8_t lo = b.ql[64 * half + 32 * (quarter & 1) + l];
    return ((quarter < 2) ? (lo & 0xF) : (lo >> 4)) | (((b.qh[32 * half + l] >> (2 * quarter)) & 3) << 4);
  }

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        const BlockQ6_K* w = reinterpret_cast<const BlockQ6_K*>(j.weight_row(row + r));
        const ActQ8_K* x = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
        float acc = 0;
        for (int64_t b = 0; b < nb; ++b) {
          int32_t isum = 0;
          for (int g = 0; g < 16; ++g) {
            int32_t dot = 0;
            for (int i = 0; i < 16; ++i) dot += value(w[b], 16 * g + i) * int32_t(x[b].qs[16 * g + i]);
            isum += w[b].scales[g] * (dot - 32 * x[b].bsums[g]);
          }
          acc += float(isum) * (f16_to_f32(w[b].d) * x[b].d);
        }
        j.store(row + r, tok + t, acc);
      }
  }
};
#endif

}  // namespace

RowsFn rows_fn_q6_K() { return matmul_rows<Q6KKernel>; }

}  // namespace frspec::kernels
