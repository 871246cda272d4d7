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

}  // namespace

// One generate() call: what it was asked, what it produced so far, and the buffers its steps reuse.
struct SpeculativeDecoder::Run {
  Run(const SpecParams& p, const std::atomic<bool>* c, const std::function<void(int32_t)>& t, Context& target)
      : params(p), cancel(c), on_token(t), vocab(int(target.model().output().rows)), greedy(p.sampling.greedy()),
        chain_sampling(!greedy && !p.shape.tree),
        queued(greedy && !p.shape.tree && (p.queued_chain > 0 || (p.queued_chain < 0 && target.backend().device_resident()))),
        lookup(greedy && !p.shape.tree && p.shape.lookup > 0), sampler(p.sampling, vocab),
        verify_rng(p.sampling.seed ^ 0x9E3779B97F4A7C15ull), draft_rng(p.sampling.seed ^ 0xD1B54A32D192ED03ull),
        logits(target.backend(), target.model().output()) {}

  const SpecParams& params;
  const std::atomic<bool>* cancel;
  const std::function<void(int32_t)>& on_token;
  const int vocab;
  const bool greedy, chain_sampling;
  const bool queued;  // greedy chains as one queued step (SpecParams::queued_chain)
  const bool lookup;  // greedy chains try the context first (DraftShape::lookup)
  // The drafter has not read the prompt yet (deferred with context lookup on the host: steps the lookup
  // drafts need no drafter, and while typing, with the last completions to draw on, most requests have only
  // such steps); `prompt` is what its head takes the ids of.
  bool drafter_pending = false;
  std::span<const int32_t> prompt;
  SpecResult out;
  Sampler sampler;
  std::mt19937_64 verify_rng, draft_rng;

  // The current step: where its draft came from, the drafted tree (and chain sampling's q), the target's
  // eval over root + nodes (its hidden rows are the features commit() stores), the verification.
  bool from_lookup = false;
  std::vector<int32_t> looked_up;
  DraftTree tree;
  DraftProbs q;
  EvalResult eval;
  VerifyLogits logits;
  VerifyResult vr;
  Clock::time_point verify_start;
  std::vector<int32_t> verify_tokens, positions, rows, slots, step_host;
  std::vector<uint8_t> mask;
  std::vector<float> host_logits, p_rows;

  // Appends a token to the output; false: generation ends here (a stop token, not returned, or max tokens).
  bool emit(int32_t tok) {
    if (std::find(params.stop_tokens.begin(), params.stop_tokens.end(), tok) != params.stop_tokens.end()) {
      out.stop = StopReason::StopToken;
      out.stop_token = tok;
      return false;
    }
    out.tokens.push_back(tok);
    if (on_token) on_token(tok);
    if (int(out.tokens.size()) >= params.max_tokens) {
      out.stop = StopReason::MaxTokens;
      return false;
    }
    return true;
  }
};

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

bool SpeculativeDecoder::prefill(std::span<const int32_t> prompt, Run& run, EvalResult& last) {
  const SpecParams& params = run.params;
  SpecStats& st = run.out.stats;
  const auto t0 = Clock::now();
  // The engine's prompt processing, reusing the cached prefix; its last row gives the first token as
  // generate() gets it (greedy: argmax_only, on the CPU the exact 8-bit LM-head prefilter). EAGLE also
  // needs the target's features of every prompt token: reuse only the prefix whose features are stored,
  // store each chunk's.
  PrefillHook hook;
  if (features_) {
    size_t f = 0;
    while (f < feature_tokens_.size() && f < prompt.size() && feature_tokens_[f] == prompt[f]) ++f;
    hook.max_reuse = int(f);
    hook.hidden = true;
    hook.on_chunk = [&](int first, std::span<const int32_t> tokens, const EvalResult& r) {
      run.rows.resize(tokens.size());
      for (size_t j = 0; j < tokens.size(); ++j) run.rows[j] = int32_t(j);
      store_features(r.hidden, run.rows, first);
      feature_tokens_.resize(first);
      feature_tokens_.insert(feature_tokens_.end(), tokens.begin(), tokens.end());
    };
  }
  st.n_prompt = int(prompt.size());
  last = frspec::prefill(target_, prompt, run.cancel, &st.n_reused, run.greedy, params.prefill_chunk, &hook);
  if (last.n_rows == 0) return false;
  // The drafter reads the prompt too, as part of prompt processing (llama.cpp's speculative example
  // also evaluates the prompt with both models before decoding); the first step then reads only the root.
  // A draft model reads only the prompt's last tokens (draft_window). FR-Spec's prompt ids join the head
  // here as well, not in the first decoding step (DraftHead::set_extra: nothing is gathered when the
  // previous prompts' ids already cover them, as while typing).
  // With context lookup on the host the drafter reads the prompt when a step first needs it (typing, demo
  // models, with the last completions as lookup history: 250 of 282 speculative requests never ran the
  // drafter, and their 1-13 ms of drafter prompt reading went for nothing).
  run.prompt = prompt;
  if (params.max_tokens > 1 && !params.no_draft) {
    if (cancelled(run.cancel)) return false;
    if (run.lookup && !run.queued) run.drafter_pending = true;
    else read_drafter_prompt(run);
    if (cancelled(run.cancel)) return false;
  }
  st.prompt_ms += ms_since(t0);
  return true;
}

double SpeculativeDecoder::read_drafter_prompt(Run& run) {
  SpecStats& st = run.out.stats;
  const auto tp = Clock::now();
  run.drafter_pending = false;
  drafter_.prefill(target_.tokens(), features_, run.params.draft_window, run.cancel);
  st.draft_prompt_tokens = drafter_.last_prefill_tokens();
  if (!cancelled(run.cancel)) {
    drafter_.head().set_extra(run.params.context_tokens ? run.prompt : std::span<const int32_t>());
    drafter_.head().prepare();
  }
  st.head_rows = drafter_.head().size();
  const double ms = ms_since(tp);
  st.draft_prompt_ms = ms;
  return ms;
}

SpecResult SpeculativeDecoder::generate(std::span<const int32_t> prompt, const SpecParams& params,
                                        const std::atomic<bool>* cancel, const std::function<void(int32_t)>& on_token,
                                        const std::function<bool(const std::vector<int32_t>&)>& stop_check) {
  params.shape.validate();
  const auto t0 = Clock::now();
  Run run(params, cancel, on_token, target_);
  SpecResult& out = run.out;
  SpecStats& st = out.stats;
  EvalResult first;
  if (!prefill(prompt, run, first)) {
    out.stop = StopReason::Cancelled;
    return std::move(out);
  }
  const auto t_decode = Clock::now();  // the time budget counts decoding, not prompt processing
  if (!run.drafter_pending) st.head_rows = drafter_.head().size();
  auto finish = [&]() {
    st.total_ms = ms_since(t0);
    return std::move(out);
  };
  if (params.max_tokens <= 0) return finish();

  int32_t root;
  if (run.greedy) {
    root = first.argmax[0];
  } else {
    run.host_logits.resize(run.vocab);
    target_.backend().to_host(run.host_logits.data(), first.logits, run.vocab);
    root = run.sampler.sample(run.host_logits.data());
  }
  if (!run.emit(root)) return finish();

  if (run.queued && !step_ids_) step_ids_ = target_.backend().alloc_ids(2 * size_t(kMaxQueuedChain + 1));
  for (;;) {
    if (cancelled(cancel)) { out.stop = StopReason::Cancelled; break; }
    if (params.time_budget_ms > 0 && ms_since(t_decode) >= params.time_budget_ms) { out.stop = StopReason::TimeBudget; break; }
    if (stop_check && stop_check(out.tokens)) { out.stop = StopReason::Caller; break; }
    const int base = target_.n_past();  // the root's slot
    if (base >= target_.capacity()) { out.stop = StopReason::ContextFull; break; }

    // Draft no more nodes than the context, the verify rows and (for a chain) the tokens still wanted.
    int limit = std::min({params.shape.max_nodes(), target_.capacity() - base - 1, target_.params().max_logit_rows - 1,
                          target_.params().max_batch - 1});
    if (!params.shape.tree) limit = std::min(limit, params.max_tokens - int(out.tokens.size()) - 1);
    if (params.no_draft) limit = 0;
    if (run.queued && limit > 0) step_queued(run, root, base, limit);
    else step_host(run, root, base, limit);
    commit(run, base, limit);

    bool go = true;
    for (int32_t tok : run.vr.tokens)
      if (!(go = run.emit(tok))) break;
    if (!go) break;
    root = run.vr.tokens.back();
  }
  return finish();
}

void SpeculativeDecoder::step_host(Run& run, int32_t root, int base, int limit) {
  const SpecParams& params = run.params;
  SpecStats& st = run.out.stats;
  Backend& b = target_.backend();
  DraftTree& tree = run.tree;
  const auto td = Clock::now();
  // Context lookup first (greedy chains): a match is the draft and the drafter is not run; it reads the
  // accepted tokens in its next catch-up, several in one eval.
  tree.clear();
  run.from_lookup = run.lookup && limit > 0 &&
                    lookup_.propose(target_.tokens(), root, params.shape.lookup, std::min(params.shape.lookup_tokens, limit),
                                    run.looked_up, params.lookup_history) > 0;
  double deferred_ms = 0;  // the drafter's deferred prompt reading: prompt processing, not drafting
  if (run.from_lookup) {
    for (int32_t tok : run.looked_up) tree.add(tok, tree.size() - 1, 0.f);
  } else if (limit > 0) {
    if (run.drafter_pending) st.prompt_ms += deferred_ms = read_drafter_prompt(run);
    // Cancelled while the drafter read: the root is verified alone, and the loop stops before the next step.
    if (!cancelled(run.cancel))
      drafter_.draft(target_.tokens(), root, features_, params.shape, limit, run.chain_sampling ? params.sampling.temperature : 0.f,
                     run.draft_rng, tree, run.chain_sampling ? &run.q : nullptr);
  }
  st.draft_ms += ms_since(td) - deferred_ms;

  // Verify root + all nodes in one target eval.
  run.verify_start = Clock::now();
  const int m = tree.size() + 1;
  run.verify_tokens.assign(1, root);
  run.verify_tokens.insert(run.verify_tokens.end(), tree.token.begin(), tree.token.end());
  tree.verify_positions(base, run.positions);
  if (params.shape.tree) tree.verify_mask(run.mask);  // a chain is causal: the default mask
  EvalRequest req;
  req.tokens = run.verify_tokens;
  req.positions = run.positions.data();
  req.mask = params.shape.tree ? run.mask.data() : nullptr;
  req.logits = LogitRows::None;  // the LM head runs only for the rows verification reaches
  req.hidden = true;
  run.eval = target_.eval(req);
  st.verify_eval_ms += ms_since(run.verify_start);
  VerifyLogits& logits = run.logits;
  logits.reset(tree, run.eval.hidden);
  if (run.greedy) {
    if (b.device_resident()) logits.argmax_all();  // one wait for every row, not one per reached row
    verify_walk(tree, [&](int row) { return logits.argmax(row); }, run.vr);
  } else {
    auto p_row = [&](int row) {  // the target's processed distribution at a verify row
      run.host_logits.resize(run.vocab);
      run.p_rows.resize(size_t(m) * run.vocab);
      b.to_host(run.host_logits.data(), logits.row(row), run.vocab);
      float* p = run.p_rows.data() + size_t(row) * run.vocab;
      run.sampler.probabilities(run.host_logits.data(), p);
      return p;
    };
    if (params.shape.tree) {
      std::uniform_real_distribution<double> uni(0.0, 1.0);
      verify_walk(tree, [&](int row) { return sample_from(p_row(row), run.vocab, uni(run.verify_rng)); }, run.vr);
    } else {
      for (int i = 0; i < m; ++i) p_row(i);  // a chain's rows are one path: scored in one matmul
      verify_chain_sampling(tree.token.data(), run.q.dists.data(), tree.size(), run.p_rows.data(), run.vocab, run.verify_rng,
                            run.vr);
    }
  }
  st.verify_rows += logits.rows_scored();
}

// One queued step: root -> step_ids_[0], the drafted ids -> step_ids_[1..n], the target reads them from
// there, its argmax per row -> step_ids_[n+1..2n+1], then the host waits once for all of them. (draft_ms
// then counts only the host's queuing; the GPU's drafting time lands in verify_ms.) With graph_steps the
// whole step up to the read back is recorded and launched as one CUDA graph (not with context lookup: its
// steps alternate between two shapes, and a lookup step's ids come from host memory, which a recorded graph
// would read again at replay).
void SpeculativeDecoder::step_queued(Run& run, int32_t root, int base, int limit) {
  const SpecParams& params = run.params;
  SpecStats& st = run.out.stats;
  Backend& b = target_.backend();
  DraftTree& tree = run.tree;
  const auto td = Clock::now();
  tree.clear();
  run.from_lookup = run.lookup &&
                    lookup_.propose(target_.tokens(), root, params.shape.lookup, std::min(params.shape.lookup_tokens, limit),
                                    run.looked_up, params.lookup_history) > 0;
  const bool graph = params.graph_steps && st.steps > 0 && params.shape.lookup == 0;
  if (graph) b.begin_graph();
  int n = 0;
  try {
    b.write_ids(step_ids_, &root, 1);
    if (run.from_lookup) {  // written where the drafter would have left its ids
      n = int(run.looked_up.size());
      b.write_ids(step_ids_ + 1, run.looked_up.data(), n);
    } else {
      n = drafter_.draft_chain_queued(target_.tokens(), root, features_, params.shape.chain, limit, step_ids_ + 1);
    }
    st.draft_ms += ms_since(td);
    run.verify_start = Clock::now();
    run.verify_tokens.assign(size_t(n) + 1, 0);
    run.verify_tokens[0] = root;
    EvalRequest req;
    req.tokens = run.verify_tokens;  // placeholders after the root; the ids come from step_ids_
    req.token_ids = step_ids_;
    req.logits = LogitRows::None;
    req.hidden = true;
    run.eval = target_.eval(req);
    st.verify_eval_ms += ms_since(run.verify_start);
    for (int i = 0; i < n; ++i) tree.add(0, i - 1, 0.f);
    run.logits.reset(tree, run.eval.hidden);
    run.logits.argmax_all(step_ids_ + n + 1);
  } catch (...) {
    if (graph) b.abort_graph();
    throw;
  }
  if (graph) b.end_graph();
  std::vector<int32_t>& host = run.step_host;
  host.resize(2 * size_t(n) + 1);
  b.read_ids(host.data(), step_ids_ + 1, 2 * n + 1);
  for (int i = 0; i < n; ++i) tree.token[i] = run.verify_tokens[i + 1] = host[i];
  if (!run.from_lookup) drafter_.drafted(std::span<const int32_t>(host).first(n));
  target_.relabel(base + 1, std::span<const int32_t>(host).first(n));
  verify_greedy(tree, host.data() + n, run.vr);
  st.verify_rows += n + 1;
}

void SpeculativeDecoder::commit(Run& run, int base, int limit) {
  SpecStats& st = run.out.stats;
  const VerifyResult& vr = run.vr;
  // Keep the root and the accepted path; everything else drafted is rolled back.
  run.rows.assign(1, 0);
  for (int32_t node : vr.accepted_nodes) run.rows.push_back(node + 1);
  run.slots.resize(run.rows.size());
  for (size_t i = 0; i < run.rows.size(); ++i) run.slots[i] = base + run.rows[i];
  target_.keep(base, run.slots);
  if (features_) {
    store_features(run.eval.hidden, run.rows, base);
    feature_tokens_.resize(base);
    for (int32_t row : run.rows) feature_tokens_.push_back(run.verify_tokens[row]);
  }
  st.verify_ms += ms_since(run.verify_start);

  ++st.steps;
  st.drafted += run.tree.size();
  st.lookup_steps += limit > 0 && run.from_lookup;
  st.accepted += int(vr.accepted_nodes.size());
  st.emitted += int(vr.tokens.size());
  // Per draft position: the step's nodes by depth, its accepted path (node k at depth k + 1).
  for (int32_t depth : run.tree.depth) {
    if (int(st.drafted_at.size()) < depth) st.drafted_at.resize(depth, 0);
    ++st.drafted_at[depth - 1];
  }
  st.accepted_at.resize(st.drafted_at.size(), 0);
  for (size_t k = 0; k < vr.accepted_nodes.size(); ++k) ++st.accepted_at[k];
}

}  // namespace frspec
