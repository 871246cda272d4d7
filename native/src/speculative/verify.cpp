#include "speculative/verify.h"

#include <algorithm>
#include <vector>

#include "common/thread_scratch.h"

namespace frspec {

float SparseDist::prob_of(int32_t id) const {
  if (!ids) return id >= 0 && id < n ? probs[id] : 0.f;
  for (int i = 0; i < n; ++i)
    if (ids[i] == id) return probs[i];
  return 0.f;
}

int32_t sample_from(const float* probs, int vocab, double u) {
  double acc = 0;
  int32_t last_positive = 0;
  for (int i = 0; i < vocab; ++i) {
    if (probs[i] <= 0) continue;
    acc += probs[i];
    last_positive = i;
    if (u < acc) return i;
  }
  return last_positive;  // rounding left u just above the total: the last token with mass
}

void verify_walk(const DraftTree& tree, const std::function<int32_t(int row)>& pick, VerifyResult& out) {
  out.accepted_nodes.clear();
  out.tokens.clear();
  thread_local ThreadScratch<std::vector<int32_t>> kids_scratch;  // common/thread_scratch.h: why
  std::vector<int32_t>& kids = kids_scratch.get();
  int node = -1;
  for (;;) {
    const int32_t want = pick(node + 1);
    tree.children(node, kids);
    int next = -1;
    for (int32_t k : kids)
      if (tree.token[k] == want) { next = k; break; }
    out.tokens.push_back(want);
    if (next < 0) return;
    out.accepted_nodes.push_back(next);
    node = next;
  }
}

void verify_greedy(const DraftTree& tree, const int32_t* argmax_rows, VerifyResult& out) {
  verify_walk(tree, [&](int row) { return argmax_rows[row]; }, out);
}

void verify_tree_sampling(const DraftTree& tree, const float* p_rows, int vocab, std::mt19937_64& rng,
                          VerifyResult& out) {
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  verify_walk(tree, [&](int row) { return sample_from(p_rows + size_t(row) * vocab, vocab, uni(rng)); }, out);
}

void verify_chain_sampling(const int32_t* draft, const SparseDist* q, int n, const float* p_rows, int vocab,
                           std::mt19937_64& rng, VerifyResult& out) {
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  out.accepted_nodes.clear();
  out.tokens.clear();
  for (int i = 0; i < n; ++i) {
    const float* p = p_rows + size_t(i) * vocab;
    const int32_t x = draft[i];
    const double px = p[x], qx = q[i].prob_of(x);
    if (qx > 0 && uni(rng) * qx < px) {  // accept with probability min(1, p/q)
      out.accepted_nodes.push_back(i);
      out.tokens.push_back(x);
      continue;
    }
    // Rejected: draw from the residual norm(max(0, p - q)). q is sparse, so start from p and subtract.
    thread_local ThreadScratch<std::vector<float>> residual_scratch;  // reused: nothing allocated per token once warm
    std::vector<float>& residual = residual_scratch.get();
    residual.assign(p, p + vocab);
    if (q[i].ids) {
      for (int j = 0; j < q[i].n; ++j) residual[q[i].ids[j]] = std::max(0.f, residual[q[i].ids[j]] - q[i].probs[j]);
    } else {
      for (int j = 0; j < q[i].n && j < vocab; ++j) residual[j] = std::max(0.f, residual[j] - q[i].probs[j]);
    }
    double total = 0;
    for (float r : residual) total += r;
    if (total <= 0) {  // p == q up to rounding: the residual is undefined, and p itself is the right law
      out.tokens.push_back(sample_from(p, vocab, uni(rng)));
      return;
    }
    out.tokens.push_back(sample_from(residual.data(), vocab, uni(rng) * total));
    return;
  }
  // Every draft accepted: the bonus token comes from the last row.
  out.tokens.push_back(sample_from(p_rows + size_t(n) * vocab, vocab, uni(rng)));
}

}  // namespace frspec
