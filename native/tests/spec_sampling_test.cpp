// End-to-end exactness of speculative SAMPLING: the whole loop (drafter, FR-Spec restricted head, one
// verify eval, KV rollback) on a tiny random-weight target and draft model (written by the TypeScript
// suite, test/unit/spec-sampling.test.ts). The joint law of the first two emitted tokens over >= 100k
// requests (one seed each) must match the target's exact law, computed from its own logits with the
// same temperature / top-p processing: chi-square at a 5-sigma bound. Configurations: chain speculative
// sampling with a draft head restricted to half the vocabulary (tokens outside get q = 0 and must still
// appear with their exact probability through the residual), chain with the full vocabulary, and tree
// sample-and-match. A power check: the same statistic on the DRAFT model's own law must fail.
// Usage: spec_sampling_test TARGET.gguf DRAFT.gguf [SAMPLES]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "check.h"
#include "engine/sampler.h"
#include "speculative/drafters.h"
#include "speculative/speculative.h"

using namespace frspec;


// Exact law of (t1, t2) after `prompt` under `sp` from a model's own logits.
static std::vector<double> exact_law(const PreparedModel& m, const std::vector<int32_t>& prompt, const SamplerParams& sp) {
  const int V = m.n_vocab();
  Context ctx(m, ContextParams{.n_ctx = 64, .max_batch = 16, .max_logit_rows = 4});
  Sampler s(sp, V);
  EvalRequest req;
  req.tokens = prompt;
  EvalResult r = ctx.eval(req);
  std::vector<float> p1(V), p2(V);
  s.probabilities(r.logits, p1.data());
  std::vector<double> law(size_t(V) * V, 0.0);
  for (int a = 0; a < V; ++a) {
    if (p1[a] <= 0) continue;
    ctx.truncate(int(prompt.size()));
    EvalRequest q;
    q.tokens = std::span<const int32_t>(&a, 1);
    EvalResult r2 = ctx.eval(q);
    s.probabilities(r2.logits, p2.data());
    for (int b = 0; b < V; ++b) law[size_t(a) * V + b] = double(p1[a]) * p2[b];
  }
  return law;
}

// Chi-square of counts against law over cells with expected count >= 5 (the rest pooled); true = fits.
static bool fits(const std::vector<long>& counts, const std::vector<double>& law, long n, double* chi_out, int* dof_out,
                 bool report) {
  double chi = 0, pooled_e = 0, pooled_o = 0;
  int cells = 0;
  for (size_t i = 0; i < law.size(); ++i) {
    const double e = law[i] * n;
    if (law[i] == 0 && counts[i] > 0) {  // an impossible pair was emitted
      if (report) std::printf("  pair (%zu, %zu) has probability 0 but was emitted %ld times\n", i / 16, i % 16, counts[i]);
      *chi_out = INFINITY;
      *dof_out = 0;
      return false;
    }
    if (e >= 5) {
      chi += (counts[i] - e) * (counts[i] - e) / e;
      ++cells;
    } else {
      pooled_e += e;
      pooled_o += counts[i];
    }
  }
  if (pooled_e >= 5) {
    chi += (pooled_o - pooled_e) * (pooled_o - pooled_e) / pooled_e;
    ++cells;
  }
  const int dof = cells - 1;
  *chi_out = chi;
  *dof_out = dof;
  return chi < dof + 5 * std::sqrt(2.0 * dof);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::printf("usage: spec_sampling_test TARGET.gguf DRAFT.gguf [SAMPLES]\n");
    return 2;
  }
  const long n = argc > 3 ? std::atol(argv[3]) : 100000;
  auto target = Model::load(argv[1]), draft = Model::load(argv[2]);
  auto backend = make_cpu_backend(1);
  PreparedModel pt(*backend, *target), pd(*backend, *draft);
  const int V = pt.n_vocab();
  const std::vector<int32_t> prompt = {1, 5, 2};
  SamplerParams sp;
  sp.temperature = 8.f;  // random weights give logits of +-20: a high temperature spreads the law over many pairs
  sp.top_p = 0.97f;
  const std::vector<double> law = exact_law(pt, prompt, sp), draft_law = exact_law(pd, prompt, sp);
  double total = 0;
  for (double x : law) total += x;
  if (std::fabs(total - 1) > 1e-4) { std::printf("FAIL: the exact law sums to %g\n", total); return 1; }

  std::vector<int32_t> half;
  for (int i = 0; i < V / 2; ++i) half.push_back(i * 2);  // every even id: odd ids are never drafted
  struct Config { const char* name; bool tree; bool restricted; };
  for (const Config& c : {Config{"chain, FR-Spec half vocabulary", false, true}, Config{"chain, full vocabulary", false, false},
                          Config{"tree sample-and-match, FR-Spec", true, true}}) {
    Context ctx(pt, ContextParams{.n_ctx = 64, .max_batch = 32, .max_logit_rows = 32});
    auto drafter = make_model_drafter(pd, pt, 64);
    drafter->head().restrict_to(c.restricted ? std::span<const int32_t>(half) : std::span<const int32_t>());
    SpeculativeDecoder dec(ctx, *drafter);
    SpecParams p;
    p.max_tokens = 3;  // the second token then comes from a verify step that drafted (a chain of remaining - 1)
    p.sampling = sp;
    p.shape = c.tree ? DraftShape{.tree = true, .depth = 2, .topk = 3, .beam = 2, .budget = 6} : DraftShape{.tree = false, .chain = 3};
    std::vector<long> counts(size_t(V) * V, 0);
    long accepted = 0, drafted = 0;
    for (long i = 0; i < n; ++i) {
      p.sampling.seed = uint64_t(i) * 0x9E3779B97F4A7C15ull + 12345;
      SpecResult r = dec.generate(prompt, p);
      if (r.tokens.size() != 3) { std::printf("FAIL %s: %zu tokens\n", c.name, r.tokens.size()); ++failures; break; }
      ++counts[size_t(r.tokens[0]) * V + r.tokens[1]];
      accepted += r.stats.accepted;
      drafted += r.stats.drafted;
    }
    double chi, chi_d;
    int dof, dof_d;
    const bool ok = fits(counts, law, n, &chi, &dof, true);
    const bool draft_fits = fits(counts, draft_law, n, &chi_d, &dof_d, false);  // the power check
    std::printf("%-32s n=%ld chi2=%.1f dof=%d (bound %.1f) %s; vs the draft's law chi2=%.1f (inf: a pair it cannot emit) %s; accepted %ld of %ld drafted\n",
                c.name, n, chi, dof, dof + 5 * std::sqrt(2.0 * dof), ok ? "ok" : "REJECTED", chi_d,
                draft_fits ? "FITS (test has no power)" : "rejected (good)", accepted, drafted);
    if (!ok) ++failures;
    if (draft_fits) ++failures;
    if (accepted == 0) { std::printf("FAIL %s: nothing accepted, the test exercises no acceptance\n", c.name); ++failures; }
  }
  return check_result("all spec sampling tests passed");
}
