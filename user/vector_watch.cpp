#include "vector_watch.h"

namespace irqlat {

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

}  // namespace irqlat
