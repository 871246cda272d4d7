// GgufFile for JavaScript: header, metadata (arrays converted on request) and the tensor directory.
#include <cstring>

#include "addon.h"
#include "gguf/gguf.h"

namespace frspec::addon {
namespace {

Napi::Value scalar_to_js(Napi::Env env, const GgufValue& v) {
  switch (v.type) {
    case GgufType::STRING: return Napi::String::New(env, std::string(v.str));
    case GgufType::BOOL: return Napi::Boolean::New(env, v.u != 0);
    case GgufType::F32: case GgufType::F64: return Napi::Number::New(env, v.f);
    case GgufType::U64: return v.u > (1ull << 53) ? Napi::BigInt::New(env, v.u).As<Napi::Value>() : Napi::Number::New(env, double(v.u));
    case GgufType::I64: return (v.i > (1ll << 53) || v.i < -(1ll << 53)) ? Napi::BigInt::New(env, v.i).As<Napi::Value>() : Napi::Number::New(env, double(v.i));
    case GgufType::U8: case GgufType::U16: case GgufType::U32: return Napi::Number::New(env, double(v.u));
    default: return Napi::Number::New(env, double(v.i));
  }
}

class JsGgufFile : public Napi::ObjectWrap<JsGgufFile> {
 public:
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function cls = DefineClass(env, "GgufFile",
        {InstanceAccessor<&JsGgufFile::Version>("version"),
         InstanceAccessor<&JsGgufFile::Alignment>("alignment"),
         InstanceAccessor<&JsGgufFile::DataOffset>("dataOffset"),
         InstanceMethod<&JsGgufFile::Keys>("keys"),
         InstanceMethod<&JsGgufFile::Get>("get"),
         InstanceMethod<&JsGgufFile::Tensors>("tensors")});
    exports.Set("GgufFile", cls);
  }

  explicit JsGgufFile(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsGgufFile>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "GgufFile(path: string)");
    file_ = guarded(env, [&] { return GgufFile::open(info[0].As<Napi::String>()); });
  }

 private:
  Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), file_->version()); }
  Napi::Value Alignment(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(file_->alignment())); }
  Napi::Value DataOffset(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(file_->data_offset())); }

  // keys(): [{key, type, elementType?, length?}]
  Napi::Value Keys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    for (const auto& [k, v] : file_->metadata()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("key", k);
      o.Set("type", gguf_type_name(v.type));
      if (v.type == GgufType::ARRAY) {
        o.Set("elementType", gguf_type_name(v.elem_type));
        o.Set("length", double(v.count));
      }
      out.Set(i++, o);
    }
    return out;
  }

  // get(key): scalar, string, or array (string[] or number[]); undefined when absent.
  Napi::Value Get(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "get(key: string)");
    std::string key = info[0].As<Napi::String>();
    const GgufValue* v = file_->find(key);
    if (!v) return env.Undefined();
    if (v->type != GgufType::ARRAY) return scalar_to_js(env, *v);
    Napi::Array arr = Napi::Array::New(env, v->count);
    if (v->elem_type == GgufType::STRING) {
      for (uint32_t k = 0; k < v->count; ++k) arr.Set(k, Napi::String::New(env, v->strings[k].data(), v->strings[k].size()));
    } else if (v->elem_type == GgufType::F32 || v->elem_type == GgufType::F64) {
      auto f = file_->get_float_array(key);
      for (uint32_t k = 0; k < f.size(); ++k) arr.Set(k, double(f[k]));
    } else if (v->elem_type == GgufType::ARRAY) {
      return env.Null();  // nested arrays are validated but not exposed
    } else {
      auto n = file_->get_int_array(key);
      for (uint32_t k = 0; k < n.size(); ++k) arr.Set(k, double(n[k]));
    }
    return arr;
  }

  // tensors(): [{name, type, shape, offset, nBytes}]
  Napi::Value Tensors(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env, file_->tensors().size());
    uint32_t i = 0;
    for (const GgufTensor& t : file_->tensors()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", t.name);
      o.Set("type", ggml_type_traits(uint32_t(t.type))->name);
      Napi::Array shape = Napi::Array::New(env, t.shape.size());
      for (uint32_t d = 0; d < t.shape.size(); ++d) shape.Set(d, double(t.shape[d]));
      o.Set("shape", shape);
      o.Set("offset", double(t.offset));
      o.Set("nBytes", double(t.n_bytes));
      out.Set(i++, o);
    }
    return out;
  }

  std::unique_ptr<GgufFile> file_;
};

}  // namespace

FRSPEC_ADDON_MODULE(JsGgufFile::Register);

}  // namespace frspec::addon
