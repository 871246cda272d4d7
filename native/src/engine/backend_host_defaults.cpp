// Backend's default implementations of the token-id operations (backend.h), for backends whose memory is
// host memory (the CPU). The arithmetic is the drafter's historical host code, so CPU drafts stay identical.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/backend.h"

namespace frspec {
namespace {

// Log-sum-exp of a row in double after subtracting the maximum (draft log-probabilities are logit - lse).
float log_sum_exp(const float* x, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(double(x[i] - mx));
  return mx + float(std::log(s));
}

}  // namespace

void Backend::write_ids(int32_t* ids, const int32_t* host, int n) { std::memcpy(ids, host, size_t(n) * sizeof(int32_t)); }
void Backend::read_ids(int32_t* host, const int32_t* ids, int n) { std::memcpy(host, ids, size_t(n) * sizeof(int32_t)); }

void Backend::argmax_ids(const float* logits, int n, int vocab, const int32_t* remap, int32_t* ids) {
  argmax(logits, n, vocab, ids);
  if (remap)
    for (int i = 0; i < n; ++i) ids[i] = remap[ids[i]];
}

void Backend::topk_rows(const float* logits, int n, int vocab, int k, int32_t* host_ids, float* host_vals, float* host_lse) {
  for (int r = 0; r < n; ++r) {
    const float* row = logits + size_t(r) * vocab;
    topk(row, vocab, k, host_ids + size_t(r) * k, host_vals + size_t(r) * k);
    host_lse[r] = log_sum_exp(row, vocab);
  }
}

}  // namespace frspec
