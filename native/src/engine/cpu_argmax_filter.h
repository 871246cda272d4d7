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
// Several x rows share one pass over the 8-bit head (speculative verification); each keeps its own bounds.
//
// The bound, from w_ij = s_i q_ij + dw_ij (|dw_ij| <= e_i, measured) and x_j = t r_j + dx_j (|dx_j| <=
// ex, measured per call):  |sum w x - s_i t sum q r| <= e_i |x|_1 + ex * s_i sum_j |q_ij|, plus the F32
// rounding of the kernel's own sum, <= gamma * max_j |w_ij| * |x|_1 with gamma = (cols + 64) * 2^-23
// (twice the classic n * 2^-24), plus the rounding of a_i. Stored bound terms are rounded up, and B_i
// gets a relative margin of 1e-3. The dot products run on AVX-512 VNNI (AMX) or arm64 NEON (SDOT with dotprod:
// cpu_argmax_neon.h); elsewhere (AVX2, the generic variant) the filter is not used (the plain GEMV is).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/backend.h"
#include "engine/cpu_variant.h"
#include "engine/threadpool.h"

namespace frspec::FRSPEC_CPU {

class ArgmaxFilter {
 public:
  // Whether W can be filtered here: a float type, columns a multiple of 16, a CPU build with VNNI or NEON.
  static bool applicable(const Weight& w);
  // Builds the 8-bit copy (once per LM head; parallel on the pool). The integer dot products run on AMX
  // tiles where the CPU has them (cpu_argmax_amx.h) unless allow_amx is false, else on AVX-512 VNNI.
  ArgmaxFilter(ThreadPool& pool, const Weight& w, bool allow_amx = true);

  // out[i] = argmax_j (x_i . W[j]) for the n rows x[n][cols] (host memory), each the first maximum, exactly
  // as the full matmul. The 8-bit head is read ONCE for all n rows (each 16-row block of it is scored for
  // every x_i while it sits in L1), so n rows cost about one row's memory traffic: speculative
  // verification scores the rows of a drafted path together. logits: scratch of n * w.rows floats, used
  // only for a row whose filter keeps too many candidates.
  void argmax(const float* x, int n, float* logits, int32_t* out);
  int32_t argmax(const float* x, float* logits) {
    int32_t id;
    argmax(x, 1, logits, &id);
    return id;
  }

  // For drafting, where the answer changes only speed (verification decides what is output): the first
  // argmax of the 8-bit approximations a_i alone, no bounds and no exact recomputation, and its a_i.
  // One pass over the 8-bit copy (half the bytes of F16). logits: scratch of w.rows floats, used only
  // when W holds a non-finite value (then the answer is the exact one).
  void approx_argmax(const float* x, float* logits, int32_t* id, float* value);

  int64_t rows() const { return w_.rows; }
  size_t bytes() const { return q_.size() + 4 * (scale_.size() + err_.size() + abs_sum_.size() + q_sum_.size()); }
  int last_candidates() const { return last_candidates_; }  // rows computed exactly by the last call, all x_i
  bool uses_amx() const { return use_amx_; }  // for calls of 2 rows or more

 private:
  static constexpr int kMaxCandidates = 1024;  // per x row; beyond this, the full matmul is cheaper
  static constexpr int kRowsPerTask = 4096;  // W rows per parallel task
  static constexpr int kMaxPass = 16;          // x rows scored in one pass over the head (more: several passes)
  static constexpr int kFoundCap = 256;        // rows reserved per task and x row (keep_candidate)
  static constexpr int kReservedUnion = 256;   // candidate rows (all x rows together) a call copies without allocating

  int tasks() const { return int((w_.rows + kRowsPerTask - 1) / kRowsPerTask); }  // row ranges scored in parallel
  int32_t exact_argmax(const float* x, float* logits);  // one x row through the real kernel over all of W
  // One pass for x rows [0, n) (n <= kMaxPass): rounds them to 8 bits, then finds each row's possible candidates per task.
  // ok[i] = false for a row the filter cannot bound (non-finite x): it takes the full matmul.
  void score_pass(const float* x, int n, bool* ok);
  // x rows [0, n) rounded to 8 bits (r_, t_) with |x|_1 and the largest rounding error (l1_, ex_).
  void round_x(const float* x, int n, bool* ok);
  // Ids of row i's candidates (hi >= lo) in the last pass, increasing; false when there are more than
  // kMaxCandidates.
  bool collect_candidates(int i, float lo, std::vector<int32_t>& ids) const;
  void argmax_pass(const float* x, int n, float* logits, int32_t* out);

  ThreadPool& pool_;
  Weight w_;
  int64_t padded_ = 0;           // rows rounded up to whole 16-row blocks
  bool usable_ = true;           // false when W holds a non-finite value
  bool use_amx_ = false;         // dot products of 2+ x rows on AMX tiles (else VNNI)
  std::vector<int32_t> amx_dots_;  // per thread: one task's dot products, [block][x row][16]
  std::vector<int8_t> q_;        // rows x cols, in blocks of 16 rows interleaved by 4-byte groups
  std::vector<float> scale_;     // s_i
  std::vector<float> err_;       // e_i + gamma * max_j |w_ij|, rounded up
  std::vector<float> abs_sum_;   // s_i * sum_j |q_ij|, rounded up
  float err_max_ = 0, abs_sum_max_ = 0;  // the largest err_ and abs_sum_ (a bound for whole blocks)
  std::vector<float> thread_lo_;  // per pool thread, per x row: the largest a_i - B_i of its tasks so far
  std::vector<int32_t> q_sum_;   // sum_j q_ij (undoes the +128 that makes r unsigned for VNNI)
  std::vector<uint8_t> r_;       // per x row: the rounded x, + 128
  std::vector<float> t_, l1_, ex_;  // per x row: x ~ t * r, |x|_1 and the largest rounding error, rounded up
  struct Candidate {
    int32_t row;
    float hi;  // a_i + B_i
  };
  static void keep_candidate(std::vector<Candidate>& found, Candidate c, float threshold);
  std::vector<float> task_lo_max_;  // per task, per x row: max (a_i - B_i)
  std::vector<float> task_best_;    // approx_argmax: per task, the largest a_i ...
  std::vector<int32_t> task_best_id_;  // ... and its first row
  // per task, per x row (kMaxPass slots): the W rows whose a_i + B_i reached the task's running max (a - B)
  std::vector<std::vector<Candidate>> task_found_;  // (each reserved for kFoundCap rows)
  std::vector<std::vector<int32_t>> candidates_;  // per x row
  std::vector<int32_t> union_;   // all rows' candidates, increasing
  std::vector<uint8_t> candidate_rows_;  // the union's original bytes, contiguous
  std::vector<float> candidate_logits_;  // [n][union]
  std::vector<float> own_logits_;        // one row's candidates' logits
  int last_candidates_ = 0;
};

}  // namespace frspec
