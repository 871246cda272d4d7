// Pre-tokenizers: split text into the pieces that BPE then encodes one at a time, exactly as llama.cpp
// (and Hugging Face tokenizers) do for the `tokenizer.ggml.pre` values we support. Hand-written matchers
// over UTF-8 with the Unicode class table; no std::regex (it is both slow and subtly different).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace frspec {

enum class PreTokenizerKind {
  Llama3,         // "llama-bpe" / "llama3" / "llama-v3": the GPT-4 style regex with \p{N}{1,3}
  Qwen2,          // "qwen2" / "deepseek-r1-qwen": the same regex with single digits \p{N}
  DeepseekCoder,  // "deepseek-coder": a sequence of five isolating splits
};

// The kind for a `tokenizer.ggml.pre` value, or nullopt when we do not implement it.
std::optional<PreTokenizerKind> pre_tokenizer_from_name(std::string_view name);
// A comma-separated list of the names accepted above, for error messages.
const char* supported_pre_tokenizers();

// Receives each piece as a byte range [begin, end) of the text; pieces are non-empty, in order, and cover
// the text exactly. A function pointer plus context, so the hot loop allocates nothing.
struct PieceSink {
  void* ctx;
  void (*fn)(void* ctx, size_t begin, size_t end);
  void operator()(size_t begin, size_t end) const { fn(ctx, begin, end); }
  template <typename F>
  static PieceSink of(F& f) {
    return {&f, [](void* c, size_t b, size_t e) { (*static_cast<F*>(c))(b, e); }};
  }
};

void pre_tokenize(PreTokenizerKind kind, std::string_view text, PieceSink sink);

// For Llama3/Qwen2: the end of the piece that starts at byte `pos` (< text.size()). The regex of these
// pre-tokenizers is a function of the position alone, which lets encode() walk the text without a list.
size_t gpt4_style_piece_end(std::string_view text, size_t pos, int max_digits);

}  // namespace frspec
