// The KV cache (F32, per layer K[capacity][kv_dim] then V[capacity][kv_dim]) and attention over it.
//
// Attention walks, for each query, the list of keys it may see — committed slots 0..n_past-1, then its
// allowed new slots in increasing order — with an online softmax. The work is split over positions in
// that list, not over slots, so a query decoded alone and the same query verified inside a tree (its
// ancestors at other slots) see the same list and produce bit-identical outputs.
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

constexpr int kAttnWarps = 4, kBatch = 8;

// One block per (head, query); 4 warps. The query's key list (committed slots 0..n_past-1, then its new
// slots in increasing order) is cut into batches of 8 consecutive list positions; warp w takes batches
// w, w+4, ... and keeps an online softmax (max, sum, output) with lane l holding dimensions
// l*DPL .. l*DPL+DPL-1. The four warps' states are merged in warp order at the end. The partition depends
// only on list positions, so a node verified in a tree and the same path decoded plainly give the same bits.
template <int DPL>
__global__ void __launch_bounds__(32 * kAttnWarps)
    attention_kernel(const float* __restrict__ K, const float* __restrict__ V, const float* __restrict__ q,
                     float* __restrict__ out, int n_past, int n, AttnMask mask, const int32_t* __restrict__ new_start,
                     const int32_t* __restrict__ new_keys, int n_heads, int n_kv_heads, float scale) {
  constexpr int hd = 32 * DPL;
  __shared__ int list[kMaxMaskTokens];
  __shared__ float part_acc[kAttnWarps][hd];
  __shared__ float part_m[kAttnWarps], part_l[kAttnWarps];
  const int head = blockIdx.x, query = blockIdx.y;
  const int kv_dim = n_kv_heads * hd;
  const int kvh = head / (n_heads / n_kv_heads);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  // Which new slots this query sees: causal (implicit), a bit mask (n <= 64), or device lists.
  int n_new, first_new = 0;
  if (mask.mode == AttnMask::kCausal) {
    n_new = query + 1;
  } else if (mask.mode == AttnMask::kBits) {
    const uint64_t row = mask.bits[query];
    n_new = __popcll(row);
    for (int j = threadIdx.x; j < n; j += blockDim.x)
      if ((row >> j) & 1) list[__popcll(row & ((uint64_t(1) << j) - 1))] = j;
    __syncthreads();
  } else {
    first_new = new_start[query];
    n_new = new_start[query + 1] - first_new;
  }
  auto slot_of = [&](int a) -> int {
    if (a < n_past) return a;
    const int rel = a - n_past;
    return n_past + (mask.mode == AttnMask::kCausal ? rel : mask.mode == AttnMask::kBits ? list[rel] : new_keys[first_new + rel]);
  };
  const int n_keys = n_past + n_new;

  float qr[DPL];
  const float* qh = q + (size_t(query) * n_heads + head) * hd + lane * DPL;
#pragma unroll
  for (int d = 0; d < DPL; ++d) qr[d] = qh[d] * scale;
  const float* Kh = K + kvh * hd + lane * DPL;
  const float* Vh = V + kvh * hd + lane * DPL;

  float m = -INFINITY, l = 0.f, acc[DPL];
#pragma unroll
  for (int d = 0; d < DPL; ++d) acc[d] = 0.f;
  for (int a0 = warp * kBatch; a0 < n_keys; a0 += kAttnWarps * kBatch) {
    int slot[kBatch];
    float s[kBatch];
#pragma unroll
    for (int j = 0; j < kBatch; ++j) slot[j] = a0 + j < n_keys ? slot_of(a0 + j) : -1;
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      float dot = 0.f;
      if (slot[j] >= 0) {
        const float* kr = Kh + size_t(slot[j]) * kv_dim;
#pragma unroll
        for (int d = 0; d < DPL; ++d) dot = fmaf(qr[d], kr[d], dot);
      }
      s[j] = dot;
    }
#pragma unroll
    for (int j = 0; j < kBatch; ++j) s[j] = slot[j] >= 0 ? warp_sum(s[j]) : -INFINITY;
    float bmax = s[0];
#pragma unroll
    for (int j = 1; j < kBatch; ++j) bmax = fmaxf(bmax, s[j]);
    const float m_new = fmaxf(m, bmax);
    const float corr = expf(m - m_new);  // 0 for the first batch (m = -inf)
    l *= corr;
#pragma unroll
    for (int d = 0; d < DPL; ++d) acc[d] *= corr;
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      if (slot[j] < 0) break;
      const float p = expf(s[j] - m_new);
      l += p;
      const float* vr = Vh + size_t(slot[j]) * kv_dim;
#pragma unroll
      for (int d = 0; d < DPL; ++d) acc[d] = fmaf(p, vr[d], acc[d]);
    }
    m = m_new;
  }
  // Merge the warps' states in warp order.
#pragma unroll
  for (int d = 0; d < DPL; ++d) part_acc[warp][lane * DPL + d] = acc[d];
  if (lane == 0) part_m[warp] = m, part_l[warp] = l;
  __syncthreads();
  float M = part_m[0];
#pragma unroll
  for (int w = 1; w < kAttnWarps; ++w) M = fmaxf(M, part_m[w]);
  float L = 0.f, f[kAttnWarps];
#pragma unroll
  for (int w = 0; w < kAttnWarps; ++w) {
    f[w] = part_m[w] == -INFINITY ? 0.f : expf(part_m[w] - M);
    L += part_l[w] * f[w];
  }
  const float inv = L > 0.f ? 1.0f / L : 0.f;
  float* o = out + (size_t(query) * n_heads + head) * hd;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float v = 0.f;
#pragma unroll
    for (int w = 0; w < kAttnWarps; ++w) v += part_acc[w][d] * f[w];
    o[d] = v * inv;
  }
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
               const AttnMask& mask, const int32_t* new_start, const int32_t* new_keys, int n_heads, int n_kv_heads,
               int head_dim, float scale, cudaStream_t s) {
  const dim3 grid(n_heads, n);
  auto launch = [&](auto kernel) {
    kernel<<<grid, 32 * kAttnWarps, 0, s>>>(layer_k, layer_v, q, out, n_past, n, mask, new_start, new_keys, n_heads,
                                             n_kv_heads, scale);
  };
  switch (head_dim) {
    case 32: launch(attention_kernel<1>); break;
    case 64: launch(attention_kernel<2>); break;
    case 128: launch(attention_kernel<4>); break;
    case 256: launch(attention_kernel<8>); break;
    default: throw std::invalid_argument("cuda attention: head_dim must be 32, 64, 128 or 256, got " + std::to_string(head_dim));
  }
  FRSPEC_CUDA_LAUNCHED("attention");
}

}  // namespace frspec::cuda
