// The CPU backend's own operations against plain double-precision math: RMSNorm, RoPE (NEOX, adjacent
// pairs, frequency factors, partial rotation), SwiGLU, masked attention with GQA over committed and new
// slots, KV moves, argmax (first maximum, ties) and top-k. Every failure is reported (check.h); the exit status is non-zero if any.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "engine/backend.h"
#include "engine/quant.h"

using namespace frspec;

namespace {

void check(bool ok, const std::string& what) { CHECK(ok, "%s", what.c_str()); }
void close(double got, double want, double tol, const std::string& what) {
  if (!(std::fabs(got - want) <= tol * (1 + std::fabs(want))))
    check(false, what + ": got " + std::to_string(got) + ", want " + std::to_string(want));
}

std::mt19937 rng(42);
std::vector<float> randn(size_t n, float scale = 1.f) {
  std::normal_distribution<float> g(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = g(rng);
  return v;
}

void test_rms_norm(Backend& b) {
  const int n = 5, d = 200;
  auto x = randn(n * d, 3.f), w = randn(d);
  std::vector<float> y(n * d);
  b.rms_norm(x.data(), w.data(), y.data(), n, d, 1e-5f);
  for (int i = 0; i < n; ++i) {
    double ss = 0;
    for (int j = 0; j < d; ++j) ss += double(x[i * d + j]) * x[i * d + j];
    const double s = 1 / std::sqrt(ss / d + 1e-5);
    for (int j = 0; j < d; ++j) close(y[i * d + j], x[i * d + j] * s * w[j], 1e-5, "rms_norm");
  }
}

// A batch's rows get the bits a row gets alone (the CPU backend normalizes many rows side by side), in place
// too, for batch sizes around its 8-row vectors and 32-row tasks, with NaN, infinities and huge values.
void test_rms_norm_batch_bits(Backend& b) {
  for (int d : {1536, 200, 17, 1})
    for (int n : {7, 8, 9, 16, 33, 70, 300}) {
      auto x = randn(size_t(n) * d, 3.f), w = randn(size_t(d));
      std::uniform_int_distribution<size_t> at(0, x.size() - 1);
      x[at(rng)] = NAN;
      x[at(rng)] = INFINITY;
      x[at(rng)] = 3e38f;
      x[at(rng)] = -1e-40f;
      std::vector<float> y(x.size()), one(x.size()), in_place = x;
      b.rms_norm(x.data(), w.data(), y.data(), n, d, 1e-6f);
      b.rms_norm(in_place.data(), nullptr, in_place.data(), n, d, 1e-6f);
      for (int i = 0; i < n; ++i) b.rms_norm(x.data() + size_t(i) * d, w.data(), one.data() + size_t(i) * d, 1, d, 1e-6f);
      size_t bad = 0;
      for (size_t k = 0; k < x.size(); ++k) bad += std::memcmp(&y[k], &one[k], sizeof(float)) != 0;
      check(bad == 0, "rms_norm n=" + std::to_string(n) + " d=" + std::to_string(d) + ": " + std::to_string(bad) + " values differ from one row at a time");
      for (int i = 0; i < n; ++i) b.rms_norm(x.data() + size_t(i) * d, nullptr, one.data() + size_t(i) * d, 1, d, 1e-6f);
      bad = 0;
      for (size_t k = 0; k < x.size(); ++k) bad += std::memcmp(&in_place[k], &one[k], sizeof(float)) != 0;
      check(bad == 0, "rms_norm in place, no weight, n=" + std::to_string(n) + " d=" + std::to_string(d) + ": " + std::to_string(bad) + " values differ");
    }
}

void test_rope(Backend& b) {
  // Twice through the variants (the CPU backend keeps each position's angles while the frequencies stay the
  // same); the last position is past what it keeps.
  const int n = 4, heads = 2, hd = 16;
  const std::vector<int32_t> pos = {0, 7, 1000, (1 << 20) + 3};
  const std::vector<float> ff = {1, 1, 2, 4, 8, 8, 8, 8};
  for (int variant = 0; variant < 8; ++variant) {
    RopeParams p;
    p.theta = 10000.f;
    p.neox = variant % 2 == 0;
    p.freq_factors = variant % 4 >= 2 ? ff.data() : nullptr;
    p.rot_dims = variant % 4 == 3 ? 8 : 0;
    const int rot = p.rot_dims ? p.rot_dims : hd;
    auto x = randn(n * heads * hd), y = x;
    b.rope(y.data(), pos.data(), n, heads, hd, p);
    for (int t = 0; t < n; ++t)
      for (int h = 0; h < heads; ++h) {
        const float* in = &x[(t * heads + h) * hd];
        const float* out = &y[(t * heads + h) * hd];
        for (int i = 0; i < rot / 2; ++i) {
          double th = pos[t] * std::pow(10000.0, -2.0 * i / rot) / (p.freq_factors ? ff[i] : 1);
          const int a = p.neox ? i : 2 * i, c = p.neox ? i + rot / 2 : 2 * i + 1;
          close(out[a], in[a] * std::cos(th) - in[c] * std::sin(th), 1e-5, "rope variant " + std::to_string(variant));
          close(out[c], in[a] * std::sin(th) + in[c] * std::cos(th), 1e-5, "rope variant " + std::to_string(variant));
        }
        for (int i = rot; i < hd; ++i) check(out[i] == in[i], "rope leaves dimensions past rot_dims alone");
      }
  }
}

void test_swiglu(Backend& b) {
  auto g = randn(300, 4.f), u = randn(300);
  std::vector<float> o(300);
  b.swiglu(g.data(), u.data(), o.data(), 3, 100);
  for (int i = 0; i < 300; ++i) close(o[i], g[i] / (1 + std::exp(-double(g[i]))) * u[i], 1e-5, "swiglu");
}

// A random weight of `type` (rows x cols), as prepared by the backend; the bytes stay in `keep`.
Weight random_weight(Backend& b, DType type, int rows, int cols, std::vector<std::vector<uint8_t>>& keep) {
  const size_t row_bytes = dtype_row_bytes(type, cols);
  std::vector<uint8_t> bytes(row_bytes * rows);
  for (int r = 0; r < rows; ++r) {
    auto x = randn(size_t(cols), 0.05f);
    quantize_row(type, x.data(), bytes.data() + r * row_bytes, cols);
  }
  keep.push_back(std::move(bytes));
  return b.prepare(WeightView{type, rows, cols, keep.back().data(), "test"});
}

size_t differ(const std::vector<float>& a, const std::vector<float>& b) {
  size_t bad = a.size() != b.size() ? 1 : 0;
  for (size_t k = 0; k < std::min(a.size(), b.size()); ++k) bad += std::memcmp(&a[k], &b[k], sizeof(float)) != 0;
  return bad;
}

// The fused projections (the CPU backend runs q|k|v and gate|up as one call: one quantization per weight
// type, one task list) give each output the bits of its own matmul, for a decode step, verification batches
// and prompt chunks (the packed GEMM from 16 tokens), with mixed types (Q4_K_M's Q6_K v), biases and the
// input norm; and a token's rows are the same in a chunk as alone.
void test_fused_matmuls(Backend& b) {
  const int cols = 512;
  struct Types { DType q, k, v; };
  for (const Types& t : {Types{DType::Q4_K, DType::Q4_K, DType::Q6_K}, Types{DType::Q4_K, DType::Q4_K, DType::Q4_K},
                         Types{DType::Q8_0, DType::Q8_0, DType::Q8_0}, Types{DType::F16, DType::Q5_0, DType::F32}}) {
    std::vector<std::vector<uint8_t>> keep;
    Weight wq = random_weight(b, t.q, 320, cols, keep), wk = random_weight(b, t.k, 64, cols, keep),
           wv = random_weight(b, t.v, 48, cols, keep), wg = random_weight(b, t.k, 512, cols, keep),
           wu = random_weight(b, t.k, 512, cols, keep), wd = random_weight(b, t.v, cols, 512, keep);
    auto bq = randn(320), bk = randn(64), bv = randn(48), norm_w = randn(cols);
    const std::string types = std::string(dtype_name(t.q)) + "/" + dtype_name(t.k) + "/" + dtype_name(t.v);
    for (int n : {1, 3, 16, 37, 144, 256}) {
      auto x = randn(size_t(n) * cols, 2.f);
      const std::string what = types + " n=" + std::to_string(n);
      for (bool with_norm : {false, true}) {
        std::vector<float> h(x.size()), q(size_t(n) * 320), k(size_t(n) * 64), v(size_t(n) * 48);
        std::vector<float> q1 = q, k1 = k, v1 = v, h1 = h;
        const InputNorm norm{norm_w.data(), 1e-6f, h.data()};
        b.matmul_qkv(wq, wk, wv, x.data(), n, q.data(), k.data(), v.data(), bq.data(), bk.data(), bv.data(),
                     with_norm ? &norm : nullptr);
        const float* in = x.data();
        if (with_norm) b.rms_norm(x.data(), norm_w.data(), h1.data(), n, cols, 1e-6f), in = h1.data();
        b.matmul(wq, in, q1.data(), n, bq.data());
        b.matmul(wk, in, k1.data(), n, bk.data());
        b.matmul(wv, in, v1.data(), n, bv.data());
        check(differ(q, q1) + differ(k, k1) + differ(v, v1) == 0, "matmul_qkv == q, k, v apart, " + what + (with_norm ? " (norm)" : ""));
        // Row by row (a prompt's tokens decoded one at a time): the same bits (up to 144 tokens: the test runs
        // under qemu on arm64 too).
        std::vector<float> qt(320), kt(64), vt(48);
        size_t bad = 0;
        for (int i = 0; i < (n <= 144 ? n : 0); ++i) {
          b.matmul_qkv(wq, wk, wv, in + size_t(i) * cols, 1, qt.data(), kt.data(), vt.data(), bq.data(), bk.data(), bv.data());
          bad += std::memcmp(qt.data(), q.data() + size_t(i) * 320, 320 * sizeof(float)) != 0;
          bad += std::memcmp(kt.data(), k.data() + size_t(i) * 64, 64 * sizeof(float)) != 0;
          bad += std::memcmp(vt.data(), v.data() + size_t(i) * 48, 48 * sizeof(float)) != 0;
        }
        check(bad == 0, "matmul_qkv of a chunk == its tokens one at a time, " + what);

        std::vector<float> g(size_t(n) * 512), u(g.size()), g1(g.size()), u1(g.size());
        b.matmul_swiglu(wg, wu, x.data(), g.data(), u.data(), n, with_norm ? &norm : nullptr);
        b.matmul(wg, in, g1.data(), n, nullptr);
        b.matmul(wu, in, u1.data(), n, nullptr);
        b.swiglu(g1.data(), u1.data(), g1.data(), n, 512);
        check(differ(g, g1) == 0, "matmul_swiglu == gate, up, swiglu apart, " + what + (with_norm ? " (norm)" : ""));

        // The FFN as a residual (the CPU backend quantizes silu(g) * u for the down projection as it makes it):
        // x += down(swiglu) as the separate ops give it, in place (y == x) as the forward pass calls it.
        std::vector<float> y = x, y1 = x, gb(g.size()), ub(g.size()), tmp(x.size());
        b.ffn_add(wg, wu, wd, y.data(), y.data(), gb.data(), ub.data(), tmp.data(), n, with_norm ? &norm : nullptr);
        b.matmul(wd, g1.data(), tmp.data(), n, nullptr);
        b.add(y1.data(), tmp.data(), y1.size());
        check(differ(y, y1) == 0, "ffn_add == gate, up, swiglu, down, add apart, " + what + (with_norm ? " (norm)" : ""));
      }
    }
    for (Weight* w : {&wq, &wk, &wv, &wg, &wu, &wd}) b.release(*w);
  }
}

// A matmul whose activation quants outgrow L2 (n x cols > 1 MB: the down projection's tiles) is cut into fewer
// tasks on the AMX path; every token's outputs are still those of 16-token chunks, at any thread count.
void test_wide_matmul_bits(Backend& b) {
  const int rows = 200, cols = 4608, n = 256;
  for (DType type : {DType::Q4_K, DType::Q6_K}) {
    std::vector<std::vector<uint8_t>> keep;
    Weight w = random_weight(b, type, rows, cols, keep);
    auto x = randn(size_t(n) * cols), bias = randn(rows);
    std::vector<float> y(size_t(n) * rows), part(y.size());
    b.matmul(w, x.data(), y.data(), n, bias.data());
    // In chunks of 16 tokens (GEMM == GEMV is kernels_test's): activations that fit L2, the usual split.
    for (int t = 0; t < n; t += 16) b.matmul(w, x.data() + size_t(t) * cols, part.data() + size_t(t) * rows, 16, bias.data());
    check(differ(y, part) == 0, std::string("a ") + dtype_name(type) + " 200x4608 matmul of 256 tokens == 16 of 16 tokens");
    b.release(w);
  }
}

// K/V written as one prompt chunk (the CPU backend splits it into tasks of 16-slot blocks and heads) land as
// one token at a time does: every query row's attention over the two caches has the same bits.
void test_kv_write_batch(Backend& b) {
  const int kv_heads = 2, heads = 4, hd = 64, first = 5, n = 70, cap = 80;
  auto one = b.create_kv({1, kv_heads, hd, cap}), batch = b.create_kv({1, kv_heads, hd, cap});
  const size_t kv_row = size_t(kv_heads) * hd, row = size_t(heads) * hd;
  std::vector<float> K = randn(size_t(first + n) * kv_row), V = randn(size_t(first + n) * kv_row);
  b.kv_write(*one, 0, K.data(), V.data(), 0, first);
  b.kv_write(*batch, 0, K.data(), V.data(), 0, first);
  for (int i = first; i < first + n; ++i) b.kv_write(*one, 0, K.data() + i * kv_row, V.data() + i * kv_row, i, 1);
  b.kv_write(*batch, 0, K.data() + first * kv_row, V.data() + first * kv_row, first, n);
  auto q = randn(size_t(n) * row);
  std::vector<float> a(q.size()), c(q.size());
  b.attention(*one, 0, q.data(), a.data(), first, n, nullptr, heads, 0.125f);
  b.attention(*batch, 0, q.data(), c.data(), first, n, nullptr, heads, 0.125f);
  check(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)) == 0, "kv_write of a 70-token chunk == 70 single writes");
}

// A query row's attention has the same bits whatever batch it comes in: row i of a causal batch of n equals
// the same token evaluated alone (n_past + i committed), and row i of a tree batch equals row i of the
// batch cut after it (rows are scored in passes of up to cpu::kMaxQueries query vectors: other n, other passes).
// q_scale > 1 makes rows peaked: scores far below a row's maximum get weight 0 (cpu_attention.cpp).
void test_attention_batch_bits(Backend& b, int kv_heads, int heads, int hd, float q_scale = 1.f) {
  const int n_past = 37, max_n = 9, cap = n_past + max_n;
  auto kv = b.create_kv({1, kv_heads, hd, cap});
  std::vector<float> K = randn(size_t(cap) * kv_heads * hd), V = randn(size_t(cap) * kv_heads * hd);
  b.kv_write(*kv, 0, K.data(), V.data(), 0, cap);
  const size_t row = size_t(heads) * hd;
  auto q = randn(size_t(max_n) * row);
  for (float& x : q) x *= q_scale;
  std::vector<uint8_t> tree(size_t(max_n) * max_n, 0);
  for (int i = 0; i < max_n; ++i)
    for (int j = 0; j <= i; ++j) tree[i * max_n + j] = (j == i || (rng() % 2));
  const std::string shape = std::to_string(heads) + "/" + std::to_string(kv_heads) + " heads, dim " + std::to_string(hd);
  for (int n = 1; n <= max_n; ++n) {
    std::vector<float> out(n * row), alone(row);
    b.attention(*kv, 0, q.data(), out.data(), n_past, n, nullptr, heads, 0.125f);
    for (int i = 0; i < n; ++i) {
      b.attention(*kv, 0, q.data() + i * row, alone.data(), n_past + i, 1, nullptr, heads, 0.125f);
      check(std::equal(alone.begin(), alone.end(), out.begin() + i * row),
            "attention row " + std::to_string(i) + " of " + std::to_string(n) + " == alone (" + shape + ")");
    }
    std::vector<uint8_t> mask(size_t(n) * n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) mask[i * n + j] = tree[i * max_n + j];
    std::vector<float> full(size_t(max_n) * row);
    std::vector<uint8_t> full_mask(size_t(max_n) * max_n);
    for (int i = 0; i < max_n; ++i)
      for (int j = 0; j < max_n; ++j) full_mask[i * max_n + j] = tree[i * max_n + j];
    b.attention(*kv, 0, q.data(), out.data(), n_past, n, mask.data(), heads, 0.125f);
    b.attention(*kv, 0, q.data(), full.data(), n_past, max_n, full_mask.data(), heads, 0.125f);
    check(std::equal(out.begin(), out.end(), full.begin()), "tree attention of the first " + std::to_string(n) + " rows == their rows in a batch of " + std::to_string(max_n) + " (" + shape + ")");
  }
}

// Naive attention: every (query, head) over the visible slots, in double. q_scale > 1: peaked rows, whose
// negligible weights (below e^-64 of the largest) the backend sets to 0.
void test_attention(Backend& b, int kv_heads = 2, int heads = 6, int hd = 32, float q_scale = 1.f) {
  const int layers = 2, cap = 40, n_past = 13, n = 7;
  auto kv = b.create_kv({layers, kv_heads, hd, cap});
  std::vector<float> K = randn(size_t(cap) * kv_heads * hd), V = randn(size_t(cap) * kv_heads * hd);
  for (int l = 0; l < layers; ++l) b.kv_write(*kv, l, K.data(), V.data(), 0, n_past + n);
  auto q = randn(size_t(n) * heads * hd);
  for (float& x : q) x *= q_scale;
  std::vector<uint8_t> tree(n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) tree[i * n + j] = (j == i || (rng() % 2));  // random ancestors, self always
  tree[3 * n + 3] = 0;                                                       // and one row that sees no new slot
  for (const uint8_t* mask : {static_cast<const uint8_t*>(nullptr), static_cast<const uint8_t*>(tree.data())}) {
    std::vector<float> out(size_t(n) * heads * hd);
    const float scale = 0.17f;
    b.attention(*kv, 1, q.data(), out.data(), n_past, n, mask, heads, scale);
    for (int i = 0; i < n; ++i)
      for (int h = 0; h < heads; ++h) {
        const int g = h / (heads / kv_heads);
        std::vector<double> s;
        std::vector<int> slots;
        for (int j = 0; j < n_past + n; ++j) {
          const bool vis = j < n_past || (mask ? mask[i * n + (j - n_past)] : j - n_past <= i);
          if (!vis) continue;
          double dot = 0;
          for (int c = 0; c < hd; ++c) dot += double(q[(i * heads + h) * hd + c]) * K[(j * kv_heads + g) * hd + c];
          s.push_back(dot * scale);
          slots.push_back(j);
        }
        const double m = *std::max_element(s.begin(), s.end());
        double sum = 0;
        for (double& z : s) sum += (z = std::exp(z - m));
        for (int c = 0; c < hd; ++c) {
          double want = 0;
          for (size_t k = 0; k < s.size(); ++k) want += s[k] / sum * V[(slots[k] * kv_heads + g) * hd + c];
          close(out[(i * heads + h) * hd + c], want, 1e-4, std::string("attention ") + (mask ? "tree" : "causal"));
        }
      }
  }
  // kv_move: slots 15 and 18 become 13 and 14; attention over them then equals attention over fresh writes.
  const int32_t src[] = {15, 18}, dst[] = {13, 14};
  b.kv_move(*kv, src, dst, 2);
  auto kv2 = b.create_kv({layers, kv_heads, hd, cap});
  std::vector<float> K2 = K, V2 = V;
  for (int s = 0; s < 2; ++s)
    for (int c = 0; c < kv_heads * hd; ++c) {
      K2[dst[s] * kv_heads * hd + c] = K[src[s] * kv_heads * hd + c];
      V2[dst[s] * kv_heads * hd + c] = V[src[s] * kv_heads * hd + c];
    }
  // One query at slot 15 (its own K/V unchanged by the move) over committed slots 0..14, which include the moved
  // 13 and 14: a kv_move that copied nothing would leave K[13], K[14] there and change the output.
  b.kv_write(*kv2, 0, K2.data(), V2.data(), 0, 16);
  std::vector<float> o1(heads * hd), o2(heads * hd);
  b.attention(*kv, 0, q.data(), o1.data(), 15, 1, nullptr, heads, 0.2f);
  b.attention(*kv2, 0, q.data(), o2.data(), 15, 1, nullptr, heads, 0.2f);
  check(o1 == o2, "attention after kv_move equals attention over the moved values written fresh");
  std::vector<float> o3(heads * hd);
  auto kv3 = b.create_kv({layers, kv_heads, hd, cap});
  b.kv_write(*kv3, 0, K.data(), V.data(), 0, 16);  // the same slots without the move
  b.attention(*kv3, 0, q.data(), o3.data(), 15, 1, nullptr, heads, 0.2f);
  check(o1 != o3, "the kv_move check can fail: without the move the output differs");
}

void test_argmax_topk(Backend& b) {
  for (int n : {1, 5, 16, 31, 32, 33, 1000, 151936}) {
    auto x = randn(n);
    for (int rep = 0; rep < 3; ++rep) {
      if (rep == 1) std::fill(x.begin(), x.end(), 0.5f);  // all tied: the first index wins
      if (rep == 2 && n > 3) x[n - 1] = x[n / 2] = x[n / 3] = 100.f;
      int32_t got;
      b.argmax(x.data(), 1, n, &got);
      const int32_t want = int32_t(std::max_element(x.begin(), x.end()) - x.begin());
      check(got == want, "argmax n=" + std::to_string(n) + " rep " + std::to_string(rep) + ": " + std::to_string(got) +
                             " vs " + std::to_string(want));
    }
    const int k = std::min(n, 10);
    std::vector<int32_t> ids(k);
    std::vector<float> vals(k);
    b.topk(x.data(), n, k, ids.data(), vals.data());
    std::vector<int32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int c) { return x[a] > x[c]; });
    for (int i = 0; i < k; ++i) check(ids[i] == order[i] && vals[i] == x[order[i]], "topk n=" + std::to_string(n));
  }
}

}  // namespace

int main() {
  for (int threads : {1, 3}) {
    auto b = make_cpu_backend(threads);
    test_rms_norm(*b);
    test_rms_norm_batch_bits(*b);
    test_rope(*b);
    test_swiglu(*b);
    test_attention(*b);
    test_attention(*b, 2, 4, 64);   // demo-target's shape: the vector paths (head_dim a multiple of 64)
    test_attention(*b, 1, 16, 80);  // a group larger than a pass, a partial 64-dim chunk
    test_attention(*b, 2, 12, 128, 30.f);  // Qwen2.5-Coder-1.5B's shape, peaked (negligible weights dropped)
    test_attention(*b, 2, 14, 64, 60.f);   // 0.5B's, peaked
    struct Shape { int kv_heads, heads, head_dim; };
    for (const Shape& s : {Shape{2, 4, 64}, Shape{1, 2, 64}, Shape{1, 8, 64}, Shape{1, 16, 80}, Shape{4, 4, 128}, Shape{2, 6, 32},
                           Shape{2, 12, 128}, Shape{2, 14, 64}}) {
      test_attention_batch_bits(*b, s.kv_heads, s.heads, s.head_dim);
      test_attention_batch_bits(*b, s.kv_heads, s.heads, s.head_dim, 40.f);
    }
    test_kv_write_batch(*b);
    test_argmax_topk(*b);
    test_fused_matmuls(*b);
    test_wide_matmul_bits(*b);
  }
  return check_result("all engine op tests passed");
}
