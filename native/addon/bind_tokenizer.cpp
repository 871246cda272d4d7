// The tokenizer for JavaScript (typed wrapper: native/tokenizer.ts).
//
//   new Tokenizer(ggufPath)   encode(text|bytes) -> Int32Array   decode(ids) -> string   decodeBytes(ids) -> Buffer
//   countInto(text|bytes, counts: Uint32Array) -> number          countFilesAsync(texts[], counts) -> Promise<number>
//   tokenText(id)  tokenBytes(id)  isSpecial(id)  vocabSize  fingerprint  pre  specials  streamDecoder()
// Text goes to C++ as UTF-8 (a JS string's lone surrogates become U+FFFD); bytes (Buffer/Uint8Array) go
// as they are. Ids outside the vocabulary throw a RangeError naming the id.
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "addon.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace frspec::addon {
namespace {

// Runs fn, turning an out-of-range id into a RangeError and anything else into an Error.
template <typename F>
auto checked(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::out_of_range& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// The UTF-8 of a JS string, or the bytes of a Uint8Array, as a view. `buf` is reused between calls.
std::string_view text_arg(const Napi::CallbackInfo& info, size_t i, std::string& buf, const char* usage) {
  Napi::Env env = info.Env();
  if (info.Length() > i && info[i].IsString()) {
    size_t len = 0;
    napi_status st = napi_get_value_string_utf8(env, info[i], nullptr, 0, &len);
    if (st != napi_ok) throw Napi::Error::New(env, "cannot read the string");
    buf.resize(len + 1);  // the API writes a terminating NUL
    napi_get_value_string_utf8(env, info[i], buf.data(), buf.size(), &len);
    return std::string_view(buf.data(), len);
  }
  if (info.Length() > i && info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    Napi::Uint8Array a = info[i].As<Napi::Uint8Array>();
    return std::string_view(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
  }
  throw Napi::TypeError::New(env, usage);
}

// Token ids from an Int32Array, Uint32Array or an array of integers.
std::vector<int32_t> ids_arg(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  Napi::Env env = info.Env();
  std::vector<int32_t> ids;
  if (info.Length() > i && info[i].IsTypedArray()) {
    Napi::TypedArray t = info[i].As<Napi::TypedArray>();
    if (t.TypedArrayType() == napi_int32_array) {
      Napi::Int32Array a = t.As<Napi::Int32Array>();
      ids.assign(a.Data(), a.Data() + a.ElementLength());
      return ids;
    }
    if (t.TypedArrayType() == napi_uint32_array) {
      Napi::Uint32Array a = t.As<Napi::Uint32Array>();
      ids.reserve(a.ElementLength());
      for (size_t k = 0; k < a.ElementLength(); ++k) {
        if (a[k] > uint32_t(INT32_MAX)) throw Napi::RangeError::New(env, "token id " + std::to_string(a[k]) + " is out of range");
        ids.push_back(int32_t(a[k]));
      }
      return ids;
    }
  }
  if (info.Length() > i && info[i].IsArray()) {
    Napi::Array a = info[i].As<Napi::Array>();
    ids.reserve(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) {
      Napi::Value v = a.Get(k);
      const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
      if (!(d == std::floor(d)) || d < INT32_MIN || d > INT32_MAX) {
        throw Napi::TypeError::New(env, "token ids must be integers; element " + std::to_string(k) + " is not");
      }
      ids.push_back(int32_t(d));
    }
    return ids;
  }
  throw Napi::TypeError::New(env, usage);
}

int32_t id_arg(const Napi::CallbackInfo& info, const char* usage) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), usage);
  const double d = info[0].As<Napi::Number>().DoubleValue();
  if (d != std::floor(d) || d < INT32_MIN || d > INT32_MAX) throw Napi::TypeError::New(info.Env(), usage);
  return int32_t(d);
}

Napi::Uint32Array counts_arg(const Napi::CallbackInfo& info, size_t i, const Tokenizer& tok, const char* usage) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(info.Env(), usage);
  Napi::Uint32Array counts = info[i].As<Napi::Uint32Array>();
  if (counts.ElementLength() < size_t(tok.n_vocab())) {
    throw Napi::RangeError::New(info.Env(), "counts has " + std::to_string(counts.ElementLength()) +
                                                " entries, the vocabulary " + std::to_string(tok.n_vocab()));
  }
  return counts;
}

Napi::Buffer<char> to_buffer(Napi::Env env, const std::string& s) { return Napi::Buffer<char>::Copy(env, s.data(), s.size()); }

class JsStreamDecoder : public Napi::ObjectWrap<JsStreamDecoder> {
 public:
  static Napi::FunctionReference* constructor;
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function cls = DefineClass(env, "TokenStreamDecoder",
        {InstanceMethod<&JsStreamDecoder::Push>("push"), InstanceMethod<&JsStreamDecoder::Flush>("flush")});
    constructor = new Napi::FunctionReference(Napi::Persistent(cls));
    exports.Set("TokenStreamDecoder", cls);
  }
  explicit JsStreamDecoder(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsStreamDecoder>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "use tokenizer.streamDecoder()");
    tok_ = *info[0].As<Napi::External<std::shared_ptr<const Tokenizer>>>().Data();
    dec_ = std::make_unique<StreamDecoder>(*tok_);
  }

 private:
  Napi::Value Push(const Napi::CallbackInfo& info) {
    const int32_t id = id_arg(info, "push(id: integer)");
    return Napi::String::New(info.Env(), checked(info.Env(), [&] { return dec_->push(id); }));
  }
  Napi::Value Flush(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), dec_->flush()); }

  std::shared_ptr<const Tokenizer> tok_;  // keeps the tokenizer alive as long as the decoder
  std::unique_ptr<StreamDecoder> dec_;
};
Napi::FunctionReference* JsStreamDecoder::constructor = nullptr;

// Counts the tokens of many texts on a libuv worker thread into a private table, then adds the table into
// the caller's counts on the JS thread (so JS never sees a half-updated array).
class CountWorker : public Napi::AsyncWorker {
 public:
  CountWorker(Napi::Env env, std::shared_ptr<const Tokenizer> tok, std::vector<std::string> texts, Napi::Uint32Array counts)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), tok_(std::move(tok)), texts_(std::move(texts)) {
    counts_ = Napi::Persistent(counts);
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      local_.assign(size_t(tok_->n_vocab()), 0);
      for (const std::string& t : texts_) total_ += tok_->count_into(t, local_.data());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Uint32Array counts = counts_.Value().As<Napi::Uint32Array>();
    uint32_t* dst = counts.Data();
    for (size_t i = 0; i < local_.size(); ++i) dst[i] += local_[i];
    deferred_.Resolve(Napi::Number::New(Env(), double(total_)));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<const Tokenizer> tok_;
  std::vector<std::string> texts_;
  Napi::Reference<Napi::Uint32Array> counts_;
  std::vector<uint32_t> local_;
  size_t total_ = 0;
};

class JsTokenizer : public Napi::ObjectWrap<JsTokenizer> {
 public:
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function cls = DefineClass(env, "Tokenizer",
        {InstanceMethod<&JsTokenizer::Encode>("encode"),
         InstanceMethod<&JsTokenizer::Decode>("decode"),
         InstanceMethod<&JsTokenizer::DecodeBytes>("decodeBytes"),
         InstanceMethod<&JsTokenizer::CountInto>("countInto"),
         InstanceMethod<&JsTokenizer::CountFilesAsync>("countFilesAsync"),
         InstanceMethod<&JsTokenizer::TokenText>("tokenText"),
         InstanceMethod<&JsTokenizer::TokenBytes>("tokenBytes"),
         InstanceMethod<&JsTokenizer::IsSpecial>("isSpecial"),
         InstanceMethod<&JsTokenizer::StreamDecoderNew>("streamDecoder"),
         InstanceAccessor<&JsTokenizer::VocabSize>("vocabSize"),
         InstanceAccessor<&JsTokenizer::Fingerprint>("fingerprint"),
         InstanceAccessor<&JsTokenizer::Pre>("pre"),
         InstanceAccessor<&JsTokenizer::Specials>("specials")});
    exports.Set("Tokenizer", cls);
    JsStreamDecoder::Register(env, exports);
  }

  explicit JsTokenizer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsTokenizer>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "Tokenizer(ggufPath: string)");
    tok_ = guarded(env, [&] {
      auto file = GgufFile::open(info[0].As<Napi::String>());
      return std::shared_ptr<const Tokenizer>(Tokenizer::from_gguf(*file));
    });
  }

 private:
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    std::string_view text = text_arg(info, 0, text_buf_, "encode(text: string | Uint8Array)");
    ids_.clear();
    checked(info.Env(), [&] { tok_->encode_append(text, ids_); });
    Napi::Int32Array out = Napi::Int32Array::New(info.Env(), ids_.size());
    if (!ids_.empty()) std::memcpy(out.Data(), ids_.data(), ids_.size() * sizeof(int32_t));
    if (ids_.capacity() > (size_t(1) << 22)) ids_ = std::vector<int32_t>();
    return out;
  }

  Napi::Value Decode(const Napi::CallbackInfo& info) {
    const std::vector<int32_t> ids = ids_arg(info, 0, "decode(ids: Int32Array | number[])");
    const std::string s = checked(info.Env(), [&] { return tok_->decode(ids); });
    return Napi::String::New(info.Env(), s);
  }

  Napi::Value DecodeBytes(const Napi::CallbackInfo& info) {
    const std::vector<int32_t> ids = ids_arg(info, 0, "decodeBytes(ids: Int32Array | number[])");
    return to_buffer(info.Env(), checked(info.Env(), [&] { return tok_->decode(ids); }));
  }

  Napi::Value CountInto(const Napi::CallbackInfo& info) {
    const char* usage = "countInto(text: string | Uint8Array, counts: Uint32Array)";
    std::string_view text = text_arg(info, 0, text_buf_, usage);
    Napi::Uint32Array counts = counts_arg(info, 1, *tok_, usage);
    const size_t n = checked(info.Env(), [&] { return tok_->count_into(text, counts.Data()); });
    return Napi::Number::New(info.Env(), double(n));
  }

  Napi::Value CountFilesAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* usage = "countFilesAsync(texts: (string | Uint8Array)[], counts: Uint32Array)";
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, usage);
    Napi::Uint32Array counts = counts_arg(info, 1, *tok_, usage);
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<std::string> texts(arr.Length());
    for (uint32_t k = 0; k < arr.Length(); ++k) {
      Napi::Value v = arr.Get(k);
      if (v.IsString()) {
        texts[k] = v.As<Napi::String>().Utf8Value();
      } else if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
        Napi::Uint8Array a = v.As<Napi::Uint8Array>();
        texts[k].assign(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
      } else {
        throw Napi::TypeError::New(env, std::string(usage) + ": element " + std::to_string(k) + " is neither");
      }
    }
    auto* w = new CountWorker(env, tok_, std::move(texts), counts);
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }

  Napi::Value TokenText(const Napi::CallbackInfo& info) {
    const int32_t id = id_arg(info, "tokenText(id: integer)");
    return Napi::String::New(info.Env(), checked(info.Env(), [&] { return tok_->token_bytes(id); }));
  }
  Napi::Value TokenBytes(const Napi::CallbackInfo& info) {
    const int32_t id = id_arg(info, "tokenBytes(id: integer)");
    return to_buffer(info.Env(), checked(info.Env(), [&]() -> std::string { return tok_->token_bytes(id); }));
  }
  Napi::Value IsSpecial(const Napi::CallbackInfo& info) {
    const int32_t id = id_arg(info, "isSpecial(id: integer)");
    return Napi::Boolean::New(info.Env(), checked(info.Env(), [&] { return tok_->is_special(id); }));
  }
  Napi::Value StreamDecoderNew(const Napi::CallbackInfo& info) {
    auto ext = Napi::External<std::shared_ptr<const Tokenizer>>::New(info.Env(), &tok_);
    return JsStreamDecoder::constructor->New({ext});
  }

  Napi::Value VocabSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), tok_->n_vocab()); }
  Napi::Value Fingerprint(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), tok_->fingerprint()); }
  Napi::Value Pre(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), tok_->pre()); }
  Napi::Value Specials(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const SpecialTokens& s = tok_->specials();
    Napi::Object o = Napi::Object::New(env);
    o.Set("bos", s.bos);
    o.Set("eos", s.eos);
    o.Set("eot", s.eot);
    o.Set("eom", s.eom);
    o.Set("pad", s.pad);
    o.Set("fimPre", s.fim_pre);
    o.Set("fimSuf", s.fim_suf);
    o.Set("fimMid", s.fim_mid);
    o.Set("fimPad", s.fim_pad);
    o.Set("fimRep", s.fim_rep);
    o.Set("fimSep", s.fim_sep);
    o.Set("addBos", s.add_bos);
    Napi::Array eog = Napi::Array::New(env, s.eog.size());
    for (uint32_t k = 0; k < s.eog.size(); ++k) eog.Set(k, s.eog[k]);
    o.Set("eog", eog);
    return o;
  }

  std::shared_ptr<const Tokenizer> tok_;
  std::string text_buf_;      // UTF-8 of the last string argument, reused
  std::vector<int32_t> ids_;  // encode output, reused
};

}  // namespace

FRSPEC_ADDON_MODULE(JsTokenizer::Register);

}  // namespace frspec::addon
