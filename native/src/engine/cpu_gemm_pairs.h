// The packed GEMM (cpu_gemm_packed.h) of the 32-value formats read with ActQ8_0x2 activations in pairs of
// blocks: Q8_0 (cpu_matmul_q8_0.cpp) and Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL (cpu_matmul_q4_0.cpp). Each format packs
// a pair of blocks of 16 rows as unsigned bytes (its quants made unsigned: Q8_0's plus 128, IQ4_NL's table
// values biased by 128), row-interleaved in K-quads, with each block's d (and m) per row; the tile here is the
// same for all of them. Per (row, token) and block, with S the block's activation sum (MatmulJob::act_sums):
//   without a min  T = dot - o S   (o = 1 << F::offset_shift: the bias the unsigned bytes carry), d dx T
//   with a min     d dx dot + m (dx S)
// accumulated in the float chain PairChains gives the GEMV (cpu_matmul_simd.h), so GEMV, tile and packed GEMM
// give the same bits. x86 AVX-512 VNNI only.
#pragma once
#include <type_traits>

#include "engine/cpu_gemm_packed.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
namespace frspec::FRSPEC_CPU::kernels::pairs {

struct alignas(64) Packed {
  uint8_t q[16][packed::kGroup][4];  // K-quads 0..7: block 2p, 8..15: block 2p + 1
  float d[2][packed::kGroup];
};
struct alignas(64) PackedMin : Packed {  // Q4_1, Q5_1
  float m[2][packed::kGroup];
};

// F: offset_shift and has_min, as Legacy<> (cpu_matmul_legacy.h) has them.
template <class F>
using PackedOf = std::conditional_t<F::has_min, PackedMin, Packed>;

template <class F>
struct Tiles {
  template <int T>
  struct Tile {
    static void run(const MatmulJob& j, const PackedOf<F>* pk, int64_t row, int valid, int tok) {
      const int64_t nb = j.w->cols / QK8_0;
      const ActQ8_0x2* x[T];
      const int32_t* sums[T];
      for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const ActQ8_0x2*>(j.act_row(tok + t)), sums[t] = j.act_sums + size_t(tok + t) * nb;
      __m512 acc[T];
      for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        const PackedOf<F>& p = pk[b / 2];
        const int h = int(b % 2);
        __m512i dot[T];
        for (int t = 0; t < T; ++t) dot[t] = _mm512_setzero_si512();
        for (int q = 0; q < 8; ++q) {
          const __m512i wv = _mm512_load_si512(p.q[8 * h + q]);
          for (int t = 0; t < T; ++t)
            dot[t] = _mm512_dpbusd_epi32(dot[t], wv, _mm512_set1_epi32(packed::load_i32(x[t][b / 2].qs + 32 * h + 4 * q)));
        }
        const __m512 d = _mm512_load_ps(p.d[h]);
        for (int t = 0; t < T; ++t) {
          const float dx = x[t][b / 2].d[8 * h];
          if constexpr (F::has_min) {
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[t]), _mm512_mul_ps(d, _mm512_set1_ps(dx)), acc[t]);
            acc[t] = _mm512_fmadd_ps(_mm512_load_ps(p.m[h]), _mm512_set1_ps(float(sums[t][b]) * dx), acc[t]);
          } else {
            const __m512i total = _mm512_sub_epi32(dot[t], _mm512_set1_epi32(sums[t][b] << F::offset_shift));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(d, _mm512_set1_ps(dx)), acc[t]);
          }
        }
      }
      packed::store_rows<T>(j, row, valid, tok, acc);
    }
  };
};

// The packed GEMM of format F with its pack function.
template <class F, void (*Pack)(const MatmulJob&, int64_t, int, PackedOf<F>*)>
RowsFn gemm() {
  return packed::gemm_rows<PackedOf<F>, Pack, Tiles<F>::template Tile, 2 * QK8_0>;
}

}  // namespace frspec::FRSPEC_CPU::kernels::pairs
#endif
