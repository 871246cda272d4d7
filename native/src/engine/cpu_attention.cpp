#include "engine/cpu_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/cpu_ops.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace frspec::cpu {

void store_key(float* kt, int head_dim, int slot, const float* key) {
  float* base = kt + size_t(slot / kKvBlock) * head_dim * kKvBlock + slot % kKvBlock;
  for (int c = 0; c < head_dim; ++c) base[c * kKvBlock] = key[c];
}

void load_key(const float* kt, int head_dim, int slot, float* key) {
  const float* base = kt + size_t(slot / kKvBlock) * head_dim * kKvBlock + slot % kKvBlock;
  for (int c = 0; c < head_dim; ++c) key[c] = base[c * kKvBlock];
}

namespace {

// raw[h][slot] = scale * sum_c q[h][c] * K[slot][c] for n_group <= kMaxGroup heads and every slot of the
// blocks covering [0, n_slots); each key block is loaded once for all the heads.
void scores(const float* q, int n_group, const float* kt, int head_dim, int n_slots, float scale, float* raw,
            size_t raw_stride) {
  const int n_blocks = (n_slots + kKvBlock - 1) / kKvBlock;
  for (int b = 0; b < n_blocks; ++b) {
    const float* kb = kt + size_t(b) * head_dim * kKvBlock;
#if defined(__AVX512F__)
    __m512 acc[kMaxGroup];
    for (int h = 0; h < n_group; ++h) acc[h] = _mm512_setzero_ps();
    for (int c = 0; c < head_dim; ++c) {
      const __m512 k = _mm512_loadu_ps(kb + c * kKvBlock);
      for (int h = 0; h < n_group; ++h) acc[h] = _mm512_fmadd_ps(_mm512_set1_ps(q[h * head_dim + c]), k, acc[h]);
    }
    for (int h = 0; h < n_group; ++h)
      _mm512_storeu_ps(raw + h * raw_stride + b * kKvBlock, _mm512_mul_ps(acc[h], _mm512_set1_ps(scale)));
#else
    for (int h = 0; h < n_group; ++h) {
      float acc[kKvBlock] = {};
      for (int c = 0; c < head_dim; ++c)
        for (int l = 0; l < kKvBlock; ++l) acc[l] = std::fma(q[h * head_dim + c], kb[c * kKvBlock + l], acc[l]);
      for (int l = 0; l < kKvBlock; ++l) raw[h * raw_stride + b * kKvBlock + l] = acc[l] * scale;
    }
#endif
  }
}

// out[c] = sum_k w[k] * v[slots[k]][c], accumulated in slot order (one FMA chain per element), with the
// running sums kept in registers 64 dimensions at a time.
void weighted_values(const float* w, const int32_t* slots, int n, const float* v, int head_dim, float* out) {
  int c0 = 0;
#if defined(__AVX512F__)
  for (; c0 + 64 <= head_dim; c0 += 64) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < n; ++k) {
      const __m512 wk = _mm512_set1_ps(w[k]);
      const float* vr = v + size_t(slots[k]) * head_dim + c0;
      a0 = _mm512_fmadd_ps(wk, _mm512_loadu_ps(vr), a0);
      a1 = _mm512_fmadd_ps(wk, _mm512_loadu_ps(vr + 16), a1);
      a2 = _mm512_fmadd_ps(wk, _mm512_loadu_ps(vr + 32), a2);
      a3 = _mm512_fmadd_ps(wk, _mm512_loadu_ps(vr + 48), a3);
    }
    _mm512_storeu_ps(out + c0, a0);
    _mm512_storeu_ps(out + c0 + 16, a1);
    _mm512_storeu_ps(out + c0 + 32, a2);
    _mm512_storeu_ps(out + c0 + 48, a3);
  }
#endif
  for (int c = c0; c < head_dim; ++c) {
    float acc = 0.f;
    for (int k = 0; k < n; ++k) acc = std::fma(w[k], v[size_t(slots[k]) * head_dim + c], acc);
    out[c] = acc;
  }
}

}  // namespace

void AttentionScratch::reserve(int capacity) {
  const size_t cap = size_t(capacity + kKvBlock - 1) / kKvBlock * kKvBlock;
  if (raw.size() < cap * kMaxGroup) raw.resize(cap * kMaxGroup);
  if (slots.size() < cap) slots.resize(cap);
  if (weights.size() < cap) weights.resize(cap);
}

void attend_group(const float* q, int n_group, const float* kt, const float* v, int head_dim, int n_past,
                  int n_new, int self, const uint8_t* mask_row, float scale, AttentionScratch& s, float* out,
                  int out_stride) {
  const int n_slots = n_past + n_new;
  s.reserve(n_slots);  // a no-op once the backend sized it for its caches
  const size_t stride = size_t(n_slots + kKvBlock - 1) / kKvBlock * kKvBlock;

  // The visible slots, in order. Everything below depends only on them, so a token in a tree gets the
  // bits it gets on its own path.
  int n = 0;
  for (int j = 0; j < n_slots; ++j)
    if (j < n_past || (mask_row ? mask_row[j - n_past] != 0 : j - n_past <= self)) s.slots[n++] = j;
  if (n == 0) {  // a query that may see nothing (an empty mask row)
    for (int h = 0; h < n_group; ++h) std::fill(out + size_t(h) * out_stride, out + size_t(h) * out_stride + head_dim, 0.f);
    return;
  }

  for (int h0 = 0; h0 < n_group; h0 += kMaxGroup) {
    const int g = std::min(kMaxGroup, n_group - h0);
    scores(q + size_t(h0) * head_dim, g, kt, head_dim, s.slots[n - 1] + 1, scale, s.raw.data(), stride);
    for (int h = 0; h < g; ++h) {
      const float* raw = s.raw.data() + h * stride;
      float* w = s.weights.data();
      float m = -std::numeric_limits<float>::infinity();
      for (int k = 0; k < n; ++k) m = std::max(m, w[k] = raw[s.slots[k]]);
      const float sum = softmax_weights(w, n, m);
      float* o = out + size_t(h0 + h) * out_stride;
      weighted_values(w, s.slots.data(), n, v, head_dim, o);
      const float inv = 1.f / sum;
      for (int c = 0; c < head_dim; ++c) o[c] *= inv;
    }
  }
}

}  // namespace frspec::cpu
