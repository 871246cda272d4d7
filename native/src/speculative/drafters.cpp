#include "speculative/drafters.h"

#include <algorithm>

#include "tokenizer/tokenizer.h"

namespace frspec {
namespace {

constexpr int kHeadRows = 64;  // rows one projection may score (a tree level's beam)

ContextParams draft_context(int n_ctx) {
  ContextParams p;
  p.n_ctx = n_ctx + 256;  // room for drafted nodes beyond the target's committed tokens
  p.max_batch = 256;
  p.max_logit_rows = 1;   // logits come from DraftHead, not from the context
  return p;
}

class ModelDrafter final : public Drafter {
 public:
  ModelDrafter(const PreparedModel& draft, const PreparedModel& target, int n_ctx)
      : Drafter(std::make_unique<Context>(draft, draft_context(n_ctx)),
                std::make_unique<DraftHead>(draft.backend(), draft.output(), target.n_vocab(), kHeadRows),
                draft.config().d_model) {}
  const char* kind() const override { return "draft-model"; }

 protected:
  void wanted_inputs(std::span<const int32_t> committed, int32_t root, std::vector<int32_t>& out) override {
    out.assign(committed.begin(), committed.end());
    out.push_back(root);
  }
  bool drafted_kv_reusable() const override { return true; }
};

class EagleDrafter final : public Drafter {
 public:
  EagleDrafter(const PreparedModel& eagle, const PreparedModel& target, int n_ctx)
      : Drafter(std::make_unique<Context>(eagle, draft_context(n_ctx)),
                std::make_unique<DraftHead>(eagle.backend(), target.output(), target.n_vocab(), kHeadRows),
                eagle.config().d_model) {}
  const char* kind() const override { return "eagle"; }
  bool needs_features() const override { return true; }

 protected:
  // Input i pairs token i+1 with the target's feature of token i, so the inputs are the tokens from the
  // second on. The feature also depends on token 0, which the cache's token list does not show: a
  // different first token invalidates the whole cache.
  void wanted_inputs(std::span<const int32_t> committed, int32_t root, std::vector<int32_t>& out) override {
    if (committed.empty() || committed[0] != first_) {
      reset(committed.empty() ? -1 : committed[0]);
    }
    out.assign(committed.begin() + std::min<size_t>(1, committed.size()), committed.end());
    out.push_back(root);
  }
  bool drafted_kv_reusable() const override { return false; }

 private:
  void reset(int32_t first) {
    context().truncate(0);
    first_ = first;
  }
  int32_t first_ = -1;
};

}  // namespace

void check_same_tokenizer(const Model& target, const Tokenizer& target_tok, const Model& draft) {
  std::unique_ptr<Tokenizer> dt;
  try {
    dt = Tokenizer::from_gguf(draft.gguf());
  } catch (const std::exception& e) {
    throw ModelError(draft.path() + ": cannot read the draft model's tokenizer: " + e.what());
  }
  if (dt->fingerprint() == target_tok.fingerprint() && dt->n_vocab() == target_tok.n_vocab()) return;
  throw ModelError("the draft model " + draft.path() + " has tokenizer " + dt->fingerprint().substr(0, 12) +
                   "... (pre-tokenizer " + dt->pre() + ", " + std::to_string(dt->n_vocab()) + " tokens) but the target " +
                   target.path() + " has " + target_tok.fingerprint().substr(0, 12) + "... (pre-tokenizer " +
                   target_tok.pre() + ", " + std::to_string(target_tok.n_vocab()) +
                   " tokens): speculative decoding needs the same token list");
}

std::unique_ptr<Drafter> make_model_drafter(const PreparedModel& draft, const PreparedModel& target, int n_ctx) {
  if (draft.config().arch == Arch::Eagle) throw ModelError(draft.model().path() + ": an EAGLE head is not a draft model (use it as --eagle)");
  if (&draft.backend() != &target.backend()) throw ModelError("the draft model must use the target's backend");
  return std::make_unique<ModelDrafter>(draft, target, n_ctx);
}

std::unique_ptr<Drafter> make_eagle_drafter(const PreparedModel& eagle, const PreparedModel& target, int n_ctx) {
  if (eagle.config().arch != Arch::Eagle) throw ModelError(eagle.model().path() + ": not an EAGLE head (general.architecture is not eagle)");
  return std::make_unique<EagleDrafter>(eagle, target, n_ctx);
}

}  // namespace frspec
