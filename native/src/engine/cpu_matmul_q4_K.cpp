// Matmul kernel for Q4_K weights against ActQ8_K activations. For one 256-value block:
//   dot = d * dx * sum_j sc[j] * (q . xq)_j  -  dmin * dx * sum_j m[j] * (sum of xq in sub-block j)
// The first sum is exact in int32: 4-bit q times int8 xq pairs (maddubs, <= 3810 in int16), weighted by
// the 6-bit scales (vpdpwssd / madd). The second uses the activation's precomputed 16-value sums.
#include "engine/cpu_matmul_tiles.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#endif

namespace frspec::kernels {
namespace {

// The 8 scales and 8 mins of a block as bytes sc[0..7], m[0..7] (q4k_scale_min for all j at once).
inline void unpack_scales(const uint8_t* s, uint8_t sc[8], uint8_t m[8]) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, s, 4);
  std::memcpy(&u1, s + 4, 4);
  std::memcpy(&u2, s + 8, 4);
  const uint32_t sc_lo = u0 & 0x3f3f3f3f, m_lo = u1 & 0x3f3f3f3f;
  const uint32_t sc_hi = (u2 & 0x0f0f0f0f) | (((u0 >> 6) & 0x03030303) << 4);
  const uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0f) | (((u1 >> 6) & 0x03030303) << 4);
  std::memcpy(sc, &sc_lo, 4);
  std::memcpy(sc + 4, &sc_hi, 4);
  std::memcpy(m, &m_lo, 4);
  std::memcpy(m + 4, &m_hi, 4);
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
// 64 values per step: the 32 bytes qs[32k..32k+32) hold values 64k.. (low nibbles) then 64k+32..
// (high nibbles), which is exactly natural order once the two nibble halves are stacked.
struct Q4KKernel {
  static constexpr int kGemvRows = 4, kRows = 2, kToks = 4;

  template <int R, int T>
  static void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    const BlockQ4_K* w[R];
    const ActQ8_K* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ4_K*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
    const __m256i nib = _mm256_set1_epi8(0x0f);
    __m512 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      __m512i sc16[R];  // the 8 scales as int16 in lanes 0..7
      __m256i m16[R];   // mins, each repeated twice to line up with the 16 bsums
      for (int r = 0; r < R; ++r) {
        alignas(16) uint8_t sc[16], m[8];
        unpack_scales(w[r][b].scales, sc, m);
        sc16[r] = _mm512_zextsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc))));
        const __m128i mm = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(m));
        m16[r] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mm, mm));
      }
      __m512i isum[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) isum[r][t] = _mm512_setzero_si512();
      for (int k = 0; k < 4; ++k) {
        // lanes 0..15 (values 64k..64k+31) take scale 2k, lanes 16..31 take scale 2k+1
        const __m512i pick = _mm512_inserti64x4(_mm512_set1_epi16(short(2 * k)), _mm256_set1_epi16(short(2 * k + 1)), 1);
        __m512i q[R], s[R];
        for (int r = 0; r < R; ++r) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qs + 32 * k));
          q[r] = _mm512_inserti64x4(_mm512_zextsi256_si512(_mm256_and_si256(v, nib)),
                                    _mm256_and_si256(_mm256_srli_epi16(v, 4), nib), 1);
          s[r] = _mm512_permutexvar_epi16(pick, sc16[r]);
        }
        for (int t = 0; t < T; ++t) {
          const __m512i xq = _mm512_loadu_si512(x[t][b].qs + 64 * k);
          for (int r = 0; r < R; ++r) isum[r][t] = _mm512_dpwssd_epi32(isum[r][t], _mm512_maddubs_epi16(q[r], xq), s[r]);
        }
      }
      for (int r = 0; r < R; ++r) {
        const float d = _cvtsh_ss(w[r][b].d), dmin = _cvtsh_ss(w[r][b].dmin);
        for (int t = 0; t < T; ++t) {
          const float dx = x[t][b].d;
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][t]), _mm512_set1_ps(d * dx), acc[r][t]);
          const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].bsums));
          const __m256 msum = _mm256_cvtepi32_ps(_mm256_madd_epi16(m16[r], bs));
          acc[r][t] = _mm512_fmadd_ps(_mm512_zextps256_ps512(msum), _mm512_set1_ps(-dmin * dx), acc[r][t]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) j.store(row + r, tok + t, _mm512_reduce_add_ps(acc[r][t]));
  }
};

#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 32 values (one sub-block) per step.
struct Q4KKernel {
  static constexpr int kGemvRows = 2, kRows = 2, kToks = 4;

  template <int R, int T>
  static void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    const BlockQ4_K* w[R];
    const ActQ8_K* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ4_K*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
    const __m256i nib = _mm256_set1_epi8(0x0f);
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t sc[R][8], m[R][8];
      __m256i m16[R];
      for (int r = 0; r < R; ++r) {
        unpack_scales(w[r][b].scales, sc[r], m[r]);
        const __m128i mm = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(m[r]));
        m16[r] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mm, mm));
      }
      __m256i isum[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) isum[r][t] = _mm256_setzero_si256();
      for (int sb = 0; sb < 8; ++sb) {
        __m256i q[R], s[R];
        for (int r = 0; r < R; ++r) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qs + 32 * (sb / 2)));
          q[r] = (sb & 1) ? _mm256_and_si256(_mm256_srli_epi16(v, 4), nib) : _mm256_and_si256(v, nib);
          s[r] = _mm256_set1_epi16(short(sc[r][sb]));
        }
        for (int t = 0; t < T; ++t) {
          const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].qs + 32 * sb));
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
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) j.store(row + r, tok + t, hsum8(acc[r][t]));
  }
};

#else
// Portable fallback: the same integer sums, one (row, token) pair at a time.
struct Q4KKernel {
  static constexpr int kGemvRows = 1, kRows = 1, kToks = 1;

  template <int R, int T>
  static void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        const BlockQ4_K* w = reinterpret_cast<const BlockQ4_K*>(j.weight_row(row + r));
        const ActQ8_K* x = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
        float acc = 0;
        for (int64_t b = 0; b < nb; ++b) {
          uint8_t sc[8], m[8];
          unpack_scales(w[b].scales, sc, m);
          int32_t isum = 0, msum = 0;
          for (int sb = 0; sb < 8; ++sb) {
            const uint8_t* q = w[b].qs + 32 * (sb / 2);
            int32_t dot = 0;
            for (int i = 0; i < 32; ++i) dot += ((sb & 1) ? (q[i] >> 4) : (q[i] & 0xF)) * int32_t(x[b].qs[32 * sb + i]);
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
#endif

}  // namespace

RowsFn rows_fn_q4_K() { return matmul_rows<Q4KKernel>; }

}  // namespace frspec::kernels
