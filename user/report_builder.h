// Builds a Report from its sources: the collector (target threads, windows,
// interrupts that hit targets) and the kernel's interrupt aggregates. Live
// tracing and offline `report` both call this, so they print the same tables
// for the same events.
#pragma once

#include <map>
#include <string>

#include "bpf/irqlat.h"
#include "user/collector.h"
#include "user/proc_interrupts.h"
#include "user/irq_tables.h"
#include "user/report.h"

namespace irqlat {

struct ReportInputs {
  std::string kernel;
  int cpus = 0;
  uint64_t start_ns = 0, end_ns = 0;
  uint64_t received = 0;   // records consumed
  kstats counters{};       // kernel side: drops, unmatched interrupt exits (all CPUs)
  uint64_t late = 0;       // reorder buffer
  uint64_t missed = 0;     // program runs the kernel skipped
  bool windows_enabled = false;
  std::string cancel_spec, done_spec;
  std::map<std::string, uint64_t> untimed_vectors;  // Report::untimed_vectors
  // /proc/interrupts' device counts over the span (live sessions only).
  std::optional<DeviceIrqCounts> proc_irqs;
};

// Names the collector's IRQs from the kernel stats, then fills every table.
Report build_report(const ReportInputs& in, const KernelIrqStats& irqs, Collector& collector);

}  // namespace irqlat
