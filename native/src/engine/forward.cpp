// The transformer forward pass, written only against Backend (so CPU and CUDA compute the same thing):
//   x = embed(tokens)                      EAGLE: x = fc([embed(tokens); features]) + fc_bias
//   per layer: h = rms_norm(x) (EAGLE skips it), q,k,v = h.W (+bias), rope(q,k), append k,v to the cache,
//              x += attention(q, cache, mask).Wo;  h = rms_norm(x);  x += (silu(h.Wgate) * h.Wup).Wdown
//   out = rms_norm(x, output_norm) (EAGLE: x itself);  logits = out[rows].W_lm
#include <cmath>
#include <string>

#include "engine/context.h"

namespace frspec {

void Context::check(const EvalRequest& req) const {
  const int n = int(req.tokens.size());
  const int vocab = int(model_.token_embd().rows);
  if (n < 1) throw ContextError("eval: no tokens");
  if (n > params_.max_batch)
    throw ContextError("eval: " + std::to_string(n) + " tokens exceed the batch size " + std::to_string(params_.max_batch));
  for (int i = 0; i < n; ++i)
    if (req.tokens[i] < 0 || req.tokens[i] >= vocab)
      throw ContextError("eval: token id " + std::to_string(req.tokens[i]) + " at index " + std::to_string(i) +
                         " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  if (n_past() + n > params_.n_ctx)
    throw ContextError("context full: " + std::to_string(n_past()) + " cached + " + std::to_string(n) +
                       " new tokens do not fit in the context of " + std::to_string(params_.n_ctx) + " tokens");
  if (req.positions)
    for (int i = 0; i < n; ++i)
      if (req.positions[i] < 0) throw ContextError("eval: negative position at index " + std::to_string(i));
  const int rows = req.logits == LogitRows::All ? n : req.logits == LogitRows::List ? int(req.rows.size()) : 1;
  if (req.logits != LogitRows::None && rows > params_.max_logit_rows)
    throw ContextError("eval: " + std::to_string(rows) + " logit rows exceed the limit of " +
                       std::to_string(params_.max_logit_rows));
  for (int32_t r : req.rows)
    if (r < 0 || r >= n) throw ContextError("eval: logit row " + std::to_string(r) + " is not in the batch");
  const Weight* head = req.lm_head ? req.lm_head : &model_.output();
  if (head->cols != model_.config().d_model || head->rows > model_.n_vocab())
    throw ContextError("eval: the LM head must have d_model columns and at most n_vocab rows");
  if (model_.config().arch == Arch::Eagle && !req.features)
    throw ContextError("eval: an EAGLE head needs the target's features for every token");
}

// One decoder layer over the batch in x_. Every token's K and V go into the cache; the rest of the layer
// (queries, attention, output projection, FFN) runs for the rows in [first, n) only: the last layer skips
// rows whose outputs nobody reads (a prompt chunk needs only its K/V, a prompt only its last logits).
// Each row's arithmetic does not depend on which other rows are computed, so the bits are the same.
void Context::layer(const PreparedLayer& L, int l, int n, const uint8_t* mask, int first) {
  Backend& b = backend();
  const ModelConfig& c = model_.config();
  const int d = c.d_model, m = n - first;
  const RopeParams rope = model_.rope();

  const float scale = 1.f / std::sqrt(float(c.head_dim));
  if (first == 0) {  // every row needs its query too: norm + q|k|v, and RoPE + cache write + attention, fused
    const InputNorm attn_in{L.attn_norm, c.rms_eps, h_};
    b.matmul_qkv(L.q, L.k, L.v, x_, n, q_, k_, v_, L.q_bias, L.k_bias, L.v_bias, L.attn_norm ? &attn_in : nullptr);
    b.rope_kv_attention(*kv_, l, q_, k_, v_, att_, pos_.data(), n, rope, n_past(), mask, c.n_heads, scale);
  } else {
    if (L.attn_norm) b.rms_norm(x_, L.attn_norm, h_, n, d, c.rms_eps);
    const float* in = L.attn_norm ? h_ : x_;
    b.matmul(L.k, in, k_, n, L.k_bias);
    b.matmul(L.v, in, v_, n, L.v_bias);
    b.rope_kv_write(*kv_, l, nullptr, c.n_heads, k_, v_, pos_.data(), n, rope, n_past());
    if (m == 0) return;
    // Query row r of [first, n) sits at slot n_past + first + r and sees the slots before it (causal), or
    // what its mask row allows (a mask implies first == 0).
    b.matmul(L.q, in + size_t(first) * d, q_, m, L.q_bias);
    b.rope(q_, pos_.data() + first, m, c.n_heads, c.head_dim, rope);
    b.attention(*kv_, l, q_, att_, n_past() + first, m, mask, c.n_heads, scale);
  }
  float* x = x_ + size_t(first) * d;
  b.matmul_add(L.o, att_, x, h_, m, L.o_bias);  // x += attention . Wo

  const InputNorm ffn_in{L.ffn_norm, c.rms_eps, h_};
  b.ffn_add(L.gate, L.up, L.down, x, x, gate_, up_, h_, m, &ffn_in);  // x += (silu(h . Wgate) * h . Wup) . Wdown, h = norm(x)
}

// The token embeddings, from host ids or (token_ids) from ids a drafter left in backend memory.
void Context::embed(const EvalRequest& req, int n, float* out) {
  if (req.token_ids) backend().get_rows_ids(model_.token_embd(), req.token_ids, n, out);
  else backend().get_rows(model_.token_embd(), req.tokens.data(), n, out);
}

EvalResult Context::eval(const EvalRequest& req) {
  check(req);
  Backend& b = backend();
  const ModelConfig& c = model_.config();
  const int n = int(req.tokens.size()), d = c.d_model, base = n_past();
  for (int i = 0; i < n; ++i) pos_[i] = req.positions ? req.positions[i] : base + i;

  if (c.arch == Arch::Eagle) {
    // x = fc([E[token]; feature]): the embedding lands in h_, the concatenation in cat_.
    embed(req, n, h_);
    b.copy_rows(cat_, 2 * size_t(d), h_, d, n, d);
    b.copy_rows(cat_ + d, 2 * size_t(d), req.features, d, n, d);
    b.matmul(model_.fc(), cat_, x_, n, model_.fc_bias());
  } else {
    embed(req, n, x_);
  }

  // Each layer writes the new tokens' K/V at slots base..base+n-1; they count as cached only once the
  // whole pass is done, so a failure leaves the cache as it was. The last layer finishes only the rows
  // that are read: all of them for hidden states, a mask or several logit rows; the last one for a causal
  // batch's last logits; none when only K/V are wanted (a prompt chunk).
  const bool all_rows = req.hidden || req.mask || req.logits == LogitRows::All || req.logits == LogitRows::List;
  const int last_first = all_rows ? 0 : req.logits == LogitRows::Last ? n - 1 : n;
  const int n_layers = int(model_.layers().size());
  for (int l = 0; l < n_layers; ++l) {
    if (req.cancel && req.cancel->load(std::memory_order_relaxed)) return EvalResult{};  // nothing committed
    layer(model_.layers()[l], l, n, req.mask, l == n_layers - 1 ? last_first : 0);
  }
  tokens_.insert(tokens_.end(), req.tokens.begin(), req.tokens.end());

  EvalResult r;
  r.n = n;
  if (req.hidden) {
    if (model_.output_norm()) b.rms_norm(x_, model_.output_norm(), hidden_, n, d, c.rms_eps);
    r.hidden = model_.output_norm() ? hidden_ : x_;  // EAGLE: the layer output itself is the feature
  }
  if (req.logits == LogitRows::None) return r;

  // The rows to project, then one matmul over them (all rows share each weight read).
  int n_rows = 0;
  switch (req.logits) {
    case LogitRows::Last: out_rows_[n_rows++] = n - 1; break;
    case LogitRows::All: for (int i = 0; i < n; ++i) out_rows_[n_rows++] = i; break;
    case LogitRows::List: for (int32_t i : req.rows) out_rows_[n_rows++] = i; break;
    case LogitRows::None: break;
  }
  const Weight& head = req.lm_head ? *req.lm_head : model_.output();
  // Gather (and normalize) the selected rows into sel_, one contiguous run at a time.
  for (int i = 0; i < n_rows;) {
    int j = i + 1;
    while (j < n_rows && out_rows_[j] == out_rows_[j - 1] + 1) ++j;
    const float* src = x_ + size_t(out_rows_[i]) * d;
    if (model_.output_norm()) b.rms_norm(src, model_.output_norm(), sel_ + size_t(i) * d, j - i, d, c.rms_eps);
    else b.copy_rows(sel_ + size_t(i) * d, d, src, d, j - i, d);
    i = j;
  }
  if (req.argmax_only) {
    b.matmul_argmax(head, sel_, n_rows, logits_, argmax_.data());
    r.argmax = argmax_.data();
  } else {
    b.matmul(head, sel_, logits_, n_rows, nullptr);
    r.logits = logits_;
  }
  r.n_rows = n_rows;
  r.vocab = int(head.rows);
  return r;
}

}  // namespace frspec
