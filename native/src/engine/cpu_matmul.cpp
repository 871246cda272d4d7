// cpu_matmul / cpu_get_rows / cpu_gather_rows (cpu_kernels.h): argument checks, the one-per-call
// activation quantization for quantized weights, and the split of rows into tasks for the pool.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "common/thread_scratch.h"
#include "engine/cpu_gemm_neon.h"
#include "engine/cpu_kernels.h"
#include "engine/cpu_matmul_neon.h"
#include "engine/cpu_matmul_tiles.h"

namespace frspec::FRSPEC_CPU {

using namespace kernels;

const char* cpu_kernels_isa() {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__) && defined(__AMX_INT8__)
  return "avx512-vnni + amx-int8";  // AMX: the argmax filter's tiles (cpu_argmax_amx.h)
#elif defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__)
  return "avx512-vnni";
#elif defined(__AVX512F__)
  return "avx512f (quantized: avx2)";
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
  return "avx2";
#elif defined(FRSPEC_NEON_KERNELS) && defined(__ARM_FEATURE_MATMUL_INT8) && defined(__ARM_FEATURE_DOTPROD)
  return "neon + dotprod + i8mm";  // SMMLA: tiles of 2 rows x 2 tokens (cpu_matmul_neon.h)
#elif defined(FRSPEC_NEON_KERNELS) && defined(__ARM_FEATURE_DOTPROD)
  return "neon + dotprod";
#elif defined(FRSPEC_NEON_KERNELS)
  return "neon";
#else
  return "scalar";
#endif
}

Weight cpu_weight(DType type, int64_t rows, int64_t cols, const void* data) {
  if (rows <= 0 || cols <= 0) throw std::invalid_argument("weight shape must be positive, got " + std::to_string(rows) + "x" + std::to_string(cols));
  Weight w;
  w.type = type;
  w.rows = rows;
  w.cols = cols;
  w.data = data;
  w.row_bytes = dtype_row_bytes(type, cols);  // throws for an unsupported type or partial block
  return w;
}

namespace kernels {

// Symmetric 8-bit rows: d = max|x| / 127, q = round(x / d). Rounding is to nearest (ties to even) so
// |x - d q| <= d / 2; the kernels' error bound rests on that. A NaN in x makes d NaN, so it reaches
// the outputs as it would with float weights instead of being clamped away.
template <int B>
static inline float quantize_block(const float* x, int8_t* q) {
  float amax = 0;
  bool nan = false;
  for (int i = 0; i < B; ++i) amax = std::max(amax, std::fabs(x[i])), nan |= x[i] != x[i];
  const float d = nan ? NAN : amax / 127.f, id = amax > 0 ? 127.f / amax : 0.f;
  for (int i = 0; i < B; ++i) q[i] = int8_t(std::nearbyint(std::min(127.f, std::max(-127.f, x[i] * id))));
  return d;
}

void quantize_act_q8_0(const float* x, ActQ8_0x2* out, int64_t cols) {
  const int64_t nb = cols / QK8_0;
  for (int64_t b = 0; b < 2 * act_q8_0_pairs(cols); ++b) {
    ActQ8_0x2& p = out[b / 2];
    const int half = int(b % 2);
    float d = 0;
    if (b < nb) d = quantize_block<QK8_0>(x + b * QK8_0, p.qs + QK8_0 * half);
    else std::memset(p.qs + QK8_0 * half, 0, QK8_0);
    for (int l = 0; l < 8; ++l) p.d[8 * half + l] = d;
  }
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
// quantize_block<QK_K> plus the block's 16-value sums, 16 values per instruction: the same bits (the max is
// exact in any order and skips NaN as std::max does, _mm512_max_ps(v, -127) / _mm512_min_ps(v, 127) pick
// as std::max(-127, v) / std::min(127, v) do, NaN included, and the conversion rounds to nearest even as
// std::nearbyint does in the default rounding mode). The scalar loop was ~25% of a 256-token Q4_K GEMM.
static void quantize_block_q8_K(const float* x, ActQ8_K& out, bool q4k_order) {
  __m512 vmax = _mm512_setzero_ps();
  __mmask16 nan = 0;
  for (int i = 0; i < QK_K / 16; ++i) {
    const __m512 v = _mm512_loadu_ps(x + 16 * i);
    vmax = _mm512_max_ps(_mm512_abs_ps(v), vmax);  // NaN in v: vmax's lane kept
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  }
  const float amax = _mm512_reduce_max_ps(vmax);
  out.d = nan ? NAN : amax / 127.f;
  const __m512 id = _mm512_set1_ps(amax > 0 ? 127.f / amax : 0.f), lo = _mm512_set1_ps(-127.f), hi = _mm512_set1_ps(127.f);
  for (int j = 0; j < 8; ++j) {  // 32-value sub-block j: two 16-value groups
    __m512i q[2];
    for (int h = 0; h < 2; ++h) {
      const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + 32 * j + 16 * h), id);
      q[h] = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, lo), hi));
    }
    int8_t* dst = out.qs + 32 * (q4k_order ? kQ4KSlot[j] : j);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi32_epi8(q[0]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16), _mm512_cvtepi32_epi8(q[1]));
    out.bsums[2 * j] = int16_t(_mm512_reduce_add_epi32(q[0]));
    out.bsums[2 * j + 1] = int16_t(_mm512_reduce_add_epi32(q[1]));
  }
}

void quantize_act_q8_K(const float* x, ActQ8_K* out, int64_t cols, bool q4k_order) {
  for (int64_t b = 0; b < cols / QK_K; ++b) quantize_block_q8_K(x + b * QK_K, out[b], q4k_order);
}
#else
void quantize_act_q8_K(const float* x, ActQ8_K* out, int64_t cols, bool q4k_order) {
  for (int64_t b = 0; b < cols / QK_K; ++b) {
    int8_t q[QK_K];
    out[b].d = quantize_block<QK_K>(x + b * QK_K, q);
    for (int g = 0; g < QK_K / 16; ++g) {
      int s = 0;
      for (int i = 0; i < 16; ++i) s += q[16 * g + i];
      out[b].bsums[g] = int16_t(s);
    }
    for (int j = 0; j < 8; ++j) std::memcpy(out[b].qs + 32 * (q4k_order ? kQ4KSlot[j] : j), q + 32 * j, 32);
  }
}
#endif

namespace {
std::atomic<int> g_gemm_min_n{[] {
  const char* env = std::getenv("FRSPEC_GEMM_MIN_N");
  return env && std::atoi(env) > 0 ? std::atoi(env) : 16;
}()};
}  // namespace

int gemm_min_n() { return g_gemm_min_n.load(std::memory_order_relaxed); }

}  // namespace kernels

int cpu_matmul_set_gemm_min_n(int n) { return kernels::g_gemm_min_n.exchange(n < 2 ? 2 : n); }

namespace {

// The packed GEMM for w.type, if this ISA has one.
RowsFn gemm_fn(DType t) {
  if (RowsFn neon = gemm_fn_neon(t)) return neon;  // arm64 dotprod / i8mm (cpu_gemm_neon.cpp); null elsewhere
  switch (t) {
    case DType::Q4_K: return gemm_fn_q4_K();
    case DType::Q6_K: return amx_gemm_fn_q6_K() ? amx_gemm_fn_q6_K() : gemm_fn_q6_K();
    case DType::Q5_K: return gemm_fn_q5_K();
    case DType::IQ4_XS: return gemm_fn_iq4_xs();
    case DType::IQ4_NL: return gemm_fn_iq4_nl();
    case DType::Q4_0: return gemm_fn_q4_0();
    case DType::Q4_1: return gemm_fn_q4_1();
    case DType::Q5_0: return gemm_fn_q5_0();
    case DType::Q5_1: return gemm_fn_q5_1();
    case DType::Q8_0: return gemm_fn_q8_0();
    default: return nullptr;
  }
}

RowsFn rows_fn(DType t) {
  switch (t) {
    case DType::F32: return rows_fn_f32();
    case DType::F16: return rows_fn_f16();
    case DType::BF16: return rows_fn_bf16();
    case DType::Q4_0: return rows_fn_q4_0();
    case DType::Q4_1: return rows_fn_q4_1();
    case DType::Q5_0: return rows_fn_q5_0();
    case DType::Q5_1: return rows_fn_q5_1();
    case DType::Q8_0: return rows_fn_q8_0();
    case DType::Q4_K: return rows_fn_q4_K();
    case DType::Q5_K: return rows_fn_q5_K();
    case DType::Q6_K: return rows_fn_q6_K();
    case DType::IQ4_NL: return rows_fn_iq4_nl();
    case DType::IQ4_XS: return rows_fn_iq4_xs();
  }
  throw std::invalid_argument("matmul: unsupported weight type id " + std::to_string(uint32_t(t)));
}

void check_weight(const Weight& w, const char* what) {
  if (!w.data || w.rows <= 0 || w.cols <= 0)
    throw std::invalid_argument(std::string(what) + ": empty weight (" + std::to_string(w.rows) + "x" + std::to_string(w.cols) + ")");
  if (w.row_bytes != dtype_row_bytes(w.type, w.cols))
    throw std::invalid_argument(std::string(what) + ": " + dtype_name(w.type) + " weight with " + std::to_string(w.cols) +
                                " columns has row_bytes " + std::to_string(w.row_bytes) + ", expected " +
                                std::to_string(dtype_row_bytes(w.type, w.cols)));
}

void check_id(const Weight& w, int32_t id, int i, const char* what) {
  if (id < 0 || id >= w.rows)
    throw std::out_of_range(std::string(what) + ": id " + std::to_string(id) + " at index " + std::to_string(i) +
                            " is outside [0, " + std::to_string(w.rows) + ")");
}

// Quantized activations live in a per-thread buffer, grown to the largest call and then reused. A
// matmul issued from inside a pool task while the same thread's outer matmul still reads that buffer
// gets a buffer of its own instead.
class ActScratch {
 public:
  explicit ActScratch(size_t bytes) : nested_(busy()) {
    std::vector<uint8_t>& v = nested_ ? own_ : shared();
    if (v.size() < bytes) v.resize(bytes);
    data_ = v.data();
    busy() = true;
  }
  ~ActScratch() { busy() = nested_; }
  ActScratch(const ActScratch&) = delete;
  ActScratch& operator=(const ActScratch&) = delete;
  uint8_t* data() const { return data_; }

 private:
  static std::vector<uint8_t>& shared() {
    thread_local ThreadScratch<std::vector<uint8_t>> buf;  // common/thread_scratch.h: why
    return buf.get();
  }
  static bool& busy() {
    thread_local bool flag = false;
    return flag;
  }
  bool nested_;
  std::vector<uint8_t> own_;
  uint8_t* data_ = nullptr;
};

}  // namespace

void cpu_matmul(ThreadPool& pool, const Weight& w, const float* x, float* y, int n, const float* bias) {
  check_weight(w, "matmul");
  if (n < 0) throw std::invalid_argument("matmul: negative token count " + std::to_string(n));
  if (n == 0) return;
  if (!x || !y) throw std::invalid_argument("matmul: null activation or output");

  const RowsFn gemm = n >= gemm_min_n() ? gemm_fn(w.type) : nullptr;
  MatmulJob job;
  std::optional<ActScratch> scratch;
  job.w = &w;
  job.n = n;
  job.y = y;
  job.bias = bias;
  if (w.type == DType::F32 || w.type == DType::F16 || w.type == DType::BF16) {
    job.act = reinterpret_cast<const uint8_t*>(x);
    job.act_stride = size_t(w.cols) * sizeof(float);
  } else {
    const bool k_quant = dtype_block_elems(w.type) == QK_K;  // 256-value blocks; else 32 (Q8_0, Q4_0 .. Q5_1)
    job.act_stride = k_quant ? size_t(w.cols / QK_K) * sizeof(ActQ8_K) : size_t(act_q8_0_pairs(w.cols)) * sizeof(ActQ8_0x2);
    // The packed GEMM of the 32-value formats also reads each block's sum of quants (the K-quants' blocks
    // carry theirs): n * blocks int32 after the activation rows.
    const int64_t sum_blocks = gemm && !k_quant ? w.cols / QK8_0 : 0;
    // The AMX K-quant GEMMs read the quants again as 16-token tiles (MatmulJob::act_tiles).
    const int64_t kb = w.cols / QK_K;
    const size_t tile_bytes = gemm && k_quant && gemm_act_tiles(w.type) ? size_t((n + 15) / 16) * 16 * size_t(w.cols) : 0;
    // The AMX Q4_K / Q5_K GEMM also reads each block's mins row and d per token (MatmulJob::act_mins, act_d).
    const bool mins = tile_bytes && gemm_act_mins(w.type);
    const size_t mins_bytes = mins ? tile_bytes / 4 : 0, d_bytes = mins ? (size_t(n * kb) * sizeof(float) + 63) / 64 * 64 : 0;
    const size_t act_bytes = (job.act_stride * size_t(n) + 63) / 64 * 64;
    const size_t sums_bytes = (size_t(n * sum_blocks) * sizeof(int32_t) + 63) / 64 * 64;
    scratch.emplace(act_bytes + sums_bytes + tile_bytes + mins_bytes + d_bytes + 64);
    uint8_t* act = scratch->data();
    int32_t* sums = reinterpret_cast<int32_t*>(act + act_bytes);
    int8_t* tiles = tile_bytes ? reinterpret_cast<int8_t*>((reinterpret_cast<uintptr_t>(act + act_bytes + sums_bytes) + 63) / 64 * 64) : nullptr;
    auto tile_row = [&](int t, int64_t b) { return tiles + ((size_t(t / 16) * size_t(kb) + size_t(b)) * 16 + size_t(t % 16)) * QK_K; };
    uint16_t* mins_rows = mins ? reinterpret_cast<uint16_t*>(tiles + tile_bytes) : nullptr;
    float* act_d = mins ? reinterpret_cast<float*>(tiles + tile_bytes + mins_bytes) : nullptr;
    if (tiles)
      for (int t = n; t % 16; ++t) {
        for (int64_t b = 0; b < kb; ++b) std::memset(tile_row(t, b), 0, QK_K);
        if (mins) gemm_act_mins_token(nullptr, t, n, kb, mins_rows, act_d);
      }
    auto quantize_token = [&](int t, int) {
      const float* xt = x + size_t(t) * size_t(w.cols);
      if (k_quant) quantize_act_q8_K(xt, reinterpret_cast<ActQ8_K*>(act + size_t(t) * job.act_stride), w.cols,
                                   w.type == DType::Q4_K || w.type == DType::Q5_K);
      else quantize_act_q8_0(xt, reinterpret_cast<ActQ8_0x2*>(act + size_t(t) * job.act_stride), w.cols);
      if (tiles)
        for (int64_t b = 0; b < kb; ++b)
          std::memcpy(tile_row(t, b), reinterpret_cast<const ActQ8_K*>(act + size_t(t) * job.act_stride)[b].qs, QK_K);
      if (mins) gemm_act_mins_token(reinterpret_cast<const ActQ8_K*>(act + size_t(t) * job.act_stride), t, n, kb, mins_rows, act_d);
      for (int64_t b = 0; b < sum_blocks; ++b) {
        const int8_t* q = reinterpret_cast<const ActQ8_0x2*>(act + size_t(t) * job.act_stride)[b / 2].qs + QK8_0 * (b % 2);
        int32_t s = 0;
        for (int i = 0; i < QK8_0; ++i) s += q[i];
        sums[size_t(t) * sum_blocks + b] = s;
      }
    };
    if (sum_blocks) job.act_sums = sums;
    job.act_tiles = tiles;
    job.act_mins = mins_rows;
    job.act_d = act_d;
    if (n >= 4) pool.parallel_for(n, quantize_token);
    else for (int t = 0; t < n; ++t) quantize_token(t, 0);
    job.act = act;
  }

  // Tasks of whole 16-row groups: several per thread so a busy core does not hold everyone up, but
  // each at least ~64 KB of weight work so the claim overhead stays negligible; small matrices run
  // on the calling thread alone.
  const RowsFn fn = gemm ? gemm : rows_fn(w.type);
  const int64_t work_rows = std::max<int64_t>(16, int64_t(65536 / (w.row_bytes * size_t(n))) / 16 * 16);
  const int64_t want_tasks = int64_t(pool.size()) * 8;
  int64_t rows_per_task = (w.rows + want_tasks - 1) / want_tasks;
  rows_per_task = std::max(work_rows, (rows_per_task + 15) / 16 * 16);
  const int n_tasks = int((w.rows + rows_per_task - 1) / rows_per_task);
  pool.parallel_for(n_tasks, [&](int task, int) {
    const int64_t r0 = int64_t(task) * rows_per_task;
    fn(job, r0, std::min(w.rows, r0 + rows_per_task));
  });
}

void cpu_get_rows(const Weight& w, const int32_t* ids, int n, float* out) {
  check_weight(w, "get_rows");
  for (int i = 0; i < n; ++i) check_id(w, ids[i], i, "get_rows");
  for (int i = 0; i < n; ++i)
    dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + size_t(ids[i]) * w.row_bytes, out + size_t(i) * size_t(w.cols), w.cols);
}

std::vector<uint8_t> cpu_gather_rows(const Weight& w, const int32_t* ids, int k) {
  check_weight(w, "gather_rows");
  if (k < 0) throw std::invalid_argument("gather_rows: negative row count " + std::to_string(k));
  for (int i = 0; i < k; ++i) check_id(w, ids[i], i, "gather_rows");
  std::vector<uint8_t> out(size_t(k) * w.row_bytes);
  for (int i = 0; i < k; ++i)
    std::memcpy(out.data() + size_t(i) * w.row_bytes, static_cast<const uint8_t*>(w.data) + size_t(ids[i]) * w.row_bytes, w.row_bytes);
  return out;
}

}  // namespace frspec
