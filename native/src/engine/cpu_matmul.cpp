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
#include "engine/cpu_act_quant_neon.h"
#include "engine/cpu_gemm_neon.h"
#include "engine/cpu_kernels.h"
#include "engine/cpu_matmul_neon.h"
#include "engine/cpu_matmul_tiles.h"
#include "engine/cpu_ops.h"

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
#if defined(FRSPEC_NEON_KERNELS)
  if constexpr (B % 16 == 0) return neon::quantize_block<B>(x, q);  // cpu_act_quant_neon.h: the same bits
#endif
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

namespace {

// The activation bytes one weight type's kernels read for n tokens (cpu_matmul quantizes x into them once per
// call; weights of the same type and width over the same x share them): the 8-bit rows, and what the packed
// GEMMs read besides.
struct ActFormat {
  DType type = DType::F32;
  int64_t cols = 0;
  bool quantized = false, k_quant = false;
  size_t act_stride = 0;   // bytes between two tokens' rows
  int64_t sum_blocks = 0;  // packed GEMM of the 32-value formats: each block's sum of quants per token
  int64_t kb = 0;          // 256-value blocks per row
  size_t act_bytes = 0, sums_bytes = 0, tile_bytes = 0, mins_bytes = 0, d_bytes = 0;
  bool mins = false;
  // Where they live once bound to scratch memory.
  uint8_t* act = nullptr;
  int32_t* sums = nullptr;
  int8_t* tiles = nullptr;
  uint16_t* mins_rows = nullptr;
  float* act_d = nullptr;

  ActFormat(const Weight& w, int n, bool gemm) : type(w.type), cols(w.cols) {
    quantized = !(w.type == DType::F32 || w.type == DType::F16 || w.type == DType::BF16);
    if (!quantized) return;
    k_quant = dtype_block_elems(w.type) == QK_K;  // 256-value blocks; else 32 (Q8_0, Q4_0 .. Q5_1)
    act_stride = k_quant ? size_t(w.cols / QK_K) * sizeof(ActQ8_K) : size_t(act_q8_0_pairs(w.cols)) * sizeof(ActQ8_0x2);
    // The packed GEMM of the 32-value formats also reads each block's sum of quants (the K-quants' blocks
    // carry theirs): n * blocks int32 after the activation rows.
    sum_blocks = gemm && !k_quant ? w.cols / QK8_0 : 0;
    // The AMX K-quant GEMMs read the quants again as 16-token tiles (MatmulJob::act_tiles).
    kb = w.cols / QK_K;
    tile_bytes = gemm && k_quant && gemm_act_tiles(w.type) ? size_t((n + 15) / 16) * 16 * size_t(w.cols) : 0;
    // The AMX Q4_K / Q5_K GEMM also reads each block's mins row and d per token (MatmulJob::act_mins, act_d).
    mins = tile_bytes && gemm_act_mins(w.type);
    mins_bytes = mins ? tile_bytes / 4 : 0;
    d_bytes = mins ? (size_t(n * kb) * sizeof(float) + 63) / 64 * 64 : 0;
    act_bytes = (act_stride * size_t(n) + 63) / 64 * 64;
    sums_bytes = (size_t(n * sum_blocks) * sizeof(int32_t) + 63) / 64 * 64;
  }
  size_t bytes() const { return quantized ? act_bytes + sums_bytes + tile_bytes + mins_bytes + d_bytes + 64 : 0; }
  bool same_as(const ActFormat& o) const { return type == o.type && cols == o.cols; }

  // Points the buffers into base (bytes() of scratch) and zeroes the tile rows of the last tile's tokens past n.
  void bind(uint8_t* base, int n) {
    act = base;
    sums = reinterpret_cast<int32_t*>(act + act_bytes);
    tiles = tile_bytes ? reinterpret_cast<int8_t*>((reinterpret_cast<uintptr_t>(act + act_bytes + sums_bytes) + 63) / 64 * 64) : nullptr;
    mins_rows = mins ? reinterpret_cast<uint16_t*>(tiles + tile_bytes) : nullptr;
    act_d = mins ? reinterpret_cast<float*>(tiles + tile_bytes + mins_bytes) : nullptr;
    if (tiles)
      for (int t = n; t % 16; ++t) {
        for (int64_t b = 0; b < kb; ++b) std::memset(tile_row(t, b), 0, QK_K);
        if (mins) gemm_act_mins_token(nullptr, t, n, kb, mins_rows, act_d);
      }
  }
  int8_t* tile_row(int t, int64_t b) const { return tiles + ((size_t(t / 16) * size_t(kb) + size_t(b)) * 16 + size_t(t % 16)) * QK_K; }

  // Token t's row xt (cols floats) into every buffer.
  void quantize(const float* xt, int t, int n) const {
    uint8_t* row = act + size_t(t) * act_stride;
    if (k_quant) quantize_act_q8_K(xt, reinterpret_cast<ActQ8_K*>(row), cols, type == DType::Q4_K || type == DType::Q5_K);
    else quantize_act_q8_0(xt, reinterpret_cast<ActQ8_0x2*>(row), cols);
    if (tiles)
      for (int64_t b = 0; b < kb; ++b) std::memcpy(tile_row(t, b), reinterpret_cast<const ActQ8_K*>(row)[b].qs, QK_K);
    if (mins) gemm_act_mins_token(reinterpret_cast<const ActQ8_K*>(row), t, n, kb, mins_rows, act_d);
    for (int64_t b = 0; b < sum_blocks; ++b) {
      const int8_t* q = reinterpret_cast<const ActQ8_0x2*>(row)[b / 2].qs + QK8_0 * (b % 2);
      int32_t s = 0;
      for (int i = 0; i < QK8_0; ++i) s += q[i];
      sums[size_t(t) * sum_blocks + b] = s;
    }
  }
  void fill(MatmulJob& job, const float* x) const {
    if (!quantized) {
      job.act = reinterpret_cast<const uint8_t*>(x);
      job.act_stride = size_t(cols) * sizeof(float);
      return;
    }
    job.act = act;
    job.act_stride = act_stride;
    if (sum_blocks) job.act_sums = sums;
    job.act_tiles = tiles;
    job.act_mins = mins_rows;
    job.act_d = act_d;
  }
};

}  // namespace

namespace {
void matmul_multi(ThreadPool& pool, const MatmulOut* outs, int count, const float* x, const float* x_up, int n);
}  // namespace

void cpu_matmul(ThreadPool& pool, const Weight& w, const float* x, float* y, int n, const float* bias) {
  const MatmulOut out{&w, y, bias};
  cpu_matmul_multi(pool, &out, 1, x, n);
}

void cpu_matmul_multi(ThreadPool& pool, const MatmulOut* outs, int count, const float* x, int n) {
  matmul_multi(pool, outs, count, x, nullptr, n);
}

void cpu_matmul_swiglu_input(ThreadPool& pool, const Weight& w, const float* gate, const float* up, float* y, int n, const float* bias) {
  if (!up) throw std::invalid_argument("matmul: null activation or output");
  const MatmulOut out{&w, y, bias};
  matmul_multi(pool, &out, 1, gate, up, n);
}

namespace {

// cpu_matmul_multi; with x_up non-null the input row t is silu(x_t) * x_up_t (quantized weights only).
void matmul_multi(ThreadPool& pool, const MatmulOut* outs, int count, const float* x, const float* x_up, int n) {
  if (count < 1 || count > kMaxMatmulOuts) throw std::invalid_argument("matmul: " + std::to_string(count) + " weights in one call");
  for (int i = 0; i < count; ++i) {
    check_weight(*outs[i].w, "matmul");
    if (outs[i].w->cols != outs[0].w->cols)
      throw std::invalid_argument("matmul: weights of one call must have the same columns, got " + std::to_string(outs[0].w->cols) +
                                  " and " + std::to_string(outs[i].w->cols));
  }
  if (n < 0) throw std::invalid_argument("matmul: negative token count " + std::to_string(n));
  if (n == 0) return;
  if (!x) throw std::invalid_argument("matmul: null activation or output");
  for (int i = 0; i < count; ++i)
    if (!outs[i].y) throw std::invalid_argument("matmul: null activation or output");

  // One job per weight; weights of one type share one activation format (ActFormat), quantized once.
  MatmulJob jobs[kMaxMatmulOuts];
  RowsFn fns[kMaxMatmulOuts];
  std::optional<ActFormat> formats[kMaxMatmulOuts];
  int format_of[kMaxMatmulOuts];
  int n_formats = 0;
  size_t scratch_bytes = 0;
  for (int i = 0; i < count; ++i) {
    const Weight& w = *outs[i].w;
    const RowsFn gemm = n >= gemm_min_n() ? gemm_fn(w.type) : nullptr;
    fns[i] = gemm ? gemm : rows_fn(w.type);
    const ActFormat f(w, n, gemm != nullptr);
    format_of[i] = -1;
    for (int k = 0; k < n_formats; ++k)
      if (formats[k]->same_as(f)) format_of[i] = k;
    if (format_of[i] < 0) {
      format_of[i] = n_formats;
      formats[n_formats++].emplace(f);
      scratch_bytes += f.bytes();
    }
    jobs[i].w = &w;
    jobs[i].n = n;
    jobs[i].y = outs[i].y;
    jobs[i].bias = outs[i].bias;
  }
  const size_t cols = size_t(outs[0].w->cols);
  if (x_up && !formats[0]->quantized)
    throw std::invalid_argument(std::string("matmul: a SwiGLU input needs a quantized weight, not ") + dtype_name(outs[0].w->type));
  // A SwiGLU input: each thread makes a token's row in a buffer of its own, then quantizes it from there.
  const size_t row_bytes = x_up ? (cols * sizeof(float) + 63) / 64 * 64 : 0;
  std::optional<ActScratch> scratch;
  if (scratch_bytes) {
    scratch.emplace(scratch_bytes + (x_up ? row_bytes * size_t(pool.size()) + 64 : 0));  // + 64: the rows are 64-byte aligned
    uint8_t* at = scratch->data();
    for (int k = 0; k < n_formats; ++k)
      if (formats[k]->quantized) formats[k]->bind(at, n), at += formats[k]->bytes();
    float* rows = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(at) + 63) / 64 * 64);
    auto quantize_token = [&](int t, int thread) {
      const float* xt = x + size_t(t) * cols;
      if (x_up) {
        float* row = rows + size_t(thread) * (row_bytes / sizeof(float));
        cpu::swiglu_row(xt, x_up + size_t(t) * cols, row, int(cols));
        xt = row;
      }
      for (int k = 0; k < n_formats; ++k)
        if (formats[k]->quantized) formats[k]->quantize(xt, t, n);
    };
    // A prompt chunk's tokens in tasks of 8 (one token, ~1-2 us, per task spent much of it claiming the task).
    const int per_task = n >= 64 ? 8 : 1;
    if (n >= 4)
      pool.parallel_for((n + per_task - 1) / per_task, [&](int task, int thread) {
        for (int t = task * per_task; t < std::min(n, (task + 1) * per_task); ++t) quantize_token(t, thread);
      });
    else for (int t = 0; t < n; ++t) quantize_token(t, 0);
  }
  for (int i = 0; i < count; ++i) formats[format_of[i]]->fill(jobs[i], x);

  // Tasks of whole 16-row groups: several per thread so a busy core does not hold everyone up, but
  // each at least ~64 KB of weight work so the claim overhead stays negligible; small matrices run
  // on the calling thread alone. Several weights share one task list (no wait between them): each
  // task about the same share of all their bytes.
  int64_t want_tasks = int64_t(pool.size()) * 8;
  size_t total_bytes = 0;
  for (int i = 0; i < count; ++i) total_bytes += size_t(outs[i].w->rows) * outs[i].w->row_bytes;
  // Every task of the AMX GEMMs streams all the activation tiles (n x cols bytes); past ~1 MB (the down
  // projection's 8960 columns) they no longer stay in L2, and 16 tasks read them 16 times at 2 threads: then
  // fewer tasks, about as many weight bytes as activation bytes each, but still 2 per thread.
  // kernels_bench --cpu-time --threads 2 --shape 1536x8960, n = 144 / 256: -3..-8% CPU (load ~7).
  const size_t act_pass = formats[0]->tiles ? size_t(n) * cols : 0;
  if (act_pass > (size_t(1) << 20))
    want_tasks = std::min(want_tasks, std::max<int64_t>(2, int64_t(total_bytes / act_pass) / pool.size()) * pool.size());
  int64_t rows_per_task[kMaxMatmulOuts];
  int first_task[kMaxMatmulOuts + 1];
  first_task[0] = 0;
  for (int i = 0; i < count; ++i) {
    const Weight& w = *outs[i].w;
    const int64_t work_rows = std::max<int64_t>(16, int64_t(65536 / (w.row_bytes * size_t(n))) / 16 * 16);
    const size_t task_bytes = w.row_bytes * size_t(want_tasks);  // rows of this weight in 1/want_tasks of all bytes
    const int64_t rows = int64_t((total_bytes + task_bytes - 1) / task_bytes);
    rows_per_task[i] = std::max(work_rows, (rows + 15) / 16 * 16);
    first_task[i + 1] = first_task[i] + int((w.rows + rows_per_task[i] - 1) / rows_per_task[i]);
  }
  pool.parallel_for(first_task[count], [&](int task, int) {
    int i = 0;
    while (task >= first_task[i + 1]) ++i;
    const int64_t r0 = int64_t(task - first_task[i]) * rows_per_task[i], r1 = std::min(outs[i].w->rows, r0 + rows_per_task[i]);
    fns[i](jobs[i], r0, r1);
  });
}

}  // namespace

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
