// Internal to the Q4_K / Q5_K kernels (cpu_matmul_q4_K.cpp, _q5_K.cpp, cpu_matmul_k45.h, arm64's cpu_matmul_neon.h)
// and their packed GEMM (cpu_gemm_kquants.cpp): the 6-bit scales and mins of a Q4_K / Q5_K block (the two formats
// pack them identically, ggml get_scale_min_k4), unpacked for the kernels.
#pragma once
#include "engine/cpu_matmul_simd.h"

namespace frspec::FRSPEC_CPU::kernels {

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
// The 8 scales (int16 lanes 0..7) and 8 mins (lanes 8..15) of a block: unpack_scales in vector
// registers (the 12 scale bytes are followed by qs, so a 16-byte load stays inside the block).
FRSPEC_INLINE __m256i scales_mins_16(const uint8_t* s) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));          // [u0 u1 u2 .]
  const __m128i p = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 1, 0));                  // [u0 u1 u2 u2]
  const __m128i q = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 1, 0));                  // [.  .  u0 u1]
  const __m128i lo6_or_4 = _mm_and_si128(_mm_srlv_epi32(p, _mm_set_epi32(4, 0, 0, 0)),
                                         _mm_set_epi32(0x0f0f0f0f, 0x0f0f0f0f, 0x3f3f3f3f, 0x3f3f3f3f));
  const __m128i top2 = _mm_and_si128(_mm_srli_epi32(q, 6), _mm_set_epi32(0x03030303, 0x03030303, 0, 0));
  const __m128i bytes = _mm_or_si128(lo6_or_4, _mm_slli_epi32(top2, 4));             // [sc0-3 m0-3 sc4-7 m4-7]
  return _mm256_cvtepu8_epi16(_mm_shuffle_epi32(bytes, _MM_SHUFFLE(3, 1, 2, 0)));    // sc[0..7], m[0..7]
}

// The heads of four blocks (the GEMV's four rows) at once: each block's first 16 bytes are d, dmin and the
// 12 scale bytes, so one 128-bit lane per block takes scales_mins_16's steps for all four in one register
// (about a quarter of the instructions). sc16[k]: block k's scales in int16 lanes 0..7, mins in 8..15;
// d4 = the four d, nd4 = the four -dmin (sign flipped, as -_cvtsh_ss gives).
template <class Block>
FRSPEC_INLINE void block_heads_x4(const Block* b0, const Block* b1, const Block* b2, const Block* b3, __m512i* sc16, __m128& d4,
                                  __m128& nd4) {
  __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b0)));  // [d|dmin u0 u1 u2] per lane
  v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b1)), 1);
  v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b2)), 2);
  v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b3)), 3);
  const __m512i p = _mm512_shuffle_epi32(v, _MM_PERM_DDCB);  // [u0 u1 u2 u2]
  const __m512i q = _mm512_shuffle_epi32(v, _MM_PERM_CBCB);  // [.  .  u0 u1]
  const __m512i lo6_or_4 = _mm512_and_si512(_mm512_srlv_epi32(p, _mm512_set4_epi32(4, 0, 0, 0)),
                                            _mm512_set4_epi32(0x0f0f0f0f, 0x0f0f0f0f, 0x3f3f3f3f, 0x3f3f3f3f));
  const __m512i top2 = _mm512_and_si512(_mm512_srli_epi32(q, 6), _mm512_set4_epi32(0x03030303, 0x03030303, 0, 0));
  const __m512i bytes = _mm512_shuffle_epi32(_mm512_or_si512(lo6_or_4, _mm512_slli_epi32(top2, 4)), _MM_PERM_DBCA);
  const __m512i rows01 = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(bytes)), rows23 = _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(bytes, 1));
  sc16[0] = rows01;
  sc16[1] = _mm512_shuffle_i64x2(rows01, rows01, _MM_SHUFFLE(3, 2, 3, 2));
  sc16[2] = rows23;
  sc16[3] = _mm512_shuffle_i64x2(rows23, rows23, _MM_SHUFFLE(3, 2, 3, 2));
  // words 0 (d) and 1 (dmin) of each lane: [d0 d1 d2 d3 dmin0 .. dmin3]
  const __m512i pick = _mm512_castsi128_si512(_mm_setr_epi16(0, 8, 16, 24, 1, 9, 17, 25));
  const __m256 f = _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi16(pick, v)));
  d4 = _mm256_castps256_ps128(f);
  nd4 = _mm_xor_ps(_mm256_extractf128_ps(f, 1), _mm_set1_ps(-0.f));
}
#endif

}  // namespace frspec::kernels
