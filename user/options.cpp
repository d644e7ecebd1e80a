#include "options.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <sstream>
#include <tuple>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace irqlat {

const char* command_name(Command c) {
  switch (c) {
    case Command::Trace: return "trace";
    case Command::Record: return "record";
    case Command::Report: return "report";
    case Command::Daemon: return "daemon";
    case Command::Ctl: return "ctl";
    case Command::None: break;
  }
  return "none";
}

const char* format_name(OutputFormat f) {
  switch (f) {
    case OutputFormat::Table: return "table";
    case OutputFormat::Json: return "json";
    case OutputFormat::Csv: return "csv";
  }
  return "table";
}

namespace {

constexpr const char* kSpecHelp =
    "SPEC (--cancel / --done):\n"
    "  signal[:SIG[,SIG]]          a signal is generated for the target (default TERM,INT); cancel only\n"
    "  uprobe:[PATH:]SYMBOL[+OFF]  the function is entered; PATH defaults to the target's executable,\n"
    "                              Go symbols work: uprobe:context.(*cancelCtx).cancel\n"
    "  usdt:[PATH:]PROVIDER:NAME   the USDT probe fires, e.g. usdt:irqlat:cancel\n"
    "  exit                        the target process has exited; done only\n"
    "  --cancel signal alone implies --done exit.\n";

constexpr const char* kTargetHelp =
    "TARGETS: -p PID, -t TID, --comm NAME (repeatable), -a (system-wide), or -- COMMAND [ARGS...]\n";

// Raw option strings; converted and validated after CLI11 has parsed, so
// every message is ours and names the bad input.
struct Raw {
  std::vector<std::string> pids, tids, comms;
  std::string duration, interval, cpus, cancel, done, window_timeout, format, top, max_windows,
      ringbuf, input, socket, metrics, compress, ctl_pid, pidfile, dump_on_exit, log_file, ctl_timeout, client_timeout, nice;
  // Every CLI11 Option bound to each value (one per subcommand that has it).
  using Opts = std::vector<CLI::Option*>;
  bool bpf_stats = false, no_bpf_stats = false;
  Opts duration_opt, interval_opt, cpus_opt, cancel_opt, done_opt, window_timeout_opt, format_opt,
      top_opt, max_windows_opt, ringbuf_opt, socket_opt, metrics_opt, pidfile_opt,
      dump_on_exit_opt, log_opt, ctl_timeout_opt, client_timeout_opt, nice_opt, compress_opt;
};

bool given(const Raw::Opts& opts) {
  return std::any_of(opts.begin(), opts.end(), [](const CLI::Option* o) { return o->count() > 0; });
}

void track(Raw::Opts& slot, CLI::Option* o) { slot.push_back(o); }

std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (size_t p; (p = s.find('\n')) != std::string::npos;) s.replace(p, 1, "; ");
  return s;
}

template <typename T>
bool to_uint(const std::string& s, T& out) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

void add_verbose(CLI::App* sub, Options& o) {
  sub->add_flag("-v,--verbose", o.verbose, "More diagnostics on stderr (repeat for more)");
}

void add_targets(CLI::App* sub, Options& o, Raw& r) {
  // Lists are split in parse_targets(), which refuses empty items (CLI11's
  // delimiter drops them silently).
  sub->add_option("-p,--pid", r.pids, "Trace every thread of process PID (repeatable, or 1,2)")
      ->allow_extra_args(false)
      ->type_name("PID");
  sub->add_option("-t,--tid", r.tids, "Trace thread TID (repeatable)")
      ->allow_extra_args(false)
      ->type_name("TID");
  sub->add_option("--comm", r.comms, "Trace processes whose comm is NAME (repeatable)")
      ->allow_extra_args(false)
      ->type_name("NAME");
  sub->add_flag("-a,--all", o.all, "Trace system-wide");
}

void add_collection(CLI::App* sub, Raw& r) {
  track(r.duration_opt, sub->add_option("-d,--duration", r.duration,
                                        "Stop after DUR (10s, 500ms, 2m; default: until Ctrl-C "
                                        "or all targets exited)")
                            ->type_name("DUR"));
  track(r.cpus_opt,
        sub->add_option("-C,--cpu", r.cpus, "Only these CPUs (0,2,5-7)")->type_name("LIST"));
  track(r.cancel_opt, sub->add_option("--cancel", r.cancel, "Cancel event SPEC: opens a window")
                          ->type_name("SPEC"));
  track(r.done_opt,
        sub->add_option("--done", r.done, "Done event SPEC: closes a window")->type_name("SPEC"));
  track(r.window_timeout_opt,
        sub->add_option("--window-timeout", r.window_timeout,
                        "A window without a done event after DUR is unfinished (default 10s)")
            ->type_name("DUR"));
  track(r.ringbuf_opt, sub->add_option("--ringbuf-size", r.ringbuf,
                                       "Ring buffer size in MB, a power of two (default 8)")
                           ->type_name("MB"));
}

void add_presentation(CLI::App* sub, Options& o, Raw& r, bool interval) {
  if (interval) {
    track(r.interval_opt,
          sub->add_option("-i,--interval", r.interval, "Also print tables every DUR")
              ->type_name("DUR"));
  }
  track(r.format_opt, sub->add_option("-f,--format", r.format, "Output format: table, json, csv")
                          ->type_name("FORMAT"));
  sub->add_option("-o,--output", o.output, "Write the tables to FILE instead of stdout")
      ->type_name("FILE");
  track(r.top_opt,
        sub->add_option("--top", r.top, "Itemize the N worst windows (default 5)")->type_name("N"));
  track(r.max_windows_opt,
        sub->add_option("--max-windows", r.max_windows,
                        "Keep at most N samples in windows.list (default 100000)")
            ->type_name("N"));
}

void parse_format(const Raw& r, Options& o) {
  if (!given(r.format_opt)) return;
  if (r.format == "table") o.format = OutputFormat::Table;
  else if (r.format == "json") o.format = OutputFormat::Json;
  else if (r.format == "csv") o.format = OutputFormat::Csv;
  else throw UsageError(fmt::format("invalid --format '{}': expected table, json or csv", r.format));
}

uint64_t parse_duration_opt(const char* flag, const std::string& s) {
  try {
    return parse_duration_ns(s);
  } catch (const UsageError& e) {
    throw UsageError(fmt::format("{}: {}", flag, e.what()));
  }
}

void parse_presentation(const Raw& r, Options& o) {
  parse_format(r, o);
  o.format_given = given(r.format_opt);
  o.max_windows_given = given(r.max_windows_opt);
  if (given(r.interval_opt)) o.interval_ns = parse_duration_opt("--interval", r.interval);
  if (given(r.top_opt)) {
    int top = 0;
    if (!to_uint(r.top, top) || top < 1) {
      throw UsageError(fmt::format("invalid --top '{}': expected an integer from 1 to {}", r.top,
                                   std::numeric_limits<int>::max()));
    }
    o.top = top;
  }
  if (given(r.max_windows_opt) && !to_uint(r.max_windows, o.window_list_cap)) {
    throw UsageError(
        fmt::format("invalid --max-windows '{}': expected an integer >= 0", r.max_windows));
  }
  if (given(r.max_windows_opt) && o.window_list_cap > 100'000'000ULL) {
    throw UsageError(fmt::format("invalid --max-windows '{}': at most 100000000", r.max_windows));
  }
}

// --cancel / --done pairing rules; `target_process` says whether there is a
// process to watch (not just -a).
void parse_windows(const Raw& r, Options& o, bool target_process) {
  const bool has_cancel = given(r.cancel_opt);
  // An empty SPEC given explicitly is an error, not "not given".
  if (has_cancel && r.cancel.empty()) parse_window_spec(r.cancel, false);
  if (given(r.done_opt) && r.done.empty()) parse_window_spec(r.done, true);
  parse_window_pair(r.cancel, r.done, o.cancel, o.done);
  o.cancel_text = o.cancel.text;
  o.done_text = o.done.text;
  if (has_cancel && !target_process) {
    throw UsageError(
        "--cancel needs a target process (-p PID, -t TID, --comm NAME or -- COMMAND), not -a");
  }
  // Without --cancel it still applies: targets built with the irqlat USDT
  // markers get windows by default.
  if (given(r.window_timeout_opt)) {
    if (o.all) throw UsageError("--window-timeout needs a target process, not -a");
    o.window_timeout_ns = parse_duration_opt("--window-timeout", r.window_timeout);
    o.window_timeout_given = true;
  }
}

// "1,2" or "1": each item a PID (what = "PID" or "TID"), none empty.
void add_id_list(const std::string& list, const char* what, std::vector<int>& out) {
  size_t from = 0;
  for (;;) {
    const size_t comma = list.find(',', from);
    const std::string item = list.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    if (item.empty())
      throw UsageError(fmt::format("invalid {} list '{}': empty item", what, list));
    const int id = parse_pid(item, what);
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    if (comma == std::string::npos) return;
    from = comma + 1;
  }
}

void parse_targets(const Raw& r, Options& o, const char* cmd) {
  for (const auto& s : r.pids) add_id_list(s, "PID", o.pids);
  for (const auto& s : r.tids) add_id_list(s, "TID", o.tids);
  for (const auto& c : r.comms) {
    if (c.empty()) throw UsageError("invalid --comm '': empty name");
    if (c.size() > 15) {
      throw UsageError(fmt::format(
          "invalid --comm '{}': longer than 15 characters, the kernel keeps only '{}'", c,
          c.substr(0, 15)));
    }
    if (std::find(o.comms.begin(), o.comms.end(), c) == o.comms.end()) o.comms.push_back(c);
  }
  const bool others = !o.pids.empty() || !o.tids.empty() || !o.comms.empty() ||
                      !o.command_argv.empty();
  if (o.all && others) {
    throw UsageError("-a/--all traces every process and cannot be combined with -p, -t, "
                     "--comm or -- COMMAND");
  }
  if (!o.all && !others) {
    throw UsageError(fmt::format(
        "{} needs a target: -p PID, -t TID, --comm NAME, -a, or -- COMMAND [ARGS...]", cmd));
  }
}

void parse_ringbuf(const Raw& r, Options& o) {
  if (!given(r.ringbuf_opt)) return;
  unsigned mb = 0;
  if (!to_uint(r.ringbuf, mb) || mb == 0 || mb > 1024 || (mb & (mb - 1)) != 0) {
    throw UsageError(fmt::format(
        "invalid --ringbuf-size '{}': expected a power of two between 1 and 1024 (MB)", r.ringbuf));
  }
  o.ringbuf_mb = mb;
}

void parse_metrics(const Raw& r, Options& o) {
  if (!given(r.metrics_opt)) return;
  const std::string& a = r.metrics;
  const auto bad = [&] {
    return UsageError(fmt::format(
        "invalid --metrics '{}': expected ADDR:PORT, e.g. 127.0.0.1:9100, [::1]:9100 or :9100", a));
  };
  const size_t colon = a.rfind(':');
  if (colon == std::string::npos) throw bad();
  unsigned port = 0;
  if (!to_uint(a.substr(colon + 1), port) || port == 0 || port > 65535) throw bad();
  const std::string host = a.substr(0, colon);
  if (host.find_first_of(" \t/") != std::string::npos) throw bad();
  if (host.find(':') != std::string::npos &&
      (host.size() < 2 || host.front() != '[' || host.back() != ']')) {
    throw bad();  // IPv6 needs brackets
  }
  o.metrics_addr = a;
}

// Only IP literals in 127.0.0.0/8, [::1] (in any spelling) and
// "localhost". A host name that merely starts with "127." (127.example.com)
// is not loopback; an empty host means every address.
bool metrics_is_loopback(const std::string& addr) {
  const std::string host = addr.substr(0, addr.rfind(':'));
  if (host == "localhost") return true;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    in6_addr a6{};
    return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a6) == 1 &&
           IN6_IS_ADDR_LOOPBACK(&a6);
  }
  in_addr a4{};  // inet_pton: exactly four decimal parts, nothing after
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

void parse_socket(const Raw& r, Options& o) {
  if (!given(r.socket_opt)) return;
  if (r.socket.empty()) throw UsageError("invalid --socket '': empty path");
  if (r.socket.size() >= 108) {  // sizeof(sockaddr_un::sun_path)
    throw UsageError(fmt::format("invalid --socket '{}': longer than 107 bytes", r.socket));
  }
  o.socket_path = r.socket;
}

}  // namespace

Options parse_options(int argc, const char* const* argv, int nr_cpus) {
  Options o;
  Raw r;

  // Everything after the first bare "--" is the command to start.
  std::vector<const char*> head;
  int split = argc;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::string_view(argv[i]) == "--") {
      split = i;
      break;
    }
    head.push_back(argv[i]);
  }
  const bool has_dashdash = split < argc;
  for (int i = split + 1; i < argc; ++i) o.command_argv.emplace_back(argv[i]);
  if (head.empty()) head.push_back("irqlat");
  if (head.size() == 1) {
    throw UsageError(
        "no command given: expected trace, record, report, daemon or ctl (see irqlat --help)");
  }

  const std::string_view first = head[1];
  static constexpr std::string_view kCommands[] = {"trace", "record", "report", "daemon", "ctl"};
  if (!first.empty() && first[0] != '-' &&
      std::find(std::begin(kCommands), std::end(kCommands), first) == std::end(kCommands)) {
    throw UsageError(fmt::format(
        "unknown command '{}': expected trace, record, report, daemon or ctl", first));
  }

  if (!first.empty() && first[0] == '-' && first != "-h" && first != "--help" &&
      first != "--version") {
    throw UsageError(fmt::format(
        "unexpected option '{}' before the command: expected trace, record, report, daemon or ctl",
        first));
  }

  CLI::App app{"irqlat: interrupt and scheduling latency tracer (eBPF)", "irqlat"};
  app.set_version_flag("--version", std::string("irqlat ") + IRQLAT_VERSION);
  app.require_subcommand(1, 1);
  app.footer(std::string("Run irqlat COMMAND --help for the options of a command.\n\n") +
             kTargetHelp + "\n" + kSpecHelp);

  auto* trace = app.add_subcommand("trace", "Trace live and print tables at the end");
  add_targets(trace, o, r);
  add_collection(trace, r);
  add_presentation(trace, o, r, true);
  add_verbose(trace, o);
  trace->footer(std::string("Synopsis: irqlat trace [TARGETS] [OPTIONS] [-- COMMAND [ARGS...]]\n\n") +
                kTargetHelp + "\n" + kSpecHelp +
                "\nExamples:\n"
                "  irqlat trace -p 1234 -d 10s\n"
                "  irqlat trace --cancel usdt:irqlat:cancel --done usdt:irqlat:done -- ./app\n"
                "  irqlat trace -a -C 0-1 -f json -o irq.json -d 5s\n");

  auto* record = app.add_subcommand("record", "Save the event stream to FILE (zlib- or zstd-compressed)");
  add_targets(record, o, r);
  add_collection(record, r);
  record->add_option("-o,--output", o.output, "Recording FILE (required)")->type_name("FILE");
  track(r.compress_opt, record->add_option("--compress", r.compress,
                                           "Block compression: zlib (default) or zstd (decompresses ~1.5x "
                                           "faster)")
                            ->type_name("CODEC"));
  track(r.format_opt,
        record->add_option("-f,--format", r.format,
                           "Also print the final tables to stdout: table, json, csv")
            ->type_name("FORMAT"));
  track(r.top_opt, record->add_option("--top", r.top, "Itemize the N worst windows (default 5)")
                       ->type_name("N"));
  track(r.max_windows_opt,
        record->add_option("--max-windows", r.max_windows,
                           "Keep at most N samples in windows.list (default 100000)")
            ->type_name("N"));
  add_verbose(record, o);
  record->footer(std::string("Synopsis: irqlat record [TARGETS] [OPTIONS] -o FILE [-- COMMAND [ARGS...]]\n\n") +
                 kTargetHelp + "\n" + kSpecHelp +
                 "\nExamples:\n"
                 "  irqlat record -o run.irqlat -- ./app\n"
                 "  irqlat record -p 1234 -d 10s -o run.irqlat -f json > live.json\n"
                 "  irqlat report run.irqlat -f json\n");

  auto* report = app.add_subcommand("report", "Print the tables of a recording");
  report->add_option("file", r.input, "Recording made by irqlat record")->type_name("FILE");
  add_presentation(report, o, r, false);  // no --interval: stats are running totals
  track(r.cancel_opt, report->add_option("--cancel", r.cancel,
                                         "Re-interpret the recording with this cancel SPEC")
                          ->type_name("SPEC"));
  track(r.done_opt, report->add_option("--done", r.done, "... and this done SPEC")
                        ->type_name("SPEC"));
  track(r.window_timeout_opt,
        report->add_option("--window-timeout", r.window_timeout,
                           "A window without a done event after DUR is unfinished (default: as recorded)")
            ->type_name("DUR"));
  add_verbose(report, o);
  report->footer(std::string("Synopsis: irqlat report FILE [OPTIONS]\n\n"
                             "Prints the tables `irqlat trace` would have printed for the recorded events.\n"
                             "--cancel/--done re-interpret recorded events: marker specs must be ones the\n"
                             "recording attached, signal specs need recorded signals; exit always works.\n\n") +
                 kSpecHelp);

  auto* daemon = app.add_subcommand("daemon", "Run as a root daemon, controlled by irqlat ctl");
  track(r.socket_opt, daemon->add_option("--socket", r.socket,
                                         "Control socket (default /run/irqlat.sock)")
                          ->type_name("PATH"));
  track(r.metrics_opt, daemon->add_option("--metrics", r.metrics,
                                          "Serve Prometheus metrics on ADDR:PORT")
                           ->type_name("ADDR:PORT"));
  track(r.ringbuf_opt, daemon->add_option("--ringbuf-size", r.ringbuf,
                                          "Ring buffer size in MB, a power of two (default 8)")
                           ->type_name("MB"));
  daemon->add_flag("--metrics-remote", o.metrics_remote,
                   "Allow --metrics on an address other than loopback");
  track(r.pidfile_opt, daemon->add_option("--pidfile", r.pidfile, "Write the daemon's PID to PATH")
                           ->type_name("PATH"));
  track(r.dump_on_exit_opt,
        daemon->add_option("--dump-on-exit", r.dump_on_exit,
                           "On SIGTERM/SIGINT write the final tables to FILE (in --format)")
            ->type_name("FILE"));
  track(r.format_opt, daemon->add_option("-f,--format", r.format,
                                         "Format of --dump-on-exit and SIGUSR1 dumps: table, json, csv")
                          ->type_name("FORMAT"));
  track(r.log_opt, daemon->add_option("--log", r.log_file,
                                      "Log to FILE instead of stderr (SIGHUP reopens it)")
                       ->type_name("FILE"));
  daemon->add_flag("--bpf-stats", r.bpf_stats,
                   "Turn the kernel's BPF run-time statistics on, so ctl status and /metrics show "
                   "each program's cost (two clock reads per program run; off by default)");
  daemon->add_flag("--no-bpf-stats", r.no_bpf_stats, "Leave them off (the default)");
  track(r.nice_opt, daemon->add_option("--nice", r.nice,
                                       "Scheduling priority, -20..19 (default -10, like auditd's "
                                       "priority boost: the daemon must keep up with the load it watches)")
                        ->type_name("N"));
  track(r.client_timeout_opt,
        daemon->add_option("--client-timeout", r.client_timeout,
                           "Close control clients that send no complete request for DUR (default 10s)")
            ->type_name("DUR"));
  track(r.window_timeout_opt,
        daemon->add_option("--window-timeout", r.window_timeout,
                           "Default window timeout for attached targets (default 10s)")
            ->type_name("DUR"));
  track(r.max_windows_opt,
        daemon->add_option("--max-windows", r.max_windows,
                           "Keep at most N samples in windows.list (default 100000)")
            ->type_name("N"));
  add_verbose(daemon, o);

  auto* ctl = app.add_subcommand("ctl", "Control a running daemon");
  track(r.socket_opt, ctl->add_option("--socket", r.socket,
                                      "Control socket (default /run/irqlat.sock)")
                          ->type_name("PATH"));
  track(r.ctl_timeout_opt, ctl->add_option("--timeout", r.ctl_timeout,
                                           "Give up waiting for the daemon after DUR (default 5s)")
                               ->type_name("DUR"));
  ctl->require_subcommand(0, 1);
  auto* attach = ctl->add_subcommand("attach", "Start tracing process PID");
  attach->add_option("pid", r.ctl_pid, "Process to attach to")->type_name("PID");
  track(r.cancel_opt, attach->add_option("--cancel", r.cancel, "Cancel event SPEC")
                          ->type_name("SPEC"));
  track(r.done_opt, attach->add_option("--done", r.done, "Done event SPEC")->type_name("SPEC"));
  track(r.window_timeout_opt,
        attach->add_option("--window-timeout", r.window_timeout,
                           "A window without a done event after DUR is unfinished (default 10s)")
            ->type_name("DUR"));
  attach->footer(kSpecHelp);
  auto* detach = ctl->add_subcommand("detach", "Stop tracing process PID");
  detach->add_option("pid", r.ctl_pid, "Process to detach from")->type_name("PID");
  auto* dump = ctl->add_subcommand("dump", "Print the daemon's current tables");
  track(r.format_opt, dump->add_option("-f,--format", r.format, "Output format: table, json, csv")
                          ->type_name("FORMAT"));
  track(r.top_opt,
        dump->add_option("--top", r.top, "Itemize the N worst windows (default 5)")->type_name("N"));
  dump->add_flag("--reset", o.ctl_reset, "Clear the tables as the dump takes them");
  auto* status = ctl->add_subcommand("status", "Show what the daemon traces");
  track(r.format_opt, status->add_option("-f,--format", r.format, "Output format: table, json")
                          ->type_name("FORMAT"));
  auto* reset = ctl->add_subcommand("reset", "Clear the daemon's tables");
  for (auto* s : {attach, detach, dump, status, reset}) s->fallthrough();
  add_verbose(ctl, o);

  try {
    app.parse(static_cast<int>(head.size()), head.data());
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    std::ostringstream out, err;
    app.exit(e, out, err);
    throw HelpRequested(out.str());
  } catch (const CLI::ExtrasError& e) {
    std::string msg = one_line(e.what());
    // "-p -d 300ms": -p took "-d" as its value, and 300ms is left over.
    const CLI::App* sub = nullptr;
    for (const CLI::App* s : app.get_subcommands())
      if (s->get_name() == first && first != "ctl") sub = s;
    for (size_t i = 2; sub && i + 1 < head.size(); ++i) {
      const std::string_view opt = head[i], val = head[i + 1];
      const CLI::Option* o2 = opt.size() > 1 && opt[0] == '-' ? sub->get_option_no_throw(std::string(opt)) : nullptr;
      const bool val_is_option = val.size() > 1 && val[0] == '-' && sub->get_option_no_throw(std::string(val));
      if (o2 && o2->get_expected_min() > 0 && val_is_option)
        throw UsageError(fmt::format("{} needs a value, got the option '{}'", opt, val));
    }
    if (first == "trace" || first == "record") msg += " (put a command to start after --)";
    if (first == "ctl") msg += " (ctl verbs: attach PID, detach PID, dump, status, reset)";
    throw UsageError(msg);
  } catch (const CLI::ParseError& e) {
    std::string msg = one_line(e.what());
    // "--cpu: 1 required LIST missing" -> "--cpu needs a value (LIST)"
    if (const size_t p = msg.find(": 1 required "); p != std::string::npos &&
        msg.size() > 8 && msg.compare(msg.size() - 8, 8, " missing") == 0) {
      const size_t t = p + std::string_view(": 1 required ").size();
      msg = fmt::format("{} needs a value ({})", msg.substr(0, p),
                        msg.substr(t, msg.size() - 8 - t));
    }
    if (msg == "A subcommand is required") {
      msg = "no command given: expected trace, record, report, daemon or ctl";
    } else if (msg.empty()) {
      msg = "invalid command line";
    }
    throw UsageError(msg);
  }

  if (app.got_subcommand(trace)) o.command = Command::Trace;
  else if (app.got_subcommand(record)) o.command = Command::Record;
  else if (app.got_subcommand(report)) o.command = Command::Report;
  else if (app.got_subcommand(daemon)) o.command = Command::Daemon;
  else if (app.got_subcommand(ctl)) o.command = Command::Ctl;
  const char* cmd = command_name(o.command);

  if (has_dashdash && o.command != Command::Trace && o.command != Command::Record) {
    throw UsageError(fmt::format("'-- COMMAND' is only valid with trace and record, not {}", cmd));
  }
  if (has_dashdash && o.command_argv.empty()) {
    throw UsageError("'--' must be followed by a COMMAND to start");
  }

  switch (o.command) {
    case Command::Trace:
    case Command::Record: {
      parse_targets(r, o, cmd);
      if (given(r.duration_opt)) o.duration_ns = parse_duration_opt("--duration", r.duration);
      if (given(r.cpus_opt)) {
        try {
          o.cpus = parse_cpu_list(r.cpus, nr_cpus);
        } catch (const UsageError& e) {
          throw UsageError(fmt::format("--cpu: {}", e.what()));
        }
      }
      parse_windows(r, o, !o.all);
      parse_ringbuf(r, o);
      if (o.command == Command::Record && o.output.empty())
        throw UsageError("record needs -o FILE to write the recording to");
      // "-" is not taken as a file name, nor as standard output (where the
      // recording would mix with the tables of -f).
      if (o.command == Command::Record && o.output == "-")
        throw UsageError("record -o -: a recording goes to a file, not standard output");
      if (given(r.compress_opt)) {
        if (r.compress != "zlib" && r.compress != "zstd")
          throw UsageError(fmt::format("invalid --compress '{}': expected zlib or zstd", r.compress));
        o.compress_zstd = r.compress == "zstd";
      }
      parse_presentation(r, o);
      break;
    }
    case Command::Report:
      if (r.input.empty()) throw UsageError("report needs a recording FILE (made by irqlat record)");
      o.input = r.input;
      parse_presentation(r, o);
      parse_windows(r, o, true);
      break;
    case Command::Daemon:
      parse_socket(r, o);
      parse_metrics(r, o);
      parse_ringbuf(r, o);
      parse_presentation(r, o);
      if (given(r.window_timeout_opt))
        o.window_timeout_ns = parse_duration_opt("--window-timeout", r.window_timeout);
      if (r.bpf_stats && r.no_bpf_stats) throw UsageError("--bpf-stats and --no-bpf-stats exclude each other");
      o.bpf_stats = r.bpf_stats;
      if (given(r.nice_opt)) {
        const bool neg = !r.nice.empty() && r.nice[0] == '-';
        int v = 0;
        if (!to_uint(neg ? r.nice.substr(1) : r.nice, v) || v > 20 || (!neg && v > 19))
          throw UsageError(fmt::format("invalid --nice '{}': expected an integer in -20..19", r.nice));
        o.nice = neg ? -v : v;
      }
      if (given(r.client_timeout_opt))
        o.client_timeout_ns = parse_duration_opt("--client-timeout", r.client_timeout);
      for (auto [opt, val, out, what] :
           {std::tuple{&r.pidfile_opt, &r.pidfile, &o.pidfile, "--pidfile"},
            std::tuple{&r.dump_on_exit_opt, &r.dump_on_exit, &o.dump_on_exit, "--dump-on-exit"},
            std::tuple{&r.log_opt, &r.log_file, &o.log_file, "--log"}}) {
        if (!given(*opt)) continue;
        if (val->empty()) throw UsageError(fmt::format("invalid {} '': empty path", what));
        *out = *val;
      }
      if (!o.metrics_addr.empty() && !o.metrics_remote && !metrics_is_loopback(o.metrics_addr))
        throw UsageError(fmt::format(
            "--metrics '{}' is not a loopback address: add --metrics-remote to serve other hosts",
            o.metrics_addr));
      break;
    case Command::Ctl: {
      parse_socket(r, o);
      if (given(r.ctl_timeout_opt)) {
        o.ctl_timeout_ns = parse_duration_opt("--timeout", r.ctl_timeout);
      }
      const CLI::App* verb = nullptr;
      for (const CLI::App* s : {attach, detach, dump, status, reset}) {
        if (ctl->got_subcommand(s)) verb = s;
      }
      if (verb == nullptr) {
        throw UsageError("ctl needs a verb: attach PID, detach PID, dump, status or reset");
      }
      o.ctl_verb = verb->get_name();
      if (verb == attach || verb == detach) {
        if (r.ctl_pid.empty()) throw UsageError(fmt::format("ctl {} needs a PID", o.ctl_verb));
        o.ctl_pid = parse_pid(r.ctl_pid, "PID");
        o.ctl_args.push_back(std::to_string(o.ctl_pid));
        o.pids = {o.ctl_pid};
      }
      if (verb == attach) parse_windows(r, o, true);
      if (verb == dump) parse_presentation(r, o);
      if (verb == status) {
        parse_format(r, o);
        if (o.format == OutputFormat::Csv) throw UsageError("ctl status: --format is table or json");
      }
      break;
    }
    case Command::None:
      throw UsageError("no command given: expected trace, record, report, daemon or ctl");
  }
  return o;
}

}  // namespace irqlat
