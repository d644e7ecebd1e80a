// `irqlat trace`: live tracing, tables to stdout (or -o FILE).
#pragma once

#include "user/options.h"

namespace irqlat {

// Returns the process exit status. Throws UsageError / LoaderError.
int run_trace(const Options& opts);

}  // namespace irqlat
