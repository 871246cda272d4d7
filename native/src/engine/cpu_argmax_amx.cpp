#include "engine/cpu_argmax_amx.h"

#include <cstdlib>
#include <cstring>
#include <string>

// Only in a variant built with AMX (cpu_variant.h: amx, or native on an AMX machine): elsewhere available()
// is false, so FRSPEC_CPU_VARIANT=avx512 runs the VNNI path even on a CPU with AMX.
#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AMX_INT8__) && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define FRSPEC_ARGMAX_AMX 1
#endif

namespace frspec::FRSPEC_CPU::amx {

#if defined(FRSPEC_ARGMAX_AMX)
namespace {

constexpr int kArchReqXcompPerm = 0x1023;  // arch_prctl: ask for an extended state component
constexpr int kXfeatureXtiledata = 18;     // the AMX tile data

bool detect() {
  const char* env = std::getenv("FRSPEC_AMX");
  if (env && std::string(env) == "0") return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool tile = d & (1u << 24), int8 = d & (1u << 25);
  // Linux hands out the 8 KB tile state only on request (once per process, for all its threads).
  return tile && int8 && syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

// One 64-column chunk for two blocks: B slices into tiles 6 and 7, accumulated into C tiles 0 and 1 with
// the A chunk in tile A. Two blocks in flight: consecutive TDPBUSDs on one C tile wait for each other,
// and a tile being read cannot be reloaded, so alternating tiles keeps loads and products overlapping.
// (A macro: the tile intrinsics paste their tile numbers into the instruction text.)
#define FRSPEC_AMX_CHUNK_PAIR(A, b0, b1, two) \
  do {                                        \
    _tile_loadd(6, (b0), 64);                 \
    _tile_dpbusd(0, A, 6);                    \
    if (two) {                                \
      _tile_loadd(7, (b1), 64);               \
      _tile_dpbusd(1, A, 7);                  \
    }                                         \
  } while (0)

}  // namespace

bool available() {
  static const bool ok = detect();
  return ok;
}

__attribute__((target("amx-tile"))) TileScope::TileScope(const TileConfig& cfg) {
  _tile_storeconfig(&saved_);  // all zeros (palette 0) when the thread has no tiles configured
  asm volatile("" : "+m"(saved_) : : "memory");  // (written by STTILECFG, which GCC does not model: see load())
  load(cfg);
}

__attribute__((target("amx-tile"))) void TileScope::load(const TileConfig& cfg) {
  alignas(64) TileConfig c = cfg;
  // GCC 12 does not know that LDTILECFG reads all 64 bytes: with -march=native (256-bit vectors) it copied
  // only the first 32 of them, and the rest of the stack slot made the configuration invalid (SIGSEGV).
  asm volatile("" : : "m"(c) : "memory");
  _tile_loadconfig(&c);
}

__attribute__((target("amx-tile"))) TileScope::~TileScope() {
  if (saved_.palette != 0) {
    _tile_loadconfig(&saved_);
  } else {
    _tile_release();  // the thread leaves no tile state in use
  }
}

__attribute__((target("amx-tile,amx-int8")))
void block_dots(const uint8_t* r, int n, int cols, const int8_t* q, int blocks, int32_t* out) {
  const int chunks = cols / 64;
  const size_t block_bytes = size_t(16) * cols;
  // Tiles: 0, 1 = C (n x 16 int32, two blocks), 2..5 = A (n x 64 bytes of r per 64-column chunk; loaded
  // once for the whole call when cols <= 256, else chunk by chunk into 2), 6, 7 = B (a 64-column slice of
  // a block: 16 groups of 4 columns x 16 rows x 4 bytes, exactly the filter's interleaved layout).
  TileConfig cfg;
  for (int t = 0; t < 6; ++t) cfg.rows[t] = uint8_t(n), cfg.colsb[t] = 64;
  for (int t = 6; t < 8; ++t) cfg.rows[t] = 16, cfg.colsb[t] = 64;
  TileScope scope(cfg);
  const bool resident = chunks <= 4;
  if (resident) {  // (tile numbers are immediates)
    if (chunks > 0) _tile_loadd(2, r, cols);
    if (chunks > 1) _tile_loadd(3, r + 64, cols);
    if (chunks > 2) _tile_loadd(4, r + 128, cols);
    if (chunks > 3) _tile_loadd(5, r + 192, cols);
  }
  for (int b = 0; b < blocks; b += 2) {
    const int8_t* b0 = q + size_t(b) * block_bytes;
    const int8_t* b1 = b0 + block_bytes;
    const bool two = b + 1 < blocks;
    _tile_zero(0);
    if (two) _tile_zero(1);
    for (int c = 0; c < chunks; ++c) {
      const size_t at = size_t(c) * 1024;
      if (!resident) {
        _tile_loadd(2, r + size_t(c) * 64, cols);
        FRSPEC_AMX_CHUNK_PAIR(2, b0 + at, b1 + at, two);
      } else if (c == 0) {
        FRSPEC_AMX_CHUNK_PAIR(2, b0 + at, b1 + at, two);
      } else if (c == 1) {
        FRSPEC_AMX_CHUNK_PAIR(3, b0 + at, b1 + at, two);
      } else if (c == 2) {
        FRSPEC_AMX_CHUNK_PAIR(4, b0 + at, b1 + at, two);
      } else {
        FRSPEC_AMX_CHUNK_PAIR(5, b0 + at, b1 + at, two);
      }
    }
    _tile_stored(0, out + size_t(b) * n * 16, 64);
    if (two) _tile_stored(1, out + size_t(b + 1) * n * 16, 64);
  }
}
#else
bool available() { return false; }
void block_dots(const uint8_t*, int, int, const int8_t*, int, int32_t*) {}
#endif

}  // namespace frspec::amx
