#include "tokenizer/piece_cache.h"

#include <atomic>
#include <cstring>
#include <memory>

#include "common/thread_scratch.h"

namespace frspec {
namespace {

constexpr size_t kSlots = size_t(1) << 15;  // 2 MB per thread and tokenizer
constexpr int kTablesPerThread = 4;         // a thread working with more tokenizers evicts the oldest

std::atomic<uint64_t> next_serial{1};

struct ThreadTables {
  uint64_t serial[kTablesPerThread] = {};
  uint64_t last_use[kTablesPerThread] = {};
  std::unique_ptr<PieceCache::Slot[]> table[kTablesPerThread];
  uint64_t clock = 0;
};

}  // namespace

PieceCache::PieceCache() : serial_(next_serial.fetch_add(1)) {}

PieceCache::Slot* PieceCache::table() const {
  thread_local ThreadScratch<ThreadTables> scratch;  // common/thread_scratch.h: why
  ThreadTables& t = scratch.get();
  ++t.clock;
  int victim = 0;
  for (int i = 0; i < kTablesPerThread; ++i) {
    if (t.serial[i] == serial_) {
      t.last_use[i] = t.clock;
      return t.table[i].get();
    }
    if (t.last_use[i] < t.last_use[victim]) victim = i;
  }
  if (!t.table[victim]) t.table[victim].reset(new Slot[kSlots]);
  std::memset(static_cast<void*>(t.table[victim].get()), 0, kSlots * sizeof(Slot));
  t.serial[victim] = serial_;
  t.last_use[victim] = t.clock;
  return t.table[victim].get();
}

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
  const Slot& s = table()[hash & (kSlots - 1)];
  if (s.hash != hash || s.len != piece.size() || std::memcmp(s.bytes, piece.data(), piece.size()) != 0) return false;
  out.insert(out.end(), s.ids, s.ids + s.n_ids);
  return true;
}

void PieceCache::store(std::string_view piece, uint64_t hash, const int32_t* ids, size_t n) const {
  if (piece.empty() || piece.size() > kMaxPieceBytes || n > kMaxIds) return;
  Slot& s = table()[hash & (kSlots - 1)];
  s.hash = hash;
  s.len = uint8_t(piece.size());
  s.n_ids = uint8_t(n);
  std::memcpy(s.bytes, piece.data(), piece.size());
  std::memcpy(s.ids, ids, n * sizeof(int32_t));
}

}  // namespace frspec
