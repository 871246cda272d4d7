// The prompts file the benchmarks read (written by bench/gpu/make-prompts.ts, which the GPU machine cannot run:
// it has no Node): one prompt per line, "<name>\t<id> <id> ...". Lines without a tab or ids are skipped; a file
// that cannot be opened or holds no prompt is an error naming it.
#pragma once
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

inline std::vector<std::vector<int32_t>> read_prompts(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open prompts file " + path);
  std::vector<std::vector<int32_t>> out;
  std::string line;
  while (std::getline(f, line)) {
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::istringstream in(line.substr(tab + 1));
    std::vector<int32_t> ids;
    for (int32_t id; in >> id;) ids.push_back(id);
    if (!ids.empty()) out.push_back(std::move(ids));
  }
  if (out.empty()) throw std::runtime_error(path + " holds no prompts");
  return out;
}
