// Per-token and per-element operations: RMSNorm, RoPE (NEOX rotate-half and adjacent pairs, Llama-3.1
// frequency factors), SwiGLU and residual add.
#include "cuda/cuda_util.cuh"
#include "cuda/kernels.h"
#include "cuda/rope.cuh"

namespace frspec::cuda {
namespace {

// One block per row. The sum of squares is reduced in a fixed order (block_sum), so a row's result is the
// same in every batch.
// kNormThreads threads (cuda_util.cuh: the GEMVs that fold the norm into their input use the same order).
__global__ void rms_norm_kernel(const float* x, const float* __restrict__ w, float* y, int d, float eps) {
  pdl_wait();
  __shared__ double scratch[32];
  const float* xr = x + size_t(blockIdx.x) * d;
  float* yr = y + size_t(blockIdx.x) * d;
  const float scale = rms_scale(xr, d, eps, scratch);
  for (int i = threadIdx.x; i < d; i += blockDim.x) yr[i] = w ? rms_apply(xr[i], scale, w[i]) : __fmul_rn(xr[i], scale);
}

// Rotates pair i of one head (h: the head's head_dim values; x0 at index a, x1 at index b) with rope.cuh's
// arithmetic. Returns the rotated values and their indices.
__device__ __forceinline__ void rope_pair(float* h, int i, int pos, int rot, float theta, bool neox,
                                          const float* __restrict__ freq_factors, float& ra, float& rb, int& a, int& b) {
  const int half = rot / 2;
  float s, c;
  rope_sincos(i, pos, rot, theta, freq_factors, s, c);
  a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
  const float x0 = h[a], x1 = h[b];
  ra = rope_first(x0, x1, s, c);
  rb = rope_second(x0, x1, s, c);
}

// One thread per rotated pair.
__global__ void rope_kernel(float* x, const int32_t* __restrict__ pos, SmallInts pos_small, int n_heads, int head_dim,
                            int rot, float theta, bool neox, const float* __restrict__ freq_factors) {
  pdl_wait();
  const int half = rot / 2;
  const int pair = blockIdx.x * blockDim.x + threadIdx.x;
  if (pair >= n_heads * half) return;
  const int head = pair / half, i = pair % half;
  const int tok = blockIdx.y;
  float* h = x + (size_t(tok) * n_heads + head) * head_dim;
  float ra, rb;
  int a, b;
  rope_pair(h, i, pos ? pos[tok] : pos_small.v[tok], rot, theta, neox, freq_factors, ra, rb, a, b);
  h[a] = ra;
  h[b] = rb;
}

// rope(k) + kv_write + rope(q) in one launch, one block row per token. Work items of a token: q pairs
// (n_heads * rot/2, when q is given), k pairs (n_kv_heads * rot/2: rotated, written to the cache and back
// to k), k's unrotated dimensions (copied to the cache), then v (copied). The same rope_pair as rope().
__global__ void rope_kv_write_kernel(float* q, int n_heads, float* k, const float* __restrict__ v,
                                     const int32_t* __restrict__ pos, SmallInts pos_small, int n_kv_heads, int head_dim,
                                     int rot, float theta, bool neox, const float* __restrict__ freq_factors,
                                     float* __restrict__ ck, float* __restrict__ cv) {
  pdl_wait();
  const int half = rot / 2, tok = blockIdx.y, kv_dim = n_kv_heads * head_dim;
  const int nq = q ? n_heads * half : 0, nk = n_kv_heads * half, nk_rest = n_kv_heads * (head_dim - rot);
  const int p = pos ? pos[tok] : pos_small.v[tok];
  float* ckt = ck + size_t(tok) * kv_dim;
  float* kt = k + size_t(tok) * kv_dim;
  int e = blockIdx.x * blockDim.x + threadIdx.x;
  float ra, rb;
  int a, b;
  if (e < nq) {
    float* h = q + (size_t(tok) * n_heads + e / half) * head_dim;
    rope_pair(h, e % half, p, rot, theta, neox, freq_factors, ra, rb, a, b);
    h[a] = ra, h[b] = rb;
    return;
  }
  e -= nq;
  if (e < nk) {
    const int off = (e / half) * head_dim;
    rope_pair(kt + off, e % half, p, rot, theta, neox, freq_factors, ra, rb, a, b);
    kt[off + a] = ra, kt[off + b] = rb;
    ckt[off + a] = ra, ckt[off + b] = rb;
    return;
  }
  e -= nk;
  if (e < nk_rest) {
    const int per = head_dim - rot, off = (e / per) * head_dim + rot + e % per;
    ckt[off] = kt[off];
    return;
  }
  e -= nk_rest;
  if (e < kv_dim) cv[size_t(tok) * kv_dim + e] = v[size_t(tok) * kv_dim + e];
}

// out may alias g or u (the forward pass writes in place).
__global__ void swiglu_kernel(const float* g, const float* u, float* out, size_t count) {
  pdl_wait();
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    out[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

__global__ void add_kernel(float* y, const float* __restrict__ x, size_t count) {
  pdl_wait();
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    y[i] += x[i];
}

unsigned grid_for(size_t count) {
  const size_t blocks = (count + 255) / 256;
  return unsigned(blocks < 4096 ? blocks : 4096);
}

}  // namespace

void rms_norm(const float* x, const float* weight, float* y, int n, int d, float eps, cudaStream_t s) {
  launch_kernel("rms_norm", rms_norm_kernel, dim3(n), dim3(kNormThreads), s, x, weight, y, d, eps);
}

void rope(float* x, const int32_t* pos, const SmallInts& small, int n, int n_heads, int head_dim, const RopeParams& p,
          cudaStream_t s) {
  const int rot = p.rot_dims > 0 ? p.rot_dims : head_dim;
  const dim3 grid(ceil_div(int64_t(n_heads) * (rot / 2), 128), n);
  launch_kernel("rope", rope_kernel, dim3(grid), dim3(128), s, x, pos, small, n_heads, head_dim, rot, p.theta, p.neox, p.freq_factors);
}

void rope_kv_write(float* q, int n_heads, float* k, const float* v, const int32_t* pos, const SmallInts& small, int n,
                   int n_kv_heads, int head_dim, const RopeParams& p, float* cache_k, float* cache_v, cudaStream_t s) {
  const int rot = p.rot_dims > 0 ? p.rot_dims : head_dim;
  const int64_t items = int64_t(q ? n_heads : 0) * (rot / 2) + int64_t(n_kv_heads) * (rot / 2) +
                        int64_t(n_kv_heads) * (head_dim - rot) + int64_t(n_kv_heads) * head_dim;
  launch_kernel("rope_kv_write", rope_kv_write_kernel, dim3(ceil_div(items, 128), n), dim3(128), s, q, n_heads, k, v, pos,
                small, n_kv_heads, head_dim, rot, p.theta, p.neox, p.freq_factors, cache_k, cache_v);
}

void swiglu(const float* gate, const float* up, float* out, size_t count, cudaStream_t s) {
  launch_kernel("swiglu", swiglu_kernel, dim3(grid_for(count)), dim3(256), s, gate, up, out, count);
}

void add(float* y, const float* x, size_t count, cudaStream_t s) {
  launch_kernel("add", add_kernel, dim3(grid_for(count)), dim3(256), s, y, x, count);
}

}  // namespace frspec::cuda
