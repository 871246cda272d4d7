// Internal to the cpu_matmul*.cpp files: the job a matmul task works on, the 8-bit activation formats
// the quantized kernels read, and the driver that covers a range of rows with register tiles.
//
// Every weight type provides a kernel class K with
//   template <int R, int T> static void tile(const MatmulJob&, int64_t row, int tok);
// computing rows [row, row+R) x tokens [tok, tok+T), and the tile sizes kGemvRows (n == 1), kRows x kToks
// (n > 1). Contract: the floating-point operations that produce one output y[t][r] are the same
// whatever R and T are (each (row, token) pair owns its accumulators and sees the blocks in order),
// so results do not depend on n, on the tiling, or on the thread count.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/backend.h"
#include "engine/cpu_variant.h"
#include "engine/quant.h"

// GCC 12's AVX-512 headers (_mm512_inserti64x4, _mm512_reduce_add_ps) pass _mm256_undefined_*() as an
// unused merge source and then warn about it (GCC PR 105593); the warning is noise in these files.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace frspec::FRSPEC_CPU::kernels {

struct MatmulJob {
  const Weight* w = nullptr;
  const uint8_t* act = nullptr;  // per token: F32 x (float weights) or its 8-bit blocks (quantized weights)
  size_t act_stride = 0;         // bytes between two tokens' activation rows
  int n = 0;
  float* y = nullptr;            // y[t * w->rows + r]
  const float* bias = nullptr;
  const int32_t* act_sums = nullptr;  // packed GEMM of 32-value formats: per token, each block's sum of quants
  // AMX GEMMs of K-quants (gemm_act_tiles): the quants of each 16-token tile block by block, as one AMX A
  // operand each: [tile][block][16 tokens][256 bytes], 64-byte aligned, tokens past n zero.
  const int8_t* act_tiles = nullptr;
  // The AMX GEMM of Q4_K / Q5_K (gemm_act_mins), made once per call rather than per task: each token's mins'
  // BF16 A row per block in act_tiles' order ([tile][block][16 tokens][32], 64-byte aligned, tokens past n
  // zero) and the activations' d side by side ([block][token]).
  const uint16_t* act_mins = nullptr;
  const float* act_d = nullptr;

  const uint8_t* weight_row(int64_t r) const { return static_cast<const uint8_t*>(w->data) + size_t(r) * w->row_bytes; }
  const uint8_t* act_row(int t) const { return act + size_t(t) * act_stride; }
  void store(int64_t r, int t, float dot) const { y[size_t(t) * size_t(w->rows) + size_t(r)] = bias ? dot + bias[r] : dot; }
};

// Activations for Q8_0 weights (and Q4_0 / Q4_1 / Q5_0 / Q5_1, whose blocks are also 32 values): symmetric 8-bit blocks of 32, q in [-127, 127], x ≈ d * q, stored in
// pairs (one 512-bit register of quants) with each block's scale repeated over the 8 int32 lanes its
// sums land in. A row with an odd number of blocks ends with a half pair (zero quants, scale 0).
struct ActQ8_0x2 {
  int8_t qs[2 * QK8_0];
  float d[16];
};
inline int64_t act_q8_0_pairs(int64_t cols) { return (cols / QK8_0 + 1) / 2; }
inline float act_q8_0_value(const ActQ8_0x2* a, int64_t i) {
  const ActQ8_0x2& p = a[i / (2 * QK8_0)];
  return p.d[8 * ((i / QK8_0) % 2)] * float(p.qs[i % (2 * QK8_0)]);
}
// Activation blocks for K-quant weights (ggml's block_q8_K shape): bsums[g] = sum of qs[16g .. 16g+16).
struct ActQ8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
};

// For Q4_K (and Q5_K) weights the 32-value sub-blocks of qs are stored in the order 0 2 1 3 4 6 5 7: the order in
// which one 64-byte load of a Q4_K block's quants yields them (low nibbles: sub-blocks 0 and 2, high
// nibbles: 1 and 3). kQ4KSlot[j] is the slot of sub-block j (the permutation is its own inverse);
// bsums stay in natural order.
constexpr int kQ4KSlot[8] = {0, 2, 1, 3, 4, 6, 5, 7};
// Index in qs of value i (0..255) of a block.
inline int act_q8_K_index(int i, bool q4k_order) { return q4k_order ? 32 * kQ4KSlot[i / 32] + i % 32 : i; }

// Quantize one activation row of `cols` floats (cols a multiple of the block size).
void quantize_act_q8_0(const float* x, ActQ8_0x2* out, int64_t cols);
void quantize_act_q8_K(const float* x, ActQ8_K* out, int64_t cols, bool q4k_order);

// Rows [r0, r1) for all job.n tokens, one function per weight type (cpu_matmul_<type>.cpp).
using RowsFn = void (*)(const MatmulJob& job, int64_t r0, int64_t r1);
RowsFn rows_fn_f32();
RowsFn rows_fn_f16();
RowsFn rows_fn_bf16();
RowsFn rows_fn_q4_0();
RowsFn rows_fn_q4_1();
RowsFn rows_fn_q5_0();
RowsFn rows_fn_q5_1();
RowsFn rows_fn_q8_0();
RowsFn rows_fn_q4_K();
RowsFn rows_fn_q5_K();
RowsFn rows_fn_q6_K();
RowsFn rows_fn_iq4_nl();
RowsFn rows_fn_iq4_xs();
// The packed GEMMs for prompt chunks (cpu_gemm_packed.h; null where the ISA has none), used for
// n >= gemm_min_n(): same bits as the tile kernels above.
RowsFn gemm_fn_q4_K();
RowsFn gemm_fn_q6_K();
RowsFn amx_gemm_fn_q6_K();  // AMX tiles (cpu_gemm_q6k_amx.cpp): null unless amx::available()
RowsFn gemm_fn_q5_K();
RowsFn gemm_fn_iq4_xs();
RowsFn gemm_fn_iq4_nl();  // reads MatmulJob::act_sums
RowsFn gemm_fn_q4_0();  // these five read MatmulJob::act_sums
RowsFn gemm_fn_q4_1();
RowsFn gemm_fn_q5_0();
RowsFn gemm_fn_q5_1();
RowsFn gemm_fn_q8_0();
bool gemm_act_tiles(DType t);  // whether gemm_fn_<t>() reads MatmulJob::act_tiles
bool gemm_act_mins(DType t);   // whether gemm_fn_<t>() reads MatmulJob::act_mins and act_d
// Token t's act_mins rows and act_d entries (x: its activation blocks; null: a zero row for a token past n).
void gemm_act_mins_token(const ActQ8_K* x, int t, int n, int64_t blocks, uint16_t* mins, float* d);
int gemm_min_n();

// Rows per register tile for T tokens: K::kRowsFor<T> where the kernel has it (a few tokens fill the
// registers better with more rows per tile), else K::kRows.
template <class K, int T>
constexpr int tile_rows() {
  if constexpr (requires { K::template kRowsFor<T>; }) return K::template kRowsFor<T>;
  else return K::kRows;
}

// Rows [r0, r1) of tokens [tok, tok + T).
template <class K, int T>
inline void rows_for_tokens(const MatmulJob& j, int64_t r0, int64_t r1, int tok) {
  constexpr int R = tile_rows<K, T>();
  int64_t r = r0;
  for (; r + R <= r1; r += R) K::template tile<R, T>(j, r, tok);
  for (; r < r1; ++r) K::template tile<1, T>(j, r, tok);
}

// The last `left` (< U + 1) tokens from t as ONE tile of exactly that many: a speculative verify pass
// of 5 or 6 tokens then reads each weight row block once instead of in tiles of 4 + 1 or 4 + 2.
template <class K, int U>
inline void token_rest(const MatmulJob& j, int64_t r0, int64_t r1, int t, int left) {
  if constexpr (U >= 1) {
    if (left == U) rows_for_tokens<K, U>(j, r0, r1, t);
    else token_rest<K, U - 1>(j, r0, r1, t, left);
  }
}

// Tokens [t, n) in tiles of T, then the rest in one tile (a 37-token batch: 4 x 8 + 5).
template <class K, int T>
inline void tokens_from(const MatmulJob& j, int64_t r0, int64_t r1, int t) {
  for (; t + T <= j.n; t += T) rows_for_tokens<K, T>(j, r0, r1, t);
  token_rest<K, T - 1>(j, r0, r1, t, j.n - t);
}

template <class K>
void matmul_rows(const MatmulJob& j, int64_t r0, int64_t r1) {
  if (j.n == 1) {
    int64_t r = r0;
    for (; r + K::kGemvRows <= r1; r += K::kGemvRows) K::template tile<K::kGemvRows, 1>(j, r, 0);
    for (; r < r1; ++r) K::template tile<1, 1>(j, r, 0);
    return;
  }
  // Blocks of rows small enough (<= 256 KB) to stay in L2 while every token tile passes over them: each
  // weight byte comes from memory once, and each token's outputs for the block are written together
  // (writing 4 rows at a time across all tokens of a 151936-row LM head made the outputs thrash).
  const int64_t fit = int64_t(256 * 1024 / j.w->row_bytes) / K::kRows * K::kRows;
  const int64_t block = fit < K::kRows ? K::kRows : fit > 64 ? 64 : fit;
  for (int64_t rb = r0; rb < r1; rb += block) {
    const int64_t re = rb + block < r1 ? rb + block : r1;
    tokens_from<K, K::kToks>(j, rb, re, 0);
  }
}

}  // namespace frspec::kernels
