// tokenizer_vectors MODEL.gguf VECTORS.inp VECTORS.out: checks our token ids against llama.cpp's tokenizer
// test vectors (strings separated by "\n__ggml_vocab_test__\n"; one line of expected ids per string).
// Prints each mismatch and a summary (check.h); exit 0 only when every vector matches.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "check.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

static std::string read_file(const char* path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(std::string("cannot read ") + path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: tokenizer_vectors MODEL.gguf VECTORS.inp VECTORS.out\n");
    return 2;
  }
  try {
    auto file = frspec::GgufFile::open(argv[1]);
    auto tok = frspec::Tokenizer::from_gguf(*file);
    const std::string inp = read_file(argv[2]), outp = read_file(argv[3]);
    std::vector<std::string> texts;
    const std::string sep = "\n__ggml_vocab_test__\n";
    for (size_t pos = 0; pos < inp.size();) {  // as llama.cpp's test-tokenizer-0 splits it
      const size_t next = inp.find(sep, pos);
      if (next == std::string::npos) {
        texts.push_back(inp.substr(pos));
        break;
      }
      texts.push_back(inp.substr(pos, next - pos));
      pos = next + sep.size();
    }
    std::vector<std::vector<int32_t>> expected;
    std::istringstream lines(outp);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream ids(line);
      expected.emplace_back();
      for (int32_t id; ids >> id;) expected.back().push_back(id);
    }
    CHECK(texts.size() == expected.size(), "%zu strings but %zu lines of ids", texts.size(), expected.size());
    if (failures) return check_result("");
    size_t bad = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::vector<int32_t> got = tok->encode(texts[i]);
      const bool roundtrip = tok->decode(got) == texts[i];
      if (got == expected[i] && roundtrip) continue;
      ++bad;
      std::printf("MISMATCH #%zu %s\n  text:    '%s'\n  expect: ", i, roundtrip ? "" : "(decode differs)", texts[i].c_str());
      for (int32_t id : expected[i]) std::printf(" %d", id);
      std::printf("\n  got:    ");
      for (int32_t id : got) std::printf(" %d", id);
      std::printf("\n");
    }
    std::printf("%s: %zu/%zu vectors match (pre-tokenizer %s)\n", argv[2], texts.size() - bad, texts.size(), tok->pre().c_str());
    CHECK(bad == 0, "%zu vectors differ", bad);
  } catch (const std::exception& e) {
    CHECK(false, "error: %s", e.what());
  }
  return check_result("tokenizer_vectors: all checks passed");
}
