// The failure-counting CHECK of the native test programs: a failed check prints where and why and the
// program carries on, so one run reports every failure; main() returns non-zero when `failures` > 0.
#pragma once
#include <cstdio>

static int failures = 0;
#define CHECK(cond, ...)                               \
  do {                                                 \
    if (!(cond)) {                                     \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                        \
      std::printf("\n");                               \
      ++failures;                                      \
    }                                                  \
  } while (0)

// The end of a test program's main(): one summary line, and the exit status (non-zero when a check failed).
inline int check_result(const char* passed_line) {
  if (failures) {
    std::printf("%d check%s FAILED\n", failures, failures == 1 ? "" : "s");
    return 1;
  }
  std::printf("%s\n", passed_line);
  return 0;
}
