// The inference engine for JavaScript. Every call that computes runs on a libuv worker thread (never the
// JS thread) and returns a Promise; one call runs at a time per engine (native/engine.ts queues them);
// cancel() stops a running call between steps (prompt chunks or decoded tokens).
//
//   loadModel(path, {threads, contextSize, maxBatch, maxLogitRows, backend, eagle}) -> Promise<Engine>
//   estimateMemory(path, {contextSize, maxBatch, maxLogitRows}) -> {weights, kvCache, scratch, total, ...}
//   Engine: info(), generate(tokens, opts, onToken?), eval(tokens, opts), truncate(n), keep(base, slots), tokens(),
//           eagleEval(tokens, features, opts), eagleTruncate(n), cancel(), close()
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "addon.h"
#include "options.h"
#include "workers.h"
#include "engine/backend.h"
#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/prepared_model.h"

namespace frspec::addon {
namespace {

struct EngineOptions {
  int threads = 0;
  std::string backend = "cpu";
  std::string eagle;  // optional EAGLE head for this model
  ContextParams ctx;
};

EngineOptions parse_engine_options(const Napi::Object& o) {
  EngineOptions e;
  e.threads = int_opt(o, "threads", 0, 0, 1024);
  e.ctx.n_ctx = int_opt(o, "contextSize", 4096, 1, 1 << 22);
  e.ctx.max_batch = int_opt(o, "maxBatch", 256, 1, 1 << 16);
  e.ctx.max_logit_rows = int_opt(o, "maxLogitRows", 64, 1, 1 << 16);
  Napi::Value eagle = o.Get("eagle");
  if (!eagle.IsUndefined()) {
    if (!eagle.IsString()) throw Napi::TypeError::New(o.Env(), "eagle must be the path of an EAGLE head");
    e.eagle = eagle.As<Napi::String>();
  }
  Napi::Value b = o.Get("backend");
  if (!b.IsUndefined()) {
    if (!b.IsString()) throw Napi::TypeError::New(o.Env(), "backend must be 'cpu', 'cuda' or 'auto'");
    e.backend = b.As<Napi::String>();
    if (e.backend != "cpu" && e.backend != "cuda" && e.backend != "auto")
      throw Napi::RangeError::New(o.Env(), "backend must be 'cpu', 'cuda' or 'auto', got '" + e.backend + "'");
  }
  return e;
}

// Everything one loaded model needs; owned by the JS Engine object, used by one worker at a time.
struct EngineState {
  std::unique_ptr<Model> model;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<PreparedModel> prepared;
  std::unique_ptr<Context> ctx;
  // The optional EAGLE head: its own weights and KV cache, the target's embedding and LM head.
  std::unique_ptr<Model> eagle_model;
  std::unique_ptr<PreparedModel> eagle_prepared;
  std::unique_ptr<Context> eagle_ctx;
  float* features = nullptr;  // backend buffer for the head's input features, max_batch x d
  std::string backend_note;  // why CUDA was not used, when it was asked for with 'auto'
  std::atomic<bool> cancel{false};
  std::atomic<bool> busy{false};

  static std::unique_ptr<EngineState> load(const std::string& path, const EngineOptions& o) {
    auto s = std::make_unique<EngineState>();
    s->model = Model::load(path);
    if (s->model->config().arch == Arch::Eagle)
      throw ModelError(path + ": an EAGLE head is not a standalone model (load its target)");
    if (o.backend != "cpu") {
      std::string why;
      s->backend = make_cuda_backend(0, &why);
      if (!s->backend && o.backend == "cuda") throw std::runtime_error("CUDA backend unavailable: " + why);
      s->backend_note = why;
    }
    if (!s->backend) s->backend = make_cpu_backend(o.threads);
    try {
      s->prepared = std::make_unique<PreparedModel>(*s->backend, *s->model);
    } catch (const std::invalid_argument& e) {
      // 'auto' and a weight the GPU backend cannot hold (e.g. a type only the CPU kernels have): run on the CPU.
      if (o.backend != "auto" || s->backend->name().rfind("cpu", 0) == 0) throw;
      s->backend_note = std::string("CUDA cannot run this model (") + e.what() + "); using the CPU";
      std::fprintf(stderr, "frspec: %s\n", s->backend_note.c_str());
      s->backend = make_cpu_backend(o.threads);
      s->prepared = std::make_unique<PreparedModel>(*s->backend, *s->model);
    }
    s->ctx = std::make_unique<Context>(*s->prepared, o.ctx);
    // Warm up off the JS thread: page in the weights and build what greedy decoding uses (the CPU
    // backend's LM-head filter), so the first request does not pay for it.
    const int32_t first = 0;
    EvalRequest warm;
    warm.tokens = std::span<const int32_t>(&first, 1);
    warm.argmax_only = true;
    s->ctx->eval(warm);
    s->ctx->truncate(0);
    if (!o.eagle.empty()) {
      s->eagle_model = Model::load(o.eagle);
      if (s->eagle_model->config().arch != Arch::Eagle) throw ModelError(o.eagle + ": not an EAGLE head");
      s->eagle_prepared = std::make_unique<PreparedModel>(*s->backend, *s->eagle_model, s->prepared.get());
      s->eagle_ctx = std::make_unique<Context>(*s->eagle_prepared, o.ctx);
      s->features = s->backend->alloc(size_t(s->eagle_ctx->params().max_batch) * s->model->config().d_model);
    }
    return s;
  }
  ~EngineState() {
    eagle_ctx.reset();  // contexts and weights go before the backend that holds their memory
    if (features) backend->free(features);
    eagle_prepared.reset();
    ctx.reset();
    prepared.reset();
  }
  Context& context(bool eagle) {
    if (eagle && !eagle_ctx) throw std::runtime_error("no EAGLE head was loaded (loadModel option 'eagle')");
    return eagle ? *eagle_ctx : *ctx;
  }
};

Napi::FunctionReference* engine_constructor = nullptr;

class JsEngine : public Napi::ObjectWrap<JsEngine> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  explicit JsEngine(const Napi::CallbackInfo& info);

  EngineState& state() {
    if (!state_) throw std::runtime_error("the engine is closed");
    return *state_;
  }
  // Marks the engine busy for one worker; throws when another call is running.
  EngineState& acquire(Napi::Env env) {
    if (!state_) throw Napi::Error::New(env, "the engine is closed");
    bool expected = false;
    if (!state_->busy.compare_exchange_strong(expected, true))
      throw Napi::Error::New(env, "the engine is busy: one call at a time (await the previous one)");
    state_->cancel = false;
    return *state_;
  }

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value Eval(const Napi::CallbackInfo& info);
  Napi::Value Truncate(const Napi::CallbackInfo& info);
  Napi::Value EagleEval(const Napi::CallbackInfo& info);
  Napi::Value EagleTruncate(const Napi::CallbackInfo& info);
  Napi::Value EvalOn(const Napi::CallbackInfo& info, bool eagle);
  Napi::Value Keep(const Napi::CallbackInfo& info);
  Napi::Value Tokens(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void check_idle(Napi::Env env) {
    if (!state_) throw Napi::Error::New(env, "the engine is closed");
    if (state_->busy) throw Napi::Error::New(env, "the engine is busy: one call at a time (await the previous one)");
  }

  std::unique_ptr<EngineState> state_;
};

// A Promise-returning worker bound to one engine: keeps the JS object alive and frees the busy flag.
template <class Base>
class EngineWorker : public Base {
 public:
  EngineWorker(Napi::Env env, JsEngine* engine, Napi::Object self)
      : Base(env), deferred_(Napi::Promise::Deferred::New(env)), engine_(engine), state_(engine->acquire(env)) {
    self_ = Napi::Persistent(self);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void OnError(const Napi::Error& e) override {
    state_.busy = false;
    deferred_.Reject(e.Value());
  }
  void resolve(Napi::Value v) {
    state_.busy = false;
    deferred_.Resolve(v);
  }
  Napi::Promise::Deferred deferred_;
  JsEngine* engine_;
  EngineState& state_;
  Napi::ObjectReference self_;
};

class GenerateWorker : public EngineWorker<Napi::AsyncProgressQueueWorker<int32_t>> {
 public:
  GenerateWorker(Napi::Env env, JsEngine* engine, Napi::Object self, std::vector<int32_t> prompt, GenerateParams params,
                 Napi::Function on_token)
      : EngineWorker(env, engine, self), prompt_(std::move(prompt)), params_(std::move(params)) {
    if (!on_token.IsEmpty()) on_token_ = Napi::Persistent(on_token);
  }
  void Execute(const ExecutionProgress& progress) override {
    try {
      auto cb = [&](int32_t tok) { progress.Send(&tok, 1); };
      result_ = generate(*state_.ctx, prompt_, params_, &state_.cancel,
                         on_token_.IsEmpty() ? std::function<void(int32_t)>() : std::function<void(int32_t)>(cb));
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnProgress(const int32_t* data, size_t count) override {
    if (on_token_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Int32Array ids = Napi::Int32Array::New(env, count);
    std::memcpy(ids.Data(), data, count * sizeof(int32_t));
    on_token_.Call({ids});
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    Napi::Int32Array ids = Napi::Int32Array::New(env, result_.tokens.size());
    if (!result_.tokens.empty()) std::memcpy(ids.Data(), result_.tokens.data(), result_.tokens.size() * sizeof(int32_t));
    o.Set("tokens", ids);
    o.Set("stop", stop_reason_name(result_.stop));
    o.Set("stopToken", result_.stop_token);
    o.Set("nPrompt", result_.stats.n_prompt);
    o.Set("nReused", result_.stats.n_reused);
    o.Set("nDecodeSteps", result_.stats.n_decode_steps);
    o.Set("promptMs", result_.stats.prompt_ms);
    o.Set("decodeMs", result_.stats.decode_ms);
    resolve(o);
  }

 private:
  std::vector<int32_t> prompt_;
  GenerateParams params_;
  Napi::FunctionReference on_token_;
  GenerateResult result_;
};

class EvalWorker : public EngineWorker<Napi::AsyncWorker> {
 public:
  struct Request {
    bool eagle = false;  // evaluate the EAGLE head (with features) instead of the model
    std::vector<float> features;
    std::vector<int32_t> tokens, positions, rows;
    std::vector<uint8_t> mask;
    LogitRows logits = LogitRows::Last;
    bool hidden = false;
  };
  EvalWorker(Napi::Env env, JsEngine* engine, Napi::Object self, Request req)
      : EngineWorker(env, engine, self), req_(std::move(req)) {}
  void Execute() override {
    try {
      Context& ctx = state_.context(req_.eagle);
      EvalRequest r;
      if (req_.eagle) {
        const size_t d = ctx.model().config().d_model;
        if (req_.features.size() != req_.tokens.size() * d)
          throw std::invalid_argument("features must hold d_model = " + std::to_string(d) + " floats per token");
        if (req_.tokens.size() > size_t(ctx.params().max_batch))
          throw std::invalid_argument("too many tokens for one batch");
        ctx.backend().to_device(state_.features, req_.features.data(), req_.features.size());
        r.features = state_.features;
      }
      r.tokens = req_.tokens;
      r.positions = req_.positions.empty() ? nullptr : req_.positions.data();
      r.mask = req_.mask.empty() ? nullptr : req_.mask.data();
      r.logits = req_.logits;
      r.rows = req_.rows;
      r.hidden = req_.hidden;
      EvalResult out = ctx.eval(r);
      rows_ = out.n_rows;
      vocab_ = out.vocab;
      logits_.resize(size_t(out.n_rows) * out.vocab);
      if (out.logits) ctx.backend().to_host(logits_.data(), out.logits, logits_.size());
      if (out.hidden) {
        hidden_.resize(size_t(out.n) * ctx.model().config().d_model);  // EAGLE: its predicted features
        ctx.backend().to_host(hidden_.data(), out.hidden, hidden_.size());
      }
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    Napi::Float32Array logits = Napi::Float32Array::New(env, logits_.size());
    if (!logits_.empty()) std::memcpy(logits.Data(), logits_.data(), logits_.size() * sizeof(float));
    o.Set("logits", logits);
    o.Set("rows", rows_);
    o.Set("vocab", vocab_);
    if (req_.hidden) {
      Napi::Float32Array h = Napi::Float32Array::New(env, hidden_.size());
      std::memcpy(h.Data(), hidden_.data(), hidden_.size() * sizeof(float));
      o.Set("hidden", h);
    }
    resolve(o);
  }

 private:
  Request req_;
  int rows_ = 0, vocab_ = 0;
  std::vector<float> logits_, hidden_;
};

void JsEngine::Register(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "Engine",
      {InstanceMethod<&JsEngine::Info>("info"), InstanceMethod<&JsEngine::Generate>("generate"),
       InstanceMethod<&JsEngine::Eval>("eval"), InstanceMethod<&JsEngine::Truncate>("truncate"),
       InstanceMethod<&JsEngine::Keep>("keep"), InstanceMethod<&JsEngine::EagleEval>("eagleEval"),
       InstanceMethod<&JsEngine::EagleTruncate>("eagleTruncate"),
       InstanceMethod<&JsEngine::Tokens>("tokens"), InstanceMethod<&JsEngine::Cancel>("cancel"),
       InstanceMethod<&JsEngine::Close>("close")});
  engine_constructor = new Napi::FunctionReference(Napi::Persistent(cls));  // lives as long as the process
  exports.Set("Engine", cls);

  exports.Set("loadModel", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "loadModel(path: string, options?)");
    return (new LoadWorker<EngineState, EngineOptions>(env, engine_constructor, info[0].As<Napi::String>(),
                                                       parse_engine_options(opts_arg(info, 1))))->start();
  }));

  exports.Set("estimateMemory", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "estimateMemory(path: string, options?)");
    EngineOptions o = parse_engine_options(opts_arg(info, 1));
    return guarded(env, [&]() -> Napi::Value {
      auto m = Model::load(info[0].As<Napi::String>());  // reads the header and directory, not the weights
      MemoryEstimate e = estimate_memory(*m, o.ctx.n_ctx, std::min(o.ctx.max_batch, o.ctx.n_ctx),
                                         std::min(o.ctx.max_logit_rows, o.ctx.max_batch));
      Napi::Object r = Napi::Object::New(env);
      r.Set("weights", double(e.weights));
      r.Set("kvCache", double(e.kv_cache));
      r.Set("scratch", double(e.scratch));
      r.Set("argmaxFilter", double(e.argmax_filter));
      r.Set("total", double(e.total()));
      return r;
    });
  }));
}

JsEngine::JsEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsEngine>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "Engine objects are made by loadModel(path, options)");
  state_.reset(info[0].As<Napi::External<EngineState>>().Data());
}

Napi::Value JsEngine::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check_idle(env);
  const EngineState& s = *state_;
  const ModelConfig& c = s.model->config();
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", s.model->path());
  o.Set("arch", arch_name(c.arch));
  o.Set("nVocab", c.n_vocab);
  o.Set("dModel", c.d_model);
  o.Set("nLayers", c.n_layers);
  o.Set("nHeads", c.n_heads);
  o.Set("nKvHeads", c.n_kv_heads);
  o.Set("headDim", c.head_dim);
  o.Set("dFf", c.d_ff);
  o.Set("nCtxTrain", c.n_ctx_train);
  o.Set("ropeTheta", c.rope_theta);
  o.Set("tiedOutput", c.tied_output);
  o.Set("weightBytes", double(s.model->weight_bytes()));
  o.Set("bytesPerToken", double(s.model->bytes_per_token()));
  const WeightView& head = s.model->weights().output;
  o.Set("lmHeadBytes", double(dtype_row_bytes(head.type, head.cols) * uint64_t(head.rows)));
  o.Set("backend", s.backend->name());
  if (!s.backend_note.empty()) o.Set("backendNote", s.backend_note);
  o.Set("threads", s.backend->threads());
  o.Set("contextSize", s.ctx->capacity());
  o.Set("maxBatch", s.ctx->params().max_batch);
  o.Set("maxLogitRows", s.ctx->params().max_logit_rows);
  return o;
}

Napi::Value JsEngine::Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) throw Napi::TypeError::New(env, "generate(tokens, options?, onToken?)");
  std::vector<int32_t> prompt = ids_array(env, info[0], "tokens");
  Napi::Object o = opts_arg(info, 1);
  GenerateParams p;
  p.max_tokens = int_opt(o, "maxTokens", 64, 0, 1 << 22);
  p.prefill_chunk = int_opt(o, "prefillChunk", kPrefillChunkAuto, kPrefillChunkAuto, 1 << 16);
  p.sampling.temperature = float(num_opt(o, "temperature", 0));
  p.sampling.top_k = int_opt(o, "topK", 0, 0, 1 << 30);
  p.sampling.top_p = float(num_opt(o, "topP", 1));
  double seed = num_opt(o, "seed", 0);
  if (seed < 0 || seed > 9007199254740991.0 || seed != double(uint64_t(seed)))
    throw Napi::RangeError::New(env, "seed must be a non-negative integer");
  p.sampling.seed = uint64_t(seed);
  if (!(p.sampling.temperature >= 0) || !(p.sampling.top_p > 0 && p.sampling.top_p <= 1))
    throw Napi::RangeError::New(env, "temperature must be >= 0 and topP in (0, 1]");
  if (!o.Get("stopTokens").IsUndefined()) p.stop_tokens = ids_array(env, o.Get("stopTokens"), "stopTokens");
  Napi::Function cb;
  if (info.Length() > 2 && info[2].IsFunction()) cb = info[2].As<Napi::Function>();
  auto* w = new GenerateWorker(env, this, info.This().As<Napi::Object>(), std::move(prompt), std::move(p), cb);
  Napi::Promise promise = w->promise();
  w->Queue();
  return promise;
}

Napi::Value JsEngine::Eval(const Napi::CallbackInfo& info) { return EvalOn(info, false); }
Napi::Value JsEngine::EagleEval(const Napi::CallbackInfo& info) { return EvalOn(info, true); }

// eval(tokens, options) / eagleEval(tokens, features: Float32Array, options)
Napi::Value JsEngine::EvalOn(const Napi::CallbackInfo& info, bool eagle) {
  Napi::Env env = info.Env();
  if (info.Length() < (eagle ? 2u : 1u))
    throw Napi::TypeError::New(env, eagle ? "eagleEval(tokens, features, options?)" : "eval(tokens, options?)");
  EvalWorker::Request r;
  r.eagle = eagle;
  r.tokens = ids_array(env, info[0], "tokens");
  if (eagle) {
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, "features must be a Float32Array of n x d_model");
    Napi::Float32Array f = info[1].As<Napi::Float32Array>();
    r.features.assign(f.Data(), f.Data() + f.ElementLength());
  }
  Napi::Object o = opts_arg(info, eagle ? 2 : 1);
  if (!o.Get("positions").IsUndefined()) {
    r.positions = ids_array(env, o.Get("positions"), "positions");
    if (r.positions.size() != r.tokens.size()) throw Napi::RangeError::New(env, "positions must have one entry per token");
  }
  Napi::Value mask = o.Get("mask");
  if (!mask.IsUndefined()) {
    if (!mask.IsTypedArray() || mask.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw Napi::TypeError::New(env, "mask must be a Uint8Array of n*n entries");
    Napi::Uint8Array m = mask.As<Napi::Uint8Array>();
    if (m.ElementLength() != r.tokens.size() * r.tokens.size())
      throw Napi::RangeError::New(env, "mask must have n*n entries for n tokens");
    r.mask.assign(m.Data(), m.Data() + m.ElementLength());
  }
  Napi::Value logits = o.Get("logits");
  if (logits.IsUndefined() || (logits.IsString() && logits.As<Napi::String>().Utf8Value() == "last")) {
    r.logits = LogitRows::Last;
  } else if (logits.IsString()) {
    std::string s = logits.As<Napi::String>();
    if (s == "all") r.logits = LogitRows::All;
    else if (s == "none") r.logits = LogitRows::None;
    else throw Napi::RangeError::New(env, "logits must be 'none', 'last', 'all' or a list of rows");
  } else {
    r.logits = LogitRows::List;
    r.rows = ids_array(env, logits, "logits rows");
  }
  r.hidden = o.Get("hidden").ToBoolean();
  auto* w = new EvalWorker(env, this, info.This().As<Napi::Object>(), std::move(r));
  Napi::Promise promise = w->promise();
  w->Queue();
  return promise;
}

Napi::Value JsEngine::Truncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check_idle(env);
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "truncate(n: number)");
  guarded(env, [&] { state_->ctx->truncate(info[0].As<Napi::Number>().Int32Value()); });
  return env.Undefined();
}

Napi::Value JsEngine::EagleTruncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check_idle(env);
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "eagleTruncate(n: number)");
  guarded(env, [&] { state_->context(true).truncate(info[0].As<Napi::Number>().Int32Value()); });
  return env.Undefined();
}

Napi::Value JsEngine::Keep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check_idle(env);
  if (info.Length() < 2 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "keep(base: number, slots: Int32Array)");
  std::vector<int32_t> slots = ids_array(env, info[1], "slots");
  guarded(env, [&] { state_->ctx->keep(info[0].As<Napi::Number>().Int32Value(), slots); });
  return env.Undefined();
}

Napi::Value JsEngine::Tokens(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check_idle(env);
  const std::vector<int32_t>& t = state_->ctx->tokens();
  Napi::Int32Array a = Napi::Int32Array::New(env, t.size());
  if (!t.empty()) std::memcpy(a.Data(), t.data(), t.size() * sizeof(int32_t));
  return a;
}

Napi::Value JsEngine::Cancel(const Napi::CallbackInfo& info) {
  if (state_) state_->cancel = true;
  return info.Env().Undefined();
}

Napi::Value JsEngine::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_) {
    check_idle(env);
    state_.reset();
  }
  return env.Undefined();
}

}  // namespace

FRSPEC_ADDON_MODULE(JsEngine::Register);

}  // namespace frspec::addon
