// Matmul kernel for Q5_K weights against ActQ8_K activations (q4k order: Q5_K keeps Q4_K's nibble layout).
// For one 256-value block, as for Q4_K:
//   dot = d * dx * sum_j sc[j] * (q . xq)_j  -  dmin * dx * sum_j m[j] * (sum of xq in sub-block j)
// with q = nibble | (bit j of qh) << 4 in 0..31. The first sum is exact in int32 (maddubs pairs
// <= 7874 in int16, weighted by the 6-bit scales); the second uses the activation's 16-value sums.
// AVX-512: both sums reduced to one int32 per block and (row, token), scaled in one float chain per output
// (ScalarChains), as the packed GEMM (cpu_gemm_kquants.cpp, Q4_K's tiles) does.
#include "engine/cpu_matmul_k45.h"
#include "engine/cpu_matmul_neon.h"

namespace frspec::FRSPEC_CPU::kernels {
namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
// 128 values per step: 64 quant bytes (sub-blocks 4h, 4h+2 in the low nibbles, 4h+1, 4h+3 in the high
// ones) and their high bits: qh[l] bit j for value l of sub-block j, so the 32 qh bytes, repeated in both
// halves of a register and shifted right by the sub-block number, put each value's bit 4 at bit 0.
struct Q5KKernel {
  static constexpr int kGemvRows = 4, kRows = 1, kToks = 8;  // as Q4_K

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    const BlockQ5_K* w[R];
    const ActQ8_K* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ5_K*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
    const __m512i nib = _mm512_set1_epi8(0x0f), one = _mm512_set1_epi8(0x01);
    ScalarChains<R, T> out;
    for (int64_t b = 0; b < nb; ++b) {
      for (int r = 0; r < R; ++r) prefetch_block_ahead(&w[r][b]);
      __m512i sc16[R];  // the 8 scales as int16 in lanes 0..7
      __m256i m16[R];   // mins, each repeated twice to line up with the 16 bsums
      __m512i qh[R];    // qh in both 256-bit halves
      for (int r = 0; r < R; ++r) {
        const __m256i sm = scales_mins_16(w[r][b].scales);
        sc16[r] = _mm512_zextsi256_si512(sm);
        m16[r] = _mm256_permutexvar_epi16(_mm256_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8), sm);
        qh[r] = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qh)));
      }
      __m512i isum[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) isum[r][t] = _mm512_setzero_si512();
      for (int h = 0; h < 2; ++h) {
        const __m512i pick_lo = _mm512_inserti64x4(_mm512_set1_epi16(short(4 * h)), _mm256_set1_epi16(short(4 * h + 2)), 1);
        const __m512i pick_hi = _mm512_inserti64x4(_mm512_set1_epi16(short(4 * h + 1)), _mm256_set1_epi16(short(4 * h + 3)), 1);
        // The sub-block numbers are also the qh shifts (a 16-bit shift by < 8 keeps each byte's bit in place).
        __m512i q_lo[R], q_hi[R], s_lo[R], s_hi[R];
        for (int r = 0; r < R; ++r) {
          const __m512i v = _mm512_loadu_si512(w[r][b].qs + 64 * h);
          const __m512i b_lo = _mm512_and_si512(_mm512_srlv_epi16(qh[r], pick_lo), one);
          const __m512i b_hi = _mm512_and_si512(_mm512_srlv_epi16(qh[r], pick_hi), one);
          q_lo[r] = _mm512_or_si512(_mm512_and_si512(v, nib), _mm512_slli_epi16(b_lo, 4));
          q_hi[r] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), nib), _mm512_slli_epi16(b_hi, 4));
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
      float d[R], nd[R], dx[T];
      for (int r = 0; r < R; ++r) {
        d[r] = _cvtsh_ss(w[r][b].d), nd[r] = -_cvtsh_ss(w[r][b].dmin);
        for (int t = 0; t < T; ++t)
          msum[r][t] = _mm256_madd_epi16(m16[r], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].bsums)));
      }
      for (int t = 0; t < T; ++t) dx[t] = x[t][b].d;
      out.template add_block<true>(isum, msum, d, nd, dx);
    }
    out.store(j, row, tok);
  }
};

#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
using Q5KKernel = K45Avx2Kernel<true>;  // cpu_matmul_k45.h

#elif defined(FRSPEC_NEON_KERNELS)
// arm64 (neon, dotprod, i8mm variants): cpu_matmul_neon.h.
using Q5KKernel = neon::QuantKernel<neon::TypeK45<true>>;

#else
using Q5KKernel = K45PortableKernel<true>;  // cpu_matmul_k45.h
#endif

}  // namespace

RowsFn rows_fn_q5_K() { return matmul_rows<Q5KKernel>; }

}  // namespace frspec::kernels
