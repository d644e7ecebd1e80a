// Command line of every irqlat command (SPEC section 3), parsed with CLI11.
//
//   irqlat trace  [TARGETS] [OPTIONS] [-- COMMAND [ARGS...]]
//   irqlat record [TARGETS] [OPTIONS] -o FILE [-- COMMAND...]
//   irqlat report FILE [OPTIONS]
//   irqlat daemon [--socket PATH] [--metrics ADDR:PORT]
//   irqlat ctl attach PID [--cancel SPEC --done SPEC] | detach PID | dump [--format F]
//              | status | reset
//
// Usage:
//   try { opts = parse_options(argc, argv, nr_cpus); }
//   catch (const HelpRequested& h) { std::cout << h.text(); return 0; }
//   catch (const UsageError& e) { std::cerr << "irqlat: " << e.what() << "\n"; return 2; }
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "parse.h"
#include "version.h"

namespace irqlat {

// --help or --version was given: print text() to stdout and exit 0.
// Deliberately not a std::runtime_error, so it is not taken for a failure.
class HelpRequested : public std::exception {
 public:
  explicit HelpRequested(std::string text) : text_(std::move(text)) {}
  const char* what() const noexcept override { return text_.c_str(); }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

enum class Command { None, Trace, Record, Report, Daemon, Ctl };
enum class OutputFormat { Table, Json, Csv };

const char* command_name(Command c);
const char* format_name(OutputFormat f);

struct Options {
  Command command = Command::None;

  // Targets (trace, record).
  std::vector<int> pids;                  // -p/--pid, repeatable, "1,2" too
  std::vector<int> tids;                  // -t/--tid
  std::vector<std::string> comms;         // --comm NAME (<= 15 chars)
  bool all = false;                       // -a/--all
  std::vector<std::string> command_argv;  // after the first bare "--"

  uint64_t duration_ns = 0;  // -d; 0 = until stopped
  uint64_t interval_ns = 0;  // -i; 0 = final tables only
  std::vector<int> cpus;     // -C LIST; empty = all CPUs

  // Cancellation windows: both kinds None when not requested. When --cancel
  // signal... is given alone, done is Exit and done_text is "exit".
  WindowSpec cancel, done;
  std::string cancel_text, done_text;
  uint64_t window_timeout_ns = 10'000'000'000ULL;  // --window-timeout

  OutputFormat format = OutputFormat::Table;  // -f
  std::string output;              // -o: tables (trace/report) or recording (record)
  bool compress_zstd = false;      // record --compress zstd (default zlib)
  int top = 5;                     // --top N, >= 1
  uint64_t window_list_cap = 100000;  // --max-windows N (0 = summary only)

  std::string input;  // report FILE

  // Whether these were given on the command line (report: override what the
  // recording says; record: print tables only when -f is given).
  bool format_given = false;
  bool window_timeout_given = false;
  bool max_windows_given = false;

  std::string socket_path = "/run/irqlat.sock";  // daemon, ctl: --socket
  std::string metrics_addr;                      // daemon: --metrics ADDR:PORT
  bool metrics_remote = false;   // --metrics-remote: allow a non-loopback ADDR
  std::string pidfile;           // --pidfile PATH
  std::string dump_on_exit;      // --dump-on-exit FILE (in --format)
  std::string log_file;          // --log FILE (SIGHUP reopens it); stderr if empty
  bool bpf_stats = false;        // --bpf-stats: turn kernel BPF run-time statistics on
  uint64_t client_timeout_ns = 10'000'000'000ULL;  // --client-timeout DUR
  int nice = -10;  // daemon --nice N: it must drain the ring buffer under the load it observes
  uint64_t ctl_timeout_ns = 5'000'000'000ULL;  // ctl --timeout DUR
  bool ctl_reset = false;        // ctl dump --reset

  // ctl: verb is attach, detach, dump, status or reset. ctl_pid is set for
  // attach/detach (and also in ctl_args[0] as text). attach's SPECs land in
  // cancel/done above; dump's --format in format.
  std::string ctl_verb;
  std::vector<std::string> ctl_args;
  int ctl_pid = 0;

  unsigned ringbuf_mb = 8;   // --ringbuf-size MB, a power of two 1..1024 (8: ~600 ms of the bench mix at 13 MB/s; it is mapped twice, so RSS grows by 2x)
  int verbose = 0;           // -v, repeatable

  bool windows_enabled() const { return cancel.kind != WindowSpec::None; }
  bool has_targets() const {
    return all || !pids.empty() || !tids.empty() || !comms.empty() || !command_argv.empty();
  }
};

// Parses and validates argv. nr_cpus bounds -C. Throws UsageError (one-line
// message, exit 2) or HelpRequested (exit 0).
Options parse_options(int argc, const char* const* argv, int nr_cpus);
inline Options parse_options(int argc, char** argv, int nr_cpus) {
  return parse_options(argc, static_cast<const char* const*>(argv), nr_cpus);
}

}  // namespace irqlat
