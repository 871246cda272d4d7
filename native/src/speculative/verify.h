// Verification of a draft tree against the target's outputs for every verify row (see DraftTree): which
// drafted tokens are accepted, and the one extra token the target contributes. These rules are what keeps
// speculative decoding exact:
// - greedy: accept a child while it equals the target's argmax at its parent's row; the output is token for
//   token the target's plain greedy decoding.
// - sampling, tree (as CPM.cu/SGLang): at each row draw x from the TARGET distribution p and descend into the
//   child whose token is x; stop at the first miss and emit x. Every emitted token is a draw from p, so the
//   output distribution is exactly the target's whatever the drafter proposed.
// - sampling, chain with draft probabilities q (Leviathan et al.): accept x with probability min(1, p(x)/q(x)),
//   otherwise emit a draw from norm(max(0, p - q)). With FR-Spec q is zero outside the k ranked ids, and
//   the residual there equals p, so rare tokens stay reachable.
#pragma once
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "speculative/draft_tree.h"

namespace frspec {

struct VerifyResult {
  std::vector<int32_t> accepted_nodes;  // node indices along the accepted path, root first
  std::vector<int32_t> tokens;          // accepted tokens followed by the target's own next token
};

// The walk both tree rules share: from the root, pick(row) is the target's token at that verify row; descend
// into the child with that token until none matches. pick is called only for rows on the walked path, so
// the caller may compute the target's outputs lazily (VerifyLogits).
void verify_walk(const DraftTree& tree, const std::function<int32_t(int row)>& pick, VerifyResult& out);

// argmax_rows[r] = the target's argmax at verify row r (n+1 rows).
void verify_greedy(const DraftTree& tree, const int32_t* argmax_rows, VerifyResult& out);

// p_rows: n+1 rows of `vocab` target probabilities (already temperature / top-k / top-p processed, summing
// to 1). Uses one uniform draw per emitted token.
void verify_tree_sampling(const DraftTree& tree, const float* p_rows, int vocab, std::mt19937_64& rng,
                          VerifyResult& out);

// A draft distribution over a subset of ids (FR-Spec: the k ranked ids; full vocabulary: all ids).
struct SparseDist {
  const int32_t* ids = nullptr;  // nullptr = dense (id = index)
  const float* probs = nullptr;
  int n = 0;
  float prob_of(int32_t id) const;  // 0 for ids outside the subset
};

// Chain speculative sampling: draft[i] was sampled from q[i]; p_rows has n+1 rows.
void verify_chain_sampling(const int32_t* draft, const SparseDist* q, int n, const float* p_rows, int vocab,
                           std::mt19937_64& rng, VerifyResult& out);

// Draws an id from probabilities (summing to ~1) with one uniform number in [0, 1).
int32_t sample_from(const float* probs, int vocab, double u);

}  // namespace frspec
