// The CUDA backend checked op by op against the CPU backend and a double-precision reference, then end to
// end on the demo models. Runs only where a GPU is present (the GPU machine: bench/gpu/run.sh); elsewhere it
// prints SKIP and exits 0, or exits 2 with --require-gpu.
//
//   cuda_backend_test [--json FILE] [--models DIR] [--require-gpu]
//
// What is checked, and why the tolerances are what they are:
//  * matmul, every weight type, GEMV (n <= 64) and GEMM (n > 64) paths, unaligned shapes: against
//    dequantize-then-multiply in double. Float weights meet F32 activations, so only F32 rounding remains:
//    |y - ref| <= 1e-5 * sum|w x| (a layout or indexing bug is off by O(1)). Quantized weights in the GEMV
//    meet activations rounded to 8 bits per block of 32 (dp4a), which adds at most
//    sum|d q| * max|x of the block| / 254 (|d q| = |w|, except Q4_K: |w| + its sub-block's min term). Against
//    the CPU backend (also 8-bit activations): float types the F32 bound; quantized types
//    sum|d q| * max|x| / 127 (both roundings).
//    The tensor-core prefill GEMM (n > 64; F16, BF16, Q8_0, Q4_K, Q6_K) rounds x to F16/BF16 (and quantized
//    weights, once dequantized, to F16) instead: it is held to u sum|w x| (u = 2^-11 F16, 2^-8 BF16; 2u + u^2
//    for the quantized types) + 1e-5 sum|w x|, with
//    partial tiles, a K tail and 128-row tiles covered; the F32 GEMM (tensor cores off) keeps 1e-5. The
//    demo-model checks evaluate at most 41 tokens at once (GEMV path), so their limits are unchanged.
//  * bit-identity that speculative decoding relies on: a token's matmul output is the same whether it is
//    multiplied alone or in a batch of up to 64; a gathered (FR-Spec) head gives the same bits as the
//    full head's rows; attention of a tree node equals attention of the same path decoded plainly.
//  * RMSNorm, RoPE, SwiGLU, add, copy_rows, attention (causal, long context, tree masks), kv_move,
//    argmax, top-k (with planted ties) against the CPU backend; bad input raises an error.
//  * demo models: logits of the reference prompt against the CPU backend and the reference argmax;
//    greedy generation identical on both; batched evaluation bit-identical to one-token decoding.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/prepared_model.h"
#include "engine/quant.h"
#ifdef FRSPEC_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

using namespace frspec;

namespace {

struct Result {
  std::string name;
  double value = 0, limit = 0;
  bool ok = true;
  std::string note;
};
std::vector<Result> g_results;

void record(const std::string& name, double value, double limit, const std::string& note = "") {
  const bool ok = value <= limit && !std::isnan(value);
  g_results.push_back({name, value, limit, ok, note});
  std::printf("%-4s %-58s %.3g (limit %.3g) %s\n", ok ? "ok" : "FAIL", name.c_str(), value, limit, note.c_str());
}
void record_bool(const std::string& name, bool ok, const std::string& note = "") {
  record(name, ok ? 0 : 1, 0, note);
}

std::mt19937 rng(20261126);
std::vector<float> randv(size_t n, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

// A buffer on a backend, filled from / read back to the host.
float* put(Backend& b, const std::vector<float>& h) {
  float* p = b.alloc(h.size());
  b.to_device(p, h.data(), h.size());
  return p;
}
std::vector<float> get(Backend& b, const float* p, size_t n) {
  std::vector<float> h(n);
  b.to_host(h.data(), p, n);
  return h;
}
double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, double(std::fabs(v)));
  return m;
}
// max |a - b| / max(|b|, floor)
double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m / std::max(max_abs(b), 1e-30);
}
bool bit_equal(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

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
bool quantized(DType t) { return t != DType::F32 && t != DType::F16 && t != DType::BF16; }
// The quantized types added for issue 16 (Q4_0, Q4_K_M, Q5_K_M, Q6_K, Q8_0 and IQ4_XS files entirely on the GPU).
constexpr DType kMoreQuant[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q5_K, DType::IQ4_NL, DType::IQ4_XS};

struct HostWeight {
  DType type;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  std::vector<float> deq;  // dequantized, rows x cols
  // Q4_K / Q5_K: dmin * m of each element's sub-block (Q4_1 / Q5_1: |m|). Kernels multiply x by d * q = w + this
  // (and subtract the min term with the sum of x), so activation rounding errors scale with |w| + this, not with |w|.
  std::vector<float> min_term;
  WeightView view() const { return {type, rows, cols, bytes.data(), std::string("test_") + tname(type)}; }
};
HostWeight make_weight(DType t, int64_t rows, int64_t cols) {
  HostWeight w{t, rows, cols, {}, {}, std::vector<float>(size_t(rows * cols), 0.f)};
  const size_t rb = dtype_row_bytes(t, cols);
  w.bytes.resize(rb * rows);
  w.deq.resize(size_t(rows * cols));
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& f : row) f = normal(rng) * (u(rng) < 0.01f ? 8.f : 1.f);
    quantize_row(t, row.data(), w.bytes.data() + r * rb, cols);
    dequantize_row(t, w.bytes.data() + r * rb, w.deq.data() + r * cols, cols);
    if (t == DType::Q4_K || t == DType::Q5_K)
      for (int64_t k = 0; k < cols; ++k) {
        const uint8_t* blk = w.bytes.data() + r * rb + (t == DType::Q4_K ? sizeof(BlockQ4_K) : sizeof(BlockQ5_K)) * size_t(k / QK_K);
        f16_t dmin;
        std::memcpy(&dmin, blk + 2, 2);  // d, dmin, scales[12]: the same head in both
        uint8_t sc, m;
        q4k_scale_min(int(k % QK_K) / 32, blk + 4, &sc, &m);
        w.min_term[size_t(r * cols + k)] = f16_to_f32(dmin) * m;
      }
    if (t == DType::Q4_1 || t == DType::Q5_1)
      for (int64_t k = 0; k < cols; ++k) {
        const uint8_t* blk = w.bytes.data() + r * rb + (t == DType::Q4_1 ? sizeof(BlockQ4_1) : sizeof(BlockQ5_1)) * size_t(k / 32);
        f16_t m;
        std::memcpy(&m, blk + 2, 2);
        w.min_term[size_t(r * cols + k)] = std::fabs(f16_to_f32(m));
      }
  }
  return w;
}

// ---------------------------------------------------------------------------------------------- matmul
// The tensor-core prefill GEMM (gemm_tc.cu: n > 64, F16/BF16 with cols % 8 == 0, Q8_0/Q4_K/Q6_K) rounds x to
// F16 (BF16 for BF16 weights) and dequantized weights to F16: each product w x then carries a relative error of at
// most u (x) or 2u + u^2 (x and w), u = 2^-11 (F16) or 2^-8 (BF16), plus an absolute 2^-24 per |w| (F16
// subnormals). tc_bound() is that bound over a row (mag = sum|w x|, wsum = sum|w|); 0 where the path is not taken.
bool tc_gemm_applies(DType t, int cols, int n) {
#ifdef FRSPEC_HAVE_CUDA
  if (!cuda::tc_gemm()) return false;
#endif
  return n > 64 && (((t == DType::F16 || t == DType::BF16) && cols % 8 == 0) || quantized(t));
}
double tc_bound(DType t, int cols, int n, double mag, double wsum) {
  if (!tc_gemm_applies(t, cols, n)) return 0;
  const double u = t == DType::BF16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
  const double rel = quantized(t) ? 2 * u + u * u : u;
  return rel * mag + std::ldexp(1.0, -24) * wsum * (quantized(t) ? 2 : 1);
}

void check_matmul(Backend& gpu, Backend& cpu, DType t, int rows, int cols,
                  const std::vector<int>& ns = {1, 2, 3, 5, 8, 13, 64, 65, 200}, const std::string& label = "") {
  const std::string tag = std::string("matmul ") + tname(t) + " " + std::to_string(rows) + "x" + std::to_string(cols) + label;
  HostWeight hw = make_weight(t, rows, cols);
  Weight wg = gpu.prepare(hw.view()), wc = cpu.prepare(hw.view());
  const int max_n = std::max(200, *std::max_element(ns.begin(), ns.end()));
  const std::vector<float> x = randv(size_t(max_n) * cols), bias = randv(rows);
  float* xg = put(gpu, x);
  float* xc = put(cpu, x);
  float* bg = put(gpu, bias);
  float* bc = put(cpu, bias);
  float* yg = gpu.alloc(size_t(max_n) * rows);
  float* yc = cpu.alloc(size_t(max_n) * rows);
  // One token at a time: the reference for bit-identity of every batched run below.
  std::vector<float> single(size_t(max_n) * rows);
  const int n_single = std::min(64, *std::max_element(ns.begin(), ns.end()));
  for (int i = 0; i < n_single; ++i) {
    gpu.matmul(wg, xg + size_t(i) * cols, yg, 1, nullptr);
    gpu.to_host(single.data() + size_t(i) * rows, yg, rows);
  }
  double err_ref = 0, err_cpu = 0;
  bool batch_bits = true;
  for (int n : ns) {
    const bool with_bias = n == 5 || n == 200 || n == 300;
    gpu.matmul(wg, xg, yg, n, with_bias ? bg : nullptr);
    cpu.matmul(wc, xc, yc, n, with_bias ? bc : nullptr);
    const std::vector<float> g = get(gpu, yg, size_t(n) * rows), c = get(cpu, yc, size_t(n) * rows);
    for (int i = 0; i < n; ++i) {
      const float* xi = x.data() + size_t(i) * cols;
      double xmax = 0;
      std::vector<double> blk_amax((cols + 31) / 32, 0.0);  // the GPU's 8-bit activation blocks (quantized types)
      for (int k = 0; k < cols; ++k) {
        xmax = std::max(xmax, double(std::fabs(xi[k])));
        blk_amax[k / 32] = std::max(blk_amax[k / 32], double(std::fabs(xi[k])));
      }
      for (int r = 0; r < rows; ++r) {
        const float* wr = hw.deq.data() + size_t(r) * cols;
        const float* mt = hw.min_term.data() + size_t(r) * cols;
        double ref = with_bias ? bias[r] : 0, mag = 0, wsum = 0, act = 0;
        for (int k = 0; k < cols; ++k) {
          const double wq = std::fabs(wr[k]) + mt[k];  // |d q|: what multiplies the rounded x
          ref += double(wr[k]) * xi[k], mag += std::fabs(double(wr[k]) * xi[k]), wsum += wq;
          act += wq * blk_amax[k / 32] / 254.0;  // rounding x to 8 bits: at most half a step
        }
        const double gv = g[size_t(i) * rows + r], cv = c[size_t(i) * rows + r];
        // Float types: F32 rounding only (1e-5 of sum|wx|); quantized types: plus the activation rounding
        // (GEMV); the tensor-core GEMM: F16/BF16 rounding of x (and of Q8_0 weights) instead (tc_bound).
        const double tcb = tc_bound(t, cols, n, mag, wsum);
        const double ref_bound = tcb > 0 ? tcb + 1e-5 * mag : quantized(t) ? act + 1e-5 * mag : 1e-5 * mag;
        err_ref = std::max(err_ref, std::fabs(gv - ref) / (ref_bound + 1e-30));
        const double cpu_bound = (quantized(t) ? wsum * xmax / 127.0 + 1e-5 * mag : 1e-5 * mag) + tcb;
        err_cpu = std::max(err_cpu, std::fabs(gv - cv) / (cpu_bound + 1e-30));
      }
      if (n <= 64 && !with_bias && !bit_equal(g.data() + size_t(i) * rows, single.data() + size_t(i) * rows, rows))
        batch_bits = false;
    }
  }
  record(tag + (quantized(t) ? " vs double ref (|err|/bound incl. 8-bit x)" : " vs double ref (|err|/1e-5 sum|wx|)"), err_ref, 1.0);
  record(tag + " vs CPU backend (|diff|/bound)", err_cpu, 1.0);
  record_bool(tag + " batch n<=64 bit-identical to n=1", batch_bits);

  // get_rows: the dequantized rows themselves.
  const std::vector<int32_t> ids = {0, rows - 1, 17 % rows, 17 % rows, rows / 2};
  float* og = gpu.alloc(ids.size() * cols);
  gpu.get_rows(wg, ids.data(), int(ids.size()), og);
  const std::vector<float> rowsg = get(gpu, og, ids.size() * cols);
  std::vector<float> expect(ids.size() * cols);
  for (size_t i = 0; i < ids.size(); ++i)
    std::copy_n(hw.deq.data() + size_t(ids[i]) * cols, cols, expect.begin() + i * cols);
  record(tag + " get_rows vs dequantize_row", rel_diff(rowsg, expect), 1e-6);

  // FR-Spec gather: a k-row head gives the full head's rows, bit for bit.
  std::vector<int32_t> pick(rows);
  for (int i = 0; i < rows; ++i) pick[i] = i;
  std::shuffle(pick.begin(), pick.end(), rng);
  pick.resize(std::min(rows, 50));
  Weight gg = gpu.gather_rows(wg, pick.data(), int(pick.size()));
  float* yk = gpu.alloc(size_t(5) * pick.size());
  gpu.matmul(gg, xg, yk, 5, nullptr);
  gpu.matmul(wg, xg, yg, 5, nullptr);
  const std::vector<float> full = get(gpu, yg, size_t(5) * rows), part = get(gpu, yk, 5 * pick.size());
  bool gather_bits = true;
  for (int i = 0; i < 5; ++i)
    for (size_t j = 0; j < pick.size(); ++j)
      if (std::memcmp(&part[i * pick.size() + j], &full[size_t(i) * rows + pick[j]], 4) != 0) gather_bits = false;
  record_bool(tag + " gather_rows head == full head rows (bits)", gather_bits);
  gpu.release(gg);
  gpu.release(wg);
  cpu.release(wc);
  for (float* p : {xg, bg, yg, og, yk}) gpu.free(p);
  for (float* p : {xc, bc, yc}) cpu.free(p);
}

// --------------------------------------------------------------------------------------- pointwise ops
void check_pointwise(Backend& gpu, Backend& cpu) {
  {  // RMSNorm, with and without weight, in place
    const int n = 5, d = 3584;
    const auto x = randv(size_t(n) * d, -3, 3), w = randv(d);
    for (bool with_w : {true, false}) {
      float *xg = put(gpu, x), *xc = put(cpu, x), *wg = put(gpu, w), *wc = put(cpu, w);
      gpu.rms_norm(xg, with_w ? wg : nullptr, xg, n, d, 1e-6f);
      cpu.rms_norm(xc, with_w ? wc : nullptr, xc, n, d, 1e-6f);
      record(std::string("rms_norm in place") + (with_w ? " weighted" : ""), rel_diff(get(gpu, xg, x.size()), get(cpu, xc, x.size())), 1e-6);
      gpu.free(xg), gpu.free(wg), cpu.free(xc), cpu.free(wc);
    }
  }
  {  // RoPE: NEOX and adjacent pairs, frequency factors, partial rotation, large positions
    const int n = 4, heads = 4, hd = 128;
    const std::vector<int32_t> pos = {0, 1, 1000, 30000};
    const auto ff = randv(hd / 2, 1.f, 8.f);
    for (int variant = 0; variant < 4; ++variant) {
      RopeParams p;
      p.theta = variant == 2 ? 500000.f : 10000.f;
      p.neox = variant % 2 == 0;
      p.rot_dims = variant == 3 ? 64 : 0;
      const auto x = randv(size_t(n) * heads * hd);
      float *xg = put(gpu, x), *xc = put(cpu, x), *fg = put(gpu, ff), *fc = put(cpu, ff);
      RopeParams pg = p, pc = p;
      if (variant == 2) pg.freq_factors = fg, pc.freq_factors = fc;
      gpu.rope(xg, pos.data(), n, heads, hd, pg);
      cpu.rope(xc, pos.data(), n, heads, hd, pc);
      const char* names[] = {"neox", "adjacent", "neox+freq_factors", "adjacent rot_dims=64"};
      record(std::string("rope ") + names[variant], rel_diff(get(gpu, xg, x.size()), get(cpu, xc, x.size())), 1e-6);
      gpu.free(xg), gpu.free(fg), cpu.free(xc), cpu.free(fc);
    }
  }
  {  // SwiGLU in place, add, copy_rows
    const int n = 3, d = 1000;
    const auto g = randv(size_t(n) * d, -6, 6), u = randv(size_t(n) * d);
    float *gg = put(gpu, g), *ug = put(gpu, u), *gc = put(cpu, g), *uc = put(cpu, u);
    gpu.swiglu(gg, ug, gg, n, d);
    cpu.swiglu(gc, uc, gc, n, d);
    record("swiglu in place", rel_diff(get(gpu, gg, g.size()), get(cpu, gc, g.size())), 1e-6);
    gpu.add(gg, ug, g.size());
    cpu.add(gc, uc, g.size());
    record("add", rel_diff(get(gpu, gg, g.size()), get(cpu, gc, g.size())), 1e-6);
    float* cg = gpu.alloc(size_t(n) * 2 * d);
    float* cc = cpu.alloc(size_t(n) * 2 * d);
    gpu.copy_rows(cg + d, 2 * d, ug, d, n, d - 3);
    cpu.copy_rows(cc + d, 2 * d, uc, d, n, d - 3);
    const auto a = get(gpu, cg, size_t(n) * 2 * d), b = get(cpu, cc, size_t(n) * 2 * d);
    record_bool("copy_rows strided", a == b);
    for (float* p : {gg, ug, cg}) gpu.free(p);
    for (float* p : {gc, uc, cc}) cpu.free(p);
  }
}

// ------------------------------------------------------------------------------------ fused operations
// Each fused op (backend.h: matmul_qkv, matmul_add, matmul_swiglu with and without a folded RMSNorm,
// rope_kv_write) against the composition
// of unfused GPU ops it replaces: the fused kernels do the same per-element arithmetic, so the tolerance is
// zero (bits). Shapes with partial blocks; n = 1, 3, 13 (passes of 8 + 4 + 1 tokens).
void check_fused(Backend& gpu, DType t, int rows_q, int rows_kv, int rows_ff, int cols) {
  const std::string tag = std::string("fused ") + tname(t) + " ";
  const HostWeight hq = make_weight(t, rows_q, cols), hk = make_weight(t, rows_kv, cols), hv = make_weight(t, rows_kv, cols);
  const HostWeight hg = make_weight(t, rows_ff, cols), hu = make_weight(t, rows_ff, cols);
  Weight wq = gpu.prepare(hq.view()), wk = gpu.prepare(hk.view()), wv = gpu.prepare(hv.view());
  Weight wg = gpu.prepare(hg.view()), wu = gpu.prepare(hu.view());
  const int N = 13;
  float* x = put(gpu, randv(size_t(N) * cols, -2, 2));
  float* bq = put(gpu, randv(rows_q)), *bk = put(gpu, randv(rows_kv)), *bv = put(gpu, randv(rows_kv));
  auto buf = [&](int rows) { return gpu.alloc(size_t(N) * rows); };
  float *q1 = buf(rows_q), *k1 = buf(rows_kv), *v1 = buf(rows_kv), *q2 = buf(rows_q), *k2 = buf(rows_kv), *v2 = buf(rows_kv);
  float *g1 = buf(rows_ff), *u1 = buf(rows_ff), *g2 = buf(rows_ff), *u2 = buf(rows_ff);
  const auto resid = randv(size_t(N) * rows_q, -3, 3);
  float *r1 = put(gpu, resid), *r2 = put(gpu, resid), *tmp = buf(rows_ff);
  float* norm_w = put(gpu, randv(cols, 0.5f, 1.5f));
  float *h1 = gpu.alloc(size_t(N) * cols), *h2 = gpu.alloc(size_t(N) * cols);
  bool qkv_ok = true, add_ok = true, swiglu_ok = true, norm_ok = true;
  for (int n : {1, 3, N}) {
    gpu.matmul_qkv(wq, wk, wv, x, n, q1, k1, v1, bq, bk, bv);
    gpu.matmul(wq, x, q2, n, bq), gpu.matmul(wk, x, k2, n, bk), gpu.matmul(wv, x, v2, n, bv);
    qkv_ok &= get(gpu, q1, size_t(n) * rows_q) == get(gpu, q2, size_t(n) * rows_q) &&
              get(gpu, k1, size_t(n) * rows_kv) == get(gpu, k2, size_t(n) * rows_kv) &&
              get(gpu, v1, size_t(n) * rows_kv) == get(gpu, v2, size_t(n) * rows_kv);
    // residual: y += x . Wq^T + bias (a square-ish projection: rows_q outputs)
    gpu.matmul_add(wq, x, r1, tmp, n, n == 3 ? nullptr : bq);
    gpu.matmul(wq, x, tmp, n, n == 3 ? nullptr : bq), gpu.add(r2, tmp, size_t(n) * rows_q);
    add_ok &= get(gpu, r1, size_t(N) * rows_q) == get(gpu, r2, size_t(N) * rows_q);
    gpu.matmul_swiglu(wg, wu, x, g1, tmp, n);
    gpu.matmul(wg, x, g2, n, nullptr), gpu.matmul(wu, x, u2, n, nullptr), gpu.swiglu(g2, u2, g2, n, rows_ff);
    swiglu_ok &= get(gpu, g1, size_t(n) * rows_ff) == get(gpu, g2, size_t(n) * rows_ff);
    // The same with the input's RMSNorm folded in, against rms_norm() then the unfused ops: the scale from
    // one launch before the GEMV (the default) and from every GEMV block (set_norm_in_gemv, the A/B path).
    for (bool in_gemv : {false, true}) {
#ifdef FRSPEC_HAVE_CUDA
      if (auto* ex = cuda::extras(&gpu)) ex->set_norm_in_gemv(in_gemv);
#endif
      const InputNorm norm{norm_w, 1e-6f, h1};
      gpu.rms_norm(x, norm_w, h2, n, cols, 1e-6f);
      gpu.matmul_qkv(wq, wk, wv, x, n, q1, k1, v1, bq, bk, bv, &norm);
      gpu.matmul(wq, h2, q2, n, bq), gpu.matmul(wk, h2, k2, n, bk), gpu.matmul(wv, h2, v2, n, bv);
      norm_ok &= get(gpu, q1, size_t(n) * rows_q) == get(gpu, q2, size_t(n) * rows_q) &&
                 get(gpu, k1, size_t(n) * rows_kv) == get(gpu, k2, size_t(n) * rows_kv) &&
                 get(gpu, v1, size_t(n) * rows_kv) == get(gpu, v2, size_t(n) * rows_kv);
      gpu.matmul_swiglu(wg, wu, x, g1, tmp, n, &norm);
      gpu.matmul(wg, h2, g2, n, nullptr), gpu.matmul(wu, h2, u2, n, nullptr), gpu.swiglu(g2, u2, g2, n, rows_ff);
      norm_ok &= get(gpu, g1, size_t(n) * rows_ff) == get(gpu, g2, size_t(n) * rows_ff);
    }
#ifdef FRSPEC_HAVE_CUDA
    if (auto* ex = cuda::extras(&gpu)) ex->set_norm_in_gemv(false);
#endif
  }
  const std::string shape = " (" + std::to_string(rows_q) + "/" + std::to_string(rows_kv) + "/" + std::to_string(rows_ff) +
                            " x " + std::to_string(cols) + ", n 1/3/13)";
  record_bool(tag + "matmul_qkv == 3 matmuls (bits)" + shape, qkv_ok);
  record_bool(tag + "matmul_add == matmul + add (bits)" + shape, add_ok);
  record_bool(tag + "matmul_swiglu == 2 matmuls + swiglu (bits)" + shape, swiglu_ok);
  record_bool(tag + "RMSNorm folded into matmul_qkv / matmul_swiglu == rms_norm + unfused (bits, scale launch and per block)" + shape,
              norm_ok);
  for (Weight* w : {&wq, &wk, &wv, &wg, &wu}) gpu.release(*w);
  for (float* p : {x, bq, bk, bv, q1, k1, v1, q2, k2, v2, g1, u1, g2, u2, r1, r2, tmp, norm_w, h1, h2}) gpu.free(p);
}

// rope_kv_write == rope(k) + kv_write + rope(q): q compared directly, the caches through attention over
// them (deterministic), all bits. Partial rotation and GQA included.
void check_rope_kv_write(Backend& gpu) {
  const int heads = 8, kv_heads = 2, hd = 128, n = 5, first = 9;
  for (int variant = 0; variant < 2; ++variant) {
    RopeParams p;
    p.neox = variant == 0;
    p.rot_dims = variant == 1 ? 64 : 0;
    KvCacheShape s{2, kv_heads, hd, 64};
    auto ka = gpu.create_kv(s), kb = gpu.create_kv(s);
    const auto q = randv(size_t(n) * heads * hd, -2, 2), k = randv(size_t(n) * kv_heads * hd, -2, 2), v = randv(size_t(n) * kv_heads * hd);
    const std::vector<int32_t> pos = {3, 4, 4, 5, 1000};
    float *qa = put(gpu, q), *qb = put(gpu, q), *kxa = put(gpu, k), *kxb = put(gpu, k), *va = put(gpu, v);
    gpu.rope_kv_write(*ka, 1, qa, heads, kxa, va, pos.data(), n, p, first);
    gpu.rope(kxb, pos.data(), n, kv_heads, hd, p);
    gpu.kv_write(*kb, 1, kxb, va, first, n);
    gpu.rope(qb, pos.data(), n, heads, hd, p);
    const bool q_same = get(gpu, qa, q.size()) == get(gpu, qb, q.size());
    float *oa = gpu.alloc(q.size()), *ob = gpu.alloc(q.size());
    gpu.attention(*ka, 1, qa, oa, first, n, nullptr, heads, 0.1f);
    gpu.attention(*kb, 1, qb, ob, first, n, nullptr, heads, 0.1f);
    const bool cache_same = get(gpu, oa, q.size()) == get(gpu, ob, q.size());
    record_bool(std::string("fused rope_kv_write == rope + kv_write + rope (bits), ") + (variant ? "adjacent rot_dims=64" : "neox"),
                q_same && cache_same, q_same ? "" : "q differs");
    for (float* f : {qa, qb, kxa, kxb, va, oa, ob}) gpu.free(f);
  }
}

// rope_kv_attention of one token (one kernel on the GPU: RoPE of q and k in registers, the new K/V from
// registers and written to the cache by the kernel) == rope_kv_write + attention, bits: the output, and the
// cache through a later attention that reads the new slot. Unsplit (100 keys) and split (700) lists,
// NEOX and adjacent pairs, partial rotation, frequency factors, head_dim 32..128 (the partner lane layouts).
void check_rope_kv_attention(Backend& gpu) {
  struct Case { int heads, kv_heads, hd, rot; bool neox, ff; int n_past, pos; };
  const Case cases[] = {{8, 2, 128, 0, true, false, 100, 100},    {8, 2, 128, 64, false, false, 700, 30000},
                        {4, 4, 64, 0, true, true, 700, 701},       {4, 2, 32, 0, false, false, 100, 7},
                        {4, 2, 32, 16, true, false, 300, 299}};
  for (const Case& t : cases) {
    RopeParams p;
    p.neox = t.neox;
    p.rot_dims = t.rot;
    p.theta = t.ff ? 500000.f : 10000.f;
    const int rot = t.rot ? t.rot : t.hd;
    float* ff = t.ff ? put(gpu, randv(rot / 2, 1.f, 8.f)) : nullptr;
    p.freq_factors = ff;
    KvCacheShape s{2, t.kv_heads, t.hd, 1024};
    auto ka = gpu.create_kv(s), kb = gpu.create_kv(s);
    const int kvd = t.kv_heads * t.hd, qd = t.heads * t.hd;
    const auto old_k = randv(size_t(t.n_past) * kvd, -2, 2), old_v = randv(size_t(t.n_past) * kvd);
    float *okg = put(gpu, old_k), *ovg = put(gpu, old_v);
    gpu.kv_write(*ka, 1, okg, ovg, 0, t.n_past);
    gpu.kv_write(*kb, 1, okg, ovg, 0, t.n_past);
    const auto q = randv(qd, -2, 2), k = randv(kvd, -2, 2), v = randv(kvd);
    float *qa = put(gpu, q), *qb = put(gpu, q), *kxa = put(gpu, k), *kxb = put(gpu, k), *vg = put(gpu, v);
    float *oa = gpu.alloc(qd), *ob = gpu.alloc(qd);
    const float scale = 1.f / std::sqrt(float(t.hd));
    gpu.rope_kv_attention(*ka, 1, qa, kxa, vg, oa, &t.pos, 1, p, t.n_past, nullptr, t.heads, scale);
    gpu.rope_kv_write(*kb, 1, qb, t.heads, kxb, vg, &t.pos, 1, p, t.n_past);
    gpu.attention(*kb, 1, qb, ob, t.n_past, 1, nullptr, t.heads, scale);
    const bool out_same = get(gpu, oa, qd) == get(gpu, ob, qd);
    // The caches: a later query at slot n_past reads the new K/V from the cache in both.
    float* q2 = put(gpu, randv(qd, -2, 2));
    gpu.attention(*ka, 1, q2, oa, t.n_past, 1, nullptr, t.heads, scale);
    gpu.attention(*kb, 1, q2, ob, t.n_past, 1, nullptr, t.heads, scale);
    const bool cache_same = get(gpu, oa, qd) == get(gpu, ob, qd);
    record_bool("fused rope_kv_attention == rope_kv_write + attention (bits), h" + std::to_string(t.heads) + "/" +
                    std::to_string(t.kv_heads) + " d" + std::to_string(t.hd) + (t.neox ? " neox" : " adjacent") +
                    (t.rot ? " rot " + std::to_string(t.rot) : "") + (t.ff ? " freq_factors" : "") + " n_past " +
                    std::to_string(t.n_past),
                out_same && cache_same, out_same ? (cache_same ? "" : "cache differs") : "output differs");
    for (float* f : {okg, ovg, qa, qb, kxa, kxb, vg, oa, ob, q2}) gpu.free(f);
    if (ff) gpu.free(ff);
  }
}

// ------------------------------------------------------------------------------------ KV and attention
void check_attention(Backend& gpu, Backend& cpu, int n_heads, int n_kv, int hd) {
  const std::string tag = "attention h" + std::to_string(n_heads) + "/" + std::to_string(n_kv) + " d" + std::to_string(hd);
  KvCacheShape s{2, n_kv, hd, 4096};
  auto kg = gpu.create_kv(s), kc = cpu.create_kv(s);
  const int kvd = n_kv * hd, qd = n_heads * hd;
  const float scale = 1.f / std::sqrt(float(hd));
  auto write = [&](int first, int n) {
    const auto k = randv(size_t(n) * kvd, -2, 2), v = randv(size_t(n) * kvd);
    float *a = put(gpu, k), *b = put(gpu, v), *c = put(cpu, k), *d = put(cpu, v);
    for (int l = 0; l < 2; ++l) gpu.kv_write(*kg, l, a, b, first, n), cpu.kv_write(*kc, l, c, d, first, n);
    gpu.free(a), gpu.free(b), cpu.free(c), cpu.free(d);
  };
  auto attend = [&](int layer, const std::vector<float>& q, int n_past, int n, const uint8_t* mask) {
    float *qg = put(gpu, q), *qc = put(cpu, q), *og = gpu.alloc(q.size()), *oc = cpu.alloc(q.size());
    gpu.attention(*kg, layer, qg, og, n_past, n, mask, n_heads, scale);
    cpu.attention(*kc, layer, qc, oc, n_past, n, mask, n_heads, scale);
    auto out = std::make_pair(get(gpu, og, q.size()), get(cpu, oc, q.size()));
    gpu.free(qg), gpu.free(og), cpu.free(qc), cpu.free(oc);
    return out;
  };
  // Prefill: 7 causal tokens from an empty cache.
  write(0, 7);
  auto [g1, c1] = attend(1, randv(size_t(7) * qd, -2, 2), 0, 7, nullptr);
  record(tag + " prefill causal n=7", rel_diff(g1, c1), 1e-5);
  // Long context: 2999 committed + 1 new (several key tiles).
  write(7, 2993);
  auto [g2, c2] = attend(0, randv(qd, -2, 2), 2999, 1, nullptr);
  record(tag + " decode n_past=2999", rel_diff(g2, c2), 1e-5);
  // Tree of 6 nodes after n_past committed: parents -1 0 0 1 1 3; node i sees its ancestors and itself.
  // n_past = 100 runs unsplit, 1000 splits the key list over blocks (kv_attention.cu).
  for (int n_past : {100, 1000}) {
    const std::string at = tag + " n_past=" + std::to_string(n_past);
    const int parent[6] = {-1, 0, 0, 1, 1, 3};
    uint8_t mask[36] = {};
    for (int i = 0; i < 6; ++i)
      for (int j = i; j >= 0; j = parent[j]) mask[i * 6 + j] = 1;
    write(n_past, 6);
    const auto q = randv(size_t(6) * qd, -2, 2);
    auto [g3, c3] = attend(0, q, n_past, 6, mask);
    record(at + " tree mask n=6", rel_diff(g3, c3), 1e-5);
    // Keep the path 0-1-3-5 (slots +0,+1,+3,+5 -> +0..+3) and decode node 5 alone: same bits.
    const int32_t src[2] = {n_past + 3, n_past + 5}, dst[2] = {n_past + 2, n_past + 3};
    gpu.kv_move(*kg, src, dst, 2);
    cpu.kv_move(*kc, src, dst, 2);
    const std::vector<float> q5(q.begin() + 5 * qd, q.end());
    auto [g4, c4] = attend(0, q5, n_past + 3, 1, nullptr);
    record(at + " after kv_move, decode of kept path", rel_diff(g4, c4), 1e-5);
    record_bool(at + " tree node == plain decode of its path (bits)", bit_equal(g4.data(), g3.data() + 5 * qd, qd));
  }
}

// ------------------------------------------------------------------------------------------ reductions
void check_select(Backend& gpu, Backend& cpu) {
  const int vocab = 151936, n = 3;
  auto logits = randv(size_t(n) * vocab, -10, 10);
  logits[1 * vocab + 5000] = 50.f, logits[1 * vocab + 100] = 50.f;  // a tie: the smaller id wins
  for (int i : {7, 900, 4000, 150000, 33, 12}) logits[2 * vocab + i] = 20.f;
  float* lg = put(gpu, logits);
  float* lc = put(cpu, logits);
  int32_t ag[n], ac[n];
  gpu.argmax(lg, n, vocab, ag);
  cpu.argmax(lc, n, vocab, ac);
  record_bool("argmax 3 rows (with ties) == CPU", std::equal(ag, ag + n, ac), "row1 -> " + std::to_string(ag[1]));
  for (int k : {1, 10, 32, 33, 64, 256, 300}) {  // k <= 32: the one-block top-k; larger: the multi-pass one
    std::vector<int32_t> ig(k), ic(k);
    std::vector<float> vg(k), vc(k);
    gpu.topk(lg + 2 * vocab, vocab, k, ig.data(), vg.data());
    cpu.topk(lc + 2 * vocab, vocab, k, ic.data(), vc.data());
    record_bool("topk k=" + std::to_string(k) + " (with ties) == CPU", ig == ic && vg == vc);
  }
  {
    // Rows that take the one-block top-k's other paths: warp 0's elements (i % 1024 < 32) all below the
    // rest, so k = 32's threshold lets ~31k candidates through (its exact fallback); k = 10 the threshold
    // path on the same row; a vocab under 1024 (the many-block one-kernel top-k).
    const int v2 = 32768, v3 = 700;
    auto row = randv(v2, 0, 10);
    for (int i = 0; i < v2; ++i)
      if (i % 1024 < 32) row[i] = -5.f - float(i % 7);
    row[12000] = row[12001] = 9.99999f;  // a tie near the top
    auto small = randv(v3, -1, 1);
    small[3] = small[600] = 2.f;
    bool ok = true;
    for (auto [r, vocab_r] : {std::pair{&row, v2}, std::pair{&small, v3}}) {
      float* g = put(gpu, *r);
      float* c = put(cpu, *r);
      for (int k : {1, 10, 32}) {
        std::vector<int32_t> ig(k), ic(k);
        std::vector<float> vg(k), vc(k);
        gpu.topk(g, vocab_r, k, ig.data(), vg.data());
        cpu.topk(c, vocab_r, k, ic.data(), vc.data());
        ok &= ig == ic && vg == vc;
      }
      gpu.free(g);
      cpu.free(c);
    }
    record_bool("topk k=1/10/32 == CPU on a threshold-defeating row (fallback) and a 700-entry row", ok);
  }
#ifdef FRSPEC_HAVE_CUDA
  // Device top-k with the FR-Spec remap (one kernel for k <= 32) over a 32k-row head's logits.
  if (auto* x = cuda::extras(&gpu)) {
    const int rows = 32768;
    std::vector<float> map_f(rows);
    std::vector<int32_t> map(rows);
    for (int i = 0; i < rows; ++i) map[i] = 4 * i + 1;
    std::memcpy(map_f.data(), map.data(), 4 * size_t(rows));
    int32_t* map_dev = x->alloc_ids(rows);
    gpu.to_device(reinterpret_cast<float*>(map_dev), map_f.data(), rows);
    int32_t* ids_dev = x->alloc_ids(32);
    float* vals_dev = gpu.alloc(32);
    bool ok = true;
    for (int k : {1, 10, 32}) {
      x->topk_device(lg + 2 * vocab, rows, k, ids_dev, vals_dev, map_dev);
      std::vector<int32_t> ig(k), ic(k);
      std::vector<float> vg(k), vc(k);
      std::vector<float> ig_f(k);
      gpu.to_host(ig_f.data(), reinterpret_cast<float*>(ids_dev), k);
      std::memcpy(ig.data(), ig_f.data(), 4 * size_t(k));
      vg = get(gpu, vals_dev, k);
      cpu.topk(lc + 2 * vocab, rows, k, ic.data(), vc.data());
      for (int32_t& i : ic) i = map[i];
      ok &= ig == ic && vg == vc;
    }
    record_bool("topk_device with FR-Spec remap k=1/10/32 over 32768 == CPU", ok);
    gpu.free(reinterpret_cast<float*>(map_dev)), gpu.free(reinterpret_cast<float*>(ids_dev)), gpu.free(vals_dev);
  }
#endif
  gpu.free(lg);
  cpu.free(lc);
}

void check_errors(Backend& gpu) {
  auto throws = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  HostWeight hw = make_weight(DType::F16, 8, 64);
  Weight w = gpu.prepare(hw.view());
  float* out = gpu.alloc(64 * 2);
  const int32_t bad[2] = {3, 8};
  std::string e = throws([&] { gpu.get_rows(w, bad, 2, out); });
  record_bool("get_rows with id 8 of 8 rows raises", !e.empty(), e);
  std::vector<uint8_t> junk(1000);
  e = throws([&] { gpu.prepare(WeightView{DType::Q4_K, 2, 100, junk.data(), "blk.0.bad"}); });
  record_bool("prepare Q4_K with 100 cols raises", !e.empty(), e);
  auto kv = gpu.create_kv({1, 1, 64, 16});
  e = throws([&] { gpu.kv_write(*kv, 0, out, out, 15, 2); });
  record_bool("kv_write past capacity raises", !e.empty(), e);
  gpu.sync();
  record_bool("backend still usable after errors", throws([&] { gpu.get_rows(w, bad, 1, out); gpu.sync(); }).empty());
  gpu.release(w);
  gpu.free(out);
}

// ------------------------------------------------------------------------------------------- end to end
std::vector<int32_t> json_ints(const std::string& text, const std::string& key) {
  std::vector<int32_t> v;
  size_t p = text.find("\"" + key + "\"");
  if (p == std::string::npos) return v;
  p = text.find('[', p);
  const size_t end = text.find(']', p);
  std::stringstream ss(text.substr(p + 1, end - p - 1));
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::stoi(item));
  return v;
}

void check_demo(Backend& gpu, Backend& cpu, const std::string& dir, std::string& summary) {
  const std::string path = dir + "/demo-target.gguf";
  std::ifstream ref_file(dir + "/demo-target.reference.json");
  if (!std::ifstream(path) || !ref_file) {
    std::printf("skip demo-target end to end: %s or its reference JSON is missing\n", path.c_str());
    return;
  }
  std::stringstream rs;
  rs << ref_file.rdbuf();
  const std::vector<int32_t> prompt = json_ints(rs.str(), "tokens"), ref_argmax = json_ints(rs.str(), "argmax");
  auto model = Model::load(path);
  PreparedModel pg(gpu, *model), pc(cpu, *model);
  ContextParams cp;
  cp.n_ctx = 1024;
  Context cg(pg, cp), cc(pc, cp);
  const int n = int(prompt.size()), vocab = pg.n_vocab();
  EvalRequest req;
  req.tokens = prompt;
  req.logits = LogitRows::All;
  const EvalResult rg = cg.eval(req), rc = cc.eval(req);
  const auto lg = get(gpu, rg.logits, size_t(n) * vocab), lc = get(cpu, rc.logits, size_t(n) * vocab);
  record("demo-target logits of the reference prompt vs CPU (max|diff|/max|logit|)", rel_diff(lg, lc), 1e-4);
  int mism = 0;
  for (int i = 0; i < n && i < int(ref_argmax.size()); ++i)
    if (std::max_element(lg.begin() + size_t(i) * vocab, lg.begin() + size_t(i + 1) * vocab) - (lg.begin() + size_t(i) * vocab) != ref_argmax[i]) ++mism;
  record("demo-target argmax vs reference JSON (mismatching positions)", mism, 0);

  // Greedy generation on both backends.
  GenerateParams gp;
  gp.max_tokens = 64;
  Context g2(pg, cp), c2(pc, cp);
  const auto t0 = std::chrono::steady_clock::now();
  const GenerateResult og = generate(g2, prompt, gp);
  const double gpu_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const GenerateResult oc = generate(c2, prompt, gp);
  record_bool("demo-target greedy 64 tokens: GPU == CPU", og.tokens == oc.tokens,
              std::to_string(og.tokens.size()) + " tokens, GPU decode " +
                  std::to_string(og.stats.n_decode_steps / (og.stats.decode_ms / 1e3)) + " tok/s");
  summary += "\"demo_target_gpu_decode_tok_s\": " + std::to_string(og.stats.n_decode_steps / (og.stats.decode_ms / 1e3)) +
             ", \"demo_target_cpu_decode_tok_s\": " + std::to_string(oc.stats.n_decode_steps / (oc.stats.decode_ms / 1e3)) +
             ", \"demo_target_cpu_threads\": " + std::to_string(cpu.threads()) + ", ";
  (void)gpu_s;

  // Verification == decoding: the generated tokens evaluated as one batch give the same logits, bit for
  // bit, as evaluating them one at a time (what makes greedy speculative decoding exact).
  const int m = std::min<int>(16, int(og.tokens.size()));
  Context a(pg, cp), b(pg, cp);
  EvalRequest pr;
  pr.tokens = prompt;
  a.eval(pr);
  b.eval(pr);
  std::vector<float> one(size_t(m) * vocab);
  for (int i = 0; i < m; ++i) {
    EvalRequest r1;
    r1.tokens = std::span<const int32_t>(og.tokens.data() + i, 1);
    const EvalResult e = a.eval(r1);
    gpu.to_host(one.data() + size_t(i) * vocab, e.logits, vocab);
  }
  EvalRequest rb;
  rb.tokens = std::span<const int32_t>(og.tokens.data(), m);
  rb.logits = LogitRows::All;
  const EvalResult eb = b.eval(rb);
  const auto batch = get(gpu, eb.logits, size_t(m) * vocab);
  record_bool("demo-target " + std::to_string(m) + " tokens batched == one by one (bits)", bit_equal(batch.data(), one.data(), one.size()));

  // FR-Spec head on the model: a gathered head's logits are the full logits' columns, bit for bit.
  std::vector<int32_t> ids(4096);
  for (int i = 0; i < 4096; ++i) ids[i] = (i * 37) % vocab;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  Weight head = gpu.gather_rows(pg.output(), ids.data(), int(ids.size()));
  Context h1(pg, cp), h2(pg, cp);
  EvalRequest full;
  full.tokens = prompt;
  const auto lf = get(gpu, h1.eval(full).logits, vocab);
  EvalRequest part = full;
  part.lm_head = &head;
  const auto lp = get(gpu, h2.eval(part).logits, ids.size());
  bool same = true;
  for (size_t j = 0; j < ids.size(); ++j) same &= std::memcmp(&lp[j], &lf[ids[j]], 4) == 0;
  record_bool("demo-target FR-Spec 4k head logits == full logits' columns (bits)", same);
  gpu.release(head);
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, models;
  bool require_gpu = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--models" && i + 1 < argc) models = argv[++i];
    else if (a == "--require-gpu") require_gpu = true;
    else {
      std::fprintf(stderr, "usage: cuda_backend_test [--json FILE] [--models DIR] [--require-gpu]\n");
      return 2;
    }
  }
  std::string why;
  auto gpu = make_cuda_backend(0, &why);
  if (!gpu) {
    std::printf("SKIP: no CUDA backend: %s\n", why.c_str());
    return require_gpu ? 2 : 0;
  }
  auto cpu = make_cpu_backend(0);
  std::string device = gpu->name();
  std::printf("GPU backend: %s; CPU backend: %s (%d threads)\n", device.c_str(), cpu->name().c_str(), cpu->threads());
  std::string summary;
  const auto run = [&](const char* what, const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      record_bool(std::string(what) + " ran without an exception", false, e.what());
    }
  };
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_K, DType::Q6_K})
    run("matmul", [&] { check_matmul(*gpu, *cpu, t, 300, quantized(t) ? 512 : 520); });
  run("matmul F16 tail", [&] { check_matmul(*gpu, *cpu, DType::F16, 77, 4100); });    // cols % 8 != 0
  run("matmul F32 generic", [&] { check_matmul(*gpu, *cpu, DType::F32, 33, 70); });   // cols % 4 != 0
  run("matmul Q8_0 96", [&] { check_matmul(*gpu, *cpu, DType::Q8_0, 64, 96); });
  for (DType t : kMoreQuant)  // GEMV, verification batches, tensor-core GEMM (65, 200), gather, get_rows
    run("matmul", [&] { check_matmul(*gpu, *cpu, t, 300, 512); });
  for (DType t : {DType::Q4_0, DType::Q5_1, DType::IQ4_NL})  // 32-value formats: 4864 columns (Qwen2.5-0.5B's FFN)
    run("matmul", [&] { check_matmul(*gpu, *cpu, t, 96, 4864, {1, 3, 8, 65}); });
  // Tensor-core prefill GEMM edges (gemm_tc.cu): partial token/row tiles, cols % 32 != 0 (zero-filled K
  // tail), 128-row tiles (4224 rows x 1100 tokens: enough blocks), fewer K steps than pipeline stages.
  for (DType t : {DType::F16, DType::BF16, DType::Q8_0, DType::Q4_K, DType::Q6_K})
    run("matmul tensor-core GEMM", [&] { check_matmul(*gpu, *cpu, t, 200, quantized(t) ? 1024 : 1000, {65, 300}); });
  run("matmul tensor-core GEMM wide", [&] { check_matmul(*gpu, *cpu, DType::F16, 4224, 96, {1100}); });
  run("matmul tensor-core GEMM wide", [&] { check_matmul(*gpu, *cpu, DType::Q8_0, 4224, 64, {1100}); });
#ifdef FRSPEC_HAVE_CUDA
  // The F32 GEMM that FRSPEC_CUDA_NO_TC_GEMM=1 falls back to, still at the F32 bound.
  for (DType t : {DType::F16, DType::Q8_0})
    run("matmul F32 GEMM", [&] {
      cuda::tc_gemm() = false;
      try {
        check_matmul(*gpu, *cpu, t, 300, 512, {65, 200}, " (tensor cores off)");
      } catch (...) {
        cuda::tc_gemm() = true;
        throw;
      }
      cuda::tc_gemm() = true;
    });
#endif
  for (DType t : {DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q4_0, DType::Q5_K, DType::IQ4_XS})  // tall: 8-row blocks (matmul.cu)
    run("matmul tall", [&] { check_matmul(*gpu, *cpu, t, 8200, 512, {1, 2, 5}); });
  run("pointwise", [&] { check_pointwise(*gpu, *cpu); });
  run("attention 4/2 d64", [&] { check_attention(*gpu, *cpu, 4, 2, 64); });
  run("attention 8/2 d128", [&] { check_attention(*gpu, *cpu, 8, 2, 128); });
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_K, DType::Q6_K})
    run("fused", [&] { check_fused(*gpu, t, 300, 36, 1001, 512); });
  for (DType t : kMoreQuant) run("fused", [&] { check_fused(*gpu, t, 300, 36, 1001, 512); });
  run("fused tall", [&] { check_fused(*gpu, DType::Q8_0, 260, 20, 8200, 256); });  // 8-row blocks (matmul.cu)
  run("fused rope_kv_write", [&] { check_rope_kv_write(*gpu); });
  run("fused rope_kv_attention", [&] { check_rope_kv_attention(*gpu); });
  run("select", [&] { check_select(*gpu, *cpu); });
  run("errors", [&] { check_errors(*gpu); });
  if (!models.empty()) run("demo", [&] { check_demo(*gpu, *cpu, models, summary); });

  int failed = 0;
  for (const auto& r : g_results) failed += !r.ok;
  std::printf("%zu checks, %d failed\n", g_results.size(), failed);
  if (!json_path.empty()) {
    std::ofstream f(json_path);
    f << "{\"device\": \"" << device << "\", " << summary << "\"passed\": " << g_results.size() - failed
      << ", \"failed\": " << failed << ", \"checks\": [\n";
    for (size_t i = 0; i < g_results.size(); ++i) {
      const auto& r = g_results[i];
      std::string note;
      for (char c : r.note) note += (c == '"' || c == '\\') ? '\'' : (c == '\n' ? ' ' : c);
      f << "  {\"name\": \"" << r.name << "\", \"value\": " << (std::isfinite(r.value) ? r.value : 1e300)
        << ", \"limit\": " << r.limit << ", \"ok\": " << (r.ok ? "true" : "false") << ", \"note\": \"" << note << "\"}"
        << (i + 1 < g_results.size() ? ",\n" : "\n");
    }
    f << "]}\n";
  }
  return failed ? 1 : 0;
}
