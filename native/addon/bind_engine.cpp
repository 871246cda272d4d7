// The inference engine for JavaScript: one Engine object per loaded model (loaded_model.h: the target, and
// optionally a draft model and/or an EAGLE head for speculative decoding). Every call that computes runs on a
// libuv worker thread (never the JS thread) and returns a Promise; one call runs at a time per engine
// (native/engine.ts queues them); cancel() stops a running call between steps (prompt chunks or decode steps).
//
//   loadModel(path, {threads, contextSize, maxBatch, maxLogitRows, backend, draft, eagle}) -> Promise<Engine>
//   estimateMemory(path, {contextSize, maxBatch, maxLogitRows}) -> {weights, kvCache, scratch, total, ...}
//   Engine: info(), generate(tokens, opts, onToken?) (the completion call: bind_complete.cpp),
//           eval(tokens, opts), truncate(n), keep(base, slots), tokens(), cancel(), close()
#include <cstring>
#include <memory>
#include <string>

#include "addon.h"
#include "loaded_model.h"
#include "options.h"
#include "workers.h"

namespace frspec::addon {
namespace {

LoadOptions parse_load_options(const Napi::Object& o) {
  LoadOptions e;
  e.threads = int_opt(o, "threads", 0, 0, 1024);
  e.ctx.n_ctx = int_opt(o, "contextSize", 4096, 1, 1 << 22);
  e.ctx.max_batch = int_opt(o, "maxBatch", 256, 1, 1 << 16);
  e.ctx.max_logit_rows = int_opt(o, "maxLogitRows", 64, 1, 1 << 16);
  e.draft = str_opt(o, "draft");
  e.eagle = str_opt(o, "eagle");
  e.backend = str_opt(o, "backend");
  if (e.backend.empty()) e.backend = "cpu";
  if (e.backend != "cpu" && e.backend != "cuda" && e.backend != "auto")
    throw Napi::RangeError::New(o.Env(), "backend must be 'cpu', 'cuda' or 'auto', got '" + e.backend + "'");
  return e;
}

Napi::FunctionReference* engine_constructor = nullptr;

class JsEngine : public Napi::ObjectWrap<JsEngine> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  explicit JsEngine(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info) { return generate_call(info, idle(info.Env())); }
  Napi::Value Eval(const Napi::CallbackInfo& info);
  Napi::Value Truncate(const Napi::CallbackInfo& info);
  Napi::Value Keep(const Napi::CallbackInfo& info);
  Napi::Value Tokens(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // The model, when it is open and no call is running (else a JS error).
  LoadedModel& idle(Napi::Env env) {
    if (!state_) throw Napi::Error::New(env, "the engine is closed");
    if (state_->busy) throw Napi::Error::New(env, "the engine is busy: one call at a time (await the previous one)");
    return *state_;
  }

  std::unique_ptr<LoadedModel> state_;
};

class EvalWorker : public StateWorker<Napi::AsyncWorker, LoadedModel> {
 public:
  struct Request {
    std::vector<int32_t> tokens, positions, rows;
    std::vector<uint8_t> mask;
    LogitRows logits = LogitRows::Last;
    bool hidden = false;
  };
  EvalWorker(Napi::Env env, Napi::Object self, LoadedModel& m, Request req) : StateWorker(env, self, m), req_(std::move(req)) {}
  void Execute() override {
    try {
      Context& ctx = *state_.ctx;
      EvalRequest r;
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
        hidden_.resize(size_t(out.n) * ctx.model().config().d_model);
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
      if (!hidden_.empty()) std::memcpy(h.Data(), hidden_.data(), hidden_.size() * sizeof(float));
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
       InstanceMethod<&JsEngine::Keep>("keep"), InstanceMethod<&JsEngine::Tokens>("tokens"),
       InstanceMethod<&JsEngine::Cancel>("cancel"), InstanceMethod<&JsEngine::Close>("close")});
  engine_constructor = new Napi::FunctionReference(Napi::Persistent(cls));  // lives as long as the process
  exports.Set("Engine", cls);

  exports.Set("loadModel", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "loadModel(path: string, options?)");
    return (new LoadWorker<LoadedModel, LoadOptions>(env, engine_constructor, info[0].As<Napi::String>(),
                                                     parse_load_options(opts_arg(info, 1))))->start();
  }));

  exports.Set("estimateMemory", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "estimateMemory(path: string, options?)");
    LoadOptions o = parse_load_options(opts_arg(info, 1));
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
  state_.reset(info[0].As<Napi::External<LoadedModel>>().Data());
}

// The model's facts (what the editor's statistics and the benchmarks show) and what was loaded with it.
Napi::Value JsEngine::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const LoadedModel& s = idle(env);
  const ModelConfig& c = s.target->config();
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", s.target->path());
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
  o.Set("weightBytes", double(s.target->weight_bytes()));
  o.Set("bytesPerToken", double(s.target->bytes_per_token()));
  const WeightView& head = s.target->weights().output;
  o.Set("lmHeadBytes", double(dtype_row_bytes(head.type, head.cols) * uint64_t(head.rows)));
  o.Set("backend", s.backend->name());
  if (!s.backend_note.empty()) o.Set("backendNote", s.backend_note);
  o.Set("threads", s.backend->threads());
  o.Set("contextSize", s.ctx->capacity());
  o.Set("maxBatch", s.ctx->params().max_batch);
  o.Set("maxLogitRows", s.ctx->params().max_logit_rows);
  if (s.tokenizer) o.Set("tokenizerFingerprint", s.tokenizer->fingerprint());
  if (s.draft) o.Set("draft", s.draft->path());
  if (s.eagle) o.Set("eagle", s.eagle->path());
  return o;
}

// eval(tokens, options)
Napi::Value JsEngine::Eval(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoadedModel& m = idle(env);
  if (info.Length() < 1) throw Napi::TypeError::New(env, "eval(tokens, options?)");
  EvalWorker::Request r;
  r.tokens = ids_array(env, info[0], "tokens");
  Napi::Object o = opts_arg(info, 1);
  if (!o.Get("positions").IsUndefined()) {
    r.positions = ids_array(env, o.Get("positions"), "positions");
    if (r.positions.size() != r.tokens.size()) throw Napi::RangeError::New(env, "positions must have one entry per token");
  }
  Napi::Value mask = o.Get("mask");
  if (!mask.IsUndefined()) {
    if (!mask.IsTypedArray() || mask.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw Napi::TypeError::New(env, "mask must be a Uint8Array of n*n entries");
    Napi::Uint8Array u = mask.As<Napi::Uint8Array>();
    if (u.ElementLength() != r.tokens.size() * r.tokens.size())
      throw Napi::RangeError::New(env, "mask must have n*n entries for n tokens");
    r.mask.assign(u.Data(), u.Data() + u.ElementLength());
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
  m.cancel = false;
  m.busy = true;
  return (new EvalWorker(env, info.This().As<Napi::Object>(), m, std::move(r)))->start();
}

Napi::Value JsEngine::Truncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoadedModel& m = idle(env);
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "truncate(n: number)");
  guarded(env, [&] { m.ctx->truncate(info[0].As<Napi::Number>().Int32Value()); });
  return env.Undefined();
}

Napi::Value JsEngine::Keep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoadedModel& m = idle(env);
  if (info.Length() < 2 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "keep(base: number, slots: Int32Array)");
  std::vector<int32_t> slots = ids_array(env, info[1], "slots");
  guarded(env, [&] { m.ctx->keep(info[0].As<Napi::Number>().Int32Value(), slots); });
  return env.Undefined();
}

Napi::Value JsEngine::Tokens(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<int32_t>& t = idle(env).ctx->tokens();
  Napi::Int32Array a = Napi::Int32Array::New(env, t.size());
  if (!t.empty()) std::memcpy(a.Data(), t.data(), t.size() * sizeof(int32_t));
  return a;
}

Napi::Value JsEngine::Cancel(const Napi::CallbackInfo& info) {
  if (state_) state_->cancel = true;
  return info.Env().Undefined();
}

Napi::Value JsEngine::Close(const Napi::CallbackInfo& info) {
  if (state_) {
    idle(info.Env());
    state_.reset();
  }
  return info.Env().Undefined();
}

}  // namespace

FRSPEC_ADDON_MODULE(JsEngine::Register);

}  // namespace frspec::addon
