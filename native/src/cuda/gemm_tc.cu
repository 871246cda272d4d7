// Tensor-core prefill GEMM (n > kMaxVerifyTokens tokens only): y[n][rows] = x[n][cols] . W^T (+ bias) with
// mma.sync m16n8k16 (F16 or BF16 operands, F32 accumulation; sm_80 and newer).
//
// x is converted once per matmul to F16 (BF16 for BF16 weights) into a per-stream scratch buffer whose rows
// are zero-padded to a multiple of 32 columns. A block computes 128 tokens x BN weight rows (BN = 128, or 64
// when 128 would leave SMs idle); K advances 32 columns per stage through a kStages-deep cp.async pipeline
// of 16-byte copies. F16/BF16 weights are copied as they are; Q8_0 (repacked: qs[cols] | f16 d[cols/32],
// weight_layout.h) copies its quants and scale word, and each stage is dequantized to F16 in shared memory
// (d * q rounded once) before the MMAs; Q4_K/Q6_K rows are dequantized (elem()'s arithmetic, rounded to
// F16) from global memory into the tile each stage, without cp.async. 8 warps as 2 (tokens) x 4 (rows),
// warp tile 64 x BN/4.
//
// Shared tiles are rows of 32 halves (64 bytes, four 16-byte chunks); chunk c of row r is stored at chunk
// c ^ ((r >> 1) & 3), so the eight rows one ldmatrix phase reads (and the cp.async writes of eight
// consecutive threads) fall in eight different 16-byte bank groups.
//
// Numerics differ from the F32 paths (x rounded to F16/BF16; quantized weights rounded to F16), as in
// llama.cpp/cuBLAS: this is prefill only, which plain and speculative decoding share, so their outputs
// stay identical to each other. FRSPEC_CUDA_NO_TC_GEMM=1 (or cuda::tc_gemm() = false) falls back to the F32 GEMM.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <type_traits>
#include <unordered_map>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_util.cuh"
#include "cuda/kernels.h"
#include "cuda/weight_types.cuh"

namespace frspec::cuda {
namespace {

constexpr int kBM = 128, kBK = 32, kStages = 4, kThreads = 256;
constexpr int kTileHalves = kBK;  // halves per shared row

__device__ __forceinline__ int swz(int row, int chunk) { return row * kTileHalves + ((chunk ^ ((row >> 1) & 3)) << 3); }

__device__ __forceinline__ uint32_t smem_addr(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }

// 16 bytes global -> shared; bytes == 0 writes zeros and reads nothing (K past the end).
__device__ __forceinline__ void cp16(void* dst, const void* src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void cp4(void* dst, const void* src) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(smem_addr(dst)), "l"(src));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

template <bool BF>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (BF) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Shared memory of one block (bytes): A stages, then B stages (F16/BF16) or raw Q8_0 stages + one F16 tile.
constexpr int kAStageBytes = kBM * kBK * 2;
template <int BN>
constexpr int kBStageBytes = BN * kBK * 2;
template <int BN>
constexpr int kQStageBytes = BN * kBK + BN * 4;  // quants, then one 4-byte scale word per row
// How a weight type reaches the F16/BF16 B tile: copied as it is (F16/BF16), copied raw and dequantized per
// stage in shared memory (Q8_0), or dequantized from global memory straight into the tile (Q4_K, Q6_K: their
// 32-element runs share one scale, decoded once per 8 elements).
enum class BPath { kDirect, kQ8Stage, kDequant };
template <class T>
constexpr BPath kBPath = std::is_same_v<T, TQ8_0>                                  ? BPath::kQ8Stage
                         : std::is_same_v<T, TF16> || std::is_same_v<T, TBF16> ? BPath::kDirect
                                                                                 : BPath::kDequant;
template <class T, int BN>
constexpr int kSmemBytes = kStages * kAStageBytes + (kBPath<T> == BPath::kQ8Stage ? kStages * kQStageBytes<BN> + kBStageBytes<BN>
                                                     : kBPath<T> == BPath::kDequant ? kBStageBytes<BN>
                                                                                    : kStages * kBStageBytes<BN>);

// 8 consecutive dequantized elements k0 .. k0+7 (k0 % 8 == 0) of a row, as elem() computes them: element by
// element for the types without a faster form below (Q4_0 .. Q5_1, IQ4_NL, Q5_K, IQ4_XS).
template <class T>
__device__ __forceinline__ void dequant8(T, const uint8_t* row, int cols, int k0, float (&v)[8]) {
#pragma unroll
  for (int i = 0; i < 8; ++i) v[i] = T::elem(row, cols, k0 + i);
}
// The same for Q4_K / Q6_K, sharing the scale decode.
__device__ __forceinline__ void dequant8(TQ4_K, const uint8_t* row, int, int k0, float (&v)[8]) {
  const uint8_t* blk = row + 144 * (k0 / 256);
  const int k = k0 % 256, j = k / 64, hi = (k % 64) / 32, l = k % 32;
  const float d = h2f(reinterpret_cast<const uint16_t*>(blk)[0]), dmin = h2f(reinterpret_cast<const uint16_t*>(blk)[1]);
  int sc, m;
  q4k_scale_min(2 * j + hi, blk + 4, sc, m);
  const uint2 q = *reinterpret_cast<const uint2*>(blk + 16 + 32 * j + l);
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const uint32_t b = ((i < 4 ? q.x : q.y) >> (8 * (i % 4))) & 0xff;
    v[i] = d * sc * float(hi ? (b >> 4) : (b & 0xF)) - dmin * m;
  }
}
__device__ __forceinline__ void dequant8(TQ6_K, const uint8_t* row, int cols, int k0, float (&v)[8]) {
  const int nb = cols / 256, sb = k0 / 256, k = k0 % 256, n = k / 128, r = k % 128, part = r / 32, l = r % 32;
  const uint2 ql = *reinterpret_cast<const uint2*>(row + sb * 128 + n * 64 + (part % 2) * 32 + l);
  const uint2 qh = *reinterpret_cast<const uint2*>(row + nb * 128 + sb * 64 + n * 32 + l);
  const int8_t* sc = reinterpret_cast<const int8_t*>(row + nb * 192 + sb * 16 + n * 8);
  const float d = h2f(reinterpret_cast<const uint16_t*>(row + nb * 208)[sb]);
  const float scale = float(sc[l / 16 + 2 * part]);
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const uint32_t lo = ((i < 4 ? ql.x : ql.y) >> (8 * (i % 4))) & 0xff, h = ((i < 4 ? qh.x : qh.y) >> (8 * (i % 4))) & 0xff;
    const uint32_t lo4 = part >= 2 ? lo >> 4 : lo & 0xF;
    const int q = int(lo4 | (((h >> (2 * part)) & 3) << 4)) - 32;
    v[i] = d * scale * float(q);
  }
}

// x (F32, n x cols) -> xh (F16 or BF16, n x kp, zero past cols). cols % 8 == 0, x 16-byte aligned.
template <bool BF>
__global__ void to_half_kernel(const float* __restrict__ x, int n, int cols, int kp, uint16_t* __restrict__ xh) {
  pdl_wait();
  const int per_row = kp / 8;
  const size_t total = size_t(n) * per_row;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < total; i += size_t(gridDim.x) * blockDim.x) {
    const size_t m = i / per_row;
    const int k = int(i % per_row) * 8;
    float v[8] = {};
    if (k < cols) {
      const float4* p = reinterpret_cast<const float4*>(x + m * cols + k);
      const float4 a = p[0], b = p[1];
      v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
    }
    uint32_t w[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if constexpr (BF) {
        const __nv_bfloat162 h = __floats2bfloat162_rn(v[2 * j], v[2 * j + 1]);
        w[j] = *reinterpret_cast<const uint32_t*>(&h);
      } else {
        const __half2 h = __floats2half2_rn(v[2 * j], v[2 * j + 1]);
        w[j] = *reinterpret_cast<const uint32_t*>(&h);
      }
    }
    *reinterpret_cast<uint4*>(xh + m * kp + k) = make_uint4(w[0], w[1], w[2], w[3]);
  }
}

// BF: BF16 operands (BF16 weights), else F16. T: the weight type (kBPath). kp: xh's row length (cols rounded
// up to 32); cols % 8 == 0 (quantized types: cols % 32 == 0, their block size).
template <bool BF, class T, int BN>
__global__ void __launch_bounds__(kThreads)
    gemm_tc_kernel(const uint16_t* __restrict__ xh, int n, int kp, const uint8_t* __restrict__ W, size_t stride, int rows,
                   int cols, float* __restrict__ y, const float* __restrict__ bias) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800  // cp.async, BF16 mma: sm_80+ (sm_75 uses the F32 GEMM)
  constexpr int WN = BN / 4 / 8;  // n8 tiles per warp (4 or 2)
  constexpr BPath kPath = kBPath<T>;
  constexpr bool Q8 = kPath == BPath::kQ8Stage;
  static_assert(WN % 2 == 0, "B fragments come two n8 tiles per ldmatrix.x4");
  extern __shared__ __align__(16) uint8_t smem[];
  uint16_t* sa = reinterpret_cast<uint16_t*>(smem);
  uint8_t* after_a = smem + kStages * kAStageBytes;
  uint16_t* sb = reinterpret_cast<uint16_t*>(after_a);                                        // F16/BF16 stages
  uint16_t* bh = reinterpret_cast<uint16_t*>(after_a + (Q8 ? kStages * kQStageBytes<BN> : 0));  // the F16 tile (quantized)
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wm = warp >> 2, wn = warp & 3;
  const int m0 = blockIdx.y * kBM, n0 = blockIdx.x * BN;
  const int ktiles = kp / kBK;
  pdl_wait();

  // Rows past n (tokens) or rows (weights) load the last valid row: their results are never stored.
  auto load_stage = [&](int kt, int slot) {
    const int k0 = kt * kBK;
    uint16_t* a = sa + slot * (kBM * kBK);
#pragma unroll
    for (int i = 0; i < (kBM * 4) / kThreads; ++i) {
      const int id = tid + i * kThreads, r = id >> 2, c = id & 3;
      const int m = min(m0 + r, n - 1);
      cp16(a + swz(r, c), xh + size_t(m) * kp + k0 + c * 8, 16);
    }
    if constexpr (kPath == BPath::kDequant) {
      // nothing to copy: dequant_global fills the tile after the wait
    } else if constexpr (!Q8) {
      uint16_t* b = sb + slot * (BN * kBK);
#pragma unroll
      for (int i = 0; i < (BN * 4 + kThreads - 1) / kThreads; ++i) {
        const int id = tid + i * kThreads;
        if (id >= BN * 4) break;
        const int r = id >> 2, c = id & 3, k = k0 + c * 8;
        const uint8_t* row = W + size_t(min(n0 + r, rows - 1)) * stride;
        cp16(b + swz(r, c), k < cols ? row + size_t(k) * 2 : row, k < cols ? 16 : 0);
      }
    } else {
      uint8_t* q = after_a + slot * kQStageBytes<BN>;
      for (int id = tid; id < BN * 2; id += kThreads) {
        const int r = id >> 1, h = id & 1;
        cp16(q + r * kBK + h * 16, W + size_t(min(n0 + r, rows - 1)) * stride + k0 + h * 16, 16);
      }
      // The f16 scale of block kt sits in the 4-byte word kt/2 of d[] (d starts at byte cols, a multiple of 32).
      if (tid < BN) cp4(q + BN * kBK + tid * 4, W + size_t(min(n0 + tid, rows - 1)) * stride + cols + 4 * (kt >> 1));
    }
  };
  // Q8: raw stage -> F16 tile bh, 8 elements (one 16-byte chunk) per step.
  auto dequant_stage = [&](int kt, int slot) {
    const uint8_t* q = after_a + slot * kQStageBytes<BN>;
    for (int id = tid; id < BN * 4; id += kThreads) {
      const int r = id >> 2, c = id & 3;
      const uint2 qs = *reinterpret_cast<const uint2*>(q + r * kBK + c * 8);
      const uint32_t sw = *reinterpret_cast<const uint32_t*>(q + BN * kBK + r * 4);
      const float d = h2f(uint16_t(kt & 1 ? sw >> 16 : sw & 0xffff));
      uint32_t w[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const uint32_t src = j < 2 ? qs.x : qs.y;
        const int sh = (j & 1) * 16;
        const float lo = d * float(int8_t(src >> sh)), hi = d * float(int8_t(src >> (sh + 8)));
        const __half2 h = __floats2half2_rn(lo, hi);
        w[j] = *reinterpret_cast<const uint32_t*>(&h);
      }
      *reinterpret_cast<uint4*>(bh + swz(r, c)) = make_uint4(w[0], w[1], w[2], w[3]);
    }
  };

  // Q4_K / Q6_K: tile kt's rows straight from global memory -> F16 tile bh, 8 elements per step.
  auto dequant_global = [&](int kt) {
    if constexpr (kPath == BPath::kDequant) {
      for (int id = tid; id < BN * 4; id += kThreads) {
        const int r = id >> 2, c = id & 3;
        float v[8];
        dequant8(T{}, W + size_t(min(n0 + r, rows - 1)) * stride, cols, kt * kBK + c * 8, v);
        uint32_t w[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const __half2 h = __floats2half2_rn(v[2 * j], v[2 * j + 1]);
          w[j] = *reinterpret_cast<const uint32_t*>(&h);
        }
        *reinterpret_cast<uint4*>(bh + swz(r, c)) = make_uint4(w[0], w[1], w[2], w[3]);
      }
    }
  };

  float acc[4][WN][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < WN; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) load_stage(s, s);
    cp_commit();  // always one group per stage, so the wait count below stays exact
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    cp_wait<kStages - 2>();  // this thread's copies of stage kt are done ...
    __syncthreads();         // ... and everyone's; everyone has also finished computing on stage kt-1
    const int next = kt + kStages - 1;
    if (next < ktiles) load_stage(next, next % kStages);  // refills the slot of stage kt-1
    cp_commit();
    const int slot = kt % kStages;
    const uint16_t* a = sa + slot * (kBM * kBK);
    const uint16_t* b;
    if constexpr (Q8) {
      dequant_stage(kt, slot);
      __syncthreads();
      b = bh;
    } else if constexpr (kPath == BPath::kDequant) {
      dequant_global(kt);
      __syncthreads();
      b = bh;
    } else {
      b = sb + slot * (BN * kBK);
    }
#pragma unroll
    for (int kk = 0; kk < kBK / 16; ++kk) {
      uint32_t af[4][4], bf[WN][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) ldmatrix_x4(af[mi], a + swz(wm * 64 + mi * 16 + (lane & 15), kk * 2 + (lane >> 4)));
#pragma unroll
      for (int p = 0; p < WN / 2; ++p) {
        uint32_t r[4];
        ldmatrix_x4(r, b + swz(wn * (BN / 4) + p * 16 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1)));
        bf[2 * p][0] = r[0], bf[2 * p][1] = r[1], bf[2 * p + 1][0] = r[2], bf[2 * p + 1][1] = r[3];
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < WN; ++ni) mma16816<BF>(acc[mi][ni], af[mi], bf[ni][0], bf[ni][1]);
    }
  }
  cp_wait<0>();  // only empty groups remain; leave none in flight

  // Accumulator e of tile (mi, ni): token +8*(e/2), weight row +(e%2).
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < WN; ++ni) {
      const int tok = m0 + wm * 64 + mi * 16 + (lane >> 2);
      const int row = n0 + wn * (BN / 4) + ni * 8 + 2 * (lane & 3);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int t = tok + 8 * (e >> 1), r = row + (e & 1);
        if (t < n && r < rows) y[size_t(t) * rows + r] = acc[mi][ni][e] + (bias ? bias[r] : 0.f);
      }
    }
#endif
}

// One scratch buffer per stream (the streams of two backends may run at the same time; work on one stream
// is ordered, so its buffer is never used by two matmuls at once). Grown outside graph capture only.
struct Scratch {
  void* p = nullptr;
  size_t bytes = 0;
};
std::mutex g_scratch_mu;
std::unordered_map<cudaStream_t, Scratch> g_scratch;

uint16_t* scratch_for(cudaStream_t s, size_t bytes) {
  std::lock_guard<std::mutex> lock(g_scratch_mu);
  Scratch& sc = g_scratch[s];
  if (sc.bytes >= bytes) return static_cast<uint16_t*>(sc.p);
  cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
  FRSPEC_CUDA_CHECK(cudaStreamIsCapturing(s, &cap));
  if (cap != cudaStreamCaptureStatusNone) return nullptr;  // cannot allocate inside a graph recording
  if (sc.p) {
    FRSPEC_CUDA_CHECK(cudaStreamSynchronize(s));  // earlier matmuls on this stream may still read it
    FRSPEC_CUDA_CHECK(cudaFree(sc.p));
    sc = {};
  }
  const size_t grow = bytes + bytes / 4;
  FRSPEC_CUDA_CHECK(cudaMalloc(&sc.p, grow));
  sc.bytes = grow;
  return static_cast<uint16_t*>(sc.p);
}

// cp.async and the BF16 mma need sm_80+: on an sm_75 GPU (RTX 20xx, built for it) the kernels above are empty
// and matmul_tc() declines, so prefill takes matmul.cu's F32 GEMM.
bool tc_arch_ok() {
  static const bool ok = [] {
    int dev = 0, major = 0;
    return cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
           major >= 8;
  }();
  return ok;
}

int sm_count() {
  static const int count = [] {
    int dev = 0, c = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&c, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) return 132;
    return c;
  }();
  return count;
}

template <bool BF, class T, int BN>
void launch_tc(const uint16_t* xh, int n, int kp, const Weight& w, float* y, const float* bias, cudaStream_t s) {
  auto kernel = gemm_tc_kernel<BF, T, BN>;
  constexpr int smem = kSmemBytes<T, BN>;
  static const cudaError_t attr = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (attr != cudaSuccess) throw_cuda(attr, "gemm_tc: shared memory attribute", __FILE__, __LINE__);
  const dim3 grid(ceil_div(w.rows, BN), ceil_div(n, kBM));
  launch_smem("gemm_tc", kernel, grid, dim3(kThreads), smem, s, xh, n, kp, static_cast<const uint8_t*>(w.data), w.row_bytes,
              int(w.rows), int(w.cols), y, bias);
}

template <bool BF, class T>
void run_tc(const float* x, int n, const Weight& w, float* y, const float* bias, uint16_t* xh, int kp, cudaStream_t s) {
  const int chunks = int(std::min<size_t>(size_t(n) * (kp / 8) / 256 + 1, 4096));
  launch_kernel("gemm_tc: x to half", to_half_kernel<BF>, dim3(chunks), dim3(256), s, x, n, int(w.cols), kp, xh);
  // 128-row tiles unless that leaves fewer than two blocks per SM (q/o/down projections at a few hundred tokens).
  const int64_t blocks128 = int64_t(ceil_div(w.rows, 128)) * ceil_div(n, kBM);
  if (blocks128 >= 2 * sm_count()) launch_tc<BF, T, 128>(xh, n, kp, w, y, bias, s);
  else launch_tc<BF, T, 64>(xh, n, kp, w, y, bias, s);
}

}  // namespace

bool& tc_gemm() {
  static bool on = std::getenv("FRSPEC_CUDA_NO_TC_GEMM") == nullptr;
  return on;
}

bool matmul_tc(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t s) {
  if (!tc_gemm() || n <= kMaxVerifyTokens || !w.data || w.rows < 1 || w.cols < 1 || !tc_arch_ok()) return false;
  const bool half = w.type == DType::F16 || w.type == DType::BF16;
  if (!half && w.type != DType::Q8_0 && w.type != DType::Q4_K && w.type != DType::Q6_K && w.type != DType::Q4_0 &&
      w.type != DType::Q4_1 && w.type != DType::Q5_0 && w.type != DType::Q5_1 && w.type != DType::Q5_K &&
      w.type != DType::IQ4_NL && w.type != DType::IQ4_XS)
    return false;
  if (w.cols % (half ? 8 : 32) != 0 || w.row_bytes % 16 != 0 || reinterpret_cast<uintptr_t>(x) % 16 != 0 ||
      reinterpret_cast<uintptr_t>(w.data) % 16 != 0)
    return false;
  const int kp = int((w.cols + kBK - 1) / kBK * kBK);
  uint16_t* xh = scratch_for(s, size_t(n) * kp * sizeof(uint16_t));
  if (!xh) return false;
  switch (w.type) {
    case DType::F16: run_tc<false, TF16>(x, n, w, y, bias, xh, kp, s); break;
    case DType::BF16: run_tc<true, TBF16>(x, n, w, y, bias, xh, kp, s); break;
    case DType::Q8_0: run_tc<false, TQ8_0>(x, n, w, y, bias, xh, kp, s); break;
    case DType::Q4_K: run_tc<false, TQ4_K>(x, n, w, y, bias, xh, kp, s); break;
    case DType::Q4_0: run_tc<false, TQ4_0>(x, n, w, y, bias, xh, kp, s); break;
    case DType::Q4_1: run_tc<false, TQ4_1>(x, n, w, y, bias, xh, kp, s); break;
    case DType::Q5_0: run_tc<false, TQ5_0>(x, n, w, y, bias, xh, kp, s); break;
    case DType::Q5_1: run_tc<false, TQ5_1>(x, n, w, y, bias, xh, kp, s); break;
    case DType::Q5_K: run_tc<false, TQ5_K>(x, n, w, y, bias, xh, kp, s); break;
    case DType::IQ4_NL: run_tc<false, TIQ4_NL>(x, n, w, y, bias, xh, kp, s); break;
    case DType::IQ4_XS: run_tc<false, TIQ4_XS>(x, n, w, y, bias, xh, kp, s); break;
    default: run_tc<false, TQ6_K>(x, n, w, y, bias, xh, kp, s); break;
  }
  return true;
}

}  // namespace frspec::cuda
