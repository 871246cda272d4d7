// Internal to the cpu_matmul*.cpp files: lane sums of the per-(row, token) accumulators, and the store
// of a finished tile. Every lane sum pairs lanes the same way — lane i + lane i+8, then i+4, i+2, i+1 —
// whether it sums one vector or four at once (the four-at-once form shares the shuffles, which matters
// for short rows such as the draft model's 128-wide LM head), so a row's result never depends on the
// tile it was computed in.
#pragma once
#include <cstring>
#include <type_traits>

#include "engine/cpu_matmul_tiles.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#endif

#define FRSPEC_INLINE inline __attribute__((always_inline))

namespace frspec::FRSPEC_CPU::kernels {

// A GEMV streams its weights from memory once. Prefetching 2 KB ahead of the rows being read keeps
// enough requests in flight: on the demo LM head (F16, 78 MB) it took the GEMV from ~65% to ~100% of
// the bandwidth of a plain streaming read of the same bytes (kernels_bench, interleaved runs). A
// non-temporal hint (to keep the layers cached while the LM head streams) measured slower.
constexpr int kPrefetchBytes = 2048;
FRSPEC_INLINE void prefetch_ahead(const void* p, int offset = 0) {
  __builtin_prefetch(static_cast<const char*>(p) + kPrefetchBytes + offset, 0, 3);
}
// Every cache line of a quantized block, kPrefetchBytes ahead.
template <class Block>
FRSPEC_INLINE void prefetch_block_ahead(const Block* b) {
  for (int offset = 0; offset < int(sizeof(Block)); offset += 64) prefetch_ahead(b, offset);
}

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
FRSPEC_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // i + i+4
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                          // i + i+2
  s = _mm_add_ss(s, _mm_movehdup_ps(s));                                           // 0 + 1
  return _mm_cvtss_f32(s);
}
// {hsum(a), hsum(b), hsum(c), hsum(d)}, bit for bit.
FRSPEC_INLINE __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 ab = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));  // [a4 | b4]
  const __m256 cd = _mm256_add_ps(_mm256_permute2f128_ps(c, d, 0x20), _mm256_permute2f128_ps(c, d, 0x31));  // [c4 | d4]
  const __m256 s2 = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                  _mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));  // [a2 c2 | b2 d2]
  const __m256 s1 = _mm256_hadd_ps(s2, s2);                                             // [a c a c | b d b d]
  const __m128 lo = _mm256_castps256_ps128(s1), hi = _mm256_extractf128_ps(s1, 1);
  return _mm_unpacklo_ps(lo, hi);                                                       // [a b c d]
}
#endif

#if defined(__AVX512F__)
FRSPEC_INLINE float hsum(__m512 v) {
  const __m256 lo = _mm512_castps512_ps256(v);
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  return hsum(_mm256_add_ps(lo, hi));  // i + i+8, then as above
}
FRSPEC_INLINE __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  // Quarters q0..q3 of each vector; [a.q0 a.q1 b.q0 b.q1] + [a.q2 a.q3 b.q2 b.q3] = [a8 | b8].
  const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(3, 2, 3, 2)));
  // [a8.q0 b8.q0 c8.q0 d8.q0] + [a8.q1 b8.q1 c8.q1 d8.q1] = [a4 | b4 | c4 | d4]
  const __m512 s4 = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(ab, cd, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512 s2 = _mm512_add_ps(s4, _mm512_permute_ps(s4, _MM_SHUFFLE(1, 0, 3, 2)));  // lanes 0,1 of each quarter
  const __m512 s1 = _mm512_add_ps(s2, _mm512_permute_ps(s2, _MM_SHUFFLE(2, 3, 0, 1)));  // lane 0 of each quarter
  return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0), s1));
}
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
// IQ4_NL's non-linear table (also IQ4_XS's) biased by 128 to unsigned bytes, in every 128-bit lane (vpshufb
// looks up within lanes): the IQ4 kernels' vpdpbusd operand, the bias taken out with the activation sums.
FRSPEC_INLINE __m512i iq4nl_biased_table() {
  alignas(16) static constexpr auto kBiased = [] {
    struct { uint8_t v[16]; } t{};
    for (int i = 0; i < 16; ++i) t.v[i] = uint8_t(kIQ4NL[i] + 128);
    return t;
  }();
  return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(kBiased.v)));
}

// {sum of a's lanes, b's, c's, d's}: exact integer sums (any pairing gives the same bits).
FRSPEC_INLINE __m128i hsum4_epi32(__m512i a, __m512i b, __m512i c, __m512i d) {
  const __m512i ab = _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512i cd = _mm512_add_epi32(_mm512_shuffle_i32x4(c, d, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_i32x4(c, d, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512i s4 = _mm512_add_epi32(_mm512_shuffle_i32x4(ab, cd, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_i32x4(ab, cd, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i s2 = _mm512_add_epi32(s4, _mm512_shuffle_epi32(s4, _MM_PERM_BADC));
  const __m512i s1 = _mm512_add_epi32(s2, _mm512_shuffle_epi32(s2, _MM_PERM_CDAB));
  return _mm512_castsi512_si128(_mm512_permutexvar_epi32(_mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0), s1));
}
FRSPEC_INLINE __m128i hsum4_epi32(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));  // [a4 | b4]
  const __m256i cd = _mm256_add_epi32(_mm256_permute2x128_si256(c, d, 0x20), _mm256_permute2x128_si256(c, d, 0x31));  // [c4 | d4]
  const __m256i s2 = _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));                  // [a2 c2 | b2 d2]
  const __m256i s1 = _mm256_add_epi32(s2, _mm256_shuffle_epi32(s2, _MM_SHUFFLE(2, 3, 0, 1)));                         // a . c . | b . d .
  const __m256i p = _mm256_permutevar8x32_epi32(s1, _mm256_setr_epi32(0, 4, 2, 6, 0, 0, 0, 0));
  return _mm256_castsi256_si128(p);
}

// {a0, b0, c0, d0, a1, b1, c1, d1}: x0 = sum of x's lanes 0..7, x1 = of lanes 8..15 (two 32-value blocks).
FRSPEC_INLINE __m256i hsum4x2_epi32(__m512i a, __m512i b, __m512i c, __m512i d) {
  const __m512i ab = _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i cd = _mm512_add_epi32(_mm512_shuffle_i32x4(c, d, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_i32x4(c, d, _MM_SHUFFLE(3, 1, 3, 1)));
  // 128-bit lanes: ab = [a0 a1 b0 b1] (4 partial sums each), cd = [c0 c1 d0 d1]
  const __m512i x = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
  const __m512i y = _mm512_add_epi32(x, _mm512_shuffle_epi32(x, _MM_PERM_CDAB));  // lane 4L: ab's, 4L+2: cd's
  return _mm512_castsi512_si256(_mm512_permutexvar_epi32(_mm512_setr_epi32(0, 8, 2, 10, 4, 12, 6, 14, 0, 0, 0, 0, 0, 0, 0, 0), y));
}

// The canonical epilogue of the 32-value formats (Q8_0, Q4_0 .. Q5_1, IQ4_NL), whose kernels hold two blocks per
// register (int32 lanes 0..7 and 8..15): per (row, token) one float chain over the blocks in order,
//   acc = fma(float(T_b), dw_b * dx_b, acc)      [then acc = fma(m_b, float(S_b) * dx_b, acc) with a min]
// with T_b the block's exact integer dot product (minus offset * S_b for Q4_0/Q5_0/IQ4_NL), S_b the sum of the
// activation block's quants. The packed GEMM (cpu_gemm_pairs.h) computes the same.
template <int R, int T>
struct PairChains {
  // Lane groups of 4 (row, token) pairs, token-major (pair p = t * R + r): with R a multiple of 4 (the
  // GEMV and the GEMM tiles) a group is 4 rows of one token, whose block scales come from two permutes.
  static constexpr int kPairs = R * T, kGroups = (kPairs + 3) / 4;
  __m128 acc[kGroups];
  PairChains() {
    for (int g = 0; g < kGroups; ++g) acc[g] = _mm_setzero_ps();
  }
  // The F16 fields at words w0 (block 0) and w1 (block 1) of four rows' pair registers, as floats
  // [rows 0..3 of block 0 | rows 0..3 of block 1]: two word permutes and a blend.
  static FRSPEC_INLINE __m256 four_rows(const __m512i* pr, int w0, int w1) {
    const __m512i i01 = _mm512_castsi128_si512(_mm_setr_epi16(short(w0), short(32 + w0), 0, 0, short(w1), short(32 + w1), 0, 0));
    const __m512i i23 = _mm512_castsi128_si512(_mm_setr_epi16(0, 0, short(w0), short(32 + w0), 0, 0, short(w1), short(32 + w1)));
    const __m128i a = _mm512_castsi512_si128(_mm512_permutex2var_epi16(pr[0], i01, pr[1]));
    const __m128i b = _mm512_castsi512_si128(_mm512_permutex2var_epi16(pr[2], i23, pr[3]));
    return _mm256_cvtph_ps(_mm_mask_blend_epi16(0xCC, a, b));
  }
  // v[r][t]: the two blocks' integer sums (lanes 0..7, 8..15); pr[r]: row r's pair of blocks as loaded
  // (kBlockBytes each, zeros for a missing second block; F16 d at byte 0, with kMin the F16 m at byte 2);
  // x[t]: token t's activation pair (dx of block k in d[8k..8k+7]); with kMin, xs[t][k] = float(S) * dx.
  // `second`: the pair has a second block.
  template <bool kMin, int kBlockBytes>
  FRSPEC_INLINE void add_pair(const __m512i (&v)[R][T], const __m512i (&pr)[R], const ActQ8_0x2* const (&x)[T], int64_t p,
                              bool second, const float (*xs)[2] = nullptr) {
    constexpr int kW1 = kBlockBytes / 2;
    [[maybe_unused]] __m256 wq[R / 4 > 0 ? R / 4 : 1], mq[R / 4 > 0 ? R / 4 : 1];
    [[maybe_unused]] alignas(64) uint16_t words[R % 4 == 0 ? 1 : R][32];
    if constexpr (R % 4 == 0) {
      for (int q = 0; q < R / 4; ++q) {
        wq[q] = four_rows(pr + 4 * q, 0, kW1);
        if constexpr (kMin) mq[q] = four_rows(pr + 4 * q, 1, kW1 + 1);
      }
    } else {
      for (int r = 0; r < R; ++r) _mm512_store_si512(words[r], pr[r]);
    }
    for (int g = 0; g < kGroups; ++g) {
      __m512i iv[4];
      __m256 dd, mm = _mm256_setzero_ps(), xx = _mm256_setzero_ps();  // [4 lanes of block 0 | 4 of block 1]
      if constexpr (R % 4 == 0) {
        const int t = (4 * g) / R, r0 = (4 * g) % R;
        for (int k = 0; k < 4; ++k) iv[k] = v[r0 + k][t];
        dd = _mm256_mul_ps(wq[r0 / 4], _mm256_loadu_ps(x[t][p].d + 4));  // d[4..11] = dx0 x 4, dx1 x 4
        if constexpr (kMin) mm = mq[r0 / 4], xx = _mm256_setr_m128(_mm_set1_ps(xs[t][0]), _mm_set1_ps(xs[t][1]));
      } else {
        float d8[8] = {}, m8[8] = {}, x8[8] = {};
        for (int k = 0; k < 4; ++k) {
          const int p4 = 4 * g + k;
          const bool real = p4 < kPairs;
          const int r = real ? p4 % R : 0, t = real ? p4 / R : 0;
          iv[k] = real ? v[r][t] : _mm512_setzero_si512();
          for (int h = 0; h < (second ? 2 : 1); ++h) {
            if (!real) continue;
            d8[4 * h + k] = _cvtsh_ss(words[r][h * kW1]) * x[t][p].d[8 * h];
            if constexpr (kMin) m8[4 * h + k] = _cvtsh_ss(words[r][h * kW1 + 1]), x8[4 * h + k] = xs[t][h];
          }
        }
        dd = _mm256_loadu_ps(d8);
        if constexpr (kMin) mm = _mm256_loadu_ps(m8), xx = _mm256_loadu_ps(x8);
      }
      const __m256 s = _mm256_cvtepi32_ps(hsum4x2_epi32(iv[0], iv[1], iv[2], iv[3]));
      acc[g] = _mm_fmadd_ps(_mm256_castps256_ps128(s), _mm256_castps256_ps128(dd), acc[g]);
      if constexpr (kMin) acc[g] = _mm_fmadd_ps(_mm256_castps256_ps128(mm), _mm256_castps256_ps128(xx), acc[g]);
      if (second) {
        acc[g] = _mm_fmadd_ps(_mm256_extractf128_ps(s, 1), _mm256_extractf128_ps(dd, 1), acc[g]);
        if constexpr (kMin) acc[g] = _mm_fmadd_ps(_mm256_extractf128_ps(mm, 1), _mm256_extractf128_ps(xx, 1), acc[g]);
      }
    }
  }
  FRSPEC_INLINE void store(const MatmulJob& j, int64_t row, int tok) const {
    for (int g = 0; g < kGroups; ++g) {
      alignas(16) float out[4];
      _mm_store_ps(out, acc[g]);
      for (int k = 0; k < 4 && 4 * g + k < kPairs; ++k) {
        const int p = 4 * g + k;
        j.store(row + p % R, tok + p / R, out[k]);
      }
    }
  }
};

// Block-scaled integer sums -> floats, the same way for every tile and n (the canonical epilogue of the
// AVX-512 K-quant kernels and of their packed GEMM, cpu_gemm_kquants.cpp): each (row, token) output is ONE
// float chain over the weight's blocks in order,
//   acc = fma(float(I_b), d_b * dx_b, acc);   acc = fma(float(M_b), (-dmin_b) * dx_b, acc)   (M: with mins)
// where I_b, M_b are the block's exact int32 sums; then y = acc (+ bias). Lanes here are (row, token) pairs.
template <int R, int T>
struct ScalarChains {
  static constexpr int kPairs = R * T, kGroups = (kPairs + 3) / 4;
  __m128 acc[kGroups];
  ScalarChains() {
    for (int g = 0; g < kGroups; ++g) acc[g] = _mm_setzero_ps();
  }
  // isum[r][t]: 16 int32 lanes whose sum is I_b; msum[r][t] (mins only): 8 lanes whose sum is M_b.
  template <bool kMins>
  FRSPEC_INLINE void add_block(const __m512i (&isum)[R][T], const __m256i (*msum)[T], const float (&d)[R],
                               const float (&nd)[R], const float (&dx)[T]) {
    for (int g = 0; g < kGroups; ++g) {
      __m512i iv[4];
      __m256i mv[4];
      float dd[4], md[4];  // built with _mm_setr_ps: four scalar stores read back as a vector would stall
      for (int k = 0; k < 4; ++k) {
        const int p = 4 * g + k;
        if (p < kPairs) {
          const int r = p / T, t = p % T;
          iv[k] = isum[r][t];
          if constexpr (kMins) mv[k] = msum[r][t];
          dd[k] = d[r] * dx[t];
          md[k] = nd[r] * dx[t];
        } else {
          iv[k] = _mm512_setzero_si512();
          if constexpr (kMins) mv[k] = _mm256_setzero_si256();
          dd[k] = 0.f, md[k] = 0.f;
        }
      }
      acc[g] = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_epi32(iv[0], iv[1], iv[2], iv[3])), _mm_setr_ps(dd[0], dd[1], dd[2], dd[3]), acc[g]);
      if constexpr (kMins)
        acc[g] = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_epi32(mv[0], mv[1], mv[2], mv[3])), _mm_setr_ps(md[0], md[1], md[2], md[3]), acc[g]);
    }
  }
  // add_block for one token and R a multiple of 4 (the GEMV), the scale products formed four rows at a
  // time: d4[g] = d of rows 4g..4g+3, nd4[g] their -dmin; d4 * dx is the same product add_block forms.
  template <bool kMins>
  FRSPEC_INLINE void add_block_rows4(const __m512i (&isum)[R][T], const __m256i (*msum)[T], const __m128* d4, const __m128* nd4, float dx) {
    static_assert(T == 1 && R % 4 == 0, "one token, whole groups of 4 rows");
    const __m128 vdx = _mm_set1_ps(dx);
    for (int g = 0; g < kGroups; ++g) {
      acc[g] = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_epi32(isum[4 * g][0], isum[4 * g + 1][0], isum[4 * g + 2][0], isum[4 * g + 3][0])),
                            _mm_mul_ps(d4[g], vdx), acc[g]);
      if constexpr (kMins)
        acc[g] = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_epi32(msum[4 * g][0], msum[4 * g + 1][0], msum[4 * g + 2][0], msum[4 * g + 3][0])),
                              _mm_mul_ps(nd4[g], vdx), acc[g]);
    }
  }
  FRSPEC_INLINE void store(const MatmulJob& j, int64_t row, int tok) const {
    for (int g = 0; g < kGroups; ++g) {
      alignas(16) float out[4];
      _mm_store_ps(out, acc[g]);
      for (int k = 0; k < 4 && 4 * g + k < kPairs; ++k) {
        const int p = 4 * g + k;
        j.store(row + p / T, tok + p % T, out[k]);
      }
    }
  }
};
#endif

// Writes the R x T finished accumulators of a tile (plus bias) to y. Groups of 4 rows (4 contiguous
// outputs of a token) or else of 4 tokens (one row) share the lane-sum shuffles: for short rows (the
// draft's 128-wide LM head) separate sums would cost as much as the multiply itself.
template <int R, int T, class V>
FRSPEC_INLINE void store_tile(const MatmulJob& j, int64_t row, int tok, V (&acc)[R][T]) {
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
  const size_t ld = size_t(j.w->rows);
  if constexpr (!std::is_class_v<V> && R % 4 == 0) {
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; r += 4) {
        __m128 s = hsum4(acc[r][t], acc[r + 1][t], acc[r + 2][t], acc[r + 3][t]);
        if (j.bias) s = _mm_add_ps(s, _mm_loadu_ps(j.bias + row + r));
        _mm_storeu_ps(j.y + size_t(tok + t) * ld + size_t(row + r), s);
      }
    return;
  } else if constexpr (!std::is_class_v<V> && T % 4 == 0) {
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; t += 4) {
        __m128 s = hsum4(acc[r][t], acc[r][t + 1], acc[r][t + 2], acc[r][t + 3]);
        if (j.bias) s = _mm_add_ps(s, _mm_set1_ps(j.bias[row + r]));
        alignas(16) float out[4];
        _mm_store_ps(out, s);
        for (int k = 0; k < 4; ++k) j.y[size_t(tok + t + k) * ld + size_t(row + r)] = out[k];
      }
    return;
  }
#endif
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) j.store(row + r, tok + t, hsum(acc[r][t]));
}

}  // namespace frspec::kernels
