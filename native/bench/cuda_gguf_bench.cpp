// Our engine's side of the llama.cpp comparison on the GPU (bench/gpu/llama/): the same GGUF file, the
// same prompt token ids and the same measurements as bench/gpu/llama/llama_gpu_bench.cpp, through the
// engine's real path (Model::load, PreparedModel, Context, generate / SpeculativeDecoder):
//  * plain greedy: a prompt of N tokens (prompt tok/s, to the first token), then G-1 single-token steps
//    (decode tok/s, ms/token); median of --reps runs after one warm-up run;
//  * speculative greedy with a draft model (--draft, --prompts): chain of --draft-max tokens (llama.cpp's
//    scheme) and our default tree, optionally FR-Spec's top-k head (--vocab FILE.frv --vocab-k K); every
//    output must equal plain greedy token for token (exit status 1 otherwise).
// --compare-tokens FILE reads the other engine's tokens (llama_gpu_bench --tokens-out) and reports the
// length of the common prefix with ours (informative: two engines' rounding may pick different argmaxes).
//
//   cuda_gguf_bench --model M.gguf [--n-prompt 512] [--n-gen 128] [--reps 3] [--backend cuda|cpu]
//                   [--label TEXT] [--json FILE] [--tokens-out FILE] [--compare-tokens FILE]
//   cuda_gguf_bench --model T.gguf --draft D.gguf --prompts FILE [--n-gen 64] [--draft-max 3]
//                   [--vocab FILE.frv --vocab-k 32768] ...
// FILE: one prompt per line, "name TAB space-separated token ids" (bench/gpu/make-prompts.ts).
// --json appends one JSON object (one line) per configuration. Without a GPU it prints SKIP and exits 0.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/prepared_model.h"
#include "speculative/drafters.h"
#include "speculative/ranked_vocab.h"
#include "speculative/speculative.h"
#include "prompts_file.h"

using namespace frspec;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The prompt both engines time on random-weight models: token i is 1000 + (i * 7919) % 100000, as in
// bench/gpu/llama/llama_gpu_bench.cpp.
std::vector<int32_t> synthetic_prompt(int n) {
  std::vector<int32_t> p(n);
  for (int i = 0; i < n; ++i) p[i] = 1000 + int((int64_t(i) * 7919) % 100000);
  return p;
}

std::vector<int32_t> read_tokens(const std::string& path) {
  std::ifstream f(path);
  std::vector<int32_t> t;
  for (int32_t v; f >> v;) t.push_back(v);
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (uint8_t(c) >= 0x20) o += c;
  }
  return o + "\"";
}

struct Options {
  std::string model, draft, prompts, vocab, label, json, tokens_out, compare_tokens, backend = "cuda";
  int n_prompt = 512, n_gen = 128, reps = 3, draft_max = 3, vocab_k = 32768;
};

void emit(const Options& o, const std::string& obj) {
  std::printf("%s\n", obj.c_str());
  if (o.json.empty()) return;
  std::ofstream f(o.json, std::ios::app);
  f << obj << "\n";
}

int run_plain(const Options& o, Backend& backend) {
  const double t0 = now_ms();
  auto model = Model::load(o.model);
  PreparedModel pm(backend, *model);
  backend.sync();
  const double load_ms = now_ms() - t0;
  ContextParams cp;
  cp.n_ctx = o.n_prompt + o.n_gen + 16;
  cp.max_batch = std::min(o.n_prompt, 512);
  cp.max_logit_rows = 1;
  Context ctx(pm, cp);
  GenerateParams gp;
  gp.max_tokens = o.n_gen;  // no stop tokens: always n_gen tokens, as in the llama.cpp driver
  const auto prompt = synthetic_prompt(o.n_prompt);
  const double tw = now_ms();
  generate(ctx, prompt, gp);  // warm-up (graphs, first-use allocations), not counted
  const double warm_ms = now_ms() - tw;
  std::vector<double> p_ms, d_ms;
  std::vector<int32_t> first;
  int differ = 0;
  for (int r = 0; r < o.reps; ++r) {
    ctx.truncate(0);  // no prefix reuse: every run evaluates the whole prompt
    const GenerateResult g = generate(ctx, prompt, gp);
    if (int(g.tokens.size()) != o.n_gen) throw std::runtime_error("generation stopped early");
    p_ms.push_back(g.stats.prompt_ms), d_ms.push_back(g.stats.decode_ms);
    if (r == 0) first = g.tokens;
    differ += g.tokens != first;
  }
  if (!o.tokens_out.empty()) {
    std::ofstream f(o.tokens_out);
    for (int32_t t : first) f << t << " ";
    f << "\n";
  }
  int common = -1;
  if (!o.compare_tokens.empty()) {
    const auto other = read_tokens(o.compare_tokens);
    common = 0;
    while (common < int(std::min(other.size(), first.size())) && other[common] == first[common]) ++common;
  }
  const double pm_ = median(p_ms), dm = median(d_ms);
  const ModelConfig& c = model->config();
  char buf[1280];
  std::snprintf(buf, sizeof buf,
                "{\"engine\": \"frspec\", \"mode\": \"plain\", \"label\": %s, \"model\": %s, \"desc\": \"%s %d layers d %d %s\", "
                "\"model_bytes\": %llu, \"device\": %s, \"n_prompt\": %d, \"n_gen\": %d, \"reps\": %d, \"prompt_ms\": %.3f, "
                "\"prompt_tok_s\": %.1f, \"decode_ms\": %.3f, \"decode_tok_s\": %.2f, \"ms_per_token\": %.4f, "
                "\"load_ms\": %.1f, \"warmup_ms\": %.1f, \"runs_differing_from_first\": %d, \"common_prefix_with_other\": %d}",
                json_str(o.label).c_str(), json_str(o.model).c_str(), arch_name(c.arch), c.n_layers, c.d_model,
                dtype_name(pm.output().type), (unsigned long long)model->weight_bytes(), json_str(backend.name()).c_str(),
                o.n_prompt, o.n_gen, o.reps, pm_, o.n_prompt / (pm_ / 1e3), dm, (o.n_gen - 1) / (dm / 1e3),
                dm / (o.n_gen - 1), load_ms, warm_ms, differ, common);
  emit(o, buf);
  return differ ? 1 : 0;
}

int run_spec(const Options& o, Backend& backend) {
  const auto prompts = read_prompts(o.prompts);
  int max_len = 0;
  for (const auto& p : prompts) max_len = std::max(max_len, int(p.size()));
  auto target = Model::load(o.model);
  auto draft = Model::load(o.draft);
  PreparedModel pt(backend, *target), pd(backend, *draft);
  ContextParams cp;
  cp.n_ctx = max_len + o.n_gen + 64;
  cp.max_batch = 512;
  cp.max_logit_rows = 64;
  Context ctx(pt, cp);
  auto drafter = make_model_drafter(pd, pt, cp.n_ctx);
  SpeculativeDecoder dec(ctx, *drafter);

  GenerateParams gp;
  gp.max_tokens = o.n_gen;
  generate(ctx, prompts[0], gp);  // warm-up
  std::vector<std::vector<int32_t>> plain;
  double plain_ms = 0, plain_prompt_ms = 0;
  int tokens = 0;
  for (const auto& p : prompts) {
    ctx.truncate(0);
    const GenerateResult g = generate(ctx, p, gp);
    plain.push_back(g.tokens);
    plain_ms += g.stats.prompt_ms + g.stats.decode_ms, plain_prompt_ms += g.stats.prompt_ms;
    tokens += int(g.tokens.size());
  }
  const double plain_dec = tokens / ((plain_ms - plain_prompt_ms) / 1e3);

  struct Config { std::string name; bool tree; int k; };
  std::vector<Config> configs = {{"chain " + std::to_string(o.draft_max), false, 0}, {"tree (default shape)", true, 0}};
  RankedVocab vocab;
  if (!o.vocab.empty()) {
    vocab = read_ranked_vocab(o.vocab);
    configs.push_back({"FR-Spec " + std::to_string(o.vocab_k) + ", chain " + std::to_string(o.draft_max), false, o.vocab_k});
    configs.push_back({"FR-Spec " + std::to_string(o.vocab_k) + ", tree", true, o.vocab_k});
  }
  int bad = 0;
  for (const Config& c : configs) {
    if (c.k) drafter->head().restrict_to(vocab.top(c.k));
    else drafter->head().restrict_to({});
    SpecParams sp;
    sp.max_tokens = o.n_gen;
    sp.shape.tree = c.tree;
    sp.shape.chain = o.draft_max;
    dec.generate(prompts[0], sp);  // warm-up of this shape
    double ms = 0, prompt_ms = 0;
    int n = 0, mismatches = 0, steps = 0, emitted = 0, drafted = 0, accepted = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
      ctx.truncate(0);
      const SpecResult r = dec.generate(prompts[i], sp);
      ms += r.stats.total_ms, prompt_ms += r.stats.prompt_ms;
      n += int(r.tokens.size());
      mismatches += r.tokens != plain[i];
      steps += r.stats.steps, emitted += r.stats.emitted, drafted += r.stats.drafted, accepted += r.stats.accepted;
    }
    bad += mismatches;
    const double dec_tok_s = n / ((ms - prompt_ms) / 1e3);
    char buf[1280];
    std::snprintf(buf, sizeof buf,
                  "{\"engine\": \"frspec\", \"mode\": \"speculative\", \"label\": %s, \"config\": %s, \"model\": %s, "
                  "\"draft\": %s, \"device\": %s, \"prompts\": %zu, \"n_gen\": %d, \"draft_max\": %d, \"tokens\": %d, "
                  "\"plain_tok_s\": %.1f, \"plain_decode_tok_s\": %.1f, \"spec_tok_s\": %.1f, \"spec_decode_tok_s\": %.1f, "
                  "\"decode_speedup_vs_plain\": %.3f, \"tau\": %.3f, \"acceptance\": %.3f, \"outputs_differing_from_plain\": %d}",
                  json_str(o.label).c_str(), json_str(c.name).c_str(), json_str(o.model).c_str(),
                  json_str(o.draft).c_str(), json_str(backend.name()).c_str(), prompts.size(), o.n_gen, o.draft_max, n,
                  tokens / (plain_ms / 1e3), plain_dec, n / (ms / 1e3), dec_tok_s, dec_tok_s / plain_dec,
                  steps ? double(emitted) / steps : 0.0, drafted ? double(accepted) / drafted : 0.0, mismatches);
    emit(o, buf);
  }
  return bad ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--model") o.model = v;
    else if (a == "--draft") o.draft = v;
    else if (a == "--prompts") o.prompts = v;
    else if (a == "--vocab") o.vocab = v;
    else if (a == "--vocab-k") o.vocab_k = std::stoi(v);
    else if (a == "--label") o.label = v;
    else if (a == "--json") o.json = v;
    else if (a == "--tokens-out") o.tokens_out = v;
    else if (a == "--compare-tokens") o.compare_tokens = v;
    else if (a == "--backend") o.backend = v;
    else if (a == "--n-prompt") o.n_prompt = std::stoi(v);
    else if (a == "--n-gen") o.n_gen = std::stoi(v);
    else if (a == "--reps") o.reps = std::stoi(v);
    else if (a == "--draft-max") o.draft_max = std::stoi(v);
    else return std::fprintf(stderr, "unknown option %s\n", a.c_str()), 2;
  }
  if (o.model.empty() || (!o.draft.empty() && o.prompts.empty()) || o.n_prompt < 1 || o.n_gen < 2 || o.reps < 1 ||
      o.draft_max < 1) {
    std::fprintf(stderr,
                 "usage: cuda_gguf_bench --model M.gguf [--n-prompt 512] [--n-gen 128] [--reps 3] [--backend cuda|cpu]\n"
                 "         [--label TEXT] [--json FILE] [--tokens-out FILE] [--compare-tokens FILE]\n"
                 "       cuda_gguf_bench --model T.gguf --draft D.gguf --prompts FILE [--n-gen 64] [--draft-max 3]\n"
                 "         [--vocab FILE.frv --vocab-k 32768] ...\n");
    return 2;
  }
  try {
    std::string why = "not built with CUDA";
    std::unique_ptr<Backend> backend = o.backend == "cpu" ? make_cpu_backend(0) : make_cuda_backend(0, &why);
    if (!backend) return std::printf("SKIP: no CUDA backend: %s\n", why.c_str()), 0;
    return o.draft.empty() ? run_plain(o, *backend) : run_spec(o, *backend);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
