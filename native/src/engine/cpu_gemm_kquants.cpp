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
#include <algorithm>

#include "engine/cpu_argmax_amx.h"
#include "engine/cpu_gemm_packed.h"
#include "engine/cpu_matmul_kscales.h"

namespace frspec::FRSPEC_CPU::kernels {

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
namespace {

using namespace packed;

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

// Block b of rows [row, row + valid) of the weight; rows past `valid` are zeros (outputs not stored).
FRSPEC_INLINE void pack_q4_K_block(const MatmulJob& j, int64_t row, int valid, int64_t b, PackedQ4K& p) {
  const __m512i nib = _mm512_set1_epi8(0x0f);
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
  // Scales and mins: row r's [sc0..7, m0..7] as 16 int32, transposed to one vector per field.
  __m512i v[kGroup];
  for (int r = 0; r < kGroup; ++r) v[r] = w[r] ? _mm512_cvtepu16_epi32(scales_mins_16(w[r]->scales)) : _mm512_setzero_si512();
  transpose16x16(v);
  for (int s = 0; s < 8; ++s) _mm512_store_si512(p.sc[s], v[kQ4KSlot[s]]);
  for (int i = 0; i < 8; ++i) _mm512_store_si512(p.m[i], _mm512_or_si512(v[8 + i], _mm512_slli_epi32(v[8 + i], 16)));  // (m, m)
  for (int r = 0; r < kGroup; ++r) {
    p.d[r] = w[r] ? _cvtsh_ss(w[r]->d) : 0.f;
    p.nd[r] = w[r] ? -_cvtsh_ss(w[r]->dmin) : 0.f;
  }
}
void pack_q4_K(const MatmulJob& j, int64_t row, int valid, PackedQ4K* out) {
  for (int64_t b = 0; b < j.w->cols / QK_K; ++b) pack_q4_K_block(j, row, valid, b, out[b]);
}

// Q5_K: Q4_K's layout plus a fifth bit per value (qh[l] bit j for value l of sub-block j), so the same
// packed block and tile; quants 0..31.
FRSPEC_INLINE void pack_q5_K_block(const MatmulJob& j, int64_t row, int valid, int64_t b, PackedQ4K& p) {
  const __m512i nib = _mm512_set1_epi8(0x0f), one = _mm512_set1_epi8(0x01);
  const BlockQ5_K* w[kGroup];
  for (int r = 0; r < kGroup; ++r) w[r] = r < valid ? reinterpret_cast<const BlockQ5_K*>(j.weight_row(row + r)) + b : nullptr;
  for (int c = 0; c < 4; ++c) {
    // bytes 0..31 hold sub-block kQ4KSlot[2c], 32..63 kQ4KSlot[2c + 1]: shift qh by the sub-block number
    const __m512i pick = _mm512_inserti64x4(_mm512_set1_epi16(short(kQ4KSlot[2 * c])), _mm256_set1_epi16(short(kQ4KSlot[2 * c + 1])), 1);
    __m512i v[kGroup];
    for (int r = 0; r < kGroup; ++r) {
      if (!w[r]) {
        v[r] = _mm512_setzero_si512();
        continue;
      }
      const __m512i raw = _mm512_loadu_si512(w[r]->qs + 64 * (c / 2));
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r]->qh)));
      const __m512i bit = _mm512_and_si512(_mm512_srlv_epi16(qh, pick), one);
      v[r] = _mm512_or_si512(_mm512_and_si512(c % 2 ? _mm512_srli_epi16(raw, 4) : raw, nib), _mm512_slli_epi16(bit, 4));
    }
    transpose16x16(v);
    for (int k = 0; k < 16; ++k) _mm512_store_si512(p.q[16 * c + k], v[k]);
  }
  __m512i v[kGroup];
  for (int r = 0; r < kGroup; ++r) v[r] = w[r] ? _mm512_cvtepu16_epi32(scales_mins_16(w[r]->scales)) : _mm512_setzero_si512();
  transpose16x16(v);
  for (int s = 0; s < 8; ++s) _mm512_store_si512(p.sc[s], v[kQ4KSlot[s]]);
  for (int i = 0; i < 8; ++i) _mm512_store_si512(p.m[i], _mm512_or_si512(v[8 + i], _mm512_slli_epi32(v[8 + i], 16)));
  for (int r = 0; r < kGroup; ++r) {
    p.d[r] = w[r] ? _cvtsh_ss(w[r]->d) : 0.f;
    p.nd[r] = w[r] ? -_cvtsh_ss(w[r]->dmin) : 0.f;
  }
}
void pack_q5_K(const MatmulJob& j, int64_t row, int valid, PackedQ4K* out) {
  for (int64_t b = 0; b < j.w->cols / QK_K; ++b) pack_q5_K_block(j, row, valid, b, out[b]);
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
    // The 16 signed scales of each row as int32, transposed to one vector per sub-block; pairs as int16.
    __m512i v[kGroup];
    for (int r = 0; r < kGroup; ++r)
      v[r] = w[r] ? _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r]->scales))) : _mm512_setzero_si512();
    transpose16x16(v);
    for (int g = 0; g < 16; ++g) _mm512_store_si512(p.sc[g], v[g]);
    const __m512i low16 = _mm512_set1_epi32(0xffff);
    for (int i = 0; i < 8; ++i)
      _mm512_store_si512(p.sp[i], _mm512_or_si512(_mm512_and_si512(v[2 * i], low16), _mm512_slli_epi32(v[2 * i + 1], 16)));
    for (int r = 0; r < kGroup; ++r) p.d[r] = w[r] ? _cvtsh_ss(w[r]->d) : 0.f;
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

template <int T>
struct TileQ4K {
  static void run(const MatmulJob& j, const PackedQ4K* pk, int64_t row, int valid, int tok) { tile_q4_K<T>(j, pk, row, valid, tok); }
};
template <int T>
struct TileQ6K {
  static void run(const MatmulJob& j, const PackedQ6K* pk, int64_t row, int valid, int tok) { tile_q6_K<T>(j, pk, row, valid, tok); }
};

#if defined(__AMX_INT8__) && defined(__AMX_TILE__)
// ---- AMX tiles for Q4_K / Q5_K (the amx variant on Sapphire Rapids and later).
//
// AMX multiplies 16 tokens' signed activation bytes (A: 16 x 64) by 16 weight rows' unsigned bytes in the
// VNNI layout of the packed block above (B: q[kq][row][4]) into 16 x 16 int32 sums, K = 64 values per
// instruction. The sub-block scales are what keeps the VNNI tile's loop per 32-value sub-block: a dot
// product must be multiplied by its row's scale before it is added. Here the scale goes into the weight
// bytes instead: a 6-bit scale is 8 hi + lo (hi, lo < 8), and q * lo, q * hi (q < 32) are bytes, so
//   I = sum_s sc_s * dot_s = sum_k a_k * q_k * lo_s(k) + 8 * sum_k a_k * q_k * hi_s(k)
// is two dot products over the whole 256-value block. The mins' sum M = sum_s m_s * S_s (S_s: the sum of
// sub-block s's activation bytes, from the block's 16-value bsums) takes 4 vpdpwssd per token and block.
// I and M are exact int32, the same integers the VNNI tile computes, and the float epilogue is its own,
// so a token gets the same bits from this path, the VNNI GEMM and the GEMV.
//
// Where the time goes: per 16 rows, 16 tokens and block, 8 TDPBSUD (~128 cycles) against 1 KB of A and
// 8 KB of B tiles, 2 tile stores and the float epilogue (~20 instructions per token). So the loops keep B
// in L1 (one block of two 16-row groups, 17 KB, serves every token tile: C = 4 tiles, lo and hi of both
// groups, one A tile feeds 4 products) and the activations in L2 (a chunk of blocks for all tokens passes
// over every row group of the task before the next chunk), and the float sums live in memory per
// (row group, token) across chunks.
struct alignas(64) PackedQ4KAmx {
  uint8_t lo[64][kGroup][4];  // q * (sc & 7), in PackedQ4K::q's layout
  uint8_t hi[64][kGroup][4];  // q * (sc >> 3)
  int16_t m[4][kGroup][2];    // (m_2k, m_2k+1): pairs with the activation's (S_2k, S_2k+1)
  float d[kGroup], nd[kGroup];
};

// From the VNNI packing of one block (pack_q4_K_block / pack_q5_K_block) to PackedQ4KAmx.
template <void (*PackBlock)(const MatmulJob&, int64_t, int, int64_t, PackedQ4K&)>
void pack_q4_K_amx(const MatmulJob& j, int64_t row, int valid, int64_t b, PackedQ4KAmx& o) {
  alignas(64) PackedQ4K p;
  PackBlock(j, row, valid, b, p);
  const __m512i low16 = _mm512_set1_epi32(0xffff), seven = _mm512_set1_epi32(0x00070007);
  for (int s = 0; s < 8; ++s) {
    // A lane holds one row's 4 values of one sub-block, so both 16-bit words of a lane take the row's
    // scale part: one 16-bit product gives both bytes' products (q * 7 < 256: no carry into the high byte).
    const __m512i sc = _mm512_load_si512(p.sc[s]);
    const __m512i sc2 = _mm512_or_si512(sc, _mm512_slli_epi32(sc, 16));
    const __m512i lo = _mm512_and_si512(sc2, seven), hi = _mm512_and_si512(_mm512_srli_epi16(sc2, 3), seven);
    for (int q = 0; q < 8; ++q) {
      const int kq = 8 * s + q;
      const __m512i wq = _mm512_load_si512(p.q[kq]);
      _mm512_store_si512(o.lo[kq], _mm512_mullo_epi16(wq, lo));
      _mm512_store_si512(o.hi[kq], _mm512_mullo_epi16(wq, hi));
    }
  }
  // p.m[i] = (m_i, m_i) per lane -> (m_2k, m_2k+1).
  for (int k = 0; k < 4; ++k)
    _mm512_store_si512(o.m[k], _mm512_or_si512(_mm512_and_si512(_mm512_load_si512(p.m[2 * k]), low16),
                                               _mm512_andnot_si512(low16, _mm512_load_si512(p.m[2 * k + 1]))));
  std::memcpy(o.d, p.d, sizeof o.d);
  std::memcpy(o.nd, p.nd, sizeof o.nd);
}

// Tiles 0, 1: C = lo and hi sums of row group 0 (nt tokens x 16 rows, int32), 2, 3: of group 1; 4, 5: A (nt
// tokens x 64 bytes, alternating so a load need not wait for the products reading the other); 6, 7: B.
amx::TileConfig amx_config(int nt) {
  amx::TileConfig c;
  for (int t : {0, 1, 2, 3, 4, 5}) c.rows[t] = uint8_t(nt), c.colsb[t] = 64;
  for (int t : {6, 7}) c.rows[t] = 16, c.colsb[t] = 64;
  return c;
}

// (S_2k, S_2k+1) as int16 pairs for k = 0..3 (S_s = bsums[2s] + bsums[2s+1], |S_s| <= 32 * 127).
FRSPEC_INLINE void sub_block_sums(const ActQ8_K& a, int32_t* out) {
  const __m256i s = _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums)), _mm256_set1_epi16(1));
  const __m256i p = _mm256_packs_epi32(s, s);  // [S0..S3 S0..S3 | S4..S7 S4..S7]
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(_mm256_permute4x64_epi64(p, 0x08)));
}

// The per-thread state of one call (amx_gemm_rows_q4_K): float sums per (row group, token), the tokens'
// sub-block sum pairs per block.
struct alignas(64) Row16 {
  float v[16];
};
struct AmxQ4KScratch {
  std::vector<Row16> acc;  // [group][token]: 16 rows
  std::vector<int32_t> spairs;
};

// One 64-value chunk c of a block for one A tile (tile A): products with both groups' lo/hi planes.
#define FRSPEC_AMX_Q4K_CHUNK(A, c)                \
  do {                                            \
    _tile_loadd(A, qs + 64 * (c), QK_K);          \
    _tile_loadd(6, p0.lo[16 * (c)], 64);          \
    _tile_dpbsud(0, A, 6);                        \
    _tile_loadd(7, p0.hi[16 * (c)], 64);          \
    _tile_dpbsud(1, A, 7);                        \
    if (two) {                                    \
      _tile_loadd(6, p1.lo[16 * (c)], 64);        \
      _tile_dpbsud(2, A, 6);                      \
      _tile_loadd(7, p1.hi[16 * (c)], 64);        \
      _tile_dpbsud(3, A, 7);                      \
    }                                             \
  } while (0)

// Block b of row groups p0 (and p1 if `two`) for the 16-token tile at tok (nt <= 16 of its tokens are real):
// the tile products, then each token's float chain step. acc0/acc1: the groups' float sums, 16 per token.
FRSPEC_INLINE void amx_block_q4_K(const MatmulJob& j, const PackedQ4KAmx& p0, const PackedQ4KAmx& p1, bool two, int64_t b, int tok,
                                  int nt, const int32_t* spairs, int64_t nb, float* acc0, float* acc1) {
  const size_t stride = j.act_stride;
  const uint8_t* x0 = j.act_row(tok) + size_t(b) * sizeof(ActQ8_K);
  const int8_t* qs = j.act_tiles + (size_t(tok / 16) * size_t(nb) + size_t(b)) * 16 * QK_K;
  alignas(64) int32_t sums[4][16][16];  // lo, hi of group 0, lo, hi of group 1: [token][row]
  _tile_zero(0);
  _tile_zero(1);
  if (two) {
    _tile_zero(2);
    _tile_zero(3);
  }
  FRSPEC_AMX_Q4K_CHUNK(4, 0);
  FRSPEC_AMX_Q4K_CHUNK(5, 1);
  FRSPEC_AMX_Q4K_CHUNK(4, 2);
  FRSPEC_AMX_Q4K_CHUNK(5, 3);
  _tile_stored(0, sums[0], 64);
  _tile_stored(1, sums[1], 64);
  if (two) {
    _tile_stored(2, sums[2], 64);
    _tile_stored(3, sums[3], 64);
  }
  const PackedQ4KAmx* pg[2] = {&p0, &p1};
  float* accg[2] = {acc0, acc1};
  for (int g = 0; g < (two ? 2 : 1); ++g) {
    const PackedQ4KAmx& p = *pg[g];
    const __m512 d = _mm512_load_ps(p.d), nd = _mm512_load_ps(p.nd);
    const __m512i m0 = _mm512_load_si512(p.m[0]), m1 = _mm512_load_si512(p.m[1]), m2 = _mm512_load_si512(p.m[2]),
                  m3 = _mm512_load_si512(p.m[3]);
    for (int t = 0; t < nt; ++t) {
      const float dxf = reinterpret_cast<const ActQ8_K*>(x0 + size_t(t) * stride)->d;
      const int32_t* sp = spairs + (size_t(tok + t) * size_t(nb) + size_t(b)) * 4;
      __m512i msum = _mm512_dpwssd_epi32(_mm512_setzero_si512(), m0, _mm512_set1_epi32(sp[0]));
      msum = _mm512_dpwssd_epi32(msum, m1, _mm512_set1_epi32(sp[1]));
      msum = _mm512_dpwssd_epi32(msum, m2, _mm512_set1_epi32(sp[2]));
      msum = _mm512_dpwssd_epi32(msum, m3, _mm512_set1_epi32(sp[3]));
      const __m512i isum = _mm512_add_epi32(_mm512_load_si512(sums[2 * g][t]), _mm512_slli_epi32(_mm512_load_si512(sums[2 * g + 1][t]), 3));
      const __m512 dx = _mm512_set1_ps(dxf);
      float* a = accg[g] + size_t(tok + t) * 16;
      __m512 acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, dx), _mm512_load_ps(a));
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(nd, dx), acc);
      _mm512_store_ps(a, acc);
    }
  }
}
#undef FRSPEC_AMX_Q4K_CHUNK

// As packed::gemm_rows, with 16-token AMX tiles (MatmulJob::act_tiles; the last tile's missing tokens are
// zeros whose products are not used). Loops: chunks of blocks small enough that all tokens' activations
// for them stay in L2; in each, pairs of 16-row groups, block by block (packed once, then in L1 while every
// token tile passes over it).
template <void (*PackBlock)(const MatmulJob&, int64_t, int, int64_t, PackedQ4K&)>
void amx_gemm_rows_q4_K(const MatmulJob& j, int64_t r0, int64_t r1) {
  thread_local AmxQ4KScratch scratch;
  const int64_t nb = j.w->cols / QK_K;
  const int n = j.n;
  const int64_t groups = (r1 - r0 + kGroup - 1) / kGroup;
  std::vector<Row16>& acc = scratch.acc;
  std::vector<int32_t>& spairs = scratch.spairs;
  acc.assign(size_t(groups) * size_t(n), Row16{});
  if (spairs.size() < size_t(n) * size_t(nb) * 4) spairs.resize(size_t(n) * size_t(nb) * 4);
  for (int t = 0; t < n; ++t)
    for (int64_t b = 0; b < nb; ++b) sub_block_sums(reinterpret_cast<const ActQ8_K*>(j.act_row(t))[b], spairs.data() + (size_t(t) * size_t(nb) + size_t(b)) * 4);
  amx::TileScope tiles(amx_config(16));
  // Blocks per chunk: all tokens' activation blocks of a chunk within ~512 KB.
  const int64_t chunk = std::max<int64_t>(1, int64_t(512 * 1024) / (int64_t(n) * int64_t(QK_K)));
  alignas(64) PackedQ4KAmx pk[2];
  for (int64_t c0 = 0; c0 < nb; c0 += chunk) {
    const int64_t c1 = std::min(nb, c0 + chunk);
    for (int64_t g = 0; g < groups; g += 2) {
      const bool two = g + 1 < groups;
      const int64_t row0 = r0 + g * kGroup, row1 = row0 + kGroup;
      const int valid0 = int(std::min<int64_t>(kGroup, r1 - row0)), valid1 = two ? int(std::min<int64_t>(kGroup, r1 - row1)) : 0;
      float* acc0 = reinterpret_cast<float*>(acc.data() + size_t(g) * size_t(n));
      float* acc1 = two ? acc0 + size_t(n) * 16 : acc0;
      for (int64_t b = c0; b < c1; ++b) {
        pack_q4_K_amx<PackBlock>(j, row0, valid0, b, pk[0]);
        if (two) pack_q4_K_amx<PackBlock>(j, row1, valid1, b, pk[1]);
        for (int tok = 0; tok < n; tok += 16)
          amx_block_q4_K(j, pk[0], pk[1], two, b, tok, std::min(16, n - tok), spairs.data(), nb, acc0, acc1);
      }
    }
  }
  // y = acc (+ bias)
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t row = r0 + g * kGroup;
    const int valid = int(std::min<int64_t>(kGroup, r1 - row));
    const __mmask16 mask = __mmask16((1u << valid) - 1);
    const __m512 bias = j.bias ? _mm512_maskz_loadu_ps(mask, j.bias + row) : _mm512_setzero_ps();
    for (int t = 0; t < n; ++t) {
      const __m512 a = _mm512_load_ps(acc[size_t(g) * size_t(n) + size_t(t)].v);
      float* y = j.y + size_t(t) * size_t(j.w->rows) + size_t(row);
      _mm512_mask_storeu_ps(y, mask, j.bias ? _mm512_add_ps(a, bias) : a);
    }
  }
}
#endif

}  // namespace

// Q4_K / Q5_K: the AMX tiles where this variant has them and the CPU and kernel allow them (amx::available();
// FRSPEC_AMX=0 turns them off), else the VNNI tiles. Same bits either way.
RowsFn gemm_fn_q4_K() {
#if defined(__AMX_INT8__) && defined(__AMX_TILE__)
  if (amx::available()) return amx_gemm_rows_q4_K<pack_q4_K_block>;
#endif
  return gemm_rows<PackedQ4K, pack_q4_K, TileQ4K, QK_K>;
}
RowsFn gemm_fn_q6_K() { return gemm_rows<PackedQ6K, pack_q6_K, TileQ6K, QK_K>; }
RowsFn gemm_fn_q5_K() {
#if defined(__AMX_INT8__) && defined(__AMX_TILE__)
  if (amx::available()) return amx_gemm_rows_q4_K<pack_q5_K_block>;
#endif
  return gemm_rows<PackedQ4K, pack_q5_K, TileQ4K, QK_K>;
}

#else
RowsFn gemm_fn_q4_K() { return nullptr; }
RowsFn gemm_fn_q6_K() { return nullptr; }
RowsFn gemm_fn_q5_K() { return nullptr; }
#endif

bool gemm_act_tiles(DType t) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AMX_INT8__) && \
    defined(__AMX_TILE__)
  return (t == DType::Q4_K || t == DType::Q5_K) && amx::available();
#else
  (void)t;
  return false;
#endif
}

}  // namespace frspec::kernels
