// Which token ids have a role (BOS, EOS, EOT, FIM, ...): from the GGUF keys first, then, for the roles that
// older converters did not write, from well-known token texts, as llama.cpp does.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace frspec {

// texts: the GGUF token texts; text_candidate[id]: whether a token may be recognised by its text (only
// non-NORMAL tokens: an ordinary vocabulary word such as "<PRE>" must never become a FIM marker).
// Ids outside the vocabulary in the keys are ignored (as llama.cpp does). Where several tokens carry a
// well-known text, the lowest id wins, so the choice is deterministic.
SpecialTokens find_special_tokens(const GgufFile& file, const std::vector<std::string_view>& texts,
                                  const std::vector<bool>& text_candidate, PreTokenizerKind pre);

}  // namespace frspec
