// Error checking and small device helpers shared by the CUDA kernels. Every CUDA call and every launch is
// checked; a failure becomes a std::runtime_error naming the operation (the engine reports it, never aborts).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace frspec::cuda {

[[noreturn]] inline void throw_cuda(cudaError_t e, const char* what, const char* file, int line) {
  throw std::runtime_error(std::string("cuda: ") + what + ": " + cudaGetErrorString(e) + " (" + file + ":" +
                           std::to_string(line) + ")");
}

#define FRSPEC_CUDA_CHECK(call)                                                          \
  do {                                                                                   \
    cudaError_t frspec_e_ = (call);                                                      \
    if (frspec_e_ != cudaSuccess) ::frspec::cuda::throw_cuda(frspec_e_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: configuration errors show up here; faults inside kernels show up at the next sync.
#define FRSPEC_CUDA_LAUNCHED(what)                                                       \
  do {                                                                                   \
    cudaError_t frspec_e_ = cudaGetLastError();                                          \
    if (frspec_e_ != cudaSuccess) ::frspec::cuda::throw_cuda(frspec_e_, what, __FILE__, __LINE__); \
  } while (0)

inline unsigned ceil_div(int64_t a, int64_t b) { return unsigned((a + b - 1) / b); }

// Programmatic dependent launch (Hopper and newer): kernels are launched so that the next one is
// scheduled while the previous one drains, hiding the launch gap between the many small kernels of a
// decode step. Every kernel launched this way calls pdl_wait() before it touches memory, which waits
// for the previous kernel to finish, so the results are exactly those of plain stream order.
inline bool& launch_overlap() {
  static bool on = false;
  return on;
}
#ifdef __CUDACC__
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
// Launches kernel with `smem` bytes of dynamic shared memory, programmatic dependent launch when enabled.
template <typename... KArgs, typename... Args>
void launch_smem(const char* what, void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t s,
                 Args&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = s;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = launch_overlap() ? 1 : 0;
  const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
  if (e != cudaSuccess) throw_cuda(e, what, __FILE__, __LINE__);
}
template <typename... KArgs, typename... Args>
void launch_kernel(const char* what, void (*kernel)(KArgs...), dim3 grid, dim3 block, cudaStream_t s, Args&&... args) {
  launch_smem(what, kernel, grid, block, 0, s, std::forward<Args>(args)...);
}
#endif

#ifdef __CUDACC__
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Block-wide sum / max for blockDim.x a multiple of 32 (<= 1024); `scratch` holds 32 floats. Every
// thread gets the result. The reduction order is fixed by the block shape, so results are reproducible.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < nwarps ? scratch[lane] : 0.f;
  return warp_sum(v);
}
__device__ __forceinline__ double block_sum_d(double v, double* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < nwarps ? scratch[lane] : 0.0;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
// RMSNorm's scale for one row, 1 / sqrt(mean(x^2) + eps), with the sum of squares in double (as the CPU
// backend and llama.cpp) in a fixed order: thread i takes elements i, i + blockDim.x, ..., then block_sum_d.
// rms_norm() and the GEMVs that normalize their input on the fly (matmul.cu) both run it with
// kNormThreads threads, so they get the same bits.
constexpr int kNormThreads = 128;
__device__ __forceinline__ float rms_scale(const float* xr, int d, float eps, double* scratch) {
  // Loads in groups of 16 per thread, issued before the sums (the same sums in the same order): one block per
  // token has no other work to hide the L2 latency behind (a 3584-wide row: 2 round trips instead of ~7).
  constexpr int kGroup = 16;
  double ss = 0;
  for (int base = threadIdx.x; base < d; base += kGroup * blockDim.x) {
    float v[kGroup];
#pragma unroll
    for (int u = 0; u < kGroup; ++u) {
      const int i = base + u * int(blockDim.x);
      v[u] = i < d ? xr[i] : 0.f;
    }
#pragma unroll
    for (int u = 0; u < kGroup; ++u) {
      if (base + u * int(blockDim.x) >= d) break;
      const double dv = v[u];
      ss = __fma_rn(dv, dv, ss);
    }
  }
  ss = block_sum_d(ss, scratch);
  return float(1.0 / sqrt(ss / d + double(eps)));
}
// The normalized element: (x * scale) * weight, two roundings, in this order everywhere.
__device__ __forceinline__ float rms_apply(float x, float scale, float w) { return __fmul_rn(__fmul_rn(x, scale), w); }
__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < nwarps ? scratch[lane] : -INFINITY;
  return warp_max(v);
}
#endif

}  // namespace frspec::cuda
