// GGUF v2/v3 reader: validates the whole header and tensor directory up front, then hands out
// bounds-checked views into the memory-mapped file. Every error is a GgufError whose message names the
// file, the byte offset and what was expected, so a truncated or hostile file never crashes the engine.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace frspec {

class GgufError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Metadata value types, numbered as in the GGUF specification.
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);

// Tensor element types, numbered as in ggml. Only the ones users' models contain are named; the reader
// knows the block size of each so it can validate sizes, the engine decides what it can compute.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, IQ4_NL = 20, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
};
struct GgmlTypeTraits {
  const char* name;
  uint32_t block_elems;  // elements per block (1 for plain types)
  uint32_t block_bytes;  // bytes per block
};
// Returns nullptr for an unknown type id.
const GgmlTypeTraits* ggml_type_traits(uint32_t type_id);

// Text from a file made safe for an error message: control bytes (a NUL would cut the message where it
// crosses into JavaScript) are written as \xNN.
std::string printable(std::string_view s);

// One metadata value. Scalars are stored widened; arrays keep their raw element bytes in the file
// (strings in arrays are pre-split into string_views pointing into the mapping).
struct GgufValue {
  GgufType type = GgufType::U8;
  uint64_t u = 0;   // unsigned integers and bool
  int64_t i = 0;    // signed integers
  double f = 0;     // floats
  std::string_view str;  // STRING
  // ARRAY
  GgufType elem_type = GgufType::U8;
  uint64_t count = 0;
  const uint8_t* elems = nullptr;           // raw little-endian elements (non-string arrays)
  std::vector<std::string_view> strings;    // string arrays
};

struct GgufTensor {
  std::string name;
  GgmlType type;
  std::vector<uint64_t> shape;  // ggml order: shape[0] is the contiguous (row) dimension
  uint64_t offset;              // relative to the data section
  uint64_t n_elements;
  uint64_t n_bytes;
  const uint8_t* data;          // inside the mapping, bounds-checked, aligned as the file says
  uint64_t rows() const;        // product of shape[1..]
  uint64_t row_bytes() const;   // n_bytes / rows()
};

class FileMap;  // gguf/file_map.h

class GgufFile {
 public:
  // Maps and validates a file. Throws GgufError. The file is opened non-blocking and must be a regular
  // file (a FIFO, device or directory is refused before anything is read, so an open never waits).
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Validates an in-memory image (the bytes must outlive the object). Used by the fuzzer and tests.
  static std::unique_ptr<GgufFile> from_memory(const uint8_t* data, size_t size, std::string name);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return size_; }

  // Metadata, in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;  // nullptr when absent
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Typed getters: throw GgufError naming the key when absent or of the wrong type.
  // get_uint accepts any unsigned or non-negative signed integer type; get_float any float or integer.
  std::string get_string(std::string_view key) const;
  uint64_t get_uint(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  // The same, with a default when the key is absent (still throws on a wrong type).
  std::string get_string(std::string_view key, std::string def) const;
  uint64_t get_uint(std::string_view key, uint64_t def) const;
  double get_float(std::string_view key, double def) const;
  bool get_bool(std::string_view key, bool def) const;
  // Arrays: throw on absence or wrong element type.
  const std::vector<std::string_view>& get_string_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;   // any integer element type
  std::vector<float> get_float_array(std::string_view key) const;   // F32/F64 (or integers)

  // Tensors, in file order.
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;  // nullptr when absent
  const GgufTensor& tensor(std::string_view name) const;       // throws GgufError when absent

  // The mapping's touched pages stop counting as this process's memory (FileMap::drop_resident_pages); the
  // bytes stay readable. Nothing for from_memory (the bytes are the caller's).
  void drop_resident_pages() const;

 private:
  GgufFile() = default;
  void parse();
  [[noreturn]] void fail(uint64_t offset, const std::string& what) const;

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  std::unique_ptr<FileMap> map_;  // set when we own a mapping of the file (open), not for from_memory
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<GgufTensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace frspec
