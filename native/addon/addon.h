// The Node-API binding is thin: each bind_*.cpp file exposes one engine component and registers itself
// here with FRSPEC_ADDON_MODULE, so components can be added without touching a central list.
#pragma once
#include <napi.h>

#include <exception>
#include <string>

namespace frspec::addon {

using RegisterFn = void (*)(Napi::Env env, Napi::Object exports);
struct Registration {
  explicit Registration(RegisterFn fn);
};
void register_all(Napi::Env env, Napi::Object exports);

// Runs fn and converts any C++ exception into a JavaScript Error with the same message.
template <typename F>
auto guarded(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

}  // namespace frspec::addon

#define FRSPEC_ADDON_CAT2(a, b) a##b
#define FRSPEC_ADDON_CAT(a, b) FRSPEC_ADDON_CAT2(a, b)
#define FRSPEC_ADDON_MODULE(fn) \
  static ::frspec::addon::Registration FRSPEC_ADDON_CAT(frspec_registration_, __LINE__)(fn)
