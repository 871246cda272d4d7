// The CUDA weight layouts checked on the CPU (no GPU needed): for every quantized type the CUDA backend
// runs, repack_row (weight_layout.cpp) and the device traits of weight_types.cuh, compiled here as plain C++
// with host stand-ins for the few CUDA intrinsics they use, must give (1) elem() == dequantize_row exactly,
// (2) a walk over the GEMV's chunks and runs (qrun's words as signed bytes, scale, min, kQOffset, qstart) ==
// the row's dot product with exact activations, every element covered once, and (3) the GEMV's pairing: the
// runs of lanes c and c^1 are the two halves of one 32-element activation block (matmul.cu quantizes x per
// such block with the partner lane's help). What only a GPU can show (the kernels themselves) is in
// cuda_backend_test and cuda_weight_types_test. Built without CUDA: prints SKIP.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "engine/backend.h"
#include "engine/quant.h"

#ifdef FRSPEC_HAVE_CUDA
#include "cuda_layout_host.h"

using namespace frspec;
using namespace frspec::cuda;

static int failures = 0;

template <class T>
static void check(DType t, int cols) {
  std::mt19937 rng(uint32_t(cols) * 31 + uint32_t(t));
  std::normal_distribution<float> normal(0.f, 1.f);
  double worst_elem = 0, worst_walk = 0;
  int bad_cover = 0, bad_pair = 0;
  for (int r = 0; r < 4; ++r) {
    const size_t n = static_cast<size_t>(cols);
    std::vector<float> w(n), x(n), deq(n);
    for (float& v : w) v = normal(rng);
    for (float& v : x) v = normal(rng);
    std::vector<uint8_t> file(dtype_row_bytes(t, cols)), dev(device_row_bytes(t, cols));
    quantize_row(t, w.data(), file.data(), cols);
    dequantize_row(t, file.data(), deq.data(), cols);
    repack_row(t, file.data(), dev.data(), cols);
    for (int i = 0; i < cols; ++i) worst_elem = std::max(worst_elem, std::fabs(double(T::elem(dev.data(), cols, i)) - deq[size_t(i)]));
    double ref = 0, mag = 0, got = 0;
    for (int i = 0; i < cols; ++i) ref += double(deq[size_t(i)]) * x[size_t(i)], mag += std::fabs(double(deq[size_t(i)]) * x[size_t(i)]);
    std::vector<int> seen(n, 0);
    for (int c = 0; c < T::chunks(cols); ++c) {
      typename T::Raw raw;
      T::load(dev.data(), cols, c, raw);
      const auto aux = T::aux(raw, c);
      for (int run = 0; run < T::kQRuns; ++run) {
        int wq[4];
        float scale = 0, mn = 0;
        T::qrun(raw, aux, run, wq, scale, mn);
        const int s0 = T::qstart(c, run), p0 = T::qstart(c ^ 1, run);
        bad_pair += s0 / 32 != p0 / 32 || s0 == p0;
        double dot = 0, xs = 0;
        for (int i = 0; i < 16; ++i) {
          const int q = int(int8_t(uint32_t(wq[i / 4]) >> (8 * (i % 4)))) - T::kQOffset;
          dot += double(q) * x[size_t(s0 + i)], xs += x[size_t(s0 + i)];
          ++seen[size_t(s0 + i)];
        }
        got += double(scale) * dot - (T::kHasMin ? double(mn) * xs : 0.0);
      }
    }
    for (int v : seen) bad_cover += v != 1;
    worst_walk = std::max(worst_walk, std::fabs(got - ref) / mag);
  }
  const bool ok = worst_elem == 0 && worst_walk <= 1e-6 && bad_cover == 0 && bad_pair == 0;
  failures += !ok;
  std::printf("%-6s %5d cols: elem == dequantize_row (max diff %.1e), chunk walk vs dot %.1e of sum|wx|, coverage errors %d, "
              "unpaired runs %d: %s\n", dtype_name(t), cols, worst_elem, worst_walk, bad_cover, bad_pair, ok ? "ok" : "FAIL");
}

int main() {
  for (int cols : {512, 4864}) {  // 4864: Qwen2.5-Coder-0.5B's FFN (76 pairs of 32-value blocks)
    check<TQ4_0>(DType::Q4_0, cols);
    check<TQ4_1>(DType::Q4_1, cols);
    check<TQ5_0>(DType::Q5_0, cols);
    check<TQ5_1>(DType::Q5_1, cols);
    check<TIQ4_NL>(DType::IQ4_NL, cols);
  }
  for (int cols : {512, 3584}) {  // 3584: Qwen2.5-Coder-7B's d
    check<TQ4_K>(DType::Q4_K, cols);
    check<TQ5_K>(DType::Q5_K, cols);
    check<TQ6_K>(DType::Q6_K, cols);
    check<TIQ4_XS>(DType::IQ4_XS, cols);
  }
  // The table lookup against the CPU's table, every nibble in every byte position.
  bool table_ok = true;
  for (uint32_t n = 0; n < 16; ++n)
    for (int pos = 0; pos < 4; ++pos) table_ok &= int8_t(iq4nl_lookup4(n << (8 * pos)) >> (8 * pos)) == kIQ4NL[n];
  failures += !table_ok;
  std::printf("iq4nl_lookup4 == kIQ4NL: %s\n", table_ok ? "ok" : "FAIL");
  std::printf(failures ? "%d layout checks FAILED\n" : "all CUDA layout checks passed\n", failures);
  return failures ? 1 : 0;
}
#else
int main() {
  std::printf("SKIP: built without CUDA (the layouts belong to the CUDA backend)\n");
  return 0;
}
#endif
