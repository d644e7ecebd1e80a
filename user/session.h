// A tracing session: the loaded BPF programs, the ring buffer -> time order
// -> collector pipeline, and the report built from it. Shared by `trace`
// (and later `record` and the daemon).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loader/loader.h"
#include "user/collector.h"
#include "user/options.h"
#include "user/proc_interrupts.h"
#include "user/reorder.h"
#include "user/report_builder.h"
#include "user/report.h"
#include "user/targets.h"
#include "user/vector_watch.h"

namespace irqlat {

uint64_t monotonic_ns();
// start + span, or UINT64_MAX (never) for a span of 0 or one that would
// wrap (a --duration near 2^64 ns must not end the trace at once).
inline uint64_t time_after(uint64_t start, uint64_t span) {
  return span == 0 || start > UINT64_MAX - span ? UINT64_MAX : start + span;
}

// How often trace/record drain the ring buffer (BPF_RB_NO_WAKEUP only wakes
// them at 1/4 full). Short, so the backlog a stop must still process, and
// with it the stop time, stays small under load.
constexpr int kPumpMs = 20;

// A process attached at run time (daemon): what detach_target undoes.
struct AttachedProcess {
  int pid = 0;
  std::string exe;
  std::string cancel_text, done_text;  // empty: no windows
  std::vector<int> marker_handles;
};

class Session {
 public:
  // Validates targets and window specs (UsageError), loads the programs
  // (LoaderError). Nothing is attached yet.
  explicit Session(const Options& opts);
  ~Session();

  // Adds targets, attaches every program and marker. After this returns no
  // event of a target is missed.
  void start();
  // Lets a `-- COMMAND` child exec (call after printing the tracing line).
  void release_command();

  // Drains the ring buffer (waiting up to timeout_ms) and feeds the collector
  // every record old enough to be in order.
  void pump(int timeout_ms);
  // Closes the counted interval at once (programs stay attached: detaching
  // sends IPIs an observer would count). Then stop() drains what is left and
  // closes open windows.
  void pause();
  void stop();
  // trace and record: "irqlat: stopped tracing" on stderr, stop(), then
  // command_failure() when there is one.
  void stop_and_say();
  // A pump's drain stops early when this returns true (a stop request):
  // the rest is drained by stop().
  void set_abort(std::function<bool()> abort) { loader_->set_abort(std::move(abort)); }
  // Detaches every program (the command is done; the destructor would too).
  void detach() { loader_->detach(); }

  // True when every target the user named has exited (never for -a/--comm).
  bool targets_gone();

  // Daemon: attaches a running process (all its threads, later ones too)
  // with its own window specs, parsed from text ("" = none, or the default
  // usdt:irqlat:* when the binary has them). Throws UsageError/LoaderError
  // and then leaves nothing attached.
  // window_timeout_ns 0: the session's --window-timeout.
  AttachedProcess attach_process(int pid, const std::string& cancel, const std::string& done,
                                 uint64_t window_timeout_ns = 0);
  // Stops tracing it; its rows stay (marked detached) and an open window
  // closes as unfinished "detached" once the records before now are in.
  void detach_process(const AttachedProcess& p);
  // ctl reset: take_and_reset() without the tables.
  void reset_all();
  uint64_t received() const { return received_; }
  Loader& loader() { return *loader_; }
  // How `-- COMMAND` ended when that was not a clean exit ("exited with
  // status 3", "was killed by signal 9 (Killed)"), or that it is still
  // running (the trace stopped first; irqlat leaves it running); "" if it
  // exited with 0. Tables of a failed run look like any others, so trace and
  // record say it.
  std::string command_failure() const;

  Report report();       // tables so far
  ReportInputs report_inputs() const;
  // The kernel's live aggregates, cumulative since the start (record's
  // statistics blocks; report() and take_interval() subtract the baseline
  // of the last take or reset).
  KernelIrqStats kernel_irq_stats() const;  // valid while the session lives
  // The tables since the last call (or the start), then every per-interval
  // aggregate restarted at the same instant: no interrupt or thread time
  // falls between two interval tables, or in both (the kernel's counters
  // are read once each and kept as the next table's baseline, see
  // Loader::take_stats).
  Report take_interval();
  // dump --reset: the tables so far, window samples included, then all of
  // them zeroed as take_interval() zeroes its aggregates. Open windows
  // carry over.
  Report take_and_reset();

  // For `record`: every record as the collector gets it (in delivery order:
  // time-ordered except late records, so a replay needs no reordering), and
  // at arrival every record of a size the pipeline rejects (counted, never
  // delivered).
  void set_tap(std::function<void(const void*, size_t)> tap) { tap_ = std::move(tap); }
  const Options& options() const { return opts_; }
  int nr_cpus() const { return loader_->nr_cpus(); }

  uint64_t start_ns() const { return start_ns_; }
  // Where the last pump() released records up to (`record` stores it).
  uint64_t last_watermark() const { return last_watermark_; }
  const std::string& describe_targets() const { return target_text_; }

 private:
  void feed(const void* data, size_t size);
  // take_interval() without the interval mark.
  Report take_tables();
  // /proc/interrupts now, or as it was when the session paused; and the
  // device counts since the current table began (nullopt: not checked).
  DeviceIrqCounts proc_now() const;
  std::optional<DeviceIrqCounts> proc_since_start() const;
  // Reads the kernel-accounted threads' accounts into the collector.
  void refresh_kernel_threads();
  void setup_windows(const Options& opts);
  // Default usdt:irqlat:* specs for exe, then one MarkerAttach per
  // uprobe/USDT spec, each checked against its binary (throws UsageError).
  static std::vector<MarkerAttach> resolve_markers(WindowSpec& cancel, WindowSpec& done,
                                                   const std::string& exe);

  Options opts_;
  std::unique_ptr<Loader> loader_;
  std::unique_ptr<LaunchedCommand> command_;
  Reorderer reorder_;
  void deliver(const void* data, size_t size);  // the tap, then the collector
  std::unique_ptr<Collector> collector_;
  std::vector<MarkerAttach> markers_;
  std::function<void(const void*, size_t)> tap_;
  std::vector<int> watch_pids_;  // -p and the command: stop when all are gone
  std::vector<int> watch_tids_;  // -t
  std::optional<int> command_status_;  // waitpid() status, once reaped
  void reap_command();                 // sets command_status_ if it has ended
  std::string target_text_;
  uint64_t start_ns_ = 0, interval_start_ns_ = 0, end_ns_ = 0;
  uint64_t received_ = 0;
  uint64_t misses_at_start_ = 0;
  uint64_t last_watermark_ = 0;
  // Detached processes whose rows retire once the watermark passes the time.
  std::vector<std::pair<int, uint64_t>> pending_detach_;
  bool paused_ = false, stopped_ = false;
  bool stream_all_ = false;  // no target is accounted in the kernel
  static constexpr uint64_t kExitedHarvestNs = 1'000'000'000;
  uint64_t next_exited_harvest_ = 0;
  // Rare vectors attached on first sight (null: none left to watch).
  std::unique_ptr<VectorWatch> vector_watch_;
  static constexpr uint64_t kVectorPollNs = 250'000'000;
  uint64_t next_vector_poll_ = 0;
  // /proc/interrupts' device counts when the current table began, and when
  // the session paused.
  DeviceIrqCounts proc_start_, proc_end_;
  // Not for record: a recording's tables are what `report` rebuilds from
  // it, and the file has no place for /proc's counts.
  bool proc_check_ = true;
};

}  // namespace irqlat
