// Tests of the CPU kernels (quant.h, cpu_kernels.h, threadpool.h). Exit status 0 = all passed.
//
// The oracle for every matmul is dequantize-then-multiply in double precision. Two bounds are checked:
//  * against the exact activations x: the kernels quantize x to 8-bit blocks for quantized weights, so
//    |y - y_ref| <= sum_i |w_i| * (max|x| of i's block) / 254   (rounding to nearest: error <= d/2,
//    d = max|x| / 127), plus the F32 accumulation slack below;
//  * against the activations the kernel actually used (x dequantized from its 8-bit blocks): only F32
//    rounding remains, |y - y_q| <= (cols / 8 + 64) * 2^-23 * sum_i |w_i x_i| (a generous multiple of
//    the sequential-summation bound; an indexing or layout bug is off by O(1) relative).
// Beyond accuracy, outputs must be bit-identical across thread counts 1/2/3 and whether a token is
// multiplied alone (GEMV) or within a batch (GEMM): speculative verification depends on it.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "engine/cpu_kernels.h"
#include "engine/cpu_matmul_tiles.h"
#include "engine/quant.h"
#include "engine/threadpool.h"

using namespace frspec;

static std::mt19937 rng(12345);

// Weight-like data: mostly normal, a few outliers (what K-quants' per-block scales must cope with).
static std::vector<float> random_values(size_t n, float scale = 1.f) {
  std::normal_distribution<float> normal(0.f, scale);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> v(n);
  for (float& f : v) f = normal(rng) * (u(rng) < 0.01f ? 8.f : 1.f);
  return v;
}

static bool is_quantized(DType t) { return dtype_block_elems(t) > 1; }
// Activation block of a quantized type: 32 values (Q8_0 and the legacy Q4_0 .. Q5_1) or 256 (K-quants).
static int act_block(DType t) { return dtype_block_elems(t) == QK_K ? QK_K : QK8_0; }
static bool q4k_order(DType t) { return t == DType::Q4_K || t == DType::Q5_K; }
// Every quantized type, and every type.
static const DType kQuantTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                                    DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};
static const DType kAllTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                                  DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL,
                                  DType::IQ4_XS};

static std::vector<uint8_t> quantize_matrix(DType t, const std::vector<float>& f, int64_t rows, int64_t cols) {
  const size_t rb = dtype_row_bytes(t, cols);
  std::vector<uint8_t> bytes(rb * size_t(rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row(t, f.data() + r * cols, bytes.data() + size_t(r) * rb, cols);
  return bytes;
}

static std::vector<float> dequantize_matrix(const Weight& w) {
  std::vector<float> f(size_t(w.rows * w.cols));
  for (int64_t r = 0; r < w.rows; ++r)
    dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + size_t(r) * w.row_bytes, f.data() + r * w.cols, w.cols);
  return f;
}

// The activations as the kernel sees them (x itself for float weights).
static std::vector<float> kernel_activations(DType t, const float* x, int64_t cols) {
  std::vector<float> out(x, x + cols);
  if (is_quantized(t) && act_block(t) == QK8_0) {
    std::vector<kernels::ActQ8_0x2> a(size_t(kernels::act_q8_0_pairs(cols)));
    kernels::quantize_act_q8_0(x, a.data(), cols);
    for (int64_t i = 0; i < cols; ++i) out[size_t(i)] = kernels::act_q8_0_value(a.data(), i);
  } else if (is_quantized(t)) {
    std::vector<kernels::ActQ8_K> a(size_t(cols / QK_K));
    const bool q4k = q4k_order(t);
    kernels::quantize_act_q8_K(x, a.data(), cols, q4k);
    for (int64_t i = 0; i < cols; ++i) out[size_t(i)] = a[size_t(i / QK_K)].d * a[size_t(i / QK_K)].qs[kernels::act_q8_K_index(int(i % QK_K), q4k)];
    for (size_t b = 0; b < a.size(); ++b)
      for (int g = 0; g < 16; ++g) {
        int s = 0;
        for (int i = 0; i < 16; ++i) s += a[b].qs[kernels::act_q8_K_index(16 * g + i, q4k)];
        CHECK(s == a[b].bsums[g], "Q8_K activation bsums[%d] = %d, want %d", g, a[b].bsums[g], s);
      }
  }
  return out;
}

// The 8-bit K-quant activation blocks are bit for bit the scalar definition (d = max|x| / 127, q = x * (127 /
// max|x|) clamped to [-127, 127] and rounded to nearest even, bsums = 16-value sums, sub-blocks in Q4_K order
// where asked), whatever vector code builds them: ties, zeros, NaN and infinities included.
static void test_act_q8_K_bits() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  const int64_t cols = 8 * QK_K;
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<float> x(static_cast<size_t>(cols));
    for (float& v : x) v = u(rng) * (trial % 4 == 0 ? 1e-30f : trial % 4 == 1 ? 1e30f : 1.f);
    for (int i = 0; i < QK_K; ++i) x[size_t(QK_K + i)] = float(i % 255 - 127) + (i % 2 ? 0.5f : -0.5f);  // ties (max 127.5)
    for (int i = 0; i < QK_K; ++i) x[size_t(2 * QK_K + i)] = float(i % 255 - 127) + 0.5f * float(i % 3 - 1);
    x[size_t(2 * QK_K + 7)] = 127.f;  // amax 127: id = 1, exact ties at +-0.5
    for (int i = 0; i < QK_K; ++i) x[size_t(3 * QK_K + i)] = 0.f;  // zeros
    x[size_t(4 * QK_K + trial % QK_K)] = NAN;
    x[size_t(5 * QK_K + (trial * 7) % QK_K)] = trial % 2 ? INFINITY : -INFINITY;
    x[size_t(6 * QK_K + 3)] = -0.f;
    for (const bool q4k : {false, true}) {
      std::vector<kernels::ActQ8_K> got(size_t(cols / QK_K));
      kernels::quantize_act_q8_K(x.data(), got.data(), cols, q4k);
      for (int64_t b = 0; b < cols / QK_K; ++b) {
        const float* xb = x.data() + b * QK_K;
        float amax = 0;
        bool nan = false;
        for (int i = 0; i < QK_K; ++i) amax = std::max(amax, std::fabs(xb[i])), nan |= xb[i] != xb[i];
        const float d = nan ? NAN : amax / 127.f, id = amax > 0 ? 127.f / amax : 0.f;
        const kernels::ActQ8_K& a = got[size_t(b)];
        bool ok = std::memcmp(&d, &a.d, 4) == 0;
        for (int g = 0; g < 16; ++g) {
          int s = 0;
          for (int i = 16 * g; i < 16 * g + 16; ++i) {
            const int8_t q = int8_t(std::nearbyint(std::min(127.f, std::max(-127.f, xb[i] * id))));
            ok &= a.qs[kernels::act_q8_K_index(i, q4k)] == q;
            s += q;
          }
          ok &= a.bsums[g] == s;
        }
        CHECK(ok, "Q8_K activation block %lld (trial %d, q4k order %d) differs from the scalar definition", (long long)b, trial, int(q4k));
      }
    }
  }
}

// The same for the 32-value blocks of Q8_0 / Q4_0..Q5_1 activations (pairs of blocks, each scale in 8 lanes, an odd
// row's last half pair zero): bit for bit the scalar definition, whatever vector code builds them (arm64: NEON).
static void test_act_q8_0_bits() {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  const int64_t cols = 15 * QK8_0;  // odd: the last pair is half empty
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<float> x(static_cast<size_t>(cols));
    for (float& v : x) v = u(rng) * (trial % 4 == 0 ? 1e-30f : trial % 4 == 1 ? 1e30f : 1.f);
    for (int i = 0; i < QK8_0; ++i) x[size_t(QK8_0 + i)] = float(i * 8 - 127) + (i % 2 ? 0.5f : -0.5f);  // ties
    for (int i = 0; i < QK8_0; ++i) x[size_t(2 * QK8_0 + i)] = float(i % 9 - 4) + 0.5f * float(i % 3 - 1);
    x[size_t(2 * QK8_0 + 7)] = 127.f;  // amax 127: id = 1, exact ties at +-0.5
    for (int i = 0; i < QK8_0; ++i) x[size_t(3 * QK8_0 + i)] = 0.f;
    x[size_t(4 * QK8_0 + trial % QK8_0)] = NAN;
    x[size_t(5 * QK8_0 + (trial * 7) % QK8_0)] = trial % 2 ? INFINITY : -INFINITY;
    x[size_t(6 * QK8_0 + 3)] = -0.f;
    std::vector<kernels::ActQ8_0x2> got(size_t(kernels::act_q8_0_pairs(cols)));
    std::memset(got.data(), 0x5a, got.size() * sizeof(got[0]));
    kernels::quantize_act_q8_0(x.data(), got.data(), cols);
    for (int64_t b = 0; b < 2 * kernels::act_q8_0_pairs(cols); ++b) {
      const kernels::ActQ8_0x2& p = got[size_t(b / 2)];
      const int half = int(b % 2);
      float d = 0;
      bool ok = true;
      if (b < cols / QK8_0) {
        const float* xb = x.data() + b * QK8_0;
        float amax = 0;
        bool nan = false;
        for (int i = 0; i < QK8_0; ++i) amax = std::max(amax, std::fabs(xb[i])), nan |= xb[i] != xb[i];
        d = nan ? NAN : amax / 127.f;
        const float id = amax > 0 ? 127.f / amax : 0.f;
        for (int i = 0; i < QK8_0; ++i)
          ok &= p.qs[QK8_0 * half + i] == int8_t(std::nearbyint(std::min(127.f, std::max(-127.f, xb[i] * id))));
      } else {
        for (int i = 0; i < QK8_0; ++i) ok &= p.qs[QK8_0 * half + i] == 0;
      }
      for (int l = 0; l < 8; ++l) ok &= std::memcmp(&d, &p.d[8 * half + l], 4) == 0;
      CHECK(ok, "Q8_0 activation block %lld (trial %d) differs from the scalar definition", (long long)b, trial);
    }
  }
}

// ------------------------------------------------------------------------------ scalar conversions

// The compiler's own half type: arm64 has __fp16 (GCC 12's C++ front end has no _Float16 there).
#if defined(__aarch64__) && defined(__ARM_FP16_FORMAT_IEEE)
#define FRSPEC_HAVE_HALF 1
using CompilerHalf = __fp16;
#elif defined(__FLT16_MAX__)
#define FRSPEC_HAVE_HALF 1
using CompilerHalf = _Float16;
#endif

static void test_f16_conversions() {
#if defined(FRSPEC_HAVE_HALF)
  // Every half widens exactly (compared with the compiler's own half type).
  for (uint32_t h = 0; h < 65536; ++h) {
    CompilerHalf ref;
    const uint16_t bits = uint16_t(h);
    std::memcpy(&ref, &bits, 2);
    const float want = float(ref), got = f16_to_f32(bits);
    CHECK((std::isnan(want) && std::isnan(got)) || std::memcmp(&want, &got, 4) == 0, "f16_to_f32(0x%04x) = %g, want %g", h, got, want);
  }
  // Narrowing rounds to nearest even, including subnormals, ties, overflow, inf and NaN.
  std::vector<float> probes = {0.f, -0.f, 1.f, 65504.f, 65519.99f, 65520.f, 1e9f, -1e9f, 6.1035156e-05f, 5.9604645e-08f,
                               2.9802322e-08f, 2.98023259e-08f, 1e-10f, INFINITY, -INFINITY, NAN, 1.00048828125f, 1.00146484375f};
  std::uniform_int_distribution<uint32_t> any_bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = any_bits(rng);
    if (i % 2) u = (u & 0x87ffffffu) | 0x30000000u;  // half of them near the half-precision range
    float f;
    std::memcpy(&f, &u, 4);
    probes.push_back(f);
  }
  for (float f : probes) {
    const CompilerHalf ref = CompilerHalf(f);
    uint16_t want;
    std::memcpy(&want, &ref, 2);
    const uint16_t got = f32_to_f16(f);
    const bool nan_ok = std::isnan(f) && (got & 0x7c00) == 0x7c00 && (got & 0x3ff);
    CHECK(nan_ok || got == want, "f32_to_f16(%.9g) = 0x%04x, want 0x%04x", f, got, want);
  }
#else
  std::puts("  (f16 conversion vs _Float16 skipped: compiler has no _Float16)");
#endif
}

static void test_bf16_conversions() {
  // Round to nearest even against an independent oracle: the two bf16 neighbours compared in double.
  std::uniform_int_distribution<uint32_t> any_bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = any_bits(rng);
    if (i < 1000) u = (u & 0xffff0000u) | 0x8000u;  // exact ties
    float f;
    std::memcpy(&f, &u, 4);
    const bf16_t got = f32_to_bf16(f);
    if (std::isnan(f)) {
      CHECK(std::isnan(bf16_to_f32(got)), "bf16 of NaN is not NaN");
      continue;
    }
    const uint32_t lo_bits = u & 0xffff0000u, hi_bits = lo_bits + 0x10000u;
    float lo, hi;
    std::memcpy(&lo, &lo_bits, 4);
    std::memcpy(&hi, &hi_bits, 4);
    const double dl = std::fabs(double(f) - lo), dh = std::isinf(hi) && !std::isinf(f) ? INFINITY : std::fabs(double(f) - hi);
    uint16_t want = uint16_t(lo_bits >> 16);
    if ((u & 0x7f800000u) != 0x7f800000u && (dh < dl || (dh == dl && ((lo_bits >> 16) & 1)))) want = uint16_t(hi_bits >> 16);
    if ((u & 0x7fffffffu) >= 0x7f7f8000u && (u & 0x7f800000u) != 0x7f800000u) want = uint16_t(((u >> 16) & 0x8000) | 0x7f80);  // rounds to inf
    if ((u & 0x7fffffffu) == 0x7f800000u) want = uint16_t(u >> 16);
    CHECK(got == want, "f32_to_bf16(%.9g) = 0x%04x, want 0x%04x", f, got, want);
  }
}

// --------------------------------------------------------------------------- ggml layout checks

// Dequantization written the way ggml's dequantize_row_q4_K / _q6_K loops are, as an independent
// transcription of the layout, applied to random bytes (every bit pattern of scales and quants).
static void ref_dequant_q4_K(const BlockQ4_K& b, float* y) {
  const float d = f16_to_f32(b.d), min = f16_to_f32(b.dmin);
  const uint8_t* q = b.qs;
  int is = 0;
  for (int j = 0; j < QK_K; j += 64) {
    auto scale_min = [&](int k, int* sc, int* m) {
      const uint8_t* s = b.scales;
      if (k < 4) *sc = s[k] & 63, *m = s[k + 4] & 63;
      else *sc = (s[k + 4] & 0xF) | ((s[k - 4] >> 6) << 4), *m = (s[k + 4] >> 4) | ((s[k] >> 6) << 4);
    };
    int sc, m;
    scale_min(is, &sc, &m);
    const float d1 = d * sc, m1 = min * m;
    scale_min(is + 1, &sc, &m);
    const float d2 = d * sc, m2 = min * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    q += 32;
    is += 2;
  }
}

static void ref_dequant_q6_K(const BlockQ6_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  const uint8_t* ql = b.ql;
  const uint8_t* qh = b.qh;
  const int8_t* sc = b.scales;
  for (int n = 0; n < QK_K; n += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = int((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

// ggml's dequantize_row_q4_0 / _q4_1 / _q5_0 / _q5_1 / _q5_K loops, transcribed the same way.
static void ref_dequant_q4_0(const BlockQ4_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) {
    y[j] = float((b.qs[j] & 0x0F) - 8) * d;
    y[j + 16] = float((b.qs[j] >> 4) - 8) * d;
  }
}
static void ref_dequant_q4_1(const BlockQ4_1& b, float* y) {
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  for (int j = 0; j < 16; ++j) {
    y[j] = float(b.qs[j] & 0x0F) * d + m;
    y[j + 16] = float(b.qs[j] >> 4) * d + m;
  }
}
static void ref_dequant_q5_0(const BlockQ5_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; ++j) {
    const uint8_t xh_0 = uint8_t(((qh >> (j + 0)) << 4) & 0x10);
    const uint8_t xh_1 = uint8_t(((qh >> (j + 12))) & 0x10);
    y[j] = float(((b.qs[j] & 0x0F) | xh_0) - 16) * d;
    y[j + 16] = float(((b.qs[j] >> 4) | xh_1) - 16) * d;
  }
}
static void ref_dequant_q5_1(const BlockQ5_1& b, float* y) {
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; ++j) {
    const uint8_t xh_0 = uint8_t(((qh >> (j + 0)) << 4) & 0x10);
    const uint8_t xh_1 = uint8_t(((qh >> (j + 12))) & 0x10);
    y[j] = float((b.qs[j] & 0x0F) | xh_0) * d + m;
    y[j + 16] = float((b.qs[j] >> 4) | xh_1) * d + m;
  }
}
static void ref_dequant_q5_K(const BlockQ5_K& b, float* y) {
  const float d = f16_to_f32(b.d), min = f16_to_f32(b.dmin);
  const uint8_t* ql = b.qs;
  const uint8_t* qh = b.qh;
  int is = 0;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < QK_K; j += 64) {
    uint8_t sc, m;
    q4k_scale_min(is + 0, b.scales, &sc, &m);
    const float d1 = d * sc, m1 = min * m;
    q4k_scale_min(is + 1, b.scales, &sc, &m);
    const float d2 = d * sc, m2 = min * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    ql += 32;
    is += 2;
    u1 = uint8_t(u1 << 2);
    u2 = uint8_t(u2 << 2);
  }
}

// ggml's dequantize_row_iq4_xs loop, transcribed the same way (its own copy of the table).
static void ref_dequant_iq4_xs(const BlockIQ4_XS& b, float* y) {
  static const int8_t values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  const uint8_t* qs = b.qs;
  const float d = f16_to_f32(b.d);
  for (int ib = 0; ib < QK_K / 32; ++ib) {
    const int ls = ((b.scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b.scales_h >> 2 * ib) & 3) << 4);
    const float dl = d * float(ls - 32);
    for (int j = 0; j < 16; ++j) {
      y[j + 0] = dl * values[qs[j] & 0xf];
      y[j + 16] = dl * values[qs[j] >> 4];
    }
    y += 32;
    qs += 16;
  }
}

static void ref_dequant_iq4_nl(const BlockIQ4_NL& b, float* y) {
  static const int8_t values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) {
    y[j] = d * values[b.qs[j] & 0xf];
    y[j + 16] = d * values[b.qs[j] >> 4];
  }
}

static void random_bytes(void* p, size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t i = 0; i < n; ++i) static_cast<uint8_t*>(p)[i] = uint8_t(byte(rng));
}

static void test_layouts() {
  CHECK(dtype_row_bytes(DType::Q4_K, 512) == 288 && dtype_row_bytes(DType::Q6_K, 256) == 210 &&
            dtype_row_bytes(DType::Q8_0, 64) == 68 && dtype_row_bytes(DType::F16, 7) == 14 && dtype_row_bytes(DType::BF16, 3) == 6,
        "row sizes");
  CHECK(dtype_row_bytes(DType::Q4_0, 64) == 36 && dtype_row_bytes(DType::Q4_1, 64) == 40 && dtype_row_bytes(DType::Q5_0, 64) == 44 &&
            dtype_row_bytes(DType::Q5_1, 64) == 48 && dtype_row_bytes(DType::Q5_K, 512) == 352 &&
            dtype_row_bytes(DType::IQ4_XS, 512) == 272 && dtype_row_bytes(DType::IQ4_NL, 64) == 36,
        "row sizes of Q4_0 .. Q5_1, Q5_K, IQ4_NL and IQ4_XS");
  // Random bytes with finite scales (d, m first in every legacy block; d, dmin first in Q5_K).
  auto check_legacy = [](DType t, auto block, auto ref, int trial) {
    random_bytes(&block, sizeof block);
    const f16_t scales[2] = {f32_to_f16(0.01f), f32_to_f16(-0.07f)};
    std::memcpy(&block, scales, t == DType::Q4_0 || t == DType::Q5_0 || t == DType::IQ4_NL ? 2 : 4);
    float want[QK_K], got[QK_K];
    ref(block, want);
    dequantize_row(t, &block, got, dtype_block_elems(t));
    CHECK(std::memcmp(want, got, sizeof(float) * size_t(dtype_block_elems(t))) == 0, "%s dequantize differs from ggml's layout (trial %d)",
          dtype_name(t), trial);
  };
  for (int trial = 0; trial < 200; ++trial) {
    check_legacy(DType::Q4_0, BlockQ4_0{}, ref_dequant_q4_0, trial);
    check_legacy(DType::Q4_1, BlockQ4_1{}, ref_dequant_q4_1, trial);
    check_legacy(DType::Q5_0, BlockQ5_0{}, ref_dequant_q5_0, trial);
    check_legacy(DType::Q5_1, BlockQ5_1{}, ref_dequant_q5_1, trial);
    check_legacy(DType::Q5_K, BlockQ5_K{}, ref_dequant_q5_K, trial);
    check_legacy(DType::IQ4_NL, BlockIQ4_NL{}, ref_dequant_iq4_nl, trial);
    check_legacy(DType::IQ4_XS, BlockIQ4_XS{}, ref_dequant_iq4_xs, trial);  // (d and scales_h as the 4 bytes)
  }
  for (int trial = 0; trial < 200; ++trial) {
    BlockQ4_K b4;
    BlockQ6_K b6;
    random_bytes(&b4, sizeof b4);
    random_bytes(&b6, sizeof b6);
    b4.d = f32_to_f16(0.01f), b4.dmin = f32_to_f16(0.02f), b6.d = f32_to_f16(0.003f);  // finite scales
    float want[QK_K], got[QK_K];
    ref_dequant_q4_K(b4, want);
    dequantize_row(DType::Q4_K, &b4, got, QK_K);
    CHECK(std::memcmp(want, got, sizeof want) == 0, "Q4_K dequantize differs from ggml's layout (trial %d)", trial);
    ref_dequant_q6_K(b6, want);
    dequantize_row(DType::Q6_K, &b6, got, QK_K);
    CHECK(std::memcmp(want, got, sizeof want) == 0, "Q6_K dequantize differs from ggml's layout (trial %d)", trial);
    BlockQ8_0 b8;
    random_bytes(&b8, sizeof b8);
    b8.d = f32_to_f16(0.5f);
    dequantize_row(DType::Q8_0, &b8, got, QK8_0);
    bool ok = true;
    for (int i = 0; i < QK8_0; ++i) ok &= got[i] == 0.5f * b8.qs[i];
    CHECK(ok, "Q8_0 dequantize");
  }
}

// Quantize -> dequantize error per type on normal data (std 1, with outliers). F16/BF16: rounding to
// nearest bounds every element's relative error by 2^-11 / 2^-8. Q8_0: by d/2 per element. Q4_0 .. Q5_1 and
// the K-quants: about 1.4x what the quantizers achieve here; a layout or rounding bug gives errors of order 1.
static void test_round_trip_error() {
  struct Case { DType t; double max_rel_rms; };
  const Case cases[] = {{DType::F16, 0x1p-11}, {DType::BF16, 0x1p-8}, {DType::Q8_0, 0.01}, {DType::Q6_K, 0.03}, {DType::Q4_K, 0.12},
                       {DType::Q4_0, 0.19}, {DType::Q4_1, 0.125}, {DType::Q5_0, 0.095}, {DType::Q5_1, 0.06}, {DType::Q5_K, 0.065},
                       {DType::IQ4_NL, 0.12}, {DType::IQ4_XS, 0.12}};
  const int64_t cols = 4096;
  const std::vector<float> x = random_values(size_t(cols));
  for (const Case& c : cases) {
    std::vector<uint8_t> q(dtype_row_bytes(c.t, cols));
    std::vector<float> y(static_cast<size_t>(cols));
    quantize_row(c.t, x.data(), q.data(), cols);
    dequantize_row(c.t, q.data(), y.data(), cols);
    double se = 0, sx = 0, worst_q8 = 0;
    for (int64_t i = 0; i < cols; ++i) {
      se += double(y[i] - x[i]) * (y[i] - x[i]);
      sx += double(x[i]) * x[i];
    }
    if (c.t == DType::Q8_0)  // per element: half a step of the block's scale (+ its f16 rounding)
      for (int64_t b = 0; b < cols / QK8_0; ++b) {
        float amax = 0;
        for (int i = 0; i < QK8_0; ++i) amax = std::max(amax, std::fabs(x[b * QK8_0 + i]));
        for (int i = 0; i < QK8_0; ++i) worst_q8 = std::max(worst_q8, std::fabs(double(y[b * QK8_0 + i]) - x[b * QK8_0 + i]) / (amax / 127.0));
      }
    const double rel = std::sqrt(se / sx);
    std::printf("  %-5s quantize round trip: relative RMS error %.2e (bound %.0e)\n", dtype_name(c.t), rel, c.max_rel_rms);
    CHECK(rel <= c.max_rel_rms, "%s round-trip relative RMS error %.3g > %.3g", dtype_name(c.t), rel, c.max_rel_rms);
    if (c.t == DType::Q8_0) CHECK(worst_q8 <= 0.57, "Q8_0 element error %.3g steps > 0.57", worst_q8);
  }
  // Constant and all-zero blocks stay exact-ish (no division by zero, no NaN).
  std::vector<float> zeros(QK_K, 0.f), back(QK_K);
  for (DType t : kQuantTypes) {
    std::vector<uint8_t> q(dtype_row_bytes(t, QK_K));
    quantize_row(t, zeros.data(), q.data(), QK_K);
    dequantize_row(t, q.data(), back.data(), QK_K);
    CHECK(std::all_of(back.begin(), back.end(), [](float v) { return v == 0.f; }), "%s of zeros is not zeros", dtype_name(t));
  }
}

// ------------------------------------------------------------------------------------------ matmul

struct Shape { int64_t rows, cols; };

static void test_matmul(ThreadPool* pools[3]) {
  const int ns[] = {1, 3, 4, 6, 8, 37};  // 4 and 6: float weights' 4-row tiles of a few tokens
  for (DType t : kAllTypes) {
    std::vector<Shape> shapes;
    if (act_block(t) == QK_K) shapes = {{37, 256}, {67, 768}, {5, 1536}};
    else if (is_quantized(t)) shapes = {{37, 32}, {67, 352}, {130, 1024}};
    else shapes = {{37, 33}, {67, 100}, {130, 257}, {9, 1024}};
    double worst_q = 0, worst_x = 0;
    for (const Shape& s : shapes) {
      const std::vector<float> wf = random_values(size_t(s.rows * s.cols), 0.05f);
      const std::vector<uint8_t> bytes = quantize_matrix(t, wf, s.rows, s.cols);
      const Weight w = cpu_weight(t, s.rows, s.cols, bytes.data());
      const std::vector<float> wd = dequantize_matrix(w);
      const std::vector<float> bias = random_values(size_t(s.rows));
      for (int n : ns) {
        const std::vector<float> x = random_values(size_t(n * s.cols));
        const bool with_bias = (n % 2) == 1;
        std::vector<float> y(size_t(n * s.rows));
        cpu_matmul(*pools[0], w, x.data(), y.data(), n, with_bias ? bias.data() : nullptr);
        for (int tk = 0; tk < n; ++tk) {
          const float* xt = x.data() + tk * s.cols;
          const std::vector<float> xq = kernel_activations(t, xt, s.cols);
          for (int64_t r = 0; r < s.rows; ++r) {
            const float* wr = wd.data() + r * s.cols;
            double ref = with_bias ? bias[size_t(r)] : 0, refq = ref, mag = 0, act_bound = 0;
            for (int64_t i = 0; i < s.cols; ++i) {
              ref += double(wr[i]) * xt[i];
              refq += double(wr[i]) * xq[size_t(i)];
              mag += std::fabs(double(wr[i]) * xq[size_t(i)]);
            }
            if (is_quantized(t)) {
              const int B = act_block(t);
              for (int64_t b = 0; b < s.cols / B; ++b) {
                double amax = 0, wabs = 0;
                for (int i = 0; i < B; ++i) amax = std::max(amax, std::fabs(double(xt[b * B + i]))), wabs += std::fabs(double(wr[b * B + i]));
                act_bound += wabs * amax / 254.0;
              }
            }
            const double fp_bound = double(s.cols / 8 + 64) * 0x1p-23 * (mag + std::fabs(ref - refq) + 1e-30);
            const double got = y[size_t(tk * s.rows + r)];
            const double eq = std::fabs(got - refq), ex = std::fabs(got - ref);
            worst_q = std::max(worst_q, eq / fp_bound);
            worst_x = std::max(worst_x, ex / (act_bound + fp_bound));
            CHECK(eq <= fp_bound, "%s %lldx%lld n=%d token %d row %lld: %.9g vs %.9g (with the kernel's activations), bound %.3g",
                  dtype_name(t), (long long)s.rows, (long long)s.cols, n, tk, (long long)r, got, refq, fp_bound);
            CHECK(ex <= act_bound + fp_bound, "%s %lldx%lld n=%d token %d row %lld: %.9g vs exact %.9g, bound %.3g",
                  dtype_name(t), (long long)s.rows, (long long)s.cols, n, tk, (long long)r, got, ref, act_bound + fp_bound);
          }
          // The same token alone (GEMV) gives bit-identical outputs.
          std::vector<float> y1(size_t(s.rows));
          cpu_matmul(*pools[0], w, xt, y1.data(), 1, with_bias ? bias.data() : nullptr);
          CHECK(std::memcmp(y1.data(), y.data() + tk * s.rows, y1.size() * 4) == 0,
                "%s %lldx%lld: token %d of n=%d differs from its GEMV", dtype_name(t), (long long)s.rows, (long long)s.cols, tk, n);
        }
        for (int p = 1; p < 3; ++p) {  // 2 and 3 threads: identical bits
          std::vector<float> yp(y.size(), NAN);
          cpu_matmul(*pools[p], w, x.data(), yp.data(), n, with_bias ? bias.data() : nullptr);
          CHECK(std::memcmp(yp.data(), y.data(), y.size() * 4) == 0, "%s %lldx%lld n=%d: %d threads differ from 1",
                dtype_name(t), (long long)s.rows, (long long)s.cols, n, pools[p]->size());
        }
      }
    }
    std::printf("  %-5s matmul: worst error / bound = %.3f (kernel activations), %.3f (exact activations)\n", dtype_name(t), worst_q, worst_x);
  }
}

// A bigger multi-task case (many row tasks, every tile shape and tail) across pools, F16 and Q4_K.
static void test_matmul_many_tasks(ThreadPool* pools[3]) {
  for (DType t : {DType::F16, DType::Q4_K, DType::Q5_0, DType::Q5_K, DType::IQ4_NL, DType::IQ4_XS}) {
    const int64_t rows = 2053, cols = 512;
    const std::vector<float> wf = random_values(size_t(rows * cols), 0.05f);
    const std::vector<uint8_t> bytes = quantize_matrix(t, wf, rows, cols);
    const Weight w = cpu_weight(t, rows, cols, bytes.data());
    for (int n : {1, 7, 64}) {
      const std::vector<float> x = random_values(size_t(n * cols));
      std::vector<float> y0(size_t(n * rows)), y1(y0.size()), y2(y0.size());
      cpu_matmul(*pools[0], w, x.data(), y0.data(), n, nullptr);
      cpu_matmul(*pools[1], w, x.data(), y1.data(), n, nullptr);
      cpu_matmul(*pools[2], w, x.data(), y2.data(), n, nullptr);
      CHECK(std::memcmp(y0.data(), y1.data(), y0.size() * 4) == 0 && std::memcmp(y0.data(), y2.data(), y0.size() * 4) == 0,
            "%s %lldx%lld n=%d: results depend on the thread count", dtype_name(t), (long long)rows, (long long)cols, n);
    }
  }
}

// The packed GEMM for prompt chunks (Q4_K, Q6_K on AVX-512 VNNI) and the tile GEMM give every token the
// bits of its GEMV, for token counts around the tile sizes (8-token register tiles, 16-row groups), odd row
// counts (a partial last group), with and without bias, on 1 and 2 threads. cpu_matmul_set_gemm_min_n(2)
// forces the packed GEMM for every n > 1 where there is one; a huge value forces the tile GEMM.
static void test_gemm_paths(ThreadPool* pools[3]) {
  const int ns[] = {2, 15, 16, 17, 64, 100};
  const Shape shapes[] = {{37, 512}, {16, 256}, {53, 2304}, {1, 768}, {29, 800}};  // 800: 25 blocks of 32 (a half pair)
  for (DType t : kQuantTypes) {
    for (const Shape& s : shapes) {
      if (s.cols % act_block(t) != 0) continue;
      const std::vector<float> wf = random_values(size_t(s.rows * s.cols), 0.05f);
      const std::vector<uint8_t> bytes = quantize_matrix(t, wf, s.rows, s.cols);
      const Weight w = cpu_weight(t, s.rows, s.cols, bytes.data());
      const std::vector<float> bias = random_values(size_t(s.rows));
      const std::vector<float> x = random_values(size_t(100 * s.cols));
      for (const bool with_bias : {false, true}) {
        const float* b = with_bias ? bias.data() : nullptr;
        std::vector<float> gemv(size_t(100 * s.rows));
        for (int tk = 0; tk < 100; ++tk) cpu_matmul(*pools[0], w, x.data() + size_t(tk) * s.cols, gemv.data() + size_t(tk) * s.rows, 1, b);
        for (int n : ns)
          for (const int min_n : {2, 1 << 30})
            for (int p = 0; p < 2; ++p) {
              const int before = cpu_matmul_set_gemm_min_n(min_n);
              std::vector<float> y(size_t(n) * s.rows, NAN);
              cpu_matmul(*pools[p], w, x.data(), y.data(), n, b);
              cpu_matmul_set_gemm_min_n(before);
              CHECK(std::memcmp(y.data(), gemv.data(), y.size() * 4) == 0,
                    "%s %lldx%lld n=%d (%s GEMM, %d threads, bias %d): a token's outputs differ from its GEMV", dtype_name(t),
                    (long long)s.rows, (long long)s.cols, n, min_n == 2 ? "packed" : "tile", pools[p]->size(), int(with_bias));
            }
      }
    }
  }
}

// Q6_K prompt chunks on every byte pattern: blocks of random bytes (each 6-bit value with each int8 sub-block
// scale, -128 included, which the reference quantizer rarely writes) through the packed GEMM (the AMX tiles in
// the amx variant, whose product bytes (q - 32) * sc reach +4096) must give every token the bits of its GEMV.
// 20 blocks per row: at n = 256 the AMX path splits a row's blocks into two L2-sized ranges.
static void test_q6_K_gemm_all_bytes(ThreadPool* pools[3]) {
  const int64_t rows = 37, cols = 20 * QK_K;
  std::vector<BlockQ6_K> blocks(size_t(rows * cols / QK_K));
  std::uniform_real_distribution<float> scale(1e-4f, 1e-3f);
  for (BlockQ6_K& b : blocks) {
    random_bytes(&b, sizeof b);
    b.d = f32_to_f16(scale(rng));
  }
  blocks[0].scales[0] = -128, blocks[0].scales[1] = 127, blocks[1].scales[2] = -128;
  const Weight w = cpu_weight(DType::Q6_K, rows, cols, blocks.data());
  const std::vector<float> bias = random_values(size_t(rows));
  const std::vector<float> x = random_values(size_t(256 * cols));
  for (const bool with_bias : {false, true}) {
    const float* b = with_bias ? bias.data() : nullptr;
    std::vector<float> gemv(size_t(256 * rows));
    for (int tk = 0; tk < 256; ++tk) cpu_matmul(*pools[0], w, x.data() + size_t(tk) * cols, gemv.data() + size_t(tk) * rows, 1, b);
    for (int n : {16, 17, 64, 100, 256})
      for (int p = 0; p < 2; ++p) {
        std::vector<float> y(size_t(n) * rows, NAN);
        cpu_matmul(*pools[p], w, x.data(), y.data(), n, b);
        CHECK(std::memcmp(y.data(), gemv.data(), y.size() * 4) == 0,
              "Q6_K random-byte blocks n=%d (%d threads, bias %d): a token's outputs differ from its GEMV", n, pools[p]->size(), int(with_bias));
      }
  }
}

// Every other quantized type on random block bytes (each quant, sub-block scale and min, Q8_0's -128
// included), with tokens whose values all have one sign and size (every 16-value activation sum at its
// extreme, +-2032: the K-quants' mins term) beside random ones, through the packed GEMM (2 row groups and a
// partial one): every token must get the bits of its GEMV.
static void test_gemm_random_blocks(ThreadPool* pools[3]) {
  const int64_t rows = 21, cols = 2 * QK_K;
  std::uniform_real_distribution<float> scale(1e-4f, 1e-3f);
  const std::vector<float> noise = random_values(size_t(64 * cols));
  std::vector<float> x(size_t(64 * cols));
  for (int tk = 0; tk < 64; ++tk)
    for (int64_t i = 0; i < cols; ++i)
      x[size_t(tk * cols + i)] = tk % 3 == 0 ? 1.5f : tk % 3 == 1 ? -0.25f : noise[size_t(tk * cols + i)];
  for (DType t : kQuantTypes) {
    if (t == DType::Q6_K) continue;  // test_q6_K_gemm_all_bytes
    const size_t block_bytes = dtype_row_bytes(t, dtype_block_elems(t)), blocks = size_t(rows * cols / dtype_block_elems(t));
    std::vector<uint8_t> bytes(blocks * block_bytes);
    random_bytes(bytes.data(), bytes.size());
    const bool two_scales = t == DType::Q4_1 || t == DType::Q5_1 || t == DType::Q4_K || t == DType::Q5_K;  // d, then m / dmin
    for (size_t b = 0; b < blocks; ++b)
      for (int f = 0; f < (two_scales ? 2 : 1); ++f) {
        const f16_t h = f32_to_f16(scale(rng));
        std::memcpy(bytes.data() + b * block_bytes + 2 * f, &h, 2);
      }
    const Weight w = cpu_weight(t, rows, cols, bytes.data());
    std::vector<float> gemv(size_t(64 * rows));
    for (int tk = 0; tk < 64; ++tk) cpu_matmul(*pools[0], w, x.data() + size_t(tk) * cols, gemv.data() + size_t(tk) * rows, 1, nullptr);
    for (int n : {16, 33, 64})
      for (int p = 0; p < 2; ++p) {
        const int before = cpu_matmul_set_gemm_min_n(2);
        std::vector<float> y(size_t(n) * rows, NAN);
        cpu_matmul(*pools[p], w, x.data(), y.data(), n, nullptr);
        cpu_matmul_set_gemm_min_n(before);
        CHECK(std::memcmp(y.data(), gemv.data(), y.size() * 4) == 0, "%s random-byte blocks n=%d (%d threads): a token's outputs differ from its GEMV",
              dtype_name(t), n, pools[p]->size());
      }
  }
}

// The AMX Q4_K / Q5_K GEMM's larger loops: 2100 rows (at 1 thread, tasks of 17 row groups: outputs stored in
// batches of 8, float sums in a ring of 16 groups), 10 blocks per row (n = 256: two block chunks, float sums of
// every group kept across them; n = 64: one chunk), bias on: every token == its GEMV, 1 and 2 threads.
static void test_gemm_large_q4_K(ThreadPool* pools[3]) {
#if !defined(__x86_64__) && !defined(_M_X64)
  // Only x86-64 has these loops (the amx variant's; its avx512/v3 runs cost a second natively). On arm64 it repeats
  // test_gemm_paths' check on ~10 G multiply-adds: about 1-2 minutes per variant under qemu, 4 runs in CI.
  (void)pools;
  return;
#endif
  const int64_t rows = 2100, cols = 10 * QK_K;
  const std::vector<float> x = random_values(size_t(256 * cols));
  const std::vector<float> bias = random_values(size_t(rows));
  for (DType t : {DType::Q4_K, DType::Q5_K}) {
    const std::vector<uint8_t> bytes = quantize_matrix(t, random_values(size_t(rows * cols), 0.05f), rows, cols);
    const Weight w = cpu_weight(t, rows, cols, bytes.data());
    std::vector<float> gemv(size_t(256 * rows));
    for (int tk = 0; tk < 256; ++tk) cpu_matmul(*pools[0], w, x.data() + size_t(tk) * cols, gemv.data() + size_t(tk) * rows, 1, bias.data());
    for (int n : {64, 256})
      for (int p = 0; p < 2; ++p) {
        std::vector<float> y(size_t(n) * rows, NAN);
        cpu_matmul(*pools[p], w, x.data(), y.data(), n, bias.data());
        CHECK(std::memcmp(y.data(), gemv.data(), y.size() * 4) == 0, "%s %lldx%lld n=%d (%d threads): a token's outputs differ from its GEMV",
              dtype_name(t), (long long)rows, (long long)cols, n, pools[p]->size());
      }
  }
}

// NaN in the activations reaches the outputs for every type (quantizing must not clamp it away), and a
// matmul issued from inside a pool task (nested) gives the same bits as from outside.
static void test_nan_and_nesting(ThreadPool& pool) {
  for (DType t : kAllTypes) {
    const int64_t rows = 20, cols = 512;
    const std::vector<float> wf = random_values(size_t(rows * cols), 0.05f);
    const std::vector<uint8_t> bytes = quantize_matrix(t, wf, rows, cols);
    const Weight w = cpu_weight(t, rows, cols, bytes.data());
    std::vector<float> x = random_values(size_t(2 * cols)), y(size_t(2 * rows)), y_nested(y.size());
    cpu_matmul(pool, w, x.data(), y.data(), 2, nullptr);
    pool.parallel_for(3, [&](int task, int) {
      if (task == 1) cpu_matmul(pool, w, x.data(), y_nested.data(), 2, nullptr);
    });
    CHECK(std::memcmp(y.data(), y_nested.data(), y.size() * 4) == 0, "%s: nested matmul differs", dtype_name(t));
    x[size_t(cols + 300)] = NAN;  // token 1
    cpu_matmul(pool, w, x.data(), y.data(), 2, nullptr);
    bool ok = true;
    for (int64_t r = 0; r < rows; ++r) ok &= !std::isnan(y[size_t(r)]) && std::isnan(y[size_t(rows + r)]);
    CHECK(ok, "%s: a NaN activation must give NaN outputs for its token only", dtype_name(t));
  }
}

// ---------------------------------------------------------------------------- get_rows / gather_rows

static void test_rows(ThreadPool& pool) {
  for (DType t : kAllTypes) {
    const int64_t rows = 50, cols = is_quantized(t) ? 512 : 40;
    const std::vector<float> wf = random_values(size_t(rows * cols));
    const std::vector<uint8_t> bytes = quantize_matrix(t, wf, rows, cols);
    const Weight w = cpu_weight(t, rows, cols, bytes.data());
    const std::vector<float> wd = dequantize_matrix(w);
    const int32_t ids[] = {49, 0, 7, 7, 23};
    std::vector<float> got(5 * size_t(cols));
    cpu_get_rows(w, ids, 5, got.data());
    for (int i = 0; i < 5; ++i)
      CHECK(std::memcmp(got.data() + i * cols, wd.data() + ids[i] * cols, size_t(cols) * 4) == 0, "%s get_rows row %d", dtype_name(t), i);

    // gather_rows: same bytes, and the restricted matmul equals the matching rows of the full one.
    const std::vector<uint8_t> g = cpu_gather_rows(w, ids, 5);
    CHECK(g.size() == 5 * w.row_bytes, "%s gather_rows size", dtype_name(t));
    for (int i = 0; i < 5; ++i)
      CHECK(std::memcmp(g.data() + i * w.row_bytes, bytes.data() + ids[i] * w.row_bytes, w.row_bytes) == 0, "%s gather_rows bytes", dtype_name(t));
    const Weight gw = cpu_weight(t, 5, cols, g.data());
    const std::vector<float> x = random_values(size_t(3 * cols));
    std::vector<float> yf(size_t(3 * rows)), yg(15);
    cpu_matmul(pool, w, x.data(), yf.data(), 3, nullptr);
    cpu_matmul(pool, gw, x.data(), yg.data(), 3, nullptr);
    bool same = true;
    for (int tk = 0; tk < 3; ++tk)
      for (int i = 0; i < 5; ++i) same &= yg[size_t(tk * 5 + i)] == yf[size_t(tk * rows + ids[i])];
    CHECK(same, "%s: restricted-head logits differ from the full head's", dtype_name(t));

    // Bad ids are errors, not crashes.
    const int32_t bad[] = {3, 50};
    bool threw = false;
    try { cpu_get_rows(w, bad, 2, got.data()); } catch (const std::out_of_range& e) { threw = std::string(e.what()).find("50") != std::string::npos; }
    CHECK(threw, "get_rows with id 50 of 50 rows must throw out_of_range naming the id");
    threw = false;
    try { cpu_gather_rows(w, bad + 1, 1); } catch (const std::out_of_range&) { threw = true; }
    CHECK(threw, "gather_rows with a bad id must throw");
  }
}

static void test_bad_input(ThreadPool& pool) {
  auto throws = [](auto&& fn) {
    try { fn(); } catch (const std::invalid_argument& e) { return std::string(e.what()); }
    return std::string();
  };
  std::vector<uint8_t> bytes(4096);
  std::string m = throws([&] { cpu_weight(DType::Q4_K, 2, 100, bytes.data()); });
  CHECK(m.find("Q4_K") != std::string::npos && m.find("256") != std::string::npos, "Q4_K with 100 columns: '%s'", m.c_str());
  m = throws([&] { cpu_weight(DType(10), 2, 256, bytes.data()); });
  CHECK(!m.empty(), "unsupported type id 10 (Q2_K) must throw");
  m = throws([&] { cpu_weight(DType::Q5_0, 2, 48, bytes.data()); });
  CHECK(m.find("Q5_0") != std::string::npos && m.find("32") != std::string::npos, "Q5_0 with 48 columns: '%s'", m.c_str());
  Weight w = cpu_weight(DType::F16, 2, 64, bytes.data());
  w.row_bytes = 100;
  std::vector<float> x(64), y(2);
  m = throws([&] { cpu_matmul(pool, w, x.data(), y.data(), 1, nullptr); });
  CHECK(m.find("row_bytes") != std::string::npos, "inconsistent row_bytes: '%s'", m.c_str());
  CHECK(dtype_supported(14) && dtype_supported(30) && dtype_supported(2) && dtype_supported(3) && dtype_supported(6) &&
            dtype_supported(7) && dtype_supported(13) && dtype_supported(20) && dtype_supported(23) && !dtype_supported(9) &&
            !dtype_supported(10) && !dtype_supported(21),
        "dtype_supported");
}

// ------------------------------------------------------------------------------------- thread pool

static void test_thread_pool() {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    CHECK(pool.size() == threads, "pool size");
    std::vector<std::atomic<int>> hits(1000);
    std::atomic<int> bad_thread{0};
    for (int round = 0; round < 2000; ++round) {
      const int n = 1 + round % 13;
      pool.parallel_for(n, [&](int task, int thread) {
        hits[size_t(task)].fetch_add(1, std::memory_order_relaxed);
        if (thread < 0 || thread >= threads) bad_thread.fetch_add(1);
      });
    }
    long total = 0;
    for (auto& h : hits) total += h.load();
    long want = 0;
    for (int round = 0; round < 2000; ++round) want += 1 + round % 13;
    CHECK(total == want && bad_thread.load() == 0, "%d threads: %ld task runs, want %ld", threads, total, want);
    CHECK(hits[0].load() == 2000, "task 0 ran %d times, want 2000", hits[0].load());

    // Exceptions reach the caller after all tasks finished; the pool stays usable.
    std::atomic<int> ran{0};
    bool caught = false;
    try {
      pool.parallel_for(64, [&](int task, int) {
        ran.fetch_add(1);
        if (task == 17) throw std::runtime_error("task 17 failed");
      });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "task 17 failed";
    }
    CHECK(caught && ran.load() == 64, "exception propagation (%d threads): caught=%d ran=%d", threads, caught, ran.load());

    // Nested parallel_for runs inline.
    std::atomic<int> inner{0};
    pool.parallel_for(4, [&](int, int) { pool.parallel_for(5, [&](int, int) { inner.fetch_add(1); }); });
    CHECK(inner.load() == 20, "nested parallel_for ran %d inner tasks, want 20", inner.load());
  }
  ThreadPool all(0);
  CHECK(all.size() >= 1, "ThreadPool(0) uses all cores");
}

int main() {
  std::printf("kernels_test (%s)\n", cpu_kernels_isa());
  ThreadPool p1(1), p2(2), p3(3);
  ThreadPool* pools[3] = {&p1, &p2, &p3};
  test_f16_conversions();
  test_bf16_conversions();
  test_layouts();
  test_round_trip_error();
  test_act_q8_K_bits();
  test_act_q8_0_bits();
  test_matmul(pools);
  test_matmul_many_tasks(pools);
  test_gemm_paths(pools);
  test_q6_K_gemm_all_bytes(pools);
  test_gemm_random_blocks(pools);
  test_gemm_large_q4_K(pools);
  test_nan_and_nesting(p2);
  test_rows(p2);
  test_bad_input(p2);
  test_thread_pool();
  std::printf("%d checks, %d failures\n", check_count, failures);
  return failures ? 1 : 0;
}
