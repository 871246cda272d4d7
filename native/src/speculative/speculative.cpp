#include "speculative/speculative.h"

#include "speculative/verify_logits.h"

#include <algorithm>
#include <chrono>
#include <string>

namespace frspec {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
bool cancelled(const std::atomic<bool>* c) { return c && c->load(std::memory_order_relaxed); }
constexpr int kMaxQueuedChain = 32;  // DraftShape::validate's chain limit

// One step's nodes per depth into drafted_at, its accepted path (node k at depth k + 1) into accepted_at.
void count_positions(const DraftTree& tree, const VerifyResult& vr, SpecStats& st) {
  for (int32_t depth : tree.depth) {
    if (int(st.drafted_at.size()) < depth) st.drafted_at.resize(depth, 0);
    ++st.drafted_at[depth - 1];
  }
  st.accepted_at.resize(st.drafted_at.size(), 0);
  for (size_t k = 0; k < vr.accepted_nodes.size(); ++k) ++st.accepted_at[k];
}

}  // namespace

const char* spec_stop_name(SpecStop s) {
  switch (s) {
    case SpecStop::StopToken: return "stop_token";
    case SpecStop::MaxTokens: return "max_tokens";
    case SpecStop::ContextFull: return "context_full";
    case SpecStop::Cancelled: return "cancelled";
    case SpecStop::TimeBudget: return "time_budget";
    case SpecStop::Caller: return "stop_check";
  }
  return "?";
}

SpeculativeDecoder::SpeculativeDecoder(Context& target, Drafter& drafter) : target_(target), drafter_(drafter) {
  if (drafter.needs_features())
    features_ = target.backend().alloc(size_t(target.capacity()) * target.model().config().d_model);
}

SpeculativeDecoder::~SpeculativeDecoder() {
  target_.backend().free(features_);
  if (step_ids_) target_.backend().free_ids(step_ids_);
}

void SpeculativeDecoder::store_features(const float* hidden, std::span<const int32_t> rows, int first_slot) {
  if (!features_) return;
  const int d = target_.model().config().d_model;
  for (size_t i = 0; i < rows.size();) {  // runs of consecutive rows are one copy
    size_t j = i + 1;
    while (j < rows.size() && rows[j] == rows[j - 1] + 1) ++j;
    target_.backend().copy_rows(features_ + size_t(first_slot + i) * d, d, hidden + size_t(rows[i]) * d, d, int(j - i), d);
    i = j;
  }
}

SpecResult SpeculativeDecoder::generate(std::span<const int32_t> prompt, const SpecParams& params,
                                        const std::atomic<bool>* cancel, const std::function<void(int32_t)>& on_token,
                                        const std::function<bool(const std::vector<int32_t>&)>& stop_check) {
  params.shape.validate();
  SpecResult out;
  SpecStats& st = out.stats;
  const auto t0 = Clock::now();
  const int n = int(prompt.size());
  if (n == 0) throw ContextError("empty prompt");
  if (n > target_.capacity())
    throw ContextError("the prompt has " + std::to_string(n) + " tokens and does not fit in the context of " +
                       std::to_string(target_.capacity()) + " tokens");
  st.n_prompt = n;
  Backend& b = target_.backend();
  const bool greedy = params.sampling.greedy();
  const bool feats = drafter_.needs_features();

  // Prefill: the whole prompt (its last row gives the first token, exactly as generate() does), reusing
  // the cached prefix; EAGLE also needs the stored features of that prefix.
  int keep = target_.common_prefix(prompt);
  if (feats) {
    size_t f = 0;
    while (f < feature_tokens_.size() && f < prompt.size() && feature_tokens_[f] == prompt[f]) ++f;
    keep = std::min(keep, int(f));
  }
  keep = std::min(keep, n - 1);
  target_.truncate(keep);
  feature_tokens_.assign(prompt.begin(), prompt.begin() + keep);
  st.n_reused = keep;
  EvalResult r;
  const int chunk = prefill_chunk(target_, params.prefill_chunk);
  std::vector<int32_t> rows;
  for (int i = keep; i < n; i += chunk) {
    if (cancelled(cancel)) {
      out.stop = SpecStop::Cancelled;
      return out;
    }
    EvalRequest req;
    req.tokens = prompt.subspan(i, std::min(chunk, n - i));
    req.logits = i + chunk >= n ? LogitRows::Last : LogitRows::None;
    // Greedy: the first token as plain greedy decoding gets it (generate()'s argmax_only: on the CPU the
    // exact 8-bit LM-head prefilter, not the full float head — that cost ~4-5 ms per demo-target request).
    req.argmax_only = greedy && req.logits == LogitRows::Last;
    req.hidden = feats;
    req.cancel = cancel;
    r = target_.eval(req);
    if (r.n == 0) {  // cancelled between two layers: that chunk is not cached
      out.stop = SpecStop::Cancelled;
      return out;
    }
    rows.resize(req.tokens.size());
    for (size_t j = 0; j < rows.size(); ++j) rows[j] = int32_t(j);
    store_features(r.hidden, rows, i);
    feature_tokens_.insert(feature_tokens_.end(), req.tokens.begin(), req.tokens.end());
  }
  // The drafter reads the prompt too, as part of prompt processing (llama.cpp's speculative example
  // also evaluates the prompt with both models before decoding); the first step then reads only the root.
  // A draft model reads only the prompt's last tokens (draft_window). FR-Spec's prompt ids join the head
  // here as well, not in the first decoding step (DraftHead::set_extra: nothing is gathered when the
  // previous prompts' ids already cover them, as while typing).
  DraftHead& head = drafter_.head();
  if (params.max_tokens > 1 && !params.no_draft) {
    if (cancelled(cancel)) {
      out.stop = SpecStop::Cancelled;
      return out;
    }
    const auto tp = Clock::now();
    drafter_.prefill(target_.tokens(), features_, params.draft_window, cancel);
    st.draft_prompt_tokens = drafter_.last_prefill_tokens();
    if (cancelled(cancel)) {
      out.stop = SpecStop::Cancelled;
      return out;
    }
    head.set_extra(params.context_tokens ? prompt : std::span<const int32_t>());
    head.prepare();
    st.draft_prompt_ms = ms_since(tp);
  }
  st.prompt_ms = ms_since(t0);
  const auto t_decode = Clock::now();  // the time budget counts decoding, not prompt processing

  const int vocab = int(target_.model().output().rows);
  Sampler sampler(params.sampling, vocab);
  std::mt19937_64 verify_rng(params.sampling.seed ^ 0x9E3779B97F4A7C15ull), draft_rng(params.sampling.seed ^ 0xD1B54A32D192ED03ull);
  std::vector<float> host_logits, p_rows;
  st.head_rows = head.size();

  auto emit = [&](int32_t tok) {  // false: generation ends here
    if (std::find(params.stop_tokens.begin(), params.stop_tokens.end(), tok) != params.stop_tokens.end()) {
      out.stop = SpecStop::StopToken;
      out.stop_token = tok;
      return false;
    }
    out.tokens.push_back(tok);
    if (on_token) on_token(tok);
    if (int(out.tokens.size()) >= params.max_tokens) {
      out.stop = SpecStop::MaxTokens;
      return false;
    }
    return true;
  };
  auto finish = [&]() {
    st.total_ms = ms_since(t0);
    return out;
  };
  if (params.max_tokens <= 0) return finish();

  int32_t root;
  if (greedy) {
    root = r.argmax[0];
  } else {
    host_logits.resize(vocab);
    b.to_host(host_logits.data(), r.logits, vocab);
    root = sampler.sample(host_logits.data());
  }
  if (!emit(root)) return finish();

  DraftTree tree;
  DraftProbs q;
  VerifyLogits logits(b, target_.model().output());
  VerifyResult vr;
  std::vector<int32_t> verify_tokens, positions, argmax_rows, slots;
  std::vector<uint8_t> mask;
  const bool chain_sampling = !greedy && !params.shape.tree;
  const bool queued_chain = greedy && !params.shape.tree &&
                            (params.queued_chain > 0 || (params.queued_chain < 0 && b.device_resident()));
  std::vector<int32_t> step_host, looked_up;
  if (queued_chain && !step_ids_) step_ids_ = b.alloc_ids(2 * size_t(kMaxQueuedChain + 1));
  for (;;) {
    if (cancelled(cancel)) { out.stop = SpecStop::Cancelled; break; }
    if (params.time_budget_ms > 0 && ms_since(t_decode) >= params.time_budget_ms) { out.stop = SpecStop::TimeBudget; break; }
    if (stop_check && stop_check(out.tokens)) { out.stop = SpecStop::Caller; break; }
    const int base = target_.n_past();  // the root's slot
    if (base >= target_.capacity()) { out.stop = SpecStop::ContextFull; break; }

    // Draft: no more nodes than the context, the verify rows and (for a chain) the tokens still wanted.
    int limit = std::min({params.shape.max_nodes(), target_.capacity() - base - 1, target_.params().max_logit_rows - 1,
                          target_.params().max_batch - 1});
    if (!params.shape.tree) limit = std::min(limit, params.max_tokens - int(out.tokens.size()) - 1);
    if (params.no_draft) limit = 0;
    auto td = Clock::now();
    Clock::time_point tv;
    tree.clear();
    if (queued_chain && limit > 0) {
      // One queued step: root -> step_ids_[0], the drafter's ids -> step_ids_[1..n], the target reads them
      // from there, its argmax per row -> step_ids_[n+1..2n+1], then the host waits once for all of them.
      // (draft_ms then counts only the host's queuing; the GPU's drafting time lands in verify_ms.)
      // With graph_steps the whole step up to the read back is recorded and launched as one CUDA graph.
      // (Not with context lookup: its steps alternate between two shapes, and a lookup step's ids come from
      // host memory, which a recorded graph would read again at replay.)
      const bool graph = params.graph_steps && st.steps > 0 && params.shape.lookup == 0;
      if (graph) b.begin_graph();
      int n = 0;
      try {
        b.write_ids(step_ids_, &root, 1);
        // Context lookup first: a match is written where the drafter would have left its ids.
        n = drafter_.lookup(target_.tokens(), root, params.shape, limit, looked_up);
        if (n > 0) b.write_ids(step_ids_ + 1, looked_up.data(), n);
        else n = drafter_.draft_chain_queued(target_.tokens(), root, features_, params.shape.chain, limit, step_ids_ + 1);
        st.draft_ms += ms_since(td);
        tv = Clock::now();
        verify_tokens.assign(size_t(n) + 1, 0);
        verify_tokens[0] = root;
        EvalRequest req;
        req.tokens = verify_tokens;  // placeholders after the root; the ids come from step_ids_
        req.token_ids = step_ids_;
        req.logits = LogitRows::None;
        req.hidden = true;
        r = target_.eval(req);
        st.verify_eval_ms += ms_since(tv);
        for (int i = 0; i < n; ++i) tree.add(0, i - 1, 0.f);
        logits.reset(tree, r.hidden);
        logits.argmax_all(step_ids_ + n + 1);
      } catch (...) {
        if (graph) b.abort_graph();
        throw;
      }
      if (graph) b.end_graph();
      step_host.resize(2 * size_t(n) + 1);
      b.read_ids(step_host.data(), step_ids_ + 1, 2 * n + 1);
      for (int i = 0; i < n; ++i) tree.token[i] = verify_tokens[i + 1] = step_host[i];
      if (!drafter_.last_from_lookup()) drafter_.drafted(std::span<const int32_t>(step_host).first(n));
      target_.relabel(base + 1, std::span<const int32_t>(step_host).first(n));
      verify_greedy(tree, step_host.data() + n, vr);
      st.verify_rows += n + 1;
    } else {
      if (limit > 0)
        drafter_.draft(target_.tokens(), root, features_, params.shape, limit, chain_sampling ? params.sampling.temperature : 0.f,
                       draft_rng, tree, chain_sampling ? &q : nullptr);
      st.draft_ms += ms_since(td);

      // Verify root + all nodes in one target eval.
      tv = Clock::now();
      const int m = tree.size() + 1;
      verify_tokens.assign(1, root);
      verify_tokens.insert(verify_tokens.end(), tree.token.begin(), tree.token.end());
      tree.verify_positions(base, positions);
      if (params.shape.tree) tree.verify_mask(mask);  // a chain is causal: the default mask
      EvalRequest req;
      req.tokens = verify_tokens;
      req.positions = positions.data();
      req.mask = params.shape.tree ? mask.data() : nullptr;
      req.logits = LogitRows::None;  // the LM head runs only for the rows verification reaches
      req.hidden = true;
      r = target_.eval(req);
      st.verify_eval_ms += ms_since(tv);
      logits.reset(tree, r.hidden);
      if (greedy) {
        if (b.device_resident()) logits.argmax_all();  // one wait for every row, not one per reached row
        verify_walk(tree, [&](int row) { return logits.argmax(row); }, vr);
      } else {
        auto p_row = [&](int row) {  // the target's processed distribution at a verify row
          host_logits.resize(vocab);
          p_rows.resize(size_t(m) * vocab);
          b.to_host(host_logits.data(), logits.row(row), vocab);
          float* p = p_rows.data() + size_t(row) * vocab;
          sampler.probabilities(host_logits.data(), p);
          return p;
        };
        if (params.shape.tree) {
          std::uniform_real_distribution<double> uni(0.0, 1.0);
          verify_walk(tree, [&](int row) { return sample_from(p_row(row), vocab, uni(verify_rng)); }, vr);
        } else {
          for (int i = 0; i < m; ++i) p_row(i);  // a chain's rows are one path: scored in one matmul
          verify_chain_sampling(tree.token.data(), q.dists.data(), tree.size(), p_rows.data(), vocab, verify_rng, vr);
        }
      }
      st.verify_rows += logits.rows_scored();
    }
    // Keep the root and the accepted path; everything else drafted is rolled back.
    rows.assign(1, 0);
    for (int32_t node : vr.accepted_nodes) rows.push_back(node + 1);
    slots.resize(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) slots[i] = base + rows[i];
    target_.keep(base, slots);
    store_features(r.hidden, rows, base);
    feature_tokens_.resize(base);
    for (int32_t row : rows) feature_tokens_.push_back(verify_tokens[row]);
    st.verify_ms += ms_since(tv);

    ++st.steps;
    st.drafted += tree.size();
    count_positions(tree, vr, st);
    st.lookup_steps += limit > 0 && drafter_.last_from_lookup();
    st.accepted += int(vr.accepted_nodes.size());
    st.emitted += int(vr.tokens.size());
    bool go = true;
    for (int32_t tok : vr.tokens)
      if (!(go = emit(tok))) break;
    if (!go) break;
    root = vr.tokens.back();
  }
  return finish();
}

}  // namespace frspec
