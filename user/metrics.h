// The daemon's /metrics endpoint: Prometheus text exposition (format 0.0.4)
// rendered from the current tables and the daemon's own status. A pure
// function, so the HTTP server only has to serve the string.
#pragma once

#include <string>

#include "user/report.h"
#include "user/daemon_status.h"

namespace irqlat {

// /metrics body (Prometheus text format 0.0.4) from the daemon's current tables and its own status.
std::string render_metrics(const Report& r, const DaemonStatus& d);

}  // namespace irqlat
