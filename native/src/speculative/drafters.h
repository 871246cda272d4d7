// The two drafters (see drafter.h) and how they are made from loaded models:
// - a separate draft model sharing the target's tokenizer (checked at load: same token list and
//   pre-tokenizer; the draft may have a different number of padding rows, and only ids the target has
//   are ever drafted);
// - an EAGLE-1 head reading the target's final normed hidden states: input i is
//   fc([E[token i+1]; f_i]) at position i (../shared/models/README.md), its own output feature is fed
//   back when drafting deeper, and the target's LM head (FR-Spec: its restricted rows) scores it.
#pragma once
#include <memory>
#include <string>

#include "engine/context.h"
#include "engine/model.h"
#include "engine/prepared_model.h"
#include "speculative/drafter.h"

namespace frspec {

class Tokenizer;

// Throws ModelError naming both files unless draft and target have the same tokenizer.
void check_same_tokenizer(const Model& target, const Tokenizer& target_tok, const Model& draft);

// `draft` is prepared on the target's backend; n_ctx should be at least the target's context size.
std::unique_ptr<Drafter> make_model_drafter(const PreparedModel& draft, const PreparedModel& target, int n_ctx);
std::unique_ptr<Drafter> make_eagle_drafter(const PreparedModel& eagle, const PreparedModel& target, int n_ctx);

}  // namespace frspec
