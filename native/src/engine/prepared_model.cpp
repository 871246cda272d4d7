#include "engine/prepared_model.h"

#include <stdexcept>

namespace frspec {

PreparedModel::PreparedModel(Backend& backend, const Model& model, const PreparedModel* target)
    : backend_(backend), model_(model) {
  const ModelConfig& c = model.config();
  const ModelView& w = model.weights();
  try {
    if (c.arch == Arch::Eagle) {
      if (!target || target->config().arch == Arch::Eagle)
        throw ModelError(model.path() + ": an EAGLE head needs its target model (for the embedding and LM head)");
      if (&target->backend() != &backend) throw ModelError("an EAGLE head must use its target's backend");
      const ModelConfig& t = target->config();
      if (t.d_model != c.d_model || t.arch != c.target_arch)
        throw ModelError(model.path() + ": this EAGLE head expects a " + arch_name(c.target_arch) + " target with d=" +
                         std::to_string(c.d_model) + ", got " + arch_name(t.arch) + " with d=" +
                         std::to_string(t.d_model));
      target_ = target;
      fc_ = mat(w.fc);
      fc_bias_ = vec(w.fc_bias, c.d_model);
    } else {
      token_embd_ = mat(w.token_embd);
      output_ = c.tied_output ? token_embd_ : mat(w.output);  // tied: one copy on the device
      output_norm_ = vec(w.output_norm, c.d_model);
    }
    rope_freqs_ = vec(w.rope_freqs, c.rope_dims / 2);
    const int q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
    for (const LayerView& L : w.layers) {
      PreparedLayer P;
      P.attn_norm = vec(L.attn_norm, c.d_model);
      P.q = mat(L.q);
      P.k = mat(L.k);
      P.v = mat(L.v);
      P.o = mat(L.o);
      P.q_bias = vec(L.q_bias, q_dim);
      P.k_bias = vec(L.k_bias, kv_dim);
      P.v_bias = vec(L.v_bias, kv_dim);
      P.o_bias = vec(L.o_bias, c.d_model);
      P.ffn_norm = vec(L.ffn_norm, c.d_model);
      P.gate = mat(L.gate);
      P.up = mat(L.up);
      P.down = mat(L.down);
      layers_.push_back(P);
    }
    // Every matrix now lives in memory of the backend's own (the CPU's huge-page copies, a GPU): the pages
    // the copying faulted in need not stay this process's memory too (they stay in the page cache).
    if (all_weights_copied_) model.gguf().drop_resident_pages();
  } catch (...) {
    release_all();
    throw;
  }
}

PreparedModel::~PreparedModel() { release_all(); }

void PreparedModel::release_all() {
  for (Weight& w : owned_weights_) backend_.release(w);
  for (float* p : owned_vectors_) backend_.free(p);
  owned_weights_.clear();
  owned_vectors_.clear();
}

Weight PreparedModel::mat(const WeightView& v) {
  Weight w = backend_.prepare(v);
  all_weights_copied_ = all_weights_copied_ && w.data != v.data;
  owned_weights_.push_back(w);  // a Weight is a handle: the backend finds its memory by data pointer
  return w;
}

const float* PreparedModel::vec(const float* host, size_t n) {
  if (!host) return nullptr;
  float* p = backend_.prepare_vector(host, n);
  owned_vectors_.push_back(p);
  return p;
}

RopeParams PreparedModel::rope() const {
  const ModelConfig& c = config();
  RopeParams p;
  p.theta = c.rope_theta;
  p.neox = c.rope_neox;
  p.freq_factors = rope_freqs_;
  p.rot_dims = c.rope_dims;
  return p;
}

}  // namespace frspec
