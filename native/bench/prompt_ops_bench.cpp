// The CPU backend's fused prompt operations beside the plain compositions they replace (Backend's defaults:
// rms_norm + one matmul per weight, then swiglu; the FFN: gate|up + swiglu, then the down projection + add), on one layer of a real model, in alternation in one process
// so a shared machine's load hits both alike. The outputs are compared bit for bit too.
//   prompt_ops_bench MODEL.gguf [--threads 1,2] [--ns 256,144] [--reps 40] [--layers 0,1]
// Prints per op, thread count and token count the min and median wall time of each and median(split)/median(fused).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/prepared_model.h"
#include "int_list.h"

using namespace frspec;

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double min, median;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2]};
}

double process_cpu_us() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

// fused and split in turn, reps times each; wall and CPU (all threads, spinning included) in microseconds.
void compare(const std::string& what, int reps, const std::function<void()>& fused, const std::function<void()>& split) {
  std::vector<double> wall[2], cpu[2];
  fused(), split();  // warm-up
  for (int r = 0; r < reps; ++r) {
    for (int k = 0; k < 2; ++k) {
      const double c0 = process_cpu_us();
      const auto t0 = Clock::now();
      (k == 0 ? fused : split)();
      wall[k].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      cpu[k].push_back(process_cpu_us() - c0);
    }
  }
  const Stats f = stats(wall[0]), s = stats(wall[1]), fc = stats(cpu[0]), sc = stats(cpu[1]);
  std::printf("  %s\n    wall median (min) fused %8.1f (%8.1f) split %8.1f (%8.1f) us: split/fused %.3f;"
              "  CPU fused %8.1f split %8.1f us: %.3f\n",
              what.c_str(), f.median, f.min, s.median, s.min, s.median / f.median, fc.median, sc.median, sc.median / fc.median);
}

std::string shape(const Weight& w) {
  return std::string(dtype_name(w.type)) + " " + std::to_string(w.rows) + "x" + std::to_string(w.cols);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: prompt_ops_bench MODEL.gguf [--threads 1,2] [--ns 256,144] [--reps 40] [--layers 0,1]\n");
    return 2;
  }
  std::vector<int> threads{1, 2}, ns{256, 144}, layers{0, 1};
  int reps = 40;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = parse_int_list(argv[i + 1]);
    else if (a == "--ns") ns = parse_int_list(argv[i + 1]);
    else if (a == "--layers") layers = parse_int_list(argv[i + 1]);
    else if (a == "--reps") reps = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    auto model = Model::load(argv[1]);
    for (int t : threads) {
      auto backend = make_cpu_backend(t);
      Backend& b = *backend;
      PreparedModel prepared(b, *model);
      const ModelConfig& c = prepared.config();
      const int d = c.d_model, max_n = *std::max_element(ns.begin(), ns.end());
      std::printf("%s, %s, %d threads\n", model->path().c_str(), b.name().c_str(), b.threads());
      std::mt19937 rng(7);
      std::normal_distribution<float> g(0.f, 1.f);
      std::vector<float> x(size_t(max_n) * d);
      for (float& v : x) v = g(rng);
      for (int l : layers) {
        if (l < 0 || l >= int(prepared.layers().size())) continue;
        const PreparedLayer& L = prepared.layers()[size_t(l)];
        const size_t ff = size_t(L.gate.rows);
        std::vector<float> h(x.size()), q(size_t(max_n) * L.q.rows), k(size_t(max_n) * L.k.rows), v(size_t(max_n) * L.v.rows);
        std::vector<float> q2 = q, k2 = k, v2 = v, gate(size_t(max_n) * ff), up(gate.size()), gate2(gate.size());
        for (int n : ns) {
          const InputNorm norm{L.attn_norm, c.rms_eps, h.data()};
          compare("layer " + std::to_string(l) + " n=" + std::to_string(n) + " qkv " + shape(L.q) + "+" + shape(L.k) + "+" + shape(L.v), reps,
                  [&] { b.matmul_qkv(L.q, L.k, L.v, x.data(), n, q.data(), k.data(), v.data(), L.q_bias, L.k_bias, L.v_bias, &norm); },
                  [&] { b.Backend::matmul_qkv(L.q, L.k, L.v, x.data(), n, q2.data(), k2.data(), v2.data(), L.q_bias, L.k_bias, L.v_bias, &norm); });
          if (q != q2 || k != k2 || v != v2) std::printf("  MISMATCH: fused qkv differs from the split one\n");
          const InputNorm ffn{L.ffn_norm, c.rms_eps, h.data()};
          compare("layer " + std::to_string(l) + " n=" + std::to_string(n) + " gate|up+swiglu " + shape(L.gate), reps,
                  [&] { b.matmul_swiglu(L.gate, L.up, x.data(), gate.data(), up.data(), n, &ffn); },
                  [&] { b.Backend::matmul_swiglu(L.gate, L.up, x.data(), gate2.data(), up.data(), n, &ffn); });
          if (std::memcmp(gate.data(), gate2.data(), size_t(n) * ff * sizeof(float)) != 0)
            std::printf("  MISMATCH: fused gate|up+swiglu differs from the split one\n");
          // The whole FFN as a residual on a copy of x each time (the output accumulates into it).
          std::vector<float> y1(size_t(n) * d), y2(y1.size()), tmp(y1.size());
          compare("layer " + std::to_string(l) + " n=" + std::to_string(n) + " ffn " + shape(L.gate) + "+" + shape(L.down), reps,
                  [&] {
                    std::memcpy(y1.data(), x.data(), y1.size() * sizeof(float));
                    b.ffn_add(L.gate, L.up, L.down, y1.data(), y1.data(), gate.data(), up.data(), tmp.data(), n, &ffn);
                  },
                  [&] {
                    std::memcpy(y2.data(), x.data(), y2.size() * sizeof(float));
                    b.Backend::ffn_add(L.gate, L.up, L.down, y2.data(), y2.data(), gate2.data(), up.data(), tmp.data(), n, &ffn);
                  });
          if (y1 != y2) std::printf("  MISMATCH: fused ffn differs from the split one\n");
        }
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
