// Internal to cpu_matmul.cpp: the arm64 packed GEMM for prompt chunks and verification batches
// (cpu_gemm_neon.cpp), the NEON counterpart of cpu_gemm_packed.h.
#pragma once
#include "engine/cpu_matmul_tiles.h"

namespace frspec::FRSPEC_CPU::kernels {

// The packed GEMM of a quantized type for n >= gemm_min_n() tokens in the dotprod (SDOT) and i8mm (SMMLA)
// variants; null for other types, in the neon and generic variants and on every other target. Same bits as
// the tile kernels and the GEMV of cpu_matmul_neon.h.
RowsFn gemm_fn_neon(DType t);

}  // namespace frspec::FRSPEC_CPU::kernels
