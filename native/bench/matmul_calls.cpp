// A fixed amount of matmul work and nothing else, for counting executed instructions (qemu-user with an
// instruction-count plugin: scripts/arm64-insn-count.sh), where wall time means nothing. It builds one random
// weight of TYPE (ROWS x COLS, the reference quantizer) and N random activation rows, then makes CALLS calls of
// cpu_matmul on 1 thread, through the packed GEMM (--packed: gemm_min_n 2) or the tile kernels (--tiles). The
// count of a run with CALLS = 0 is the set-up; the difference per call is the matmul. Prints one line (and a
// checksum, so the work is not optimized away).
// Usage: matmul_calls TYPE ROWS COLS N CALLS --packed|--tiles     (FRSPEC_CPU_VARIANT picks the kernels)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu_kernels.h"
#include "engine/quant.h"

using namespace frspec;

int main(int argc, char** argv) {
  if (argc != 7 || (std::strcmp(argv[6], "--packed") != 0 && std::strcmp(argv[6], "--tiles") != 0)) {
    std::fprintf(stderr, "usage: matmul_calls TYPE ROWS COLS N CALLS --packed|--tiles\n");
    return 2;
  }
  DType t{};
  bool found = false;
  for (DType d : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K,
                  DType::IQ4_NL, DType::IQ4_XS})
    if (std::string(dtype_name(d)) == argv[1]) t = d, found = true;
  const int64_t rows = std::atol(argv[2]), cols = std::atol(argv[3]);
  const int n = std::atoi(argv[4]), calls = std::atoi(argv[5]);
  if (!found || rows <= 0 || cols <= 0 || cols % 256 != 0 || n <= 0 || calls < 0) {
    std::fprintf(stderr, "matmul_calls: a quantized type, positive sizes with COLS a multiple of 256, CALLS >= 0\n");
    return 2;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> wf(size_t(rows * cols)), x(size_t(n) * size_t(cols)), y(size_t(n) * size_t(rows));
  for (float& v : wf) v = normal(rng) * 0.05f;
  for (float& v : x) v = normal(rng);
  const size_t row_bytes = dtype_row_bytes(t, cols);
  std::vector<uint8_t> bytes(row_bytes * size_t(rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row(t, wf.data() + r * cols, bytes.data() + size_t(r) * row_bytes, cols);
  ThreadPool pool(1);
  const Weight w = cpu_weight(t, rows, cols, bytes.data());
  cpu_matmul_set_gemm_min_n(std::strcmp(argv[6], "--packed") == 0 ? 2 : 1 << 30);
  double checksum = 0;
  for (int c = 0; c < calls; ++c) {
    cpu_matmul(pool, w, x.data(), y.data(), n, nullptr);
    checksum += y[size_t(c) % y.size()];
  }
  std::printf("matmul_calls %s %lldx%lld n=%d calls=%d %s (%s) checksum %.6g\n", argv[1], (long long)rows, (long long)cols, n,
              calls, argv[6] + 2, cpu_kernels_isa(), checksum);
  return 0;
}
