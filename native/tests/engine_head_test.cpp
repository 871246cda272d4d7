// FR-Spec's restricted LM head through the forward pass: engine_head_test MODEL.gguf evaluates a prompt
// with the model's full head and with a k-row head gathered by the backend (Backend::gather_rows), and
// checks that row i of the restricted logits is bit-for-bit column ids[i] of the full logits, for the
// last row, all rows and a list of rows. Reports through check.h; exits non-zero on a mismatch.
#include <cstdio>
#include <cstring>
#include <vector>

#include "check.h"
#include "engine/context.h"
#include "engine/model.h"
#include "engine/prepared_model.h"

using namespace frspec;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: engine_head_test MODEL.gguf\n");
    return 2;
  }
  try {
    auto model = Model::load(argv[1]);
    auto backend = make_cpu_backend(2);
    PreparedModel prepared(*backend, *model);
    const int vocab = prepared.n_vocab();
    std::vector<int32_t> ids;
    for (int i = vocab - 1; i >= 0; i -= 3) ids.push_back(i);  // any order, any subset
    Weight head = backend->gather_rows(prepared.output(), ids.data(), int(ids.size()));

    std::vector<int32_t> prompt(12);
    for (int i = 0; i < 12; ++i) prompt[i] = (i * 53 + 7) % vocab;
    const std::vector<int32_t> list = {2, 5, 11};
    int differ = 0;
    for (LogitRows mode : {LogitRows::Last, LogitRows::All, LogitRows::List}) {
      ContextParams cp;
      cp.n_ctx = 32;
      Context full_ctx(prepared, cp), small_ctx(prepared, cp);
      EvalRequest req;
      req.tokens = prompt;
      req.logits = mode;
      req.rows = list;
      EvalResult full = full_ctx.eval(req);
      std::vector<float> f(size_t(full.n_rows) * full.vocab);
      backend->to_host(f.data(), full.logits, f.size());
      req.lm_head = &head;
      EvalResult small = small_ctx.eval(req);
      std::vector<float> s(size_t(small.n_rows) * small.vocab);
      backend->to_host(s.data(), small.logits, s.size());
      CHECK(small.vocab == int(ids.size()) && small.n_rows == full.n_rows, "restricted logits have shape %d x %d", small.n_rows, small.vocab);
      if (failures) break;
      for (int r = 0; r < full.n_rows; ++r)
        for (size_t i = 0; i < ids.size(); ++i)
          if (std::memcmp(&s[r * ids.size() + i], &f[size_t(r) * vocab + ids[i]], sizeof(float)) != 0) ++differ;
    }
    backend->release(head);
    CHECK(differ == 0, "%d restricted logits differ from the full head's", differ);
    if (!failures) std::printf("restricted LM head (%zu of %d rows) matches the full head bit for bit\n", ids.size(), vocab);
  } catch (const std::exception& e) {
    CHECK(false, "engine_head_test: %s", e.what());
  }
  return check_result("engine_head_test: all checks passed");
}
