// Matmul kernels for IQ4_XS weights (LM Studio's frequent choice) against ActQ8_K activations in natural
// order. For one 256-value block with sub-block scales s[j] = ls[j] - 32 (-32..31) and 4-bit indices q into
// the non-linear table kIQ4NL (-127..113):
//   dot = d * dx * sum_j s[j] * sum_i kIQ4NL[q_i] * xq_i
// The integer sum is exact in int32 (|I| <= 256 * 127 * 127 * 32 < 2^31).
// AVX-512 (VNNI): the table is looked up biased to unsigned bytes u = kIQ4NL[q] + 128 (1..241), multiplied
// with vpdpbusd (no intermediate int16, so no saturation), and the bias comes back out with the activation's
// 16-value sums: I = sum_j s[j] (u . xq)_j - 128 sum_j s[j] sx_j. I is reduced to one int32 per block and
// (row, token) and scaled in one float chain per output (ScalarChains: acc = fma(float(I), d * dx, acc)),
// which the packed GEMM below computes too, so GEMV, tile GEMM and packed GEMM give the same bits.
// AVX2: llama.cpp's sign trick (maddubs of |xq| with the table value carrying xq's sign, pairs <= 32258),
// its own self-consistent float chain, as the other AVX2 kernels. Scalar: the same integer sums.
#include "engine/cpu_gemm_packed.h"
#include "engine/cpu_matmul_neon.h"
#include "engine/cpu_matmul_simd.h"

namespace frspec::FRSPEC_CPU::kernels {
namespace {

// The 8 signed sub-block scales of a block.
[[maybe_unused]] inline void iq4xs_scales(const BlockIQ4_XS& b, int s[8]) {  // (not in the NEON variants)
  for (int j = 0; j < 8; ++j) s[j] = iq4xs_scale(b, j);
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)

// The 8 scales s[j] as int16 lanes 0..7: the low nibbles from scales_l, the high 2 bits from scales_h.
FRSPEC_INLINE __m128i scales_16(const BlockIQ4_XS& b) {
  uint32_t l;
  std::memcpy(&l, b.scales_l, 4);
  const __m128i lw = _mm_cvtsi32_si128(int(l));
  const __m128i lo4 = _mm_unpacklo_epi8(_mm_and_si128(lw, _mm_set1_epi8(0x0f)), _mm_and_si128(_mm_srli_epi16(lw, 4), _mm_set1_epi8(0x0f)));
  const __m128i hi2 = _mm_and_si128(_mm_srlv_epi16(_mm_set1_epi16(short(b.scales_h)), _mm_setr_epi16(0, 2, 4, 6, 8, 10, 12, 14)), _mm_set1_epi16(3));
  return _mm_sub_epi16(_mm_or_si128(_mm_cvtepu8_epi16(lo4), _mm_slli_epi16(hi2, 4)), _mm_set1_epi16(32));
}

// 64 values of a block in value order as biased unsigned bytes: sub-blocks 2c and 2c + 1 (qs[32c .. 32c+32)).
FRSPEC_INLINE __m512i biased_values(const BlockIQ4_XS& b, int c, __m512i table) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * c));
  const __m256i nib = _mm256_set1_epi8(0x0f);
  const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(v, nib)), _mm256_and_si256(_mm256_srli_epi16(v, 4), nib), 1);
  // [lo(2c) lo(2c+1) hi(2c) hi(2c+1)] -> [lo(2c) hi(2c) lo(2c+1) hi(2c+1)]: values 64c .. 64c+63 in order
  return _mm512_shuffle_epi8(table, _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0)));
}

// 64 values per step: the biased table values, and per (row, token) one vpdpbusd whose int32 lanes 0..7
// belong to sub-block 2c and 8..15 to 2c+1, weighted by those scales (vpmulld).
struct IQ4XSKernel {
  static constexpr int kGemvRows = 4, kRows = 1, kToks = 8;  // as Q4_K

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    const BlockIQ4_XS* w[R];
    const ActQ8_K* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockIQ4_XS*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
    const __m512i table = iq4nl_biased_table();
    ScalarChains<R, T> out;
    for (int64_t b = 0; b < nb; ++b) {
      for (int r = 0; r < R; ++r) prefetch_block_ahead(&w[r][b]);
      __m512i s32[R];  // the 8 scales as int32 lanes 0..7
      __m256i sp[R];   // (s[j], s[j]) int16 pairs, lined up with the 16 bsums
      for (int r = 0; r < R; ++r) {
        const __m128i s16 = scales_16(w[r][b]);
        s32[r] = _mm512_castsi256_si512(_mm256_cvtepi16_epi32(s16));
        sp[r] = _mm256_set_m128i(_mm_unpackhi_epi16(s16, s16), _mm_unpacklo_epi16(s16, s16));
      }
      __m512i isum[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) isum[r][t] = _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c) {
        const __m512i pick = _mm512_inserti64x4(_mm512_set1_epi32(2 * c), _mm256_set1_epi32(2 * c + 1), 1);
        __m512i u[R], sc[R];
        for (int r = 0; r < R; ++r) u[r] = biased_values(w[r][b], c, table), sc[r] = _mm512_permutexvar_epi32(pick, s32[r]);
        for (int t = 0; t < T; ++t) {
          const __m512i xq = _mm512_loadu_si512(x[t][b].qs + 64 * c);
          for (int r = 0; r < R; ++r)
            isum[r][t] = _mm512_add_epi32(isum[r][t], _mm512_mullo_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u[r], xq), sc[r]));
        }
      }
      float d[R], dx[T];
      for (int r = 0; r < R; ++r) {
        d[r] = _cvtsh_ss(w[r][b].d);
        for (int t = 0; t < T; ++t) {  // minus 128 sum_j s[j] sx_j: the table's bias
          const __m256i off = _mm256_madd_epi16(sp[r], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].bsums)));
          isum[r][t] = _mm512_sub_epi32(isum[r][t], _mm512_zextsi256_si512(_mm256_slli_epi32(off, 7)));
        }
      }
      for (int t = 0; t < T; ++t) dx[t] = x[t][b].d;
      out.template add_block<false>(isum, nullptr, d, d, dx);
    }
    out.store(j, row, tok);
  }
};

// Packed GEMM (cpu_gemm_packed.h) for prompt chunks: one 256-value block of 16 rows, the biased values
// row-interleaved in value order, the scales per sub-block as int32 vectors and as int16 pairs for the
// bias term, d per row.
struct alignas(64) PackedIQ4XS {
  uint8_t q[64][packed::kGroup][4];
  int32_t sc[8][packed::kGroup];
  int16_t sp[8][packed::kGroup][2];
  float d[packed::kGroup];
};

void pack_iq4_xs(const MatmulJob& j, int64_t row, int valid, PackedIQ4XS* out) {
  const int64_t nb = j.w->cols / QK_K;
  const __m512i table = iq4nl_biased_table();
  for (int64_t b = 0; b < nb; ++b) {
    PackedIQ4XS& p = out[b];
    const BlockIQ4_XS* w[packed::kGroup];
    for (int r = 0; r < packed::kGroup; ++r) w[r] = r < valid ? reinterpret_cast<const BlockIQ4_XS*>(j.weight_row(row + r)) + b : nullptr;
    for (int c = 0; c < 4; ++c) {
      __m512i v[packed::kGroup];
      for (int r = 0; r < packed::kGroup; ++r) v[r] = w[r] ? biased_values(*w[r], c, table) : _mm512_setzero_si512();
      packed::transpose16x16(v);
      for (int k = 0; k < 16; ++k) _mm512_store_si512(p.q[16 * c + k], v[k]);
    }
    __m512i v[packed::kGroup];
    for (int r = 0; r < packed::kGroup; ++r) v[r] = w[r] ? _mm512_cvtepi16_epi32(_mm256_zextsi128_si256(scales_16(*w[r]))) : _mm512_setzero_si512();
    packed::transpose16x16(v);
    const __m512i low16 = _mm512_set1_epi32(0xffff);
    for (int s = 0; s < 8; ++s) {
      _mm512_store_si512(p.sc[s], v[s]);
      _mm512_store_si512(p.sp[s], _mm512_or_si512(_mm512_and_si512(v[s], low16), _mm512_slli_epi32(v[s], 16)));
    }
    for (int r = 0; r < packed::kGroup; ++r) p.d[r] = w[r] ? _cvtsh_ss(w[r]->d) : 0.f;
  }
}

template <int T>
struct TileIQ4XS {
  static void run(const MatmulJob& j, const PackedIQ4XS* pk, int64_t row, int valid, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    const ActQ8_K* x[T];
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const PackedIQ4XS& p = pk[b];
      __m512i isum[T];
      for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
      for (int s = 0; s < 8; ++s) {
        __m512i dot[T];
        for (int t = 0; t < T; ++t) dot[t] = _mm512_setzero_si512();
        for (int q = 0; q < 8; ++q) {
          const int kq = 8 * s + q;
          const __m512i wv = _mm512_load_si512(p.q[kq]);
          for (int t = 0; t < T; ++t) dot[t] = _mm512_dpbusd_epi32(dot[t], wv, _mm512_set1_epi32(packed::load_i32(x[t][b].qs + 4 * kq)));
        }
        const __m512i sc = _mm512_load_si512(p.sc[s]);
        for (int t = 0; t < T; ++t) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(dot[t], sc));
      }
      const __m512 d = _mm512_load_ps(p.d);
      for (int t = 0; t < T; ++t) {
        __m512i off = _mm512_setzero_si512();  // sum_j s[j] sx_j
        for (int i = 0; i < 8; ++i) off = _mm512_dpwssd_epi32(off, _mm512_load_si512(p.sp[i]), _mm512_set1_epi32(packed::load_i32(x[t][b].bsums + 2 * i)));
        const __m512i total = _mm512_sub_epi32(isum[t], _mm512_slli_epi32(off, 7));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(d, _mm512_set1_ps(x[t][b].d)), acc[t]);
      }
    }
    packed::store_rows<T>(j, row, valid, tok, acc);
  }
};

#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
// 32 values (one sub-block) per step.
struct IQ4XSKernel {
  static constexpr int kGemvRows = 2, kRows = 1, kToks = 4;  // 16 ymm registers

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    const BlockIQ4_XS* w[R];
    const ActQ8_K* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockIQ4_XS*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NL)));
    const __m128i nib = _mm_set1_epi8(0x0f);
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      for (int r = 0; r < R; ++r) prefetch_block_ahead(&w[r][b]);
      int sc[R][8];
      for (int r = 0; r < R; ++r) iq4xs_scales(w[r][b], sc[r]);
      __m256i isum[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) isum[r][t] = _mm256_setzero_si256();
      for (int sb = 0; sb < 8; ++sb) {
        __m256i q[R], s[R];
        for (int r = 0; r < R; ++r) {
          const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r][b].qs + 16 * sb));
          q[r] = _mm256_shuffle_epi8(table, _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), nib), _mm_and_si128(v, nib)));
          s[r] = _mm256_set1_epi16(short(sc[r][sb]));
        }
        for (int t = 0; t < T; ++t) {
          const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].qs + 32 * sb));
          const __m256i ax = _mm256_sign_epi8(xq, xq);
          for (int r = 0; r < R; ++r)
            isum[r][t] = _mm256_add_epi32(isum[r][t], _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(q[r], xq)), s[r]));
        }
      }
      for (int r = 0; r < R; ++r) {
        const float d = _cvtsh_ss(w[r][b].d);
        for (int t = 0; t < T; ++t)
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r][t]), _mm256_set1_ps(d * x[t][b].d), acc[r][t]);
      }
    }
    store_tile<R, T>(j, row, tok, acc);
  }
};

#elif defined(FRSPEC_NEON_KERNELS)
// arm64 (neon, dotprod, i8mm variants): cpu_matmul_neon.h.
using IQ4XSKernel = neon::QuantKernel<neon::TypeIQ4XS>;

#else
// Portable fallback: the same integer sums, one (row, token) pair at a time.
struct IQ4XSKernel {
  static constexpr int kGemvRows = 1, kRows = 1, kToks = 1;

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t nb = j.w->cols / QK_K;
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        const BlockIQ4_XS* w = reinterpret_cast<const BlockIQ4_XS*>(j.weight_row(row + r));
        const ActQ8_K* x = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
        float acc = 0;
        for (int64_t b = 0; b < nb; ++b) {
          int sc[8];
          iq4xs_scales(w[b], sc);
          int32_t isum = 0;
          for (int sb = 0; sb < 8; ++sb) {
            const uint8_t* q = w[b].qs + 16 * sb;
            int32_t dot = 0;
            for (int i = 0; i < 32; ++i) dot += kIQ4NL[i < 16 ? q[i] & 0xF : q[i - 16] >> 4] * int32_t(x[b].qs[32 * sb + i]);
            isum += dot * sc[sb];
          }
          acc += float(isum) * (f16_to_f32(w[b].d) * x[b].d);
        }
        j.store(row + r, tok + t, acc);
      }
  }
};
#endif

}  // namespace

RowsFn rows_fn_iq4_xs() { return matmul_rows<IQ4XSKernel>; }

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
RowsFn gemm_fn_iq4_xs() { return packed::gemm_rows<PackedIQ4XS, pack_iq4_xs, TileIQ4XS, QK_K>; }
#else
RowsFn gemm_fn_iq4_xs() { return nullptr; }
#endif

}  // namespace frspec::kernels
