#include "speculative/ranked_vocab.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unordered_set>

#include "tokenizer/tokenizer.h"

namespace frspec {
namespace {

uint32_t crc32(const uint8_t* p, size_t n) {  // IEEE 802.3, as zlib's crc32
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// Little-endian reads with the bounds already checked by the caller.
uint32_t u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
uint64_t u64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
size_t align8(size_t x) { return (x + 7) & ~size_t(7); }

}  // namespace

std::vector<int32_t> RankedVocab::top(int k) const {
  const size_t n = std::min(ids.size(), size_t(std::max(k, 0)));
  return std::vector<int32_t>(ids.begin(), ids.begin() + n);
}

RankedVocab parse_ranked_vocab(const uint8_t* d, size_t size, const std::string& path) {
  auto fail = [&](size_t offset, const std::string& what) -> VocabFileError {
    return VocabFileError(path + ": offset " + std::to_string(offset) + ": " + what);
  };
  if (size < 68) throw fail(size, "truncated: a .frv file has at least 68 bytes, this one has " + std::to_string(size));
  if (std::memcmp(d, "FRVOCAB\0", 8) != 0) throw fail(0, "not a .frv vocabulary file (expected magic \"FRVOCAB\\0\")");
  const uint32_t version = u32(d + 8);
  if (version != 1) throw fail(8, "unsupported version " + std::to_string(version) + " (expected 1)");
  const uint32_t H = u32(d + 12);
  if (H < 64 || H % 8 != 0) throw fail(12, "header size " + std::to_string(H) + " is not a multiple of 8 >= 64");
  RankedVocab v;
  v.path = path;
  v.vocab_size = u32(d + 16);
  const uint32_t n = u32(d + 20);
  v.n_forced = u32(d + 24);
  v.corpus_files = u64(d + 32);
  v.corpus_bytes = u64(d + 40);
  v.corpus_tokens = u64(d + 48);
  v.created_at = u64(d + 56);
  if (v.n_forced > n) throw fail(24, "n_forced " + std::to_string(v.n_forced) + " exceeds n " + std::to_string(n));
  const size_t C = size_t(H) + align8(size_t(n) * 4), expected = C + size_t(n) * 8 + 4;
  if (size < expected) throw fail(size, "truncated: expected " + std::to_string(expected) + " bytes for " + std::to_string(n) + " entries");
  if (size > expected) throw fail(expected, "trailing bytes after the checksum (expected the file to end here)");
  const uint32_t crc = u32(d + C + size_t(n) * 8);
  if (crc32(d, C + size_t(n) * 8) != crc) throw fail(C + size_t(n) * 8, "CRC-32 mismatch: the file is corrupt");

  size_t off = 64;
  for (std::string* s : {&v.fingerprint, &v.pre, &v.source}) {
    if (off + 4 > H) throw fail(off, "string length runs past the header of " + std::to_string(H) + " bytes");
    const uint32_t len = u32(d + off);
    if (off + 4 + len > H) throw fail(off, "string of " + std::to_string(len) + " bytes runs past the header");
    s->assign(reinterpret_cast<const char*>(d + off + 4), len);
    off += 4 + len;
  }
  v.ids.resize(n);
  v.counts.resize(n);
  std::unordered_set<int32_t> seen;
  seen.reserve(n);
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t id = u32(d + H + size_t(i) * 4);
    const uint64_t count = u64(d + C + size_t(i) * 8);
    if (id >= v.vocab_size) throw fail(H + size_t(i) * 4, "id " + std::to_string(id) + " is not below vocab_size " + std::to_string(v.vocab_size));
    if (!seen.insert(int32_t(id)).second) throw fail(H + size_t(i) * 4, "id " + std::to_string(id) + " is listed twice");
    if (count > (uint64_t(1) << 53)) throw fail(C + size_t(i) * 8, "count above 2^53");
    if (i > v.n_forced && (count > v.counts[i - 1] || (count == v.counts[i - 1] && int32_t(id) < v.ids[i - 1])))
      throw fail(H + size_t(i) * 4, "entries after the forced ones must be ranked by count descending, then id ascending");
    v.ids[i] = int32_t(id);
    v.counts[i] = count;
    total += count;
  }
  if (total != v.corpus_tokens)
    throw fail(48, "corpus_tokens " + std::to_string(v.corpus_tokens) + " differs from the sum of counts " + std::to_string(total));
  return v;
}

RankedVocab read_ranked_vocab(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw VocabFileError(path + ": cannot open the vocabulary file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return parse_ranked_vocab(bytes.data(), bytes.size(), path);
}

void check_vocab_tokenizer(const RankedVocab& v, const Tokenizer& tok, const std::string& model_path) {
  if (v.fingerprint == tok.fingerprint() && v.vocab_size == uint32_t(tok.n_vocab())) return;
  throw VocabFileError(v.path + " was built for tokenizer " + v.fingerprint.substr(0, 12) + "... (pre-tokenizer " + v.pre +
                       ", " + std::to_string(v.vocab_size) + " tokens), but " + model_path + " has tokenizer " +
                       tok.fingerprint().substr(0, 12) + "... (pre-tokenizer " + tok.pre() + ", " +
                       std::to_string(tok.n_vocab()) + " tokens); rebuild it with: frspec vocab build --model " + model_path + " ...");
}

}  // namespace frspec
