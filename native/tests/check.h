// The failure-counting CHECK of the native test programs: a failed check prints where and why (the first 30)
// and the program carries on, so one run counts every failure; main() returns non-zero when `failures` > 0
// (check_result() below, or the program's own summary line and `failures ? 1 : 0`).
#pragma once
#include <cstdio>

static int failures = 0;
[[maybe_unused]] static int check_count = 0;  // CHECKs evaluated
// The first 30 failures are printed; all are counted.
#define CHECK(cond, ...)                                 \
  do {                                                   \
    ++check_count;                                       \
    if (!(cond)) {                                       \
      if (++failures <= 30) {                            \
        std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
        std::printf(__VA_ARGS__);                        \
        std::printf("\n");                               \
      }                                                  \
    }                                                    \
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
