// Pieces every binding with a loaded object shares: reading token-id arrays from JavaScript, the worker
// that loads a model off the JS thread and resolves its Promise with the JS wrapper object, and the base of
// the workers that compute on a loaded object.
#pragma once
#include <napi.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace frspec::addon {

// An Int32Array or an array of integers; anything else (or a non-number element) is a TypeError naming `what`.
inline std::vector<int32_t> ids_array(Napi::Env env, Napi::Value v, const char* what) {
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
  }
  if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    std::vector<int32_t> out(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value e = a.Get(i);
      if (!e.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must hold integers");
      out[i] = e.As<Napi::Number>().Int32Value();
    }
    return out;
  }
  throw Napi::TypeError::New(env, std::string(what) + " must be an Int32Array or an array of integers");
}

// Runs State::load(path, options) on a libuv worker thread; resolves with constructor->New(External<State>)
// (the wrapper takes ownership) or rejects with the load error's message.
template <class State, class Options>
class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, Napi::FunctionReference* constructor, std::string path, Options options)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), constructor_(constructor),
        path_(std::move(path)), options_(std::move(options)) {}
  // Queues the worker and returns its Promise (the worker deletes itself when done).
  Napi::Promise start() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }
  void Execute() override {
    try {
      state_ = State::load(path_, options_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(constructor_->New({Napi::External<State>::New(Env(), state_.release())})); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference* constructor_;
  std::string path_;
  Options options_;
  std::unique_ptr<State> state_;
};

// A Promise-returning worker on one loaded object (State has an atomic `busy`, set by the caller before it
// queues the worker: one call at a time): keeps the JS object alive while it runs, frees `busy` when it settles.
template <class Base, class State>
class StateWorker : public Base {
 public:
  StateWorker(Napi::Env env, Napi::Object self, State& state)
      : Base(env), deferred_(Napi::Promise::Deferred::New(env)), state_(state) {
    self_ = Napi::Persistent(self);
  }
  // Queues the worker and returns its Promise (the worker deletes itself when done).
  Napi::Promise start() {
    Napi::Promise p = deferred_.Promise();
    this->Queue();
    return p;
  }

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
  State& state_;
  Napi::ObjectReference self_;
};

}  // namespace frspec::addon
