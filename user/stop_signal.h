// SIGINT/SIGTERM ask a command's main loop to stop. No SA_RESTART: the signal
// interrupts the ring-buffer wait at once, so stopping is not delayed by it.
#pragma once

namespace irqlat {

void install_stop_handlers();  // also ignores SIGPIPE (output to a closed pipe)
bool stop_requested();

}  // namespace irqlat
