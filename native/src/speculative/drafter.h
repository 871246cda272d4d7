// A drafter proposes the tokens the target will verify: a chain, or an EAGLE-2-style dynamic tree (expand
// the `beam` most probable nodes of each level by cumulative draft log-probability, `topk` children each,
// down to `depth`; keep the `budget` best nodes overall). Two drafters implement the same small interface
// (like llama.cpp's common/speculative.h): a separate draft model with the target's tokenizer
// and an EAGLE head on the target's features (both in drafters.*). FR-Spec is a property
// of either one's LM head (DraftHead), not a drafter of its own.
//
// The drafter keeps its own KV cache in step with the target's committed tokens: each draft() first
// brings it up to date (reusing the longest common prefix), then drafts below the root (the token the
// target emitted last, not yet in the target's cache).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "engine/context.h"
#include "speculative/draft_head.h"
#include "speculative/draft_tree.h"
#include "speculative/verify.h"

namespace frspec {

struct DraftShape {
  bool tree = false;
  int chain = 4;    // chain: tokens drafted per step
  int depth = 5;    // tree: levels below the root
  int topk = 8;     // tree: children proposed per expanded node
  int beam = 8;     // tree: nodes expanded per level
  int budget = 24;  // tree: nodes kept for verification
  // Greedy chains: the speculative loop first looks the continuation up in the context (speculative/lookup.h),
  // matching the last `lookup` to kLookupMaxNgram tokens (0: off), and proposes up to `lookup_tokens` tokens
  // from there; the drafter runs only when nothing matches. (Ignored for trees and for sampling.)
  int lookup = 0;
  int lookup_tokens = 4;
  int max_nodes() const { return tree ? budget : lookup > 0 ? std::max(chain, lookup_tokens) : chain; }
  void validate() const;  // throws std::invalid_argument for shapes out of range
};

// Chain sampling: each drafted token's draft distribution q (over the head's columns).
struct DraftProbs {
  std::vector<std::vector<float>> probs;  // one row of head.size() per drafted token
  std::vector<SparseDist> dists;          // views of probs with the head's ids
};

class Drafter {
 public:
  virtual ~Drafter();
  virtual const char* kind() const = 0;  // "draft-model" or "eagle"
  // EAGLE reads the target's final normed hidden state of every committed token.
  virtual bool needs_features() const { return false; }

  DraftHead& head() { return *head_; }
  Context& context() { return *ctx_; }

  // Reads the committed tokens (a new prompt) before the first token is known, so that the first draft()
  // reads only the root. Optional: draft() catches up on whatever is missing. `window` > 0 (a draft model;
  // EAGLE reads every feature): the drafter's cache holds only the tokens from a start chosen here, at
  // least `window` before the end, kept from prompt to prompt while the window stays within 2 x `window`
  // tokens (typing: the previous prompt's window start is reused with its cache), moved to
  // n - window otherwise. The drafter then sees a shorter context; the target verifies, so output is exact.
  // `cancel` (optional) is looked at between the drafter's batches: a newer request does not wait for it.
  void prefill(std::span<const int32_t> committed, const float* features, int window = 0,
               const std::atomic<bool>* cancel = nullptr);
  // The first committed token the drafter's cache reads (0 without a window), and the inputs the last
  // prefill() evaluated (what its cache did not hold yet).
  int window_start() const { return w0_; }
  int last_prefill_tokens() const { return prefill_tokens_; }

  // Proposes at most `limit` nodes below `root`. `committed` are the target's cached tokens; `features`
  // (EAGLE only) their final hidden states, one backend row per token. Chain sampling (temperature > 0)
  // samples each drafted token from q = softmax(logits / temperature) and records q in `q`; otherwise
  // drafting is deterministic (argmax / top-k).
  void draft(std::span<const int32_t> committed, int32_t root, const float* features, const DraftShape& shape,
             int limit, float temperature, std::mt19937_64& rng, DraftTree& tree, DraftProbs* q);

  // Greedy chain drafting that leaves the drafted ids in backend memory: queues at most min(chain, limit)
  // steps writing ids[0..n) and returns n without waiting for them, so the caller can verify them straight
  // from there and read them back together with its own results (a GPU step then waits once). The caller
  // must hand the ids, once read back, to drafted() before the next draft.
  int draft_chain_queued(std::span<const int32_t> committed, int32_t root, const float* features, int chain, int limit,
                         int32_t* ids);
  void drafted(std::span<const int32_t> ids);

 protected:
  Drafter(std::unique_ptr<Context> ctx, std::unique_ptr<DraftHead> head, int d_model);
  // The inputs that bring the drafter's cache to the state "root has been read" (for EAGLE, input i goes
  // with the target feature of slot i).
  virtual void wanted_inputs(std::span<const int32_t> committed, int32_t root, std::vector<int32_t>& out) = 0;
  // Whether the drafter's cache entries for drafted tokens are valid once those tokens are accepted
  // (a draft model: yes; EAGLE: no, they were computed from its own features, not the target's).
  virtual bool drafted_kv_reusable() const = 0;

 private:
  EvalResult run(std::span<const int32_t> tokens, const int32_t* positions, const uint8_t* mask, const float* features,
                 const int32_t* token_ids = nullptr);
  void catch_up(std::span<const int32_t> committed, int32_t root, const float* features);
  // want_[keep..) after the first keep cached slots, into last_; false when `cancel` stopped it between batches.
  bool read_inputs(int keep, const float* features, const std::atomic<bool>* cancel = nullptr);
  void draft_chain(const DraftShape& shape, int limit, float temperature, std::mt19937_64& rng, DraftTree& tree, DraftProbs* q);
  void draft_chain_greedy(int n, DraftTree& tree);
  void queue_chain(int n, int32_t* ids);  // n greedy steps, ids[i] in backend memory, no wait
  void draft_tree(const DraftShape& shape, int limit, DraftTree& tree);
  // Host copy of logits row i (the head's columns).
  const float* host_row(const float* logits, int i);
  void ensure_nodes(int n);

  struct Cand {
    int32_t token;
    int parent;  // -1: the root
    float score; // cumulative log-probability
    int depth;
  };

  std::unique_ptr<Context> ctx_;
  std::unique_ptr<DraftHead> head_;
  int d_;
  int base_ = 0;  // slots of the drafter's cache once the root is read
  int w0_ = 0;    // committed tokens before this one are not in the drafter's cache (prefill's window)
  int prefill_tokens_ = 0;
  EvalResult last_;  // the last eval of read_inputs

  float* root_hidden_ = nullptr;  // the root row's output (EAGLE: the feature its children read)
  float* node_hidden_ = nullptr;  // per candidate (EAGLE)
  float* batch_features_ = nullptr;
  int node_cap_ = 0;
  std::vector<float> host_;
  std::vector<int32_t> want_, batch_tokens_, batch_pos_, rows_, top_ids_;
  std::vector<uint8_t> mask_;
  std::vector<Cand> cands_;
  std::vector<float> top_vals_, top_lse_;
  static constexpr int kMaxChain = 32;  // DraftShape::validate's limit
  int32_t* chain_ids_ = nullptr;        // backend memory: the greedy chain's drafted ids
  std::vector<int32_t> chain_host_;
};

}  // namespace frspec
