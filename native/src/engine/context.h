// A Context evaluates tokens of one sequence: it owns the KV cache (bounded, in slots), every activation
// buffer (sized once for max_batch tokens, so nothing is allocated per token) and the list of tokens whose
// K/V sit in the cache. eval() appends a batch at the end of the cache; truncate() and keep() roll it
// back cheaply (only the count changes, or the accepted path of a tree is moved down).
//
// Slots vs positions: slot s holds the s-th committed token and normally has RoPE position s. Tree
// verification evaluates drafted tokens that share positions (explicit `positions`) with a tree mask,
// then keeps the accepted path with keep().
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "engine/backend.h"
#include "engine/prepared_model.h"

namespace frspec {

class ContextError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ContextParams {
  int n_ctx = 4096;          // KV cache capacity in tokens
  int max_batch = 256;       // tokens per eval() (prompts are evaluated in chunks of this)
  int max_logit_rows = 64;   // rows of logits one eval() may return (a verified tree's size)
};

enum class LogitRows { None, Last, All, List };

struct EvalRequest {
  std::span<const int32_t> tokens;
  const int32_t* positions = nullptr;    // host, one per token; null: slot index (n_past + i)
  const uint8_t* mask = nullptr;         // host, n*n over the new tokens; null: causal
  LogitRows logits = LogitRows::Last;
  std::span<const int32_t> rows;         // LogitRows::List: indices into the batch
  const Weight* lm_head = nullptr;       // another LM head (e.g. FR-Spec's k-row head); null: the model's
  bool hidden = false;                   // also return the final hidden states of every token
  bool argmax_only = false;              // greedy: return only each logit row's argmax (host), no logits
  const float* features = nullptr;       // EAGLE only: n x d target features (backend memory; may be this
                                         // context's last hidden rows: eval reads them before it writes)
  // The tokens' ids in backend memory (a drafter's argmax, not yet read back): the embedding rows are read
  // from there and `tokens` only gives n (its values are placeholders; relabel() fixes them later).
  const int32_t* token_ids = nullptr;
  // Looked at between layers: when set, eval() stops and returns an empty result (n 0) with the cache as
  // it was, so a newer request waits for one layer of a stale prompt chunk, not the whole chunk.
  const std::atomic<bool>* cancel = nullptr;
};

struct EvalResult {
  const float* logits = nullptr;  // backend memory, n_rows x vocab; valid until the next eval()
  const int32_t* argmax = nullptr;  // host, n_rows ids, with argmax_only (logits is then null)
  int n_rows = 0;
  int vocab = 0;
  const float* hidden = nullptr;  // backend memory, n x d (after the final norm; EAGLE: the layer output)
  int n = 0;
};

class Context {
 public:
  Context(const PreparedModel& model, const ContextParams& params);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Evaluates a batch appended after the committed slots. Throws ContextError for a batch that is too
  // large, does not fit the cache, or holds a token id outside the vocabulary; the cache is unchanged then.
  EvalResult eval(const EvalRequest& req);

  int n_past() const { return int(tokens_.size()); }
  int capacity() const { return params_.n_ctx; }
  const ContextParams& params() const { return params_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  const PreparedModel& model() const { return model_; }
  Backend& backend() const { return model_.backend(); }

  // Forgets every slot from n on (rollback). O(1).
  void truncate(int n);
  // Keeps slots[0..k) (increasing, all >= base) as slots base .. base+k-1 and forgets everything after:
  // the accepted path of a verified tree.
  void keep(int base, std::span<const int32_t> slots);
  // The real ids of slots first .. first+ids.size()-1, evaluated from backend-memory ids (token_ids).
  void relabel(int first, std::span<const int32_t> ids);
  // Length of the longest common prefix of the committed tokens and `prompt`.
  int common_prefix(std::span<const int32_t> prompt) const;

 private:
  void check(const EvalRequest& req) const;
  void layer(const PreparedLayer& L, int l, int n, const uint8_t* mask, int first);
  void embed(const EvalRequest& req, int n, float* out);

  const PreparedModel& model_;
  ContextParams params_;
  std::unique_ptr<KvCache> kv_;
  std::vector<int32_t> tokens_;  // token in each committed slot

  // Backend buffers, sized for max_batch tokens.
  float *x_ = nullptr, *h_ = nullptr, *q_ = nullptr, *k_ = nullptr, *v_ = nullptr, *att_ = nullptr;
  float *gate_ = nullptr, *up_ = nullptr, *cat_ = nullptr, *hidden_ = nullptr, *sel_ = nullptr, *logits_ = nullptr;
  // Host buffers.
  std::vector<int32_t> pos_, out_rows_, move_src_, move_dst_, argmax_;
};

}  // namespace frspec
