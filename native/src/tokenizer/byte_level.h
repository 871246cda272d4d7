// GPT-2's byte-level alphabet: every byte is shown as one printable Unicode character in the token texts
// of a `gpt2` vocabulary (bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF as themselves, the other 68 bytes as
// U+0100 onwards, in order). Token texts are stored in this form in GGUF; we work on raw bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace frspec::byte_level {

// The codepoint that stands for byte b.
uint32_t char_of_byte(uint8_t b);
// The byte a codepoint stands for, or -1 when it is not part of the alphabet.
int byte_of_char(uint32_t cp);
// The byte-level form (UTF-8) of raw bytes.
std::string encode(std::string_view bytes);
// Raw bytes of a byte-level text. Returns false (leaving `out` partial) when some character is not part
// of the alphabet or the text is not valid UTF-8.
bool decode(std::string_view text, std::string& out);

}  // namespace frspec::byte_level
