// Weight quantization for JavaScript, so tests can build GGUF fixtures of every supported type:
//   quantize(type, data: Float32Array, cols): Buffer          rows of `cols` values, each in ggml's layout
//   dequantize(type, bytes: Uint8Array, cols): Float32Array   the inverse (exact values the engine uses)
// type is a ggml type name: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS.
#include <cstring>
#include <string>

#include "addon.h"
#include "engine/backend.h"
#include "engine/quant.h"

namespace frspec::addon {
namespace {

DType parse_type(Napi::Env env, const Napi::Value& v) {
  static constexpr const char* kNames = "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_NL or IQ4_XS";
  if (!v.IsString()) throw Napi::TypeError::New(env, std::string("type must be a string (") + kNames + ")");
  const std::string name = v.As<Napi::String>();
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                  DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS})
    if (name == dtype_name(t)) return t;
  throw Napi::TypeError::New(env, "unsupported weight type '" + name + "' (expected " + kNames + ")");
}

int64_t parse_cols(Napi::Env env, const Napi::Value& v, DType t) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "cols must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1) || d != double(int64_t(d)) || d > 1e9) throw Napi::RangeError::New(env, "cols must be a positive integer");
  const int64_t cols = int64_t(d);
  guarded(env, [&] { return dtype_row_bytes(t, cols); });  // a whole number of blocks
  return cols;
}

Napi::Value Quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "quantize(type: string, data: Float32Array, cols: number)");
  const DType t = parse_type(env, info[0]);
  const int64_t cols = parse_cols(env, info[2], t);
  Napi::Float32Array data = info[1].As<Napi::Float32Array>();
  if (data.ElementLength() % size_t(cols) != 0)
    throw Napi::RangeError::New(env, "quantize: " + std::to_string(data.ElementLength()) + " values is not a whole number of rows of " +
                                         std::to_string(cols));
  const size_t rows = data.ElementLength() / size_t(cols), rb = dtype_row_bytes(t, cols);
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, rows * rb);
  guarded(env, [&] {
    for (size_t r = 0; r < rows; ++r) quantize_row(t, data.Data() + r * size_t(cols), out.Data() + r * rb, cols);
    return 0;
  });
  return out;
}

Napi::Value Dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, "dequantize(type: string, bytes: Uint8Array, cols: number)");
  const DType t = parse_type(env, info[0]);
  const int64_t cols = parse_cols(env, info[2], t);
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  const size_t rb = dtype_row_bytes(t, cols);
  if (bytes.ByteLength() % rb != 0)
    throw Napi::RangeError::New(env, "dequantize: " + std::to_string(bytes.ByteLength()) + " bytes is not a whole number of " +
                                         dtype_name(t) + " rows of " + std::to_string(cols) + " values (" + std::to_string(rb) + " bytes each)");
  const size_t rows = bytes.ByteLength() / rb;
  Napi::Float32Array out = Napi::Float32Array::New(env, rows * size_t(cols));
  // Copy each row out first: a Uint8Array view may start at any byte offset, the decoders read
  // 16-bit fields in place.
  std::string row(rb, '\0');
  for (size_t r = 0; r < rows; ++r) {
    std::memcpy(row.data(), bytes.Data() + r * rb, rb);
    dequantize_row(t, row.data(), out.Data() + r * size_t(cols), cols);
  }
  return out;
}

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("quantize", Napi::Function::New<Quantize>(env, "quantize"));
  exports.Set("dequantize", Napi::Function::New<Dequantize>(env, "dequantize"));
}

}  // namespace

FRSPEC_ADDON_MODULE(Register);

}  // namespace frspec::addon
