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
