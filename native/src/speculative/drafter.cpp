#include "speculative/drafter.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "speculative/lookup.h"  // kLookupMaxNgram

namespace frspec {

void DraftShape::validate() const {
  auto range = [](int v, int lo, int hi, const char* what) {
    if (v < lo || v > hi)
      throw std::invalid_argument(std::string(what) + " must be from " + std::to_string(lo) + " to " + std::to_string(hi) +
                                  ", got " + std::to_string(v));
  };
  range(lookup, 0, kLookupMaxNgram, "context lookup n-gram");
  range(lookup_tokens, 1, 32, "context lookup tokens");
  if (!tree) return range(chain, 1, 32, "chain length");
  range(depth, 1, 16, "tree depth");
  range(topk, 1, 32, "tree top-k");
  range(beam, 1, 32, "tree beam");
  range(budget, 1, 255, "tree node budget");
  if (beam * (depth - 1) > 240) throw std::invalid_argument("tree beam x depth is too large (at most 240 expanded nodes)");
}

Drafter::Drafter(std::unique_ptr<Context> ctx, std::unique_ptr<DraftHead> head, int d_model)
    : ctx_(std::move(ctx)), head_(std::move(head)), d_(d_model) {
  root_hidden_ = ctx_->backend().alloc(d_);
  batch_features_ = ctx_->backend().alloc(size_t(ctx_->params().max_batch) * d_);
}

Drafter::~Drafter() {
  Backend& b = ctx_->backend();
  for (float* p : {root_hidden_, node_hidden_, batch_features_}) b.free(p);
  if (chain_ids_) b.free_ids(chain_ids_);
}

void Drafter::ensure_nodes(int n) {
  if (n <= node_cap_) return;
  ctx_->backend().free(node_hidden_);
  node_hidden_ = ctx_->backend().alloc(size_t(n) * d_);
  node_cap_ = n;
}

EvalResult Drafter::run(std::span<const int32_t> tokens, const int32_t* positions, const uint8_t* mask,
                        const float* features, const int32_t* token_ids) {
  EvalRequest req;
  req.token_ids = token_ids;
  req.tokens = tokens;
  req.positions = positions;
  req.mask = mask;
  req.logits = LogitRows::None;  // the head is ours (DraftHead): only the hidden states are needed
  req.hidden = true;
  req.features = features;
  return ctx_->eval(req);
}

const float* Drafter::host_row(const float* logits, int i) {
  const int cols = head_->size();
  host_.resize(cols);
  ctx_->backend().to_host(host_.data(), logits + size_t(i) * cols, cols);
  return host_.data();
}

bool Drafter::read_inputs(int keep, const float* features, const std::atomic<bool>* cancel) {
  const int n = int(want_.size());
  ctx_->truncate(keep);
  if (n > ctx_->capacity()) throw ContextError("drafter: the sequence does not fit the draft context");
  const int chunk = ctx_->params().max_batch;
  for (int i = keep; i < n; i += chunk) {
    if (cancel && cancel->load(std::memory_order_relaxed)) return false;  // the batches read so far stay cached
    const int m = std::min(chunk, n - i);
    last_ = run(std::span<const int32_t>(want_).subspan(i, m), nullptr, nullptr,
                needs_features() ? features + size_t(i) * d_ : nullptr);
  }
  return true;
}

void Drafter::prefill(std::span<const int32_t> committed, const float* features, int window,
                      const std::atomic<bool>* cancel) {
  if (needs_features() && !features) throw std::invalid_argument("drafter: EAGLE needs the target's features");
  const int n = int(committed.size());
  if (window <= 0 || needs_features() || n <= window) {
    w0_ = 0;
  } else if (w0_ > n - window / 2 || n - w0_ > 2 * window) {
    w0_ = n - window;  // re-anchor; in between, the previous start (and the cache behind it) is kept
  }
  committed = committed.subspan(w0_);
  wanted_inputs(committed, 0, want_);
  want_.pop_back();  // the root is not known yet: the first draft() reads it
  const int keep = ctx_->common_prefix(want_);
  prefill_tokens_ = int(want_.size()) - keep;
  if (keep < int(want_.size())) read_inputs(keep, features, cancel);
}

void Drafter::catch_up(std::span<const int32_t> committed, int32_t root, const float* features) {
  if (w0_ >= int(committed.size())) w0_ = 0;  // a prompt that was not prefilled (and is shorter)
  wanted_inputs(committed.subspan(w0_), root, want_);
  if (want_.empty()) throw std::logic_error("drafter: nothing to read before drafting");
  const int n = int(want_.size());
  const int keep = std::min(ctx_->common_prefix(want_), n - 1);  // the last input is read again: its output is needed
  read_inputs(keep, features);
  ctx_->backend().copy_rows(root_hidden_, d_, last_.hidden + size_t(last_.n - 1) * d_, d_, 1, d_);
  base_ = ctx_->n_past();
}

void Drafter::draft(std::span<const int32_t> committed, int32_t root, const float* features, const DraftShape& shape,
                    int limit, float temperature, std::mt19937_64& rng, DraftTree& tree, DraftProbs* q) {
  tree.clear();
  if (q) {
    q->probs.clear();
    q->dists.clear();
  }
  if (needs_features() && !features) throw std::invalid_argument("drafter: EAGLE needs the target's features");
  catch_up(committed, root, features);
  // Room in the drafter's own cache for what drafting appends.
  limit = std::min(limit, ctx_->capacity() - base_ - 1);
  if (limit < 1) return;
  if (shape.tree) draft_tree(shape, limit, tree);
  else draft_chain(shape, limit, temperature, rng, tree, q);
}

void Drafter::draft_chain(const DraftShape& shape, int limit, float temperature, std::mt19937_64& rng, DraftTree& tree,
                          DraftProbs* q) {
  if (!(temperature > 0 && q)) return draft_chain_greedy(std::min(shape.chain, limit), tree);
  const int n = std::min(shape.chain, limit);
  ensure_nodes(1);
  const float* h = root_hidden_;
  const int32_t row0 = 0;
  for (int i = 0; i < n; ++i) {
    const float* row = host_row(head_->project(h, std::span<const int32_t>(&row0, 1)), 0);
    const int cols = head_->size();
    // Sample from q = softmax(row / T) over the head's columns and keep q for verification.
    std::vector<float>& p = q->probs.emplace_back(cols);
    const float mx = *std::max_element(row, row + cols);
    double s = 0;
    for (int c = 0; c < cols; ++c) s += (p[c] = float(std::exp(double(row[c] - mx) / temperature)));
    for (int c = 0; c < cols; ++c) p[c] = float(p[c] / s);
    const int col = sample_from(p.data(), cols, double(rng() >> 11) * 0x1.0p-53);
    const int32_t tok = head_->id(col);
    tree.add(tok, tree.size() - 1, 0.f);
    if (i + 1 == n) break;
    // Read the drafted token: a draft model appends it; EAGLE pairs it with its own last output feature.
    if (needs_features()) ctx_->backend().copy_rows(node_hidden_, d_, h, d_, 1, d_);
    EvalResult r = run(std::span<const int32_t>(&tree.token.back(), 1), nullptr, nullptr,
                       needs_features() ? node_hidden_ : nullptr);
    h = r.hidden;
  }
  for (auto& p : q->probs) q->dists.push_back(SparseDist{head_->ids(), p.data(), int(p.size())});
  if (!drafted_kv_reusable()) ctx_->truncate(base_);
}

// Greedy chain: each step's argmax (remapped to a token id) is written to backend memory, where the next
// step's embedding lookup reads it, so the n steps are queued back to back and the host waits once, for
// the n ids at the end (on a GPU: no round trip per drafted token). Same ids as an argmax on the host.
void Drafter::draft_chain_greedy(int n, DraftTree& tree) {
  Backend& b = ctx_->backend();
  if (!chain_ids_) chain_ids_ = b.alloc_ids(kMaxChain);
  queue_chain(n, chain_ids_);
  chain_host_.resize(n);
  b.read_ids(chain_host_.data(), chain_ids_, n);
  for (int i = 0; i < n; ++i) tree.add(chain_host_[i], tree.size() - 1, 0.f);
  drafted(std::span<const int32_t>(chain_host_).first(n));
}

int Drafter::draft_chain_queued(std::span<const int32_t> committed, int32_t root, const float* features, int chain,
                                int limit, int32_t* ids) {
  if (chain < 1 || chain > kMaxChain) throw std::invalid_argument("drafter: chain length must be from 1 to 32");
  if (needs_features() && !features) throw std::invalid_argument("drafter: EAGLE needs the target's features");
  catch_up(committed, root, features);
  const int n = std::min({chain, limit, ctx_->capacity() - base_ - 1});
  if (n >= 1) queue_chain(n, ids);
  return std::max(n, 0);
}

void Drafter::drafted(std::span<const int32_t> ids) {
  // A draft model's cache holds every drafted token but the last: it stays valid once they are accepted.
  if (drafted_kv_reusable()) ctx_->relabel(base_, ids.first(std::max<size_t>(ids.size(), 1) - 1));
  else ctx_->truncate(base_);
}

void Drafter::queue_chain(int n, int32_t* ids) {
  const int32_t placeholder = 0;
  const float* h = root_hidden_;
  for (int i = 0; i < n; ++i) {
    head_->argmax_id(h, ids + i);
    if (i + 1 == n) break;
    // Read the drafted token: a draft model appends it; EAGLE pairs it with its own last output feature,
    // passed in place (eval copies the features into its input before it overwrites its output rows).
    EvalResult r = run(std::span<const int32_t>(&placeholder, 1), nullptr, nullptr, needs_features() ? h : nullptr, ids + i);
    h = r.hidden;
  }
}

void Drafter::draft_tree(const DraftShape& shape, int limit, DraftTree& tree) {
  cands_.clear();
  const int32_t row0 = 0;
  const int cols = head_->size();
  // Each expanded row's top-k and log-sum-exp come back from the backend, one read back per level.
  const int k = std::min(shape.topk, cols);
  auto expand = [&](const float* logits, std::span<const int> parents, int depth) {
    const int n = int(parents.size());
    top_ids_.resize(size_t(n) * k);
    top_vals_.resize(size_t(n) * k);
    top_lse_.resize(n);
    ctx_->backend().topk_rows(logits, n, cols, k, top_ids_.data(), top_vals_.data(), top_lse_.data());
    for (int r = 0; r < n; ++r) {
      const int parent = parents[r];
      const float score = parent < 0 ? 0.f : cands_[parent].score;
      for (int i = 0; i < k; ++i)
        cands_.push_back(Cand{head_->id(top_ids_[size_t(r) * k + i]), parent, score + (top_vals_[size_t(r) * k + i] - top_lse_[r]), depth});
    }
  };
  const int no_parent = -1;
  expand(head_->project(root_hidden_, std::span<const int32_t>(&row0, 1)), std::span<const int>(&no_parent, 1), 1);
  ensure_nodes(shape.topk * (1 + shape.beam * shape.depth));

  size_t level_begin = 0;
  std::vector<int> order, batch, slot_of;
  std::vector<uint8_t> in_batch;
  for (int depth = 2; depth <= shape.depth; ++depth) {
    // Expand the `beam` most probable nodes of the last level.
    order.resize(cands_.size() - level_begin);
    std::iota(order.begin(), order.end(), int(level_begin));
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return cands_[a].score > cands_[b].score; });
    order.resize(std::min<size_t>(order.size(), shape.beam));
    const size_t level_end = cands_.size();
    // The batch: the expanded nodes and their ancestors, parents first, each attending its own path.
    in_batch.assign(cands_.size(), 0);
    for (int e : order)
      for (int c = e; c >= 0 && !in_batch[c]; c = cands_[c].parent) in_batch[c] = 1;
    batch.clear();
    slot_of.assign(cands_.size(), -1);
    for (int c = 0; c < int(cands_.size()); ++c)
      if (in_batch[c]) {
        slot_of[c] = int(batch.size());
        batch.push_back(c);
      }
    const int n = int(batch.size());
    batch_tokens_.resize(n);
    batch_pos_.resize(n);
    mask_.assign(size_t(n) * n, 0);
    for (int i = 0; i < n; ++i) {
      const Cand& c = cands_[batch[i]];
      batch_tokens_[i] = c.token;
      batch_pos_[i] = base_ - 1 + c.depth;  // the root sits at slot base_-1
      for (int a = batch[i]; a >= 0; a = cands_[a].parent) mask_[size_t(i) * n + slot_of[a]] = 1;
      if (needs_features()) {
        const float* parent_feature = c.parent < 0 ? root_hidden_ : node_hidden_ + size_t(c.parent) * d_;
        ctx_->backend().copy_rows(batch_features_ + size_t(i) * d_, d_, parent_feature, d_, 1, d_);
      }
    }
    ctx_->truncate(base_);
    EvalResult r = run(batch_tokens_, batch_pos_.data(), mask_.data(), needs_features() ? batch_features_ : nullptr);
    if (needs_features())
      for (int i = 0; i < n; ++i)
        ctx_->backend().copy_rows(node_hidden_ + size_t(batch[i]) * d_, d_, r.hidden + size_t(i) * d_, d_, 1, d_);
    rows_.clear();
    for (int e : order) rows_.push_back(slot_of[e]);
    const float* logits = head_->project(r.hidden, rows_);
    expand(logits, order, depth);
    level_begin = level_end;
  }
  ctx_->truncate(base_);

  // Keep the best `budget` nodes by cumulative log-probability. A child never scores above its parent,
  // and ties go to the earlier (parent) node, so the kept set is a tree; the check below keeps it one.
  order.resize(cands_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return cands_[a].score > cands_[b].score; });
  const int keep = std::min({shape.budget, limit, int(cands_.size())});
  std::vector<uint8_t> kept(cands_.size(), 0);
  int n_kept = 0;
  for (int c : order) {
    if (n_kept == keep) break;
    if (cands_[c].parent >= 0 && !kept[cands_[c].parent]) continue;
    kept[c] = 1;
    ++n_kept;
  }
  std::vector<int> node_of(cands_.size(), -1);
  for (int c = 0; c < int(cands_.size()); ++c)
    if (kept[c]) node_of[c] = tree.add(cands_[c].token, cands_[c].parent < 0 ? -1 : node_of[cands_[c].parent], cands_[c].score);
}

}  // namespace frspec
