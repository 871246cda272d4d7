// The target's logits for verify rows, computed only when verification reaches them. Verification walks
// down ONE path of the draft tree (the target's choices), so it needs the LM head for the rows on that
// path only, not for every drafted node: on a CPU the LM head of a large-vocabulary model costs far more
// than the decoder layers of a small tree, so a 24-node tree then costs about as much LM head as a chain.
// When a row is first needed it is scored together with the drafter's most likely path below it (one
// batched matmul), which is the path verification usually takes.
//
// The logits are the same numbers as plain decoding's: the rows are the context's final normed hidden
// states multiplied with the same LM head weight by the same matmul.
#pragma once
#include <vector>

#include "engine/backend.h"
#include "speculative/draft_tree.h"

namespace frspec {

class VerifyLogits {
 public:
  VerifyLogits(Backend& b, const Weight& lm_head);
  ~VerifyLogits();
  VerifyLogits(const VerifyLogits&) = delete;
  VerifyLogits& operator=(const VerifyLogits&) = delete;

  // A new step: `hidden` holds tree.size()+1 rows of d floats (backend memory; verify row 0 = the root).
  void reset(const DraftTree& tree, const float* hidden);
  // Logits of verify row r (backend memory, vocab() floats), valid until reset().
  const float* row(int r);
  // Greedy: the target's argmax at verify row r with Backend::matmul_argmax, exactly what plain greedy
  // decoding computes (the CPU backend's exact 8-bit prefilter reads about half the LM head). A row not
  // yet known is computed together with the drafter's most likely path below it, in one call that reads
  // the head once: a verify step whose walk follows that path costs one pass over the head.
  int32_t argmax(int r);
  // Greedy on a backend where every read back is a wait (a GPU): the argmax of EVERY verify row, from one
  // batched matmul per 64 rows (the GEMV path, whose bits equal a single row's) and one read back, so
  // argmax(r) afterwards needs no further wait. Costs LM head rows nobody reaches, saves round trips.
  void argmax_all();
  // The same, leaving the argmaxes in backend memory ids[0..rows) (no wait): the caller reads them back
  // with the drafted ids in one go.
  void argmax_all(int32_t* ids);
  int vocab() const { return int(head_.rows); }
  int rows_scored() const { return scored_; }

 private:
  Backend& b_;
  const Weight& head_;
  const DraftTree* tree_ = nullptr;
  const float* hidden_ = nullptr;
  float *sel_ = nullptr, *logits_ = nullptr;
  int cap_ = 0, scored_ = 0;
  std::vector<int> slot_;        // verify row -> slot in logits_, -1 = not scored yet
  std::vector<int> best_child_;  // verify row -> the row of its most likely drafted child, -1 = leaf
  std::vector<int32_t> rows_, argmax_;
  std::vector<int32_t> path_ids_;  // argmax(): the ids of the rows scored together
  int path_rows_ = 16;             // argmax(): at most this many rows per call
  void score_all();  // logits of every verify row, row r in logits_ row r
};

}  // namespace frspec
