// Internal to the AMX K-quant GEMMs (cpu_gemm_kquants.cpp: Q4_K/Q5_K, cpu_gemm_q6k_amx.cpp: Q6_K): the order in
// which one task walks its weight rows [r0, r1). The blocks are cut in chunks whose activation blocks (all tokens)
// fit ~512 KB of L2; inside a chunk, 16-row group by group, inside a group block by block. A unit is one (group,
// block): it is packed while the previous unit's tile products run, and its weights are prefetched a unit earlier.
#pragma once
#include <algorithm>
#include <cstdint>

#include "engine/cpu_gemm_packed.h"
#include "engine/cpu_matmul_tiles.h"

#if defined(__AMX_INT8__) && defined(__AMX_TILE__) && defined(__AVX512F__) && defined(__AVX512BW__) && \
    defined(__AVX512VNNI__) && defined(__AVX512VL__)
namespace frspec::FRSPEC_CPU::kernels {

struct AmxUnit {
  int64_t g, b, c0, c1;  // group, block, and the chunk [c0, c1) of blocks it belongs to
};

template <class Block>
struct AmxUnitWalk {
  static constexpr int kRows = packed::kGroup;  // weight rows per group: one tile's rows
  const MatmulJob& j;
  const int64_t r0, r1;
  const int64_t nb = j.w->cols / QK_K;
  const int64_t groups = (r1 - r0 + kRows - 1) / kRows;
  // Blocks per chunk: all tokens' activation blocks of a chunk within ~512 KB.
  const int64_t chunk = std::max<int64_t>(1, int64_t(512 * 1024) / (int64_t(j.n) * int64_t(QK_K)));

  AmxUnitWalk(const MatmulJob& job, int64_t row0, int64_t row1) : j(job), r0(row0), r1(row1) {}

  AmxUnit first() const { return {0, 0, 0, std::min(nb, chunk)}; }

  // The unit after u in v; false after the last.
  bool next(const AmxUnit& u, AmxUnit& v) const {
    v = u;
    if (++v.b < v.c1) return true;
    v.b = v.c0;
    if (++v.g < groups) return true;
    v.g = 0;
    v.c0 = v.b = u.c1;
    v.c1 = std::min(nb, v.c1 + chunk);
    return v.c0 < nb;
  }

  void prefetch(const AmxUnit& u) const {
    const int64_t row = r0 + u.g * kRows;
    for (int r = 0; r < kRows && row + r < r1; ++r) {
      const char* a = reinterpret_cast<const char*>(reinterpret_cast<const Block*>(j.weight_row(row + r)) + u.b);
      for (size_t off = 0; off < sizeof(Block); off += 64) _mm_prefetch(a + off, _MM_HINT_T0);
      _mm_prefetch(a + sizeof(Block) - 1, _MM_HINT_T0);
    }
  }

  // Rows of u's group inside [r0, r1).
  int valid(const AmxUnit& u) const { return int(std::min<int64_t>(kRows, r1 - (r0 + u.g * kRows))); }
};

}  // namespace frspec::FRSPEC_CPU::kernels
#endif
