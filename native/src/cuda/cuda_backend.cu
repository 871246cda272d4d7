// CudaBackend: frspec::Backend on one NVIDIA GPU. All work goes to one non-blocking stream; host arrays
// passed to ops (ids, positions, masks) are staged through a pinned ring buffer and copied in stream
// order, so ops never wait for the GPU except where the contract hands results back to the host.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#include <cuda_fp16.h>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_util.cuh"
#include "cuda/kernels.h"
#include "cuda/spec_select.h"
#include "cuda/weight_layout.h"

namespace frspec::cuda {
namespace {

void require(bool ok, const std::string& msg) {
  if (!ok) throw std::invalid_argument("cuda backend: " + msg);
}

class CudaKv : public KvCache {
 public:
  CudaKv(const KvCacheShape& s, float* data) : shape_(s), data_(data) {}
  ~CudaKv() override {
    cudaFree(data_);
    cudaFree(partial_);
    cudaFree(counters_);
  }
  // Scratch for split attention: sized once for the largest case (64 queries over the whole cache), with
  // the per-(query, head) counters of the in-kernel chunk merge (zero between launches).
  float* partial(int n_heads, cudaStream_t s) {
    const size_t need = attention_partial_floats(kMaxMaskTokens, n_heads, shape_.head_dim, shape_.capacity);
    if (need > partial_floats_ || n_heads > counter_heads_) {
      FRSPEC_CUDA_CHECK(cudaStreamSynchronize(s));
      cudaFree(partial_);
      cudaFree(counters_);
      partial_ = nullptr;
      counters_ = nullptr;
      FRSPEC_CUDA_CHECK(cudaMalloc(&partial_, need * sizeof(float)));
      FRSPEC_CUDA_CHECK(cudaMalloc(&counters_, size_t(kMaxMaskTokens) * n_heads * sizeof(unsigned)));
      FRSPEC_CUDA_CHECK(cudaMemsetAsync(counters_, 0, size_t(kMaxMaskTokens) * n_heads * sizeof(unsigned), s));  // in stream order
      partial_floats_ = need;
      counter_heads_ = n_heads;
    }
    return partial_;
  }
  unsigned* counters() const { return counters_; }  // valid after partial()
  const KvCacheShape& shape() const override { return shape_; }
  int kv_dim() const { return shape_.n_kv_heads * shape_.head_dim; }
  size_t plane() const { return size_t(shape_.capacity) * kv_dim(); }
  float* k(int layer) const { return data_ + 2 * size_t(layer) * plane(); }
  float* v(int layer) const { return k(layer) + plane(); }
  float* data() const { return data_; }

 private:
  KvCacheShape shape_;
  float* data_;
  float* partial_ = nullptr;
  size_t partial_floats_ = 0;
  unsigned* counters_ = nullptr;
  int counter_heads_ = 0;
};

// Host arrays go to the GPU through a ring of pinned memory mirrored on the device: an op copies its
// array into the next free pinned range and queues an async copy to the same range on the device. When
// the ring wraps, the stream is synchronized first, so no queued copy can still read a reused range.
class Staging {
 public:
  explicit Staging(cudaStream_t s) : stream_(s) { grow(1 << 20); }
  ~Staging() {
    cudaFreeHost(host_);
    cudaFree(dev_);
  }
  void reset() { off_ = 0; }  // only when the stream is idle
  // Before a graph recording: at least `bytes` free without wrapping (a wrap waits for the stream, which
  // a recording stream cannot do).
  void make_room(size_t bytes) {
    if (off_ + bytes <= cap_) return;
    FRSPEC_CUDA_CHECK(cudaStreamSynchronize(stream_));
    off_ = 0;
  }
  template <class T>
  const T* put(const T* host, size_t n) {
    const size_t bytes = (n * sizeof(T) + 255) / 256 * 256;
    if (bytes > cap_) {
      FRSPEC_CUDA_CHECK(cudaStreamSynchronize(stream_));
      cudaFreeHost(host_);
      cudaFree(dev_);
      grow(std::max(bytes, 2 * cap_));
    }
    if (off_ + bytes > cap_) {
      FRSPEC_CUDA_CHECK(cudaStreamSynchronize(stream_));
      off_ = 0;
    }
    std::memcpy(host_ + off_, host, n * sizeof(T));
    FRSPEC_CUDA_CHECK(cudaMemcpyAsync(dev_ + off_, host_ + off_, n * sizeof(T), cudaMemcpyHostToDevice, stream_));
    const T* d = reinterpret_cast<const T*>(dev_ + off_);
    off_ += bytes;
    return d;
  }

 private:
  void grow(size_t cap) {
    cap_ = cap;
    off_ = 0;
    FRSPEC_CUDA_CHECK(cudaHostAlloc(&host_, cap_, cudaHostAllocDefault));
    FRSPEC_CUDA_CHECK(cudaMalloc(&dev_, cap_));
  }
  cudaStream_t stream_;
  uint8_t* host_ = nullptr;
  uint8_t* dev_ = nullptr;
  size_t cap_ = 0, off_ = 0;
};

__global__ void random_bytes_kernel(uint32_t* p, size_t n_words, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n_words; i += size_t(gridDim.x) * blockDim.x) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (i + 1);  // splitmix64
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    p[i] = uint32_t(z ^ (z >> 31));
  }
}
__device__ __forceinline__ float unit(uint32_t r) { return float(r >> 8) * (1.0f / 16777216.0f); }
// Rewrites random words into valid values of the type: floats in [-1, 1), F16 scales in [0.0005, 0.0105).
__global__ void fix_weight_kernel(uint8_t* data, size_t row_bytes, int rows, int cols, DType type) {
  const int row = blockIdx.y;
  uint8_t* r = data + size_t(row) * row_bytes;
  auto f16 = [](float f) { return __half_as_ushort(__float2half(f)); };
  auto to_unit = [](uint32_t x) { return unit(x * 2654435761u + 12345u); };
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < cols; i += gridDim.x * blockDim.x) {
    switch (type) {
      case DType::F32: { auto* p = reinterpret_cast<float*>(r); p[i] = 2.f * to_unit(__float_as_uint(p[i])) - 1.f; break; }
      case DType::F16: { auto* p = reinterpret_cast<uint16_t*>(r); p[i] = f16(2.f * to_unit(p[i] * 7919u + i) - 1.f); break; }
      case DType::BF16: {
        auto* p = reinterpret_cast<uint16_t*>(r);
        p[i] = uint16_t(__float_as_uint(2.f * to_unit(p[i] * 7919u + i) - 1.f) >> 16);
        break;
      }
      case DType::Q8_0:
        if (i % 32 == 0) { auto* d = reinterpret_cast<uint16_t*>(r + cols); d[i / 32] = f16(0.0005f + 0.01f * to_unit(d[i / 32] + i)); }
        break;
      case DType::Q4_K:
        if (i % 256 == 0) { auto* d = reinterpret_cast<uint16_t*>(r + 144 * (i / 256)); d[0] = f16(0.0005f + 0.01f * to_unit(d[0] + i)); d[1] = f16(0.0005f + 0.01f * to_unit(d[1] + i)); }
        break;
      case DType::Q6_K:
        if (i % 256 == 0) { auto* d = reinterpret_cast<uint16_t*>(r + (cols / 256) * 208); d[i / 256] = f16(0.0005f + 0.01f * to_unit(d[i / 256] + i)); }
        break;
      case DType::Q5_K:  // Q4_K's head in 176-byte blocks
        if (i % 256 == 0) { auto* d = reinterpret_cast<uint16_t*>(r + 176 * (i / 256)); d[0] = f16(0.0005f + 0.01f * to_unit(d[0] + i)); d[1] = f16(0.0005f + 0.01f * to_unit(d[1] + i)); }
        break;
      case DType::IQ4_XS:  // d after the quants and the scale bytes (weight_layout.h)
        if (i % 256 == 0) { auto* d = reinterpret_cast<uint16_t*>(r + (cols / 256) * 136); d[i / 256] = f16(0.0005f + 0.01f * to_unit(d[i / 256] + i)); }
        break;
      case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::IQ4_NL:
        if (i % 32 == 0) {  // d (and m) after the quants (and qh'), weight_layout.h
          const int nb = cols / 32, five = type == DType::Q5_0 || type == DType::Q5_1;
          auto* d = reinterpret_cast<uint16_t*>(r + nb * 16 + (five ? nb * 4 : 0));
          d[i / 32] = f16(0.0005f + 0.01f * to_unit(d[i / 32] + i));
          if (type == DType::Q4_1 || type == DType::Q5_1) d[nb + i / 32] = f16(0.005f * to_unit(d[nb + i / 32] + i) - 0.0025f);
        }
        break;
    }
  }
}
__global__ void random_fill_kernel(float* p, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    p[i] = lo + (hi - lo) * unit(uint32_t(z ^ (z >> 31)));
  }
}

class CudaBackend final : public Backend, public CudaBackendExtras {
 public:
  explicit CudaBackend(int device) : device_(device) {
    FRSPEC_CUDA_CHECK(cudaSetDevice(device));
    FRSPEC_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    staging_ = std::make_unique<Staging>(stream_);
    topk_counter();
    norm_scale_ = static_cast<float*>(device_alloc(kMaxVerifyTokens * sizeof(float)));
    cudaDeviceProp p{};
    FRSPEC_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
    info_.name = p.name;
    info_.sm_count = p.multiProcessorCount;
    info_.cc_major = p.major;
    info_.cc_minor = p.minor;
    info_.total_mem = p.totalGlobalMem;
    info_.l2_bytes = p.l2CacheSize;
    launch_overlap() = p.major >= 9 && !std::getenv("FRSPEC_CUDA_NO_PDL");
    cudaDriverGetVersion(&info_.driver_version);
    cudaRuntimeGetVersion(&info_.runtime_version);
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    for (auto& [shape, x] : execs_)
      if (x) cudaGraphExecDestroy(x);
    for (void* p : owned_) cudaFree(p);
    if (upload_) cudaFreeHost(upload_);
    staging_.reset();
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "cuda:" + std::to_string(device_) + " (" + info_.name + ")"; }

  // ---- memory
  float* alloc(size_t n) override { return static_cast<float*>(device_alloc(std::max<size_t>(n, 1) * sizeof(float))); }
  void free(float* p) override { device_free(p); }
  void to_device(float* dst, const float* src, size_t n) override {
    FRSPEC_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyHostToDevice, stream_));
    FRSPEC_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the caller may reuse src at once
  }
  void to_host(float* dst, const float* src, size_t n) override {
    FRSPEC_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    wait_for_results();
  }
  void sync() override { wait_for_results(); }

  // ---- weights
  Weight prepare(const WeightView& v) override {
    check_weight(v.type, v.rows, v.cols, v.name);
    require(v.data != nullptr, "weight '" + v.name + "' has no data");
    const size_t in_bytes = file_row_bytes(v.type, v.cols), out_bytes = device_row_bytes(v.type, v.cols);
    Weight w{v.type, v.rows, v.cols, nullptr, out_bytes};
    uint8_t* dev = static_cast<uint8_t*>(device_alloc(out_bytes * v.rows));
    w.data = dev;
    // Repack in slices of up to 32 MB into a pinned buffer (kept for the next weight) and copy each.
    const size_t slice = std::max<size_t>(out_bytes, 32 << 20);
    if (upload_cap_ < std::min(slice, out_bytes * v.rows)) {
      if (upload_) cudaFreeHost(upload_);
      upload_ = nullptr;
      upload_cap_ = std::min(slice, out_bytes * v.rows);
      FRSPEC_CUDA_CHECK(cudaHostAlloc(&upload_, upload_cap_, cudaHostAllocDefault));
    }
    const int64_t rows_per = int64_t(upload_cap_ / out_bytes);
    const uint8_t* src = static_cast<const uint8_t*>(v.data);
    for (int64_t r0 = 0; r0 < v.rows; r0 += rows_per) {
      const int64_t nr = std::min(rows_per, v.rows - r0);
      FRSPEC_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the previous slice's copy has read the buffer
      for (int64_t r = 0; r < nr; ++r) repack_row(v.type, src + (r0 + r) * in_bytes, upload_ + r * out_bytes, v.cols);
      FRSPEC_CUDA_CHECK(cudaMemcpyAsync(dev + r0 * out_bytes, upload_, nr * out_bytes, cudaMemcpyHostToDevice, stream_));
    }
    FRSPEC_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return w;
  }
  Weight gather_rows(const Weight& w, const int32_t* ids, int k) override {
    require(k > 0, "gather_rows: k must be positive, got " + std::to_string(k));
    check_ids(ids, k, w.rows, "gather_rows");
    Weight g{w.type, k, w.cols, nullptr, w.row_bytes};
    uint8_t* dev = static_cast<uint8_t*>(device_alloc(w.row_bytes * k));
    g.data = dev;
    cuda::copy_rows(static_cast<const uint8_t*>(w.data), w.row_bytes, staging_->put(ids, k), k, dev, stream_);
    return g;
  }
  void release(Weight& w) override {
    if (w.data) device_free(const_cast<void*>(w.data));
    w = Weight{};
  }
  float* prepare_vector(const float* host, size_t n) override {
    float* p = alloc(n);
    to_device(p, host, n);
    return p;
  }

  // ---- compute
  void matmul(const Weight& w, const float* x, float* y, int n, const float* bias) override {
    require(n > 0 && w.data, "matmul: n must be positive and the weight prepared");
    cuda::matmul(w, x, y, n, bias, stream_);
  }
  void get_rows(const Weight& w, const int32_t* ids, int n, float* out) override {
    require(n > 0, "get_rows: n must be positive");
    check_ids(ids, n, w.rows, "get_rows");
    SmallInts small{};
    const int32_t* dev = small_or_staged(ids, n, small);
    cuda::get_rows(w, dev, small, n, out, stream_);
  }
  void rms_norm(const float* x, const float* weight, float* y, int n, int d, float eps) override {
    require(n > 0 && d > 0, "rms_norm: n and d must be positive");
    cuda::rms_norm(x, weight, y, n, d, eps, stream_);
  }
  void rope(float* x, const int32_t* pos, int n, int n_heads, int head_dim, const RopeParams& p) override {
    const int rot = p.rot_dims > 0 ? p.rot_dims : head_dim;
    require(n > 0 && n_heads > 0 && head_dim > 0 && rot % 2 == 0 && rot <= head_dim,
            "rope: bad shape (n " + std::to_string(n) + ", heads " + std::to_string(n_heads) + ", head_dim " +
                std::to_string(head_dim) + ", rot_dims " + std::to_string(rot) + ")");
    SmallInts small{};
    const int32_t* dev = small_or_staged(pos, n, small);
    cuda::rope(x, dev, small, n, n_heads, head_dim, p, stream_);
  }
  void swiglu(const float* gate, const float* up, float* out, int n, int d) override {
    cuda::swiglu(gate, up, out, size_t(n) * d, stream_);
  }
  void add(float* y, const float* x, size_t n) override { cuda::add(y, x, n, stream_); }
  void copy_rows(float* dst, size_t dst_stride, const float* src, size_t src_stride, int n, int cols) override {
    require(n >= 0 && cols >= 0 && size_t(cols) <= dst_stride && size_t(cols) <= src_stride,
            "copy_rows: cols must fit both strides");
    if (n == 0 || cols == 0) return;
    FRSPEC_CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_stride * sizeof(float), src, src_stride * sizeof(float),
                                        size_t(cols) * sizeof(float), n, cudaMemcpyDeviceToDevice, stream_));
  }

  // ---- fused operations (backend.h): one GEMV launch per pass of tokens where the weights allow it, else
  // the default composition of the unfused ops (same bits either way)
  void matmul_qkv(const Weight& wq, const Weight& wk, const Weight& wv, const float* x, int n, float* yq, float* yk,
                  float* yv, const float* bq, const float* bk, const float* bv, const InputNorm* norm = nullptr) override {
    GemvJob job;
    job.count = 3;
    job.w[0] = &wq, job.w[1] = &wk, job.w[2] = &wv;
    job.y[0] = yq, job.y[1] = yk, job.y[2] = yv;
    job.bias[0] = bq, job.bias[1] = bk, job.bias[2] = bv;
    if (!fuse_ || !fold_norm(job, norm) || !gemv_fusable(job, x, n))
      return Backend::matmul_qkv(wq, wk, wv, x, n, yq, yk, yv, bq, bk, bv, norm);
    matmul_fused(job, x, n, stream_);
  }
  void matmul_add(const Weight& w, const float* x, float* y, float* tmp, int n, const float* bias) override {
    GemvJob job;
    job.mode = GemvTargets::kAdd;
    job.w[0] = &w, job.y[0] = y, job.bias[0] = bias;
    if (!fuse_ || !gemv_fusable(job, x, n)) return Backend::matmul_add(w, x, y, tmp, n, bias);
    matmul_fused(job, x, n, stream_);
  }
  void matmul_swiglu(const Weight& gate, const Weight& up, const float* x, float* out, float* tmp, int n,
                     const InputNorm* norm = nullptr) override {
    GemvJob job;
    job.mode = GemvTargets::kSwiglu;
    job.count = 2;
    job.w[0] = &gate, job.w[1] = &up, job.y[0] = out;
    if (!fuse_ || !fold_norm(job, norm) || !gemv_fusable(job, x, n)) return Backend::matmul_swiglu(gate, up, x, out, tmp, n, norm);
    matmul_fused(job, x, n, stream_);
  }
  // The GEMV folds an RMSNorm with a weight (every model's norms have one); without a weight, the default.
  // The scale is computed once per token into norm_scale_ (a launch before the GEMV) unless
  // norm_in_gemv() asks every GEMV block to compute it.
  bool fold_norm(GemvJob& job, const InputNorm* norm) {
    if (!norm) return true;
    job.norm_w = norm->weight, job.norm_eps = norm->eps;
    job.norm_scale = norm_in_gemv() ? nullptr : norm_scale_;
    return norm->weight != nullptr;
  }
  void rope_kv_write(KvCache& kv, int layer, float* q, int n_heads, float* k, const float* v, const int32_t* pos, int n,
                     const RopeParams& p, int first_slot) override {
    if (!fuse_) return Backend::rope_kv_write(kv, layer, q, n_heads, k, v, pos, n, p, first_slot);
    auto& c = cuda_kv(kv);
    const auto& s = c.shape();
    const int rot = p.rot_dims > 0 ? p.rot_dims : s.head_dim;
    require(n > 0 && n_heads > 0 && rot % 2 == 0 && rot <= s.head_dim,
            "rope_kv_write: bad shape (n " + std::to_string(n) + ", heads " + std::to_string(n_heads) + ", rot_dims " +
                std::to_string(rot) + ")");
    require(layer >= 0 && layer < s.n_layers && first_slot >= 0 && first_slot + n <= s.capacity,
            "rope_kv_write: layer " + std::to_string(layer) + ", slots " + std::to_string(first_slot) + ".." +
                std::to_string(first_slot + n) + " outside the cache (" + std::to_string(s.n_layers) + " layers, " +
                std::to_string(s.capacity) + " slots)");
    SmallInts small{};
    const int32_t* dev = small_or_staged(pos, n, small);
    const size_t off = size_t(first_slot) * c.kv_dim();
    cuda::rope_kv_write(q, n_heads, k, v, dev, small, n, s.n_kv_heads, s.head_dim, p, c.k(layer) + off, c.v(layer) + off,
                        stream_);
  }

  // Decode of one token (causal): RoPE, the cache write and attention as one launch (kv_attention.cu); else
  // the default composition.
  void rope_kv_attention(KvCache& kv, int layer, float* q, float* k, const float* v, float* out, const int32_t* pos,
                         int n, const RopeParams& p, int n_past, const uint8_t* mask, int n_heads, float scale) override {
    auto& c = cuda_kv(kv);
    const auto& s = c.shape();
    const int rot = p.rot_dims > 0 ? p.rot_dims : s.head_dim, dpl = s.head_dim / 32;
    const bool one = fuse_ && n == 1 && !mask && pos && (s.head_dim == 32 || s.head_dim == 64 || s.head_dim == 128 ||
                                                         s.head_dim == 256) &&
                     rot > 0 && rot % 2 == 0 && rot <= s.head_dim && (rot / 2) % dpl == 0 && n_heads > 0 &&
                     n_heads % s.n_kv_heads == 0 && layer >= 0 && layer < s.n_layers && n_past >= 0 &&
                     n_past + 1 <= s.capacity;
    if (!one) return Backend::rope_kv_attention(kv, layer, q, k, v, out, pos, n, p, n_past, mask, n_heads, scale);
    const size_t off = size_t(n_past) * c.kv_dim();
    const NewToken nt{k, v, c.k(layer) + off, c.v(layer) + off, p.freq_factors, pos[0], rot, p.neox ? 1 : 0, p.theta};
    AttnMask am;
    am.mode = AttnMask::kCausal;
    float* partial = c.partial(n_heads, stream_);  // (re)allocates the counters too: before c.counters()
    cuda::attention(c.k(layer), c.v(layer), q, out, n_past, 1, am, nullptr, nullptr, n_heads, s.n_kv_heads, s.head_dim,
                    scale, partial, stream_, c.counters(), &nt);
  }

  // ---- KV cache and attention
  std::unique_ptr<KvCache> create_kv(const KvCacheShape& s) override {
    require(s.n_layers > 0 && s.n_kv_heads > 0 && s.head_dim > 0 && s.capacity > 0, "create_kv: every dimension must be positive");
    const size_t n = 2 * size_t(s.n_layers) * s.capacity * s.n_kv_heads * s.head_dim;
    float* data = nullptr;
    FRSPEC_CUDA_CHECK(cudaMalloc(&data, n * sizeof(float)));
    FRSPEC_CUDA_CHECK(cudaMemsetAsync(data, 0, n * sizeof(float), stream_));
    return std::make_unique<CudaKv>(s, data);
  }
  void kv_write(KvCache& kv, int layer, const float* k, const float* v, int first_slot, int n) override {
    auto& c = cuda_kv(kv);
    const auto& s = c.shape();
    require(layer >= 0 && layer < s.n_layers && first_slot >= 0 && n > 0 && first_slot + n <= s.capacity,
            "kv_write: layer " + std::to_string(layer) + ", slots " + std::to_string(first_slot) + ".." +
                std::to_string(first_slot + n) + " outside the cache (" + std::to_string(s.n_layers) + " layers, " +
                std::to_string(s.capacity) + " slots)");
    cuda::kv_write(c.k(layer), c.v(layer), k, v, first_slot, n, c.kv_dim(), stream_);
  }
  void kv_move(KvCache& kv, const int32_t* src, const int32_t* dst, int n) override {
    if (n <= 0) return;
    auto& c = cuda_kv(kv);
    check_ids(src, n, c.shape().capacity, "kv_move src");
    check_ids(dst, n, c.shape().capacity, "kv_move dst");
    for (int i = 0; i < n; ++i)
      if (dst[i] > src[i])
        throw std::out_of_range("cuda backend: kv_move: slot pair " + std::to_string(src[i]) + " -> " +
                                std::to_string(dst[i]) + " moves backwards (the contract is dst <= src)");
    std::vector<int32_t> both(2 * size_t(n));
    std::copy(src, src + n, both.begin());
    std::copy(dst, dst + n, both.begin() + n);
    const int32_t* d = staging_->put(both.data(), both.size());
    cuda::kv_move(c.data(), c.shape().n_layers, c.shape().capacity, c.kv_dim(), d, d + n, n, stream_);
  }
  void attention(const KvCache& kv, int layer, const float* q, float* out, int n_past, int n, const uint8_t* mask,
                 int n_heads, float scale) override {
    auto& c = cuda_kv(kv);
    const auto& s = c.shape();
    require(layer >= 0 && layer < s.n_layers && n > 0 && n_past >= 0 && n_past + n <= s.capacity,
            "attention: layer " + std::to_string(layer) + ", n_past " + std::to_string(n_past) + ", n " +
                std::to_string(n) + " outside the cache");
    require(n_heads > 0 && n_heads % s.n_kv_heads == 0, "attention: n_heads must be a multiple of n_kv_heads");
    AttnMask am;
    if (!mask || n <= kMaxMaskTokens) {
      am.mode = mask ? AttnMask::kBits : AttnMask::kCausal;
      for (int i = 0; mask && i < n; ++i) {
        am.bits[i] = 0;
        for (int j = 0; j < n; ++j) am.bits[i] |= uint64_t(mask[size_t(i) * n + j] != 0) << j;
      }
      float* partial = c.partial(n_heads, stream_);  // (re)allocates the counters too: before c.counters()
      return cuda::attention(c.k(layer), c.v(layer), q, out, n_past, n, am, nullptr, nullptr, n_heads, s.n_kv_heads,
                             s.head_dim, scale, partial, stream_, c.counters());
    }
    // A large explicit mask: per query, the new slots it sees, in slot order, as device lists.
    am.mode = AttnMask::kLists;
    std::vector<int32_t> lists(size_t(n) + 1);
    std::vector<int32_t> keys;
    for (int i = 0; i < n; ++i) {
      lists[i] = int32_t(keys.size());
      for (int j = 0; j < n; ++j)
        if (mask[size_t(i) * n + j] != 0) keys.push_back(j);
    }
    lists[n] = int32_t(keys.size());
    if (keys.empty()) keys.push_back(0);
    lists.insert(lists.end(), keys.begin(), keys.end());
    const int32_t* d = staging_->put(lists.data(), lists.size());
    cuda::attention(c.k(layer), c.v(layer), q, out, n_past, n, am, d, d + n + 1, n_heads, s.n_kv_heads, s.head_dim, scale,
                    nullptr, stream_);
  }

  // ---- reductions
  void argmax(const float* logits, int n, int vocab, int32_t* host_out) override {
    require(n > 0 && vocab > 0, "argmax: n and vocab must be positive");
    int32_t* ids = scratch_ids(n);
    cuda::argmax(logits, n, vocab, ids, stream_);
    FRSPEC_CUDA_CHECK(cudaMemcpyAsync(host_out, ids, n * sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
    wait_for_results();
  }
  void topk(const float* logits, int vocab, int k, int32_t* host_ids, float* host_vals) override {
    require(k > 0 && k <= vocab, "topk: k must be in 1..vocab, got " + std::to_string(k));
    if (k > kMaxTopK) return topk_on_host(logits, vocab, k, host_ids, host_vals);
    float* vals = topk_scratch(vocab, k);
    int32_t* ids = reinterpret_cast<int32_t*>(topk_scratch_ + k);
    cuda::topk(logits, vocab, k, topk_scratch_ + 2 * size_t(k), ids, vals, stream_, topk_counter());
    FRSPEC_CUDA_CHECK(cudaMemcpyAsync(host_ids, ids, k * sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
    FRSPEC_CUDA_CHECK(cudaMemcpyAsync(host_vals, vals, k * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    wait_for_results();
  }

  // ---- token ids in device memory (backend.h): the speculative loop's drafted ids stay on the GPU
  bool device_resident() const override { return true; }
  void free_ids(int32_t* ids) override { device_free(ids); }
  void write_ids(int32_t* ids, const int32_t* host, int n) override {
    if (n <= 0) return;
    if (n <= kSmallInts) {  // by value in a kernel's parameters: no copy, no wait (a verify step's root)
      SmallInts small{};
      std::copy(host, host + n, small.v);
      return cuda::write_small_ids(ids, small, n, stream_);
    }
    FRSPEC_CUDA_CHECK(cudaMemcpyAsync(ids, host, size_t(n) * sizeof(int32_t), cudaMemcpyHostToDevice, stream_));
    wait_for_results();  // the caller may reuse `host` at once (rare: a head's id table per request)
  }
  void read_ids(int32_t* host, const int32_t* ids, int n) override {
    if (n <= 0) return;
    FRSPEC_CUDA_CHECK(cudaMemcpyAsync(host, ids, size_t(n) * sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
    wait_for_results();
  }
  void get_rows_ids(const Weight& w, const int32_t* ids, int n, float* out) override {
    require(n > 0 && ids, "get_rows_ids: n must be positive and the ids given");
    cuda::get_rows(w, ids, SmallInts{}, n, out, stream_);
  }
  void argmax_ids(const float* logits, int n, int vocab, const int32_t* remap, int32_t* ids) override {
    require(n > 0 && vocab > 0 && ids, "argmax_ids: n and vocab must be positive and the ids given");
    cuda::argmax_remap(logits, n, vocab, remap, ids, stream_);
  }
  // Each row's top-k into one device buffer [ids n*k | vals n*k | lse n], then ONE read back.
  void topk_rows(const float* logits, int n, int vocab, int k, int32_t* host_ids, float* host_vals, float* host_lse) override {
    require(n > 0 && k > 0 && k <= vocab && k <= kMaxTopK, "topk_rows: n must be positive and k in 1..min(vocab, 256)");
    const size_t nk = size_t(n) * k, need = 2 * nk + n;
    if (need > rows_out_cap_) {
      device_free(rows_out_);
      rows_out_ = alloc(need);
      rows_out_cap_ = need;
    }
    float* passes = topk_scratch(vocab, k) + 2 * size_t(k);
    int32_t* ids = reinterpret_cast<int32_t*>(rows_out_);
    float* vals = rows_out_ + nk;
    for (int r = 0; r < n; ++r)  // rows share the pass scratch: stream order keeps them apart
      cuda::topk(logits + size_t(r) * vocab, vocab, k, passes, ids + size_t(r) * k, vals + size_t(r) * k, stream_,
                 topk_counter());
    cuda::log_sum_exp(logits, n, vocab, vals + nk, stream_);
    rows_host_.resize(need);
    FRSPEC_CUDA_CHECK(cudaMemcpyAsync(rows_host_.data(), rows_out_, need * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    wait_for_results();
    std::memcpy(host_ids, rows_host_.data(), nk * sizeof(int32_t));
    std::memcpy(host_vals, rows_host_.data() + nk, nk * sizeof(float));
    std::memcpy(host_lse, rows_host_.data() + 2 * nk, size_t(n) * sizeof(float));
  }
  uint64_t host_waits() const override { return waits_; }

  // ---- a queued step as a CUDA graph (backend.h begin_graph): recorded each time (the host's side of
  // each op runs as usual), then either an instantiation of the same shape is updated in place
  // (kernel parameters such as n_past change every step) or a new one is made.
  void begin_graph() override {
    require(!recording_, "begin_graph: already recording");
    staging_->make_room(256 << 10);
    FRSPEC_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed));
    recording_ = true;
  }
  void end_graph() override {
    if (!recording_) return;
    recording_ = false;
    cudaGraph_t g = nullptr;
    FRSPEC_CUDA_CHECK(cudaStreamEndCapture(stream_, &g));
    uint64_t shape = 0;
    cudaError_t e = graph_shape(g, shape);
    if (e != cudaSuccess) {
      cudaGraphDestroy(g);
      FRSPEC_CUDA_CHECK(e);
    }
    cudaGraphExec_t* exec = nullptr;
    for (auto& [key, x] : execs_)
      if (key == shape) exec = &x;
    if (exec && *exec) {
      cudaGraphExecUpdateResultInfo info{};
      if (cudaGraphExecUpdate(*exec, g, &info) != cudaSuccess) {  // refused (e.g. a node it cannot retarget)
        cudaGetLastError();
        cudaGraphExecDestroy(*exec);
        *exec = nullptr;
      } else {
        ++graph_updates_;
      }
    }
    if (!exec) {
      if (execs_.size() >= 8) {  // a few shapes recur (catch-up lengths, attention splits): keep the latest 8
        cudaGraphExecDestroy(execs_.front().second);
        execs_.erase(execs_.begin());
      }
      execs_.emplace_back(shape, nullptr);
      exec = &execs_.back().second;
    }
    if (!*exec) {
      e = cudaGraphInstantiate(exec, g, 0);
      ++graph_instantiations_;
    }
    cudaGraphDestroy(g);
    FRSPEC_CUDA_CHECK(e);
    FRSPEC_CUDA_CHECK(cudaGraphLaunch(*exec, stream_));
    ++graph_launches_;
  }
  void abort_graph() override {
    if (!recording_) return;
    recording_ = false;
    cudaGraph_t g = nullptr;
    cudaStreamEndCapture(stream_, &g);
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();
  }
  // A recording's shape: its node types and kernels in order (a linear stream recording's topology), so
  // only a recording an instantiation can take by updating parameters is matched with it.
  static cudaError_t graph_shape(cudaGraph_t g, uint64_t& shape) {
    size_t count = 0;
    cudaError_t e = cudaGraphGetNodes(g, nullptr, &count);
    if (e != cudaSuccess) return e;
    std::vector<cudaGraphNode_t> nodes(count);
    if ((e = cudaGraphGetNodes(g, nodes.data(), &count)) != cudaSuccess) return e;
    uint64_t h = 0xcbf29ce484222325ull ^ count;
    auto mix = [&](uint64_t v) { h = (h ^ v) * 0x100000001b3ull; };
    for (cudaGraphNode_t node : nodes) {
      cudaGraphNodeType type;
      if ((e = cudaGraphNodeGetType(node, &type)) != cudaSuccess) return e;
      mix(uint64_t(type));
      if (type == cudaGraphNodeTypeKernel) {
        cudaKernelNodeParams kp{};
        if ((e = cudaGraphKernelNodeGetParams(node, &kp)) != cudaSuccess) return e;
        mix(reinterpret_cast<uintptr_t>(kp.func));
      }
    }
    shape = h;
    return cudaSuccess;
  }
  GraphCounts graph_counts() const override { return {graph_launches_, graph_updates_, graph_instantiations_}; }

  // ---- extras (benchmarks, tests)
  DeviceInfo info() const override { return info_; }
  double time_ms(const std::function<void()>& fn, int warmup, int reps, bool graph) override {
    cudaGraphExec_t exec = nullptr;
    if (graph) {
      // Start the ring at 0 so no wrap (a synchronize, illegal while capturing) happens inside fn.
      FRSPEC_CUDA_CHECK(cudaStreamSynchronize(stream_));
      staging_->reset();
      cudaGraph_t g = nullptr;
      FRSPEC_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      try {
        fn();
      } catch (...) {
        cudaStreamEndCapture(stream_, &g);
        if (g) cudaGraphDestroy(g);
        throw;
      }
      FRSPEC_CUDA_CHECK(cudaStreamEndCapture(stream_, &g));
      FRSPEC_CUDA_CHECK(cudaGraphInstantiate(&exec, g, 0));
      cudaGraphDestroy(g);
    }
    auto run = [&] {
      if (exec) FRSPEC_CUDA_CHECK(cudaGraphLaunch(exec, stream_));
      else fn();
    };
    cudaEvent_t a, b;
    FRSPEC_CUDA_CHECK(cudaEventCreate(&a));
    FRSPEC_CUDA_CHECK(cudaEventCreate(&b));
    for (int i = 0; i < warmup; ++i) run();
    std::vector<float> ms(reps);
    for (int i = 0; i < reps; ++i) {
      FRSPEC_CUDA_CHECK(cudaEventRecord(a, stream_));
      run();
      FRSPEC_CUDA_CHECK(cudaEventRecord(b, stream_));
      FRSPEC_CUDA_CHECK(cudaEventSynchronize(b));
      FRSPEC_CUDA_CHECK(cudaEventElapsedTime(&ms[i], a, b));
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    if (exec) cudaGraphExecDestroy(exec);
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }
  double copy_bandwidth(size_t bytes, int reps) override {
    void* src = device_alloc(bytes);
    void* dst = device_alloc(bytes);
    random_fill(static_cast<float*>(src), bytes / 4, 1, -1.f, 1.f);
    const double ms = time_ms([&] { FRSPEC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_)); },
                              2, reps, false);
    device_free(src);
    device_free(dst);
    return 2.0 * double(bytes) / (ms * 1e-3);
  }
  Weight random_weight(DType type, int64_t rows, int64_t cols, uint64_t seed) override {
    check_weight(type, rows, cols, "random");
    Weight w{type, rows, cols, nullptr, device_row_bytes(type, cols)};
    uint8_t* dev = static_cast<uint8_t*>(device_alloc(w.row_bytes * rows));
    w.data = dev;
    random_bytes_kernel<<<2048, 256, 0, stream_>>>(reinterpret_cast<uint32_t*>(dev), w.row_bytes * rows / 4, seed);
    FRSPEC_CUDA_LAUNCHED("random_weight");
    for (int64_t r0 = 0; r0 < rows; r0 += 65535) {
      const dim3 grid(ceil_div(cols, 256) < 32 ? ceil_div(cols, 256) : 32, unsigned(std::min<int64_t>(65535, rows - r0)));
      fix_weight_kernel<<<grid, 256, 0, stream_>>>(dev + r0 * w.row_bytes, w.row_bytes, int(rows), int(cols), type);
      FRSPEC_CUDA_LAUNCHED("random_weight");
    }
    return w;
  }
  void random_fill(float* p, size_t n, uint64_t seed, float lo, float hi) override {
    random_fill_kernel<<<1024, 256, 0, stream_>>>(p, n, seed, lo, hi);
    FRSPEC_CUDA_LAUNCHED("random_fill");
  }
  void argmax_device(const float* logits, int n, int vocab, int32_t* ids) override {
    cuda::argmax(logits, n, vocab, ids, stream_);
  }
  void topk_device(const float* logits, int vocab, int k, int32_t* ids, float* vals, const int32_t* remap) override {
    require(k > 0 && k <= kMaxTopK && k <= vocab, "topk_device: k must be in 1..min(vocab, 256)");
    float* scratch = topk_scratch(vocab, k);
    cuda::topk(logits, vocab, k, scratch + 2 * size_t(k), ids, vals, stream_, topk_counter(), remap);
  }
  void set_launch_overlap(bool on) override { launch_overlap() = on && info_.cc_major >= 9; }
  void set_weight_prefetch(bool on) override { weight_prefetch() = on; }
  void set_norm_in_gemv(bool on) override { norm_in_gemv() = on; }
  int32_t* alloc_ids(size_t n) override { return reinterpret_cast<int32_t*>(alloc(n)); }
  size_t free_memory() const override {
    size_t f = 0, t = 0;
    cudaMemGetInfo(&f, &t);
    return f;
  }

 private:
  // Every wait of the host for the stream, counted (cuda_spec_bench reports host waits per step).
  void wait_for_results() {
    ++waits_;
    FRSPEC_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void* device_alloc(size_t bytes) {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear the (non-sticky) allocation error
      throw std::runtime_error("cuda backend: out of GPU memory allocating " + std::to_string(bytes >> 20) + " MiB (" +
                               cudaGetErrorString(e) + ")");
    }
    FRSPEC_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream_));
    std::lock_guard<std::mutex> lock(mu_);
    owned_.insert(p);
    return p;
  }
  // Like std::free: null and unknown pointers are ignored, and nothing throws (it runs in destructors).
  void device_free(void* p) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!p || !owned_.erase(p)) return;
    }
    cudaStreamSynchronize(stream_);  // queued work may still use it
    cudaFree(p);
  }
  // n <= 64 values go by value (small), more through the staging ring (returned device pointer).
  const int32_t* small_or_staged(const int32_t* host, int n, SmallInts& small) {
    if (n <= kSmallInts) {
      std::copy(host, host + n, small.v);
      return nullptr;
    }
    return staging_->put(host, n);
  }
  static void check_ids(const int32_t* ids, int n, int64_t limit, const char* op) {
    require(ids != nullptr, std::string(op) + ": no ids");
    for (int i = 0; i < n; ++i)
      if (ids[i] < 0 || ids[i] >= limit)
        throw std::out_of_range(std::string("cuda backend: ") + op + ": id " + std::to_string(ids[i]) + " at index " +
                                std::to_string(i) + " is outside [0, " + std::to_string(limit) + ")");
  }
  static CudaKv& cuda_kv(KvCache& kv) {
    auto* c = dynamic_cast<CudaKv*>(&kv);
    require(c != nullptr, "KV cache was not created by this backend");
    return *c;
  }
  static CudaKv& cuda_kv(const KvCache& kv) { return cuda_kv(const_cast<KvCache&>(kv)); }
  int32_t* scratch_ids(int n) {
    if (size_t(n) > ids_cap_) {
      if (ids_) device_free(ids_);
      ids_ = reinterpret_cast<int32_t*>(alloc(n));
      ids_cap_ = n;
    }
    return ids_;
  }
  // Scratch for top-k: k values, k ids, then the passes' buffers.
  float* topk_scratch(int vocab, int k) {
    const size_t need = topk_scratch_floats(vocab, k) + 2 * size_t(k);
    if (need > topk_cap_) {
      if (topk_scratch_) device_free(topk_scratch_);
      topk_scratch_ = alloc(need);
      topk_cap_ = need;
    }
    return topk_scratch_;
  }
  // Allocated on first use outside any capture: the constructor calls it.
  unsigned* topk_counter() {
    if (!topk_counter_) topk_counter_ = static_cast<unsigned*>(device_alloc(sizeof(unsigned)));  // zeroed
    return topk_counter_;
  }
  void topk_on_host(const float* logits, int vocab, int k, int32_t* host_ids, float* host_vals) {
    std::vector<float> row(vocab);
    to_host(row.data(), logits, vocab);
    for (float& v : row)
      if (v != v) v = -INFINITY;
    std::vector<int32_t> idx(vocab);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    for (int i = 0; i < k; ++i) host_ids[i] = idx[i], host_vals[i] = row[idx[i]];
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<Staging> staging_;
  DeviceInfo info_;
  std::mutex mu_;
  std::unordered_set<void*> owned_;
  int32_t* ids_ = nullptr;
  size_t ids_cap_ = 0;
  float* topk_scratch_ = nullptr;
  unsigned* topk_counter_ = nullptr;  // the one-kernel top-k's block counter (0 between launches)
  float* norm_scale_ = nullptr;  // kMaxVerifyTokens RMSNorm scales for the normalizing GEMVs (GemvJob)
  // FRSPEC_CUDA_NO_FUSION=1: the fused ops run as their unfused compositions (A/B timings, a fallback).
  const bool fuse_ = std::getenv("FRSPEC_CUDA_NO_FUSION") == nullptr;
  size_t topk_cap_ = 0;
  uint8_t* upload_ = nullptr;  // pinned staging for prepare()
  float* rows_out_ = nullptr;  // topk_rows' device results
  size_t rows_out_cap_ = 0;
  std::vector<float> rows_host_;
  uint64_t waits_ = 0;
  bool recording_ = false;
  std::vector<std::pair<uint64_t, cudaGraphExec_t>> execs_;  // by recording shape (end_graph)
  uint64_t graph_launches_ = 0, graph_updates_ = 0, graph_instantiations_ = 0;
  size_t upload_cap_ = 0;
};

}  // namespace

CudaBackendExtras* extras(Backend* b) { return dynamic_cast<CudaBackend*>(b); }

}  // namespace frspec::cuda

namespace frspec {

std::unique_ptr<Backend> make_cuda_backend(int device, std::string* why) {
  auto fail = [&](const std::string& m) -> std::unique_ptr<Backend> {
    if (why) *why = m;
    return nullptr;
  };
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);  // the static runtime loads the driver here, if any
  if (e != cudaSuccess) {
    cudaGetLastError();
    return fail(std::string("no usable CUDA driver/GPU (") + cudaGetErrorString(e) + ")");
  }
  if (count == 0) return fail("no CUDA GPU found");
  if (device < 0 || device >= count)
    return fail("CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " found)");
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, device) != cudaSuccess) return fail("cannot query CUDA device " + std::to_string(device));
  if (p.major < 8)
    return fail(std::string("GPU ") + p.name + " has compute capability " + std::to_string(p.major) + "." +
                std::to_string(p.minor) + "; this build needs 8.0 or newer");
  try {
    return std::make_unique<cuda::CudaBackend>(device);
  } catch (const std::exception& ex) {
    return fail(ex.what());
  }
}

}  // namespace frspec
