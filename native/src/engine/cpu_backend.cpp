// The CPU implementation of Backend: matmuls from cpu_kernels (over weight copies in huge pages on Linux,
// else zero-copy over the mmapped weights), row operations from cpu_ops, a KV cache laid out per KV head so
// attention streams contiguous rows, and one thread pool for everything. Work is split by rows (or query
// heads), never inside a row, so the result of every row is the same for any thread count and any batch it
// came in.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "engine/backend.h"
#include "engine/cpu_kernels.h"
#include "engine/cpu_argmax_filter.h"
#include "engine/cpu_attention.h"
#include "engine/cpu_ops.h"
#include "engine/huge_page_arena.h"
#include "engine/threadpool.h"

namespace frspec::FRSPEC_CPU {
namespace {

// K and V of every layer, per KV head: keys in blocks of 16 slots, transposed (cpu_attention.h), values
// row-major; one head's keys and values are each one contiguous run.
class CpuKvCache final : public KvCache {
 public:
  explicit CpuKvCache(const KvCacheShape& s) : shape_(s) {
    head_floats_ = size_t(s.capacity + cpu::kKvBlock - 1) / cpu::kKvBlock * cpu::kKvBlock * s.head_dim;
    k_.assign(size_t(s.n_layers) * s.n_kv_heads * head_floats_, 0.f);
    v_.assign(k_.size(), 0.f);
  }
  const KvCacheShape& shape() const override { return shape_; }
  float* k(int layer, int head) { return k_.data() + offset(layer, head); }
  float* v(int layer, int head) { return v_.data() + offset(layer, head); }
  const float* k(int layer, int head) const { return k_.data() + offset(layer, head); }
  const float* v(int layer, int head) const { return v_.data() + offset(layer, head); }

 private:
  size_t offset(int layer, int head) const { return (size_t(layer) * shape_.n_kv_heads + head) * head_floats_; }
  KvCacheShape shape_;
  size_t head_floats_ = 0;
  std::vector<float> k_, v_;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : pool_(threads), scratch_(pool_.size()) {
    const char* env = std::getenv("FRSPEC_ARGMAX_FILTER");  // "0": always the full LM head (benchmarks)
    use_argmax_filter_ = !(env && std::string(env) == "0");
  }
  ~CpuBackend() override {
    for (float* p : allocations_) ::operator delete(p, kAlign);
  }

  // "cpu (avx512: avx512-vnni)": the kernel variant (cpu_variant.h) and what its kernels use.
  std::string name() const override { return std::string("cpu (") + FRSPEC_CPU_VARIANT_NAME + ": " + cpu_kernels_isa() + ")"; }
  int threads() const override { return pool_.size(); }

  static constexpr std::align_val_t kAlign{64};
  float* alloc(size_t n_floats) override {
    const size_t bytes = std::max<size_t>(64, (n_floats * sizeof(float) + 63) / 64 * 64);
    // Aligned operator new rather than std::aligned_alloc, which Windows' C runtime lacks. Throws bad_alloc.
    auto* p = static_cast<float*>(::operator new(bytes, kAlign));
    std::memset(p, 0, bytes);
    allocations_.insert(p);
    return p;
  }
  void free(float* p) override {
    if (p && allocations_.erase(p)) ::operator delete(p, kAlign);
  }
  void to_device(float* dst, const float* src, size_t n) override { std::memcpy(dst, src, n * sizeof(float)); }
  void to_host(float* dst, const float* src, size_t n) override {
    if (dst != src) std::memcpy(dst, src, n * sizeof(float));
  }

  // Weights are copied into huge pages where the OS gives them (huge_page_arena.h: a decode step streams
  // every weight byte, ~25% faster from 2 MiB pages), else used in place in the file's mapping.
  Weight prepare(const WeightView& view) override {
    Weight w = cpu_weight(view.type, view.rows, view.cols, view.data);
    if (void* copy = copy_to_huge_pages(view.data, w.row_bytes * size_t(w.rows))) w.data = copy;
    return w;
  }
  Weight gather_rows(const Weight& w, const int32_t* ids, int k) override {
    std::vector<uint8_t> bytes = cpu_gather_rows(w, ids, k);
    if (void* copy = copy_to_huge_pages(bytes.data(), bytes.size())) return cpu_weight(w.type, k, w.cols, copy);
    Weight g = cpu_weight(w.type, k, w.cols, bytes.data());
    gathered_.emplace(g.data, std::move(bytes));  // the vector's buffer does not move with it
    return g;
  }
  void release(Weight& w) override {
    filters_.erase(w.data);
    // Zero-copy weights belong to the mapping: nothing to free.
    if (!huge_pages_.release(w.data)) gathered_.erase(w.data);
    w = Weight{};
  }
  float* prepare_vector(const float* host, size_t n) override {
    float* p = alloc(n);
    std::memcpy(p, host, n * sizeof(float));
    return p;
  }

  void matmul(const Weight& w, const float* x, float* y, int n, const float* bias) override {
    cpu_matmul(pool_, w, x, y, n, bias);
  }
  void get_rows(const Weight& w, const int32_t* ids, int n, float* out) override { cpu_get_rows(w, ids, n, out); }
  // q, k and v (gate and up) in one call: x quantized once per weight type, one task list for all rows (the
  // 256-row k and v alone left a thread idle at each call's end). Each output is cpu_matmul's, bit for bit.
  void matmul_qkv(const Weight& wq, const Weight& wk, const Weight& wv, const float* x, int n, float* yq, float* yk,
                  float* yv, const float* bq, const float* bk, const float* bv, const InputNorm* norm) override {
    if (norm) rms_norm(x, norm->weight, norm->h, n, int(wq.cols), norm->eps), x = norm->h;
    const MatmulOut outs[3] = {{&wq, yq, bq}, {&wk, yk, bk}, {&wv, yv, bv}};
    cpu_matmul_multi(pool_, outs, 3, x, n);
  }
  void matmul_swiglu(const Weight& gate, const Weight& up, const float* x, float* out, float* tmp, int n,
                     const InputNorm* norm) override {
    if (norm) rms_norm(x, norm->weight, norm->h, n, int(gate.cols), norm->eps), x = norm->h;
    const MatmulOut outs[2] = {{&gate, out, nullptr}, {&up, tmp, nullptr}};
    cpu_matmul_multi(pool_, outs, 2, x, n);
    swiglu(out, tmp, out, n, int(gate.rows));
  }

  void ffn_add(const Weight& gate, const Weight& up, const Weight& down, const float* x, float* y, float* gate_buf,
               float* up_buf, float* tmp, int n, const InputNorm* norm) override {
    if (down.type == DType::F32 || down.type == DType::F16 || down.type == DType::BF16 || down.cols != gate.rows || up.rows != gate.rows)
      return Backend::ffn_add(gate, up, down, x, y, gate_buf, up_buf, tmp, n, norm);
    if (norm) rms_norm(x, norm->weight, norm->h, n, int(gate.cols), norm->eps), x = norm->h;
    const MatmulOut outs[2] = {{&gate, gate_buf, nullptr}, {&up, up_buf, nullptr}};
    cpu_matmul_multi(pool_, outs, 2, x, n);
    // silu(g) * u made row by row as the down projection quantizes it (the same bits as swiglu, then matmul).
    cpu_matmul_swiglu_input(pool_, down, gate_buf, up_buf, tmp, n, nullptr);
    add(y, tmp, size_t(n) * down.rows);
  }

  void rms_norm(const float* x, const float* weight, float* y, int n, int d, float eps) override {
    // Tasks of 32 rows: cpu::rms_norm_rows runs 32 rows' chains side by side.
    constexpr int kRows = 32;
    pool_.parallel_for((n + kRows - 1) / kRows, [&](int t, int) {
      const int r0 = t * kRows;
      cpu::rms_norm_rows(x + size_t(r0) * d, weight, y + size_t(r0) * d, std::min(kRows, n - r0), d, eps);
    });
  }
  void rope(float* x, const int32_t* pos, int n, int n_heads, int head_dim, const RopeParams& p) override {
    if (head_dim > 1024) throw std::invalid_argument("rope: head_dim above 1024");
    const float* cs = rope_table(pos, n, head_dim, p);
    const int half = (p.rot_dims > 0 ? p.rot_dims : head_dim) / 2;
    // Tasks of 16 rows (a row is ~1 us: one row per task spent the time claiming tasks, not rotating).
    constexpr int kRows = 16;
    pool_.parallel_for((n + kRows - 1) / kRows, [&](int t, int) {
      for (int i = t * kRows; i < std::min(n, (t + 1) * kRows); ++i) {
        float own[1024];  // cos/sin pairs of a position the table does not keep
        const bool kept = pos[i] >= 0 && pos[i] < kRopeMaxPos;
        if (!kept) cpu::rope_angles(pos[i], half, rope_.inv_freq.data(), own);
        cpu::rope_apply(x + size_t(i) * n_heads * head_dim, n_heads, head_dim, p, kept ? cs + size_t(pos[i]) * 2 * half : own);
      }
    });
  }
  void swiglu(const float* gate, const float* up, float* out, int n, int d) override {
    rows(n, [&](int i) { cpu::swiglu_row(gate + size_t(i) * d, up + size_t(i) * d, out + size_t(i) * d, d); });
  }
  void add(float* y, const float* x, size_t n) override {
    // A prompt chunk's residual (256 x 1536 floats) in parts across the threads; a decode step's on this one.
    constexpr size_t kPart = 16384;
    pool_.parallel_for(int((n + kPart - 1) / kPart), [&](int t, int) {
      for (size_t i = size_t(t) * kPart, e = std::min(n, i + kPart); i < e; ++i) y[i] += x[i];
    });
  }

  void copy_rows(float* dst, size_t dst_stride, const float* src, size_t src_stride, int n, int cols) override {
    for (int i = 0; i < n; ++i) std::memcpy(dst + i * dst_stride, src + i * src_stride, cols * sizeof(float));
  }

  std::unique_ptr<KvCache> create_kv(const KvCacheShape& s) override {
    if (s.n_layers <= 0 || s.n_kv_heads <= 0 || s.head_dim <= 0 || s.capacity <= 0 || s.head_dim > 1024)
      throw std::invalid_argument("create_kv: invalid KV cache shape");
    for (cpu::AttentionScratch& a : scratch_) a.reserve(s.capacity);
    rope_.positions = std::max(rope_.positions, size_t(std::min(s.capacity, kRopeMaxPos)));
    return std::make_unique<CpuKvCache>(s);
  }

  void kv_write(KvCache& kv_, int layer, const float* k, const float* v, int first_slot, int n) override {
    auto& kv = static_cast<CpuKvCache&>(kv_);
    const KvCacheShape& s = kv.shape();
    check_slots(s, layer, first_slot, n);
    const size_t row = size_t(s.n_kv_heads) * s.head_dim;
    auto write = [&](int i0, int i1, int h) {
      for (int i = i0; i < i1; ++i) {
        cpu::store_key(kv.k(layer, h), s.head_dim, first_slot + i, k + i * row + size_t(h) * s.head_dim);
        std::memcpy(kv.v(layer, h) + size_t(first_slot + i) * s.head_dim, v + i * row + size_t(h) * s.head_dim,
                    s.head_dim * sizeof(float));
      }
    };
    if (n < 32) {
      for (int h = 0; h < s.n_kv_heads; ++h) write(0, n, h);
      return;
    }
    // A prompt chunk: tasks of (head, 16-slot key block), so no two tasks write the same cache lines.
    const int b0 = first_slot / cpu::kKvBlock, blocks = (first_slot + n - 1) / cpu::kKvBlock - b0 + 1;
    pool_.parallel_for(blocks * s.n_kv_heads, [&](int task, int) {
      const int b = b0 + task / s.n_kv_heads, h = task % s.n_kv_heads;
      write(std::max(0, b * cpu::kKvBlock - first_slot), std::min(n, (b + 1) * cpu::kKvBlock - first_slot), h);
    });
  }

  void kv_move(KvCache& kv_, const int32_t* src, const int32_t* dst, int n) override {
    auto& kv = static_cast<CpuKvCache&>(kv_);
    const KvCacheShape& s = kv.shape();
    for (int i = 0; i < n; ++i)
      if (src[i] < 0 || src[i] >= s.capacity || dst[i] < 0 || dst[i] > src[i])
        throw std::out_of_range("kv_move: slot pair " + std::to_string(src[i]) + " -> " + std::to_string(dst[i]) +
                                " is outside the cache or moves backwards");
    float key[1024];
    for (int l = 0; l < s.n_layers; ++l)
      for (int h = 0; h < s.n_kv_heads; ++h)
        for (int i = 0; i < n; ++i) {
          if (src[i] == dst[i]) continue;
          cpu::load_key(kv.k(l, h), s.head_dim, src[i], key);
          cpu::store_key(kv.k(l, h), s.head_dim, dst[i], key);
          std::memmove(kv.v(l, h) + size_t(dst[i]) * s.head_dim, kv.v(l, h) + size_t(src[i]) * s.head_dim,
                       s.head_dim * sizeof(float));
        }
  }

  void attention(const KvCache& kv_, int layer, const float* q, float* out, int n_past, int n,
                 const uint8_t* mask, int n_heads, float scale) override {
    const auto& kv = static_cast<const CpuKvCache&>(kv_);
    const KvCacheShape& s = kv.shape();
    check_slots(s, layer, n_past, n);
    if (n_heads % s.n_kv_heads != 0) throw std::invalid_argument("attention: heads not a multiple of KV heads");
    const int group = n_heads / s.n_kv_heads, hd = s.head_dim;
    const size_t row = size_t(n_heads) * hd;
    // One task per (chunk of query rows, KV head): a chunk is one attention pass (the group's heads of
    // one row, or of up to 6 rows for small groups), whose query vectors share every key and value read.
    // Chunks of equal size, so that a 5-row verify pass of a 1-head group is 3 + 2 rows, not 4 + 1.
    if (n == 0) return;
    const int per_chunk = cpu::attention_rows_per_pass(group);
    const int chunks = (n + per_chunk - 1) / per_chunk, rows = (n + chunks - 1) / chunks;
    pool_.parallel_for(chunks * s.n_kv_heads, [&](int task, int thread) {
      const int c = task / s.n_kv_heads, g = task % s.n_kv_heads;
      const int first = c * rows, m = std::min(rows, n - first);
      const size_t at = first * row + size_t(g) * group * hd;
      cpu::attend_rows(q + at, row, m, first, group, kv.k(layer, g), kv.v(layer, g), hd, n_past, n, mask, scale,
                       scratch_[thread], out + at);
    });
  }

  void argmax(const float* logits, int n, int vocab, int32_t* out) override {
    if (n > 1 || vocab < 32768 || pool_.size() == 1) {
      rows(n, [&](int i) { out[i] = cpu::argmax_row(logits + size_t(i) * vocab, vocab); });
      return;
    }
    // One large row (a decode step's logits): split it into one chunk per thread, then keep the first
    // chunk holding the maximum, so the answer is still the first maximum of the whole row.
    const int parts = std::min(pool_.size(), 64), chunk = (vocab / parts + 15) / 16 * 16;
    int32_t best[64];
    pool_.parallel_for(parts, [&](int p, int) {
      const int begin = std::min(vocab, p * chunk), len = std::min(vocab, begin + chunk) - begin;
      best[p] = len > 0 ? begin + cpu::argmax_row(logits + begin, len) : -1;
    });
    int32_t b = best[0];
    for (int p = 1; p < parts; ++p)
      if (best[p] >= 0 && logits[best[p]] > logits[b]) b = best[p];
    out[0] = b;
  }
  // Greedy decoding through a float LM head: the exact argmax from an 8-bit prefilter that reads about
  // half the bytes (cpu_argmax_filter.h), built the first time a head is used this way. n rows (greedy
  // verification of a drafted path) share one pass over the 8-bit head.
  void matmul_argmax(const Weight& w, const float* x, int n, float* logits, int32_t* out) override {
    if (n < 1 || !use_argmax_filter_ || !ArgmaxFilter::applicable(w)) return Backend::matmul_argmax(w, x, n, logits, out);
    filter(w).argmax(x, n, logits, out);
  }

  void matmul_argmax_draft(const Weight& w, const float* x, float* logits, int32_t* id, float* value) override {
    if (!use_argmax_filter_ || !ArgmaxFilter::applicable(w)) return Backend::matmul_argmax_draft(w, x, logits, id, value);
    filter(w).approx_argmax(x, logits, id, value);
  }

  void topk(const float* logits, int vocab, int k, int32_t* ids, float* vals) override {
    if (k < 1 || k > vocab) throw std::invalid_argument("topk: k must be in [1, vocab]");
    cpu::topk_row(logits, vocab, k, ids, vals);
  }

 private:
  // Row-parallel loop; small batches (a decode step, a speculative verify pass of up to 15 rows) stay on
  // the calling thread: a row of these ops is well under a microsecond, less than handing work to a worker.
  template <class F>
  void rows(int n, F&& f) {
    if (n < 16) {
      for (int i = 0; i < n; ++i) f(i);
    } else {
      pool_.parallel_for(n, [&](int i, int) { f(i); });
    }
  }
  // A copy of `bytes` at src in the huge-page arena, made by all threads (the first touch of each huge page
  // also zeroes it), or null where the arena is not enabled.
  void* copy_to_huge_pages(const void* src, size_t bytes) {
    void* dst = huge_pages_.allocate(bytes);
    if (!dst) return nullptr;
    constexpr size_t kPart = size_t(4) << 20;
    pool_.parallel_for(int((bytes + kPart - 1) / kPart), [&](int task, int) {
      const size_t off = size_t(task) * kPart;
      std::memcpy(static_cast<uint8_t*>(dst) + off, static_cast<const uint8_t*>(src) + off, std::min(kPart, bytes - off));
    });
    return dst;
  }
  // RoPE's cos/sin pairs by position: the same for every layer and for q and k, so computed once (in double,
  // cpu::rope_angles) and kept while the frequencies stay bitwise the same. Returns the table: position p's
  // pairs at p * rot_dims for p in [0, kRopeMaxPos) (a row at another position computes its own from
  // rope_.inv_freq).
  static constexpr int32_t kRopeMaxPos = 1 << 20;
  const float* rope_table(const int32_t* pos, int n, int head_dim, const RopeParams& p) {
    const int half = (p.rot_dims > 0 ? p.rot_dims : head_dim) / 2;
    double inv_freq[512];
    cpu::rope_inv_freq(head_dim, p, inv_freq);
    if (half != rope_.half || (half > 0 && std::memcmp(inv_freq, rope_.inv_freq.data(), size_t(half) * sizeof(double)) != 0)) {
      rope_.half = half;
      rope_.inv_freq.assign(inv_freq, inv_freq + half);
      rope_.cs.clear();
      rope_.have.clear();
    }
    for (int i = 0; i < n; ++i) {
      if (pos[i] < 0 || pos[i] >= kRopeMaxPos) continue;
      const size_t at = size_t(pos[i]);
      if (at >= rope_.have.size()) {
        rope_.have.resize(std::max({at + 1, 2 * rope_.have.size(), rope_.positions}), 0);
        rope_.cs.resize(rope_.have.size() * 2 * size_t(half));
      }
      if (!rope_.have[at]) cpu::rope_angles(pos[i], half, inv_freq, rope_.cs.data() + at * 2 * half), rope_.have[at] = 1;
    }
    return rope_.cs.data();
  }
  ArgmaxFilter& filter(const Weight& w) {  // the 8-bit copy of w, built on first use
    std::unique_ptr<ArgmaxFilter>& f = filters_[w.data];
    if (!f || f->rows() != w.rows) f = std::make_unique<ArgmaxFilter>(pool_, w);
    return *f;
  }
  static void check_slots(const KvCacheShape& s, int layer, int first, int n) {
    if (layer < 0 || layer >= s.n_layers || first < 0 || n < 0 || first + n > s.capacity)
      throw std::out_of_range("KV cache: slots [" + std::to_string(first) + ", " + std::to_string(first + n) +
                              ") of layer " + std::to_string(layer) + " do not fit a cache of " +
                              std::to_string(s.capacity) + " slots");
  }

  ThreadPool pool_;
  std::vector<cpu::AttentionScratch> scratch_;  // per thread
  std::unordered_set<float*> allocations_;
  HugePageArena huge_pages_;  // weight copies (prepare, gather_rows) where the OS gives huge pages
  std::unordered_map<const void*, std::vector<uint8_t>> gathered_;
  std::unordered_map<const void*, std::unique_ptr<ArgmaxFilter>> filters_;  // by LM head data
  bool use_argmax_filter_ = true;
  struct RopeTable {
    int half = -1;  // none yet
    std::vector<double> inv_freq;
    std::vector<float> cs;       // [position][half pairs]
    std::vector<uint8_t> have;   // [position]: cs filled
    size_t positions = 0;        // the largest KV cache's slots: the table's first size (decoding then allocates nothing)
  } rope_;
};

}  // namespace

// This variant's backend; make_cpu_backend (select_cpu_variant.cpp) calls the chosen variant's.
std::unique_ptr<Backend> make_variant_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace frspec
