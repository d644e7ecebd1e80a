// See record_cmd.h. The trace main loop, with the session's tap writing every
// record as the collector gets it (and rejected ones as they arrive) into the
// recording, and the release points (watermarks) of the live pipeline written
// between them, so `report` replays exactly what the live collector saw.
#include "user/record_cmd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "loader/regular_file.h"
#include "user/heap_tuning.h"
#include "user/log.h"
#include "user/output.h"
#include "user/recording.h"
#include "user/replay.h"
#include "user/session.h"
#include "user/stop_signal.h"

namespace irqlat {
namespace {

// Interim interrupt statistics, so a file cut short still has tables.
constexpr uint64_t kStatsIntervalNs = 2'000'000'000;
// An events block is closed at least this often (bounds what a crash loses).
constexpr uint64_t kFlushIntervalNs = 1'000'000'000;


std::string read_line(const char* path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

// IRQ number -> device name(s) from /proc/interrupts (the last columns).
std::map<int, std::string> proc_irq_names(int ncpu) {
  std::map<int, std::string> out;
  std::ifstream f("/proc/interrupts");
  std::string line;
  std::getline(f, line);
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string label;
    in >> label;
    if (label.empty() || label.back() != ':') continue;
    label.pop_back();
    int irq;
    try {
      size_t used;
      irq = std::stoi(label, &used);
      if (used != label.size()) continue;
    } catch (const std::exception&) {
      continue;
    }
    std::string tok;
    for (int i = 0; i < ncpu && in >> tok; i++) {
    }
    std::string chip, hw, name, rest;
    in >> chip >> hw;
    std::getline(in, rest);
    const size_t b = rest.find_first_not_of(" \t");
    if (b != std::string::npos) name = rest.substr(b);
    if (!name.empty()) out[irq] = name;
  }
  return out;
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b < 10 * 1024)
    snprintf(buf, sizeof(buf), "%llu bytes", static_cast<unsigned long long>(b));
  else if (b < 10ull * 1024 * 1024)
    snprintf(buf, sizeof(buf), "%.1f KiB", b / 1024.0);
  else
    snprintf(buf, sizeof(buf), "%.1f MiB", b / (1024.0 * 1024));
  return buf;
}

}  // namespace

int run_record(const Options& opts, const std::vector<std::string>& argv) {
  tune_heap_for_live();
  // Unwritable output is a usage error, before anything is loaded.
  // Non-blocking open: a FIFO is refused at once instead of waited on.
  const RegularFile out = open_regular_file(opts.output, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out.fd < 0) throw UsageError("cannot write '" + opts.output + "': " + out.why());
  const int fd = out.fd;
  WriterOptions wo;
  wo.codec = opts.compress_zstd ? recfmt::kCodecZstd : recfmt::kCodecZlib;
  RecordingWriter writer(fd, opts.output, wo);
  // A run that fails before it records anything (bad PID, not root, ...)
  // leaves no file behind.
  struct RemoveOnError {
    const std::string& path;
    bool armed = true;
    ~RemoveOnError() {
      if (armed) ::unlink(path.c_str());
    }
  } remove_on_error{opts.output};

  Session session(opts);
  install_stop_handlers();
  session.loader().set_wait_sigmask(stop_wait_mask());
  session.set_abort(stop_requested);
  session.start();

  // Before any pump: the collector knows only the threads found in /proc.
  RecordingHeader h;
  {
    const Report r0 = session.report();
    for (const ThreadRow& t : r0.threads) h.threads.push_back({t.tid, t.pid, t.comm});
  }
  const ReportInputs in0 = session.report_inputs();
  const Options& so = session.options();  // with the default USDT windows filled in
  h.tool_version = IRQLAT_VERSION;
  h.kernel = in0.kernel;
  h.boot_id = read_line("/proc/sys/kernel/random/boot_id");
  h.cpus = session.nr_cpus();
  h.start_ns = session.start_ns();
  h.argv = argv;
  h.targets = session.describe_targets();
  h.windows_enabled = in0.windows_enabled;
  h.cancel_spec = in0.cancel_spec;
  h.done_spec = in0.done_spec;
  h.window_timeout_ns = so.window_timeout_ns;
  h.window_list_cap = so.window_list_cap;
  h.signal_mask = signal_mask_of_spec(so.cancel);
  h.stats_interval_ns = kStatsIntervalNs;
  h.irq_names = proc_irq_names(h.cpus);
  writer.write_header(h);
  remove_on_error.armed = false;

  session.set_tap([&writer](const void* d, size_t n) { writer.add_record(d, n); });
  fprintf(stderr, "irqlat: tracing %s; recording to %s; Ctrl-C to stop\n",
          printable(session.describe_targets()).c_str(), printable(opts.output).c_str());
  session.release_command();

  const uint64_t start = session.start_ns();
  const uint64_t deadline = time_after(start, opts.duration_ns);
  uint64_t next_stats = start + kStatsIntervalNs, next_flush = start + kFlushIntervalNs;
  std::string failure;
  while (!stop_requested()) {
    uint64_t now = monotonic_ns();
    const uint64_t wake = std::min(deadline, next_stats);
    int timeout_ms = kPumpMs;
    if (wake != UINT64_MAX && wake > now) timeout_ms = std::min<uint64_t>(kPumpMs, (wake - now) / 1'000'000 + 1);
    session.pump(wake <= now ? 0 : timeout_ms);
    writer.add_watermark(session.last_watermark());
    now = monotonic_ns();
    if (now >= deadline) break;
    if (now >= next_stats) {
      const ReportInputs in = session.report_inputs();
      writer.add_stats(session.kernel_irq_stats(), now, in.counters, in.missed, in.received, false);
      next_stats = now + kStatsIntervalNs;
      next_flush = now + kFlushIntervalNs;
    } else if (now >= next_flush) {
      writer.flush_events();
      next_flush = now + kFlushIntervalNs;
    }
    failure = writer.error();
    if (!failure.empty()) break;
    if (session.targets_gone()) break;
  }
  session.pause();
  boost_for_stop();
  session.stop_and_say();

  // One reading of the kernel's counters for both the file and the tables.
  const ReportInputs in = session.report_inputs();
  Report report = session.report();
  report.events.dropped = in.counters.drops;
  report.events.irq_unmatched = in.counters.irq_unmatched;
  report.events.missed = in.missed;
  if (failure.empty()) {
    try {
      writer.add_stats(session.kernel_irq_stats(), in.end_ns, in.counters, in.missed, in.received, true);
      writer.finish();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (!failure.empty()) {
    fprintf(stderr, "irqlat: %s\n", printable(failure).c_str());
    return 1;
  }
  const uint64_t bytes = writer.bytes_written(), events = writer.records();
  // Losses are said on the same line: a recording with holes must not look
  // whole to someone who only reads stderr.
  std::string lost;
  if (report.events.dropped > 0)
    lost += "; " + std::to_string(report.events.dropped) + " events dropped (ring buffer full)";
  if (report.events.missed > 0)
    lost += "; " + std::to_string(report.events.missed) + " program runs skipped by the kernel";
  if (!lost.empty()) lost += ": the recording is incomplete";
  fprintf(stderr, "irqlat: recorded %llu events to '%s': %s, %.1f bytes/event%s\n",
          static_cast<unsigned long long>(events), printable(opts.output).c_str(), human_bytes(bytes).c_str(),
          events ? static_cast<double>(bytes) / static_cast<double>(events) : 0.0, lost.c_str());
  if (opts.format_given) {
    ReportOutput out("");
    out.print(report, opts);
    out.finish();
  }
  return 0;
}

}  // namespace irqlat
