// engine_greedy_tokens MODEL.gguf [TOKENS]: the plain greedy completion of a few fixed code prompts as token
// ids, one line per prompt on stdout (the backend and its CPU kernel variant on stderr). Two builds agree
// when their outputs are the same bytes: scripts/ci-arm64.sh diffs the x86-64 build's output against the
// arm64 build's under qemu (CPUs with and without dotprod/i8mm), so every arm64 kernel variant must decode
// the demo models token for token as x86 does. Greedy through generate() (argmax_only: the LM head's
// argmax filter where the variant has one), the prompt in chunks of 16 (batched matmuls) then one token
// per step.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/prepared_model.h"
#include "tokenizer/tokenizer.h"

using namespace frspec;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: engine_greedy_tokens MODEL.gguf [TOKENS (default 32)]\n");
    return 2;
  }
  try {
    const int n_tokens = argc > 2 ? std::atoi(argv[2]) : 32;
    auto model = Model::load(argv[1]);
    auto tok = Tokenizer::from_gguf(model->gguf());
    auto backend = make_cpu_backend(2);
    std::fprintf(stderr, "backend: %s\n", backend->name().c_str());
    PreparedModel prepared(*backend, *model);
    ContextParams cp;
    cp.n_ctx = 512;
    cp.max_batch = 64;
    cp.max_logit_rows = 8;
    const char* prompts[] = {
        "def fibonacci(n):\n    if n < 2:\n        return n\n",
        "#include <stdio.h>\n\nint main(int argc, char** argv) {\n    for (int i = 0; i < argc; i++) {\n",
        "function debounce(fn, ms) {\n  let timer;\n  return (...args) => {\n",
        "import numpy as np\n\ndef softmax(x):\n    e = np.exp(x - x.max())\n",
    };
    for (const char* text : prompts) {
      Context ctx(prepared, cp);  // a fresh cache per prompt: each line stands alone
      const std::vector<int32_t> prompt = tok->encode(text);
      GenerateParams gp;
      gp.max_tokens = n_tokens;
      gp.prefill_chunk = 16;  // several chunks: the batched (GEMM) path and the single-token path both run
      const GenerateResult r = generate(ctx, prompt, gp);
      std::printf("%zu prompt tokens ->", prompt.size());
      for (int32_t id : r.tokens) std::printf(" %d", id);
      std::printf("\n");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine_greedy_tokens: %s\n", e.what());
    return 1;
  }
}
