// See report_cmd.h.
#include "user/report_cmd.h"

#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "user/heap_tuning.h"
#include "user/log.h"
#include "user/output.h"
#include "user/recording.h"
#include "user/replay.h"

namespace irqlat {

int run_report(const Options& opts) {
  tune_heap_for_batch();
  RecordingReader reader(open_file_source(opts.input), opts.input);

  ReplayOptions ro;
  if (opts.windows_enabled()) {
    ro.override_windows = true;
    ro.cancel = opts.cancel;
    ro.done = opts.done;
    ro.cancel.text = opts.cancel_text.empty() ? opts.cancel.text : opts.cancel_text;
    ro.done.text = opts.done_text.empty() ? opts.done.text : opts.done_text;
  }
  if (opts.window_timeout_given) ro.window_timeout_ns = opts.window_timeout_ns;
  if (opts.max_windows_given) ro.window_list_cap = opts.window_list_cap;

  // -o naming the recording itself would truncate it before it is read.
  struct stat in, out;
  if (!opts.output.empty() && stat(opts.input.c_str(), &in) == 0 && S_ISREG(in.st_mode) &&
      stat(opts.output.c_str(), &out) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
    throw UsageError("-o '" + opts.output + "' is the recording being read");
  ReportOutput output(opts.output);
  ReplayResult res = replay_recording(reader, ro);
  // Cut before its first events or statistics block: there are no tables to
  // print, and empty ones would read as a quiet run.
  if (!res.summary.complete && res.summary.records == 0 && !res.summary.stats)
    throw UsageError("'" + opts.input + "': truncated after block " + std::to_string(res.summary.blocks) +
                     ", before any events or statistics");
  for (const std::string& w : res.warnings) fprintf(stderr, "irqlat: warning: %s\n", printable(w).c_str());
  output.print(res.report, opts);
  output.finish();
  return 0;
}

}  // namespace irqlat
