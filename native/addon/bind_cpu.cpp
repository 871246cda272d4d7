// The CPU kernel variants of this build (engine/cpu_variant.h) for JavaScript:
//
//   cpuKernels() -> {chosen, isa, summary, variants: [{name, isa, runsHere, missing?}], error?}
//
// `chosen` is the variant the CPU backend uses in this process (FRSPEC_CPU_VARIANT or the best that runs
// here); when FRSPEC_CPU_VARIANT names one that cannot run, chosen is null and error says why.
#include <exception>

#include "addon.h"
#include "engine/cpu_variant.h"

namespace frspec::addon {
namespace {

Napi::Value CpuKernels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array list = Napi::Array::New(env);
  uint32_t i = 0;
  for (const CpuVariant& v : cpu_variants()) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("name", v.name);
    e.Set("isa", v.isa);
    e.Set("runsHere", v.runs_here);
    if (!v.runs_here) e.Set("missing", v.missing);
    list.Set(i++, e);
  }
  o.Set("variants", list);
  try {
    const CpuVariant& c = cpu_variant_chosen();
    o.Set("chosen", c.name);
    o.Set("isa", c.isa);
    o.Set("summary", cpu_variant_summary());
  } catch (const std::exception& e) {
    o.Set("chosen", env.Null());
    o.Set("error", e.what());
  }
  return o;
}

void Register(Napi::Env env, Napi::Object exports) { exports.Set("cpuKernels", Napi::Function::New(env, CpuKernels)); }
FRSPEC_ADDON_MODULE(Register);

}  // namespace
}  // namespace frspec::addon
