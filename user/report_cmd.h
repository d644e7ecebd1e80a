// `irqlat report FILE`: the tables of a recording, as `trace` printed them live.
#pragma once

#include "user/options.h"

namespace irqlat {

// Returns the process exit status (0, also for a truncated recording, which
// gets a warning line on stderr). Throws UsageError for a bad file.
int run_report(const Options& opts);

}  // namespace irqlat
