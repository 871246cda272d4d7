// The exact argmax of W·x for a float LM head (F32/F16/BF16) while reading about half of its bytes.
//
// Greedy decoding only needs the index of the largest logit, and on small models the LM head is most of
// the bytes a decode step reads (demo-target: 78 MB of 94). So we keep an 8-bit copy of W (per row: a
// scale s_i and int8 values q_ij) and, per call, round x to 8 bits (x_j ~ t * r_j). An integer dot
// product (AVX-512 VNNI) gives an approximate logit a_i, and a bound B_i with |c_i - a_i| <= B_i, where
// c_i is exactly what the real kernel (cpu_matmul) computes for row i. Let L = max_i (a_i - B_i). A row
// with a_i + B_i < L cannot be the argmax (its c_i is below the c of the row that attains L), so only
// the few rows with a_i + B_i >= L (on the demo models: a handful of 151,936) are computed with the real
// kernel, and the first maximum among them is the answer: the same id as argmax(cpu_matmul(W, x)).
//
// The bound, from w_ij = s_i q_ij + dw_ij (|dw_ij| <= e_i, measured) and x_j = t r_j + dx_j (|dx_j| <=
// ex, measured per call):  |sum w x - s_i t sum q r| <= e_i |x|_1 + ex * s_i sum_j |q_ij|, plus the F32
// rounding of the kernel's own sum, <= gamma * max_j |w_ij| * |x|_1 with gamma = (cols + 64) * 2^-23
// (twice the classic n * 2^-24), plus the rounding of a_i. Stored bound terms are rounded up, and B_i
// gets a relative margin of 1e-3. Without AVX-512 VNNI the filter is not used (the plain GEMV is).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/backend.h"
#include "engine/threadpool.h"

namespace frspec {

class ArgmaxFilter {
 public:
  // Whether W can be filtered here: a float type, columns a multiple of 64, a CPU build with VNNI.
  static bool applicable(const Weight& w);
  // Builds the 8-bit copy (once per LM head; parallel on the pool).
  ArgmaxFilter(ThreadPool& pool, const Weight& w);

  // argmax_j (x . W[j]) for one row x (host memory), the first maximum, exactly as the full matmul.
  // logits: scratch of w.rows floats, used only when too many rows survive the filter.
  int32_t argmax(const float* x, float* logits);

  int64_t rows() const { return w_.rows; }
  size_t bytes() const { return q_.size() + 4 * (scale_.size() + err_.size() + abs_sum_.size() + q_sum_.size()); }
  int last_candidates() const { return last_candidates_; }  // rows computed exactly by the last call

 private:
  static constexpr int kMaxCandidates = 1024;  // beyond this, the full matmul is cheaper

  ThreadPool& pool_;
  Weight w_;
  bool usable_ = true;           // false when W holds a non-finite value
  std::vector<int8_t> q_;        // rows x cols
  std::vector<float> scale_;     // s_i
  std::vector<float> err_;       // e_i + gamma * max_j |w_ij|, rounded up
  std::vector<float> abs_sum_;   // s_i * sum_j |q_ij|, rounded up
  std::vector<int32_t> q_sum_;   // sum_j q_ij (undoes the +128 that makes r unsigned for VNNI)
  std::vector<uint8_t> r_;       // the rounded x, + 128
  std::vector<float> hi_;        // a_i + B_i per row
  std::vector<float> task_lo_max_;
  std::vector<int32_t> candidates_;
  std::vector<uint8_t> candidate_rows_;  // the candidates' original bytes, contiguous
  std::vector<float> candidate_logits_;
  int last_candidates_ = 0;
};

}  // namespace frspec
