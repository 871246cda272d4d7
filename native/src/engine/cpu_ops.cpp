#include "engine/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace frspec::cpu {

#if defined(__AVX512F__)
// Sum of 16 lanes in a fixed order (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized).
static inline float hsum16(__m512 v) {
#if defined(__AVX512DQ__)
  __m256 h = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
#else
  alignas(64) float t[16];
  _mm512_store_ps(t, v);
  __m256 h = _mm256_add_ps(_mm256_load_ps(t), _mm256_load_ps(t + 8));
#endif
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}
#endif

float dot(const float* a, const float* b, int n) {
  int i = 0;
  float s = 0.f;
#if defined(__AVX512F__)
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
  s = hsum16(_mm512_add_ps(acc0, acc1));
#endif
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float a, const float* x, float* y, int n) {
  int i = 0;
#if defined(__AVX512F__)
  const __m512 va = _mm512_set1_ps(a);
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
#endif
  for (; i < n; ++i) y[i] += a * x[i];
}

void rms_norm_row(const float* x, const float* weight, float* y, int d, float eps) {
  double ss = 0;  // in double, as llama.cpp does: the mean of squares of a wide row loses bits in float
  for (int i = 0; i < d; ++i) ss += double(x[i]) * x[i];
  const float scale = float(1.0 / std::sqrt(ss / d + eps));
  if (weight) {
    for (int i = 0; i < d; ++i) y[i] = (x[i] * scale) * weight[i];
  } else {
    for (int i = 0; i < d; ++i) y[i] = x[i] * scale;
  }
}

void swiglu_row(const float* gate, const float* up, float* out, int d) {
  for (int i = 0; i < d; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + std::exp(-g)) * up[i];
  }
}

void rope_angles(int32_t pos, int head_dim, const RopeParams& p, float* cs) {
  const int rot = p.rot_dims > 0 ? p.rot_dims : head_dim;
  for (int i = 0; i < rot / 2; ++i) {
    double theta = double(pos) * std::pow(double(p.theta), -2.0 * i / rot);
    if (p.freq_factors) theta /= p.freq_factors[i];
    cs[2 * i] = float(std::cos(theta));
    cs[2 * i + 1] = float(std::sin(theta));
  }
}

void rope_apply(float* x, int n_heads, int head_dim, const RopeParams& p, const float* cs) {
  const int rot = p.rot_dims > 0 ? p.rot_dims : head_dim;
  const int half = rot / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + size_t(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      // NEOX pairs dimension i with i + rot/2; the llama.cpp (GPT-J) layout pairs 2i with 2i+1.
      const int a = p.neox ? i : 2 * i, b = p.neox ? i + half : 2 * i + 1;
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

void attend_one(const float* q, const float* k_head, const float* v_head, int head_dim, int n_past, int n_new,
                int self, const uint8_t* mask_row, float scale, float* scores, float* out) {
  // Pass 1: scores of every visible slot, in slot order (masked slots get -inf and weigh nothing).
  const int n_slots = n_past + n_new;
  float m = -std::numeric_limits<float>::infinity();
  for (int j = 0; j < n_slots; ++j) {
    const bool visible = j < n_past || (mask_row ? mask_row[j - n_past] != 0 : j - n_past <= self);
    if (!visible) {
      scores[j] = -std::numeric_limits<float>::infinity();
      continue;
    }
    scores[j] = dot(q, k_head + size_t(j) * head_dim, head_dim) * scale;
    m = std::max(m, scores[j]);
  }
  std::fill(out, out + head_dim, 0.f);
  if (m == -std::numeric_limits<float>::infinity()) return;  // a query that may see nothing (empty mask row)
  // Pass 2: softmax weights and the weighted sum of values, again in slot order.
  float sum = 0.f;
  for (int j = 0; j < n_slots; ++j) {
    if (scores[j] == -std::numeric_limits<float>::infinity()) continue;
    const float p = std::exp(scores[j] - m);
    sum += p;
    axpy(p, v_head + size_t(j) * head_dim, out, head_dim);
  }
  const float inv = 1.f / sum;
  for (int i = 0; i < head_dim; ++i) out[i] *= inv;
}

int32_t argmax_row(const float* x, int n) {
  int i = 0;
  int32_t best = 0;
  float bv = x[0];
#if defined(__AVX512F__)
  if (n >= 32) {
    // Per lane: the first maximum of its strided elements; then the lowest index among the lanes that
    // hold the overall maximum, so the result is the first maximum exactly as in the scalar loop.
    __m512 vbest = _mm512_loadu_ps(x);
    __m512i vidx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i vbest_idx = vidx;
    const __m512i step = _mm512_set1_epi32(16);
    for (i = 16; i + 16 <= n; i += 16) {
      vidx = _mm512_add_epi32(vidx, step);
      const __m512 v = _mm512_loadu_ps(x + i);
      const __mmask16 gt = _mm512_cmp_ps_mask(v, vbest, _CMP_GT_OQ);
      vbest = _mm512_mask_blend_ps(gt, vbest, v);
      vbest_idx = _mm512_mask_blend_epi32(gt, vbest_idx, vidx);
    }
    alignas(64) float vals[16];
    alignas(64) int32_t idxs[16];
    _mm512_store_ps(vals, vbest);
    _mm512_store_si512(idxs, vbest_idx);
    bv = vals[0];
    best = idxs[0];
    for (int l = 1; l < 16; ++l)
      if (vals[l] > bv || (vals[l] == bv && idxs[l] < best)) {
        bv = vals[l];
        best = idxs[l];
      }
  }
#endif
  for (; i < n; ++i)
    if (x[i] > bv) {
      bv = x[i];
      best = i;
    }
  return best;
}

void topk_row(const float* x, int n, int k, int32_t* ids, float* vals) {
  // A sorted insertion buffer of k entries: k is small (10-60) and most values fail the first compare.
  int len = 0;
  for (int i = 0; i < n; ++i) {
    const float v = x[i];
    if (len == k && !(v > vals[k - 1])) continue;
    int p = len < k ? len++ : k - 1;
    while (p > 0 && v > vals[p - 1]) {
      vals[p] = vals[p - 1];
      ids[p] = ids[p - 1];
      --p;
    }
    vals[p] = v;
    ids[p] = i;
  }
}

}  // namespace frspec::cpu
