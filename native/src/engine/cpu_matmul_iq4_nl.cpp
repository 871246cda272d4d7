// Matmul kernels for IQ4_NL weights against ActQ8_0x2 activations. IQ4_NL is Q4_0's block (f16 d, 16 bytes
// of nibbles: value j low nibble of qs[j], value j + 16 high nibble) with the nibble indexing the non-linear
// table kIQ4NL (-127..113) instead of q - 8. llama-quantize writes it wherever an IQ4_XS file has rows that are
// not a multiple of 256 (Qwen2.5-Coder-0.5B: d = 896), so an IQ4_XS file of such a model needs it.
//   dot = d dx sum_i kIQ4NL[q_i] xq_i     (exact in int32)
// AVX-512 (VNNI): as the Q4_0 kernel (cpu_matmul_q4_0.cpp: two blocks per step, PairChains epilogue, the
// same packed GEMM scheme), with the table looked up biased to unsigned bytes (kIQ4NL + 128, 1..241) so
// vpdpbusd multiplies it, and the bias removed as Q4_0 removes its offset 8: T = dot - 128 S. GEMV, tile and
// packed GEMM therefore give the same bits. AVX2: the sign trick (maddubs of |xq| with the table value
// carrying xq's sign), its own float chain as the other AVX2 kernels. Scalar: the same integer sums.
#include <cstddef>

#include "engine/cpu_gemm_packed.h"
#include "engine/cpu_matmul_neon.h"
#include "engine/cpu_matmul_simd.h"

namespace frspec::FRSPEC_CPU::kernels {
namespace {

constexpr int kBlockBytes = int(sizeof(BlockIQ4_NL));  // 18: f16 d at byte 0, qs at byte 2

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
// The 64 biased table values of a pair of blocks in value order (a missing second block: zero nibbles,
// whose values are multiplied by zero activations and scaled by d = 0).
FRSPEC_INLINE __m512i pair_values(__m512i pair, const BlockIQ4_NL* b, bool second, __m512i table) {
#if defined(__AVX512VBMI__)
  (void)b, (void)second;
  alignas(64) static constexpr auto kIdx = [] {
    struct { uint8_t v[64]; } t{};
    for (int i = 0; i < 64; ++i) t.v[i] = uint8_t((i / 32) * kBlockBytes + 2 + (i % 16));
    return t;
  }();
  const __m512i qq = _mm512_permutexvar_epi8(_mm512_load_si512(kIdx.v), pair);  // [qs0 qs0 qs1 qs1]
#else
  (void)pair;
  const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[0].qs));
  const __m128i q1 = second ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[1].qs)) : _mm_setzero_si128();
  const __m512i v = _mm512_castsi256_si512(_mm256_set_m128i(q1, q0));
  const __m512i qq = _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(1, 1, 0, 0));
#endif
  // Low nibbles in 128-bit lanes 0 and 2 (values 0..15), high nibbles in lanes 1 and 3 (16..31).
  const __m512i q = _mm512_and_si512(_mm512_mask_srli_epi16(qq, 0xFF00FF00u, qq, 4), _mm512_set1_epi8(0x0f));
  return _mm512_shuffle_epi8(table, q);
}

struct IQ4NLKernel {
  static constexpr int kGemvRows = 8, kRows = 4, kToks = 4;  // as Q4_0

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK4_0, np = act_q8_0_pairs(j.w->cols);
    const BlockIQ4_NL* w[R];
    const ActQ8_0x2* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockIQ4_NL*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_0x2*>(j.act_row(tok + t));
    const __m512i ones = _mm512_set1_epi8(1), table = iq4nl_biased_table();
    PairChains<R, T> out;
    for (int64_t p = 0; p < np; ++p) {
      const bool second = 2 * p + 1 < nb;
      __m512i q[R], pr[R];
      const __mmask64 bytes = second ? ~0ull >> (64 - 2 * kBlockBytes) : ~0ull >> (64 - kBlockBytes);
      for (int r = 0; r < R; ++r) {
        const BlockIQ4_NL* b = &w[r][2 * p];
        prefetch_block_ahead(b);
        pr[r] = _mm512_maskz_loadu_epi8(bytes, b);
        q[r] = pair_values(pr[r], b, second, table);
      }
      __m512i v[R][T];
      for (int t = 0; t < T; ++t) {
        const __m512i xq = _mm512_loadu_si512(x[t][p].qs);
        const __m512i sx128 = _mm512_slli_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, xq), 7);
        for (int r = 0; r < R; ++r) v[r][t] = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), q[r], xq), sx128);
      }
      out.template add_pair<false, kBlockBytes>(v, pr, x, p, second);
    }
    out.store(j, row, tok);
  }
};

// Packed GEMM (cpu_gemm_packed.h), as the Q4_0 one: per pair of blocks of 16 rows, the biased values
// row-interleaved and each block's d per row; per (row, token) and block T = dot - 128 S, scaled as
// PairChains does.
struct alignas(64) PackedPairNL {
  uint8_t q[16][packed::kGroup][4];  // K-quads 0..7: block 2p, 8..15: block 2p + 1
  float d[2][packed::kGroup];
};

void pack_iq4_nl(const MatmulJob& j, int64_t row, int valid, PackedPairNL* out) {
  const int64_t nb = j.w->cols / QK4_0, np = act_q8_0_pairs(j.w->cols);
  const __m512i table = iq4nl_biased_table();
  for (int64_t p = 0; p < np; ++p) {
    const bool second = 2 * p + 1 < nb;
    const __mmask64 bytes = second ? ~0ull >> (64 - 2 * kBlockBytes) : ~0ull >> (64 - kBlockBytes);
    __m512i v[packed::kGroup];
    PackedPairNL& o = out[p];
    for (int r = 0; r < packed::kGroup; ++r) {
      if (r >= valid) {
        v[r] = _mm512_setzero_si512();
        o.d[0][r] = o.d[1][r] = 0.f;
        continue;
      }
      const BlockIQ4_NL* b = reinterpret_cast<const BlockIQ4_NL*>(j.weight_row(row + r)) + 2 * p;
      v[r] = pair_values(_mm512_maskz_loadu_epi8(bytes, b), b, second, table);
      o.d[0][r] = _cvtsh_ss(b[0].d);
      o.d[1][r] = second ? _cvtsh_ss(b[1].d) : 0.f;
    }
    packed::transpose16x16(v);
    for (int k = 0; k < 16; ++k) _mm512_store_si512(o.q[k], v[k]);
  }
}

template <int T>
struct TileIQ4NL {
  static void run(const MatmulJob& j, const PackedPairNL* pk, int64_t row, int valid, int tok) {
    const int64_t nb = j.w->cols / QK4_0;
    const ActQ8_0x2* x[T];
    const int32_t* sums[T];
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_0x2*>(j.act_row(tok + t)), sums[t] = j.act_sums + size_t(tok + t) * nb;
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const PackedPairNL& p = pk[b / 2];
      const int h = int(b % 2);
      __m512i dot[T];
      for (int t = 0; t < T; ++t) dot[t] = _mm512_setzero_si512();
      for (int q = 0; q < 8; ++q) {
        const __m512i wv = _mm512_load_si512(p.q[8 * h + q]);
        for (int t = 0; t < T; ++t)
          dot[t] = _mm512_dpbusd_epi32(dot[t], wv, _mm512_set1_epi32(packed::load_i32(x[t][b / 2].qs + 32 * h + 4 * q)));
      }
      const __m512 d = _mm512_load_ps(p.d[h]);
      for (int t = 0; t < T; ++t) {
        const __m512i total = _mm512_sub_epi32(dot[t], _mm512_set1_epi32(sums[t][b] << 7));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(d, _mm512_set1_ps(x[t][b / 2].d[8 * h])), acc[t]);
      }
    }
    packed::store_rows<T>(j, row, valid, tok, acc);
  }
};

#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
// One block per step.
struct IQ4NLKernel {
  static constexpr int kGemvRows = 2, kRows = 2, kToks = 2;  // as Q4_0

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK4_0;
    const BlockIQ4_NL* w[R];
    const ActQ8_0x2* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockIQ4_NL*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_0x2*>(j.act_row(tok + t));
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NL)));
    const __m128i nib = _mm_set1_epi8(0x0f);
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      __m256i q[R];
      __m256 dw[R];
      for (int r = 0; r < R; ++r) {
        prefetch_block_ahead(&w[r][b]);
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r][b].qs));
        q[r] = _mm256_shuffle_epi8(table, _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), nib), _mm_and_si128(v, nib)));
        dw[r] = _mm256_set1_ps(_cvtsh_ss(w[r][b].d));
      }
      for (int t = 0; t < T; ++t) {
        const ActQ8_0x2& xp = x[t][b / 2];
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xp.qs + QK8_0 * (b % 2)));
        const __m256 dx = _mm256_loadu_ps(xp.d + 8 * (b % 2));
        const __m256i ax = _mm256_sign_epi8(xq, xq);
        for (int r = 0; r < R; ++r) {
          // |xq| <= 127 and |table| <= 127: a pair sums to at most 32258, inside int16.
          const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(q[r], xq)), ones16);
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw[r], dx), acc[r][t]);
        }
      }
    }
    store_tile<R, T>(j, row, tok, acc);
  }
};

#elif defined(FRSPEC_NEON_KERNELS)
// arm64 (neon, dotprod, i8mm variants): cpu_matmul_neon.h.
using IQ4NLKernel = neon::QuantKernel<neon::TypeIQ4NL>;

#else
// Portable fallback: the same integer sums, one (row, token) pair at a time.
struct IQ4NLKernel {
  static constexpr int kGemvRows = 1, kRows = 1, kToks = 1;

  template <int R, int T>
  static void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK4_0;
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        const BlockIQ4_NL* w = reinterpret_cast<const BlockIQ4_NL*>(j.weight_row(row + r));
        const ActQ8_0x2* x = reinterpret_cast<const ActQ8_0x2*>(j.act_row(tok + t));
        float acc = 0;
        for (int64_t b = 0; b < nb; ++b) {
          const int8_t* xq = x[b / 2].qs + QK8_0 * (b % 2);
          int32_t dot = 0;
          for (int i = 0; i < QK4_0; ++i) dot += kIQ4NL[i < 16 ? w[b].qs[i] & 0xF : w[b].qs[i - 16] >> 4] * int32_t(xq[i]);
          acc += float(dot) * (f16_to_f32(w[b].d) * x[b / 2].d[8 * (b % 2)]);
        }
        j.store(row + r, tok + t, acc);
      }
  }
};
#endif

}  // namespace

RowsFn rows_fn_iq4_nl() { return matmul_rows<IQ4NLKernel>; }

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
RowsFn gemm_fn_iq4_nl() { return packed::gemm_rows<PackedPairNL, pack_iq4_nl, TileIQ4NL, 2 * QK4_0>; }
#else
RowsFn gemm_fn_iq4_nl() { return nullptr; }
#endif

}  // namespace frspec::kernels
