#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "options.h"

using irqlat::Command;
using irqlat::HelpRequested;
using irqlat::Options;
using irqlat::OutputFormat;
using irqlat::UsageError;
using irqlat::WindowSpec;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

namespace {

constexpr int kCpus = 2;

Options parse(std::vector<std::string> args) {
  args.insert(args.begin(), "irqlat");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return irqlat::parse_options(static_cast<int>(argv.size()), argv.data(), kCpus);
}

}  // namespace

TEST_CASE("trace with pids, tids and options", "[options]") {
  Options o = parse({"trace", "-p", "10", "--pid", "20,30", "-t", "7", "-d", "1.5s", "-i", "500ms",
                     "-C", "0-1", "-f", "json", "-o", "out.json", "--top", "3", "--max-windows",
                     "50", "--ringbuf-size", "32", "-vv"});
  CHECK(o.command == Command::Trace);
  CHECK(o.pids == std::vector<int>{10, 20, 30});
  CHECK(o.tids == std::vector<int>{7});
  CHECK_FALSE(o.all);
  CHECK(o.duration_ns == 1'500'000'000ULL);
  CHECK(o.interval_ns == 500'000'000ULL);
  CHECK(o.cpus == std::vector<int>{0, 1});
  CHECK(o.format == OutputFormat::Json);
  CHECK(o.output == "out.json");
  CHECK(o.top == 3);
  CHECK(o.window_list_cap == 50);
  CHECK(o.ringbuf_mb == 32);
  CHECK(o.verbose == 2);
  CHECK_FALSE(o.windows_enabled());
}

TEST_CASE("defaults", "[options]") {
  Options o = parse({"trace", "-a"});
  CHECK(o.all);
  CHECK(o.duration_ns == 0);
  CHECK(o.interval_ns == 0);
  CHECK(o.cpus.empty());
  CHECK(o.window_timeout_ns == 10'000'000'000ULL);
  CHECK(o.format == OutputFormat::Table);
  CHECK(o.output.empty());
  CHECK(o.top == 5);
  CHECK(o.window_list_cap == 100000);
  CHECK(o.ringbuf_mb == 8);
  CHECK(o.socket_path == "/run/irqlat.sock");
  CHECK(o.verbose == 0);
  CHECK(o.cancel.kind == WindowSpec::None);
  CHECK(o.done.kind == WindowSpec::None);
}

TEST_CASE("everything after -- is the command", "[options]") {
  Options o = parse({"trace", "-d", "2s", "--comm", "app", "--", "./app", "--flag", "-p", "3", "--"});
  CHECK(o.command_argv == std::vector<std::string>{"./app", "--flag", "-p", "3", "--"});
  CHECK(o.pids.empty());
  CHECK(o.comms == std::vector<std::string>{"app"});
  CHECK(o.duration_ns == 2'000'000'000ULL);

  o = parse({"record", "-o", "rec.irqlat", "--cancel", "usdt:irqlat:cancel", "--done",
             "usdt:irqlat:done", "--", "./cancel_loop"});
  CHECK(o.command == Command::Record);
  CHECK(o.output == "rec.irqlat");
  CHECK(o.command_argv == std::vector<std::string>{"./cancel_loop"});
  CHECK(o.cancel.kind == WindowSpec::Usdt);
  CHECK(o.done.name == "done");
  CHECK_FALSE(o.compress_zstd);  // zlib unless asked
  CHECK(parse({"record", "-a", "-o", "r", "--compress", "zstd"}).compress_zstd);
  CHECK_FALSE(parse({"record", "-a", "-o", "r", "--compress", "zlib"}).compress_zstd);
  CHECK_THROWS_WITH(parse({"record", "-a", "-o", "r", "--compress", "lz4"}),
                    Equals("invalid --compress 'lz4': expected zlib or zstd"));
  CHECK_THROWS_AS(parse({"trace", "-a", "--compress", "zstd"}), UsageError);  // record only

  CHECK_THROWS_WITH(parse({"trace", "-p", "1", "--"}),
                    Equals("'--' must be followed by a COMMAND to start"));
  CHECK_THROWS_WITH(parse({"report", "f", "--", "ls"}),
                    Equals("'-- COMMAND' is only valid with trace and record, not report"));
}

TEST_CASE("targets are validated", "[options]") {
  CHECK_THROWS_WITH(parse({"trace"}), Equals("trace needs a target: -p PID, -t TID, --comm NAME, "
                                             "-a, or -- COMMAND [ARGS...]"));
  CHECK_THROWS_WITH(parse({"record", "-o", "x"}), StartsWith("record needs a target"));
  CHECK_THROWS_WITH(parse({"trace", "-a", "-p", "1"}), Contains("cannot be combined"));
  CHECK_THROWS_WITH(parse({"trace", "-a", "--", "ls"}), Contains("cannot be combined"));
  CHECK_THROWS_WITH(parse({"trace", "-p", "abc"}),
                    Equals("invalid PID 'abc': expected a positive integer"));
  CHECK_THROWS_WITH(parse({"trace", "-p", "0"}),
                    Equals("invalid PID '0': expected a positive integer"));
  CHECK_THROWS_AS(parse({"trace", "-p", "-5"}), UsageError);
  CHECK_THROWS_WITH(parse({"trace", "-t", "1x"}),
                    Equals("invalid TID '1x': expected a positive integer"));
  CHECK_THROWS_WITH(parse({"trace", "--comm", "a_very_long_name_x"}),
                    Contains("longer than 15 characters"));
  CHECK_THROWS_WITH(parse({"trace", "-p", "1", "ls"}), Contains("put a command to start after --"));
  CHECK_THROWS_WITH(parse({"record", "-a"}), Equals("record needs -o FILE to write the recording to"));
  CHECK(parse({"trace", "-p", "5", "-p", "5"}).pids == std::vector<int>{5});
  CHECK(parse({"trace", "-p", "5,6,5"}).pids == std::vector<int>{5, 6});
  // A stray comma is an empty item, not nothing (as in -C lists).
  CHECK_THROWS_WITH(parse({"trace", "-p", "1,,2"}), Equals("invalid PID list '1,,2': empty item"));
  CHECK_THROWS_WITH(parse({"trace", "-p", "1,"}), Contains("empty item"));
  CHECK_THROWS_WITH(parse({"trace", "-t", ",7"}), Equals("invalid TID list ',7': empty item"));
  CHECK_THROWS_WITH(parse({"record", "-a", "-o", "-"}), Contains("not standard output"));
}

TEST_CASE("bad values are usage errors naming the option", "[options]") {
  CHECK_THROWS_WITH(parse({"trace", "-a", "-d", "10x"}),
                    Equals("--duration: invalid duration '10x': expected a number with unit ns, "
                           "us, ms, s or m"));
  CHECK_THROWS_WITH(parse({"trace", "-a", "-d", "0"}), Contains("must be greater than zero"));
  CHECK_THROWS_WITH(parse({"trace", "-a", "-i", "-1s"}), Contains("--interval"));
  CHECK_THROWS_WITH(parse({"trace", "-a", "-C", "0-3"}),
                    Equals("--cpu: CPU 3 does not exist (this machine has 2 CPUs: 0-1)"));
  CHECK_THROWS_WITH(parse({"trace", "-a", "-f", "xml"}),
                    Equals("invalid --format 'xml': expected table, json or csv"));
  CHECK_THROWS_WITH(parse({"trace", "-a", "--top", "0"}),
                    Equals("invalid --top '0': expected an integer from 1 to 2147483647"));
  CHECK_THROWS_AS(parse({"trace", "-a", "--top", "x"}), UsageError);
  CHECK_THROWS_AS(parse({"trace", "-a", "--max-windows", "-1"}), UsageError);
  CHECK_THROWS_WITH(parse({"trace", "-a", "--ringbuf-size", "3"}), Contains("power of two"));
  CHECK_THROWS_AS(parse({"trace", "-a", "--ringbuf-size", "0"}), UsageError);
  CHECK_THROWS_AS(parse({"trace", "-a", "--bogus"}), UsageError);
  CHECK_THROWS_WITH(parse({"trace", "-a", "-d"}), Equals("--duration needs a value (DUR)"));
  // An option's value missing before the next option, which then took it.
  CHECK_THROWS_WITH(parse({"trace", "-p", "-d", "300ms"}), Equals("-p needs a value, got the option '-d'"));
  CHECK_THROWS_WITH(parse({"record", "-a", "--cpu", "-d", "1s"}), Equals("--cpu needs a value, got the option '-d'"));
  CHECK_THROWS_WITH(parse({"ctl", "frob"}), Contains("ctl verbs: attach PID"));
}

TEST_CASE("cancel/done pairing", "[options][windows]") {
  Options o = parse({"trace", "-p", "1", "--cancel", "signal"});
  CHECK(o.cancel.kind == WindowSpec::Signal);
  CHECK(o.done.kind == WindowSpec::Exit);  // signal alone: done defaults to exit
  CHECK(o.cancel_text == "signal");
  CHECK(o.done_text == "exit");
  CHECK(o.windows_enabled());

  o = parse({"trace", "-p", "1", "--cancel", "uprobe:/x/y:context.(*cancelCtx).cancel", "--done",
             "uprobe:main.worker.func1+0x10", "--window-timeout", "2s"});
  CHECK(o.cancel.path == "/x/y");
  CHECK(o.cancel.symbol == "context.(*cancelCtx).cancel");
  CHECK(o.done.symbol == "main.worker.func1");
  CHECK(o.done.offset == 16);
  CHECK(o.window_timeout_ns == 2'000'000'000ULL);

  CHECK_THROWS_WITH(parse({"trace", "-p", "1", "--cancel", "uprobe:foo"}),
                    Contains("--cancel 'uprobe:foo' needs --done SPEC"));
  CHECK_THROWS_WITH(parse({"trace", "-p", "1", "--done", "exit"}),
                    Equals("--done needs --cancel SPEC"));
  CHECK_THROWS_WITH(parse({"trace", "-a", "--cancel", "signal"}),
                    Contains("--cancel needs a target process"));
  CHECK_THROWS_WITH(parse({"trace", "-p", "1", "--cancel", "exit", "--done", "exit"}),
                    Contains("bad --cancel spec 'exit'"));
  CHECK_THROWS_WITH(parse({"trace", "-p", "1", "--cancel", "foo", "--done", "exit"}),
                    StartsWith("bad --cancel spec 'foo': expected signal"));
  CHECK(parse({"trace", "-p", "1", "--window-timeout", "1s"}).window_timeout_ns == 1'000'000'000);
  CHECK_THROWS_WITH(parse({"trace", "-a", "--window-timeout", "1s"}),
                    Contains("--window-timeout needs a target process"));
  CHECK_THROWS_WITH(
      parse({"trace", "-p", "1", "--cancel", "signal", "--window-timeout", "0s"}),
      Contains("must be greater than zero"));
}

TEST_CASE("report, daemon and ctl", "[options]") {
  Options o = parse({"report", "rec.irqlat", "-f", "csv", "--top", "10"});
  CHECK(o.command == Command::Report);
  CHECK(o.input == "rec.irqlat");
  CHECK(o.format == OutputFormat::Csv);
  CHECK(o.top == 10);
  CHECK_THROWS_WITH(parse({"report"}), Contains("report needs a recording FILE"));
  CHECK_THROWS_AS(parse({"report", "a", "b"}), UsageError);

  o = parse({"daemon", "--socket", "/tmp/s.sock", "--metrics", "127.0.0.1:9100"});
  CHECK(o.command == Command::Daemon);
  CHECK(o.socket_path == "/tmp/s.sock");
  CHECK(o.metrics_addr == "127.0.0.1:9100");
  CHECK_THROWS_WITH(parse({"daemon", "--metrics", ":9100"}), Contains("--metrics-remote"));
  CHECK_THROWS_WITH(parse({"daemon", "--metrics", "10.0.0.1:9100"}), Contains("not a loopback"));
  CHECK(parse({"daemon", "--metrics", ":9100", "--metrics-remote"}).metrics_addr == ":9100");
  CHECK(parse({"daemon", "--metrics", "localhost:9100"}).metrics_addr == "localhost:9100");
  o = parse({"daemon", "--pidfile", "/run/x.pid", "--dump-on-exit", "/tmp/d.json", "-f", "json",
             "--log", "/var/log/irqlat.log", "--no-bpf-stats", "--window-timeout", "2s"});
  CHECK(o.pidfile == "/run/x.pid");
  CHECK(o.dump_on_exit == "/tmp/d.json");
  CHECK(o.format == OutputFormat::Json);
  CHECK(o.log_file == "/var/log/irqlat.log");
  CHECK_FALSE(o.bpf_stats);
  CHECK(o.window_timeout_ns == 2'000'000'000ULL);
  CHECK_FALSE(parse({"daemon"}).bpf_stats);  // they cost two clock reads per program run
  CHECK(parse({"daemon", "--bpf-stats"}).bpf_stats);
  CHECK_THROWS_WITH(parse({"daemon", "--bpf-stats", "--no-bpf-stats"}), Contains("exclude each other"));
  CHECK_THROWS_WITH(parse({"daemon", "--pidfile", ""}), Contains("empty path"));
  CHECK(parse({"ctl", "dump", "--reset"}).ctl_reset);
  CHECK(parse({"ctl", "--timeout", "2s", "status"}).ctl_timeout_ns == 2'000'000'000ULL);
  CHECK(parse({"ctl", "status", "-f", "json"}).format == OutputFormat::Json);
  CHECK_THROWS_WITH(parse({"ctl", "status", "-f", "csv"}), Contains("table or json"));
  CHECK_THROWS_WITH(parse({"ctl", "--timeout", "0", "status"}), Contains("--timeout: invalid duration"));
  CHECK(parse({"daemon", "--metrics", "[::1]:9100"}).metrics_addr == "[::1]:9100");
  CHECK_THROWS_WITH(parse({"daemon", "--metrics", "9100x"}), Contains("invalid --metrics"));
  CHECK_THROWS_WITH(parse({"daemon", "--metrics", "h:70000"}), Contains("invalid --metrics"));

  o = parse({"ctl", "attach", "123", "--cancel", "usdt:irqlat:cancel", "--done",
             "usdt:/bin/x:irqlat:done"});
  CHECK(o.command == Command::Ctl);
  CHECK(o.ctl_verb == "attach");
  CHECK(o.ctl_pid == 123);
  CHECK(o.ctl_args == std::vector<std::string>{"123"});
  CHECK(o.cancel.provider == "irqlat");
  CHECK(o.done.path == "/bin/x");

  o = parse({"ctl", "--socket", "/tmp/a", "detach", "5"});
  CHECK(o.ctl_verb == "detach");
  CHECK(o.ctl_pid == 5);
  CHECK(o.socket_path == "/tmp/a");
  o = parse({"ctl", "status", "--socket", "/tmp/b"});  // options after the verb too
  CHECK(o.ctl_verb == "status");
  CHECK(o.socket_path == "/tmp/b");
  o = parse({"ctl", "dump", "--format", "json"});
  CHECK(o.ctl_verb == "dump");
  CHECK(o.format == OutputFormat::Json);
  CHECK(parse({"ctl", "reset"}).ctl_verb == "reset");

  CHECK_THROWS_WITH(parse({"ctl"}), StartsWith("ctl needs a verb"));
  CHECK_THROWS_WITH(parse({"ctl", "attach"}), Equals("ctl attach needs a PID"));
  CHECK_THROWS_WITH(parse({"ctl", "attach", "x"}), Contains("invalid PID 'x'"));
  CHECK_THROWS_WITH(parse({"ctl", "attach", "1", "--done", "exit"}),
                    Equals("--done needs --cancel SPEC"));
  CHECK_THROWS_AS(parse({"ctl", "frobnicate"}), UsageError);
}

TEST_CASE("daemon --metrics: loopback means IP literals in 127/8, ::1 and localhost", "[options]") {
  for (const char* ok : {"127.0.0.1:9100", "127.1.2.3:9100", "127.255.255.255:1", "[::1]:9100",
                         "[0:0:0:0:0:0:0:1]:9100", "localhost:9100"}) {
    INFO(ok);
    CHECK(parse({"daemon", "--metrics", ok}).metrics_addr == ok);
  }
  for (const char* bad : {"127.example.invalid:9100", "127.0.0.1.nip.io:9100", "127.:9100", "127.1:9100",
                          "127.0.0.256:9100", "0127.0.0.1:9100", "128.0.0.1:9100", "[::2]:9100",
                          "[::ffff:10.0.0.1]:9100", "localhost.example:9100", "example.com:9100",
                          "0.0.0.0:9100", ":9100"}) {
    INFO(bad);
    try {
      parse({"daemon", "--metrics", bad});
      FAIL("accepted");
    } catch (const UsageError& e) {
      const std::string msg = e.what();
      CHECK_THAT(msg, Contains("not a loopback address") && Contains("--metrics-remote"));
      CHECK(msg.find('\n') == std::string::npos);
    }
    // The operator can still say so.
    CHECK(parse({"daemon", "--metrics", bad, "--metrics-remote"}).metrics_addr == bad);
  }
}

TEST_CASE("no or unknown command", "[options]") {
  CHECK_THROWS_WITH(parse({}), StartsWith("no command given"));
  CHECK_THROWS_WITH(parse({"frob"}), StartsWith("unknown command 'frob'"));
  CHECK_THROWS_WITH(parse({"--bogus"}), StartsWith("unexpected option '--bogus'"));
}

TEST_CASE("--help and --version are not errors", "[options]") {
  try {
    parse({"--help"});
    FAIL("no HelpRequested");
  } catch (const HelpRequested& h) {
    CHECK_THAT(h.text(), Contains("trace"));
    CHECK_THAT(h.text(), Contains("report"));
    CHECK_THAT(h.text(), Contains("ctl"));
  }
  try {
    parse({"trace", "--help"});
    FAIL("no HelpRequested");
  } catch (const HelpRequested& h) {
    CHECK_THAT(h.text(), Contains("--cancel"));
    CHECK_THAT(h.text(), Contains("uprobe:[PATH:]SYMBOL[+OFF]"));
  }
  try {
    parse({"--version"});
    FAIL("no HelpRequested");
  } catch (const HelpRequested& h) {
    CHECK(h.text() == std::string("irqlat ") + IRQLAT_VERSION + "\n");
  }
  // A help request is not a UsageError (main exits 0, not 2).
  CHECK_THROWS_AS(parse({"ctl", "attach", "-h"}), HelpRequested);
}
