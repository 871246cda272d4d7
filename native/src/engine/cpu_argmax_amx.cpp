#include "engine/cpu_argmax_amx.h"

#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define FRSPEC_ARGMAX_AMX 1
#endif

namespace frspec::amx {

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

struct TileConfig {  // the 64-byte operand of LDTILECFG, palette 1
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

}  // namespace

bool available() {
  static const bool ok = detect();
  return ok;
}

__attribute__((target("amx-tile,amx-int8")))
void block_dots(const uint8_t* r, int n, int cols, const int8_t* q, int blocks, int32_t* out) {
  const int chunks = cols / 64;
  TileConfig cfg;
  cfg.rows[0] = uint8_t(n), cfg.colsb[0] = 64;
  cfg.rows[1] = 16, cfg.colsb[1] = 64;
  for (int t = 2; t < 6; ++t) cfg.rows[t] = uint8_t(n), cfg.colsb[t] = 64;
  _tile_loadconfig(&cfg);
  // Tiles: 0 = C (n x 16 int32), 1 = B (a 64-column slice of a weight block: 16 groups x 64 bytes),
  // 2..5 = A (n x 64 bytes of r per 64-column chunk; loaded once for the whole call when cols <= 256).
  const bool resident = chunks <= 4;
  if (resident) {  // (tile numbers are immediates)
    if (chunks > 0) _tile_loadd(2, r, cols);
    if (chunks > 1) _tile_loadd(3, r + 64, cols);
    if (chunks > 2) _tile_loadd(4, r + 128, cols);
    if (chunks > 3) _tile_loadd(5, r + 192, cols);
  }
  for (int b = 0; b < blocks; ++b) {
    const int8_t* block = q + size_t(b) * 16 * cols;
    _mm_prefetch(reinterpret_cast<const char*>(block + size_t(4) * 16 * cols), _MM_HINT_T0);
    _tile_zero(0);
    for (int c = 0; c < chunks; ++c) {
      _tile_loadd(1, block + size_t(c) * 1024, 64);
      if (!resident) {
        _tile_loadd(2, r + size_t(c) * 64, cols);
        _tile_dpbusd(0, 2, 1);
      } else if (c == 0) {
        _tile_dpbusd(0, 2, 1);
      } else if (c == 1) {
        _tile_dpbusd(0, 3, 1);
      } else if (c == 2) {
        _tile_dpbusd(0, 4, 1);
      } else {
        _tile_dpbusd(0, 5, 1);
      }
    }
    _tile_stored(0, out + size_t(b) * n * 16, 64);
  }
  _tile_release();  // the thread leaves no tile state in use
}
#else
bool available() { return false; }
void block_dots(const uint8_t*, int, int, const int8_t*, int, int32_t*) {}
#endif

}  // namespace frspec::amx
