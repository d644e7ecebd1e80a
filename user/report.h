// The tables irqlat prints, as plain values. Built by the collector and the
// kernel-stats reader, printed by the formatters (format_*.cpp). All times are
// nanoseconds; units are chosen only when a formatter prints.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "histogram.h"

namespace irqlat {

struct HardirqRow {
  std::optional<int> irq;  // device IRQ number; nullopt for x86 vectors
  std::string name;        // irqaction->name, or LOC/RES/CAL/... for vectors
  std::optional<int> cpu;  // nullopt: total over all CPUs
  uint64_t count = 0;
  uint64_t total_ns = 0;
  uint64_t p50_ns = 0;
  uint64_t p99_ns = 0;
  uint64_t max_ns = 0;
  uint64_t target_hits = 0;       // times it ran while a target was on CPU
  uint64_t target_stolen_ns = 0;  // net time taken from targets
  // Device IRQs traced live: /proc/interrupts' count over the same span
  // (proc_interrupts.h); nullopt for vectors and recordings.
  std::optional<uint64_t> proc_count;
  Histogram hist;  // handler durations (metrics buckets)
};

struct SoftirqRow {
  std::string vector;  // HI, TIMER, NET_TX, NET_RX, ... as /proc/softirqs
  std::optional<int> cpu;
  uint64_t count = 0;
  uint64_t total_ns = 0;
  uint64_t p50_ns = 0;
  uint64_t p99_ns = 0;
  uint64_t max_ns = 0;
  uint64_t target_hits = 0;
  uint64_t target_stolen_ns = 0;
  // raise -> entry wait (extra keys)
  uint64_t raise_wait_count = 0;
  uint64_t raise_wait_total_ns = 0;
  uint64_t raise_wait_max_ns = 0;
  Histogram hist;  // handler durations (metrics buckets)
};

struct ThreadRow {
  int pid = 0;
  int tid = 0;
  std::string comm;
  uint64_t wakeups = 0;  // sched_waking from a blocked state
  uint64_t sched_p50_ns = 0;  // wakeup -> on CPU
  uint64_t sched_p99_ns = 0;
  uint64_t sched_max_ns = 0;
  uint64_t preemptions = 0;   // involuntary switch-outs
  uint64_t oncpu_ns = 0;      // on CPU, interrupts included
  uint64_t runqueue_ns = 0;   // runnable, waiting for a CPU (wakeup + preemption)
  uint64_t hardirq_ns = 0;    // hardirq + vector net time while on CPU
  uint64_t softirq_ns = 0;    // softirq net time while on CPU
  bool exited = false;
  bool detached = false;  // daemon: no longer traced (ctl detach)
  Histogram sched;  // wakeup -> on CPU latencies (metrics buckets)
};

struct NamedNs {
  std::string name;
  uint64_t ns = 0;
};

struct Preemptor {
  std::string comm;
  int pid = 0;  // process (tgid) of the task that held the CPU (0 = idle, -1 = unknown)
  int tid = 0;  // the task itself (0 = idle, -1 = unknown)
  uint64_t ns = 0;
};

struct WindowRow {
  int pid = 0;
  int tid = 0;  // the thread that fired the done event (0 if unfinished)
  uint64_t start_ns = 0;  // cancel time
  uint64_t end_ns = 0;    // done time (or when it was declared unfinished)
  uint64_t delay_ns = 0;
  uint64_t running_ns = 0;
  uint64_t runqueue_ns = 0;
  uint64_t hardirq_ns = 0;
  uint64_t softirq_ns = 0;
  uint64_t blocked_ns = 0;
  std::vector<NamedNs> irqs;             // by IRQ name, largest first
  std::vector<NamedNs> softirq_vectors;  // by vector name, largest first
  std::vector<Preemptor> preempted_by;   // largest first
  bool unfinished = false;
  std::string reason;  // unfinished: "timeout", "exit", "superseded", "end of trace"
};

// One process's windows, cumulative (metrics): never capped like the lists.
struct ProcessWindows {
  uint64_t count = 0, unfinished = 0;
  Histogram delay;
  uint64_t running_ns = 0, runqueue_ns = 0, hardirq_ns = 0, softirq_ns = 0, blocked_ns = 0;
};

struct WindowSummary {
  uint64_t count = 0;       // finished samples
  uint64_t unfinished = 0;  // windows that never saw a done event
  uint64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, max_ns = 0;
  std::vector<WindowRow> list;        // every finished sample, by start_ns (capped)
  std::vector<WindowRow> unfinished_list;
  uint64_t list_cap = 0;
  uint64_t orphan_done = 0;  // done events with no open window (ignored)
  std::map<int, ProcessWindows> by_pid;
};

struct EventCounts {
  uint64_t received = 0;     // ring-buffer records consumed
  uint64_t dropped = 0;      // ring-buffer reservations that failed (kernel)
  uint64_t late = 0;         // records older than what was already released
  uint64_t kernel_irq_events = 0;  // interrupts aggregated in the kernel
  uint64_t irq_unmatched = 0;      // exits without an entry, entries without an exit
  uint64_t missed = 0;     // program runs the kernel skipped (recursion_misses)
  uint64_t malformed = 0;  // records the collector could not parse
  // Device interrupts /proc/interrupts counted beyond the traced counts
  // (per IRQ and CPU, a lower bound); nullopt when not checked (recordings).
  std::optional<uint64_t> irq_unseen;
};

// irq -> cpu -> count: /proc/interrupts' device lines (proc_interrupts.h).
using DeviceIrqCounts = std::map<int, std::map<int, uint64_t>>;

struct Report {
  int version = 1;
  std::string kernel;
  int cpus = 0;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  EventCounts events;
  std::vector<HardirqRow> hardirqs;
  std::vector<SoftirqRow> softirqs;
  std::vector<ThreadRow> threads;
  WindowSummary windows;
  bool windows_enabled = false;
  std::string cancel_spec, done_spec;
  uint64_t targets_exited = 0;
  // Rare x86 vectors (mnemonic -> count) that fired before their programs
  // were attached: counted from /proc/interrupts, without durations.
  std::map<std::string, uint64_t> untimed_vectors;
  bool interval = false;  // an --interval table, not the final one
  // Not output: the /proc/interrupts counts over the table's span that the
  // device rows were checked against, and the kernel's shared-slot IRQ, so
  // add_interval() checks the summed rows against the whole run at once.
  std::optional<DeviceIrqCounts> proc_irqs;
  int max_irq = 0;

  bool lossy() const {
    return events.dropped > 0 || events.late > 0 || events.missed > 0 || events.malformed > 0;
  }
};

}  // namespace irqlat
