#include "engine/cpu_argmax_filter.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/cpu_argmax_amx.h"
#include "engine/cpu_argmax_neon.h"
#include "engine/cpu_kernels.h"
#include "engine/cpu_ops.h"
#include "engine/quant.h"

#if defined(__AVX512F__) && defined(__AVX512VNNI__)
#include <immintrin.h>
#define FRSPEC_ARGMAX_FILTER_VNNI 1
#endif
// The filter runs where its integer dot products have vector code: AVX-512 VNNI (below), arm64 NEON
// (cpu_argmax_neon.h: the neon, dotprod and i8mm variants).
#if defined(FRSPEC_ARGMAX_FILTER_VNNI) || defined(FRSPEC_ARGMAX_FILTER_NEON)
#define FRSPEC_ARGMAX_FILTER_SIMD 1
#endif

namespace frspec::FRSPEC_CPU {
namespace {

#if defined(FRSPEC_ARGMAX_FILTER_SIMD)
// The smallest float >= v (v >= 0).
float round_up(double v) {
  float f = float(v);
  if (double(f) < v) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

struct RowQuant {
  float s = 0;
  double amax = 0, err = 0, abs_q = 0;
  int32_t sum_q = 0;
  bool finite = true;
};
#endif

#if defined(FRSPEC_ARGMAX_FILTER_VNNI)

// The integer dot products sum_j q[row][j] * r_k[j] of one block of 16 rows stored interleaved (for each
// group of 4 columns, 16 rows x 4 bytes) with N rounded x rows r_k (r_stride bytes apart): each lane
// accumulates one row, so no horizontal sums, and each 64-byte weight load serves all N x rows. C
// independent accumulators per x row keep enough dot products in flight when N is small.
template <int N>
inline void dot16_u8s8(const uint8_t* r, size_t r_stride, const int8_t* qt, int cols, __m512i* out) {
  constexpr int C = N >= 4 ? 1 : N == 1 ? 4 : 2;
  __m512i acc[C][N];
  for (int c = 0; c < C; ++c)
    for (int k = 0; k < N; ++k) acc[c][k] = _mm512_setzero_si512();
  const int groups = cols / 4;  // a multiple of 4 (cols % 16 == 0), so of C
  for (int g = 0; g < groups; g += C)
    for (int c = 0; c < C; ++c) {
      const __m512i w = _mm512_loadu_si512(qt + size_t(g + c) * 64);
      for (int k = 0; k < N; ++k)
        acc[c][k] = _mm512_dpbusd_epi32(acc[c][k], _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(r + k * r_stride + 4 * (g + c))), w);
    }
  for (int k = 0; k < N; ++k) {
    __m512i sum = acc[0][k];
    for (int c = 1; c < C; ++c) sum = _mm512_add_epi32(sum, acc[c][k]);
    out[k] = sum;
  }
}

// One row of W in 8 bits: s = max|w| / 127, q_j = round(w_j / s) clamped to [-127, 127], stored at
// q[(j / 4) * 64 + j % 4] (the filter's interleaved layout), with what the bounds need: err = max |w_j - s q_j|
// (measured, so how ties round does not matter; computed with one rounding, which the caller's relative
// margin covers), sum q_j and sum |q_j|. row: scratch of cols floats. This runs for every row of a head each
// time one is restricted (a new FR-Spec vocabulary), so it is vectorized: 8k x 256 in about 2 ms (was 7-17).
RowQuant quantize_row_8bit(DType type, const uint8_t* src, float* row, int cols, int8_t* q) {
  if (type == DType::F16) {
    for (int j = 0; j < cols; j += 16)
      _mm512_storeu_ps(row + j, _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * size_t(j)))));
  } else {
    dequantize_row(type, src, row, cols);
  }
  RowQuant r;
  __m512 vmax = _mm512_setzero_ps();
  __mmask16 nan = 0;
  for (int j = 0; j < cols; j += 16) {
    const __m512 v = _mm512_loadu_ps(row + j);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    vmax = _mm512_maskz_max_ps(0xffff, vmax, _mm512_abs_ps(v));
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, vmax);
  const float amax = *std::max_element(lanes, lanes + 16);
  r.finite = !nan && std::isfinite(amax);
  r.amax = amax;
  r.s = float(double(amax) / 127);
  if (!(r.s > 0) || !r.finite) {  // all zeros (or unusable): q = 0, err = amax
    for (int j = 0; j < cols; ++j) q[(j / 4) * 64 + j % 4] = 0;
    r.err = amax;
    return r;
  }
  const __m512 vs = _mm512_set1_ps(r.s);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  __m512 verr = _mm512_setzero_ps();
  __m512i vsum = _mm512_setzero_si512(), vabs = _mm512_setzero_si512();
  for (int j = 0; j < cols; j += 16) {
    const __m512 v = _mm512_loadu_ps(row + j);
    const __m512i qi = _mm512_maskz_min_epi32(0xffff, hi, _mm512_maskz_max_epi32(0xffff, lo, _mm512_maskz_cvtps_epi32(0xffff, _mm512_div_ps(v, vs))));
    const __m512 qf = _mm512_maskz_cvtepi32_ps(0xffff, qi);
    verr = _mm512_maskz_max_ps(0xffff, verr, _mm512_abs_ps(_mm512_fnmadd_ps(vs, qf, v)));
    vsum = _mm512_add_epi32(vsum, qi);
    vabs = _mm512_add_epi32(vabs, _mm512_maskz_abs_epi32(0xffff, qi));
    alignas(16) int8_t bytes[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(bytes), _mm512_maskz_cvtepi32_epi8(0xffff, qi));
    for (int g = 0; g < 4; ++g) std::memcpy(q + size_t(j / 4 + g) * 64, bytes + 4 * g, 4);
  }
  _mm512_store_ps(lanes, verr);
  r.err = *std::max_element(lanes, lanes + 16);
  alignas(64) int32_t ints[16];
  _mm512_store_si512(ints, vsum);
  for (int32_t x : ints) r.sum_q += x;
  _mm512_store_si512(ints, vabs);
  for (int32_t x : ints) r.abs_q += x;
  return r;
}

// dot16_u8s8 for any n <= 16 x rows, in chunks of at most 8 (the accumulators stay in registers).
inline void dot16_rows(const uint8_t* r, size_t r_stride, const int8_t* qt, int cols, int n, __m512i* out) {
  for (int first = 0; first < n; first += 8) {
    const uint8_t* rf = r + first * r_stride;
    __m512i* o = out + first;
    switch (std::min(8, n - first)) {
      case 1: dot16_u8s8<1>(rf, r_stride, qt, cols, o); break;
      case 2: dot16_u8s8<2>(rf, r_stride, qt, cols, o); break;
      case 3: dot16_u8s8<3>(rf, r_stride, qt, cols, o); break;
      case 4: dot16_u8s8<4>(rf, r_stride, qt, cols, o); break;
      case 5: dot16_u8s8<5>(rf, r_stride, qt, cols, o); break;
      case 6: dot16_u8s8<6>(rf, r_stride, qt, cols, o); break;
      case 7: dot16_u8s8<7>(rf, r_stride, qt, cols, o); break;
      default: dot16_u8s8<8>(rf, r_stride, qt, cols, o); break;
    }
  }
}

// max over the 16 lanes of v, in every lane. (All-lanes masked forms here and below: GCC 12 warns about the
// unmasked ones' undefined source operand.)
inline __m512 broadcast_max(__m512 v) {
  v = _mm512_maskz_max_ps(0xffff, v, _mm512_maskz_shuffle_f32x4(0xffff, v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_maskz_max_ps(0xffff, v, _mm512_maskz_shuffle_f32x4(0xffff, v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = _mm512_maskz_max_ps(0xffff, v, _mm512_maskz_permute_ps(0xffff, v, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm512_maskz_max_ps(0xffff, v, _mm512_maskz_permute_ps(0xffff, v, _MM_SHUFFLE(2, 3, 0, 1)));
}

// The approximate logits a_i = s_i t (dot_i - 128 sum_j q_ij) of one block of 16 rows, scale and q_sum at its
// first row (the +128 made r unsigned for VNNI).
inline __m512 approx_logits(const float* scale, const int32_t* q_sum, __m512i dots, float t) {
  const __m512i q_sum128 = _mm512_maskz_slli_epi32(0xffff, _mm512_loadu_si512(q_sum), 7);
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(scale), _mm512_set1_ps(t)),
                       _mm512_maskz_cvtepi32_ps(0xffff, _mm512_sub_epi32(dots, q_sum128)));
}
#elif defined(FRSPEC_ARGMAX_FILTER_NEON)
// quantize_row_8bit as above in plain C++ (once per head; the dot products are the filter's time): the same
// s and rounding to nearest even, err measured in double.
RowQuant quantize_row_8bit(DType type, const uint8_t* src, float* row, int cols, int8_t* q) {
  dequantize_row(type, src, row, cols);
  RowQuant r;
  float amax = 0;
  bool nan = false;
  for (int j = 0; j < cols; ++j) nan |= row[j] != row[j], amax = std::max(amax, std::fabs(row[j]));
  r.finite = !nan && std::isfinite(amax);
  r.amax = amax;
  r.s = float(double(amax) / 127);
  if (!(r.s > 0) || !r.finite) {  // all zeros (or unusable): q = 0, err = amax
    for (int j = 0; j < cols; ++j) q[(j / 4) * 64 + j % 4] = 0;
    r.err = amax;
    return r;
  }
  for (int j = 0; j < cols; ++j) {
    const float qf = std::min(127.f, std::max(-127.f, std::nearbyint(row[j] / r.s)));
    const int qi = int(qf);
    q[(j / 4) * 64 + j % 4] = int8_t(qi);
    r.err = std::max(r.err, std::fabs(double(row[j]) - double(r.s) * qf));
    r.sum_q += qi;
    r.abs_q += std::abs(qi);
  }
  return r;
}

// The approximate logit a_i = s_i t dot_i (dot_i: the exact sum_j q_ij r_j) and its bound B_i, the same
// arithmetic as the AVX-512 code's approx_logits and score_pass.
inline float approx_logit(float scale, float t, int32_t dot) { return scale * t * float(dot); }
#endif

}  // namespace

// Appends c to a task's kept rows for one x row. The lists are reserved for kFoundCap rows at construction;
// a full one first drops the rows that have fallen below the running threshold since they were kept (the
// final one is at least as high, so they cannot be candidates), and grows only when that frees less than a
// quarter (a task whose threshold rises slowly among many close rows: then it allocates, once per list).
void ArgmaxFilter::keep_candidate(std::vector<Candidate>& found, Candidate c, float threshold) {
  if (found.size() == found.capacity())
    found.erase(std::remove_if(found.begin(), found.end(), [&](const Candidate& f) { return f.hi < threshold; }), found.end());
  found.push_back(c);
}

bool ArgmaxFilter::applicable(const Weight& w) {
#if defined(FRSPEC_ARGMAX_FILTER_SIMD)
  // (cols <= 16384 keeps the integer dot products inside int32: 255 * 127 * 16384 < 2^31)
  return (w.type == DType::F32 || w.type == DType::F16 || w.type == DType::BF16) && w.cols % 16 == 0 &&
         w.cols >= 16 && w.cols <= 16384 && w.rows > 0;
#else
  (void)w;
  return false;
#endif
}

ArgmaxFilter::ArgmaxFilter(ThreadPool& pool, const Weight& w, bool allow_amx) : pool_(pool), w_(w) {
  if (!applicable(w)) {  // argmax() then always takes the full matmul
    usable_ = false;
    return;
  }
  const int64_t rows = w.rows, cols = w.cols, padded = (rows + 15) / 16 * 16;  // blocks of 16 rows
  q_.assign(size_t(padded * cols), 0);
  scale_.assign(padded, 0.f);
  err_.assign(padded, 0.f);
  abs_sum_.assign(padded, 0.f);
  q_sum_.assign(padded, 0);
  std::vector<uint8_t> bad(tasks(), 0);
#if defined(FRSPEC_ARGMAX_FILTER_SIMD)  // (applicable() is false without it)
  const double gamma = double(cols + 64) * std::ldexp(1.0, -23);
  pool_.parallel_for(tasks(), [&](int task, int) {
    std::vector<float> row(cols);
    const int64_t end = std::min<int64_t>(rows, int64_t(task + 1) * kRowsPerTask);
    for (int64_t i = int64_t(task) * kRowsPerTask; i < end; ++i) {
      const uint8_t* src = static_cast<const uint8_t*>(w.data) + i * w.row_bytes;
      // Row i's 4-byte group g sits at block (i / 16), group g, lane (i % 16).
      int8_t* q = q_.data() + size_t(i / 16) * 16 * cols + size_t(i % 16) * 4;
      const RowQuant rq = quantize_row_8bit(w.type, src, row.data(), int(cols), q);
      if (!rq.finite) bad[task] = 1;
      scale_[i] = rq.s;
      err_[i] = round_up((rq.err + gamma * rq.amax) * (1 + std::ldexp(1.0, -20)));
      abs_sum_[i] = round_up(double(rq.s) * rq.abs_q * (1 + std::ldexp(1.0, -20)));
      q_sum_[i] = rq.sum_q;
    }
  });
#endif
  usable_ = std::find(bad.begin(), bad.end(), 1) == bad.end();
  if (usable_) {
    err_max_ = *std::max_element(err_.begin(), err_.end());
    abs_sum_max_ = *std::max_element(abs_sum_.begin(), abs_sum_.end());
  }
  padded_ = padded;
  use_amx_ = allow_amx && cols % 64 == 0 && amx::available();
  if (use_amx_) amx_dots_.resize(size_t(pool_.size()) * kRowsPerTask * kMaxPass);
  // Every per-call buffer at its working size now, so that a call allocates nothing (decoding allocates
  // nothing: engine_alloc_test). Only a pass whose candidate union outgrows kReservedUnion rows grows one.
  r_.reserve(size_t(kMaxPass) * cols);
  t_.reserve(kMaxPass);
  l1_.reserve(kMaxPass);
  ex_.reserve(kMaxPass);
  task_lo_max_.reserve(size_t(tasks()) * kMaxPass);
  thread_lo_.reserve(size_t(pool_.size()) * kMaxPass);
  task_found_.resize(size_t(tasks()) * kMaxPass);
  for (std::vector<Candidate>& f : task_found_) f.reserve(kFoundCap);
  task_best_.reserve(tasks());
  task_best_id_.reserve(tasks());
  candidates_.resize(kMaxPass);
  for (std::vector<int32_t>& c : candidates_) c.reserve(kMaxCandidates);
  union_.reserve(size_t(kMaxPass) * kMaxCandidates);
  candidate_rows_.reserve(size_t(kReservedUnion) * w.row_bytes);
  candidate_logits_.reserve(size_t(kMaxPass) * kReservedUnion);
  own_logits_.reserve(kMaxCandidates);
}

int32_t ArgmaxFilter::exact_argmax(const float* x, float* logits) {
  cpu_matmul(pool_, w_, x, logits, 1, nullptr);
  return cpu::argmax_row(logits, int(w_.rows));
}

void ArgmaxFilter::argmax(const float* x, int n, float* logits, int32_t* out) {
  last_candidates_ = 0;
  for (int first = 0; first < n; first += kMaxPass) {
    const int m = std::min(kMaxPass, n - first);
    argmax_pass(x + size_t(first) * w_.cols, m, logits + size_t(first) * w_.rows, out + first);
  }
}

#if defined(FRSPEC_ARGMAX_FILTER_SIMD)
void ArgmaxFilter::round_x(const float* x, int n, bool* ok) {
  const int cols = int(w_.cols);
  r_.resize(size_t(n) * cols);
  t_.resize(n);
  l1_.resize(n);
  ex_.resize(n);
  // x_i ~ t * r with r in [-127, 127] (stored + 128), and the largest rounding error ex, in double.
  for (int i = 0; i < n; ++i) {
    const float* xi = x + size_t(i) * cols;
    double xmax = 0, x_l1 = 0;
    for (int j = 0; j < cols; ++j) {
      xmax = std::max(xmax, double(std::fabs(xi[j])));
      x_l1 += std::fabs(double(xi[j]));
    }
    ok[i] = std::isfinite(x_l1);
    const float t = ok[i] ? float(xmax / 127) : 0.f;
    double ex = 0;
    for (int j = 0; j < cols; ++j) {
      const long r = t > 0 ? std::clamp(std::lround(xi[j] / t), -127L, 127L) : 0;
      r_[size_t(i) * cols + j] = uint8_t(r + 128);
      if (ok[i]) ex = std::max(ex, std::fabs(double(xi[j]) - double(t) * double(r)));
    }
    t_[i] = t;
    l1_[i] = ok[i] ? round_up(x_l1 * (1 + 1e-9)) : 0.f;
    ex_[i] = round_up(ex);
  }
}
#endif

#if defined(FRSPEC_ARGMAX_FILTER_VNNI)
// Row i's bound for x row k, B = fma(|a|, rel, (err_i l1_k + abs_sum_i ex_k) * margin): the one formula, so
// that bound_base with the head's largest err and abs_sum is >= every row's term, rounding included
// (each rounded operation is monotone in each of its arguments).
inline __m512 bound_base(__m512 err, __m512 abs_sum, float l1, float ex) {
  return _mm512_mul_ps(_mm512_fmadd_ps(err, _mm512_set1_ps(l1), _mm512_mul_ps(abs_sum, _mm512_set1_ps(ex))), _mm512_set1_ps(1.001f));
}
inline __m512 bound_of(__m512 a, __m512 base) { return _mm512_fmadd_ps(_mm512_abs_ps(a), _mm512_set1_ps(1e-6f), base); }

void ArgmaxFilter::score_pass(const float* x, int n, bool* ok) {
  const int rows = int(w_.rows), cols = int(w_.cols), tasks = this->tasks();
  task_lo_max_.resize(size_t(tasks) * n);
  task_found_.resize(size_t(tasks) * kMaxPass);
  round_x(x, n, ok);
  // Per thread and x row, the largest a - B of the tasks it scored before: a lower bound of the final
  // max (a - B), so a task can start from it instead of -inf (fewer rows kept at each task's start).
  thread_lo_.assign(size_t(pool_.size()) * kMaxPass, -std::numeric_limits<float>::infinity());
  // Per x row, the bound's base with the head's largest err and abs_sum: a + fma(|a|, rel, that) >= a + B for
  // every row, so a block whose lanes all stay below the threshold with it is skipped without its own bounds.
  float base_max[kMaxPass];
  for (int k = 0; k < n; ++k) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, bound_base(_mm512_set1_ps(err_max_), _mm512_set1_ps(abs_sum_max_), l1_[k], ex_[k]));
    base_max[k] = lanes[0];
  }

  pool_.parallel_for(tasks, [&](int task, int thread) {
    const int begin = task * kRowsPerTask, end = std::min(rows, (task + 1) * kRowsPerTask);
    // (locals: the candidate lists' push_back would otherwise make the compiler reload every member pointer)
    const float *scale = scale_.data(), *err_row = err_.data(), *abs_row = abs_sum_.data(), *t = t_.data(), *l1 = l1_.data(),
                *ex = ex_.data();
    const int32_t* q_sum = q_sum_.data();
    const int8_t* q = q_.data();
    const uint8_t* r = r_.data();
    float* seed = thread_lo_.data() + size_t(thread) * kMaxPass;
    // AMX: every block's dot products for all n rows first, into this thread's buffer (L2-sized).
    // (One row stays on VNNI: there the tiles' store and reload cost more than they save.)
    const bool amx = use_amx_ && n > 1;
    int32_t* tile_dots = amx ? amx_dots_.data() + size_t(thread) * kRowsPerTask * kMaxPass : nullptr;
    if (amx) amx::block_dots(r, n, cols, q + size_t(begin) * cols, (end - begin + 15) / 16, tile_dots);
    __m512 lo_max[kMaxPass], threshold[kMaxPass], base_hi[kMaxPass];
    for (int k = 0; k < n; ++k) {
      lo_max[k] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
      threshold[k] = _mm512_set1_ps(seed[k]);
      base_hi[k] = _mm512_set1_ps(base_max[k]);
    }
    std::vector<Candidate>* found = task_found_.data() + size_t(task) * kMaxPass;
    for (int k = 0; k < n; ++k) found[k].clear();
    __m512i dots[kMaxPass];
    for (int i = begin; i < end; i += 16) {
      if (amx) {
        for (int k = 0; k < n; ++k) dots[k] = _mm512_loadu_si512(tile_dots + (size_t(i - begin) / 16 * n + k) * 16);
      } else {
        _mm_prefetch(reinterpret_cast<const char*>(q + size_t(i + 64) * cols), _MM_HINT_T0);
        dot16_rows(r, cols, q + size_t(i) * cols, cols, n, dots);  // the block is read once for all n
      }
      const __mmask16 valid = end - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (end - i)) - 1);
      for (int k = 0; k < n; ++k) {
        if (!ok[k]) continue;
        const __m512 a = approx_logits(scale + i, q_sum + i, dots[k], t[k]);
        // Every lane's a + B is at most a + fma(|a|, rel, base_max), and a - B <= a + B: when that stays below
        // the threshold in every lane, no row here is kept and none raises the running max (most blocks).
        // not (x < threshold), unordered included: a NaN takes the full path
        if (!_mm512_mask_cmp_ps_mask(valid, _mm512_add_ps(a, bound_of(a, base_hi[k])), threshold[k], _CMP_NLT_UQ)) continue;
        const __m512 bound = bound_of(a, bound_base(_mm512_loadu_ps(err_row + i), _mm512_loadu_ps(abs_row + i), l1[k], ex[k]));
        const __m512 lo = _mm512_sub_ps(a, bound);
        lo_max[k] = _mm512_mask_max_ps(lo_max[k], valid, lo_max[k], lo);
        // The threshold is the largest a - B seen so far (this task's, or the thread's earlier tasks' seed), in
        // every lane. The final one (over all tasks) can only be higher, so a row below the threshold now can
        // never be a candidate: only the few rows at or above it are kept (with a + B), not a + B for every row.
        if (_mm512_mask_cmp_ps_mask(valid, lo, threshold[k], _CMP_GT_OQ)) threshold[k] = broadcast_max(lo_max[k]);
        // not (hi < threshold), unordered included: a NaN keeps the row
        const __m512 hi = _mm512_add_ps(a, bound);
        uint32_t keep = _mm512_mask_cmp_ps_mask(valid, hi, threshold[k], _CMP_NLT_UQ);
        if (keep) {
          alignas(64) float his[16];
          _mm512_store_ps(his, hi);
          for (; keep; keep &= keep - 1) {
            const int lane = __builtin_ctz(keep);
            keep_candidate(found[k], {i + lane, his[lane]}, _mm512_cvtss_f32(threshold[k]));
          }
        }
      }
    }
    alignas(64) float lanes[16];  // (not _mm512_reduce_max_ps: GCC 12 warns inside it)
    for (int k = 0; k < n; ++k) {
      _mm512_store_ps(lanes, lo_max[k]);
      const float task_lo = *std::max_element(lanes, lanes + 16);
      task_lo_max_[size_t(task) * n + k] = task_lo;
      seed[k] = std::max(seed[k], task_lo);
    }
  });
}

void ArgmaxFilter::approx_argmax(const float* x, float* logits, int32_t* id, float* value) {
  const int rows = int(w_.rows), cols = int(w_.cols);
  bool ok = usable_;
  if (ok) round_x(x, 1, &ok);
  if (!ok) {  // non-finite W or x: the exact answer
    *id = exact_argmax(x, logits);
    *value = logits[*id];
    return;
  }
  const int tasks = this->tasks();
  task_best_.resize(tasks);
  task_best_id_.resize(tasks);
  const float t = t_[0];
  pool_.parallel_for(tasks, [&](int task, int) {
    const int begin = task * kRowsPerTask, end = std::min(rows, (task + 1) * kRowsPerTask);
    __m512 best = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __m512i best_row = _mm512_set1_epi32(begin);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int i = begin; i < end; i += 16) {
      __m512i dot;
      dot16_rows(r_.data(), cols, q_.data() + size_t(i) * cols, cols, 1, &dot);
      const __m512 a = approx_logits(scale_.data() + i, q_sum_.data() + i, dot, t);
      const __mmask16 valid = end - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (end - i)) - 1);
      const __mmask16 gt = _mm512_mask_cmp_ps_mask(valid, a, best, _CMP_GT_OQ);  // strictly greater: earlier rows win ties
      best = _mm512_mask_mov_ps(best, gt, a);
      best_row = _mm512_mask_mov_epi32(best_row, gt, _mm512_add_epi32(_mm512_set1_epi32(i), lane));
    }
    alignas(64) float v[16];
    alignas(64) int32_t r[16];
    _mm512_store_ps(v, best);
    _mm512_store_si512(r, best_row);
    int k = 0;
    for (int l = 1; l < 16; ++l)
      if (v[l] > v[k] || (v[l] == v[k] && r[l] < r[k])) k = l;
    task_best_[task] = v[k];
    task_best_id_[task] = r[k];
  });
  int k = 0;
  for (int task = 1; task < tasks; ++task)
    if (task_best_[task] > task_best_[k]) k = task;
  *id = task_best_id_[k];
  *value = task_best_[k];
}

#elif defined(FRSPEC_ARGMAX_FILTER_NEON)
// score_pass and approx_argmax of the AVX-512 code above, with the dot products of cpu_argmax_neon.h and
// each block's 16 rows as a plain loop (their arithmetic is negligible beside the dot products).
void ArgmaxFilter::score_pass(const float* x, int n, bool* ok) {
  const int rows = int(w_.rows), cols = int(w_.cols), tasks = this->tasks();
  task_lo_max_.resize(size_t(tasks) * n);
  task_found_.resize(size_t(tasks) * kMaxPass);
  round_x(x, n, ok);

  pool_.parallel_for(tasks, [&](int task, int) {
    const int begin = task * kRowsPerTask, end = std::min(rows, (task + 1) * kRowsPerTask);
    float lo_max[kMaxPass];
    for (int k = 0; k < n; ++k) lo_max[k] = -std::numeric_limits<float>::infinity();
    std::vector<Candidate>* found = task_found_.data() + size_t(task) * kMaxPass;
    for (int k = 0; k < n; ++k) found[k].clear();
    int32_t dots[kMaxPass][16];
    float hi[16];
    for (int i = begin; i < end; i += 16) {
      argmax_neon::block_dots(r_.data(), cols, q_.data() + size_t(i) * cols, cols, n, dots);  // the block is read once for all n
      const int valid = std::min(16, end - i);
      for (int k = 0; k < n; ++k) {
        if (!ok[k]) continue;
        for (int l = 0; l < valid; ++l) {
          const float a = approx_logit(scale_[i + l], t_[k], dots[k][l]);
          const float bound = std::fma(std::fabs(a), 1e-6f, std::fma(err_[i + l], l1_[k], abs_sum_[i + l] * ex_[k]) * 1.001f);
          const float lo = a - bound;
          if (lo > lo_max[k]) lo_max[k] = lo;
          hi[l] = a + bound;
        }
        // lo_max is the largest a - B seen so far in this task: the final one (over all tasks) can only be
        // higher, so only rows at or above it are kept. not (hi < lo_max), unordered included: a NaN keeps the row.
        for (int l = 0; l < valid; ++l)
          if (!(hi[l] < lo_max[k])) keep_candidate(found[k], {i + l, hi[l]}, lo_max[k]);
      }
    }
    for (int k = 0; k < n; ++k) task_lo_max_[size_t(task) * n + k] = lo_max[k];
  });
}

void ArgmaxFilter::approx_argmax(const float* x, float* logits, int32_t* id, float* value) {
  const int rows = int(w_.rows), cols = int(w_.cols);
  bool ok = usable_;
  if (ok) round_x(x, 1, &ok);
  if (!ok) {  // non-finite W or x: the exact answer
    *id = exact_argmax(x, logits);
    *value = logits[*id];
    return;
  }
  const int tasks = this->tasks();
  task_best_.resize(tasks);
  task_best_id_.resize(tasks);
  const float t = t_[0];
  pool_.parallel_for(tasks, [&](int task, int) {
    const int begin = task * kRowsPerTask, end = std::min(rows, (task + 1) * kRowsPerTask);
    float best = -std::numeric_limits<float>::infinity();
    int32_t best_row = begin;
    int32_t dot[1][16];
    for (int i = begin; i < end; i += 16) {
      argmax_neon::block_dots(r_.data(), cols, q_.data() + size_t(i) * cols, cols, 1, dot);
      for (int l = 0; l < std::min(16, end - i); ++l) {
        const float a = approx_logit(scale_[i + l], t, dot[0][l]);
        if (a > best) best = a, best_row = i + l;  // strictly greater: earlier rows win ties
      }
    }
    task_best_[task] = best;
    task_best_id_[task] = best_row;
  });
  int k = 0;
  for (int task = 1; task < tasks; ++task)
    if (task_best_[task] > task_best_[k]) k = task;
  *id = task_best_id_[k];
  *value = task_best_[k];
}
#endif

#if defined(FRSPEC_ARGMAX_FILTER_SIMD)
bool ArgmaxFilter::collect_candidates(int i, float lo, std::vector<int32_t>& ids) const {
  // Every row that might reach `lo`, in increasing id order (tasks in order, rows in order within a
  // task), so the first maximum later is the lowest id.
  ids.clear();
  for (int t = 0; t < tasks(); ++t) {
    for (const Candidate& c : task_found_[size_t(t) * kMaxPass + i]) {
      if (c.hi < lo) continue;  // (a NaN hi stays)
      if (int(ids.size()) == kMaxCandidates) return false;
      ids.push_back(c.row);
    }
  }
  return true;
}

void ArgmaxFilter::argmax_pass(const float* x, int n, float* logits, int32_t* out) {
  const int rows = int(w_.rows), cols = int(w_.cols);
  auto full = [&](int i) {  // row i through the real kernel over all of W
    last_candidates_ += rows;
    out[i] = exact_argmax(x + size_t(i) * cols, logits + size_t(i) * rows);
  };
  if (!usable_) {
    for (int i = 0; i < n; ++i) full(i);
    return;
  }
  bool ok[kMaxPass];
  score_pass(x, n, ok);
  const int tasks = this->tasks();
  candidates_.resize(kMaxPass);
  union_.clear();
  for (int i = 0; i < n; ++i) {
    float lo = -std::numeric_limits<float>::infinity();
    for (int t = 0; t < tasks; ++t) lo = std::max(lo, task_lo_max_[size_t(t) * n + i]);
    ok[i] = ok[i] && std::isfinite(lo) && collect_candidates(i, lo, candidates_[i]);
    if (!ok[i]) {
      full(i);
      continue;
    }
    union_.insert(union_.end(), candidates_[i].begin(), candidates_[i].end());
  }
  if (union_.empty()) return;
  std::sort(union_.begin(), union_.end());
  union_.erase(std::unique(union_.begin(), union_.end()), union_.end());

  // The union's rows through the real kernel, for all n x rows at once: the kernel gives every (row, x)
  // pair the same bits in any batch and any subset of W (one accumulator per pair, same order), so each
  // logit equals the full matmul's.
  const int u = int(union_.size());
  candidate_rows_.resize(size_t(u) * w_.row_bytes);
  for (int c = 0; c < u; ++c)
    std::memcpy(candidate_rows_.data() + size_t(c) * w_.row_bytes,
                static_cast<const uint8_t*>(w_.data) + size_t(union_[c]) * w_.row_bytes, w_.row_bytes);
  candidate_logits_.resize(size_t(n) * u);
  const Weight sub = cpu_weight(w_.type, u, w_.cols, candidate_rows_.data());
  cpu_matmul(pool_, sub, x, candidate_logits_.data(), n, nullptr);
  for (int i = 0; i < n; ++i) {
    if (!ok[i]) continue;
    // Row i's own candidates' logits, in increasing id order (both lists increasing: one merge walk),
    // then the same first-maximum rule as the full matmul's argmax.
    const float* li = candidate_logits_.data() + size_t(i) * u;
    const std::vector<int32_t>& ids = candidates_[i];
    own_logits_.resize(ids.size());
    for (size_t c = 0, at = 0; c < ids.size(); ++c) {
      while (union_[at] != ids[c]) ++at;
      own_logits_[c] = li[at];
    }
    out[i] = ids[cpu::argmax_row(own_logits_.data(), int(ids.size()))];
    last_candidates_ += int(ids.size());
  }
}
#else
void ArgmaxFilter::score_pass(const float*, int, bool*) {}
void ArgmaxFilter::round_x(const float*, int, bool*) {}
void ArgmaxFilter::approx_argmax(const float* x, float* logits, int32_t* id, float* value) {
  *id = exact_argmax(x, logits);
  *value = logits[*id];
}
bool ArgmaxFilter::collect_candidates(int, float, std::vector<int32_t>&) const { return false; }
void ArgmaxFilter::argmax_pass(const float* x, int n, float* logits, int32_t* out) {
  for (int i = 0; i < n; ++i) {
    last_candidates_ += int(w_.rows);
    out[i] = exact_argmax(x + size_t(i) * w_.cols, logits + size_t(i) * w_.rows);
  }
}
#endif

}  // namespace frspec
