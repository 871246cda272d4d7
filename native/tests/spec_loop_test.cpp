// Speculative decoding on the demo models (../shared/models, decompressed into .cache/models): the EAGLE
// head against its PyTorch reference, greedy identity with plain greedy decoding for both drafters x
// {full vocabulary, FR-Spec restricted head, + prompt ids} x {chain, tree, chain + context lookup}, KV rollback (the cache after
// speculation equals a fresh evaluation of the same tokens), stop conditions, and .frv refusals.
// Usage: spec_loop_test [MODELS_DIR] [EAGLE_REFERENCE_JSON] [--covering]  (default .cache/models; skips with a
// message when absent). --covering is the exactness check for slow runners (qemu-user, scripts/ci-arm64.sh): 5 of
// the 30 greedy-identity configurations, chosen so that each drafter, each vocabulary and each shape runs at least
// once, on one FIM prompt of 12 tokens, with the KV rollback check; the EAGLE reference and
// the stop conditions (target-size decodes, the same code on every platform) are left to the full run.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/generate.h"
#include "speculative/drafters.h"
#include "speculative/lookup.h"
#include "speculative/ranked_vocab.h"
#include "speculative/speculative.h"
#include "tokenizer/tokenizer.h"

#include "check.h"

using namespace frspec;

// The numbers of one JSON array `"key": [ ... ]` (the reference files are flat).
static std::vector<double> json_array(const std::string& text, const std::string& key) {
  std::vector<double> out;
  size_t p = text.find("\"" + key + "\"");
  if (p == std::string::npos) return out;
  p = text.find('[', p);
  const size_t end = text.find(']', p);
  std::istringstream in(text.substr(p + 1, end - p - 1));
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stod(item));
  return out;
}

struct Models {
  std::unique_ptr<Model> target, draft, eagle;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<PreparedModel> pt, pd, pe;
  std::unique_ptr<Tokenizer> tok;
};

static void test_eagle_reference(Models& m, const std::string& ref_path) {
  std::ifstream f(ref_path);
  if (!f) { std::printf("skip: %s absent\n", ref_path.c_str()); return; }
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  std::vector<int32_t> tokens;
  for (double v : json_array(text, "tokens")) tokens.push_back(int32_t(v));
  const std::vector<double> want = json_array(text, "eagle_argmax"), feat = json_array(text, "eagle_feature_0_first8");
  const int n = int(tokens.size()), d = m.pt->config().d_model;
  Context target(*m.pt, ContextParams{});
  EvalRequest req;
  req.tokens = tokens;
  req.logits = LogitRows::None;
  req.hidden = true;
  EvalResult r = target.eval(req);
  std::vector<float> features(r.hidden, r.hidden + size_t(n) * d);
  Context head_ctx(*m.pe, ContextParams{.n_ctx = 256, .max_batch = 64, .max_logit_rows = 1});
  DraftHead head(*m.backend, m.pt->output(), m.pt->n_vocab(), 64);
  EvalRequest er;
  er.tokens = std::span<const int32_t>(tokens).subspan(1);
  er.features = features.data();
  er.logits = LogitRows::None;
  er.hidden = true;
  EvalResult e = head_ctx.eval(er);
  for (int i = 0; i < 8; ++i)
    CHECK(std::fabs(e.hidden[i] - feat[i]) < 2e-3, "EAGLE feature[%d] %g, reference %g", i, e.hidden[i], feat[i]);
  int agree = 0;
  for (int t = 0; t + 1 < n; ++t) {
    const int32_t row = t;
    const float* lg = head.project(e.hidden, std::span<const int32_t>(&row, 1));
    const int32_t arg = int32_t(std::max_element(lg, lg + head.size()) - lg);
    agree += arg == int32_t(want[t]);
  }
  CHECK(agree >= n - 2, "EAGLE argmax matches the reference at %d of %d positions", agree, n - 1);
  std::printf("eagle reference: %d/%d argmax positions match, feature within 2e-3\n", agree, n - 1);
}

static std::vector<std::vector<int32_t>> prompts(const Tokenizer& tok) {
  const char* snippets[][2] = {
      {"def fibonacci(n):\n    if n < 2:\n        return n\n    return ", "\n\nprint(fibonacci(10))\n"},
      {"public class Point {\n    private final int x;\n    private final int y;\n\n    public Point(int x, int y) {\n", "    }\n}\n"},
      {"#include <stdio.h>\n\nint main(int argc, char** argv) {\n    for (int i = 0; i < argc; i++) {\n", "    }\n    return 0;\n}\n"},
      {"export function debounce<T extends (...args: any[]) => void>(fn: T, ms: number) {\n  let timer: any;\n", "}\n"},
  };
  const SpecialTokens& s = tok.specials();
  std::vector<std::vector<int32_t>> out;
  for (auto& sn : snippets) {
    std::vector<int32_t> p{s.fim_pre};
    tok.encode_append(sn[0], p);
    p.push_back(s.fim_suf);
    tok.encode_append(sn[1], p);
    p.push_back(s.fim_mid);
    out.push_back(p);
    std::vector<int32_t> plain = tok.encode(std::string(sn[0]));  // prefix-only continuation accepts more
    out.push_back(plain);
  }
  return out;
}

static std::string shape_name(const DraftShape& s) {
  return s.tree ? "tree(d" + std::to_string(s.depth) + ",k" + std::to_string(s.topk) + ",b" + std::to_string(s.beam) + ",n" +
                      std::to_string(s.budget) + ")"
                : "chain(" + std::to_string(s.chain) + ")";
}

static void test_greedy_identity(Models& m, bool covering) {
  const int n_tokens = covering ? 12 : 24;
  auto ps = prompts(*m.tok);
  ps.resize(covering ? 1 : 4);  // FIM and prefix-only alternate (the TypeScript suite runs 20 FIM prompts from the dev split)
  Context plain_ctx(*m.pt, ContextParams{.n_ctx = 2048, .max_batch = 256, .max_logit_rows = 64});
  std::vector<std::vector<int32_t>> want;
  GenerateParams gp;
  gp.max_tokens = n_tokens;
  for (auto& p : ps) want.push_back(generate(plain_ctx, p, gp).tokens);
  if (covering) std::printf("greedy identity: the covering subset, 5 of 30 configurations, 1 prompt x 12 tokens (--covering)\n");

  std::vector<int32_t> top8k(8192);
  for (int i = 0; i < 8192; ++i) top8k[i] = i;  // a restricted set (the TS suite uses real .frv files)
  Context target(*m.pt, ContextParams{.n_ctx = 2048, .max_batch = 256, .max_logit_rows = 64});
  auto dm = make_model_drafter(*m.pd, *m.pt, 2048);
  auto de = make_eagle_drafter(*m.pe, *m.pt, 2048);
  DraftShape chain{.tree = false, .chain = 5};
  DraftShape tree{.tree = true, .depth = 5, .topk = 4, .beam = 4, .budget = 16};
  DraftShape lookup{.tree = false, .chain = 3, .lookup = 1, .lookup_tokens = 4};
  int lookup_steps = 0;
  for (Drafter* dr : {dm.get(), de.get()})
    for (int vocab = 0; vocab < 3; ++vocab)
      for (int variant = 0; variant < 5; ++variant) {  // chain, tree, chain queued as on a GPU (one read back a step), chain + lookup, queued
        // The covering subset: variant v with drafter v % 2 and vocabulary v % 3 (5 runs cover 2 x 3 x 5).
        if (covering && (dr != (variant % 2 ? de.get() : dm.get()) || vocab != variant % 3)) continue;
        const DraftShape& shape = variant == 1 ? tree : variant >= 3 ? lookup : chain;
        dr->head().restrict_to(vocab ? std::span<const int32_t>(top8k) : std::span<const int32_t>());
        SpeculativeDecoder dec(target, *dr);
        SpecParams sp;
        sp.max_tokens = n_tokens;
        sp.shape = shape;
        sp.context_tokens = vocab == 2;
        sp.queued_chain = variant == 2 || variant == 4 ? 1 : -1;
        sp.graph_steps = variant == 2;  // a no-op on the CPU: checks the step's bookkeeping around it
        int same = 0, steps = 0, emitted = 0;
        for (size_t i = 0; i < ps.size(); ++i) {
          SpecResult r = dec.generate(ps[i], sp);
          same += r.tokens == want[i];
          CHECK(r.tokens == want[i], "%s %s vocab=%d prompt %zu: speculative output differs from plain greedy", dr->kind(),
                shape_name(shape).c_str(), vocab, i);
          steps += r.stats.steps;
          emitted += r.stats.emitted;
          lookup_steps += r.stats.lookup_steps;
          CHECK(variant >= 3 || r.stats.lookup_steps == 0, "lookup steps without lookup");
          // Per draft position: the counts add up to drafted/accepted, accepted never above drafted, and a
          // position is only accepted after the one above it was (accepted_at never grows with depth).
          int drafted_sum = 0, accepted_sum = 0;
          CHECK(r.stats.drafted_at.size() == r.stats.accepted_at.size(), "per-position arrays differ in length");
          for (size_t k = 0; k < r.stats.drafted_at.size(); ++k) {
            drafted_sum += r.stats.drafted_at[k];
            accepted_sum += r.stats.accepted_at[k];
            CHECK(r.stats.accepted_at[k] <= r.stats.drafted_at[k], "more accepted than drafted at position %zu", k + 1);
            CHECK(k == 0 || r.stats.accepted_at[k] <= r.stats.accepted_at[k - 1], "position %zu accepted more than %zu", k + 1, k);
          }
          CHECK(drafted_sum == r.stats.drafted && accepted_sum == r.stats.accepted,
                "%s %s: per-position sums %d/%d, drafted/accepted %d/%d", dr->kind(), shape_name(shape).c_str(), drafted_sum,
                accepted_sum, r.stats.drafted, r.stats.accepted);
          // KV rollback: the target cache must equal a fresh evaluation of the same tokens.
          if (i == 0) {
            Context fresh(*m.pt, ContextParams{.n_ctx = 2048, .max_batch = 256, .max_logit_rows = 64});
            std::vector<int32_t> all = target.tokens();
            EvalRequest a;
            a.tokens = all;
            EvalResult fr = fresh.eval(a);
            std::vector<float> expect(fr.logits, fr.logits + fr.vocab);
            target.truncate(int(all.size()) - 1);
            EvalRequest b;
            b.tokens = std::span<const int32_t>(all).subspan(all.size() - 1);
            EvalResult tr = target.eval(b);
            double maxdiff = 0;
            for (int v = 0; v < tr.vocab; ++v) maxdiff = std::max(maxdiff, double(std::fabs(tr.logits[v] - expect[v])));
            CHECK(maxdiff < 1e-3, "%s %s: logits after speculation differ from a fresh evaluation by %g", dr->kind(),
                  shape_name(shape).c_str(), maxdiff);
          }
        }
        std::printf("%-11s %-22s %-10s identical %zu/%zu  tau %.2f\n", dr->kind(),
                    (shape_name(shape) + (variant == 2 ? " queued" : variant == 3 ? " + lookup" : variant == 4 ? " + lookup queued" : "")).c_str(),
                    vocab == 0 ? "full" : vocab == 1 ? "k=8192" : "k=8192+ctx", size_t(same), ps.size(),
                    steps ? double(emitted) / steps : 0.0);
      }
  CHECK(lookup_steps > 0, "context lookup never proposed a draft");
  // A tree request right after a lookup one (same drafter) counts no lookup steps.
  {
    SpeculativeDecoder dec(target, *dm);
    SpecParams sp;
    sp.max_tokens = n_tokens;
    sp.shape = lookup;
    const int looked = dec.generate(ps[0], sp).stats.lookup_steps;
    sp.shape = tree;
    CHECK(looked > 0 && dec.generate(ps[0], sp).stats.lookup_steps == 0, "a tree request after a lookup request counts lookup steps");
  }
}

// A drafter's head restricted to an id list it had before (kept gathered, maybe evicted meanwhile) projects
// exactly like the first time.
static void test_head_reuse(Models& m) {
  auto dm = make_model_drafter(*m.pd, *m.pt, 256);
  DraftHead& head = dm->head();
  const int d = int(m.draft->config().d_model);
  std::vector<float> h(d);
  for (int i = 0; i < d; ++i) h[i] = std::sin(0.37f * float(i));
  auto ids = [](int first, int k) {
    std::vector<int32_t> v(k);
    for (int i = 0; i < k; ++i) v[i] = first + 3 * i;
    return v;
  };
  const int32_t row0 = 0;
  auto logits = [&]() {
    const float* l = head.project(h.data(), std::span<const int32_t>(&row0, 1));
    return std::vector<float>(l, l + head.size());
  };
  head.restrict_to(ids(5, 500));
  const std::vector<float> first = logits();
  head.restrict_to(ids(7, 300));
  const std::vector<float> other = logits();
  head.restrict_to(ids(5, 500));
  CHECK(logits() == first, "head reuse: switching back to an id list changes its logits");
  for (int j = 0; j < 12; ++j) head.restrict_to(ids(11 + j, 200));  // more lists than are kept: evictions
  head.restrict_to(ids(7, 300));
  CHECK(logits() == other, "head reuse: an evicted id list gathered again differs");
  head.restrict_to(ids(5, 500));
  CHECK(logits() == first, "head reuse: an evicted id list gathered again differs");
  std::printf("draft head: restricting to an earlier id list reuses or regathers it exactly\n");
}

// lookup_draft alone: the longest suffix (4 down to the minimum) at its most recent earlier occurrence.
static void test_lookup() {
  std::vector<int32_t> out;
  const std::vector<int32_t> a = {1, 2, 3, 4, 9, 1, 2, 3};
  CHECK(lookup_draft(a, 2, 4, out) == 4 && out == std::vector<int32_t>({4, 9, 1, 2}), "lookup: 3-gram continuation");
  CHECK(lookup_draft(a, 2, 2, out) == 2 && out == std::vector<int32_t>({4, 9}), "lookup: at most max_tokens");
  const std::vector<int32_t> b = {5, 3, 7, 1, 3, 6, 2, 3};
  CHECK(lookup_draft(b, 1, 4, out) == 3 && out == std::vector<int32_t>({6, 2, 3}), "lookup: the most recent occurrence, up to the end");
  CHECK(lookup_draft(b, 2, 4, out) == 0 && out.empty(), "lookup: no 2-gram match");
  const std::vector<int32_t> c = {1, 2, 9, 2, 8, 1, 2};
  CHECK(lookup_draft(c, 1, 4, out) == 4 && out == std::vector<int32_t>({9, 2, 8, 1}), "lookup: the longer match wins over a more recent shorter one");
  CHECK(lookup_draft(std::vector<int32_t>{7}, 1, 4, out) == 0, "lookup: a one-token history has nothing earlier");
  CHECK(lookup_draft(a, 0, 4, out) == 0 && lookup_draft(a, 2, 0, out) == 0, "lookup: off");
  // Separators (ids < 0): a continuation ends before one; an occurrence right before one is skipped.
  const std::vector<int32_t> d = {7, 8, 5, -1, 7, 8, -1, 3, 7, 8};
  CHECK(lookup_draft(d, 2, 4, out) == 1 && out == std::vector<int32_t>({5}), "lookup: stops at a separator, skips an empty continuation");
  // ContextLookup's `recent`: searched as if before the context; the context's own occurrence wins.
  ContextLookup cl;
  const std::vector<int32_t> recent = {4, 1, 2, 3, 9, 9, 9};
  CHECK(cl.propose(std::vector<int32_t>{5, 6, 1, 2}, 3, 3, 8, out, recent) == 3 && out == std::vector<int32_t>({9, 9, 9}),
        "lookup: a match in recent, up to its end");
  CHECK(cl.propose(std::vector<int32_t>{1, 2, 3, 6, 1, 2}, 3, 3, 8, out, recent) == 4 && out == std::vector<int32_t>({6, 1, 2, 3}),
        "lookup: the context's occurrence before recent's");
  const std::vector<int32_t> seam = {7, 2, 3, 4, 8, 1, 2};  // 2 | 3 4 would match 2 3 4 without the separator
  CHECK(cl.propose(std::vector<int32_t>{3}, 4, 3, 8, out, seam) == 0, "lookup: an n-gram across the seam between recent and the context");
  CHECK(cl.propose(std::vector<int32_t>{3}, 4, 2, 8, out, seam) == 3 && out == std::vector<int32_t>({8, 1, 2}),
        "lookup: recent's continuation ends at the seam");
  CHECK(cl.propose(std::vector<int32_t>{5, 6, 1, 2}, 3, 3, 8, out) == 0, "lookup: without recent, no match");
  std::printf("lookup_draft checks done\n");
}

// Context lookup over a caller's history (SpecParams::lookup_history): whatever it holds, the output is plain
// greedy; the previous completion of the same prompt as history saves steps (where the context holds no
// later occurrence of the same n-grams, it is proposed whole: prompt 2, 2 steps against 11).
static void test_lookup_history(Models& m) {
  const int n_tokens = 24;
  auto ps = prompts(*m.tok);
  ps.resize(2);
  Context plain_ctx(*m.pt, ContextParams{.n_ctx = 2048, .max_batch = 256, .max_logit_rows = 64});
  Context target(*m.pt, ContextParams{.n_ctx = 2048, .max_batch = 256, .max_logit_rows = 64});
  auto dm = make_model_drafter(*m.pd, *m.pt, 2048);
  SpeculativeDecoder dec(target, *dm);
  GenerateParams gp;
  gp.max_tokens = n_tokens;
  for (const auto& p : ps) {
    const std::vector<int32_t> want = generate(plain_ctx, p, gp).tokens;
    SpecParams sp;
    sp.max_tokens = n_tokens;
    sp.shape = DraftShape{.tree = false, .chain = 3, .lookup = 3, .lookup_tokens = 12};
    const SpecResult none = dec.generate(p, sp);
    // The right continuation: the prompt's last tokens and the completion, behind a separator and noise.
    sp.lookup_history = {11, 12, 13, -1};
    sp.lookup_history.insert(sp.lookup_history.end(), p.end() - 4, p.end());
    sp.lookup_history.insert(sp.lookup_history.end(), want.begin(), want.end());
    const SpecResult right = dec.generate(p, sp);
    CHECK(right.tokens == want, "lookup history (the completion itself): output differs from plain greedy");
    CHECK(right.stats.steps < none.stats.steps && right.stats.lookup_steps > 0,
          "lookup history: %d steps (%d from lookup) against %d without", right.stats.steps, right.stats.lookup_steps, none.stats.steps);
    // The drafter reads the prompt only for a step the lookup has no draft for.
    const bool drafter_ran = right.stats.lookup_steps < right.stats.steps;
    CHECK(drafter_ran || (right.stats.draft_prompt_tokens == 0 && right.stats.draft_prompt_ms == 0),
          "lookup history: %d of %d steps from lookup, the drafter read %d prompt tokens", right.stats.lookup_steps, right.stats.steps,
          right.stats.draft_prompt_tokens);
    // A wrong continuation: the completion shifted by one, and ids from all over the vocabulary.
    sp.lookup_history.assign(p.end() - 4, p.end());
    sp.lookup_history.insert(sp.lookup_history.end(), want.begin() + 1, want.end());
    for (int i = 0; i < 64; ++i) sp.lookup_history.push_back(int32_t((i * 7919) % m.pt->n_vocab()));
    const SpecResult wrong = dec.generate(p, sp);
    CHECK(wrong.tokens == want, "lookup history (wrong): output differs from plain greedy");
    std::printf("lookup history: %d steps (%d lookup, drafter prompt %d tokens) with the completion as history, %d without, %d with a wrong one\n",
                right.stats.steps, right.stats.lookup_steps, right.stats.draft_prompt_tokens, none.stats.steps, wrong.stats.steps);
  }
}

static void test_stops(Models& m) {
  Context target(*m.pt, ContextParams{.n_ctx = 2048, .max_batch = 256, .max_logit_rows = 64});
  auto de = make_eagle_drafter(*m.pe, *m.pt, 2048);
  SpeculativeDecoder dec(target, *de);
  auto ps = prompts(*m.tok);
  SpecParams sp;
  sp.max_tokens = 30;
  sp.shape = DraftShape{.tree = false, .chain = 6};
  SpecResult full = dec.generate(ps[1], sp);
  CHECK(full.tokens.size() == 30 && full.stop == StopReason::MaxTokens, "max tokens: got %zu (%s)", full.tokens.size(), stop_reason_name(full.stop));
  // A stop token in the middle of an accepted run ends the output right before it.
  sp.stop_tokens = {full.tokens[7]};
  size_t first = 0;
  while (full.tokens[first] != full.tokens[7]) ++first;
  SpecResult st = dec.generate(ps[1], sp);
  CHECK(st.stop == StopReason::StopToken && st.tokens.size() == first && st.stop_token == full.tokens[7],
        "stop token: %zu tokens, expected %zu", st.tokens.size(), first);
  sp.stop_tokens.clear();
  // The caller's check runs between steps and sees every token so far.
  SpecResult cs = dec.generate(ps[1], sp, nullptr, {}, [](const std::vector<int32_t>& t) { return t.size() >= 10; });
  CHECK(cs.stop == StopReason::Caller && cs.tokens.size() >= 10 && cs.tokens.size() < 30, "stop check: %zu tokens (%s)",
        cs.tokens.size(), stop_reason_name(cs.stop));
  CHECK(std::equal(cs.tokens.begin(), cs.tokens.end(), full.tokens.begin()), "stop check changed the tokens");
  std::atomic<bool> cancel{true};
  SpecResult cc = dec.generate(ps[1], sp, &cancel);
  CHECK(cc.stop == StopReason::Cancelled && cc.tokens.size() <= 1, "cancel: %zu tokens (%s)", cc.tokens.size(), stop_reason_name(cc.stop));
  sp.time_budget_ms = 1e-6;
  SpecResult tb = dec.generate(ps[1], sp);
  CHECK(tb.stop == StopReason::TimeBudget && tb.tokens.size() == 1, "time budget: %zu tokens (%s)", tb.tokens.size(), stop_reason_name(tb.stop));
  // A context that fills up stops cleanly.
  Context small(*m.pt, ContextParams{.n_ctx = int(ps[1].size()) + 12, .max_batch = 256, .max_logit_rows = 64});
  auto de2 = make_eagle_drafter(*m.pe, *m.pt, small.capacity());
  SpeculativeDecoder dec2(small, *de2);
  sp.time_budget_ms = 0;
  SpecResult cf = dec2.generate(ps[1], sp);
  CHECK(cf.stop == StopReason::ContextFull && std::equal(cf.tokens.begin(), cf.tokens.end(), full.tokens.begin()),
        "context full: %zu tokens (%s)", cf.tokens.size(), stop_reason_name(cf.stop));
  std::printf("stops: max tokens, stop token, stop check, cancel, time budget, context full\n");
}

static std::vector<uint8_t> frv_bytes(const std::string& fingerprint, uint32_t vocab_size, const std::vector<uint32_t>& ids) {
  std::vector<uint8_t> b(64, 0);
  auto put32 = [&](size_t off, uint32_t v) { std::memcpy(&b[off], &v, 4); };
  auto put64 = [&](size_t off, uint64_t v) { std::memcpy(&b[off], &v, 8); };
  std::memcpy(b.data(), "FRVOCAB\0", 8);
  put32(8, 1);
  put32(16, vocab_size);
  put32(20, uint32_t(ids.size()));
  for (const std::string& s : {fingerprint, std::string("qwen2"), std::string("test")}) {
    const uint32_t n = uint32_t(s.size());
    b.insert(b.end(), reinterpret_cast<const uint8_t*>(&n), reinterpret_cast<const uint8_t*>(&n) + 4);
    b.insert(b.end(), s.begin(), s.end());
  }
  b.resize((b.size() + 7) & ~size_t(7));
  put32(12, uint32_t(b.size()));
  uint64_t total = 0;
  for (uint32_t id : ids) b.insert(b.end(), reinterpret_cast<const uint8_t*>(&id), reinterpret_cast<const uint8_t*>(&id) + 4);
  b.resize((b.size() + 7) & ~size_t(7));
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint64_t c = 100 - i;
    total += c;
    b.insert(b.end(), reinterpret_cast<const uint8_t*>(&c), reinterpret_cast<const uint8_t*>(&c) + 8);
  }
  put64(48, total);
  uint32_t crc = 0xFFFFFFFFu;  // CRC-32 (IEEE), bitwise: independent of the reader's table
  for (uint8_t byte : b) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
  }
  crc ^= 0xFFFFFFFFu;
  b.insert(b.end(), reinterpret_cast<const uint8_t*>(&crc), reinterpret_cast<const uint8_t*>(&crc) + 4);
  return b;
}

static void test_vocab_file(const Tokenizer* tok) {
  auto ok = frv_bytes(tok ? tok->fingerprint() : "abc", tok ? tok->n_vocab() : 1000, {5, 9, 2});
  RankedVocab v = parse_ranked_vocab(ok.data(), ok.size(), "ok.frv");
  CHECK(v.ids == std::vector<int32_t>({5, 9, 2}) && v.corpus_tokens == 297, "parsed ids/tokens");
  if (tok) {
    bool threw = false;
    try { check_vocab_tokenizer(v, *tok, "target.gguf"); } catch (const VocabFileError&) { threw = true; }
    CHECK(!threw, "a matching tokenizer must be accepted");
    auto other = frv_bytes("0123456789abcdef0123456789abcdef", tok->n_vocab(), {5, 9, 2});
    RankedVocab w = parse_ranked_vocab(other.data(), other.size(), "llama.frv");
    std::string msg;
    try { check_vocab_tokenizer(w, *tok, "target.gguf"); } catch (const VocabFileError& e) { msg = e.what(); }
    CHECK(msg.find("llama.frv was built for tokenizer 0123456789ab") != std::string::npos && msg.find("target.gguf") != std::string::npos,
          "wrong tokenizer refused with both fingerprints: '%s'", msg.c_str());
  }
  auto expect_error = [](std::vector<uint8_t> b, const char* what) {
    std::string msg;
    try { parse_ranked_vocab(b.data(), b.size(), "bad.frv"); } catch (const VocabFileError& e) { msg = e.what(); }
    CHECK(msg.find(what) != std::string::npos, "expected '%s', got '%s'", what, msg.c_str());
  };
  auto bad = ok; bad[0] = 'X'; expect_error(bad, "magic");
  bad = ok; bad.back() ^= 1; expect_error(bad, "CRC-32");
  bad = ok; bad.pop_back(); expect_error(bad, "truncated");
  bad = ok; bad.push_back(0); expect_error(bad, "trailing");
  expect_error(frv_bytes("x", 4, {5}), "not below vocab_size");
  expect_error(frv_bytes("x", 100, {5, 5}), "twice");
  std::printf(".frv reader: parses, refuses a wrong tokenizer and damaged files\n");
}

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const bool covering = std::erase(args, std::string("--covering")) > 0;
  const std::string dir = args.size() > 0 ? args[0] : ".cache/models";
  namespace fs = std::filesystem;
  if (!fs::exists(dir + "/demo-target.gguf") || !fs::exists(dir + "/demo-draft.gguf") || !fs::exists(dir + "/demo-eagle.gguf")) {
    test_vocab_file(nullptr);
    std::printf("skip: demo models not found in %s (decompress ../shared/models/*.gguf.xz there)\n", dir.c_str());
    std::printf(failures ? "%d FAILURES\n" : "all spec loop tests passed\n", failures);
    return failures ? 1 : 0;
  }
  Models m;
  m.target = Model::load(dir + "/demo-target.gguf");
  m.draft = Model::load(dir + "/demo-draft.gguf");
  m.eagle = Model::load(dir + "/demo-eagle.gguf");
  m.backend = make_cpu_backend(2);
  m.pt = std::make_unique<PreparedModel>(*m.backend, *m.target);
  m.pd = std::make_unique<PreparedModel>(*m.backend, *m.draft);
  m.pe = std::make_unique<PreparedModel>(*m.backend, *m.eagle, m.pt.get());
  m.tok = Tokenizer::from_gguf(m.target->gguf());
  check_same_tokenizer(*m.target, *m.tok, *m.draft);
  test_vocab_file(m.tok.get());
  test_lookup();
  const std::string ref = args.size() > 1 ? args[1] : "../shared/models/demo-eagle.reference.json";
  if (!covering) test_eagle_reference(m, ref);
  test_head_reuse(m);
  test_greedy_identity(m, covering);
  if (!covering) test_lookup_history(m);
  if (!covering) test_stops(m);
  std::printf(failures ? "%d FAILURES\n" : "all spec loop tests passed\n", failures);
  return failures ? 1 : 0;
}
