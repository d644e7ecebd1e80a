// Watches /proc/interrupts for the rare x86 vectors (spurious, error,
// thermal, ...) whose programs are not attached at start: each attached
// tracepoint costs the traced system a trampoline and the stop ~0.3 ms of
// text patching, for vectors that fire rarely or never. When one of them
// fires, the caller attaches its programs; the interrupts seen before that
// have no durations and are reported as untimed, so none is lost silently.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "user/proc_interrupts.h"  // parse_named_interrupts, read_proc_interrupts

namespace irqlat {

class VectorWatch {
 public:
  // mnemonics: the vectors still to attach ("TRM", ...); baseline: the
  // counts when tracing started.
  VectorWatch(std::vector<std::string> mnemonics, const std::map<std::string, uint64_t>& baseline);

  // Given fresh counts, returns the watched vectors that fired since the
  // baseline and stops watching them; their count since the baseline is
  // added to untimed().
  std::vector<std::string> fired(const std::map<std::string, uint64_t>& now);
  bool watching() const { return !watched_.empty(); }

  // Interrupts of each vector before its programs were attached.
  const std::map<std::string, uint64_t>& untimed() const { return untimed_; }
  void reset_untimed() { untimed_.clear(); }

 private:
  std::map<std::string, uint64_t> watched_;  // mnemonic -> baseline count
  std::map<std::string, uint64_t> untimed_;
};

}  // namespace irqlat
