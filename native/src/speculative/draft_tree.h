// The drafted tokens of one speculative step: a tree hanging below the last committed token (the root,
// which is not stored). A chain is a tree where every node's parent is the node before it.
#pragma once
#include <cstdint>
#include <vector>

namespace frspec {

struct DraftTree {
  std::vector<int32_t> token;   // drafted token of each node
  std::vector<int32_t> parent;  // parent node index, -1 for the root's children; parents come first
  std::vector<int32_t> depth;   // 1 for the root's children
  std::vector<float> score;     // cumulative draft log-probability (EAGLE-2 ranks nodes by it)

  int size() const { return int(token.size()); }
  void clear() { token.clear(); parent.clear(); depth.clear(); score.clear(); }
  int add(int32_t tok, int32_t parent_node, float cumulative_logprob);

  // The verifier evaluates n+1 rows: row 0 is the root (the last committed token, whose logits predict depth 1)
  // and row i+1 is node i. mask[r*(n+1) + c] = 1 when row c is row r or one of its ancestors.
  void verify_mask(std::vector<uint8_t>& mask) const;
  // RoPE position offsets of the verify rows relative to the root's position (root 0, node i depth[i]).
  void verify_positions(int32_t root_pos, std::vector<int32_t>& pos) const;
  // The children of `node` (-1 = root) in insertion order.
  void children(int node, std::vector<int32_t>& out) const;
};

}  // namespace frspec
