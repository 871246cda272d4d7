#include "cuda/weight_layout.h"

#include <cstring>
#include <stdexcept>

#include "engine/quant.h"

namespace frspec::cuda {

int block_elems(DType t) {
  switch (t) {
    case DType::Q8_0: case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::IQ4_NL: return 32;
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: case DType::IQ4_XS: return 256;
    default: return 1;
  }
}

size_t file_row_bytes(DType t, int64_t cols) {
  switch (t) {
    case DType::F32: return size_t(cols) * 4;
    case DType::F16:
    case DType::BF16: return size_t(cols) * 2;
    case DType::Q8_0: return size_t(cols / 32) * 34;
    case DType::Q4_0: case DType::IQ4_NL: return size_t(cols / 32) * 18;
    case DType::Q4_1: return size_t(cols / 32) * 20;
    case DType::Q5_0: return size_t(cols / 32) * 22;
    case DType::Q5_1: return size_t(cols / 32) * 24;
    case DType::Q4_K: return size_t(cols / 256) * 144;
    case DType::Q5_K: return size_t(cols / 256) * 176;
    case DType::Q6_K: return size_t(cols / 256) * 210;
    case DType::IQ4_XS: return size_t(cols / 256) * 136;
    default: return 0;  // a type the CUDA backend does not run: prepare() refuses it by name
  }
}

size_t device_row_bytes(DType t, int64_t cols) {
  const size_t bytes = t == DType::IQ4_XS ? size_t(cols / 256) * 138 : file_row_bytes(t, cols);  // IQ4_XS: scales widened
  return (bytes + 15) / 16 * 16;
}

void check_weight(DType t, int64_t rows, int64_t cols, const std::string& name) {
  const std::string what = "weight '" + name + "' (" + dtype_name(t) + ", " + std::to_string(rows) + " x " +
                           std::to_string(cols) + ")";
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_K: case DType::Q6_K:
    case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::IQ4_NL: case DType::Q5_K:
    case DType::IQ4_XS:
      break;
    default:
      throw std::invalid_argument("cuda backend: " + what + ": unsupported type id " + std::to_string(uint32_t(t)));
  }
  if (rows <= 0 || cols <= 0 || rows > INT32_MAX || cols > INT32_MAX)
    throw std::invalid_argument("cuda backend: " + what + ": rows and cols must be in 1 .. 2^31-1");
  // The 32-value formats are laid out in pairs of blocks (weight_layout.h): 64 columns at a time.
  const int64_t multiple = block_elems(t) == 32 && t != DType::Q8_0 ? 64 : block_elems(t);
  if (cols % multiple != 0)
    throw std::invalid_argument("cuda backend: " + what + ": cols must be a multiple of " + std::to_string(multiple));
}

namespace {

// Nibble of element e (0..31) of a block's 16 quant bytes (value e < 16: low nibble of byte e, else high of e - 16).
uint8_t nibble(const uint8_t* qs, int e) { return e < 16 ? qs[e] & 0xF : qs[e - 16] >> 4; }

// The 32-value formats: blocks of kBytes with d at byte 0, m at 2 (kMin), qh at 2 or 4 (kFive), then qs.
template <int kBytes, bool kMin, bool kFive>
void repack_pairs(const uint8_t* in, uint8_t* out, int64_t cols) {
  const int64_t nb = cols / 32;
  constexpr int kQh = kMin ? 4 : 2, kQs = kQh + (kFive ? 4 : 0);
  uint8_t* qs = out;
  uint8_t* qh = out + nb * 16;
  uint8_t* d = qh + (kFive ? nb * 4 : 0);
  uint8_t* m = d + nb * 2;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = in + kBytes * b;
    std::memcpy(d + 2 * b, blk, 2);
    if (kMin) std::memcpy(m + 2 * b, blk + 2, 2);
  }
  for (int64_t k = 0; k < nb / 2; ++k) {
    const uint8_t* a = in + kBytes * (2 * k);
    const uint8_t* bb = a + kBytes;
    for (int h = 0; h < 2; ++h) {
      for (int l = 0; l < 16; ++l)
        qs[16 * (2 * k + h) + l] = uint8_t(nibble(a + kQs, 16 * h + l) | nibble(bb + kQs, 16 * h + l) << 4);
      if (kFive) {
        uint32_t ha, hb;
        std::memcpy(&ha, a + kQh, 4);
        std::memcpy(&hb, bb + kQh, 4);
        const uint32_t v = ((ha >> (16 * h)) & 0xFFFFu) | ((hb >> (16 * h)) & 0xFFFFu) << 16;
        std::memcpy(qh + 4 * (2 * k + h), &v, 4);
      }
    }
  }
}

void repack_iq4_xs(const uint8_t* in, uint8_t* out, int64_t cols) {
  const int64_t nb = cols / 256;
  uint8_t* qs = out;
  int8_t* sc = reinterpret_cast<int8_t*>(out + nb * 128);
  uint8_t* d = out + nb * 136;
  for (int64_t b = 0; b < nb; ++b) {
    BlockIQ4_XS blk;
    std::memcpy(&blk, in + sizeof(BlockIQ4_XS) * b, sizeof blk);
    std::memcpy(d + 2 * b, &blk.d, 2);
    for (int j = 0; j < 8; ++j) sc[8 * b + j] = int8_t(iq4xs_scale(blk, j));
    for (int p = 0; p < 4; ++p)
      for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 16; ++l)
          qs[128 * b + 16 * (2 * p + h) + l] =
              uint8_t(nibble(blk.qs + 16 * (2 * p), 16 * h + l) | nibble(blk.qs + 16 * (2 * p + 1), 16 * h + l) << 4);
  }
}

}  // namespace

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
  } else if (t == DType::Q4_0 || t == DType::IQ4_NL) {
    repack_pairs<18, false, false>(in, out, cols);
  } else if (t == DType::Q4_1) {
    repack_pairs<20, true, false>(in, out, cols);
  } else if (t == DType::Q5_0) {
    repack_pairs<22, false, true>(in, out, cols);
  } else if (t == DType::Q5_1) {
    repack_pairs<24, true, true>(in, out, cols);
  } else if (t == DType::IQ4_XS) {
    repack_iq4_xs(in, out, cols);
  } else {
    std::memcpy(out, in, file_row_bytes(t, cols));
  }
}

}  // namespace frspec::cuda
