#include "engine/cpu_argmax_filter.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/cpu_kernels.h"
#include "engine/cpu_ops.h"
#include "engine/quant.h"

#if defined(__AVX512F__) && defined(__AVX512VNNI__)
#include <immintrin.h>
#define FRSPEC_ARGMAX_FILTER_VNNI 1
#endif

namespace frspec {
namespace {

constexpr int kRowsPerTask = 4096;

// The smallest float >= v (v >= 0).
float round_up(double v) {
  float f = float(v);
  if (double(f) < v) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

#if defined(FRSPEC_ARGMAX_FILTER_VNNI)
// The 16 integer dot products sum_j q[row][j] * r[j] of one block of 16 rows stored interleaved (for each
// group of 4 columns, 16 rows x 4 bytes): each lane accumulates one row, so no horizontal sums.
inline __m512i dot16_u8s8(const uint8_t* r, const int8_t* qt, int cols) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  const int groups = cols / 4;
  for (int g = 0; g < groups; g += 4) {
    const int8_t* p = qt + size_t(g) * 64;
    a0 = _mm512_dpbusd_epi32(a0, _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(r + 4 * g)), _mm512_loadu_si512(p));
    a1 = _mm512_dpbusd_epi32(a1, _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(r + 4 * g + 4)), _mm512_loadu_si512(p + 64));
    a2 = _mm512_dpbusd_epi32(a2, _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(r + 4 * g + 8)), _mm512_loadu_si512(p + 128));
    a3 = _mm512_dpbusd_epi32(a3, _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(r + 4 * g + 12)), _mm512_loadu_si512(p + 192));
  }
  return _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
}
#endif

}  // namespace

bool ArgmaxFilter::applicable(const Weight& w) {
#if defined(FRSPEC_ARGMAX_FILTER_VNNI)
  // (cols <= 16384 keeps the integer dot products inside int32: 255 * 127 * 16384 < 2^31)
  return (w.type == DType::F32 || w.type == DType::F16 || w.type == DType::BF16) && w.cols % 16 == 0 &&
         w.cols >= 16 && w.cols <= 16384 && w.rows > 0;
#else
  (void)w;
  return false;
#endif
}

ArgmaxFilter::ArgmaxFilter(ThreadPool& pool, const Weight& w) : pool_(pool), w_(w) {
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
  const double gamma = double(cols + 64) * std::ldexp(1.0, -23);
  const int tasks = int((rows + kRowsPerTask - 1) / kRowsPerTask);
  std::vector<uint8_t> bad(tasks, 0);
  pool_.parallel_for(tasks, [&](int task, int) {
    std::vector<float> row(cols);  // (building happens once per LM head)
    const int64_t end = std::min<int64_t>(rows, int64_t(task + 1) * kRowsPerTask);
    for (int64_t i = int64_t(task) * kRowsPerTask; i < end; ++i) {
      dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + i * w.row_bytes, row.data(), cols);
      double amax = 0;
      for (float v : row) amax = std::max(amax, double(std::fabs(v)));
      if (!std::isfinite(amax)) bad[task] = 1;
      const float s = float(amax / 127);
      double err = 0, abs_q = 0;
      int32_t sum_q = 0;
      // Row i's 4-byte group g sits at block (i / 16), group g, lane (i % 16).
      int8_t* q = q_.data() + size_t(i / 16) * 16 * cols + size_t(i % 16) * 4;
      for (int64_t j = 0; j < cols; ++j) {
        const long qi = s > 0 ? std::clamp(std::lround(row[j] / s), -127L, 127L) : 0;
        q[(j / 4) * 64 + j % 4] = int8_t(qi);
        sum_q += int32_t(qi);
        abs_q += std::labs(qi);
        err = std::max(err, std::fabs(double(row[j]) - double(s) * double(qi)));
      }
      scale_[i] = s;
      err_[i] = round_up((err + gamma * amax) * (1 + std::ldexp(1.0, -20)));
      abs_sum_[i] = round_up(double(s) * abs_q * (1 + std::ldexp(1.0, -20)));
      q_sum_[i] = sum_q;
    }
  });
  usable_ = std::find(bad.begin(), bad.end(), 1) == bad.end();
  r_.resize(cols);
  hi_.resize(padded);
  task_lo_max_.resize(tasks);
  candidates_.reserve(kMaxCandidates);
  candidate_rows_.resize(size_t(kMaxCandidates) * w.row_bytes);
  candidate_logits_.resize(kMaxCandidates);
}

int32_t ArgmaxFilter::argmax(const float* x, float* logits) {
  const int rows = int(w_.rows), cols = int(w_.cols);
  auto full = [&] {
    last_candidates_ = rows;
    cpu_matmul(pool_, w_, x, logits, 1, nullptr);
    return cpu::argmax_row(logits, rows);
  };
#if defined(FRSPEC_ARGMAX_FILTER_VNNI)
  if (!usable_) return full();
  // x ~ t * r with r in [-127, 127] (stored + 128), and the largest rounding error ex, in double.
  double xmax = 0, x_l1 = 0;
  for (int j = 0; j < cols; ++j) {
    xmax = std::max(xmax, double(std::fabs(x[j])));
    x_l1 += std::fabs(double(x[j]));
  }
  if (!std::isfinite(x_l1)) return full();
  const float t = float(xmax / 127);
  double ex = 0;
  for (int j = 0; j < cols; ++j) {
    const long r = t > 0 ? std::clamp(std::lround(x[j] / t), -127L, 127L) : 0;
    r_[j] = uint8_t(r + 128);
    ex = std::max(ex, std::fabs(double(x[j]) - double(t) * double(r)));
  }
  const float l1 = round_up(x_l1 * (1 + 1e-9)), exf = round_up(ex);

  const int tasks = int(task_lo_max_.size());
  pool_.parallel_for(tasks, [&](int task, int) {
    const int end = std::min(rows, (task + 1) * kRowsPerTask);
    const __m512 vt = _mm512_set1_ps(t), vl1 = _mm512_set1_ps(l1), vex = _mm512_set1_ps(exf);
    const __m512 margin = _mm512_set1_ps(1.001f), rel = _mm512_set1_ps(1e-6f);
    __m512 lo_max = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int i = task * kRowsPerTask; i < end; i += 16) {
      _mm_prefetch(reinterpret_cast<const char*>(q_.data() + size_t(i + 64) * cols), _MM_HINT_T0);
      // (the all-lanes masked forms: GCC 12 warns about the unmasked ones' undefined source operand)
      const __m512i dot = _mm512_sub_epi32(dot16_u8s8(r_.data(), q_.data() + size_t(i) * cols, cols),
                                           _mm512_maskz_slli_epi32(0xffff, _mm512_loadu_si512(q_sum_.data() + i), 7));
      const __m512 a = _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(scale_.data() + i), vt), _mm512_maskz_cvtepi32_ps(0xffff, dot));
      const __m512 bound = _mm512_fmadd_ps(_mm512_abs_ps(a), rel,
          _mm512_mul_ps(_mm512_fmadd_ps(_mm512_loadu_ps(err_.data() + i), vl1, _mm512_mul_ps(_mm512_loadu_ps(abs_sum_.data() + i), vex)), margin));
      _mm512_storeu_ps(hi_.data() + i, _mm512_add_ps(a, bound));
      const __mmask16 valid = end - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (end - i)) - 1);
      lo_max = _mm512_mask_max_ps(lo_max, valid, lo_max, _mm512_sub_ps(a, bound));
    }
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, lo_max);
    task_lo_max_[task] = *std::max_element(lanes, lanes + 16);
  });
  const float lo = *std::max_element(task_lo_max_.begin(), task_lo_max_.end());
  if (!std::isfinite(lo)) return full();

  // Every row that might reach `lo`, in increasing id order, so the first maximum below is the lowest id.
  candidates_.clear();
  for (int i = 0; i < rows; ++i)
    if (!(hi_[i] < lo)) {  // (a NaN keeps the row)
      if (int(candidates_.size()) == kMaxCandidates) return full();
      candidates_.push_back(i);
    }
  const int k = int(candidates_.size());
  last_candidates_ = k;
  for (int c = 0; c < k; ++c)
    std::memcpy(candidate_rows_.data() + size_t(c) * w_.row_bytes,
                static_cast<const uint8_t*>(w_.data) + size_t(candidates_[c]) * w_.row_bytes, w_.row_bytes);
  const Weight sub = cpu_weight(w_.type, k, w_.cols, candidate_rows_.data());
  cpu_matmul(pool_, sub, x, candidate_logits_.data(), 1, nullptr);  // the same bits as the full matmul's rows
  return candidates_[cpu::argmax_row(candidate_logits_.data(), k)];
#else
  return full();
#endif
}

}  // namespace frspec
