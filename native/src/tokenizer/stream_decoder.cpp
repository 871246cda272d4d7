// StreamDecoder: emits complete UTF-8 characters only, holding back a character split across tokens.
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace frspec {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Moves the decodable prefix of `pending` to `out`: valid characters as they are, sequences that can no
// longer become valid as one U+FFFD per maximal subpart. With at_end, an incomplete tail is replaced too;
// otherwise it stays in `pending` for the next token to complete.
void drain(std::string& pending, std::string& out, bool at_end) {
  const auto* p = reinterpret_cast<const uint8_t*>(pending.data());
  const size_t n = pending.size();
  size_t i = 0;
  while (i < n) {
    const unicode::Utf8Seq s = unicode::utf8_next(p + i, n - i);
    if (s.kind == unicode::Utf8Seq::VALID) {
      out.append(pending, i, s.len);
    } else if (s.kind == unicode::Utf8Seq::INVALID || at_end) {
      out += kReplacement;
    } else {
      break;  // incomplete: wait for more bytes
    }
    i += s.len;
  }
  pending.erase(0, i);
}

}  // namespace

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.token_bytes(id);
  std::string out;
  drain(pending_, out, false);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  drain(pending_, out, true);
  return out;
}

}  // namespace frspec
