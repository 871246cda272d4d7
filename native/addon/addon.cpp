#include "addon.h"

#include <vector>

namespace frspec::addon {

static std::vector<RegisterFn>& registry() {
  static std::vector<RegisterFn> fns;
  return fns;
}

Registration::Registration(RegisterFn fn) { registry().push_back(fn); }

void register_all(Napi::Env env, Napi::Object exports) {
  for (RegisterFn fn : registry()) fn(env, exports);
}

}  // namespace frspec::addon

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  frspec::addon::register_all(env, exports);
  return exports;
}

NODE_API_MODULE(frspec, Init)
