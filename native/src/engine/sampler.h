// Picks the next token from one row of logits: greedy (temperature 0), or a draw from the distribution
// after temperature, top-k and top-p (in that order, as llama.cpp's default chain), with a seeded
// generator so the same seed gives the same tokens on every machine. probabilities() exposes the same
// processed distribution for speculative verification, which must sample from exactly this p.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace frspec {

struct SamplerParams {
  float temperature = 0.f;  // 0: greedy (argmax)
  int top_k = 0;            // 0: no limit
  float top_p = 1.f;        // 1: no nucleus cut
  uint64_t seed = 0;
  bool greedy() const { return temperature <= 0.f; }
};

class Sampler {
 public:
  Sampler(const SamplerParams& p, int vocab);
  const SamplerParams& params() const { return p_; }

  // Samples from host logits (vocab floats). Greedy returns the first maximum.
  int32_t sample(const float* logits);
  // The candidates that survive temperature/top-k/top-p with their probabilities (summing to 1): sorted
  // by probability descending (ties by lower id) when top-k or top-p cut the list, in id order when the
  // whole vocabulary is kept. Greedy: the argmax with probability 1.
  void candidates(const float* logits, std::vector<int32_t>& ids, std::vector<float>& probs);
  // Dense form: probs[vocab] (zero outside the candidates).
  void probabilities(const float* logits, float* probs);
  // A uniform number in [0, 1) from 53 random bits (std::uniform_real_distribution is not portable).
  double uniform();

 private:
  SamplerParams p_;
  int vocab_;
  std::mt19937_64 rng_;
  std::vector<int32_t> ids_, cand_ids_;  // scratch, sized once
  std::vector<float> probs_, cand_probs_, weight_of_;
};

}  // namespace frspec
