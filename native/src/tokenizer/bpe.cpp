#include "tokenizer/bpe.h"

#include <algorithm>
#include <climits>

#include "common/thread_scratch.h"

namespace frspec {

MergeTable::MergeTable(size_t expected) {
  size_t cap = 16;
  while (cap < expected * 2) cap <<= 1;
  slots_.assign(cap, Slot{kEmpty, {0, 0}});
  mask_ = cap - 1;
}

void MergeTable::grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, Slot{kEmpty, {0, 0}});
  mask_ = slots_.size() - 1;
  size_ = 0;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    for (uint64_t i = hash(s.key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty) {
        slots_[i] = s;
        ++size_;
        break;
      }
    }
  }
}

bool MergeTable::insert(int32_t left, int32_t right, Merge m) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = pair_key(left, right);
  for (uint64_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key) return false;
    if (s.key == kEmpty) {
      s = Slot{key, m};
      ++size_;
      return true;
    }
  }
}

namespace {

constexpr size_t kScanLimit = 48;  // longer pieces use the heap
constexpr int32_t kNoMerge = INT32_MAX;

}  // namespace

void bpe_merge_scan(const MergeTable& merges, std::vector<int32_t>& ids) {
  size_t n = ids.size();
  if (n < 2) return;
  // rank[i], merged[i]: the merge of the pair (ids[i], ids[i + 1]).
  thread_local ThreadScratch<std::vector<int32_t>> rank_scratch, merged_scratch;  // common/thread_scratch.h: why
  std::vector<int32_t>& rank = rank_scratch.get();
  std::vector<int32_t>& merged = merged_scratch.get();
  rank.resize(n);
  merged.resize(n);
  auto look = [&](size_t i) {
    const Merge* m = merges.find(ids[i], ids[i + 1]);
    rank[i] = m ? m->rank : kNoMerge;
    merged[i] = m ? m->merged : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) look(i);
  for (;;) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (rank[i] < rank[best]) best = i;
    }
    if (rank[best] == kNoMerge) break;
    ids[best] = merged[best];
    // Remove symbol best + 1 and the pair that started at it.
    for (size_t i = best + 1; i + 1 < n; ++i) {
      ids[i] = ids[i + 1];
      rank[i] = rank[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    if (best > 0) look(best - 1);
    if (best + 1 < n) look(best);
    else rank[best] = kNoMerge;
    if (n < 2) break;
  }
  ids.resize(n);
}

void bpe_merge_heap(const MergeTable& merges, std::vector<int32_t>& ids) {
  const size_t n = ids.size();
  if (n < 2) return;
  struct Candidate {
    int32_t rank;
    int32_t left;  // symbol index; symbols keep their index, so the order of indexes is text order
    int32_t right;
    int32_t left_id, right_id;  // what the pair was made of, to recognise it when it went stale
    int32_t merged;
  };
  // std heap functions build a max-heap: "less" means lower priority, i.e. higher rank or further right.
  auto lower_priority = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  };
  thread_local ThreadScratch<std::vector<int32_t>> prev_scratch, next_scratch;
  thread_local ThreadScratch<std::vector<Candidate>> heap_scratch;
  std::vector<int32_t>& prev = prev_scratch.get();
  std::vector<int32_t>& next = next_scratch.get();
  std::vector<Candidate>& heap = heap_scratch.get();
  prev.resize(n);
  next.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i) {
    prev[i] = int32_t(i) - 1;
    next[i] = i + 1 < n ? int32_t(i + 1) : -1;
  }
  auto consider = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    if (const Merge* m = merges.find(ids[l], ids[r])) {
      heap.push_back({m->rank, l, r, ids[l], ids[r], m->merged});
      std::push_heap(heap.begin(), heap.end(), lower_priority);
    }
  };
  for (size_t i = 0; i + 1 < n; ++i) consider(int32_t(i), int32_t(i + 1));
  constexpr int32_t kGone = -1;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower_priority);
    const Candidate c = heap.back();
    heap.pop_back();
    // Stale when either side has merged with something else since (a merged-away symbol is kGone).
    if (ids[c.left] != c.left_id || ids[c.right] != c.right_id || next[c.left] != c.right) continue;
    ids[c.left] = c.merged;
    ids[c.right] = kGone;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0) prev[next[c.right]] = c.left;
    consider(prev[c.left], c.left);
    consider(c.left, next[c.left]);
  }
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] != kGone) ids[out++] = ids[i];
  }
  ids.resize(out);
}

void bpe_merge(const MergeTable& merges, std::vector<int32_t>& ids) {
  if (ids.size() <= kScanLimit) bpe_merge_scan(merges, ids);
  else bpe_merge_heap(merges, ids);
}

}  // namespace frspec
