// The KV cache (F32, per layer K[capacity][kv_dim] then V[capacity][kv_dim]) and attention over it.
//
// Attention walks, for each query, the list of keys it may see — committed slots 0..n_past-1, then its
// allowed new slots in increasing order — in tiles of kTile keys with an online softmax. The tiling is
// over positions in that list, not over slots, so a query decoded alone and the same query verified inside
// a tree (its ancestors at other slots) see the same list and produce bit-identical outputs.
#include "cuda/cuda_util.cuh"
#include "cuda/kernels.h"

namespace frspec::cuda {
namespace {

__global__ void kv_write_kernel(float* __restrict__ ck, float* __restrict__ cv, const float* __restrict__ k,
                                const float* __restrict__ v, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    ck[i] = k[i];
    cv[i] = v[i];
  }
}

// Thread e of (layer, K or V) moves element e of each listed slot in list order, so the moves keep the
// sequential semantics of the contract even when a source was an earlier destination.
__global__ void kv_move_kernel(float* cache, int capacity, int kv_dim, const int32_t* __restrict__ src,
                               const int32_t* __restrict__ dst, int n) {
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= kv_dim) return;
  float* plane = cache + size_t(blockIdx.y) * capacity * kv_dim;  // blockIdx.y = layer*2 + (K or V)
  for (int i = 0; i < n; ++i) plane[size_t(dst[i]) * kv_dim + e] = plane[size_t(src[i]) * kv_dim + e];
}

constexpr int kAttnThreads = 128, kTile = 128, kMaxHeadDim = 256;

// One block per (head, query). Each warp scores keys of the tile (lanes split the head dimension), then
// thread t accumulates output dimensions t and t+128 over the tile's keys in order.
__global__ void __launch_bounds__(kAttnThreads)
    attention_kernel(const float* __restrict__ K, const float* __restrict__ V, const float* __restrict__ q,
                     float* __restrict__ out, int n_past, const int32_t* __restrict__ new_start,
                     const int32_t* __restrict__ new_keys, int n_heads, int n_kv_heads, int head_dim, float scale) {
  __shared__ float qs[kMaxHeadDim];
  __shared__ float p[kTile];
  __shared__ int slot[kTile];
  __shared__ float scratch[32];
  const int head = blockIdx.x, query = blockIdx.y;
  const int kv_dim = n_kv_heads * head_dim;
  const int kvh = head / (n_heads / n_kv_heads);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float* qh = q + (size_t(query) * n_heads + head) * head_dim;
  for (int i = threadIdx.x; i < head_dim; i += kAttnThreads) qs[i] = qh[i];
  const int first_new = new_start[query], n_new = new_start[query + 1] - first_new;
  const int n_keys = n_past + n_new;
  float m = -INFINITY, l = 0.f, acc0 = 0.f, acc1 = 0.f;
  const int d0 = threadIdx.x, d1 = threadIdx.x + kAttnThreads;
  __syncthreads();
  for (int t0 = 0; t0 < n_keys; t0 += kTile) {
    const int tile = min(kTile, n_keys - t0);
    for (int j = threadIdx.x; j < tile; j += kAttnThreads) {
      const int a = t0 + j;
      slot[j] = a < n_past ? a : n_past + new_keys[first_new + a - n_past];
    }
    __syncthreads();
    for (int j = warp; j < tile; j += kAttnThreads / 32) {
      const float* kr = K + size_t(slot[j]) * kv_dim + kvh * head_dim;
      float dot = 0.f;
      for (int i = lane; i < head_dim; i += 32) dot = fmaf(qs[i], kr[i], dot);
      dot = warp_sum(dot);
      if (lane == 0) p[j] = dot * scale;
    }
    __syncthreads();
    float tmax = -INFINITY;
    for (int j = threadIdx.x; j < tile; j += kAttnThreads) tmax = fmaxf(tmax, p[j]);
    tmax = block_max(tmax, scratch);
    const float m_new = fmaxf(m, tmax);
    const float corr = expf(m - m_new);  // 0 on the first tile (m = -inf)
    __syncthreads();
    float psum = 0.f;
    for (int j = threadIdx.x; j < tile; j += kAttnThreads) {
      const float e = expf(p[j] - m_new);
      p[j] = e;
      psum += e;
    }
    psum = block_sum(psum, scratch);  // ends with a barrier-separated read: p[] is complete here
    l = l * corr + psum;
    acc0 *= corr;
    acc1 *= corr;
    for (int j = 0; j < tile; ++j) {
      const float* vr = V + size_t(slot[j]) * kv_dim + kvh * head_dim;
      if (d0 < head_dim) acc0 = fmaf(p[j], vr[d0], acc0);
      if (d1 < head_dim) acc1 = fmaf(p[j], vr[d1], acc1);
    }
    m = m_new;
    __syncthreads();
  }
  float* o = out + (size_t(query) * n_heads + head) * head_dim;
  const float inv = n_keys > 0 ? 1.0f / l : 0.f;
  if (d0 < head_dim) o[d0] = acc0 * inv;
  if (d1 < head_dim) o[d1] = acc1 * inv;
}

}  // namespace

void kv_write(float* layer_k, float* layer_v, const float* k, const float* v, int first_slot, int n, int kv_dim,
              cudaStream_t s) {
  const size_t count = size_t(n) * kv_dim, off = size_t(first_slot) * kv_dim;
  const size_t blocks = (count + 255) / 256;
  kv_write_kernel<<<unsigned(blocks < 1024 ? blocks : 1024), 256, 0, s>>>(layer_k + off, layer_v + off, k, v, count);
  FRSPEC_CUDA_LAUNCHED("kv_write");
}

void kv_move(float* cache, int n_layers, int capacity, int kv_dim, const int32_t* src, const int32_t* dst, int n,
             cudaStream_t s) {
  const dim3 grid(ceil_div(kv_dim, 128), 2 * n_layers);
  kv_move_kernel<<<grid, 128, 0, s>>>(cache, capacity, kv_dim, src, dst, n);
  FRSPEC_CUDA_LAUNCHED("kv_move");
}

void attention(const float* layer_k, const float* layer_v, const float* q, float* out, int n_past, int n,
               const int32_t* new_start, const int32_t* new_keys, int n_heads, int n_kv_heads, int head_dim,
               float scale, cudaStream_t s) {
  const dim3 grid(n_heads, n);
  attention_kernel<<<grid, kAttnThreads, 0, s>>>(layer_k, layer_v, q, out, n_past, new_start, new_keys, n_heads,
                                                 n_kv_heads, head_dim, scale);
  FRSPEC_CUDA_LAUNCHED("attention");
}

}  // namespace frspec::cuda
