#include "tokenizer/special_tokens.h"

#include <algorithm>
#include <initializer_list>

#include "gguf/gguf.h"

namespace frspec {
namespace {

// The texts llama.cpp (llama-vocab.cpp) recognises for each role when the GGUF has no key for it.
const std::initializer_list<std::string_view> kEotTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>",
    "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
const std::initializer_list<std::string_view> kEomTexts = {"<|eom_id|>"};
const std::initializer_list<std::string_view> kFimPreTexts = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>"};
const std::initializer_list<std::string_view> kFimSufTexts = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>"};
const std::initializer_list<std::string_view> kFimMidTexts = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>"};
const std::initializer_list<std::string_view> kFimPadTexts = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>"};
const std::initializer_list<std::string_view> kFimRepTexts = {
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"};
const std::initializer_list<std::string_view> kFimSepTexts = {"<|file_sep|>", "<fim-file>", "<file_sep>"};
// Texts that end a generation wherever they appear (llama.cpp's EOG list).
const std::initializer_list<std::string_view> kEogTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
    "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>"};

}  // namespace

SpecialTokens find_special_tokens(const GgufFile& file, const std::vector<std::string_view>& texts,
                                  const std::vector<bool>& text_candidate, PreTokenizerKind pre) {
  const int64_t n = int64_t(texts.size());
  auto from_key = [&](std::string_view key) -> int32_t {
    const GgufValue* v = file.find(key);
    if (!v) return -1;
    const int64_t id = v->type == GgufType::I8 || v->type == GgufType::I16 || v->type == GgufType::I32 ||
                               v->type == GgufType::I64
                           ? v->i
                           : int64_t(file.get_uint(key));  // throws, naming the key, for a non-integer
    return id >= 0 && id < n ? int32_t(id) : -1;
  };
  auto from_text = [&](std::initializer_list<std::string_view> candidates) -> int32_t {
    for (int64_t id = 0; id < n; ++id) {
      if (!text_candidate[id]) continue;
      if (std::find(candidates.begin(), candidates.end(), texts[id]) != candidates.end()) return int32_t(id);
    }
    return -1;
  };
  auto key_or_text = [&](std::initializer_list<std::string_view> keys,
                         std::initializer_list<std::string_view> candidates) -> int32_t {
    for (std::string_view k : keys) {
      if (int32_t id = from_key(k); id >= 0) return id;
    }
    return candidates.size() ? from_text(candidates) : -1;
  };

  SpecialTokens s;
  s.bos = from_key("tokenizer.ggml.bos_token_id");
  s.eos = from_key("tokenizer.ggml.eos_token_id");
  s.pad = from_key("tokenizer.ggml.padding_token_id");
  s.eot = key_or_text({"tokenizer.ggml.eot_token_id"}, kEotTexts);
  s.eom = key_or_text({"tokenizer.ggml.eom_token_id"}, kEomTexts);
  s.fim_pre = key_or_text({"tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id"}, kFimPreTexts);
  s.fim_suf = key_or_text({"tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id"}, kFimSufTexts);
  s.fim_mid = key_or_text({"tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id"}, kFimMidTexts);
  s.fim_pad = key_or_text({"tokenizer.ggml.fim_pad_token_id"}, kFimPadTexts);
  s.fim_rep = key_or_text({"tokenizer.ggml.fim_rep_token_id"}, kFimRepTexts);
  s.fim_sep = key_or_text({"tokenizer.ggml.fim_sep_token_id"}, kFimSepTexts);
  s.add_bos = file.get_bool("tokenizer.ggml.add_bos_token", pre == PreTokenizerKind::Llama3);

  for (int32_t id : {s.eos, s.eot, s.eom, s.fim_pad, s.fim_rep, s.fim_sep}) {
    if (id >= 0) s.eog.push_back(id);
  }
  for (int64_t id = 0; id < n; ++id) {
    if (text_candidate[id] && std::find(kEogTexts.begin(), kEogTexts.end(), texts[id]) != kEogTexts.end())
      s.eog.push_back(int32_t(id));
  }
  std::sort(s.eog.begin(), s.eog.end());
  s.eog.erase(std::unique(s.eog.begin(), s.eog.end()), s.eog.end());
  return s;
}

}  // namespace frspec
