// irqlat/example_util.h - helpers shared by the small example and test target
// programs (examples/cancel_loop.cpp, tests/targets/*.cpp).
//
// Header-only so that each program stays one .cpp file built by one compiler
// command (see the Makefile). Everything here reproduces what the programs
// did on their own before, byte for byte in messages and exit codes: the
// integration tests read their output and check their errors.
//
// Each program must define its name, used as the prefix of every message:
//   const char irqlat::example::kProgramName[] = "cpuhog";
// (a program that forgets gets a link error rather than a wrong prefix).
#ifndef IRQLAT_EXAMPLE_UTIL_H
#define IRQLAT_EXAMPLE_UTIL_H

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/stat.h>
#include <time.h>

namespace irqlat::example {

extern const char kProgramName[];

// ---- errors: exit status 2 for a usage error, 1 for a system error ------

[[noreturn]] inline void usage_error(const std::string &msg) {
  std::fprintf(stderr, "%s: %s (see --help)\n", kProgramName, msg.c_str());
  std::exit(2);
}

// "<program>: <what>: <strerror(errno)>", i.e. what perror() prints.
[[noreturn]] inline void sys_error(const char *what) {
  std::fprintf(stderr, "%s: %s: %s\n", kProgramName, what, std::strerror(errno));
  std::exit(1);
}

// ---- time: CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns() -------------

// Async-signal-safe (clock_gettime is), so signal handlers may stamp with it.
inline uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// Sleeps until CLOCK_MONOTONIC reaches `end`, resuming after signals.
inline void sleep_until_ns(uint64_t end) {
  const timespec ts{time_t(end / 1000000000u), long(end % 1000000000u)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// Sleeps `ns` on CLOCK_MONOTONIC, resuming after signals.
inline void sleep_ns(uint64_t ns) { sleep_until_ns(now_ns() + ns); }

// Keeps the CPU busy (no system call: now_ns() is a vDSO read) until `end`.
inline void spin_until_ns(uint64_t end) {
  while (now_ns() < end) {
  }
}

// ---- command line -----------------------------------------------------

// Walks argv the way all these programs take options: "--name value" or
// "--name=value" (only an argument starting with "--" is split at its first
// '='). Typical loop:
//   for (Args a(argc, argv); a.next();) {
//     if (a.is_help()) show_help(kUsage);
//     else if (a.name() == "--rounds") rounds = parse_long(a.name(), a.value(), 1, 100);
//     else a.unknown();
//   }
class Args {
 public:
  Args(int argc, char **argv) : argc_(argc), argv_(argv) {}

  // Moves to the next argument; false after the last one.
  bool next() {
    if (++i_ >= argc_) return false;
    name_ = argv_[i_];
    value_.clear();
    has_value_ = false;
    if (size_t eq = name_.find('='); name_.rfind("--", 0) == 0 && eq != std::string::npos) {
      value_ = name_.substr(eq + 1);
      name_ = name_.substr(0, eq);
      has_value_ = true;
    }
    return true;
  }

  // The option name ("--cpu" also for "--cpu=1").
  const std::string &name() const { return name_; }
  // Whether the value came attached ("--name=value").
  bool has_value() const { return has_value_; }
  bool is_help() const { return name_ == "--help" || name_ == "-h"; }

  // The option's value: the part after '=', else the next argument (which is
  // consumed); a usage error when there is none.
  std::string value() {
    if (has_value_) return value_;
    if (i_ + 1 >= argc_) usage_error(name_ + " needs a value");
    return argv_[++i_];
  }

  // The usage error for an argument no program option matched (quoted whole,
  // as given).
  [[noreturn]] void unknown() const {
    usage_error("unknown argument '" + std::string(argv_[i_]) + "'");
  }

 private:
  int argc_;
  char **argv_;
  int i_ = 0;
  std::string name_, value_;
  bool has_value_ = false;
};

// --help: the usage text on stdout, exit status 0.
[[noreturn]] inline void show_help(const char *usage) {
  std::fputs(usage, stdout);
  std::exit(0);
}

// Parses `v` as a whole base-10 integer in [lo, hi] into `out`; false (and
// `out` unspecified) for anything else. For options with their own message.
inline bool to_long(const std::string &v, long lo, long hi, long &out) {
  char *end = nullptr;
  errno = 0;
  out = std::strtol(v.c_str(), &end, 10);
  return !v.empty() && *end == '\0' && errno == 0 && out >= lo && out <= hi;
}

// Option `name`'s integer value in [lo, hi]; a usage error otherwise.
inline long parse_long(const std::string &name, const std::string &v, long lo, long hi) {
  long x;
  if (!to_long(v, lo, hi, x))
    usage_error(name + ": expected an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "], got '" + v + "'");
  return x;
}

// Option `name`'s duration in seconds: a number > 0 and <= 1e6, fractions
// allowed ("0.5"); a usage error otherwise.
inline double parse_seconds(const std::string &name, const std::string &v) {
  char *end = nullptr;
  errno = 0;
  const double s = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno != 0 || !(s > 0) || s > 1e6)
    usage_error(name + ": expected a positive number, got '" + v + "'");
  return s;
}

// Option `name`'s path value; an empty one is a usage error.
inline std::string parse_path(const std::string &name, const std::string &v) {
  if (v.empty()) usage_error(name + ": empty path");
  return v;
}

// ---- CPUs ---------------------------------------------------------------

// Pins the calling thread to `cpus` (each < CPU_SETSIZE); false, with errno
// set, when the kernel refuses.
inline bool pin_to(std::span<const int> cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}
inline bool pin_to(int cpu) { return pin_to(std::span<const int>(&cpu, 1)); }

// For --cpu N (N < 0: not given, nothing to do): the kernel refusing (CPU
// offline or not allowed) is reported as a usage error, with the reason.
inline void pin_to_cpu_option(long cpu) {
  if (cpu < 0 || pin_to(int(cpu))) return;
  const int err = errno;
  usage_error("--cpu: cannot pin to CPU " + std::to_string(cpu) + ": " + std::strerror(err));
}

// For a --cpu list checked up front: every CPU must be in this process's
// affinity mask (online and allowed); a usage error naming the first that
// is not. Nothing is checked (no system call) for an empty list.
inline void check_cpus_allowed(std::span<const int> cpus) {
  if (cpus.empty()) return;
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) sys_error("sched_getaffinity");
  for (int cpu : cpus)
    if (!CPU_ISSET(cpu, &allowed))
      usage_error("--cpu: CPU " + std::to_string(cpu) + " is not online or not allowed");
}

// ---- signals ------------------------------------------------------------

// Installs `handler` for `sig` with no flags (so no SA_RESTART: a blocking
// call the signal interrupts fails with EINTR). False, errno set, on failure.
inline bool install_handler(int sig, void (*handler)(int)) {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  return sigaction(sig, &sa, nullptr) == 0;
}

// Set by SIGTERM/SIGINT once stop_on_term_signals() has run.
inline volatile sig_atomic_t g_stop = 0;

inline void on_stop_signal(int) { g_stop = 1; }

// SIGTERM and SIGINT set g_stop (and interrupt a sleep) instead of killing.
inline void stop_on_term_signals() {
  install_handler(SIGTERM, on_stop_signal);
  install_handler(SIGINT, on_stop_signal);
}

// ---- misc ---------------------------------------------------------------

// Blocks until `path` exists, looking every 1 ms (or until *stop is set, if
// given). This lets a test start a program first and release it later.
inline void wait_for_file(const std::string &path, const volatile sig_atomic_t *stop = nullptr) {
  struct stat st;
  const timespec ms{0, 1000000};
  while (stat(path.c_str(), &st) != 0 && !(stop && *stop)) nanosleep(&ms, nullptr);
}

// Nearest-rank percentile p (0..1) of `sorted` (ascending): p = 0 gives the
// minimum, p = 1 the maximum; 0 for an empty vector.
inline uint64_t nearest_rank(const std::vector<uint64_t> &sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t k = size_t(p * double(sorted.size()) + 0.999999);
  return sorted[std::min(sorted.size(), std::max<size_t>(k, 1)) - 1];
}

}  // namespace irqlat::example

#endif  // IRQLAT_EXAMPLE_UTIL_H
