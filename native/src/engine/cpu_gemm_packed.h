// Internal to the packed GEMMs (cpu_gemm_kquants.cpp, cpu_matmul_q4_0.cpp, cpu_matmul_q8_0.cpp): the
// driver shared by every weight type. A group of 16 weight rows is unpacked once per call into a
// row-interleaved buffer (q[kq][row][4]: 4 consecutive values of each of the 16 rows per 64-byte vector, in
// the activation's order) that stays in L1/L2 while every token tile passes over it: one vpdpbusd then
// computes 4 products for each of the 16 rows of one token, the token's 4 activation bytes broadcast, and
// the int32 lanes are rows, so a block's sum needs no horizontal add. Each type then scales its exact
// integer block sums with the float chain its tile kernel uses (ScalarChains / PairChains), so a token gets
// the same bits from the packed GEMM, the tile GEMM and the GEMV.
#pragma once
#include <cstring>
#include <vector>

#include "engine/cpu_matmul_simd.h"
#include "common/thread_scratch.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
namespace frspec::FRSPEC_CPU::kernels::packed {

constexpr int kGroup = 16;  // weight rows per packed group: the 16 int32 lanes of a zmm
constexpr int kTok = 8;     // tokens per register tile

FRSPEC_INLINE int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// v[r] = 16 dwords of row r -> v[k] = dword k of rows 0..15.
FRSPEC_INLINE void transpose16x16(__m512i (&v)[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // u[4i + c], 128-bit lane L: rows 4i..4i+3 of column 4L + c
    u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i a = _mm512_shuffle_i32x4(u[c], u[4 + c], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i b = _mm512_shuffle_i32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512i e = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i f = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 1, 3, 1));
    v[c] = _mm512_shuffle_i32x4(a, e, _MM_SHUFFLE(2, 0, 2, 0));
    v[8 + c] = _mm512_shuffle_i32x4(a, e, _MM_SHUFFLE(3, 1, 3, 1));
    v[4 + c] = _mm512_shuffle_i32x4(b, f, _MM_SHUFFLE(2, 0, 2, 0));
    v[12 + c] = _mm512_shuffle_i32x4(b, f, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

// Values 64k..64k+63 of the Q6_K blocks w[0..15] (nullptr: a row past the matrix, all zero) in natural order, as
// cpu_matmul_q6_K.cpp assembles them, transposed to the VNNI layout: v[i] = values 4i..4i+3 of rows 0..15.
FRSPEC_INLINE void q6_K_values_64(const BlockQ6_K* const (&w)[kGroup], int k, __m512i (&v)[kGroup]) {
  const __m512i low4 = _mm512_set1_epi8(0x0f), low2 = _mm512_set1_epi8(0x03);
  for (int r = 0; r < kGroup; ++r) {
    if (!w[r]) {
      v[r] = _mm512_setzero_si512();
      continue;
    }
    const __m512i ql = _mm512_loadu_si512(w[r]->ql + 64 * (k / 2));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r]->qh + 32 * (k / 2)));
    const __m512i lo = (k & 1) ? _mm512_and_si512(_mm512_srli_epi16(ql, 4), low4) : _mm512_and_si512(ql, low4);
    const __m512i hi2 = (k & 1) ? _mm512_inserti64x4(_mm512_zextsi256_si512(_mm256_srli_epi16(qh, 4)), _mm256_srli_epi16(qh, 6), 1)
                                : _mm512_inserti64x4(_mm512_zextsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
    v[r] = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(hi2, low2), 4));
  }
  transpose16x16(v);
}

// acc[t] (+ bias) -> y[tok + t][row .. row + valid).
template <int T>
FRSPEC_INLINE void store_rows(const MatmulJob& j, int64_t row, int valid, int tok, const __m512 (&acc)[T]) {
  const __mmask16 mask = __mmask16((1u << valid) - 1);
  const __m512 bias = j.bias ? _mm512_maskz_loadu_ps(mask, j.bias + row) : _mm512_setzero_ps();
  for (int t = 0; t < T; ++t) {
    float* y = j.y + size_t(tok + t) * size_t(j.w->rows) + size_t(row);
    _mm512_mask_storeu_ps(y, mask, j.bias ? _mm512_add_ps(acc[t], bias) : acc[t]);
  }
}

// Tokens [tok, n) in tiles of kTok, the rest in one tile.
template <class P, template <int> class Tile>
void all_tokens(const MatmulJob& j, const P* pk, int64_t row, int valid) {
  int t = 0;
  for (; t + kTok <= j.n; t += kTok) Tile<kTok>::run(j, pk, row, valid, t);
  switch (j.n - t) {
    case 1: Tile<1>::run(j, pk, row, valid, t); break;
    case 2: Tile<2>::run(j, pk, row, valid, t); break;
    case 3: Tile<3>::run(j, pk, row, valid, t); break;
    case 4: Tile<4>::run(j, pk, row, valid, t); break;
    case 5: Tile<5>::run(j, pk, row, valid, t); break;
    case 6: Tile<6>::run(j, pk, row, valid, t); break;
    case 7: Tile<7>::run(j, pk, row, valid, t); break;
    default: break;
  }
}
// Rows [r0, r1) for all tokens (P: one packed unit of kValues values x 16 rows): each group of 16 rows packed once (per thread buffer, reused), then every
// token tile over it.
template <class P, void (*Pack)(const MatmulJob&, int64_t, int, P*), template <int> class Tile, int kValues>
void gemm_rows(const MatmulJob& j, int64_t r0, int64_t r1) {
  thread_local ThreadScratch<std::vector<P>> scratch;  // common/thread_scratch.h: why
  std::vector<P>& buf = scratch.get();
  const size_t nb = size_t((j.w->cols / QK8_0 * QK8_0 + kValues - 1) / kValues);  // packed units per row
  if (buf.size() < nb) buf.resize(nb);
  for (int64_t row = r0; row < r1; row += kGroup) {
    const int valid = int(r1 - row < kGroup ? r1 - row : kGroup);
    Pack(j, row, valid, buf.data());
    all_tokens<P, Tile>(j, buf.data(), row, valid);
  }
}

}  // namespace frspec::FRSPEC_CPU::kernels::packed
#endif
