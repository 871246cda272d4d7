// Internal to cpu_attention.cpp: the arm64 NEON forms of its two loops (the neon, dotprod and i8mm variants;
// empty elsewhere). Every output element is the same FMA chain as in the scalar code (and the AVX-512 code):
// a lane per key slot (scores) or per value column (weighted sums), the terms in slot order, so attention
// gives the same bits on arm64 and x86-64 and for any number of query vectors per pass.
#pragma once

#if defined(__aarch64__) && defined(__ARM_NEON) && !defined(FRSPEC_SCALAR_KERNELS)
#ifndef FRSPEC_NEON_KERNELS
#define FRSPEC_NEON_KERNELS 1
#endif
#include <arm_neon.h>

#include <cstddef>

#include "engine/cpu_attention.h"

namespace frspec::FRSPEC_CPU::cpu::neon {

static_assert(kKvBlock == 16, "a key block is 4 NEON vectors");

// raw[i][slot] = scale * sum_c q[i][c] * K[slot][c] for Q query vectors over key blocks [b0, b0 + B):
// Q x B x 4 independent chains in flight.
template <int Q, int B>
inline __attribute__((always_inline)) void score_blocks(const float* const* q, const float* kt, int head_dim, int b0,
                                                        float scale, float* raw, size_t stride) {
  float32x4_t acc[B][Q][4];
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Q; ++i)
      for (int l = 0; l < 4; ++l) acc[b][i][l] = vdupq_n_f32(0.f);
  const float* kb = kt + size_t(b0) * head_dim * kKvBlock;
  for (int c = 0; c < head_dim; ++c) {
    float32x4_t k[B][4];
    for (int b = 0; b < B; ++b)
      for (int l = 0; l < 4; ++l) k[b][l] = vld1q_f32(kb + (size_t(b) * head_dim + c) * kKvBlock + 4 * l);
    for (int i = 0; i < Q; ++i) {
      const float32x4_t qc = vdupq_n_f32(q[i][c]);
      for (int b = 0; b < B; ++b)
        for (int l = 0; l < 4; ++l) acc[b][i][l] = vfmaq_f32(acc[b][i][l], qc, k[b][l]);
    }
  }
  const float32x4_t s = vdupq_n_f32(scale);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Q; ++i)
      for (int l = 0; l < 4; ++l) vst1q_f32(raw + i * stride + size_t(b0 + b) * kKvBlock + 4 * l, vmulq_f32(acc[b][i][l], s));
}

// Up to 4 queries per pass (16 accumulators of the 32 registers); one query scores 2 blocks at a time.
template <int Q>
void scores_q(const float* const* q, const float* kt, int head_dim, int n_blocks, float scale, float* raw, size_t stride) {
  constexpr int B = Q == 1 ? 2 : 1;
  int b = 0;
  for (; b + B <= n_blocks; b += B) score_blocks<Q, B>(q, kt, head_dim, b, scale, raw, stride);
  for (; b < n_blocks; ++b) score_blocks<Q, 1>(q, kt, head_dim, b, scale, raw, stride);
}

inline void scores(const float* const* q, int n_q, const float* kt, int head_dim, int n_blocks, float scale, float* raw,
                   size_t stride) {
  for (int i = 0; i < n_q; i += 4, raw += 4 * stride) {
    switch (n_q - i < 4 ? n_q - i : 4) {
      case 1: scores_q<1>(q + i, kt, head_dim, n_blocks, scale, raw, stride); break;
      case 2: scores_q<2>(q + i, kt, head_dim, n_blocks, scale, raw, stride); break;
      case 3: scores_q<3>(q + i, kt, head_dim, n_blocks, scale, raw, stride); break;
      default: scores_q<4>(q + i, kt, head_dim, n_blocks, scale, raw, stride); break;
    }
  }
}

// out_i[c0 .. c0+16) = sum_k w_i[k] * v[slot_k][c0 ..] for Q query vectors: the value rows of the slots
// they all see, [0, min n_contig), loaded once for all of them, then each continues its chain over its
// own slots (the rest of its range, then vis[i].tail).
template <int Q>
void weighted_values_16(const float* const* w, const Visible* vis, const float* v, int head_dim, int c0,
                        float* const* out) {
  float32x4_t a[Q][4];
  for (int i = 0; i < Q; ++i)
    for (int j = 0; j < 4; ++j) a[i][j] = vdupq_n_f32(0.f);
  int common = vis[0].n_contig;
  for (int i = 1; i < Q; ++i) common = common < vis[i].n_contig ? common : vis[i].n_contig;
  for (int k = 0; k < common; ++k) {
    const float* vr = v + size_t(k) * head_dim + c0;
    const float32x4_t v0 = vld1q_f32(vr), v1 = vld1q_f32(vr + 4), v2 = vld1q_f32(vr + 8), v3 = vld1q_f32(vr + 12);
    for (int i = 0; i < Q; ++i) {
      const float32x4_t wk = vdupq_n_f32(w[i][k]);
      a[i][0] = vfmaq_f32(a[i][0], wk, v0);
      a[i][1] = vfmaq_f32(a[i][1], wk, v1);
      a[i][2] = vfmaq_f32(a[i][2], wk, v2);
      a[i][3] = vfmaq_f32(a[i][3], wk, v3);
    }
  }
  for (int i = 0; i < Q; ++i) {
    auto add = [&](const float* vr, int k) {
      const float32x4_t wk = vdupq_n_f32(w[i][k]);
      for (int j = 0; j < 4; ++j) a[i][j] = vfmaq_f32(a[i][j], wk, vld1q_f32(vr + 4 * j));
    };
    for (int k = common; k < vis[i].n_contig; ++k) add(v + size_t(k) * head_dim + c0, k);
    for (int t = 0; t < vis[i].n_tail; ++t) add(v + size_t(vis[i].tail[t]) * head_dim + c0, vis[i].n_contig + t);
    for (int j = 0; j < 4; ++j) vst1q_f32(out[i] + c0 + 4 * j, a[i][j]);
  }
}

// The columns [0, returned) of every query's weighted sum (head_dim rounded down to 16); the caller does the rest.
inline int weighted_values(const float* const* w, const Visible* vis, int n_q, const float* v, int head_dim,
                           float* const* out) {
  int c0 = 0;
  for (; c0 + 16 <= head_dim; c0 += 16)
    for (int i = 0; i < n_q; i += 4) {
      switch (n_q - i < 4 ? n_q - i : 4) {
        case 1: weighted_values_16<1>(w + i, vis + i, v, head_dim, c0, out + i); break;
        case 2: weighted_values_16<2>(w + i, vis + i, v, head_dim, c0, out + i); break;
        case 3: weighted_values_16<3>(w + i, vis + i, v, head_dim, c0, out + i); break;
        default: weighted_values_16<4>(w + i, vis + i, v, head_dim, c0, out + i); break;
      }
    }
  return c0;
}

}  // namespace frspec::FRSPEC_CPU::cpu::neon

#endif
