// Tokenizer::from_gguf: builds the tables from the GGUF metadata, validating everything it relies on.
#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include "gguf/gguf.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/sha256.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"

namespace frspec {
namespace {

// llama_token_type, as GGUF stores it in tokenizer.ggml.token_type.
enum TokenType : int64_t { UNDEFINED = 0, NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 };

[[noreturn]] void fail(const GgufFile& f, const std::string& what) {
  throw std::runtime_error(f.path() + ": " + what);
}

bool looks_like_marker(std::string_view t) {
  return t.size() >= 2 && ((t.front() == '<' && t.back() == '>') || (t.front() == '[' && t.back() == ']'));
}

std::string show(std::string_view s) {  // for error messages: short and printable
  std::string out;
  for (unsigned char c : s.substr(0, 40)) {
    if (c < 0x20 || c == 0x7F) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  return s.size() > 40 ? out + "..." : out;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& file) {
  if (!file.has("tokenizer.ggml.model")) fail(file, "no tokenizer in this file (tokenizer.ggml.model is missing)");
  const std::string model = file.get_string("tokenizer.ggml.model");
  if (model != "gpt2") {
    fail(file, "tokenizer.ggml.model is '" + model +
                   "': only byte-level BPE ('gpt2': Qwen2, Llama-3, DeepSeek-Coder) is supported");
  }
  if (!file.has("tokenizer.ggml.pre")) fail(file, "tokenizer.ggml.pre is missing: the pre-tokenizer is unknown");
  const std::string pre = file.get_string("tokenizer.ggml.pre");
  const std::optional<PreTokenizerKind> pre_kind = pre_tokenizer_from_name(pre);
  if (!pre_kind) {
    fail(file, "pre-tokenizer (tokenizer.ggml.pre) '" + pre + "' is not supported; supported: " +
                   supported_pre_tokenizers());
  }

  const std::vector<std::string_view>& texts = file.get_string_array("tokenizer.ggml.tokens");
  const size_t n = texts.size();
  if (n == 0 || n > size_t(INT32_MAX)) fail(file, "tokenizer.ggml.tokens has " + std::to_string(n) + " entries");
  std::vector<int64_t> types(n, NORMAL);  // llama.cpp treats a file without types as all NORMAL
  if (file.has("tokenizer.ggml.token_type")) {
    types = file.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != n) {
      fail(file, "tokenizer.ggml.token_type has " + std::to_string(types.size()) + " entries for " +
                     std::to_string(n) + " tokens");
    }
  }

  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  tok->pre_kind_ = *pre_kind;
  tok->pre_name_ = pre;
  tok->ignore_merges_ = *pre_kind == PreTokenizerKind::Llama3;
  tok->bytes_.resize(n);
  tok->kinds_.assign(n, Kind::Special);

  // Byte-level text -> id of the NORMAL tokens (the last one wins on duplicates, as in llama.cpp).
  std::unordered_map<std::string_view, int32_t> by_text;
  by_text.reserve(n);
  std::vector<bool> text_candidate(n, false);
  for (size_t id = 0; id < n; ++id) {
    const int64_t type = types[id];
    if (type < UNDEFINED || type > BYTE) {
      fail(file, "token " + std::to_string(id) + " '" + show(texts[id]) + "' has unknown token type " +
                     std::to_string(type));
    }
    if (type == NORMAL || type == UNDEFINED) {
      tok->kinds_[id] = Kind::Normal;
      if (!byte_level::decode(texts[id], tok->bytes_[id])) {
        tok->bytes_[id] = std::string(texts[id]);  // not byte-level text: BPE never reaches it; show it as is
      } else {
        by_text.insert_or_assign(texts[id], int32_t(id));
      }
    } else {
      tok->bytes_[id] = std::string(texts[id]);  // added tokens are stored verbatim
      tok->kinds_[id] = type == USER_DEFINED ? Kind::TextAdded : Kind::Special;
      text_candidate[id] = true;
    }
  }

  // Every byte needs a token. DeepSeek-Coder has no NORMAL token for the 13 bytes that never occur in
  // UTF-8 (0xC0, 0xC1, 0xF5-0xFF) but USER_DEFINED tokens with the same text; llama.cpp's lookup by text
  // would find those, so we use them (only text that is not valid UTF-8 can reach them).
  for (int b = 0; b < 256; ++b) {
    const std::string text = byte_level::encode(std::string_view(reinterpret_cast<const char*>(&b), 1));
    auto it = by_text.find(text);
    int32_t id = it != by_text.end() ? it->second : -1;
    for (size_t j = 0; id < 0 && j < n; ++j) {
      if (texts[j] == text) id = int32_t(j);
    }
    if (id < 0) fail(file, "the vocabulary has no token for byte " + std::to_string(b));
    tok->byte_token_[b] = id;
  }

  const std::vector<std::string_view>& merges = file.get_string_array("tokenizer.ggml.merges");
  tok->merges_ = MergeTable(merges.size());
  std::string joined;
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string_view m = merges[i];
    const size_t sp = m.find(' ', 1);  // from 1: a merge may start with a space character (llama.cpp)
    if (sp == std::string_view::npos) {
      fail(file, "tokenizer.ggml.merges[" + std::to_string(i) + "] '" + show(m) + "' is not two tokens separated by a space");
    }
    const std::string_view a = m.substr(0, sp), b = m.substr(sp + 1);
    joined.assign(a);
    joined += b;
    auto ia = by_text.find(a), ib = by_text.find(b), ij = by_text.find(joined);
    if (ia == by_text.end() || ib == by_text.end() || ij == by_text.end()) {
      const std::string_view missing = ia == by_text.end() ? a : ib == by_text.end() ? b : std::string_view(joined);
      fail(file, "tokenizer.ggml.merges[" + std::to_string(i) + "] '" + show(m) + "': '" + show(missing) +
                     "' is not a token of the vocabulary");
    }
    tok->merges_.insert(ia->second, ib->second, Merge{int32_t(i), ij->second});
  }

  tok->specials_ = find_special_tokens(file, texts, text_candidate, *pre_kind);

  // USER_DEFINED words are matched in text unless they look like markers or have a role.
  const SpecialTokens& s = tok->specials_;
  for (int32_t role : {s.bos, s.eos, s.eot, s.eom, s.pad, s.fim_pre, s.fim_suf, s.fim_mid, s.fim_pad, s.fim_rep, s.fim_sep}) {
    if (role >= 0 && tok->kinds_[role] == Kind::TextAdded) tok->kinds_[role] = Kind::Special;
  }
  for (int32_t id : s.eog) {
    if (tok->kinds_[id] == Kind::TextAdded) tok->kinds_[id] = Kind::Special;
  }
  for (size_t id = 0; id < n; ++id) {
    if (tok->kinds_[id] != Kind::TextAdded) continue;
    if (texts[id].empty() || looks_like_marker(texts[id])) {
      tok->kinds_[id] = Kind::Special;
      continue;
    }
    tok->added_.emplace_back(std::string(texts[id]), int32_t(id));
    tok->added_first_byte_[uint8_t(texts[id][0])] = true;
  }
  // Longest first, so the first candidate that matches at a position is the longest; lower id on ties.
  std::stable_sort(tok->added_.begin(), tok->added_.end(),
                   [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });

  if (tok->ignore_merges_) {
    tok->normal_index_.reserve(by_text.size());
    for (const auto& [text, id] : by_text) tok->normal_index_.emplace(tok->bytes_[id], id);
  }

  Sha256 h;
  h.update("frspec-tokenizer-v1\n");
  h.update(pre);
  h.update("\n");
  for (std::string_view t : texts) {
    const uint32_t len = uint32_t(t.size());
    const uint8_t le[4] = {uint8_t(len), uint8_t(len >> 8), uint8_t(len >> 16), uint8_t(len >> 24)};
    h.update(le, 4);
    h.update(t);
  }
  tok->fingerprint_ = h.hex_digest();
  return tok;
}

}  // namespace frspec
