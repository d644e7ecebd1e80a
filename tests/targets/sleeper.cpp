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
//    "elapsed_ns":E,"nvcsw":V,"nivcsw":W,"run_ns":U,"run_delay_ns":R}
// iterations = completed sleeps; oversleep_* over those (nearest-rank
// percentiles, 0 when there were none); elapsed_ns = CLOCK_MONOTONIC time of
// the loop; nvcsw/nivcsw = the thread's getrusage(RUSAGE_THREAD) counts over
// the whole run (the voluntary ones are about one per iteration; a hog on
// the CPU shows up in nivcsw); run_ns and run_delay_ns = the kernel's own
// counts of the time the thread ran on a CPU and waited on a runqueue since
// it started (/proc/thread-self/schedstat, first and second fields; null if
// unreadable). Exit status 0; 2 on a usage error.

#include <irqlat/example_util.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

using namespace irqlat::example;
const char irqlat::example::kProgramName[] = "sleeper";

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
    "   \"oversleep_p99_ns\":..,\"oversleep_max_ns\":..,\"elapsed_ns\":..,\"nvcsw\":..,\"nivcsw\":..,\n"
    "   \"run_ns\":U|null,\"run_delay_ns\":R|null}\n";

// The kernel's time on a CPU and runqueue wait of this thread so far, as
// the JSON fields run_ns and run_delay_ns (null if unreadable).
std::string schedstat_json() {
  FILE *f = std::fopen("/proc/thread-self/schedstat", "r");
  unsigned long long run_ns = 0, delay_ns = 0;
  const bool ok = f && std::fscanf(f, "%llu %llu", &run_ns, &delay_ns) == 2;
  if (f) std::fclose(f);
  if (!ok) return "\"run_ns\":null,\"run_delay_ns\":null";
  return "\"run_ns\":" + std::to_string(run_ns) + ",\"run_delay_ns\":" + std::to_string(delay_ns);
}

}  // namespace

int main(int argc, char **argv) {
  long cpu = -1, sleep_us = 1000, work_us = 200, slack_ns = 1;
  double seconds = 2;
  std::string wait_file;
  for (Args a(argc, argv); a.next();) {
    const std::string &arg = a.name();
    if (a.is_help()) {
      show_help(kUsage);
    } else if (arg == "--cpu") {
      cpu = parse_long(arg, a.value(), 0, CPU_SETSIZE - 1);
    } else if (arg == "--sleep-us") {
      sleep_us = parse_long(arg, a.value(), 1, 60000000);
    } else if (arg == "--work-us") {
      work_us = parse_long(arg, a.value(), 0, 60000000);
    } else if (arg == "--timer-slack-ns") {
      slack_ns = parse_long(arg, a.value(), 1, 1000000000);
    } else if (arg == "--seconds") {
      seconds = parse_seconds(arg, a.value());
    } else if (arg == "--wait-file") {
      wait_file = parse_path(arg, a.value());
    } else {
      a.unknown();
    }
  }

  pin_to_cpu_option(cpu);
  if (prctl(PR_SET_TIMERSLACK, (unsigned long)slack_ns, 0, 0, 0) != 0)
    sys_error("prctl(PR_SET_TIMERSLACK)");
  stop_on_term_signals();

  if (!wait_file.empty()) wait_for_file(wait_file, &g_stop);

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
    spin_until_ns(t1 + work_ns);
  }
  const uint64_t elapsed = now_ns() - start;
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  const std::string schedstat = schedstat_json();

  uint64_t total = 0;
  for (uint64_t v : over) total += v;
  std::sort(over.begin(), over.end());
  auto rank = [&](double p) { return (unsigned long long)nearest_rank(over, p); };
  const std::string cpu_json = cpu >= 0 ? std::to_string(cpu) : "null";
  std::printf(
      "{\"pid\":%d,\"tid\":%d,\"cpu\":%s,\"sleep_us\":%ld,\"work_us\":%ld,\"timer_slack_ns\":%ld,"
      "\"iterations\":%zu,\"oversleep_total_ns\":%llu,\"oversleep_min_ns\":%llu,"
      "\"oversleep_p50_ns\":%llu,\"oversleep_p99_ns\":%llu,\"oversleep_max_ns\":%llu,"
      "\"elapsed_ns\":%llu,\"nvcsw\":%ld,\"nivcsw\":%ld,%s}\n",
      getpid(), gettid(), cpu_json.c_str(), sleep_us, work_us, slack_ns, over.size(),
      (unsigned long long)total, rank(0.0), rank(0.50), rank(0.99), rank(1.0),
      (unsigned long long)elapsed, ru.ru_nvcsw, ru.ru_nivcsw, schedstat.c_str());
  std::fflush(stdout);
  return 0;
}
