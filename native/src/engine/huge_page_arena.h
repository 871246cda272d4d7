// Anonymous memory in transparent huge pages for the CPU backend's weight copies (Linux).
// Why: a decode step streams every weight byte once, and on 4 KiB pages a core streams ~25% slower than on
// 2 MiB pages (TLB misses, and the hardware prefetcher stops at every 4 KiB page boundary): read_bandwidth on
// a Sapphire Rapids VM, one core, 13.1 vs 17.2 GB/s. The model file's own mapping gets huge pages only when
// the page cache happens to hold it in 2 MiB folios (a recent kernel, a filesystem with large folios, the
// file read cold), so the weights are copied here instead. Elsewhere (Windows, macOS, THP "never", a kernel
// whose PMD is larger than 32 MiB, FRSPEC_HUGE_PAGES=0) allocate() returns null and the caller keeps the
// mapped bytes (zero-copy). Compiled once (not per CPU kernel variant); not thread-safe (prepare() time).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>

namespace frspec {

class HugePageArena {
 public:
  HugePageArena();
  ~HugePageArena();
  HugePageArena(const HugePageArena&) = delete;
  HugePageArena& operator=(const HugePageArena&) = delete;

  bool enabled() const;
  // `bytes` of 64-byte aligned memory in huge pages, or null (not enabled, or the mapping failed).
  void* allocate(size_t bytes);
  // Gives back memory from allocate(); false if p is not from this arena. A chunk is unmapped when its
  // last allocation is given back.
  bool release(const void* p);

 private:
  struct Chunk {
    size_t size = 0, used = 0;
    int live = 0;  // allocations not yet released
  };
  size_t huge_page_bytes_ = 0;       // the PMD size (2 MiB on x86-64), 0 when not enabled
  std::map<uintptr_t, Chunk> chunks_;  // by base address
  uintptr_t current_ = 0;            // the chunk allocate() fills, 0 when none
};

}  // namespace frspec
