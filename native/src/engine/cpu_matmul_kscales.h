// Internal to cpu_matmul_q4_K.cpp and cpu_matmul_q5_K.cpp: the 6-bit scales and mins of a Q4_K / Q5_K block
// (the two formats pack them identically, ggml get_scale_min_k4), unpacked for the kernels.
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
#endif

}  // namespace frspec::kernels
