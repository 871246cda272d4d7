#include "engine/huge_page_arena.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace frspec {
namespace {

// Chunks are reserved at least this large; only the bytes handed out are ever touched, so an unused tail costs
// address space, not memory (at most one partly used huge page per chunk).
[[maybe_unused]] constexpr size_t kChunkBytes = size_t(256) << 20;  // (Linux only)

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// The kernel's PMD (huge page) size when transparent huge pages can be asked for with madvise, else 0.
size_t huge_page_size() {
#if defined(__linux__)
  const char* env = std::getenv("FRSPEC_HUGE_PAGES");  // "0": keep the weights in the file's mapping
  if (env && std::string(env) == "0") return 0;
  std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  if (!std::getline(enabled, modes) || modes.find("[never]") != std::string::npos) return 0;
  std::ifstream pmd("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
  size_t bytes = 0;
  if (!(pmd >> bytes)) return 0;
  // 64 KiB-page arm64 kernels have 512 MiB PMDs: not worth the alignment.
  return bytes >= 4096 && bytes <= (size_t(32) << 20) && (bytes & (bytes - 1)) == 0 ? bytes : 0;
#else
  return 0;
#endif
}

}  // namespace

HugePageArena::HugePageArena() : huge_page_bytes_(huge_page_size()) {}

bool HugePageArena::enabled() const { return huge_page_bytes_ != 0; }

HugePageArena::~HugePageArena() {
#if defined(__linux__)
  for (auto& [base, c] : chunks_) munmap(reinterpret_cast<void*>(base), c.size);
#endif
}

void* HugePageArena::allocate(size_t bytes) {
  if (!enabled() || bytes == 0) return nullptr;
  bytes = round_up(bytes, 64);
  auto it = chunks_.find(current_);
  if (it == chunks_.end() || it->second.size - it->second.used < bytes) {
#if defined(__linux__)
    // Reserve one huge page more than needed, then unmap the unaligned head and tail: the chunk starts on a
    // huge-page boundary, so every 2 MiB of it can be one huge page.
    const size_t align = huge_page_bytes_, size = round_up(std::max(bytes, kChunkBytes), align);
    void* m = mmap(nullptr, size + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    const uintptr_t raw = reinterpret_cast<uintptr_t>(m), base = round_up(raw, align);
    if (base > raw) munmap(m, base - raw);
    if (raw + align > base) munmap(reinterpret_cast<void*>(base + size), raw + align - base);
    madvise(reinterpret_cast<void*>(base), size, MADV_HUGEPAGE);  // advice: without it, 4 KiB pages, still correct
    it = chunks_.emplace(base, Chunk{size, 0, 0}).first;
    current_ = base;
#else
    return nullptr;
#endif
  }
  Chunk& c = it->second;
  void* p = reinterpret_cast<void*>(it->first + c.used);
  c.used += bytes;
  ++c.live;
  return p;
}

bool HugePageArena::release(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = chunks_.upper_bound(a);
  if (it == chunks_.begin()) return false;
  --it;
  if (a >= it->first + it->second.size) return false;
  if (--it->second.live == 0) {
#if defined(__linux__)
    munmap(reinterpret_cast<void*>(it->first), it->second.size);
#endif
    if (current_ == it->first) current_ = 0;
    chunks_.erase(it);
  }
  return true;
}

}  // namespace frspec
