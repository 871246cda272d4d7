// "Nothing is allocated per token": engine_alloc_test MODEL.gguf counts every operator new during decode
// steps (after the prompt, once buffers exist) and fails if there is any: single-token evals with greedy
// and sampled choices, a tree-shaped batch with keep(), and rollbacks.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "check.h"
#include "engine/context.h"
#include "engine/model.h"
#include "engine/prepared_model.h"
#include "engine/sampler.h"

// The replacement operators pair malloc with free on purpose (GCC cannot see that they match).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

static std::atomic<long> g_allocations{0};

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace frspec;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: engine_alloc_test MODEL.gguf\n");
    return 2;
  }
  try {
    auto model = Model::load(argv[1]);
    auto backend = make_cpu_backend(2);
    PreparedModel prepared(*backend, *model);
    ContextParams cp;
    cp.n_ctx = 128;
    cp.max_batch = 32;
    cp.max_logit_rows = 8;
    Context ctx(prepared, cp);
    std::vector<int32_t> prompt(20);
    for (int i = 0; i < 20; ++i) prompt[i] = (i * 37) % model->config().n_vocab;
    EvalRequest req;
    req.tokens = prompt;
    EvalResult r = ctx.eval(req);
    SamplerParams sp;
    sp.temperature = 0.8f;
    sp.top_k = 20;
    sp.top_p = 0.9f;
    Sampler sampler(sp, r.vocab);
    std::vector<float> host(r.vocab);
    int32_t tok = 1;
    EvalRequest greedy_warmup;  // the first greedy step builds the LM head's argmax filter (once)
    greedy_warmup.tokens = std::span<const int32_t>(&tok, 1);
    greedy_warmup.argmax_only = true;
    r = ctx.eval(greedy_warmup);
    ctx.truncate(ctx.n_past() - 1);
    EvalRequest with_logits;
    with_logits.tokens = std::span<const int32_t>(&tok, 1);
    r = ctx.eval(with_logits);
    const std::vector<uint8_t> mask = {1, 0, 0, 1, 1, 0, 1, 0, 1};  // a root with two children... as a tree
    const std::vector<int32_t> tree_pos = {0, 1, 1};
    std::vector<int32_t> tree_tokens = {3, 4, 5}, pos(3), keep = {0, 0};

    const long before = g_allocations.load();
    for (int step = 0; step < 24; ++step) {
      if (r.argmax) {
        tok = r.argmax[0];
      } else if (step % 3 == 1) {
        backend->argmax(r.logits, 1, r.vocab, &tok);
      } else {
        backend->to_host(host.data(), r.logits, r.vocab);
        tok = sampler.sample(host.data());
      }
      EvalRequest one;
      one.tokens = std::span<const int32_t>(&tok, 1);
      one.argmax_only = step % 3 == 2;  // greedy steps through the LM head's argmax filter
      r = ctx.eval(one);
      if (step % 8 == 7) {  // a tree after the committed tokens, keep one path, roll back a little
        const int base = ctx.n_past();
        for (int i = 0; i < 3; ++i) pos[i] = base + tree_pos[i];
        EvalRequest t;
        t.tokens = tree_tokens;
        t.positions = pos.data();
        t.mask = mask.data();
        t.logits = LogitRows::All;
        r = ctx.eval(t);
        keep[0] = base;
        keep[1] = base + 2;
        ctx.keep(base, keep);
        ctx.truncate(ctx.n_past() - 1);
        r = ctx.eval(one);
      }
    }
    const long during = g_allocations.load() - before;
    CHECK(during == 0, "%ld allocations during 24 decode steps", during);
  } catch (const std::exception& e) {
    CHECK(false, "engine_alloc_test: %s", e.what());
  }
  return check_result("no allocation in 24 decode steps, trees and rollbacks");
}
