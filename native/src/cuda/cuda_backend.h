// The CUDA implementation of frspec::Backend (backend.h), plus what benchmarks and tests need beyond
// the interface: the stream, CUDA-graph capture of a sequence of backend calls, and device timers.
// Plain C++ header (no CUDA types), so programs compiled by the host compiler can use it.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "engine/backend.h"

namespace frspec::cuda {

struct DeviceInfo {
  std::string name;
  int sm_count = 0, cc_major = 0, cc_minor = 0;
  size_t total_mem = 0, l2_bytes = 0;
  int driver_version = 0, runtime_version = 0;
};

class CudaBackendExtras {
 public:
  virtual ~CudaBackendExtras() = default;
  virtual DeviceInfo info() const = 0;
  // Milliseconds per call of fn, median of `reps` timed runs after `warmup` runs (CUDA events around
  // each run). With graph = true, fn's launches are captured once into a CUDA graph and each run replays
  // it (fn must then only enqueue work: no host reads, no allocation).
  virtual double time_ms(const std::function<void()>& fn, int warmup, int reps, bool graph) = 0;
  // Device-to-device copy bandwidth in bytes/s (bytes read + bytes written), copying `bytes` bytes.
  virtual double copy_bandwidth(size_t bytes, int reps) = 0;
  // A weight of the given type and shape filled on the GPU with random but valid values (finite scales),
  // for benchmarks at real shapes without building gigabytes on the host.
  virtual Weight random_weight(DType type, int64_t rows, int64_t cols, uint64_t seed) = 0;
  // Fills backend memory with uniform random floats in [lo, hi).
  virtual void random_fill(float* p, size_t n, uint64_t seed, float lo, float hi) = 0;
  virtual size_t free_memory() const = 0;
  // Device-only selection for captured steps (no host round trip): argmax of n rows into device ids, and
  // the top-k of one row into device ids/vals; with remap (device, FR-Spec) ids become remap[position].
  virtual void argmax_device(const float* logits, int n, int vocab, int32_t* ids) = 0;
  virtual void topk_device(const float* logits, int vocab, int k, int32_t* ids, float* vals, const int32_t* remap) = 0;
  // Programmatic dependent launch between kernels (on by default on Hopper; off for A/B timings).
  virtual void set_launch_overlap(bool on) = 0;
  // GEMV weight prefetch before the PDL wait (off by default; on for A/B timings).
  virtual void set_weight_prefetch(bool on) = 0;
  // Normalizing GEMVs: every block computes the RMSNorm scale itself (on) instead of reading it from one
  // scale launch before the GEMV (off, the default); for A/B timings.
  virtual void set_norm_in_gemv(bool on) = 0;
  // Device memory for int32 arrays (freed with free()).
  virtual int32_t* alloc_ids(size_t n) = 0;
  // How many times the host has waited for the GPU (read backs, to_host, sync) since creation.
  virtual uint64_t host_waits() const = 0;
  // Steps run as CUDA graphs (Backend::begin_graph): launched, updated in place, instantiated anew.
  struct GraphCounts {
    uint64_t launches = 0, updates = 0, instantiations = 0;
  };
  virtual GraphCounts graph_counts() const = 0;
};

// Whether prefill matmuls (n > 64) of F16/BF16/Q8_0/Q4_K/Q6_K weights use the tensor-core GEMM (gemm_tc.cu): on
// unless FRSPEC_CUDA_NO_TC_GEMM is set; off for A/B timings and checks of the F32 GEMM. Process-wide.
bool& tc_gemm();

// The work split of decode/verify attention (kv_attention.cu): warps per block (4, 8, 16) and keys per
// block (64, 128, 256, 512). Defaults kAttnWarps (kv_attention.cu) and kAttnChunk (kernels.h), 4 and 128,
// or FRSPEC_CUDA_ATTN_WARPS / FRSPEC_CUDA_ATTN_CHUNK read once (a value outside the sets is an
// invalid_argument at the first attention call). Process-wide; change it only between steps, never while a
// graph is captured (graphs captured before keep the old split). Any setting keeps tree nodes vs their
// plain path and batched vs one-by-one bit-identical (they share it).
struct AttentionTuning {
  int warps = 0, chunk = 0;
};
AttentionTuning attention_tuning();
void set_attention_tuning(int warps, int chunk);  // throws std::invalid_argument outside the sets above

// The extras of a backend made by make_cuda_backend (null for any other backend).
CudaBackendExtras* extras(Backend* b);

}  // namespace frspec::cuda
