// How fast can this machine's cores stream bytes from memory: the ceiling of a memory-bound decode step
// (every GEMV reads each weight byte once). read_bandwidth [--mb N] [--threads 1,2] [--repeats R]
// [--prefetch 0,2048] [--file MODEL.gguf] times one pass over the same bytes held in different memory,
// regions alternating in every repeat so that other processes' load hits all of them alike:
//   anon-4k   anonymous memory, MADV_NOHUGEPAGE (4 KiB pages)
//   anon-2m   anonymous memory, 2 MiB aligned, MADV_HUGEPAGE (transparent huge pages when the kernel allows)
//   file      --file mapped read-only as the engine maps a model (gguf/file_map_posix.cpp), first N MB
//   file-2m   the same with MADV_HUGEPAGE before the first touch (file huge pages need a filesystem with
//             large folios and the bytes not yet in the page cache as small pages)
// For each it prints the huge-page share actually mapped (/proc/self/smaps: AnonHugePages, FilePmdMapped)
// and GB/s from wall time and from the threads' CPU time (under load the CPU time says what a core gets
// while it runs). Threads split the bytes into contiguous equal parts, as the GEMVs split rows.
// The madvise and smaps parts are Linux only; elsewhere every region is plain memory.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <ctime>
#endif

#include "int_list.h"

namespace {

volatile uint64_t g_sink;

// One pass over [p, p + n): 64-byte integer adds (the bytes are not floats), 4 independent chains, optional
// software prefetch `ahead` bytes in front like the GEMVs' prefetch_ahead. AVX-512 where the CPU has it.
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx512f"))) uint64_t read_avx512(const uint8_t* p, size_t n, int ahead) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    if (ahead) {
      for (int o = 0; o < 256; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p + i + ahead + o), _MM_HINT_T0);
    }
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(p + i + 192));
  }
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
  uint64_t s = 0;
  for (uint64_t l : lanes) s += l;
  for (; i < n; ++i) s += p[i];
  return s;
}
bool have_avx512() { return __builtin_cpu_supports("avx512f"); }
#else
uint64_t read_avx512(const uint8_t*, size_t, int) { return 0; }
bool have_avx512() { return false; }
#endif

uint64_t read_portable(const uint8_t* p, size_t n, int ahead) {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
#if defined(__GNUC__) || defined(__clang__)
    if (ahead && (i & 63) == 0) __builtin_prefetch(p + i + ahead, 0, 3);
#endif
    uint64_t w[4];
    std::memcpy(w, p + i, 32);
    a0 += w[0], a1 += w[1], a2 += w[2], a3 += w[3];
  }
  for (; i < n; ++i) a0 += p[i];
  return a0 + a1 + a2 + a3;
}

double thread_cpu_s() {
#if defined(__linux__)
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
#else
  return 0;
#endif
}

struct Region {
  std::string name;
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  std::vector<double> wall_gbs, cpu_gbs;
};

// 2 MiB aligned anonymous memory, with or without huge pages, every page written (so it is resident).
uint8_t* alloc_anon(size_t bytes, bool huge) {
  const size_t align = size_t(2) << 20;
  bytes = (bytes + align - 1) / align * align;
#if defined(__linux__)
  void* m = mmap(nullptr, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  uint8_t* p = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(m) + align - 1) / align * align);
  madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
#else
  (void)huge;
  uint8_t* p = static_cast<uint8_t*>(std::malloc(bytes + align));
  if (!p) return nullptr;
  p = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + align - 1) / align * align);
#endif
  for (size_t i = 0; i < bytes; i += 4096) p[i] = uint8_t(i * 2654435761u >> 24);
  for (size_t i = 0; i < bytes; i += 64) p[i] ^= uint8_t(i);
  return p;
}

// The file's first `bytes` mapped read-only, read once so that it is in the page cache and mapped.
const uint8_t* map_file(const std::string& path, size_t& bytes, bool huge) {
#if defined(__linux__)
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  const off_t size = lseek(fd, 0, SEEK_END);
  bytes = std::min(bytes, size_t(size));
  void* m = mmap(nullptr, size_t(size), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) return nullptr;
  if (huge) madvise(m, size_t(size), MADV_HUGEPAGE);
  const uint8_t* p = static_cast<const uint8_t*>(m);
  uint64_t s = 0;
  for (size_t i = 0; i < bytes; i += 4096) s += p[i];
  g_sink = s;
  return p;
#else
  (void)path, (void)bytes, (void)huge;
  return nullptr;
#endif
}

// kB of `field` (AnonHugePages, FilePmdMapped, Rss) in the smaps entry of the mapping that holds p.
long smaps_kb(const void* p, const char* field) {
#if defined(__linux__)
  std::ifstream f("/proc/self/smaps");
  std::string line;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  bool inside = false;
  while (std::getline(f, line)) {
    unsigned long lo, hi;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = a >= lo && a < hi;
      continue;
    }
    if (inside && line.rfind(std::string(field) + ":", 0) == 0) return std::atol(line.c_str() + std::strlen(field) + 1);
  }
#else
  (void)p, (void)field;
#endif
  return -1;
}

// One timed pass over the region by `threads` threads (contiguous equal parts, each 4 KiB aligned).
void time_pass(Region& r, int threads, int ahead, bool avx512) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> cpu(size_t(threads), 0.0);
  std::vector<uint64_t> sums(size_t(threads), 0);
  const size_t part = (r.bytes / size_t(threads)) / 4096 * 4096;
  auto work = [&](int t) {
    const uint8_t* p = r.data + size_t(t) * part;
    const size_t n = t == threads - 1 ? r.bytes - size_t(t) * part : part;
    ready.fetch_add(1);
    while (!go.load(std::memory_order_acquire)) {
    }
    const double c0 = thread_cpu_s();
    sums[size_t(t)] = avx512 ? read_avx512(p, n, ahead) : read_portable(p, n, ahead);
    cpu[size_t(t)] = thread_cpu_s() - c0;
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  while (ready.load() < threads - 1) std::this_thread::yield();
  const auto t0 = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  work(0);
  for (auto& th : pool) th.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t s = 0;
  for (uint64_t v : sums) s += v;
  g_sink = s;
  r.wall_gbs.push_back(double(r.bytes) / wall / 1e9);
  // CPU-time bandwidth: each thread's share over its own CPU time, summed (what the cores deliver while running).
  double gbs = 0;
  for (int t = 0; t < threads; ++t) {
    const size_t n = t == threads - 1 ? r.bytes - size_t(t) * part : part;
    if (cpu[size_t(t)] > 0) gbs += double(n) / cpu[size_t(t)] / 1e9;
  }
  r.cpu_gbs.push_back(gbs);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  size_t mb = 512;
  int repeats = 5;
  std::vector<int> threads = {1, 2}, prefetch = {0};
  std::string file;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--mb" && v) mb = size_t(std::atoll(v)), ++i;
    else if (a == "--repeats" && v) repeats = std::max(1, std::atoi(v)), ++i;
    else if (a == "--threads" && v) threads = parse_int_list(v), ++i;
    else if (a == "--prefetch" && v) prefetch = parse_int_list(v), ++i;
    else if (a == "--file" && v) file = v, ++i;
    else {
      std::fprintf(stderr, "usage: %s [--mb 512] [--threads 1,2] [--repeats 5] [--prefetch 0,2048] [--file MODEL.gguf]\n",
                   argv[0]);
      return 2;
    }
  }
  const bool avx512 = have_avx512();
  std::vector<Region> regions;
  const size_t bytes = mb << 20;
  regions.push_back({"anon-4k", alloc_anon(bytes, false), bytes, {}, {}});
  regions.push_back({"anon-2m", alloc_anon(bytes, true), bytes, {}, {}});
  if (!file.empty()) {
    for (bool huge : {false, true}) {
      size_t n = bytes;
      const uint8_t* p = map_file(file, n, huge);
      if (!p) {
        std::fprintf(stderr, "%s: cannot map\n", file.c_str());
        return 1;
      }
      regions.push_back({huge ? "file-2m" : "file", p, n, {}, {}});
    }
  }
  for (auto& r : regions) {
    if (!r.data) {
      std::fprintf(stderr, "cannot allocate %zu MB\n", mb);
      return 1;
    }
  }
  std::printf("read_bandwidth: %zu MB per region, %s loads, %d repeats (regions alternate)\n", bytes >> 20,
              avx512 ? "AVX-512" : "64-bit", repeats);
  for (auto& r : regions) {
    const long huge = r.name.rfind("anon", 0) == 0 ? smaps_kb(r.data, "AnonHugePages") : smaps_kb(r.data, "FilePmdMapped");
    std::printf("  %-8s huge pages mapped: %ld MB of %zu MB\n", r.name.c_str(), huge < 0 ? -1 : huge >> 10, r.bytes >> 20);
  }
  for (int th : threads) {
    for (int ahead : prefetch) {
      for (auto& r : regions) r.wall_gbs.clear(), r.cpu_gbs.clear();
      for (int rep = 0; rep < repeats; ++rep) {
        for (auto& r : regions) time_pass(r, th, ahead, avx512);
      }
      for (auto& r : regions) {
        std::printf("%d thread(s) prefetch %5d  %-8s  wall %5.1f GB/s (best %5.1f)   CPU time %5.1f GB/s (best %5.1f)\n", th,
                    ahead, r.name.c_str(), median(r.wall_gbs), *std::max_element(r.wall_gbs.begin(), r.wall_gbs.end()),
                    median(r.cpu_gbs), *std::max_element(r.cpu_gbs.begin(), r.cpu_gbs.end()));
      }
    }
  }
  return 0;
}
