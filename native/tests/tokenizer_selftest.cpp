// tokenizer_selftest [MODEL.gguf]: checks of the tokenizer's internals that the JavaScript tests cannot
// reach: the Unicode class table against the ASCII fast path, strict UTF-8 decoding of every scalar value
// and of malformed input, the two BPE merge strategies against each other, and (with a model) encoding
// from many threads at once against encoding on one. Prints one line per check; exit 0 when all pass.
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

#include "check.h"

using namespace frspec;

static std::string utf8(uint32_t cp) {  // a textbook encoder, independent of unicode.h
  std::string s;
  if (cp < 0x80) s += char(cp);
  else if (cp < 0x800) { s += char(0xC0 | (cp >> 6)); s += char(0x80 | (cp & 0x3F)); }
  else if (cp < 0x10000) { s += char(0xE0 | (cp >> 12)); s += char(0x80 | ((cp >> 6) & 0x3F)); s += char(0x80 | (cp & 0x3F)); }
  else { s += char(0xF0 | (cp >> 18)); s += char(0x80 | ((cp >> 12) & 0x3F)); s += char(0x80 | ((cp >> 6) & 0x3F)); s += char(0x80 | (cp & 0x3F)); }
  return s;
}

static unicode::Utf8Seq next(const std::string& s) {
  return unicode::utf8_next(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

static void check_unicode() {
  for (uint8_t c = 0; c < 128; ++c) {
    const unicode::Char ch = unicode::char_at(&c, 1);
    CHECK(ch.flags == unicode::flags(c), "ASCII fast path differs from the table at 0x%02x", c);
  }
  using namespace unicode;
  const struct { uint32_t cp; uint8_t flags; } known[] = {
      {'a', LETTER}, {0xE9, LETTER}, {0x4E2D, LETTER}, {0xAC00, LETTER}, {0x1D400, LETTER}, {0x0663, NUMBER},
      {0xFF13, NUMBER}, {0x2163, NUMBER}, {0xB2, NUMBER}, {0x3001, PUNCTUATION}, {0xBF, PUNCTUATION},
      {0x0085, WHITESPACE}, {0xA0, WHITESPACE}, {0x3000, WHITESPACE}, {0x2028, WHITESPACE}, {0xFEFF, 0},
      {0x200B, 0}, {0x0301, 0}, {0x1F600, 0}, {'$', 0}, {'+', 0}, {0xE000, 0}, {0x10FFFF, 0}, {0x110000, 0}};
  for (auto k : known) CHECK(flags(k.cp) == k.flags, "U+%04X has flags %d, expected %d", k.cp, flags(k.cp), k.flags);
  std::printf("unicode tables (Unicode %s): ok\n", kUnicodeVersion);
}

static void check_utf8() {
  for (uint32_t cp = 0; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const std::string s = utf8(cp);
    const unicode::Utf8Seq q = next(s);
    CHECK(q.kind == unicode::Utf8Seq::VALID && q.cp == cp && q.len == s.size(), "U+%04X does not decode", cp);
    if (s.size() > 1) {
      const unicode::Utf8Seq t = next(s.substr(0, s.size() - 1));
      CHECK(t.kind == unicode::Utf8Seq::INCOMPLETE && t.len == s.size() - 1, "truncated U+%04X", cp);
    }
  }
  const struct { const char* bytes; uint8_t len; } invalid[] = {
      {"\x80", 1}, {"\xBF", 1}, {"\xC0\x80", 1}, {"\xC1\xBF", 1}, {"\xE0\x80\x80", 1}, {"\xE0\x9F\xBF", 1},
      {"\xED\xA0\x80", 1}, {"\xF0\x80\x80\x80", 1}, {"\xF4\x90\x80\x80", 1}, {"\xF5\x80\x80\x80", 1}, {"\xFF", 1},
      {"\xC3\x41", 1}, {"\xE2\x82\x41", 2}, {"\xF0\x9F\x98\x41", 3}};
  for (auto k : invalid) {
    const unicode::Utf8Seq q = next(k.bytes);
    CHECK(q.kind == unicode::Utf8Seq::INVALID && q.len == k.len, "'%s' should be invalid with maximal subpart %d (got kind %d len %d)",
          k.bytes, k.len, q.kind, q.len);
  }
  std::printf("utf-8 decoding of all scalar values and malformed input: ok\n");
}

// Random merge tables over a small alphabet (so long sequences have many equal pairs and ties), random
// sequences up to 300 symbols: the scan and the heap must produce the same tokens.
static void check_bpe_strategies() {
  std::mt19937 rng(1234);
  for (int table = 0; table < 20; ++table) {
    MergeTable merges;
    int32_t next_id = 6;
    std::vector<int32_t> symbols = {0, 1, 2, 3, 4, 5};
    for (int32_t rank = 0; rank < 40; ++rank) {
      const int32_t l = symbols[rng() % symbols.size()], r = symbols[rng() % symbols.size()];
      if (merges.insert(l, r, Merge{rank, next_id})) symbols.push_back(next_id++);
    }
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<int32_t> a(1 + rng() % 300);
      for (int32_t& x : a) x = int32_t(rng() % 6);
      std::vector<int32_t> b = a;
      bpe_merge_scan(merges, a);
      bpe_merge_heap(merges, b);
      CHECK(a == b, "scan and heap merges differ (table %d, trial %d)", table, trial);
    }
  }
  std::printf("bpe: linear scan == heap on 4000 random sequences: ok\n");
}

static void check_threads(const char* model) {
  auto file = GgufFile::open(model);
  auto tok = Tokenizer::from_gguf(*file);
  std::mt19937 rng(99);
  const char* parts[] = {"def ", "return ", "self.", "x", "  ", "\n", "    ", "é", "😀", "中文", "123", "'s", "(", ")", "{}", ";",
                         "foo_bar", "Baz", "\t", "//", "<|endoftext|>"};
  std::vector<std::string> texts(400);
  for (std::string& t : texts) {
    const int n = 1 + int(rng() % 200);
    for (int i = 0; i < n; ++i) t += parts[rng() % (sizeof(parts) / sizeof(parts[0]))];
  }
  // Encode on 4 threads first (cold cache, contended), then check against a fresh tokenizer on one thread.
  std::vector<std::vector<std::vector<int32_t>>> got(4, std::vector<std::vector<int32_t>>(texts.size()));
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (size_t i = 0; i < texts.size(); ++i) got[k][(i + 97 * k) % texts.size()] = tok->encode(texts[(i + 97 * k) % texts.size()]);
    });
  }
  for (auto& t : threads) t.join();
  auto fresh = Tokenizer::from_gguf(*file);
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int32_t> want = fresh->encode(texts[i]);
    for (int k = 0; k < 4; ++k) CHECK(got[k][i] == want, "thread %d encoded text %zu differently", k, i);
    CHECK(fresh->decode(want) == texts[i], "text %zu does not round-trip", i);
  }
  std::printf("4 threads encoding %zu texts with one tokenizer == one thread: ok\n", texts.size());
}

int main(int argc, char** argv) {
  try {
    check_unicode();
    check_utf8();
    check_bpe_strategies();
    if (argc > 1) check_threads(argv[1]);
    else std::printf("(no model given: the multi-thread check is skipped)\n");
  } catch (const std::exception& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
  std::printf(failures ? "%d checks FAILED\n" : "all checks passed\n", failures);
  return failures ? 1 : 0;
}
