// Heap settings for the batch commands (report): fewer page faults.
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

}  // namespace irqlat
