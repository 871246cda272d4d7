// Reading an options object passed from JavaScript: each value is optional (undefined/null → the
// default) and type- and range-checked, so a bad option is a TypeError/RangeError naming the key.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace frspec::addon {

inline int int_opt(const Napi::Object& o, const char* key, int def, int min, int max) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != double(int64_t(d)) || d < min || d > max)
    throw Napi::RangeError::New(o.Env(), std::string(key) + " must be an integer from " + std::to_string(min) + " to " +
                                             std::to_string(max) + ", got " + std::to_string(d));
  return int(d);
}

inline double num_opt(const Napi::Object& o, const char* key, double def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

inline std::string str_opt(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return "";
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>();
}

// Argument i as an options object; absent → an empty object.
inline Napi::Object opts_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return Napi::Object::New(info.Env());
  if (!info[i].IsObject()) throw Napi::TypeError::New(info.Env(), "options must be an object");
  return info[i].As<Napi::Object>();
}

}  // namespace frspec::addon
