#include "vector_watch.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace irqlat {

std::map<std::string, uint64_t> parse_named_interrupts(std::string_view text) {
  std::map<std::string, uint64_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    size_t i = 0;
    while (i < line.size() && line[i] == ' ') i++;
    size_t colon = line.find(':', i);
    if (colon == std::string_view::npos || colon == i) continue;
    std::string name(line.substr(i, colon - i));
    if (std::isdigit(static_cast<unsigned char>(name[0]))) continue;  // device IRQ
    // Counts follow until the first non-number (the description).
    std::istringstream counts{std::string(line.substr(colon + 1))};
    std::string word;
    uint64_t sum = 0;
    bool any = false;
    while (counts >> word) {
      bool digits = !word.empty();
      for (char c : word) digits = digits && std::isdigit(static_cast<unsigned char>(c));
      if (!digits) break;
      sum += std::strtoull(word.c_str(), nullptr, 10);
      any = true;
    }
    if (any) out[name] = sum;
  }
  return out;
}

VectorWatch::VectorWatch(std::vector<std::string> mnemonics,
                         const std::map<std::string, uint64_t>& baseline) {
  for (std::string& m : mnemonics) {
    auto it = baseline.find(m);
    watched_[std::move(m)] = it == baseline.end() ? 0 : it->second;
  }
}

std::vector<std::string> VectorWatch::fired(const std::map<std::string, uint64_t>& now) {
  std::vector<std::string> out;
  for (auto it = watched_.begin(); it != watched_.end();) {
    auto n = now.find(it->first);
    if (n == now.end() || n->second <= it->second) {
      ++it;
      continue;
    }
    untimed_[it->first] += n->second - it->second;
    out.push_back(it->first);
    it = watched_.erase(it);
  }
  return out;
}

std::string read_proc_interrupts() {
  const char* override_path = std::getenv("IRQLAT_PROC_INTERRUPTS");
  std::ifstream in(override_path && *override_path ? override_path : "/proc/interrupts");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace irqlat
