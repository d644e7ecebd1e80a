// Cancellation windows (SPEC section 4). A cancel event opens a window for
// its process; each done event in that process while it is open yields one
// sample: delay = done - cancel, broken down over the timeline of the thread
// that fired the done.
//
// Which thread will fire the done is not known at the cancel, so the cancel
// snapshots the cumulative ThreadTotals of every live thread of the process
// as of the cancel time, and the done takes the difference. The breakdown is
// exact by construction:
//   running + runqueue + hardirq + softirq + blocked == delay
// where blocked is the remainder: BLOCKED time, time before the thread's
// first event (UNKNOWN), and time before a thread created after the cancel
// existed. Interrupts are part of RUNNING time; one that straddles the
// cancel is charged only for its part after the cancel.
//
// A window stays open until the next cancel in the process ("superseded"),
// the process exits ("exit"), window_timeout after its cancel ("timeout"), or
// the end of the trace ("end of trace"). One that closes without a sample is
// unfinished: counted and listed, never dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "histogram.h"
#include "report.h"
#include "timeline.h"

namespace irqlat {

class Windows {
 public:
  // list_cap bounds both lists of the summary (0: counts and percentiles only).
  Windows(uint64_t timeout_ns, size_t list_cap);

  // Name of a device IRQ for the `irqs` breakdown ("irq<N>" if unnamed).
  // Names are applied when summary() is built, so they may come late.
  void set_irq_name(int irq, std::string name);

  // Opens a window for pid at ts, superseding an open one. timeout_ns 0:
  // the constructor's.
  void cancel(int pid, uint64_t ts, const Timeline& tl, uint64_t timeout_ns = 0);
  // One sample for the open window of pid, or counted as orphan_done.
  void done(int pid, int tid, uint64_t ts, const Timeline& tl);
  // The process is gone: its window closes ("exit").
  void process_exit(int pid, uint64_t ts) { close_process(pid, ts, "exit"); }
  // Closes pid's open window, if any, for another reason ("detached").
  void close_process(int pid, uint64_t ts, const char* reason);
  // An interrupt was charged to a thread: if it began before the cancel of
  // the thread's open window, the part before the cancel is not the window's.
  void on_irq(const IrqCharge& c) {
    // Most interrupts begin after the latest cancel: no lookup for them.
    if (c.from >= latest_start_) return;
    on_early_irq(c);
  }
  // Closes windows whose timeout ended before now (called per record: the
  // check is inline).
  void expire(uint64_t now) {
    if (now > next_deadline_) expire_due(now);
  }
  // End of trace: expire(end_ts), then close the rest as "end of trace".
  void finish(uint64_t end_ts);

  // list: the samples sorted by start_ns; past list_cap only the list_cap
  // largest delays are kept (the worst windows matter most). unfinished_list:
  // the earliest list_cap unfinished windows. Counts are always complete.
  WindowSummary summary() const;
  // Forgets samples and unfinished windows (daemon reset); open windows stay.
  void reset();

  size_t open_windows() const { return open_.size(); }

 private:
  // A finished sample; irqs/softirq_vectors of the row are filled from
  // irq_ns by summary(), when the IRQ names are known.
  struct Sample {
    WindowRow row;
    std::vector<std::pair<uint64_t, uint64_t>> irq_ns;  // irq_key -> ns
  };
  // A thread's totals as of a cancel: the sums, and the nonzero entries of
  // its per-index arrays as (index, ns) sorted by index. The arrays
  // themselves are as long as the highest index the thread was ever charged
  // to, and holder indices grow with every task the trace has seen switched
  // in: a copy per thread per open window would grow with them.
  struct Snapshot : ThreadSums {
    std::vector<std::pair<uint32_t, uint64_t>> irq_by, preempt_by;
  };
  struct Open {
    uint64_t start = 0;
    uint64_t deadline = 0;
    uint64_t samples = 0;
    std::unordered_map<int, Snapshot> snaps;  // by tid, as of start
  };

  void close(int pid, uint64_t end, const char* reason);
  void on_early_irq(const IrqCharge& c);
  void expire_due(uint64_t now);
  static Snapshot sparse(const ThreadTotals& t);
  static Sample make_sample(int pid, int tid, uint64_t start, uint64_t ts, const Snapshot& base,
                            const ThreadTotals& cur, const Timeline& tl);
  std::string irq_name(uint64_t key) const;
  WindowRow named(const Sample& s) const;

  uint64_t timeout_ns_;
  size_t list_cap_;
  std::unordered_map<int, std::string> irq_names_;
  std::unordered_map<int, Open> open_;  // by pid
  ThreadTotals scratch_;                // totals_at()'s output, its room kept from call to call
  uint64_t next_deadline_ = UINT64_MAX; // earliest deadline (may be stale-low)
  uint64_t latest_start_ = 0;           // latest start of an open window (may be stale-high)

  uint64_t count_ = 0;
  uint64_t unfinished_ = 0;
  uint64_t orphan_done_ = 0;
  // Exact percentiles while delays_ is small enough; the histogram (0.8%)
  // after that, so a long-running daemon does not grow without bound.
  static constexpr size_t kExactDelays = 1 << 20;
  std::vector<uint64_t> delays_;
  Histogram delay_hist_;
  uint64_t max_delay_ = 0;
  // The list_cap_ largest-delay samples (heap), and the earliest unfinished.
  std::vector<Sample> samples_;
  std::vector<WindowRow> unfinished_rows_;
  std::map<int, ProcessWindows> by_pid_;
};

}  // namespace irqlat
