#include "tokenizer/pretokenizer.h"

#include "tokenizer/unicode.h"

namespace frspec {
namespace {

using unicode::Char;
using unicode::LETTER;
using unicode::NUMBER;
using unicode::PUNCTUATION;
using unicode::WHITESPACE;

// The character at byte `p` of [0, n); past the end it is a zero-length character with no flags.
inline Char at(const uint8_t* s, size_t p, size_t n) {
  if (p >= n) return {0, 0xFFFFFFFF, 0};
  return unicode::char_at(s + p, n - p);
}

inline uint8_t ascii_lower(uint8_t b) { return (b >= 'A' && b <= 'Z') ? uint8_t(b + 32) : b; }

}  // namespace

std::optional<PreTokenizerKind> pre_tokenizer_from_name(std::string_view name) {
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3") return PreTokenizerKind::Llama3;
  if (name == "qwen2" || name == "deepseek-r1-qwen") return PreTokenizerKind::Qwen2;
  if (name == "deepseek-coder") return PreTokenizerKind::DeepseekCoder;
  return std::nullopt;
}

const char* supported_pre_tokenizers() {
  return "qwen2, deepseek-r1-qwen, llama-bpe, llama3, llama-v3, deepseek-coder";
}

// The regex (llama.cpp's case-insensitive-free spelling of the tokenizer.json pattern):
//   (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with D = 3 (Llama-3) or 1 (Qwen2). The branches below are the alternatives in order, written as
// llama.cpp's unicode_regex_split_custom_llama3 writes them (leftmost alternative wins, greedy runs).
size_t gpt4_style_piece_end(std::string_view text, size_t pos, int max_digits) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  const Char c = at(s, pos, n);
  const size_t after_c = pos + c.len;

  // '[sS] '[tT] '[mM] '[dD] '[rR][eE] '[vV][eE] '[lL][lL]
  if (s[pos] == '\'' && pos + 1 < n) {
    const uint8_t c1 = ascii_lower(s[pos + 1]);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return pos + 2;
    if (pos + 2 < n) {
      const uint8_t c2 = ascii_lower(s[pos + 2]);
      if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return pos + 3;
    }
  }

  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!(s[pos] == '\r' || s[pos] == '\n' || (c.flags & NUMBER))) {
    if ((c.flags & LETTER) || (at(s, after_c, n).flags & LETTER)) {
      size_t p = after_c;
      for (Char x = at(s, p, n); x.flags & LETTER; x = at(s, p, n)) p += x.len;
      return p;
    }
  }

  // \p{N}{1,D}
  if (c.flags & NUMBER) {
    size_t p = pos;
    int digits = 0;
    for (Char x = c; (x.flags & NUMBER) && digits < max_digits; x = at(s, p, n)) {
      p += x.len;
      ++digits;
    }
    return p;
  }

  // ' '?[^\s\p{L}\p{N}]+[\r\n]*
  const Char c2 = s[pos] == ' ' ? at(s, after_c, n) : c;  // past the end: no flags, like llama.cpp
  if (!(c2.flags & (WHITESPACE | LETTER | NUMBER))) {
    size_t p = pos + (s[pos] == ' ' ? 1 : 0);
    for (Char x = at(s, p, n); x.len && !(x.flags & (WHITESPACE | LETTER | NUMBER)); x = at(s, p, n)) p += x.len;
    while (p < n && (s[p] == '\r' || s[p] == '\n')) ++p;
    return p;
  }

  // \s*[\r\n]+ | \s+(?!\S) | \s+ : one look at the whole whitespace run decides.
  size_t p = pos, last_ws_start = pos, end_of_last_newline = 0;
  size_t count = 0;
  for (Char x = c; x.flags & WHITESPACE; x = at(s, p, n)) {
    last_ws_start = p;
    p += x.len;
    if (s[last_ws_start] == '\r' || s[last_ws_start] == '\n') end_of_last_newline = p;
    ++count;
  }
  if (end_of_last_newline) return end_of_last_newline;  // \s*[\r\n]+
  if (count > 1 && p < n) return last_ws_start;         // \s+(?!\S): leave the last space to the next word
  if (count > 0) return p;                              // \s+
  return after_c;                                       // no alternative matched: a single character
}

namespace {

// deepseek-coder: the Hugging Face pre-tokenizer is a Sequence of isolating splits, each applied to the
// pieces of the previous one (matches and the gaps between them both become pieces):
//   [\r\n]   \s?\p{L}+   \s?\p{P}+   [一-龥ࠀ-一가-퟿]+   \p{N} (Digits, individual)
// then byte-level BPE. llama.cpp runs the same five regexes in sequence.
constexpr int kDeepseekStages = 5;

bool is_cjk(uint32_t cp) { return (cp >= 0x0800 && cp <= 0x9FA5) || (cp >= 0xAC00 && cp <= 0xD7FF); }

// End of the match of stage `stage` at byte p of [.., n), or 0 when the stage's regex does not match here.
size_t deepseek_match(int stage, const uint8_t* s, size_t p, size_t n) {
  const Char c = at(s, p, n);
  switch (stage) {
    case 0:  // [\r\n]
      return (s[p] == '\r' || s[p] == '\n') ? p + 1 : 0;
    case 1:    // \s?\p{L}+
    case 2: {  // \s?\p{P}+
      const uint8_t cls = stage == 1 ? LETTER : PUNCTUATION;
      size_t q = p;
      if (c.flags & WHITESPACE) {
        if (!(at(s, p + c.len, n).flags & cls)) return 0;
        q = p + c.len;
      } else if (!(c.flags & cls)) {
        return 0;
      }
      for (Char x = at(s, q, n); x.flags & cls; x = at(s, q, n)) q += x.len;
      return q;
    }
    case 3: {  // [一-龥ࠀ-一가-퟿]+
      size_t q = p;
      for (Char x = c; x.len && is_cjk(x.cp); x = at(s, q, n)) q += x.len;
      return q > p ? q : 0;
    }
    default:  // \p{N}, one character at a time
      return (c.flags & NUMBER) ? p + c.len : 0;
  }
}

void deepseek_split(int stage, const uint8_t* s, size_t begin, size_t end, PieceSink& sink) {
  if (stage == kDeepseekStages) {
    sink(begin, end);
    return;
  }
  // The regex sees only this piece: characters are decoded with `end` as the end of the text.
  size_t gap = begin, p = begin;
  while (p < end) {
    const size_t m = deepseek_match(stage, s + 0, p, end);
    if (m) {
      if (gap < p) deepseek_split(stage + 1, s, gap, p, sink);
      deepseek_split(stage + 1, s, p, m, sink);
      p = gap = m;
    } else {
      p += at(s, p, end).len;
    }
  }
  if (gap < end) deepseek_split(stage + 1, s, gap, end, sink);
}

}  // namespace

void pre_tokenize(PreTokenizerKind kind, std::string_view text, PieceSink sink) {
  switch (kind) {
    case PreTokenizerKind::Llama3:
    case PreTokenizerKind::Qwen2: {
      const int digits = kind == PreTokenizerKind::Llama3 ? 3 : 1;
      for (size_t pos = 0; pos < text.size();) {
        const size_t end = gpt4_style_piece_end(text, pos, digits);
        sink(pos, end);
        pos = end;
      }
      return;
    }
    case PreTokenizerKind::DeepseekCoder:
      deepseek_split(0, reinterpret_cast<const uint8_t*>(text.data()), 0, text.size(), sink);
      return;
  }
}

}  // namespace frspec
