// Offline analysis of a recording: feeds the recorded records to a Collector
// exactly as the live session did (same records in the same order, same
// release points; format 3 stores them in delivery order, older formats are
// put back in order as the live Reorderer did), then builds the Report with
// build_report() from the recorded kernel statistics. Used by `irqlat report`, the tests, the fuzzer
// and the benchmark.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "user/parse.h"
#include "user/recording.h"
#include "user/report.h"

namespace irqlat {

// Overrides of the recorded window options (report --cancel/--done/...).
struct ReplayOptions {
  bool override_windows = false;  // use cancel/done below instead of the recorded specs
  WindowSpec cancel, done;
  std::optional<uint64_t> window_timeout_ns;
  std::optional<uint64_t> window_list_cap;
};

struct ReplayResult {
  Report report;
  RecordingSummary summary;
  std::vector<std::string> warnings;  // one line each (truncation, ...)
};

// Reads the rest of the recording. Throws UsageError for a corrupt file or
// for an override the recording cannot answer (e.g. --cancel signal:INT on
// a recording without SIGINT records).
ReplayResult replay_recording(RecordingReader& reader, const ReplayOptions& opts = {});

// Kernel signal mask a --cancel spec needs (bit n: signal n), as the session sets it.
uint64_t signal_mask_of_spec(const WindowSpec& s);

}  // namespace irqlat
