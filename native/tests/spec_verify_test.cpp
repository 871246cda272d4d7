// Tests of speculative verification (native/src/speculative): tree masks and positions, greedy acceptance, and the
// exactness of sampling verification measured statistically — the distribution of the first two emitted
// tokens must equal the target's exact joint distribution (chi-square over 200k draws), for chain
// speculative sampling with an FR-Spec-restricted draft (q = 0 outside the subset), a full-vocabulary
// draft, and tree verification. A deliberately wrong verifier must fail the same test (power check).
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "speculative/verify.h"

#include "check.h"

using namespace frspec;

constexpr int V = 6;

struct Law {  // a random "model" over V tokens whose next-token law depends on the previous token
  std::vector<float> p1;                 // first token
  std::vector<std::vector<float>> p2;    // second token given the first
  std::vector<float> p3;                 // bonus rows (any law)
};

static std::vector<float> random_dist(std::mt19937_64& rng, const std::vector<int>& support) {
  std::vector<float> d(V, 0.f);
  std::gamma_distribution<float> g(0.7f);
  float s = 0;
  for (int i : support) { d[i] = g(rng) + 1e-3f; s += d[i]; }
  for (float& x : d) x /= s;
  return d;
}

static Law random_law(std::mt19937_64& rng, const std::vector<int>& support) {
  Law l;
  l.p1 = random_dist(rng, support);
  for (int a = 0; a < V; ++a) l.p2.push_back(random_dist(rng, support));
  l.p3 = random_dist(rng, support);
  return l;
}

// Chi-square statistic of observed joint counts of (t1, t2) against the target law.
static double chi_square(const std::vector<long>& counts, const Law& p, long n, int* dof) {
  double chi = 0;
  *dof = -1;
  for (int a = 0; a < V; ++a)
    for (int b = 0; b < V; ++b) {
      double e = double(n) * p.p1[a] * p.p2[a][b];
      if (e < 1e-9) { CHECK(counts[a * V + b] == 0, "token pair (%d,%d) has zero target probability but was emitted", a, b); continue; }
      double d = counts[a * V + b] - e;
      chi += d * d / e;
      ++*dof;
    }
  return chi;
}

// Critical value of chi-square at p = 0.001 (Wilson-Hilferty approximation).
static double chi_critical(int dof) {
  const double z = 3.09;
  double k = dof;
  return k * std::pow(1 - 2 / (9 * k) + z * std::sqrt(2 / (9 * k)), 3);
}

enum class Mode { ChainFr, ChainFull, Tree, WrongAcceptAll, WrongResidual };

static double run(Mode mode, long n, uint64_t seed, int* dof) {
  std::mt19937_64 rng(seed);
  const Law target = random_law(rng, {0, 1, 2, 3, 4, 5});
  // FR-Spec draft: only ids {0, 2, 3} exist for the drafter; token 1, 4, 5 must still be emitted by the target.
  const std::vector<int> subset = mode == Mode::ChainFull ? std::vector<int>{0, 1, 2, 3, 4, 5} : std::vector<int>{0, 2, 3};
  const Law draft = random_law(rng, subset);
  std::vector<long> counts(V * V, 0);
  std::vector<float> rows(3 * V);
  VerifyResult res;
  std::uniform_real_distribution<double> uni(0, 1);
  for (long s = 0; s < n; ++s) {
    int t1, t2;
    if (mode == Mode::Tree) {
      // A fixed tree: root children {0, 3}; under 0: {2, 0}; under 3: {3}. p rows per node.
      DraftTree tree;
      int a = tree.add(0, -1, 0), b = tree.add(3, -1, 0);
      tree.add(2, a, 0); tree.add(0, a, 0); tree.add(3, b, 0);
      std::vector<float> p((tree.size() + 1) * V);
      std::copy(target.p1.begin(), target.p1.end(), p.begin());
      for (int i = 0; i < tree.size(); ++i) {
        const auto& row = tree.depth[i] == 1 ? target.p2[tree.token[i]] : target.p3;
        std::copy(row.begin(), row.end(), p.begin() + (i + 1) * V);
      }
      verify_tree_sampling(tree, p.data(), V, rng, res);
      t1 = res.tokens[0];
      t2 = res.tokens.size() > 1 ? res.tokens[1] : sample_from(target.p2[t1].data(), V, uni(rng));
    } else {
      int32_t d[2];
      d[0] = sample_from(draft.p1.data(), V, uni(rng));
      d[1] = sample_from(draft.p2[d[0]].data(), V, uni(rng));
      std::vector<int32_t> ids(subset.begin(), subset.end());
      std::vector<float> q1, q2;
      for (int i : subset) { q1.push_back(draft.p1[i]); q2.push_back(draft.p2[d[0]][i]); }
      SparseDist q[2] = {{ids.data(), q1.data(), int(ids.size())}, {ids.data(), q2.data(), int(ids.size())}};
      std::copy(target.p1.begin(), target.p1.end(), rows.begin());
      std::copy(target.p2[d[0]].begin(), target.p2[d[0]].end(), rows.begin() + V);
      std::copy(target.p3.begin(), target.p3.end(), rows.begin() + 2 * V);
      if (mode == Mode::WrongAcceptAll) {  // a broken verifier that trusts the drafter
        t1 = d[0]; t2 = d[1];
      } else if (mode == Mode::WrongResidual) {  // a subtle bug: on rejection, resample from p instead of the residual
        const double qx = q[0].prob_of(d[0]);
        t1 = uni(rng) * qx < target.p1[d[0]] ? d[0] : sample_from(target.p1.data(), V, uni(rng));
        t2 = sample_from(target.p2[t1].data(), V, uni(rng));
      } else {
        verify_chain_sampling(d, q, 2, rows.data(), V, rng, res);
        t1 = res.tokens[0];
        // When the first draft was rejected, the next token comes from the target given t1 (the next step).
        t2 = res.accepted_nodes.empty() ? sample_from(target.p2[t1].data(), V, uni(rng)) : res.tokens[1];
      }
    }
    ++counts[t1 * V + t2];
  }
  return chi_square(counts, target, n, dof);
}

int main() {
  // Tree structure.
  DraftTree t;
  int a = t.add(10, -1, -0.1f), b = t.add(11, -1, -0.2f), c = t.add(12, a, -0.3f);
  (void)b;
  t.add(13, c, -0.4f);
  std::vector<uint8_t> mask;
  t.verify_mask(mask);
  const uint8_t want[5][5] = {{1, 0, 0, 0, 0}, {1, 1, 0, 0, 0}, {1, 0, 1, 0, 0}, {1, 1, 0, 1, 0}, {1, 1, 0, 1, 1}};
  for (int r = 0; r < 5; ++r)
    for (int col = 0; col < 5; ++col) CHECK(mask[r * 5 + col] == want[r][col], "mask[%d][%d]", r, col);
  std::vector<int32_t> pos;
  t.verify_positions(100, pos);
  CHECK(pos == std::vector<int32_t>({100, 101, 101, 102, 103}), "positions");

  // Greedy: rows are root, node0(10), node1(11), node2(12), node3(13).
  VerifyResult r;
  int32_t am1[5] = {10, 12, 99, 13, 77};  // accepts 10, 12, 13 then bonus 77
  verify_greedy(t, am1, r);
  CHECK(r.accepted_nodes == std::vector<int32_t>({0, 2, 3}) && r.tokens == std::vector<int32_t>({10, 12, 13, 77}), "greedy full path");
  int32_t am2[5] = {11, 12, 5, 13, 77};  // root argmax 11 -> node1, whose argmax 5 has no child
  verify_greedy(t, am2, r);
  CHECK(r.accepted_nodes == std::vector<int32_t>({1}) && r.tokens == std::vector<int32_t>({11, 5}), "greedy second branch");
  int32_t am3[5] = {42, 0, 0, 0, 0};
  verify_greedy(t, am3, r);
  CHECK(r.accepted_nodes.empty() && r.tokens == std::vector<int32_t>({42}), "greedy reject all");

  // Sampling exactness.
  const long n = 200000;
  struct { Mode m; const char* name; bool expect_pass; } cases[] = {
      {Mode::ChainFr, "chain, FR-Spec draft (q=0 on 3 of 6 ids)", true},
      {Mode::ChainFull, "chain, full-vocabulary draft", true},
      {Mode::Tree, "tree, sample-and-match", true},
      {Mode::WrongAcceptAll, "power check: a verifier that accepts every draft", false},
      {Mode::WrongResidual, "power check: rejection resamples p, not the residual", false},
  };
  for (auto& cs : cases) {
    for (uint64_t seed : {1ull, 2ull, 3ull}) {
      int dof = 0;
      double chi = run(cs.m, n, seed, &dof);
      double crit = chi_critical(dof);
      bool pass = chi < crit;
      std::printf("%-52s seed %llu: chi2 = %9.1f (dof %d, p=0.001 critical %.1f) %s\n", cs.name,
                  (unsigned long long)seed, chi, dof, crit, pass ? "matches target" : "differs from target");
      CHECK(pass == cs.expect_pass, "%s: expected %s", cs.name, cs.expect_pass ? "a match" : "a mismatch");
    }
  }
  std::printf(failures ? "%d FAILED\n" : "all spec verification tests passed\n", failures);
  return failures ? 1 : 0;
}
