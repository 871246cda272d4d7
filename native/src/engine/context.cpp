// Context: buffers and KV cache bookkeeping. The forward pass itself is in forward.cpp.
#include <algorithm>
#include <string>

#include "engine/context.h"

namespace frspec {

Context::Context(const PreparedModel& model, const ContextParams& params) : model_(model), params_(params) {
  const ModelConfig& c = model.config();
  if (params.n_ctx < 1 || params.max_batch < 1 || params.max_logit_rows < 1)
    throw ContextError("context size, batch size and logit rows must be positive");
  params_.max_batch = std::min(params.max_batch, params.n_ctx);
  params_.max_logit_rows = std::min(params_.max_logit_rows, params_.max_batch);
  Backend& b = model.backend();
  KvCacheShape shape;
  shape.n_layers = c.n_layers;
  shape.n_kv_heads = c.n_kv_heads;
  shape.head_dim = c.head_dim;
  shape.capacity = params.n_ctx;
  kv_ = b.create_kv(shape);

  const size_t B = params_.max_batch, R = params_.max_logit_rows, d = c.d_model;
  const size_t q_dim = size_t(c.n_heads) * c.head_dim, kv_dim = size_t(c.n_kv_heads) * c.head_dim;
  x_ = b.alloc(B * d);
  h_ = b.alloc(B * d);
  q_ = b.alloc(B * q_dim);
  k_ = b.alloc(B * kv_dim);
  v_ = b.alloc(B * kv_dim);
  att_ = b.alloc(B * q_dim);
  gate_ = b.alloc(B * c.d_ff);
  up_ = b.alloc(B * c.d_ff);
  if (c.arch == Arch::Eagle) cat_ = b.alloc(B * 2 * d);
  else hidden_ = b.alloc(B * d);
  sel_ = b.alloc(R * d);
  logits_ = b.alloc(R * size_t(model.n_vocab()));
  pos_.resize(B);
  out_rows_.resize(R);
  argmax_.resize(R);
  move_src_.reserve(B);
  move_dst_.reserve(B);
  tokens_.reserve(params.n_ctx);
}

Context::~Context() {
  Backend& b = model_.backend();
  for (float* p : {x_, h_, q_, k_, v_, att_, gate_, up_, cat_, hidden_, sel_, logits_}) b.free(p);
}

void Context::truncate(int n) {
  if (n < 0 || n > n_past())
    throw ContextError("truncate(" + std::to_string(n) + "): the cache holds " + std::to_string(n_past()) + " tokens");
  tokens_.resize(n);
}

void Context::keep(int base, std::span<const int32_t> slots) {
  if (base < 0 || base > n_past()) throw ContextError("keep: base " + std::to_string(base) + " is past the cache");
  for (size_t i = 0; i < slots.size(); ++i)
    if (slots[i] < base + int(i) || slots[i] >= n_past() || (i && slots[i] <= slots[i - 1]))
      throw ContextError("keep: slots must increase, lie in the cache and not start below base");
  move_src_.clear();
  move_dst_.clear();
  for (size_t i = 0; i < slots.size(); ++i) {
    const int32_t dst = base + int32_t(i);
    if (slots[i] == dst) continue;
    move_src_.push_back(slots[i]);
    move_dst_.push_back(dst);
    tokens_[dst] = tokens_[slots[i]];  // in order, dst <= src: a later source is never overwritten first
  }
  if (!move_src_.empty()) backend().kv_move(*kv_, move_src_.data(), move_dst_.data(), int(move_src_.size()));
  tokens_.resize(base + slots.size());
}

void Context::relabel(int first, std::span<const int32_t> ids) {
  const int vocab = int(model_.token_embd().rows);
  if (first < 0 || first + int(ids.size()) > n_past()) throw ContextError("relabel: slots past the cache");
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) throw ContextError("relabel: token id " + std::to_string(ids[i]) + " is outside the vocabulary");
    tokens_[first + i] = ids[i];
  }
}

int Context::common_prefix(std::span<const int32_t> prompt) const {
  const size_t n = std::min(prompt.size(), tokens_.size());
  size_t i = 0;
  while (i < n && tokens_[i] == prompt[i]) ++i;
  return int(i);
}

}  // namespace frspec
