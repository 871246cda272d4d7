// A model as it lies in a GGUF file: its configuration (from metadata) and views of its weights inside
// the memory mapping. Nothing is copied or computed here; loading validates every tensor the forward
// pass will touch (type, shape) and refuses anything else with a message that names the tensor.
//
// Architectures: `qwen2` (NEOX RoPE, Q/K/V biases), `llama` (llama.cpp's converter permutes Q/K so RoPE
// pairs are adjacent; optional Llama-3.1 `rope_freqs` and linear RoPE scaling) and `eagle` (an EAGLE-1
// draft head: fc([embedding; feature]) then one decoder layer without its input norm; it borrows the
// target's embedding and LM head, see ../shared/models/README.md).
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "gguf/gguf.h"

namespace frspec {

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Arch { Qwen2, Llama, Eagle };
const char* arch_name(Arch a);

struct ModelConfig {
  Arch arch = Arch::Qwen2;
  int n_vocab = 0;      // rows of the embedding / LM head (eagle: 0, it uses the target's)
  int d_model = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int d_ff = 0;
  int n_ctx_train = 0;  // context length the model was trained for (informative)
  float rms_eps = 1e-6f;
  float rope_theta = 10000.f;
  bool rope_neox = true;      // qwen2: rotate-half; llama: adjacent pairs
  int rope_dims = 0;          // dimensions rotated per head
  float rope_linear_scale = 1.f;  // positions are divided by this (llama.rope.scaling.type = linear)
  bool tied_output = true;    // no output.weight: the LM head is token_embd
  Arch target_arch = Arch::Qwen2;  // eagle only: the architecture whose features it reads
};

// Views of one decoder layer. Vectors (norms, biases) are F32 pointers into the mapping; null = absent.
struct LayerView {
  const float* attn_norm = nullptr;  // null in an EAGLE head
  WeightView q, k, v, o;
  const float *q_bias = nullptr, *k_bias = nullptr, *v_bias = nullptr, *o_bias = nullptr;
  const float* ffn_norm = nullptr;
  WeightView gate, up, down;
};

struct ModelView {
  WeightView token_embd;            // absent (data == null) in an EAGLE head
  WeightView output;                // the LM head: token_embd itself when tied
  const float* output_norm = nullptr;  // null in an EAGLE head
  const float* rope_freqs = nullptr;   // Llama-3.1 frequency divisors (rope_dims/2), or null
  WeightView fc;                       // eagle: [2d -> d]
  const float* fc_bias = nullptr;
  std::vector<LayerView> layers;
};

class Model {
 public:
  // Opens, maps and validates. Throws ModelError (or GgufError for a malformed file) naming the file and
  // the offending key or tensor.
  static std::unique_ptr<Model> load(const std::string& path);
  static std::unique_ptr<Model> from_gguf(std::unique_ptr<GgufFile> file);

  const ModelConfig& config() const { return config_; }
  const ModelView& weights() const { return view_; }
  const GgufFile& gguf() const { return *file_; }
  const std::string& path() const { return file_->path(); }
  // Bytes of all tensors the forward pass reads (what an mmap brings into memory).
  uint64_t weight_bytes() const { return weight_bytes_; }
  // Bytes read from weights per decode step (every matrix once, one embedding row, the LM head).
  uint64_t bytes_per_token() const;

 private:
  Model() = default;
  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
  ModelView view_;
  uint64_t weight_bytes_ = 0;
  std::vector<std::vector<float>> owned_;  // synthesized vectors (linear RoPE scaling as freq factors)
};

// What a model needs in memory for a context of n_ctx tokens evaluated max_batch tokens at a time.
struct MemoryEstimate {
  uint64_t weights = 0;       // mmapped file data
  uint64_t kv_cache = 0;      // K and V, F32
  uint64_t scratch = 0;       // activations and logits buffers
  uint64_t argmax_filter = 0; // CPU greedy decoding: the 8-bit copy of a float LM head (cpu_argmax_filter.h)
  uint64_t total() const { return weights + kv_cache + scratch + argmax_filter; }
};
MemoryEstimate estimate_memory(const Model& m, int n_ctx, int max_batch, int max_logit_rows);

}  // namespace frspec
