// The completion call of the JS Engine (bind_engine.cpp): generate(tokens, options, onToken?). One call for
// plain and speculative decoding: `drafter` 'none' decodes plainly on the target (engine/generate.h);
// 'draft' or 'eagle' (default: the loaded drafter, EAGLE first) decode speculatively with that drafter, its
// FR-Spec vocabulary (.frv path + top-k; read once, gathered again only when it changes) and its draft shape,
// so one engine runs every configuration of a benchmark. Runs off the JS thread; cancel() stops between steps.
//   generate(tokens, {topFirst: k}): no decoding; the k most likely first tokens (result.tokens, best first)
//   and their logits (result.topLogits), for other suggestions than the greedy one.
#include <algorithm>
#include <cstring>
#include <functional>
#include <string>

#include "addon.h"
#include "loaded_model.h"
#include "options.h"
#include "workers.h"
#include "engine/generate.h"
#include "speculative/lookup.h"

namespace frspec::addon {
namespace {

// What one generate() asks for.
struct Request {
  std::vector<int32_t> prompt;
  std::string drafter;  // "none" (plain decoding), "draft" or "eagle"
  std::string vocab;    // .frv path, or empty for the full vocabulary
  int vocab_top_k = 0;
  int max_lines = 0;    // stop once the output holds this many newlines (0: no limit)
  int top_first = 0;    // > 0: only the top_first most likely first tokens after the prompt
  SpecParams params;
};

// A result in one shape for plain and speculative decoding.
struct Outcome {
  std::vector<int32_t> tokens;
  std::string drafter;
  StopReason stop = StopReason::MaxTokens;
  int32_t stop_token = -1;
  SpecStats stats;
  std::vector<float> top_logits;  // with top_first: the logits of `tokens`
};

Request parse_request(const Napi::CallbackInfo& info, const LoadedModel& m) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) throw Napi::TypeError::New(env, "generate(tokens, options?, onToken?)");
  Request r;
  r.prompt = ids_array(env, info[0], "tokens");
  Napi::Object o = opts_arg(info, 1);
  r.drafter = str_opt(o, "drafter");
  if (r.drafter.empty()) r.drafter = m.eagle_drafter ? "eagle" : m.draft_drafter ? "draft" : "none";
  if (r.drafter != "none" && r.drafter != "draft" && r.drafter != "eagle")
    throw Napi::RangeError::New(env, "drafter must be 'none', 'draft' or 'eagle', got '" + r.drafter + "'");
  r.vocab = str_opt(o, "vocab");
  r.vocab_top_k = int_opt(o, "vocabTopK", 32768, 1, 1 << 24);
  r.max_lines = int_opt(o, "maxLines", 0, 0, 1 << 20);
  r.top_first = int_opt(o, "topFirst", 0, 0, 1 << 10);
  SpecParams& p = r.params;
  p.max_tokens = int_opt(o, "maxTokens", 64, 0, 1 << 22);
  p.sampling.temperature = float(num_opt(o, "temperature", 0));
  p.sampling.top_k = int_opt(o, "topK", 0, 0, 1 << 30);
  p.sampling.top_p = float(num_opt(o, "topP", 1));
  const double seed = num_opt(o, "seed", 0);
  if (seed < 0 || seed > 9007199254740991.0 || seed != double(uint64_t(seed)))
    throw Napi::RangeError::New(env, "seed must be a non-negative integer");
  p.sampling.seed = uint64_t(seed);
  if (!(p.sampling.temperature >= 0) || !(p.sampling.top_p > 0 && p.sampling.top_p <= 1))
    throw Napi::RangeError::New(env, "temperature must be >= 0 and topP in (0, 1]");
  if (!o.Get("stopTokens").IsUndefined()) p.stop_tokens = ids_array(env, o.Get("stopTokens"), "stopTokens");
  p.time_budget_ms = num_opt(o, "timeBudgetMs", 0);
  p.prefill_chunk = int_opt(o, "prefillChunk", kPrefillChunkAuto, kPrefillChunkAuto, 1 << 16);
  p.draft_window = int_opt(o, "draftWindow", 0, 0, 1 << 22);
  p.no_draft = o.Get("noDraft").ToBoolean();
  p.context_tokens = o.Get("contextTokens").ToBoolean();
  p.shape.tree = o.Get("tree").ToBoolean();
  p.shape.chain = int_opt(o, "chain", p.shape.chain, 1, 32);
  p.shape.depth = int_opt(o, "depth", p.shape.depth, 1, 16);
  p.shape.topk = int_opt(o, "branch", p.shape.topk, 1, 32);
  p.shape.beam = int_opt(o, "beam", p.shape.beam, 1, 32);
  p.shape.budget = int_opt(o, "nodes", p.shape.budget, 1, 255);
  p.shape.lookup = int_opt(o, "lookup", 0, 0, kLookupMaxNgram);
  p.shape.lookup_tokens = int_opt(o, "lookupTokens", p.shape.lookup_tokens, 1, 32);
  if (!o.Get("lookupHistory").IsUndefined()) {
    // Ids the context lookup may propose as drafts: in the target's vocabulary, or < 0 (separators).
    p.lookup_history = ids_array(env, o.Get("lookupHistory"), "lookupHistory");
    const int vocab = m.ctx->model().n_vocab();
    for (int32_t id : p.lookup_history)
      if (id >= vocab)
        throw Napi::RangeError::New(env, "lookupHistory: token id " + std::to_string(id) + " is outside the vocabulary (" +
                                             std::to_string(vocab) + ")");
  }
  guarded(env, [&] { p.shape.validate(); });
  return r;
}

class GenerateWorker : public StateWorker<Napi::AsyncProgressQueueWorker<int32_t>, LoadedModel> {
 public:
  GenerateWorker(Napi::Env env, Napi::Object self, LoadedModel& m, Request req, Napi::Function on_token)
      : StateWorker(env, self, m), req_(std::move(req)) {
    if (!on_token.IsEmpty()) on_token_ = Napi::Persistent(on_token);
  }

  void Execute(const ExecutionProgress& progress) override {
    try {
      auto cb = [&](int32_t tok) { progress.Send(&tok, 1); };
      std::function<void(int32_t)> on_token;
      if (!on_token_.IsEmpty()) on_token = cb;
      if (req_.top_first > 0) return top_first();
      if (req_.drafter == "none") return plain(on_token);
      speculative(on_token);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnProgress(const int32_t* data, size_t count) override {
    if (on_token_.IsEmpty() || count == 0) return;
    Napi::HandleScope scope(Env());
    Napi::Int32Array ids = Napi::Int32Array::New(Env(), count);
    std::memcpy(ids.Data(), data, count * sizeof(int32_t));
    on_token_.Call({ids});
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    Napi::Int32Array ids = Napi::Int32Array::New(env, out_.tokens.size());
    if (!out_.tokens.empty()) std::memcpy(ids.Data(), out_.tokens.data(), out_.tokens.size() * sizeof(int32_t));
    const SpecStats& st = out_.stats;
    const double decode_ms = st.total_ms - st.prompt_ms;
    auto int_array = [&](const std::vector<int>& v) {
      Napi::Array a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); ++i) a.Set(uint32_t(i), v[i]);
      return a;
    };
    o.Set("tokens", ids);
    o.Set("stop", stop_reason_name(out_.stop));
    o.Set("stopToken", out_.stop_token);
    o.Set("drafter", out_.drafter);
    o.Set("nPrompt", st.n_prompt);
    o.Set("nReused", st.n_reused);
    o.Set("nDecodeSteps", n_decode_steps_);
    o.Set("steps", st.steps);
    o.Set("drafted", st.drafted);
    o.Set("accepted", st.accepted);
    o.Set("tau", st.tau());
    o.Set("headRows", st.head_rows);
    o.Set("promptMs", st.prompt_ms);
    o.Set("decodeMs", decode_ms);
    o.Set("draftMs", st.draft_ms);
    o.Set("verifyMs", st.verify_ms);
    o.Set("verifyLayersMs", st.verify_eval_ms);
    o.Set("verifyRows", st.verify_rows);
    o.Set("lookupSteps", st.lookup_steps);
    o.Set("draftPromptMs", st.draft_prompt_ms);
    o.Set("draftPromptTokens", st.draft_prompt_tokens);
    o.Set("totalMs", st.total_ms);
    o.Set("draftedAt", int_array(st.drafted_at));
    o.Set("acceptedAt", int_array(st.accepted_at));
    o.Set("tokensPerSecond", decode_ms > 0 ? out_.tokens.size() * 1000.0 / decode_ms : 0.0);
    if (req_.top_first > 0) {
      Napi::Float32Array tl = Napi::Float32Array::New(env, out_.top_logits.size());
      if (!out_.top_logits.empty()) std::memcpy(tl.Data(), out_.top_logits.data(), out_.top_logits.size() * sizeof(float));
      o.Set("topLogits", tl);
    }
    resolve(o);
  }

 private:
  void speculative(const std::function<void(int32_t)>& on_token) {
    LoadedModel& m = state_;
    const bool eagle = req_.drafter == "eagle";
    Drafter* d = eagle ? m.eagle_drafter.get() : m.draft_drafter.get();
    SpeculativeDecoder* dec = eagle ? m.eagle_decoder.get() : m.draft_decoder.get();
    if (!d) throw std::runtime_error(std::string("no ") + (eagle ? "EAGLE head" : "draft model") + " was loaded");
    m.set_vocab(*d, req_.vocab, req_.vocab_top_k);
    int lines = 0;
    size_t seen = 0;
    std::function<bool(const std::vector<int32_t>&)> stop_check;
    if (req_.max_lines > 0)
      stop_check = [&](const std::vector<int32_t>& t) {
        for (; seen < t.size(); ++seen)
          if (t[seen] < m.tokenizer->n_vocab())
            for (char c : m.tokenizer->token_bytes(t[seen])) lines += c == '\n';
        return lines >= req_.max_lines;
      };
    SpecResult r = dec->generate(req_.prompt, req_.params, &m.cancel, on_token, stop_check);
    out_.tokens = std::move(r.tokens);
    out_.stop = r.stop;
    out_.stop_token = r.stop_token;
    out_.stats = std::move(r.stats);
    out_.drafter = d->kind();
    n_decode_steps_ = out_.stats.steps;
  }

  // The prompt's last-position logits without decoding: the cache's common prefix is kept and the rest (after a
  // completion of this prompt: only its last token) evaluated again, the cache then holding exactly the prompt.
  void top_first() {
    Context& ctx = *state_.ctx;
    const std::vector<int32_t>& p = req_.prompt;
    if (p.empty()) throw std::invalid_argument("topFirst needs a prompt");
    const std::vector<int32_t>& cached = ctx.tokens();
    size_t at = 0;
    while (at < cached.size() && at + 1 < p.size() && cached[at] == p[at]) ++at;
    ctx.truncate(int(at));
    out_.stats.n_prompt = int(p.size());
    out_.stats.n_reused = int(at);
    EvalResult r;
    while (at < p.size()) {
      const size_t n = std::min(p.size() - at, size_t(ctx.params().max_batch));
      EvalRequest e;
      e.tokens = std::span<const int32_t>(p.data() + at, n);
      e.logits = at + n == p.size() ? LogitRows::Last : LogitRows::None;
      r = ctx.eval(e);
      at += n;
    }
    std::vector<float> logits(size_t(r.vocab));
    ctx.backend().to_host(logits.data(), r.logits, logits.size());
    std::vector<int32_t> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t(i);
    const size_t k = std::min(ids.size(), size_t(req_.top_first));
    // Best first; equal logits: the lower id first (as greedy's argmax).
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    ids.resize(k);
    for (int32_t id : ids) out_.top_logits.push_back(logits[id]);
    out_.tokens = std::move(ids);
    out_.drafter = "none";
  }

  // Plain autoregressive decoding on the same context: the baseline, in the same result shape.
  void plain(const std::function<void(int32_t)>& on_token) {
    GenerateParams g;
    g.max_tokens = req_.params.max_tokens;
    g.sampling = req_.params.sampling;
    g.stop_tokens = req_.params.stop_tokens;
    g.prefill_chunk = req_.params.prefill_chunk;
    GenerateResult r = generate(*state_.ctx, req_.prompt, g, &state_.cancel, on_token);
    out_.tokens = std::move(r.tokens);
    out_.stop = r.stop;
    out_.stop_token = r.stop_token;
    out_.drafter = "none";
    n_decode_steps_ = r.stats.n_decode_steps;
    out_.stats.n_prompt = r.stats.n_prompt;
    out_.stats.n_reused = r.stats.n_reused;
    out_.stats.steps = r.stats.n_decode_steps + (out_.tokens.empty() ? 0 : 1);
    out_.stats.emitted = out_.stats.steps;
    out_.stats.prompt_ms = r.stats.prompt_ms;
    out_.stats.verify_ms = r.stats.decode_ms;
    out_.stats.verify_rows = out_.stats.steps;
    out_.stats.total_ms = r.stats.prompt_ms + r.stats.decode_ms;
  }

  Napi::FunctionReference on_token_;
  Request req_;
  Outcome out_;
  int n_decode_steps_ = 0;  // target evaluations after the prompt (plain: one per token after the first)
};

}  // namespace

Napi::Value generate_call(const Napi::CallbackInfo& info, LoadedModel& m) {
  Napi::Env env = info.Env();
  Request r = parse_request(info, m);
  Napi::Function cb;
  if (info.Length() > 2 && info[2].IsFunction()) cb = info[2].As<Napi::Function>();
  m.cancel = false;
  m.busy = true;
  return (new GenerateWorker(env, info.This().As<Napi::Object>(), m, std::move(r), cb))->start();
}

}  // namespace frspec::addon
