// Launchers for the speculative loop's device-side selection (spec_select.cu): what a draft tree level
// needs beyond top-k (select.cu), so drafting reads back a few ids and scores instead of logits rows.
#pragma once
#include <cuda_runtime.h>

namespace frspec::cuda {

// out[r] = log(sum_i exp(logits[r][i])) for r < n (max subtracted first, sum in double; NaN counts as
// -inf). One block per row.
void log_sum_exp(const float* logits, int n, int vocab, float* out, cudaStream_t stream);

}  // namespace frspec::cuda
