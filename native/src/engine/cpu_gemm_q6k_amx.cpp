// Q6_K prompt chunks (n >= gemm_min_n() tokens) on AMX int8 tiles: the amx variant on Sapphire Rapids and
// later, when amx::available() (FRSPEC_AMX=0 turns it off; elsewhere the VNNI packed GEMM in
// cpu_gemm_kquants.cpp runs).
//
// Why a file of its own: Q6_K's sub-block scales are signed 8-bit and its values 6-bit, so the Q4_K trick
// (the scale split into two small digits, each folded into the weight bytes) would need four 2-bit digit
// planes. Instead the PRODUCT goes into the bytes: per value, p = (q - 32) * sc, |p| <= 32 * 128 = 4096, is
// split into its low byte (unsigned, 0..255) and its high byte (signed, p >> 8), so
//   I = sum_g sc_g * sum_{k in g} (q_k - 32) x_k = sum_k x_k * lo_k + 256 * sum_k x_k * hi_k
// is two dot products over the whole 256-value block: TDPBSUD (signed activations x unsigned lo) and TDPBSSD
// (x signed hi). Both are exact int32 (|I| < 2^28), and I is the very integer the VNNI tiles form
// (isum - 32 * sum_g sc_g bsum_g), so with their float epilogue, acc = fma(float(I), d * dx, acc) per block,
// a token gets the same bits from this path, the VNNI GEMM and the GEMV (kernels_test, amx variant).
//
// Tiles: C 0/1 = lo/hi sums of tokens [tok, tok+16), C 2/3 = lo/hi sums of the next 16 tokens, A 4/5 = those
// two token groups' activation bytes (16 x 64), B 6/7 = the lo/hi planes of 64 values x 16 rows (the VNNI
// layout q[kq][row][4]). Each weight tile loaded from L2 serves 32 tokens, each activation tile 16 rows x 2 planes.
#include <algorithm>

#include "engine/cpu_argmax_amx.h"
#include "engine/cpu_gemm_packed.h"

namespace frspec::FRSPEC_CPU::kernels {

#if defined(__AMX_INT8__) && defined(__AMX_TILE__) && defined(__AVX512F__) && defined(__AVX512BW__) && \
    defined(__AVX512VNNI__) && defined(__AVX512VL__)
namespace {

using namespace packed;

// One 256-value block of 16 rows. lo/hi[kq][r][i]: bytes of (q - 32) * sc for row r, value 4 kq + i.
struct alignas(64) PackedQ6KAmx {
  uint8_t lo[64][kGroup][4];
  int8_t hi[64][kGroup][4];
  float d[kGroup];
};

// Blocks [b0, b1) of rows [row, row + valid) of the weight into out[0 .. b1 - b0); rows past `valid` get scale 0 and d 0 (not stored).
void pack_q6_K_amx(const MatmulJob& j, int64_t row, int valid, int64_t b0, int64_t b1, PackedQ6KAmx* out) {
  const __m512i b32 = _mm512_set1_epi8(32);
  const __m512i low16 = _mm512_set1_epi32(0xffff), lobyte = _mm512_set1_epi16(0x00ff), hibyte = _mm512_set1_epi16(short(0xff00));
  for (int64_t b = b0; b < b1; ++b) {
    PackedQ6KAmx& p = out[b - b0];
    const BlockQ6_K* w[kGroup];
    for (int r = 0; r < kGroup; ++r) w[r] = r < valid ? reinterpret_cast<const BlockQ6_K*>(j.weight_row(row + r)) + b : nullptr;
    // Each row's 16 signed scales, transposed to one vector per sub-block g; lane r = (sc, sc) as int16.
    __m512i s16[kGroup];
    for (int r = 0; r < kGroup; ++r)
      s16[r] = w[r] ? _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r]->scales))) : _mm512_setzero_si512();
    transpose16x16(s16);
    for (int g = 0; g < 16; ++g) s16[g] = _mm512_or_si512(_mm512_and_si512(s16[g], low16), _mm512_slli_epi32(s16[g], 16));
    // Values 64k..64k+63 in natural order (as cpu_matmul_q6_K.cpp assembles them), transposed to the VNNI layout.
    for (int k = 0; k < 4; ++k) {
      __m512i v[kGroup];
      q6_K_values_64(w, k, v);
      for (int i = 0; i < 16; ++i) {
        // q - 32 as int16 (even and odd bytes apart) times the scale: the product's low and high bytes.
        const __m512i qs = _mm512_sub_epi8(v[i], b32), s = s16[4 * k + i / 4];
        const __m512i pe = _mm512_mullo_epi16(_mm512_srai_epi16(_mm512_slli_epi16(qs, 8), 8), s);
        const __m512i po = _mm512_mullo_epi16(_mm512_srai_epi16(qs, 8), s);
        _mm512_store_si512(p.lo[16 * k + i], _mm512_or_si512(_mm512_and_si512(pe, lobyte), _mm512_slli_epi16(po, 8)));
        _mm512_store_si512(p.hi[16 * k + i], _mm512_or_si512(_mm512_srli_epi16(pe, 8), _mm512_and_si512(po, hibyte)));
      }
    }
    for (int r = 0; r < kGroup; ++r) p.d[r] = w[r] ? _cvtsh_ss(w[r]->d) : 0.f;
  }
}

// nt0 tokens in C 0/1 and A 4, nt1 (0: none) in C 2/3 and A 5; B 6/7 always 16 rows of 64 bytes.
amx::TileConfig config_q6_K(int nt0, int nt1) {
  amx::TileConfig c;
  for (int t : {0, 1, 4}) c.rows[t] = uint8_t(nt0), c.colsb[t] = 64;
  if (nt1 > 0)
    for (int t : {2, 3, 5}) c.rows[t] = uint8_t(nt1), c.colsb[t] = 64;
  for (int t : {6, 7}) c.rows[t] = 16, c.colsb[t] = 64;
  return c;
}

// sums[t] (16 rows' I of token t) into the float chain of acc[t], t < nt.
FRSPEC_INLINE void epilogue(const int32_t (*lo)[16], const int32_t (*hi)[16], const uint8_t* x0, size_t stride, int nt,
                            __m512 d, __m512* acc) {
  for (int t = 0; t < nt; ++t) {
    const float dxf = reinterpret_cast<const ActQ8_K*>(x0 + size_t(t) * stride)->d;
    const __m512i isum = _mm512_add_epi32(_mm512_load_si512(lo[t]), _mm512_slli_epi32(_mm512_load_si512(hi[t]), 8));
    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, _mm512_set1_ps(dxf)), acc[t]);
  }
}

// Rows [row, row + valid) (blocks [b0, b1) packed in pk) for tokens [tok, tok + nt0 + nt1), nt0 <= 16, nt1 <= 16
// (the second group only when kTwo). The float chains go on from y when b0 > 0 (an earlier block range left
// them there) and the bias is added after the last block: the same operations in the same order as one pass.
template <bool kTwo>
void amx_tokens_q6_K(const MatmulJob& j, const PackedQ6KAmx* pk, int64_t b0, int64_t b1, int64_t row, int valid, int tok,
                     int nt0, int nt1) {
  const int64_t nb = j.w->cols / QK_K;
  const size_t stride = j.act_stride;
  const __mmask16 mask = __mmask16((1u << valid) - 1);
  auto y_row = [&](int t) { return j.y + size_t(tok + t) * size_t(j.w->rows) + size_t(row); };
  __m512 acc[32];
  for (int t = 0; t < nt0 + nt1; ++t) acc[t] = b0 > 0 ? _mm512_maskz_loadu_ps(mask, y_row(t)) : _mm512_setzero_ps();
  alignas(64) int32_t sums[4][16][16];  // lo, hi of group 0, lo, hi of group 1: [token][row]
  const uint8_t* x0 = j.act_row(tok);
  const uint8_t* x1 = j.act_row(tok + 16);
  for (int64_t b = b0; b < b1; ++b) {
    const PackedQ6KAmx& p = pk[b - b0];
    // A: the 16-token tiles of job.act_tiles (aligned rows of 256 quants: one cache line per 64-byte tile row)
    // when cpu_matmul made them (gemm_act_tiles), else the ActQ8_K rows (292 bytes apart: rows split lines).
    const int8_t *a0, *a1;
    size_t a_stride;
    if (j.act_tiles) {
      a0 = j.act_tiles + (size_t(tok / 16) * size_t(nb) + size_t(b)) * 16 * QK_K;
      a1 = a0 + size_t(nb) * 16 * QK_K;
      a_stride = QK_K;
    } else {
      a0 = reinterpret_cast<const ActQ8_K*>(x0 + size_t(b) * sizeof(ActQ8_K))->qs;
      a1 = reinterpret_cast<const ActQ8_K*>(x1 + size_t(b) * sizeof(ActQ8_K))->qs;
      a_stride = stride;
    }
    _tile_zero(0);
    _tile_zero(1);
    if constexpr (kTwo) {
      _tile_zero(2);
      _tile_zero(3);
    }
    for (int c = 0; c < 4; ++c) {
      _tile_loadd(6, p.lo[16 * c], 64);
      _tile_loadd(4, a0 + 64 * c, a_stride);
      _tile_dpbsud(0, 4, 6);
      _tile_loadd(7, p.hi[16 * c], 64);
      _tile_dpbssd(1, 4, 7);
      if constexpr (kTwo) {
        _tile_loadd(5, a1 + 64 * c, a_stride);
        _tile_dpbsud(2, 5, 6);
        _tile_dpbssd(3, 5, 7);
      }
    }
    _tile_stored(0, sums[0], 64);
    _tile_stored(1, sums[1], 64);
    if constexpr (kTwo) {
      _tile_stored(2, sums[2], 64);
      _tile_stored(3, sums[3], 64);
    }
    const __m512 d = _mm512_load_ps(p.d);
    epilogue(sums[0], sums[1], x0 + size_t(b) * sizeof(ActQ8_K), stride, nt0, d, acc);
    if constexpr (kTwo) epilogue(sums[2], sums[3], x1 + size_t(b) * sizeof(ActQ8_K), stride, nt1, d, acc + nt0);
  }
  const bool last = b1 == j.w->cols / QK_K;
  const __m512 bias = j.bias && last ? _mm512_maskz_loadu_ps(mask, j.bias + row) : _mm512_setzero_ps();
  for (int t = 0; t < nt0 + nt1; ++t) _mm512_mask_storeu_ps(y_row(t), mask, j.bias && last ? _mm512_add_ps(acc[t], bias) : acc[t]);
}

// Activation bytes a block range may span so that it stays in L2 (2 MB per core on Sapphire Rapids) beside
// the packed weights while every 16-row group passes over it.
constexpr size_t kActBudget = size_t(1) << 20;

// Rows [r0, r1) for all tokens. Blocks in ranges whose activations (all n tokens) fit kActBudget: for each
// range, each group of 16 rows is packed (those blocks only: every block is packed once per call) and every
// 32 tokens pass over it. Without the ranges a 256-token call streamed its 2.6 MB of activations (1536x8960)
// from L3 once per 16 rows, and the tile loads waited on it.
void amx_gemm_rows_q6_K(const MatmulJob& j, int64_t r0, int64_t r1) {
  const int64_t nb = j.w->cols / QK_K;
  const int64_t span = std::max<int64_t>(1, std::min<int64_t>(nb, int64_t(kActBudget / (size_t(j.n) * sizeof(ActQ8_K)))));
  thread_local std::vector<PackedQ6KAmx> buf;
  if (buf.size() < size_t(span)) buf.resize(size_t(span));
  auto split = [&](int tok, int& nt0, int& nt1) {
    const int left = j.n - tok;
    nt0 = left < 16 ? left : 16;
    nt1 = left - nt0 < 16 ? left - nt0 : 16;
  };
  int c0, c1;
  split(0, c0, c1);
  amx::TileScope tiles(config_q6_K(c0, c1));
  for (int64_t b0 = 0; b0 < nb; b0 += span) {
    const int64_t b1 = std::min(nb, b0 + span);
    for (int64_t row = r0; row < r1; row += kGroup) {
      const int valid = int(r1 - row < kGroup ? r1 - row : kGroup);
      pack_q6_K_amx(j, row, valid, b0, b1, buf.data());
      for (int tok = 0; tok < j.n; tok += 32) {
        int nt0, nt1;
        split(tok, nt0, nt1);
        if (nt0 != c0 || nt1 != c1) tiles.load(config_q6_K(c0 = nt0, c1 = nt1));
        if (nt1 > 0) amx_tokens_q6_K<true>(j, buf.data(), b0, b1, row, valid, tok, nt0, nt1);
        else amx_tokens_q6_K<false>(j, buf.data(), b0, b1, row, valid, tok, nt0, 0);
      }
    }
  }
}

}  // namespace

RowsFn amx_gemm_fn_q6_K() { return amx::available() ? amx_gemm_rows_q6_K : nullptr; }

#else
RowsFn amx_gemm_fn_q6_K() { return nullptr; }
#endif

}  // namespace frspec::FRSPEC_CPU::kernels
