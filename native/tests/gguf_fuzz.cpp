// gguf_fuzz: a seeded mutation fuzzer for the GGUF reader (no libFuzzer needed; g++ has none).
//
//   gguf_fuzz [--seconds S] [--seed N] [--max-iters N] [SEED.gguf ...]
//
// Each iteration copies a seed (a built-in synthetic file exercising every metadata type, nested arrays and
// tensors of several types, plus the files given on the command line) into a buffer of EXACTLY the
// mutated size, applies 1-8 structure-aware mutations (bit flips, interesting integers written over
// length/count fields, truncation, chunk insertion/removal/duplication), parses it, and touches every byte
// range the reader hands out (strings, array elements, first and last byte of every tensor). A crash, an
// AddressSanitizer report or an exception other than GgufError is a failure. Build with
// -DFRSPEC_SANITIZE=ON to run it under ASan/UBSan. Prints one JSON line with the counts.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"

using frspec::GgufError;
using frspec::GgufFile;
using frspec::GgufType;

namespace {

struct Writer {
  std::vector<uint8_t> b;
  template <typename T> void put(T v) { uint8_t t[sizeof(T)]; std::memcpy(t, &v, sizeof(T)); b.insert(b.end(), t, t + sizeof(T)); }
  void str(const std::string& s) { put<uint64_t>(s.size()); b.insert(b.end(), s.begin(), s.end()); }
  void key(const std::string& k, GgufType t) { str(k); put<uint32_t>(uint32_t(t)); }
};

// A small valid GGUF v3 image with every metadata value type, a nested array and five tensors.
std::vector<uint8_t> synthetic_seed() {
  Writer w;
  w.put<uint32_t>(0x46554747); w.put<uint32_t>(3);
  w.put<uint64_t>(5);   // tensors
  w.put<uint64_t>(17);  // metadata
  w.key("general.architecture", GgufType::STRING); w.str("qwen2");
  w.key("general.alignment", GgufType::U32); w.put<uint32_t>(32);
  w.key("u8", GgufType::U8); w.put<uint8_t>(7);
  w.key("i8", GgufType::I8); w.put<int8_t>(-7);
  w.key("u16", GgufType::U16); w.put<uint16_t>(700);
  w.key("i16", GgufType::I16); w.put<int16_t>(-700);
  w.key("i32", GgufType::I32); w.put<int32_t>(-70000);
  w.key("f32", GgufType::F32); w.put<float>(1.5f);
  w.key("bool", GgufType::BOOL); w.put<uint8_t>(1);
  w.key("u64", GgufType::U64); w.put<uint64_t>(1ull << 40);
  w.key("i64", GgufType::I64); w.put<int64_t>(-(1ll << 40));
  w.key("f64", GgufType::F64); w.put<double>(2.25);
  w.key("tokenizer.ggml.tokens", GgufType::ARRAY); w.put<uint32_t>(uint32_t(GgufType::STRING)); w.put<uint64_t>(4);
  for (const char* s : {"a", "bc", "<|fim_prefix|>", "\xc4\xa0x"}) w.str(s);
  w.key("tokenizer.ggml.token_type", GgufType::ARRAY); w.put<uint32_t>(uint32_t(GgufType::I32)); w.put<uint64_t>(4);
  for (int32_t v : {1, 1, 3, 1}) w.put<int32_t>(v);
  w.key("floats", GgufType::ARRAY); w.put<uint32_t>(uint32_t(GgufType::F32)); w.put<uint64_t>(3);
  for (float v : {0.5f, -1.f, 3.f}) w.put<float>(v);
  w.key("bools", GgufType::ARRAY); w.put<uint32_t>(uint32_t(GgufType::BOOL)); w.put<uint64_t>(2);
  w.put<uint8_t>(0); w.put<uint8_t>(1);
  w.key("nested", GgufType::ARRAY); w.put<uint32_t>(uint32_t(GgufType::ARRAY)); w.put<uint64_t>(2);
  for (int k = 0; k < 2; ++k) { w.put<uint32_t>(uint32_t(GgufType::U16)); w.put<uint64_t>(2); w.put<uint16_t>(1); w.put<uint16_t>(2); }
  struct T { const char* name; std::vector<uint64_t> shape; uint32_t type; uint64_t bytes; };
  const T ts[] = {{"f32", {8, 2}, 0, 64}, {"f16", {16}, 1, 32}, {"q8_0", {32, 2}, 8, 68},
                  {"q4_k", {256}, 12, 144}, {"q6_k", {256}, 14, 210}};
  uint64_t off = 0;
  std::vector<uint64_t> offs;
  for (const T& t : ts) {
    w.str(t.name); w.put<uint32_t>(uint32_t(t.shape.size()));
    for (uint64_t d : t.shape) w.put<uint64_t>(d);
    w.put<uint32_t>(t.type); w.put<uint64_t>(off);
    offs.push_back(off);
    off += (t.bytes + 31) / 32 * 32;
  }
  while (w.b.size() % 32) w.b.push_back(0);
  size_t data = w.b.size();
  w.b.resize(data + off);
  for (size_t i = data; i < w.b.size(); ++i) w.b[i] = uint8_t(i * 31);
  return w.b;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) { std::fprintf(stderr, "gguf_fuzz: cannot read %s\n", path.c_str()); std::exit(2); }
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const uint64_t kInteresting[] = {0, 1, 2, 3, 4, 7, 8, 13, 31, 32, 33, 255, 256, 4095, 65535, 65536,
                                 0x7fffffff, 0x80000000ull, 0xffffffffull, 0x100000000ull, 1ull << 40,
                                 0x7fffffffffffffffull, 0x8000000000000000ull, 0xfffffffffffffff0ull,
                                 0xffffffffffffffffull};

void mutate(std::vector<uint8_t>& b, std::mt19937_64& rng, size_t hot_region) {
  auto pick = [&](size_t n) { return n ? size_t(rng() % n) : 0; };
  // Most mutations hit the header/directory (where the parser lives); some hit anywhere.
  size_t region = (rng() % 4 != 0 && hot_region) ? std::min(hot_region, b.size()) : b.size();
  switch (rng() % 8) {
    case 0: case 1: if (!b.empty()) b[pick(region)] ^= uint8_t(1u << (rng() % 8)); break;
    case 2: if (!b.empty()) b[pick(region)] = uint8_t(rng()); break;
    case 3: case 4: {  // an interesting integer over a (possibly) length/count/offset field
      uint64_t v = kInteresting[rng() % (sizeof(kInteresting) / sizeof(kInteresting[0]))];
      if (rng() % 3 == 0) v += (rng() % 16) - 8;
      size_t width = (rng() % 2) ? 8 : 4;
      if (b.size() >= width) {
        size_t at = pick(std::min(region, b.size() - width + 1));
        if (rng() % 2) at &= ~size_t(3);
        std::memcpy(&b[at], &v, width);
      }
      break;
    }
    case 5: if (!b.empty()) b.resize(pick(b.size())); break;  // truncate
    case 6: {  // remove a chunk
      if (b.size() > 2) { size_t at = pick(region), n = 1 + pick(std::min<size_t>(64, b.size() - at)); b.erase(b.begin() + at, b.begin() + std::min(b.size(), at + n)); }
      break;
    }
    case 7: {  // duplicate a chunk at another place
      if (b.size() > 2) {
        size_t at = pick(region), n = 1 + pick(std::min<size_t>(64, b.size() - at));
        std::vector<uint8_t> chunk(b.begin() + at, b.begin() + std::min(b.size(), at + n));
        b.insert(b.begin() + pick(region), chunk.begin(), chunk.end());
      }
      break;
    }
  }
}

volatile uint64_t g_sink;

// Reads every range the parser exposes, so ASan sees any out-of-bounds view.
void touch(const GgufFile& f) {
  uint64_t s = 0;
  for (const auto& [k, v] : f.metadata()) {
    s += k.size();
    for (char c : v.str) s += uint8_t(c);
    for (auto sv : v.strings) for (char c : sv) s += uint8_t(c);
    if (v.elems && v.count) s += v.elems[0];
    if (v.type == GgufType::ARRAY && v.elem_type != GgufType::STRING && v.elem_type != GgufType::ARRAY) {
      try { s += f.get_int_array(k).size(); } catch (const GgufError&) {}
      try { s += f.get_float_array(k).size(); } catch (const GgufError&) {}
    }
  }
  for (const auto& t : f.tensors()) {
    s += t.n_bytes + t.rows() + t.row_bytes();
    s += t.data[0] + t.data[t.n_bytes - 1];
  }
  try { s += f.get_string("general.architecture").size(); } catch (const GgufError&) {}
  try { s += f.get_string_array("tokenizer.ggml.tokens").size(); } catch (const GgufError&) {}
  g_sink = s;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  uint64_t seed = 1, max_iters = ~0ull;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> seeds;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--max-iters" && i + 1 < argc) max_iters = std::strtoull(argv[++i], nullptr, 10);
    else seeds.emplace_back(a, read_file(a));
  }
  seeds.emplace_back("synthetic", synthetic_seed());

  // Every seed must parse unmutated (they are valid files); remember where each one's data section starts.
  std::vector<size_t> hot(seeds.size());
  for (size_t i = 0; i < seeds.size(); ++i) {
    try {
      auto f = GgufFile::from_memory(seeds[i].second.data(), seeds[i].second.size(), seeds[i].first);
      touch(*f);
      hot[i] = f->data_offset();
    } catch (const GgufError& e) {
      std::fprintf(stderr, "gguf_fuzz: seed does not parse: %s\n", e.what());
      return 1;
    }
  }

  std::mt19937_64 rng(seed);
  uint64_t iters = 0, accepted = 0, rejected = 0;
  auto start = std::chrono::steady_clock::now();
  while (iters < max_iters) {
    if ((iters & 63) == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= seconds) break;
    size_t si = rng() % seeds.size();
    const auto& src = seeds[si].second;
    // Large seeds: keep the header plus a slice of data, so each iteration stays cheap.
    size_t keep = std::min(src.size(), hot[si] + 4096 + size_t(rng() % 65536));
    if (rng() % 8 == 0) keep = src.size();
    std::vector<uint8_t> buf(src.begin(), src.begin() + keep);
    int n = 1 + int(rng() % 8);
    for (int m = 0; m < n; ++m) mutate(buf, rng, hot[si]);
    // An exactly-sized heap copy: any read past the end is an ASan error.
    uint8_t* exact = static_cast<uint8_t*>(std::malloc(buf.empty() ? 1 : buf.size()));
    if (!buf.empty()) std::memcpy(exact, buf.data(), buf.size());
    try {
      auto f = GgufFile::from_memory(exact, buf.size(), "fuzz");
      touch(*f);
      ++accepted;
    } catch (const GgufError& e) {
      if (std::strlen(e.what()) == 0) { std::fprintf(stderr, "empty error message\n"); return 1; }
      ++rejected;
    }
    std::free(exact);
    ++iters;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"ok\":true,\"iterations\":%llu,\"accepted\":%llu,\"rejected\":%llu,\"seeds\":%zu,\"seconds\":%.1f,\"seed\":%llu}\n",
              (unsigned long long)iters, (unsigned long long)accepted, (unsigned long long)rejected, seeds.size(),
              secs, (unsigned long long)seed);
  return 0;
}
