// A drafter's LM head: the full vocabulary, or FR-Spec's restriction to the top-k ids of a ranked
// vocabulary, gathered ONCE into a contiguous k x d weight (Backend::gather_rows) so drafting reads k
// rows instead of the whole vocabulary. Optionally a per-request extension with the prompt's own token ids
// (local identifiers are rare globally but frequent in the file being edited): those extra rows are a
// second small gathered weight, so the big one is never rebuilt per request.
//
// Logits come out as rows of size() columns; column c is token id(c).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "engine/backend.h"

namespace frspec {

class DraftHead {
 public:
  // `full` is the drafter's LM head (owned elsewhere); only its first `usable_rows` ids may be drafted
  // (the target's vocabulary: extra padding rows of the drafter are never proposed).
  DraftHead(Backend& b, const Weight& full, int usable_rows, int max_rows);
  ~DraftHead();
  DraftHead(const DraftHead&) = delete;
  DraftHead& operator=(const DraftHead&) = delete;

  // FR-Spec: restrict to these ids (ranked order; ids >= usable_rows are dropped). Empty: full vocabulary.
  void restrict_to(std::span<const int32_t> ids);
  // Per request: also allow these ids (e.g. the prompt's tokens); duplicates and ids already in the
  // restricted set are skipped. No effect on a full-vocabulary head. Cached across requests: when every id
  // is already allowed (typing: each keystroke's prompt repeats the last one's ids) nothing changes; new
  // ids are added to the earlier ones (up to kMaxExtra, else the extra head is rebuilt from these ids
  // alone), so the extra head is a superset of the prompt's ids — drafting may propose an id of an earlier
  // prompt, which verification accepts or not: the output is the same. Empty: no extra ids.
  void set_extra(std::span<const int32_t> ids);
  static constexpr int kMaxExtra = 4096;
  // Gathers and prepares (the CPU's 8-bit drafting copy) whatever the next argmax_id() would build on
  // first use, so that happens in prompt processing, not in the first decoding step.
  void prepare();

  bool full() const { return base_ids_.empty(); }
  int size() const { return base_rows() + int(extra_ids_.size()); }
  int n_extra() const { return int(extra_ids_.size()); }
  int32_t id(int col) const {
    return full() ? col : col < int(base_ids_.size()) ? base_ids_[col] : extra_ids_[col - base_ids_.size()];
  }
  // Ids of the columns (null for the full vocabulary, where id == column).
  const int32_t* ids() const { return full() ? nullptr : all_ids_.data(); }
  // The same table in backend memory (Backend::argmax_ids remaps columns to ids on the device).
  const int32_t* backend_ids() const { return full() ? nullptr : backend_ids_; }

  // logits[n][size()] (backend memory, valid until the next call) for rows rows[i] of h[?][d].
  const float* project(const float* h, std::span<const int32_t> rows);
  // The greedy drafted token for the row h[d] (backend memory) into *id (backend memory): the token id of the
  // head's first maximum, as project() then Backend::argmax_ids. On a host-memory backend it comes from
  // Backend::matmul_argmax_draft (the CPU: an 8-bit copy of the head, which may differ on near ties).
  void argmax_id(const float* h, int32_t* id);

 private:
  int base_rows() const { return full() ? usable_ : int(base_ids_.size()); }
  void ensure_buffers(int cols);
  void upload_ids();  // all_ids_ -> backend_ids_
  // The head gathered for these ids, from gathered_ or gathered now. Heads of earlier id lists are kept (most
  // recently used first, at most kGatheredHeads and kGatheredBytes): switching back to a vocabulary (a
  // benchmark alternating configurations, a workspace vocabulary rebuilt and back) then costs nothing, and
  // on the CPU its 8-bit drafting copy (Backend::matmul_argmax_draft) is kept with it.
  Weight gathered(const std::vector<int32_t>& ids);
  static constexpr size_t kGatheredHeads = 8;
  static constexpr size_t kGatheredBytes = size_t(512) << 20;
  struct Gathered {
    std::vector<int32_t> ids;
    Weight w;
  };
  std::vector<Gathered> gathered_;

  Backend& b_;
  Weight full_view_;  // the full head limited to usable rows (same memory)
  int usable_, full_rows_, max_rows_;
  Weight base_{}, extra_{};  // base_: the front of gathered_ (or empty: the full head)
  std::vector<int32_t> base_ids_, extra_ids_, all_ids_;
  std::vector<uint8_t> in_base_;  // id -> listed in base_ids_
  std::vector<uint8_t> in_extra_;  // id -> listed in extra_ids_
  float *sel_ = nullptr, *logits_ = nullptr, *extra_logits_ = nullptr, *packed_ = nullptr;
  size_t logits_cap_ = 0, extra_cap_ = 0;
  int32_t* backend_ids_ = nullptr;
  size_t backend_ids_cap_ = 0;
};

}  // namespace frspec
