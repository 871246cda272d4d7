#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/unicode.h"

namespace frspec::byte_level {
namespace {

struct Tables {
  std::array<uint32_t, 256> to_char{};
  std::array<int16_t, 512> to_byte{};  // every alphabet codepoint is below U+0144
  Tables() {
    to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_char[b] = printable ? uint32_t(b) : next++;
      to_byte[to_char[b]] = int16_t(b);
    }
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else {  // the alphabet stays below U+0800
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  }
}

}  // namespace

uint32_t char_of_byte(uint8_t b) { return tables().to_char[b]; }

int byte_of_char(uint32_t cp) { return cp < 512 ? tables().to_byte[cp] : -1; }

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(out, char_of_byte(b));
  return out;
}

bool decode(std::string_view text, std::string& out) {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    const unicode::Utf8Seq seq = unicode::utf8_next(p + i, text.size() - i);
    if (seq.kind != unicode::Utf8Seq::VALID) return false;
    const int b = byte_of_char(seq.cp);
    if (b < 0) return false;
    out += char(b);
    i += seq.len;
  }
  return true;
}

}  // namespace frspec::byte_level
