// RoPE arithmetic shared by every kernel that rotates (pointwise.cu: rope, rope_kv_write; kv_attention.cu: the
// decode attention that ropes its query and the new key on load), so all of them give the same bits.
#pragma once
#include <cuda_runtime.h>

namespace frspec::cuda {

// sin and cos of pair i's angle pos * theta^(-2i/rot) / factor, computed in double (a float angle loses
// ~1e-3 rad at positions in the tens of thousands), rounded to float.
__device__ __forceinline__ void rope_sincos(int i, int pos, int rot, float theta, const float* freq_factors, float& s,
                                            float& c) {
  double inv_freq = pow(double(theta), -2.0 * i / double(rot));
  if (freq_factors) inv_freq /= double(freq_factors[i]);
  double sd, cd;
  sincos(double(pos) * inv_freq, &sd, &cd);
  s = float(sd), c = float(cd);
}
// The rotated pair (x0 at the pair's first index, x1 at its second), in float like the CPU backend, with
// explicit roundings.
__device__ __forceinline__ float rope_first(float x0, float x1, float s, float c) { return __fmaf_rn(x0, c, -__fmul_rn(x1, s)); }
__device__ __forceinline__ float rope_second(float x0, float x1, float s, float c) { return __fmaf_rn(x0, s, __fmul_rn(x1, c)); }

}  // namespace frspec::cuda
