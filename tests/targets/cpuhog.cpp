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

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <sched.h>
#include <time.h>
#include <unistd.h>

namespace {

const char *kUsage =
    "usage: cpuhog [--cpu N] [--seconds S]\n"
    "  --cpu N        pin to CPU N (default: not pinned)\n"
    "  --seconds S    stop after S seconds (default: run until SIGTERM/SIGINT)\n"
    "no output; exit status 0\n";

[[noreturn]] void usage_error(const std::string &msg) {
  std::fprintf(stderr, "cpuhog: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

}  // namespace

int main(int argc, char **argv) {
  long cpu = -1;
  double seconds = 0;  // 0 = until a signal
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
      std::string v = next();
      char *end = nullptr;
      errno = 0;
      cpu = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || errno != 0 || cpu < 0 || cpu >= CPU_SETSIZE)
        usage_error("--cpu: expected a CPU number, got '" + v + "'");
    } else if (arg == "--seconds") {
      std::string v = next();
      char *end = nullptr;
      errno = 0;
      seconds = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || errno != 0 || !(seconds > 0) || seconds > 1e6)
        usage_error("--seconds: expected a positive number, got '" + v + "'");
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
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

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
