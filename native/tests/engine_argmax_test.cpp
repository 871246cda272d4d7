// The greedy LM-head prefilter (cpu_argmax_filter.h) must give exactly argmax(matmul(W, x)): checked on
// F32/F16/BF16 heads of several shapes with exact duplicate rows (ties: the first id wins), rows one
// ulp apart, near-tied logits made on purpose, all-zero and huge inputs, on 1 and 3 threads; and, given
// MODEL.gguf, on the model's own LM head with its real final hidden states; and several rows in one call
// (speculative verification) equal to the single-row call and the full matmul; kept-row lists that fill
// up (pruned, or grown); the drafting argmax
// (approx_argmax, 8-bit only) close to the maximum and mostly equal to it. Exits non-zero on a mismatch.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "engine/context.h"
#include "engine/cpu_argmax_amx.h"
#include "engine/cpu_argmax_filter.h"
#include "engine/cpu_kernels.h"
#include "engine/model.h"
#include "engine/prepared_model.h"
#include "engine/quant.h"

using namespace frspec;

namespace {

int checks = 0;  // failures: check.h
long candidates_total = 0, filtered_calls = 0;
long approx_calls = 0, approx_same = 0;  // the drafting argmax (approx_argmax): how often it is the exact id

int32_t first_max(const std::vector<float>& v) {
  int32_t b = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[b]) b = int32_t(i);
  return b;
}

void check_one(ThreadPool& pool, ArgmaxFilter& f, const Weight& w, const float* x, const std::string& what) {
  std::vector<float> logits(w.rows), scratch(w.rows);
  cpu_matmul(pool, w, x, logits.data(), 1, nullptr);
  const int32_t want = first_max(logits), got = f.argmax(x, scratch.data());
  ++checks;
  if (f.last_candidates() < w.rows) {
    ++filtered_calls;
    candidates_total += f.last_candidates();
  }
  if (got != want) {
    ++failures;
    std::printf("FAIL %s: filter %d (logit %.9g) vs full %d (logit %.9g)\n", what.c_str(), got, logits[got], want, logits[want]);
  }
  // The drafting argmax may miss on near ties, but its pick must be nearly as large as the maximum (within
  // the 8-bit rounding, a few percent of the logits' spread) and its value close to that row's logit.
  int32_t approx = -1;
  float value = 0;
  f.approx_argmax(x, scratch.data(), &approx, &value);
  float lo = logits[0];
  for (float l : logits) lo = std::min(lo, l);
  const float spread = logits[want] - lo, tol = 0.03f * spread + 1e-30f;
  ++approx_calls;
  approx_same += approx == want;
  if (approx < 0 || approx >= w.rows || logits[want] - logits[approx] > tol || std::fabs(value - logits[approx]) > tol) {
    ++failures;
    std::printf("FAIL %s: drafting argmax %d (logit %.9g, approximated %.9g) vs %d (logit %.9g), spread %.9g\n", what.c_str(),
                approx, approx >= 0 && approx < w.rows ? logits[approx] : NAN, value, want, logits[want], spread);
  }
}

// n rows in one call (one pass over the 8-bit head per 16 rows) must give, row by row, the ids of the
// single-row call and of the full matmul.
void check_batch(ThreadPool& pool, ArgmaxFilter& f, const Weight& w, const std::vector<float>& xs, int n, const std::string& what) {
  const int cols = int(w.cols);
  std::vector<float> logits(w.rows), scratch(size_t(n) * w.rows), one(w.rows);
  std::vector<int32_t> got(n);
  f.argmax(xs.data(), n, scratch.data(), got.data());
  for (int i = 0; i < n; ++i) {
    cpu_matmul(pool, w, xs.data() + size_t(i) * cols, logits.data(), 1, nullptr);
    const int32_t want = first_max(logits), single = f.argmax(xs.data() + size_t(i) * cols, one.data());
    ++checks;
    if (got[i] != want || single != want) {
      ++failures;
      std::printf("FAIL %s, row %d of %d: batch %d, single row %d, full %d (logit %.9g)\n", what.c_str(), i, n, got[i],
                  single, want, logits[want]);
    }
  }
}

std::vector<uint8_t> encode(DType t, const std::vector<float>& v, int64_t cols) {
  std::vector<uint8_t> out(dtype_row_bytes(t, cols) * (v.size() / cols));
  for (size_t r = 0; r < v.size() / cols; ++r) quantize_row(t, v.data() + r * cols, out.data() + r * dtype_row_bytes(t, cols), cols);
  return out;
}

void synthetic(ThreadPool& pool, DType t, int rows, int cols, std::mt19937& rng, bool use_amx) {
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> v(size_t(rows) * cols);
  for (float& x : v) x = g(rng) * 0.05f;
  // Exact duplicates (ties) and rows that differ from another in one value by a tiny step.
  for (int k = 0; k < 20; ++k) {
    const int a = int(rng() % rows), b = int(rng() % rows);
    std::memcpy(&v[size_t(b) * cols], &v[size_t(a) * cols], cols * sizeof(float));
    if (k % 2) v[size_t(b) * cols + rng() % cols] *= 1.0009765625f;  // one F16/BF16 step or so
  }
  std::vector<uint8_t> bytes = encode(t, v, cols);
  Weight w = cpu_weight(t, rows, cols, bytes.data());
  ArgmaxFilter f(pool, w, use_amx);
  std::vector<float> dq(cols);
  const std::string name = std::string(dtype_name(t)) + " " + std::to_string(rows) + "x" + std::to_string(cols) +
                           (f.uses_amx() ? " (AMX)" : " (VNNI)");
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<float> x(cols);
    const float scale = trial % 3 == 0 ? 1e-3f : trial % 3 == 1 ? 1.f : 300.f;
    for (float& e : x) e = g(rng) * scale;
    if (trial % 5 == 4) {
      // Aim at a tie: x along a duplicated row makes it (and its twin) the clear maximum.
      dequantize_row(t, bytes.data() + (rng() % rows) * w.row_bytes, dq.data(), cols);
      for (int j = 0; j < cols; ++j) x[j] = dq[j] * 100.f + x[j] * 1e-6f;
    }
    check_one(pool, f, w, x.data(), name);
  }
  std::vector<float> zero(cols, 0.f);
  check_one(pool, f, w, zero.data(), name + " zero input");  // every logit 0: the first row

  // Batches: near-tie rows (aimed at a duplicated row) mixed with random and all-zero rows, of 1 to 19
  // rows (over 16 the call takes two passes).
  for (int n : {1, 2, 5, 16, 19}) {
    std::vector<float> xs(size_t(n) * cols);
    for (int i = 0; i < n; ++i) {
      float* x = xs.data() + size_t(i) * cols;
      if (i % 4 == 3) continue;  // zeros
      const float scale = i % 3 == 0 ? 1e-3f : i % 3 == 1 ? 1.f : 300.f;
      for (int j = 0; j < cols; ++j) x[j] = g(rng) * scale;
      if (i % 2 == 0) {
        dequantize_row(t, bytes.data() + (rng() % rows) * w.row_bytes, dq.data(), cols);
        for (int j = 0; j < cols; ++j) x[j] = dq[j] * 100.f + x[j] * 1e-6f;
      }
    }
    check_batch(pool, f, w, xs, n, name + " batch");
  }
}

// The filter's kept-row lists hold ArgmaxFilter::kFoundCap rows per task and x row before they grow: a head
// whose logits rise row by row (0.1% each) keeps every row it meets, so its lists fill and are pruned of the
// rows the risen threshold has passed; 400 exact duplicates tied at the maximum cannot be pruned, so the list
// grows. Both calls stay filtered and must give the full matmul's first maximum.
void capped_lists(ThreadPool& pool, std::mt19937& rng, bool use_amx) {
  const int rows = 5000, cols = 256;
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> u(cols);
  for (float& e : u) e = g(rng) * 0.05f;
  for (bool rising : {true, false}) {
    std::vector<float> v(size_t(rows) * cols);
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j)
        v[size_t(i) * cols + j] = rising ? u[j] * std::pow(1.001f, float(i)) : i >= 100 && i < 500 ? u[j] : g(rng) * 0.01f;
    std::vector<uint8_t> bytes = encode(DType::F16, v, cols);
    Weight w = cpu_weight(DType::F16, rows, cols, bytes.data());
    ArgmaxFilter f(pool, w, use_amx);
    const std::string name = std::string(rising ? "rising" : "400 tied rows") + (f.uses_amx() ? " (AMX)" : " (VNNI)");
    std::vector<float> x(cols);
    for (int j = 0; j < cols; ++j) x[j] = u[j] * 100.f + g(rng) * 1e-4f;
    check_one(pool, f, w, x.data(), name);
    // (where the filter does not apply, e.g. AVX2, every call is the full matmul)
    CHECK(!ArgmaxFilter::applicable(w) || f.last_candidates() < rows, "%s: %d rows computed exactly (expected a filtered call)",
          name.c_str(), f.last_candidates());
    std::vector<float> xs(size_t(3) * cols);
    for (int j = 0; j < cols; ++j) xs[j] = x[j], xs[size_t(cols) + j] = g(rng), xs[size_t(2 * cols) + j] = -x[j];
    check_batch(pool, f, w, xs, 3, name + " batch");
  }
}

void real_model(ThreadPool& pool, const char* path, bool use_amx) {
  auto model = Model::load(path);
  auto backend = make_cpu_backend(2);
  PreparedModel prepared(*backend, *model);
  const Weight& head = prepared.output();
  if (!ArgmaxFilter::applicable(head)) {
    std::printf("(%s: the LM head is %s; the filter applies to float heads only)\n", path, dtype_name(head.type));
    return;
  }
  ContextParams cp;
  cp.n_ctx = 96;
  cp.max_logit_rows = 64;
  Context ctx(prepared, cp);
  std::vector<int32_t> tokens(64);
  std::mt19937 rng(7);
  for (int32_t& t : tokens) t = int32_t(rng() % std::min<int64_t>(head.rows, 50000));
  EvalRequest req;
  req.tokens = tokens;
  req.logits = LogitRows::None;
  req.hidden = true;
  EvalResult r = ctx.eval(req);
  ArgmaxFilter f(pool, head, use_amx);
  const int d = int(head.cols);
  for (int i = 0; i < r.n; ++i) check_one(pool, f, head, r.hidden + size_t(i) * d, std::string(path) + " hidden state");
  for (int n : {2, 5, 13}) {  // consecutive hidden states in one call, as greedy verification scores a path
    std::vector<float> xs(r.hidden, r.hidden + size_t(n) * d);
    check_batch(pool, f, head, xs, n, std::string(path) + " hidden states");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::mt19937 rng(1234);
  // Both ways of computing the integer dot products: AMX tiles where this CPU has them, and AVX-512 VNNI (arm64:
  // NEON). Without AMX the two passes would be the same, so the first is skipped.
  for (bool use_amx : {true, false})
    for (int threads : {1, 3}) {
      if (use_amx && !amx::available()) continue;
      ThreadPool pool(threads);
      synthetic(pool, DType::F16, 6000, 256, rng, use_amx);
      synthetic(pool, DType::BF16, 3000, 192, rng, use_amx);
      synthetic(pool, DType::F16, 500, 96, rng, use_amx);  // 96 columns: VNNI only (AMX wants multiples of 64)
      synthetic(pool, DType::F32, 1500, 1024, rng, use_amx);
      synthetic(pool, DType::F16, 700, 4096, rng, use_amx);
      capped_lists(pool, rng, use_amx);
    }
  if (argc > 1) {
    ThreadPool pool(2);
    for (bool use_amx : {true, false})
      if (!use_amx || amx::available()) real_model(pool, argv[1], use_amx);
  }
  const double mean = filtered_calls ? double(candidates_total) / filtered_calls : 0;
  if (failures) std::printf("%d of %d argmax checks failed\n", failures, checks);
  else std::printf("all %d argmax filter checks equal the full matmul (%ld filtered, %.1f rows computed on average; AMX %s)\n",
                   checks, filtered_calls, mean, amx::available() ? "used" : "not available here");
  std::printf("drafting argmax (8-bit only): the exact id in %ld of %ld calls, always within 3%% of the logits' spread\n",
              approx_same, approx_calls);
  CHECK(approx_same >= approx_calls * 8 / 10, "the drafting argmax is the exact id in fewer than 80%% of the calls");
  return check_result("engine_argmax_test: all checks passed");
}
