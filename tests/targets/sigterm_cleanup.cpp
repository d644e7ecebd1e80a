// sigterm_cleanup - a process that takes a known time to stop after SIGTERM;
// an oracle for irqlat's `--cancel signal --done exit` windows.
//
//   sigterm_cleanup [--cleanup busy|sleep] [--cleanup-ms MS] [--loop sleep|busy]
//
// Installs a SIGTERM handler, prints the ready line, then runs its main loop
// (--loop sleep: clock_nanosleep 1 ms per turn, the default; --loop busy:
// spin) until SIGTERM arrives. The handler only stamps CLOCK_MONOTONIC and
// sets a flag. The main loop then prints the sigterm line and does a
// deliberate cleanup of --cleanup-ms (default 20) measured from the handler's
// stamp: --cleanup busy spins on the CPU, --cleanup sleep (default) sleeps in
// clock_nanosleep. Then it stamps, prints the exit line and calls exit(0).
//
// Output: stdout, one JSON object per line, each flushed as printed:
//   {"event":"ready","pid":P}     the handler is installed: send SIGTERM now
//   {"event":"sigterm","ts":NS,"cpu_ns":C}   stamped first thing in the signal handler
//   {"event":"exit","ts":NS,"cpu_ns":C}      stamped right before printing this and exit(0)
// NS is CLOCK_MONOTONIC in nanoseconds (the clock of bpf_ktime_get_ns()).
// C is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID) as the line is
// printed: exit.cpu_ns - sigterm.cpu_ns is how much of the cleanup it ran
// (all of it, busy, unless something else took its CPU).
// exit.ts - sigterm.ts = cleanup time + a few us (>= --cleanup-ms). A tracer's
// window is longer at both ends: it opens when the kernel generates the
// signal (before the handler runs: signal delivery latency, larger if the
// process was asleep or off CPU) and closes when the process has exited
// (after exit(0): stdio flush and process teardown, tens of us).
// Exit status 0; 2 on a usage error.

#include <irqlat/example_util.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <time.h>
#include <unistd.h>

using namespace irqlat::example;

const char irqlat::example::kProgramName[] = "sigterm_cleanup";

namespace {

// This thread's CPU time so far (CLOCK_THREAD_CPUTIME_ID), in ns.
uint64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

const char *kUsage =
    "usage: sigterm_cleanup [--cleanup busy|sleep] [--cleanup-ms MS] [--loop sleep|busy]\n"
    "  --cleanup busy|sleep  how the cleanup after SIGTERM spends its time (default sleep)\n"
    "  --cleanup-ms MS       cleanup duration, from the handler's stamp (default 20)\n"
    "  --loop sleep|busy     main loop before the signal: 1 ms sleeps (default) or spin\n"
    "stdout, one JSON object per line:\n"
    "  {\"event\":\"ready\",\"pid\":P}\n"
    "  {\"event\":\"sigterm\",\"ts\":NS,\"cpu_ns\":C}   (stamped in the SIGTERM handler)\n"
    "  {\"event\":\"exit\",\"ts\":NS,\"cpu_ns\":C}      (stamped just before exit(0))\n"
    "ts = CLOCK_MONOTONIC ns; cpu_ns = the thread's CPU time as the line is printed\n";

volatile sig_atomic_t g_term = 0;
volatile uint64_t g_term_ts = 0;  // written by the handler before g_term

void on_sigterm(int) {  // async-signal-safe: now_ns() only reads the clock
  if (g_term) return;  // keep the first stamp
  g_term_ts = now_ns();
  g_term = 1;
}

}  // namespace

int main(int argc, char **argv) {
  bool cleanup_busy = false, loop_busy = false;
  long cleanup_ms = 20;
  for (Args a(argc, argv); a.next();) {
    const std::string &arg = a.name();
    if (a.is_help()) {
      show_help(kUsage);
    } else if (arg == "--cleanup") {
      std::string v = a.value();
      if (v != "busy" && v != "sleep") usage_error("--cleanup: expected busy or sleep, got '" + v + "'");
      cleanup_busy = v == "busy";
    } else if (arg == "--loop") {
      std::string v = a.value();
      if (v != "busy" && v != "sleep") usage_error("--loop: expected busy or sleep, got '" + v + "'");
      loop_busy = v == "busy";
    } else if (arg == "--cleanup-ms") {
      cleanup_ms = parse_long(arg, a.value(), 0, 3600000);
    } else {
      a.unknown();
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  if (!install_handler(SIGTERM, on_sigterm)) sys_error("sigaction");
  std::printf("{\"event\":\"ready\",\"pid\":%d}\n", getpid());

  const timespec one_ms{0, 1000000};
  while (!g_term) {
    if (!loop_busy) clock_nanosleep(CLOCK_MONOTONIC, 0, &one_ms, nullptr);  // EINTR on the signal
  }
  const uint64_t t_term = g_term_ts;
  std::printf("{\"event\":\"sigterm\",\"ts\":%llu,\"cpu_ns\":%llu}\n", (unsigned long long)t_term,
              (unsigned long long)thread_cpu_ns());

  // Cleanup until t_term + cleanup_ms.
  const uint64_t end = t_term + uint64_t(cleanup_ms) * 1000000u;
  if (cleanup_busy)
    spin_until_ns(end);
  else
    sleep_until_ns(end);

  const uint64_t t_exit = now_ns();
  std::printf("{\"event\":\"exit\",\"ts\":%llu,\"cpu_ns\":%llu}\n", (unsigned long long)t_exit,
              (unsigned long long)thread_cpu_ns());
  std::exit(0);
}
