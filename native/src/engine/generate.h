// Prompt in, completion out: the plain autoregressive loop on one Context, with the stop conditions a
// completion needs (stop tokens, a token budget, a full context, a cancel flag checked between steps)
// and reuse of the longest prefix the cache already holds from the previous request.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <vector>

#include "engine/context.h"
#include "engine/sampler.h"

namespace frspec {

// Why a completion ended. TimeBudget and Caller are the speculative loop's (SpecParams::time_budget_ms, its
// stop_check); plain generate() stops for the first four only.
enum class StopReason { StopToken, MaxTokens, ContextFull, Cancelled, TimeBudget, Caller };
const char* stop_reason_name(StopReason r);

// Prompt tokens per eval() while reading a prompt. The cancel flag is looked at between chunks AND between
// the layers of a chunk (EvalRequest::cancel), so a newer request (the next keystroke) waits for one layer
// of a stale prompt, whatever the chunk: large chunks cost no latency and let the batched GEMM run at its
// best. Qwen2.5-Coder-1.5B shape Q4_K_M, 384-token prompt, 1 thread (engine_bench, 2026-12-07, AMD EPYC
// Zen 5): chunks of 64 / 128 / 256 tokens 148 / 164 / 175 tok/s (second run 140 / 156 / 152). A separate
// knob from ContextParams::max_batch (the most tokens one eval() may take, which sizes the buffers; the
// chunk is capped by it). A GPU (Backend::device_resident) uses max_batch.
inline constexpr int kPrefillChunk = 256;
inline constexpr int kPrefillChunkAuto = -1;  // kPrefillChunk on host-memory backends, max_batch on a GPU
// The chunk prefill() uses for `requested` (kPrefillChunkAuto, 0 = max_batch, or a token count).
int prefill_chunk(const Context& ctx, int requested);

struct GenerateParams {
  int max_tokens = 64;
  int prefill_chunk = kPrefillChunkAuto;  // see prefill_chunk()
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

// What a caller adds to prompt processing: the speculative loop keeps an EAGLE head's input features (the
// target's final hidden state of every cached token) in step with the cache.
struct PrefillHook {
  int max_reuse = std::numeric_limits<int>::max();  // reuse at most this many cached tokens
  bool hidden = false;  // every chunk also returns its final hidden states (EvalRequest::hidden)
  // After each evaluated chunk: the slot of its first token, its tokens and the eval's result.
  std::function<void(int first, std::span<const int32_t> tokens, const EvalResult& r)> on_chunk;
};

// Makes the cache hold prompt[0..n-1) (reusing its common prefix, evaluating the rest in chunks of
// prefill_chunk(ctx, chunk) tokens, the cancel flag checked before each and between its layers) and evaluates the last prompt
// token; returns its logits. A cancelled prefill keeps the chunks it evaluated: the next request reuses them. Throws ContextError when
// the prompt is empty or does not fit; returns an empty result (n_rows 0) when cancelled. argmax_only:
// return the greedy choice instead of the logits. `hook` (optional): see PrefillHook.
EvalResult prefill(Context& ctx, std::span<const int32_t> prompt, const std::atomic<bool>* cancel,
                   int* n_reused = nullptr, bool argmax_only = false, int chunk = kPrefillChunkAuto,
                   const PrefillHook* hook = nullptr);

// on_token is called with each generated token as soon as it is chosen (from the calling thread).
GenerateResult generate(Context& ctx, std::span<const int32_t> prompt, const GenerateParams& params,
                        const std::atomic<bool>* cancel = nullptr,
                        const std::function<void(int32_t)>& on_token = {});

}  // namespace frspec
