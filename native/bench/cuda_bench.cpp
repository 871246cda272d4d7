// GPU benchmarks at real model shapes with random weights generated on the GPU (nothing large is carried
// to the machine). Every number is taken in the same run as its baseline, on the device named in the output:
//  * device-to-device copy bandwidth (bytes read + written): the ceiling for weight streaming;
//  * one decode step of a Qwen2.5-Coder-7B-shaped target per weight type: the weight GEMVs alone (bytes of
//    weights / time = achieved bandwidth, as a fraction of the copy) and the whole step (norms, RoPE,
//    attention over 512 cached tokens, LM head, argmax), each replayed from a CUDA graph;
//  * the same target verifying n = 1..64 tokens at once (the GEMV passes) and a prefill GEMM;
//  * Llama-3-8B LM head, full 128256 rows vs FR-Spec 32k / 16k gathered rows;
//  * draft steps: an EAGLE head on Llama-3-8B (fc + one layer + LM head + top-10) and a Qwen2.5-0.5B-shaped
//    draft model (24 layers + LM head + top-10), each with the full vocabulary vs FR-Spec 32k / 16k.
//  * with the 7B F16 target (or alone, --attn-sweep): the decode attention's warps x chunk sweep (issue 6).
//
//  * --types (alone): each quantized type's GEMV on the 7B FFN shapes and the decode step's GEMVs with the
//    tensor types of Q4_K_M, Q5_K_M, Q4_0 and IQ4_XS files (issue 16).
//
//   cuda_bench [--json FILE] [--quick] [--attn-sweep] [--types]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/backend.h"
#ifdef FRSPEC_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

using namespace frspec;

#ifndef FRSPEC_HAVE_CUDA
int main() {
  std::printf("SKIP: this build has no CUDA backend\n");
  return 0;
}
#else
using cuda::CudaBackendExtras;

namespace {

struct Row {
  std::string name;
  double ms = 0, bytes = 0;
  std::string extra;  // more JSON fields
};
std::vector<Row> g_rows;
double g_copy_bw = 0;

void report(const std::string& name, double ms, double bytes, const std::string& extra = "") {
  g_rows.push_back({name, ms, bytes, extra});
  if (bytes > 0)
    std::printf("%-62s %9.1f us  %7.1f GB/s  %5.1f%% of copy\n", name.c_str(), ms * 1e3, bytes / (ms * 1e-3) / 1e9,
                100.0 * bytes / (ms * 1e-3) / g_copy_bw);
  else
    std::printf("%-62s %9.1f us\n", name.c_str(), ms * 1e3);
}

const char* tname(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::Q8_0: return "Q8_0";
    case DType::Q4_K: return "Q4_K";
    case DType::Q6_K: return "Q6_K";
    case DType::Q4_0: return "Q4_0";
    case DType::Q4_1: return "Q4_1";
    case DType::Q5_0: return "Q5_0";
    case DType::Q5_1: return "Q5_1";
    case DType::Q5_K: return "Q5_K";
    case DType::IQ4_NL: return "IQ4_NL";
    case DType::IQ4_XS: return "IQ4_XS";
  }
  return "?";
}

struct Shape {
  const char* name;
  int d, layers, heads, kv_heads, head_dim, ffn, vocab;
  bool qkv_bias, eagle;  // eagle: fc [2d -> d] in front, no input norm, no final norm
};

// A transformer with random weights on the GPU, run through the Backend interface exactly as the
// forward pass does for one token (batch n for the GEMV-only timings).
class Synth {
 public:
  // The KV cache holds random K/V in slots [0, max_past); steps may attend any n_past <= max_past.
  Synth(Backend& b, CudaBackendExtras& x, const Shape& s, DType type, int max_past)
      : b_(b), x_(x), s_(s), n_past_(max_past) {
    uint64_t seed = 1;
    auto W = [&](int64_t rows, int64_t cols) {
      Weight w = x.random_weight(type, rows, cols, seed++);
      bytes_ += double(w.row_bytes) * w.rows;
      return w;
    };
    auto V = [&](size_t n, float lo, float hi) {
      float* p = b.alloc(n);
      x.random_fill(p, n, seed++, lo, hi);
      vecs_.push_back(p);
      return p;
    };
    const int qd = s.heads * s.head_dim, kvd = s.kv_heads * s.head_dim;
    if (s.eagle) fc_ = W(s.d, 2 * s.d);
    for (int l = 0; l < s.layers; ++l) {
      Layer L;
      L.q = W(qd, s.d), L.k = W(kvd, s.d), L.v = W(kvd, s.d), L.o = W(s.d, qd);
      L.gate = W(s.ffn, s.d), L.up = W(s.ffn, s.d), L.down = W(s.d, s.ffn);
      L.attn_norm = V(s.d, 0.5f, 1.5f), L.ffn_norm = V(s.d, 0.5f, 1.5f);
      if (s.qkv_bias) L.qb = V(qd, -0.1f, 0.1f), L.kb = V(kvd, -0.1f, 0.1f), L.vb = V(kvd, -0.1f, 0.1f);
      layers_.push_back(L);
    }
    layer_bytes_ = bytes_;
    if (!s.eagle) embd_ = x.random_weight(type, s.vocab, s.d, seed++);
    out_norm_ = V(s.d, 0.5f, 1.5f);
    const int n = 64;
    xbuf_ = V(size_t(n) * 2 * s.d, -1, 1), h_ = V(size_t(n) * s.d, -1, 1), q_ = V(size_t(n) * qd, -1, 1);
    k_ = V(size_t(n) * kvd, -1, 1), v_ = V(size_t(n) * kvd, -1, 1), att_ = V(size_t(n) * qd, -1, 1);
    gate_ = V(size_t(n) * s.ffn, -1, 1), up_ = V(size_t(n) * s.ffn, -1, 1), cat_ = V(size_t(n) * 2 * s.d, -1, 1);
    logits_ = V(size_t(n) * s.vocab, 0, 1);
    ids_ = x.alloc_ids(256);
    vals_ = b.alloc(256);
    kv_ = b.create_kv({s.layers, s.kv_heads, s.head_dim, max_past + 64});
    float* kvr = b.alloc(size_t(max_past) * kvd);
    x.random_fill(kvr, size_t(max_past) * kvd, 99, -1, 1);
    for (int l = 0; l < s.layers; ++l) b.kv_write(*kv_, l, kvr, kvr, 0, max_past);
    b.sync();
    b.free(kvr);
  }
  ~Synth() {
    b_.sync();
    for (auto& L : layers_)
      for (Weight* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) b_.release(*w);
    if (fc_.data) b_.release(fc_);
    if (embd_.data) b_.release(embd_);
    for (float* p : vecs_) b_.free(p);
    b_.free(reinterpret_cast<float*>(ids_));
    b_.free(vals_);
  }
  double layer_bytes() const { return layer_bytes_; }
  int vocab() const { return s_.vocab; }

  // Every weight GEMV of the layers for n tokens (no other work): the bandwidth measurement.
  void gemvs(int n) {
    for (auto& L : layers_) {
      b_.matmul(L.q, h_, q_, n, L.qb);
      b_.matmul(L.k, h_, k_, n, L.kb);
      b_.matmul(L.v, h_, v_, n, L.vb);
      b_.matmul(L.o, att_, xbuf_, n, nullptr);
      b_.matmul(L.gate, h_, gate_, n, nullptr);
      b_.matmul(L.up, h_, up_, n, nullptr);
      b_.matmul(L.down, gate_, xbuf_, n, nullptr);
    }
  }
  // One full token step: embedding (or EAGLE's fc), every layer, final norm, LM head, then argmax (k = 0)
  // or top-k with FR-Spec's id remap.
  // fused: the forward pass's fused ops (norm + matmul_qkv, rope_kv_attention, matmul_add, norm +
  // matmul_swiglu), as forward.cpp runs them; false: the unfused ops one by one (the previous step, for comparison).
  void step(const Weight& head, int k, const int32_t* remap, int n_past = 512, bool fused = true) {
    const Shape& s = s_;
    const int32_t pos = n_past, tok = 1234;
    if (s.eagle) {
      b_.matmul(fc_, cat_, xbuf_, 1, nullptr);
    } else {
      b_.get_rows(embd_, &tok, 1, xbuf_);
    }
    RopeParams rope;
    rope.neox = !s.eagle;
    for (size_t l = 0; l < layers_.size(); ++l) {
      Layer& L = layers_[l];
      const float* in = xbuf_;
      if (fused) {  // as forward.cpp: the norms folded into the q|k|v and gate|up GEMVs
        const InputNorm attn_in{L.attn_norm, 1e-6f, h_}, ffn_in{L.ffn_norm, 1e-6f, h_};
        b_.matmul_qkv(L.q, L.k, L.v, xbuf_, 1, q_, k_, v_, L.qb, L.kb, L.vb, s.eagle ? nullptr : &attn_in);
        b_.rope_kv_attention(*kv_, int(l), q_, k_, v_, att_, &pos, 1, rope, n_past, nullptr, s.heads,
                             1.f / std::sqrt(float(s.head_dim)));
        b_.matmul_add(L.o, att_, xbuf_, h_, 1, nullptr);
        b_.matmul_swiglu(L.gate, L.up, xbuf_, gate_, up_, 1, &ffn_in);
        b_.matmul_add(L.down, gate_, xbuf_, h_, 1, nullptr);
        continue;
      }
      if (!s.eagle) b_.rms_norm(xbuf_, L.attn_norm, h_, 1, s.d, 1e-6f), in = h_;
      b_.matmul(L.q, in, q_, 1, L.qb);
      b_.matmul(L.k, in, k_, 1, L.kb);
      b_.matmul(L.v, in, v_, 1, L.vb);
      b_.rope(q_, &pos, 1, s.heads, s.head_dim, rope);
      b_.rope(k_, &pos, 1, s.kv_heads, s.head_dim, rope);
      b_.kv_write(*kv_, int(l), k_, v_, n_past, 1);
      b_.attention(*kv_, int(l), q_, att_, n_past, 1, nullptr, s.heads, 1.f / std::sqrt(float(s.head_dim)));
      b_.matmul(L.o, att_, h_, 1, nullptr);
      b_.add(xbuf_, h_, s.d);
      b_.rms_norm(xbuf_, L.ffn_norm, h_, 1, s.d, 1e-6f);
      b_.matmul(L.gate, h_, gate_, 1, nullptr);
      b_.matmul(L.up, h_, up_, 1, nullptr);
      b_.swiglu(gate_, up_, gate_, 1, s.ffn);
      b_.matmul(L.down, gate_, h_, 1, nullptr);
      b_.add(xbuf_, h_, s.d);
    }
    if (!s.eagle) b_.rms_norm(xbuf_, out_norm_, h_, 1, s.d, 1e-6f);
    b_.matmul(head, s.eagle ? xbuf_ : h_, logits_, 1, nullptr);
    if (k == 0) x_.argmax_device(logits_, 1, int(head.rows), ids_);
    else x_.topk_device(logits_, int(head.rows), k, ids_, vals_, remap);
  }
  const Weight& embd() const { return embd_; }

  // The fused step's ops, each kind over all layers as one timed unit (the step's time by op kind; the
  // kinds run back to back in the real step, so their sum is close to, not exactly, the step's time).
  // k > 0: a draft step's tail (LM head GEMV, then top-k with the FR-Spec remap) instead of norm + head + argmax.
  std::vector<std::pair<std::string, std::function<void()>>> step_parts(const Weight& head, int k = 0,
                                                                        const int32_t* remap = nullptr, int n_past = 512) {
    std::vector<std::pair<std::string, std::function<void()>>> parts;
    if (s_.eagle) parts.push_back({"fc GEMV", [this] { b_.matmul(fc_, cat_, xbuf_, 1, nullptr); }});
    const bool eagle = s_.eagle;
    const int heads = s_.heads, head_dim = s_.head_dim;
    auto all = [this](auto op) {
      return [this, op] {
        for (size_t l = 0; l < layers_.size(); ++l) op(layers_[l], int(l));
      };
    };
    parts.push_back({"norm + q|k|v GEMV", all([this, eagle](Layer& L, int) {
                       const InputNorm in{L.attn_norm, 1e-6f, h_};
                       b_.matmul_qkv(L.q, L.k, L.v, xbuf_, 1, q_, k_, v_, L.qb, L.kb, L.vb, eagle ? nullptr : &in);
                     })});
    parts.push_back({"rope + KV write + attention", all([this, eagle, heads, head_dim, n_past](Layer&, int l) {
                       RopeParams rope;
                       rope.neox = !eagle;
                       const int32_t pos = n_past;
                       b_.rope_kv_attention(*kv_, l, q_, k_, v_, att_, &pos, 1, rope, n_past, nullptr, heads,
                                            1.f / std::sqrt(float(head_dim)));
                     })});
    parts.push_back({"o GEMV + residual", all([this](Layer& L, int) { b_.matmul_add(L.o, att_, xbuf_, h_, 1, nullptr); })});
    parts.push_back({"norm + gate|up GEMV + SwiGLU", all([this](Layer& L, int) {
                       const InputNorm in{L.ffn_norm, 1e-6f, h_};
                       b_.matmul_swiglu(L.gate, L.up, xbuf_, gate_, up_, 1, &in);
                     })});
    parts.push_back({"down GEMV + residual", all([this](Layer& L, int) { b_.matmul_add(L.down, gate_, xbuf_, h_, 1, nullptr); })});
    const Weight* hw = &head;
    if (k > 0) {
      parts.push_back({"LM head GEMV", [this, hw] { b_.matmul(*hw, xbuf_, logits_, 1, nullptr); }});
      parts.push_back({"top-k + remap", [this, hw, k, remap] { x_.topk_device(logits_, int(hw->rows), k, ids_, vals_, remap); }});
      return parts;
    }
    parts.push_back({"final norm + LM head GEMV + argmax", [this, hw] {
                       b_.rms_norm(xbuf_, out_norm_, h_, 1, s_.d, 1e-6f);
                       b_.matmul(*hw, h_, logits_, 1, nullptr);
                       x_.argmax_device(logits_, 1, int(hw->rows), ids_);
                     }});
    return parts;
  }

 private:
  struct Layer {
    Weight q, k, v, o, gate, up, down;
    float *attn_norm = nullptr, *ffn_norm = nullptr, *qb = nullptr, *kb = nullptr, *vb = nullptr;
  };
  Backend& b_;
  CudaBackendExtras& x_;
  Shape s_;
  int n_past_;
  std::vector<Layer> layers_;
  Weight fc_, embd_;
  std::vector<float*> vecs_;
  float *out_norm_ = nullptr, *xbuf_ = nullptr, *h_ = nullptr, *q_ = nullptr, *k_ = nullptr, *v_ = nullptr;
  float *att_ = nullptr, *gate_ = nullptr, *up_ = nullptr, *cat_ = nullptr, *logits_ = nullptr, *vals_ = nullptr;
  int32_t* ids_ = nullptr;
  std::unique_ptr<KvCache> kv_;
  double bytes_ = 0, layer_bytes_ = 0;
};

double wbytes(const Weight& w) { return double(w.row_bytes) * w.rows; }

// FR-Spec ids: k distinct token ids, sorted (a frequency ranking would give some such set).
std::vector<int32_t> subset(int vocab, int k, uint64_t seed) {
  std::vector<int32_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  std::mt19937_64 r(seed);
  std::shuffle(ids.begin(), ids.end(), r);
  ids.resize(k);
  std::sort(ids.begin(), ids.end());
  return ids;
}

constexpr int kWarm = 3, kReps = 20;

// Issue 6 at long context: the decode attention's work split (warps per block x keys per block,
// cuda::set_attention_tuning) swept on the 7B step, each setting timed in this process against the same
// default row: the full step (graph) at n_past 512 and 4000, and the rope + KV write + attention part alone
// at 4000. The tuning in effect before (the default or the FRSPEC_CUDA_ATTN_* environment) is restored.
void bench_attention_sweep(Backend& b, CudaBackendExtras& x, Synth& m, const Weight& head, double step_bytes,
                           const std::string& t) {
  const cuda::AttentionTuning before = cuda::attention_tuning();
  struct Restore {  // also when a timing throws: later benchmarks run with the split in effect before
    cuda::AttentionTuning t;
    ~Restore() { cuda::set_attention_tuning(t.warps, t.chunk); }
  } restore{before};
  std::printf("  attention sweep (in effect before: warps %d, chunk %d)\n", before.warps, before.chunk);
  double best_ms = 0;
  int best_w = 0, best_c = 0;
  for (int w : {4, 8, 16})
    for (int c : {64, 128, 256, 512}) {
      cuda::set_attention_tuning(w, c);
      m.step(head, 0, nullptr, 4000);  // outside a capture: the cache's split scratch grows for a smaller chunk
      b.sync();
      const std::string tag = "7B " + t + " attn warps " + std::to_string(w) + " chunk " + std::to_string(c);
      const std::string fields = "\"type\": \"" + t + "\", \"kind\": \"attn_sweep\", \"warps\": " + std::to_string(w) +
                                 ", \"chunk\": " + std::to_string(c);
      const double ms512 = x.time_ms([&] { m.step(head, 0, nullptr, 512); }, kWarm, kReps, true);
      report(tag + ": step n_past 512", ms512, step_bytes, fields + ", \"n_past\": 512, \"part\": \"step\"");
      const double ms4k = x.time_ms([&] { m.step(head, 0, nullptr, 4000); }, kWarm, kReps, true);
      report(tag + ": step n_past 4000", ms4k, step_bytes, fields + ", \"n_past\": 4000, \"part\": \"step\"");
      for (auto& [what, fn] : m.step_parts(head, 0, nullptr, 4000))
        if (what == "rope + KV write + attention") {
          const double part = x.time_ms(fn, kWarm, kReps, true);
          report(tag + ": attention x28 n_past 4000", part, 0, fields + ", \"n_past\": 4000, \"part\": \"attention\"");
        }
      if (best_ms == 0 || ms4k < best_ms) best_ms = ms4k, best_w = w, best_c = c;
    }
  std::printf("  attention sweep: fastest step at n_past 4000: warps %d chunk %d, %.1f us\n", best_w, best_c, best_ms * 1e3);
}

void bench_target(Backend& b, CudaBackendExtras& x, DType type, bool full) {
  const Shape qwen7b{"qwen2.5-coder-7b", 3584, 28, 28, 4, 128, 18944, 152064, true, false};
  Synth m(b, x, qwen7b, type, full ? 4096 : 16);
  Weight head = x.random_weight(type, qwen7b.vocab, qwen7b.d, 77);
  const double step_bytes = m.layer_bytes() + wbytes(head);
  const std::string t = tname(type);
  float* hx = b.alloc(64 * size_t(qwen7b.d));
  float* hy = b.alloc(64 * size_t(qwen7b.vocab));
  x.random_fill(hx, 64 * size_t(qwen7b.d), 5, -1, 1);
  auto gemvs = [&](int n) {
    m.gemvs(n);
    b.matmul(head, hx, hy, n, nullptr);
  };
  gemvs(1);
  b.sync();
  const double base = x.time_ms([&] { gemvs(1); }, kWarm, kReps, true);
  report("7B " + t + " decode step, weight GEMVs only (28 layers + LM head)", base, step_bytes,
         "\"type\": \"" + t + "\", \"kind\": \"decode_gemv\"");
  if (!full) return b.release(head), b.free(hx), b.free(hy);
  m.step(head, 0, nullptr);
  m.step(head, 0, nullptr, 512, false);
  b.sync();
  const double ms = x.time_ms([&] { m.step(head, 0, nullptr); }, kWarm, kReps, true);
  report("7B " + t + " full decode step (n_past 512, argmax), graph", ms, step_bytes,
         "\"type\": \"" + t + "\", \"kind\": \"decode_full\", \"tok_s\": " + std::to_string(1e3 / ms));
  const double ms_unfused = x.time_ms([&] { m.step(head, 0, nullptr, 512, false); }, kWarm, kReps, true);
  report("7B " + t + " full decode step, unfused ops (before issue 6 fusion)", ms_unfused, step_bytes,
         "\"type\": \"" + t + "\", \"kind\": \"decode_full_unfused\", \"fused_speedup\": " + std::to_string(ms_unfused / ms));
  x.set_weight_prefetch(true);  // GEMVs prefetch their first weight bytes before the PDL wait (off by default)
  const double ms_pf = x.time_ms([&] { m.step(head, 0, nullptr); }, kWarm, kReps, true);
  const double base_pf = x.time_ms([&] { gemvs(1); }, kWarm, kReps, true);
  x.set_weight_prefetch(false);
  report("7B " + t + " full decode step, graph, with weight prefetch", ms_pf, step_bytes,
         "\"type\": \"" + t + "\", \"kind\": \"decode_full_prefetch\"");
  report("7B " + t + " decode step, weight GEMVs only, with weight prefetch", base_pf, step_bytes,
         "\"type\": \"" + t + "\", \"kind\": \"decode_gemv_prefetch\"");
  x.set_norm_in_gemv(true);  // every normalizing GEMV block reduces sum(x^2) itself (the session-2 GPU run 1 code)
  m.step(head, 0, nullptr);
  b.sync();
  const double ms_nig = x.time_ms([&] { m.step(head, 0, nullptr); }, kWarm, kReps, true);
  x.set_norm_in_gemv(false);
  report("7B " + t + " full decode step, graph, RMSNorm scale in every GEMV block", ms_nig, step_bytes,
         "\"type\": \"" + t + "\", \"kind\": \"decode_full_norm_in_gemv\"");
  x.set_launch_overlap(false);  // the same step without programmatic dependent launch: its share
  const double ms_nopdl = x.time_ms([&] { m.step(head, 0, nullptr); }, kWarm, kReps, true);
  x.set_launch_overlap(true);
  report("7B " + t + " full decode step, graph, without PDL", ms_nopdl, step_bytes,
         "\"type\": \"" + t + "\", \"kind\": \"decode_full_nopdl\"");
  const double ms_ng = x.time_ms([&] { m.step(head, 0, nullptr); }, kWarm, 5, false);
  report("7B " + t + " full decode step, no graph (launch overhead)", ms_ng, step_bytes, "\"type\": \"" + t + "\", \"kind\": \"decode_full_nograph\"");
  // Where the fused step's time goes: each op kind over all 28 layers, replayed from its own graph.
  double parts_sum = 0;
  for (auto& [what, fn] : m.step_parts(head)) {
    fn();
    b.sync();
    const double part = x.time_ms(fn, kWarm, kReps, true);
    parts_sum += part;
    report("7B " + t + " step part: " + what, part, 0,
           "\"type\": \"" + t + "\", \"kind\": \"decode_part\", \"share_of_step\": " + std::to_string(part / ms));
  }
  std::printf("    (parts sum %.1f us vs the step's %.1f us)\n", parts_sum * 1e3, ms * 1e3);
  const double ms_4k = x.time_ms([&] { m.step(head, 0, nullptr, 4000); }, kWarm, kReps, true);
  report("7B " + t + " full decode step at n_past 4000, graph", ms_4k, step_bytes,
         "\"type\": \"" + t + "\", \"kind\": \"decode_full_4k\", \"tok_s\": " + std::to_string(1e3 / ms_4k));
  if (type == DType::F16) bench_attention_sweep(b, x, m, head, step_bytes, t);
  for (int n : {2, 4, 8, 16, 32, 64}) {  // time relative to one token: each pass of 8 tokens rereads the weights
    const double ms_n = x.time_ms([&] { gemvs(n); }, kWarm, 5, true);
    report("7B " + t + " verify " + std::to_string(n) + " tokens, weight GEMVs", ms_n, 0,
           "\"type\": \"" + t + "\", \"kind\": \"verify\", \"n\": " + std::to_string(n) +
               ", \"vs_one_token\": " + std::to_string(ms_n / base));
  }
  b.release(head);
  b.free(hx);
  b.free(hy);
}

// --attn-sweep: only the attention sweep on the 7B F16 step (about 10 s of GPU time with the weights' setup).
void bench_attention_sweep_only(Backend& b, CudaBackendExtras& x) {
  const Shape qwen7b{"qwen2.5-coder-7b", 3584, 28, 28, 4, 128, 18944, 152064, true, false};
  Synth m(b, x, qwen7b, DType::F16, 4096);
  Weight head = x.random_weight(DType::F16, qwen7b.vocab, qwen7b.d, 77);
  bench_attention_sweep(b, x, m, head, m.layer_bytes() + wbytes(head), "F16");
  b.release(head);
}

void bench_prefill(Backend& b, CudaBackendExtras& x, DType type) {
  // One 7B layer's matrices at 512 tokens: FLOP rate of prefill, the F32 SIMT GEMM (tensor cores off) and
  // the tensor-core GEMM (gemm_tc.cu) side by side in the same run.
  const int n = 512, d = 3584, ffn = 18944;
  Weight wq = x.random_weight(type, d, d, 1), wg = x.random_weight(type, ffn, d, 2), wd = x.random_weight(type, d, ffn, 3);
  float* in = b.alloc(size_t(n) * ffn);
  float* out = b.alloc(size_t(n) * ffn);
  x.random_fill(in, size_t(n) * ffn, 4, -1, 1);
  const double flops = 2.0 * n * (double(d) * d + 2.0 * double(ffn) * d);
  const bool tc_default = cuda::tc_gemm();
  for (const bool tc : {false, true}) {
    cuda::tc_gemm() = tc;
    auto f = [&] {
      b.matmul(wq, in, out, n, nullptr);
      b.matmul(wg, in, out, n, nullptr);
      b.matmul(wd, in, out, n, nullptr);
    };
    f();
    b.sync();
    const double ms = x.time_ms(f, 1, 5, false);
    report(std::string("prefill GEMM 512 tokens x (3584^2 + 2 x 18944x3584) ") + tname(type) + (tc ? " tensor cores" : ""), ms, 0,
           "\"type\": \"" + std::string(tname(type)) + "\", \"kind\": \"" + (tc ? "prefill_tc" : "prefill") +
               "\", \"tflops\": " + std::to_string(flops / (ms * 1e-3) / 1e12));
    std::printf("    = %.1f TFLOP/s\n", flops / (ms * 1e-3) / 1e12);
    if (!tc) continue;
    const struct { const char* name; const Weight* w; } parts[] = {{"3584x3584", &wq}, {"18944x3584", &wg}, {"3584x18944", &wd}};
    for (const auto& p : parts) {  // each shape alone: the narrow ones (q/o, down) have fewer tiles than SMs x 2
      const double ms_p = x.time_ms([&] { b.matmul(*p.w, in, out, n, nullptr); }, 1, 5, false);
      const double fl = 2.0 * n * double(p.w->rows) * double(p.w->cols);
      report(std::string("prefill GEMM 512 tokens x ") + p.name + " " + tname(type) + " tensor cores", ms_p, 0,
             "\"type\": \"" + std::string(tname(type)) + "\", \"kind\": \"prefill_tc_part\", \"shape\": \"" + p.name +
                 "\", \"tflops\": " + std::to_string(fl / (ms_p * 1e-3) / 1e12));
      std::printf("    = %.1f TFLOP/s\n", fl / (ms_p * 1e-3) / 1e12);
    }
  }
  cuda::tc_gemm() = tc_default;
  if (type == DType::F16) {  // the rest of a prompt's layer: causal attention of 512 tokens (7B: 28/4 heads, d 128)
    const int heads = 28, kv_heads = 4, hd = 128;
    auto kv = b.create_kv({1, kv_heads, hd, n});
    x.random_fill(in, size_t(n) * kv_heads * hd * 2, 5, -1, 1);
    b.kv_write(*kv, 0, in, in + size_t(n) * kv_heads * hd, 0, n);
    x.random_fill(in, size_t(n) * heads * hd, 6, -1, 1);
    const double ms_a = x.time_ms([&] { b.attention(*kv, 0, in, out, 0, n, nullptr, heads, 0.088f); }, 1, 5, false);
    report("prefill attention 512 tokens causal, 28/4 heads d128 (one layer)", ms_a, 0,
           "\"kind\": \"prefill_attention\", \"x28_layers_ms\": " + std::to_string(28 * ms_a));
  }
  for (Weight* w : {&wq, &wg, &wd}) b.release(*w);
  b.free(in);
  b.free(out);
}

void bench_lm_head(Backend& b, CudaBackendExtras& x, DType type) {
  const int vocab = 128256, d = 4096;
  Weight full = x.random_weight(type, vocab, d, 11);
  float* h = b.alloc(d);
  float* logits = b.alloc(vocab);
  x.random_fill(h, d, 3, -1, 1);
  int32_t* ids = x.alloc_ids(16);
  float* vals = b.alloc(16);
  double base = 0;
  for (int k : {vocab, 32768, 16384}) {
    const auto pick = subset(vocab, k, 7);
    Weight w = k == vocab ? full : b.gather_rows(full, pick.data(), k);
    int32_t* remap = nullptr;
    if (k != vocab) {
      remap = x.alloc_ids(k);
      std::vector<float> as_f(k);
      std::memcpy(as_f.data(), pick.data(), 4 * size_t(k));
      b.to_device(reinterpret_cast<float*>(remap), as_f.data(), k);
    }
    auto gemv = [&] { b.matmul(w, h, logits, 1, nullptr); };
    auto with_topk = [&] {
      gemv();
      x.topk_device(logits, k, 10, ids, vals, remap);
    };
    with_topk();
    b.sync();
    const double ms = x.time_ms(gemv, kWarm, kReps, true);
    if (k == vocab) base = ms;
    report("Llama-3-8B LM head " + std::string(tname(type)) + " " + std::to_string(k) + " rows GEMV", ms, wbytes(w),
           "\"type\": \"" + std::string(tname(type)) + "\", \"kind\": \"lm_head\", \"rows\": " + std::to_string(k) +
               ", \"speedup_vs_full\": " + std::to_string(base / ms));
    report("Llama-3-8B LM head " + std::string(tname(type)) + " " + std::to_string(k) + " rows GEMV + top-10 (+remap)",
           x.time_ms(with_topk, kWarm, kReps, true), wbytes(w),
           "\"type\": \"" + std::string(tname(type)) + "\", \"kind\": \"lm_head_topk\", \"rows\": " + std::to_string(k));
    if (k != vocab) b.release(w), b.free(reinterpret_cast<float*>(remap));
  }
  b.release(full);
  b.free(h), b.free(logits), b.free(vals), b.free(reinterpret_cast<float*>(ids));
}

// A draft step with the full head vs FR-Spec heads of 32k and 16k rows (top-10 + remap).
void bench_draft(Backend& b, CudaBackendExtras& x, const Shape& s, DType type, const std::string& label) {
  Synth m(b, x, s, type, 512);
  Weight full = s.eagle ? x.random_weight(type, s.vocab, s.d, 21) : m.embd();  // the 0.5B ties its head
  double base = 0;
  for (int k : {s.vocab, 32768, 16384}) {
    const auto pick = subset(s.vocab, k, 9);
    Weight head = k == s.vocab ? full : b.gather_rows(full, pick.data(), k);
    int32_t* remap = nullptr;
    if (k != s.vocab) {
      remap = x.alloc_ids(k);
      std::vector<float> as_f(k);
      std::memcpy(as_f.data(), pick.data(), 4 * size_t(k));
      b.to_device(reinterpret_cast<float*>(remap), as_f.data(), k);
    }
    m.step(head, 10, remap);
    b.sync();
    const double ms = x.time_ms([&] { m.step(head, 10, remap); }, kWarm, kReps, true);
    if (k == s.vocab || k == 32768) {  // the unfused layer ops, same head and top-k: the fusion's share
      m.step(head, 10, remap, 512, false);
      b.sync();
      report(label + " " + tname(type) + " draft step, head " + std::to_string(k) + " rows + top-10, unfused ops",
             x.time_ms([&] { m.step(head, 10, remap, 512, false); }, kWarm, kReps, true), 0,
             "\"type\": \"" + std::string(tname(type)) + "\", \"kind\": \"draft_step_unfused\", \"model\": \"" + label +
                 "\", \"rows\": " + std::to_string(k));
    }
    if (s.eagle && k != 16384) {  // where the fused draft step's time goes, by op kind
      for (auto& [what, fn] : m.step_parts(head, 10, remap)) {
        fn();
        b.sync();
        report(label + " " + tname(type) + " head " + std::to_string(k) + " rows, step part: " + what,
               x.time_ms(fn, kWarm, kReps, true), 0,
               "\"type\": \"" + std::string(tname(type)) + "\", \"kind\": \"draft_part\", \"rows\": " + std::to_string(k));
      }
    }
    if (k == 32768) {  // A/B: every normalizing GEMV block reduces sum(x^2) itself (session-2 GPU run 1 code)
      x.set_norm_in_gemv(true);
      m.step(head, 10, remap);
      b.sync();
      report(label + " " + tname(type) + " draft step, head " + std::to_string(k) + " rows, RMSNorm scale in every GEMV block",
             x.time_ms([&] { m.step(head, 10, remap); }, kWarm, kReps, true), 0,
             "\"type\": \"" + std::string(tname(type)) + "\", \"kind\": \"draft_step_norm_in_gemv\", \"model\": \"" + label + "\"");
      x.set_norm_in_gemv(false);
    }
    if (k == s.vocab) {
      base = ms;
      x.set_launch_overlap(false);
      report(label + " " + tname(type) + " draft step, head " + std::to_string(k) + " rows, without PDL",
             x.time_ms([&] { m.step(head, 10, remap); }, kWarm, kReps, true), 0,
             "\"type\": \"" + std::string(tname(type)) + "\", \"kind\": \"draft_step_nopdl\", \"model\": \"" + label + "\"");
      x.set_launch_overlap(true);
    }
    report(label + " " + tname(type) + " draft step, head " + std::to_string(k) + " rows + top-10", ms,
           m.layer_bytes() + wbytes(head),
           "\"type\": \"" + std::string(tname(type)) + "\", \"kind\": \"draft_step\", \"model\": \"" + label +
               "\", \"rows\": " + std::to_string(k) + ", \"speedup_vs_full\": " + std::to_string(base / ms));
    if (k != s.vocab) b.release(head), b.free(reinterpret_cast<float*>(remap));
  }
  if (s.eagle) b.release(full);
}

// Issue 16: every quantized type's GEMV on the 7B FFN shapes (one matrix, % of copy: the >= 75% goal), then a
// decode step's weight GEMVs (28 layers + LM head) with llama-quantize's tensor types of Q4_K_M, Q5_K_M, Q4_0
// and IQ4_XS files (no importance matrix): attn_v / ffn_down Q6_K where use_more_bits says so (K_M), IQ4_XS's
// attn_v Q5_K (7 query heads per KV head) and ffn_down Q5_K in the first eighth of the layers, LM head Q6_K.
// Bytes are the GPU layout's (weight_layout.h: IQ4_XS 138 per 256 values instead of the file's 136).
void bench_types(Backend& b, CudaBackendExtras& x) {
  const int d = 3584, ffn = 18944, kv = 512, layers = 28, vocab = 152064;
  float* in = b.alloc(ffn);
  float* out = b.alloc(vocab);
  x.random_fill(in, ffn, 3, -1, 1);
  const DType types[] = {DType::Q8_0, DType::Q6_K, DType::Q4_K, DType::Q5_K, DType::IQ4_XS, DType::Q4_0,
                         DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL};
  struct M { int rows, cols; const char* what; };
  for (DType t : types)
    for (const M& m : {M{ffn, d, "gate/up 18944x3584"}, M{d, ffn, "down 3584x18944"}}) {
      Weight w = x.random_weight(t, m.rows, m.cols, 11);
      b.matmul(w, in, out, 1, nullptr);
      b.sync();
      const double ms = x.time_ms([&] { b.matmul(w, in, out, 1, nullptr); }, kWarm, kReps, true);
      report(std::string("7B ") + tname(t) + " GEMV " + m.what, ms, wbytes(w),
             std::string("\"type\": \"") + tname(t) + "\", \"kind\": \"type_gemv\", \"shape\": \"" + m.what + "\"");
      b.release(w);
    }
  auto more_bits = [&](int l) { const int e = layers / 8; return l < e || l >= 7 * layers / 8 || (l - e) % 3 == 2; };
  for (const char* file : {"Q4_K_M", "Q5_K_M", "Q4_0", "IQ4_XS"}) {
    const std::string f = file;
    const DType base = f == "Q4_K_M" ? DType::Q4_K : f == "Q5_K_M" ? DType::Q5_K : f == "Q4_0" ? DType::Q4_0 : DType::IQ4_XS;
    std::vector<Weight> ws;
    std::vector<int> ins;  // each matmul's input length (its cols)
    double bytes = 0;
    auto add = [&](DType t, int rows, int cols) {
      ws.push_back(x.random_weight(t, rows, cols, 100 + ws.size()));
      bytes += wbytes(ws.back());
    };
    for (int l = 0; l < layers; ++l) {
      const bool k_m = f == "Q4_K_M" || f == "Q5_K_M", iq = f == "IQ4_XS";
      add(base, d, d);                                                                          // q
      add(base, kv, d);                                                                         // k
      add(k_m && more_bits(l) ? DType::Q6_K : iq ? DType::Q5_K : base, kv, d);                  // v
      add(base, d, d);                                                                          // o
      add(base, ffn, d);                                                                        // gate
      add(base, ffn, d);                                                                        // up
      add(k_m && more_bits(l) ? DType::Q6_K : iq && l < layers / 8 ? DType::Q5_K : base, d, ffn);  // down
    }
    add(DType::Q6_K, vocab, d);  // the LM head
    auto step = [&] {
      for (const Weight& w : ws) b.matmul(w, in, out, 1, nullptr);
    };
    step();
    b.sync();
    const double ms = x.time_ms(step, kWarm, kReps, true);
    report("7B " + f + " file mix: decode step, weight GEMVs only", ms, bytes,
           "\"type\": \"" + f + "\", \"kind\": \"mix_decode_gemv\", \"GB\": " + std::to_string(bytes / 1e9));
    for (Weight& w : ws) b.release(w);
  }
  b.free(in), b.free(out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  bool quick = false, profile = false, attn_sweep = false, types_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--quick") quick = true;
    else if (a == "--profile") profile = true;
    else if (a == "--attn-sweep") attn_sweep = true;
    else if (a == "--types") types_only = true;
    else return std::fprintf(stderr, "usage: cuda_bench [--json FILE] [--quick] [--profile] [--attn-sweep] [--types]\n"), 2;
  }
  std::string why;
  auto backend = make_cuda_backend(0, &why);
  if (!backend) return std::printf("SKIP: no CUDA backend: %s\n", why.c_str()), 0;
  Backend& b = *backend;
  CudaBackendExtras& x = *cuda::extras(backend.get());
  const auto info = x.info();
  std::printf("device: %s, %d SMs, %.1f GB, L2 %.0f MB, driver %d, runtime %d\n", info.name.c_str(), info.sm_count,
              info.total_mem / 1e9, info.l2_bytes / 1e6, info.driver_version, info.runtime_version);
  if (profile) {  // one 7B FFN-shaped GEMV (18944 x 3584) per type, for a profiler to pick up (ncu -k regex:gemv)
    for (DType t : {DType::F16, DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
      Weight w = x.random_weight(t, 18944, 3584, 1);
      float* in = b.alloc(3584);
      float* out = b.alloc(18944);
      x.random_fill(in, 3584, 2, -1, 1);
      b.matmul(w, in, out, 1, nullptr);
      b.sync();
      b.release(w), b.free(in), b.free(out);
    }
    return 0;
  }
  g_copy_bw = x.copy_bandwidth(size_t(2) << 30, 10);
  std::printf("device-to-device copy: %.1f GB/s (read + write)\n", g_copy_bw / 1e9);
  int status = 0;
  auto run = [&](const char* what, const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      std::printf("ERROR in %s: %s\n", what, e.what());
      status = 1;
    }
  };
  if (attn_sweep) {
    run("attention sweep", [&] { bench_attention_sweep_only(b, x); });
  } else if (types_only) {
    run("weight types", [&] { bench_types(b, x); });
  } else {
    run("7B F16", [&] { bench_target(b, x, DType::F16, true); });
    run("7B Q8_0", [&] { bench_target(b, x, DType::Q8_0, true); });
    if (!quick)
      for (DType t : {DType::BF16, DType::Q4_K, DType::Q6_K}) run("7B other", [&] { bench_target(b, x, t, false); });
    run("prefill", [&] { bench_prefill(b, x, DType::F16); });
    run("prefill", [&] { bench_prefill(b, x, DType::Q8_0); });
    run("prefill", [&] { bench_prefill(b, x, DType::Q4_K); });
    run("LM head", [&] { bench_lm_head(b, x, DType::BF16); });
    run("LM head", [&] { bench_lm_head(b, x, DType::F16); });
    const Shape eagle8b{"eagle-llama3-8b", 4096, 1, 32, 8, 128, 14336, 128256, false, true};
    const Shape qwen05b{"qwen2.5-0.5b", 896, 24, 14, 2, 64, 4864, 151936, true, false};
    run("EAGLE", [&] { bench_draft(b, x, eagle8b, DType::BF16, "EAGLE head on Llama-3-8B"); });
    run("0.5B", [&] { bench_draft(b, x, qwen05b, DType::BF16, "Qwen2.5-0.5B draft"); });
    run("0.5B", [&] { bench_draft(b, x, qwen05b, DType::Q8_0, "Qwen2.5-0.5B draft"); });
  }

  if (!json_path.empty()) {
    std::ofstream f(json_path);
    f << "{\"device\": \"" << info.name << "\", \"sm_count\": " << info.sm_count << ", \"copy_GBps\": " << g_copy_bw / 1e9
      << ", \"driver\": " << info.driver_version << ", \"results\": [\n";
    for (size_t i = 0; i < g_rows.size(); ++i) {
      const Row& r = g_rows[i];
      f << "  {\"name\": \"" << r.name << "\", \"us\": " << r.ms * 1e3;
      if (r.bytes > 0)
        f << ", \"weight_bytes\": " << r.bytes << ", \"GBps\": " << r.bytes / (r.ms * 1e-3) / 1e9
          << ", \"frac_of_copy\": " << r.bytes / (r.ms * 1e-3) / g_copy_bw;
      if (!r.extra.empty()) f << ", " << r.extra;
      f << "}" << (i + 1 < g_rows.size() ? ",\n" : "\n");
    }
    f << "]}\n";
  }
  return status;
}
#endif
