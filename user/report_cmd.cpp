// See report_cmd.h.
#include "user/report_cmd.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "user/output.h"
#include "user/recording.h"
#include "user/replay.h"

namespace irqlat {

int run_report(const Options& opts) {
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

  std::ofstream file;
  if (!opts.output.empty()) {
    file.open(opts.output, std::ios::out | std::ios::trunc);
    if (!file) throw UsageError("cannot write '" + opts.output + "': " + std::strerror(errno));
  }
  ReplayResult res = replay_recording(reader, ro);
  for (const std::string& w : res.warnings) fprintf(stderr, "irqlat: warning: %s\n", w.c_str());
  print_report(opts.output.empty() ? std::cout : file, res.report, opts);
  if (file.is_open() && !file) {
    fprintf(stderr, "irqlat: writing '%s' failed\n", opts.output.c_str());
    return 1;
  }
  return 0;
}

}  // namespace irqlat
