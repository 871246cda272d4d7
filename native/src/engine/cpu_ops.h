// The CPU backend's own row operations (the matmuls are cpu_kernels.h, attention cpu_attention.h):
// RMSNorm, RoPE, SwiGLU, softmax weights, argmax and top-k. Each works on one row so the backend can
// split rows across threads; each row's arithmetic is fixed, so results do not depend on batch or threads.
#pragma once
#include <cstdint>

#include "engine/backend.h"
#include "engine/cpu_variant.h"

namespace frspec::FRSPEC_CPU::cpu {

void axpy(float a, const float* x, float* y, int n);  // y += a * x

// y = x / sqrt(mean(x^2) + eps) * weight (weight may be null). y may alias x.
void rms_norm_row(const float* x, const float* weight, float* y, int d, float eps);
// rms_norm_row of rows [0, n) (d floats apart), the same bits, several rows at a time (cpu_rms_norm.cpp). y may
// alias x (y == x).
void rms_norm_rows(const float* x, const float* weight, float* y, int n, int d, float eps);
// out = silu(gate) * up.
void swiglu_row(const float* gate, const float* up, float* out, int d);

// theta^(-2i/rot_dims) / freq_factors[i] for the rot_dims/2 rotated pairs, in double.
void rope_inv_freq(int head_dim, const RopeParams& p, double* inv_freq);
// cos/sin of every rotated pair at one position: cs[2*i] = cos(pos * inv_freq[i]), cs[2*i+1] = sin(...).
void rope_angles(int32_t pos, int half, const double* inv_freq, float* cs);
// Rotates one token's heads in place with the angles from rope_angles.
void rope_apply(float* x, int n_heads, int head_dim, const RopeParams& p, const float* cs);

// w[k] = exp(w[k] - max) in place for k < n; returns their sum (a fixed order for a given n).
float softmax_weights(float* w, int n, float max);

int32_t argmax_row(const float* x, int n);  // first index of the maximum
// The k largest (value descending, ties by lower id). k <= n.
void topk_row(const float* x, int n, int k, int32_t* ids, float* vals);

}  // namespace frspec::cpu
