// A memo of piece bytes -> token ids. Code repeats the same identifiers, keywords and indentation
// endlessly, so most pieces are encoded by one table lookup instead of a BPE run.
//
// Each thread has its own direct-mapped table per tokenizer (thread_local, so lookups take no lock and
// threads counting a corpus never contend); a colliding piece simply replaces the old one. Tables are
// told apart by a serial number that is never reused, so a table can never serve a different tokenizer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace frspec {

class PieceCache {
 public:
  static constexpr size_t kMaxPieceBytes = 22;  // longer pieces are encoded every time (rare in code)
  static constexpr size_t kMaxIds = 8;

  PieceCache();
  // Appends the cached ids of `piece` to out and returns true, or returns false on a miss.
  bool lookup(std::string_view piece, uint64_t hash, std::vector<int32_t>& out) const;
  void store(std::string_view piece, uint64_t hash, const int32_t* ids, size_t n) const;

  static uint64_t hash(std::string_view piece);
  struct HashOf {  // for maps keyed by std::string, looked up by string_view
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return size_t(PieceCache::hash(s)); }
  };

  struct Slot {
    uint64_t hash;
    uint8_t len;  // 0: empty (empty pieces are never cached)
    uint8_t n_ids;
    char bytes[kMaxPieceBytes];
    int32_t ids[kMaxIds];
  };

 private:
  Slot* table() const;  // this thread's table for this cache
  uint64_t serial_;
};

}  // namespace frspec
