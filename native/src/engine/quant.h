// Weight block formats, bit-exact with ggml (ggml-common.h), and conversions between them and F32.
//
//   Q4_0  32 values:  f16 d; u8 qs[16]                            x = d * (q - 8)
//   Q4_1  32 values:  f16 d, m; u8 qs[16]                         x = d * q + m
//                     (4-bit q: value j in the low nibble of qs[j], value j + 16 in its high nibble)
//   Q5_0  32 values:  f16 d; u8 qh[4]; u8 qs[16]                  x = d * (q - 16)
//   Q5_1  32 values:  f16 d, m; u8 qh[4]; u8 qs[16]               x = d * q + m
//                     (5-bit q: low 4 bits as in Q4_0, bit 4 of value j is bit j of the little-endian qh)
//   Q8_0  32 values:  f16 d; int8 qs[32]                          x = d * q
//   Q4_K 256 values:  f16 d, dmin; u8 scales[12]; u8 qs[128]      x = d * sc[j] * q - dmin * m[j]
//                     (8 sub-blocks of 32 with 6-bit scale sc and min m; 4-bit q)
//   Q5_K 256 values:  f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
//                     (Q4_K's scales and nibbles; bit 4 of value 32j + l is bit j of qh[l])
//   Q6_K 256 values:  u8 ql[128]; u8 qh[64]; int8 scales[16]; f16 d   x = d * scales[j] * (q - 32)
//                     (16 sub-blocks of 16; 6-bit q = low 4 bits in ql, high 2 bits in qh)
//   IQ4_NL 32 values:  f16 d; u8 qs[16]                            x = d * kIQ4NL[q]   (Q4_0's nibble order)
//   IQ4_XS 256 values: f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]   x = d * (ls[j] - 32) * kIQ4NL[q]
//                     (8 sub-blocks of 32; 6-bit ls[j] = nibble j % 2 of scales_l[j / 2] | bits 2j..2j+1 of
//                     scales_h << 4; 4-bit q indexes the non-linear table kIQ4NL; value l of sub-block j
//                     is the low nibble of qs[16 j + l] for l < 16, the high nibble of qs[16 j + l - 16] after)
//
// The quantize_row_* functions are reference quantizers for test fixtures and GGUF files (not on the
// inference hot path). Their bytes follow ggml's layouts exactly; the choice of scales is our own (a
// small search plus a least-squares refit), so they are not byte-identical to llama-quantize's output.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/backend.h"

namespace frspec {

constexpr int QK8_0 = 32;
constexpr int QK_K = 256;
constexpr int K_SCALE_SIZE = 12;

using f16_t = uint16_t;   // IEEE half, raw bits
using bf16_t = uint16_t;  // bfloat16, raw bits

constexpr int QK4_0 = 32;  // Q4_0, Q4_1, Q5_0, Q5_1

struct BlockQ4_0 {
  f16_t d;
  uint8_t qs[QK4_0 / 2];
};
struct BlockQ4_1 {
  f16_t d;
  f16_t m;
  uint8_t qs[QK4_0 / 2];
};
struct BlockQ5_0 {
  f16_t d;
  uint8_t qh[4];
  uint8_t qs[QK4_0 / 2];
};
struct BlockQ5_1 {
  f16_t d;
  f16_t m;
  uint8_t qh[4];
  uint8_t qs[QK4_0 / 2];
};
struct BlockQ5_K {
  f16_t d;
  f16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};
struct BlockQ8_0 {
  f16_t d;
  int8_t qs[QK8_0];
};
struct BlockQ4_K {
  f16_t d;
  f16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qs[QK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  f16_t d;
};
static_assert(sizeof(BlockQ4_0) == 18, "ggml block_q4_0");
static_assert(sizeof(BlockQ4_1) == 20, "ggml block_q4_1");
static_assert(sizeof(BlockQ5_0) == 22, "ggml block_q5_0");
static_assert(sizeof(BlockQ5_1) == 24, "ggml block_q5_1");
static_assert(sizeof(BlockQ5_K) == 176, "ggml block_q5_K");
static_assert(sizeof(BlockQ8_0) == 34, "ggml block_q8_0");
static_assert(sizeof(BlockQ4_K) == 144, "ggml block_q4_K");
struct BlockIQ4_NL {
  f16_t d;
  uint8_t qs[QK4_0 / 2];
};
struct BlockIQ4_XS {
  f16_t d;
  uint16_t scales_h;
  uint8_t scales_l[QK_K / 64];
  uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockQ6_K) == 210, "ggml block_q6_K");
static_assert(sizeof(BlockIQ4_NL) == 18, "ggml block_iq4_nl");
static_assert(sizeof(BlockIQ4_XS) == 136, "ggml block_iq4_xs");

// The 16 values a 4-bit IQ4_NL / IQ4_XS quant selects (ggml kvalues_iq4nl): denser near zero.
constexpr int8_t kIQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// The signed scale ls - 32 (-32..31) of sub-block j (0..7) of an IQ4_XS block.
inline int iq4xs_scale(const BlockIQ4_XS& b, int j) {
  return int(((b.scales_l[j / 2] >> (4 * (j % 2))) & 0xF) | (((b.scales_h >> (2 * j)) & 3) << 4)) - 32;
}

// Elements per block of a type (1 for F32/F16/BF16).
int dtype_block_elems(DType t);

// Scalar half / bfloat16 conversions (round to nearest even; NaN stays NaN).
float f16_to_f32(f16_t h);
f16_t f32_to_f16(float f);
inline float bf16_to_f32(bf16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
bf16_t f32_to_bf16(float f);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K block (ggml get_scale_min_k4).
inline void q4k_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Bit 4 of the 32 values of a Q5_0 / Q5_1 block: bit j belongs to value j (ggml stores a little-endian uint32).
inline uint32_t q5_high_bits(const uint8_t qh[4]) {
  return uint32_t(qh[0]) | uint32_t(qh[1]) << 8 | uint32_t(qh[2]) << 16 | uint32_t(qh[3]) << 24;
}

// y[cols] = the values of one row of type t stored at `row`. cols must be a multiple of the block size.
void dequantize_row(DType t, const void* row, float* y, int64_t cols);

// One row of `cols` F32 values into type t at `out` (dtype_row_bytes(t, cols) bytes). Throws
// std::invalid_argument when cols is not a multiple of the block size.
void quantize_row(DType t, const float* x, void* out, int64_t cols);
void quantize_row_f16(const float* x, f16_t* y, int64_t k);
void quantize_row_bf16(const float* x, bf16_t* y, int64_t k);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t k);
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t k);
void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t k);
void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t k);
void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t k);
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t k);
void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t k);
void quantize_row_q6_K(const float* x, BlockQ6_K* y, int64_t k);
void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t k);
void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t k);

}  // namespace frspec
