// Per-row log-sum-exp on the GPU: a draft tree's node scores are cumulative log-probabilities
// (logit - lse), so a tree level reads back k ids, k logits and one lse per row instead of the rows.
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

}  // namespace

void log_sum_exp(const float* logits, int n, int vocab, float* out, cudaStream_t s) {
  launch_kernel("log_sum_exp", log_sum_exp_kernel, dim3(n), dim3(512), s, logits, vocab, out);
}

}  // namespace frspec::cuda
