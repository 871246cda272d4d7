// A whole regular file mapped read-only into memory. The one place that knows how each operating system opens
// and maps a file: POSIX open/fstat/mmap (file_map_posix.cpp), Win32 CreateFileW/MapViewOfFile
// (file_map_win32.cpp). Nothing else in the engine includes a system header for files.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace frspec {

// Why a file could not be mapped; what() is "<path>: <reason>", ready to show.
class FileMapError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FileMap {
 public:
  // `path` is UTF-8 (also on Windows). The file is opened without waiting (a FIFO never blocks for a writer),
  // its type is checked on the opened handle, and only a regular file is mapped; otherwise the error says what
  // it is and ends with "(expected <expected>)". An empty file is not mapped: data() is nullptr, size() 0.
  static std::unique_ptr<FileMap> open(const std::string& path, const std::string& expected);
  ~FileMap();
  FileMap(const FileMap&) = delete;
  FileMap& operator=(const FileMap&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  // Unmaps the pages this process has touched, keeping the mapping: the bytes stay readable (a later read
  // faults them in again from the page cache or the file), the process just stops holding them. For when a
  // backend has copied what it needs (POSIX: madvise MADV_DONTNEED, which on a read-only file mapping discards
  // nothing; Windows: nothing).
  void drop_resident_pages() const;

 private:
  FileMap() = default;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  [[maybe_unused]] void* handle_ = nullptr;  // Windows: the file-mapping object (the view is data_); POSIX: unused
};

}  // namespace frspec
