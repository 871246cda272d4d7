// Reductions over logits: argmax per row and the top-k of one row, both on the GPU. Ties go to the smaller
// token id and NaN counts as -inf, so results are deterministic and match a stable CPU sort.
#include <algorithm>
#include <climits>
#include <cstdlib>

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

// Top-k (k <= kFusedTopK) in one launch. Every warp of every block takes segments of kSeg logits (warp_topk,
// the same per-warp selection as topk_pass_kernel) and writes its best k to buf A; the last block to finish
// (a counter, reset by that block for the next launch) merges the candidates with its warps, pass after pass
// (A -> B -> A ...), until one segment remains, whose best k it writes with the FR-Spec remap applied.
// The result is exact (the k best under a total order), so it equals the multi-pass path's.
constexpr int kFusedWarps = 16;
__device__ __forceinline__ void warp_topk(const float* vals, const int32_t* ids, int count, int start, int k,
                                          float* out_vals, int32_t* out_ids, const int32_t* remap) {
  const int lane = threadIdx.x & 31;
  float v[kPer];
  int id[kPer];
#pragma unroll
  for (int p = 0; p < kPer; ++p) {
    const int pos = start + p * 32 + lane;
    // Candidates written by other blocks of this launch: read past L1 (__ldcg).
    v[p] = pos < count ? (ids ? __ldcg(vals + pos) : clean(vals[pos])) : -INFINITY;
    id[p] = pos < count ? (ids ? __ldcg(ids + pos) : pos) : INT_MAX;
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
    if (lane == 0) out_vals[r] = bv, out_ids[r] = remap ? remap[bi] : bi;
    if (id[0] == bi && v[0] == bv) {
#pragma unroll
      for (int p = 0; p + 1 < kPer; ++p) v[p] = v[p + 1], id[p] = id[p + 1];
      v[kPer - 1] = -INFINITY;
      id[kPer - 1] = INT_MAX;
    }
  }
}

__global__ void __launch_bounds__(32 * kFusedWarps)
    topk_fused_kernel(const float* __restrict__ logits, int vocab, int k, float* buf_vals0, int32_t* buf_ids0,
                      float* buf_vals1, int32_t* buf_ids1, unsigned* counter, float* __restrict__ out_vals,
                      int32_t* __restrict__ out_ids, const int32_t* __restrict__ remap) {
  pdl_wait();
  __shared__ bool last;
  const int warp = threadIdx.x >> 5;
  const int segs = (vocab + kSeg - 1) / kSeg;
  for (int w = blockIdx.x * kFusedWarps + warp; w < segs; w += gridDim.x * kFusedWarps)
    warp_topk(logits, nullptr, vocab, w * kSeg, k, buf_vals0 + size_t(w) * k, buf_ids0 + size_t(w) * k, nullptr);
  __threadfence();  // this block's candidates are visible before it is counted
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(counter, 1u) == gridDim.x - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  float *in_vals = buf_vals0, *next_vals = buf_vals1;
  int32_t *in_ids = buf_ids0, *next_ids = buf_ids1;
  int count = segs * k;
  for (;;) {
    const int n_seg = (count + kSeg - 1) / kSeg;
    if (n_seg == 1) {
      if (warp == 0) warp_topk(in_vals, in_ids, count, 0, k, out_vals, out_ids, remap);
      break;
    }
    for (int w = warp; w < n_seg; w += kFusedWarps)
      warp_topk(in_vals, in_ids, count, w * kSeg, k, next_vals + size_t(w) * k, next_ids + size_t(w) * k, nullptr);
    __syncthreads();  // also orders this block's global writes before the next pass reads them
    count = n_seg * k;
    float* tv = in_vals; in_vals = next_vals; next_vals = tv;
    int32_t* ti = in_ids; in_ids = next_ids; next_ids = ti;
  }
  if (threadIdx.x == 0) *counter = 0;  // ready for the next launch (stream order)
}

// Top-k (k <= kFusedTopK, vocab >= kOneBlockThreads) by one block, with a threshold instead of k rounds of
// warp-wide pops per merge level (the one-kernel merge above spends ~15 us on a 32k row, mostly in its three
// serial levels of k rounds each). Thread t scans elements t, t + 1024, ... (coalesced, from L2: the row was
// just written) for its best; each warp's best is a real element (every thread has one), so the k-th best
// of the 32 warp bests, L, has at least k elements at or above it. A second scan collects those elements in
// shared memory, and each candidate's rank is the number of candidates better than it: ranks are distinct
// (ids are), and the k ranked first are exactly the top k in order. If more than kCandidates pass (only for
// adversarial rows: L is the k-th of 32 interleaved maxima), the block falls back to the exact warp-merge
// passes over `scratch`. Same order as every other top-k here, so the same results.
constexpr int kOneBlockThreads = 1024, kCandidates = 512;  // worst case: 512 ranks of 512 compares
__global__ void __launch_bounds__(kOneBlockThreads)
    topk_block_kernel(const float* __restrict__ logits, int vocab, int k, float* buf_vals0, int32_t* buf_ids0,
                      float* buf_vals1, int32_t* buf_ids1, float* __restrict__ out_vals, int32_t* __restrict__ out_ids,
                      const int32_t* __restrict__ remap) {
  pdl_wait();
  __shared__ float cv[kCandidates];
  __shared__ int ci[kCandidates];
  __shared__ float wv[32];
  __shared__ int wi[32];
  __shared__ float lv;
  __shared__ int li, count;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float bv = -INFINITY;
  int bi = INT_MAX;
#pragma unroll 8
  for (int i = threadIdx.x; i < vocab; i += kOneBlockThreads) {  // unrolled: loads in flight together
    const float v = clean(logits[i]);
    if (better(v, i, bv, bi)) bv = v, bi = i;
  }
  warp_best(bv, bi);
  if (lane == 0) wv[warp] = bv, wi[warp] = bi;
  if (threadIdx.x == 0) count = 0;
  __syncthreads();
  if (warp == 0) {  // L = the k-th best warp best: the one with exactly k - 1 better
    const float v = wv[lane];
    const int id = wi[lane];
    int rank = 0;
    for (int j = 0; j < 32; ++j) rank += better(wv[j], wi[j], v, id);
    if (rank == k - 1) lv = v, li = id;
  }
  __syncthreads();
  const float tv = lv;
  const int ti = li;
#pragma unroll 8
  for (int i = threadIdx.x; i < vocab; i += kOneBlockThreads) {
    const float v = clean(logits[i]);
    if (!better(tv, ti, v, i)) {  // at or above L
      const int slot = atomicAdd(&count, 1);
      if (slot < kCandidates) cv[slot] = v, ci[slot] = i;
    }
  }
  __syncthreads();
  const int c = count;
  if (c <= kCandidates) {
    for (int j = threadIdx.x; j < c; j += kOneBlockThreads) {
      const float v = cv[j];
      const int id = ci[j];
      int rank = 0;
      for (int m = 0; m < c; ++m) rank += better(cv[m], ci[m], v, id);
      if (rank < k) out_vals[rank] = v, out_ids[rank] = remap ? remap[id] : id;
    }
    return;
  }
  // Fallback: every warp takes segments of the row, then the warps merge pass after pass (A -> B -> A ...).
  const int segs = (vocab + kSeg - 1) / kSeg;
  constexpr int kWarpsHere = kOneBlockThreads / 32;
  for (int w = warp; w < segs; w += kWarpsHere)
    warp_topk(logits, nullptr, vocab, w * kSeg, k, buf_vals0 + size_t(w) * k, buf_ids0 + size_t(w) * k, nullptr);
  __syncthreads();  // orders the block's global writes before the next pass reads them
  float *in_vals = buf_vals0, *next_vals = buf_vals1;
  int32_t *in_ids = buf_ids0, *next_ids = buf_ids1;
  int n = segs * k;
  for (;;) {
    const int n_seg = (n + kSeg - 1) / kSeg;
    if (n_seg == 1) {
      if (warp == 0) warp_topk(in_vals, in_ids, n, 0, k, out_vals, out_ids, remap);
      return;
    }
    for (int w = warp; w < n_seg; w += kWarpsHere)
      warp_topk(in_vals, in_ids, n, w * kSeg, k, next_vals + size_t(w) * k, next_ids + size_t(w) * k, nullptr);
    __syncthreads();
    n = n_seg * k;
    float* t1 = in_vals; in_vals = next_vals; next_vals = t1;
    int32_t* t2 = in_ids; in_ids = next_ids; next_ids = t2;
  }
}

__global__ void remap_kernel(int32_t* ids, int k, const int32_t* __restrict__ map) {
  pdl_wait();
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < k) ids[i] = map[ids[i]];
}

int segments(int count) { return (count + kSeg - 1) / kSeg; }

// FRSPEC_CUDA_TOPK_GRID=1: the many-block one-kernel top-k (the previous way) instead of the one-block one.
bool topk_grid() {
  static const bool on = std::getenv("FRSPEC_CUDA_TOPK_GRID") != nullptr;
  return on;
}

}  // namespace

void argmax(const float* logits, int n, int vocab, int32_t* out_ids, cudaStream_t s) {
  launch_kernel("argmax", argmax_kernel, dim3(n), dim3(1024), s, logits, vocab, out_ids);
}

size_t topk_scratch_floats(int vocab, int k) { return 4 * size_t(segments(vocab)) * k; }

void topk(const float* logits, int vocab, int k, float* scratch, int32_t* out_ids, float* out_vals, cudaStream_t s,
          unsigned* counter, const int32_t* remap) {
  const size_t half = 2 * size_t(segments(vocab)) * k;  // two ping-pong buffers of (vals, ids)
  float* buf_vals[2] = {scratch, scratch + half};
  int32_t* buf_ids[2] = {reinterpret_cast<int32_t*>(scratch + half / 2), reinterpret_cast<int32_t*>(scratch + half + half / 2)};
  if (k <= kFusedTopK && vocab >= kOneBlockThreads && !topk_grid()) {
    launch_kernel("topk_block", topk_block_kernel, dim3(1), dim3(kOneBlockThreads), s, logits, vocab, k, buf_vals[0], buf_ids[0],
                  buf_vals[1], buf_ids[1], out_vals, out_ids, remap);
    return;
  }
  if (counter && k <= kFusedTopK) {
    const int segs = segments(vocab);
    const int blocks = std::min((segs + kFusedWarps - 1) / kFusedWarps, 128);
    launch_kernel("topk_fused", topk_fused_kernel, dim3(blocks), dim3(32 * kFusedWarps), s, logits, vocab, k, buf_vals[0],
                  buf_ids[0], buf_vals[1], buf_ids[1], counter, out_vals, out_ids, remap);
    return;
  }
  const float* in_vals = logits;
  const int32_t* in_ids = nullptr;
  int count = vocab, which = 0;
  for (;;) {
    const int warps = segments(count);
    const bool last = warps == 1;
    float* ov = last ? out_vals : buf_vals[which];
    int32_t* oi = last ? out_ids : buf_ids[which];
    launch_kernel("topk", topk_pass_kernel, dim3(ceil_div(warps, kWarps)), dim3(32 * kWarps), s, in_vals, in_ids, count, k, ov, oi);
    if (last) {
      if (remap) remap_ids(out_ids, k, remap, s);
      return;
    }
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
