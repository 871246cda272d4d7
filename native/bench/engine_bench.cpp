// Where a decode step's time goes: engine_bench MODEL.gguf [threads] [prompt_tokens] [decode_steps]
// evaluates a prompt, then decodes greedily, through a Backend wrapper that times every operation, and
// prints tokens/s with a per-operation breakdown (matmuls split by weight shape). For profiling the
// engine; the comparison with llama.cpp is bench/engine.ts.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/prepared_model.h"

using namespace frspec;

namespace {

using Clock = std::chrono::steady_clock;

// Forwards every call to the real backend and adds its wall time to a named bucket.
class TimingBackend final : public Backend {
 public:
  explicit TimingBackend(std::unique_ptr<Backend> inner) : b_(std::move(inner)) {}
  std::map<std::string, double> ms, cpu_ms;  // wall time, and CPU time of the whole process
  std::map<std::string, long> calls;

  std::string name() const override { return b_->name(); }
  int threads() const override { return b_->threads(); }
  float* alloc(size_t n) override { return b_->alloc(n); }
  void free(float* p) override { b_->free(p); }
  void to_device(float* d, const float* s, size_t n) override { b_->to_device(d, s, n); }
  void to_host(float* d, const float* s, size_t n) override { time("to_host", [&] { b_->to_host(d, s, n); }); }
  Weight prepare(const WeightView& v) override { return b_->prepare(v); }
  Weight gather_rows(const Weight& w, const int32_t* ids, int k) override { return b_->gather_rows(w, ids, k); }
  void release(Weight& w) override { b_->release(w); }
  float* prepare_vector(const float* h, size_t n) override { return b_->prepare_vector(h, n); }
  void matmul(const Weight& w, const float* x, float* y, int n, const float* bias) override {
    time("matmul " + std::string(dtype_name(w.type)) + " " + std::to_string(w.rows) + "x" + std::to_string(w.cols),
         [&] { b_->matmul(w, x, y, n, bias); });
  }
  // The fused ops as one bucket each (the CPU backend runs q|k|v and gate|up as one call, the FFN as two).
  void matmul_qkv(const Weight& wq, const Weight& wk, const Weight& wv, const float* x, int n, float* yq, float* yk,
                  float* yv, const float* bq, const float* bk, const float* bv, const InputNorm* norm) override {
    time("matmul_qkv " + shapes({&wq, &wk, &wv}) + (norm ? " (+rms_norm)" : ""),
         [&] { b_->matmul_qkv(wq, wk, wv, x, n, yq, yk, yv, bq, bk, bv, norm); });
  }
  void matmul_swiglu(const Weight& gate, const Weight& up, const float* x, float* out, float* tmp, int n,
                     const InputNorm* norm) override {
    time("matmul_swiglu " + shapes({&gate, &up}) + (norm ? " (+rms_norm)" : ""),
         [&] { b_->matmul_swiglu(gate, up, x, out, tmp, n, norm); });
  }
  void ffn_add(const Weight& gate, const Weight& up, const Weight& down, const float* x, float* y, float* gate_buf,
               float* up_buf, float* tmp, int n, const InputNorm* norm) override {
    time("ffn_add " + shapes({&gate, &up, &down}) + (norm ? " (+rms_norm)" : ""),
         [&] { b_->ffn_add(gate, up, down, x, y, gate_buf, up_buf, tmp, n, norm); });
  }
  void get_rows(const Weight& w, const int32_t* ids, int n, float* out) override {
    time("get_rows", [&] { b_->get_rows(w, ids, n, out); });
  }
  void rms_norm(const float* x, const float* w, float* y, int n, int d, float eps) override {
    time("rms_norm", [&] { b_->rms_norm(x, w, y, n, d, eps); });
  }
  void rope(float* x, const int32_t* pos, int n, int h, int hd, const RopeParams& p) override {
    time("rope", [&] { b_->rope(x, pos, n, h, hd, p); });
  }
  void swiglu(const float* g, const float* u, float* o, int n, int d) override { time("swiglu", [&] { b_->swiglu(g, u, o, n, d); }); }
  void add(float* y, const float* x, size_t n) override { time("add", [&] { b_->add(y, x, n); }); }
  void copy_rows(float* d, size_t ds, const float* s, size_t ss, int n, int c) override {
    time("copy_rows", [&] { b_->copy_rows(d, ds, s, ss, n, c); });
  }
  std::unique_ptr<KvCache> create_kv(const KvCacheShape& s) override { return b_->create_kv(s); }
  void kv_write(KvCache& kv, int l, const float* k, const float* v, int first, int n) override {
    time("kv_write", [&] { b_->kv_write(kv, l, k, v, first, n); });
  }
  void kv_move(KvCache& kv, const int32_t* s, const int32_t* d, int n) override { b_->kv_move(kv, s, d, n); }
  void attention(const KvCache& kv, int l, const float* q, float* out, int n_past, int n, const uint8_t* mask, int h,
                 float scale) override {
    time("attention", [&] { b_->attention(kv, l, q, out, n_past, n, mask, h, scale); });
  }
  void argmax(const float* logits, int n, int vocab, int32_t* out) override {
    time("argmax", [&] { b_->argmax(logits, n, vocab, out); });
  }
  void topk(const float* l, int vocab, int k, int32_t* ids, float* vals) override { b_->topk(l, vocab, k, ids, vals); }
  void matmul_argmax(const Weight& w, const float* x, int n, float* logits, int32_t* out) override {
    time("matmul_argmax " + std::string(dtype_name(w.type)) + " " + std::to_string(w.rows) + "x" + std::to_string(w.cols),
         [&] { b_->matmul_argmax(w, x, n, logits, out); });
  }

 private:
  static double process_cpu_ms() {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
  }
  static std::string shapes(std::initializer_list<const Weight*> ws) {
    std::string s;
    for (const Weight* w : ws) {
      if (!s.empty()) s += '+';
      s.append(dtype_name(w->type)).append(" ").append(std::to_string(w->rows)).append("x").append(std::to_string(w->cols));
    }
    return s;
  }
  template <class F>
  void time(const std::string& what, F&& f) {
    const double c0 = process_cpu_ms();
    auto t0 = Clock::now();
    f();
    ms[what] += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    cpu_ms[what] += process_cpu_ms() - c0;
    ++calls[what];
  }
  std::unique_ptr<Backend> b_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: engine_bench MODEL.gguf [threads=0] [prompt_tokens=256] [decode_steps=64]\n");
    return 2;
  }
  const int threads = argc > 2 ? std::atoi(argv[2]) : 0;
  const int n_prompt = argc > 3 ? std::atoi(argv[3]) : 256;
  const int n_decode = argc > 4 ? std::atoi(argv[4]) : 64;
  try {
    auto model = Model::load(argv[1]);
    auto timing = std::make_unique<TimingBackend>(make_cpu_backend(threads));
    TimingBackend& tb = *timing;
    PreparedModel prepared(tb, *model);
    ContextParams cp;
    cp.n_ctx = n_prompt + n_decode + 8;
    Context ctx(prepared, cp);
    std::vector<int32_t> prompt(n_prompt);
    uint32_t s = 12345;
    for (int32_t& t : prompt) t = int32_t((s = s * 1664525u + 1013904223u) % 50000u);

    GenerateParams gp;
    gp.max_tokens = 4;
    generate(ctx, std::span<const int32_t>(prompt).first(16), gp);  // warm-up: page in the weights
    ctx.truncate(0);
    tb.ms.clear();
    tb.calls.clear();
    gp.max_tokens = n_decode;
    GenerateResult r = generate(ctx, prompt, gp);
    std::printf("%s, %s, %d threads\n", model->path().c_str(), tb.name().c_str(), tb.threads());
    std::printf("prompt: %d tokens in %.2f ms = %.1f tok/s\n", n_prompt, r.stats.prompt_ms, n_prompt * 1000.0 / r.stats.prompt_ms);
    const double per_step = r.stats.decode_ms / std::max(1, r.stats.n_decode_steps);
    std::printf("decode: %d steps in %.2f ms = %.1f tok/s (%.3f ms/step, %.2f GB/s of weights)\n", r.stats.n_decode_steps,
                r.stats.decode_ms, 1000.0 / per_step, per_step, model->bytes_per_token() / per_step / 1e6);
    std::vector<std::pair<double, std::string>> rows;
    double total = 0;
    for (auto& [k, v] : tb.ms) {
      rows.push_back({v, k});
      total += v;
    }
    std::sort(rows.rbegin(), rows.rend());
    std::printf("\nall backend calls (prompt + decode), %.2f ms total (CPU time: all threads; on a busy machine\n"
                "it tracks the work done better than wall time):\n", total);
    for (auto& [v, k] : rows)
      std::printf("  %-32s %9.2f ms %9.2f ms CPU %7ld calls %8.1f us/call\n", k.c_str(), v, tb.cpu_ms[k], tb.calls[k],
                  1000 * v / tb.calls[k]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
