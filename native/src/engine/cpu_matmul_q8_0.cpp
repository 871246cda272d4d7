// Matmul kernel for Q8_0 weights against Q8_0-style activations (ActQ8_0, float scale). Per 32-value
// block the int8 x int8 dot is exact in int32 (llama.cpp's sign trick makes it unsigned x signed for
// vpdpbusd / maddubs: |w| * (x with w's sign)); each block's integer sum is then scaled by d_w * d_x and
// accumulated in F32, one 8-lane accumulator per (row, token).
#include <cstring>

#include "engine/cpu_matmul_simd.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define FRSPEC_Q8_SIMD 1
#endif

namespace frspec::kernels {
namespace {

#if FRSPEC_Q8_SIMD
// Eight int32 partial sums of |w| . (x signed like w) over one block.
inline __m256i block_dot(__m256i abs_w, __m256i signed_x) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), abs_w, signed_x);
#else
  // |w| <= 128 and |x| <= 127: a pair sums to at most 32512, inside int16.
  return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, signed_x), _mm256_set1_epi16(1));
#endif
}
#endif

struct Q8_0Kernel {
  static constexpr int kGemvRows = 4, kRows = 4, kToks = 4;

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK8_0;
    const BlockQ8_0* w[R];
    const ActQ8_0* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ8_0*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_0*>(j.act_row(tok + t));
#if FRSPEC_Q8_SIMD
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      if constexpr (T == 1)
        for (int r = 0; r < R; ++r) prefetch_block_ahead(&w[r][b]);
      __m256i wq[R], wabs[R];
      float dw[R];
      for (int r = 0; r < R; ++r) {
        wq[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qs));
        wabs[r] = _mm256_sign_epi8(wq[r], wq[r]);
        dw[r] = _cvtsh_ss(w[r][b].d);
      }
      for (int t = 0; t < T; ++t) {
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].qs));
        for (int r = 0; r < R; ++r) {
          const __m256 dot = _mm256_cvtepi32_ps(block_dot(wabs[r], _mm256_sign_epi8(xq, wq[r])));
          acc[r][t] = _mm256_fmadd_ps(dot, _mm256_set1_ps(dw[r] * x[t][b].d), acc[r][t]);
        }
      }
    }
    store_tile<R, T>(j, row, tok, acc);
#else
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        float acc = 0;
        for (int64_t b = 0; b < nb; ++b) {
          int32_t dot = 0;
          for (int i = 0; i < QK8_0; ++i) dot += int32_t(w[r][b].qs[i]) * x[t][b].qs[i];
          acc += float(dot) * (f16_to_f32(w[r][b].d) * x[t][b].d);
        }
        j.store(row + r, tok + t, acc);
      }
#endif
  }
};

}  // namespace

RowsFn rows_fn_q8_0() { return matmul_rows<Q8_0Kernel>; }

}  // namespace frspec::kernels
