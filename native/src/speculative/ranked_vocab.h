// The C++ reader of FR-Spec's `.frv` ranked vocabulary (format: docs/vocab-format.md; the TypeScript
// writer is vocab/format.ts). Every check the format asks a reader to make is made here, and a file built
// for another tokenizer is refused with both fingerprints named: a draft head restricted to the wrong
// token ids would silently draft garbage.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace frspec {

class Tokenizer;

class VocabFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RankedVocab {
  std::string path;
  uint32_t vocab_size = 0;   // token ids of the tokenizer it was counted with
  uint32_t n_forced = 0;     // the first n_forced ids are forced specials (EOS, FIM markers, ...)
  std::string fingerprint;   // Tokenizer::fingerprint() of that tokenizer
  std::string pre;           // its pre-tokenizer name, for messages
  std::string source;        // what was counted
  uint64_t corpus_files = 0, corpus_bytes = 0, corpus_tokens = 0, created_at = 0;
  std::vector<int32_t> ids;  // ranked, most frequent first (after the forced ones)
  std::vector<uint64_t> counts;

  // ids[0 .. min(k, size)).
  std::vector<int32_t> top(int k) const;
};

// Reads and validates a .frv file. Throws VocabFileError naming the file, the byte offset and what was
// expected.
RankedVocab read_ranked_vocab(const std::string& path);
RankedVocab parse_ranked_vocab(const uint8_t* data, size_t size, const std::string& path);

// Throws VocabFileError unless the file was built with `tok` (same fingerprint and number of ids).
void check_vocab_tokenizer(const RankedVocab& v, const Tokenizer& tok, const std::string& model_path);

}  // namespace frspec
