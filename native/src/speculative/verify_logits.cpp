#include "speculative/verify_logits.h"

#include <algorithm>

namespace frspec {

VerifyLogits::VerifyLogits(Backend& b, const Weight& lm_head) : b_(b), head_(lm_head) {}

VerifyLogits::~VerifyLogits() {
  b_.free(sel_);
  b_.free(logits_);
}

void VerifyLogits::reset(const DraftTree& tree, const float* hidden) {
  tree_ = &tree;
  hidden_ = hidden;
  scored_ = 0;
  const int n = tree.size() + 1;
  if (n > cap_) {  // grows to the largest tree seen, then stays
    b_.free(sel_);
    b_.free(logits_);
    sel_ = b_.alloc(size_t(n) * head_.cols);
    logits_ = b_.alloc(size_t(n) * head_.rows);
    cap_ = n;
  }
  slot_.assign(n, -1);
  argmax_.assign(n, -1);
  best_child_.assign(n, -1);
  for (int i = 0; i < tree.size(); ++i) {  // nodes come after their parents: the first best child wins ties
    int& best = best_child_[tree.parent[i] + 1];
    if (best < 0 || tree.score[i] > tree.score[best - 1]) best = i + 1;
  }
}

const float* VerifyLogits::row(int r) {
  if (slot_[r] < 0) {
    rows_.clear();
    for (int x = r; x >= 0 && slot_[x] < 0; x = best_child_[x]) rows_.push_back(x);
    const int d = int(head_.cols), first = scored_;
    for (size_t i = 0; i < rows_.size(); ++i) {
      b_.copy_rows(sel_ + size_t(first + i) * d, d, hidden_ + size_t(rows_[i]) * d, d, 1, d);
      slot_[rows_[i]] = first + int(i);
    }
    b_.matmul(head_, sel_ + size_t(first) * d, logits_ + size_t(first) * head_.rows, int(rows_.size()));
    scored_ += int(rows_.size());
  }
  return logits_ + size_t(slot_[r]) * head_.rows;
}

void VerifyLogits::score_all() {
  constexpr int kRowsPerMatmul = 64;  // the CUDA backend's batch-invariant GEMV limit (docs/cuda.md)
  const int n = int(argmax_.size());
  for (int i = 0; i < n; i += kRowsPerMatmul)
    b_.matmul(head_, hidden_ + size_t(i) * head_.cols, logits_ + size_t(i) * head_.rows, std::min(kRowsPerMatmul, n - i));
  for (int i = 0; i < n; ++i) slot_[i] = i;  // every row's logits now sit in logits_ in row order
  scored_ = n;
}

void VerifyLogits::argmax_all() {
  score_all();
  b_.argmax(logits_, int(argmax_.size()), int(head_.rows), argmax_.data());
}

void VerifyLogits::argmax_all(int32_t* ids) {
  score_all();
  b_.argmax_ids(logits_, int(argmax_.size()), int(head_.rows), nullptr, ids);
}

int32_t VerifyLogits::argmax(int r) {
  if (argmax_[r] < 0) {
    // r and the drafter's most likely path below it in ONE call: the CPU backend reads its 8-bit LM head
    // once for all of them, so the rows verification goes on to reach cost almost nothing more.
    rows_.clear();
    for (int x = r; x >= 0 && argmax_[x] < 0 && int(rows_.size()) < path_rows_; x = best_child_[x]) rows_.push_back(x);
    const int d = int(head_.cols), n = int(rows_.size());
    for (int i = 0; i < n; ++i) b_.copy_rows(sel_ + size_t(i) * d, d, hidden_ + size_t(rows_[i]) * d, d, 1, d);
    path_ids_.resize(n);
    b_.matmul_argmax(head_, sel_, n, logits_, path_ids_.data());  // sel_/logits_ as scratch: argmax rows keep no logits
    for (int i = 0; i < n; ++i) argmax_[rows_[i]] = path_ids_[i];
    slot_.assign(slot_.size(), -1);  // the scratch overwrote any scored logits
    scored_ += n;
  }
  return argmax_[r];
}

}  // namespace frspec
