// Block formats (quant.h): scalar F16/BF16 conversions, dequantize_row for every supported type, and
// reference quantizers. The quantizers pick each block's scales by a small search plus a least-squares
// refit (good enough for test fixtures and for re-quantizing models; not bit-identical to llama.cpp's
// quantizer output, but every byte they write follows ggml's layout exactly).
#include "engine/quant.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace frspec {

static uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16_to_f32(f16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000 | (mant << 13));  // inf / NaN (payload kept)
  if (exp == 0) {
    // zero or subnormal: mant * 2^-24, exact in float
    const float v = float(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

f16_t f32_to_f16(float f) {
  uint32_t u = f32_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000;
  u &= 0x7fffffff;
  if (u > 0x7f800000) return f16_t(sign | 0x7e00 | ((u >> 13) & 0x3ff));  // NaN stays NaN (quiet)
  if (u >= 0x477ff000) return f16_t(sign | 0x7c00);                       // rounds to >= 65520: inf
  if (u < 0x38800000) {
    // Result is subnormal (or zero): adding 0.5 aligns the value so that the float adder's own
    // round-to-nearest-even drops exactly the bits a half subnormal cannot hold.
    const float r = bits_f32(u) + 0.5f;
    return f16_t(sign | (f32_bits(r) - f32_bits(0.5f)));
  }
  // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even.
  const uint32_t odd = (u >> 13) & 1;
  u += 0xc8000fff + odd;  // (15 - 127) << 23, plus the rounding bias
  return f16_t(sign | (u >> 13));
}

bf16_t f32_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7fffffff) > 0x7f800000) return bf16_t((u >> 16) | 0x40);  // quiet NaN
  return bf16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

// ---------------------------------------------------------------------------------------- dequantize

// The 32 quants of a Q4_0 / Q4_1 / Q5_0 / Q5_1 block in value order, in 0..15 (4-bit) or 0..31 (5-bit).
static void unpack_q4(const uint8_t* qs, uint8_t* q) {
  for (int l = 0; l < QK4_0 / 2; ++l) q[l] = qs[l] & 0xF, q[l + QK4_0 / 2] = qs[l] >> 4;
}
static void unpack_q5(const uint8_t* qs, const uint8_t* qh, uint8_t* q) {
  unpack_q4(qs, q);
  const uint32_t h = q5_high_bits(qh);
  for (int l = 0; l < QK4_0; ++l) q[l] |= uint8_t(((h >> l) & 1) << 4);
}

static void dequantize_q4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK4_0) {
    uint8_t q[QK4_0];
    unpack_q4(b[i].qs, q);
    const float d = f16_to_f32(b[i].d);
    for (int l = 0; l < QK4_0; ++l) y[l] = d * float(int(q[l]) - 8);
  }
}

static void dequantize_q4_1(const BlockQ4_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK4_0) {
    uint8_t q[QK4_0];
    unpack_q4(b[i].qs, q);
    const float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
    for (int l = 0; l < QK4_0; ++l) y[l] = d * float(q[l]) + m;
  }
}

static void dequantize_q5_0(const BlockQ5_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK4_0) {
    uint8_t q[QK4_0];
    unpack_q5(b[i].qs, b[i].qh, q);
    const float d = f16_to_f32(b[i].d);
    for (int l = 0; l < QK4_0; ++l) y[l] = d * float(int(q[l]) - 16);
  }
}

static void dequantize_q5_1(const BlockQ5_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK4_0) {
    uint8_t q[QK4_0];
    unpack_q5(b[i].qs, b[i].qh, q);
    const float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
    for (int l = 0; l < QK4_0; ++l) y[l] = d * float(q[l]) + m;
  }
}

static void dequantize_q8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int l = 0; l < QK8_0; ++l) y[i * QK8_0 + l] = d * float(b[i].qs[l]);
  }
}

static void dequantize_q4_K(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK_K) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    for (int c = 0; c < 4; ++c) {  // 64 values per 32 bytes: low nibbles, then high nibbles
      uint8_t sc0, m0, sc1, m1;
      q4k_scale_min(2 * c, b[i].scales, &sc0, &m0);
      q4k_scale_min(2 * c + 1, b[i].scales, &sc1, &m1);
      const float d0 = d * sc0, mm0 = dmin * m0, d1 = d * sc1, mm1 = dmin * m1;
      const uint8_t* q = b[i].qs + 32 * c;
      for (int l = 0; l < 32; ++l) y[64 * c + l] = d0 * float(q[l] & 0xF) - mm0;
      for (int l = 0; l < 32; ++l) y[64 * c + 32 + l] = d1 * float(q[l] >> 4) - mm1;
    }
  }
}

static void dequantize_q5_K(const BlockQ5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK_K) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    for (int j = 0; j < 8; ++j) {  // sub-block j: nibble j % 2 of qs[32 * (j / 2) ..], high bit j of qh[..]
      uint8_t sc, m;
      q4k_scale_min(j, b[i].scales, &sc, &m);
      const float dj = d * sc, mj = dmin * m;
      const uint8_t* q = b[i].qs + 32 * (j / 2);
      for (int l = 0; l < 32; ++l) {
        const int low = (j & 1) ? (q[l] >> 4) : (q[l] & 0xF);
        y[32 * j + l] = dj * float(low | (((b[i].qh[l] >> j) & 1) << 4)) - mj;
      }
    }
  }
}

// The 6-bit value of element e (0..255) of a Q6_K block, in 0..63.
static inline int q6k_value(const BlockQ6_K& b, int e) {
  const int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
  const uint8_t* ql = b.ql + 64 * half;
  const uint8_t* qh = b.qh + 32 * half;
  const int lo = (quarter & 1) ? ql[l + 32] : ql[l];
  const int low4 = (quarter < 2) ? (lo & 0xF) : (lo >> 4);
  return low4 | (((qh[l] >> (2 * quarter)) & 3) << 4);
}

static void dequantize_q6_K(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK_K) {
    const float d = f16_to_f32(b[i].d);
    for (int e = 0; e < QK_K; ++e) y[e] = d * float(b[i].scales[e / 16]) * float(q6k_value(b[i], e) - 32);
  }
}

static void dequantize_iq4_nl(const BlockIQ4_NL* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK4_0) {
    const float d = f16_to_f32(b[i].d);
    for (int l = 0; l < 16; ++l) y[l] = d * float(kIQ4NL[b[i].qs[l] & 0xF]), y[l + 16] = d * float(kIQ4NL[b[i].qs[l] >> 4]);
  }
}

static void dequantize_iq4_xs(const BlockIQ4_XS* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < 8; ++j, y += 32) {
      const float dl = d * float(iq4xs_scale(b[i], j));
      const uint8_t* q = b[i].qs + 16 * j;
      for (int l = 0; l < 16; ++l) y[l] = dl * float(kIQ4NL[q[l] & 0xF]), y[l + 16] = dl * float(kIQ4NL[q[l] >> 4]);
    }
  }
}

void dequantize_row(DType t, const void* row, float* y, int64_t cols) {
  const int64_t be = dtype_block_elems(t);
  if (cols % be != 0) dtype_row_bytes(t, cols);  // throws the standard message
  switch (t) {
    case DType::F32: std::memcpy(y, row, size_t(cols) * 4); return;
    case DType::F16: {
      const f16_t* h = static_cast<const f16_t*>(row);
      for (int64_t i = 0; i < cols; ++i) y[i] = f16_to_f32(h[i]);
      return;
    }
    case DType::BF16: {
      const bf16_t* h = static_cast<const bf16_t*>(row);
      for (int64_t i = 0; i < cols; ++i) y[i] = bf16_to_f32(h[i]);
      return;
    }
    case DType::Q4_0: dequantize_q4_0(static_cast<const BlockQ4_0*>(row), y, cols / be); return;
    case DType::Q4_1: dequantize_q4_1(static_cast<const BlockQ4_1*>(row), y, cols / be); return;
    case DType::Q5_0: dequantize_q5_0(static_cast<const BlockQ5_0*>(row), y, cols / be); return;
    case DType::Q5_1: dequantize_q5_1(static_cast<const BlockQ5_1*>(row), y, cols / be); return;
    case DType::Q8_0: dequantize_q8_0(static_cast<const BlockQ8_0*>(row), y, cols / be); return;
    case DType::Q4_K: dequantize_q4_K(static_cast<const BlockQ4_K*>(row), y, cols / be); return;
    case DType::Q5_K: dequantize_q5_K(static_cast<const BlockQ5_K*>(row), y, cols / be); return;
    case DType::Q6_K: dequantize_q6_K(static_cast<const BlockQ6_K*>(row), y, cols / be); return;
    case DType::IQ4_NL: dequantize_iq4_nl(static_cast<const BlockIQ4_NL*>(row), y, cols / be); return;
    case DType::IQ4_XS: dequantize_iq4_xs(static_cast<const BlockIQ4_XS*>(row), y, cols / be); return;
  }
  throw std::invalid_argument("dequantize_row: unsupported type id " + std::to_string(uint32_t(t)));
}

// ------------------------------------------------------------------------------------------ quantize

void quantize_row_f16(const float* x, f16_t* y, int64_t k) {
  for (int64_t i = 0; i < k; ++i) y[i] = f32_to_f16(x[i]);
}

void quantize_row_bf16(const float* x, bf16_t* y, int64_t k) {
  for (int64_t i = 0; i < k; ++i) y[i] = f32_to_bf16(x[i]);
}

static void require_blocks(const char* type, int64_t k, int64_t block) {
  if (k % block != 0)
    throw std::invalid_argument(std::string("quantize ") + type + ": " + std::to_string(k) +
                                " values is not a multiple of the block size " + std::to_string(block));
}

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t k) {
  require_blocks("Q8_0", k, QK8_0);
  for (int64_t i = 0; i < k / QK8_0; ++i, x += QK8_0) {
    float amax = 0;
    for (int l = 0; l < QK8_0; ++l) amax = std::max(amax, std::fabs(x[l]));
    const float d = amax / 127.f, id = d != 0 ? 1.f / d : 0.f;
    y[i].d = f32_to_f16(d);
    for (int l = 0; l < QK8_0; ++l) y[i].qs[l] = int8_t(std::clamp(std::lround(x[l] * id), -127l, 127l));
  }
}

// Fits x[0..n) ≈ scale * L + offset with L in [0, nmax] and scale >= 0: tries 21 scales around
// (max - min) / nmax, refits (scale, offset) by least squares on each rounding, keeps the smallest error.
// Q4_1 / Q5_1 allow any offset; the K-quants store a non-negative min subtracted (nonpositive_offset).
static void fit_affine(const float* x, int n, int nmax, bool nonpositive_offset, float* scale, float* offset) {
  float lo = nonpositive_offset ? 0 : x[0], hi = x[0];
  for (int i = 0; i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  *scale = 0;
  *offset = lo;
  if (hi <= lo) return;
  float best_err = INFINITY;
  for (int step = -10; step <= 10; ++step) {
    const float s0 = (hi - lo) / (float(nmax) + 0.1f * float(step));
    double sl = 0, sx = 0, sll = 0, slx = 0;
    for (int i = 0; i < n; ++i) {
      const int L = std::clamp(int(std::lround((x[i] - lo) / s0)), 0, nmax);
      sl += L, sx += x[i], sll += double(L) * L, slx += double(L) * x[i];
    }
    const double det = n * sll - sl * sl;
    double a = det > 0 ? (n * slx - sl * sx) / det : s0, b = (sx - a * sl) / n;
    if (nonpositive_offset && b > 0) b = 0, a = sll > 0 ? slx / sll : 0;
    if (a <= 0) continue;
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const int q = std::clamp(int(std::lround((x[i] - b) / a)), 0, nmax);
      const float e = float(a * q + b) - x[i];
      err += e * e;
    }
    if (err < best_err) best_err = err, *scale = float(a), *offset = float(b);
  }
}

// One 256-value block as d * sc[j] * L - dmin * m[j] with L in [0, nmax] (Q4_K: 15, Q5_K: 31): the 6-bit
// scales and mins packed as ggml does (into `scales`), the values' L in L[256].
static void quantize_k_affine_block(const float* x, int nmax, f16_t* d_out, f16_t* dmin_out, uint8_t scales[K_SCALE_SIZE],
                                    uint8_t L[QK_K]) {
  float scale[8], minv[8], max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    fit_affine(x + 32 * j, 32, nmax, /*nonpositive_offset=*/true, &scale[j], &minv[j]);
    minv[j] = -minv[j];  // stored as a min to subtract
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, minv[j]);
  }
  *d_out = f32_to_f16(max_scale / 63.f);
  *dmin_out = f32_to_f16(max_min / 63.f);
  const float d = f16_to_f32(*d_out), dmin = f16_to_f32(*dmin_out);
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = uint8_t(d > 0 ? std::clamp(std::lround(scale[j] / d), 0l, 63l) : 0);
    lm[j] = uint8_t(dmin > 0 ? std::clamp(std::lround(minv[j] / dmin), 0l, 63l) : 0);
  }
  // Inverse of q4k_scale_min: sub-blocks 0..3 in the low 6 bits of bytes 0..7, 4..7 split 4 + 2 bits.
  std::memset(scales, 0, K_SCALE_SIZE);
  for (int j = 0; j < 4; ++j) {
    scales[j] = ls[j] | uint8_t((ls[j + 4] >> 4) << 6);
    scales[j + 4] = lm[j] | uint8_t((lm[j + 4] >> 4) << 6);
    scales[j + 8] = uint8_t((ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4));
  }
  for (int j = 0; j < 8; ++j) {
    const float s = d * ls[j], m = dmin * lm[j];
    for (int l = 0; l < 32; ++l)
      L[32 * j + l] = uint8_t(s > 0 ? std::clamp(std::lround((x[32 * j + l] + m) / s), 0l, long(nmax)) : 0);
  }
}

void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t k) {
  require_blocks("Q4_K", k, QK_K);
  for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
    BlockQ4_K& b = y[i];
    uint8_t L[QK_K];
    quantize_k_affine_block(x, 15, &b.d, &b.dmin, b.scales, L);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = uint8_t(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
  }
}

void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t k) {
  require_blocks("Q5_K", k, QK_K);
  for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
    BlockQ5_K& b = y[i];
    uint8_t L[QK_K];
    quantize_k_affine_block(x, 31, &b.d, &b.dmin, b.scales, L);
    std::memset(b.qh, 0, sizeof b.qh);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = uint8_t((L[64 * c + l] & 0xF) | ((L[64 * c + 32 + l] & 0xF) << 4));
    for (int j = 0; j < 8; ++j)
      for (int l = 0; l < 32; ++l) b.qh[l] |= uint8_t((L[32 * j + l] >> 4) << j);
  }
}

// One 32-value block of Q4_1 / Q5_1: d, m (as stored) and L in [0, nmax] rounded against the stored values.
static void quantize_affine_block(const float* x, int nmax, f16_t* d_out, f16_t* m_out, uint8_t L[QK4_0]) {
  float s, m;
  fit_affine(x, QK4_0, nmax, /*nonpositive_offset=*/false, &s, &m);
  *d_out = f32_to_f16(s);
  *m_out = f32_to_f16(m);
  const float d = f16_to_f32(*d_out), mm = f16_to_f32(*m_out);
  for (int l = 0; l < QK4_0; ++l) L[l] = uint8_t(d > 0 ? std::clamp(std::lround((x[l] - mm) / d), 0l, long(nmax)) : 0);
}

// Fits x[0..n) ≈ s * L with L in [-half, half - 1] (Q6_K: 32, Q5_0: 16, Q4_0: 8): the largest magnitude
// maps near -half (the wider side), then a least-squares refit of s on each rounding; keeps the smallest error.
static float fit_scale_symmetric(const float* x, int n, int half) {
  float vmax = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > std::fabs(vmax)) vmax = x[i];
  if (vmax == 0) return 0;
  float best = 0, best_err = INFINITY;
  for (int step = -6; step <= 6; ++step) {
    const float s0 = -vmax / (float(half) + 0.1f * float(step));
    double slx = 0, sll = 0;
    for (int i = 0; i < n; ++i) {
      const int q = std::clamp(int(std::lround(x[i] / s0)), -half, half - 1);
      slx += double(q) * x[i], sll += double(q) * q;
    }
    const float s = sll > 0 ? float(slx / sll) : s0;
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const int q = std::clamp(int(std::lround(x[i] / s)), -half, half - 1);
      const float e = s * float(q) - x[i];
      err += e * e;
    }
    if (err < best_err) best_err = err, best = s;
  }
  return best;
}

// One 32-value block of Q4_0 / Q5_0: d (as stored) and L = q + half in [0, 2 * half - 1].
static void quantize_symmetric_block(const float* x, int half, f16_t* d_out, uint8_t L[QK4_0]) {
  *d_out = f32_to_f16(fit_scale_symmetric(x, QK4_0, half));
  const float d = f16_to_f32(*d_out);
  for (int l = 0; l < QK4_0; ++l)
    L[l] = uint8_t(half + (d != 0 ? std::clamp(int(std::lround(x[l] / d)), -half, half - 1) : 0));
}

static void pack_q4(const uint8_t L[QK4_0], uint8_t qs[QK4_0 / 2]) {
  for (int l = 0; l < QK4_0 / 2; ++l) qs[l] = uint8_t((L[l] & 0xF) | ((L[l + QK4_0 / 2] & 0xF) << 4));
}
static void pack_q5(const uint8_t L[QK4_0], uint8_t qs[QK4_0 / 2], uint8_t qh[4]) {
  pack_q4(L, qs);
  uint32_t h = 0;
  for (int l = 0; l < QK4_0; ++l) h |= uint32_t(L[l] >> 4) << l;
  for (int i = 0; i < 4; ++i) qh[i] = uint8_t(h >> (8 * i));
}

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t k) {
  require_blocks("Q4_0", k, QK4_0);
  for (int64_t i = 0; i < k / QK4_0; ++i, x += QK4_0) {
    uint8_t L[QK4_0];
    quantize_symmetric_block(x, 8, &y[i].d, L);
    pack_q4(L, y[i].qs);
  }
}

void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t k) {
  require_blocks("Q5_0", k, QK4_0);
  for (int64_t i = 0; i < k / QK4_0; ++i, x += QK4_0) {
    uint8_t L[QK4_0];
    quantize_symmetric_block(x, 16, &y[i].d, L);
    pack_q5(L, y[i].qs, y[i].qh);
  }
}

void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t k) {
  require_blocks("Q4_1", k, QK4_0);
  for (int64_t i = 0; i < k / QK4_0; ++i, x += QK4_0) {
    uint8_t L[QK4_0];
    quantize_affine_block(x, 15, &y[i].d, &y[i].m, L);
    pack_q4(L, y[i].qs);
  }
}

void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t k) {
  require_blocks("Q5_1", k, QK4_0);
  for (int64_t i = 0; i < k / QK4_0; ++i, x += QK4_0) {
    uint8_t L[QK4_0];
    quantize_affine_block(x, 31, &y[i].d, &y[i].m, L);
    pack_q5(L, y[i].qs, y[i].qh);
  }
}

void quantize_row_q6_K(const float* x, BlockQ6_K* y, int64_t k) {
  require_blocks("Q6_K", k, QK_K);
  for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
    float scale[16], max_abs = 0;
    for (int g = 0; g < 16; ++g) {
      scale[g] = fit_scale_symmetric(x + 16 * g, 16, 32);
      max_abs = std::max(max_abs, std::fabs(scale[g]));
    }
    BlockQ6_K& b = y[i];
    b.d = f32_to_f16(max_abs / 127.f);
    const float d = f16_to_f32(b.d);
    uint8_t L[QK_K];
    for (int g = 0; g < 16; ++g) {
      const long ls = d > 0 ? std::clamp(std::lround(scale[g] / d), -127l, 127l) : 0;
      b.scales[g] = int8_t(ls);
      const float s = d * float(ls);
      for (int l = 0; l < 16; ++l)
        L[16 * g + l] = uint8_t(32 + (s != 0 ? std::clamp(int(std::lround(x[16 * g + l] / s)), -32, 31) : 0));
    }
    // Inverse of q6k_value: per half of 128, element l + 32*quarter keeps its low 4 bits in ql (quarters
    // 0/1 low nibbles of ql[l], ql[l+32]; quarters 2/3 their high nibbles) and its high 2 bits in qh[l].
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = L + 128 * half;
      uint8_t* ql = b.ql + 64 * half;
      uint8_t* qh = b.qh + 32 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = uint8_t((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
        ql[l + 32] = uint8_t((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
        qh[l] = uint8_t((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) | ((q[l + 96] >> 4) << 6));
      }
    }
  }
}

// The table entry nearest to v (values in kIQ4NL's units).
static int nearest_iq4nl(float v) {
  int best = 0;
  for (int k = 1; k < 16; ++k)
    if (std::fabs(v - float(kIQ4NL[k])) < std::fabs(v - float(kIQ4NL[best]))) best = k;
  return best;
}

// Squared error of x[0..32) as s * kIQ4NL[nearest], and the least-squares scale for that choice.
static float iq4nl_fit(const float* x, float s, float* refit) {
  double sqx = 0, sqq = 0, err = 0;
  for (int l = 0; l < 32; ++l) {
    const float q = s != 0 ? float(kIQ4NL[nearest_iq4nl(x[l] / s)]) : 0.f;
    sqx += double(q) * x[l], sqq += double(q) * q, err += double(s * q - x[l]) * (s * q - x[l]);
  }
  *refit = sqq > 0 ? float(sqx / sqq) : s;
  return float(err);
}

// The scale of 32 values x ~ s * kIQ4NL[q]: max|x| over the table's largest magnitude (either sign, the table
// is asymmetric), a few steps around it, each refitted by least squares; the one with the smallest error.
static float iq4nl_scale(const float* xs) {
  float amax = 0, vmax = 0, scale = 0, best = INFINITY;
  for (int l = 0; l < 32; ++l)
    if (std::fabs(xs[l]) > amax) amax = std::fabs(xs[l]), vmax = xs[l];
  for (int step = -3; step <= 3 && amax > 0; ++step) {
    for (const float sign : {1.f, -1.f}) {
      float s1, unused;
      iq4nl_fit(xs, sign * vmax / (127.f + 4.f * float(step)), &s1);
      const float e = iq4nl_fit(xs, s1, &unused);
      if (e < best) best = e, scale = s1;
    }
  }
  return scale;
}

void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t k) {
  require_blocks("IQ4_NL", k, QK4_0);
  for (int64_t i = 0; i < k / QK4_0; ++i, x += QK4_0) {
    y[i].d = f32_to_f16(iq4nl_scale(x));
    const float d = f16_to_f32(y[i].d);
    uint8_t L[32];
    for (int l = 0; l < 32; ++l) L[l] = uint8_t(d != 0 ? nearest_iq4nl(x[l] / d) : 8);
    for (int l = 0; l < 16; ++l) y[i].qs[l] = uint8_t(L[l] | (L[l + 16] << 4));
  }
}

void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t k) {
  require_blocks("IQ4_XS", k, QK_K);
  for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
    // Each sub-block's scale as IQ4_NL's; the block's d then maps the largest scale to -32 (the 6-bit
    // scales run -32..31) and every sub-block rounds its scale to d's grid.
    float scale[8], max_abs = 0, max_scale = 0;
    for (int j = 0; j < 8; ++j) {
      scale[j] = iq4nl_scale(x + 32 * j);
      if (std::fabs(scale[j]) > max_abs) max_abs = std::fabs(scale[j]), max_scale = scale[j];
    }
    BlockIQ4_XS& b = y[i];
    b.d = f32_to_f16(max_scale / -32.f);
    const float d = f16_to_f32(b.d);
    b.scales_h = 0;
    std::memset(b.scales_l, 0, sizeof(b.scales_l));
    for (int j = 0; j < 8; ++j) {
      const int ls = d != 0 ? std::clamp(int(std::lround(scale[j] / d)), -32, 31) + 32 : 32;
      b.scales_l[j / 2] |= uint8_t((ls & 0xF) << (4 * (j % 2)));
      b.scales_h |= uint16_t((ls >> 4) << (2 * j));
      const float dl = d * float(ls - 32);
      uint8_t L[32];
      for (int l = 0; l < 32; ++l) L[l] = uint8_t(dl != 0 ? nearest_iq4nl(x[32 * j + l] / dl) : 8);
      for (int l = 0; l < 16; ++l) b.qs[16 * j + l] = uint8_t(L[l] | (L[l + 16] << 4));
    }
  }
}

void quantize_row(DType t, const float* x, void* out, int64_t cols) {
  switch (t) {
    case DType::F32: std::memcpy(out, x, size_t(cols) * 4); return;
    case DType::F16: quantize_row_f16(x, static_cast<f16_t*>(out), cols); return;
    case DType::BF16: quantize_row_bf16(x, static_cast<bf16_t*>(out), cols); return;
    case DType::Q4_0: quantize_row_q4_0(x, static_cast<BlockQ4_0*>(out), cols); return;
    case DType::Q4_1: quantize_row_q4_1(x, static_cast<BlockQ4_1*>(out), cols); return;
    case DType::Q5_0: quantize_row_q5_0(x, static_cast<BlockQ5_0*>(out), cols); return;
    case DType::Q5_1: quantize_row_q5_1(x, static_cast<BlockQ5_1*>(out), cols); return;
    case DType::Q8_0: quantize_row_q8_0(x, static_cast<BlockQ8_0*>(out), cols); return;
    case DType::Q4_K: quantize_row_q4_K(x, static_cast<BlockQ4_K*>(out), cols); return;
    case DType::Q5_K: quantize_row_q5_K(x, static_cast<BlockQ5_K*>(out), cols); return;
    case DType::Q6_K: quantize_row_q6_K(x, static_cast<BlockQ6_K*>(out), cols); return;
    case DType::IQ4_NL: quantize_row_iq4_nl(x, static_cast<BlockIQ4_NL*>(out), cols); return;
    case DType::IQ4_XS: quantize_row_iq4_xs(x, static_cast<BlockIQ4_XS*>(out), cols); return;
  }
  throw std::invalid_argument("quantize_row: unsupported type id " + std::to_string(uint32_t(t)));
}

}  // namespace frspec
