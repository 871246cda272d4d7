// Context lookup ("prompt lookup decoding"), a free drafter for code. Code repeats itself: identifiers,
// call patterns, a line the suffix of a fill-in-the-middle prompt already shows, a loop the model is
// writing for the second time. So the tokens that followed the most recent earlier occurrence of the
// last few tokens are often what the target says next, and proposing them costs no model evaluation.
// The speculative loop owns this draft source (ContextLookup): it tries it first for a greedy chain
// (DraftShape::lookup) and runs the drafter only when the context has no match; verification is the same,
// so the output is unchanged.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace frspec {

constexpr int kLookupMaxNgram = 4;  // longest suffix tried; longer matches predict better, 4 rarely misses one

// The longest suffix of `history` (kLookupMaxNgram tokens down to min_ngram) that also occurs earlier in
// it, at its most recent earlier position: up to max_tokens of the tokens that followed that occurrence go
// to `out`, ending before an id < 0 (a separator: no suffix spans one, and an occurrence followed right by
// one is skipped). Returns how many (0: no suffix of min_ngram or more tokens occurs earlier).
int lookup_draft(std::span<const int32_t> history, int min_ngram, int max_tokens, std::vector<int32_t>& out);

// The draft source: the continuation of committed + root (the target's cached tokens and the token it
// emitted last), without a model evaluation. `recent` (optional) is searched too, as if it came before the
// context: the caller's earlier completions (while typing, consecutive keystrokes' completions mostly repeat
// each other, and the current prompt never holds the previous one's output). A match inside the context wins
// over an equally long one in `recent` (the most recent occurrence). Ids < 0 in `recent` match nothing: they
// separate its pieces, and one always separates it from the context.
class ContextLookup {
 public:
  // Up to max_tokens tokens into `out` (lookup_draft on recent + committed + root); returns how many (0: no match).
  int propose(std::span<const int32_t> committed, int32_t root, int min_ngram, int max_tokens, std::vector<int32_t>& out,
              std::span<const int32_t> recent = {});

 private:
  std::vector<int32_t> history_;  // committed + root, kept to reuse its memory
};

}  // namespace frspec
