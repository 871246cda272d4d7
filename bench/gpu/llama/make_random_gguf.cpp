// Writes a random-weight GGUF of a real model's shape that both our engine and llama.cpp load, so the two
// can be timed on the same file at sizes nothing could carry to the GPU machine (a 7B F16 file is 15 GB;
// it is written there, on local disk, in seconds). The weights are valid numbers of small magnitude (so no
// engine meets inf/NaN), made by tiling one random block per type; the rows still differ because the
// block's length is a prime number of elements/blocks, which no row length divides.
//
// Both engines need the tokenizer: its keys (tokenizer.*) come from a template GGUF, made once on the
// development machine from demo-target.gguf (Qwen2.5's vocabulary) with --make-template. llama.cpp sizes
// the embedding from the token list, so the list is padded with "[PAD<id>]" UNUSED tokens up to the
// shape's vocabulary rows (152064 for Qwen2.5-Coder-7B vs 151936 tokens), as llama.cpp's converter does.
//
//   make_random_gguf --make-template SRC.gguf --out TEMPLATE.gguf
//   make_random_gguf --template TEMPLATE.gguf --shape qwen2.5-coder-7b|qwen2.5-coder-0.5b|tiny
//                    --type f16|q8_0|q4_0|q4_k_m|q5_k_m|iq4_xs --out FILE.gguf [--seed N]
// The quantized file types get llama-quantize's tensor types (no importance matrix): the LM head (or a tied
// embedding) Q6_K; Q4_K_M / Q5_K_M give attn_v and ffn_down Q6_K where use_more_bits says so; IQ4_XS gives
// attn_v Q5_K when 4+ query heads share a KV head and ffn_down Q5_K in the first eighth of the layers; rows
// that are not a multiple of 256 fall back (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, IQ4_XS -> IQ4_NL).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& m) { throw std::runtime_error(m); }

// ---- reading the template: the metadata section of a GGUF, kept as raw (key, type, value bytes) ----
struct RawKv {
  std::string key;
  uint32_t type;
  std::string value;  // the value's bytes exactly as in the file (arrays: elem type, count, elements)
};

struct Reader {
  std::string buf;
  size_t pos = 0;
  void need(size_t n) const {
    if (pos + n > buf.size()) fail("template: truncated at byte " + std::to_string(pos));
  }
  uint32_t u32() { need(4); uint32_t v; std::memcpy(&v, buf.data() + pos, 4); pos += 4; return v; }
  uint64_t u64() { need(8); uint64_t v; std::memcpy(&v, buf.data() + pos, 8); pos += 8; return v; }
  std::string str() { const uint64_t n = u64(); need(n); std::string s = buf.substr(pos, n); pos += n; return s; }
  // Skips one value of the given GGUF type (the numbering of the GGUF specification).
  void skip(uint32_t type) {
    static const int size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type > 12) fail("template: unknown value type " + std::to_string(type));
    if (type == 8) { str(); return; }
    if (type == 9) {
      const uint32_t et = u32();
      const uint64_t n = u64();
      if (et == 8 || et == 9) for (uint64_t i = 0; i < n; ++i) skip(et);
      else { need(n * size[et]); pos += n * size[et]; }
      return;
    }
    need(size[type]);
    pos += size[type];
  }
};

std::vector<RawKv> read_metadata(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("cannot open " + path);
  Reader r;
  r.buf.assign(std::istreambuf_iterator<char>(f), {});
  if (r.buf.size() < 24 || r.buf.compare(0, 4, "GGUF") != 0) fail(path + " is not a GGUF file");
  r.pos = 4;
  if (r.u32() != 3) fail(path + ": only GGUF v3 templates are supported");
  r.u64();  // tensors
  const uint64_t n_kv = r.u64();
  std::vector<RawKv> out;
  for (uint64_t i = 0; i < n_kv; ++i) {
    RawKv kv;
    kv.key = r.str();
    kv.type = r.u32();
    const size_t start = r.pos;
    r.skip(kv.type);
    kv.value = r.buf.substr(start, r.pos - start);
    out.push_back(std::move(kv));
  }
  return out;
}

// ---- writing ----
class Writer {
 public:
  explicit Writer(const std::string& path) : f_(std::fopen(path.c_str(), "wb")), path_(path) {
    if (!f_) fail("cannot create " + path);
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 22);
  }
  ~Writer() { if (f_) std::fclose(f_); }
  void bytes(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n) fail("write failed on " + path_ + " (disk full?)");
    written_ += n;
  }
  void u32(uint32_t v) { bytes(&v, 4); }
  void u64(uint64_t v) { bytes(&v, 8); }
  void str(const std::string& s) { u64(s.size()); bytes(s.data(), s.size()); }
  void pad(uint64_t align) {
    static const char zeros[64] = {};
    bytes(zeros, (align - written_ % align) % align);
  }
  void close() {
    if (std::fclose(f_) != 0) fail("write failed on " + path_);
    f_ = nullptr;
  }
  uint64_t written() const { return written_; }

 private:
  std::FILE* f_;
  std::string path_;
  uint64_t written_ = 0;
};

std::string u32_value(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string f32_value(float v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string str_value(const std::string& s) {
  const uint64_t n = s.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + s;
}

struct Shape {
  const char* name;
  int layers, d, ffn, heads, kv_heads, head_dim, vocab, ctx;
  float theta;
  bool tied;
};
const Shape kShapes[] = {
    {"qwen2.5-coder-7b", 28, 3584, 18944, 28, 4, 128, 152064, 32768, 1e6f, false},
    {"qwen2.5-coder-0.5b", 24, 896, 4864, 14, 2, 64, 151936, 32768, 1e6f, true},
    {"tiny", 2, 256, 512, 4, 2, 64, 152064, 4096, 1e6f, false},  // the padded vocabulary, small enough for CPU tests
};

enum GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q4_K = 12, Q5_K = 13, Q6_K = 14, IQ4_NL = 20, IQ4_XS = 23
};
struct BlockInfo { uint64_t elems, bytes; };
BlockInfo block_info(uint32_t t) {
  switch (t) {
    case F32: return {1, 4};
    case F16: return {1, 2};
    case Q4_0: case IQ4_NL: return {32, 18};
    case Q5_0: return {32, 22};
    case Q5_1: return {32, 24};
    case Q8_0: return {32, 34};
    case Q4_K: return {256, 144};
    case Q5_K: return {256, 176};
    case Q6_K: return {256, 210};
    case IQ4_XS: return {256, 136};
  }
  throw std::runtime_error("unknown tensor type " + std::to_string(t));
}

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
float uniform(uint64_t& s, float lo, float hi) { return lo + (hi - lo) * float(splitmix(s) >> 40) / float(1 << 24); }
uint16_t to_half(float f) {  // round-to-nearest for the normal range used here (|f| in [1e-4, 1])
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  const int exp = int((x >> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return uint16_t(sign);
  uint32_t mant = (x >> 13) & 0x3ff;
  if ((x >> 12) & 1) ++mant;  // round (a carry into the exponent is still the right half)
  return uint16_t(sign | ((uint32_t(exp) << 10) + mant));
}

// One random block per weight type, tiled over every matrix.
struct Tile {
  std::string bytes;
  explicit Tile(uint32_t type, uint64_t seed) {
    const float a = 0.03f;  // |w| <= 0.03: activations stay O(1) at d = 3584 and in F16 range
    if (type == F16) {
      const size_t n = 2097143;  // prime number of halves (4 MB)
      bytes.resize(n * 2);
      for (size_t i = 0; i < n; ++i) {
        const uint16_t h = to_half(uniform(seed, -a, a));
        std::memcpy(&bytes[i * 2], &h, 2);
      }
    } else if (type == Q8_0) {  // blocks of 32 values, an F16 scale then 32 int8
      const size_t n = 123457;  // prime number of 34-byte blocks (4.2 MB)
      bytes.resize(n * 34);
      for (size_t i = 0; i < n; ++i) {
        const uint16_t d = to_half(a / 127.f * uniform(seed, 0.5f, 1.f));
        std::memcpy(&bytes[i * 34], &d, 2);
        for (int j = 0; j < 32; ++j) bytes[i * 34 + 2 + j] = char(int8_t(int(splitmix(seed) % 255) - 127));
      }
    } else {  // the other quantized types: random quant and scale bytes, the F16 fields set so |w| <= ~a
      const BlockInfo bi = block_info(type);
      const size_t n = type == Q4_K || type == Q5_K || type == Q6_K || type == IQ4_XS ? 24593 : 209713;  // primes (~4 MB)
      bytes.resize(n * bi.bytes);
      auto half_at = [&](size_t i, size_t off, float v) {
        const uint16_t h = to_half(v);
        std::memcpy(&bytes[i * bi.bytes + off], &h, 2);
      };
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < bi.bytes; ++j) bytes[i * bi.bytes + j] = char(splitmix(seed) & 0xff);
        const float u = uniform(seed, 0.5f, 1.f);
        switch (type) {  // largest |q * scale| per type: Q4_0 8, Q5_0 16, Q5_1 31 (+ m), K-quants 63 * 31, Q6_K 127 * 32
          case Q4_0: half_at(i, 0, a / 8 * u); break;
          case Q5_0: half_at(i, 0, a / 16 * u); break;
          case Q5_1: half_at(i, 0, a / 62 * u), half_at(i, 2, -a / 2 * u); break;
          case Q4_K: case Q5_K: half_at(i, 0, a / (63 * 31) * u), half_at(i, 2, a / 126 * u); break;
          case Q6_K: half_at(i, 208, a / (127 * 32) * u); break;
          case IQ4_NL: half_at(i, 0, a / 127 * u); break;
          case IQ4_XS: half_at(i, 0, a / (32 * 127) * u); break;
          default: fail("no random blocks for type " + std::to_string(type));
        }
      }
    }
  }
};

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> shape;  // ggml order: shape[0] is the row length
  uint32_t type;
  float lo = 0, hi = 0;  // F32 vectors: uniform range
  uint64_t n_bytes() const {
    uint64_t n = 1;
    for (uint64_t s : shape) n *= s;
    const BlockInfo bi = block_info(type);
    return n / bi.elems * bi.bytes;
  }
};

// The tensor type llama-quantize gives a matrix in a file of type `file` (see the top of this file).
uint32_t tensor_type(const std::string& file, const std::string& name, uint64_t cols, int layer, const Shape& s) {
  if (file == "f16") return F16;
  if (file == "q8_0") return Q8_0;
  const uint32_t base = file == "q4_0" ? Q4_0 : file == "q4_k_m" ? Q4_K : file == "q5_k_m" ? Q5_K : IQ4_XS;
  uint32_t t = base;
  auto ends = [&](const char* tail) { return name.size() > std::strlen(tail) && name.compare(name.size() - std::strlen(tail), std::string::npos, tail) == 0; };
  const int e = s.layers / 8;
  const bool more_bits = layer < e || layer >= 7 * s.layers / 8 || (layer - e) % 3 == 2;
  if (name == "output.weight" || (s.tied && name == "token_embd.weight")) t = Q6_K;
  else if ((file == "q4_k_m" || file == "q5_k_m") && (ends(".attn_v.weight") || ends(".ffn_down.weight")) && more_bits) t = Q6_K;
  else if (file == "iq4_xs" && ends(".attn_v.weight") && s.heads / s.kv_heads >= 4) t = Q5_K;
  else if (file == "iq4_xs" && ends(".ffn_down.weight") && layer < e) t = Q5_K;
  if (cols % 256 != 0) t = t == Q4_K ? Q5_0 : t == Q5_K ? Q5_1 : t == Q6_K ? Q8_0 : t == IQ4_XS ? IQ4_NL : t;
  return t;
}

std::vector<TensorSpec> tensors_of(const Shape& s, const std::string& file) {
  const uint64_t d = s.d, q = uint64_t(s.heads) * s.head_dim, kv = uint64_t(s.kv_heads) * s.head_dim;
  std::vector<TensorSpec> t;
  auto wt_layer = [&](const std::string& name, uint64_t cols, int layer) { return tensor_type(file, name, cols, layer, s); };
  t.push_back({"token_embd.weight", {d, uint64_t(s.vocab)}, wt_layer("token_embd.weight", d, 0)});
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    t.push_back({p + "attn_norm.weight", {d}, F32, 0.8f, 1.2f});
    auto wt = [&](const char* n, uint64_t cols) { return wt_layer(p + n, cols, l); };
    t.push_back({p + "attn_q.weight", {d, q}, wt("attn_q.weight", d)});
    t.push_back({p + "attn_q.bias", {q}, F32, -0.05f, 0.05f});
    t.push_back({p + "attn_k.weight", {d, kv}, wt("attn_k.weight", d)});
    t.push_back({p + "attn_k.bias", {kv}, F32, -0.05f, 0.05f});
    t.push_back({p + "attn_v.weight", {d, kv}, wt("attn_v.weight", d)});
    t.push_back({p + "attn_v.bias", {kv}, F32, -0.05f, 0.05f});
    t.push_back({p + "attn_output.weight", {q, d}, wt("attn_output.weight", q)});
    t.push_back({p + "ffn_norm.weight", {d}, F32, 0.8f, 1.2f});
    t.push_back({p + "ffn_gate.weight", {d, uint64_t(s.ffn)}, wt("ffn_gate.weight", d)});
    t.push_back({p + "ffn_up.weight", {d, uint64_t(s.ffn)}, wt("ffn_up.weight", d)});
    t.push_back({p + "ffn_down.weight", {uint64_t(s.ffn), d}, wt("ffn_down.weight", s.ffn)});
  }
  t.push_back({"output_norm.weight", {d}, F32, 0.8f, 1.2f});
  if (!s.tied) t.push_back({"output.weight", {d, uint64_t(s.vocab)}, wt_layer("output.weight", d, 0)});
  return t;
}

// The template's tokenizer keys, with the token list (and its types) padded to `vocab` entries.
std::vector<RawKv> tokenizer_keys(const std::vector<RawKv>& tpl, int vocab) {
  std::vector<RawKv> out;
  for (const RawKv& kv : tpl) {
    if (kv.key.rfind("tokenizer.", 0) != 0) continue;
    RawKv k = kv;
    if (kv.key == "tokenizer.ggml.tokens" || kv.key == "tokenizer.ggml.token_type") {
      uint32_t et;
      uint64_t n;
      std::memcpy(&et, k.value.data(), 4);
      std::memcpy(&n, k.value.data() + 4, 8);
      if (n > uint64_t(vocab)) fail("the template has " + std::to_string(n) + " tokens, more than the shape's " +
                                    std::to_string(vocab) + " vocabulary rows");
      for (uint64_t id = n; id < uint64_t(vocab); ++id) {
        if (kv.key == "tokenizer.ggml.tokens") k.value += str_value("[PAD" + std::to_string(id) + "]");
        else if (et == 5) k.value += u32_value(5);  // i32 UNUSED
        else fail("tokenizer.ggml.token_type is not an i32 array");
      }
      const uint64_t nv = uint64_t(vocab);
      std::memcpy(&k.value[4], &nv, 8);
    }
    out.push_back(std::move(k));
  }
  if (out.empty()) fail("the template has no tokenizer.* keys");
  return out;
}

void write_metadata(Writer& w, const std::vector<RawKv>& kvs, uint64_t n_tensors) {
  w.bytes("GGUF", 4);
  w.u32(3);
  w.u64(n_tensors);
  w.u64(kvs.size());
  for (const RawKv& kv : kvs) {
    w.str(kv.key);
    w.u32(kv.type);
    w.bytes(kv.value.data(), kv.value.size());
  }
}

int make_template(const std::string& src, const std::string& out) {
  std::vector<RawKv> kvs;
  for (RawKv& kv : read_metadata(src))
    if (kv.key.rfind("tokenizer.", 0) == 0) kvs.push_back(std::move(kv));
  if (kvs.empty()) fail(src + " has no tokenizer.* keys");
  Writer w(out);
  write_metadata(w, kvs, 0);
  w.close();
  std::printf("%s: %zu tokenizer keys from %s\n", out.c_str(), kvs.size(), src.c_str());
  return 0;
}

int generate(const std::string& tpl_path, const std::string& shape_name, const std::string& type_name,
             const std::string& out, uint64_t seed) {
  const Shape* s = nullptr;
  for (const Shape& x : kShapes)
    if (shape_name == x.name) s = &x;
  if (!s) fail("unknown shape '" + shape_name + "' (qwen2.5-coder-7b, qwen2.5-coder-0.5b, tiny)");
  uint32_t ftype;  // llama_ftype: 1 = mostly F16, 7 = Q8_0, 2 = Q4_0, 15 = Q4_K_M, 17 = Q5_K_M, 30 = IQ4_XS
  if (type_name == "f16") ftype = 1;
  else if (type_name == "q8_0") ftype = 7;
  else if (type_name == "q4_0") ftype = 2;
  else if (type_name == "q4_k_m") ftype = 15;
  else if (type_name == "q5_k_m") ftype = 17;
  else if (type_name == "iq4_xs") ftype = 30;
  else fail("unknown type '" + type_name + "' (f16, q8_0, q4_0, q4_k_m, q5_k_m, iq4_xs)");

  const std::string a = "qwen2.";
  std::vector<RawKv> kvs = {
      {"general.architecture", 8, str_value("qwen2")},
      {"general.name", 8, str_value(std::string("random ") + s->name + " " + type_name)},
      {"general.file_type", 4, u32_value(ftype)},
      {a + "context_length", 4, u32_value(s->ctx)},
      {a + "embedding_length", 4, u32_value(s->d)},
      {a + "block_count", 4, u32_value(s->layers)},
      {a + "feed_forward_length", 4, u32_value(s->ffn)},
      {a + "attention.head_count", 4, u32_value(s->heads)},
      {a + "attention.head_count_kv", 4, u32_value(s->kv_heads)},
      {a + "rope.freq_base", 6, f32_value(s->theta)},
      {a + "attention.layer_norm_rms_epsilon", 6, f32_value(1e-6f)},
  };
  for (RawKv& kv : tokenizer_keys(read_metadata(tpl_path), s->vocab)) kvs.push_back(std::move(kv));

  const std::vector<TensorSpec> ts = tensors_of(*s, type_name);
  const uint64_t align = 32;
  Writer w(out);
  write_metadata(w, kvs, ts.size());
  uint64_t offset = 0;
  for (const TensorSpec& t : ts) {
    w.str(t.name);
    w.u32(uint32_t(t.shape.size()));
    for (uint64_t x : t.shape) w.u64(x);
    w.u32(t.type);
    w.u64(offset);
    offset += (t.n_bytes() + align - 1) / align * align;
  }
  w.pad(align);

  std::map<uint32_t, Tile> tiles;       // one per weight type the file holds
  std::map<uint32_t, uint64_t> starts;  // where the next matrix of that type starts in its tile
  std::vector<float> vec;
  for (const TensorSpec& t : ts) {
    uint64_t left = t.n_bytes();
    if (t.type == F32) {
      vec.resize(left / 4);
      for (float& v : vec) v = uniform(seed, t.lo, t.hi);
      w.bytes(vec.data(), left);
    } else {
      const std::string& tb = tiles.try_emplace(t.type, t.type, seed + t.type).first->second.bytes;
      const uint64_t unit = block_info(t.type).bytes;  // the tile is cut only at element/block boundaries
      uint64_t& start = starts[t.type];
      uint64_t at = start;
      while (left > 0) {
        const uint64_t n = std::min<uint64_t>(left, tb.size() - at);
        w.bytes(tb.data() + at, n);
        left -= n;
        at = (at + n) % tb.size();
      }
      start = (start + 7919 * unit) % tb.size();  // each matrix starts elsewhere in the tile
    }
    w.pad(align);
  }
  const uint64_t total = w.written();
  w.close();
  std::printf("%s: %s %s, %zu tensors, %.2f GB\n", out.c_str(), s->name, type_name.c_str(), ts.size(), total / 1e9);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string make_tpl, tpl, shape, type = "f16", out;
  uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--make-template") make_tpl = v;
    else if (k == "--template") tpl = v;
    else if (k == "--shape") shape = v;
    else if (k == "--type") type = v;
    else if (k == "--out") out = v;
    else if (k == "--seed") seed = std::stoull(v);
    else return std::fprintf(stderr, "unknown option %s\n", k.c_str()), 2;
  }
  try {
    if (!make_tpl.empty() && !out.empty()) return make_template(make_tpl, out);
    if (!tpl.empty() && !shape.empty() && !out.empty()) return generate(tpl, shape, type, out, seed);
    std::fprintf(stderr,
                 "usage: make_random_gguf --make-template SRC.gguf --out TEMPLATE.gguf\n"
                 "       make_random_gguf --template TEMPLATE.gguf --shape qwen2.5-coder-7b|qwen2.5-coder-0.5b|tiny"
                 " --type f16|q8_0|q4_0|q4_k_m|q5_k_m|iq4_xs --out FILE.gguf [--seed N]\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
