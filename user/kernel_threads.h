// Thread rows of the targets accounted in the kernel (struct thread_acct in
// bpf/irqlat.h): targets whose scheduler events are not streamed, because
// no cancellation window needs their timeline. Rows come from the live
// accounts (read through the loader's task iterator), the final accounts of
// exited threads, and threads known from /proc that had no event yet.
// Baselines taken at reset() make --interval and `ctl reset` tables start
// from zero while the kernel's counters keep running.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpf/irqlat.h"
#include "user/report.h"

namespace irqlat {

class KernelThreads {
 public:
  // A target thread found in /proc at attach: a row even before its first event.
  void add_known(int tid, int pid, std::string comm);
  // Replaces the live accounts (a fresh read of every one).
  void set_live(std::vector<thread_acct> live);
  // An exited thread's final account: its row is kept, marked exited.
  void add_exited(const thread_acct& a);
  // The process is no longer traced: its live rows (as last set) become
  // detached rows, and its known threads are forgotten.
  void detach(int pid, uint64_t now);
  // Starts a new table interval at now: counters count from here; exited
  // and detached rows are dropped.
  void reset(uint64_t now);

  // Every row, live ones with their current state booked up to now.
  std::vector<ThreadRow> rows(uint64_t now) const;
  size_t live_threads() const { return live_.size(); }

 private:
  // Cumulative counters of one account as of a time.
  struct Totals {
    uint64_t created_ns = 0;
    uint64_t wakeups = 0, preemptions = 0;
    uint64_t oncpu_ns = 0, runqueue_ns = 0, hardirq_ns = 0, softirq_ns = 0;
    uint64_t sched_total_ns = 0;
    std::vector<uint32_t> hist;  // empty: all zero
  };
  struct Known {
    int pid = 0;
    std::string comm;
  };

  static Totals totals_at(const thread_acct& a, uint64_t now);
  ThreadRow make_row(const thread_acct& a, uint64_t now) const;

  std::vector<thread_acct> live_;
  std::unordered_map<int, Totals> base_;  // by tid (created_ns tells a reused tid)
  std::unordered_map<int, Known> known_;  // by tid
  std::vector<ThreadRow> retired_;        // exited and detached rows
};

}  // namespace irqlat
