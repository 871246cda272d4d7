// The CPU backend's row operations have the same bits in every CPU kernel variant this CPU runs: x86-64's v3 (AVX2:
// cpu_attention_avx2.h, cpu_ops.cpp's 8-lane exp), avx512 and amx; arm64's generic (scalar), neon, dotprod and i8mm
// (cpu_attention_neon.h, cpu_ops_neon.h). Each variant's own backend (make_variant_backend, not the one
// FRSPEC_CPU_VARIANT picks) runs the same cases. Attention: a causal prompt chunk, a decode step, a batch, trees (a
// row's visible slots not contiguous), at the real models' GQA shapes and at odd ones (a group larger than a pass,
// head_dim not a multiple of 16), with moderate and peaked queries (most weights negligible). SwiGLU rows with gates
// up to +-120. RMSNorm of batches of 1 to 37 rows (with and without a weight; huge, tiny and odd-length rows). RoPE
// (NEOX and GPT-J pairs) at the real head sizes. Argmax rows with ties. Every output float must equal the first
// variant's. A token's attention then does not depend on the machine's variant either, only its matmuls' rounding does.
// The inputs come from integer arithmetic only (no libm), so they are the same on every platform, and each op's
// outputs end in one `digest <op> <hex>` line: scripts/ci-arm64.sh and ci-windows.sh check that the ops whose bits
// are defined the same on all platforms (attention, swiglu, rms_norm, argmax) print the x86-64 Linux build's digests.
// (Including engine/cpu_variant.h makes CMake build this program once per variant, tests/variant/; main() compares
// the same variants in any of them.)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "check.h"
#include "cpu_variants_built.h"
#include "engine/backend.h"
#include "engine/cpu_variant.h"

// This names every variant's namespace, reopening the baseline's inline one as `namespace frspec::cpu_<name>` (still
// the same inline namespace); clang (Apple's included) warns about the spelling.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Winline-namespace-reopened-noninline"
#endif
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

// Inputs from integer arithmetic only (std::normal_distribution's log and sqrt may round differently per libm).
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float uniform() { return float(int32_t(next() >> 32) >> 8) * 0x1p-23f; }  // [-1, 1), exact
  // Roughly normal, variance 1: the sum of 4 uniforms (variance 4/3) times 0.866 (each step rounds the same everywhere).
  float normal() { return (((uniform() + uniform()) + uniform()) + uniform()) * 0.8660254f; }
};

// One op's outputs: FNV-1a over their bytes.
uint64_t digest(const std::vector<float>& v) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (float f : v) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int i = 0; i < 4; ++i) h = (h ^ ((u >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  }
  return h;
}

// Every attention output of the cases above, in order, for one backend.
std::vector<float> attention_outputs(Backend& b) {
  struct Shape { int heads, kv_heads, head_dim; };
  const Shape shapes[] = {{12, 2, 128}, {14, 2, 64}, {6, 2, 32}, {16, 1, 80}, {4, 4, 64}, {7, 1, 72}};
  std::vector<float> all;
  for (const Shape& s : shapes)
    for (float q_scale : {1.f, 30.f}) {
      const int cap = 256;
      Rng rng(7);
      auto kv = b.create_kv({1, s.kv_heads, s.head_dim, cap});
      const size_t kv_row = size_t(s.kv_heads) * s.head_dim, row = size_t(s.heads) * s.head_dim;
      std::vector<float> k(cap * kv_row), v(cap * kv_row), q(100 * row), out(100 * row);
      for (float& x : k) x = rng.normal();
      for (float& x : v) x = rng.normal();
      for (float& x : q) x = rng.normal() * q_scale;
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
  Rng rng(11);
  std::vector<float> g(size_t(rows) * d), u(g.size()), out(g.size());
  for (size_t i = 0; i < g.size(); ++i) g[i] = i % 3 ? rng.normal() * 3.f : rng.uniform() * 120.f, u[i] = rng.normal() * 3.f;
  b.swiglu(g.data(), u.data(), out.data(), rows, d);
  return out;
}

// RMSNorm of batches (1, 2, 5, 16, 37 rows: the one-row chain and every batch path), rows of 1536, 1003 and 7 values,
// with a weight and without, in place and not; some rows huge (1e30: squares past float) or tiny (1e-30).
std::vector<float> rms_norm_outputs(Backend& b) {
  Rng rng(13);
  std::vector<float> all;
  for (int d : {1536, 1003, 7})
    for (int n : {1, 2, 5, 16, 37}) {
      std::vector<float> x(size_t(n) * d), w(static_cast<size_t>(d)), y(x.size());
      for (size_t i = 0; i < x.size(); ++i) x[i] = rng.normal() * ((i / size_t(d)) % 7 == 3 ? 1e30f : (i / size_t(d)) % 7 == 5 ? 1e-30f : 1.f);
      for (float& v : w) v = 1.f + 0.25f * rng.normal();
      b.rms_norm(x.data(), w.data(), y.data(), n, d, 1e-6f);
      all.insert(all.end(), y.begin(), y.end());
      b.rms_norm(x.data(), nullptr, x.data(), n, d, 1e-5f);  // in place, no weight
      all.insert(all.end(), x.begin(), x.end());
    }
  return all;
}

// RoPE at the real models' head sizes (64, 128; 80), NEOX and GPT-J pairs, 20 positions (one task per row), 3 heads.
std::vector<float> rope_outputs(Backend& b) {
  Rng rng(17);
  std::vector<float> all;
  for (int hd : {64, 128, 80})
    for (bool neox : {true, false}) {
      const int n = 20, heads = 3;
      std::vector<float> x(size_t(n) * heads * hd);
      for (float& v : x) v = rng.normal();
      std::vector<int32_t> pos(n);
      for (int i = 0; i < n; ++i) pos[i] = i * 37 % 500;
      RopeParams p;
      p.theta = 1000000.f;
      p.neox = neox;
      b.rope(x.data(), pos.data(), n, heads, hd, p);
      all.insert(all.end(), x.begin(), x.end());
    }
  return all;
}

// Argmax of rows with ties (the first maximum wins) at 16-lane boundaries and past them.
std::vector<float> argmax_outputs(Backend& b) {
  Rng rng(19);
  std::vector<float> all;
  for (int vocab : {7, 31, 32, 33, 1000, 40001}) {
    const int n = 3;
    std::vector<float> x(size_t(n) * vocab);
    for (float& v : x) v = float(int(rng.next() % 50));  // many ties
    std::vector<int32_t> ids(n);
    b.argmax(x.data(), n, vocab, ids.data());
    for (int32_t id : ids) all.push_back(float(id));
    b.argmax(x.data() + size_t(vocab), 1, vocab, ids.data());
    all.push_back(float(ids[0]));
  }
  return all;
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
  struct Op {
    const char* name;
    std::vector<float> (*run)(Backend&);
  };
  const Op ops[] = {{"attention", attention_outputs}, {"swiglu", swiglu_outputs}, {"rms_norm", rms_norm_outputs},
                    {"rope", rope_outputs}, {"argmax", argmax_outputs}};
  std::vector<std::vector<float>> first;
  for (const Variant& v : runnable) {
    auto b = v.make(2);
    std::string line = v.name + ":";
    for (size_t o = 0; o < std::size(ops); ++o) {
      std::vector<float> out = ops[o].run(*b);
      line.append(" ").append(ops[o].name).append(" ").append(std::to_string(out.size()));
      if (first.size() <= o) {
        first.push_back(std::move(out));
        continue;
      }
      size_t differ = 0;
      for (size_t i = 0; i < out.size(); ++i) differ += std::memcmp(&out[i], &first[o][i], sizeof(float)) != 0;
      CHECK(out.size() == first[o].size() && differ == 0, "%s: %s differs from %s's in %zu of %zu outputs", v.name.c_str(),
            ops[o].name, runnable[0].name.c_str(), differ, out.size());
      if (differ) line.append(" (").append(std::to_string(differ)).append(" differ)");
    }
    std::printf("%s outputs%s%s\n", line.c_str(), v.name == runnable[0].name ? "" : ", compared with ",
                v.name == runnable[0].name ? "" : runnable[0].name.c_str());
  }
  for (size_t o = 0; o < first.size(); ++o) std::printf("digest %s %016llx\n", ops[o].name, (unsigned long long)digest(first[o]));
  std::printf("variants compared: %zu\n", runnable.size());
  return check_result("the row ops have the same bits in every variant this CPU runs");
}
