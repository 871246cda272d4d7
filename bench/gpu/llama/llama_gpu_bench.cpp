// llama.cpp's side of the GPU comparison: node-llama-cpp 3.21.1's own prebuilt CUDA binaries
// (libllama.cuda.v0.4.0.so, llama.cpp tag v0.4.0) driven through llama.h, because the GPU machine has no
// Node. It measures exactly what native/bench/cuda_gguf_bench.cpp measures for our engine, on the same
// GGUF file and the same prompt token ids:
//  * plain greedy: a prompt of N tokens in one llama_decode (prompt tok/s, to the first token), then G-1
//    single-token decodes (decode tok/s, ms/token); median of --reps runs after one warm-up run;
//  * speculative greedy with a draft model (--draft): llama.cpp's speculative-simple scheme written
//    against llama.h: the draft proposes --draft-max tokens greedily, the target verifies them in one
//    batch, the longest matching prefix plus the target's own next token are kept, both caches are cut
//    back with llama_memory_seq_rm. Its outputs are compared token for token with plain greedy.
// Greedy choice: the argmax of the logits row on the host (what a llama.h program does by default), or,
// with --backend-sampling, llama.cpp's backend greedy sampler (the argmax stays on the GPU) for plain
// decoding and for the draft model (llama.cpp's speculative default); verification always reads logits.
//
//   llama_gpu_bench --model M.gguf [--n-prompt 512] [--n-gen 128] [--reps 3] [--fa on|off]
//                   [--backend-sampling] [--require-gpu] [--label TEXT] [--json FILE] [--tokens-out FILE]
//                   [--threads N]   (CPU threads; only for the no-GPU smoke test)
//   llama_gpu_bench --model T.gguf --draft D.gguf --prompts FILE [--n-gen 64] [--draft-max 3] ...
// FILE: one prompt per line, "name TAB space-separated token ids" (bench/gpu/make-prompts.ts).
// --json appends one JSON object (one line) per run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "ggml-backend.h"
#include "llama.h"

namespace {

[[noreturn]] void fail(const std::string& m) { throw std::runtime_error(m); }

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The prompt both engines time on random-weight models: token i is 1000 + (i * 7919) % 100000 (ids that
// exist in every Qwen2.5 vocabulary; native/bench/cuda_gguf_bench.cpp uses the same formula).
std::vector<llama_token> synthetic_prompt(int n) {
  std::vector<llama_token> p(n);
  for (int i = 0; i < n; ++i) p[i] = 1000 + int((int64_t(i) * 7919) % 100000);
  return p;
}

std::vector<std::vector<llama_token>> read_prompts(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("cannot open prompts file " + path);
  std::vector<std::vector<llama_token>> out;
  std::string line;
  while (std::getline(f, line)) {
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::istringstream in(line.substr(tab + 1));
    std::vector<llama_token> ids;
    for (llama_token v; in >> v;) ids.push_back(v);
    if (!ids.empty()) out.push_back(std::move(ids));
  }
  if (out.empty()) fail("no prompts in " + path);
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (c == '\n') o += "\\n";
    else if (uint8_t(c) >= 0x20) o += c;
  }
  return o + "\"";
}

struct Options {
  std::string model, draft, prompts, label, json, tokens_out;
  int n_prompt = 512, n_gen = 128, reps = 3, draft_max = 3, threads = 0;  // threads 0: llama.cpp's default
  bool fa = true, backend_sampling = false, require_gpu = false;
};

// One model with one context (one sequence), greedy.
class Engine {
 public:
  // backend_sampling: greedy on the GPU (llama.cpp allows it only for contexts that want one output per
  // decode: plain decoding and the draft, not the verifying target).
  Engine(const std::string& path, const Options& o, int n_ctx, int n_batch, bool backend_sampling) {
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 999;  // every layer on the GPU
    model_ = llama_model_load_from_file(path.c_str(), mp);
    if (!model_) fail("llama.cpp could not load " + path);
    vocab_ = llama_vocab_n_tokens(llama_model_get_vocab(model_));
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_batch;
    cp.n_ubatch = n_batch;
    cp.n_seq_max = 1;
    cp.flash_attn_type = o.fa ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.no_perf = true;
    if (o.threads > 0) cp.n_threads = cp.n_threads_batch = o.threads;
    llama_sampler_seq_config sc{0, nullptr};
    if (backend_sampling) {
      chain_ = llama_sampler_chain_init(llama_sampler_chain_default_params());
      llama_sampler_chain_add(chain_, llama_sampler_init_greedy());
      sc.sampler = chain_;
      cp.samplers = &sc;
      cp.n_samplers = 1;
    }
    ctx_ = llama_init_from_model(model_, cp);
    if (!ctx_) fail("llama.cpp could not create a context for " + path);
    batch_ = llama_batch_init(n_batch, 0, 1);
    n_batch_ = n_batch;
    char desc[256];
    llama_model_desc(model_, desc, sizeof desc);
    desc_ = desc;
  }
  ~Engine() {
    llama_batch_free(batch_);
    if (ctx_) llama_free(ctx_);
    if (chain_) llama_sampler_free(chain_);
    if (model_) llama_model_free(model_);
  }
  const std::string& desc() const { return desc_; }
  uint64_t size() const { return llama_model_size(model_); }
  int n_past() const { return n_past_; }

  void clear() {
    llama_memory_clear(llama_get_memory(ctx_), true);
    n_past_ = 0;
  }
  // Drops every cached position from n on.
  void truncate(int n) {
    if (!llama_memory_seq_rm(llama_get_memory(ctx_), 0, n, -1)) fail("llama_memory_seq_rm refused");
    n_past_ = n;
  }
  // Appends tokens at n_past (in chunks of the batch size); the greedy choice after each of the last
  // `n_out` tokens goes to `out`.
  void eval(const llama_token* toks, int n, int n_out, std::vector<llama_token>& out) {
    out.clear();
    for (int i0 = 0; i0 < n; i0 += n_batch_) {
      const int m = std::min(n_batch_, n - i0);
      batch_.n_tokens = m;
      for (int i = 0; i < m; ++i) {
        batch_.token[i] = toks[i0 + i];
        batch_.pos[i] = n_past_ + i;
        batch_.n_seq_id[i] = 1;
        batch_.seq_id[i][0] = 0;
        batch_.logits[i] = i0 + i >= n - n_out;
      }
      if (const int rc = llama_decode(ctx_, batch_); rc != 0) fail("llama_decode returned " + std::to_string(rc));
      n_past_ += m;
      for (int i = 0; i < m; ++i)
        if (batch_.logits[i]) out.push_back(choose(i));
    }
  }

 private:
  llama_token choose(int i) {
    if (chain_) {
      const llama_token t = llama_get_sampled_token_ith(ctx_, i);
      if (t == LLAMA_TOKEN_NULL) fail("the backend sampler returned no token");
      return t;
    }
    const float* l = llama_get_logits_ith(ctx_, i);
    if (!l) fail("no logits for batch row " + std::to_string(i));
    return llama_token(std::max_element(l, l + vocab_) - l);
  }

  llama_model* model_ = nullptr;
  llama_context* ctx_ = nullptr;
  llama_sampler* chain_ = nullptr;
  llama_batch batch_{};
  int vocab_ = 0, n_batch_ = 0, n_past_ = 0;
  std::string desc_;
};

std::string gpu_name() {
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t d = ggml_backend_dev_get(i);
    if (ggml_backend_dev_type(d) == GGML_BACKEND_DEVICE_TYPE_GPU) return ggml_backend_dev_description(d);
  }
  return "";
}

void append_json(const Options& o, const std::string& obj) {
  std::printf("%s\n", obj.c_str());
  if (o.json.empty()) return;
  std::ofstream f(o.json, std::ios::app);
  f << obj << "\n";
}

// Plain greedy generation: returns prompt ms, decode ms (G-1 steps), the tokens.
struct PlainRun {
  double prompt_ms = 0, decode_ms = 0;
  std::vector<llama_token> tokens;
};
PlainRun plain(Engine& e, const std::vector<llama_token>& prompt, int n_gen) {
  PlainRun r;
  std::vector<llama_token> out;
  e.clear();
  const double t0 = now_ms();
  e.eval(prompt.data(), int(prompt.size()), 1, out);
  r.tokens.push_back(out[0]);
  const double t1 = now_ms();
  while (int(r.tokens.size()) < n_gen) {
    e.eval(&r.tokens.back(), 1, 1, out);
    r.tokens.push_back(out[0]);
  }
  r.prompt_ms = t1 - t0;
  r.decode_ms = now_ms() - t1;
  return r;
}

int run_plain(const Options& o, const std::string& gpu) {
  Engine e(o.model, o, o.n_prompt + o.n_gen + 16, std::min(o.n_prompt, 512), o.backend_sampling);
  const auto prompt = synthetic_prompt(o.n_prompt);
  const double tl = now_ms();
  plain(e, prompt, o.n_gen);  // warm-up (CUDA graphs, cuBLAS handles), not counted
  const double warm_ms = now_ms() - tl;
  std::vector<double> p_ms, d_ms;
  std::vector<llama_token> first;
  int differ = 0;
  for (int r = 0; r < o.reps; ++r) {
    const PlainRun x = plain(e, prompt, o.n_gen);
    p_ms.push_back(x.prompt_ms), d_ms.push_back(x.decode_ms);
    if (r == 0) first = x.tokens;
    differ += x.tokens != first;
  }
  if (!o.tokens_out.empty()) {
    std::ofstream f(o.tokens_out);
    for (llama_token t : first) f << t << " ";
    f << "\n";
  }
  const double pm = median(p_ms), dm = median(d_ms);
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "{\"engine\": \"llama.cpp v0.4.0 (node-llama-cpp 3.21.1 CUDA prebuilt)\", \"mode\": \"plain\", "
                "\"label\": %s, \"model\": %s, \"desc\": %s, \"model_bytes\": %llu, \"device\": %s, \"flash_attn\": %s, "
                "\"backend_sampling\": %s, \"n_prompt\": %d, \"n_gen\": %d, \"reps\": %d, \"prompt_ms\": %.3f, "
                "\"prompt_tok_s\": %.1f, \"decode_ms\": %.3f, \"decode_tok_s\": %.2f, \"ms_per_token\": %.4f, "
                "\"warmup_ms\": %.1f, \"runs_differing_from_first\": %d}",
                json_str(o.label).c_str(), json_str(o.model).c_str(), json_str(e.desc()).c_str(),
                (unsigned long long)e.size(), json_str(gpu).c_str(), o.fa ? "true" : "false",
                o.backend_sampling ? "true" : "false", o.n_prompt, o.n_gen, o.reps, pm, o.n_prompt / (pm / 1e3), dm,
                (o.n_gen - 1) / (dm / 1e3), dm / (o.n_gen - 1), warm_ms, differ);
  append_json(o, buf);
  return 0;
}

// Speculative greedy decoding with a draft model (llama.cpp's speculative-simple scheme).
struct SpecRun {
  double ms = 0, prompt_ms = 0;
  int steps = 0, drafted = 0, accepted = 0;
  std::vector<llama_token> tokens;
};
SpecRun speculative(Engine& tgt, Engine& dft, const std::vector<llama_token>& prompt, int n_gen, int n_draft) {
  SpecRun r;
  std::vector<llama_token> all(prompt), out, drafts, verify;
  tgt.clear();
  dft.clear();
  const double t0 = now_ms();
  tgt.eval(prompt.data(), int(prompt.size()), 1, out);
  all.push_back(out[0]);
  r.tokens.push_back(out[0]);
  r.prompt_ms = now_ms() - t0;
  while (int(r.tokens.size()) < n_gen) {
    // Draft: catch the draft's cache up with everything committed, then propose n_draft tokens.
    const int n = std::min(n_draft, n_gen - int(r.tokens.size()));
    drafts.clear();
    dft.eval(all.data() + dft.n_past(), int(all.size()) - dft.n_past(), 1, out);
    drafts.push_back(out[0]);
    while (int(drafts.size()) < n) {
      dft.eval(&drafts.back(), 1, 1, out);
      drafts.push_back(out[0]);
    }
    // Verify: the last committed token and the drafts in one batch, a greedy choice after each.
    const int base = tgt.n_past();
    verify.assign(all.begin() + base, all.end());
    verify.insert(verify.end(), drafts.begin(), drafts.end());
    tgt.eval(verify.data(), int(verify.size()), int(verify.size()), out);
    const int pending = int(verify.size()) - int(drafts.size());  // committed tokens not yet in the target
    int k = 0;
    while (k < n && drafts[k] == out[pending - 1 + k]) ++k;
    for (int i = 0; i < k; ++i) all.push_back(drafts[i]), r.tokens.push_back(drafts[i]);
    all.push_back(out[pending - 1 + k]);
    r.tokens.push_back(out[pending - 1 + k]);
    // Both caches keep only committed tokens (the newest committed token is evaluated next step).
    tgt.truncate(int(all.size()) - 1);
    dft.truncate(std::min(dft.n_past(), int(all.size()) - 1));
    r.steps += 1, r.drafted += n, r.accepted += k;
  }
  r.tokens.resize(n_gen);
  r.ms = now_ms() - t0;
  return r;
}

int run_spec(const Options& o, const std::string& gpu) {
  const auto prompts = read_prompts(o.prompts);
  int max_len = 0;
  for (const auto& p : prompts) max_len = std::max(max_len, int(p.size()));
  const int n_ctx = max_len + o.n_gen + o.draft_max + 16;
  Engine tgt(o.model, o, n_ctx, 512, false), dft(o.draft, o, n_ctx, 512, o.backend_sampling);
  plain(tgt, prompts[0], o.n_gen);  // warm-up
  speculative(tgt, dft, prompts[0], o.n_gen, o.draft_max);
  double plain_ms = 0, plain_prompt_ms = 0, spec_ms = 0, spec_prompt_ms = 0;
  int tokens = 0, mismatches = 0, steps = 0, drafted = 0, accepted = 0;
  for (const auto& p : prompts) {
    const PlainRun a = plain(tgt, p, o.n_gen);
    const SpecRun b = speculative(tgt, dft, p, o.n_gen, o.draft_max);
    plain_ms += a.prompt_ms + a.decode_ms, plain_prompt_ms += a.prompt_ms;
    spec_ms += b.ms, spec_prompt_ms += b.prompt_ms;
    tokens += int(a.tokens.size());
    mismatches += a.tokens != b.tokens;
    steps += b.steps, drafted += b.drafted, accepted += b.accepted;
  }
  const double plain_dec = tokens / ((plain_ms - plain_prompt_ms) / 1e3);
  const double spec_dec = tokens / ((spec_ms - spec_prompt_ms) / 1e3);
  char buf[1280];
  std::snprintf(buf, sizeof buf,
                "{\"engine\": \"llama.cpp v0.4.0 (node-llama-cpp 3.21.1 CUDA prebuilt)\", \"mode\": \"speculative\", "
                "\"label\": %s, \"model\": %s, \"draft\": %s, \"device\": %s, \"flash_attn\": %s, \"backend_sampling\": %s, "
                "\"prompts\": %zu, \"n_gen\": %d, \"draft_max\": %d, \"tokens\": %d, "
                "\"plain_tok_s\": %.1f, \"plain_decode_tok_s\": %.1f, \"spec_tok_s\": %.1f, \"spec_decode_tok_s\": %.1f, "
                "\"decode_speedup_vs_plain\": %.3f, \"tau\": %.3f, \"acceptance\": %.3f, \"outputs_differing_from_plain\": %d}",
                json_str(o.label).c_str(), json_str(o.model).c_str(), json_str(o.draft).c_str(), json_str(gpu).c_str(),
                o.fa ? "true" : "false", o.backend_sampling ? "true" : "false", prompts.size(), o.n_gen, o.draft_max,
                tokens, tokens / (plain_ms / 1e3), plain_dec, tokens / (spec_ms / 1e3), spec_dec, spec_dec / plain_dec,
                steps ? double(tokens - int(prompts.size())) / steps : 0.0, drafted ? double(accepted) / drafted : 0.0,
                mismatches);
  append_json(o, buf);
  return 0;
}

// llama.cpp's log on stderr, less the per-key metadata dump of every model load (the device, offload and
// memory lines stay: they show where the model runs).
void quiet_log(ggml_log_level level, const char* text, void*) {
  if (level < GGML_LOG_LEVEL_INFO) return;
  if (std::strncmp(text, "llama_model_loader: - ", 22) == 0 || std::strncmp(text, "print_info: ", 12) == 0) return;
  std::fputs(text, stderr);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) fail("option " + a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--model") o.model = val();
      else if (a == "--draft") o.draft = val();
      else if (a == "--prompts") o.prompts = val();
      else if (a == "--label") o.label = val();
      else if (a == "--json") o.json = val();
      else if (a == "--tokens-out") o.tokens_out = val();
      else if (a == "--n-prompt") o.n_prompt = std::stoi(val());
      else if (a == "--n-gen") o.n_gen = std::stoi(val());
      else if (a == "--reps") o.reps = std::stoi(val());
      else if (a == "--draft-max") o.draft_max = std::stoi(val());
      else if (a == "--threads") o.threads = std::stoi(val());
      else if (a == "--fa") o.fa = val() == "on";
      else if (a == "--backend-sampling") o.backend_sampling = true;
      else if (a == "--require-gpu") o.require_gpu = true;
      else fail("unknown option " + a);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 2;
    }
  }
  if (o.model.empty() || (!o.draft.empty() && o.prompts.empty()) || o.n_prompt < 1 || o.n_gen < 2 || o.reps < 1 ||
      o.draft_max < 1) {
    std::fprintf(stderr,
                 "usage: llama_gpu_bench --model M.gguf [--n-prompt 512] [--n-gen 128] [--reps 3] [--fa on|off]\n"
                 "         [--backend-sampling] [--require-gpu] [--label TEXT] [--json FILE] [--tokens-out FILE]\n"
                 "       llama_gpu_bench --model T.gguf --draft D.gguf --prompts FILE [--n-gen 64] [--draft-max 3] ...\n");
    return 2;
  }
  llama_log_set(quiet_log, nullptr);
  // The backends (CUDA, CPU variants) are shared libraries next to this program.
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::string dir = n > 0 ? std::string(exe, n) : std::string(".");
  dir = dir.substr(0, dir.find_last_of('/'));
  ggml_backend_load_all_from_path(dir.c_str());
  llama_backend_init();
  const std::string gpu = gpu_name();
  std::fprintf(stderr, "llama.cpp devices: %zu, GPU: %s\n", ggml_backend_dev_count(), gpu.empty() ? "none" : gpu.c_str());
  if (o.require_gpu && gpu.empty()) {
    std::fprintf(stderr, "error: llama.cpp found no GPU (is libggml-cuda.so next to this program, libcudart/libcublas on "
                         "LD_LIBRARY_PATH?)\n");
    return 3;
  }
  try {
    const int rc = o.draft.empty() ? run_plain(o, gpu) : run_spec(o, gpu);
    llama_backend_free();
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
