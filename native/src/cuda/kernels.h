// Launchers of the CUDA kernels, one group per .cu file. Host functions; all work is queued on `stream`.
// Pointers are device memory unless the name says host. See backend.h for each operation's contract.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/backend.h"

namespace frspec::cuda {

// matmul.cu: y[n][w.rows] = x[n][w.cols] . W^T (+ bias). Up to kMaxVerifyTokens tokens go through the
// GEMV kernels, whose per-token arithmetic does not depend on n (decode == verification, bit for bit);
// larger n (prefill) goes through the tiled GEMM.
constexpr int kMaxVerifyTokens = 64;
void matmul(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t stream);
void matmul_gemv(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t stream);
void matmul_gemm(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t stream);
// gemm_tc.cu: the tensor-core prefill GEMM (F16/BF16/Q8_0/Q4_K/Q6_K weights, n > kMaxVerifyTokens; x rounded to
// F16/BF16). Returns false, having queued nothing, where it does not apply (other types, shapes, alignment,
// switched off by tc_gemm() in cuda_backend.h, or a graph recording that would need a larger scratch).
bool matmul_tc(const Weight& w, const float* x, float* y, int n, const float* bias, cudaStream_t stream);
// Fused GEMV launches (n <= kMaxVerifyTokens, one launch per pass of tokens, the same per-row arithmetic as
// matmul_gemv, so results are bit-identical to the unfused ops): kStore, up to three weights of one type and
// width read by the same x (q|k|v), y[g] = x . W[g]^T + bias[g]; kAdd, one weight, y[0] += x . W^T + bias[0]
// (residual); kSwiglu, gate = w[0] and up = w[1], y[0] = silu(x . Wgate^T) * (x . Wup^T). Any mode may
// first normalize x (norm_w: RMSNorm with a weight).
struct GemvTargets {  // kernel parameter
  enum Mode : int { kStore, kAdd, kSwiglu };
  const uint8_t* w[3];
  float* y[3];
  const float* bias[3];
  int rows[3];
  int block_start[4];
  int mode;
  const float* norm_w;  // non-null: the GEMV reads rms_norm(x, norm_w, norm_eps) instead of x
  const float* norm_scale;  // with norm_w: each token's RMSNorm scale, computed once; null: every block computes it
  float norm_eps;
  int prefetch;  // warp 0 prefetches the block's first weight bytes before waiting for the previous kernel
};
struct GemvJob {  // host side
  const Weight* w[3] = {};
  float* y[3] = {};
  const float* bias[3] = {};
  int count = 1;
  int mode = GemvTargets::kStore;
  const float* norm_w = nullptr;  // RMSNorm of x folded into the GEMV (rms_norm()'s exact arithmetic)
  float norm_eps = 0.f;
  // With norm_w: device room for kMaxVerifyTokens floats. One small launch first computes each token's
  // RMSNorm scale there (rms_norm()'s reduction) and the GEMV blocks read it; null: every block of the
  // GEMV reduces sum(x^2) itself before it starts (the previous way, FRSPEC_CUDA_NORM_IN_GEMV=1).
  float* norm_scale = nullptr;
};
// Whether the fused GEMV can run this job (same type/width, 16-byte aligned x, 1 <= n <= 64); else the
// caller composes the unfused ops.
bool gemv_fusable(const GemvJob& job, const float* x, int n);
// Whether GEMV blocks prefetch their first weight bytes before the PDL wait (off unless
// FRSPEC_CUDA_PREFETCH is set; CudaBackendExtras::set_weight_prefetch for A/B timings).
bool& weight_prefetch();
// Whether every normalizing GEMV block computes the RMSNorm scale itself (FRSPEC_CUDA_NORM_IN_GEMV set;
// CudaBackendExtras::set_norm_in_gemv for A/B timings) instead of one scale launch before the GEMV.
bool& norm_in_gemv();
void matmul_fused(const GemvJob& job, const float* x, int n, cudaStream_t stream);

// Small host arrays (token ids, positions: n <= 64) travel as kernel parameters, so decode and verify
// steps need no host-to-device copies (and capture into CUDA graphs as plain kernel nodes). Larger ones
// come as device arrays; a function takes `dev` when it is non-null, else `small`.
constexpr int kSmallInts = 64;
struct SmallInts {
  int32_t v[kSmallInts];
};

// rows.cu
void get_rows(const Weight& w, const int32_t* ids_dev, const SmallInts& ids_small, int n, float* out, cudaStream_t stream);
void copy_rows(const uint8_t* src, size_t row_bytes, const int32_t* ids, int k, uint8_t* dst, cudaStream_t stream);

// pointwise.cu
void rms_norm(const float* x, const float* weight, float* y, int n, int d, float eps, cudaStream_t stream);
void rope(float* x, const int32_t* pos_dev, const SmallInts& pos_small, int n, int n_heads, int head_dim,
          const RopeParams& p, cudaStream_t stream);
// rope(k) + kv_write + rope(q) (q may be null) as one launch; cache_k/cache_v: the layer's K and V planes at
// the first slot. The same arithmetic as rope() and kv_write().
void rope_kv_write(float* q, int n_heads, float* k, const float* v, const int32_t* pos_dev, const SmallInts& pos_small,
                   int n, int n_kv_heads, int head_dim, const RopeParams& p, float* cache_k, float* cache_v,
                   cudaStream_t stream);
void swiglu(const float* gate, const float* up, float* out, size_t count, cudaStream_t stream);
void add(float* y, const float* x, size_t count, cudaStream_t stream);

// kv_attention.cu. The cache of one layer is K[capacity][kv_dim] then V[capacity][kv_dim] (F32).
void kv_write(float* layer_k, float* layer_v, const float* k, const float* v, int first_slot, int n, int kv_dim,
              cudaStream_t stream);
void kv_move(float* cache, int n_layers, int capacity, int kv_dim, const int32_t* src, const int32_t* dst, int n,
             cudaStream_t stream);
// Which new slots (relative to n_past) query i may see: causal (j <= i), a bit mask passed by value
// (n <= 64: bit j of bits[i]), or device lists new_keys[new_start[i] .. new_start[i+1]) in increasing order.
constexpr int kMaxMaskTokens = 64;
struct AttnMask {
  enum Mode : int { kCausal, kBits, kLists };
  int mode = kCausal;
  uint64_t bits[kMaxMaskTokens];
};
// Batches of n <= 64 queries whose lists exceed the chunk (kAttnChunk keys by default, see
// attention_tuning in cuda_backend.h) are split into chunks of that many list positions, one block each,
// merged by a second kernel: `partial` must then hold attention_partial_floats(n, n_heads, head_dim,
// n_past + n) floats (for the chunk in effect at the call).
constexpr int kAttnChunk = 128;
size_t attention_partial_floats(int n, int n_heads, int head_dim, int max_keys);
// With `counters` (n * n_heads words, 0 between launches) the last block of each (head, query) merges its
// chunks in the same launch; without, a second kernel does (the same arithmetic).
// With `nt` (decode: n == 1, causal): q and nt->k are the raw projections, roped in the kernel, and the new
// key/value are written to nt->ck/cv (the cache rows of slot n_past) — rope_kv_write + attention in one
// launch, the same bits. Requires (rot/2) % (head_dim/32) == 0.
struct NewToken {  // kernel parameter
  const float* k;
  const float* v;
  float* ck;
  float* cv;
  const float* freq_factors;
  int pos, rot, neox;
  float theta;
};
void attention(const float* layer_k, const float* layer_v, const float* q, float* out, int n_past, int n,
               const AttnMask& mask, const int32_t* new_start, const int32_t* new_keys, int n_heads, int n_kv_heads,
               int head_dim, float scale, float* partial, cudaStream_t stream, unsigned* counters = nullptr,
               const NewToken* nt = nullptr);

// select.cu. Order: larger value first, then smaller id (NaN counts as -inf).
void argmax(const float* logits, int n, int vocab, int32_t* out_ids, cudaStream_t stream);
// Top-k of one row into out_ids/out_vals (k <= kMaxTopK). scratch: topk_scratch_floats(vocab, k) floats.
constexpr int kMaxTopK = 256;
size_t topk_scratch_floats(int vocab, int k);
// With `counter` (a device word that is 0 between launches, owned by the caller) and k <= kFusedTopK the
// whole top-k is one kernel (the last block merges); with `remap`, ids come out as remap[id] (FR-Spec).
constexpr int kFusedTopK = 32;
void topk(const float* logits, int vocab, int k, float* scratch, int32_t* out_ids, float* out_vals, cudaStream_t stream,
          unsigned* counter = nullptr, const int32_t* remap = nullptr);
// ids[i] = map[ids[i]] for i < k (FR-Spec: positions in the restricted head back to token ids).
void remap_ids(int32_t* ids, int k, const int32_t* map, cudaStream_t stream);

}  // namespace frspec::cuda
