// See trace_cmd.h. The main loop: drain on a timer, print interval tables,
// stop on a signal, at --duration, or when every named target has exited.
#include "user/trace_cmd.h"

#include <signal.h>

#include <cstdio>
#include <thread>
#include <utility>

#include "user/heap_tuning.h"
#include "user/log.h"
#include "user/output.h"
#include "user/report_merge.h"
#include "user/session.h"
#include "user/stop_signal.h"

namespace irqlat {

int run_trace(const Options& opts) {
  tune_heap_for_live();
  ReportOutput output(opts.output);

  Session session(opts);
  install_stop_handlers();
  session.loader().set_wait_sigmask(stop_wait_mask());
  session.set_abort(stop_requested);
  session.start();
  fprintf(stderr, "irqlat: tracing %s; Ctrl-C to stop\n", printable(session.describe_targets()).c_str());
  session.release_command();

  // With --interval: the interval tables printed so far, added up; the
  // final tables add the last, partial interval and cover the whole run.
  Report run;

  const uint64_t start = session.start_ns();
  uint64_t next_interval = time_after(start, opts.interval_ns);
  const uint64_t deadline = time_after(start, opts.duration_ns);
  while (!stop_requested()) {
    uint64_t now = monotonic_ns();
    uint64_t wake = std::min(deadline, next_interval);
    int timeout_ms = kPumpMs;
    if (wake != UINT64_MAX && wake > now) timeout_ms = std::min<uint64_t>(kPumpMs, (wake - now) / 1'000'000 + 1);
    session.pump(wake <= now ? 0 : timeout_ms);
    now = monotonic_ns();
    if (now >= deadline) break;
    if (now >= next_interval) {
      const Report r = session.take_interval();
      output.print(r, opts);
      output.check();
      add_interval(run, r);
      next_interval = time_after(next_interval, opts.interval_ns);
    }
    if (session.targets_gone()) break;
  }
  session.pause();
  boost_for_stop();
  const uint64_t t0 = monotonic_ns();
  auto phase = [&](const char* what) {
    if (opts.verbose) fprintf(stderr, "irqlat: stop: %s at %.2f ms\n", what, (monotonic_ns() - t0) / 1e6);
  };
  session.stop_and_say();
  phase("records drained");
  // Tracing is off and drained: nothing the programs do counts any more.
  // Detaching them (a kernel text patch per tracepoint) overlaps with
  // building and printing the tables instead of following them.
  std::thread detacher([&session] { session.detach(); });
  Report report = session.report();
  if (run.end_ns != 0) {
    add_interval(run, report);
    report = std::move(run);
  }
  phase("tables built");
  output.print(report, opts);
  phase("tables printed");
  detacher.join();
  phase("programs detached");
  output.finish();
  return 0;
}

}  // namespace irqlat
