// Matmul kernel for Q4_K weights against ActQ8_K activations. For one 256-value block:
//   dot = d * dx * sum_j sc[j] * (q . xq)_j  -  dmin * dx * sum_j m[j] * (sum of xq in sub-block j)
// The first sum is exact in int32: 4-bit q times int8 xq pairs (maddubs, <= 3810 in int16), weighted by
// the 6-bit scales (vpdpwssd / madd). The second uses the activation's precomputed 16-value sums.
// AVX-512: both sums are reduced to one int32 per block and (row, token), then scaled in one float chain
// per output (ScalarChains), so that the packed GEMM (cpu_gemm_kquants.cpp) can give the same bits.
#include "engine/cpu_matmul_k45.h"
#include "engine/cpu_matmul_neon.h"

namespace frspec::FRSPEC_CPU::kernels {
namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
// 128 values per step: 64 quant bytes and two 64-value activation vectors (q4k order, see kQ4KSlot).
struct Q4KKernel {
  // GEMM: 1 row x 8 tokens (measured 1.2-1.9x faster than 2 x 4 at n = 8..64: fewer registers spilled).
  static constexpr int kGemvRows = 4, kRows = 1, kToks = 8;

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    const BlockQ4_K* w[R];
    const ActQ8_K* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ4_K*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
    const __m512i nib = _mm512_set1_epi8(0x0f);
    ScalarChains<R, T> out;
    for (int64_t b = 0; b < nb; ++b) {
      for (int r = 0; r < R; ++r) prefetch_block_ahead(&w[r][b]);
      __m512i sc16[R];  // the 8 scales as int16 in lanes 0..7 (the mins in 8..15)
      __m256i m16[R];   // mins, each repeated twice to line up with the 16 bsums
      float d[R], nd[R];
      [[maybe_unused]] __m128 d4[R / 4 > 0 ? R / 4 : 1], nd4[R / 4 > 0 ? R / 4 : 1];
      if constexpr (R % 4 == 0 && T == 1) {  // the GEMV: four rows' block heads unpacked in one register
        for (int q = 0; q < R / 4; ++q) block_heads_x4(&w[4 * q][b], &w[4 * q + 1][b], &w[4 * q + 2][b], &w[4 * q + 3][b], sc16 + 4 * q, d4[q], nd4[q]);
      } else {
        for (int r = 0; r < R; ++r) {
          sc16[r] = _mm512_zextsi256_si512(scales_mins_16(w[r][b].scales));
          d[r] = _cvtsh_ss(w[r][b].d), nd[r] = -_cvtsh_ss(w[r][b].dmin);
        }
      }
      for (int r = 0; r < R; ++r)
        m16[r] = _mm256_permutexvar_epi16(_mm256_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8), _mm512_castsi512_si256(sc16[r]));
      __m512i isum[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) isum[r][t] = _mm512_setzero_si512();
      if constexpr (T == 1) {
        // One token: vpdpbusd sums 4 products per int32 lane (<= 4 * 15 * 127, so int16 holds it), two such
        // vectors pack into one of int16 (per 128-bit lane: 4 lanes of the low nibbles' sub-block, then 4 of
        // the high nibbles'), and one vpdpwssd weights them with the scales: 3 multiplies per 128 values
        // instead of 4. The block's integer sum is the same.
        for (int h = 0; h < 2; ++h) {
          alignas(64) int16_t pick_idx[32];
          for (int l = 0; l < 4; ++l)
            for (int i = 0; i < 8; ++i) pick_idx[8 * l + i] = short(4 * h + (l < 2 ? 0 : 2) + (i < 4 ? 0 : 1));
          const __m512i pick = _mm512_load_si512(pick_idx);
          const __m512i x_lo = _mm512_loadu_si512(x[0][b].qs + 128 * h), x_hi = _mm512_loadu_si512(x[0][b].qs + 128 * h + 64);
          for (int r = 0; r < R; ++r) {
            const __m512i v = _mm512_loadu_si512(w[r][b].qs + 64 * h);
            const __m512i d_lo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(v, nib), x_lo);
            const __m512i d_hi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(_mm512_srli_epi16(v, 4), nib), x_hi);
            isum[r][0] = _mm512_dpwssd_epi32(isum[r][0], _mm512_packs_epi32(d_lo, d_hi), _mm512_permutexvar_epi16(pick, sc16[r]));
          }
        }
      } else  // several tokens (the tile GEMM): maddubs + vpdpwssd, the scales on the int16 pair sums
      for (int h = 0; h < 2; ++h) {
        // 64 quant bytes = sub-blocks 4h, 4h+2 (low nibbles) and 4h+1, 4h+3 (high nibbles); the activation
        // holds them in that order. int16 lanes 0..15 take the first sub-block's scale, 16..31 the second's.
        const __m512i pick_lo = _mm512_inserti64x4(_mm512_set1_epi16(short(4 * h)), _mm256_set1_epi16(short(4 * h + 2)), 1);
        const __m512i pick_hi = _mm512_inserti64x4(_mm512_set1_epi16(short(4 * h + 1)), _mm256_set1_epi16(short(4 * h + 3)), 1);
        __m512i q_lo[R], q_hi[R], s_lo[R], s_hi[R];
        for (int r = 0; r < R; ++r) {
          const __m512i v = _mm512_loadu_si512(w[r][b].qs + 64 * h);
          q_lo[r] = _mm512_and_si512(v, nib);
          q_hi[r] = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
          s_lo[r] = _mm512_permutexvar_epi16(pick_lo, sc16[r]);
          s_hi[r] = _mm512_permutexvar_epi16(pick_hi, sc16[r]);
        }
        for (int t = 0; t < T; ++t) {
          const __m512i x_lo = _mm512_loadu_si512(x[t][b].qs + 128 * h), x_hi = _mm512_loadu_si512(x[t][b].qs + 128 * h + 64);
          for (int r = 0; r < R; ++r) {
            isum[r][t] = _mm512_dpwssd_epi32(isum[r][t], _mm512_maddubs_epi16(q_lo[r], x_lo), s_lo[r]);
            isum[r][t] = _mm512_dpwssd_epi32(isum[r][t], _mm512_maddubs_epi16(q_hi[r], x_hi), s_hi[r]);
          }
        }
      }
      __m256i msum[R][T];  // m[j] * (sum of xq in sub-block j), j = 0..7
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t)
          msum[r][t] = _mm256_madd_epi16(m16[r], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].bsums)));
      if constexpr (R % 4 == 0 && T == 1) {
        out.template add_block_rows4<true>(isum, msum, d4, nd4, x[0][b].d);
      } else {
        float dx[T];
        for (int t = 0; t < T; ++t) dx[t] = x[t][b].d;
        out.template add_block<true>(isum, msum, d, nd, dx);
      }
    }
    out.store(j, row, tok);
  }
};

#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
using Q4KKernel = K45Avx2Kernel<false>;  // cpu_matmul_k45.h

#elif defined(FRSPEC_NEON_KERNELS)
// arm64 (neon, dotprod, i8mm variants): cpu_matmul_neon.h.
using Q4KKernel = neon::QuantKernel<neon::TypeK45<false>>;

#else
using Q4KKernel = K45PortableKernel<false>;  // cpu_matmul_k45.h
#endif

}  // namespace

RowsFn rows_fn_q4_K() { return matmul_rows<Q4KKernel>; }

}  // namespace frspec::kernels
