// The CPU backend's own row operations (the matmuls are cpu_kernels.h): RMSNorm, RoPE, SwiGLU, masked
// attention, argmax and top-k. Each works on one row (or one query head) so the backend can split rows
// across threads; each row's arithmetic is fixed, so results do not depend on batch size or threads.
#pragma once
#include <cstdint>

#include "engine/backend.h"

namespace frspec::cpu {

float dot(const float* a, const float* b, int n);
void axpy(float a, const float* x, float* y, int n);  // y += a * x

// y = x / sqrt(mean(x^2) + eps) * weight (weight may be null). y may alias x.
void rms_norm_row(const float* x, const float* weight, float* y, int d, float eps);
// out = silu(gate) * up.
void swiglu_row(const float* gate, const float* up, float* out, int d);

// cos/sin of every rotated pair for one position: cs[2*i] = cos(theta_i), cs[2*i+1] = sin(theta_i),
// theta_i = pos * theta^(-2i/rot_dims) / freq_factors[i], computed in double.
void rope_angles(int32_t pos, int head_dim, const RopeParams& p, float* cs);
// Rotates one token's heads in place with the angles from rope_angles.
void rope_apply(float* x, int n_heads, int head_dim, const RopeParams& p, const float* cs);

// One query head against the slots it may see: the committed slots [0, n_past) and the new slots
// n_past + j where mask_row[j] != 0 (mask_row null: the new slots j <= self). k_head and v_head point
// at this KV head's slot 0 (slot stride = head_dim). scores is scratch of n_past + n_new floats.
void attend_one(const float* q, const float* k_head, const float* v_head, int head_dim, int n_past, int n_new,
                int self, const uint8_t* mask_row, float scale, float* scores, float* out);

int32_t argmax_row(const float* x, int n);  // first index of the maximum
// The k largest (value descending, ties by lower id). k <= n.
void topk_row(const float* x, int n, int k, int32_t* ids, float* vals);

}  // namespace frspec::cpu
