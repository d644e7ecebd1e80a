// SIGINT/SIGTERM ask a command's main loop to stop. No SA_RESTART: the signal
// interrupts the ring-buffer wait at once, so stopping is not delayed by it.
#pragma once

#include <signal.h>

namespace irqlat {

// Also ignores SIGPIPE (output to a closed pipe), and blocks SIGINT/SIGTERM
// everywhere but in waits that use stop_wait_mask().
void install_stop_handlers();
bool stop_requested();
// The signal mask to wait with (SIGINT/SIGTERM deliverable), or nullptr
// before install_stop_handlers().
const sigset_t* stop_wait_mask();
// Once the counted interval is closed, the rest of a stop (drain, tables,
// detaching the programs) runs at SCHED_FIFO priority 1 (nice -10 if that
// is refused): nothing is measured any more, and under load the stop then
// never waits behind the workload for a CPU. Best effort (CAP_SYS_NICE).
void boost_for_stop();

}  // namespace irqlat
