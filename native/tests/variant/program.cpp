// One test program (FRSPEC_VARIANT_PROGRAM, a native/tests or native/bench source that includes a CPU kernel
// header) compiled as one CPU kernel variant (FRSPEC_CPU_VARIANT, set by native/CMakeLists.txt with the
// variant's flags). Its main() becomes main_cpu_<variant>(), which main.cpp calls for the chosen variant;
// everything else it defines stays in this object, so each variant tests its own kernels.
#include "engine/cpu_variant.h"

#define FRSPEC_VARIANT_CAT2(a, b) a##_##b
#define FRSPEC_VARIANT_CAT(a, b) FRSPEC_VARIANT_CAT2(a, b)
#define main FRSPEC_VARIANT_CAT(main, FRSPEC_CPU_VARIANT)
#include FRSPEC_VARIANT_PROGRAM
#undef main

namespace frspec::FRSPEC_CPU {
namespace {
[[maybe_unused]] int call_main(int (*f)(), int, char**) { return f(); }
[[maybe_unused]] int call_main(int (*f)(int, char**), int argc, char** argv) { return f(argc, argv); }
}  // namespace

int variant_main(int argc, char** argv) { return call_main(&FRSPEC_VARIANT_CAT(main, FRSPEC_CPU_VARIANT), argc, argv); }
}  // namespace frspec::FRSPEC_CPU
