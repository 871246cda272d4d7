// A bounded, thread-safe memo of piece bytes -> token ids. Code repeats the same identifiers, keywords and
// indentation endlessly, so most pieces are encoded by one hash lookup instead of a BPE run.
// Sharded by hash with one mutex per shard: threads counting a corpus rarely meet on the same shard.
#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace frspec {

class PieceCache {
 public:
  static constexpr size_t kMaxPieceBytes = 48;  // longer pieces are rare: not worth the memory
  static constexpr size_t kMaxIds = 7;

  // Appends the cached ids of `piece` to out and returns true, or returns false on a miss.
  bool lookup(std::string_view piece, uint64_t hash, std::vector<int32_t>& out) const;
  void store(std::string_view piece, uint64_t hash, const int32_t* ids, size_t n);
  static uint64_t hash(std::string_view piece);
  struct HashOf {  // for maps keyed by std::string, looked up by string_view
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return size_t(PieceCache::hash(s)); }
  };

 private:
  struct Ids {
    uint32_t n;
    int32_t ids[kMaxIds];
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Ids, HashOf, std::equal_to<>> map;
  };
  static constexpr size_t kShards = 64;
  static constexpr size_t kMaxEntriesPerShard = 4096;  // then the shard starts over (~25 MB in all at most)
  std::array<Shard, kShards> shards_;
};

}  // namespace frspec
