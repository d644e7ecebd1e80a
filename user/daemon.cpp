// See daemon.h.
#include "user/daemon.h"

#include <bpf/bpf.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "user/log.h"
#include "user/metrics.h"
#include "user/output.h"
#include "user/targets.h"

namespace irqlat {
namespace {

using nlohmann::json;

// How often attached targets are checked for exit or PID reuse.
constexpr uint64_t kTargetCheckNs = 250'000'000;

double wall_seconds() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

bool sysctl_bpf_stats_on() {
  std::ifstream f("/proc/sys/kernel/bpf_stats_enabled");
  int v = 0;
  return (f >> v) && v == 1;
}

std::string process_comm(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(f, comm);
  return comm;
}

}  // namespace

Daemon::Daemon(const Options& opts) : opts_(opts) {
  session_ = std::make_unique<Session>(opts_);
}

Daemon::~Daemon() {
  if (stats_fd_ >= 0) close(stats_fd_);
}

void Daemon::start() {
  if (opts_.bpf_stats) {
    // Held open, the fd keeps run_cnt/run_time_ns counting. Opt-in: they
    // cost two clock reads per program run, and releasing the fd at exit
    // patches every statistics site in the kernel (20-30 ms of the stop).
    stats_fd_ = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (stats_fd_ < 0) logf(LogLevel::Warn, "cannot enable BPF run-time statistics: {}", strerror(errno));
  }
  session_->start();
  start_ns_ = monotonic_ns();
  start_unix_s_ = wall_seconds();
}

int Daemon::ring_fd() const { return session_->loader().epoll_fd(); }

void Daemon::tick(int timeout_ms) {
  session_->pump(timeout_ms);
  const uint64_t now = monotonic_ns();
  if (now - last_check_ns_ < kTargetCheckNs) return;
  last_check_ns_ = now;
  for (Target& t : targets_) {
    if (t.info.state != "attached") continue;
    // Gone, or the PID now names another process: this target has exited.
    if (!alive(t.info.pid) || process_start_time(t.info.pid) != t.info.start_time)
      end_target(t, "exited");
  }
}

void Daemon::stop(bool final) {
  session_->pause();
  if (final) session_->stop();
}

Daemon::Target* Daemon::attached_target(int pid) {
  for (Target& t : targets_)
    if (t.info.pid == pid && t.info.state == "attached") return &t;
  return nullptr;
}

size_t Daemon::attached_count() const {
  size_t n = 0;
  for (const Target& t : targets_) n += t.info.state == "attached";
  return n;
}

void Daemon::end_target(Target& t, const char* state) {
  session_->detach_process(t.attached);
  t.info.state = state;
  t.info.ended_ns = monotonic_ns();
  logf(LogLevel::Info, "pid {} ({}) {}", t.info.pid, t.info.comm, state);
}

json Daemon::attach(const ControlRequest& r) {
  if (Target* old = attached_target(r.pid)) {
    if (process_start_time(r.pid) == old->info.start_time)
      throw ProtocolError("pid " + std::to_string(r.pid) + " is already attached");
    end_target(*old, "exited");  // the PID was reused before the check saw it
  }
  require_process(r.pid);
  const unsigned long long start_time = process_start_time(r.pid);
  Target t;
  t.attached = session_->attach_process(r.pid, r.cancel, r.done,
                                        r.window_timeout_ns ? r.window_timeout_ns
                                                            : opts_.window_timeout_ns);
  // The process may have exited and its PID been reused while attaching.
  if (process_start_time(r.pid) != start_time || start_time == 0) {
    session_->detach_process(t.attached);
    throw ProtocolError("pid " + std::to_string(r.pid) + " exited while attaching");
  }
  t.info.pid = r.pid;
  t.info.comm = process_comm(r.pid);
  t.info.exe = t.attached.exe;
  t.info.state = "attached";
  t.info.start_time = start_time;
  t.info.cancel_spec = t.attached.cancel_text;
  t.info.done_spec = t.attached.done_text;
  t.info.attached_ns = monotonic_ns();
  targets_.push_back(t);
  logf(LogLevel::Info, "attached pid {} ({}){}", t.info.pid, t.info.comm,
       t.info.cancel_spec.empty() ? std::string()
                                  : " windows " + t.info.cancel_spec + " -> " + t.info.done_spec);
  return json{{"target", target_json(t.info)}};
}

json Daemon::detach(int pid) {
  Target* t = attached_target(pid);
  if (!t) {
    // status still lists a target that exited or was detached (until reset).
    std::string state;
    for (const Target& g : targets_)
      if (g.info.pid == pid) state = g.info.state;
    throw ProtocolError("pid " + std::to_string(pid) + " is not attached" +
                        (state.empty() ? "" : " (" + state + "; its rows stay until reset)"));
  }
  end_target(*t, "detached");
  return json{{"target", target_json(t->info)}};
}

void Daemon::reset() {
  session_->reset_all();
  forget_gone_targets();
}

void Daemon::forget_gone_targets() {
  // Rows of targets that are gone went with the tables.
  std::erase_if(targets_, [](const Target& t) { return t.info.state != "attached"; });
  logf(LogLevel::Info, "tables reset");
}

std::string Daemon::dump(OutputFormat format, int top, bool reset) {
  Options o = opts_;
  o.format = format;
  o.top = top;
  // With reset, the tables are taken and zeroed at one instant, before
  // formatting: an interrupt during a long dump is in the next one. (If
  // formatting then fails, the client gets the error and those tables are
  // gone, as they would be after a reset.)
  const Report r = reset ? session_->take_and_reset() : session_->report();
  std::ostringstream out;
  print_report(out, r, o);
  return out.str();
}

std::string Daemon::metrics() {
  const Report r = session_->report();
  DaemonStatus s = status();
  s.kernel_irq_events = r.events.kernel_irq_events;
  return render_metrics(r, s);
}

DaemonStatus Daemon::status() const {
  DaemonStatus s;
  s.pid = getpid();
  s.version = IRQLAT_VERSION;
  s.attach_mode = session_->loader().uses_tp_btf() ? "tp_btf" : "raw_tp";
  s.start_ns = start_ns_;
  s.now_ns = monotonic_ns();
  s.start_unix_s = start_unix_s_;
  const ReportInputs in = session_->report_inputs();
  s.received = session_->received();
  s.dropped = in.counters.drops;
  s.late = in.late;
  s.missed = in.missed;
  s.rss_bytes = rss_bytes();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  s.cpu_user_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  s.cpu_system_s = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  s.bpf_stats = stats_fd_ >= 0 || sysctl_bpf_stats_on();
  s.programs = session_->loader().prog_stats();
  for (const Target& t : targets_) s.targets.push_back(t.info);
  if (control_) {
    s.clients = control_->clients();
    s.requests = control_->stats().requests;
  }
  s.bad_requests = bad_requests_;
  s.scrapes = scrapes_;
  return s;
}

std::string Daemon::handle(const std::string& line) {
  try {
    const ControlRequest r = parse_request(line);
    switch (r.verb) {
      case ControlRequest::Attach: return reply_ok(attach(r));
      case ControlRequest::Detach: return reply_ok(detach(r.pid));
      case ControlRequest::Dump: {
        json body{{"format", format_name(r.format)}, {"output", dump(r.format, r.top, r.reset)}};
        json targets = json::array();
        for (const Target& t : targets_) targets.push_back(target_json(t.info));
        body["targets"] = std::move(targets);
        if (r.reset) forget_gone_targets();
        return reply_ok(std::move(body));
      }
      case ControlRequest::Status: return reply_ok(json{{"status", status_json(status())}});
      case ControlRequest::Reset:
        reset();
        return reply_ok();
    }
  } catch (const nlohmann::json::exception& e) {
    // Not for the client: the library's text is not one clean line.
    bad_requests_++;
    logf(LogLevel::Debug, "request refused: {}", e.what());
    return reply_error("malformed request: expected one JSON object per line (see docs/daemon.md)");
  } catch (const std::exception& e) {
    bad_requests_++;
    logf(LogLevel::Debug, "request refused: {}", e.what());
    return reply_error(e.what());
  }
  return reply_error("unhandled request");
}

}  // namespace irqlat
