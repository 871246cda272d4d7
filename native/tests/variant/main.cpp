// main() of a test program built once per CPU kernel variant (native/CMakeLists.txt, program.cpp): runs
// the variant that FRSPEC_CPU_VARIANT names, or else the best this CPU runs, as make_cpu_backend would;
// a variant the CPU cannot run is refused with the reason (exit status 2).
#include <cstdio>
#include <exception>
#include <string>

#include "cpu_variants_built.h"
#include "engine/cpu_variant.h"

// This names every variant's namespace, reopening the baseline's inline one as `namespace frspec::cpu_<name>` (still
// the same inline namespace); clang (Apple's included) warns about the spelling.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Winline-namespace-reopened-noninline"
#endif
#define FRSPEC_DECLARE_VARIANT_MAIN(v) \
  namespace frspec::cpu_##v {          \
  int variant_main(int argc, char** argv); \
  }
FRSPEC_CPU_VARIANTS(FRSPEC_DECLARE_VARIANT_MAIN)

int main(int argc, char** argv) {
  std::string name;
  try {
    name = frspec::cpu_variant_chosen().name;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  std::printf("CPU kernels: %s\n", frspec::cpu_variant_summary().c_str());
  std::fflush(stdout);
#define FRSPEC_RUN_VARIANT(v) \
  if (name == #v) return frspec::cpu_##v::variant_main(argc, argv);
  FRSPEC_CPU_VARIANTS(FRSPEC_RUN_VARIANT)
  std::fprintf(stderr, "CPU kernel variant '%s' is not in this program\n", name.c_str());
  return 2;
}
