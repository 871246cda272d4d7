#include "engine/cpu_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/cpu_attention_neon.h"
#include "engine/cpu_ops.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define FRSPEC_ATTN_INLINE inline __attribute__((always_inline))

namespace frspec::FRSPEC_CPU::cpu {

void store_key(float* kt, int head_dim, int slot, const float* key) {
  float* base = kt + size_t(slot / kKvBlock) * head_dim * kKvBlock + slot % kKvBlock;
  for (int c = 0; c < head_dim; ++c) base[c * kKvBlock] = key[c];
}

void load_key(const float* kt, int head_dim, int slot, float* key) {
  const float* base = kt + size_t(slot / kKvBlock) * head_dim * kKvBlock + slot % kKvBlock;
  for (int c = 0; c < head_dim; ++c) key[c] = base[c * kKvBlock];
}

namespace {

#if defined(__AVX512F__)
// raw[i][slot] = scale * sum_c q[i][c] * K[slot][c] for Q query vectors over key blocks [b0, b0 + B):
// Q x B independent FMA chains (one per query and block), so the chains' latency hides behind each
// other; each lane's chain is the same whatever Q and B are.
template <int Q, int B>
FRSPEC_ATTN_INLINE void score_blocks(const float* const* q, const float* kt, int head_dim, int b0, float scale,
                                     float* raw, size_t stride) {
  __m512 acc[B][Q];
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Q; ++i) acc[b][i] = _mm512_setzero_ps();
  const float* kb = kt + size_t(b0) * head_dim * kKvBlock;
  for (int c = 0; c < head_dim; ++c) {
    __m512 k[B];
    for (int b = 0; b < B; ++b) k[b] = _mm512_loadu_ps(kb + (size_t(b) * head_dim + c) * kKvBlock);
    for (int i = 0; i < Q; ++i) {
      const __m512 qc = _mm512_set1_ps(q[i][c]);
      for (int b = 0; b < B; ++b) acc[b][i] = _mm512_fmadd_ps(qc, k[b], acc[b][i]);
    }
  }
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Q; ++i)
      _mm512_storeu_ps(raw + i * stride + size_t(b0 + b) * kKvBlock, _mm512_mul_ps(acc[b][i], _mm512_set1_ps(scale)));
}

// About 8 chains in flight (2 FMA ports x 4 cycles of latency): fewer queries, more blocks at a time.
template <int Q>
void scores_q(const float* const* q, const float* kt, int head_dim, int n_blocks, float scale, float* raw, size_t stride) {
  constexpr int B = Q >= 8 ? 1 : 8 / Q;
  int b = 0;
  for (; b + B <= n_blocks; b += B) score_blocks<Q, B>(q, kt, head_dim, b, scale, raw, stride);
  for (; b < n_blocks; ++b) score_blocks<Q, 1>(q, kt, head_dim, b, scale, raw, stride);
}
#endif

// raw[i][slot] for n_q <= kMaxQueries query vectors and every slot of the key blocks covering [0, n_slots).
void scores(const float* const* q, int n_q, const float* kt, int head_dim, int n_slots, float scale, float* raw,
            size_t stride) {
  const int n_blocks = (n_slots + kKvBlock - 1) / kKvBlock;
#if defined(__AVX512F__)
  switch (n_q) {
    case 1: return scores_q<1>(q, kt, head_dim, n_blocks, scale, raw, stride);
    case 2: return scores_q<2>(q, kt, head_dim, n_blocks, scale, raw, stride);
    case 3: return scores_q<3>(q, kt, head_dim, n_blocks, scale, raw, stride);
    case 4: return scores_q<4>(q, kt, head_dim, n_blocks, scale, raw, stride);
    case 5: return scores_q<5>(q, kt, head_dim, n_blocks, scale, raw, stride);
    case 6: return scores_q<6>(q, kt, head_dim, n_blocks, scale, raw, stride);
    case 7: return scores_q<7>(q, kt, head_dim, n_blocks, scale, raw, stride);
    default: return scores_q<8>(q, kt, head_dim, n_blocks, scale, raw, stride);
  }
#elif defined(FRSPEC_NEON_KERNELS)
  neon::scores(q, n_q, kt, head_dim, n_blocks, scale, raw, stride);  // arm64: cpu_attention_neon.h
#else
  for (int b = 0; b < n_blocks; ++b) {
    const float* kb = kt + size_t(b) * head_dim * kKvBlock;
    for (int i = 0; i < n_q; ++i) {
      float acc[kKvBlock] = {};
      for (int c = 0; c < head_dim; ++c)
        for (int l = 0; l < kKvBlock; ++l) acc[l] = std::fma(q[i][c], kb[c * kKvBlock + l], acc[l]);
      for (int l = 0; l < kKvBlock; ++l) raw[i * stride + b * kKvBlock + l] = acc[l] * scale;
    }
  }
#endif
}

// One query vector's visible slots: the committed [0, n_past), then `tail` (new slots, increasing).
struct Visible {
  const int32_t* tail;
  int n_tail;
};

#if defined(__AVX512F__)
// out_i[c0 .. c0+64) = sum_k w_i[k] * v[slot_k][c0 ..], one FMA chain per element in slot order, for Q
// query vectors at once: the committed slots' value rows are loaded once for all of them (Q x 4 chains),
// then each continues its own chain over its new slots.
template <int Q>
void weighted_values_64(const float* const* w, const Visible* vis, int n_past, const float* v, int head_dim, int c0,
                        float* const* out) {
  __m512 a[Q][4];
  for (int i = 0; i < Q; ++i)
    for (int j = 0; j < 4; ++j) a[i][j] = _mm512_setzero_ps();
  for (int k = 0; k < n_past; ++k) {
    const float* vr = v + size_t(k) * head_dim + c0;
    const __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16), v2 = _mm512_loadu_ps(vr + 32),
                 v3 = _mm512_loadu_ps(vr + 48);
    for (int i = 0; i < Q; ++i) {
      const __m512 wk = _mm512_set1_ps(w[i][k]);
      a[i][0] = _mm512_fmadd_ps(wk, v0, a[i][0]);
      a[i][1] = _mm512_fmadd_ps(wk, v1, a[i][1]);
      a[i][2] = _mm512_fmadd_ps(wk, v2, a[i][2]);
      a[i][3] = _mm512_fmadd_ps(wk, v3, a[i][3]);
    }
  }
  for (int i = 0; i < Q; ++i) {
    for (int t = 0; t < vis[i].n_tail; ++t) {
      const __m512 wk = _mm512_set1_ps(w[i][n_past + t]);
      const float* vr = v + size_t(vis[i].tail[t]) * head_dim + c0;
      for (int j = 0; j < 4; ++j) a[i][j] = _mm512_fmadd_ps(wk, _mm512_loadu_ps(vr + 16 * j), a[i][j]);
    }
    for (int j = 0; j < 4; ++j) _mm512_storeu_ps(out[i] + c0 + 16 * j, a[i][j]);
  }
}
#endif

// out_i[c] = sum_k w_i[k] * v[slot_k][c] in slot order for n_q query vectors.
void weighted_values(const float* const* w, const Visible* vis, int n_q, int n_past, const float* v, int head_dim,
                     float* const* out) {
  int c0 = 0;
#if defined(__AVX512F__)
  for (; c0 + 64 <= head_dim; c0 += 64)
    for (int i = 0; i < n_q; i += 4) {
      switch (std::min(4, n_q - i)) {
        case 1: weighted_values_64<1>(w + i, vis + i, n_past, v, head_dim, c0, out + i); break;
        case 2: weighted_values_64<2>(w + i, vis + i, n_past, v, head_dim, c0, out + i); break;
        case 3: weighted_values_64<3>(w + i, vis + i, n_past, v, head_dim, c0, out + i); break;
        default: weighted_values_64<4>(w + i, vis + i, n_past, v, head_dim, c0, out + i); break;
      }
    }
#elif defined(FRSPEC_NEON_KERNELS)
  c0 = neon::weighted_values(w, vis, n_q, n_past, v, head_dim, out);  // arm64: cpu_attention_neon.h
#endif
  for (int i = 0; i < n_q; ++i)
    for (int c = c0; c < head_dim; ++c) {
      float acc = 0.f;
      for (int k = 0; k < n_past; ++k) acc = std::fma(w[i][k], v[size_t(k) * head_dim + c], acc);
      for (int t = 0; t < vis[i].n_tail; ++t) acc = std::fma(w[i][n_past + t], v[size_t(vis[i].tail[t]) * head_dim + c], acc);
      out[i][c] = acc;
    }
}

}  // namespace

void AttentionScratch::reserve(int capacity) {
  const size_t cap = size_t(capacity + kKvBlock - 1) / kKvBlock * kKvBlock;
  if (raw.size() < cap * kMaxQueries) raw.resize(cap * kMaxQueries);
  if (weights.size() < cap * kMaxQueries) weights.resize(cap * kMaxQueries);
  if (slots.size() < cap * kMaxQueries) slots.resize(cap * kMaxQueries);
}

void attend_rows(const float* q, size_t row_stride, int n_rows, int first, int n_group, const float* kt, const float* v,
                 int head_dim, int n_past, int n_new, const uint8_t* mask, float scale, AttentionScratch& s, float* out) {
  const int n_slots = n_past + n_new;
  s.reserve(n_slots);  // a no-op once the backend sized it for its caches
  const size_t stride = size_t(n_slots + kKvBlock - 1) / kKvBlock * kKvBlock;
  // Query vectors (row, head) in passes of at most kMaxQueries; rows whole unless a group is larger.
  const int heads_per_pass = std::min(n_group, kMaxQueries);
  for (int r0 = 0; r0 < n_rows;) {
    const int rows = n_group >= kMaxQueries ? 1 : std::min(n_rows - r0, kMaxQueries / n_group);
    for (int h0 = 0; h0 < n_group; h0 += heads_per_pass) {
      const int hn = std::min(heads_per_pass, n_group - h0);
      const float* qv[kMaxQueries];
      float* ov[kMaxQueries];
      const float* wv[kMaxQueries];
      Visible vis[kMaxQueries];
      int n_q = 0, last_slot = -1;
      for (int r = 0; r < rows; ++r) {
        // This row's new visible slots (the committed ones are all visible). Everything below depends only
        // on the visible slots, so a token gets the same bits alone, in a prompt, in a tree or in a batch.
        const int self = first + r0 + r;
        int32_t* tail = s.slots.data() + size_t(r) * stride;
        int n_tail = 0;
        const uint8_t* mask_row = mask ? mask + size_t(self) * n_new : nullptr;
        for (int j = 0; j < n_new; ++j)
          if (mask_row ? mask_row[j] != 0 : j <= self) tail[n_tail++] = n_past + j;
        if (n_tail) last_slot = std::max(last_slot, tail[n_tail - 1]);
        for (int h = 0; h < hn; ++h, ++n_q) {
          qv[n_q] = q + size_t(r0 + r) * row_stride + size_t(h0 + h) * head_dim;
          ov[n_q] = out + size_t(r0 + r) * row_stride + size_t(h0 + h) * head_dim;
          vis[n_q] = Visible{tail, n_tail};
        }
      }
      last_slot = std::max(last_slot, n_past - 1);
      if (last_slot >= 0) scores(qv, n_q, kt, head_dim, last_slot + 1, scale, s.raw.data(), stride);
      float sums[kMaxQueries];
      for (int i = 0; i < n_q; ++i) {
        const float* raw = s.raw.data() + i * stride;
        float* w = s.weights.data() + i * stride;
        wv[i] = w;
        float m = -std::numeric_limits<float>::infinity();
        for (int k = 0; k < n_past; ++k) m = std::max(m, w[k] = raw[k]);
        for (int t = 0; t < vis[i].n_tail; ++t) m = std::max(m, w[n_past + t] = raw[vis[i].tail[t]]);
        const int n = n_past + vis[i].n_tail;
        sums[i] = n ? softmax_weights(w, n, m) : 0.f;
      }
      weighted_values(wv, vis, n_q, n_past, v, head_dim, ov);
      for (int i = 0; i < n_q; ++i) {
        if (n_past + vis[i].n_tail == 0) {  // a query that may see nothing (an empty mask row)
          std::fill(ov[i], ov[i] + head_dim, 0.f);
          continue;
        }
        const float inv = 1.f / sums[i];
        for (int c = 0; c < head_dim; ++c) ov[i][c] *= inv;
      }
    }
    r0 += rows;
  }
}

}  // namespace frspec::cpu
