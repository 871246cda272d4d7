// The small set of operations a transformer forward pass needs, implemented once per device (CPU in
// cpu_backend.*, CUDA in ../cuda/). The forward pass (forward.cpp) is written only against this
// interface, so the two backends compute the same thing and tests can compare them op by op.
//
// Conventions
// - Activations are F32, row-major, one row per token: x[n][d]. Pointers passed to ops are backend memory
//   (host memory for the CPU backend, device memory for CUDA) obtained from alloc(); "host" in a name
//   means an ordinary host pointer.
// - A weight matrix has `rows` output features and `cols` input features (ggml: ne0 = cols, ne1 = rows);
//   each row is stored contiguously in its type's blocks, so rows can be gathered (FR-Spec) without
//   re-quantizing.
// - The KV cache is owned by the backend; slots are positions in the cache (not RoPE positions: tree
//   tokens share positions), K and V for slot s of layer l are written by kv_write and read by attention.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace frspec {

enum class DType : uint32_t {  // ggml ids
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q4_K = 12, Q5_K = 13, Q6_K = 14, IQ4_NL = 20, IQ4_XS = 23, BF16 = 30
};
const char* dtype_name(DType t);
size_t dtype_row_bytes(DType t, int64_t cols);  // bytes of one row of `cols` elements
bool dtype_supported(uint32_t ggml_type_id);

// A weight matrix as it lies in the file (host memory, usually the mmap).
struct WeightView {
  DType type = DType::F32;
  int64_t rows = 0, cols = 0;
  const void* data = nullptr;
  std::string name;  // for error messages
};

// A weight prepared for a backend (CPU: the same bytes, zero-copy; CUDA: a device copy). Owned by the backend.
struct Weight {
  DType type = DType::F32;
  int64_t rows = 0, cols = 0;
  const void* data = nullptr;  // backend memory
  size_t row_bytes = 0;
};

struct RopeParams {
  float theta = 10000.f;
  bool neox = true;                      // qwen2: rotate-half pairs (i, i+d/2); llama: adjacent pairs (2i, 2i+1)
  const float* freq_factors = nullptr;   // Llama-3.1 rope_freqs (head_dim/2 divisors), backend memory, or null
  int rot_dims = 0;                      // dimensions rotated per head (0 = head_dim)
};

struct KvCacheShape {
  int n_layers = 0, n_kv_heads = 0, head_dim = 0, capacity = 0;  // capacity in slots
};

class KvCache {
 public:
  virtual ~KvCache() = default;
  virtual const KvCacheShape& shape() const = 0;
};

// An RMSNorm applied to a fused matmul's input: the matmul reads rms_norm(x, weight, eps) instead of x. The
// default implementations write the normalized rows to h (scratch of n * cols floats); a fused kernel
// normalizes as it loads x and leaves h alone.
struct InputNorm {
  const float* weight = nullptr;
  float eps = 1e-6f;
  float* h = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual int threads() const { return 1; }

  // Memory. alloc returns zeroed memory of n floats owned by the backend (freed with the backend or free()).
  virtual float* alloc(size_t n_floats) = 0;
  virtual void free(float* p) = 0;
  virtual void to_device(float* dst, const float* host_src, size_t n) = 0;
  virtual void to_host(float* host_dst, const float* src, size_t n) = 0;
  virtual void sync() {}

  // Weights. prepare() keeps `view.data` alive only as long as the caller does (the mmap); gather_rows
  // builds a new contiguous k x cols weight from rows ids[0..k) of w (FR-Spec restricted LM head).
  virtual Weight prepare(const WeightView& view) = 0;
  virtual Weight gather_rows(const Weight& w, const int32_t* host_ids, int k) = 0;
  virtual void release(Weight& w) = 0;
  virtual float* prepare_vector(const float* host, size_t n) = 0;  // norms and biases (F32)

  // y[n][w.rows] = x[n][w.cols] . W^T (+ bias[w.rows] when bias != null). n = 1 is the decode GEMV.
  virtual void matmul(const Weight& w, const float* x, float* y, int n, const float* bias = nullptr) = 0;
  // out[n][w.cols] = dequantized rows ids[i] of w (token embedding lookup). ids are host memory.
  virtual void get_rows(const Weight& w, const int32_t* host_ids, int n, float* out) = 0;

  // y[n][d] = x / rms(x) * weight (weight may be null: no scale). y may alias x.
  virtual void rms_norm(const float* x, const float* weight, float* y, int n, int d, float eps) = 0;
  // In place on x[n][n_heads*head_dim]; positions are host memory, one per token.
  virtual void rope(float* x, const int32_t* host_pos, int n, int n_heads, int head_dim, const RopeParams& p) = 0;
  // out[n][d] = silu(gate) * up.
  virtual void swiglu(const float* gate, const float* up, float* out, int n, int d) = 0;
  // y[i] += x[i].
  virtual void add(float* y, const float* x, size_t n) = 0;
  // dst[i][0..cols) = src[i][0..cols) for i in [0, n); strides in floats (cudaMemcpy2D on a GPU). The
  // forward pass uses it to concatenate EAGLE's [embedding; feature] and to pick the rows to project.
  virtual void copy_rows(float* dst, size_t dst_stride, const float* src, size_t src_stride, int n, int cols) = 0;

  // ---- Fused operations: several of the ops above as one step (issue 6: a decode step's ~10 small kernels
  // per layer cost the GPU a third of its bandwidth). Each default composes the ops above in the order the
  // forward pass used, so a backend that does not override them (the CPU) computes exactly the same bits; the
  // CUDA backend runs each as one kernel where it can, with the same per-element arithmetic.
  // yq/yk/yv[n][rows] = x[n][cols] . W^T (+ bias) for three weights read by the same input (q, k, v), with x
  // first normalized when `norm` is given.
  virtual void matmul_qkv(const Weight& wq, const Weight& wk, const Weight& wv, const float* x, int n, float* yq,
                          float* yk, float* yv, const float* bq, const float* bk, const float* bv,
                          const InputNorm* norm = nullptr) {
    if (norm) rms_norm(x, norm->weight, norm->h, n, int(wq.cols), norm->eps), x = norm->h;
    matmul(wq, x, yq, n, bq);
    matmul(wk, x, yk, n, bk);
    matmul(wv, x, yv, n, bv);
  }
  // The residual projection y[n][w.rows] += x . W^T (+ bias). tmp: scratch of n * w.rows floats.
  virtual void matmul_add(const Weight& w, const float* x, float* y, float* tmp, int n, const float* bias) {
    matmul(w, x, tmp, n, bias);
    add(y, tmp, size_t(n) * w.rows);
  }
  // The FFN's first half: out[n][gate.rows] = silu(x . Wgate^T) * (x . Wup^T), x first normalized when `norm`
  // is given. tmp: scratch of n * up.rows floats.
  virtual void matmul_swiglu(const Weight& gate, const Weight& up, const float* x, float* out, float* tmp, int n,
                             const InputNorm* norm = nullptr) {
    if (norm) rms_norm(x, norm->weight, norm->h, n, int(gate.cols), norm->eps), x = norm->h;
    matmul(gate, x, out, n, nullptr);
    matmul(up, x, tmp, n, nullptr);
    swiglu(out, tmp, out, n, int(gate.rows));
  }
  // The whole FFN as a residual: y[n][down.rows] += (silu(x . Wgate^T) * (x . Wup^T)) . Wdown^T, x first normalized
  // when `norm` is given (x may be y: it is read before y is written). gate_buf and up_buf: scratch of n * gate.rows
  // floats, tmp of n * down.rows; their contents afterwards are unspecified. The CPU backend makes silu(g) * u
  // while quantizing it for the down projection instead of writing it out.
  virtual void ffn_add(const Weight& gate, const Weight& up, const Weight& down, const float* x, float* y, float* gate_buf,
                       float* up_buf, float* tmp, int n, const InputNorm* norm = nullptr) {
    matmul_swiglu(gate, up, x, gate_buf, up_buf, n, norm);
    matmul_add(down, gate_buf, y, tmp, n, nullptr);
  }
  // RoPE on k[n][n_kv_heads*head_dim] (shape from the cache), K and V into slots first_slot.., then RoPE on
  // q[n][n_heads*head_dim] in place when q is non-null. k's contents afterwards are unspecified.
  virtual void rope_kv_write(KvCache& kv, int layer, float* q, int n_heads, float* k, const float* v,
                             const int32_t* host_pos, int n, const RopeParams& p, int first_slot) {
    const KvCacheShape s = kv.shape();
    rope(k, host_pos, n, s.n_kv_heads, s.head_dim, p);
    kv_write(kv, layer, k, v, first_slot, n);
    if (q) rope(q, host_pos, n, n_heads, s.head_dim, p);
  }
  // rope_kv_write(.., first_slot = n_past) then attention(kv, layer, q, out, n_past, n, mask, n_heads, scale):
  // the new tokens' K/V go to slots n_past.. and their queries attend. q's and k's contents afterwards are
  // unspecified (the CUDA backend ropes them in registers when it decodes one token).
  virtual void rope_kv_attention(KvCache& kv, int layer, float* q, float* k, const float* v, float* out,
                                 const int32_t* host_pos, int n, const RopeParams& p, int n_past, const uint8_t* mask,
                                 int n_heads, float scale) {
    rope_kv_write(kv, layer, q, n_heads, k, v, host_pos, n, p, n_past);
    attention(kv, layer, q, out, n_past, n, mask, n_heads, scale);
  }

  // KV cache.
  virtual std::unique_ptr<KvCache> create_kv(const KvCacheShape& shape) = 0;
  // Writes k[n][n_kv_heads*head_dim] and v[...] of layer `layer` into slots first_slot .. first_slot+n-1.
  virtual void kv_write(KvCache& kv, int layer, const float* k, const float* v, int first_slot, int n) = 0;
  // Copies slot src[i] to slot dst[i] in every layer (after tree verification: keep the accepted path).
  // host arrays; pairs are applied in order, and dst[i] <= src[i] so compaction towards the front is safe.
  virtual void kv_move(KvCache& kv, const int32_t* host_src, const int32_t* host_dst, int n) = 0;
  // Attention for n new query tokens whose K/V already sit in slots n_past .. n_past+n-1.
  // Query i attends every committed slot [0, n_past) and the new slots j where mask[i*n + j] != 0;
  // host_mask == null means causal (j <= i). q[n][n_heads*head_dim], out has the same shape.
  virtual void attention(const KvCache& kv, int layer, const float* q, float* out, int n_past, int n,
                         const uint8_t* host_mask, int n_heads, float scale) = 0;

  // Reductions over logits rows logits[n][vocab]; results land in host memory.
  virtual void argmax(const float* logits, int n, int vocab, int32_t* host_out) = 0;
  // Top-k (ids and values, sorted by value descending) of one row.
  virtual void topk(const float* logits, int vocab, int k, int32_t* host_ids, float* host_vals) = 0;
  // Greedy decoding: host_out[i] = argmax(x[i] . W^T), always exactly the id argmax(matmul(w, x)) gives
  // (first maximum). A backend may get there reading less than all of W (the CPU backend prefilters a
  // float LM head with an 8-bit copy and rigorous error bounds). logits: scratch of n * w.rows floats.
  virtual void matmul_argmax(const Weight& w, const float* x, int n, float* logits, int32_t* host_out) {
    matmul(w, x, logits, n, nullptr);
    argmax(logits, n, int(w.rows), host_out);
  }
  // Drafting, where the answer changes only speed: the argmax of x . W^T for one row x, and its logit, as a
  // backend computes it fastest; it may be approximate (the CPU: the 8-bit copy's dot products alone,
  // which can differ from the exact argmax on near ties). Default: exact. logits: scratch of w.rows floats.
  virtual void matmul_argmax_draft(const Weight& w, const float* x, float* logits, int32_t* host_id, float* host_value) {
    matmul(w, x, logits, 1, nullptr);
    argmax(logits, 1, int(w.rows), host_id);
    to_host(host_value, logits + *host_id, 1);
  }

  // ---- Token ids in backend memory: the speculative loop keeps drafted ids where the drafter's argmax
  // wrote them, so a chain is drafted without a host round trip per token and read back once (issue 6).
  // The defaults are for backends whose memory IS host memory (the CPU); a GPU backend overrides them all.
  // True when reading a result back costs a synchronization (a GPU): loops then batch their reads.
  virtual bool device_resident() const { return false; }
  // n int32 ids of backend memory (zeroed; free with free_ids).
  virtual int32_t* alloc_ids(size_t n) { return reinterpret_cast<int32_t*>(alloc(n)); }
  virtual void free_ids(int32_t* ids) { free(reinterpret_cast<float*>(ids)); }
  // Copies between host and backend ids; both return once the host array may be reused / read.
  virtual void write_ids(int32_t* ids, const int32_t* host, int n);
  virtual void read_ids(int32_t* host, const int32_t* ids, int n);
  // get_rows with the ids in backend memory (e.g. the previous draft step's argmax). The ids are trusted:
  // they come from argmax_ids over a head whose rows are token ids (no host copy to range-check).
  virtual void get_rows_ids(const Weight& w, const int32_t* ids, int n, float* out) { get_rows(w, ids, n, out); }
  // ids[i] = argmax of logits row i (first maximum), then ids[i] = remap[ids[i]] when remap is non-null
  // (FR-Spec: column -> token id); ids and remap in backend memory. No wait on a GPU.
  virtual void argmax_ids(const float* logits, int n, int vocab, const int32_t* remap, int32_t* ids);
  // For each of n rows: the top-k (ids, values; value descending, ties to the smaller id) into
  // host_ids[n][k] / host_vals[n][k], and the row's log-sum-exp (log-probability = value - lse) into
  // host_lse[n]. One read back for all rows (a draft tree level).
  virtual void topk_rows(const float* logits, int n, int vocab, int k, int32_t* host_ids, float* host_vals, float* host_lse);
  // A step queued as one unit: between begin_graph() and end_graph() the caller only queues ops (no read
  // back, no allocation, no free); a GPU backend records them into a CUDA graph and launches it at
  // end_graph(), updating the last instantiation of the same shape in place (one launch instead of one per
  // kernel). After an exception in between, abort_graph() drops the recording (nothing of it ran).
  // Defaults: no graph, ops run as they are called.
  virtual void begin_graph() {}
  virtual void end_graph() {}
  virtual void abort_graph() {}
};

// The CPU backend (always available). threads <= 0 means all cores.
std::unique_ptr<Backend> make_cpu_backend(int threads);
// The CUDA backend, or null with `why` set when no usable GPU/driver is present or it was not built.
std::unique_ptr<Backend> make_cuda_backend(int device, std::string* why);

}  // namespace frspec
