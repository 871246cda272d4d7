// Matmul kernels for the 32-value formats with Q4_0's block layout: the legacy Q4_0, Q4_1, Q5_0 and Q5_1, and
// IQ4_NL, against the same 8-bit activation blocks as Q8_0 (ActQ8_0x2). Each weight block is unpacked to
// unsigned quants q: 0..15 (4-bit), 0..31 (5-bit), or for IQ4_NL the nibble's entry of the non-linear table
// kIQ4NL biased to unsigned bytes (kIQ4NL + 128: 1..241), whose integer dot with the activation quants is exact
// in int32 (vpdpbusd: unsigned x signed, no sign trick needed). With sx = the sum of the block's activation quants:
//   Q4_0 / Q5_0 / IQ4_NL  x = d (q - o)   dot = d dx ((q . xq) - o sx)   o = 8 / 16 / 128, exact in int32
//   Q4_1 / Q5_1           x = d q + m     dot = d dx (q . xq) + m (dx sx)   (dx sx once per token)
// then accumulated in F32, one accumulator per (row, token), blocks in order (the tile contract). AVX-512:
// each block's integer sums are reduced to one int32 per (row, token) first (PairChains), the float chain
// the packed GEMM (cpu_gemm_pairs.h) also computes, so GEMV, tile and packed GEMM give the same bits. AVX2
// multiplies with maddubs, whose int16 pairs IQ4_NL's biased values would overflow: there IQ4_NL takes the sign
// trick (|xq| times the signed table value carrying xq's sign). IQ4_NL is what llama-quantize writes in IQ4_XS
// files wherever rows are not a multiple of 256 (Qwen2.5-Coder-0.5B: d = 896).
#include <cstddef>

#include <type_traits>

#include "engine/cpu_gemm_pairs.h"
#include "engine/cpu_matmul_legacy.h"
#include "engine/cpu_matmul_neon.h"
#include "engine/cpu_matmul_simd.h"

namespace frspec::FRSPEC_CPU::kernels {
namespace {

// Legacy<Block, five_bit, has_min, table> and Q4_0 .. Q5_1, IQ4_NL: cpu_matmul_legacy.h.

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
// Two blocks per step, as the Q8_0 kernel: int32 lanes 0..7 hold the first block's sums, 8..15 the
// second's; a row with an odd number of blocks ends with a step whose second block is zeros.
template <class F>
struct LegacyKernel {
  // GEMV: 8 rows, measured as fast as 4 were before the PairChains reduction (layer shapes); GEMM: 2 x 8 (6 with m)
  // measured no faster at n = 8.
  static constexpr int kGemvRows = 8, kRows = 4, kToks = 4;

  // A pair of blocks is read with one masked load of its 2 * kBytes bytes (never past the row's end); word
  // and byte permutes then put each field where the lanes need it.
  static constexpr uint16_t kWordD1 = F::kBytes / 2, kWordM0 = 1, kWordM1 = F::kBytes / 2 + 1;

  // int16 lanes 0..7 <- word a, lanes 8..15 <- word b (the two blocks' d or m), as 16 floats.
  static FRSPEC_INLINE __m512 halves(__m512i pair, uint16_t a, uint16_t b) {
    const __m512i idx = _mm512_castsi256_si512(_mm256_set_m128i(_mm_set1_epi16(short(b)), _mm_set1_epi16(short(a))));
    return _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(idx, pair)));
  }

  // The 64 unsigned quants of the pair, in value order (4-bit: low nibbles are values 0..15 of a block,
  // high nibbles 16..31; 5-bit: plus bit j of the block's qh as bit 4 of value j; IQ4_NL: the nibbles'
  // biased table values).
  static FRSPEC_INLINE __m512i quants(__m512i pair, const typename F::B* b, bool second) {
#if defined(__AVX512VBMI__)
    (void)b, (void)second;
    alignas(64) static constexpr auto kIdx = [] {
      struct { uint8_t v[64]; } t{};
      for (int i = 0; i < 64; ++i) t.v[i] = uint8_t((i / 32) * F::kBytes + F::kQs + (i % 16));
      return t;
    }();
    const __m512i qq = _mm512_permutexvar_epi8(_mm512_load_si512(kIdx.v), pair);  // [qs0 qs0 qs1 qs1]
#else
    (void)pair;
    const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[0].qs));
    const __m128i q1 = second ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[1].qs)) : _mm_setzero_si128();
    const __m512i v = _mm512_castsi256_si512(_mm256_set_m128i(q1, q0));
    const __m512i qq = _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(1, 1, 0, 0));  // [qs0 qs0 qs1 qs1]
#endif
    // Low nibbles in 128-bit lanes 0 and 2 (values 0..15), high nibbles in lanes 1 and 3 (16..31).
    __m512i q = _mm512_and_si512(_mm512_mask_srli_epi16(qq, 0xFF00FF00u, qq, 4), _mm512_set1_epi8(0x0f));
    if constexpr (F::five_bit) {
      // From memory with scalar loads: the vector ports are this kernel's bottleneck, the scalar ones idle.
      const uint64_t h = uint64_t(F::high_bits(b[0])) | (second ? uint64_t(F::high_bits(b[1])) << 32 : 0);
      q = _mm512_mask_add_epi8(q, __mmask64(h), q, _mm512_set1_epi8(16));
    }
    if constexpr (F::table) q = _mm512_shuffle_epi8(iq4nl_biased_table(), q);
    return q;
  }

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK4_0, np = act_q8_0_pairs(j.w->cols);
    const typename F::B* w[R];
    const ActQ8_0x2* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const typename F::B*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_0x2*>(j.act_row(tok + t));
    const __m512i ones = _mm512_set1_epi8(1);
    PairChains<R, T> out;
    for (int64_t p = 0; p < np; ++p) {
      const bool second = 2 * p + 1 < nb;
      __m512i q[R], pr[R];
      const __mmask64 bytes = second ? ~0ull >> (64 - 2 * F::kBytes) : ~0ull >> (64 - F::kBytes);
      for (int r = 0; r < R; ++r) {
        const typename F::B* b = &w[r][2 * p];
        prefetch_block_ahead(b);
        pr[r] = _mm512_maskz_loadu_epi8(bytes, b);  // a missing second block reads as zeros
        q[r] = quants(pr[r], b, second);
      }
      __m512i v[R][T], sxt[T];
      for (int t = 0; t < T; ++t) {
        const __m512i xq = _mm512_loadu_si512(x[t][p].qs);
        const __m512i sx = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, xq);  // 4-value sums of xq
        sxt[t] = sx;
        for (int r = 0; r < R; ++r) {
          const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[r], xq);
          v[r][t] = F::has_min ? dot : _mm512_sub_epi32(dot, _mm512_slli_epi32(sx, F::offset_shift));
        }
      }
      if constexpr (F::has_min) {
        // float(S) * dx per token and block, S from the same pairwise reduction (4 tokens at a time)
        float xs[T][2];
        for (int t0 = 0; t0 < T; t0 += 4) {
          __m512i sv[4];
          for (int k = 0; k < 4; ++k) sv[k] = t0 + k < T ? sxt[t0 + k] : _mm512_setzero_si512();
          alignas(32) int32_t sums[8];
          _mm256_store_si256(reinterpret_cast<__m256i*>(sums), hsum4x2_epi32(sv[0], sv[1], sv[2], sv[3]));
          for (int k = 0; k < 4 && t0 + k < T; ++k)
            for (int h = 0; h < 2; ++h) xs[t0 + k][h] = float(sums[4 * h + k]) * x[t0 + k][p].d[8 * h];
        }
        out.template add_pair<true, F::kBytes>(v, pr, x, p, second, xs);
      } else {
        out.template add_pair<false, F::kBytes>(v, pr, x, p, second);
      }
    }
    out.store(j, row, tok);
  }
};

// Packed GEMM (cpu_gemm_pairs.h, its tile shared with Q8_0) for prompt chunks: per pair of blocks of 16 rows,
// the unsigned quants row-interleaved, and each block's d (and m) per row.
template <class F>
void pack_legacy(const MatmulJob& j, int64_t row, int valid, pairs::PackedOf<F>* out) {
  const int64_t nb = j.w->cols / QK4_0, np = act_q8_0_pairs(j.w->cols);
  for (int64_t p = 0; p < np; ++p) {
    const bool second = 2 * p + 1 < nb;
    const __mmask64 bytes = second ? ~0ull >> (64 - 2 * F::kBytes) : ~0ull >> (64 - F::kBytes);
    __m512i v[packed::kGroup];
    pairs::PackedOf<F>& o = out[p];
    for (int r = 0; r < packed::kGroup; ++r) {
      if (r >= valid) {
        v[r] = _mm512_setzero_si512();
        for (int h = 0; h < 2; ++h) {
          o.d[h][r] = 0.f;
          if constexpr (F::has_min) o.m[h][r] = 0.f;
        }
        continue;
      }
      const typename F::B* b = reinterpret_cast<const typename F::B*>(j.weight_row(row + r)) + 2 * p;
      v[r] = LegacyKernel<F>::quants(_mm512_maskz_loadu_epi8(bytes, b), b, second);
      for (int h = 0; h < 2; ++h) {
        o.d[h][r] = h == 0 || second ? _cvtsh_ss(b[h].d) : 0.f;
        if constexpr (F::has_min) o.m[h][r] = h == 0 || second ? _cvtsh_ss(F::min_bits(b[h])) : 0.f;
      }
    }
    packed::transpose16x16(v);
    for (int k = 0; k < 16; ++k) _mm512_store_si512(o.q[k], v[k]);
  }
}

#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
// One block per step.
template <class F>
struct LegacyKernel {
  static constexpr int kGemvRows = 2, kRows = 2, kToks = 2;  // 16 ymm registers

  // The 32 quants of a block in value order; IQ4_NL: the signed (unbiased) table values, for the sign trick.
  static FRSPEC_INLINE __m256i quants(const typename F::B& b) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
    const __m128i nib = _mm_set1_epi8(0x0f);
    __m256i q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), nib), _mm_and_si128(v, nib));
    if constexpr (F::table) q = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NL))), q);
    if constexpr (F::five_bit) {
      // Byte i takes bit i of the high bits: spread byte i / 8 of them over 8 bytes, test one bit each.
      const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(int(F::high_bits(b))),
                                                 _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
      const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201));
      const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
      q = _mm256_or_si256(q, _mm256_and_si256(set, _mm256_set1_epi8(16)));
    }
    return q;
  }

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK4_0;
    const typename F::B* w[R];
    const ActQ8_0x2* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const typename F::B*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_0x2*>(j.act_row(tok + t));
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      __m256i q[R];
      __m256 dw[R], mw[R];
      for (int r = 0; r < R; ++r) {
        prefetch_block_ahead(&w[r][b]);
        q[r] = quants(w[r][b]);
        dw[r] = _mm256_set1_ps(_cvtsh_ss(w[r][b].d));
        if constexpr (F::has_min) mw[r] = _mm256_set1_ps(_cvtsh_ss(F::min_bits(w[r][b])));
      }
      for (int t = 0; t < T; ++t) {
        const ActQ8_0x2& xp = x[t][b / 2];
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xp.qs + QK8_0 * (b % 2)));
        const __m256 dx = _mm256_loadu_ps(xp.d + 8 * (b % 2));
        const __m256i sx = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xq), ones16);
        const __m256 xsum = _mm256_mul_ps(_mm256_cvtepi32_ps(sx), dx);  // dx * sx, for m
        for (int r = 0; r < R; ++r) {
          if constexpr (F::table) {
            // |xq| <= 127 and |table| <= 127: a pair sums to at most 32258, inside int16.
            const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(xq, xq), _mm256_sign_epi8(q[r], xq)), ones16);
            acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw[r], dx), acc[r][t]);
            continue;
          }
          // q <= 31 and |x| <= 127: a pair sums to at most 7874, inside int16.
          const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(q[r], xq), ones16);
          if constexpr (F::has_min) {
            acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw[r], dx), acc[r][t]);
            acc[r][t] = _mm256_fmadd_ps(mw[r], xsum, acc[r][t]);
          } else {
            const __m256i total = _mm256_sub_epi32(dot, _mm256_slli_epi32(sx, F::offset_shift));
            acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_mul_ps(dw[r], dx), acc[r][t]);
          }
        }
      }
    }
    store_tile<R, T>(j, row, tok, acc);
  }
};

#elif defined(FRSPEC_NEON_KERNELS)
// arm64 (neon, dotprod, i8mm variants): cpu_matmul_neon.h.
template <class F>
using LegacyKernel = neon::QuantKernel<std::conditional_t<F::table, neon::TypeIQ4NL, neon::TypeLegacy<F>>>;

#else
// Portable fallback: the same integer sums, one (row, token) pair at a time.
template <class F>
struct LegacyKernel {
  static constexpr int kGemvRows = 1, kRows = 1, kToks = 1;

  template <int R, int T>
  static void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK4_0;
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        const typename F::B* w = reinterpret_cast<const typename F::B*>(j.weight_row(row + r));
        const ActQ8_0x2* x = reinterpret_cast<const ActQ8_0x2*>(j.act_row(tok + t));
        float acc = 0;
        for (int64_t b = 0; b < nb; ++b) {
          const int8_t* xq = x[b / 2].qs + QK8_0 * (b % 2);
          const float dx = x[b / 2].d[8 * (b % 2)];
          const uint32_t h = F::high_bits(w[b]);
          int32_t dot = 0, sx = 0;
          for (int i = 0; i < QK4_0; ++i) {
            const uint8_t byte = w[b].qs[i % 16];
            const int n = (i < 16 ? byte & 0xF : byte >> 4) | int((h >> i) & 1) << 4;
            const int q = F::table ? kIQ4NL[n] + 128 : n;  // IQ4_NL: biased as on AVX-512, o = 128
            dot += q * xq[i];
            sx += xq[i];
          }
          const float d = f16_to_f32(w[b].d);
          if constexpr (F::has_min) {
            acc += float(dot) * (d * dx);
            acc += f16_to_f32(F::min_bits(w[b])) * (float(sx) * dx);
          } else {
            acc += float(dot - (sx << F::offset_shift)) * (d * dx);
          }
        }
        j.store(row + r, tok + t, acc);
      }
  }
};
#endif

}  // namespace

RowsFn rows_fn_q4_0() { return matmul_rows<LegacyKernel<Q4_0>>; }
RowsFn rows_fn_q4_1() { return matmul_rows<LegacyKernel<Q4_1>>; }
RowsFn rows_fn_q5_0() { return matmul_rows<LegacyKernel<Q5_0>>; }
RowsFn rows_fn_q5_1() { return matmul_rows<LegacyKernel<Q5_1>>; }
RowsFn rows_fn_iq4_nl() { return matmul_rows<LegacyKernel<IQ4_NL>>; }

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
template <class F>
static RowsFn legacy_gemm() {
  return pairs::gemm<F, pack_legacy<F>>();
}
RowsFn gemm_fn_q4_0() { return legacy_gemm<Q4_0>(); }
RowsFn gemm_fn_q4_1() { return legacy_gemm<Q4_1>(); }
RowsFn gemm_fn_q5_0() { return legacy_gemm<Q5_0>(); }
RowsFn gemm_fn_q5_1() { return legacy_gemm<Q5_1>(); }
RowsFn gemm_fn_iq4_nl() { return legacy_gemm<IQ4_NL>(); }
#else
RowsFn gemm_fn_q4_0() { return nullptr; }
RowsFn gemm_fn_q4_1() { return nullptr; }
RowsFn gemm_fn_q5_0() { return nullptr; }
RowsFn gemm_fn_q5_1() { return nullptr; }
RowsFn gemm_fn_iq4_nl() { return nullptr; }
#endif

}  // namespace frspec::kernels
