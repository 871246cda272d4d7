// CPU attention alone (Backend::attention, one layer) at the real shapes of Qwen2.5-Coder 1.5B (12 query /
// 2 KV heads, dim 128) and 0.5B (14 / 2, dim 64): a 400-token prompt in chunks of 256 + 144 (as generate()
// evaluates it), a decode step and an 8-row speculative verification (causal chain and a tree) after 400
// slots. Queries at two scales: 1 (moderate scores) and 20 (peaked rows, where most weights are negligible).
// Prints the best of --reps runs in ms (process CPU time, steadier on a loaded machine; wall time beside it)
// and GFLOP/s over the visible slots (4 * dim flops per head and slot). Compare two builds by running both.
// Usage: attention_bench [--threads 1,2] [--reps 15]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "int_list.h"

using namespace frspec;

namespace {

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Shape {
  const char* name;
  int heads, kv_heads, head_dim;
};

void run(Backend& b, const Shape& s, float q_scale, int reps) {
  const int cap = 512, n_prompt = 400;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  auto kv = b.create_kv({1, s.kv_heads, s.head_dim, cap});
  const size_t kv_row = size_t(s.kv_heads) * s.head_dim, row = size_t(s.heads) * s.head_dim;
  std::vector<float> K(cap * kv_row), V(cap * kv_row), q(256 * row), out(256 * row);
  for (float& x : K) x = nd(rng);
  for (float& x : V) x = nd(rng);
  for (float& x : q) x = nd(rng) * q_scale;
  b.kv_write(*kv, 0, K.data(), V.data(), 0, cap);
  const float scale = 1.f / std::sqrt(float(s.head_dim));
  // An 8-node tree: two chains of 4 from the root's children (each row sees its ancestors and itself).
  const int parent[8] = {-1, 0, 1, 2, -1, 4, 5, 6};
  std::vector<uint8_t> tree(64, 0);
  int tree_slots = 0;
  for (int i = 0; i < 8; ++i)
    for (int j = i; j >= 0; j = parent[j]) tree[i * 8 + j] = 1, ++tree_slots;
  const double per_slot = 4.0 * s.head_dim * s.heads;  // flops per visible slot of a row (scores + values)
  struct Case {
    const char* what;
    double flops;
    std::function<void()> f;
  };
  const Case cases[] = {
      {"prompt 400", per_slot * (n_prompt * (n_prompt + 1) / 2.0),
       [&] {
         b.attention(*kv, 0, q.data(), out.data(), 0, 256, nullptr, s.heads, scale);
         b.attention(*kv, 0, q.data(), out.data(), 256, n_prompt - 256, nullptr, s.heads, scale);
       }},
      {"decode @400", per_slot * (n_prompt + 1),
       [&] { b.attention(*kv, 0, q.data(), out.data(), n_prompt, 1, nullptr, s.heads, scale); }},
      {"verify 8 chain @400", per_slot * (8 * n_prompt + 36),
       [&] { b.attention(*kv, 0, q.data(), out.data(), n_prompt, 8, nullptr, s.heads, scale); }},
      {"verify 8 tree @400", per_slot * (8 * n_prompt + tree_slots),
       [&] { b.attention(*kv, 0, q.data(), out.data(), n_prompt, 8, tree.data(), s.heads, scale); }},
  };
  for (const Case& c : cases) {
    const int inner = std::max(1, int(2e8 / c.flops));  // ~0.2 GFLOP per timed run
    double best_cpu = 1e30, best_wall = 1e30;
    for (int r = 0; r < reps; ++r) {
      const double c0 = cpu_seconds(), w0 = wall_seconds();
      for (int i = 0; i < inner; ++i) c.f();
      best_cpu = std::min(best_cpu, (cpu_seconds() - c0) / inner);
      best_wall = std::min(best_wall, (wall_seconds() - w0) / inner);
    }
    std::printf("  %-5s q x%-3g %-20s %9.3f ms CPU %9.3f ms wall %7.1f GFLOP/s (CPU)\n", s.name, q_scale, c.what,
                best_cpu * 1e3, best_wall * 1e3, c.flops / best_cpu / 1e9);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> threads = {1};
  int reps = 15;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = parse_int_list(argv[++i]);
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: attention_bench [--threads 1,2] [--reps 15]\n");
      return 2;
    }
  }
  const Shape shapes[] = {{"1.5B", 12, 2, 128}, {"0.5B", 14, 2, 64}};
  for (int t : threads) {
    auto b = make_cpu_backend(t);
    std::printf("%s, %d threads\n", b->name().c_str(), b->threads());
    for (const Shape& s : shapes)
      for (float q_scale : {1.f, 20.f}) run(*b, s, q_scale, reps);
  }
  return 0;
}
