#include "tokenizer/piece_cache.h"

#include <cstring>

namespace frspec {

uint64_t PieceCache::hash(std::string_view s) {
  // FNV-1a over 8-byte words then the tail, finished with a multiply-xorshift: fast on short strings.
  uint64_t h = 0xcbf29ce484222325ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; i < s.size(); ++i) h = (h ^ uint8_t(s[i])) * 0x100000001b3ull;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

bool PieceCache::lookup(std::string_view piece, uint64_t hash, std::vector<int32_t>& out) const {
  const Shard& sh = shards_[hash % kShards];
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.map.find(piece);
  if (it == sh.map.end()) return false;
  out.insert(out.end(), it->second.ids, it->second.ids + it->second.n);
  return true;
}

void PieceCache::store(std::string_view piece, uint64_t hash, const int32_t* ids, size_t n) {
  if (piece.size() > kMaxPieceBytes || n > kMaxIds) return;
  Ids v{uint32_t(n), {}};
  std::memcpy(v.ids, ids, n * sizeof(int32_t));
  Shard& sh = shards_[hash % kShards];
  std::lock_guard<std::mutex> lock(sh.mu);
  if (sh.map.size() >= kMaxEntriesPerShard) sh.map.clear();
  sh.map.emplace(std::string(piece), v);
}

}  // namespace frspec
