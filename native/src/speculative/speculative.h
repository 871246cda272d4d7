// The speculative decoding loop, in three parts:
// - prefill: the engine's prompt processing (engine/generate.h prefill(), with a hook that keeps EAGLE's
//   target features), then the drafter reads the prompt;
// - step: a draft below the last emitted token (the root) — from the context (ContextLookup) or the drafter,
//   a chain or a tree — and ONE target eval of root + every drafted node with the tree mask, walked by
//   verification; two shapes: on the host (drafted ids read back, then verified), or queued whole in backend
//   memory (greedy chains on a GPU: one wait per step);
// - commit: the accepted path stays in the target's cache (Context::keep), the rest is rolled back; statistics.
// Greedy output is token for token the target's plain greedy decoding (generate()); sampled output follows
// exactly the target's distribution (verify.h). Stops (StopReason) on a stop token, max tokens, the context,
// a wall-clock budget, a caller check between steps, or cancellation.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/sampler.h"
#include "speculative/drafter.h"
#include "speculative/lookup.h"

namespace frspec {

struct SpecParams {
  int max_tokens = 64;
  SamplerParams sampling;
  std::vector<int32_t> stop_tokens;  // end generation; not returned
  double time_budget_ms = 0;         // decoding time after prompt processing; 0: none; checked between steps
  DraftShape shape;
  bool context_tokens = false;       // FR-Spec: also let the drafter propose every id of the prompt
  // Context lookup (shape.lookup) also searches these tokens, as if before the context (ContextLookup's
  // `recent`; ids < 0 separate pieces): the caller's earlier completions, e.g. the previous keystroke's prompt
  // tail and output. Verification keeps the output exact whatever they hold.
  std::vector<int32_t> lookup_history;
  // Prompt tokens the target evaluates between two looks at the cancel flag (generate.h's prefill_chunk).
  int prefill_chunk = kPrefillChunkAuto;
  // A draft model reads at most about this many of the prompt's last tokens (Drafter::prefill); 0: all.
  // The target verifies every drafted token, so this bounds prompt processing, never changes the output.
  int draft_window = 0;
  // Plain decoding through this loop: nothing is drafted, each step verifies the root alone (one token per
  // target pass). For EAGLE this keeps the stored target features in step with the cache, so a speculative
  // request after a plain one does not evaluate its whole prompt again (the sidecar's per-request choice).
  bool no_draft = false;
  // Greedy chains on a backend where read backs are waits (a GPU) run as one queued step: the drafted ids
  // stay in backend memory, the target verifies them from there, and drafted ids + verify argmaxes come
  // back in ONE read. -1: that way where read backs are waits (Backend::device_resident), 0: never (A/B
  // timings), 1: on any backend (the CPU tests check it stays exact).
  int queued_chain = -1;
  // The queued chain step (from each generation's second step on: the first one sizes every buffer) is
  // recorded and launched as one CUDA graph (Backend::begin_graph) instead of kernel by kernel. Ignored
  // with context lookup (shape.lookup > 0).
  bool graph_steps = false;
};

struct SpecStats {
  int n_prompt = 0, n_reused = 0;
  int steps = 0;          // verify passes
  int drafted = 0;        // drafted nodes verified
  int accepted = 0;       // drafted tokens accepted
  int emitted = 0;        // tokens the steps produced (accepted + one from the target each), before stops
  int verify_rows = 0;    // verify rows the target's LM head was computed for (those verification reached)
  int lookup_steps = 0;   // steps whose draft came from the context (DraftShape::lookup), not the drafter
  double prompt_ms = 0;   // prompt processing: the target's prefill, then the drafter's (draft_prompt_ms, also when deferred)
  double draft_prompt_ms = 0;
  int draft_prompt_tokens = 0;  // prompt tokens the drafter evaluated (not already in its cache; draft_window)
  double draft_ms = 0, verify_ms = 0, total_ms = 0;
  double verify_eval_ms = 0;  // of verify_ms: the target's layers over root + drafted nodes (the rest is LM head rows)
  int head_rows = 0;      // columns of the draft head (FR-Spec k, plus the prompt's ids)
  // Per draft position (depth below the root; index 0 = depth 1): nodes verified there (a tree may draft
  // several per step; lookup drafts included) and how many of them were accepted (at most one per step).
  // Summed over positions they equal `drafted` and `accepted`; accepted_at[i] / drafted_at[i] is the
  // acceptance rate at depth i + 1. Empty when nothing was drafted.
  std::vector<int> drafted_at, accepted_at;
  // Mean tokens per verify pass, the target's bonus token included (the paper's acceptance length).
  double tau() const { return steps ? double(emitted) / steps : 0; }
};

struct SpecResult {
  std::vector<int32_t> tokens;
  StopReason stop = StopReason::MaxTokens;
  int32_t stop_token = -1;
  SpecStats stats;
};

// Owns the pairing of one target context with one drafter, plus the target features EAGLE reads (one row
// per target cache slot, kept in step with it).
class SpeculativeDecoder {
 public:
  SpeculativeDecoder(Context& target, Drafter& drafter);
  ~SpeculativeDecoder();
  SpeculativeDecoder(const SpeculativeDecoder&) = delete;
  SpeculativeDecoder& operator=(const SpeculativeDecoder&) = delete;

  // `stop_check` (optional) sees the tokens so far after every step and returns true to stop there.
  SpecResult generate(std::span<const int32_t> prompt, const SpecParams& params, const std::atomic<bool>* cancel = nullptr,
                      const std::function<void(int32_t)>& on_token = {},
                      const std::function<bool(const std::vector<int32_t>&)>& stop_check = {});

 private:
  struct Run;  // one generate() call: its parameters, result and step buffers (speculative.cpp)

  // The target reads the prompt (its last row gives the first token), then the drafter (or, with context
  // lookup on the host, the drafter later: read_drafter_prompt); false: cancelled.
  bool prefill(std::span<const int32_t> prompt, Run& run, EvalResult& last);
  // The drafter reads the context (Drafter::prefill, its window) and the head takes the prompt's ids: in
  // prompt processing, or deferred to the first step the context lookup has no draft for. Returns its ms.
  double read_drafter_prompt(Run& run);
  // One step's draft and verification below `root` at slot `base`, into run's tree and verify result.
  void step_host(Run& run, int32_t root, int base, int limit);
  void step_queued(Run& run, int32_t root, int base, int limit);
  // Keeps root + the accepted path in the target's cache (and EAGLE's features), counts the step.
  void commit(Run& run, int base, int limit);
  void store_features(const float* hidden, std::span<const int32_t> rows, int first_slot);

  Context& target_;
  Drafter& drafter_;
  ContextLookup lookup_;                   // the draft source tried before the drafter (DraftShape::lookup)
  float* features_ = nullptr;              // n_ctx x d (EAGLE)
  int32_t* step_ids_ = nullptr;            // backend memory: [root, drafted..., verify argmaxes...] (queued chain)
  std::vector<int32_t> feature_tokens_;    // the tokens whose features are stored, by slot
};

}  // namespace frspec
