// A model's weights made ready for one backend: on the CPU the same mmapped bytes (zero-copy), on CUDA
// device copies. Norms and biases become backend vectors. An EAGLE head borrows its target's embedding
// and LM head, so it is prepared with the target's PreparedModel.
#pragma once
#include <vector>

#include "engine/backend.h"
#include "engine/model.h"

namespace frspec {

struct PreparedLayer {
  const float* attn_norm = nullptr;  // null: no input norm (EAGLE)
  Weight q, k, v, o;
  const float *q_bias = nullptr, *k_bias = nullptr, *v_bias = nullptr, *o_bias = nullptr;
  const float* ffn_norm = nullptr;
  Weight gate, up, down;
};

class PreparedModel {
 public:
  // `target` is required for an EAGLE head (its token_embd and LM head are used) and ignored otherwise;
  // both models must outlive this object.
  PreparedModel(Backend& backend, const Model& model, const PreparedModel* target = nullptr);
  ~PreparedModel();
  PreparedModel(const PreparedModel&) = delete;
  PreparedModel& operator=(const PreparedModel&) = delete;

  Backend& backend() const { return backend_; }
  const Model& model() const { return model_; }
  const ModelConfig& config() const { return model_.config(); }
  int n_vocab() const { return int(output().rows); }

  const Weight& token_embd() const { return target_ ? target_->token_embd_ : token_embd_; }
  const Weight& output() const { return target_ ? target_->output_ : output_; }
  const float* output_norm() const { return output_norm_; }  // null for EAGLE (no final norm)
  const float* rope_freqs() const { return rope_freqs_; }
  const Weight& fc() const { return fc_; }
  const float* fc_bias() const { return fc_bias_; }
  const std::vector<PreparedLayer>& layers() const { return layers_; }
  RopeParams rope() const;

 private:
  const float* vec(const float* host, size_t n);
  Weight mat(const WeightView& v);
  void release_all();

  Backend& backend_;
  const Model& model_;
  const PreparedModel* target_ = nullptr;
  Weight token_embd_, output_, fc_;
  const float *output_norm_ = nullptr, *rope_freqs_ = nullptr, *fc_bias_ = nullptr;
  std::vector<PreparedLayer> layers_;
  std::vector<Weight> owned_weights_;
  bool all_weights_copied_ = true;  // no prepared matrix points into the model's mapping
  std::vector<float*> owned_vectors_;
};

}  // namespace frspec
