#include "speculative/lookup.h"

#include <algorithm>

namespace frspec {

int lookup_draft(std::span<const int32_t> history, int min_ngram, int max_tokens, std::vector<int32_t>& out) {
  out.clear();
  const int h = int(history.size());
  if (min_ngram < 1 || max_tokens < 1) return 0;
  // A plain backward scan: contexts are a few thousand tokens, so one step costs a few microseconds,
  // far below one model evaluation; an index would have to be kept in step with every rollback.
  for (int n = std::min(kLookupMaxNgram, h - 1); n >= min_ngram; --n) {
    const int32_t* suffix = history.data() + (h - n);
    if (std::any_of(suffix, suffix + n, [](int32_t t) { return t < 0; })) continue;  // spans a separator
    for (int s = h - n - 1; s >= 0; --s) {
      if (!std::equal(suffix, suffix + n, history.data() + s)) continue;
      const int from = s + n;
      int len = std::min(max_tokens, h - from);
      // A continuation ends at a separator (an id < 0: ContextLookup's `recent`): it is never proposed.
      len = int(std::find_if(history.begin() + from, history.begin() + from + len, [](int32_t t) { return t < 0; }) -
                (history.begin() + from));
      if (len == 0) continue;
      out.assign(history.begin() + from, history.begin() + from + len);
      return len;
    }
  }
  return 0;
}

int ContextLookup::propose(std::span<const int32_t> committed, int32_t root, int min_ngram, int max_tokens,
                           std::vector<int32_t>& out, std::span<const int32_t> recent) {
  history_.assign(recent.begin(), recent.end());
  if (!recent.empty()) history_.push_back(-1);  // no n-gram spans the seam; the context's ids are never < 0
  history_.insert(history_.end(), committed.begin(), committed.end());
  history_.push_back(root);
  return lookup_draft(history_, min_ngram, max_tokens, out);
}

}  // namespace frspec
