// `irqlat daemon`: load once, serve the control socket (and /metrics), stop
// cleanly on SIGTERM/SIGINT; SIGHUP reopens the log, SIGUSR1 dumps tables.
#pragma once

#include "user/options.h"

namespace irqlat {

// Returns only on a startup failure (throws); after a clean stop the process
// exits directly (see daemon_cmd.cpp for why).
int run_daemon(const Options& opts);

}  // namespace irqlat
