// The kernel's own count of device interrupts (/proc/interrupts), read at
// the edges of a table's span: the cross-check of what the tracepoints saw.
// Each read is taken inside the span irqlat counts (after tracing starts,
// before it stops). The kernel counts an interrupt as its handler starts,
// irqlat as it ends, so at the end read at most one interrupt per IRQ and
// CPU can be counted by /proc and not yet by irqlat: beyond that one, a
// traced count below /proc's is a loss, not a timing artefact.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "user/report.h"

namespace irqlat {

// /proc/interrupts, or $IRQLAT_PROC_INTERRUPTS (tests feed a vector that
// cannot be raised on demand through it).
std::string read_proc_interrupts();

// Sum over CPUs of each named (non-numeric) /proc/interrupts row, e.g.
// {"LOC": 123, "ERR": 0}. Rows without counts are skipped (vector_watch.h).
std::map<std::string, uint64_t> parse_named_interrupts(std::string_view text);

// DeviceIrqCounts (report.h): device lines only (the numbered ones).
// The columns are the CPUs the header names ("CPU0 CPU2" when CPU 1 is offline).
DeviceIrqCounts parse_device_irq_counts(std::string_view text);
DeviceIrqCounts read_device_irq_counts();  // {} if /proc/interrupts is unreadable

// after - before per IRQ and CPU, only CPUs in `cpus` (empty: all). A line
// that appeared counts from 0; a CPU new on an old line (brought online)
// and a count that went back (an IRQ freed and requested again) count 0.
DeviceIrqCounts irq_count_delta(const DeviceIrqCounts& before, const DeviceIrqCounts& after,
                                const std::vector<int>& cpus);

// Sets proc_count on the device rows (per CPU, and the total over the CPUs
// in `delta`) and returns the interrupts /proc counted beyond the traced
// count and the one that may be in flight, summed per IRQ and CPU (IRQs
// with no row included). IRQs from max_irq up share one row, as they share
// one kernel slot (irq_tables.h).
uint64_t apply_proc_counts(std::vector<HardirqRow>& rows, const DeviceIrqCounts& delta, int max_irq);

}  // namespace irqlat
