// Matmul kernels for float weights (F32, F16, BF16): each weight chunk is widened to F32 and FMA'd with
// the F32 activations, one vector accumulator per (row, token), summed across lanes at the end. Weights
// are streamed once per call (GEMV) or once per tile of kRows rows reused by every token (GEMM). Widening
// is exact, so the only rounding is F32 FMA accumulation, as in llama.cpp's F16 path.
#include "engine/cpu_matmul_neon.h"
#include "engine/cpu_matmul_simd.h"

namespace frspec::FRSPEC_CPU::kernels {
namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
constexpr int kLanes = 16;
using vf = __m512;
FRSPEC_INLINE vf vzero() { return _mm512_setzero_ps(); }
FRSPEC_INLINE vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
FRSPEC_INLINE vf vload(const float* p) { return _mm512_loadu_ps(p); }
FRSPEC_INLINE vf vload(const f16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
FRSPEC_INLINE vf vload(const bf16_t* p, int) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}
// The first `rest` (< kLanes) elements, zeros after them; reads nothing beyond them.
FRSPEC_INLINE vf vload_part(const float* p, int rest) { return _mm512_maskz_loadu_ps(__mmask16((1u << rest) - 1), p); }
FRSPEC_INLINE vf vload_part(const f16_t* p, int rest) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(__mmask16((1u << rest) - 1), p));
}
FRSPEC_INLINE vf vload_part(const bf16_t* p, int rest, int) {
  const __m256i h = _mm256_maskz_loadu_epi16(__mmask16((1u << rest) - 1), p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
constexpr int kLanes = 8;
using vf = __m256;
FRSPEC_INLINE vf vzero() { return _mm256_setzero_ps(); }
FRSPEC_INLINE vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
FRSPEC_INLINE vf vload(const float* p) { return _mm256_loadu_ps(p); }
FRSPEC_INLINE vf vload(const f16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
FRSPEC_INLINE vf vload(const bf16_t* p, int) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}
template <class E>
FRSPEC_INLINE void copy_part(E* dst, const E* src, int rest) {
  for (int i = 0; i < rest; ++i) dst[i] = src[i];
}
FRSPEC_INLINE vf vload_part(const float* p, int rest) {
  alignas(32) float b[kLanes] = {};
  copy_part(b, p, rest);
  return vload(b);
}
FRSPEC_INLINE vf vload_part(const f16_t* p, int rest) {
  alignas(32) f16_t b[kLanes] = {};
  copy_part(b, p, rest);
  return vload(b);
}
FRSPEC_INLINE vf vload_part(const bf16_t* p, int rest, int) {
  alignas(32) bf16_t b[kLanes] = {};
  copy_part(b, p, rest);
  return vload(b, 0);
}
#elif defined(FRSPEC_NEON_KERNELS)
// arm64 (neon, dotprod, i8mm variants): two float32x4 per 8-lane vector, cpu_matmul_neon.h.
using namespace neon;
#else
// Portable fallback: 8 lanes, summed in the same pairs as the AVX2 path.
constexpr int kLanes = 8;
struct vf {
  float v[kLanes];
};
inline vf vzero() { return vf{}; }
inline vf vfma(vf a, vf b, vf c) {
  for (int i = 0; i < kLanes; ++i) c.v[i] = a.v[i] * b.v[i] + c.v[i];
  return c;
}
inline float hsum(vf v) {
  float s4[4], s2[2];
  for (int i = 0; i < 4; ++i) s4[i] = v.v[i] + v.v[i + 4];
  for (int i = 0; i < 2; ++i) s2[i] = s4[i] + s4[i + 2];
  return s2[0] + s2[1];
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
inline vf vload(const bf16_t* p, int) {
  vf r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = bf16_to_f32(p[i]);
  return r;
}
template <bool kBf16, class E>
inline vf vload_part_generic(const E* p, int rest) {
  E b[kLanes] = {};
  for (int i = 0; i < rest; ++i) b[i] = p[i];
  if constexpr (kBf16) return vload(b, 0);
  else return vload(b);
}
inline vf vload_part(const float* p, int rest) { return vload_part_generic<false>(p, rest); }
inline vf vload_part(const f16_t* p, int rest) { return vload_part_generic<false>(p, rest); }
inline vf vload_part(const bf16_t* p, int rest, int) { return vload_part_generic<true>(p, rest); }
#endif

// f16_t and bf16_t are both uint16_t: the extra int argument picks the bfloat16 overloads.
struct TagF32 {
  using E = float;
  static FRSPEC_INLINE vf load(const E* p) { return vload(p); }
  static FRSPEC_INLINE vf load_part(const E* p, int rest) { return vload_part(p, rest); }
};
struct TagF16 {
  using E = f16_t;
  static FRSPEC_INLINE vf load(const E* p) { return vload(p); }
  static FRSPEC_INLINE vf load_part(const E* p, int rest) { return vload_part(p, rest); }
};
struct TagBF16 {
  using E = bf16_t;
  static FRSPEC_INLINE vf load(const E* p) { return vload(p, 0); }
  static FRSPEC_INLINE vf load_part(const E* p, int rest) { return vload_part(p, rest, 0); }
};

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
constexpr int kGemmRowsFew = 4;
#else
constexpr int kGemmRowsFew = 0;  // AVX2 (16 registers) and NEON (two registers per accumulator): kRows
#endif

template <class Tag, int GemvRows, int Rows, int Toks>
struct FloatKernel {
  using E = typename Tag::E;
  static constexpr int kGemvRows = GemvRows, kRows = Rows, kToks = Toks;
  // Tiles of a few tokens (speculative verification: 2-6 rows) take 4 rows where 32 vector registers hold
  // 4 x T accumulators: each widened weight vector then serves 4 x T FMAs instead of 2 x T, and the lane sums
  // go 4 rows at a time (hsum4). Each output's chain is the same in any tile, so the bits are too.
  template <int T>
  static constexpr int kRowsFor = kGemmRowsFew > 0 && T <= 6 ? kGemmRowsFew : Rows;

  template <int R, int T>
  static FRSPEC_INLINE void tile(const MatmulJob& j, int64_t row, int tok) {
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
        if ((c * int64_t(sizeof(E))) % 64 == 0) prefetch_ahead(w[r] + c);  // once per cache line
        const vf wv = Tag::load(w[r] + c);
        for (int t = 0; t < T; ++t) acc[r][t] = vfma(wv, xv[t], acc[r][t]);
      }
    }
    if (full < cols) {  // last partial chunk, zero-padded (0 * 0 leaves the sums unchanged)
      const int rest = int(cols - full);
      vf xv[T];
      for (int t = 0; t < T; ++t) xv[t] = vload_part(x[t] + full, rest);
      for (int r = 0; r < R; ++r) {
        const vf wv = Tag::load_part(w[r] + full, rest);
        for (int t = 0; t < T; ++t) acc[r][t] = vfma(wv, xv[t], acc[r][t]);
      }
    }
    store_tile<R, T>(j, row, tok, acc);
  }
};

}  // namespace

// GEMV: 4 rows per tile. GEMM: 2 rows x 8 tokens (16 accumulators; one weight-block pass serves 8
// tokens, which measured ~1.5x faster than 4 x 4 on the LM head at n = 8); AVX-512: 4 rows x 2..6 tokens
// for the last (or only) tile of up to 6 tokens (kRowsFor). arm64: 2 x 4, since a NEON
// accumulator takes two of its 32 registers.
#if defined(FRSPEC_NEON_KERNELS)
constexpr int kGemmToks = 4;
#else
constexpr int kGemmToks = 8;
#endif
RowsFn rows_fn_f32() { return matmul_rows<FloatKernel<TagF32, 4, 2, kGemmToks>>; }
RowsFn rows_fn_f16() { return matmul_rows<FloatKernel<TagF16, 4, 2, kGemmToks>>; }
RowsFn rows_fn_bf16() { return matmul_rows<FloatKernel<TagBF16, 4, 2, kGemmToks>>; }

}  // namespace frspec::kernels
