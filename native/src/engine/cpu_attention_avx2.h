// Internal to cpu_attention.cpp: the AVX2/FMA forms of its loops for the x86-64-v3 kernel variant (empty in the
// AVX-512 variants, which have their own, and on other CPUs). Every output element is the same FMA chain as in
// the scalar and AVX-512 code: a lane per key slot (scores) or per value column (weighted sums), the terms in
// slot order, one multiply at the end. So a token's attention has the same bits alone, in a prompt, in a
// tree or in a batch, however the queries are grouped here, and the same bits as the avx512 variant's.
// AVX2 has 16 vector registers (AVX-512: 32), so a pass holds at most 6 queries and 12 accumulators.
#pragma once

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__) && !defined(FRSPEC_SCALAR_KERNELS)
#ifndef FRSPEC_AVX2_KERNELS
#define FRSPEC_AVX2_KERNELS 1
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstring>
#include <limits>

#include "engine/cpu_attention.h"

namespace frspec::FRSPEC_CPU::cpu::avx2 {

static_assert(kKvBlock == 16, "a key block is 2 AVX2 vectors");

// The queries come copied kQStride floats apart, q[i][c] = qt[i * kQStride + c] (AttentionScratch::qt), so
// that one pointer and constant offsets walk them all.
constexpr int kQStride = kMaxHeadDim + 16;
constexpr int kMaxPass = 6;  // queries per pass

// raw[i][slot] = scale * sum_c q[i][c] * K[slot][c] for Q queries over key blocks [b0, b0 + B): Q x B x 2
// chains in flight, each lane's chain the same whatever Q and B are.
template <int Q, int B>
inline __attribute__((always_inline)) void score_blocks(const float* qt, const float* kt, int head_dim, int b0,
                                                        float scale, float* raw, size_t stride) {
  __m256 acc[B][Q][2];
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Q; ++i) acc[b][i][0] = acc[b][i][1] = _mm256_setzero_ps();
  const float* kb = kt + size_t(b0) * head_dim * kKvBlock;
  const size_t block = size_t(head_dim) * kKvBlock;
  for (int c = 0; c < head_dim; ++c, kb += kKvBlock, ++qt) {
    __m256 k[B][2];
    for (int b = 0; b < B; ++b) k[b][0] = _mm256_loadu_ps(kb + b * block), k[b][1] = _mm256_loadu_ps(kb + b * block + 8);
    for (int i = 0; i < Q; ++i) {
      const __m256 qc = _mm256_broadcast_ss(qt + i * kQStride);
      for (int b = 0; b < B; ++b)
        for (int l = 0; l < 2; ++l) acc[b][i][l] = _mm256_fmadd_ps(qc, k[b][l], acc[b][i][l]);
    }
  }
  const __m256 s = _mm256_set1_ps(scale);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Q; ++i)
      for (int l = 0; l < 2; ++l)
        _mm256_storeu_ps(raw + i * stride + size_t(b0 + b) * kKvBlock + 8 * l, _mm256_mul_ps(acc[b][i][l], s));
}

// Blocks per step for Q queries: at most 12 accumulators beside the B key blocks' 2 B vectors.
constexpr int score_step(int q) { return q == 1 ? 3 : q == 2 ? 2 : 1; }

template <int Q>
void scores_q(const float* const* q, const float* kt, int head_dim, int n_blocks, float scale, float* raw, size_t stride,
              float* qt) {
  for (int i = 0; i < Q; ++i) std::memcpy(qt + i * kQStride, q[i], size_t(head_dim) * sizeof(float));
  constexpr int B = score_step(Q);
  int b = 0;
  for (; b + B <= n_blocks; b += B) score_blocks<Q, B>(qt, kt, head_dim, b, scale, raw, stride);
  for (; b < n_blocks; ++b) score_blocks<Q, 1>(qt, kt, head_dim, b, scale, raw, stride);
}

// raw[i][slot] for n_q queries and every slot of key blocks [0, n_blocks): passes of at most 6, as even as
// possible (7 = 4 + 3, 12 = 6 + 6).
inline void scores(const float* const* q, int n_q, const float* kt, int head_dim, int n_blocks, float scale, float* raw,
                   size_t stride, float* qt) {
  const int passes = (n_q + kMaxPass - 1) / kMaxPass;
  for (int p = 0, i = 0; p < passes; ++p) {
    const int m = (n_q - i) / (passes - p);
    const float* const* qp = q + i;
    float* rp = raw + i * stride;
    switch (m) {
      case 1: scores_q<1>(qp, kt, head_dim, n_blocks, scale, rp, stride, qt); break;
      case 2: scores_q<2>(qp, kt, head_dim, n_blocks, scale, rp, stride, qt); break;
      case 3: scores_q<3>(qp, kt, head_dim, n_blocks, scale, rp, stride, qt); break;
      case 4: scores_q<4>(qp, kt, head_dim, n_blocks, scale, rp, stride, qt); break;
      case 5: scores_q<5>(qp, kt, head_dim, n_blocks, scale, rp, stride, qt); break;
      default: scores_q<6>(qp, kt, head_dim, n_blocks, scale, rp, stride, qt); break;
    }
    i += m;
  }
}

// The smallest and largest of x[0 .. n) for n >= 8 (min and max are exact: any order gives the same values).
inline void range_of(const float* x, int n, float& lo_out, float& hi_out) {
  __m256 lo = _mm256_loadu_ps(x), hi = lo;
  int k = 8;
  for (; k + 8 <= n; k += 8) {
    const __m256 v = _mm256_loadu_ps(x + k);
    lo = _mm256_min_ps(lo, v), hi = _mm256_max_ps(hi, v);
  }
  if (k < n) {  // the last 8, overlapping what came before
    const __m256 v = _mm256_loadu_ps(x + n - 8);
    lo = _mm256_min_ps(lo, v), hi = _mm256_max_ps(hi, v);
  }
  __m128 lo4 = _mm_min_ps(_mm256_castps256_ps128(lo), _mm256_extractf128_ps(lo, 1));
  __m128 hi4 = _mm_max_ps(_mm256_castps256_ps128(hi), _mm256_extractf128_ps(hi, 1));
  lo4 = _mm_min_ps(lo4, _mm_movehl_ps(lo4, lo4)), hi4 = _mm_max_ps(hi4, _mm_movehl_ps(hi4, hi4));
  lo4 = _mm_min_ss(lo4, _mm_movehdup_ps(lo4)), hi4 = _mm_max_ss(hi4, _mm_movehdup_ps(hi4));
  lo_out = _mm_cvtss_f32(lo4), hi_out = _mm_cvtss_f32(hi4);
}

// w[k] = -inf where w[k] < floor, for k in [0, n rounded down to 8); returns how far it got.
inline int drop_below(float* w, int n, float floor) {
  const __m256 f = _mm256_set1_ps(floor), ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256 v = _mm256_loadu_ps(w + k);
    _mm256_storeu_ps(w + k, _mm256_blendv_ps(v, ninf, _mm256_cmp_ps(v, f, _CMP_LT_OQ)));
  }
  return k;
}

// Query i's own slots after the shared ones (the rest of its range, then its tail), continuing the chains
// held in acc, then its output columns.
template <int NV>
inline __attribute__((always_inline)) void own_slots(const float* acc, const float* w, const Visible& s, int common,
                                                     const float* vc, int head_dim, float inv, float* out) {
  __m256 a[NV];
  for (int j = 0; j < NV; ++j) a[j] = _mm256_loadu_ps(acc + 8 * j);
  for (int k = common; k < s.n_contig + s.n_tail; ++k) {
    const float* vr = vc + size_t(k < s.n_contig ? k : s.tail[k - s.n_contig]) * head_dim;
    const __m256 wk = _mm256_broadcast_ss(w + k);
    for (int j = 0; j < NV; ++j) a[j] = _mm256_fmadd_ps(wk, _mm256_loadu_ps(vr + 8 * j), a[j]);
  }
  const __m256 s_inv = _mm256_set1_ps(inv);
  for (int j = 0; j < NV; ++j) _mm256_storeu_ps(out + 8 * j, _mm256_mul_ps(a[j], s_inv));
}

// out_i[c0 .. c0 + 8 NV) = inv_i * sum_k w_i[k] * v[slot_k][c0 ..] for Q queries: the value rows of the slots
// they all see, [0, min n_contig), loaded once for all of them, then each continues its chains over its own
// slots. (The shared loop's accumulators pass to the per-query loops through memory, once per tile: read
// with a loop variable's index, GCC kept them in memory and stored them on every slot.)
template <int Q, int NV>
void values_tile(const float* const* w, const Visible* vis, const float* v, int head_dim, int c0, const float* inv,
                 float* const* out) {
  __m256 a[Q][NV];
  for (int i = 0; i < Q; ++i)
    for (int j = 0; j < NV; ++j) a[i][j] = _mm256_setzero_ps();
  int common = vis[0].n_contig;
  for (int i = 1; i < Q; ++i) common = common < vis[i].n_contig ? common : vis[i].n_contig;
  const float* vc = v + c0;
  for (int k = 0; k < common; ++k) {
    const float* vr = vc + size_t(k) * head_dim;
    __m256 x[NV];
    for (int j = 0; j < NV; ++j) x[j] = _mm256_loadu_ps(vr + 8 * j);
    for (int i = 0; i < Q; ++i) {
      const __m256 wk = _mm256_broadcast_ss(w[i] + k);
      for (int j = 0; j < NV; ++j) a[i][j] = _mm256_fmadd_ps(wk, x[j], a[i][j]);
    }
  }
  float acc[Q][8 * NV];
#pragma GCC unroll 16
  for (int i = 0; i < Q; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) _mm256_storeu_ps(acc[i] + 8 * j, a[i][j]);
  for (int i = 0; i < Q; ++i) own_slots<NV>(acc[i], w[i], vis[i], common, vc, head_dim, inv[i], out[i] + c0);
}

// Column tiles of 8 NV for a pass of Q queries (only the shapes weighted_values asks for are instantiated:
// at most 12 accumulators, or 8 for one query).
template <int Q>
void values_pass(int nv, const float* const* w, const Visible* vis, const float* v, int head_dim, int c0,
                 const float* inv, float* const* out) {
  if constexpr (Q == 1) {
    if (nv == 8) return values_tile<1, 8>(w, vis, v, head_dim, c0, inv, out);
  }
  if constexpr (Q <= 3) {
    if (nv == 4) return values_tile<Q, 4>(w, vis, v, head_dim, c0, inv, out);
  }
  if (nv == 2) return values_tile<Q, 2>(w, vis, v, head_dim, c0, inv, out);
  return values_tile<Q, 1>(w, vis, v, head_dim, c0, inv, out);
}

// Columns [0, returned) of every query's output (head_dim rounded down to 8); the caller does the rest.
// vis[i]: query i's visible slots. Passes of at most 6 queries, as even as possible; the column tiles run
// outside the passes, so a tile's value rows are still in L1 for the next pass.
inline int weighted_values(const float* const* w, const Visible* vis, int n_q, const float* v, int head_dim,
                           const float* inv, float* const* out) {
  const int passes = (n_q + kMaxPass - 1) / kMaxPass, largest = (n_q + passes - 1) / passes;
  int c0 = 0;
  for (int nv = largest == 1 ? 8 : largest <= 3 ? 4 : 2; nv >= 1; nv /= 2)
    for (; c0 + 8 * nv <= head_dim; c0 += 8 * nv)
      for (int p = 0, i = 0; p < passes; ++p) {
        const int m = (n_q - i) / (passes - p);
        const float* const* wp = w + i;
        const Visible* vp = vis + i;
        float* const* op = out + i;
        switch (m) {
          case 1: values_pass<1>(nv, wp, vp, v, head_dim, c0, inv + i, op); break;
          case 2: values_pass<2>(nv, wp, vp, v, head_dim, c0, inv + i, op); break;
          case 3: values_pass<3>(nv, wp, vp, v, head_dim, c0, inv + i, op); break;
          case 4: values_pass<4>(nv, wp, vp, v, head_dim, c0, inv + i, op); break;
          case 5: values_pass<5>(nv, wp, vp, v, head_dim, c0, inv + i, op); break;
          default: values_pass<6>(nv, wp, vp, v, head_dim, c0, inv + i, op); break;
        }
        i += m;
      }
  return c0;
}

}  // namespace frspec::FRSPEC_CPU::cpu::avx2

#endif
