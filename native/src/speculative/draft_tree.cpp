#include "speculative/draft_tree.h"

#include <stdexcept>

namespace frspec {

int DraftTree::add(int32_t tok, int32_t parent_node, float cumulative_logprob) {
  if (parent_node < -1 || parent_node >= size()) throw std::invalid_argument("DraftTree::add: parent must be an earlier node");
  token.push_back(tok);
  parent.push_back(parent_node);
  depth.push_back(parent_node < 0 ? 1 : depth[parent_node] + 1);
  score.push_back(cumulative_logprob);
  return size() - 1;
}

void DraftTree::verify_mask(std::vector<uint8_t>& mask) const {
  const int rows = size() + 1;
  mask.assign(size_t(rows) * rows, 0);
  for (int r = 0; r < rows; ++r) {
    mask[size_t(r) * rows] = 1;  // every row sees the root
    for (int node = r - 1; node >= 0; node = parent[node]) mask[size_t(r) * rows + node + 1] = 1;
  }
}

void DraftTree::verify_positions(int32_t root_pos, std::vector<int32_t>& pos) const {
  pos.resize(size_t(size()) + 1);
  pos[0] = root_pos;
  for (int i = 0; i < size(); ++i) pos[i + 1] = root_pos + depth[i];
}

void DraftTree::children(int node, std::vector<int32_t>& out) const {
  out.clear();
  for (int i = 0; i < size(); ++i)
    if (parent[i] == node) out.push_back(i);
}

}  // namespace frspec
