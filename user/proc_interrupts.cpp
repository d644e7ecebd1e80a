// See proc_interrupts.h.
#include "user/proc_interrupts.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace irqlat {

namespace {

bool to_u64(std::string_view s, uint64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) i++;
    const size_t from = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') i++;
    if (i > from) out.push_back(line.substr(from, i - from));
  }
  return out;
}

}  // namespace

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

std::string read_proc_interrupts() {
  const char* override_path = std::getenv("IRQLAT_PROC_INTERRUPTS");
  std::ifstream in(override_path && *override_path ? override_path : "/proc/interrupts");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

DeviceIrqCounts parse_device_irq_counts(std::string_view text) {
  DeviceIrqCounts out;
  std::vector<int> cpus;
  bool header = true;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const std::vector<std::string_view> w = words(line);
    if (header) {
      header = false;
      for (std::string_view c : w) {
        uint64_t id;
        if (c.size() > 3 && c.substr(0, 3) == "CPU" && to_u64(c.substr(3), id)) cpus.push_back(static_cast<int>(id));
      }
      continue;
    }
    if (w.empty() || w[0].size() < 2 || w[0].back() != ':') continue;
    uint64_t irq;
    if (!to_u64(w[0].substr(0, w[0].size() - 1), irq) || irq > 1u << 20) continue;  // LOC:, ERR:, ...
    auto& row = out[static_cast<int>(irq)];
    for (size_t i = 0; i < cpus.size() && i + 1 < w.size(); i++) {
      uint64_t n;
      if (!to_u64(w[i + 1], n)) break;
      row[cpus[i]] = n;
    }
  }
  return out;
}

DeviceIrqCounts read_device_irq_counts() { return parse_device_irq_counts(read_proc_interrupts()); }

DeviceIrqCounts irq_count_delta(const DeviceIrqCounts& before, const DeviceIrqCounts& after,
                                const std::vector<int>& cpus) {
  DeviceIrqCounts out;
  for (const auto& [irq, per_cpu] : after) {
    const auto b = before.find(irq);
    for (const auto& [cpu, n] : per_cpu) {
      if (!cpus.empty() && std::find(cpus.begin(), cpus.end(), cpu) == cpus.end()) continue;
      uint64_t was = 0;
      if (b != before.end()) {
        const auto c = b->second.find(cpu);
        if (c == b->second.end()) {  // online since: its count is from boot
          out[irq][cpu] = 0;
          continue;
        }
        was = c->second;
      }
      out[irq][cpu] = n >= was ? n - was : 0;
    }
  }
  return out;
}

uint64_t apply_proc_counts(std::vector<HardirqRow>& rows, const DeviceIrqCounts& in, int max_irq) {
  DeviceIrqCounts delta;  // IRQs >= max_irq folded into the shared slot's number
  for (const auto& [irq, per_cpu] : in)
    for (const auto& [cpu, n] : per_cpu) delta[std::min(irq, max_irq)][cpu] += n;
  std::map<std::pair<int, int>, uint64_t> traced;  // (irq, cpu) -> count
  for (HardirqRow& r : rows) {
    if (!r.irq) continue;
    const auto d = delta.find(*r.irq);
    uint64_t proc = 0;
    if (d != delta.end()) {
      if (r.cpu) {
        if (const auto c = d->second.find(*r.cpu); c != d->second.end()) proc = c->second;
      } else {
        for (const auto& [cpu, n] : d->second) proc += n;
      }
    }
    r.proc_count = proc;
    if (r.cpu) traced[{*r.irq, *r.cpu}] += r.count;
  }
  uint64_t unseen = 0;
  for (const auto& [irq, per_cpu] : delta)
    for (const auto& [cpu, n] : per_cpu) {
      const auto t = traced.find({irq, cpu});
      const uint64_t seen = t == traced.end() ? 0 : t->second;
      if (n > seen + 1) unseen += n - seen - 1;  // one may still be in its handler
    }
  return unseen;
}

}  // namespace irqlat
