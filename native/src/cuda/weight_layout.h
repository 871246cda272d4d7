// How weight rows lie in GPU memory. Every row starts on a 16-byte boundary (rows are padded), so GEMV
// threads can read weights with 16-byte loads; rows stay independent, so FR-Spec's gather_rows is a
// plain row copy. Types whose ggml blocks are not 16-byte multiples are repacked per row, once, at load:
//
//   F32, F16, BF16, Q4_K, Q5_K   the ggml bytes (Q4_K / Q5_K blocks are 144 / 176 bytes, 16-byte multiples)
//   Q8_0                   int8 qs[cols] | f16 d[cols/32]                    (ggml: 34-byte blocks)
//   Q6_K                   u8 ql[nb*128] | u8 qh[nb*64] | i8 sc[nb*16] | f16 d[nb]  (nb = cols/256; ggml: 210)
//   Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL   (nb = cols/32, even: cols a multiple of 64) u8 qs'[nb*16] | u32 qh'[nb]
//                          (Q5_x) | f16 d[nb] | f16 m[nb] (Q4_1, Q5_1); qs' and qh' interleave the blocks of
//                          each pair so that a lane pair holds the two halves of each block (TLegacy in
//                          weight_types.cuh); d and m as stored
//   IQ4_XS                 u8 qs'[nb*128] (sub-blocks interleaved in pairs the same way) | i8 s[nb*8] (the
//                          6-bit scales minus 32) | f16 d[nb]            (nb = cols/256; ggml: 136-byte blocks)
//
// This file is plain C++ (no CUDA): the host side of loading, shared with the tests.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/backend.h"

namespace frspec::cuda {

// Elements per ggml block (1 for float types).
int block_elems(DType t);
// Bytes of one row in the file (ggml layout, unpadded).
size_t file_row_bytes(DType t, int64_t cols);
// Bytes of one row on the GPU (the layout above, padded to 16).
size_t device_row_bytes(DType t, int64_t cols);
// Throws std::invalid_argument naming the weight when its type or shape cannot be used.
void check_weight(DType t, int64_t rows, int64_t cols, const std::string& name);
// Converts one row from the file layout to the device layout (device_row_bytes bytes, padding zeroed).
void repack_row(DType t, const uint8_t* file_row, uint8_t* device_row, int64_t cols);

}  // namespace frspec::cuda
