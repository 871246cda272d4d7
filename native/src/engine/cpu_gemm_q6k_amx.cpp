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
// Tiles: C 0/1 = lo/hi sums of one 16-token tile, C 2/3 = those of the next tile, A 4/5 = the two tiles'
// activation bytes (16 x 64), B 6/7 = the lo/hi planes of 64 values x 16 rows (the VNNI layout q[kq][row][4]).
// The loops are those of the Q4_K AMX GEMM (cpu_gemm_kquants.cpp): see amx_gemm_rows_q6_K.
#include <algorithm>
#include <cstring>
#include <vector>

#include "common/thread_scratch.h"
#include "engine/cpu_argmax_amx.h"
#include "engine/cpu_gemm_amx_units.h"
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

// Block b of rows [row, row + valid) as PackedQ6KAmx (rows past `valid`: scale 0 and d 0), in five pieces
// (kPackPieces) so that packing the next unit runs between this unit's tile products instead of leaving the
// tile unit idle: piece 0 the scales (kept in the state) and d, piece 1 + k the 64 values 64k..64k+63.
constexpr int kPackPieces = 5;
struct Q6KPackState {
  const BlockQ6_K* w[kGroup];
  alignas(64) int32_t sc[16][16];  // [sub-block][row]: the scale as an int16 pair (sc, sc)
};

void pack_q6_K_amx_piece(const MatmulJob& j, int64_t row, int valid, int64_t b, int piece, Q6KPackState& st,
                         PackedQ6KAmx& p) {
  if (piece == 0) {
    for (int r = 0; r < kGroup; ++r) st.w[r] = r < valid ? reinterpret_cast<const BlockQ6_K*>(j.weight_row(row + r)) + b : nullptr;
    // Each row's 16 signed scales, transposed to one vector per sub-block g; lane r = (sc, sc) as int16.
    const __m512i low16 = _mm512_set1_epi32(0xffff);
    __m512i s16[kGroup];
    for (int r = 0; r < kGroup; ++r)
      s16[r] = st.w[r] ? _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(st.w[r]->scales))) : _mm512_setzero_si512();
    transpose16x16(s16);
    for (int g = 0; g < 16; ++g) _mm512_store_si512(st.sc[g], _mm512_or_si512(_mm512_and_si512(s16[g], low16), _mm512_slli_epi32(s16[g], 16)));
    for (int r = 0; r < kGroup; ++r) p.d[r] = st.w[r] ? _cvtsh_ss(st.w[r]->d) : 0.f;
    return;
  }
  // Values 64k..64k+63 in natural order (as cpu_matmul_q6_K.cpp assembles them), transposed to the VNNI layout.
  const int k = piece - 1;
  const __m512i b32 = _mm512_set1_epi8(32);
  const __m512i lobyte = _mm512_set1_epi16(0x00ff), hibyte = _mm512_set1_epi16(short(0xff00));
  __m512i v[kGroup];
  q6_K_values_64(st.w, k, v);
  for (int i = 0; i < 16; ++i) {
    // q - 32 as int16 (even and odd bytes apart) times the scale: the product's low and high bytes.
    const __m512i qs = _mm512_sub_epi8(v[i], b32), s = _mm512_load_si512(st.sc[4 * k + i / 4]);
    const __m512i pe = _mm512_mullo_epi16(_mm512_srai_epi16(_mm512_slli_epi16(qs, 8), 8), s);
    const __m512i po = _mm512_mullo_epi16(_mm512_srai_epi16(qs, 8), s);
    _mm512_store_si512(p.lo[16 * k + i], _mm512_or_si512(_mm512_and_si512(pe, lobyte), _mm512_slli_epi16(po, 8)));
    _mm512_store_si512(p.hi[16 * k + i], _mm512_or_si512(_mm512_srli_epi16(pe, 8), _mm512_and_si512(po, hibyte)));
  }
}

// Tiles 0, 1: C = lo and hi sums (int32) of one row group and 16-token tile; 2, 3: of the next token tile;
// 4, 5: A of the two token tiles (16 tokens x 64 bytes of MatmulJob::act_tiles); 6, 7: B of the lo and hi planes.
amx::TileConfig config_q6_K() {
  amx::TileConfig c;
  for (int t = 0; t < 8; ++t) c.rows[t] = 16, c.colsb[t] = 64;
  return c;
}

// One 64-value chunk c of a block for two token tiles: each B tile feeds two products and each A tile two.
#define FRSPEC_AMX_Q6K_CHUNK(c)           \
  do {                                    \
    _tile_loadd(4, qs0 + 64 * (c), QK_K); \
    _tile_loadd(6, p.lo[16 * (c)], 64);   \
    _tile_dpbsud(0, 4, 6);                \
    _tile_loadd(5, qs1 + 64 * (c), QK_K); \
    _tile_dpbsud(2, 5, 6);                \
    _tile_loadd(7, p.hi[16 * (c)], 64);   \
    _tile_dpbssd(1, 4, 7);                \
    _tile_dpbssd(3, 5, 7);                \
  } while (0)

struct alignas(64) Row16 {
  float v[16];
};

// The integer sums of one (16-row group, block, two 16-token tiles) in memory, and what their float step needs.
struct alignas(64) Q6KTileSums {
  int32_t lo[2][16][16], hi[2][16][16];  // [tile][token][row]
  float d[kGroup];                        // the rows' d (a copy: the packed block's slot is repacked meanwhile)
  const uint8_t* x0[2];                   // each tile's first token's activation block (its d)
  float* acc[2];                          // the group's float sums of that token
  int nt[2];                              // real tokens of each tile (0: none)
  int64_t done;                           // >= 0: after this step the float sums of row group `done` are final
};

// Each real token's float chain step (the VNNI tile's, same order): acc = fma(float(lo + 256 hi), d dx, acc).
// Quarter q: tile q / 2, tokens 8 (q % 2) .. + 8, so that the step goes in pieces between the next pair's products.
FRSPEC_INLINE void float_step_q6_K(const Q6KTileSums& s, size_t stride, int q) {
  const __m512 d = _mm512_load_ps(s.d);
  const int k = q / 2, t1 = std::min(s.nt[k], 8 * (q % 2) + 8);
  for (int t = 8 * (q % 2); t < t1; ++t) {
    const __m512 dx = _mm512_set1_ps(reinterpret_cast<const ActQ8_K*>(s.x0[k] + size_t(t) * stride)->d);
    const __m512i isum = _mm512_add_epi32(_mm512_load_si512(s.lo[k][t]), _mm512_slli_epi32(_mm512_load_si512(s.hi[k][t]), 8));
    float* a = s.acc[k] + size_t(t) * 16;
    _mm512_store_ps(a, _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, dx), _mm512_load_ps(a)));
  }
}

// Rows [r0, r1) for all tokens, in the loop structure of the Q4_K AMX GEMM (cpu_gemm_kquants.cpp): units of
// (16-row group, block), in chunks of blocks whose activation tiles (all tokens) fit ~512 KB of L2, in each chunk
// group by group, block by block. A unit's packed block (8 KB) stays in L1 while every pair of token tiles
// passes over it. Software pipelined: the products of one pair are issued before the float step of the
// previous pair (a tile store waits for its products and the next products for that store; as one block after
// them the float step left the tile unit idle), and the next unit is packed piece by piece between the pairs,
// its weight bytes prefetched a unit earlier. The float sums live in memory per (row group, token) across
// chunks; a group's outputs are stored as soon as its sums are final.
void amx_gemm_rows_q6_K(const MatmulJob& j, int64_t r0, int64_t r1) {
  if (!j.act_tiles) return gemm_fn_q6_K()(j, r0, r1);  // cpu_matmul makes them (gemm_act_tiles); VNNI otherwise
  thread_local ThreadScratch<std::vector<Row16>> acc_tls;  // common/thread_scratch.h: why
  std::vector<Row16>& acc_buf = acc_tls.get();
  const AmxUnitWalk<BlockQ6_K> walk(j, r0, r1);
  const int64_t nb = walk.nb, groups = walk.groups, chunk = walk.chunk;
  const int n = j.n;
  const int tiles_n = (n + 15) / 16;
  const bool one_chunk = chunk >= nb;
  acc_buf.resize(size_t(one_chunk ? std::min<int64_t>(2, groups) : groups) * size_t(n));
  float* const acc0 = acc_buf[0].v;
  auto acc_of = [&](int64_t g) { return acc0 + size_t(one_chunk ? g % 2 : g) * size_t(n) * 16; };
  // y = acc (+ bias) for one row group.
  auto store_group = [&](int64_t g) {
    const int64_t row = r0 + g * kGroup;
    const int valid = int(std::min<int64_t>(kGroup, r1 - row));
    const __mmask16 mask = __mmask16((1u << valid) - 1);
    const __m512 bias = j.bias ? _mm512_maskz_loadu_ps(mask, j.bias + row) : _mm512_setzero_ps();
    const float* a = acc_of(g);
    for (int t = 0; t < n; ++t) {
      const __m512 v = _mm512_load_ps(a + size_t(t) * 16);
      _mm512_mask_storeu_ps(j.y + size_t(t) * size_t(j.w->rows) + size_t(row), mask, j.bias ? _mm512_add_ps(v, bias) : v);
    }
  };

  amx::TileScope tiles(config_q6_K());
  alignas(64) PackedQ6KAmx pk[2];
  alignas(64) Q6KTileSums sums[2];
  Q6KPackState st;
  AmxUnit u = walk.first();
  for (int piece = 0; piece < kPackPieces; ++piece) pack_q6_K_amx_piece(j, r0, walk.valid(u), 0, piece, st, pk[0]);
  int slot = 0, issued = 0;
  for (;;) {
    AmxUnit next, after;
    const bool has_next = walk.next(u, next);
    if (has_next && walk.next(next, after)) walk.prefetch(after);
    const PackedQ6KAmx& p = pk[slot];
    PackedQ6KAmx& pn = pk[slot ^ 1];
    float* accg = acc_of(u.g);
    if (u.b == 0) std::memset(accg, 0, size_t(n) * sizeof(Row16));  // a group's float sums start at +0
    const bool last_of_group = u.b == nb - 1;
    int piece = has_next ? 0 : kPackPieces;
    const int next_valid = has_next ? walk.valid(next) : 0;
    const int64_t next_row = r0 + next.g * kGroup;
    for (int tt = 0; tt < tiles_n; tt += 2) {
      const int tt1 = tt + 1 < tiles_n ? tt + 1 : tt;  // an odd last tile: computed twice, used once
      const int8_t* qs0 = j.act_tiles + (size_t(tt) * size_t(nb) + size_t(u.b)) * 16 * QK_K;
      const int8_t* qs1 = j.act_tiles + (size_t(tt1) * size_t(nb) + size_t(u.b)) * 16 * QK_K;
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      const Q6KTileSums* prev = issued ? &sums[(issued - 1) & 1] : nullptr;
      FRSPEC_AMX_Q6K_CHUNK(0);
      if (prev) float_step_q6_K(*prev, j.act_stride, 0);
      FRSPEC_AMX_Q6K_CHUNK(1);
      if (prev) float_step_q6_K(*prev, j.act_stride, 1);
      FRSPEC_AMX_Q6K_CHUNK(2);
      if (prev) float_step_q6_K(*prev, j.act_stride, 2);
      FRSPEC_AMX_Q6K_CHUNK(3);
      if (prev) {
        float_step_q6_K(*prev, j.act_stride, 3);
        if (prev->done >= 0) store_group(prev->done);
      }
      if (piece < kPackPieces) pack_q6_K_amx_piece(j, next_row, next_valid, next.b, piece++, st, pn);
      Q6KTileSums& s = sums[issued++ & 1];
      _tile_stored(0, s.lo[0], 64);
      _tile_stored(1, s.hi[0], 64);
      _tile_stored(2, s.lo[1], 64);
      _tile_stored(3, s.hi[1], 64);
      std::memcpy(s.d, p.d, sizeof(s.d));
      s.done = last_of_group && tt + 2 >= tiles_n ? u.g : -1;
      for (int k = 0; k < 2; ++k) {
        const int tile = k ? tt1 : tt, tok = 16 * tile;
        s.x0[k] = j.act_row(tok) + size_t(u.b) * sizeof(ActQ8_K);
        s.acc[k] = accg + size_t(tok) * 16;
        s.nt[k] = k && tt1 == tt ? 0 : std::min(16, n - tok);
      }
    }
    while (piece < kPackPieces) pack_q6_K_amx_piece(j, next_row, next_valid, next.b, piece++, st, pn);
    if (!has_next) break;
    u = next;
    slot ^= 1;
  }
  for (int q = 0; q < 4; ++q) float_step_q6_K(sums[(issued - 1) & 1], j.act_stride, q);
  store_group(sums[(issued - 1) & 1].done);
}
#undef FRSPEC_AMX_Q6K_CHUNK

}  // namespace

RowsFn amx_gemm_fn_q6_K() { return amx::available() ? amx_gemm_rows_q6_K : nullptr; }

#else
RowsFn amx_gemm_fn_q6_K() { return nullptr; }
#endif

}  // namespace frspec::FRSPEC_CPU::kernels
