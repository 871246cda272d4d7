// Byte-pair merging on token ids. The merge list of a GGUF ("A B" strings, rank = position) becomes a
// hash table keyed by the pair of token ids, so merging never touches strings.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace frspec {

struct Merge {
  int32_t rank;    // lower merges first
  int32_t merged;  // the token id of left + right
};

// Open addressing, linear probing, load factor <= 1/2. Read-only after loading, so lookups are thread-safe.
class MergeTable {
 public:
  explicit MergeTable(size_t expected = 0);
  // Adds a merge unless the pair is already there (a repeated pair keeps its first, lowest rank).
  bool insert(int32_t left, int32_t right, Merge m);
  const Merge* find(int32_t left, int32_t right) const {
    const uint64_t key = pair_key(left, right);
    for (uint64_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.merge;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  struct Slot {
    uint64_t key;
    Merge merge;
  };
  static uint64_t pair_key(int32_t l, int32_t r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }
  static uint64_t hash(uint64_t k) { return (k * 0x9E3779B97F4A7C15ull) >> 20; }
  void grow();

  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  size_t size_ = 0;
};

// Merges `ids` (the initial symbols of one piece, one per byte) in place: repeatedly the adjacent pair
// with the lowest rank, the leftmost on ties, exactly as Hugging Face tokenizers and llama.cpp do.
// Short pieces use a linear scan; long ones a heap with a linked list (O(n log n)).
void bpe_merge(const MergeTable& merges, std::vector<int32_t>& ids);

// The two strategies, for tests that check they agree.
void bpe_merge_scan(const MergeTable& merges, std::vector<int32_t>& ids);
void bpe_merge_heap(const MergeTable& merges, std::vector<int32_t>& ids);

}  // namespace frspec
