// y[n][rows] = x[n][cols] . W^T (+ bias): batch-1 GEMV streaming the weights with 16-byte loads, the same
// kernel for small verification batches (n <= 64, up to 8 tokens per weight pass), and a tiled GEMM for
// prefill. In the GEMV each warp owns one row; lane l takes chunks l, l+32, ... in order and the warp sums
// the 32 partials with a fixed butterfly, so a token's output is bit-identical for every n <= 64.
#include "cuda/cuda_util.cuh"
#include "cuda/kernels.h"
#include "cuda/weight_types.cuh"

namespace frspec::cuda {
namespace {

constexpr int kGemvWarps = 4;   // rows per block
constexpr int kGemvUnroll = 4;  // chunks in flight per lane

template <class T, int NT>
__global__ void __launch_bounds__(32 * kGemvWarps)
    gemv_kernel(const uint8_t* __restrict__ W, size_t stride, int rows, int cols, const float* __restrict__ x,
                float* __restrict__ y, int ldy, const float* __restrict__ bias) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * kGemvWarps + (threadIdx.x >> 5);
  if (row >= rows) return;
  const uint8_t* wr = W + size_t(row) * stride;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.f;
  const int nch = T::chunks(cols);
  int c = lane;
  for (; c + 32 * (kGemvUnroll - 1) < nch; c += 32 * kGemvUnroll) {
    typename T::Raw r[kGemvUnroll];
#pragma unroll
    for (int u = 0; u < kGemvUnroll; ++u) T::load(wr, cols, c + 32 * u, r[u]);
#pragma unroll
    for (int u = 0; u < kGemvUnroll; ++u) T::template dot<NT>(r[u], c + 32 * u, x, cols, acc);
  }
  for (; c < nch; c += 32) {
    typename T::Raw r;
    T::load(wr, cols, c, r);
    T::template dot<NT>(r, c, x, cols, acc);
  }
  for (int i = nch * T::kElems + lane; i < cols; i += 32) {  // float types whose cols are not whole chunks
    const float wv = T::elem(wr, cols, i);
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[t] = fmaf(wv, x[size_t(t) * cols + i], acc[t]);
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = warp_sum(acc[t]);
  if (lane == 0) {
    const float b = bias ? bias[row] : 0.f;
#pragma unroll
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + row] = acc[t] + b;
  }
}

// Any alignment, one element at a time (x rows not 16-byte aligned: cols % 4 != 0 or an offset pointer).
template <class T>
__global__ void gemv_generic_kernel(const uint8_t* __restrict__ W, size_t stride, int rows, int cols,
                                    const float* __restrict__ x, float* __restrict__ y, int ldy,
                                    const float* __restrict__ bias) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * kGemvWarps + (threadIdx.x >> 5);
  const int t = blockIdx.y;
  if (row >= rows) return;
  const uint8_t* wr = W + size_t(row) * stride;
  float acc = 0.f;
  for (int i = lane; i < cols; i += 32) acc = fmaf(T::elem(wr, cols, i), x[size_t(t) * cols + i], acc);
  acc = warp_sum(acc);
  if (lane == 0) y[size_t(t) * ldy + row] = acc + (bias ? bias[row] : 0.f);
}

// Prefill GEMM: a 64-row x 64-token tile per block, K in steps of 32; weights dequantized into shared
// memory as F32 (one element per load, via T::elem), each thread accumulating a 4 x 4 sub-tile.
constexpr int kBM = 64, kBN = 64, kBK = 32;
template <class T>
__global__ void __launch_bounds__(256)
    gemm_kernel(const uint8_t* __restrict__ W, size_t stride, int rows, int cols, const float* __restrict__ x, int n,
                float* __restrict__ y, const float* __restrict__ bias) {
  __shared__ float ws[kBK][kBM + 4];
  __shared__ float xs[kBK][kBN + 4];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int row0 = blockIdx.x * kBM, tok0 = blockIdx.y * kBN;
  float acc[4][4] = {};
  for (int k0 = 0; k0 < cols; k0 += kBK) {
    const int kk = tid % kBK;
    const int k = k0 + kk;
#pragma unroll
    for (int i = 0; i < (kBM * kBK) / 256; ++i) {
      const int r = tid / kBK + i * (256 / kBK);
      const int row = row0 + r, tok = tok0 + r;
      ws[kk][r] = (row < rows && k < cols) ? T::elem(W + size_t(row) * stride, cols, k) : 0.f;
      xs[kk][r] = (tok < n && k < cols) ? x[size_t(tok) * cols + k] : 0.f;
    }
    __syncthreads();
#pragma unroll 8
    for (int q = 0; q < kBK; ++q) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = ws[q][ty * 4 + i], b[i] = xs[q][tx * 4 + i];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int row = row0 + ty * 4 + i;
    if (row >= rows) continue;
    const float b = bias ? bias[row] : 0.f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int tok = tok0 + tx * 4 + j;
      if (tok < n) y[size_t(tok) * rows + row] = acc[i][j] + b;
    }
  }
}

template <class T, int NT>
void launch_gemv(const Weight& w, const float* x, float* y, const float* bias, cudaStream_t s) {
  const dim3 grid(ceil_div(w.rows, kGemvWarps));
  gemv_kernel<T, NT><<<grid, 32 * kGemvWarps, 0, s>>>(static_cast<const uint8_t*>(w.data), w.row_bytes, int(w.rows),
                                                      int(w.cols), x, y, int(w.rows), bias);
  FRSPEC_CUDA_LAUNCHED("gemv");
}

}  // namespace

void matmul_gemv(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t s) {
  const bool aligned = w.cols % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
  with_type(w.type, [&]<class T>() {
    if (!aligned) {
      const dim3 grid(ceil_div(w.rows, kGemvWarps), n);
      gemv_generic_kernel<T><<<grid, 32 * kGemvWarps, 0, s>>>(static_cast<const uint8_t*>(w.data), w.row_bytes,
                                                               int(w.rows), int(w.cols), x, y, int(w.rows), bias);
      FRSPEC_CUDA_LAUNCHED("gemv_generic");
      return;
    }
    // Tokens in passes of 8, 4, 2, 1: each pass reads the weights once.
    for (int t0 = 0; t0 < n;) {
      const int left = n - t0;
      const float* xt = x + size_t(t0) * w.cols;
      float* yt = y + size_t(t0) * w.rows;
      if (left >= 8) launch_gemv<T, 8>(w, xt, yt, bias, s), t0 += 8;
      else if (left >= 4) launch_gemv<T, 4>(w, xt, yt, bias, s), t0 += 4;
      else if (left >= 2) launch_gemv<T, 2>(w, xt, yt, bias, s), t0 += 2;
      else launch_gemv<T, 1>(w, xt, yt, bias, s), t0 += 1;
    }
  });
}

void matmul_gemm(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t s) {
  with_type(w.type, [&]<class T>() {
    const dim3 grid(ceil_div(w.rows, kBM), ceil_div(n, kBN));
    gemm_kernel<T><<<grid, 256, 0, s>>>(static_cast<const uint8_t*>(w.data), w.row_bytes, int(w.rows), int(w.cols), x,
                                        n, y, bias);
    FRSPEC_CUDA_LAUNCHED("gemm");
  });
}

void matmul(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t s) {
  if (n <= kMaxVerifyTokens) matmul_gemv(w, x, y, n, bias, s);
  else matmul_gemm(w, x, y, n, bias, s);
}

}  // namespace frspec::cuda
