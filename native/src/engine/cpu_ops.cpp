#include "engine/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "engine/cpu_ops_neon.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace frspec::FRSPEC_CPU::cpu {

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

#if defined(__AVX512F__)
// exp(x) for 16 lanes: ggml's ggml_v_expf (MIT, llama.cpp), accurate to ~1.5 ulp. Every element goes
// through this same function (partial blocks use masked loads), so a value's exp never depends on its
// position or on the length of the row it came in.
static inline __m512 vexp(__m512 x) {
  const __m512 r = _mm512_set1_ps(0x1.8p23f);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
  const __m512 n = _mm512_sub_ps(z, r);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __mmask16 d = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  const __m512 res = _mm512_maskz_scalef_ps(0xffff, j, n);  // (maskz: GCC 12 warns on the unmasked form)
  if (_mm512_kortestz(d, d)) return res;
  const __m512 zero = _mm512_setzero_ps();
  const __m512 alt = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, zero, _CMP_LE_OQ), _mm512_set1_ps(INFINITY), zero);
  return _mm512_mask_blend_ps(d, res, alt);
}
static inline __mmask16 tail_mask(int left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1); }
#elif defined(__AVX2__) && defined(__FMA__)
#define FRSPEC_AVX2_OPS 1
// exp(x) for 8 lanes with the bits of vexp above (the avx512 variant's): the same operations up to j, then
// j * 2^n, which AVX-512 does with scalef, from integer exponent arithmetic as ggml's AVX2 ggml_v_expf does:
// one multiply by 2^n for |n| <= 126, for |n| <= 192 a multiply by an exact factor and one by a rounding one
// (so either way j * 2^n is rounded once, as scalef rounds it), 0 or inf beyond. The last multiply is an
// explicit FMA with 0, so the compiler cannot fuse it into an add that follows (which would change the bits).
static inline __m256 vexp8(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  const __m256 zero = _mm256_setzero_ps();
  const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);  // n << 23: z holds n in its low mantissa bits
  const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.f))));  // 2^n
  const __m256 res = _mm256_fmadd_ps(j, k, zero);
  const __m256 an = _mm256_andnot_ps(_mm256_set1_ps(-0.f), n);
  const __m256 c = _mm256_cmp_ps(an, _mm256_set1_ps(126), _CMP_GT_OQ);
  if (!_mm256_movemask_ps(c)) return res;
  // 2^n = s2 * s1: s1 = 2^127 (n > 0) or 2^-125 (n <= 0), s2 = the rest, a normal power of two.
  const __m256i g =
      _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, zero, _CMP_LE_OQ)), _mm256_set1_epi32(int(0x82000000u)));
  const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
  const __m256 wide = _mm256_fmadd_ps(_mm256_mul_ps(s2, j), s1, zero);
  const __m256 alt = _mm256_and_ps(_mm256_cmp_ps(n, zero, _CMP_GT_OQ), _mm256_set1_ps(INFINITY));  // |n| > 192
  return _mm256_blendv_ps(_mm256_blendv_ps(res, wide, c), alt, _mm256_cmp_ps(an, _mm256_set1_ps(192), _CMP_GT_OQ));
}
#elif !defined(FRSPEC_NEON_KERNELS)
// One lane of vexp8 above (so of the AVX-512 vexp, and of cpu_ops_neon.h's vexp4) in scalar code: the same
// operations, std::fma for each FMA, so the portable variant's softmax and SwiGLU have the x86 variants' bits
// (the generic variant is built with -ffp-contract=off: no other product is fused).
static inline float vexp1(float x) {
  auto bits = [](float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; };
  auto from = [](uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; };
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  const uint32_t e = bits(z) << 23;
  const float an = std::fabs(n);
  if (!(an > 126)) return std::fma(j, from(e + bits(1.f)), 0.f);  // (NaN too)
  if (an > 192) return n > 0 ? INFINITY : 0.f;
  const uint32_t g = n <= 0 ? 0x82000000u : 0u;
  return std::fma(from(e - g) * j, from(g + 0x7f000000u), 0.f);
}
#endif

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
#if defined(__AVX512F__)
  const __m512 one = _mm512_set1_ps(1.f);
  for (int i = 0; i < d; i += 16) {
    const __mmask16 k = tail_mask(d - i);
    const __m512 g = _mm512_maskz_loadu_ps(k, gate + i);
    const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, vexp(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(k, up + i)));
  }
#elif defined(FRSPEC_AVX2_OPS)
  // The avx512 variant's operations lane for lane (vexp8 == vexp), so the same bits; the tail through masks.
  const __m256 one = _mm256_set1_ps(1.f);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int i = 0; i < d; i += 8) {
    const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32(d - i), lane);
    const __m256 g = _mm256_maskload_ps(gate + i, k);
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, vexp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_maskstore_ps(out + i, k, _mm256_mul_ps(silu, _mm256_maskload_ps(up + i, k)));
  }
#elif defined(FRSPEC_NEON_KERNELS)
  neon::swiglu_row(gate, up, out, d);
#else
  for (int i = 0; i < d; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + vexp1(0.f - g)) * up[i];
  }
#endif
}

void rope_inv_freq(int head_dim, const RopeParams& p, double* inv_freq) {
  const int rot = p.rot_dims > 0 ? p.rot_dims : head_dim;
  for (int i = 0; i < rot / 2; ++i)
    inv_freq[i] = std::pow(double(p.theta), -2.0 * i / rot) / (p.freq_factors ? double(p.freq_factors[i]) : 1.0);
}

void rope_angles(int32_t pos, int half, const double* inv_freq, float* cs) {
  for (int i = 0; i < half; ++i) {
    const double theta = double(pos) * inv_freq[i];
    cs[2 * i] = float(std::cos(theta));
    cs[2 * i + 1] = float(std::sin(theta));
  }
}

void rope_apply(float* x, int n_heads, int head_dim, const RopeParams& p, const float* cs) {
  const int rot = p.rot_dims > 0 ? p.rot_dims : head_dim;
#if defined(FRSPEC_NEON_KERNELS)
  return neon::rope_apply(x, n_heads, head_dim, p.neox, rot, cs);
#endif
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

float softmax_weights(float* w, int n, float max) {
  float sum = 0.f;
#if defined(__AVX512F__)
  __m512 acc = _mm512_setzero_ps();
  const __m512 vm = _mm512_set1_ps(max);
  for (int k = 0; k < n; k += 16) {
    const __mmask16 t = tail_mask(n - k);
    const __m512 e = _mm512_maskz_mov_ps(t, vexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, w + k), vm)));
    _mm512_mask_storeu_ps(w + k, t, e);
    acc = _mm512_add_ps(acc, e);
  }
  sum = hsum16(acc);
#elif defined(FRSPEC_AVX2_OPS)
  // The avx512 variant's sums, bit for bit: lanes 0-7 and 8-15 of its 16-lane accumulator, then its hsum16.
  __m256 lo = _mm256_setzero_ps(), hi = lo;
  const __m256 vm = _mm256_set1_ps(max);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int k = 0; k < n; k += 8) {
    const __m256i t = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - k), lane);  // the lanes below n (tail: masked)
    const __m256 e = _mm256_and_ps(_mm256_castsi256_ps(t), vexp8(_mm256_sub_ps(_mm256_maskload_ps(w + k, t), vm)));
    _mm256_maskstore_ps(w + k, t, e);
    if (k % 16 == 0) lo = _mm256_add_ps(lo, e); else hi = _mm256_add_ps(hi, e);
  }
  const __m256 h = _mm256_add_ps(lo, hi);
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  sum = _mm_cvtss_f32(q);
#elif defined(FRSPEC_NEON_KERNELS)
  sum = neon::softmax_weights(w, n, max);
#else
  // The avx512 variant's sum order: a 16-lane accumulator, then its hsum16 (lanes i + 8, + 4, + 2, + 1).
  float acc[16] = {};
  for (int k = 0; k < n; ++k) acc[k % 16] += (w[k] = vexp1(w[k] - max));
  float q[4];
  for (int l = 0; l < 4; ++l) q[l] = (acc[l] + acc[l + 8]) + (acc[l + 4] + acc[l + 12]);
  sum = (q[0] + q[2]) + (q[1] + q[3]);
#endif
  return sum;
}

int32_t argmax_row(const float* x, int n) {
  int i = 0;
  int32_t best = 0;
  float bv = x[0];
#if defined(FRSPEC_NEON_KERNELS)
  if (n >= 32) return neon::argmax_row(x, n);
#endif
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
