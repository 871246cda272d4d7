#include "engine/model.h"

#include <cmath>
#include <set>
#include <string_view>

namespace frspec {
namespace {

// Reads the configuration and checks each tensor as the forward pass will use it. Every tensor it hands
// out is recorded, so a file with tensors we would silently ignore (a bias we do not add, an MoE router)
// is refused instead of computing something else.
class Loader {
 public:
  explicit Loader(const GgufFile& f) : f_(f) {}

  // printable(): names and values come from the file (a NUL in the architecture would cut the message).
  [[noreturn]] void fail(const std::string& what) const { throw ModelError(f_.path() + ": " + printable(what)); }

  std::string key(const std::string& arch, const char* suffix) const { return arch + "." + suffix; }

  int get_int(const std::string& k) const {
    if (!f_.has(k)) fail("missing metadata key '" + k + "'");
    uint64_t v = f_.get_uint(k);
    if (v == 0 || v > (1u << 30)) fail("metadata '" + k + "' = " + std::to_string(v) + " is out of range");
    return int(v);
  }
  int get_int(const std::string& k, int def) const { return f_.has(k) ? get_int(k) : def; }

  WeightView matrix(const std::string& name, int64_t cols, int64_t rows, bool optional = false) {
    const GgufTensor* t = f_.find_tensor(name);
    if (!t) {
      if (optional) return {};
      fail("missing tensor '" + name + "'");
    }
    used_.insert(name);
    uint32_t type = uint32_t(t->type);
    const GgmlTypeTraits* tr = ggml_type_traits(type);
    if (!dtype_supported(type))
      fail("tensor '" + name + "' has type " + (tr ? tr->name : std::to_string(type)) +
           ", which this engine cannot compute (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS)");
    if (t->shape.size() != 2 || int64_t(t->shape[0]) != cols || int64_t(t->shape[1]) != rows)
      fail("tensor '" + name + "' has shape " + shape_str(t->shape) + ", expected [" + std::to_string(cols) +
           ", " + std::to_string(rows) + "]");
    if (cols % tr->block_elems != 0)
      fail("tensor '" + name + "': row length " + std::to_string(cols) + " is not a multiple of the " +
           tr->name + " block size " + std::to_string(tr->block_elems));
    bytes_ += t->n_bytes;
    WeightView w;
    w.type = DType(type);
    w.rows = rows;
    w.cols = cols;
    w.data = t->data;
    w.name = name;
    return w;
  }

  const float* vector(const std::string& name, int64_t n, bool optional = false) {
    const GgufTensor* t = f_.find_tensor(name);
    if (!t) {
      if (optional) return nullptr;
      fail("missing tensor '" + name + "'");
    }
    used_.insert(name);
    if (t->type != GgmlType::F32)
      fail("tensor '" + name + "' has type " + ggml_type_traits(uint32_t(t->type))->name +
           ", expected F32 (norm weights, biases and rope_freqs are F32 in llama.cpp's files)");
    if (t->shape.size() != 1 || int64_t(t->shape[0]) != n)
      fail("tensor '" + name + "' has shape " + shape_str(t->shape) + ", expected [" + std::to_string(n) + "]");
    if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0)
      fail("tensor '" + name + "' is not 4-byte aligned in the file");
    bytes_ += t->n_bytes;
    return reinterpret_cast<const float*>(t->data);
  }

  void refuse_unused(const std::string& arch) const {
    for (const GgufTensor& t : f_.tensors())
      if (!used_.count(t.name))
        fail("tensor '" + t.name + "' is not part of the " + arch +
             " architecture this engine implements (refusing rather than ignoring it)");
  }

  uint64_t bytes() const { return bytes_; }

  static std::string shape_str(const std::vector<uint64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  }

 private:
  const GgufFile& f_;
  std::set<std::string> used_;
  uint64_t bytes_ = 0;
};

Arch parse_arch(const std::string& s, const Loader& ld, const char* what) {
  if (s == "qwen2") return Arch::Qwen2;
  if (s == "llama") return Arch::Llama;
  if (s == "eagle") return Arch::Eagle;
  ld.fail(std::string(what) + " '" + s + "' is not supported (supported: qwen2, llama, eagle)");
}

}  // namespace

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Qwen2: return "qwen2";
    case Arch::Llama: return "llama";
    case Arch::Eagle: return "eagle";
  }
  return "?";
}

std::unique_ptr<Model> Model::load(const std::string& path) { return from_gguf(GgufFile::open(path)); }

std::unique_ptr<Model> Model::from_gguf(std::unique_ptr<GgufFile> file) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  const GgufFile& f = *m->file_;
  Loader ld(f);
  ModelConfig& c = m->config_;

  const std::string arch = f.get_string("general.architecture", "");
  if (arch.empty()) ld.fail("missing metadata key 'general.architecture'");
  c.arch = parse_arch(arch, ld, "architecture");

  c.d_model = ld.get_int(ld.key(arch, "embedding_length"));
  c.n_layers = ld.get_int(ld.key(arch, "block_count"));
  c.n_heads = ld.get_int(ld.key(arch, "attention.head_count"));
  c.n_kv_heads = ld.get_int(ld.key(arch, "attention.head_count_kv"), c.n_heads);
  c.d_ff = ld.get_int(ld.key(arch, "feed_forward_length"));
  c.n_ctx_train = ld.get_int(ld.key(arch, "context_length"), 0);
  c.head_dim = ld.get_int(ld.key(arch, "attention.key_length"), c.d_model / c.n_heads);
  if (ld.get_int(ld.key(arch, "attention.value_length"), c.head_dim) != c.head_dim)
    ld.fail("attention.value_length differs from attention.key_length (not supported)");
  if (c.n_heads % c.n_kv_heads != 0)
    ld.fail("head_count " + std::to_string(c.n_heads) + " is not a multiple of head_count_kv " +
            std::to_string(c.n_kv_heads));
  if (c.head_dim % 2 != 0) ld.fail("head dimension " + std::to_string(c.head_dim) + " is odd");
  c.rms_eps = float(f.get_float(ld.key(arch, "attention.layer_norm_rms_epsilon"), 1e-6));
  c.rope_theta = float(f.get_float(ld.key(arch, "rope.freq_base"), 10000.0));
  c.rope_dims = ld.get_int(ld.key(arch, "rope.dimension_count"), c.head_dim);
  if (c.rope_dims > c.head_dim || c.rope_dims % 2 != 0)
    ld.fail("rope.dimension_count " + std::to_string(c.rope_dims) + " does not fit head dimension " +
            std::to_string(c.head_dim));
  if (!(c.rms_eps > 0) || !(c.rope_theta > 0)) ld.fail("rms epsilon and rope.freq_base must be positive");

  // RoPE scaling: none, or linear (DeepSeek-Coder). Llama-3.1's scaling comes as the rope_freqs tensor.
  const std::string scaling = f.get_string(ld.key(arch, "rope.scaling.type"), "none");
  if (scaling == "linear") {
    c.rope_linear_scale = float(f.get_float(ld.key(arch, "rope.scaling.factor"), 1.0));
    if (!(c.rope_linear_scale > 0)) ld.fail("rope.scaling.factor must be positive");
  } else if (scaling != "none") {
    ld.fail("rope.scaling.type '" + scaling + "' is not supported (supported: none, linear)");
  }

  if (c.arch == Arch::Eagle) {
    c.target_arch = parse_arch(f.get_string("eagle.target_architecture", "qwen2"), ld, "eagle.target_architecture");
    if (c.target_arch == Arch::Eagle) ld.fail("eagle.target_architecture cannot be eagle");
    const std::string order = f.get_string("eagle.fc_input_order", "embedding,feature");
    if (order != "embedding,feature")
      ld.fail("eagle.fc_input_order '" + order + "' is not supported (expected embedding,feature)");
    if (c.n_layers != 1) ld.fail("an EAGLE head has one decoder layer, block_count is " + std::to_string(c.n_layers));
  }
  c.rope_neox = (c.arch == Arch::Eagle ? c.target_arch : c.arch) == Arch::Qwen2;

  const int64_t d = c.d_model, q_dim = int64_t(c.n_heads) * c.head_dim, kv_dim = int64_t(c.n_kv_heads) * c.head_dim;
  ModelView& v = m->view_;
  if (c.arch == Arch::Eagle) {
    c.n_vocab = 0;
    v.fc = ld.matrix("fc.weight", 2 * d, d);
    v.fc_bias = ld.vector("fc.bias", d, true);
  } else {
    const GgufTensor* emb = f.find_tensor("token_embd.weight");
    if (!emb) ld.fail("missing tensor 'token_embd.weight'");
    if (emb->shape.size() != 2) ld.fail("tensor 'token_embd.weight' is not a matrix");
    c.n_vocab = int(emb->shape[1]);
    v.token_embd = ld.matrix("token_embd.weight", d, c.n_vocab);
    v.output_norm = ld.vector("output_norm.weight", d);
    v.output = ld.matrix("output.weight", d, c.n_vocab, true);
    c.tied_output = v.output.data == nullptr;
    if (c.tied_output) v.output = v.token_embd;
    v.rope_freqs = ld.vector("rope_freqs.weight", c.rope_dims / 2, true);
  }
  if (c.rope_linear_scale != 1.f) {
    // Linear scaling divides every position by the factor: the same as dividing each frequency by it.
    std::vector<float>& ff = m->owned_.emplace_back(c.rope_dims / 2, c.rope_linear_scale);
    if (v.rope_freqs)
      for (int i = 0; i < c.rope_dims / 2; ++i) ff[i] *= v.rope_freqs[i];
    v.rope_freqs = ff.data();
  }

  const bool qwen_bias = c.arch == Arch::Qwen2 || (c.arch == Arch::Eagle && c.target_arch == Arch::Qwen2);
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerView L;
    L.attn_norm = c.arch == Arch::Eagle ? nullptr : ld.vector(p + "attn_norm.weight", d);
    L.q = ld.matrix(p + "attn_q.weight", d, q_dim);
    L.k = ld.matrix(p + "attn_k.weight", d, kv_dim);
    L.v = ld.matrix(p + "attn_v.weight", d, kv_dim);
    L.q_bias = ld.vector(p + "attn_q.bias", q_dim, !qwen_bias);
    L.k_bias = ld.vector(p + "attn_k.bias", kv_dim, !qwen_bias);
    L.v_bias = ld.vector(p + "attn_v.bias", kv_dim, !qwen_bias);
    L.o = ld.matrix(p + "attn_output.weight", q_dim, d);
    L.o_bias = ld.vector(p + "attn_output.bias", d, true);
    L.ffn_norm = ld.vector(p + "ffn_norm.weight", d);
    L.gate = ld.matrix(p + "ffn_gate.weight", d, c.d_ff);
    L.up = ld.matrix(p + "ffn_up.weight", d, c.d_ff);
    L.down = ld.matrix(p + "ffn_down.weight", c.d_ff, d);
    v.layers.push_back(std::move(L));
  }
  ld.refuse_unused(arch);
  m->weight_bytes_ = ld.bytes();
  return m;
}

uint64_t Model::bytes_per_token() const {
  uint64_t b = 0;
  for (const LayerView& L : view_.layers)
    for (const WeightView* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down})
      b += dtype_row_bytes(w->type, w->cols) * uint64_t(w->rows);
  if (view_.fc.data) b += dtype_row_bytes(view_.fc.type, view_.fc.cols) * uint64_t(view_.fc.rows);
  if (view_.token_embd.data) {
    b += dtype_row_bytes(view_.token_embd.type, view_.token_embd.cols);  // one embedding row
    b += dtype_row_bytes(view_.output.type, view_.output.cols) * uint64_t(view_.output.rows);
  }
  return b;
}

MemoryEstimate estimate_memory(const Model& m, int n_ctx, int max_batch, int max_logit_rows) {
  const ModelConfig& c = m.config();
  MemoryEstimate e;
  e.weights = m.weight_bytes();
  e.kv_cache = 2ull * c.n_layers * c.n_kv_heads * c.head_dim * sizeof(float) * uint64_t(n_ctx);
  const uint64_t q_dim = uint64_t(c.n_heads) * c.head_dim, kv_dim = uint64_t(c.n_kv_heads) * c.head_dim;
  const uint64_t per_token = 3ull * c.d_model + 2 * q_dim + 2 * kv_dim + 2ull * c.d_ff + 2ull * c.d_model;
  e.scratch = sizeof(float) * (per_token * uint64_t(max_batch) + uint64_t(max_logit_rows) * c.n_vocab);
  const DType head = m.weights().output.type;
  if (c.n_vocab > 0 && (head == DType::F32 || head == DType::F16 || head == DType::BF16) && c.d_model % 16 == 0)
    e.argmax_filter = (uint64_t(c.n_vocab) + 15) / 16 * 16 * (uint64_t(c.d_model) + 16);
  return e;
}

}  // namespace frspec
