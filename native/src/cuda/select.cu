// Reductions over logits: argmax per row and the top-k of one row, both on the GPU. Ties go to the smaller
// token id and NaN counts as -inf, so results are deterministic and match a stable CPU sort.
#include <climits>

#include "cuda/cuda_util.cuh"
#include "cuda/kernels.h"

namespace frspec::cuda {
namespace {

__device__ __forceinline__ bool better(float av, int ai, float bv, int bi) { return av > bv || (av == bv && ai < bi); }
__device__ __forceinline__ float clean(float v) { return isnan(v) ? -INFINITY : v; }

// Butterfly over the warp: every lane ends with the best (v, i).
__device__ __forceinline__ void warp_best(float& v, int& i) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (better(ov, oi, v, i)) v = ov, i = oi;
  }
}

__global__ void argmax_kernel(const float* __restrict__ logits, int vocab, int32_t* __restrict__ out) {
  pdl_wait();
  __shared__ float sv[32];
  __shared__ int si[32];
  const float* row = logits + size_t(blockIdx.x) * vocab;
  float bv = -INFINITY;
  int bi = INT_MAX;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float v = clean(row[i]);
    if (better(v, i, bv, bi)) bv = v, bi = i;
  }
  warp_best(bv, bi);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) sv[warp] = bv, si[warp] = bi;
  __syncthreads();
  if (warp == 0) {
    bv = lane < int(blockDim.x >> 5) ? sv[lane] : -INFINITY;
    bi = lane < int(blockDim.x >> 5) ? si[lane] : INT_MAX;
    warp_best(bv, bi);
    if (lane == 0) out[blockIdx.x] = bi;
  }
}

// One top-k pass: warp w takes candidates [w*kSeg, (w+1)*kSeg), each lane holding kPer of them sorted in
// registers, and emits its best k by popping the warp's best head k times. Padding is (-inf, INT_MAX),
// which ranks below every real candidate.
constexpr int kPer = 16, kSeg = 32 * kPer, kWarps = 4;
__global__ void __launch_bounds__(32 * kWarps)
    topk_pass_kernel(const float* __restrict__ vals, const int32_t* __restrict__ ids, int count, int k,
                     float* __restrict__ out_vals, int32_t* __restrict__ out_ids) {
  pdl_wait();
  const int lane = threadIdx.x & 31;
  const int w = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int start = w * kSeg;
  if (start >= count) return;
  float v[kPer];
  int id[kPer];
#pragma unroll
  for (int p = 0; p < kPer; ++p) {
    const int pos = start + p * 32 + lane;
    v[p] = pos < count ? clean(vals[pos]) : -INFINITY;
    id[p] = pos < count ? (ids ? ids[pos] : pos) : INT_MAX;
  }
#pragma unroll
  for (int a = 0; a < kPer; ++a)
#pragma unroll
    for (int b = kPer - 1; b > a; --b)
      if (better(v[b], id[b], v[b - 1], id[b - 1])) {
        const float tv = v[b]; v[b] = v[b - 1]; v[b - 1] = tv;
        const int ti = id[b]; id[b] = id[b - 1]; id[b - 1] = ti;
      }
  for (int r = 0; r < k; ++r) {
    float bv = v[0];
    int bi = id[0];
    warp_best(bv, bi);
    if (lane == 0) out_vals[size_t(w) * k + r] = bv, out_ids[size_t(w) * k + r] = bi;
    if (id[0] == bi && v[0] == bv) {  // this lane's head won: pop it
#pragma unroll
      for (int p = 0; p + 1 < kPer; ++p) v[p] = v[p + 1], id[p] = id[p + 1];
      v[kPer - 1] = -INFINITY;
      id[kPer - 1] = INT_MAX;
    }
  }
}

__global__ void remap_kernel(int32_t* ids, int k, const int32_t* __restrict__ map) {
  pdl_wait();
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < k) ids[i] = map[ids[i]];
}

int segments(int count) { return (count + kSeg - 1) / kSeg; }

}  // namespace

void argmax(const float* logits, int n, int vocab, int32_t* out_ids, cudaStream_t s) {
  launch_kernel("argmax", argmax_kernel, dim3(n), dim3(1024), s, logits, vocab, out_ids);
}

size_t topk_scratch_floats(int vocab, int k) { return 4 * size_t(segments(vocab)) * k; }

void topk(const float* logits, int vocab, int k, float* scratch, int32_t* out_ids, float* out_vals, cudaStream_t s) {
  const size_t half = 2 * size_t(segments(vocab)) * k;  // two ping-pong buffers of (vals, ids)
  float* buf_vals[2] = {scratch, scratch + half};
  int32_t* buf_ids[2] = {reinterpret_cast<int32_t*>(scratch + half / 2), reinterpret_cast<int32_t*>(scratch + half + half / 2)};
  const float* in_vals = logits;
  const int32_t* in_ids = nullptr;
  int count = vocab, which = 0;
  for (;;) {
    const int warps = segments(count);
    const bool last = warps == 1;
    float* ov = last ? out_vals : buf_vals[which];
    int32_t* oi = last ? out_ids : buf_ids[which];
    launch_kernel("topk", topk_pass_kernel, dim3(ceil_div(warps, kWarps)), dim3(32 * kWarps), s, in_vals, in_ids, count, k, ov, oi);
    if (last) return;
    in_vals = ov;
    in_ids = oi;
    count = warps * k;
    which ^= 1;
  }
}

void remap_ids(int32_t* ids, int k, const int32_t* map, cudaStream_t s) {
  launch_kernel("remap_ids", remap_kernel, dim3(ceil_div(k, 256)), dim3(256), s, ids, k, map);
}

}  // namespace frspec::cuda
