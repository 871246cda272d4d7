// gguf_dump FILE: prints the header, metadata (arrays abbreviated) and tensor directory of a GGUF file,
// or the validation error. A debugging tool and the smallest end-to-end check of the reader.
#include <cstdio>
#include "gguf/gguf.h"

int main(int argc, char** argv) {
  if (argc != 2) { std::fprintf(stderr, "usage: gguf_dump FILE.gguf\n"); return 2; }
  try {
    auto f = frspec::GgufFile::open(argv[1]);
    std::printf("GGUF v%u, %zu metadata keys, %zu tensors, alignment %llu, data at %llu\n", f->version(),
                f->metadata().size(), f->tensors().size(), (unsigned long long)f->alignment(),
                (unsigned long long)f->data_offset());
    for (auto& [k, v] : f->metadata()) {
      std::printf("  %-48s %s", k.c_str(), frspec::gguf_type_name(v.type));
      if (v.type == frspec::GgufType::STRING) std::printf(" = %.*s", int(v.str.size() > 80 ? 80 : v.str.size()), v.str.data());
      else if (v.type == frspec::GgufType::ARRAY) std::printf(" of %s [%llu]", frspec::gguf_type_name(v.elem_type), (unsigned long long)v.count);
      else if (v.type == frspec::GgufType::F32 || v.type == frspec::GgufType::F64) std::printf(" = %g", v.f);
      else std::printf(" = %lld", (long long)(v.type == frspec::GgufType::U64 ? (long long)v.u : (long long)v.i + (long long)(v.type==frspec::GgufType::BOOL? v.u:0)));
      std::printf("\n");
    }
    for (auto& t : f->tensors()) {
      std::printf("  %-32s %-5s [", t.name.c_str(), frspec::ggml_type_traits(uint32_t(t.type))->name);
      for (size_t i = 0; i < t.shape.size(); ++i) std::printf(i ? ", %llu" : "%llu", (unsigned long long)t.shape[i]);
      std::printf("] %llu bytes at %llu\n", (unsigned long long)t.n_bytes, (unsigned long long)t.offset);
    }
  } catch (const frspec::GgufError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
