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
  auto higher = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  const int k = p_.top_k > 0 ? std::min(p_.top_k, vocab_) : vocab_;
  const bool cut_p = p_.top_p < 1.f;
  int n = vocab_;
  if (k < vocab_) {
    // Top-k by one pass with a sorted insertion buffer (k is usually small).
    cpu::topk_row(logits, vocab_, k, ids_.data(), probs_.data());
    n = k;
  } else {
    std::iota(ids_.begin(), ids_.end(), 0);
    if (cut_p) std::sort(ids_.begin(), ids_.end(), higher);  // the nucleus needs the order
  }
  // Softmax of logits / T over the n candidates, in double.
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, logits[ids_[i]]);
  double sum = 0;
  const double inv_t = 1.0 / p_.temperature;
  for (int i = 0; i < n; ++i) {
    const double e = std::exp((double(logits[ids_[i]]) - mx) * inv_t);
    probs_[i] = float(e);
    sum += e;
  }
  // Nucleus: the shortest prefix (most probable first) whose mass reaches top_p.
  if (cut_p) {
    double acc = 0;
    int keep = 0;
    while (keep < n) {
      acc += probs_[keep++] / sum;
      if (acc >= p_.top_p) break;
    }
    n = keep;
    sum = 0;
    for (int i = 0; i < n; ++i) sum += probs_[i];
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
