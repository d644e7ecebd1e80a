// stop_time - how long a tracer takes from SIGTERM to exit.
//
//   stop_time [--ready PREFIX] [--stopped PREFIX] [--delay-ms MIN,MAX] [--seed N]
//             [--timeout-s T] -- COMMAND [ARGS...]
//
// Starts COMMAND (stdin and stdout on /dev/null, stderr on a pipe), waits for
// a stderr line starting with --ready (default "irqlat: tracing"), sleeps a
// uniformly random delay in [MIN, MAX] ms (default 300,2000), sends SIGTERM
// through a pidfd and measures, on CLOCK_MONOTONIC, until the pidfd reports
// the process has exited; the time the --stopped line (default
// "irqlat: stopped tracing") appears is taken on the way. Prints one JSON
// line on stdout:
//   {"pid":P,"ready_ns":A,"delay_ns":D,"signal_to_stopped_ns":S|null,
//    "signal_to_exit_ns":E,"exit_status":X}
// ready_ns: start -> ready line. exit_status: the exit code, or 128+signal.
// Exit status 0; 2 on a usage error; 1 if COMMAND cannot start, dies before
// it is ready, or does not exit within --timeout-s (default 30) seconds of
// SIGTERM (then it is killed); its stderr is repeated on ours.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace {

const char* kUsage =
    "usage: stop_time [--ready PREFIX] [--stopped PREFIX] [--delay-ms MIN,MAX] [--seed N]\n"
    "                 [--timeout-s T] -- COMMAND [ARGS...]\n"
    "  starts COMMAND, waits for a stderr line starting with PREFIX (default 'irqlat: tracing'),\n"
    "  sleeps a random MIN..MAX ms (default 300,2000), sends SIGTERM, times it until exit\n"
    "stdout: {\"pid\":P,\"ready_ns\":A,\"delay_ns\":D,\"signal_to_stopped_ns\":S|null,\n"
    "         \"signal_to_exit_ns\":E,\"exit_status\":X}\n";

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + ts.tv_nsec;
}

bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(s.c_str(), &end, 10);
  if (errno || *end) return false;
  out = v;
  return true;
}

// Splits the child's stderr into lines and remembers all of it.
struct LineReader {
  int fd = -1;
  std::string partial, all;
  bool eof = false;

  // Reads what is there; calls f(line) for each complete line.
  template <typename F>
  void read_some(F f) {
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof = true;
      return;
    }
    all.append(buf, n);
    partial.append(buf, n);
    for (size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
      f(partial.substr(0, nl));
      partial.erase(0, nl + 1);
    }
  }
};

// Reads the rest of the stderr pipe, for at most timeout_ms (a grandchild
// may still hold the pipe open).
void drain(LineReader& r, int timeout_ms) {
  const uint64_t end = now_ns() + uint64_t(timeout_ms) * 1'000'000ull;
  for (uint64_t now; !r.eof && (now = now_ns()) < end;) {
    pollfd p = {r.fd, POLLIN, 0};
    if (poll(&p, 1, int((end - now) / 1'000'000 + 1)) > 0) r.read_some([](const std::string&) {});
  }
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

int exit_status_of(const siginfo_t& si) {
  return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

}  // namespace

int main(int argc, char** argv) {
  std::string ready = "irqlat: tracing", stopped = "irqlat: stopped tracing";
  uint64_t dmin = 300, dmax = 2000, timeout_s = 30, seed = 0;
  bool have_seed = false;
  int cmd = -1;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i], v;
    if (a == "--") {
      cmd = i + 1;
      break;
    }
    if (a == "-h" || a == "--help") {
      fputs(kUsage, stdout);
      return 0;
    }
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    }
    bool ok = true;
    if (a == "--ready") ready = v;
    else if (a == "--stopped") stopped = v;
    else if (a == "--timeout-s") ok = parse_u64(v, timeout_s);
    else if (a == "--seed") ok = have_seed = parse_u64(v, seed);
    else if (a == "--delay-ms") {
      size_t c = v.find(',');
      ok = c != std::string::npos && parse_u64(v.substr(0, c), dmin) &&
           parse_u64(v.substr(c + 1), dmax) && dmin <= dmax;
    } else ok = false;
    if (!ok) {
      fprintf(stderr, "stop_time: bad option '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (cmd < 0 || cmd >= argc) {
    fprintf(stderr, "stop_time: no COMMAND after --\n%s", kUsage);
    return 2;
  }

  int errp[2];
  if (pipe2(errp, O_CLOEXEC) != 0) {
    perror("stop_time: pipe");
    return 1;
  }
  const uint64_t t_start = now_ns();
  pid_t pid = fork();
  if (pid < 0) {
    perror("stop_time: fork");
    return 1;
  }
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(errp[1], 2);
    execvp(argv[cmd], argv + cmd);
    fprintf(stderr, "stop_time: cannot run %s: %s\n", argv[cmd], strerror(errno));
    _exit(127);
  }
  close(errp[1]);
  fcntl(errp[0], F_SETFL, O_NONBLOCK);
  int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    perror("stop_time: pidfd_open");
    kill(pid, SIGKILL);
    return 1;
  }
  LineReader err;
  err.fd = errp[0];
  auto fail = [&](const char* why) {
    fprintf(stderr, "stop_time: %s; its stderr:\n%s", why, err.all.c_str());
    return 1;
  };

  // 1. Wait for the ready line.
  uint64_t t_ready = 0;
  while (!t_ready) {
    pollfd p[2] = {{errp[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
    int n = poll(p, err.eof ? 1 : 2, 60'000);
    if (n == 0) {
      kill(pid, SIGKILL);
      return fail("no ready line within 60 s");
    }
    if (p[0].revents) err.read_some([&](const std::string& l) {
        if (!t_ready && starts_with(l, ready)) t_ready = now_ns();
      });
    if (!t_ready && p[1].revents) {
      siginfo_t si{};
      waitid(idtype_t(P_PIDFD), id_t(pidfd), &si, WEXITED);
      drain(err, 1000);
      return fail("the command exited before it was ready");
    }
  }

  // 2. A random moment later (still draining stderr), SIGTERM.
  std::mt19937_64 rng(have_seed ? seed : std::random_device{}());
  const uint64_t delay = std::uniform_int_distribution<uint64_t>(dmin, dmax)(rng) * 1'000'000ull;
  const uint64_t fire = now_ns() + delay;
  for (uint64_t now; (now = now_ns()) < fire;) {
    pollfd p = {errp[0], POLLIN, 0};
    int ms = int((fire - now + 999'999) / 1'000'000);
    if (poll(&p, err.eof ? 0 : 1, ms) > 0) err.read_some([](const std::string&) {});
  }
  uint64_t t_stopped = 0;
  const uint64_t t_sig = now_ns();
  if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, nullptr, 0) != 0) {
    perror("stop_time: pidfd_send_signal");
    kill(pid, SIGKILL);
    return 1;
  }

  // 3. Until the pidfd says it exited.
  uint64_t t_exit = 0;
  const uint64_t give_up = t_sig + timeout_s * 1'000'000'000ull;
  while (!t_exit) {
    pollfd p[2] = {{pidfd, POLLIN, 0}, {errp[0], POLLIN, 0}};
    uint64_t now = now_ns();
    if (now >= give_up) {
      kill(pid, SIGKILL);
      siginfo_t si{};
      waitid(idtype_t(P_PIDFD), id_t(pidfd), &si, WEXITED);
      return fail("no exit within the timeout after SIGTERM (killed)");
    }
    int n = poll(p, err.eof ? 1 : 2, int((give_up - now) / 1'000'000 + 1));
    if (n > 0 && p[0].revents) t_exit = now_ns();
    if (n > 0 && !err.eof && p[1].revents) err.read_some([&](const std::string& l) {
        if (!t_stopped && starts_with(l, stopped)) t_stopped = now_ns();
      });
  }
  // The stopped line may still sit in the pipe: its time is then unknown.
  siginfo_t si{};
  waitid(idtype_t(P_PIDFD), id_t(pidfd), &si, WEXITED);
  const int status = exit_status_of(si);
  std::string stopped_json = t_stopped ? std::to_string(t_stopped - t_sig) : "null";
  printf("{\"pid\":%d,\"ready_ns\":%llu,\"delay_ns\":%llu,\"signal_to_stopped_ns\":%s,"
         "\"signal_to_exit_ns\":%llu,\"exit_status\":%d}\n",
         pid, (unsigned long long)(t_ready - t_start), (unsigned long long)delay,
         stopped_json.c_str(), (unsigned long long)(t_exit - t_sig), status);
  if (status != 0) {
    drain(err, 1000);
    fprintf(stderr, "stop_time: exit status %d; its stderr:\n%s", status, err.all.c_str());
  }
  return 0;
}
