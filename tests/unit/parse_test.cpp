#include <csignal>

#include <catch2/catch.hpp>

#include "parse.h"

using irqlat::format_ns;
using irqlat::parse_cpu_list;
using irqlat::parse_duration_ns;
using irqlat::parse_pid;
using irqlat::parse_signal;
using irqlat::parse_window_spec;
using irqlat::UsageError;
using irqlat::WindowSpec;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

TEST_CASE("durations with units", "[parse][duration]") {
  CHECK(parse_duration_ns("10s") == 10'000'000'000ULL);
  CHECK(parse_duration_ns("500ms") == 500'000'000ULL);
  CHECK(parse_duration_ns("250us") == 250'000ULL);
  CHECK(parse_duration_ns("100ns") == 100ULL);
  CHECK(parse_duration_ns("2m") == 120'000'000'000ULL);
  CHECK(parse_duration_ns("1.5s") == 1'500'000'000ULL);
  CHECK(parse_duration_ns("0.25ms") == 250'000ULL);
  CHECK(parse_duration_ns("1.000000001s") == 1'000'000'001ULL);
  CHECK(parse_duration_ns("3") == 3'000'000'000ULL);  // bare number = seconds
  CHECK(parse_duration_ns("0.5") == 500'000'000ULL);
  CHECK(parse_duration_ns("18446744073709551615ns") == 18446744073709551615ULL);
}

TEST_CASE("zero durations only when allowed", "[parse][duration]") {
  CHECK_THROWS_WITH(parse_duration_ns("0s"),
                    Equals("invalid duration '0s': must be greater than zero"));
  CHECK_THROWS_AS(parse_duration_ns("0"), UsageError);
  CHECK_THROWS_AS(parse_duration_ns("0.1ns"), UsageError);  // rounds down to 0
  CHECK(parse_duration_ns("0", true) == 0);
  CHECK(parse_duration_ns("0ms", true) == 0);
}

TEST_CASE("bad durations are usage errors naming the input", "[parse][duration]") {
  CHECK_THROWS_WITH(
      parse_duration_ns("10x"),
      Equals("invalid duration '10x': expected a number with unit ns, us, ms, s or m"));
  CHECK_THROWS_WITH(parse_duration_ns(""), Contains("invalid duration ''"));
  CHECK_THROWS_WITH(parse_duration_ns("-1s"),
                    Equals("invalid duration '-1s': must not be negative"));
  CHECK_THROWS_WITH(parse_duration_ns("99999999999999999999s"),
                    Equals("invalid duration '99999999999999999999s': too large"));
  CHECK_THROWS_WITH(parse_duration_ns("18446744073709551616ns"), Contains("too large"));
  CHECK_THROWS_WITH(parse_duration_ns("400000000m"), Contains("too large"));
  for (const char* bad : {"s", "ms", ".s", "1.s", "1..5s", "1 s", " 1s", "1s ", "1e3s", "+1s",
                          "1h", "1sec", "10S", "0x10s", "1,5s", "abc"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_duration_ns(bad), UsageError);
  }
}

TEST_CASE("CPU lists", "[parse][cpu]") {
  CHECK(parse_cpu_list("0", 4) == std::vector<int>{0});
  CHECK(parse_cpu_list("0-3", 4) == std::vector<int>{0, 1, 2, 3});
  CHECK(parse_cpu_list("0,2,5-7", 8) == std::vector<int>{0, 2, 5, 6, 7});
  CHECK(parse_cpu_list("3,1,1-2", 4) == std::vector<int>{1, 2, 3});  // sorted, unique
  CHECK(parse_cpu_list("1-1", 2) == std::vector<int>{1});
  CHECK(parse_cpu_list("0, 1", 2) == std::vector<int>{0, 1});
}

TEST_CASE("bad CPU lists", "[parse][cpu]") {
  CHECK_THROWS_WITH(parse_cpu_list("9", 2),
                    Equals("CPU 9 does not exist (this machine has 2 CPUs: 0-1)"));
  CHECK_THROWS_WITH(parse_cpu_list("0-2", 2),
                    Equals("CPU 2 does not exist (this machine has 2 CPUs: 0-1)"));
  CHECK_THROWS_WITH(parse_cpu_list("1", 1),
                    Equals("CPU 1 does not exist (this machine has 1 CPU: 0)"));
  CHECK_THROWS_WITH(parse_cpu_list("99999999999999999999", 2),
                    Contains("CPU 99999999999999999999 does not exist"));
  CHECK_THROWS_WITH(parse_cpu_list("3-1", 4),
                    Equals("invalid CPU list '3-1': range 3-1 is reversed (write 1-3)"));
  CHECK_THROWS_WITH(parse_cpu_list("", 4), Equals("invalid CPU list '': empty"));
  CHECK_THROWS_WITH(parse_cpu_list("0,,1", 4), Equals("invalid CPU list '0,,1': empty item"));
  CHECK_THROWS_WITH(parse_cpu_list("0,", 4), Contains("empty item"));
  CHECK_THROWS_WITH(parse_cpu_list("a", 4),
                    Equals("invalid CPU list 'a': 'a' is not a CPU number"));
  for (const char* bad : {"-1", "1-", "-", "0-1-2", "0x1", "1.5", "0;1", "+1"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_cpu_list(bad, 4), UsageError);
  }
}

TEST_CASE("PIDs and signals", "[parse]") {
  CHECK(parse_pid("1") == 1);
  CHECK(parse_pid("4194304") == 4194304);
  CHECK_THROWS_WITH(parse_pid("0"), Equals("invalid PID '0': expected a positive integer"));
  CHECK_THROWS_WITH(parse_pid("-3"), Equals("invalid PID '-3': expected a positive integer"));
  CHECK_THROWS_WITH(parse_pid("12a", "TID"),
                    Equals("invalid TID '12a': expected a positive integer"));
  CHECK_THROWS_WITH(parse_pid("99999999999"), Contains("too large"));
  CHECK_THROWS_AS(parse_pid(""), UsageError);

  CHECK(parse_signal("TERM") == SIGTERM);
  CHECK(parse_signal("SIGTERM") == SIGTERM);
  CHECK(parse_signal("int") == SIGINT);
  CHECK(parse_signal("HUP") == SIGHUP);
  CHECK(parse_signal("USR1") == SIGUSR1);
  CHECK(parse_signal("9") == 9);
  CHECK(parse_signal("64") == 64);
  CHECK(parse_signal("RTMIN") == SIGRTMIN);
  CHECK(parse_signal("RTMIN+1") == SIGRTMIN + 1);
  CHECK(parse_signal("RTMAX-1") == SIGRTMAX - 1);
  for (const char* bad : {"0", "65", "FOO", "", "SIG", "RTMIN+100", "RTMIN-1", "-15"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_signal(bad), UsageError);
  }
}

TEST_CASE("signal cancel specs", "[parse][spec]") {
  WindowSpec s = parse_window_spec("signal", false);
  CHECK(s.kind == WindowSpec::Signal);
  CHECK(s.signals == std::vector<int>{SIGTERM, SIGINT});
  CHECK(s.text == "signal");

  s = parse_window_spec("signal:USR1", false);
  CHECK(s.signals == std::vector<int>{SIGUSR1});
  s = parse_window_spec("signal:SIGTERM,HUP,10", false);
  CHECK(s.signals == std::vector<int>{SIGTERM, SIGHUP, 10});

  CHECK_THROWS_WITH(parse_window_spec("signal", true),
                    Equals("bad --done spec 'signal': signal is only valid as --cancel"));
  CHECK_THROWS_WITH(parse_window_spec("signal:", false), Contains("empty signal list"));
  CHECK_THROWS_WITH(parse_window_spec("signal:TERM,,INT", false), Contains("empty signal name"));
  CHECK_THROWS_WITH(parse_window_spec("signal:FOO", false),
                    Contains("bad --cancel spec 'signal:FOO': unknown signal 'FOO'"));
  CHECK_THROWS_WITH(parse_window_spec("signal:65", false), Contains("unknown signal '65'"));
}

TEST_CASE("exit done spec", "[parse][spec]") {
  WindowSpec s = parse_window_spec("exit", true);
  CHECK(s.kind == WindowSpec::Exit);
  CHECK(s.text == "exit");
  CHECK_THROWS_WITH(parse_window_spec("exit", false),
                    Contains("bad --cancel spec 'exit': exit is only valid as --done"));
  CHECK_THROWS_WITH(parse_window_spec("exit:1", true), Contains("exit takes no arguments"));
}

TEST_CASE("uprobe specs with Go and C symbols", "[parse][spec]") {
  WindowSpec s = parse_window_spec("uprobe:/x/y:context.(*cancelCtx).cancel", false);
  CHECK(s.kind == WindowSpec::Uprobe);
  CHECK(s.path == "/x/y");
  CHECK(s.symbol == "context.(*cancelCtx).cancel");
  CHECK(s.offset == 0);
  CHECK(s.text == "uprobe:/x/y:context.(*cancelCtx).cancel");

  s = parse_window_spec("uprobe:/usr/bin/app:context.(*cancelCtx).cancel", true);
  CHECK(s.path == "/usr/bin/app");
  CHECK(s.symbol == "context.(*cancelCtx).cancel");

  s = parse_window_spec("uprobe:context.(*cancelCtx).cancel", false);
  CHECK(s.path.empty());
  CHECK(s.symbol == "context.(*cancelCtx).cancel");

  s = parse_window_spec("uprobe:main.worker.func1", true);
  CHECK(s.path.empty());
  CHECK(s.symbol == "main.worker.func1");
  CHECK(s.offset == 0);

  s = parse_window_spec("uprobe:main.worker.func1+0x10", true);
  CHECK(s.symbol == "main.worker.func1");
  CHECK(s.offset == 16);

  s = parse_window_spec("uprobe:foo+0x10", false);
  CHECK(s.path.empty());
  CHECK(s.symbol == "foo");
  CHECK(s.offset == 16);

  s = parse_window_spec("uprobe:foo+24", false);
  CHECK(s.symbol == "foo");
  CHECK(s.offset == 24);

  s = parse_window_spec("uprobe:foo", false);
  CHECK(s.symbol == "foo");
  CHECK(s.path.empty());

  s = parse_window_spec("uprobe:./app:main.main", false);
  CHECK(s.path == "./app");
  CHECK(s.symbol == "main.main");

  // Go symbols with slashes (package paths) and a path with ':' in it.
  s = parse_window_spec("uprobe:/opt/a:b/app:example.com/pkg/x.(*T).Stop+0x8", false);
  CHECK(s.path == "/opt/a:b/app");
  CHECK(s.symbol == "example.com/pkg/x.(*T).Stop");
  CHECK(s.offset == 8);

  s = parse_window_spec("uprobe:github.com/me/app/worker.(*Pool).drain", false);
  CHECK(s.path.empty());
  CHECK(s.symbol == "github.com/me/app/worker.(*Pool).drain");

  // C++ demangled-style "::" stays in the symbol.
  s = parse_window_spec("uprobe:/bin/x:ns::Worker::stop", false);
  CHECK(s.path == "/bin/x");
  CHECK(s.symbol == "ns::Worker::stop");
}

TEST_CASE("bad uprobe specs", "[parse][spec]") {
  CHECK_THROWS_WITH(parse_window_spec("uprobe:", false), Contains("missing SYMBOL"));
  CHECK_THROWS_WITH(parse_window_spec("uprobe:/bin/x:", false), Contains("missing SYMBOL"));
  CHECK_THROWS_WITH(parse_window_spec("uprobe:/bin/x", false),
                    Contains("looks like a PATH but no SYMBOL follows"));
  CHECK_THROWS_WITH(parse_window_spec("uprobe:foo+", false),
                    Contains("missing offset after '+'"));
  CHECK_THROWS_WITH(parse_window_spec("uprobe:foo+0xZZ", false), Contains("bad offset '+0xZZ'"));
  CHECK_THROWS_WITH(parse_window_spec("uprobe:foo+0x", false), Contains("bad offset '+0x'"));
  CHECK_THROWS_WITH(parse_window_spec("uprobe:foo+12ab", false), Contains("bad offset '+12ab'"));
  CHECK_THROWS_WITH(parse_window_spec("uprobe:/usr/bin/sleep:main+-1", false), Contains("bad offset '+-1'"));
  CHECK_THROWS_WITH(parse_window_spec("uprobe:app:main.main", false),
                    Contains("PATH 'app' must start with '/' or '.'"));
  CHECK_THROWS_WITH(parse_window_spec("uprobe:foo bar", false), Contains("whitespace"));
  CHECK_THROWS_WITH(parse_window_spec("uprobe:context.(*cancelCtx.cancel", false),
                    Contains("unbalanced parentheses"));
}

TEST_CASE("usdt specs", "[parse][spec]") {
  WindowSpec s = parse_window_spec("usdt:irqlat:cancel", false);
  CHECK(s.kind == WindowSpec::Usdt);
  CHECK(s.path.empty());
  CHECK(s.provider == "irqlat");
  CHECK(s.name == "cancel");

  s = parse_window_spec("usdt:/bin/x:irqlat:done", true);
  CHECK(s.path == "/bin/x");
  CHECK(s.provider == "irqlat");
  CHECK(s.name == "done");

  s = parse_window_spec("usdt:/odd:dir/app:my_prov:probe_1", true);
  CHECK(s.path == "/odd:dir/app");
  CHECK(s.provider == "my_prov");
  CHECK(s.name == "probe_1");

  CHECK_THROWS_WITH(parse_window_spec("usdt:irqlat", false),
                    Contains("expected usdt:[PATH:]PROVIDER:NAME"));
  CHECK_THROWS_WITH(parse_window_spec("usdt:", false), Contains("expected usdt:"));
  CHECK_THROWS_WITH(parse_window_spec("usdt:irqlat:", false), Contains("missing NAME"));
  CHECK_THROWS_WITH(parse_window_spec("usdt::cancel", false), Contains("missing PROVIDER"));
  CHECK_THROWS_WITH(parse_window_spec("usdt:bin:irqlat:cancel", false),
                    Contains("PATH 'bin' must start with '/' or '.'"));
  CHECK_THROWS_WITH(parse_window_spec("usdt:irq-lat:cancel", false),
                    Contains("PROVIDER 'irq-lat' must be letters, digits or '_'"));
}

TEST_CASE("unknown spec kinds name the grammar", "[parse][spec]") {
  CHECK_THROWS_WITH(parse_window_spec("foo", false),
                    Equals("bad --cancel spec 'foo': expected signal[:SIG,...], "
                           "uprobe:[PATH:]SYMBOL[+OFF], usdt:[PATH:]PROVIDER:NAME"));
  CHECK_THROWS_WITH(parse_window_spec("kprobe:x", true),
                    Equals("bad --done spec 'kprobe:x': expected uprobe:[PATH:]SYMBOL[+OFF], "
                           "usdt:[PATH:]PROVIDER:NAME or exit"));
  CHECK_THROWS_AS(parse_window_spec("", false), UsageError);
}

TEST_CASE("format_ns keeps 3 significant digits", "[parse][format_ns]") {
  CHECK(format_ns(0) == "0ns");
  CHECK(format_ns(850) == "850ns");
  CHECK(format_ns(999) == "999ns");
  CHECK(format_ns(1000) == "1.00us");
  CHECK(format_ns(12'345) == "12.3us");
  CHECK(format_ns(123'456) == "123us");
  CHECK(format_ns(999'499) == "999us");
  CHECK(format_ns(999'960) == "1.00ms");  // rounding carries into the next unit
  CHECK(format_ns(4'560'000) == "4.56ms");
  CHECK(format_ns(4'565'000) == "4.57ms");
  CHECK(format_ns(45'600'000) == "45.6ms");
  CHECK(format_ns(1'200'000'000) == "1.20s");
  CHECK(format_ns(61'000'000'000ULL) == "61.0s");
  CHECK(format_ns(1'234'000'000'000ULL) == "1234s");
  CHECK(format_ns(UINT64_MAX) == "18446744074s");
}
