#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "engine/cpu_ops.h"

namespace frspec {

Sampler::Sampler(const SamplerParams& p, int vocab) : p_(p), vocab_(vocab), rng_(p.seed) {
  if (vocab < 1) throw std::invalid_argument("sampler: empty vocabulary");
  if (!(p.temperature >= 0.f) || !std::isfinite(p.temperature))
    throw std::invalid_argument("sampler: temperature must be a finite number >= 0");
  if (p.top_k < 0) throw std::invalid_argument("sampler: top_k must be >= 0");
  if (!(p.top_p > 0.f && p.top_p <= 1.f)) throw std::invalid_argument("sampler: top_p must be in (0, 1]");
  ids_.resize(vocab);
  probs_.resize(vocab);
  weight_of_.resize(vocab);
  cand_ids_.reserve(vocab);
  cand_probs_.reserve(vocab);
}

double Sampler::uniform() { return double(rng_() >> 11) * 0x1.0p-53; }

void Sampler::candidates(const float* logits, std::vector<int32_t>& ids, std::vector<float>& probs) {
  ids.clear();
  probs.clear();
  if (p_.greedy()) {
    ids.push_back(cpu::argmax_row(logits, vocab_));
    probs.push_back(1.f);
    return;
  }
  // Candidates in ids_[0..n), most probable first (ties: lower id) whenever a cut needs the order.
  auto higher = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  const int k = p_.top_k > 0 ? std::min(p_.top_k, vocab_) : vocab_;
  const bool cut_p = p_.top_p < 1.f;
  int n = k;
  if (k <= 64 && k < vocab_) {
    cpu::topk_row(logits, vocab_, k, ids_.data(), probs_.data());  // one pass, sorted insertion
  } else {
    std::iota(ids_.begin(), ids_.end(), 0);
    if (k < vocab_) {
      std::nth_element(ids_.begin(), ids_.begin() + (k - 1), ids_.end(), higher);
      std::sort(ids_.begin(), ids_.begin() + k, higher);
    }
  }
  // Weights exp((logit - max) / T), in double; probs_[i] belongs to ids_[i].
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, logits[ids_[i]]);
  const double inv_t = 1.0 / p_.temperature;
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += (probs_[i] = float(std::exp((double(logits[ids_[i]]) - mx) * inv_t)));
  // Nucleus: the shortest most-probable-first prefix whose mass reaches top_p. Over the whole vocabulary
  // only a growing prefix is put in order (64, 512, ... candidates) until it holds that mass.
  if (cut_p) {
    if (k == vocab_) {
      for (int i = 0; i < n; ++i) weight_of_[ids_[i]] = probs_[i];
      for (int m = std::min(64, n);; m = std::min(m * 8, n)) {
        std::nth_element(ids_.begin(), ids_.begin() + (m - 1), ids_.end(), higher);
        std::sort(ids_.begin(), ids_.begin() + m, higher);
        double acc = 0;
        for (int i = 0; i < m; ++i) acc += weight_of_[ids_[i]];
        if (acc >= p_.top_p * sum || m == n) break;
      }
      for (int i = 0; i < n; ++i) probs_[i] = weight_of_[ids_[i]];
    }
    double acc = 0;
    int keep = 0;
    while (keep < n) {
      acc += probs_[keep++];
      if (acc >= p_.top_p * sum) break;
    }
    n = keep;
    sum = acc;
  }
  for (int i = 0; i < n; ++i) {
    ids.push_back(ids_[i]);
    probs.push_back(float(probs_[i] / sum));
  }
}

void Sampler::probabilities(const float* logits, float* out) {
  candidates(logits, cand_ids_, cand_probs_);
  std::fill(out, out + vocab_, 0.f);
  for (size_t i = 0; i < cand_ids_.size(); ++i) out[cand_ids_[i]] = cand_probs_[i];
}

int32_t Sampler::sample(const float* logits) {
  if (p_.greedy()) return cpu::argmax_row(logits, vocab_);
  candidates(logits, cand_ids_, cand_probs_);
  const double u = uniform();
  double acc = 0;
  for (size_t i = 0; i < cand_ids_.size(); ++i) {
    acc += cand_probs_[i];
    if (u < acc) return cand_ids_[i];
  }
  return cand_ids_.back();  // rounding left the total a hair under 1
}

}  // namespace frspec
