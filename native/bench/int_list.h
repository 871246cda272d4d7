// The benchmarks' comma-separated integer arguments ("--threads 1,2", "--ns 1,16,64"): "1,2" -> {1, 2}; an empty
// item reads as 0 (atoi), as each program's own copy did.
#pragma once
#include <cstdlib>
#include <vector>

inline std::vector<int> parse_int_list(const char* s) {
  std::vector<int> v;
  for (const char* p = s; *p;) {
    v.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return v;
}
