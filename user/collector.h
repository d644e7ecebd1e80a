// The time-ordered consumer of ring-buffer records (after the Reorderer):
// decodes each record and feeds the per-thread timelines (timeline.h), the
// per-interrupt target statistics and the cancellation windows (windows.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "kernel_threads.h"
#include "report.h"
#include "timeline.h"
#include "windows.h"

namespace irqlat {

struct CollectorConfig {
  bool windows = false;  // --cancel given: track cancellation windows
  uint64_t window_timeout_ns = 10'000'000'000;
  size_t window_list_cap = 100000;
  bool done_on_exit = false;      // --done exit: the process exiting is the done event
  bool cancel_on_signal = false;  // --cancel signal: every EV_SIGNAL is a cancel
};

// Which records open and close one process's windows (the daemon sets one
// per attached target; trace uses the CollectorConfig for every process).
struct WindowRule {
  bool enabled = false;
  uint64_t cancel_signals = 0;  // bit n: signal n is a cancel
  bool done_on_exit = false;
  uint64_t timeout_ns = 0;  // 0: CollectorConfig::window_timeout_ns
};

// Records the collector could not use. None of these is a ring-buffer drop.
struct CollectorStats {
  uint64_t records = 0;       // records handed to on_record
  uint64_t malformed = 0;     // too short for their type, or a bad CPU number
  uint64_t unknown_type = 0;  // type not in enum irqlat_ev_type
  uint64_t out_of_order = 0;  // older than an earlier record: handled as if at that time
  uint64_t irq_ignored = 0;   // EV_IRQ for a thread not RUNNING on that CPU
};

class Collector {
 public:
  struct TargetIrqStat {
    uint64_t hits = 0;
    uint64_t stolen_ns = 0;
  };
  using IrqStatKey = std::tuple<int, int, int>;  // (enum irqlat_irq_kind, id, cpu)

  explicit Collector(CollectorConfig cfg);

  // Per-process window rule (daemon attach), replacing the config's.
  void set_window_rule(int pid, WindowRule rule);
  // The process is no longer a target: its rule goes and an open window
  // closes as unfinished with `reason`.
  void drop_window_rule(int pid, const char* reason);
  // The process is no longer traced (daemon detach): its window closes as
  // "detached" and its threads' rows are kept, marked detached.
  void detach_process(int pid);

  // A known target thread (from /proc at attach): it gets a row. kernel:
  // the thread is accounted in the kernel (kernel_threads()), not streamed.
  void set_comm(int tid, int pid, std::string comm, bool kernel = false);
  // Rows of the kernel-accounted targets; the session feeds their accounts.
  KernelThreads& kernel_threads() { return kthreads_; }
  // Device IRQ name (irqaction->name) for window breakdowns.
  void set_irq_name(int irq, std::string name);

  // One record, in time order. Malformed records are counted and skipped.
  void on_record(const void* data, size_t size);
  // The same with its timestamp given apart: bytes 0..7 of data are not
  // used. The replay hands rows over so instead of storing each timestamp
  // into the row first: a record's wide loads right after that 8-byte store
  // waited for it (no store forwarding into a wider load), and that showed
  // in the replay's time profile.
  void on_record_at(const void* data, size_t size, uint64_t ts);
  // Time has reached ts without records: lets window timeouts fire and
  // tables include time up to ts. Pass the Reorderer's watermark (never more:
  // records released later with an older ts would count as out of order).
  void advance(uint64_t ts);
  // End of trace: books open states up to end_ts and closes open windows as
  // unfinished ("end of trace", or "timeout" if it expired before end_ts).
  void finish(uint64_t end_ts);

  // The latest time seen (records, advance, finish).
  uint64_t now() const { return now_; }

  // Every target thread, live ones with time up to now(), sorted by (pid, tid).
  std::vector<ThreadRow> thread_rows() const;
  // Interrupts that ran while a target was on CPU, by (kind, id, cpu).
  const std::map<IrqStatKey, TargetIrqStat>& target_irq_stats() const { return irq_stats_; }
  WindowSummary windows() const { return windows_.summary(); }
  CollectorStats stats() const;

  // For --interval: zero per-thread aggregates and target irq stats and drop
  // exited threads' rows; states and open windows carry over.
  void reset_tables();
  // Forget window samples (daemon reset); open windows carry over.
  void reset_windows() { windows_.reset(); }

 private:
  // on_record() of the record types other than switches and wakeups.
  [[gnu::noinline]] void on_other(const ev_hdr& h, const void* data, size_t size);
  void on_exit(const ev_task& e);
  const WindowRule& rule(int pid) const;
  bool windows_on() const { return cfg_.windows || !rules_.empty(); }

  CollectorConfig cfg_;
  WindowRule default_rule_;
  std::unordered_map<int, WindowRule> rules_;
  Timeline timeline_;
  KernelThreads kthreads_;
  Windows windows_;
  std::map<IrqStatKey, TargetIrqStat> irq_stats_;
  // Recently charged (kind, id, cpu) -> its irq_stats_ node (nodes stay put
  // until reset_tables() clears the map, and this with it).
  struct IrqStatCache {
    uint64_t key = ~0ULL;
    TargetIrqStat* s = nullptr;
  };
  std::array<IrqStatCache, 32> irq_stat_cache_{};
  TargetIrqStat& irq_stat(int kind, uint32_t id, int cpu);
  CollectorStats stats_;
  uint64_t now_ = 0;
};

namespace detail {
// Copies a record into its struct (the buffer need not be aligned).
template <class T>
bool load(const void* data, size_t size, T& out) {
  if (size < sizeof(T)) return false;
  std::memcpy(&out, data, sizeof(T));
  return true;
}
}  // namespace detail

// Switches and wakeups are most records: they take the short path, the
// rest one call further, so this stays small enough to keep its registers
// (its saves and restores were ~14 instructions per record when every case
// was inlined here). Defined here so the replay and the live session inline
// it: one call level less per record (report: -9 instructions per record).
inline void Collector::on_record(const void* data, size_t size) {
  uint64_t ts = 0;
  if (size >= sizeof(ts)) std::memcpy(&ts, data, sizeof(ts));
  on_record_at(data, size, ts);
}

inline void Collector::on_record_at(const void* data, size_t size, uint64_t ts) {
  stats_.records++;
  struct ev_hdr h;
  if (!detail::load(data, size, h) || h.cpu >= IRQLAT_MAX_CPUS) {
    stats_.malformed++;
    return;
  }
  h.ts = ts;
  // Time never goes back: a late record is handled as if it happened now,
  // which keeps every interval non-negative and the window sums exact.
  if (h.ts < now_)
    stats_.out_of_order++;
  else
    now_ = h.ts;
  if (windows_on()) windows_.expire(now_);
  if (h.type == EV_SWITCH) {
    struct ev_switch e;
    if (detail::load(data, size, e))
      timeline_.on_switch(e, now_);
    else
      stats_.malformed++;
  } else if (h.type == EV_WAKING) {
    struct ev_wake e;
    if (detail::load(data, size, e))
      timeline_.on_waking(e, now_);
    else
      stats_.malformed++;
  } else {
    on_other(h, data, size);
  }
}

}  // namespace irqlat
