#include "cuda/weight_layout.h"

#include <cstring>
#include <stdexcept>

namespace frspec::cuda {

int block_elems(DType t) {
  switch (t) {
    case DType::Q8_0: return 32;
    case DType::Q4_K:
    case DType::Q6_K: return 256;
    default: return 1;
  }
}

size_t file_row_bytes(DType t, int64_t cols) {
  switch (t) {
    case DType::F32: return size_t(cols) * 4;
    case DType::F16:
    case DType::BF16: return size_t(cols) * 2;
    case DType::Q8_0: return size_t(cols / 32) * 34;
    case DType::Q4_K: return size_t(cols / 256) * 144;
    case DType::Q6_K: return size_t(cols / 256) * 210;
    default: return 0;  // a type the CUDA backend does not run: prepare() refuses it by name
  }
}

size_t device_row_bytes(DType t, int64_t cols) { return (file_row_bytes(t, cols) + 15) / 16 * 16; }

void check_weight(DType t, int64_t rows, int64_t cols, const std::string& name) {
  const std::string what = "weight '" + name + "' (" + dtype_name(t) + ", " + std::to_string(rows) + " x " +
                           std::to_string(cols) + ")";
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_K: case DType::Q6_K:
      break;
    default:
      throw std::invalid_argument("cuda backend: " + what + ": unsupported type id " + std::to_string(uint32_t(t)));
  }
  if (rows <= 0 || cols <= 0 || rows > INT32_MAX || cols > INT32_MAX)
    throw std::invalid_argument("cuda backend: " + what + ": rows and cols must be in 1 .. 2^31-1");
  if (cols % block_elems(t) != 0)
    throw std::invalid_argument("cuda backend: " + what + ": cols must be a multiple of " +
                                std::to_string(block_elems(t)));
}

void repack_row(DType t, const uint8_t* in, uint8_t* out, int64_t cols) {
  const size_t dev_bytes = device_row_bytes(t, cols);
  std::memset(out, 0, dev_bytes);
  if (t == DType::Q8_0) {
    const int64_t nb = cols / 32;
    uint8_t* qs = out;
    uint8_t* d = out + cols;
    for (int64_t b = 0; b < nb; ++b) {
      std::memcpy(d + 2 * b, in + 34 * b, 2);
      std::memcpy(qs + 32 * b, in + 34 * b + 2, 32);
    }
  } else if (t == DType::Q6_K) {
    const int64_t nb = cols / 256;
    uint8_t* ql = out;
    uint8_t* qh = ql + nb * 128;
    uint8_t* sc = qh + nb * 64;
    uint8_t* d = sc + nb * 16;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = in + 210 * b;
      std::memcpy(ql + 128 * b, blk, 128);
      std::memcpy(qh + 64 * b, blk + 128, 64);
      std::memcpy(sc + 16 * b, blk + 192, 16);
      std::memcpy(d + 2 * b, blk + 208, 2);
    }
  } else {
    std::memcpy(out, in, file_row_bytes(t, cols));
  }
}

}  // namespace frspec::cuda
