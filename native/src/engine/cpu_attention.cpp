#include "engine/cpu_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/cpu_attention_avx2.h"
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
// other; each lane's chain is the same whatever Q and B are. The queries come copied kQStride floats
// apart, q[i][c] = qt[i * kQStride + c], so that one pointer (and constant offsets) walks them all.
constexpr int kQStride = kMaxHeadDim + 16;  // (not a multiple of 4 KB: the queries' lines in different L1 sets)

template <int Q, int B>
FRSPEC_ATTN_INLINE void score_blocks(const float* qt, const float* kt, int head_dim, int b0, float scale, float* raw,
                                     size_t stride) {
  __m512 acc[B][Q];
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Q; ++i) acc[b][i] = _mm512_setzero_ps();
  const float* kb = kt + size_t(b0) * head_dim * kKvBlock;
  const size_t block = size_t(head_dim) * kKvBlock;
  for (int c = 0; c < head_dim; ++c, kb += kKvBlock, ++qt) {
    __m512 k[B];
    for (int b = 0; b < B; ++b) k[b] = _mm512_loadu_ps(kb + b * block);
    for (int i = 0; i < Q; ++i) {
      const __m512 qc = _mm512_set1_ps(qt[i * kQStride]);
      for (int b = 0; b < B; ++b) acc[b][i] = _mm512_fmadd_ps(qc, k[b], acc[b][i]);
    }
  }
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Q; ++i)
      _mm512_storeu_ps(raw + i * stride + size_t(b0 + b) * kKvBlock, _mm512_mul_ps(acc[b][i], _mm512_set1_ps(scale)));
}

// Blocks per step for Q queries: about 24 accumulators (of 32 registers) beside the B key vectors, so
// that each key vector loaded feeds Q FMAs and each query element broadcast feeds B.
constexpr int score_step(int q) { return q <= 2 ? 8 : q == 3 ? 6 : q == 4 ? 5 : q <= 6 ? 4 : q <= 8 ? 3 : 2; }

template <int Q, int B = score_step(Q)>
void score_rest(const float* qt, const float* kt, int head_dim, int b0, int n, float scale, float* raw, size_t stride) {
  if constexpr (B > 1) {
    if (n == B - 1) return score_blocks<Q, B - 1>(qt, kt, head_dim, b0, scale, raw, stride);
    return score_rest<Q, B - 1>(qt, kt, head_dim, b0, n, scale, raw, stride);
  }
}

template <int Q>
void scores_q(const float* const* q, const float* kt, int head_dim, int n_blocks, float scale, float* raw, size_t stride,
              float* qt) {
  for (int i = 0; i < Q; ++i) std::memcpy(qt + i * kQStride, q[i], size_t(head_dim) * sizeof(float));
  constexpr int B = score_step(Q);
  int b = 0;
  for (; b + B <= n_blocks; b += B) score_blocks<Q, B>(qt, kt, head_dim, b, scale, raw, stride);
  if (b < n_blocks) score_rest<Q>(qt, kt, head_dim, b, n_blocks - b, scale, raw, stride);
}
#endif

// raw[i][slot] for n_q <= kMaxQueries query vectors and every slot of the key blocks covering [0, n_slots).
void scores(const float* const* q, int n_q, const float* kt, int head_dim, int n_slots, float scale, float* raw,
            size_t stride, [[maybe_unused]] AttentionScratch& s) {
  const int n_blocks = (n_slots + kKvBlock - 1) / kKvBlock;
#if defined(__AVX512F__)
  // One group of up to 14 queries (two rows of 6 or 7 heads), else groups of at most 8, as even as possible.
  const int groups = n_q <= 14 ? 1 : (n_q + 7) / 8;
  for (int g = 0, i = 0; g < groups; ++g) {
    const int m = (n_q - i) / (groups - g);
    const float* const* qg = q + i;
    float* rg = raw + i * stride;
    switch (m) {
      case 1: scores_q<1>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 2: scores_q<2>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 3: scores_q<3>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 4: scores_q<4>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 5: scores_q<5>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 6: scores_q<6>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 7: scores_q<7>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 8: scores_q<8>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 9: scores_q<9>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 10: scores_q<10>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 11: scores_q<11>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 12: scores_q<12>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      case 13: scores_q<13>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
      default: scores_q<14>(qg, kt, head_dim, n_blocks, scale, rg, stride, s.qt.data()); break;
    }
    i += m;
  }
#elif defined(FRSPEC_AVX2_KERNELS)
  avx2::scores(q, n_q, kt, head_dim, n_blocks, scale, raw, stride, s.qt.data());  // x86-64-v3: cpu_attention_avx2.h
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

// The smallest and largest of x[0 .. n) (n >= 1).
struct Range {
  float min = std::numeric_limits<float>::infinity(), max = -std::numeric_limits<float>::infinity();
  void add(float x) { min = std::min(min, x), max = std::max(max, x); }
};
Range range_of(const float* x, int n) {
  Range r;
  int k = 0;
#if defined(__AVX512F__)
  if (n >= 16) {  // (maskz forms and no _mm512_reduce_*: GCC 12 warns on the plain ones)
    __m512 lo = _mm512_loadu_ps(x), hi = lo;
    for (k = 16; k + 16 <= n; k += 16) {
      const __m512 v = _mm512_loadu_ps(x + k);
      lo = _mm512_maskz_min_ps(0xffff, lo, v), hi = _mm512_maskz_max_ps(0xffff, hi, v);
    }
    if (k < n) {  // the last partial vector, the missing lanes repeating lane 0
      const __mmask16 t = __mmask16((1u << (n - k)) - 1);
      const __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(x[0]), t, x + k);
      lo = _mm512_maskz_min_ps(0xffff, lo, v), hi = _mm512_maskz_max_ps(0xffff, hi, v);
    }
    // Halve 16 -> 8 -> 4 -> 2 -> 1 lanes (min and max are exact: any order gives the same value).
#if defined(__AVX512DQ__)
    __m256 lo8 = _mm256_min_ps(_mm512_maskz_extractf32x8_ps(0xff, lo, 0), _mm512_maskz_extractf32x8_ps(0xff, lo, 1));
    __m256 hi8 = _mm256_max_ps(_mm512_maskz_extractf32x8_ps(0xff, hi, 0), _mm512_maskz_extractf32x8_ps(0xff, hi, 1));
    __m128 lo4 = _mm_min_ps(_mm256_castps256_ps128(lo8), _mm256_extractf128_ps(lo8, 1));
    __m128 hi4 = _mm_max_ps(_mm256_castps256_ps128(hi8), _mm256_extractf128_ps(hi8, 1));
    lo4 = _mm_min_ps(lo4, _mm_movehl_ps(lo4, lo4)), hi4 = _mm_max_ps(hi4, _mm_movehl_ps(hi4, hi4));
    lo4 = _mm_min_ss(lo4, _mm_movehdup_ps(lo4)), hi4 = _mm_max_ss(hi4, _mm_movehdup_ps(hi4));
    r.min = _mm_cvtss_f32(lo4), r.max = _mm_cvtss_f32(hi4);
#else
    alignas(64) float l[16], h[16];
    _mm512_store_ps(l, lo), _mm512_store_ps(h, hi);
    for (int j = 0; j < 16; ++j) r.add(l[j]), r.add(h[j]);
#endif
    return r;
  }
#elif defined(FRSPEC_AVX2_KERNELS)
  if (n >= 8) {
    avx2::range_of(x, n, r.min, r.max);
    return r;
  }
#endif
  for (; k < n; ++k) r.add(x[k]);
  return r;
}

// Scores more than kNegligible below the row's maximum get weight exactly 0 (exp(-inf)) instead of a value
// under e^-64 ~ 1.6e-28: their share of the sum is far below float precision, and the subnormal weights
// and products they would give cost a microcode assist per FMA on x86 (a peaked row ran 3x slower).
// A zero weight leaves every FMA chain unchanged (fma(0, v, acc) == acc for finite v), so this is only a
// change of the softmax, the same on every path and CPU.
constexpr float kNegligible = 64.f;

void drop_negligible(float* w, int n, float max) {
  const float floor = max - kNegligible, ninf = -std::numeric_limits<float>::infinity();
  int k = 0;
#if defined(__AVX512F__)
  const __m512 f = _mm512_set1_ps(floor), vinf = _mm512_set1_ps(ninf);
  for (; k + 16 <= n; k += 16) {
    const __mmask16 low = _mm512_cmp_ps_mask(_mm512_loadu_ps(w + k), f, _CMP_LT_OQ);
    _mm512_mask_storeu_ps(w + k, low, vinf);
  }
#elif defined(FRSPEC_AVX2_KERNELS)
  k = avx2::drop_below(w, n, floor);
#endif
  for (; k < n; ++k)
    if (w[k] < floor) w[k] = ninf;
}

#if defined(__AVX512F__)
// out_q[c0 .. c0 + 16 NV) = inv_q * sum_k w_q[k] * v[slot_k][c0 ..] for R batch rows x H heads (query
// q = r * H + h): one FMA chain per element over the query's visible slots in order. The slots every row
// sees, [0, min n_contig), are loaded once for all R x H queries, then each row's own slots once for its
// H heads; R x H x NV chains in flight.
// One value row (vr, the k-th visible slot) into row r's H queries.
template <int R, int H, int NV>
FRSPEC_ATTN_INLINE void add_slot(__m512 (&a)[R][H][NV], const float* const* w, int r, const float* vr, int k) {
  __m512 x[NV];
  for (int j = 0; j < NV; ++j) x[j] = _mm512_loadu_ps(vr + 16 * j);
  for (int h = 0; h < H; ++h) {
    const __m512 wk = _mm512_set1_ps(w[r * H + h][k]);
    for (int j = 0; j < NV; ++j) a[r][h][j] = _mm512_fmadd_ps(wk, x[j], a[r][h][j]);
  }
}

template <int R, int H, int NV>
void values_tile(const float* const* w, const Visible* vis, const float* v, int head_dim, int c0, const float* inv,
                 float* const* out) {
  __m512 a[R][H][NV];
  for (int r = 0; r < R; ++r)
    for (int h = 0; h < H; ++h)
      for (int j = 0; j < NV; ++j) a[r][h][j] = _mm512_setzero_ps();
  int common = vis[0].n_contig;
  for (int r = 1; r < R; ++r) common = std::min(common, vis[r].n_contig);
  const float* vc = v + c0;
  for (int k = 0; k < common; ++k) {
    const float* vr = vc + size_t(k) * head_dim;
    __m512 x[NV];
    for (int j = 0; j < NV; ++j) x[j] = _mm512_loadu_ps(vr + 16 * j);
    for (int r = 0; r < R; ++r)
      for (int h = 0; h < H; ++h) {
        const __m512 wk = _mm512_set1_ps(w[r * H + h][k]);
        for (int j = 0; j < NV; ++j) a[r][h][j] = _mm512_fmadd_ps(wk, x[j], a[r][h][j]);
      }
  }
  for (int r = 0; r < R; ++r) {
    for (int k = common; k < vis[r].n_contig; ++k) add_slot<R, H, NV>(a, w, r, vc + size_t(k) * head_dim, k);
    for (int t = 0; t < vis[r].n_tail; ++t)
      add_slot<R, H, NV>(a, w, r, vc + size_t(vis[r].tail[t]) * head_dim, vis[r].n_contig + t);
  }
  for (int r = 0; r < R; ++r)
    for (int h = 0; h < H; ++h) {
      const __m512 s = _mm512_set1_ps(inv[r * H + h]);
      for (int j = 0; j < NV; ++j) _mm512_storeu_ps(out[r * H + h] + c0 + 16 * j, _mm512_mul_ps(a[r][h][j], s));
    }
}

// Column tiles of 64 (NV = 4) for up to 6 queries, of 32 for 7 to 12: at most 24 accumulators, and each
// value row byte loaded feeds at least 6 FMAs (the value rows of a long prompt come from L2, whose
// bandwidth bounds the loop below that).
template <int R, int H>
void values_rh(const float* const* w, const Visible* vis, const float* v, int head_dim, const float* inv,
               float* const* out) {
  int c0 = 0;
  if constexpr (R * H <= 6) {
    for (; c0 + 64 <= head_dim; c0 += 64) values_tile<R, H, 4>(w, vis, v, head_dim, c0, inv, out);
    if (c0 + 32 <= head_dim) values_tile<R, H, 2>(w, vis, v, head_dim, c0, inv, out), c0 += 32;
  } else {
    for (; c0 + 32 <= head_dim; c0 += 32) values_tile<R, H, 2>(w, vis, v, head_dim, c0, inv, out);
  }
  if (c0 + 16 <= head_dim) values_tile<R, H, 1>(w, vis, v, head_dim, c0, inv, out);
}

// R rows x H heads: R * H <= 6, or one row of up to 12 heads.
void values_tiles(int rows, int heads, const float* const* w, const Visible* vis, const float* v, int head_dim,
                  const float* inv, float* const* out) {
  switch (rows * 16 + heads) {
    case 1 * 16 + 1: return values_rh<1, 1>(w, vis, v, head_dim, inv, out);
    case 1 * 16 + 2: return values_rh<1, 2>(w, vis, v, head_dim, inv, out);
    case 1 * 16 + 3: return values_rh<1, 3>(w, vis, v, head_dim, inv, out);
    case 1 * 16 + 4: return values_rh<1, 4>(w, vis, v, head_dim, inv, out);
    case 1 * 16 + 5: return values_rh<1, 5>(w, vis, v, head_dim, inv, out);
    case 1 * 16 + 6: return values_rh<1, 6>(w, vis, v, head_dim, inv, out);
    case 1 * 16 + 7: return values_rh<1, 7>(w, vis, v, head_dim, inv, out);
    case 1 * 16 + 8: return values_rh<1, 8>(w, vis, v, head_dim, inv, out);
    case 1 * 16 + 9: return values_rh<1, 9>(w, vis, v, head_dim, inv, out);
    case 1 * 16 + 10: return values_rh<1, 10>(w, vis, v, head_dim, inv, out);
    case 1 * 16 + 11: return values_rh<1, 11>(w, vis, v, head_dim, inv, out);
    case 1 * 16 + 12: return values_rh<1, 12>(w, vis, v, head_dim, inv, out);
    case 2 * 16 + 1: return values_rh<2, 1>(w, vis, v, head_dim, inv, out);
    case 2 * 16 + 2: return values_rh<2, 2>(w, vis, v, head_dim, inv, out);
    case 2 * 16 + 3: return values_rh<2, 3>(w, vis, v, head_dim, inv, out);
    case 2 * 16 + 6: return values_rh<2, 6>(w, vis, v, head_dim, inv, out);
    case 2 * 16 + 7: return values_rh<2, 7>(w, vis, v, head_dim, inv, out);
    case 3 * 16 + 1: return values_rh<3, 1>(w, vis, v, head_dim, inv, out);
    case 3 * 16 + 2: return values_rh<3, 2>(w, vis, v, head_dim, inv, out);
    case 4 * 16 + 1: return values_rh<4, 1>(w, vis, v, head_dim, inv, out);
    case 5 * 16 + 1: return values_rh<5, 1>(w, vis, v, head_dim, inv, out);
    default: return values_rh<6, 1>(w, vis, v, head_dim, inv, out);
  }
}
#endif

// The output of n_q query vectors (query i sees vis_i): out_i[c] = inv_i * sum_k w_i[k] * v[slot_k][c],
// one FMA chain per element in slot order, then one multiply. A pass is `rows` batch rows x `heads`
// heads, query r * heads + h.
void weighted_values(const float* const* w, const Visible* vis, int rows, int heads, const float* v, int head_dim,
                     const float* inv, float* const* out) {
  int c0 = 0;
#if defined(__AVX512F__)
  if (rows == 1) {  // head tiles of at most 12, as even as possible (16 = 8 + 8)
    const int tiles = (heads + 11) / 12;
    for (int t = 0, h = 0; t < tiles; ++t) {
      const int m = (heads - h) / (tiles - t);
      values_tiles(1, m, w + h, vis, v, head_dim, inv + h, out + h);
      h += m;
    }
  } else {  // rows * heads <= 6 (attend_rows)
    values_tiles(rows, heads, w, vis, v, head_dim, inv, out);
  }
  c0 = head_dim / 16 * 16;
#elif defined(FRSPEC_AVX2_KERNELS)
  Visible vq[kMaxQueries];
  for (int i = 0; i < rows * heads; ++i) vq[i] = vis[i / heads];
  c0 = avx2::weighted_values(w, vq, rows * heads, v, head_dim, inv, out);  // x86-64-v3: cpu_attention_avx2.h
#elif defined(FRSPEC_NEON_KERNELS)
  Visible vq[kMaxQueries];
  for (int i = 0; i < rows * heads; ++i) vq[i] = vis[i / heads];
  c0 = neon::weighted_values(w, vq, rows * heads, v, head_dim, out);  // arm64: cpu_attention_neon.h
  for (int i = 0; i < rows * heads; ++i)
    for (int c = 0; c < c0; ++c) out[i][c] *= inv[i];
#endif
  for (int i = 0; i < rows * heads; ++i) {
    const Visible& s = vis[i / heads];
    for (int c = c0; c < head_dim; ++c) {
      float acc = 0.f;
      for (int k = 0; k < s.n_contig; ++k) acc = std::fma(w[i][k], v[size_t(k) * head_dim + c], acc);
      for (int t = 0; t < s.n_tail; ++t) acc = std::fma(w[i][s.n_contig + t], v[size_t(s.tail[t]) * head_dim + c], acc);
      out[i][c] = acc * inv[i];
    }
  }
}

}  // namespace

void AttentionScratch::reserve(int capacity) {
  const size_t cap = size_t(capacity + kKvBlock - 1) / kKvBlock * kKvBlock;
  if (raw.size() < cap * kMaxQueries) raw.resize(cap * kMaxQueries);
  if (weights.size() < cap * kMaxQueries) weights.resize(cap * kMaxQueries);
  if (slots.size() < cap * kMaxRows) slots.resize(cap * kMaxRows);
  if (qt.size() < size_t(kMaxQueries) * (kMaxHeadDim + 16)) qt.resize(size_t(kMaxQueries) * (kMaxHeadDim + 16));  // kQStride
}

int attention_rows_per_pass(int n_group) { return n_group == 6 || n_group == 7 ? 2 : n_group >= kMaxRows ? 1 : kMaxRows / n_group; }

void attend_rows(const float* q, size_t row_stride, int n_rows, int first, int n_group, const float* kt, const float* v,
                 int head_dim, int n_past, int n_new, const uint8_t* mask, float scale, AttentionScratch& s, float* out) {
  const int n_slots = n_past + n_new;
  s.reserve(n_slots);  // a no-op once the backend sized it for its caches
  const size_t stride = size_t(n_slots + kKvBlock - 1) / kKvBlock * kKvBlock;
  // A pass: `rows` batch rows x `hp` heads of the group (all of them unless the group is larger than
  // kMaxQueries). Small groups take several rows, so that the value rows every row sees are loaded once
  // for all of them.
  const int rows_per_pass = attention_rows_per_pass(n_group), hp = std::min(n_group, kMaxQueries);
  for (int r0 = 0; r0 < n_rows; r0 += rows_per_pass) {
    const int rows = std::min(rows_per_pass, n_rows - r0);
    // Each row's visible slots: the committed [0, n_past), then the new ones its mask row allows. A row
    // whose new slots are n_past, n_past + 1, ... (every causal row) sees one contiguous range. Everything
    // below depends only on the visible slots, so a token gets the same bits alone, in a prompt, in a tree
    // or in a batch, whatever else the pass holds.
    Visible vis[kMaxRows];
    int last_slot = n_past - 1;
    for (int r = 0; r < rows; ++r) {
      const int self = first + r0 + r;
      if (!mask) {
        vis[r] = Visible{n_past + self + 1, nullptr, 0};
      } else {
        int32_t* tail = s.slots.data() + size_t(r) * stride;
        int n_tail = 0;
        const uint8_t* mask_row = mask + size_t(self) * n_new;
        bool contiguous = true;
        for (int j = 0; j < n_new; ++j)
          if (mask_row[j] != 0) {
            contiguous = contiguous && j == n_tail;
            tail[n_tail++] = n_past + j;
          }
        vis[r] = contiguous ? Visible{n_past + n_tail, tail, 0} : Visible{n_past, tail, n_tail};
      }
      last_slot = std::max(last_slot, vis[r].last());
    }
    for (int h0 = 0; h0 < n_group; h0 += hp) {
      const int hn = std::min(hp, n_group - h0), n_q = rows * hn;
      const float* qv[kMaxQueries];
      float* ov[kMaxQueries];
      const float* wv[kMaxQueries];
      float inv[kMaxQueries];
      for (int r = 0; r < rows; ++r)
        for (int h = 0; h < hn; ++h) {
          qv[r * hn + h] = q + size_t(r0 + r) * row_stride + size_t(h0 + h) * head_dim;
          ov[r * hn + h] = out + size_t(r0 + r) * row_stride + size_t(h0 + h) * head_dim;
        }
      if (last_slot >= 0) scores(qv, n_q, kt, head_dim, last_slot + 1, scale, s.raw.data(), stride, s);
      for (int i = 0; i < n_q; ++i) {
        // Softmax over the visible scores packed in order: in place for a contiguous range.
        const Visible& vi = vis[i / hn];
        float* raw = s.raw.data() + i * stride;
        float* w = raw;
        Range range = vi.n_contig ? range_of(raw, vi.n_contig) : Range{};
        if (vi.n_tail) {
          w = s.weights.data() + i * stride;
          std::memcpy(w, raw, size_t(vi.n_contig) * sizeof(float));
          for (int t = 0; t < vi.n_tail; ++t) range.add(w[vi.n_contig + t] = raw[vi.tail[t]]);
        }
        wv[i] = w;
        const int n = vi.count();
        const float m = range.max;
        if (range.min < m - kNegligible) drop_negligible(w, n, m);
        inv[i] = n ? 1.f / softmax_weights(w, n, m) : 0.f;  // a query that may see nothing (an empty mask row): 0
      }
      weighted_values(wv, vis, rows, hn, v, head_dim, inv, ov);
    }
  }
}

}  // namespace frspec::cpu
