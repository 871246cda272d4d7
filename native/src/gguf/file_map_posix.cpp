// FileMap on POSIX systems (Linux, macOS): open(O_NONBLOCK), fstat, mmap.
#if !defined(_WIN32)
#include "gguf/file_map.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace frspec {

std::unique_ptr<FileMap> FileMap::open(const std::string& path, const std::string& expected) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. The type is then
  // checked on the opened descriptor (no window between a check and the open).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw FileMapError(path + ": cannot open: " + std::strerror(errno));
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw FileMapError(path + ": cannot stat: " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    const char* kind = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : S_ISSOCK(st.st_mode) ? "a socket"
                     : "not a regular file";
    throw FileMapError(path + ": is " + kind + ", not a regular file (expected " + expected + ")");
  }
  std::unique_ptr<FileMap> f(new FileMap());
  if (st.st_size == 0) {  // mmap refuses a length of 0
    ::close(fd);
    return f;
  }
  void* m = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);  // the mapping keeps the file
  if (m == MAP_FAILED) throw FileMapError(path + ": cannot mmap: " + std::strerror(e));
  f->data_ = static_cast<const uint8_t*>(m);
  f->size_ = uint64_t(st.st_size);
  return f;
}

void FileMap::drop_resident_pages() const {
  if (data_) madvise(const_cast<uint8_t*>(data_), size_t(size_), MADV_DONTNEED);
}

FileMap::~FileMap() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_t(size_));
}

}  // namespace frspec
#endif
