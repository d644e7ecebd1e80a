// Heap settings: fewer page faults for the batch command (report), a flat
// RSS for the live ones.
#pragma once

namespace irqlat {

// Keeps freed memory in the process and asks for transparent huge pages on
// the heap's first 64 MiB, so a report that builds tens of megabytes of windows and tables
// takes a few hundred page faults instead of thousands. On this project's
// VMs a fault costs microseconds (the guest's exception path), which was
// ~10% of `report`'s time. Best effort: every step may fail harmlessly.
// Not for the live commands: a huge page would count 2 MiB of RSS against
// the daemon's memory target for a few KiB used.
void tune_heap_for_batch();

// For the live commands (trace, record, daemon): a fixed mmap threshold of
// 128 KiB. Their big buffers are transient (every thread account read once a
// second, ~7.5 KB each); glibc's dynamic threshold rises to the size of the
// first one freed and then serves the rest from the heap, where the small
// long-lived allocations made between them (rows of exited threads) keep it
// from shrinking: RSS crept up by ~5 KB per exited thread. Fixed, they are
// mapped and unmapped (with 3,000 short-lived processes traced by `trace
// -a`: anonymous RSS +15.6 MB before, +0.7 MB after).
void tune_heap_for_live();

}  // namespace irqlat
