// The byte-level BPE tokenizer of a GGUF model (`tokenizer.ggml.model = gpt2`): Qwen2 / Qwen2.5-Coder,
// Llama-3, DeepSeek-Coder. Exactly llama.cpp's (and Hugging Face's) token ids for valid UTF-8 text.
//
// Text is always plain text: encode() never produces a control token, so `<|fim_prefix|>` typed in a file
// stays ordinary characters. Special tokens are added by id (specials()). The one exception are
// USER_DEFINED vocabulary entries that are ordinary words, not markers (DeepSeek-Coder adds "ü", "õ", ...):
// Hugging Face and llama.cpp match those in text, so we do too; any entry that looks like a marker
// (`<...>` or `[...]`) or has a role (BOS, EOS, FIM, ...) never matches.
//
// Bytes that are not valid UTF-8 are encoded as their byte tokens, so decode(encode(s)) == s for any s
// (llama.cpp would replace them with U+FFFD first; Hugging Face cannot take them at all). The one
// exception: a vocabulary without a byte token for a byte that never occurs in UTF-8 (DeepSeek-Coder's
// 0xC0, 0xC1, 0xF5-0xFF) encodes it as the added token with the same text, as llama.cpp's lookup would.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/piece_cache.h"
#include "tokenizer/pretokenizer.h"

namespace frspec {

class GgufFile;

// Token ids with a role; -1 when the model has none.
struct SpecialTokens {
  int32_t bos = -1, eos = -1, eot = -1, eom = -1, pad = -1;
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
  bool add_bos = false;         // whether prompts of this model start with BOS
  std::vector<int32_t> eog;     // every id that ends a generation (EOS, EOT, EOM, FIM pad/rep/sep, ...)
};

class Tokenizer {
 public:
  enum class Kind : uint8_t {
    Normal,     // byte-level text, reached by BPE
    TextAdded,  // a USER_DEFINED word matched verbatim in text (see above)
    Special,    // CONTROL, marker-like USER_DEFINED, UNUSED, UNKNOWN: only ever added by id
  };

  // Reads tokens, merges, token types and special ids from the GGUF metadata. Throws std::runtime_error
  // naming the file and the problem for a non-gpt2 tokenizer, an unknown pre-tokenizer or broken tables.
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& file);

  std::vector<int32_t> encode(std::string_view text) const;
  void encode_append(std::string_view text, std::vector<int32_t>& out) const;
  // Adds one to counts[id] for every token of text (counts has n_vocab() entries); returns the number of
  // tokens. What the vocabulary builder uses: nothing is allocated once the thread's buffers are warm.
  size_t count_into(std::string_view text, uint32_t* counts) const;

  // The exact bytes of the tokens, concatenated (special tokens as their text). Throws std::out_of_range
  // for an id outside [0, n_vocab()).
  std::string decode(const int32_t* ids, size_t n) const;
  std::string decode(const std::vector<int32_t>& ids) const { return decode(ids.data(), ids.size()); }
  const std::string& token_bytes(int32_t id) const;
  bool is_special(int32_t id) const;  // a Kind::Special token
  Kind kind(int32_t id) const;
  int32_t n_vocab() const { return int32_t(bytes_.size()); }
  const SpecialTokens& specials() const { return specials_; }
  // sha256 (hex) of "frspec-tokenizer-v1\n" + pre() + "\n" + for each token in id order: its GGUF text
  // length as u32 little-endian, then the text. Stable across runs, builds and machines.
  std::string fingerprint() const { return fingerprint_; }
  std::string pre() const { return pre_name_; }

 private:
  Tokenizer() = default;
  void encode_plain(std::string_view text, std::vector<int32_t>& out) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  // The next USER_DEFINED word in text at or after `from` (leftmost, then longest); false when none.
  bool next_added(std::string_view text, size_t from, size_t& pos, size_t& len, int32_t& id) const;

  std::vector<std::string> bytes_;  // raw bytes of each token
  std::vector<Kind> kinds_;
  int32_t byte_token_[256];
  MergeTable merges_;
  PreTokenizerKind pre_kind_ = PreTokenizerKind::Qwen2;
  std::string pre_name_;
  bool ignore_merges_ = false;  // Llama-3: a piece that is itself a token is that token
  std::unordered_map<std::string, int32_t, PieceCache::HashOf, std::equal_to<>> normal_index_;  // ignore_merges
  std::vector<std::pair<std::string, int32_t>> added_;         // TextAdded words, longest first
  bool added_first_byte_[256] = {};
  SpecialTokens specials_;
  std::string fingerprint_;
  PieceCache cache_;  // per-thread tables inside: encode stays const and thread-safe

  friend class TokenizerLoader;
};

// Decodes a stream of token ids into text without ever splitting a UTF-8 character: bytes of a character
// that continues in the next token are held back. Output is always valid UTF-8: a byte sequence that can
// no longer become valid is replaced by U+FFFD at once, an incomplete one at the end only on flush().
// push() outputs concatenated with flush() equal a WHATWG decoder's reading of all the bytes.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(tok) {}
  std::string push(int32_t id);   // throws std::out_of_range like Tokenizer::decode
  std::string flush();
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tok_;
  std::string pending_;
};

}  // namespace frspec
