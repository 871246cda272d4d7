// AMX int8 tiles (Sapphire Rapids and later) for the argmax filter's integer dot products
// (cpu_argmax_filter.h): one TDPBUSD multiplies up to 16 rounded x rows with a 16-row block of the 8-bit
// LM head, 64 columns at a time, so scoring the rows of a drafted path costs about what one row costs.
// The sums are the same integers the VNNI path computes (exact int32 arithmetic either way).
#pragma once
#include <cstdint>

#include "engine/cpu_variant.h"

namespace frspec::FRSPEC_CPU::amx {

// Whether this CPU has AMX-INT8 and the kernel granted this process the tile state (asked once, on the
// first call). False on other CPUs, in variants built without AMX, or with FRSPEC_AMX=0 in the environment.
bool available();

// LDTILECFG's 64-byte operand, palette 1 (the tile kernels here and in cpu_gemm_kquants.cpp fill rows/colsb).
struct TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Loads a tile configuration for the calling thread and, on leaving, puts back the one the thread had (or
// releases the tiles if it had none). Another library's AMX kernels on the same thread may configure their
// tiles once per thread and never again (llama.cpp's do): releasing them under it made its next tile load
// fault with SIGILL when both ran in one process (bench/engine.ts). Call only when available().
class TileScope {
 public:
  explicit TileScope(const TileConfig& cfg);
  TileScope(const TileScope&) = delete;
  TileScope& operator=(const TileScope&) = delete;
  void load(const TileConfig& cfg);  // another shape inside the same scope
  ~TileScope();

 private:
  alignas(64) TileConfig saved_;
};

// For blocks [0, blocks) of q (each 16 rows x cols bytes, interleaved as the filter stores them: for each
// group of 4 columns, 16 rows x 4 bytes) and the n <= 16 rows of r (cols bytes each, values + 128):
// out[(b * n + k) * 16 + i] = sum_j q[block b, row i][j] * r[k][j]. cols must be a multiple of 64.
// Call only when available().
void block_dots(const uint8_t* r, int n, int cols, const int8_t* q, int blocks, int32_t* out);

}  // namespace frspec::amx
