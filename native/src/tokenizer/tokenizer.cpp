// Tokenizer: encode (added words, pre-tokenizer, piece cache, BPE) and decode.
#include "tokenizer/tokenizer.h"

#include <cstring>
#include <stdexcept>

#include "common/thread_scratch.h"

namespace frspec {

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  encode_append(text, out);
  return out;
}

void Tokenizer::encode_append(std::string_view text, std::vector<int32_t>& out) const {
  if (added_.empty()) {
    encode_plain(text, out);
    return;
  }
  // The pre-tokenizer never sees across a USER_DEFINED word: the text between words is encoded on its own.
  size_t from = 0, pos, len;
  int32_t id;
  while (next_added(text, from, pos, len, id)) {
    if (pos > from) encode_plain(text.substr(from, pos - from), out);
    out.push_back(id);
    from = pos + len;
  }
  if (from < text.size()) encode_plain(text.substr(from), out);
}

bool Tokenizer::next_added(std::string_view text, size_t from, size_t& pos, size_t& len, int32_t& id) const {
  for (size_t p = from; p < text.size(); ++p) {
    if (!added_first_byte_[uint8_t(text[p])]) continue;
    for (const auto& [word, word_id] : added_) {
      if (text.compare(p, word.size(), word) == 0) {
        pos = p;
        len = word.size();
        id = word_id;
        return true;
      }
    }
  }
  return false;
}

void Tokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  auto on_piece = [&](size_t b, size_t e) { encode_piece(text.substr(b, e - b), out); };
  pre_tokenize(pre_kind_, text, PieceSink::of(on_piece));
}

void Tokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_token_[uint8_t(piece[0])]);
    return;
  }
  if (ignore_merges_) {
    auto it = normal_index_.find(piece);
    if (it != normal_index_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = piece.size() <= PieceCache::kMaxPieceBytes;
  const uint64_t h = cacheable ? PieceCache::hash(piece) : 0;
  if (cacheable && cache_.lookup(piece, h, out)) return;

  thread_local ThreadScratch<std::vector<int32_t>> ids_scratch;  // common/thread_scratch.h: why
  std::vector<int32_t>& ids = ids_scratch.get();
  ids.resize(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) ids[i] = byte_token_[uint8_t(piece[i])];
  bpe_merge(merges_, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) cache_.store(piece, h, ids.data(), ids.size());
}

size_t Tokenizer::count_into(std::string_view text, uint32_t* counts) const {
  thread_local ThreadScratch<std::vector<int32_t>> ids_scratch;
  std::vector<int32_t>& ids = ids_scratch.get();
  ids.clear();
  encode_append(text, ids);
  for (int32_t id : ids) ++counts[id];
  const size_t n = ids.size();
  if (ids.capacity() > (size_t(1) << 22)) ids = std::vector<int32_t>();  // do not keep a huge file's buffer
  return n;
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= n_vocab()) {
    throw std::out_of_range("token id " + std::to_string(id) + " is out of range (the vocabulary has " +
                            std::to_string(n_vocab()) + " tokens)");
  }
  return bytes_[size_t(id)];
}

bool Tokenizer::is_special(int32_t id) const { return kind(id) == Kind::Special; }

Tokenizer::Kind Tokenizer::kind(int32_t id) const {
  token_bytes(id);  // range check
  return kinds_[size_t(id)];
}

std::string Tokenizer::decode(const int32_t* ids, size_t n) const {
  std::string out;
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += token_bytes(ids[i]).size();
  out.reserve(total);
  for (size_t i = 0; i < n; ++i) out += bytes_[size_t(ids[i])];
  return out;
}

}  // namespace frspec
