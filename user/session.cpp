// See session.h.
#include "user/session.h"

#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include <cstdio>
#include <cstring>

#include "loader/elf_probe.h"
#include "user/irq_tables.h"
#include "user/log.h"
#include "user/report_builder.h"

namespace irqlat {

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + ts.tv_nsec;
}

namespace {

// A record reaches the ring buffer when its CPU's batch is flushed: within
// IRQLAT_BATCH_AGE_NS on a CPU with events, within a timer tick (4 ms at
// HZ=250) on one running a target in user space, at once before idle.
// Anything older than this margin before a drain started is in the buffer.
constexpr uint64_t kOrderMarginNs = 6'000'000;

std::string kernel_release() {
  utsname u;
  return uname(&u) == 0 ? u.release : "unknown";
}

// KernelIrqStats::stat over a Loader delta (absent elements: zeros). The
// delta must outlive the view.
std::function<const irq_stat&(uint32_t, int)> delta_view(const Loader::StatsDelta& d, int nr_cpus) {
  static const irq_stat kZero{};
  return [&d, nr_cpus](uint32_t slot, int cpu) -> const irq_stat& {
    const auto it = d.find(slot * static_cast<uint32_t>(nr_cpus) + static_cast<uint32_t>(cpu));
    return it == d.end() ? kZero : it->second;
  };
}

uint64_t signal_mask_of(const WindowSpec& s) {
  uint64_t mask = 0;
  if (s.kind == WindowSpec::Signal)
    for (int sig : s.signals)
      if (sig > 0 && sig < 64) mask |= 1ULL << sig;
  return mask;
}

}  // namespace

Session::Session(const Options& opts) : opts_(opts) {
  for (int pid : opts_.pids) {
    require_process(pid);
    watch_pids_.push_back(pid);
  }
  for (int tid : opts_.tids) {
    require_thread(tid);
    watch_tids_.push_back(tid);
  }
  if (!opts_.command_argv.empty()) resolve_command(opts_.command_argv[0]);
  setup_windows(opts_);
  // Only now is it known whether the target's binary has the default markers.
  if (opts_.window_timeout_given && !opts_.windows_enabled() && opts_.command != Command::Daemon)
    throw UsageError("--window-timeout without cancellation windows: give --cancel SPEC");

  LoaderConfig cfg;
  cfg.all = opts_.all;
  cfg.cpus = opts_.cpus;
  // The daemon's targets each have their own signals, filtered per process
  // in the collector; the kernel passes every signal sent to a target.
  const bool daemon = opts_.command == Command::Daemon;
  cfg.signal_mask = daemon ? ~0ULL : signal_mask_of(opts_.cancel);
  if (!opts_.comms.empty()) cfg.comm = opts_.comms.front();
  cfg.ringbuf_bytes = opts_.ringbuf_mb << 20;
  cfg.markers = daemon || !markers_.empty();
  // Windows need the timelines of their processes, and `record` saves the
  // event stream: both stream scheduler events. Otherwise the threads
  // tables are accounted in the kernel (the daemon streams per process).
  cfg.stream_all = opts_.command == Command::Record || (!daemon && opts_.windows_enabled());
  cfg.may_stream = cfg.stream_all || daemon;
  // A recording attaches every vector (it has no place for untimed counts);
  // trace and the daemon attach the rare ones when they first fire.
  cfg.lazy_rare_vectors = opts_.command != Command::Record;
  // The daemon streams only targets attached with windows: their programs
  // wait for the first one (attach_process).
  cfg.lazy_streaming = daemon;
  stream_all_ = cfg.stream_all;
  proc_check_ = opts_.command != Command::Record;
  cfg.verbose = opts_.verbose;
  loader_ = std::make_unique<Loader>(cfg);

  CollectorConfig cc;
  cc.windows = opts_.windows_enabled();
  cc.window_timeout_ns = opts_.window_timeout_ns;
  cc.window_list_cap = opts_.window_list_cap;
  cc.cancel_on_signal = opts_.cancel.kind == WindowSpec::Signal;
  cc.done_on_exit = opts_.done.kind == WindowSpec::Exit;
  collector_ = std::make_unique<Collector>(cc);
  loader_->set_sink([this](const void* d, size_t n) { feed(d, n); });
}

Session::~Session() = default;

// Turns --cancel/--done into uprobe/USDT attachments, checking now that every
// file, symbol and probe exists. With no --cancel, a target built with
// include/irqlat/probes.h gets usdt:irqlat:cancel / usdt:irqlat:done.
void Session::setup_windows(const Options& opts) {
  std::string exe;
  if (!opts.command_argv.empty())
    exe = resolve_command(opts.command_argv[0]);
  else if (!opts.pids.empty())
    exe = process_exe(opts.pids.front());
  else if (!opts.tids.empty())
    exe = process_exe(tgid_of_thread(opts.tids.front()));
  markers_ = resolve_markers(opts_.cancel, opts_.done, exe);
  if (opts_.cancel_text.empty()) opts_.cancel_text = opts_.cancel.text;
  if (opts_.done_text.empty()) opts_.done_text = opts_.done.text;
}

std::vector<MarkerAttach> Session::resolve_markers(WindowSpec& cancel, WindowSpec& done,
                                                   const std::string& exe) {
  if (cancel.kind == WindowSpec::None && !exe.empty() && elf_has_usdt(exe, "irqlat", "cancel") &&
      elf_has_usdt(exe, "irqlat", "done")) {
    cancel = parse_window_spec("usdt:irqlat:cancel", false);
    done = parse_window_spec("usdt:irqlat:done", true);
  }
  std::vector<MarkerAttach> out;
  for (const WindowSpec* s : {&cancel, &done}) {
    if (s->kind != WindowSpec::Uprobe && s->kind != WindowSpec::Usdt) continue;
    MarkerAttach m;
    m.which = s == &cancel ? MARK_CANCEL : MARK_DONE;
    m.path = s->path.empty() ? exe : s->path;
    if (m.path.empty())
      throw UsageError("'" + s->text + "' names no binary and there is no target executable: "
                       "give PATH in the spec");
    try {
      if (s->kind == WindowSpec::Uprobe) {
        m.kind = MarkerAttach::Uprobe;
        m.symbol = s->symbol;
        m.offset = s->offset;
        elf_symbol_file_offset(m.path, m.symbol, m.offset);
      } else {
        m.kind = MarkerAttach::Usdt;
        m.provider = s->provider;
        m.name = s->name;
        elf_require_usdt(m.path, m.provider, m.name);
      }
    } catch (const LoaderError& e) {
      throw UsageError(std::string("bad ") + (m.which == MARK_CANCEL ? "--cancel" : "--done") +
                       " '" + s->text + "': " + e.what());
    }
    out.push_back(m);
  }
  return out;
}

AttachedProcess Session::attach_process(int pid, const std::string& cancel_text,
                                        const std::string& done_text, uint64_t window_timeout_ns) {
  require_process(pid);
  AttachedProcess p;
  p.pid = pid;
  p.exe = process_exe(pid);
  WindowSpec cancel, done;
  parse_window_pair(cancel_text, done_text, cancel, done);
  std::vector<MarkerAttach> markers = resolve_markers(cancel, done, p.exe);
  p.cancel_text = cancel.text;
  p.done_text = done.text;

  // Kernel maps first (threads created from now on are added at fork), then
  // the markers, limited to this process. A process with windows streams.
  const bool stream = cancel.kind != WindowSpec::None;
  if (stream) loader_->attach_streaming();  // before the target, so none of its events is missed
  loader_->add_process(pid, TARGET_FOLLOW_THREADS | (stream ? TARGET_STREAM : 0));
  try {
    for (MarkerAttach& m : markers) {
      m.pid = pid;
      p.marker_handles.push_back(loader_->attach_marker(m));
    }
  } catch (...) {
    for (int h : p.marker_handles) loader_->detach_marker(h);
    loader_->remove_process(pid);
    throw;
  }
  for (const ThreadName& t : process_threads(pid)) collector_->set_comm(t.tid, pid, t.comm, !stream);
  if (cancel.kind != WindowSpec::None) {
    WindowRule r;
    r.enabled = true;
    r.cancel_signals = signal_mask_of(cancel);
    r.done_on_exit = done.kind == WindowSpec::Exit;
    r.timeout_ns = window_timeout_ns;
    collector_->set_window_rule(pid, r);
  }
  return p;
}

void Session::detach_process(const AttachedProcess& p) {
  loader_->remove_process(p.pid);
  // The last read of its kernel accounts (the kernel deletes them after it).
  refresh_kernel_threads();
  collector_->kernel_threads().detach(p.pid, monotonic_ns());
  for (int h : p.marker_handles) loader_->detach_marker(h);
  pending_detach_.emplace_back(p.pid, monotonic_ns());
}

void Session::reset_all() { take_and_reset(); }

void Session::start() {
  // Attach first, then add targets: the fork hook is live before threads are
  // enumerated, so no thread created meanwhile is missed.
  loader_->attach();
  for (const MarkerAttach& m : markers_) loader_->attach_marker(m);

  std::string text;
  auto add_process = [&](int pid, uint32_t flags) {
    loader_->add_process(pid, flags);
    for (const ThreadName& t : process_threads(pid))
      collector_->set_comm(t.tid, pid, t.comm, !stream_all_);
  };
  if (!opts_.command_argv.empty()) {
    command_ = std::make_unique<LaunchedCommand>(opts_.command_argv);
    add_process(command_->pid(), TARGET_FOLLOW_THREADS | TARGET_FOLLOW_CHILDREN);
    watch_pids_.push_back(command_->pid());
    text += "command " + opts_.command_argv[0] + " (pid " + std::to_string(command_->pid()) + ")";
  }
  for (int pid : opts_.pids) {
    add_process(pid, TARGET_FOLLOW_THREADS);
    text += (text.empty() ? "pid " : ", pid ") + std::to_string(pid);
  }
  for (int tid : opts_.tids) {
    int pid = tgid_of_thread(tid);
    loader_->add_thread(tid, pid, 0);
    for (const ThreadName& t : process_threads(pid))
      if (t.tid == tid) collector_->set_comm(tid, pid, t.comm, !stream_all_);
    text += (text.empty() ? "tid " : ", tid ") + std::to_string(tid);
  }
  for (const std::string& comm : opts_.comms) {
    for (int pid : processes_by_comm(comm)) add_process(pid, TARGET_FOLLOW_THREADS);
    text += (text.empty() ? "comm " : ", comm ") + comm;
  }
  if (opts_.all) text = "all tasks";
  target_text_ = text;
  if (auto lazy = loader_->lazy_vectors(); !lazy.empty())
    vector_watch_ = std::make_unique<VectorWatch>(std::move(lazy),
                                                  parse_named_interrupts(read_proc_interrupts()));
  start_ns_ = interval_start_ns_ = monotonic_ns();
  misses_at_start_ = loader_->recursion_misses();
  loader_->set_tracing(true);
  if (proc_check_) proc_start_ = read_device_irq_counts();  // after: inside what irqlat counts
}

void Session::release_command() {
  if (command_) command_->release();
}

void Session::feed(const void* data, size_t size) {
  received_++;
  if (!reorder_.push(data, size) && tap_) tap_(data, size);
}

void Session::deliver(const void* data, size_t size) {
  if (tap_) tap_(data, size);
  collector_->on_record(data, size);
}

void Session::pump(int timeout_ms) {
  uint64_t t0 = monotonic_ns();
  loader_->poll(timeout_ms);
  const uint64_t watermark = t0 - kOrderMarginNs;
  last_watermark_ = watermark;
  reorder_.release_until(watermark, [this](const void* d, size_t n) { deliver(d, n); });
  for (auto it = pending_detach_.begin(); it != pending_detach_.end();) {
    if (it->second > watermark) {
      ++it;
      continue;
    }
    collector_->advance(it->second);
    collector_->detach_process(it->first);
    it = pending_detach_.erase(it);
  }
  // Quiet targets still move time on: window timeouts fire, intervals close.
  collector_->advance(watermark);
  // Exited threads' final accounts wait in a bounded kernel map: collect them.
  if (t0 >= next_exited_harvest_) {
    loader_->take_exited_accts([this](const thread_acct& a) { collector_->kernel_threads().add_exited(a); });
    loader_->refresh_gate_if_stale();
    next_exited_harvest_ = t0 + kExitedHarvestNs;
  }
  if (vector_watch_ && vector_watch_->watching() && t0 >= next_vector_poll_) {
    for (const std::string& m : vector_watch_->fired(parse_named_interrupts(read_proc_interrupts())))
      loader_->attach_vector(m);
    next_vector_poll_ = t0 + kVectorPollNs;
  }
  reap_command();
}

void Session::pause() {
  if (paused_) return;
  paused_ = true;
  if (proc_check_) proc_end_ = read_device_irq_counts();  // before: inside what irqlat counts
  loader_->set_tracing(false);
  end_ns_ = monotonic_ns();
}

void Session::stop() {
  if (stopped_) return;
  pause();
  stopped_ = true;
  loader_->drain();
  reorder_.flush([this](const void* d, size_t n) { deliver(d, n); });
  for (const auto& [pid, ts] : pending_detach_) collector_->detach_process(pid);
  pending_detach_.clear();
  collector_->finish(end_ns_);
  refresh_kernel_threads();
  reap_command();
}

void Session::reap_command() {
  int st;
  if (command_ && !command_status_ && command_->reap(&st)) command_status_ = st;
}

void Session::stop_and_say() {
  fprintf(stderr, "irqlat: stopped tracing\n");
  stop();
  if (const std::string why = command_failure(); !why.empty()) fprintf(stderr, "irqlat: %s\n", why.c_str());
}

std::string Session::command_failure() const {
  if (!command_) return "";
  const std::string who = "command '" + printable(command_->path()) + "' (pid " + std::to_string(command_->pid()) + ")";
  // Stopped by --duration or a signal first: irqlat never kills what it
  // started, but says that it is still running untraced.
  if (!command_status_) return who + " is still running, no longer traced";
  const int st = *command_status_;
  if (WIFEXITED(st))
    return WEXITSTATUS(st) == 0 ? "" : who + " exited with status " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st))
    return who + " was killed by signal " + std::to_string(WTERMSIG(st)) + " (" + strsignal(WTERMSIG(st)) + ")";
  return "";
}

bool Session::targets_gone() {
  if (opts_.all || !opts_.comms.empty()) return false;
  if (command_ && !command_status_) return false;
  for (int pid : watch_pids_)
    if ((!command_ || pid != command_->pid()) && alive(pid)) return false;
  for (int tid : watch_tids_)
    if (alive(tid)) return false;
  return true;
}

ReportInputs Session::report_inputs() const {
  ReportInputs in;
  in.kernel = kernel_release();
  in.cpus = loader_->nr_cpus();
  in.start_ns = interval_start_ns_;
  in.end_ns = paused_ ? end_ns_ : monotonic_ns();
  in.received = received_;
  in.counters = loader_->kernel_counters();
  in.late = reorder_.late();
  in.missed = loader_->recursion_misses() - misses_at_start_ + in.counters.acct_failed;
  in.windows_enabled = opts_.windows_enabled();
  in.cancel_spec = opts_.cancel_text.empty() ? opts_.cancel.text : opts_.cancel_text;
  in.done_spec = opts_.done_text.empty() ? opts_.done.text : opts_.done_text;
  if (vector_watch_) in.untimed_vectors = vector_watch_->untimed();
  return in;
}

KernelIrqStats Session::kernel_irq_stats() const {
  KernelIrqStats ks;
  ks.nr_cpus = loader_->nr_cpus();
  ks.max_irq = loader_->max_irq();
  ks.stat = [this](uint32_t slot, int cpu) -> const irq_stat& { return loader_->stat(slot, cpu); };
  return ks;
}

void Session::refresh_kernel_threads() {
  if (stream_all_) return;
  KernelThreads& kt = collector_->kernel_threads();
  kt.set_live(loader_->read_thread_accts());
  loader_->take_exited_accts([&kt](const thread_acct& a) { kt.add_exited(a); });
}

DeviceIrqCounts Session::proc_now() const { return paused_ ? proc_end_ : read_device_irq_counts(); }

std::optional<DeviceIrqCounts> Session::proc_since_start() const {
  if (!proc_check_) return std::nullopt;
  const DeviceIrqCounts now = proc_now();
  // Unreadable at either end: no check (not every count "unseen").
  if (proc_start_.empty() || now.empty()) return std::nullopt;
  return irq_count_delta(proc_start_, now, opts_.cpus);
}

Report Session::report() {
  if (!stopped_) refresh_kernel_threads();  // stop() read the final accounts
  ReportInputs in = report_inputs();
  // Read before the kernel's counters are: /proc's span ends first.
  in.proc_irqs = proc_since_start();
  // Since the last take or reset, if any (trace -i's last table, the daemon).
  const Loader::StatsDelta since = loader_->stats_since_base();
  KernelIrqStats ks = kernel_irq_stats();
  ks.stat = delta_view(since, ks.nr_cpus);
  return build_report(in, ks, *collector_);
}

Report Session::take_interval() {
  Report r = take_tables();
  r.interval = true;
  return r;
}

Report Session::take_and_reset() {
  Report r = take_tables();
  collector_->reset_windows();
  return r;
}

Report Session::take_tables() {
  refresh_kernel_threads();
  ReportInputs in = report_inputs();
  // /proc read just before the counters are taken and just after: both
  // spans lie inside what the tables count.
  in.proc_irqs = proc_since_start();
  const Loader::StatsDelta stats = loader_->take_stats();
  if (proc_check_) proc_start_ = proc_now();
  KernelIrqStats ks = kernel_irq_stats();
  ks.stat = delta_view(stats, ks.nr_cpus);
  Report r = build_report(in, ks, *collector_);
  // No record is delivered while this runs, and the kernel accounts were
  // read once above (the new baselines are those same values): the
  // collector's tables restart exactly where this table ends.
  collector_->reset_tables();
  if (vector_watch_) vector_watch_->reset_untimed();
  interval_start_ns_ = in.end_ns;
  return r;
}

}  // namespace irqlat
