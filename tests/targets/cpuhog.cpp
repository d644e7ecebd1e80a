// cpuhog - keeps one CPU busy; injected interference for irqlat's tests (a
// target sharing this CPU must show runqueue time, with this process in
// `preempted_by`; a target on another CPU must not).
//
//   cpuhog [--cpu N] [--seconds S]
//
// One thread (tid == pid) pins itself to CPU N with sched_setaffinity (no
// pinning without --cpu) and spins without any system call in the loop. It
// stops after S seconds (S may be fractional, e.g. 0.5), or, by default,
// when SIGTERM or SIGINT arrives; it then exits with status 0.
// Output: none on stdout. Errors on stderr; exit status 2 on a usage error.

#include <irqlat/example_util.h>

#include <cstdint>
#include <string>

#include <sched.h>

using namespace irqlat::example;
const char irqlat::example::kProgramName[] = "cpuhog";

namespace {

const char *kUsage =
    "usage: cpuhog [--cpu N] [--seconds S]\n"
    "  --cpu N        pin to CPU N (default: not pinned)\n"
    "  --seconds S    stop after S seconds (default: run until SIGTERM/SIGINT)\n"
    "no output; exit status 0\n";

}  // namespace

int main(int argc, char **argv) {
  long cpu = -1;
  double seconds = 0;  // 0 = until a signal
  for (Args a(argc, argv); a.next();) {
    const std::string &arg = a.name();
    if (a.is_help()) {
      show_help(kUsage);
    } else if (arg == "--cpu") {
      std::string v = a.value();
      if (!to_long(v, 0, CPU_SETSIZE - 1, cpu))
        usage_error("--cpu: expected a CPU number, got '" + v + "'");
    } else if (arg == "--seconds") {
      seconds = parse_seconds(arg, a.value());
    } else {
      a.unknown();
    }
  }

  pin_to_cpu_option(cpu);
  stop_on_term_signals();

  const uint64_t end = seconds > 0 ? now_ns() + uint64_t(seconds * 1e9) : UINT64_MAX;
  uint64_t x = 1;
  while (!g_stop) {
    for (int i = 0; i < 100000; ++i) {  // ~0.1 ms between clock reads (vDSO, no syscall)
      x = x * 6364136223846793005u + 1442695040888963407u;
      asm volatile("" : "+r"(x));
    }
    if (now_ns() >= end) break;
  }
  return 0;
}
