// Speculative decoding of the demo models on one backend, side by side with plain greedy decoding in the
// same run: plain vs full-vocabulary speculation vs FR-Spec (32k / 16k ids of a .frv), for both drafters
// (the demo draft model and the EAGLE head), chain and tree. Every speculative output must be token for
// token the backend's plain greedy output, and that must equal the CPU backend's plain greedy output.
//
//   cuda_spec_bench --models DIR --prompts FILE --vocab FILE.frv [--tokens N] [--backend cuda|cpu] [--json FILE]
// DIR holds demo-target.gguf, demo-draft.gguf, demo-eagle.gguf; FILE has one prompt per line
// (name TAB space-separated token ids; bench/gpu/make-prompts.ts writes it).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#ifdef FRSPEC_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif
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

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) o += c;
  }
  return o;
}

struct Row {
  std::string name;
  double tok_s = 0, decode_tok_s = 0, tau = 0, draft_ms = 0, verify_ms = 0, total_ms = 0, prompt_ms = 0;
  int tokens = 0, mismatches = 0, steps = 0;  // steps: verify passes (plain: decoded tokens)
  uint64_t waits = 0;  // host waits for the GPU over the whole row (prompts included)
  uint64_t graphs = 0, graph_updates = 0, graph_instantiations = 0;  // CUDA-graph steps
  std::string error;   // what a configuration threw (the run then fails; later rows still run)
  double per_step(double v) const { return steps ? v / steps : 0; }
};

}  // namespace

int main(int argc, char** argv) {
  std::string dir, prompts_path, vocab_path, json_path, backend_name = "cuda";
  int n_tokens = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--models") dir = v;
    else if (a == "--prompts") prompts_path = v;
    else if (a == "--vocab") vocab_path = v;
    else if (a == "--tokens") n_tokens = std::stoi(v);
    else if (a == "--backend") backend_name = v;
    else if (a == "--json") json_path = v;
  }
  if (dir.empty() || prompts_path.empty() || vocab_path.empty()) {
    std::fprintf(stderr, "usage: cuda_spec_bench --models DIR --prompts FILE --vocab FILE.frv [--tokens N] [--backend cuda|cpu] [--json FILE]\n");
    return 2;
  }
  try {
    std::string why;
    std::unique_ptr<Backend> backend = backend_name == "cuda" ? make_cuda_backend(0, &why) : make_cpu_backend(0);
    if (!backend) return std::printf("SKIP: no CUDA backend: %s\n", why.c_str()), 0;
#ifdef FRSPEC_HAVE_CUDA
    cuda::CudaBackendExtras* gpu = cuda::extras(backend.get());  // null on the CPU: no wait count
    auto waits = [&]() -> uint64_t { return gpu ? gpu->host_waits() : 0; };
    // Adds the CUDA-graph counters since `before` (taken by the same call with before == null) to r.
    auto graph_counts = [&](Row& r, const Row* before) {
      if (!gpu) return;
      const auto g = gpu->graph_counts();
      r.graphs = g.launches - (before ? before->graphs : 0);
      r.graph_updates = g.updates - (before ? before->graph_updates : 0);
      r.graph_instantiations = g.instantiations - (before ? before->graph_instantiations : 0);
    };
#else
    auto waits = []() -> uint64_t { return 0; };
    auto graph_counts = [](Row&, const Row*) {};
#endif
    auto cpu = make_cpu_backend(0);
    const auto prompts = read_prompts(prompts_path);
    DemoSpec demo(*backend, dir, vocab_path);
    std::printf("backend %s, %zu prompts, %d tokens each\n", backend->name().c_str(), prompts.size(), n_tokens);

    // Plain greedy on this backend and on the CPU (the exactness reference).
    GenerateParams gp;
    gp.max_tokens = n_tokens;
    std::vector<std::vector<int32_t>> plain, plain_cpu;
    Row base;
    base.name = "plain greedy";
    {
      PreparedModel pc(*cpu, *demo.target);
      Context cc(pc, DemoSpec::context_params());
      for (const auto& p : prompts) plain_cpu.push_back(generate(cc, p, gp).tokens);
    }
    const uint64_t plain_waits0 = waits();
    for (size_t i = 0; i < prompts.size(); ++i) {
      const GenerateResult r = generate(demo.ctx, prompts[i], gp);
      plain.push_back(r.tokens);
      base.tokens += int(r.tokens.size());
      base.total_ms += r.stats.decode_ms + r.stats.prompt_ms;
      base.prompt_ms += r.stats.prompt_ms;
      base.verify_ms += r.stats.decode_ms;
      base.mismatches += r.tokens != plain_cpu[i];
      base.steps += int(r.tokens.size());
    }
    base.waits = waits() - plain_waits0;
    base.tok_s = base.tokens / (base.total_ms / 1e3);
    base.decode_tok_s = base.tokens / ((base.total_ms - base.prompt_ms) / 1e3);
    base.tau = 1;
    std::vector<Row> rows{base};
    std::printf("%-34s %7.1f tok/s after the prompt (%.1f with it), %.3f ms and %.2f host waits per token"
                "  outputs != CPU plain greedy: %d\n", base.name.c_str(), base.decode_tok_s, base.tok_s,
                base.per_step(base.verify_ms), base.per_step(double(base.waits)), base.mismatches);

    // One configuration over every prompt: speed, tau, per-step costs, host waits, exactness.
    auto run_config = [&](Drafter& d, SpeculativeDecoder& dec, const std::string& name, const SpecParams& sp) {
      Row r;
      r.name = name;
      int steps = 0, emitted = 0;
      const uint64_t waits0 = waits();
      Row g0;
      graph_counts(g0, nullptr);
      for (size_t i = 0; i < prompts.size(); ++i) {
        try {
          const SpecResult o = dec.generate(prompts[i], sp);
          r.tokens += int(o.tokens.size());
          r.total_ms += o.stats.total_ms;
          r.prompt_ms += o.stats.prompt_ms;
          r.draft_ms += o.stats.draft_ms;
          r.verify_ms += o.stats.verify_ms;
          steps += o.stats.steps;
          emitted += o.stats.emitted;
          r.mismatches += o.tokens != plain[i];
        } catch (const std::exception& e) {  // a failed configuration is reported, the others still run
          r.error = e.what();
          demo.ctx.truncate(0);  // the failed step's bookkeeping is not trusted
          d.context().truncate(0);
          std::printf("%s: error: %s\n", name.c_str(), e.what());
          break;
        }
      }
      graph_counts(r, &g0);
      r.tok_s = r.tokens / (r.total_ms / 1e3);
      r.decode_tok_s = r.tokens / ((r.total_ms - r.prompt_ms) / 1e3);
      r.tau = steps ? double(emitted) / steps : 0;
      r.steps = steps;
      r.waits = waits() - waits0;
      rows.push_back(r);
      std::printf("%-44s %7.1f tok/s after the prompt (%.2fx plain)  tau %.2f  per step: draft %.3f ms, verify %.3f ms,"
                  " %.2f host waits  outputs != plain: %d\n", r.name.c_str(), r.decode_tok_s, r.decode_tok_s / base.decode_tok_s,
                  r.tau, r.per_step(r.draft_ms), r.per_step(r.verify_ms), r.per_step(double(r.waits)), r.mismatches);
      if (r.graphs)
        std::printf("%-44s CUDA graphs: %llu launched, %llu updated in place, %llu instantiated\n", "",
                    (unsigned long long)r.graphs, (unsigned long long)r.graph_updates, (unsigned long long)r.graph_instantiations);
    };

    struct Head { const char* name; int k; };
    const Head heads[] = {{"full vocab", 0}, {"FR-Spec 32k", 32768}, {"FR-Spec 16k", 16384}};
    for (int which = 0; which < 2; ++which) {
      Drafter& d = which == 0 ? *demo.model_drafter : *demo.eagle_drafter;
      SpeculativeDecoder& dec = which == 0 ? demo.dec_model : demo.dec_eagle;
      const std::string who = which == 0 ? "draft model" : "EAGLE";
      for (const Head& h : heads) {
        if (h.k == 0) d.head().restrict_to({});
        else d.head().restrict_to(demo.vocab.top(h.k));
        for (bool tree : {false, true}) {
          SpecParams sp;
          sp.max_tokens = n_tokens;
          sp.shape.tree = tree;
          run_config(d, dec, who + ", " + h.name + (tree ? ", tree" : ", chain"), sp);
        }
      }
      // FR-Spec 32k chains: other lengths, and the chain without the queued step (a wait for the drafted
      // ids and one for the verify argmaxes) for an A/B of the single wait.
      d.head().restrict_to(demo.vocab.top(32768));
      for (int len : {2, 3, 6}) {
        SpecParams sp;
        sp.max_tokens = n_tokens;
        sp.shape.chain = len;
        run_config(d, dec, who + ", FR-Spec 32k, chain " + std::to_string(len), sp);
      }
      SpecParams sp;
      sp.max_tokens = n_tokens;
      sp.queued_chain = 0;
      run_config(d, dec, who + ", FR-Spec 32k, chain, not queued", sp);
    }
    // Last (a GPU fault there could not spoil the rows above): the queued step as one CUDA graph per step
    // (recorded, updated in place, launched).
    for (int which = 0; which < 2; ++which) {
      Drafter& d = which == 0 ? *demo.model_drafter : *demo.eagle_drafter;
      d.head().restrict_to(demo.vocab.top(32768));
      for (int len : {3, 4}) {
        SpecParams g;
        g.max_tokens = n_tokens;
        g.shape.chain = len;
        g.graph_steps = true;
        run_config(d, which == 0 ? demo.dec_model : demo.dec_eagle,
                   std::string(which == 0 ? "draft model" : "EAGLE") + ", FR-Spec 32k, chain " + std::to_string(len) +
                       ", CUDA graph steps", g);
      }
    }
    int bad = 0, errors = 0;
    for (const Row& r : rows) bad += r.mismatches, errors += !r.error.empty();
    if (!json_path.empty()) {
      std::ofstream f(json_path);
      f << "{\"backend\": \"" << backend->name() << "\", \"prompts\": " << prompts.size() << ", \"tokens\": " << n_tokens
        << ", \"mismatches\": " << bad << ", \"errors\": " << errors << ", \"rows\": [\n";
      for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        f << "  {\"name\": \"" << r.name << "\", \"tok_s\": " << r.tok_s << ", \"decode_tok_s\": " << r.decode_tok_s
          << ", \"tau\": " << r.tau << ", \"tokens\": " << r.tokens
          << ", \"total_ms\": " << r.total_ms << ", \"draft_ms\": " << r.draft_ms << ", \"verify_ms\": " << r.verify_ms
          << ", \"prompt_ms\": " << r.prompt_ms << ", \"decode_speedup_vs_plain\": " << r.decode_tok_s / base.decode_tok_s
          << ", \"steps\": " << r.steps << ", \"draft_ms_per_step\": " << r.per_step(r.draft_ms)
          << ", \"verify_ms_per_step\": " << r.per_step(r.verify_ms) << ", \"host_waits\": " << r.waits
          << ", \"host_waits_per_step\": " << r.per_step(double(r.waits)) << ", \"graph_launches\": " << r.graphs
          << ", \"graph_updates\": " << r.graph_updates << ", \"graph_instantiations\": " << r.graph_instantiations
          << ", \"error\": \"" << json_escape(r.error) << "\", \"mismatches\": " << r.mismatches << "}"
          << (i + 1 < rows.size() ? ",\n" : "\n");
      }
      f << "]}\n";
    }
    std::printf("%d outputs differ from plain greedy, %d configurations failed\n", bad, errors);
    return bad || errors ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
