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
#include <cstring>
#include <type_traits>

#include "common/thread_scratch.h"
#include "engine/cpu_argmax_amx.h"
#include "engine/cpu_gemm_amx_units.h"
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

// Activation chunk c (positions 64c..64c+63: slots 2c and 2c+1) of one row's block: nibble c % 2 of
// qs[64 (c / 2) ..+64), for Q5_K with the fifth bit (qh[l] bit j for value l of sub-block j).
template <class Block>
FRSPEC_INLINE __m512i quant_chunk(const Block* w, int c) {
  const __m512i raw = _mm512_loadu_si512(w->qs + 64 * (c / 2));
  const __m512i v = _mm512_and_si512(c % 2 ? _mm512_srli_epi16(raw, 4) : raw, _mm512_set1_epi8(0x0f));
  if constexpr (std::is_same_v<Block, BlockQ5_K>) {
    // bytes 0..31 hold sub-block kQ4KSlot[2c], 32..63 kQ4KSlot[2c + 1]: shift qh by the sub-block number
    const __m512i pick = _mm512_inserti64x4(_mm512_set1_epi16(short(kQ4KSlot[2 * c])), _mm256_set1_epi16(short(kQ4KSlot[2 * c + 1])), 1);
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w->qh)));
    const __m512i bit = _mm512_and_si512(_mm512_srlv_epi16(qh, pick), _mm512_set1_epi8(0x01));
    return _mm512_or_si512(v, _mm512_slli_epi16(bit, 4));
  } else {
    return v;
  }
}

// Block b of rows [row, row + valid) of a Q4_K or Q5_K weight; rows past `valid` are zeros (outputs not stored).
template <class Block>
void pack_q4_K_block(const MatmulJob& j, int64_t row, int valid, int64_t b, PackedQ4K& p) {
  const Block* w[kGroup];
  for (int r = 0; r < kGroup; ++r) w[r] = r < valid ? reinterpret_cast<const Block*>(j.weight_row(row + r)) + b : nullptr;
  for (int c = 0; c < 4; ++c) {
    __m512i v[kGroup];
    for (int r = 0; r < kGroup; ++r) v[r] = w[r] ? quant_chunk(w[r], c) : _mm512_setzero_si512();
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
// All blocks (Q5_K: Q4_K's layout plus the fifth bit, so the same packed block and tile; quants 0..31).
template <class Block>
void pack_q4_K_rows(const MatmulJob& j, int64_t row, int valid, PackedQ4K* out) {
  for (int64_t b = 0; b < j.w->cols / QK_K; ++b) pack_q4_K_block<Block>(j, row, valid, b, out[b]);
}

void pack_q6_K(const MatmulJob& j, int64_t row, int valid, PackedQ6K* out) {
  const int64_t nb = j.w->cols / QK_K;
  for (int64_t b = 0; b < nb; ++b) {
    PackedQ6K& p = out[b];
    const BlockQ6_K* w[kGroup];
    for (int r = 0; r < kGroup; ++r) w[r] = r < valid ? reinterpret_cast<const BlockQ6_K*>(j.weight_row(row + r)) + b : nullptr;
    // Values 64k..64k+63 as the tile kernel assembles them (cpu_matmul_q6_K.cpp).
    for (int k = 0; k < 4; ++k) {
      __m512i v[kGroup];
      q6_K_values_64(w, k, v);
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
// sub-block s's activation bytes, from the block's 16-value bsums) is one BF16 tile product (mins_row).
// I and M are exact, the same integers the VNNI tile computes, and the float epilogue is its own, so a
// token gets the same bits from this path, the VNNI GEMM and the GEMV.
//
// Where the time goes: per 16 rows, 16 tokens and block, 8 TDPBSUD and 1 TDPBF16PS (~150 cycles of the
// tile unit) against 13 KB of tile loads, 3 tile stores and the float step (~12 instructions per token). So
// the loops keep B in L1 (one block of a 16-row group, 9 KB, serves every token tile) and the activations
// in L2 (a chunk of blocks for all tokens passes over every row group of the task before the next chunk),
// the float sums live in memory per (row group, token) across chunks, and the float step of one tile runs
// while the tile unit computes the next.
struct alignas(64) PackedQ4KAmx {
  uint8_t lo[64][kGroup][4];  // q * (sc & 7), in PackedQ4K::q's layout
  uint8_t hi[64][kGroup][4];  // q * (sc >> 3)
  uint16_t mb[16][kGroup][2];  // BF16 B operand of the mins' sum: pairs k < 4 (m_2k, m_2k+1), 4 <= k < 8 64 times those, rest 0
  float d[kGroup], nd[kGroup];
};

// Block b of rows [row, row + valid) (Q4_K or Q5_K) as PackedQ4KAmx: the quants in PackedQ4K::q's layout
// (pack_q4_K_block), multiplied by the scale parts as they are transposed. A lane holds one row's 4 values
// of one sub-block, so both 16-bit words of a lane take the row's scale part: one 16-bit product gives
// both bytes' products (q * 7 < 256: no carry into the high byte).
//
// In five pieces (kPackPieces), so that packing the next block runs between the tile products of this one
// instead of leaving the tile unit idle: piece 0 the scales, mins and d (AmxPackState keeps the scales for
// the rest), piece 1 + c the 64-value chunk c of both planes.
constexpr int kPackPieces = 5;
template <class Block>
struct AmxPackState {
  const Block* w[kGroup];
  alignas(64) int32_t sm[16][16];  // [field][row]: sc0..7, m0..7
};

template <class Block>
void pack_q4_K_amx_piece(const MatmulJob& j, int64_t row, int valid, int64_t b, int piece, AmxPackState<Block>& st, PackedQ4KAmx& o) {
  if (piece == 0) {
    for (int r = 0; r < kGroup; ++r) st.w[r] = r < valid ? reinterpret_cast<const Block*>(j.weight_row(row + r)) + b : nullptr;
    // Scales and mins: row r's [sc0..7, m0..7] as 16 int32, transposed to one vector per field.
    __m512i sm[kGroup];
    for (int r = 0; r < kGroup; ++r) sm[r] = st.w[r] ? _mm512_cvtepu16_epi32(scales_mins_16(st.w[r]->scales)) : _mm512_setzero_si512();
    transpose16x16(sm);
    for (int k = 0; k < 16; ++k) _mm512_store_si512(st.sm[k], sm[k]);
    // Mins m_i (lanes: rows) -> BF16 (m_2k, m_2k+1) and (64 m_2k, 64 m_2k+1): integers below 2^12 with at
    // most 6 significant bits, exact in BF16.
    const __m512i low16 = _mm512_set1_epi32(0xffff);
    auto bf16 = [](__m512i v) { return _mm512_srli_epi32(_mm512_castps_si512(_mm512_cvtepi32_ps(v)), 16); };
    for (int k = 0; k < 4; ++k) {
      const __m512i a = _mm512_and_si512(sm[8 + 2 * k], low16), c = _mm512_and_si512(sm[8 + 2 * k + 1], low16);
      _mm512_store_si512(o.mb[k], _mm512_or_si512(bf16(a), _mm512_slli_epi32(bf16(c), 16)));
      _mm512_store_si512(o.mb[4 + k], _mm512_or_si512(bf16(_mm512_slli_epi32(a, 6)), _mm512_slli_epi32(bf16(_mm512_slli_epi32(c, 6)), 16)));
    }
    for (int k = 8; k < 16; ++k) _mm512_store_si512(o.mb[k], _mm512_setzero_si512());
    for (int r = 0; r < kGroup; ++r) {
      o.d[r] = st.w[r] ? _cvtsh_ss(st.w[r]->d) : 0.f;
      o.nd[r] = st.w[r] ? -_cvtsh_ss(st.w[r]->dmin) : 0.f;
    }
    return;
  }
  const int c = piece - 1;
  const __m512i seven = _mm512_set1_epi32(0x00070007);
  __m512i v[kGroup];
  for (int r = 0; r < kGroup; ++r) v[r] = st.w[r] ? quant_chunk(st.w[r], c) : _mm512_setzero_si512();
  transpose16x16(v);
  for (int h = 0; h < 2; ++h) {  // slot 2c + h: sub-block kQ4KSlot[2c + h], vectors 8h..8h+7
    const __m512i sc = _mm512_load_si512(st.sm[kQ4KSlot[2 * c + h]]);
    const __m512i sc2 = _mm512_or_si512(sc, _mm512_slli_epi32(sc, 16));
    const __m512i lo = _mm512_and_si512(sc2, seven), hi = _mm512_and_si512(_mm512_srli_epi16(sc2, 3), seven);
    for (int k = 8 * h; k < 8 * h + 8; ++k) {
      _mm512_store_si512(o.lo[16 * c + k], _mm512_mullo_epi16(v[k], lo));
      _mm512_store_si512(o.hi[16 * c + k], _mm512_mullo_epi16(v[k], hi));
    }
  }
}

// Tiles 0, 1: C = lo and hi sums (int32) of one row group and 16-token tile, 2, 3: of the next token tile
// (or the mins' sums, FP32, of tiles in turn); 4, 5: A of the two token tiles (16 tokens x 64 bytes; or the
// mins' BF16 A); 6, 7: B of the lo and hi planes (or the mins' B in 7).
amx::TileConfig amx_config(int nt) {
  amx::TileConfig c;
  for (int t = 0; t < 8; ++t) c.rows[t] = uint8_t(t < 6 ? nt : 16), c.colsb[t] = 64;
  return c;
}

// A token's row of the mins' A operand for one block, 32 BF16: S_s = l_s + 64 h_s (S_s = bsums[2s] +
// bsums[2s+1], |S_s| <= 32 * 127, so 0 <= l_s < 64 and -64 <= h_s < 64 are exact in BF16) as
// [l_0..l_7, h_0..h_7, 16 zeros]. With the weights' BF16 (m, 64 m) pairs, one TDPBF16PS gives
// M = sum_s m_s S_s: every product and partial sum is an integer below 2^24, so the FP32 sum is exact and
// equals float(M) of the VNNI path.
FRSPEC_INLINE void mins_row(const ActQ8_K& a, uint16_t* out) {
  const __m256i s = _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums)), _mm256_set1_epi16(1));
  auto bf16 = [](__m256i v) { return _mm256_srli_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(v)), 16); };
  const __m256i l = bf16(_mm256_and_si256(s, _mm256_set1_epi32(63))), h = bf16(_mm256_srai_epi32(s, 6));
  const __m256i lh = _mm256_permute4x64_epi64(_mm256_packus_epi32(l, h), _MM_SHUFFLE(3, 1, 2, 0));  // [l0..7 h0..7]
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), lh);
  _mm256_store_si256(reinterpret_cast<__m256i*>(out + 16), _mm256_setzero_si256());
}

// The per-thread state of one call (amx_gemm_rows_q4_K): float sums per (row group, token), the mins' sums
// of a block.
struct alignas(64) Row16 {
  float v[16];
};
struct AmxQ4KScratch {
  std::vector<Row16> acc;    // [group or group % 2][token]: 16 rows
  std::vector<Row16> msums;  // [2][token tile][16 tokens]: the mins' sums of a block (two blocks in flight)
};

// The same for one token tile (an odd last one).
#define FRSPEC_AMX_Q4K_CHUNK1(c)            \
  do {                                      \
    _tile_loadd(4, qs0 + 64 * (c), QK_K);   \
    _tile_loadd(6, p.lo[16 * (c)], 64);     \
    _tile_dpbsud(0, 4, 6);                  \
    _tile_loadd(7, p.hi[16 * (c)], 64);     \
    _tile_dpbsud(1, 4, 7);                  \
  } while (0)

// One 64-value chunk c of a block for two token tiles (A in tiles 4 and 5): each B tile (6: lo plane, 7:
// hi plane) feeds two products and each A tile two, so a load has two products' time to arrive.
#define FRSPEC_AMX_Q4K_CHUNK(c)             \
  do {                                      \
    _tile_loadd(4, qs0 + 64 * (c), QK_K);   \
    _tile_loadd(6, p.lo[16 * (c)], 64);     \
    _tile_dpbsud(0, 4, 6);                  \
    _tile_loadd(5, qs1 + 64 * (c), QK_K);   \
    _tile_dpbsud(2, 5, 6);                  \
    _tile_loadd(7, p.hi[16 * (c)], 64);     \
    _tile_dpbsud(1, 4, 7);                  \
    _tile_dpbsud(3, 5, 7);                  \
  } while (0)

// The integer sums of one (16-row group, block, two 16-token tiles) in memory, and what their float step
// needs.
struct alignas(64) TileSums {
  int32_t lo[2][16][16], hi[2][16][16];  // [tile][token][row]
  const float* m[2];                      // the mins' sums of each tile: [token][row]
  const PackedQ4KAmx* p;                  // d, nd
  const float* dx[2];                     // each tile's first token's activation scale d
  float* acc[2];                          // the group's float sums of that token
  int nt[2];                              // real tokens of each tile (0: none)
  int64_t done;                           // >= 0: after this step the float sums of row group `done` are final
};

// Each real token's float chain step (the VNNI tile's, same order): acc = fma(I, d dx, acc), fma(M, -dmin dx, acc).
// Quarter q: tile q / 2, tokens 8 (q % 2) .. + 8 (the float step goes in four pieces between the next pair's
// products: as one block after them, it waited for the tile unit instead of running beside it).
FRSPEC_INLINE void amx_float_step_q4_K(const TileSums& s, int q) {
  const __m512 d = _mm512_load_ps(s.p->d), nd = _mm512_load_ps(s.p->nd);
  const int k = q / 2, t1 = std::min(s.nt[k], 8 * (q % 2) + 8);
  for (int t = 8 * (q % 2); t < t1; ++t) {
    const __m512 dx = _mm512_set1_ps(s.dx[k][t]);
    const __m512i isum = _mm512_add_epi32(_mm512_load_si512(s.lo[k][t]), _mm512_slli_epi32(_mm512_load_si512(s.hi[k][t]), 3));
    float* a = s.acc[k] + size_t(t) * 16;
    __m512 acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, dx), _mm512_load_ps(a));
    acc = _mm512_fmadd_ps(_mm512_load_ps(s.m[k] + t * 16), _mm512_mul_ps(nd, dx), acc);
    _mm512_store_ps(a, acc);
  }
}

// As packed::gemm_rows, with 16-token AMX tiles (MatmulJob::act_tiles; the last tile's missing tokens are
// zeros whose products are not used). The work comes in units of (16-row group, block); units go in chunks
// of blocks small enough that all tokens' activations for them stay in L2, in each chunk group by group,
// block by block. A unit's packed block stays in L1 while every pair of token tiles passes over it: first
// the mins' sums of all tiles, then the integer sums. Software pipelined, so that the tile unit and the
// vector units work at the same time: the products of one pair of tiles are issued before the float step
// of the previous pair, and the next unit is packed (in kPackPieces pieces) between the pairs of this one,
// its weight bytes prefetched a unit earlier. (In program order, a tile store waits for its products, and
// the next products for that store.) A row group's outputs are stored as soon as its float sums are final,
// so with a single chunk the float sums of only two groups (16 KB each at 256 tokens) are live, in L1.
template <class Block>
void amx_gemm_rows_q4_K(const MatmulJob& j, int64_t r0, int64_t r1) {
  thread_local ThreadScratch<AmxQ4KScratch> scratch_tls;  // common/thread_scratch.h: why
  AmxQ4KScratch& scratch = scratch_tls.get();
  const AmxUnitWalk<Block> walk(j, r0, r1);
  const int64_t nb = walk.nb, groups = walk.groups, chunk = walk.chunk;
  const int n = j.n;
  const int tiles_n = (n + 15) / 16;
  const bool one_chunk = chunk >= nb;
  std::vector<Row16>& acc = scratch.acc;
  std::vector<Row16>& msums = scratch.msums;
  // Row groups are stored in batches of kStoreGroups, token by token (each token's 128 rows are contiguous in
  // y; a store per token down one 16-row column touched a new page and line each time). With one chunk, the
  // float sums of two batches are live (the next batch starts before the last float step of this one).
  constexpr int64_t kStoreGroups = 8;
  acc.resize(size_t(one_chunk ? std::min<int64_t>(2 * kStoreGroups, groups) : groups) * size_t(n));
  if (msums.size() < size_t(tiles_n) * 32) msums.resize(size_t(tiles_n) * 32);
  float* const acc0 = acc[0].v;
  auto acc_of = [&](int64_t g) { return acc0 + size_t(one_chunk ? g % (2 * kStoreGroups) : g) * size_t(n) * 16; };
  // y = acc (+ bias) for the row groups of g's batch, once g's float sums are final (g: the batch's last).
  auto store_group = [&](int64_t g) {
    if (g % kStoreGroups != kStoreGroups - 1 && g != groups - 1) return;
    const int64_t g0 = g / kStoreGroups * kStoreGroups;
    for (int t = 0; t < n; ++t) {
      float* y = j.y + size_t(t) * size_t(j.w->rows) + size_t(r0);
      for (int64_t k = g0; k <= g; ++k) {
        const int valid = int(std::min<int64_t>(kGroup, r1 - r0 - k * kGroup));
        const __mmask16 mask = __mmask16((1u << valid) - 1);
        __m512 v = _mm512_load_ps(acc_of(k) + size_t(t) * 16);
        if (j.bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, j.bias + r0 + k * kGroup));
        _mm512_mask_storeu_ps(y + k * kGroup, mask, v);
      }
    }
  };

  amx::TileScope tiles(amx_config(16));
  alignas(64) PackedQ4KAmx pk[2];
  alignas(64) TileSums sums[2];
  AmxPackState<Block> st;
  AmxUnit u = walk.first();
  for (int piece = 0; piece < kPackPieces; ++piece) pack_q4_K_amx_piece<Block>(j, r0, walk.valid(u), 0, piece, st, pk[0]);
  int slot = 0, issued = 0;
  for (;;) {
    AmxUnit next, after;
    const bool has_next = walk.next(u, next);
    if (has_next && walk.next(next, after)) walk.prefetch(after);
    const PackedQ4KAmx& p = pk[slot];
    PackedQ4KAmx& pn = pk[slot ^ 1];
    float* ms = msums[size_t(slot) * size_t(tiles_n) * 16].v;
    float* accg = acc_of(u.g);
    // A group's first block: its float sums start at +0 (as the VNNI tile's do).
    if (u.b == 0) std::memset(accg, 0, size_t(n) * sizeof(Row16));
    const bool last_of_group = u.b == nb - 1;
    // The mins' sums of every token tile (C tiles in turn, so consecutive products do not wait).
    _tile_loadd(7, p.mb, 64);
    for (int tt = 0; tt < tiles_n; ++tt) {
      const uint16_t* am = j.act_mins + (size_t(tt) * size_t(nb) + size_t(u.b)) * 16 * 32;
      float* out = ms + size_t(tt) * 256;
#define FRSPEC_AMX_Q4K_MINS(C, A) \
  _tile_zero(C);                  \
  _tile_loadd(A, am, 64);         \
  _tile_dpbf16ps(C, A, 7);        \
  _tile_stored(C, out, 64)
      switch (tt & 3) {
        case 0: FRSPEC_AMX_Q4K_MINS(0, 4); break;
        case 1: FRSPEC_AMX_Q4K_MINS(1, 5); break;
        case 2: FRSPEC_AMX_Q4K_MINS(2, 4); break;
        default: FRSPEC_AMX_Q4K_MINS(3, 5); break;
      }
#undef FRSPEC_AMX_Q4K_MINS
    }
    int piece = has_next ? 0 : kPackPieces;
    const int next_valid = has_next ? walk.valid(next) : 0;
    const int64_t next_row = r0 + next.g * kGroup;
    for (int tt = 0; tt < tiles_n; tt += 2) {
      const bool two = tt + 1 < tiles_n;  // else an odd last tile, alone
      const int8_t* qs0 = j.act_tiles + (size_t(tt) * size_t(nb) + size_t(u.b)) * 16 * QK_K;
      const int8_t* qs1 = qs0 + size_t(nb) * 16 * QK_K;
      _tile_zero(0);
      _tile_zero(1);
      if (two) {
        _tile_zero(2);
        _tile_zero(3);
      }
      // Between the products: the previous pair's float step (it may read pk[slot ^ 1]: before the next
      // unit's packing writes it) and a piece of that packing.
      const TileSums* prev = issued ? &sums[(issued - 1) & 1] : nullptr;
      if (two) FRSPEC_AMX_Q4K_CHUNK(0);
      else FRSPEC_AMX_Q4K_CHUNK1(0);
      if (prev) amx_float_step_q4_K(*prev, 0);
      if (two) FRSPEC_AMX_Q4K_CHUNK(1);
      else FRSPEC_AMX_Q4K_CHUNK1(1);
      if (prev) amx_float_step_q4_K(*prev, 1);
      if (two) FRSPEC_AMX_Q4K_CHUNK(2);
      else FRSPEC_AMX_Q4K_CHUNK1(2);
      if (prev) amx_float_step_q4_K(*prev, 2);
      if (two) FRSPEC_AMX_Q4K_CHUNK(3);
      else FRSPEC_AMX_Q4K_CHUNK1(3);
      if (prev) {
        amx_float_step_q4_K(*prev, 3);
        if (prev->done >= 0) store_group(prev->done);
      }
      if (piece < kPackPieces) pack_q4_K_amx_piece<Block>(j, next_row, next_valid, next.b, piece++, st, pn);
      TileSums& s = sums[issued++ & 1];
      _tile_stored(0, s.lo[0], 64);
      _tile_stored(1, s.hi[0], 64);
      if (two) {
        _tile_stored(2, s.lo[1], 64);
        _tile_stored(3, s.hi[1], 64);
      }
      s.p = &p;
      s.done = last_of_group && tt + 2 >= tiles_n ? u.g : -1;
      for (int k = 0; k < 2; ++k) {
        const int tile = tt + k, tok = 16 * tile;
        s.m[k] = ms + size_t(tile) * 256;
        s.dx[k] = j.act_d + size_t(u.b) * size_t(n) + size_t(tok);
        s.acc[k] = accg + size_t(tok) * 16;
        s.nt[k] = k && !two ? 0 : std::min(16, n - tok);
      }
    }
    while (piece < kPackPieces) pack_q4_K_amx_piece<Block>(j, next_row, next_valid, next.b, piece++, st, pn);
    if (!has_next) break;
    u = next;
    slot ^= 1;
  }
  for (int q = 0; q < 4; ++q) amx_float_step_q4_K(sums[(issued - 1) & 1], q);
  store_group(sums[(issued - 1) & 1].done);
}
#endif

}  // namespace

// Q4_K / Q5_K: the AMX tiles where this variant has them and the CPU and kernel allow them (amx::available();
// FRSPEC_AMX=0 turns them off), else the VNNI tiles. Same bits either way.
RowsFn gemm_fn_q4_K() {
#if defined(__AMX_INT8__) && defined(__AMX_TILE__)
  if (amx::available()) return amx_gemm_rows_q4_K<BlockQ4_K>;
#endif
  return gemm_rows<PackedQ4K, pack_q4_K_rows<BlockQ4_K>, TileQ4K, QK_K>;
}
RowsFn gemm_fn_q6_K() { return gemm_rows<PackedQ6K, pack_q6_K, TileQ6K, QK_K>; }
RowsFn gemm_fn_q5_K() {
#if defined(__AMX_INT8__) && defined(__AMX_TILE__)
  if (amx::available()) return amx_gemm_rows_q4_K<BlockQ5_K>;
#endif
  return gemm_rows<PackedQ4K, pack_q4_K_rows<BlockQ5_K>, TileQ4K, QK_K>;
}

#else
RowsFn gemm_fn_q4_K() { return nullptr; }
RowsFn gemm_fn_q6_K() { return nullptr; }
RowsFn gemm_fn_q5_K() { return nullptr; }
#endif

bool gemm_act_mins(DType t) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AMX_INT8__) && \
    defined(__AMX_TILE__)
  return (t == DType::Q4_K || t == DType::Q5_K) && amx::available();
#else
  (void)t;
  return false;
#endif
}

void gemm_act_mins_token(const ActQ8_K* x, int t, int n, int64_t blocks, uint16_t* mins, float* d) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AMX_INT8__) && \
    defined(__AMX_TILE__)
  for (int64_t b = 0; b < blocks; ++b) {
    uint16_t* row = mins + ((size_t(t / 16) * size_t(blocks) + size_t(b)) * 16 + size_t(t % 16)) * 32;
    if (x) {
      mins_row(x[b], row);
      d[size_t(b) * size_t(n) + size_t(t)] = x[b].d;
    } else {
      std::memset(row, 0, 64);
    }
  }
#else
  (void)x, (void)t, (void)n, (void)blocks, (void)mins, (void)d;
#endif
}

bool gemm_act_tiles(DType t) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AMX_INT8__) && \
    defined(__AMX_TILE__)
  return (t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K) && amx::available();  // Q6_K: cpu_gemm_q6k_amx.cpp
#else
  (void)t;
  return false;
#endif
}

}  // namespace frspec::kernels
