// CPU kernel variants: one portable build holds the CPU kernels compiled for several instruction sets and
// picks one at run time (llama.cpp's GGML_CPU_ALL_VARIANTS does the same with one library per variant).
//
// Every engine/cpu_*.cpp is compiled once per variant (native/CMakeLists.txt: on x86-64 `v3` = AVX2/FMA/F16C,
// `avx512` = AVX-512 with VNNI and VBMI, `amx` = that plus AVX512-BF16 and AMX tiles; elsewhere, or with
// FRSPEC_CPU_VARIANTS=native, one variant) with that variant's -m flags and FRSPEC_CPU_VARIANT=cpu_<name>.
// Its code lives in `namespace frspec::FRSPEC_CPU`, an INLINE namespace (cpu_v3, cpu_avx512, ...): inside
// it every name reads as if it were frspec's (cpu_matmul, kernels::, cpu::, amx::, ArgmaxFilter), while
// each variant's symbols stay apart in the one binary. Code outside the kernels (forward pass, addon) is
// compiled once for the baseline and reaches them through make_cpu_backend (backend.h), which calls the
// chosen variant's make_variant_backend. A file that is not a kernel but includes a cpu_*.h (sampler.cpp:
// argmax_row) gets the baseline variant (FRSPEC_CPU_BASELINE, set by CMake for every target).
#pragma once
#include <memory>
#include <string>
#include <vector>

#ifndef FRSPEC_CPU_VARIANT
#ifndef FRSPEC_CPU_BASELINE
#error "FRSPEC_CPU_BASELINE is not set: build with native/CMakeLists.txt (it names the CPU kernel variants)"
#endif
#define FRSPEC_CPU_VARIANT FRSPEC_CPU_BASELINE
#endif
// namespace frspec::FRSPEC_CPU { ... }  ==  namespace frspec { inline namespace cpu_<variant> { ... } }
#define FRSPEC_CPU inline FRSPEC_CPU_VARIANT
// The variant's short name as a string ("v3"), set by CMake with FRSPEC_CPU_VARIANT for the kernels.
#ifndef FRSPEC_CPU_VARIANT_NAME
#define FRSPEC_CPU_VARIANT_NAME "baseline"
#endif

namespace frspec {

class Backend;

// The entry point each variant defines (cpu_backend.cpp): its CPU backend.
inline namespace FRSPEC_CPU_VARIANT {
std::unique_ptr<Backend> make_variant_backend(int threads);
}

// ---- Choosing a variant (select_cpu_variant.cpp, baseline code).
struct CpuVariant {
  std::string name;     // "v3", "avx512", "amx" (or "native" / "generic" in a one-variant build)
  std::string isa;      // what its kernels use, e.g. "avx512-vnni + amx-int8"
  bool runs_here = false;
  std::string missing;  // when !runs_here: the CPU features (or OS permission) it lacks, comma-separated
};
// Every variant this build holds, from the most portable to the fastest.
const std::vector<CpuVariant>& cpu_variants();
// The variant make_cpu_backend uses, decided on the first call: the one named by the environment variable
// FRSPEC_CPU_VARIANT, else the fastest that runs here. Throws std::runtime_error with the reason (the
// features the CPU lacks, or the names this build holds) when the named one cannot run.
const CpuVariant& cpu_variant_chosen();
// One line for logs and `frspec inspect`: "amx (avx512-vnni + amx-int8), chosen from: v3, avx512, amx".
std::string cpu_variant_summary();

}  // namespace frspec
