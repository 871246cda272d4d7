// Matmul kernels for float weights (F32, F16, BF16): each weight chunk is widened to F32 and FMA'd with
// the F32 activations, one vector accumulator per (row, token), summed across lanes at the end. Weights
// are streamed once per call (GEMV) or once per tile of kRows rows reused by every token (GEMM). Widening
// is exact, so the only rounding is F32 FMA accumulation, as in llama.cpp's F16 path.
#include <cstring>

#include "engine/cpu_matmul_tiles.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
#include <immintrin.h>
#endif

namespace frspec::kernels {
namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
using vf = __m512;
inline vf vzero() { return _mm512_setzero_ps(); }
inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline float vsum(vf v) { return _mm512_reduce_add_ps(v); }
inline vf vload(const float* p) { return _mm512_loadu_ps(p); }
inline vf vload(const f16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline vf vload_bf16(const bf16_t* p) {
  const __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
constexpr int kLanes = 8;
using vf = __m256;
inline vf vzero() { return _mm256_setzero_ps(); }
inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline float vsum(vf v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline vf vload(const float* p) { return _mm256_loadu_ps(p); }
inline vf vload(const f16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline vf vload_bf16(const bf16_t* p) {
  const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}
#else
// Portable fallback: 8 independent lanes, the same shape as the AVX2 path.
constexpr int kLanes = 8;
struct vf {
  float v[kLanes];
};
inline vf vzero() { return vf{}; }
inline vf vfma(vf a, vf b, vf c) {
  for (int i = 0; i < kLanes; ++i) c.v[i] = a.v[i] * b.v[i] + c.v[i];
  return c;
}
inline float vsum(vf v) {
  float s = 0;
  for (int i = 0; i < kLanes; ++i) s += v.v[i];
  return s;
}
inline vf vload(const float* p) {
  vf r;
  std::memcpy(r.v, p, sizeof r.v);
  return r;
}
inline vf vload(const f16_t* p) {
  vf r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = f16_to_f32(p[i]);
  return r;
}
inline vf vload_bf16(const bf16_t* p) {
  vf r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = bf16_to_f32(p[i]);
  return r;
}
#endif

struct TagF32 { using E = float; static vf load(const float* p) { return vload(p); } };
struct TagF16 { using E = f16_t; static vf load(const f16_t* p) { return vload(p); } };
struct TagBF16 { using E = bf16_t; static vf load(const bf16_t* p) { return vload_bf16(p); } };

template <class Tag, int GemvRows, int Rows, int Toks>
struct FloatKernel {
  using E = typename Tag::E;
  static constexpr int kGemvRows = GemvRows, kRows = Rows, kToks = Toks;

  template <int R, int T>
  static void tile(const MatmulJob& j, int64_t row, int tok) {
    const int64_t cols = j.w->cols, full = cols / kLanes * kLanes;
    const E* w[R];
    const float* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const E*>(j.weight_row(row + r));
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const float*>(j.act_row(tok + t));
    vf acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = vzero();
    for (int64_t c = 0; c < full; c += kLanes) {
      vf xv[T];
      for (int t = 0; t < T; ++t) xv[t] = vload(x[t] + c);
      for (int r = 0; r < R; ++r) {
        const vf wv = Tag::load(w[r] + c);
        for (int t = 0; t < T; ++t) acc[r][t] = vfma(wv, xv[t], acc[r][t]);
      }
    }
    if (full < cols) {  // last partial chunk, zero-padded (0 * 0 leaves the sums unchanged)
      const int rest = int(cols - full);
      for (int t = 0; t < T; ++t) {
        alignas(64) float xp[kLanes] = {};
        std::memcpy(xp, x[t] + full, size_t(rest) * sizeof(float));
        const vf xv = vload(xp);
        for (int r = 0; r < R; ++r) {
          alignas(64) E wp[kLanes] = {};
          std::memcpy(wp, w[r] + full, size_t(rest) * sizeof(E));
          acc[r][t] = vfma(Tag::load(wp), xv, acc[r][t]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) j.store(row + r, tok + t, vsum(acc[r][t]));
  }
};

}  // namespace

RowsFn rows_fn_f32() { return matmul_rows<FloatKernel<TagF32, 4, 4, 4>>; }
RowsFn rows_fn_f16() { return matmul_rows<FloatKernel<TagF16, 4, 4, 4>>; }
RowsFn rows_fn_bf16() { return matmul_rows<FloatKernel<TagBF16, 4, 4, 4>>; }

}  // namespace frspec::kernels
