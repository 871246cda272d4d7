// Attention and SwiGLU (whose exp is the softmax's) have the same bits in every CPU kernel variant this CPU runs:
// x86-64's v3 (AVX2: cpu_attention_avx2.h, cpu_ops.cpp's 8-lane exp), avx512 and amx; arm64's generic (scalar),
// neon, dotprod and i8mm. Each variant's own backend (make_variant_backend, not the one FRSPEC_CPU_VARIANT picks)
// runs the same cases: a causal prompt chunk, a decode step, a batch, trees (a row's visible slots not
// contiguous), at the real models' GQA shapes and at odd ones (a group larger than a pass, head_dim not a multiple
// of 16), with moderate and peaked queries (most weights negligible); SwiGLU rows with gates up to +-120. Every
// output float must equal the first variant's. A token's attention then does not depend on the machine's variant
// either, only its matmuls' rounding does. (Including engine/cpu_variant.h makes CMake build this program once per
// variant, tests/variant/; main() compares the same variants in any of them.)
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "cpu_variants_built.h"
#include "engine/backend.h"
#include "engine/cpu_variant.h"

#define FRSPEC_DECLARE_VARIANT_BACKEND(v) \
  namespace frspec::cpu_##v {             \
  std::unique_ptr<Backend> make_variant_backend(int threads); \
  }
FRSPEC_CPU_VARIANTS(FRSPEC_DECLARE_VARIANT_BACKEND)

using namespace frspec;

namespace {

struct Variant {
  std::string name;
  std::unique_ptr<Backend> (*make)(int threads);
};

// Every attention output of the cases above, in order, for one backend.
std::vector<float> attention_outputs(Backend& b) {
  struct Shape { int heads, kv_heads, head_dim; };
  const Shape shapes[] = {{12, 2, 128}, {14, 2, 64}, {6, 2, 32}, {16, 1, 80}, {4, 4, 64}, {7, 1, 72}};
  std::vector<float> all;
  for (const Shape& s : shapes)
    for (float q_scale : {1.f, 30.f}) {
      const int cap = 256;
      std::mt19937 rng(7);
      std::normal_distribution<float> nd(0.f, 1.f);
      auto kv = b.create_kv({1, s.kv_heads, s.head_dim, cap});
      const size_t kv_row = size_t(s.kv_heads) * s.head_dim, row = size_t(s.heads) * s.head_dim;
      std::vector<float> k(cap * kv_row), v(cap * kv_row), q(100 * row), out(100 * row);
      for (float& x : k) x = nd(rng);
      for (float& x : v) x = nd(rng);
      for (float& x : q) x = nd(rng) * q_scale;
      b.kv_write(*kv, 0, k.data(), v.data(), 0, cap);
      const float scale = 1.f / std::sqrt(float(s.head_dim));
      // Two chains of 4 from the root's children: each row sees its ancestors and itself.
      const int parent[8] = {-1, 0, 1, 2, -1, 4, 5, 6};
      std::vector<uint8_t> tree(64, 0);
      for (int i = 0; i < 8; ++i)
        for (int j = i; j >= 0; j = parent[j]) tree[i * 8 + j] = 1;
      auto keep = [&](int n) { all.insert(all.end(), out.begin(), out.begin() + long(n * row)); };
      b.attention(*kv, 0, q.data(), out.data(), 0, 100, nullptr, s.heads, scale), keep(100);  // prompt chunk
      b.attention(*kv, 0, q.data(), out.data(), 200, 1, nullptr, s.heads, scale), keep(1);    // decode
      b.attention(*kv, 0, q.data(), out.data(), 37, 9, nullptr, s.heads, scale), keep(9);     // a batch
      b.attention(*kv, 0, q.data(), out.data(), 200, 8, tree.data(), s.heads, scale), keep(8);  // trees
      b.attention(*kv, 0, q.data(), out.data(), 5, 8, tree.data(), s.heads, scale), keep(8);
    }
  return all;
}

// SwiGLU of rows with gates from -120 to 120 (exp's arguments past +-87, where it leaves the plain path) and
// a length that is not a multiple of the vector width.
std::vector<float> swiglu_outputs(Backend& b) {
  const int rows = 4, d = 1003;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> wide(-120.f, 120.f);
  std::normal_distribution<float> nd(0.f, 3.f);
  std::vector<float> g(size_t(rows) * d), u(g.size()), out(g.size());
  for (size_t i = 0; i < g.size(); ++i) g[i] = i % 3 ? nd(rng) : wide(rng), u[i] = nd(rng);
  b.swiglu(g.data(), u.data(), out.data(), rows, d);
  return out;
}

}  // namespace

int main() {
  std::vector<Variant> runnable;
#define FRSPEC_ADD_VARIANT(v) runnable.push_back({#v, &frspec::cpu_##v::make_variant_backend});
  FRSPEC_CPU_VARIANTS(FRSPEC_ADD_VARIANT)
  std::erase_if(runnable, [](const Variant& v) {
    for (const CpuVariant& c : cpu_variants())
      if (c.name == v.name) return !c.runs_here;
    return true;
  });
  std::vector<float> first;
  for (const Variant& v : runnable) {
    auto b = v.make(2);
    std::vector<float> out = attention_outputs(*b);
    const std::vector<float> swiglu = swiglu_outputs(*b);
    out.insert(out.end(), swiglu.begin(), swiglu.end());
    if (first.empty()) {
      first = out;
      std::printf("%s: %zu attention and SwiGLU outputs\n", v.name.c_str(), out.size());
      continue;
    }
    size_t differ = 0;
    for (size_t i = 0; i < out.size(); ++i) differ += std::memcmp(&out[i], &first[i], sizeof(float)) != 0;
    CHECK(out.size() == first.size() && differ == 0, "%s: attention/SwiGLU differ from %s's in %zu of %zu outputs",
          v.name.c_str(), runnable[0].name.c_str(), differ, out.size());
    std::printf("%s: %zu attention and SwiGLU outputs, %zu differ from %s\n", v.name.c_str(), out.size(), differ,
                runnable[0].name.c_str());
  }
  std::printf("variants compared: %zu\n", runnable.size());
  return check_result("attention and SwiGLU have the same bits in every variant this CPU runs");
}
