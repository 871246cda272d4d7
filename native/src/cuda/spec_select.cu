// Per-row log-sum-exp on the GPU: a draft tree's node scores are cumulative log-probabilities
// (logit - lse), so a tree level reads back k ids, k logits and one lse per row instead of the rows.
#include <climits>

#include "cuda/cuda_util.cuh"
#include "cuda/spec_select.h"

namespace frspec::cuda {
namespace {

__global__ void log_sum_exp_kernel(const float* __restrict__ logits, int vocab, float* __restrict__ out) {
  pdl_wait();
  __shared__ float fscratch[32];
  __shared__ double dscratch[32];
  const float* row = logits + size_t(blockIdx.x) * vocab;
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float v = row[i];
    if (v > mx) mx = v;  // NaN never compares greater: it counts as -inf
  }
  mx = block_max(mx, fscratch);
  double s = 0;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float v = row[i];
    if (v == v) s += exp(double(v - mx));
  }
  s = block_sum_d(s, dscratch);
  if (threadIdx.x == 0) out[blockIdx.x] = mx + float(log(s));
}

__device__ __forceinline__ bool better(float av, int ai, float bv, int bi) { return av > bv || (av == bv && ai < bi); }

__global__ void argmax_remap_kernel(const float* __restrict__ logits, int vocab, const int32_t* __restrict__ remap,
                                    int32_t* __restrict__ out) {
  pdl_wait();
  __shared__ float sv[32];
  __shared__ int si[32];
  const float* row = logits + size_t(blockIdx.x) * vocab;
  float bv = -INFINITY;
  int bi = INT_MAX;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float v = row[i] == row[i] ? row[i] : -INFINITY;
    if (better(v, i, bv, bi)) bv = v, bi = i;
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (better(ov, oi, bv, bi)) bv = ov, bi = oi;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) sv[warp] = bv, si[warp] = bi;
  __syncthreads();
  if (warp != 0) return;
  bv = lane < int(blockDim.x >> 5) ? sv[lane] : -INFINITY;
  bi = lane < int(blockDim.x >> 5) ? si[lane] : INT_MAX;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (better(ov, oi, bv, bi)) bv = ov, bi = oi;
  }
  if (lane == 0) {
    if (bi >= vocab) bi = 0;  // an all-NaN row: a valid id rather than a wild read
    out[blockIdx.x] = remap ? remap[bi] : bi;
  }
}

__global__ void write_small_ids_kernel(int32_t* ids, SmallInts values, int n) {
  pdl_wait();
  if (int(threadIdx.x) < n) ids[threadIdx.x] = values.v[threadIdx.x];
}

}  // namespace

void argmax_remap(const float* logits, int n, int vocab, const int32_t* remap, int32_t* ids, cudaStream_t s) {
  launch_kernel("argmax_remap", argmax_remap_kernel, dim3(n), dim3(1024), s, logits, vocab, remap, ids);
}

void write_small_ids(int32_t* ids, const SmallInts& values, int n, cudaStream_t s) {
  launch_kernel("write_small_ids", write_small_ids_kernel, dim3(1), dim3(kSmallInts), s, ids, values, n);
}

void log_sum_exp(const float* logits, int n, int vocab, float* out, cudaStream_t s) {
  launch_kernel("log_sum_exp", log_sum_exp_kernel, dim3(n), dim3(512), s, logits, vocab, out);
}

}  // namespace frspec::cuda
