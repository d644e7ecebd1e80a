// SIGINT/SIGTERM ask a command's main loop to stop. No SA_RESTART: the signal
// interrupts the ring-buffer wait at once, so stopping is not delayed by it.
#pragma once

namespace irqlat {

void install_stop_handlers();  // also ignores SIGPIPE (output to a closed pipe)
bool stop_requested();
// Once the counted interval is closed, the rest of a stop (drain, tables,
// detaching the programs) runs at nice -10: nothing is measured any more,
// and under load the kernel's program detach (text patching with IPIs)
// then finishes in ~5 ms instead of ~8. Best effort (needs CAP_SYS_NICE).
void boost_for_stop();

}  // namespace irqlat
