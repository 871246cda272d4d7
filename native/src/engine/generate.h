// Prompt in, completion out: the plain autoregressive loop on one Context, with the stop conditions a
// completion needs (stop tokens, a token budget, a full context, a cancel flag checked between steps)
// and reuse of the longest prefix the cache already holds from the previous request.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "engine/context.h"
#include "engine/sampler.h"

namespace frspec {

enum class StopReason { StopToken, MaxTokens, ContextFull, Cancelled };
const char* stop_reason_name(StopReason r);

struct GenerateParams {
  int max_tokens = 64;
  SamplerParams sampling;
  std::vector<int32_t> stop_tokens;  // e.g. EOS/EOT; the stop token ends generation and is not returned
};

struct GenerateStats {
  int n_prompt = 0;        // prompt tokens
  int n_reused = 0;        // of which already in the cache (common prefix with the previous request)
  int n_decode_steps = 0;  // single-token evaluations after the prompt
  double prompt_ms = 0;    // evaluating the prompt (to the first token's logits)
  double decode_ms = 0;    // everything after: sampling and decode steps
};

struct GenerateResult {
  std::vector<int32_t> tokens;
  StopReason stop = StopReason::MaxTokens;
  int32_t stop_token = -1;
  GenerateStats stats;
};

// Makes the cache hold prompt[0..n-1) (reusing its common prefix, evaluating the rest in chunks of the
// context's batch size) and evaluates the last prompt token; returns its logits. Throws ContextError when
// the prompt is empty or does not fit; returns an empty result (n_rows 0) when cancelled. argmax_only:
// return the greedy choice instead of the logits.
EvalResult prefill(Context& ctx, std::span<const int32_t> prompt, const std::atomic<bool>* cancel,
                   int* n_reused = nullptr, bool argmax_only = false);

// on_token is called with each generated token as soon as it is chosen (from the calling thread).
GenerateResult generate(Context& ctx, std::span<const int32_t> prompt, const GenerateParams& params,
                        const std::atomic<bool>* cancel = nullptr,
                        const std::function<void(int32_t)>& on_token = {});

}  // namespace frspec
