// The token-id operations the speculative loop runs on the GPU (backend.h "Token ids in backend memory"),
// checked against the CPU backend, whose defaults are the drafter's former host code: argmax into device
// ids (with the FR-Spec remap), embedding rows from device ids, ids written and read back, the top-k +
// log-sum-exp of several rows in one read back, and how many host waits each takes. Without a GPU it
// prints SKIP and exits 0 (exit 2 with --require-gpu).
//   cuda_spec_ops_test [--require-gpu]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/backend.h"
#ifdef FRSPEC_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

#include "check.h"

using namespace frspec;

namespace {

std::vector<float> random_floats(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

float* put(Backend& b, const std::vector<float>& v) {
  float* p = b.alloc(v.size());
  b.to_device(p, v.data(), v.size());
  return p;
}

uint64_t waits(Backend& b) {
#ifdef FRSPEC_HAVE_CUDA
  if (auto* x = cuda::extras(&b)) return x->host_waits();
#endif
  (void)b;
  return 0;
}

void check_argmax_ids(Backend& gpu, Backend& cpu) {
  const int vocab = 32768 + 77, n = 5;
  auto logits = random_floats(size_t(n) * vocab, -8, 8, 1);
  logits[1 * size_t(vocab) + 9000] = 30.f, logits[1 * size_t(vocab) + 4000] = 30.f;  // a tie: the smaller id wins
  logits[2 * size_t(vocab) + 100] = NAN;                                               // NaN never wins
  logits[3 * size_t(vocab) + vocab - 1] = 40.f;                                        // the last column
  std::vector<int32_t> map(vocab);
  for (int i = 0; i < vocab; ++i) map[i] = (i * 7919 + 13) % 151936;  // an FR-Spec column -> id table
  float *lg = put(gpu, logits), *lc = put(cpu, logits);
  int32_t* map_g = gpu.alloc_ids(vocab);
  gpu.write_ids(map_g, map.data(), vocab);
  int32_t* ids_g = gpu.alloc_ids(2 * n);
  const uint64_t w0 = waits(gpu);
  gpu.argmax_ids(lg, n, vocab, nullptr, ids_g);
  gpu.argmax_ids(lg, n, vocab, map_g, ids_g + n);
  CHECK(waits(gpu) == w0, "argmax_ids waited for the GPU %llu times (want 0)", (unsigned long long)(waits(gpu) - w0));
  std::vector<int32_t> got(2 * n), want(n);
  gpu.read_ids(got.data(), ids_g, 2 * n);
  CHECK(waits(gpu) == w0 + 1, "read_ids: %llu waits (want 1)", (unsigned long long)(waits(gpu) - w0));
  cpu.argmax(lc, n, vocab, want.data());
  for (int r = 0; r < n; ++r) {
    CHECK(got[r] == want[r], "argmax_ids row %d: GPU %d, CPU %d", r, got[r], want[r]);
    CHECK(got[n + r] == map[want[r]], "argmax_ids with remap row %d: GPU %d, want %d", r, got[n + r], map[want[r]]);
  }
  CHECK(got[1] == 4000, "argmax tie: got %d, want 4000", got[1]);
  gpu.free_ids(map_g);
  gpu.free_ids(ids_g);
  gpu.free(lg);
  cpu.free(lc);
  std::printf("argmax_ids (ties, NaN, remap) == CPU, no wait until read_ids\n");
}

void check_ids_round_trip(Backend& gpu) {
  for (int n : {1, 5, 64, 65, 5000}) {  // <= 64 as kernel parameters, more through a copy
    std::vector<int32_t> v(n), back(n, -1);
    for (int i = 0; i < n; ++i) v[i] = i * 31 + 7;
    const std::vector<int32_t> sent = v;
    int32_t* d = gpu.alloc_ids(n);
    gpu.write_ids(d, v.data(), n);
    std::fill(v.begin(), v.end(), -5);  // write_ids must not read the host array after it returns
    gpu.read_ids(back.data(), d, n);
    CHECK(back == sent, "write_ids/read_ids of %d ids: round trip differs", n);
    gpu.free_ids(d);
  }
  std::printf("write_ids / read_ids round trips (1..5000 ids)\n");
}

void check_get_rows_ids(Backend& gpu, Backend& cpu) {
  const int rows = 1000, cols = 96;
  auto w = random_floats(size_t(rows) * cols, -1, 1, 2);
  WeightView view{DType::F32, rows, cols, w.data(), "test.embd"};
  Weight wg = gpu.prepare(view), wc = cpu.prepare(view);
  const std::vector<int32_t> ids = {0, 999, 17, 17, 500};
  const int n = int(ids.size());
  int32_t* ids_g = gpu.alloc_ids(n);
  gpu.write_ids(ids_g, ids.data(), n);
  float *og = gpu.alloc(size_t(n) * cols), *oc = cpu.alloc(size_t(n) * cols);
  gpu.get_rows_ids(wg, ids_g, n, og);
  cpu.get_rows(wc, ids.data(), n, oc);
  std::vector<float> a(size_t(n) * cols);
  gpu.to_host(a.data(), og, a.size());
  CHECK(std::memcmp(a.data(), oc, a.size() * sizeof(float)) == 0, "get_rows_ids differs from the CPU's get_rows");
  gpu.free_ids(ids_g);
  gpu.free(og);
  cpu.free(oc);
  gpu.release(wg);
  cpu.release(wc);
  std::printf("get_rows_ids == CPU get_rows (bit for bit)\n");
}

void check_topk_rows(Backend& gpu, Backend& cpu) {
  const int vocab = 32768, n = 6;
  auto logits = random_floats(size_t(n) * vocab, -12, 12, 3);
  for (int i : {5, 77, 3000, 32767}) logits[2 * size_t(vocab) + i] = 25.f;  // ties
  float *lg = put(gpu, logits), *lc = put(cpu, logits);
  for (int k : {1, 8, 10, 40}) {
    std::vector<int32_t> ig(size_t(n) * k), ic(size_t(n) * k);
    std::vector<float> vg(size_t(n) * k), vc(size_t(n) * k), sg(n), sc(n);
    const uint64_t w0 = waits(gpu);
    gpu.topk_rows(lg, n, vocab, k, ig.data(), vg.data(), sg.data());
    CHECK(waits(gpu) == w0 + 1, "topk_rows k=%d: %llu waits (want 1)", k, (unsigned long long)(waits(gpu) - w0));
    cpu.topk_rows(lc, n, vocab, k, ic.data(), vc.data(), sc.data());
    CHECK(ig == ic && vg == vc, "topk_rows k=%d: ids/values differ from the CPU", k);
    for (int r = 0; r < n; ++r)
      CHECK(std::fabs(sg[r] - sc[r]) <= 1e-5f * std::fabs(sc[r]) + 1e-5f, "topk_rows k=%d row %d: lse %.7g, CPU %.7g", k, r,
            sg[r], sc[r]);
  }
  gpu.free(lg);
  cpu.free(lc);
  std::printf("topk_rows (k 1..40, ties) == CPU, log-sum-exp within 1e-5, one wait\n");
}

}  // namespace

int main(int argc, char** argv) {
  const bool require_gpu = argc > 1 && std::string(argv[1]) == "--require-gpu";
  std::string why;
  auto gpu = make_cuda_backend(0, &why);
  if (!gpu) {
    std::printf("SKIP: no CUDA backend: %s\n", why.c_str());
    return require_gpu ? 2 : 0;
  }
  auto cpu = make_cpu_backend(0);
  try {
    CHECK(gpu->device_resident() && !cpu->device_resident(), "device_resident: GPU true, CPU false");
    check_argmax_ids(*gpu, *cpu);
    check_ids_round_trip(*gpu);
    check_get_rows_ids(*gpu, *cpu);
    check_topk_rows(*gpu, *cpu);
  } catch (const std::exception& e) {
    std::printf("FAIL: %s\n", e.what());
    ++failures;
  }
  std::printf(failures ? "%d checks FAILED\n" : "all spec op checks passed\n", failures);
  return failures ? 1 : 0;
}
