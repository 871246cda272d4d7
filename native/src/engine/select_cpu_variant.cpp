// make_cpu_backend: which CPU kernel variant (cpu_variant.h) runs on this machine. Baseline code: compiled
// once, for the most portable variant's instruction set, so it runs wherever the addon loads.
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu_variants_built.h"
#include "engine/backend.h"
#include "engine/cpu_variant.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>

#include <cstdint>
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

// This names every variant's namespace, reopening the baseline's inline one as `namespace frspec::cpu_<name>` (still
// the same inline namespace); clang (Apple's included) warns about the spelling.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Winline-namespace-reopened-noninline"
#endif
// Each variant's entry points (cpu_backend.cpp, cpu_matmul.cpp), in its own namespace.
#define FRSPEC_DECLARE_VARIANT(v)                                 \
  namespace frspec::cpu_##v {                                      \
  std::unique_ptr<Backend> make_variant_backend(int threads);     \
  const char* cpu_kernels_isa();                                   \
  }
FRSPEC_CPU_VARIANTS(FRSPEC_DECLARE_VARIANT)

namespace frspec {
namespace {

using MakeBackend = std::unique_ptr<Backend> (*)(int threads);

#if defined(__x86_64__) || defined(_M_X64)
// Linux hands a process the 8 KB AMX tile state only when asked (once, for all its threads); a kernel
// without the request (before 5.16) or that refuses it makes the tiles unusable: the amx variant does not run.
bool amx_tile_permission() {
#if defined(__linux__)
  constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}
#endif

#if defined(__aarch64__)
// arm64 features the kernels use beyond armv8-a's NEON: SDOT/UDOT (FEAT_DotProd) and SMMLA (FEAT_I8MM).
// Linux reports them in the auxiliary vector (bit values from the kernel's uapi hwcap.h, spelled out for
// older C libraries' headers), macOS through sysctl; elsewhere they count as absent.
struct ArmFeatures {
  bool dotprod = false, i8mm = false;
};
ArmFeatures arm_features() {
  ArmFeatures f;
#if defined(__linux__)
  constexpr unsigned long kHwcapAsimddp = 1ul << 20, kHwcap2I8mm = 1ul << 13;
  f.dotprod = (getauxval(AT_HWCAP) & kHwcapAsimddp) != 0;
  f.i8mm = (getauxval(AT_HWCAP2) & kHwcap2I8mm) != 0;
#elif defined(__APPLE__)
  auto has = [](const char* key) {
    int v = 0;
    size_t size = sizeof v;
    return sysctlbyname(key, &v, &size, nullptr, 0) == 0 && v != 0;
  };
  f.dotprod = has("hw.optional.arm.FEAT_DotProd");
  f.i8mm = has("hw.optional.arm.FEAT_I8MM");
#endif
  return f;
}
#endif

#if defined(__x86_64__) || defined(_M_X64)
// The x86 features the variants' flags let the compiler use, from CPUID, each only when the OS saves the
// registers it needs (XCR0). Read directly rather than with __builtin_cpu_supports, whose names differ between
// compilers: clang 16 (Apple clang 15, macOS) has no "x86-64-v3", "f16c", "lzcnt", "movbe" or "amx-*".
struct X86Features {
  bool v3 = false, v4 = false, vnni = false, vbmi = false, bf16 = false, amx_tile = false, amx_int8 = false, amx_bf16 = false;
};
X86Features x86_features() {
  X86Features f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const auto bit = [](unsigned r, int i) { return ((r >> i) & 1u) != 0; };
  const bool fma = bit(c, 12), movbe = bit(c, 22), osxsave = bit(c, 27), avx = bit(c, 28), f16c = bit(c, 29);
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (uint64_t(hi) << 32) | lo;
  }
  const bool os_ymm = (xcr0 & 0x6) == 0x6, os_zmm = (xcr0 & 0xe6) == 0xe6, os_tiles = (xcr0 & 0x60000) == 0x60000;
  unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0, c81 = 0;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b7, c7, d7);
    __cpuid_count(7, 1, a71, b, c, d);
  }
  if (__get_cpuid_max(0x80000000, nullptr) >= 0x80000001) __cpuid(0x80000001, a, b, c81, d);
  f.v3 = avx && fma && f16c && movbe && bit(b7, 3) /* bmi1 */ && bit(b7, 5) /* avx2 */ && bit(b7, 8) /* bmi2 */ &&
         bit(c81, 5) /* lzcnt */ && os_ymm;
  f.v4 = f.v3 && bit(b7, 16) /* avx512f */ && bit(b7, 17) /* dq */ && bit(b7, 28) /* cd */ && bit(b7, 30) /* bw */ &&
         bit(b7, 31) /* vl */ && os_zmm;
  f.vnni = bit(c7, 11) && os_zmm;
  f.vbmi = bit(c7, 1) && os_zmm;
  f.bf16 = bit(a71, 5) && os_zmm;
  f.amx_bf16 = bit(d7, 22) && os_tiles;
  f.amx_tile = bit(d7, 24) && os_tiles;
  f.amx_int8 = bit(d7, 25) && os_tiles;
  return f;
}
#endif

// What the CPU lacks for variant `name`: the features its flags (native/CMakeLists.txt,
// FRSPEC_CPU_FLAGS_<name>) let the compiler use. Empty: it runs here.
std::string missing_features(const std::string& name) {
  std::string missing;
#if defined(__x86_64__) || defined(_M_X64)
  auto need = [&](bool has, const char* what) {
    if (!has) missing += (missing.empty() ? "" : ", ") + std::string(what);
  };
  const X86Features x = x86_features();
  if (name == "v3" || name == "avx512" || name == "amx") need(x.v3, "x86-64-v3 (AVX2, FMA, F16C)");
  if (name == "avx512" || name == "amx") {
    need(x.v4, "x86-64-v4 (AVX-512 F/BW/DQ/VL)");
    need(x.vnni, "avx512vnni");
    need(x.vbmi, "avx512vbmi");
  }
  if (name == "amx") {
    need(x.bf16, "avx512bf16");
    need(x.amx_tile, "amx-tile");
    need(x.amx_int8, "amx-int8");
    need(x.amx_bf16, "amx-bf16");
    if (missing.empty() && !amx_tile_permission()) missing = "the kernel's permission to use AMX tiles (arch_prctl)";
  }
#endif
#if defined(__aarch64__)
  // "neon" needs only armv8-a (Advanced SIMD is part of every arm64 CPU).
  const ArmFeatures f = arm_features();
  if ((name == "dotprod" || name == "i8mm") && !f.dotprod) missing = "dotprod (FEAT_DotProd: SDOT)";
  if (name == "i8mm" && !f.i8mm) missing += (missing.empty() ? "" : ", ") + std::string("i8mm (FEAT_I8MM: SMMLA)");
#endif
  (void)name;  // "native" (built for this CPU) and "generic" need nothing
  return missing;
}

struct Built {
  std::vector<CpuVariant> variants;
  std::vector<MakeBackend> make;
};

const Built& built() {
  static const Built b = [] {
    Built b;
#define FRSPEC_ADD_VARIANT(v)                                        \
  {                                                                  \
    CpuVariant c;                                                    \
    c.name = #v;                                                     \
    c.isa = frspec::cpu_##v::cpu_kernels_isa();                      \
    c.missing = missing_features(c.name);                            \
    c.runs_here = c.missing.empty();                                 \
    b.variants.push_back(c);                                         \
    b.make.push_back(&frspec::cpu_##v::make_variant_backend);        \
  }
    FRSPEC_CPU_VARIANTS(FRSPEC_ADD_VARIANT)
    return b;
  }();
  return b;
}

std::string names(bool only_runnable) {
  std::string s;
  for (const CpuVariant& v : built().variants)
    if (v.runs_here || !only_runnable) s += (s.empty() ? "" : ", ") + v.name;
  return s.empty() ? "none" : s;
}

size_t choose() {
  const std::vector<CpuVariant>& vs = built().variants;
  const char* env = std::getenv("FRSPEC_CPU_VARIANT");
  const std::string want = env ? env : "";
  if (want.empty() || want == "auto") {
    for (size_t i = vs.size(); i-- > 0;)
      if (vs[i].runs_here) return i;
    throw std::runtime_error("this CPU cannot run the engine's CPU kernels: it lacks " + vs.front().missing);
  }
  for (size_t i = 0; i < vs.size(); ++i) {
    if (vs[i].name != want) continue;
    if (!vs[i].runs_here)
      throw std::runtime_error("FRSPEC_CPU_VARIANT=" + want + ": this CPU lacks " + vs[i].missing +
                               " (variants that run here: " + names(true) + ")");
    return i;
  }
  throw std::runtime_error("FRSPEC_CPU_VARIANT=" + want + ": this build has no such CPU kernel variant (it has: " +
                           names(false) + "; or 'auto')");
}

size_t chosen_index() {
  static const size_t i = choose();  // a throw leaves it unset: the next call throws the same reason
  return i;
}

}  // namespace

const std::vector<CpuVariant>& cpu_variants() { return built().variants; }

const CpuVariant& cpu_variant_chosen() { return built().variants[chosen_index()]; }

std::string cpu_variant_summary() {
  const CpuVariant& v = cpu_variant_chosen();
  return v.name + " (" + v.isa + "), chosen from: " + names(true) +
         (names(true) == names(false) ? "" : " (built: " + names(false) + ")");
}

std::unique_ptr<Backend> make_cpu_backend(int threads) { return built().make[chosen_index()](threads); }

}  // namespace frspec
