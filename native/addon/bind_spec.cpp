// Speculative decoding for JavaScript (native/spec.ts wraps it). One SpecEngine holds a target model and
// optionally a draft model and/or an EAGLE head on the same backend; each generate() picks its drafter, its
// FR-Spec vocabulary (.frv path + top-k; read once, gathered again only when it changes) and its draft
// shape, so one engine runs every configuration of a benchmark. Every call runs off the JS thread and
// one at a time; cancel() stops between steps.
//
//   loadSpec(targetPath, {draft?, eagle?, threads, contextSize, backend}) -> Promise<SpecEngine>
//   SpecEngine: info(), generate(tokens, opts, onToken?) -> Promise<result>, cancel(), close()
//   generate(tokens, {topFirst: k}): no decoding; the k most likely first tokens (result.tokens, best first)
//   and their logits (result.topLogits), for other suggestions than the greedy one.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "addon.h"
#include "options.h"
#include "workers.h"
#include "engine/generate.h"
#include "speculative/drafters.h"
#include "speculative/ranked_vocab.h"
#include "speculative/lookup.h"
#include "speculative/speculative.h"
#include "tokenizer/tokenizer.h"

namespace frspec::addon {
namespace {

struct LoadOptions {
  std::string draft, eagle, backend = "cpu";
  int threads = 0, n_ctx = 4096;
};

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

struct SpecState {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> target, draft, eagle;
  std::unique_ptr<PreparedModel> pt, pd, pe;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Context> ctx;
  std::unique_ptr<Drafter> draft_drafter, eagle_drafter;
  std::unique_ptr<SpeculativeDecoder> draft_decoder, eagle_decoder;
  std::map<std::string, RankedVocab> vocabs;          // .frv files read so far, by path
  std::map<Drafter*, std::pair<std::string, int>> head_of;  // each drafter's current restriction
  std::atomic<bool> cancel{false}, busy{false};

  static std::unique_ptr<SpecState> load(const std::string& path, const LoadOptions& o) {
    if (o.backend != "cpu") {
      std::string why;
      std::unique_ptr<Backend> cuda = make_cuda_backend(0, &why);
      if (!cuda && o.backend == "cuda") throw std::runtime_error("CUDA backend unavailable: " + why);
      if (cuda) {
        try {
          return load_on(std::move(cuda), path, o);
        } catch (const std::invalid_argument& e) {
          // 'auto' and a weight the GPU backend cannot hold (e.g. a type only the CPU kernels have): run on the CPU.
          if (o.backend != "auto") throw;
          std::fprintf(stderr, "frspec: CUDA cannot run this model (%s); using the CPU\n", e.what());
        }
      }
    }
    return load_on(make_cpu_backend(o.threads), path, o);
  }

  static std::unique_ptr<SpecState> load_on(std::unique_ptr<Backend> backend, const std::string& path, const LoadOptions& o) {
    auto s = std::make_unique<SpecState>();
    s->backend = std::move(backend);
    s->target = Model::load(path);
    if (s->target->config().arch == Arch::Eagle) throw ModelError(path + ": an EAGLE head is not a target model");
    s->pt = std::make_unique<PreparedModel>(*s->backend, *s->target);
    s->tokenizer = Tokenizer::from_gguf(s->target->gguf());
    ContextParams cp;
    cp.n_ctx = o.n_ctx;
    cp.max_batch = 256;
    cp.max_logit_rows = 256;  // a verified tree
    s->ctx = std::make_unique<Context>(*s->pt, cp);
    if (!o.draft.empty()) {
      s->draft = Model::load(o.draft);
      check_same_tokenizer(*s->target, *s->tokenizer, *s->draft);
      s->pd = std::make_unique<PreparedModel>(*s->backend, *s->draft);
      s->draft_drafter = make_model_drafter(*s->pd, *s->pt, o.n_ctx);
      s->draft_decoder = std::make_unique<SpeculativeDecoder>(*s->ctx, *s->draft_drafter);
    }
    if (!o.eagle.empty()) {
      s->eagle = Model::load(o.eagle);
      s->pe = std::make_unique<PreparedModel>(*s->backend, *s->eagle, s->pt.get());
      s->eagle_drafter = make_eagle_drafter(*s->pe, *s->pt, o.n_ctx);
      s->eagle_decoder = std::make_unique<SpeculativeDecoder>(*s->ctx, *s->eagle_drafter);
    }
    return s;
  }

  // Restricts a drafter's head to the top-k of a .frv (or lifts the restriction); only on change.
  void set_vocab(Drafter& d, const std::string& path, int k) {
    auto want = std::make_pair(path, path.empty() ? 0 : k);
    auto it = head_of.find(&d);
    if (it != head_of.end() && it->second == want) return;
    if (path.empty()) {
      d.head().restrict_to({});
    } else {
      auto v = vocabs.find(path);
      if (v == vocabs.end()) {
        RankedVocab rv = read_ranked_vocab(path);
        check_vocab_tokenizer(rv, *tokenizer, target->path());
        v = vocabs.emplace(path, std::move(rv)).first;
      }
      const std::vector<int32_t> ids = v->second.top(k);
      d.head().restrict_to(ids);
    }
    head_of[&d] = want;
  }
};

// A result in one shape for plain and speculative decoding.
struct Outcome {
  std::vector<int32_t> tokens;
  std::string stop, drafter;
  int32_t stop_token = -1;
  SpecStats stats;
  std::vector<float> top_logits;  // with top_first: the logits of `tokens`
};

class JsSpecEngine;
Napi::FunctionReference* spec_constructor = nullptr;

class SpecGenerateWorker : public Napi::AsyncProgressQueueWorker<int32_t> {
 public:
  SpecGenerateWorker(Napi::Env env, Napi::Object self, SpecState& s, Request req, Napi::Function on_token)
      : Napi::AsyncProgressQueueWorker<int32_t>(env), deferred_(Napi::Promise::Deferred::New(env)), s_(s),
        req_(std::move(req)) {
    self_ = Napi::Persistent(self);
    if (!on_token.IsEmpty()) on_token_ = Napi::Persistent(on_token);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& progress) override {
    try {
      auto cb = [&](int32_t tok) { progress.Send(&tok, 1); };
      std::function<void(int32_t)> on_token;
      if (!on_token_.IsEmpty()) on_token = cb;
      if (req_.top_first > 0) return top_first();
      if (req_.drafter == "none") return plain(on_token);
      Drafter* d = req_.drafter == "draft" ? s_.draft_drafter.get() : s_.eagle_drafter.get();
      SpeculativeDecoder* dec = req_.drafter == "draft" ? s_.draft_decoder.get() : s_.eagle_decoder.get();
      if (!d) throw std::runtime_error("no " + std::string(req_.drafter == "draft" ? "draft model" : "EAGLE head") + " was loaded");
      s_.set_vocab(*d, req_.vocab, req_.vocab_top_k);
      int lines = 0;
      std::function<bool(const std::vector<int32_t>&)> stop_check;
      size_t seen = 0;
      if (req_.max_lines > 0)
        stop_check = [&](const std::vector<int32_t>& t) {
          for (; seen < t.size(); ++seen)
            if (t[seen] < s_.tokenizer->n_vocab())
              for (char c : s_.tokenizer->token_bytes(t[seen])) lines += c == '\n';
          return lines >= req_.max_lines;
        };
      SpecResult r = dec->generate(req_.prompt, req_.params, &s_.cancel, on_token, stop_check);
      out_.tokens = std::move(r.tokens);
      out_.stop = stop_reason_name(r.stop);
      out_.stop_token = r.stop_token;
      out_.stats = r.stats;
      out_.drafter = d->kind();
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
    s_.busy = false;
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    Napi::Int32Array ids = Napi::Int32Array::New(env, out_.tokens.size());
    if (!out_.tokens.empty()) std::memcpy(ids.Data(), out_.tokens.data(), out_.tokens.size() * sizeof(int32_t));
    const SpecStats& st = out_.stats;
    o.Set("tokens", ids);
    o.Set("stop", out_.stop);
    o.Set("stopToken", out_.stop_token);
    o.Set("drafter", out_.drafter);
    o.Set("nPrompt", st.n_prompt);
    o.Set("nReused", st.n_reused);
    o.Set("steps", st.steps);
    o.Set("drafted", st.drafted);
    o.Set("accepted", st.accepted);
    o.Set("tau", st.tau());
    o.Set("headRows", st.head_rows);
    o.Set("promptMs", st.prompt_ms);
    o.Set("draftMs", st.draft_ms);
    o.Set("verifyMs", st.verify_ms);
    o.Set("verifyLayersMs", st.verify_eval_ms);
    o.Set("verifyRows", st.verify_rows);
    o.Set("lookupSteps", st.lookup_steps);
    o.Set("draftPromptMs", st.draft_prompt_ms);
    o.Set("draftPromptTokens", st.draft_prompt_tokens);
    o.Set("totalMs", st.total_ms);
    auto int_array = [&](const std::vector<int>& v) {
      Napi::Array a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); ++i) a.Set(uint32_t(i), v[i]);
      return a;
    };
    o.Set("draftedAt", int_array(st.drafted_at));
    o.Set("acceptedAt", int_array(st.accepted_at));
    const double decode_ms = st.total_ms - st.prompt_ms;
    o.Set("tokensPerSecond", decode_ms > 0 ? out_.tokens.size() * 1000.0 / decode_ms : 0.0);
    if (req_.top_first > 0) {
      Napi::Float32Array tl = Napi::Float32Array::New(env, out_.top_logits.size());
      if (!out_.top_logits.empty()) std::memcpy(tl.Data(), out_.top_logits.data(), out_.top_logits.size() * sizeof(float));
      o.Set("topLogits", tl);
    }
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override {
    s_.busy = false;
    deferred_.Reject(e.Value());
  }

 private:
  // The prompt's last-position logits without decoding: the cache's common prefix is kept and the rest (after a
  // completion of this prompt: only its last token) evaluated again, the cache then holding exactly the prompt.
  void top_first() {
    Context& ctx = *s_.ctx;
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
    out_.stop = "max_tokens";
    out_.drafter = "none";
  }

  // Plain autoregressive decoding on the same context: the baseline, in the same result shape.
  void plain(const std::function<void(int32_t)>& on_token) {
    GenerateParams g;
    g.max_tokens = req_.params.max_tokens;
    g.sampling = req_.params.sampling;
    g.stop_tokens = req_.params.stop_tokens;
    g.prefill_chunk = req_.params.prefill_chunk;
    GenerateResult r = generate(*s_.ctx, req_.prompt, g, &s_.cancel, on_token);
    out_.tokens = std::move(r.tokens);
    out_.stop = stop_reason_name(r.stop);
    out_.stop_token = r.stop_token;
    out_.drafter = "none";
    out_.stats.n_prompt = r.stats.n_prompt;
    out_.stats.n_reused = r.stats.n_reused;
    out_.stats.steps = r.stats.n_decode_steps + (out_.tokens.empty() ? 0 : 1);
    out_.stats.emitted = out_.stats.steps;
    out_.stats.prompt_ms = r.stats.prompt_ms;
    out_.stats.verify_ms = r.stats.decode_ms;
    out_.stats.verify_rows = out_.stats.steps;
    out_.stats.total_ms = r.stats.prompt_ms + r.stats.decode_ms;
  }

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference self_;
  Napi::FunctionReference on_token_;
  SpecState& s_;
  Request req_;
  Outcome out_;
};

class JsSpecEngine : public Napi::ObjectWrap<JsSpecEngine> {
 public:
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function cls = DefineClass(env, "SpecEngine",
        {InstanceMethod<&JsSpecEngine::Info>("info"), InstanceMethod<&JsSpecEngine::Generate>("generate"),
         InstanceMethod<&JsSpecEngine::Cancel>("cancel"), InstanceMethod<&JsSpecEngine::Close>("close")});
    spec_constructor = new Napi::FunctionReference(Napi::Persistent(cls));  // lives as long as the process
    exports.Set("SpecEngine", cls);
    exports.Set("loadSpec", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
      Napi::Env env = info.Env();
      if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "loadSpec(targetPath: string, options?)");
      Napi::Object o = opts_arg(info, 1);
      LoadOptions lo;
      lo.draft = str_opt(o, "draft");
      lo.eagle = str_opt(o, "eagle");
      lo.threads = int_opt(o, "threads", 0, 0, 1024);
      lo.n_ctx = int_opt(o, "contextSize", 4096, 64, 1 << 22);
      lo.backend = str_opt(o, "backend");
      if (lo.backend.empty()) lo.backend = "cpu";
      if (lo.backend != "cpu" && lo.backend != "cuda" && lo.backend != "auto")
        throw Napi::RangeError::New(env, "backend must be 'cpu', 'cuda' or 'auto'");
      return (new LoadWorker<SpecState, LoadOptions>(env, spec_constructor, info[0].As<Napi::String>(), lo))->start();
    }));
  }

  explicit JsSpecEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsSpecEngine>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "SpecEngine objects are made by loadSpec(targetPath, options)");
    state_.reset(info[0].As<Napi::External<SpecState>>().Data());
  }

 private:
  SpecState& idle(Napi::Env env) {
    if (!state_) throw Napi::Error::New(env, "the engine is closed");
    if (state_->busy) throw Napi::Error::New(env, "the engine is busy: one call at a time (await the previous one)");
    return *state_;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SpecState& s = idle(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("target", s.target->path());
    if (s.draft) o.Set("draft", s.draft->path());
    if (s.eagle) o.Set("eagle", s.eagle->path());
    o.Set("backend", s.backend->name());
    o.Set("threads", s.backend->threads());
    o.Set("contextSize", s.ctx->capacity());
    o.Set("nVocab", s.pt->n_vocab());
    o.Set("tokenizerFingerprint", s.tokenizer->fingerprint());
    return o;
  }

  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SpecState& s = idle(env);
    if (info.Length() < 1) throw Napi::TypeError::New(env, "generate(tokens, options?, onToken?)");
    Request r;
    r.prompt = ids_array(env, info[0], "tokens");
    Napi::Object o = opts_arg(info, 1);
    r.drafter = str_opt(o, "drafter");
    if (r.drafter.empty()) r.drafter = s.eagle_drafter ? "eagle" : s.draft_drafter ? "draft" : "none";
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
    guarded(env, [&] { p.shape.validate(); });
    Napi::Function cb;
    if (info.Length() > 2 && info[2].IsFunction()) cb = info[2].As<Napi::Function>();
    s.cancel = false;
    s.busy = true;
    auto* w = new SpecGenerateWorker(env, info.This().As<Napi::Object>(), s, std::move(r), cb);
    Napi::Promise promise = w->promise();
    w->Queue();
    return promise;
  }

  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    if (state_) state_->cancel = true;
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (state_) {
      idle(info.Env());
      state_.reset();
    }
    return info.Env().Undefined();
  }

  std::unique_ptr<SpecState> state_;
};

}  // namespace

FRSPEC_ADDON_MODULE(JsSpecEngine::Register);

}  // namespace frspec::addon
