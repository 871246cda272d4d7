// Matmul kernel for Q8_0 weights against 8-bit activations (ActQ8_0x2: blocks of 32 with float scales,
// in pairs). Per 32-value block the int8 x int8 dot is exact in int32 (llama.cpp's sign trick makes it
// unsigned x signed for vpdpbusd / maddubs: |w| times x with w's sign); the block's integer sums are
// then scaled by d_w * d_x and accumulated in F32, one accumulator per (row, token). AVX-512: a block's
// lanes are reduced to one int32 first (PairChains), the float chain the packed GEMM also computes.
#include "engine/cpu_gemm_pairs.h"
#include "engine/cpu_matmul_neon.h"
#include "engine/cpu_matmul_simd.h"

namespace frspec::FRSPEC_CPU::kernels {
namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
// Two blocks per step: int32 lanes 0..7 hold the first block's sums, 8..15 the second's. A row with an
// odd number of blocks ends with a step whose second block is zeros.
struct Q8_0Kernel {
  static constexpr int kGemvRows = 8, kRows = 4, kToks = 4;  // 8-row GEMV: measured as fast as before the PairChains reduction

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK8_0, np = act_q8_0_pairs(j.w->cols);
    const BlockQ8_0* w[R];
    const ActQ8_0x2* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ8_0*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_0x2*>(j.act_row(tok + t));
    PairChains<R, T> out;
    for (int64_t p = 0; p < np; ++p) {
      const bool second = 2 * p + 1 < nb;
      __m512i wabs[R], pr[R];  // pr: the pair's first 64 bytes (d of block 0 at word 0, of block 1 at word 17)
      __mmask64 wneg[R];
      for (int r = 0; r < R; ++r) {
        const BlockQ8_0* b = &w[r][2 * p];
        prefetch_block_ahead(b);
        pr[r] = _mm512_maskz_loadu_epi8(second ? ~0ull : ~0ull >> (64 - int(sizeof(BlockQ8_0))), b);
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[0].qs));
        const __m256i hi = second ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[1].qs)) : _mm256_setzero_si256();
        const __m512i q = _mm512_inserti64x4(_mm512_zextsi256_si512(lo), hi, 1);
        wabs[r] = _mm512_abs_epi8(q);
        wneg[r] = _mm512_movepi8_mask(q);
      }
      __m512i v[R][T];
      for (int t = 0; t < T; ++t) {
        const __m512i xq = _mm512_loadu_si512(x[t][p].qs);
        for (int r = 0; r < R; ++r) {
          const __m512i xs = _mm512_mask_sub_epi8(xq, wneg[r], _mm512_setzero_si512(), xq);  // x with w's sign
          v[r][t] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wabs[r], xs);
        }
      }
      out.template add_pair<false, int(sizeof(BlockQ8_0))>(v, pr, x, p, second);
    }
    out.store(j, row, tok);
  }
};

// Packed GEMM (cpu_gemm_pairs.h) for prompt chunks: the quants made unsigned (w + 128), so that the shared tile's
// T = dot(w + 128, x) - 128 S = w . x exactly, scaled as PairChains does.
struct Q8_0Pairs {
  static constexpr bool has_min = false;
  static constexpr int offset_shift = 7;  // the bias 128
};

void pack_q8_0(const MatmulJob& j, int64_t row, int valid, pairs::Packed* out) {
  const int64_t nb = j.w->cols / QK8_0, np = act_q8_0_pairs(j.w->cols);
  const __m512i bias = _mm512_set1_epi8(char(0x80));
  for (int64_t p = 0; p < np; ++p) {
    const bool second = 2 * p + 1 < nb;
    __m512i v[packed::kGroup];
    pairs::Packed& o = out[p];
    for (int r = 0; r < packed::kGroup; ++r) {
      if (r >= valid) {
        v[r] = _mm512_setzero_si512();
        o.d[0][r] = o.d[1][r] = 0.f;
        continue;
      }
      const BlockQ8_0* b = reinterpret_cast<const BlockQ8_0*>(j.weight_row(row + r)) + 2 * p;
      const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[0].qs));
      const __m256i hi = second ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[1].qs)) : _mm256_setzero_si256();
      v[r] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_zextsi256_si512(lo), hi, 1), bias);
      o.d[0][r] = _cvtsh_ss(b[0].d);
      o.d[1][r] = second ? _cvtsh_ss(b[1].d) : 0.f;
    }
    packed::transpose16x16(v);
    for (int k = 0; k < 16; ++k) _mm512_store_si512(o.q[k], v[k]);
  }
}

#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
// One block per step.
struct Q8_0Kernel {
  static constexpr int kGemvRows = 4, kRows = 4, kToks = 2;  // 16 ymm registers

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK8_0;
    const BlockQ8_0* w[R];
    const ActQ8_0x2* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ8_0*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_0x2*>(j.act_row(tok + t));
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      __m256i wq[R], wabs[R];
      __m256 dw[R];
      for (int r = 0; r < R; ++r) {
        prefetch_block_ahead(&w[r][b]);
        wq[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qs));
        wabs[r] = _mm256_sign_epi8(wq[r], wq[r]);
        dw[r] = _mm256_set1_ps(_cvtsh_ss(w[r][b].d));
      }
      for (int t = 0; t < T; ++t) {
        const ActQ8_0x2& xp = x[t][b / 2];
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xp.qs + QK8_0 * (b % 2)));
        const __m256 dx = _mm256_loadu_ps(xp.d + 8 * (b % 2));
        for (int r = 0; r < R; ++r) {
          // |w| <= 128 and |x| <= 127: a pair sums to at most 32512, inside int16.
          const __m256i p = _mm256_maddubs_epi16(wabs[r], _mm256_sign_epi8(xq, wq[r]));
          const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
          acc[r][t] = _mm256_fmadd_ps(dot, _mm256_mul_ps(dw[r], dx), acc[r][t]);
        }
      }
    }
    store_tile<R, T>(j, row, tok, acc);
  }
};

#elif defined(FRSPEC_NEON_KERNELS)
// arm64 (neon, dotprod, i8mm variants): cpu_matmul_neon.h.
using Q8_0Kernel = neon::QuantKernel<neon::TypeQ8_0>;

#else
// Portable fallback: one (row, token) pair at a time.
struct Q8_0Kernel {
  static constexpr int kGemvRows = 1, kRows = 1, kToks = 1;

  template <int R, int T>
  static void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK8_0;
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        const BlockQ8_0* w = reinterpret_cast<const BlockQ8_0*>(j.weight_row(row + r));
        const ActQ8_0x2* x = reinterpret_cast<const ActQ8_0x2*>(j.act_row(tok + t));
        float acc = 0;
        for (int64_t b = 0; b < nb; ++b) {
          const int8_t* xq = x[b / 2].qs + QK8_0 * (b % 2);
          int32_t dot = 0;
          for (int i = 0; i < QK8_0; ++i) dot += int32_t(w[b].qs[i]) * xq[i];
          acc += float(dot) * (f16_to_f32(w[b].d) * x[b / 2].d[8 * (b % 2)]);
        }
        j.store(row + r, tok + t, acc);
      }
  }
};
#endif

}  // namespace

RowsFn rows_fn_q8_0() { return matmul_rows<Q8_0Kernel>; }
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
RowsFn gemm_fn_q8_0() { return pairs::gemm<Q8_0Pairs, pack_q8_0>(); }
#else
RowsFn gemm_fn_q8_0() { return nullptr; }
#endif

}  // namespace frspec::kernels
