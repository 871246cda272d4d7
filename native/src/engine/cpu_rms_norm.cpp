// rms_norm_rows (cpu_ops.h): RMSNorm of a batch of rows with the bits of rms_norm_row, faster.
//
// rms_norm_row sums a row's squares in double, one add after the other (llama.cpp's order; every product
// x * x is exact in double). That chain cannot be vectorized along the row without changing the sum's
// rounding, and at ~4 cycles per add it cost ~2.4 us per 1536-wide row: ~50 ms of a 400-token prompt of the
// 1.5B model (2 norms per layer and token), more than RoPE. Here each lane of a double vector carries the
// chain of its own row, in the row's order: 8 rows per vector (their values gathered column by column),
// several vectors side by side so that the add latency overlaps. Same operations per row, same bits.
#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "engine/cpu_ops.h"
#include "engine/cpu_ops_neon.h"

// GCC 12's AVX-512 headers warn about their own unused merge sources (GCC PR 105593; see cpu_matmul_tiles.h).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace frspec::FRSPEC_CPU::cpu {

namespace {

#if defined(__AVX512F__)
// y = (x * scale) * weight, rms_norm_row's second half.
void scale_row(const float* x, const float* weight, float* y, int d, double ss, float eps) {
  const float scale = float(1.0 / std::sqrt(ss / d + eps));
  if (weight) {
    for (int i = 0; i < d; ++i) y[i] = (x[i] * scale) * weight[i];
  } else {
    for (int i = 0; i < d; ++i) y[i] = x[i] * scale;
  }
}

// Rows [0, 8 V) of x: V vectors of 8 row chains. x + k + r d is value k of row r (gathered: 8 rows' value k
// per load); fma(v, v, ss) is exactly ss + v * v rounded once, as the scalar add of the exact product.
template <int V>
void rows_8v(const float* x, const float* weight, float* y, int d, float eps) {
  const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(d));
  __m512d ss[V];
  for (int v = 0; v < V; ++v) ss[v] = _mm512_setzero_pd();
  for (int k = 0; k < d; ++k)
    for (int v = 0; v < V; ++v) {
      const __m512d xv = _mm512_cvtps_pd(_mm256_i32gather_ps(x + size_t(8 * v) * size_t(d) + k, idx, 4));
      ss[v] = _mm512_fmadd_pd(xv, xv, ss[v]);
    }
  alignas(64) double sums[8 * V];
  for (int v = 0; v < V; ++v) _mm512_store_pd(sums + 8 * v, ss[v]);
  for (int r = 0; r < 8 * V; ++r) scale_row(x + size_t(r) * d, weight, y + size_t(r) * d, d, sums[r], eps);
}
#endif

}  // namespace

void rms_norm_rows(const float* x, const float* weight, float* y, int n, int d, float eps) {
  int i = 0;
#if defined(__AVX512F__)
  if (int64_t(d) * 8 < INT32_MAX) {  // the gather's int32 indices (up to 7 d)
    for (; i + 32 <= n; i += 32) rows_8v<4>(x + size_t(i) * d, weight, y + size_t(i) * d, d, eps);
    for (; i + 16 <= n; i += 16) rows_8v<2>(x + size_t(i) * d, weight, y + size_t(i) * d, d, eps);
    for (; i + 8 <= n; i += 8) rows_8v<1>(x + size_t(i) * d, weight, y + size_t(i) * d, d, eps);
  }
#elif defined(FRSPEC_NEON_KERNELS)
  // arm64: 2 rows per float64x2, up to 8 vectors side by side (cpu_ops_neon.h).
  for (; i + 16 <= n; i += 16) neon::rms_rows_2v<8>(x + size_t(i) * d, weight, y + size_t(i) * d, d, eps);
  for (; i + 8 <= n; i += 8) neon::rms_rows_2v<4>(x + size_t(i) * d, weight, y + size_t(i) * d, d, eps);
  for (; i + 2 <= n; i += 2) neon::rms_rows_2v<1>(x + size_t(i) * d, weight, y + size_t(i) * d, d, eps);
#endif
  for (; i < n; ++i) rms_norm_row(x + size_t(i) * d, weight, y + size_t(i) * d, d, eps);
}

}  // namespace frspec::FRSPEC_CPU::cpu
