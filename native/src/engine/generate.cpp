#include "engine/generate.h"

#include <algorithm>
#include <chrono>
#include <string>

namespace frspec {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

bool cancelled(const std::atomic<bool>* c) { return c && c->load(std::memory_order_relaxed); }

}  // namespace

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::StopToken: return "stop_token";
    case StopReason::MaxTokens: return "max_tokens";
    case StopReason::ContextFull: return "context_full";
    case StopReason::Cancelled: return "cancelled";
    case StopReason::TimeBudget: return "time_budget";
    case StopReason::Caller: return "stop_check";
  }
  return "?";
}

int prefill_chunk(const Context& ctx, int requested) {
  const int max_batch = ctx.params().max_batch;
  if (requested == kPrefillChunkAuto) requested = ctx.backend().device_resident() ? max_batch : kPrefillChunk;
  return requested > 0 ? std::min(requested, max_batch) : max_batch;
}

EvalResult prefill(Context& ctx, std::span<const int32_t> prompt, const std::atomic<bool>* cancel, int* n_reused,
                   bool argmax_only, int chunk, const PrefillHook* hook) {
  const int n = int(prompt.size());
  if (n == 0) throw ContextError("empty prompt");
  if (n > ctx.capacity())
    throw ContextError("the prompt has " + std::to_string(n) + " tokens and does not fit in the context of " +
                       std::to_string(ctx.capacity()) + " tokens");
  // Reuse what the cache already holds, but always evaluate the last token: its logits are the output.
  const int keep = std::min({ctx.common_prefix(prompt), n - 1, hook ? hook->max_reuse : n});
  ctx.truncate(keep);
  if (n_reused) *n_reused = keep;
  chunk = prefill_chunk(ctx, chunk);
  EvalResult r;
  for (int i = keep; i < n; i += chunk) {
    if (cancelled(cancel)) return EvalResult{};
    EvalRequest req;
    req.tokens = prompt.subspan(i, std::min(chunk, n - i));
    req.logits = i + chunk >= n ? LogitRows::Last : LogitRows::None;
    req.argmax_only = argmax_only;
    req.hidden = hook && hook->hidden;
    req.cancel = cancel;
    r = ctx.eval(req);
    if (r.n == 0) return EvalResult{};  // cancelled between two layers: that chunk is not cached
    if (hook && hook->on_chunk) hook->on_chunk(i, req.tokens, r);
  }
  return r;
}

GenerateResult generate(Context& ctx, std::span<const int32_t> prompt, const GenerateParams& params,
                        const std::atomic<bool>* cancel, const std::function<void(int32_t)>& on_token) {
  GenerateResult out;
  out.stats.n_prompt = int(prompt.size());
  const auto t0 = std::chrono::steady_clock::now();
  const bool greedy = params.sampling.greedy();  // then the engine returns the argmax, not the logits
  EvalResult r = prefill(ctx, prompt, cancel, &out.stats.n_reused, greedy, params.prefill_chunk);
  out.stats.prompt_ms = ms_since(t0);
  if (r.n_rows == 0) {
    out.stop = StopReason::Cancelled;
    return out;
  }
  Backend& b = ctx.backend();
  Sampler sampler(params.sampling, r.vocab);
  std::vector<float> host_logits(greedy ? 0 : r.vocab);  // once per request
  out.tokens.reserve(params.max_tokens);
  const auto t1 = std::chrono::steady_clock::now();
  while (true) {
    if (int(out.tokens.size()) >= params.max_tokens) {
      out.stop = StopReason::MaxTokens;
      break;
    }
    int32_t tok;
    if (greedy) {
      tok = r.argmax[0];
    } else {
      b.to_host(host_logits.data(), r.logits, r.vocab);
      tok = sampler.sample(host_logits.data());
    }
    if (std::find(params.stop_tokens.begin(), params.stop_tokens.end(), tok) != params.stop_tokens.end()) {
      out.stop = StopReason::StopToken;
      out.stop_token = tok;
      break;
    }
    out.tokens.push_back(tok);
    if (on_token) on_token(tok);
    if (int(out.tokens.size()) >= params.max_tokens) {
      out.stop = StopReason::MaxTokens;
      break;
    }
    if (cancelled(cancel)) {
      out.stop = StopReason::Cancelled;
      break;
    }
    if (ctx.n_past() >= ctx.capacity()) {
      out.stop = StopReason::ContextFull;
      break;
    }
    EvalRequest req;
    req.tokens = std::span<const int32_t>(&out.tokens.back(), 1);
    req.argmax_only = greedy;
    r = ctx.eval(req);
    ++out.stats.n_decode_steps;
  }
  out.stats.decode_ms = ms_since(t1);
  return out;
}

}  // namespace frspec
