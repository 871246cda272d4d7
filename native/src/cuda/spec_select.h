// Launchers for the speculative loop's device-side selection (spec_select.cu): what a draft tree level
// needs beyond top-k (select.cu), so drafting reads back a few ids and scores instead of logits rows.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/kernels.h"

namespace frspec::cuda {

// out[r] = log(sum_i exp(logits[r][i])) for r < n (max subtracted first, sum in double; NaN counts as
// -inf). One block per row.
void log_sum_exp(const float* logits, int n, int vocab, float* out, cudaStream_t stream);
// ids[r] = argmax of row r (first maximum, NaN as -inf, as select.cu's argmax), then remap[ids[r]] when
// remap is non-null: a drafted token's id in one launch (the next draft step's embedding reads it).
void argmax_remap(const float* logits, int n, int vocab, const int32_t* remap, int32_t* ids, cudaStream_t stream);
// ids[i] = values.v[i] for i < n <= kSmallInts: host ids into device memory as a kernel parameter (no copy,
// no wait, capturable).
void write_small_ids(int32_t* ids, const SmallInts& values, int n, cudaStream_t stream);

}  // namespace frspec::cuda
