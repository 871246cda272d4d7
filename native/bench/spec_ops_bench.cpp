// The pieces of a speculative step on one backend, each timed alone (minimum over many repetitions, so
// a shared machine's noise mostly drops out): the target's layer pass for 1..6 rows, its LM head argmax
// for 1..6 rows, one draft-model token (layers, then the FR head + argmax), one EAGLE token, and the
// drafter's whole greedy chain of 3 and 4. spec_cpu_bench gives the same split averaged over real steps.
//
//   spec_ops_bench --models DIR --prompts FILE --vocab FILE.frv [--k 8192] [--threads 2] [--reps 200] [--rows 1,2,4,8,13]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/model.h"
#include "engine/prepared_model.h"
#include "speculative/drafters.h"
#include "speculative/ranked_vocab.h"
#include "int_list.h"
#include "prompts_file.h"

using namespace frspec;

namespace {

// Minimum over `reps` runs of fn, in milliseconds.
double min_ms(int reps, const std::function<void()>& fn) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, prompts_path, vocab_path;
  int threads = 2, reps = 200, k = 8192, profile_rows = 0, profile_head = 0, profile_chain = 0;
  std::vector<int> row_counts = {1, 2, 3, 4, 5, 6, 8, 13};  // verify passes: a chain of 3 is 4 rows, a lookup of 12 is 13
  try {
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string a = argv[i], v = argv[i + 1];
      if (a == "--models") dir = v;
      else if (a == "--prompts") prompts_path = v;
      else if (a == "--vocab") vocab_path = v;
      else if (a == "--threads") threads = std::stoi(v);
      else if (a == "--reps") reps = std::stoi(v);
      else if (a == "--k") k = std::stoi(v);
      else if (a == "--rows") row_counts = parse_int_list(v.c_str());
      else if (a == "--profile-rows") profile_rows = std::stoi(v);  // only the target's layer pass of N rows (for perf)
      else if (a == "--profile-head") profile_head = std::stoi(v);  // only the target's LM head argmax of N rows (for perf)
      else if (a == "--profile-chain") profile_chain = std::stoi(v);  // only the draft model's chain of N (for perf)
      else throw std::invalid_argument("unknown option " + a);
    }
    if (dir.empty() || prompts_path.empty() || vocab_path.empty()) {
      std::fprintf(stderr, "usage: spec_ops_bench --models DIR --prompts FILE --vocab FILE.frv [--k 8192] [--threads 2] [--reps 200]\n");
      return 2;
    }
    auto backend = make_cpu_backend(threads);
    auto target = Model::load(dir + "/demo-target.gguf");
    auto draft = Model::load(dir + "/demo-draft.gguf");
    auto eagle = Model::load(dir + "/demo-eagle.gguf");
    const RankedVocab vocab = read_ranked_vocab(vocab_path);
    PreparedModel pt(*backend, *target), pd(*backend, *draft), pe(*backend, *eagle, &pt);
    ContextParams cp;
    cp.n_ctx = 2048;
    cp.max_batch = 1024;  // the prompt in one eval
    Context ctx(pt, cp);
    auto dm = make_model_drafter(pd, pt, cp.n_ctx);
    auto de = make_eagle_drafter(pe, pt, cp.n_ctx);
    dm->head().restrict_to(vocab.top(k));
    de->head().restrict_to(vocab.top(k));
    const std::vector<int32_t> prompt = read_prompts(prompts_path).front();
    std::printf("backend %s, prompt of %zu tokens, FR k %d, min of %d\n", backend->name().c_str(), prompt.size(), k, reps);

    // The target with the prompt read; each timed pass is rolled back.
    EvalRequest pr;
    pr.tokens = prompt;
    pr.hidden = true;
    const EvalResult pres = ctx.eval(pr);
    std::vector<float> features(size_t(ctx.n_past()) * target->config().d_model);
    backend->to_host(features.data(), pres.hidden, features.size());
    const int base = ctx.n_past();
    constexpr int kMaxRows = 16;
    for (int& n : row_counts) n = std::clamp(n, 1, std::min(kMaxRows, base));
    std::vector<int32_t> toks(kMaxRows);
    for (int i = 0; i < kMaxRows; ++i) toks[i] = prompt[size_t(i) % prompt.size()];
    if (profile_rows > 0) {
      EvalRequest q;
      q.tokens = std::span<const int32_t>(toks).first(std::min(profile_rows, kMaxRows));
      q.hidden = true;
      q.logits = LogitRows::None;
      return std::printf("target layers, %d rows: %.3f ms\n", profile_rows, min_ms(reps, [&] { ctx.eval(q); ctx.truncate(base); })), 0;
    }
    std::vector<int32_t> ids(kMaxRows);
    std::vector<float> scratch(size_t(kMaxRows) * pt.n_vocab());
    if (profile_head > 0) {
      const int n = std::min(profile_head, std::min(kMaxRows, base));
      return std::printf("target LM head argmax, %d rows: %.3f ms\n", n, min_ms(reps, [&] {
        backend->matmul_argmax(pt.output(), pres.hidden, n, scratch.data(), ids.data());
      })), 0;
    }
    std::printf("target layers (hidden rows)  :");
    for (int n : row_counts) {
      EvalRequest q;
      q.tokens = std::span<const int32_t>(toks).first(n);
      q.hidden = true;
      q.logits = LogitRows::None;  // the layers only
      std::printf("  %d: %.3f", n, min_ms(reps, [&] { ctx.eval(q); ctx.truncate(base); }));
    }
    std::printf(" ms\ntarget LM head argmax        :");
    for (int n : row_counts)
      std::printf("  %d: %.3f", n, min_ms(reps, [&] { backend->matmul_argmax(pt.output(), pres.hidden, n, scratch.data(), ids.data()); }));
    std::printf(" ms\n");

    {  // The draft model's FR head as a plain weight: matmul + argmax vs the exact 8-bit argmax filter.
      const std::vector<int32_t> top = vocab.top(k);
      Weight g = backend->gather_rows(pd.output(), top.data(), int(top.size()));
      const int dd = int(g.cols);
      std::vector<float> hrow(dd, 0.01f), lg(g.rows);
      for (int i = 0; i < dd; ++i) hrow[i] = float((i * 37) % 17) * 0.05f - 0.4f;
      int32_t out = 0;
      const double plain = min_ms(reps, [&] { backend->matmul(g, hrow.data(), lg.data(), 1); backend->argmax(lg.data(), 1, int(g.rows), &out); });
      const double filt = min_ms(reps, [&] { backend->matmul_argmax(g, hrow.data(), 1, lg.data(), &out); });
      std::printf("draft FR head %lld rows: matmul+argmax %.3f, matmul_argmax %.3f ms\n", (long long)g.rows, plain, filt);
      backend->release(g);
    }
    for (Drafter* d : {dm.get(), de.get()}) {
      Context& dc = d->context();
      const int dd = int(dc.model().config().d_model);
      // Bring the drafter's cache up to date with a one-token draft, then time single steps from there.
      std::mt19937_64 rng(1);
      DraftTree tree;
      DraftShape one;
      one.chain = 1;
      d->draft(std::span<const int32_t>(prompt).first(prompt.size() - 1), prompt.back(), pres.hidden, one, 1, 0.f, rng, tree,
               nullptr);
      const int dbase = dc.n_past();
      if (profile_chain > 0) {
        DraftShape s;
        s.chain = profile_chain;
        return std::printf("draft chain %d: %.3f ms\n", profile_chain, min_ms(reps, [&] {
          d->draft(std::span<const int32_t>(prompt).first(prompt.size() - 1), prompt.back(), pres.hidden, s, profile_chain, 0.f,
                   rng, tree, nullptr);
        })), 0;
      }
      EvalRequest q;
      const int32_t tok = prompt.back();
      q.tokens = std::span<const int32_t>(&tok, 1);
      q.hidden = true;
      q.logits = LogitRows::None;  // the layers only
      q.features = d->needs_features() ? pres.hidden : nullptr;
      const double layers = min_ms(reps, [&] { dc.eval(q); dc.truncate(dbase); });
      const int32_t row0 = 0;
      std::vector<float> hrow(dd, 0.01f);
      float* h = backend->alloc(dd);
      backend->to_device(h, hrow.data(), dd);
      int32_t* id = backend->alloc_ids(1);
      const double head = min_ms(reps, [&] {
        const float* l = d->head().project(h, std::span<const int32_t>(&row0, 1));
        backend->argmax_ids(l, 1, d->head().size(), d->head().backend_ids(), id);
      });
      // The same after a target verify pass of 4 rows has run (what a real step's drafting finds in the caches).
      EvalRequest v4;
      v4.tokens = std::span<const int32_t>(toks).first(4);
      v4.hidden = true;
      v4.logits = LogitRows::None;
      double head_cold = 1e30, chain_cold = 1e30;
      DraftShape s3;
      s3.chain = 3;
      for (int i = 0; i < reps; ++i) {
        ctx.eval(v4);
        ctx.truncate(base);
        head_cold = std::min(head_cold, min_ms(1, [&] {
          const float* l = d->head().project(h, std::span<const int32_t>(&row0, 1));
          backend->argmax_ids(l, 1, d->head().size(), d->head().backend_ids(), id);
        }));
        ctx.eval(v4);
        ctx.truncate(base);
        chain_cold = std::min(chain_cold, min_ms(1, [&] {
          d->draft(std::span<const int32_t>(prompt).first(prompt.size() - 1), prompt.back(), pres.hidden, s3, 3, 0.f, rng,
                   tree, nullptr);
        }));
      }
      std::printf("%-12s after a verify pass: head+argmax %.3f, chain 3 %.3f ms\n", d->kind(), head_cold, chain_cold);
      backend->free(h);
      backend->free_ids(id);
      std::printf("%-12s one token: layers %.3f, head+argmax %.3f ms;", d->kind(), layers, head);
      for (int chain : {3, 4}) {
        DraftShape s;
        s.chain = chain;
        // Each draft reads the prompt's last token again (catch-up of one input) and drafts `chain`.
        std::printf("  chain %d: %.3f", chain, min_ms(reps, [&] {
          d->draft(std::span<const int32_t>(prompt).first(prompt.size() - 1), prompt.back(), pres.hidden, s, chain, 0.f, rng,
                   tree, nullptr);
        }));
      }
      std::printf(" ms\n");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
