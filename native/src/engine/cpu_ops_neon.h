// Internal to cpu_ops.cpp and cpu_rms_norm.cpp: the arm64 NEON forms of the CPU backend's row operations (the
// neon, dotprod and i8mm variants; empty elsewhere). Each does per element the operations the x86-64 code does
// where that code's bits are defined by its source, so those ops give the same bits on arm64 and x86-64:
// - exp (softmax weights, SwiGLU): vexp4 is cpu_ops.cpp's AVX2 vexp8 (itself the AVX-512 vexp bit for bit) on 4
//   lanes, and the softmax sum keeps the AVX-512 16-lane accumulator's order;
// - RMSNorm of a batch: each row's double chain of squares in its own lane (2 rows per float64x2), as
//   rms_norm_row adds them;
// - argmax: the AVX-512 code's 16 strided lanes (4 vectors), so the same index even with NaN in the row.
// RoPE has no x86 definition to follow: GCC contracts x86's `x0 * c - x1 * s` differently at different positions
// of its vectorized loop (measured: the second output of a pair is fma(x1, c, x0 s) at some, fma(x0, s, x1 c) at
// others). Here it is the scalar code's reading, each product rounded, then the difference (what the generic
// variant computes with -ffp-contract=off), so all arm64 variants agree.
#pragma once

#if defined(__aarch64__) && defined(__ARM_NEON) && !defined(FRSPEC_SCALAR_KERNELS)
#ifndef FRSPEC_NEON_KERNELS
#define FRSPEC_NEON_KERNELS 1
#endif
#include <arm_neon.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "engine/cpu_variant.h"

namespace frspec::FRSPEC_CPU::cpu::neon {

// exp(x) on 4 lanes: the operations of cpu_ops.cpp's vexp8 (ggml's ggml_v_expf) in the same order, FMA for FMA:
// fmadd(a, b, c) = vfmaq_f32(c, a, b), fnmadd(a, b, c) = vfmsq_f32(c, a, b); the same bits as the AVX-512 vexp.
inline __attribute__((always_inline)) float32x4_t vexp4(float32x4_t x) {
  const float32x4_t r = vdupq_n_f32(0x1.8p23f);
  const float32x4_t z = vfmaq_f32(r, x, vdupq_n_f32(0x1.715476p+0f));
  const float32x4_t n = vsubq_f32(z, r);
  const float32x4_t b = vfmsq_f32(vfmsq_f32(x, n, vdupq_n_f32(0x1.62e4p-1f)), n, vdupq_n_f32(0x1.7f7d1cp-20f));
  const float32x4_t u = vmulq_f32(b, b);
  const float32x4_t j = vfmaq_f32(vfmaq_f32(vdupq_n_f32(1.0f), vdupq_n_f32(0x1.ffffecp-1f), b),
                                  vfmaq_f32(vfmaq_f32(vdupq_n_f32(0x1.fffdb6p-2f), vdupq_n_f32(0x1.555e66p-3f), b),
                                            vfmaq_f32(vdupq_n_f32(0x1.573e2ep-5f), vdupq_n_f32(0x1.0e4020p-7f), b), u),
                                  u);
  const float32x4_t zero = vdupq_n_f32(0.f);
  const uint32x4_t e = vshlq_n_u32(vreinterpretq_u32_f32(z), 23);  // n << 23: z holds n in its low mantissa bits
  const float32x4_t k = vreinterpretq_f32_u32(vaddq_u32(e, vreinterpretq_u32_f32(vdupq_n_f32(1.f))));  // 2^n
  const float32x4_t res = vfmaq_f32(zero, j, k);  // j * 2^n rounded once; an FMA so that no add can absorb it
  const float32x4_t an = vabsq_f32(n);
  const uint32x4_t c = vcgtq_f32(an, vdupq_n_f32(126));
  if (vmaxvq_u32(c) == 0) return res;
  // 2^n = s2 * s1: s1 = 2^127 (n > 0) or 2^-125 (n <= 0), s2 = the rest, a normal power of two.
  const uint32x4_t g = vandq_u32(vcleq_f32(n, zero), vdupq_n_u32(0x82000000u));
  const float32x4_t s1 = vreinterpretq_f32_u32(vaddq_u32(g, vdupq_n_u32(0x7f000000u)));
  const float32x4_t s2 = vreinterpretq_f32_u32(vsubq_u32(e, g));
  const float32x4_t wide = vfmaq_f32(zero, vmulq_f32(s2, j), s1);
  const float32x4_t alt = vreinterpretq_f32_u32(vandq_u32(vcgtq_f32(n, zero), vreinterpretq_u32_f32(vdupq_n_f32(INFINITY))));
  return vbslq_f32(vcgtq_f32(an, vdupq_n_f32(192)), alt, vbslq_f32(c, wide, res));
}

// Lanes [0, left) of p (left < 4), the rest 0.
inline float32x4_t load_part(const float* p, int left) {
  float t[4] = {0.f, 0.f, 0.f, 0.f};
  for (int l = 0; l < left; ++l) t[l] = p[l];
  return vld1q_f32(t);
}
inline void store_part(float* p, float32x4_t v, int left) {
  float t[4];
  vst1q_f32(t, v);
  for (int l = 0; l < left; ++l) p[l] = t[l];
}

// out = silu(gate) * up: per element 0 - g, exp, 1 + e, g / that, times up (the x86 code's operations).
inline void swiglu_row(const float* gate, const float* up, float* out, int d) {
  const float32x4_t one = vdupq_n_f32(1.f), zero = vdupq_n_f32(0.f);
  auto step = [&](float32x4_t g, float32x4_t u) {
    return vmulq_f32(vdivq_f32(g, vaddq_f32(one, vexp4(vsubq_f32(zero, g)))), u);
  };
  int i = 0;
  for (; i + 4 <= d; i += 4) vst1q_f32(out + i, step(vld1q_f32(gate + i), vld1q_f32(up + i)));
  if (i < d) store_part(out + i, step(load_part(gate + i, d - i), load_part(up + i, d - i)), d - i);
}

// w[k] = exp(w[k] - max); returns their sum in the AVX-512 code's order: a 16-lane accumulator (here 4 vectors,
// element k in lane k % 16, lanes past n adding 0), then lanes i + (i + 8), then + 4, then + 2, then + 1.
inline float softmax_weights(float* w, int n, float max) {
  float32x4_t acc[4] = {vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f)};
  const float32x4_t vm = vdupq_n_f32(max);
  int k = 0;
  for (; k + 4 <= n; k += 4) {
    const float32x4_t e = vexp4(vsubq_f32(vld1q_f32(w + k), vm));
    vst1q_f32(w + k, e);
    acc[(k / 4) % 4] = vaddq_f32(acc[(k / 4) % 4], e);
  }
  if (k < n) {
    const int left = n - k;
    float32x4_t e = vexp4(vsubq_f32(load_part(w + k, left), vm));
    const uint32x4_t live = vcltq_u32((uint32x4_t){0, 1, 2, 3}, vdupq_n_u32(uint32_t(left)));
    e = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(e), live));
    store_part(w + k, e, left);
    acc[(k / 4) % 4] = vaddq_f32(acc[(k / 4) % 4], e);
  }
  const float32x4_t q = vaddq_f32(vaddq_f32(acc[0], acc[2]), vaddq_f32(acc[1], acc[3]));
  const float32x2_t h = vadd_f32(vget_low_f32(q), vget_high_f32(q));
  return vget_lane_f32(h, 0) + vget_lane_f32(h, 1);
}

// a * b rounded, as one FMUL the compiler cannot fuse into the add or subtract that uses it (GCC's arm_neon.h writes
// vmulq_f32 as a plain `a * b`, which its default -ffp-contract=fast may fuse).
inline __attribute__((always_inline)) float32x4_t mul_rounded(float32x4_t a, float32x4_t b) {
  float32x4_t p;
  __asm__("fmul %0.4s, %1.4s, %2.4s" : "=w"(p) : "w"(a), "w"(b));
  return p;
}

// One pair set: (x0 c - x1 s, x0 s + x1 c), each product rounded.
inline __attribute__((always_inline)) void rotate(float32x4_t& x0, float32x4_t& x1, float32x4_t c, float32x4_t s) {
  const float32x4_t a = vsubq_f32(mul_rounded(x0, c), mul_rounded(x1, s));
  x1 = vaddq_f32(mul_rounded(x0, s), mul_rounded(x1, c));
  x0 = a;
}

// Rotates one token's heads in place: v[a] = x0 c - x1 s, v[b] = x0 s + x1 c with each product rounded (see top).
template <bool neox>
inline void rope_heads(float* x, int n_heads, int head_dim, int half, const float* cs) {
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + size_t(h) * head_dim;
    int i = 0;
    for (; i + 4 <= half; i += 4) {
      const float32x4x2_t t = vld2q_f32(cs + 2 * i);  // val[0] = 4 cos, val[1] = 4 sin
      if constexpr (neox) {
        float32x4_t x0 = vld1q_f32(v + i), x1 = vld1q_f32(v + i + half);
        rotate(x0, x1, t.val[0], t.val[1]);
        vst1q_f32(v + i, x0);
        vst1q_f32(v + i + half, x1);
      } else {
        float32x4x2_t p = vld2q_f32(v + 2 * i);  // val[0] = x0 of 4 pairs, val[1] = x1
        rotate(p.val[0], p.val[1], t.val[0], t.val[1]);
        vst2q_f32(v + 2 * i, p);
      }
    }
    for (; i < half; ++i) {
      const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
      float32x4_t x0 = vdupq_n_f32(v[a]), x1 = vdupq_n_f32(v[b]);
      rotate(x0, x1, vdupq_n_f32(cs[2 * i]), vdupq_n_f32(cs[2 * i + 1]));
      v[a] = vgetq_lane_f32(x0, 0);
      v[b] = vgetq_lane_f32(x1, 0);
    }
  }
}
inline void rope_apply(float* x, int n_heads, int head_dim, bool neox, int rot, const float* cs) {
  if (neox) rope_heads<true>(x, n_heads, head_dim, rot / 2, cs);
  else rope_heads<false>(x, n_heads, head_dim, rot / 2, cs);
}

// First index of the maximum of x[0, n), n >= 32: the AVX-512 code's 16 lanes (lane l takes elements l, l + 16,
// ...: its first maximum), then the lowest index among the lanes holding the overall maximum.
inline int32_t argmax_row(const float* x, int n) {
  float32x4_t best[4];
  uint32x4_t idx[4], best_idx[4];
  for (int q = 0; q < 4; ++q) {
    best[q] = vld1q_f32(x + 4 * q);
    idx[q] = (uint32x4_t){uint32_t(4 * q), uint32_t(4 * q + 1), uint32_t(4 * q + 2), uint32_t(4 * q + 3)};
    best_idx[q] = idx[q];
  }
  const uint32x4_t step = vdupq_n_u32(16);
  int i = 16;
  for (; i + 16 <= n; i += 16)
    for (int q = 0; q < 4; ++q) {
      idx[q] = vaddq_u32(idx[q], step);
      const float32x4_t v = vld1q_f32(x + i + 4 * q);
      const uint32x4_t gt = vcgtq_f32(v, best[q]);
      best[q] = vbslq_f32(gt, v, best[q]);
      best_idx[q] = vbslq_u32(gt, idx[q], best_idx[q]);
    }
  float vals[16];
  uint32_t ids[16];
  for (int q = 0; q < 4; ++q) vst1q_f32(vals + 4 * q, best[q]), vst1q_u32(ids + 4 * q, best_idx[q]);
  float bv = vals[0];
  int32_t b = int32_t(ids[0]);
  for (int l = 1; l < 16; ++l)
    if (vals[l] > bv || (vals[l] == bv && int32_t(ids[l]) < b)) bv = vals[l], b = int32_t(ids[l]);
  for (; i < n; ++i)
    if (x[i] > bv) bv = x[i], b = i;
  return b;
}

// y = (x * scale) * weight (or x * scale), scale from the row's sum of squares: rms_norm_row's second half.
inline void scale_row(const float* x, const float* weight, float* y, int d, double ss, float eps) {
  const float scale = float(1.0 / std::sqrt(ss / d + eps));
  const float32x4_t vs = vdupq_n_f32(scale);
  int i = 0;
  if (weight) {
    for (; i + 4 <= d; i += 4) vst1q_f32(y + i, vmulq_f32(vmulq_f32(vld1q_f32(x + i), vs), vld1q_f32(weight + i)));
    for (; i < d; ++i) y[i] = (x[i] * scale) * weight[i];
  } else {
    for (; i + 4 <= d; i += 4) vst1q_f32(y + i, vmulq_f32(vld1q_f32(x + i), vs));
    for (; i < d; ++i) y[i] = x[i] * scale;
  }
}

// RMSNorm of rows [0, 2 V): V vectors of 2 row chains each (lane = row), value k of both rows per step, so each
// row's sum of squares is rms_norm_row's: ss = ss + x * x in double, in the row's order (fma: the product is
// exact in double, the add rounded once).
template <int V>
inline void rms_rows_2v(const float* x, const float* weight, float* y, int d, float eps) {
  float64x2_t ss[V];
  for (int v = 0; v < V; ++v) ss[v] = vdupq_n_f64(0.0);
  int k = 0;
  for (; k + 4 <= d; k += 4)
    for (int v = 0; v < V; ++v) {
      const float32x4_t a = vld1q_f32(x + size_t(2 * v) * d + k), b = vld1q_f32(x + size_t(2 * v + 1) * d + k);
      const float32x4_t lo = vzip1q_f32(a, b), hi = vzip2q_f32(a, b);  // (a0 b0 a1 b1), (a2 b2 a3 b3)
      float64x2_t t = vcvt_f64_f32(vget_low_f32(lo));
      ss[v] = vfmaq_f64(ss[v], t, t);
      t = vcvt_high_f64_f32(lo);
      ss[v] = vfmaq_f64(ss[v], t, t);
      t = vcvt_f64_f32(vget_low_f32(hi));
      ss[v] = vfmaq_f64(ss[v], t, t);
      t = vcvt_high_f64_f32(hi);
      ss[v] = vfmaq_f64(ss[v], t, t);
    }
  double sums[2 * V];
  for (int v = 0; v < V; ++v) vst1q_f64(sums + 2 * v, ss[v]);
  for (int r = 0; r < 2 * V; ++r) {
    const float* xr = x + size_t(r) * d;
    for (int kk = k; kk < d; ++kk) sums[r] = std::fma(double(xr[kk]), double(xr[kk]), sums[r]);
    scale_row(xr, weight, y + size_t(r) * d, d, sums[r], eps);
  }
}

}  // namespace frspec::FRSPEC_CPU::cpu::neon

#endif
