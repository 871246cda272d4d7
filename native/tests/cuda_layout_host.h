// Host stand-ins for the few CUDA intrinsics weight_types.cuh uses, so cuda_layout_test.cpp can compile the
// device traits as plain C++. A system header for GCC: the traits' #pragma unroll would warn here otherwise.
#pragma once
#pragma GCC system_header
#include <cstdint>
#include <cstring>

#include "engine/quant.h"

#define FRSPEC_CUDA_HOST_CHECK 1
#define __device__
#define __forceinline__ inline
struct uint4 { uint32_t x, y, z, w; };
struct uint2 { uint32_t x, y; };
struct __half { uint16_t b; };
inline __half __ushort_as_half(uint16_t h) { return {h}; }
inline float __half2float(__half h) { return frspec::f16_to_f32(h.b); }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(uint32_t i) { float f; std::memcpy(&f, &i, 4); return f; }
template <class T> inline T __ldg(const T* p) { T v; std::memcpy(&v, p, sizeof v); return v; }
inline uint32_t __byte_perm(uint32_t x, uint32_t y, uint32_t s) {  // PTX prmt, default mode (selector bits 0-2)
  const uint64_t v = uint64_t(x) | uint64_t(y) << 32;
  uint32_t r = 0;
  for (int n = 0; n < 4; ++n) r |= uint32_t((v >> (8 * ((s >> (4 * n)) & 7))) & 0xFF) << (8 * n);
  return r;
}
#include "cuda/weight_layout.h"
#include "cuda/weight_types.cuh"

