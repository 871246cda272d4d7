// Names and sizes of the weight types the engine supports (declared in backend.h).
#include <stdexcept>
#include <string>

#include "engine/backend.h"
#include "engine/quant.h"

namespace frspec {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::Q4_0: return "Q4_0";
    case DType::Q4_1: return "Q4_1";
    case DType::Q5_0: return "Q5_0";
    case DType::Q5_1: return "Q5_1";
    case DType::Q8_0: return "Q8_0";
    case DType::Q4_K: return "Q4_K";
    case DType::Q5_K: return "Q5_K";
    case DType::Q6_K: return "Q6_K";
    case DType::IQ4_NL: return "IQ4_NL";
    case DType::IQ4_XS: return "IQ4_XS";
  }
  return "unknown";
}

bool dtype_supported(uint32_t id) {
  switch (id) {
    case uint32_t(DType::F32): case uint32_t(DType::F16): case uint32_t(DType::BF16):
    case uint32_t(DType::Q4_0): case uint32_t(DType::Q4_1): case uint32_t(DType::Q5_0): case uint32_t(DType::Q5_1):
    case uint32_t(DType::Q8_0): case uint32_t(DType::Q4_K): case uint32_t(DType::Q5_K): case uint32_t(DType::Q6_K):
    case uint32_t(DType::IQ4_NL): case uint32_t(DType::IQ4_XS):
      return true;
    default:
      return false;
  }
}

int dtype_block_elems(DType t) {
  switch (t) {
    case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::IQ4_NL: return QK4_0;
    case DType::Q8_0: return QK8_0;
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: case DType::IQ4_XS: return QK_K;
    default: return 1;
  }
}

static size_t block_bytes(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::Q4_0: return sizeof(BlockQ4_0);
    case DType::Q4_1: return sizeof(BlockQ4_1);
    case DType::Q5_0: return sizeof(BlockQ5_0);
    case DType::Q5_1: return sizeof(BlockQ5_1);
    case DType::Q8_0: return sizeof(BlockQ8_0);
    case DType::Q4_K: return sizeof(BlockQ4_K);
    case DType::Q5_K: return sizeof(BlockQ5_K);
    case DType::Q6_K: return sizeof(BlockQ6_K);
    case DType::IQ4_NL: return sizeof(BlockIQ4_NL);
    case DType::IQ4_XS: return sizeof(BlockIQ4_XS);
  }
  throw std::invalid_argument("unsupported weight type id " + std::to_string(uint32_t(t)));
}

size_t dtype_row_bytes(DType t, int64_t cols) {
  if (!dtype_supported(uint32_t(t))) throw std::invalid_argument("unsupported weight type id " + std::to_string(uint32_t(t)));
  const int64_t be = dtype_block_elems(t);
  if (cols < 0 || cols % be != 0)
    throw std::invalid_argument(std::string(dtype_name(t)) + " rows need a multiple of " + std::to_string(be) +
                                " columns, got " + std::to_string(cols));
  return size_t(cols / be) * block_bytes(t);
}

}  // namespace frspec
