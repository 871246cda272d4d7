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
}

// Q5_K: Q4_K's layout plus a fifth bit per value (qh[l] bit j for value l of sub-block j), so the same
// packed block and tile; quants 0..31.
void pack_q5_K(const MatmulJob& j, int64_t row, int valid, PackedQ4K* out) {
  const int64_t nb = j.w->cols / QK_K;
  const __m512i nib = _mm512_set1_epi8(0x0f), one = _mm512_set1_epi8(0x01);
  for (int64_t b = 0; b < nb; ++b) {
    PackedQ4K& p = out[b];
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
// is two dot products over the whole 256-value block, and the mins' sum M = sum_s m_s * (sum of the
// sub-block's activations) is a third, with the bytes m_s(k). The three are exact int32, the same integers
// the VNNI tile computes, and the float epilogue is its own, so a token gets the same bits from this
// path, the VNNI GEMM and the GEMV. Packing costs ~3x the VNNI block's bytes, once per 16 rows per call.
struct alignas(64) PackedQ4KAmx {
  uint8_t lo[64][kGroup][4];  // q * (sc & 7), in PackedQ4K::q's layout
  uint8_t hi[64][kGroup][4];  // q * (sc >> 3)
  uint8_t mn[64][kGroup][4];  // the value's sub-block min m
  float d[kGroup], nd[kGroup];
};

// From the VNNI packing (pack_q4_K / pack_q5_K, all blocks into `tmp`) to PackedQ4KAmx.
template <void (*Pack)(const MatmulJob&, int64_t, int, PackedQ4K*)>
void pack_q4_K_amx(const MatmulJob& j, int64_t row, int valid, PackedQ4KAmx* out) {
  thread_local std::vector<PackedQ4K> tmp;
  const size_t nb = size_t(j.w->cols / QK_K);
  if (tmp.size() < nb) tmp.resize(nb);
  Pack(j, row, valid, tmp.data());
  const __m512i bytes4 = _mm512_set1_epi32(0x01010101), low16 = _mm512_set1_epi32(0xffff);
  const __m512i seven = _mm512_set1_epi8(7), even = _mm512_set1_epi16(0x00ff);
  // Byte-wise a * b for bytes whose products fit a byte: even and odd bytes through 16-bit products.
  auto mul_bytes = [&](__m512i a, __m512i b) {
    const __m512i e = _mm512_and_si512(_mm512_mullo_epi16(a, _mm512_and_si512(b, even)), even);
    const __m512i o = _mm512_mullo_epi16(_mm512_srli_epi16(a, 8), _mm512_srli_epi16(b, 8));
    return _mm512_or_si512(e, _mm512_slli_epi16(o, 8));
  };
  for (size_t b = 0; b < nb; ++b) {
    const PackedQ4K& p = tmp[b];
    PackedQ4KAmx& o = out[b];
    for (int s = 0; s < 8; ++s) {
      // Each row's scale (and min) in the 4 bytes of its lane: the row's 4 values in a packed vector.
      const __m512i sc = _mm512_mullo_epi32(_mm512_load_si512(p.sc[s]), bytes4);
      const __m512i lo = _mm512_and_si512(sc, seven), hi = _mm512_and_si512(_mm512_srli_epi16(sc, 3), seven);
      const __m512i mn = _mm512_mullo_epi32(_mm512_and_si512(_mm512_load_si512(p.m[kQ4KSlot[s]]), low16), bytes4);
      for (int q = 0; q < 8; ++q) {
        const int kq = 8 * s + q;
        const __m512i wq = _mm512_load_si512(p.q[kq]);
        _mm512_store_si512(o.lo[kq], mul_bytes(wq, lo));
        _mm512_store_si512(o.hi[kq], mul_bytes(wq, hi));
        _mm512_store_si512(o.mn[kq], mn);
      }
    }
    std::memcpy(o.d, p.d, sizeof o.d);
    std::memcpy(o.nd, p.nd, sizeof o.nd);
  }
}

// Tiles 0, 1, 2: C = lo, hi and min sums (nt tokens x 16 rows, int32); 3, 7: A (nt tokens x 64 bytes,
// alternating so a load need not wait for the products reading the other); 4, 5, 6: B (16 x 64 bytes).
amx::TileConfig amx_config(int nt) {
  amx::TileConfig c;
  for (int t : {0, 1, 2, 3, 7}) c.rows[t] = uint8_t(nt), c.colsb[t] = 64;
  for (int t : {4, 5, 6}) c.rows[t] = 16, c.colsb[t] = 64;
  return c;
}

// One 64-value chunk c of a block: A from the activations, three products. (A macro: tile numbers are
// immediates of the instructions.)
#define FRSPEC_AMX_Q4K_CHUNK(A, c)                   \
  do {                                               \
    _tile_loadd(A, qs + 64 * (c), stride);           \
    _tile_loadd(4, p.lo[16 * (c)], 64);              \
    _tile_dpbsud(0, A, 4);                           \
    _tile_loadd(5, p.hi[16 * (c)], 64);              \
    _tile_dpbsud(1, A, 5);                           \
    _tile_loadd(6, p.mn[16 * (c)], 64);              \
    _tile_dpbsud(2, A, 6);                           \
  } while (0)

// Rows [row, row + valid) (packed in pk) for tokens [tok, tok + nt), nt <= 16.
void amx_tokens_q4_K(const MatmulJob& j, const PackedQ4KAmx* pk, int64_t row, int valid, int tok, int nt) {
  const int64_t nb = j.w->cols / QK_K;
  const size_t stride = j.act_stride;
  __m512 acc[16];
  for (int t = 0; t < nt; ++t) acc[t] = _mm512_setzero_ps();
  alignas(64) int32_t sums[3][16][16];  // lo, hi, min sums: [token][row]
  for (int64_t b = 0; b < nb; ++b) {
    const PackedQ4KAmx& p = pk[b];
    const uint8_t* x0 = j.act_row(tok) + size_t(b) * sizeof(ActQ8_K);
    const int8_t* qs = reinterpret_cast<const ActQ8_K*>(x0)->qs;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    FRSPEC_AMX_Q4K_CHUNK(3, 0);
    FRSPEC_AMX_Q4K_CHUNK(7, 1);
    FRSPEC_AMX_Q4K_CHUNK(3, 2);
    FRSPEC_AMX_Q4K_CHUNK(7, 3);
    _tile_stored(0, sums[0], 64);
    _tile_stored(1, sums[1], 64);
    _tile_stored(2, sums[2], 64);
    const __m512 d = _mm512_load_ps(p.d), nd = _mm512_load_ps(p.nd);
    for (int t = 0; t < nt; ++t) {
      const float dxf = reinterpret_cast<const ActQ8_K*>(x0 + size_t(t) * stride)->d;
      const __m512i isum = _mm512_add_epi32(_mm512_load_si512(sums[0][t]), _mm512_slli_epi32(_mm512_load_si512(sums[1][t]), 3));
      const __m512 dx = _mm512_set1_ps(dxf);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, dx), acc[t]);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums[2][t])), _mm512_mul_ps(nd, dx), acc[t]);
    }
  }
  const __mmask16 mask = __mmask16((1u << valid) - 1);
  const __m512 bias = j.bias ? _mm512_maskz_loadu_ps(mask, j.bias + row) : _mm512_setzero_ps();
  for (int t = 0; t < nt; ++t) {
    float* y = j.y + size_t(tok + t) * size_t(j.w->rows) + size_t(row);
    _mm512_mask_storeu_ps(y, mask, j.bias ? _mm512_add_ps(acc[t], bias) : acc[t]);
  }
}
#undef FRSPEC_AMX_Q4K_CHUNK

// As packed::gemm_rows, with 16-token AMX tiles: each group of 16 rows packed once, then every 16 tokens.
template <void (*Pack)(const MatmulJob&, int64_t, int, PackedQ4K*)>
void amx_gemm_rows_q4_K(const MatmulJob& j, int64_t r0, int64_t r1) {
  thread_local std::vector<PackedQ4KAmx> buf;
  const size_t nb = size_t(j.w->cols / QK_K);
  if (buf.size() < nb) buf.resize(nb);
  int configured = j.n < 16 ? j.n : 16;
  amx::TileScope tiles(amx_config(configured));
  for (int64_t row = r0; row < r1; row += kGroup) {
    const int valid = int(r1 - row < kGroup ? r1 - row : kGroup);
    pack_q4_K_amx<Pack>(j, row, valid, buf.data());
    for (int tok = 0; tok < j.n; tok += 16) {
      const int nt = j.n - tok < 16 ? j.n - tok : 16;
      if (nt != configured) tiles.load(amx_config(configured = nt));
      amx_tokens_q4_K(j, buf.data(), row, valid, tok, nt);
    }
  }
}
#endif

}  // namespace

// Q4_K / Q5_K: the AMX tiles where this variant has them and the CPU and kernel allow them (amx::available();
// FRSPEC_AMX=0 turns them off), else the VNNI tiles. Same bits either way.
RowsFn gemm_fn_q4_K() {
#if defined(__AMX_INT8__) && defined(__AMX_TILE__)
  if (amx::available()) return amx_gemm_rows_q4_K<pack_q4_K>;
#endif
  return gemm_rows<PackedQ4K, pack_q4_K, TileQ4K, QK_K>;
}
RowsFn gemm_fn_q6_K() { return gemm_rows<PackedQ6K, pack_q6_K, TileQ6K, QK_K>; }
RowsFn gemm_fn_q5_K() {
#if defined(__AMX_INT8__) && defined(__AMX_TILE__)
  if (amx::available()) return amx_gemm_rows_q4_K<pack_q5_K>;
#endif
  return gemm_rows<PackedQ4K, pack_q5_K, TileQ4K, QK_K>;
}

#else
RowsFn gemm_fn_q4_K() { return nullptr; }
RowsFn gemm_fn_q6_K() { return nullptr; }
RowsFn gemm_fn_q5_K() { return nullptr; }
#endif

}  // namespace frspec::kernels
