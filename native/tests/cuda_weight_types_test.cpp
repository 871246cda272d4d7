// Every weight type the CPU engine reads, on the CUDA backend: either it computes the same matmul and
// embedding rows as the CPU backend (within the activation-rounding tolerance both share), or it refuses
// the weight with std::invalid_argument naming the weight and its type — the error backend 'cuda' shows,
// and the one on which backend 'auto' falls back to the CPU (native/addon/loaded_model.cpp, the one backend selection of the addon).
// Without a GPU it prints SKIP and exits 0 (exit 2 with --require-gpu).
//   cuda_weight_types_test [--require-gpu | --cpu-as-gpu]   (--cpu-as-gpu: a second CPU backend stands in, to test the test)
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "engine/backend.h"
#include "engine/quant.h"

using namespace frspec;

namespace {

// One type: a 96 x 512 weight (every block size divides 512), matmul of 1, 3 and 70 tokens (GEMV, verification
// batch, prefill GEMM) and get_rows. must_run: a refusal is a failure (the types the CUDA backend has kernels for).
void check_type(Backend& gpu, Backend& cpu, DType t, std::mt19937& rng, bool must_run) {
  const int64_t rows = 96, cols = 512;
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> wf(size_t(rows * cols));
  for (float& v : wf) v = 0.05f * normal(rng);
  const size_t rb = dtype_row_bytes(t, cols);
  std::vector<uint8_t> bytes(rb * size_t(rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row(t, wf.data() + r * cols, bytes.data() + size_t(r) * rb, cols);
  WeightView view;
  view.type = t;
  view.rows = rows;
  view.cols = cols;
  view.data = bytes.data();
  view.name = std::string("test.") + dtype_name(t) + ".weight";

  Weight wg;
  try {
    wg = gpu.prepare(view);
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    CHECK(m.find(view.name) != std::string::npos && m.find(dtype_name(t)) != std::string::npos,
          "%s: the refusal must name the weight and its type: '%s'", dtype_name(t), m.c_str());
    std::printf("%-5s refused by the CUDA backend: %s\n", dtype_name(t), m.c_str());
    CHECK(!must_run, "%s: the CUDA backend has kernels for it but refused it", dtype_name(t));
    return;
  }
  Weight wc = cpu.prepare(view);
  const int n = 70;
  std::vector<float> x(size_t(n * cols)), yg(size_t(n * rows)), yc(yg.size());
  for (float& v : x) v = normal(rng);
  float* xd = gpu.alloc(x.size());
  float* yd = gpu.alloc(yg.size());
  gpu.to_device(xd, x.data(), x.size());
  double worst = 0;
  for (int tokens : {1, 3, n}) {
    gpu.matmul(wg, xd, yd, tokens);
    gpu.to_host(yg.data(), yd, size_t(tokens * rows));
    cpu.matmul(wc, x.data(), yc.data(), tokens);
    double sq = 0;
    for (int i = 0; i < tokens * rows; ++i) sq += double(yc[size_t(i)]) * yc[size_t(i)];
    const double rms = std::sqrt(sq / (tokens * rows));
    for (int i = 0; i < tokens * rows; ++i) worst = std::max(worst, std::fabs(double(yg[size_t(i)]) - yc[size_t(i)]) / rms);
  }
  // Both sides round the activations to 8 bits (possibly in different block shapes): ~1% of the RMS.
  CHECK(worst <= 0.05, "%s matmul: GPU differs from the CPU by %.3g of the outputs' RMS", dtype_name(t), worst);

  const int32_t ids[] = {95, 0, 17};
  std::vector<float> eg(size_t(3 * cols)), ec(eg.size());
  float* ed = gpu.alloc(eg.size());
  gpu.get_rows(wg, ids, 3, ed);
  gpu.to_host(eg.data(), ed, eg.size());
  cpu.get_rows(wc, ids, 3, ec.data());
  double worst_rows = 0;
  for (size_t i = 0; i < eg.size(); ++i) worst_rows = std::max(worst_rows, std::fabs(double(eg[i]) - ec[i]));
  CHECK(worst_rows <= 1e-6, "%s get_rows: GPU differs from the CPU by %.3g", dtype_name(t), worst_rows);
  std::printf("%-5s on %s: matmul within %.2e of the CPU's (relative to RMS), get_rows within %.1e\n", dtype_name(t), gpu.name().c_str(),
              worst, worst_rows);
  gpu.free(ed);
  gpu.free(yd);
  gpu.free(xd);
  gpu.release(wg);
  cpu.release(wc);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string arg = argc > 1 ? argv[1] : "";
  const bool require_gpu = arg == "--require-gpu";
  std::string why;
  auto gpu = arg == "--cpu-as-gpu" ? make_cpu_backend(1) : make_cuda_backend(0, &why);
  if (!gpu) {
    std::printf("SKIP: no CUDA backend: %s\n", why.c_str());
    return require_gpu ? 2 : 0;
  }
  auto cpu = make_cpu_backend(0);
  std::mt19937 rng(7);
  // Every type the engine reads has CUDA kernels now: a refusal fails.
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                  DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS}) {
    try {
      check_type(*gpu, *cpu, t, rng, /*must_run=*/true);
    } catch (const std::exception& e) {
      CHECK(false, "%s: %s", dtype_name(t), e.what());
    }
  }
  return check_result("every weight type: computed like the CPU or refused clearly");
}
