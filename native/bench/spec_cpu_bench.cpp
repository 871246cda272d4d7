// Where a speculative step's time goes on one backend, for tuning: our plain greedy decoding and the
// given speculative configurations, prompt by prompt in turn (so machine load hits all of them alike),
// with per-step draft / target layers / LM head + bookkeeping times, tau, and a token-for-token check
// against plain greedy. The full benchmark with llama.cpp and the Markdown table is `frspec bench spec`.
//
//   spec_cpu_bench --models DIR --prompts FILE --vocab FILE.frv [--tokens 64] [--threads 2] [--backend cpu|cuda]
//                  [--config draft/chain4/8192] [--config eagle/tree4,4,4,12/0] ...
// DIR holds demo-target.gguf, demo-draft.gguf, demo-eagle.gguf; FILE has one prompt per line (name TAB
// space-separated token ids; bench/gpu/make-prompts.ts writes it). A config is drafter (draft|eagle) /
// shape (chainN | treeDEPTH,BRANCH,BEAM,NODES) / FR-Spec k (0: the full vocabulary) [/lookupN or lookupNxL:
// context lookup first, n-grams of N or more tokens, at most L tokens (default 4)].
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
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
#include "tokenizer/tokenizer.h"
#include "demo_spec.h"
#include "prompts_file.h"

using namespace frspec;

namespace {

struct Config {
  std::string name;
  bool eagle = false;
  DraftShape shape;
  int k = 0;
};

Config parse_config(const std::string& s) {
  Config c;
  c.name = s;
  const size_t a = s.find('/'), b = s.find('/', a + 1);
  if (a == std::string::npos || b == std::string::npos) throw std::invalid_argument("config '" + s + "': want drafter/shape/k");
  const std::string drafter = s.substr(0, a), shape = s.substr(a + 1, b - a - 1);
  if (drafter != "draft" && drafter != "eagle") throw std::invalid_argument("config '" + s + "': drafter is draft or eagle");
  c.eagle = drafter == "eagle";
  if (shape.rfind("chain", 0) == 0) {
    c.shape.tree = false;
    c.shape.chain = std::stoi(shape.substr(5));
  } else if (shape.rfind("tree", 0) == 0) {
    c.shape.tree = true;
    if (std::sscanf(shape.c_str() + 4, "%d,%d,%d,%d", &c.shape.depth, &c.shape.topk, &c.shape.beam, &c.shape.budget) != 4)
      throw std::invalid_argument("config '" + s + "': tree shape is treeDEPTH,BRANCH,BEAM,NODES");
  } else {
    throw std::invalid_argument("config '" + s + "': shape is chainN or treeD,B,BEAM,N");
  }
  const size_t e = s.find('/', b + 1);
  c.k = std::stoi(s.substr(b + 1, e == std::string::npos ? std::string::npos : e - b - 1));
  if (e != std::string::npos) {  // /lookupN[xL]: context lookup from n-grams of N tokens, at most L tokens
    if (std::sscanf(s.c_str() + e + 1, "lookup%dx%d", &c.shape.lookup, &c.shape.lookup_tokens) < 1)
      throw std::invalid_argument("config '" + s + "': the fourth field is lookupN or lookupNxL");
  }
  return c;
}

struct Row {
  std::string name;
  int tokens = 0, steps = 0, emitted = 0, rows = 0, mismatches = 0, lookup_steps = 0;
  double decode_ms = 0, draft_ms = 0, verify_ms = 0, layers_ms = 0, cpu_ms = 0;
  double tok_s() const { return tokens * 1e3 / decode_ms; }
  double per_step(double v) const { return steps ? v / steps : 0; }
};

double cpu_now_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, prompts_path, vocab_path, backend_name = "cpu";
  int n_tokens = 64, threads = 2;
  std::vector<Config> configs;
  try {
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string a = argv[i], v = argv[i + 1];
      if (a == "--models") dir = v;
      else if (a == "--prompts") prompts_path = v;
      else if (a == "--vocab") vocab_path = v;
      else if (a == "--tokens") n_tokens = std::stoi(v);
      else if (a == "--threads") threads = std::stoi(v);
      else if (a == "--backend") backend_name = v;
      else if (a == "--config") configs.push_back(parse_config(v));
      else throw std::invalid_argument("unknown option " + a);
    }
    if (dir.empty() || prompts_path.empty() || vocab_path.empty()) {
      std::fprintf(stderr, "usage: spec_cpu_bench --models DIR --prompts FILE --vocab FILE.frv [--tokens 64] [--threads 2]"
                           " [--backend cpu|cuda] [--config drafter/shape/k[/lookupN[xL]] ...]\n");
      return 2;
    }
    if (configs.empty()) configs.push_back(parse_config("draft/chain4/8192"));
    std::string why;
    std::unique_ptr<Backend> backend = backend_name == "cuda" ? make_cuda_backend(0, &why) : make_cpu_backend(threads);
    if (!backend) return std::printf("SKIP: no CUDA backend: %s\n", why.c_str()), 0;
    const auto prompts = read_prompts(prompts_path);
    DemoSpec demo(*backend, dir, vocab_path);
    std::printf("backend %s, %zu prompts x %d tokens\n", backend->name().c_str(), prompts.size(), n_tokens);

    GenerateParams gp;
    gp.max_tokens = n_tokens;
    Row plain{"plain greedy"};
    std::vector<Row> rows(configs.size());
    for (size_t c = 0; c < configs.size(); ++c) rows[c].name = configs[c].name;
    int head_k[2] = {-1, -1};  // the k each drafter's head is restricted to now (gathering is not free)
    auto run_spec = [&](const Config& c, std::span<const int32_t> prompt, int max_tokens) {
      Drafter& d = c.eagle ? *demo.eagle_drafter : *demo.model_drafter;
      if (head_k[c.eagle] != c.k) {
        if (c.k == 0) d.head().restrict_to({});
        else d.head().restrict_to(demo.vocab.top(c.k));
        head_k[c.eagle] = c.k;
      }
      SpecParams sp;
      sp.max_tokens = max_tokens;
      sp.shape = c.shape;
      return (c.eagle ? demo.dec_eagle : demo.dec_model).generate(prompt, sp);
    };
    for (const Config& c : configs) run_spec(c, prompts[0], 4);  // warm-up: page in, gather heads
    for (const auto& prompt : prompts) {
      double cpu0 = cpu_now_ms();
      const GenerateResult g = generate(demo.ctx, prompt, gp);
      plain.cpu_ms += cpu_now_ms() - cpu0;
      plain.tokens += int(g.tokens.size()) - 1;
      plain.decode_ms += g.stats.decode_ms;
      plain.steps += g.stats.n_decode_steps;
      for (size_t c = 0; c < configs.size(); ++c) {
        cpu0 = cpu_now_ms();
        const SpecResult o = run_spec(configs[c], prompt, n_tokens);
        Row& r = rows[c];
        r.cpu_ms += cpu_now_ms() - cpu0;
        r.tokens += int(o.tokens.size()) - 1;
        r.decode_ms += o.stats.total_ms - o.stats.prompt_ms;
        r.steps += o.stats.steps;
        r.emitted += o.stats.emitted;
        r.rows += o.stats.verify_rows;
        r.lookup_steps += o.stats.lookup_steps;
        r.draft_ms += o.stats.draft_ms;
        r.verify_ms += o.stats.verify_ms;
        r.layers_ms += o.stats.verify_eval_ms;
        r.mismatches += o.tokens != g.tokens;
      }
    }
    std::printf("%-28s %7.1f tok/s  %.3f ms/token  (process CPU %.1f ms)\n", plain.name.c_str(), plain.tok_s(),
                plain.decode_ms / plain.tokens, plain.cpu_ms);
    int bad = 0;
    for (const Row& r : rows) {
      bad += r.mismatches;
      std::printf("%-28s %7.1f tok/s  %.2fx plain  tau %.2f  per step: draft %.3f, layers %.3f, head+rest %.3f ms,"
                  " %.1f head rows, %.0f%% from lookup  (process CPU %.1f ms)  outputs != plain: %d\n",
                  r.name.c_str(), r.tok_s(), r.tok_s() / plain.tok_s(), double(r.emitted) / r.steps, r.per_step(r.draft_ms),
                  r.per_step(r.layers_ms), r.per_step(r.verify_ms - r.layers_ms), r.per_step(r.rows),
                  100.0 * r.lookup_steps / std::max(1, r.steps), r.cpu_ms, r.mismatches);
    }
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
