// Packed GEMM for Q4_K and Q6_K weights (prompt chunks: n >= gemm_min_n() tokens), AVX-512 VNNI.
//
// Why: the tile kernels (cpu_matmul_q4_K.cpp, _q6_K.cpp) unpack every weight block again for each tile of
// 8 tokens, and spend as many instructions scaling each (row, token)'s sums as multiplying. Here a group of
// 16 weight rows is unpacked ONCE per call into a row-interleaved buffer (4 consecutive values of each of
// the 16 rows per 64-byte vector, in the activation's order) that stays in L1/L2 while every token tile
// passes over it: one vpdpbusd then computes 4 products for each of the 16 rows of one token, the token's
// 4 activation bytes broadcast. The int32 lanes are rows, so a sub-block's dot product needs no horizontal
// sum: it is multiplied by the 16 rows' integer sub-block scales (vpmulld) and added, giving each (row,
// token)'s exact int32 block sum I (and M, the mins' sum, from the activation's 16-value sums).
//
// Exactness: I and M are the same integers the tile kernels compute, and the float epilogue is theirs
// (ScalarChains in cpu_matmul_simd.h): per (row, token) acc = fma(float(I), d * dx, acc), then
// acc = fma(float(M), (-dmin) * dx, acc) for Q4_K, blocks in order; y = acc (+ bias). So a token gets the
// same bits from this GEMM, from the tile GEMM and from the GEMV, whatever n, the tiling or the threads.
#include <cstring>
#include <vector>

#include "engine/cpu_matmul_kscales.h"

namespace frspec::FRSPEC_CPU::kernels {

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
namespace {

constexpr int kGroup = 16;  // weight rows per packed group: the 16 int32 lanes of a zmm
constexpr int kTok = 8;     // tokens per register tile: 8 dot + 8 block-sum + 8 float accumulators

// One 256-value block of 16 rows. q[kq][r][i] = quant of row r at activation position 4 kq + i.
struct alignas(64) PackedQ4K {
  uint8_t q[64][kGroup][4];
  int32_t sc[8][kGroup];     // scale of the activation's 32-value slot s (sub-block kQ4KSlot[s])
  int16_t m[8][kGroup][2];   // (m_i, m_i): pairs with the activation's bsums 2i, 2i+1 (sub-block i)
  float d[kGroup], nd[kGroup];  // d and -dmin
};
struct alignas(64) PackedQ6K {
  uint8_t q[64][kGroup][4];  // 6-bit quants 0..63 (the -32 offset comes from the bsums)
  int32_t sc[16][kGroup];    // signed 16-value sub-block scales
  int16_t sp[8][kGroup][2];  // (sc[2i], sc[2i+1]): pairs with bsums 2i, 2i+1
  float d[kGroup];
};

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

// Rows [row, row + valid) of the weight, block by block; rows past `valid` are zeros (outputs not stored).
void pack_q4_K(const MatmulJob& j, int64_t row, int valid, PackedQ4K* out) {
  const int64_t nb = j.w->cols / QK_K;
  const __m512i nib = _mm512_set1_epi8(0x0f);
  for (int64_t b = 0; b < nb; ++b) {
    PackedQ4K& p = out[b];
    const BlockQ4_K* w[kGroup];
    for (int r = 0; r < kGroup; ++r) w[r] = r < valid ? reinterpret_cast<const BlockQ4_K*>(j.weight_row(row + r)) + b : nullptr;
    // Activation chunk c (positions 64c..64c+63, slots 2c and 2c+1) = nibble c % 2 of qs[64 (c / 2) ..+64).
    for (int c = 0; c < 4; ++c) {
      __m512i v[kGroup];
      for (int r = 0; r < kGroup; ++r) {
        const __m512i raw = w[r] ? _mm512_loadu_si512(w[r]->qs + 64 * (c / 2)) : _mm512_setzero_si512();
        v[r] = _mm512_and_si512(c % 2 ? _mm512_srli_epi16(raw, 4) : raw, nib);
      }
      transpose16x16(v);
      for (int k = 0; k < 16; ++k) _mm512_store_si512(p.q[16 * c + k], v[k]);
    }
    for (int r = 0; r < kGroup; ++r) {
      uint8_t sc[8] = {}, m[8] = {};
      if (w[r]) unpack_scales(w[r]->scales, sc, m);
      for (int s = 0; s < 8; ++s) p.sc[s][r] = sc[kQ4KSlot[s]];
      for (int i = 0; i < 8; ++i) p.m[i][r][0] = p.m[i][r][1] = int16_t(m[i]);
      p.d[r] = w[r] ? _cvtsh_ss(w[r]->d) : 0.f;
      p.nd[r] = w[r] ? -_cvtsh_ss(w[r]->dmin) : 0.f;
    }
  }
}

void pack_q6_K(const MatmulJob& j, int64_t row, int valid, PackedQ6K* out) {
  const int64_t nb = j.w->cols / QK_K;
  const __m512i low4 = _mm512_set1_epi8(0x0f), low2 = _mm512_set1_epi8(0x03);
  for (int64_t b = 0; b < nb; ++b) {
    PackedQ6K& p = out[b];
    const BlockQ6_K* w[kGroup];
    for (int r = 0; r < kGroup; ++r) w[r] = r < valid ? reinterpret_cast<const BlockQ6_K*>(j.weight_row(row + r)) + b : nullptr;
    // Values 64k..64k+63 as the tile kernel assembles them (cpu_matmul_q6_K.cpp).
    for (int k = 0; k < 4; ++k) {
      __m512i v[kGroup];
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
      for (int i = 0; i < 16; ++i) _mm512_store_si512(p.q[16 * k + i], v[i]);
    }
    for (int r = 0; r < kGroup; ++r) {
      for (int g = 0; g < 16; ++g) p.sc[g][r] = w[r] ? w[r]->scales[g] : 0;
      for (int i = 0; i < 8; ++i) {
        p.sp[i][r][0] = int16_t(w[r] ? w[r]->scales[2 * i] : 0);
        p.sp[i][r][1] = int16_t(w[r] ? w[r]->scales[2 * i + 1] : 0);
      }
      p.d[r] = w[r] ? _cvtsh_ss(w[r]->d) : 0.f;
    }
  }
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

template <int T>
void tile_q4_K(const MatmulJob& j, const PackedQ4K* pk, int64_t row, int valid, int tok) {
  const int64_t nb = j.w->cols / QK_K;
  const ActQ8_K* x[T];
  for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const PackedQ4K& p = pk[b];
    __m512i isum[T];
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
    for (int s = 0; s < 8; ++s) {
      __m512i dot[T];
      for (int t = 0; t < T; ++t) dot[t] = _mm512_setzero_si512();
      for (int q = 0; q < 8; ++q) {
        const int kq = 8 * s + q;
        const __m512i wv = _mm512_load_si512(p.q[kq]);
        for (int t = 0; t < T; ++t) dot[t] = _mm512_dpbusd_epi32(dot[t], wv, _mm512_set1_epi32(load_i32(x[t][b].qs + 4 * kq)));
      }
      const __m512i sc = _mm512_load_si512(p.sc[s]);
      for (int t = 0; t < T; ++t) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(dot[t], sc));
    }
    const __m512 d = _mm512_load_ps(p.d), nd = _mm512_load_ps(p.nd);
    for (int t = 0; t < T; ++t) {
      __m512i msum = _mm512_setzero_si512();
      for (int i = 0; i < 8; ++i) msum = _mm512_dpwssd_epi32(msum, _mm512_load_si512(p.m[i]), _mm512_set1_epi32(load_i32(x[t][b].bsums + 2 * i)));
      const __m512 dx = _mm512_set1_ps(x[t][b].d);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, dx), acc[t]);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(nd, dx), acc[t]);
    }
  }
  store_rows<T>(j, row, valid, tok, acc);
}

template <int T>
void tile_q6_K(const MatmulJob& j, const PackedQ6K* pk, int64_t row, int valid, int tok) {
  const int64_t nb = j.w->cols / QK_K;
  const ActQ8_K* x[T];
  for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_K*>(j.act_row(tok + t));
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const PackedQ6K& p = pk[b];
    __m512i isum[T];
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
    for (int g = 0; g < 16; ++g) {
      __m512i dot[T];
      for (int t = 0; t < T; ++t) dot[t] = _mm512_setzero_si512();
      for (int q = 0; q < 4; ++q) {
        const int kq = 4 * g + q;
        const __m512i wv = _mm512_load_si512(p.q[kq]);
        for (int t = 0; t < T; ++t) dot[t] = _mm512_dpbusd_epi32(dot[t], wv, _mm512_set1_epi32(load_i32(x[t][b].qs + 4 * kq)));
      }
      const __m512i sc = _mm512_load_si512(p.sc[g]);
      for (int t = 0; t < T; ++t) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(dot[t], sc));
    }
    const __m512 d = _mm512_load_ps(p.d);
    for (int t = 0; t < T; ++t) {
      __m512i offset = _mm512_setzero_si512();  // sum_g sc[g] * bsum_g
      for (int i = 0; i < 8; ++i) offset = _mm512_dpwssd_epi32(offset, _mm512_load_si512(p.sp[i]), _mm512_set1_epi32(load_i32(x[t][b].bsums + 2 * i)));
      const __m512i total = _mm512_sub_epi32(isum[t], _mm512_slli_epi32(offset, 5));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(d, _mm512_set1_ps(x[t][b].d)), acc[t]);
    }
  }
  store_rows<T>(j, row, valid, tok, acc);
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
template <int T>
struct TileQ4K {
  static void run(const MatmulJob& j, const PackedQ4K* pk, int64_t row, int valid, int tok) { tile_q4_K<T>(j, pk, row, valid, tok); }
};
template <int T>
struct TileQ6K {
  static void run(const MatmulJob& j, const PackedQ6K* pk, int64_t row, int valid, int tok) { tile_q6_K<T>(j, pk, row, valid, tok); }
};

// Rows [r0, r1) for all tokens: each group of 16 rows packed once (per thread buffer, reused), then every
// token tile over it.
template <class P, void (*Pack)(const MatmulJob&, int64_t, int, P*), template <int> class Tile>
void gemm_rows(const MatmulJob& j, int64_t r0, int64_t r1) {
  thread_local std::vector<P> buf;
  const size_t nb = size_t(j.w->cols / QK_K);
  if (buf.size() < nb) buf.resize(nb);
  for (int64_t row = r0; row < r1; row += kGroup) {
    const int valid = int(r1 - row < kGroup ? r1 - row : kGroup);
    Pack(j, row, valid, buf.data());
    all_tokens<P, Tile>(j, buf.data(), row, valid);
  }
}

}  // namespace

RowsFn gemm_fn_q4_K() { return gemm_rows<PackedQ4K, pack_q4_K, TileQ4K>; }
RowsFn gemm_fn_q6_K() { return gemm_rows<PackedQ6K, pack_q6_K, TileQ6K>; }

#else
RowsFn gemm_fn_q4_K() { return nullptr; }
RowsFn gemm_fn_q6_K() { return nullptr; }
#endif

}  // namespace frspec::kernels
