// y[n][rows] = x[n][cols] . W^T (+ bias): batch-1 GEMV streaming the weights with 16-byte loads, the same
// kernel for small verification batches (n <= 64, up to 8 tokens per weight pass), and a tiled GEMM for
// prefill. In the GEMV a block owns 4 rows; its warps split the columns, lanes take fixed chunks, and the
// partial sums are combined in a fixed order, so a token's output is bit-identical for every n <= 64.
#include <cstdlib>
#include <type_traits>

#include "cuda/cuda_util.cuh"
#include "cuda/kernels.h"
#include "cuda/weight_types.cuh"

namespace frspec::cuda {
namespace {

constexpr int kGemvWarps = 4;  // per block; the block's warps split the columns

// Rows per block, all in every warp: each x value loaded serves R rows. 4 for one or two tokens (more
// blocks for small matrices); 8 for the wider passes of verification, where x loads would otherwise limit.
template <class T, int NT>
constexpr int gemv_rows() { return NT >= 4 && T::kElems <= 16 ? 8 : 4; }
constexpr int64_t kTallRows = 8192;

// Where a GEMV launch's rows come from and where its results go (GemvTargets, kernels.h). Blocks
// [block_start[g], block_start[g+1]) own R consecutive rows of weight g; in kSwiglu mode every block owns
// R/2 rows of the gate (weight 0) and the same R/2 rows of up (weight 1). Rows past a weight's end are
// recomputed from its last row and never written.
struct GemvBlock {
  int g, row0, rows;  // the block's weight, its first (logical) row, that weight's rows
};
// a[g] for a run-time g in 0..2 by selects: indexing a kernel parameter array with a run-time index would
// copy the whole parameter struct to local memory (a stack frame per thread).
template <class V>
__device__ __forceinline__ V pick3(const V (&a)[3], int g) { return g == 0 ? a[0] : g == 1 ? a[1] : a[2]; }

template <int R>
__device__ __forceinline__ GemvBlock gemv_block(const GemvTargets& tg, size_t stride, const uint8_t* (&wr)[R]) {
  const int b = blockIdx.x;
  const int g = b >= tg.block_start[2] ? 2 : b >= tg.block_start[1] ? 1 : 0;
  const int local = b - (g == 0 ? 0 : g == 1 ? tg.block_start[1] : tg.block_start[2]);
  if (tg.mode == GemvTargets::kSwiglu) {
    constexpr int H = R / 2;
    const int row0 = local * H, rows = tg.rows[0];
#pragma unroll
    for (int r = 0; r < R; ++r) wr[r] = (r < H ? tg.w[0] : tg.w[1]) + size_t(min(row0 + r % H, rows - 1)) * stride;
    return {0, row0, rows};
  }
  const int row0 = local * R, rows = pick3(tg.rows, g);
  const uint8_t* w = pick3(tg.w, g);
#pragma unroll
  for (int r = 0; r < R; ++r) wr[r] = w + size_t(min(row0 + r, rows - 1)) * stride;
  return {g, row0, rows};
}

// Sums the warps' partial dot products in warp order and writes them: y = v + bias (kStore), y += v + bias
// (kAdd: the residual add, the same two roundings as a matmul then add()), or y = silu(g) * u (kSwiglu,
// the same expression as swiglu()). Output row stride = the weight's rows.
template <int R, int NT>
__device__ __forceinline__ void gemv_epilogue(const GemvTargets& tg, const GemvBlock& blk, const float (&partial)[kGemvWarps][R][NT]) {
  auto sum = [&](int r, int t) {
    float v = partial[0][r][t];
#pragma unroll
    for (int w = 1; w < kGemvWarps; ++w) v += partial[w][r][t];
    return v;
  };
  if (tg.mode == GemvTargets::kSwiglu) {
    constexpr int H = R / 2;
    for (int i = threadIdx.x; i < H * NT; i += blockDim.x) {
      const int r = i / NT, t = i % NT, row = blk.row0 + r;
      if (row >= blk.rows) continue;
      const float g = sum(r, t) + 0.f, u = sum(r + H, t) + 0.f;  // + 0.f: what a matmul without bias stores
      tg.y[0][size_t(t) * blk.rows + row] = g / (1.0f + expf(-g)) * u;
    }
    return;
  }
  const float* bias = pick3(tg.bias, blk.g);
  float* y = pick3(tg.y, blk.g);
  for (int i = threadIdx.x; i < R * NT; i += blockDim.x) {
    const int r = i / NT, t = i % NT, row = blk.row0 + r;
    if (row >= blk.rows) continue;
    const float v = sum(r, t) + (bias ? bias[row] : 0.f);
    float* out = y + size_t(t) * blk.rows + row;
    *out = tg.mode == GemvTargets::kAdd ? *out + v : v;
  }
}

// With programmatic dependent launch a GEMV's blocks may become resident while the previous kernel drains;
// they wait for it (pdl_wait) before reading x, but their weights do not depend on it: warp 0 first asks
// L2 for the first kPrefetchBytes of each of the block's rows, so the weight stream resumes during the
// previous kernel's tail instead of after it. Only the first kPrefetchBlocks blocks (about the first wave,
// the ones that can be resident that early) do it. A hint only (prefetch.global.L2): no result depends on it.
constexpr size_t kPrefetchBytes = 4096;
constexpr unsigned kPrefetchBlocks = 1024;
template <int R>
__device__ __forceinline__ void prefetch_weights(const GemvTargets& tg, const uint8_t* const (&wr)[R], size_t stride) {
  const size_t off = size_t(threadIdx.x) * 128, bytes = stride < kPrefetchBytes ? stride : kPrefetchBytes;
  if (!tg.prefetch || blockIdx.x >= kPrefetchBlocks || off >= bytes) return;
#pragma unroll
  for (int r = 0; r < R; ++r) asm volatile("prefetch.global.L2 [%0];" ::"l"(wr[r] + off));
}

// NORM GEMVs read rms_norm(x, norm_w) instead of x: they normalize x as they load it (rms_apply), with each
// token's scale from rms_scale (kNormThreads threads, the same order as rms_norm()), so the products see
// exactly the values rms_norm() would have stored. The scale comes from rms_scale_kernel, launched once
// before the GEMV (tg.norm_scale), or, without it, every block reduces sum(x^2) itself first: with ~9,500
// blocks for a 7B gate|up that is a serial prologue per block and ~135 MB of extra L2 reads per layer.
static_assert(32 * kGemvWarps == kNormThreads, "the GEMV block must reduce like rms_norm()");
template <int NT>
__device__ __forceinline__ void norm_scales(const GemvTargets& tg, const float* __restrict__ x, int cols, float (&scale)[NT]) {
  if (tg.norm_scale) {
#pragma unroll
    for (int t = 0; t < NT; ++t) scale[t] = tg.norm_scale[t];
    return;
  }
  __shared__ double scratch[32];
#pragma unroll
  for (int t = 0; t < NT; ++t) scale[t] = rms_scale(x + size_t(t) * cols, cols, tg.norm_eps, scratch);
}
// One block per token: its RMSNorm scale, by rms_norm()'s own reduction (same threads, same order).
__global__ void __launch_bounds__(kNormThreads) rms_scale_kernel(const float* __restrict__ x, int cols, float eps, float* __restrict__ scale) {
  pdl_wait();
  __shared__ double scratch[32];
  const float s = rms_scale(x + size_t(blockIdx.x) * cols, cols, eps, scratch);
  if (threadIdx.x == 0) scale[blockIdx.x] = s;
}
template <int N>
__device__ __forceinline__ void normalize(float (&xv)[N], const float* __restrict__ w, float scale) {
  const float4* wp = reinterpret_cast<const float4*>(w);
#pragma unroll
  for (int i = 0; i < N / 4; ++i) {
    const float4 g = __ldg(wp + i);
    xv[4 * i] = rms_apply(xv[4 * i], scale, g.x), xv[4 * i + 1] = rms_apply(xv[4 * i + 1], scale, g.y);
    xv[4 * i + 2] = rms_apply(xv[4 * i + 2], scale, g.z), xv[4 * i + 3] = rms_apply(xv[4 * i + 3], scale, g.w);
  }
}

// Resident blocks per SM the compiler must allow (__launch_bounds__' second argument): a batch-1 GEMV is
// bound by the weight bytes in flight, so occupancy is speed. The fused GEMV's extra state (targets, block
// map, prefetch, norm) had grown F16 at 1 token from 40 to 48 registers (12 -> 10 blocks of 128 threads)
// and Q8_0 from 55 to 70 (9 -> 7): session-2 GPU run 1 measured the GEMV-only 7B step 13% slower than the
// session-1 kernel. Hence the session-1 occupancies (ptxas register counts at f187673) where ptxas reaches
// them without spilling (checked with nvcc --resource-usage for sm_90).
template <class T, int NT, int R, bool NORM>
constexpr int gemv_min_blocks() {  // 1: no constraint (where a tighter one made ptxas spill)
  if constexpr (std::is_same_v<T, TQ8_0>) return NT == 1 && R == 4 ? 8 : 1;
  else if constexpr (T::kElems <= 8)  // F32 (4 per chunk), F16, BF16
    return NT == 1 ? (NORM && T::kElems == 4 ? 1 : 12) : NT == 2 ? (NORM ? 9 : 10) : 1;
  else return 1;
}

// One block computes R rows for NT tokens. Warp w takes chunk groups w, w+4, ... (32 chunks per
// group, one per lane), loads the chunk of each of the R rows, and for each run of the chunk loads x once
// per token and accumulates into acc[row][token]. Then lanes, then warps (in warp order) are summed.
template <class T, int NT, int R, bool NORM>
__global__ void __launch_bounds__(32 * kGemvWarps, (gemv_min_blocks<T, NT, R, NORM>()))
    gemv_kernel(GemvTargets tg, size_t stride, int cols, const float* __restrict__ x) {
  const uint8_t* wr[R];
  const GemvBlock blk = gemv_block<R>(tg, stride, wr);
  prefetch_weights<R>(tg, wr, stride);  // before the wait: the weights do not depend on the previous kernel
  pdl_wait();
  float nscale[NT];  // NORM: each token's RMSNorm scale, exactly as rms_norm() computes it
  if constexpr (NORM) norm_scales<NT>(tg, x, cols, nscale);
  constexpr int RL = T::kRL;
  __shared__ float partial[kGemvWarps][R][NT];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float acc[R][NT];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.f;
  const int nch = T::chunks(cols);
  for (int c = warp * 32 + lane; c < nch; c += 32 * kGemvWarps) {
    typename T::Raw raw[R];
#pragma unroll
    for (int r = 0; r < R; ++r) T::load(wr[r], cols, c, raw[r]);
    typename T::Aux aux[R];
#pragma unroll
    for (int r = 0; r < R; ++r) aux[r] = T::aux(raw[r], c);
#pragma unroll
    for (int run = 0; run < T::kRuns; ++run) {
      float w[R][RL], scale[R], mn[R];
#pragma unroll
      for (int r = 0; r < R; ++r) T::run(raw[r], aux[r], run, w[r], scale[r], mn[r]);
      const int s0 = T::start(c, run);
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        float xv[RL];
        const float4* xp = reinterpret_cast<const float4*>(x + size_t(t) * cols + s0);
#pragma unroll
        for (int i = 0; i < RL / 4; ++i) {
          const float4 v = __ldg(xp + i);
          xv[4 * i] = v.x, xv[4 * i + 1] = v.y, xv[4 * i + 2] = v.z, xv[4 * i + 3] = v.w;
        }
        if constexpr (NORM) normalize<RL>(xv, tg.norm_w + s0, nscale[t]);
        float xsum = 0.f;
        if constexpr (T::kHasMin) {
#pragma unroll
          for (int i = 0; i < RL; ++i) xsum += xv[i];
        }
#pragma unroll
        for (int r = 0; r < R; ++r) {
          float d = 0.f;
#pragma unroll
          for (int i = 0; i < RL; ++i) d = fmaf(w[r][i], xv[i], d);
          if constexpr (T::kScaled) acc[r][t] = fmaf(scale[r], d, acc[r][t]);
          else acc[r][t] += d;
          if constexpr (T::kHasMin) acc[r][t] = fmaf(-mn[r], xsum, acc[r][t]);
        }
      }
    }
  }
  if (warp == 0) {  // float types whose cols are not whole chunks
    for (int i = nch * T::kElems + lane; i < cols; i += 32)
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const float wv = T::elem(wr[r], cols, i);
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          const float xi = x[size_t(t) * cols + i];
          acc[r][t] = fmaf(wv, NORM ? rms_apply(xi, nscale[t], tg.norm_w[i]) : xi, acc[r][t]);
        }
      }
  }
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const float v = warp_sum(acc[r][t]);
      if (lane == 0) partial[warp][r][t] = v;
    }
  __syncthreads();
  gemv_epilogue<R, NT>(tg, blk, partial);
}

// Quantized weights: the same block/warp/lane layout, but activations are quantized on the fly to 8 bits
// per run of 16 (scale = max|x| / 127 over the 32-element block the run belongs to: the partner half comes
// from the neighbouring lane, which holds the other half of the same blocks) and multiplied with the
// 8-bit quants by dp4a, four products per instruction. Each token's quantization depends only on x, so
// results stay bit-identical for every n <= 64.
__device__ __forceinline__ int round_to_int(float v) {  // nearest, ties to even, for |v| < 2^22
  return __float_as_int(v + 12582912.0f) - 0x4B400000;
}
__device__ __forceinline__ int pack4(int a, int b, int c, int d) {
  return int(__byte_perm(__byte_perm(uint32_t(a), uint32_t(b), 0x0040), __byte_perm(uint32_t(c), uint32_t(d), 0x0040), 0x5410));
}

template <class T, int NT, int R, bool NORM>
__global__ void __launch_bounds__(32 * kGemvWarps, (gemv_min_blocks<T, NT, R, NORM>()))
    gemv_q_kernel(GemvTargets tg, size_t stride, int cols, const float* __restrict__ x) {
  const uint8_t* wr[R];
  const GemvBlock blk = gemv_block<R>(tg, stride, wr);
  prefetch_weights<R>(tg, wr, stride);  // before the wait: the weights do not depend on the previous kernel
  pdl_wait();
  float nscale[NT];  // NORM: each token's RMSNorm scale, exactly as rms_norm() computes it
  if constexpr (NORM) norm_scales<NT>(tg, x, cols, nscale);
  __shared__ float partial[kGemvWarps][R][NT];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float acc[R][NT];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.f;
  const int nch = T::chunks(cols);  // even, and chunks c, c^1 sit in lanes l, l^1: both in range or neither
  for (int c = warp * 32 + lane; c < nch; c += 32 * kGemvWarps) {
    const unsigned pair_mask = __activemask();
    typename T::Raw raw[R];
#pragma unroll
    for (int r = 0; r < R; ++r) T::load(wr[r], cols, c, raw[r]);
    typename T::Aux aux[R];
#pragma unroll
    for (int r = 0; r < R; ++r) aux[r] = T::aux(raw[r], c);
#pragma unroll
    for (int run = 0; run < T::kQRuns; ++run) {
      int wq[R][4];
      float scale[R], mn[R];
#pragma unroll
      for (int r = 0; r < R; ++r) T::qrun(raw[r], aux[r], run, wq[r], scale[r], mn[r]);
      const int s0 = T::qstart(c, run);
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        float xv[16];
        const float4* xp = reinterpret_cast<const float4*>(x + size_t(t) * cols + s0);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const float4 v = __ldg(xp + i);
          xv[4 * i] = v.x, xv[4 * i + 1] = v.y, xv[4 * i + 2] = v.z, xv[4 * i + 3] = v.w;
        }
        if constexpr (NORM) normalize<16>(xv, tg.norm_w + s0, nscale[t]);
        float amax = 0.f;
#pragma unroll
        for (int i = 0; i < 16; ++i) amax = fmaxf(amax, fabsf(xv[i]));
        amax = fmaxf(amax, __shfl_xor_sync(pair_mask, amax, 1));
        const float inv = amax > 0.f ? 127.f / amax : 0.f, dx = amax * (1.f / 127.f);
        int xq[4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
          xq[i] = pack4(round_to_int(xv[4 * i] * inv), round_to_int(xv[4 * i + 1] * inv), round_to_int(xv[4 * i + 2] * inv),
                        round_to_int(xv[4 * i + 3] * inv));
        float xsum = 0.f;
        if constexpr (T::kHasMin) {
#pragma unroll
          for (int i = 0; i < 16; ++i) xsum += xv[i];
        }
        int qsum = 0;
        if constexpr (T::kQOffset != 0) {
#pragma unroll
          for (int i = 0; i < 4; ++i) qsum = __dp4a(xq[i], 0x01010101, qsum);
        }
#pragma unroll
        for (int r = 0; r < R; ++r) {
          int isum = 0;
#pragma unroll
          for (int i = 0; i < 4; ++i) isum = __dp4a(wq[r][i], xq[i], isum);
          if constexpr (T::kQOffset != 0) isum -= T::kQOffset * qsum;
          acc[r][t] = fmaf(scale[r] * dx, float(isum), acc[r][t]);
          if constexpr (T::kHasMin) acc[r][t] = fmaf(-mn[r], xsum, acc[r][t]);
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const float v = warp_sum(acc[r][t]);
      if (lane == 0) partial[warp][r][t] = v;
    }
  __syncthreads();
  gemv_epilogue<R, NT>(tg, blk, partial);
}

// Any alignment, one element at a time (x rows not 16-byte aligned: cols % 4 != 0 or an offset pointer).
template <class T>
__global__ void gemv_generic_kernel(const uint8_t* __restrict__ W, size_t stride, int rows, int cols,
                                    const float* __restrict__ x, float* __restrict__ y, int ldy,
                                    const float* __restrict__ bias) {
  pdl_wait();
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * 4 + (threadIdx.x >> 5);
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
  pdl_wait();
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

template <class T>
constexpr bool is_quantized() { return requires { T::kQRuns; }; }  // the types read as runs of 8-bit quants

// One pass of NT tokens over the job's weights: tokens t0 .. t0+NT-1 of x and of every output.
template <class T, int NT>
void launch_gemv(const GemvJob& job, const float* x, int t0, cudaStream_t s) {
  const Weight& w0 = *job.w[0];
  GemvTargets tg{};
  tg.mode = job.mode;
  tg.norm_w = job.norm_w;
  tg.norm_eps = job.norm_eps;
  tg.norm_scale = job.norm_w && job.norm_scale ? job.norm_scale + t0 : nullptr;
  tg.prefetch = weight_prefetch();
  for (int g = 0; g < job.count; ++g) {
    tg.w[g] = static_cast<const uint8_t*>(job.w[g]->data);
    tg.rows[g] = int(job.w[g]->rows);
    tg.y[g] = job.y[g] + size_t(t0) * (job.mode == GemvTargets::kSwiglu ? w0.rows : job.w[g]->rows);
    tg.bias[g] = job.bias[g];
  }
  const float* xt = x + size_t(t0) * w0.cols;
  auto go = [&]<int R>(auto kernel, const char* what) {
    // Blocks per weight: R rows each (kSwiglu: R/2 rows of gate and up); unused groups start past the end.
    int start = 0;
    for (int g = 0; g < 3; ++g) {
      tg.block_start[g] = start;
      if (job.mode == GemvTargets::kSwiglu) start += g == 0 ? int(ceil_div(tg.rows[0], R / 2)) : 0;
      else if (g < job.count) start += int(ceil_div(tg.rows[g], R));
    }
    tg.block_start[3] = start;
    for (int g = job.mode == GemvTargets::kSwiglu ? 1 : job.count; g < 3; ++g) tg.block_start[g] = start;
    launch_kernel(what, kernel, dim3(start), dim3(32 * kGemvWarps), s, tg, w0.row_bytes, int(w0.cols), xt);
  };
  constexpr int R = gemv_rows<T, NT>();
  auto pick = [&]<bool NORM>() {
    if constexpr (is_quantized<T>()) {
      // Tall matrices (FFN, LM head) have blocks to spare: at 1-2 tokens, 8 rows per block halve the cost of
      // quantizing x. Which R a launch gets depends on shapes only, never on n (and a row's arithmetic does
      // not depend on R).
      if constexpr (R == 4 && NT <= 2) {
        if (w0.rows >= kTallRows) return go.template operator()<8>(gemv_q_kernel<T, NT, 8, NORM>, "gemv_q");
      }
      go.template operator()<R>(gemv_q_kernel<T, NT, R, NORM>, "gemv_q");
    } else {
      go.template operator()<R>(gemv_kernel<T, NT, R, NORM>, "gemv");
    }
  };
  if (job.norm_w) pick.template operator()<true>();
  else pick.template operator()<false>();
}

// Tokens in passes of 8, 4, 2, 1: each pass reads the weights once.
template <class T>
void run_gemv(const GemvJob& job, const float* x, int n, cudaStream_t s) {
  for (int t0 = 0; t0 < n;) {
    const int left = n - t0;
    if (left >= 8) launch_gemv<T, 8>(job, x, t0, s), t0 += 8;
    else if (left >= 4) launch_gemv<T, 4>(job, x, t0, s), t0 += 4;
    else if (left >= 2) launch_gemv<T, 2>(job, x, t0, s), t0 += 2;
    else launch_gemv<T, 1>(job, x, t0, s), t0 += 1;
  }
}

}  // namespace

// Off by default: session-2 GPU run 1 (H200) measured the 7B full step 1% faster without it, for F16
// and Q8_0 alike. FRSPEC_CUDA_PREFETCH=1 turns it on (cuda_bench reports both).
bool& weight_prefetch() {
  static bool on = std::getenv("FRSPEC_CUDA_PREFETCH") != nullptr;
  return on;
}

bool& norm_in_gemv() {
  static bool on = std::getenv("FRSPEC_CUDA_NORM_IN_GEMV") != nullptr;
  return on;
}

namespace {

bool gemv_aligned(const Weight& w, const float* x) { return w.cols % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0; }

}  // namespace

void matmul_gemv(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t s) {
  with_type(w.type, [&]<class T>() {
    if (!gemv_aligned(w, x)) {
      const dim3 grid(ceil_div(w.rows, 4), n);
      launch_kernel("gemv_generic", gemv_generic_kernel<T>, dim3(grid), dim3(32 * kGemvWarps), s, static_cast<const uint8_t*>(w.data), w.row_bytes,
                                                               int(w.rows), int(w.cols), x, y, int(w.rows), bias);
      return;
    }
    GemvJob job;
    job.w[0] = &w, job.y[0] = y, job.bias[0] = bias;
    run_gemv<T>(job, x, n, s);
  });
}

bool gemv_fusable(const GemvJob& job, const float* x, int n) {
  if (n < 1 || n > kMaxVerifyTokens || job.count < 1 || job.count > 3) return false;
  for (int g = 0; g < job.count; ++g) {
    const Weight& w = *job.w[g];
    if (!w.data || w.type != job.w[0]->type || w.cols != job.w[0]->cols || w.row_bytes != job.w[0]->row_bytes ||
        !gemv_aligned(w, x))
      return false;
  }
  if (job.norm_w && reinterpret_cast<uintptr_t>(job.norm_w) % 16 != 0) return false;
  return job.mode != GemvTargets::kSwiglu || (job.count == 2 && job.w[1]->rows == job.w[0]->rows);
}

void matmul_fused(const GemvJob& job, const float* x, int n, cudaStream_t s) {
  if (job.norm_w && job.norm_scale) {
    const int cols = int(job.w[0]->cols);
    launch_kernel("rms_scale", rms_scale_kernel, dim3(n), dim3(kNormThreads), s, x, cols, job.norm_eps, job.norm_scale);
  }
  with_type(job.w[0]->type, [&]<class T>() { run_gemv<T>(job, x, n, s); });
}

void matmul_gemm(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t s) {
  with_type(w.type, [&]<class T>() {
    const dim3 grid(ceil_div(w.rows, kBM), ceil_div(n, kBN));
    launch_kernel("gemm", gemm_kernel<T>, dim3(grid), dim3(256), s, static_cast<const uint8_t*>(w.data), w.row_bytes, int(w.rows), int(w.cols), x,
                                        n, y, bias);
  });
}

void matmul(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t s) {
  if (n <= kMaxVerifyTokens) matmul_gemv(w, x, y, n, bias, s);
  else if (!matmul_tc(w, x, y, n, bias, s)) matmul_gemm(w, x, y, n, bias, s);
}

}  // namespace frspec::cuda
