// A fixed amount of one CPU row operation and nothing else, for counting executed instructions under qemu-user
// (scripts/arm64-insn-count.sh --ops), where wall time means nothing: CALLS calls of OP on the shapes of
// Qwen2.5-Coder-1.5B (d 1536, 12 query heads of 128, FFN 8960, vocabulary 151936), 1 thread, in the variant that
// FRSPEC_CPU_VARIANT picks (generic = the scalar code every arm64 op ran before cpu_ops_neon.h). The count of a run
// with CALLS = 0 is the set-up; the difference per call is the op. Prints one line with a checksum.
// OP: rms_norm (64 rows), rms_norm1 (one row: a decode step), rope (64 rows, NEOX), swiglu (64 x 8960), softmax (one
// attention row of 4096 weights), softmax_libm (the same with std::exp, the scalar code before the vector exp),
// argmax (151936 logits), quant_q8_K / quant_q8_0 (64 activation rows of 1536 to 8-bit blocks, as a matmul call does).
// Usage: row_ops_calls OP CALLS
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/cpu_matmul_tiles.h"
#include "engine/cpu_ops.h"

using namespace frspec;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: row_ops_calls OP CALLS\n");
    return 2;
  }
  const std::string op = argv[1];
  const int calls = std::atoi(argv[2]);
  constexpr int n = 64, d = 1536, heads = 12, hd = 128, ff = 8960, vocab = 151936, slots = 4096;
  std::vector<float> x(size_t(n) * ff), y(x.size()), w(static_cast<size_t>(vocab));
  uint32_t s = 1;
  auto next = [&] { return float(int32_t((s = s * 1664525u + 1013904223u)) >> 8) * 0x1p-23f; };  // [-1, 1)
  for (float& v : x) v = 3.f * next();
  for (float& v : y) v = 3.f * next();
  for (float& v : w) v = 8.f * next();
  std::vector<float> cs(static_cast<size_t>(hd));
  for (int i = 0; i < hd / 2; ++i) cs[2 * i] = 0.6f, cs[2 * i + 1] = 0.8f;
  std::vector<kernels::ActQ8_K> q8k(size_t(n) * d / QK_K);
  std::vector<kernels::ActQ8_0x2> q80(size_t(n) * kernels::act_q8_0_pairs(d));
  RopeParams rp;
  double checksum = 0;
  for (int c = 0; c < calls; ++c) {
    if (op == "rms_norm") cpu::rms_norm_rows(x.data(), w.data(), y.data(), n, d, 1e-6f);
    else if (op == "rms_norm1") cpu::rms_norm_rows(x.data(), w.data(), y.data(), 1, d, 1e-6f);
    else if (op == "rope")
      for (int i = 0; i < n; ++i) cpu::rope_apply(x.data() + size_t(i) * heads * hd, heads, hd, rp, cs.data());
    else if (op == "swiglu")
      for (int i = 0; i < n; ++i) cpu::swiglu_row(x.data() + size_t(i) * ff, y.data() + size_t(i) * ff, y.data() + size_t(i) * ff, ff);
    else if (op == "softmax") std::memcpy(y.data(), x.data(), slots * sizeof(float)), checksum += cpu::softmax_weights(y.data(), slots, 3.f);
    else if (op == "softmax_libm") {
      std::memcpy(y.data(), x.data(), slots * sizeof(float));
      float sum = 0.f;
      for (int k = 0; k < slots; ++k) sum += (y[size_t(k)] = std::exp(y[size_t(k)] - 3.f));
      checksum += sum;
    } else if (op == "argmax") checksum += cpu::argmax_row(w.data(), vocab);
    else if (op == "quant_q8_K")
      for (int i = 0; i < n; ++i) kernels::quantize_act_q8_K(x.data() + size_t(i) * d, q8k.data() + size_t(i) * d / QK_K, d, true);
    else if (op == "quant_q8_0")
      for (int i = 0; i < n; ++i) kernels::quantize_act_q8_0(x.data() + size_t(i) * d, q80.data() + size_t(i) * kernels::act_q8_0_pairs(d), d);
    else {
      std::fprintf(stderr, "row_ops_calls: unknown OP %s\n", op.c_str());
      return 2;
    }
    checksum += y[size_t(c) % y.size()] + q8k[0].d + q80[0].d[0];
  }
  std::printf("row_ops_calls %s calls=%d (%s) checksum %.6g\n", op.c_str(), calls, FRSPEC_CPU_VARIANT_NAME, checksum);
  return 0;
}
