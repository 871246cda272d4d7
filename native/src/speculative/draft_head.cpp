#include "speculative/draft_head.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace frspec {

DraftHead::DraftHead(Backend& b, const Weight& full, int usable_rows, int max_rows)
    : b_(b), full_view_(full), usable_(std::min<int>(usable_rows, int(full.rows))), full_rows_(int(full.rows)), max_rows_(max_rows) {
  if (usable_ < 1 || max_rows < 1) throw std::invalid_argument("DraftHead: empty head");
  full_view_.rows = usable_;  // a view: rows are contiguous, so the first rows are a valid weight
  sel_ = b_.alloc(size_t(max_rows) * full.cols);
  ensure_buffers(usable_);
}

DraftHead::~DraftHead() {
  for (Gathered& g : gathered_) b_.release(g.w);  // base_ is one of them
  if (extra_.data) b_.release(extra_);
  for (float* p : {sel_, logits_, extra_logits_, packed_}) b_.free(p);
  if (backend_ids_) b_.free_ids(backend_ids_);
}

void DraftHead::upload_ids() {
  if (all_ids_.empty()) return;
  if (all_ids_.size() > backend_ids_cap_) {
    if (backend_ids_) b_.free_ids(backend_ids_);
    backend_ids_ = b_.alloc_ids(all_ids_.size());
    backend_ids_cap_ = all_ids_.size();
  }
  b_.write_ids(backend_ids_, all_ids_.data(), int(all_ids_.size()));
}

void DraftHead::ensure_buffers(int cols) {
  const size_t need = size_t(max_rows_) * cols;
  if (need <= logits_cap_) return;
  b_.free(logits_);
  logits_ = b_.alloc(need);
  logits_cap_ = need;
}

void DraftHead::restrict_to(std::span<const int32_t> ids) {
  base_ = Weight{};
  if (extra_.data) b_.release(extra_);
  b_.free(packed_);
  packed_ = nullptr;
  base_ids_.clear();
  extra_ids_.clear();
  in_extra_.assign(usable_, 0);
  in_base_.assign(usable_, 0);
  for (int32_t id : ids)
    if (id >= 0 && id < usable_ && !in_base_[id]) {
      in_base_[id] = 1;
      base_ids_.push_back(id);
    }
  if (!ids.empty() && base_ids_.empty()) throw std::invalid_argument("FR-Spec: none of the ranked ids is in the drafter's vocabulary");
  if (!base_ids_.empty()) base_ = gathered(base_ids_);
  all_ids_ = base_ids_;
  upload_ids();
}

Weight DraftHead::gathered(const std::vector<int32_t>& ids) {
  auto hit = std::find_if(gathered_.begin(), gathered_.end(), [&](const Gathered& g) { return g.ids == ids; });
  if (hit == gathered_.end()) {
    gathered_.insert(gathered_.begin(), Gathered{ids, b_.gather_rows(full_view_, ids.data(), int(ids.size()))});
  } else {
    std::rotate(gathered_.begin(), hit, hit + 1);  // most recently used first
  }
  size_t bytes = 0;
  for (const Gathered& g : gathered_) bytes += size_t(g.w.rows) * g.w.row_bytes;
  while (gathered_.size() > 1 && (gathered_.size() > kGatheredHeads || bytes > kGatheredBytes)) {
    bytes -= size_t(gathered_.back().w.rows) * gathered_.back().w.row_bytes;
    b_.release(gathered_.back().w);
    gathered_.pop_back();
  }
  return gathered_.front().w;
}

void DraftHead::set_extra(std::span<const int32_t> ids) {
  if (full() || (ids.empty() && extra_ids_.empty())) return;
  in_extra_.resize(usable_, 0);
  std::vector<int32_t> fresh;  // ids neither in the base nor in the current extra head, in order, once
  for (int32_t id : ids)
    if (id >= 0 && id < usable_ && !in_base_[id] && !in_extra_[id]) {
      in_extra_[id] = 2;  // marks `fresh` (reset below)
      fresh.push_back(id);
    }
  for (int32_t id : fresh) in_extra_[id] = 0;
  if (fresh.empty() && !ids.empty()) return;  // the cached extra head already allows every id
  if (extra_.data) b_.release(extra_);
  if (ids.empty() || extra_ids_.size() + fresh.size() > size_t(kMaxExtra)) {
    for (int32_t id : extra_ids_) in_extra_[id] = 0;
    extra_ids_.clear();
    for (int32_t id : ids)  // these ids alone (duplicates once)
      if (id >= 0 && id < usable_ && !in_base_[id] && !in_extra_[id] && int(extra_ids_.size()) < kMaxExtra) {
        in_extra_[id] = 1;
        extra_ids_.push_back(id);
      }
  } else {
    for (int32_t id : fresh) in_extra_[id] = 1;
    extra_ids_.insert(extra_ids_.end(), fresh.begin(), fresh.end());
  }
  all_ids_ = base_ids_;
  all_ids_.insert(all_ids_.end(), extra_ids_.begin(), extra_ids_.end());
  upload_ids();
  if (extra_ids_.empty()) return;
  if (!packed_) packed_ = b_.alloc(size_t(max_rows_) * base_ids_.size());
  extra_ = b_.gather_rows(full_view_, extra_ids_.data(), int(extra_ids_.size()));
  ensure_buffers(size());
  const size_t need = size_t(max_rows_) * extra_ids_.size();
  if (need > extra_cap_) {
    b_.free(extra_logits_);
    extra_logits_ = b_.alloc(need);
    extra_cap_ = need;
  }
}

void DraftHead::prepare() {
  if (b_.device_resident()) return;  // the GPU's heads need no preparation
  int32_t col;
  float value;
  // sel_ holds at least one row of d floats; its values do not matter, only that the copy gets built.
  if (!full()) b_.matmul_argmax_draft(base_, sel_, logits_, &col, &value);
  if (!extra_ids_.empty()) b_.matmul_argmax_draft(extra_, sel_, extra_logits_, &col, &value);
}

const float* DraftHead::project(const float* h, std::span<const int32_t> rows) {
  const int n = int(rows.size());
  if (n < 1 || n > max_rows_) throw std::invalid_argument("DraftHead: " + std::to_string(n) + " rows (limit " + std::to_string(max_rows_) + ")");
  const int d = int(full_view_.cols);
  // One contiguous run (a chain step's single row) is read in place: one launch less per drafted token.
  int run = 1;
  while (run < n && rows[run] == rows[0] + run) ++run;
  const float* x = h + size_t(rows[0]) * d;
  if (run < n) {
    for (int i = 0; i < n;) {  // contiguous runs of rows are one copy
      int j = i + 1;
      while (j < n && rows[j] == rows[j - 1] + 1) ++j;
      b_.copy_rows(sel_ + size_t(i) * d, d, h + size_t(rows[i]) * d, d, j - i, d);
      i = j;
    }
    x = sel_;
  }
  const Weight& head = full() ? full_view_ : base_;
  if (extra_ids_.empty()) {
    b_.matmul(head, x, logits_, n);
    return logits_;
  }
  // With extra ids the two heads are projected separately and interleaved into rows of size() columns:
  // base ids first, then the extra ones.
  const int cols = size(), kb = base_rows(), ke = n_extra();
  b_.matmul(head, x, packed_, n);
  b_.copy_rows(logits_, cols, packed_, kb, n, kb);
  b_.matmul(extra_, x, extra_logits_, n);
  b_.copy_rows(logits_ + kb, cols, extra_logits_, ke, n, ke);
  return logits_;
}

void DraftHead::argmax_id(const float* h, int32_t* id) {
  // Host memory: the backend's drafting argmax answers, the id written directly. On the CPU that is one pass
  // over an 8-bit copy of the head with no exact recomputation (Backend::matmul_argmax_draft): a drafted id
  // only has to be likely, verification decides what is output. Draft model, chain 3, FR 8k: 0.24 -> 0.21
  // ms of drafting per step (spec_cpu_bench, 2 threads; the 8k head's F16 matmul + argmax was 0.021 ms, the
  // 8-bit pass 0.010). The prompt's ids (set_extra) are a second small head: the larger logit wins.
  if (!b_.device_resident()) {
    int32_t col;
    float value;
    b_.matmul_argmax_draft(full() ? full_view_ : base_, h, logits_, &col, &value);
    if (!extra_ids_.empty()) {
      int32_t extra_col;
      float extra_value;
      b_.matmul_argmax_draft(extra_, h, extra_logits_, &extra_col, &extra_value);
      if (extra_value > value) col = base_rows() + extra_col;
    }
    *id = this->id(col);
    return;
  }
  const int32_t row0 = 0;
  b_.argmax_ids(project(h, std::span<const int32_t>(&row0, 1)), 1, size(), backend_ids(), id);
}

}  // namespace frspec
