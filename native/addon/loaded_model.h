// What one loadModel() call holds: the target model on its backend with its KV cache, and optionally a draft
// model and/or an EAGLE head with their speculative decoders, all on the same backend. bind_engine.cpp wraps
// it as the JS Engine object (model calls: info, eval, truncate, keep, tokens) and bind_complete.cpp adds the
// one completion call, generate() (plain decoding without a drafter, speculative with one). Used by one
// worker at a time (busy).
#pragma once
#include <napi.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "engine/backend.h"
#include "engine/context.h"
#include "engine/model.h"
#include "engine/prepared_model.h"
#include "speculative/drafters.h"
#include "speculative/ranked_vocab.h"
#include "speculative/speculative.h"
#include "tokenizer/tokenizer.h"

namespace frspec::addon {

struct LoadOptions {
  int threads = 0;
  std::string backend = "cpu";  // 'cpu', 'cuda' or 'auto' (CUDA when it runs the models, else the CPU)
  std::string draft, eagle;     // optional drafters (paths)
  ContextParams ctx;
};

// Members are destroyed in reverse order: decoders, drafters and the cache before the weights, all of them
// before the backend that holds their memory.
struct LoadedModel {
  std::unique_ptr<Backend> backend;
  std::string backend_note;  // why CUDA was not used, when it was asked for with 'auto'
  std::unique_ptr<Model> target, draft, eagle;
  std::unique_ptr<PreparedModel> pt, pd, pe;
  std::unique_ptr<Tokenizer> tokenizer;  // with a drafter only
  std::unique_ptr<Context> ctx;
  std::unique_ptr<Drafter> draft_drafter, eagle_drafter;
  std::unique_ptr<SpeculativeDecoder> draft_decoder, eagle_decoder;
  std::map<std::string, RankedVocab> vocabs;                // .frv files read so far, by path
  std::map<Drafter*, std::pair<std::string, int>> head_of;  // each drafter's current restriction
  std::atomic<bool> cancel{false}, busy{false};

  // The one backend selection: 'cuda' or 'auto' try the GPU; 'auto' falls back to the CPU (with a note)
  // when there is no GPU or when the GPU backend cannot hold a weight of the target or a drafter.
  static std::unique_ptr<LoadedModel> load(const std::string& path, const LoadOptions& o);

  // Restricts a drafter's head to the top-k of a .frv (or lifts the restriction); only on change.
  void set_vocab(Drafter& d, const std::string& path, int k);

 private:
  static std::unique_ptr<LoadedModel> load_on(std::unique_ptr<Backend> backend, const std::string& path, const LoadOptions& o);
};

// Engine.generate(tokens, options?, onToken?) (bind_complete.cpp): parses the request, marks `m` busy and
// queues the completion; returns its Promise.
Napi::Value generate_call(const Napi::CallbackInfo& info, LoadedModel& m);

}  // namespace frspec::addon
