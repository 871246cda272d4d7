// SHA-256 (FIPS 180-4), for the tokenizer fingerprint: a standard hash anyone can recompute (node:crypto,
// sha256sum) from the documented input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace frspec {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::string hex_digest();  // finishes the hash

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

}  // namespace frspec
