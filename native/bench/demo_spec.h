// The demo models set up for speculative decoding, as the speculative benchmarks use them (spec_cpu_bench,
// cuda_spec_bench): demo-target with demo-draft and demo-eagle from one folder on one backend, a ranked
// vocabulary checked against the target's tokenizer, one target context (2048 slots, batches and logit rows
// up to 256) and a decoder per drafter over it.
#pragma once
#include <memory>
#include <string>

#include "engine/context.h"
#include "engine/model.h"
#include "engine/prepared_model.h"
#include "speculative/drafters.h"
#include "speculative/ranked_vocab.h"
#include "speculative/speculative.h"
#include "tokenizer/tokenizer.h"

namespace frspec {

struct DemoSpec {
  DemoSpec(Backend& backend, const std::string& dir, const std::string& vocab_path)
      : target(Model::load(dir + "/demo-target.gguf")),
        draft(Model::load(dir + "/demo-draft.gguf")),
        eagle(Model::load(dir + "/demo-eagle.gguf")),
        tok(Tokenizer::from_gguf(target->gguf())),
        vocab(checked_vocab(vocab_path, *tok, target->path())),
        pt(backend, *target),
        pd(backend, *draft),
        pe(backend, *eagle, &pt),
        ctx(pt, context_params()),
        model_drafter(make_model_drafter(pd, pt, ctx.params().n_ctx)),
        eagle_drafter(make_eagle_drafter(pe, pt, ctx.params().n_ctx)),
        dec_model(ctx, *model_drafter),
        dec_eagle(ctx, *eagle_drafter) {}

  static ContextParams context_params() {
    ContextParams cp;
    cp.n_ctx = 2048;
    cp.max_batch = 256;
    cp.max_logit_rows = 256;
    return cp;
  }
  static RankedVocab checked_vocab(const std::string& path, const Tokenizer& tok, const std::string& model_path) {
    RankedVocab v = read_ranked_vocab(path);
    check_vocab_tokenizer(v, tok, model_path);
    return v;
  }

  std::unique_ptr<Model> target, draft, eagle;
  std::unique_ptr<Tokenizer> tok;
  RankedVocab vocab;
  PreparedModel pt, pd, pe;
  Context ctx;
  std::unique_ptr<Drafter> model_drafter, eagle_drafter;
  SpeculativeDecoder dec_model, dec_eagle;
};

}  // namespace frspec
