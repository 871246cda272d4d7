// FileMap on Windows: CreateFileW (the UTF-8 path converted to UTF-16), GetFileType, CreateFileMappingW and
// MapViewOfFile. Windows keeps a mapped file from being deleted or truncated while it is mapped.
#if defined(_WIN32)
#include "gguf/file_map.h"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

namespace frspec {
namespace {

// The system's text for an error code, without the trailing ".\r\n".
std::string system_message(DWORD code) {
  char* buf = nullptr;
  DWORD n = FormatMessageA(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                           nullptr, code, 0, reinterpret_cast<char*>(&buf), 0, nullptr);
  std::string s = n && buf ? std::string(buf, n) : "error " + std::to_string(code);
  if (buf) LocalFree(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '.' || s.back() == ' ')) s.pop_back();
  return s;
}

std::wstring widen(const std::string& utf8) {
  if (utf8.empty()) return std::wstring();
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(), int(utf8.size()), nullptr, 0);
  if (n <= 0) return std::wstring();
  std::wstring w(size_t(n), L'\0');
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(), int(utf8.size()), w.data(), n);
  return w;
}

}  // namespace

std::unique_ptr<FileMap> FileMap::open(const std::string& path, const std::string& expected) {
  const std::wstring wpath = widen(path);
  if (wpath.empty()) throw FileMapError(path + ": cannot open: the path is empty or not valid UTF-8");
  const std::string not_regular = ", not a regular file (expected " + expected + ")";
  // A directory cannot be opened as a file (access denied): say what it is instead.
  DWORD attrs = GetFileAttributesW(wpath.c_str());
  if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY))
    throw FileMapError(path + ": is a directory" + not_regular);
  // FILE_SHARE_DELETE|WRITE: like a POSIX open, others may still rename the file or write their copy.
  HANDLE file = CreateFileW(wpath.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                            nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (file == INVALID_HANDLE_VALUE) throw FileMapError(path + ": cannot open: " + system_message(GetLastError()));
  const DWORD type = GetFileType(file);
  if (type != FILE_TYPE_DISK) {
    CloseHandle(file);
    const char* kind = type == FILE_TYPE_PIPE ? "a pipe or socket" : type == FILE_TYPE_CHAR ? "a device" : "not a regular file";
    throw FileMapError(path + ": is " + kind + not_regular);
  }
  LARGE_INTEGER size{};
  if (!GetFileSizeEx(file, &size)) {
    DWORD e = GetLastError();
    CloseHandle(file);
    throw FileMapError(path + ": cannot stat: " + system_message(e));
  }
  std::unique_ptr<FileMap> f(new FileMap());
  if (size.QuadPart == 0) {  // a mapping of an empty file is refused
    CloseHandle(file);
    return f;
  }
  HANDLE mapping = CreateFileMappingW(file, nullptr, PAGE_READONLY, 0, 0, nullptr);
  DWORD e = GetLastError();
  CloseHandle(file);  // the mapping object keeps the file open
  if (!mapping) throw FileMapError(path + ": cannot map: " + system_message(e));
  void* view = MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, 0);
  if (!view) {
    e = GetLastError();
    CloseHandle(mapping);
    throw FileMapError(path + ": cannot map: " + system_message(e));
  }
  f->data_ = static_cast<const uint8_t*>(view);
  f->size_ = uint64_t(size.QuadPart);
  f->handle_ = mapping;
  return f;
}

void FileMap::drop_resident_pages() const {}

FileMap::~FileMap() {
  if (data_) UnmapViewOfFile(data_);
  if (handle_) CloseHandle(static_cast<HANDLE>(handle_));
}

}  // namespace frspec
#endif
