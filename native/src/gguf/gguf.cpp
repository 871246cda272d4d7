#include "gguf/gguf.h"

#include "gguf/file_map.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace frspec {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 4;

const GgmlTypeTraits kUnknownType{nullptr, 0, 0};

const GgmlTypeTraits& traits_for(uint32_t id) {
  static const GgmlTypeTraits table[] = {
      {"F32", 1, 4},      {"F16", 1, 2},       {"Q4_0", 32, 18},   {"Q4_1", 32, 20},  // 0-3
      kUnknownType,       kUnknownType,        {"Q5_0", 32, 22},   {"Q5_1", 32, 24},  // 4-7
      {"Q8_0", 32, 34},   {"Q8_1", 32, 36},    {"Q2_K", 256, 84},  {"Q3_K", 256, 110},  // 8-11
      {"Q4_K", 256, 144}, {"Q5_K", 256, 176},  {"Q6_K", 256, 210}, {"Q8_K", 256, 292},  // 12-15
      kUnknownType,       kUnknownType,        kUnknownType,       kUnknownType,      // 16-19
      {"IQ4_NL", 32, 18}, kUnknownType,        kUnknownType,       {"IQ4_XS", 256, 136},  // 20-23
      {"I8", 1, 1},       {"I16", 1, 2},       {"I32", 1, 4},      {"I64", 1, 8},     // 24-27
      {"F64", 1, 8},      kUnknownType,        {"BF16", 1, 2},                        // 28-30
  };
  if (id >= sizeof(table) / sizeof(table[0])) return kUnknownType;
  return table[id];
}

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

template <typename T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // GGUF is little-endian, as are all targets we build for
  return v;
}

std::string hex_offset(uint64_t off) { return "offset " + std::to_string(off); }

}  // namespace

const char* gguf_type_name(GgufType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto b = static_cast<unsigned char>(ch);
    if (b >= 0x20 && b != 0x7f) { out += ch; continue; }
    static const char hex[] = "0123456789abcdef";
    out += "\\x";
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

const GgmlTypeTraits* ggml_type_traits(uint32_t type_id) {
  const GgmlTypeTraits& t = traits_for(type_id);
  return t.name ? &t : nullptr;
}

uint64_t GgufTensor::rows() const {
  uint64_t r = 1;
  for (size_t i = 1; i < shape.size(); ++i) r *= shape[i];
  return r;
}
uint64_t GgufTensor::row_bytes() const { return rows() ? n_bytes / rows() : 0; }

// A bounds-checked reader over the file image. Every read checks the remaining length first.
class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t size, const std::string& path) : base_(base), size_(size), path_(path) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  [[noreturn]] void fail(uint64_t at, const std::string& what) const {
    throw GgufError(path_ + ": " + hex_offset(at) + ": " + printable(what));
  }
  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      fail(pos_, std::string("truncated file: expected ") + std::to_string(n) + " bytes of " + what +
                     ", only " + std::to_string(remaining()) + " left");
  }
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v = load_le<T>(base_ + pos_);
    pos_ += sizeof(T);
    return v;
  }
  std::string_view read_string(const char* what) {
    uint64_t at = pos_;
    uint64_t len = read<uint64_t>(what);
    if (len > remaining())
      fail(at, std::string(what) + ": string length " + std::to_string(len) + " exceeds the " +
                   std::to_string(remaining()) + " bytes left in the file (truncated or corrupt file)");
    std::string_view s(reinterpret_cast<const char*>(base_ + pos_), len);
    pos_ += len;
    return s;
  }
  const uint8_t* take(uint64_t n, const char* what) {
    need(n, what);
    const uint8_t* p = base_ + pos_;
    pos_ += n;
    return p;
  }

 private:
  const uint8_t* base_;
  uint64_t size_;
  const std::string& path_;
  uint64_t pos_ = 0;
};

namespace {

// Reads (and validates) one value of type t into out. Nested arrays are validated and skipped.
void read_value(Cursor& c, GgufType t, GgufValue& out, const std::string& key, int depth) {
  out.type = t;
  switch (t) {
    case GgufType::U8: out.u = c.read<uint8_t>("u8"); out.i = int64_t(out.u); out.f = double(out.u); break;
    case GgufType::I8: out.i = c.read<int8_t>("i8"); out.f = double(out.i); break;
    case GgufType::U16: out.u = c.read<uint16_t>("u16"); out.i = int64_t(out.u); out.f = double(out.u); break;
    case GgufType::I16: out.i = c.read<int16_t>("i16"); out.f = double(out.i); break;
    case GgufType::U32: out.u = c.read<uint32_t>("u32"); out.i = int64_t(out.u); out.f = double(out.u); break;
    case GgufType::I32: out.i = c.read<int32_t>("i32"); out.f = double(out.i); break;
    case GgufType::U64: out.u = c.read<uint64_t>("u64"); out.f = double(out.u); break;
    case GgufType::I64: out.i = c.read<int64_t>("i64"); out.f = double(out.i); break;
    case GgufType::F32: out.f = c.read<float>("f32"); break;
    case GgufType::F64: out.f = c.read<double>("f64"); break;
    case GgufType::BOOL: {
      uint64_t at = c.pos();
      uint8_t b = c.read<uint8_t>("bool");
      if (b > 1) c.fail(at, "metadata '" + key + "': bool value " + std::to_string(b) + " is not 0 or 1");
      out.u = b;
      break;
    }
    case GgufType::STRING: out.str = c.read_string(("metadata '" + key + "' string").c_str()); break;
    case GgufType::ARRAY: {
      uint64_t at = c.pos();
      uint32_t et = c.read<uint32_t>("array element type");
      if (!valid_type(et))
        c.fail(at, "metadata '" + key + "': unknown array element type " + std::to_string(et));
      uint64_t count = c.read<uint64_t>("array length");
      out.elem_type = static_cast<GgufType>(et);
      out.count = count;
      if (out.elem_type == GgufType::STRING) {
        // Each string needs at least its 8-byte length: reject impossible counts before allocating.
        if (count > c.remaining() / 8)
          c.fail(at, "metadata '" + key + "': array of " + std::to_string(count) +
                         " strings cannot fit in the " + std::to_string(c.remaining()) + " bytes left");
        out.strings.reserve(count);
        for (uint64_t k = 0; k < count; ++k) out.strings.push_back(c.read_string("array string"));
      } else if (out.elem_type == GgufType::ARRAY) {
        if (depth >= kMaxArrayDepth) c.fail(at, "metadata '" + key + "': arrays nested too deeply");
        if (count > c.remaining() / 12)
          c.fail(at, "metadata '" + key + "': array of " + std::to_string(count) + " arrays cannot fit");
        for (uint64_t k = 0; k < count; ++k) {
          GgufValue inner;
          read_value(c, GgufType::ARRAY, inner, key, depth + 1);
        }
      } else {
        size_t es = scalar_size(out.elem_type);
        if (count > c.remaining() / es)
          c.fail(at, "metadata '" + key + "': array of " + std::to_string(count) + " " +
                         gguf_type_name(out.elem_type) + " exceeds the " + std::to_string(c.remaining()) +
                         " bytes left");
        if (out.elem_type == GgufType::BOOL) {
          const uint8_t* p = c.take(count, "bool array");
          for (uint64_t k = 0; k < count; ++k)
            if (p[k] > 1) c.fail(at, "metadata '" + key + "': bool array element is not 0 or 1");
          out.elems = p;
        } else {
          out.elems = c.take(count * es, "array elements");
        }
      }
      break;
    }
  }
}

}  // namespace

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<FileMap> map;
  try {
    map = FileMap::open(path, "a GGUF file");  // regular files only; a FIFO is refused, never waited on
  } catch (const FileMapError& e) {
    throw GgufError(e.what());
  }
  if (map->size() < 8)
    throw GgufError(path + ": " + hex_offset(0) + ": truncated file: " + std::to_string(map->size()) +
                    " bytes is too small for a GGUF header");
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->base_ = map->data();
  f->size_ = map->size();
  f->map_ = std::move(map);
  f->parse();  // on throw, the destructor unmaps
  return f;
}

std::unique_ptr<GgufFile> GgufFile::from_memory(const uint8_t* data, size_t size, std::string name) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = std::move(name);
  f->base_ = data;
  f->size_ = size;
  f->parse();
  return f;
}

GgufFile::~GgufFile() = default;

void GgufFile::drop_resident_pages() const {
  if (map_) map_->drop_resident_pages();
}

void GgufFile::fail(uint64_t offset, const std::string& what) const {
  throw GgufError(path_ + ": " + hex_offset(offset) + ": " + printable(what));
}

void GgufFile::parse() {
  Cursor c(base_, size_, path_);
  uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic) fail(0, "bad magic: not a GGUF file (expected the bytes 'GGUF')");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3)
    fail(4, "unsupported GGUF version " + std::to_string(version_) + " (expected 2 or 3)");
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each key/value needs at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8+4+8+4+8.
  if (n_kv > c.remaining() / 13)
    fail(16, "metadata count " + std::to_string(n_kv) + " cannot fit in the " + std::to_string(c.remaining()) +
                 " bytes left (truncated or corrupt file)");
  if (n_tensors > c.remaining() / 32)
    fail(8, "tensor count " + std::to_string(n_tensors) + " cannot fit in the " + std::to_string(c.remaining()) +
                " bytes left (truncated or corrupt file)");

  kv_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    uint64_t at = c.pos();
    std::string key(c.read_string("metadata key"));
    uint64_t tat = c.pos();
    uint32_t t = c.read<uint32_t>("metadata value type");
    if (!valid_type(t)) fail(tat, "metadata '" + key + "': unknown value type " + std::to_string(t));
    GgufValue v;
    read_value(c, static_cast<GgufType>(t), v, key, 0);
    if (!kv_index_.emplace(key, kv_.size()).second) fail(at, "duplicate metadata key '" + key + "'");
    kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (a->type != GgufType::U32 && a->type != GgufType::U64 && a->type != GgufType::I32)
      fail(0, "general.alignment has type " + std::string(gguf_type_name(a->type)) + ", expected u32");
    uint64_t al = a->type == GgufType::I32 ? uint64_t(a->i) : a->u;
    if (al == 0 || (al & (al - 1)) != 0 || al > (1u << 20))
      fail(0, "general.alignment " + std::to_string(al) + " is not a power of two up to 1 MiB");
    alignment_ = al;
  }

  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    uint64_t at = c.pos();
    GgufTensor t;
    t.name = std::string(c.read_string("tensor name"));
    uint32_t nd = c.read<uint32_t>("tensor dimension count");
    if (nd == 0 || nd > kMaxDims)
      fail(at, "tensor '" + t.name + "': " + std::to_string(nd) + " dimensions (expected 1 to 4)");
    t.n_elements = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t dim = c.read<uint64_t>("tensor dimension");
      if (dim == 0 || dim > (uint64_t(1) << 40))
        fail(at, "tensor '" + t.name + "': dimension " + std::to_string(d) + " is " + std::to_string(dim));
      if (t.n_elements > std::numeric_limits<uint64_t>::max() / dim)
        fail(at, "tensor '" + t.name + "': element count overflows");
      t.n_elements *= dim;
      t.shape.push_back(dim);
    }
    uint64_t type_at = c.pos();
    uint32_t type_id = c.read<uint32_t>("tensor type");
    const GgmlTypeTraits* tr = ggml_type_traits(type_id);
    if (!tr) fail(type_at, "tensor '" + t.name + "': unknown tensor type id " + std::to_string(type_id));
    t.type = static_cast<GgmlType>(type_id);
    if (t.shape[0] % tr->block_elems != 0)
      fail(at, "tensor '" + t.name + "': row length " + std::to_string(t.shape[0]) +
                   " is not a multiple of the " + tr->name + " block size " + std::to_string(tr->block_elems));
    uint64_t blocks = t.n_elements / tr->block_elems;
    if (blocks > std::numeric_limits<uint64_t>::max() / tr->block_bytes)
      fail(at, "tensor '" + t.name + "': byte size overflows");
    t.n_bytes = blocks * tr->block_bytes;
    uint64_t off_at = c.pos();
    t.offset = c.read<uint64_t>("tensor data offset");
    if (t.offset % alignment_ != 0)
      fail(off_at, "tensor '" + t.name + "': data offset " + std::to_string(t.offset) +
                       " is not a multiple of the alignment " + std::to_string(alignment_));
    t.data = nullptr;
    if (!tensor_index_.emplace(t.name, tensors_.size()).second)
      fail(at, "duplicate tensor name '" + t.name + "'");
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment after the tensor directory.
  uint64_t end = c.pos();
  data_offset_ = (end + alignment_ - 1) / alignment_ * alignment_;
  if (data_offset_ > size_ && !tensors_.empty())
    fail(end, "truncated file: the data section would start at " + std::to_string(data_offset_) +
                  " but the file has " + std::to_string(size_) + " bytes");
  for (GgufTensor& t : tensors_) {
    uint64_t avail = size_ > data_offset_ ? size_ - data_offset_ : 0;
    if (t.offset > avail || t.n_bytes > avail - t.offset)
      fail(data_offset_ + std::min(t.offset, avail),
           "tensor '" + t.name + "' data (" + std::to_string(t.n_bytes) + " bytes at data offset " +
               std::to_string(t.offset) + ") lies outside the file (" + std::to_string(avail) +
               " bytes of tensor data)");
    t.data = base_ + data_offset_ + t.offset;
  }
  // Two tensors sharing bytes would let a write-free file alias weights in ways no writer produces
  // (and the engine assumes each tensor's data is its own): refuse any overlap.
  std::vector<const GgufTensor*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensor& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensor& a = *by_offset[k - 1];
    const GgufTensor& b = *by_offset[k];
    if (b.offset < a.offset + a.n_bytes)
      fail(data_offset_ + b.offset, "tensor '" + b.name + "' data (at data offset " + std::to_string(b.offset) +
                                        ") overlaps tensor '" + a.name + "' (" + std::to_string(a.n_bytes) +
                                        " bytes at data offset " + std::to_string(a.offset) + ")");
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

namespace {
[[noreturn]] void wrong(const std::string& path, std::string_view key, const GgufValue& v, const char* expected) {
  throw GgufError(path + ": metadata '" + std::string(key) + "' has type " + gguf_type_name(v.type) +
                  ", expected " + expected);
}
bool is_unsigned(GgufType t) {
  return t == GgufType::U8 || t == GgufType::U16 || t == GgufType::U32 || t == GgufType::U64;
}
bool is_signed(GgufType t) {
  return t == GgufType::I8 || t == GgufType::I16 || t == GgufType::I32 || t == GgufType::I64;
}
}  // namespace

#define FRSPEC_REQUIRE_KEY(key)                                                                  \
  const GgufValue* v = find(key);                                                                \
  if (!v) throw GgufError(path_ + ": missing metadata key '" + std::string(key) + "'");

std::string GgufFile::get_string(std::string_view key) const {
  FRSPEC_REQUIRE_KEY(key);
  if (v->type != GgufType::STRING) wrong(path_, key, *v, "string");
  return std::string(v->str);
}
uint64_t GgufFile::get_uint(std::string_view key) const {
  FRSPEC_REQUIRE_KEY(key);
  if (is_unsigned(v->type)) return v->u;
  if (is_signed(v->type) && v->i >= 0) return uint64_t(v->i);
  wrong(path_, key, *v, "a non-negative integer");
}
int64_t GgufFile::get_int(std::string_view key) const {
  FRSPEC_REQUIRE_KEY(key);
  if (is_signed(v->type)) return v->i;
  if (is_unsigned(v->type) && v->u <= uint64_t(std::numeric_limits<int64_t>::max())) return int64_t(v->u);
  wrong(path_, key, *v, "an integer");
}
double GgufFile::get_float(std::string_view key) const {
  FRSPEC_REQUIRE_KEY(key);
  if (v->type == GgufType::F32 || v->type == GgufType::F64 || is_signed(v->type) || is_unsigned(v->type))
    return v->f;
  wrong(path_, key, *v, "a number");
}
bool GgufFile::get_bool(std::string_view key) const {
  FRSPEC_REQUIRE_KEY(key);
  if (v->type != GgufType::BOOL) wrong(path_, key, *v, "bool");
  return v->u != 0;
}
std::string GgufFile::get_string(std::string_view key, std::string def) const {
  return has(key) ? get_string(key) : def;
}
uint64_t GgufFile::get_uint(std::string_view key, uint64_t def) const { return has(key) ? get_uint(key) : def; }
double GgufFile::get_float(std::string_view key, double def) const { return has(key) ? get_float(key) : def; }
bool GgufFile::get_bool(std::string_view key, bool def) const { return has(key) ? get_bool(key) : def; }

const std::vector<std::string_view>& GgufFile::get_string_array(std::string_view key) const {
  FRSPEC_REQUIRE_KEY(key);
  if (v->type != GgufType::ARRAY || v->elem_type != GgufType::STRING) wrong(path_, key, *v, "array of strings");
  return v->strings;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  FRSPEC_REQUIRE_KEY(key);
  if (v->type != GgufType::ARRAY || !(is_signed(v->elem_type) || is_unsigned(v->elem_type) ||
                                      v->elem_type == GgufType::BOOL))
    wrong(path_, key, *v, "array of integers");
  std::vector<int64_t> out(v->count);
  const uint8_t* p = v->elems;
  for (uint64_t k = 0; k < v->count; ++k) {
    switch (v->elem_type) {
      case GgufType::U8: case GgufType::BOOL: out[k] = p[k]; break;
      case GgufType::I8: out[k] = int8_t(p[k]); break;
      case GgufType::U16: out[k] = load_le<uint16_t>(p + 2 * k); break;
      case GgufType::I16: out[k] = load_le<int16_t>(p + 2 * k); break;
      case GgufType::U32: out[k] = load_le<uint32_t>(p + 4 * k); break;
      case GgufType::I32: out[k] = load_le<int32_t>(p + 4 * k); break;
      case GgufType::U64: out[k] = int64_t(load_le<uint64_t>(p + 8 * k)); break;
      case GgufType::I64: out[k] = load_le<int64_t>(p + 8 * k); break;
      default: break;
    }
  }
  return out;
}

std::vector<float> GgufFile::get_float_array(std::string_view key) const {
  FRSPEC_REQUIRE_KEY(key);
  if (v->type != GgufType::ARRAY) wrong(path_, key, *v, "array of numbers");
  if (v->elem_type == GgufType::F32 || v->elem_type == GgufType::F64) {
    std::vector<float> out(v->count);
    for (uint64_t k = 0; k < v->count; ++k)
      out[k] = v->elem_type == GgufType::F32 ? load_le<float>(v->elems + 4 * k)
                                             : float(load_le<double>(v->elems + 8 * k));
    return out;
  }
  std::vector<int64_t> ints = get_int_array(key);
  return std::vector<float>(ints.begin(), ints.end());
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::tensor(std::string_view name) const {
  const GgufTensor* t = find_tensor(name);
  if (!t) throw GgufError(path_ + ": missing tensor '" + std::string(name) + "'");
  return *t;
}

}  // namespace frspec
