// Prefill GEMM (more than 64 tokens): y[n][rows] = x[n][cols] . W^T (+ bias) on the tensor cores in TF32,
// with F32 accuracy: x (and W, unless the type's values are exact in TF32) is split into a TF32 head and
// a TF32 tail, and the products head*head + head*tail + tail*head are accumulated in F32 (the tail*tail
// term is below F32 rounding). F16 and BF16 weights are exact in TF32, so they need two products.
// A block computes a 64-row x 64-token tile in K steps of 32: weights are dequantized into shared memory
// as F32 (T::elem), each of the 4 warps owns a 32 x 32 quarter (2 x 2 fragments of 16 x 16).
#include <mma.h>

#include <type_traits>

#include "cuda/cuda_util.cuh"
#include "cuda/kernels.h"
#include "cuda/weight_types.cuh"

namespace frspec::cuda {
namespace {

namespace wmma = nvcuda::wmma;
constexpr int kBM = 64, kBN = 64, kBK = 32, kLd = kBK + 4, kLdC = kBN + 4;

template <class T>
constexpr bool kExactInTf32 = std::is_same_v<T, TF16> || std::is_same_v<T, TBF16>;

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;

template <class Frag>
__device__ __forceinline__ void split_tf32(Frag& hi, Frag& lo) {  // hi = tf32(v), lo = tf32(v - hi)
#pragma unroll
  for (int i = 0; i < hi.num_elements; ++i) {
    const float v = hi.x[i];
    hi.x[i] = wmma::__float_to_tf32(v);
    lo.x[i] = wmma::__float_to_tf32(v - hi.x[i]);
  }
}

template <class T>
__global__ void __launch_bounds__(128)
    gemm_tc_kernel(const uint8_t* __restrict__ W, size_t stride, int rows, int cols, const float* __restrict__ x, int n,
                   float* __restrict__ y, const float* __restrict__ bias) {
  pdl_wait();
  __shared__ __align__(32) float ws[kBM][kLd];   // W tile: row, k
  __shared__ __align__(32) float xs[kBN][kLd];   // x tile: token, k (= B in column-major)
  __shared__ __align__(32) float cs[kBM][kLdC];  // results: row, token
  const int tid = threadIdx.x, warp = tid >> 5;
  const int row0 = blockIdx.x * kBM, tok0 = blockIdx.y * kBN;
  const int wm = (warp / 2) * 32, wn = (warp % 2) * 32;  // this warp's quarter
  FragC acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);
  for (int k0 = 0; k0 < cols; k0 += kBK) {
    const int kk = tid % kBK, k = k0 + kk;
    for (int r = tid / kBK; r < kBM; r += 128 / kBK) {
      const int row = row0 + r, tok = tok0 + r;
      ws[r][kk] = (row < rows && k < cols) ? T::elem(W + size_t(row) * stride, cols, k) : 0.f;
      xs[r][kk] = (tok < n && k < cols) ? x[size_t(tok) * cols + k] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int ks = 0; ks < kBK; ks += 8) {
      FragA a_hi[2], a_lo[2];
      FragB b_hi[2], b_lo[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        wmma::load_matrix_sync(a_hi[i], &ws[wm + 16 * i][ks], kLd);
        if constexpr (kExactInTf32<T>) {
#pragma unroll
          for (int e = 0; e < a_hi[i].num_elements; ++e) a_hi[i].x[e] = wmma::__float_to_tf32(a_hi[i].x[e]);
        } else {
          split_tf32(a_hi[i], a_lo[i]);
        }
        wmma::load_matrix_sync(b_hi[i], &xs[wn + 16 * i][ks], kLd);
        split_tf32(b_hi[i], b_lo[i]);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          if constexpr (!kExactInTf32<T>) wmma::mma_sync(acc[i][j], a_lo[i], b_hi[j], acc[i][j]);
          wmma::mma_sync(acc[i][j], a_hi[i], b_lo[j], acc[i][j]);
          wmma::mma_sync(acc[i][j], a_hi[i], b_hi[j], acc[i][j]);
        }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::store_matrix_sync(&cs[wm + 16 * i][wn + 16 * j], acc[i][j], kLdC, wmma::mem_row_major);
  __syncthreads();
  for (int i = tid; i < kBM * kBN; i += 128) {  // consecutive threads: consecutive rows of one token
    const int r = i % kBM, t = i / kBM, row = row0 + r, tok = tok0 + t;
    if (row < rows && tok < n) y[size_t(tok) * rows + row] = cs[r][t] + (bias ? bias[row] : 0.f);
  }
}

}  // namespace

void matmul_gemm(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t s) {
  with_type(w.type, [&]<class T>() {
    launch_kernel("gemm", gemm_tc_kernel<T>, dim3(ceil_div(w.rows, kBM), ceil_div(n, kBN)), dim3(128), s,
                  static_cast<const uint8_t*>(w.data), w.row_bytes, int(w.rows), int(w.cols), x, n, y, bias);
  });
}

}  // namespace frspec::cuda
