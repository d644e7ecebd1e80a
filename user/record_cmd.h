// `irqlat record`: trace like `trace` and save the raw event stream, the
// kernel's interrupt statistics and the run's metadata to -o FILE
// (docs/recording-format.md). With -f it also prints the final tables.
#pragma once

#include <string>
#include <vector>

#include "user/options.h"

namespace irqlat {

// argv: irqlat's own command line (stored in the recording's header).
// Returns the process exit status. Throws UsageError / LoaderError.
int run_record(const Options& opts, const std::vector<std::string>& argv);

}  // namespace irqlat
