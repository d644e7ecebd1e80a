// sleeper - a periodic sleep/work loop on one CPU that measures how late its
// own wakeups are; with and without tests/targets/cpuhog on the same CPU it is
// an oracle for irqlat's per-thread runqueue time and wakeup latency.
//
//   sleeper [--cpu N] [--sleep-us US] [--work-us US] [--seconds S]
//           [--timer-slack-ns NS] [--wait-file PATH]
//
// The main thread (so tid == pid) pins itself to CPU N, then loops for S
// seconds (default 2; SIGTERM/SIGINT end it early):
//   t0 = now; clock_nanosleep(CLOCK_MONOTONIC, relative --sleep-us, default
//   1000); t1 = now; oversleep += (t1 - t0) - sleep; busy-work until
//   t1 + --work-us (default 200; wall time, so preemption eats into it).
// Oversleep = timer slack + timer interrupt latency + wakeup -> on-CPU
// latency (runqueue time behind a hog shows up here). The timer slack is set
// to --timer-slack-ns (default 1 ns, i.e. none; the kernel default is 50 us)
// with prctl(PR_SET_TIMERSLACK) so that it does not hide the rest.
//
// Output: stdout, at the end, one JSON object on one line:
//   {"pid":P,"tid":T,"cpu":N|null,"sleep_us":US,"work_us":US,"timer_slack_ns":NS,
//    "iterations":I,"oversleep_total_ns":X,"oversleep_min_ns":A,
//    "oversleep_p50_ns":B,"oversleep_p99_ns":C,"oversleep_max_ns":D,
//    "elapsed_ns":E,"nvcsw":V,"nivcsw":W}
// iterations = completed sleeps; oversleep_* over those (nearest-rank
// percentiles, 0 when there were none); elapsed_ns = CLOCK_MONOTONIC time of
// the loop; nvcsw/nivcsw = the thread's getrusage(RUSAGE_THREAD) counts over
// the whole run (the voluntary ones are about one per iteration; a hog on
// the CPU shows up in nivcsw). Exit status 0; 2 on a usage error.

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace {

const char *kUsage =
    "usage: sleeper [--cpu N] [--sleep-us US] [--work-us US] [--seconds S]\n"
    "               [--timer-slack-ns NS] [--wait-file PATH]\n"
    "  --cpu N             pin the (main) thread to CPU N (default: not pinned)\n"
    "  --sleep-us US       sleep per iteration (default 1000)\n"
    "  --work-us US        busy work per iteration (default 200)\n"
    "  --seconds S         run time, may be fractional (default 2)\n"
    "  --timer-slack-ns NS prctl(PR_SET_TIMERSLACK) (default 1)\n"
    "  --wait-file PATH    start the loop only once PATH exists\n"
    "stdout at the end, one line:\n"
    "  {\"pid\":P,\"tid\":T,\"cpu\":N|null,\"sleep_us\":..,\"work_us\":..,\"timer_slack_ns\":..,\n"
    "   \"iterations\":I,\"oversleep_total_ns\":X,\"oversleep_min_ns\":..,\"oversleep_p50_ns\":..,\n"
    "   \"oversleep_p99_ns\":..,\"oversleep_max_ns\":..,\"elapsed_ns\":..,\"nvcsw\":..,\"nivcsw\":..}\n";

[[noreturn]] void usage_error(const std::string &msg) {
  std::fprintf(stderr, "sleeper: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

long parse_long(const std::string &name, const std::string &v, long lo, long hi) {
  char *end = nullptr;
  errno = 0;
  long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || x < lo || x > hi)
    usage_error(name + ": expected an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "], got '" + v + "'");
  return x;
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

}  // namespace

int main(int argc, char **argv) {
  long cpu = -1, sleep_us = 1000, work_us = 200, slack_ns = 1;
  double seconds = 2;
  std::string wait_file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    bool has_value = false;
    if (size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto next = [&]() -> std::string {
      if (has_value) return value;
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--cpu") {
      cpu = parse_long(arg, next(), 0, CPU_SETSIZE - 1);
    } else if (arg == "--sleep-us") {
      sleep_us = parse_long(arg, next(), 1, 60000000);
    } else if (arg == "--work-us") {
      work_us = parse_long(arg, next(), 0, 60000000);
    } else if (arg == "--timer-slack-ns") {
      slack_ns = parse_long(arg, next(), 1, 1000000000);
    } else if (arg == "--seconds") {
      std::string v = next();
      char *end = nullptr;
      errno = 0;
      seconds = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || errno != 0 || !(seconds > 0) || seconds > 1e6)
        usage_error("--seconds: expected a positive number, got '" + v + "'");
    } else if (arg == "--wait-file") {
      wait_file = next();
      if (wait_file.empty()) usage_error("--wait-file: empty path");
    } else {
      usage_error("unknown argument '" + std::string(argv[i]) + "'");
    }
  }

  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(int(cpu), &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
      usage_error("--cpu: cannot pin to CPU " + std::to_string(cpu) + ": " + std::strerror(errno));
  }
  if (prctl(PR_SET_TIMERSLACK, (unsigned long)slack_ns, 0, 0, 0) != 0) {
    std::perror("sleeper: prctl(PR_SET_TIMERSLACK)");
    return 1;
  }
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  if (!wait_file.empty()) {
    struct stat st;
    const timespec ms{0, 1000000};
    while (stat(wait_file.c_str(), &st) != 0 && !g_stop) nanosleep(&ms, nullptr);
  }

  const uint64_t sleep_ns = uint64_t(sleep_us) * 1000u, work_ns = uint64_t(work_us) * 1000u;
  std::vector<uint64_t> over;
  over.reserve(size_t(seconds * 1e9 / double(sleep_ns + work_ns)) + 16);
  const timespec req{time_t(sleep_ns / 1000000000u), long(sleep_ns % 1000000000u)};
  const uint64_t start = now_ns();
  const uint64_t end = start + uint64_t(seconds * 1e9);

  while (!g_stop && now_ns() < end) {
    const uint64_t t0 = now_ns();
    if (clock_nanosleep(CLOCK_MONOTONIC, 0, &req, nullptr) != 0) break;  // EINTR: a signal
    const uint64_t t1 = now_ns();
    over.push_back(t1 - t0 > sleep_ns ? t1 - t0 - sleep_ns : 0);
    while (now_ns() < t1 + work_ns) {
    }
  }
  const uint64_t elapsed = now_ns() - start;
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);

  uint64_t total = 0;
  for (uint64_t v : over) total += v;
  std::sort(over.begin(), over.end());
  auto rank = [&](double p) -> unsigned long long {  // nearest rank
    if (over.empty()) return 0;
    size_t k = size_t(p * double(over.size()) + 0.999999);
    return over[std::min(over.size(), std::max<size_t>(k, 1)) - 1];
  };
  const std::string cpu_json = cpu >= 0 ? std::to_string(cpu) : "null";
  std::printf(
      "{\"pid\":%d,\"tid\":%d,\"cpu\":%s,\"sleep_us\":%ld,\"work_us\":%ld,\"timer_slack_ns\":%ld,"
      "\"iterations\":%zu,\"oversleep_total_ns\":%llu,\"oversleep_min_ns\":%llu,"
      "\"oversleep_p50_ns\":%llu,\"oversleep_p99_ns\":%llu,\"oversleep_max_ns\":%llu,"
      "\"elapsed_ns\":%llu,\"nvcsw\":%ld,\"nivcsw\":%ld}\n",
      getpid(), gettid(), cpu_json.c_str(), sleep_us, work_us, slack_ns, over.size(),
      (unsigned long long)total, rank(0.0), rank(0.50), rank(0.99), rank(1.0),
      (unsigned long long)elapsed, ru.ru_nvcsw, ru.ru_nivcsw);
  std::fflush(stdout);
  return 0;
}
