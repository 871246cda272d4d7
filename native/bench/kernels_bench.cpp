// Benchmark of the CPU matmul kernels, side by side with their baselines in the same run:
//  * memory bandwidth: memcpy, and a streaming read of the same bytes (the ceiling for a GEMV, which
//    only reads weights);
//  * for each weight type and shape: GEMV (n = 1) in ms and GB/s of weight bytes, and batched matmuls
//    (n = 8/32/64) against n separate GEMVs of the same tokens.
// Shapes: the demo models' LM head (151936 x 256; the draft's 151936 x 128) and layer shapes of the demo
// target and of a 1.5B coder model. Usage:
//   kernels_bench [--quick] [--types F16,Q4_K] [--threads 1,2] [--ns 1,8,32,64] [--seconds 0.3]
//                 [--shape ROWSxCOLS]...   (only these shapes, no bandwidth baselines: e.g. the 1.5B layer
//                                           shapes --shape 1536x1536 --shape 256x1536 --shape 8960x1536 --shape 1536x8960)
//                 [--cpu-time]  (process CPU time instead of wall time: steadier on a loaded machine; 1 thread)
//                 [--gemm-min-n N]  (packed GEMM from N tokens; a huge N = the tile GEMM, for comparison)
// (the full run takes about 4 minutes on 2 cores; options given after --quick override its choices)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu_kernels.h"
#include "engine/quant.h"
#include "engine/threadpool.h"
#include "int_list.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

using namespace frspec;
using Clock = std::chrono::steady_clock;

namespace {

double g_seconds = 0.3;
bool g_cpu_time = false;  // --cpu-time: process CPU seconds instead of wall time (a loaded shared machine)

double now_s() {
  if (g_cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  }
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Median seconds per call of fn, over enough calls to fill g_seconds (at least 3).
template <class F>
double time_call(F&& fn) {
  fn();  // warm up (page faults, first touch of scratch buffers)
  std::vector<double> samples;
  const auto start = Clock::now();
  while (samples.size() < 3 || (std::chrono::duration<double>(Clock::now() - start).count() < g_seconds && samples.size() < 2000)) {
    const double t0 = now_s();
    fn();
    samples.push_back(now_s() - t0);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

volatile int32_t g_sink;

// Median seconds per call of a and of b, calling them alternately so that both see the same machine
// load (this machine is shared; back-to-back measurements drift by 2x).
template <class A, class B>
std::pair<double, double> time_pair(A&& a, B&& b) {
  a();
  b();
  std::vector<double> sa, sb;
  const auto start = Clock::now();
  while (sa.size() < 3 || (std::chrono::duration<double>(Clock::now() - start).count() < 2 * g_seconds && sa.size() < 2000)) {
    const double t0 = now_s();
    a();
    const double t1 = now_s();
    b();
    const double t2 = now_s();
    sa.push_back(t1 - t0);
    sb.push_back(t2 - t1);
  }
  std::sort(sa.begin(), sa.end());
  std::sort(sb.begin(), sb.end());
  return {sa[sa.size() / 2], sb[sb.size() / 2]};
}

// Sums `n_floats` floats at p across the pool's threads: streams the bytes once, like a GEMV streams
// its weights, with no other work. The ceiling for a GEMV over the same bytes.
void stream_read(ThreadPool& pool, const float* data, size_t n) {
  const size_t chunk = 1 << 16;
  const int tasks = int((n + chunk - 1) / chunk);
  int32_t partial[64 * 16] = {};
  pool.parallel_for(tasks, [&](int task, int thread) {
      const float* p = data + size_t(task) * chunk;
      const size_t m = std::min(chunk, n - size_t(task) * chunk);
      // Integer adds: the bytes are not floats (F16/quantized weights) and denormal float inputs
      // could slow a float sum down.
#if defined(__AVX512F__)
      const __m512i* v = reinterpret_cast<const __m512i*>(p);
      __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
      size_t i = 0;
      for (; (i + 4) * 16 <= m; i += 4) {
        a0 = _mm512_add_epi32(a0, _mm512_loadu_si512(v + i));
        a1 = _mm512_add_epi32(a1, _mm512_loadu_si512(v + i + 1));
        a2 = _mm512_add_epi32(a2, _mm512_loadu_si512(v + i + 2));
        a3 = _mm512_add_epi32(a3, _mm512_loadu_si512(v + i + 3));
      }
      alignas(64) int32_t lanes[16];
      _mm512_store_si512(lanes, _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)));
      int32_t sum = 0;
      for (int32_t l : lanes) sum += l;
      for (i *= 16; i < m; ++i) sum += reinterpret_cast<const int32_t*>(p)[i];
#else
      int32_t sum = 0;
      for (size_t i = 0; i < m; ++i) sum += reinterpret_cast<const int32_t*>(p)[i];
#endif
      partial[size_t(thread % 64) * 16] += sum;
  });
  g_sink = partial[0];
}

double read_bandwidth(ThreadPool& pool, const std::vector<float>& buf) {
  return double(buf.size()) * 4 / time_call([&] { stream_read(pool, buf.data(), buf.size()); }) / 1e9;
}

double memcpy_bandwidth(ThreadPool& pool, std::vector<float>& dst, const std::vector<float>& src) {
  const size_t n = src.size(), chunk = 1 << 16;
  const int tasks = int((n + chunk - 1) / chunk);
  const double s = time_call([&] {
    pool.parallel_for(tasks, [&](int task, int) {
      const size_t off = size_t(task) * chunk;
      std::memcpy(dst.data() + off, src.data() + off, std::min(chunk, n - off) * 4);
    });
  });
  return double(n) * 4 * 2 / s / 1e9;  // bytes read + written
}

struct Shape {
  const char* name;
  int64_t rows, cols;
};

// The matmuls of one demo-target decode step, in order: per layer q, k, v, o (d = 256, 2 KV heads of
// 64), gate, up, down (FFN 1024), then the 151936-row LM head; all F16, 93 MB, separate buffers as in
// the model file. Its rate bounds the engine's decode tokens/s from above.
double decode_step_ms(ThreadPool& pool) {
  struct M { int64_t rows, cols; };
  std::vector<M> shapes;
  for (int l = 0; l < 8; ++l)
    for (M m : {M{256, 256}, M{128, 256}, M{128, 256}, M{256, 256}, M{1024, 256}, M{1024, 256}, M{256, 1024}}) shapes.push_back(m);
  shapes.push_back({151936, 256});
  std::vector<std::vector<f16_t>> data;
  std::vector<Weight> weights;
  for (M m : shapes) {
    data.emplace_back(size_t(m.rows * m.cols));
    for (size_t i = 0; i < data.back().size(); ++i) data.back()[i] = f32_to_f16(float(int(i % 61) - 30) * 0.001f);
    weights.push_back(cpu_weight(DType::F16, m.rows, m.cols, data.back().data()));
  }
  std::vector<float> x(1024, 0.5f), y(151936);
  return 1e3 * time_call([&] {
    for (const Weight& w : weights) cpu_matmul(pool, w, x.data(), y.data(), 1, nullptr);
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<DType> types = {DType::F16, DType::BF16, DType::F32, DType::Q8_0, DType::Q6_K, DType::Q4_K};
  std::vector<int> threads = {1, 2}, ns = {1, 8, 32, 64};
  bool quick = false;
  std::vector<Shape> only;  // --shape
  std::vector<std::string> shape_names;
  shape_names.reserve(64);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {  // about 20 s: F16 and Q4_K, n = 1 and 8, three shapes (set below)
      quick = true;
      types = {DType::F16, DType::Q4_K};
      ns = {1, 8};
      g_seconds = 0.15;
    }
    else if (a == "--threads" && i + 1 < argc) threads = parse_int_list(argv[++i]);
    else if (a == "--ns" && i + 1 < argc) ns = parse_int_list(argv[++i]);
    else if (a == "--seconds" && i + 1 < argc) g_seconds = std::atof(argv[++i]);
    else if (a == "--cpu-time") g_cpu_time = true;
    else if (a == "--gemm-min-n" && i + 1 < argc) cpu_matmul_set_gemm_min_n(std::atoi(argv[++i]));
    else if (a == "--shape" && i + 1 < argc && shape_names.size() < 64) {
      const std::string v = argv[++i];
      const size_t x = v.find('x');
      const long long rows = std::atoll(v.c_str()), cols = x == std::string::npos ? 0 : std::atoll(v.c_str() + x + 1);
      if (rows <= 0 || cols <= 0) {
        std::fprintf(stderr, "kernels_bench: --shape wants ROWSxCOLS, got '%s'\n", v.c_str());
        return 2;
      }
      shape_names.push_back(v);
      only.push_back({shape_names.back().c_str(), rows, cols});
    }
    else if (a == "--types" && i + 1 < argc) {
      types.clear();
      for (std::string s = argv[++i]; !s.empty();) {
        const size_t comma = s.find(',');
        const std::string name = s.substr(0, comma);
        for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                        DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS})
          if (name == dtype_name(t)) types.push_back(t);
        s = comma == std::string::npos ? "" : s.substr(comma + 1);
      }
    } else {
      std::fprintf(stderr, "usage: kernels_bench [--quick] [--types F16,Q4_K] [--threads 1,2] [--ns 1,8,32,64] [--seconds 0.3] [--shape ROWSxCOLS]... [--cpu-time] [--gemm-min-n N]\n");
      return 2;
    }
  }
  std::vector<Shape> shapes = {{"demo LM head", 151936, 256}, {"draft LM head", 151936, 128}, {"demo ffn_up", 1024, 256},
                               {"demo ffn_down", 256, 1024},  {"demo attn_q", 256, 256},      {"1.5B ffn_up", 8960, 1536},
                               {"1.5B ffn_down", 1536, 8960}};
  if (quick) shapes = {shapes[0], shapes[2], shapes[5]};  // the demo LM head, a demo layer, a 1.5B layer
  if (!only.empty()) shapes = only;

  std::printf("kernels_bench: ISA %s, %u hardware threads; median of repeated calls, %.2f s per case\n", cpu_kernels_isa(),
              std::thread::hardware_concurrency(), g_seconds);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.f, 1.f);

  if (only.empty()) {  // Baselines: 78 MB, the size of the demo LM head in F16.
    std::vector<float> src(size_t(151936) * 256 / 2, 1.f), dst(src.size(), 0.f);
    for (int th : threads) {
      ThreadPool pool(th);
      std::printf("baseline  %d thread(s): streaming read %6.1f GB/s   memcpy (read+write) %6.1f GB/s   [78 MB]\n", th,
                  read_bandwidth(pool, src), memcpy_bandwidth(pool, dst, src));
    }
  }

  for (int th : only.empty() ? threads : std::vector<int>{}) {
    ThreadPool pool(th);
    const double ms = decode_step_ms(pool);
    std::printf("demo-target decode step (57 F16 matmuls, 93 MB) %dT: %7.3f ms = at most %6.1f tokens/s, %5.1f GB/s\n", th, ms,
                1e3 / ms, 93.0 / ms);
  }

  for (const Shape& s : shapes) {
    for (DType t : types) {
      if (s.cols % dtype_block_elems(t) != 0) {
        std::printf("%-14s %-5s  (skipped: %lld columns is not a whole number of blocks)\n", s.name, dtype_name(t), (long long)s.cols);
        continue;
      }
      const size_t row_bytes = dtype_row_bytes(t, s.cols);
      std::vector<uint8_t> bytes(row_bytes * size_t(s.rows));
      {
        std::vector<float> row(size_t(s.cols));
        for (int64_t r = 0; r < s.rows; ++r) {
          if (r < 64) for (float& v : row) v = normal(rng) * 0.05f;  // 64 distinct rows, repeated (quantizing 150k rows is slow)
          else std::memcpy(bytes.data() + size_t(r) * row_bytes, bytes.data() + size_t(r % 64) * row_bytes, row_bytes);
          if (r < 64) quantize_row(t, row.data(), bytes.data() + size_t(r) * row_bytes, s.cols);
        }
      }
      const Weight w = cpu_weight(t, s.rows, s.cols, bytes.data());
      const int max_n = *std::max_element(ns.begin(), ns.end());
      std::vector<float> x(size_t(max_n) * size_t(s.cols)), y(size_t(max_n) * size_t(s.rows));
      for (float& v : x) v = normal(rng);
      const double mb = double(bytes.size()) / 1e6;
      for (int th : threads) {
        ThreadPool pool(th);
        const auto [gemv, read] = time_pair([&] { cpu_matmul(pool, w, x.data(), y.data(), 1, nullptr); },
                                            [&] { stream_read(pool, reinterpret_cast<const float*>(bytes.data()), bytes.size() / 4); });
        std::printf("%-14s %-5s %6.1f MB  %dT  n=1   %8.3f ms  %6.1f GB/s   (reading the same bytes: %6.1f GB/s; GEMV at %3.0f%%)\n",
                    s.name, dtype_name(t), mb, th, gemv * 1e3, mb / 1e3 / gemv, mb / 1e3 / read, 100 * read / gemv);
        for (int n : ns) {
          if (n == 1) continue;
          const double batched = time_call([&] { cpu_matmul(pool, w, x.data(), y.data(), n, nullptr); });
          const double separate = time_call([&] {
            for (int tk = 0; tk < n; ++tk) cpu_matmul(pool, w, x.data() + size_t(tk) * size_t(s.cols), y.data() + size_t(tk) * size_t(s.rows), 1, nullptr);
          });
          const double gflops = 2.0 * double(s.rows) * double(s.cols) * n / batched / 1e9;
          std::printf("%-14s %-5s %6.1f MB  %dT  n=%-3d %8.3f ms  %6.1f GFLOP/s   vs %d GEMVs %8.3f ms: %5.1fx faster\n", s.name,
                      dtype_name(t), mb, th, n, batched * 1e3, gflops, n, separate * 1e3, separate / batched);
        }
      }
    }
  }
  return 0;
}
