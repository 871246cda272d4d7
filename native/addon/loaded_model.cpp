#include "loaded_model.h"

#include <cstdio>
#include <stdexcept>

namespace frspec::addon {

std::unique_ptr<LoadedModel> LoadedModel::load(const std::string& path, const LoadOptions& o) {
  std::string note;
  if (o.backend != "cpu") {
    std::unique_ptr<Backend> cuda = make_cuda_backend(0, &note);
    if (!cuda && o.backend == "cuda") throw std::runtime_error("CUDA backend unavailable: " + note);
    if (cuda) {
      try {
        return load_on(std::move(cuda), path, o);
      } catch (const std::invalid_argument& e) {
        // 'auto' and a weight the GPU backend cannot hold (e.g. a type only the CPU kernels have): the CPU.
        if (o.backend != "auto") throw;
        note = std::string("CUDA cannot run this model (") + e.what() + "); using the CPU";
        std::fprintf(stderr, "frspec: %s\n", note.c_str());
      }
    }
  }
  auto m = load_on(make_cpu_backend(o.threads), path, o);
  m->backend_note = note;
  return m;
}

std::unique_ptr<LoadedModel> LoadedModel::load_on(std::unique_ptr<Backend> backend, const std::string& path, const LoadOptions& o) {
  auto s = std::make_unique<LoadedModel>();
  s->backend = std::move(backend);
  s->target = Model::load(path);
  if (s->target->config().arch == Arch::Eagle)
    throw ModelError(path + ": an EAGLE head is not a standalone model (load it as the eagle drafter of its target)");
  s->pt = std::make_unique<PreparedModel>(*s->backend, *s->target);
  // Speculative decoding reads the target's tokenizer (the draft model's must equal it, a .frv names it,
  // maxLines counts newlines); plain decoding needs none (a file without one is a valid model).
  if (!o.draft.empty() || !o.eagle.empty()) s->tokenizer = Tokenizer::from_gguf(s->target->gguf());
  s->ctx = std::make_unique<Context>(*s->pt, o.ctx);
  // Warm up off the JS thread: page in the weights and build what greedy decoding uses (the CPU
  // backend's LM-head filter), so the first request does not pay for it.
  const int32_t first = 0;
  EvalRequest warm;
  warm.tokens = std::span<const int32_t>(&first, 1);
  warm.argmax_only = true;
  s->ctx->eval(warm);
  s->ctx->truncate(0);
  if (!o.draft.empty()) {
    s->draft = Model::load(o.draft);
    check_same_tokenizer(*s->target, *s->tokenizer, *s->draft);
    s->pd = std::make_unique<PreparedModel>(*s->backend, *s->draft);
    s->draft_drafter = make_model_drafter(*s->pd, *s->pt, o.ctx.n_ctx);
    s->draft_decoder = std::make_unique<SpeculativeDecoder>(*s->ctx, *s->draft_drafter);
  }
  if (!o.eagle.empty()) {
    s->eagle = Model::load(o.eagle);
    if (s->eagle->config().arch != Arch::Eagle) throw ModelError(o.eagle + ": not an EAGLE head");
    s->pe = std::make_unique<PreparedModel>(*s->backend, *s->eagle, s->pt.get());
    s->eagle_drafter = make_eagle_drafter(*s->pe, *s->pt, o.ctx.n_ctx);
    s->eagle_decoder = std::make_unique<SpeculativeDecoder>(*s->ctx, *s->eagle_drafter);
  }
  return s;
}

void LoadedModel::set_vocab(Drafter& d, const std::string& path, int k) {
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

}  // namespace frspec::addon
