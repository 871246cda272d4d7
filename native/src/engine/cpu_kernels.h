// The CPU compute kernels behind the CPU backend's matmul / get_rows / gather_rows (backend.h).
//
// cpu_matmul picks, per weight type, one micro-kernel that computes a tile of R rows x T tokens. Every
// (row, token) output goes through the same sequence of floating-point operations whatever the tile,
// n, or thread count, so a token's logits are bit-identical whether it is decoded alone (GEMV) or
// verified in a batch of drafted tokens (GEMM) — speculative decoding stays exactly greedy decoding.
//
// Quantized weights (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS) are multiplied as llama.cpp does: the activation rows are quantized
// once per call to 8-bit blocks (float scale per block) and dotted with integer instructions
// (AVX-512 VNNI / AVX2 maddubs). Float weights (F32, F16, BF16) are widened to F32 and FMA'd with F32 x.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/backend.h"
#include "engine/cpu_variant.h"
#include "engine/threadpool.h"

namespace frspec::FRSPEC_CPU {

// y[n][w.rows] = x[n][w.cols] . W^T (+ bias[w.rows] when bias != null). Host memory; y must not alias x.
// Picks the best kernel for w.type and n (GEMV for n == 1, register-tiled GEMM for n > 1).
void cpu_matmul(ThreadPool& pool, const Weight& w, const float* x, float* y, int n, const float* bias);

// Several weights over the same input x (q|k|v, gate|up), outs[i].y = x . outs[i].w^T (+ outs[i].bias), each
// bit for bit what cpu_matmul gives: x is quantized once per weight type and all rows go through one task
// list (no wait between the weights). The weights must have the same columns; at most kMaxMatmulOuts.
constexpr int kMaxMatmulOuts = 4;
struct MatmulOut {
  const Weight* w = nullptr;
  float* y = nullptr;
  const float* bias = nullptr;
};
void cpu_matmul_multi(ThreadPool& pool, const MatmulOut* outs, int count, const float* x, int n);
// cpu_matmul(w, silu(gate) * up, y, n, bias), bit for bit, without writing silu(gate) * up out: each token's row is
// made (cpu::swiglu_row) in a per-thread buffer while it is quantized (the FFN's down projection). gate and up
// are [n][w.cols]; w must be quantized (std::invalid_argument otherwise).
void cpu_matmul_swiglu_input(ThreadPool& pool, const Weight& w, const float* gate, const float* up, float* y, int n,
                             const float* bias);

// out[n][w.cols] = dequantized rows ids[0..n) of w. Throws std::out_of_range for an id outside [0, rows).
void cpu_get_rows(const Weight& w, const int32_t* ids, int n, float* out);

// The bytes of rows ids[0..k) of w, contiguous (k * w.row_bytes): a smaller weight of the same type
// (FR-Spec's restricted LM head). Throws std::out_of_range for an id outside [0, rows).
std::vector<uint8_t> cpu_gather_rows(const Weight& w, const int32_t* ids, int k);

// A Weight over host bytes (zero-copy), with row_bytes filled in; throws for an unsupported type or a
// column count that is not a whole number of the type's blocks.
Weight cpu_weight(DType type, int64_t rows, int64_t cols, const void* data);

// Token count from which quantized matmuls use the packed GEMM (every quantized type, on AVX-512 VNNI;
// default 16, env FRSPEC_GEMM_MIN_N). Results are bit-identical either way: tests and benches set it
// (2 = always, a huge value = never). Returns the previous value.
int cpu_matmul_set_gemm_min_n(int n);

// Which instruction set the kernels were compiled for ("avx512-vnni", "avx2", "scalar"), for logs and benches.
const char* cpu_kernels_isa();

}  // namespace frspec
