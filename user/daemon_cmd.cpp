// See daemon_cmd.h. One thread runs everything that touches state: the ring
// buffer, the control socket, metrics renders and signals all wake one
// epoll_wait, so a request never races the collector.
#include "user/daemon_cmd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "loader/loader.h"
#include "loader/regular_file.h"
#include "user/control_server.h"
#include "user/daemon.h"
#include "user/heap_tuning.h"
#include "user/log.h"
#include "user/metrics_server.h"
#include "user/privileges.h"
#include "user/stop_worker.h"

namespace irqlat {
namespace {

// The ring buffer wakes us only when 1/4 full (BPF_RB_NO_WAKEUP): drain at
// least this often, so tables stay current and a signal never waits behind
// a long backlog.
constexpr int kDrainMs = kPumpMs;

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

UsageError output_error(const char* what, const std::string& path, const std::string& problem) {
  return UsageError(std::string("cannot write ") + what + " '" + path + "': " + problem);
}

// Checked before anything is loaded, so a bad path fails at once (usage
// error), but nothing is created: a daemon that then fails to start (another
// daemon on the socket, no BPF) leaves no empty file behind, and never
// touches a running daemon's pidfile. Only a regular file will do: opening a
// FIFO would block, and a device cannot be truncated.
void check_output(const std::string& path, const char* what) {
  struct stat st;
  const bool exists = stat(path.c_str(), &st) == 0;
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string problem;
  if (exists && S_ISDIR(st.st_mode)) problem = std::strerror(EISDIR);
  else if (exists && !S_ISREG(st.st_mode)) problem = "not a regular file";
  else if (exists ? access(path.c_str(), W_OK) != 0 : access(dir.c_str(), W_OK | X_OK) != 0)
    problem = std::strerror(errno);
  if (!problem.empty()) throw output_error(what, path, problem);
}

// Opened (not truncated) once startup has succeeded, before the capability
// drop, so the write at exit needs no privilege. A FIFO put there since
// check_output is refused, not waited on (open_regular_file).
int open_output(const std::string& path, const char* what) {
  const RegularFile f = open_regular_file(path, O_WRONLY | O_CREAT, 0644);
  if (f.fd < 0) throw output_error(what, path, f.why());
  return f.fd;
}

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw sys_error("write");
    off += static_cast<size_t>(n);
  }
}

void replace_contents(int fd, const std::string& s) {
  if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) throw sys_error("truncate");
  write_all(fd, s);
}

void watch(int epfd, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) throw sys_error("epoll_ctl");
}

// Up to max_clients control clients plus the BPF objects' own descriptors:
// the usual soft limit of 1024 is too low.
void raise_fd_limit(rlim_t want) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return;
  rl.rlim_cur = std::min(want, rl.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
    logf(LogLevel::Warn, "open file limit is {}: fewer than {} control clients fit", rl.rlim_cur,
         ControlLimits().max_clients);
}

int serve(const Options& opts) {
  log_open(opts.log_file, opts.verbose > 0 ? LogLevel::Debug : LogLevel::Info);
  check_can_trace();
  raise_fd_limit(ControlLimits().max_clients + 256);
  // Before any thread exists (threads inherit it) and before capabilities
  // are dropped (a negative nice needs CAP_SYS_NICE).
  if (setpriority(PRIO_PROCESS, 0, opts.nice) != 0)
    logf(LogLevel::Warn, "cannot set nice {}: {}", opts.nice, std::strerror(errno));
  if (!opts.pidfile.empty()) check_output(opts.pidfile, "--pidfile");
  if (!opts.dump_on_exit.empty()) check_output(opts.dump_on_exit, "--dump-on-exit");

  // Blocked before any thread exists, so every thread inherits the mask and
  // only the signalfd sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&sigs, s);
  sigprocmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sig_fd < 0) throw sys_error("signalfd");

  auto daemon_ptr = std::make_unique<Daemon>(opts);  // loads the programs
  Daemon& daemon = *daemon_ptr;
  ControlLimits limits;
  limits.idle_ns = opts.client_timeout_ns;
  ControlServer control(
      opts.socket_path, [&](const std::string& line) { return daemon.handle(line); }, limits);
  daemon.set_control(&control);
  // Bound now, with every privilege (a port below 1024 needs
  // CAP_NET_BIND_SERVICE); its threads start only after the drop below.
  std::unique_ptr<MetricsServer> metrics;
  if (!opts.metrics_addr.empty()) metrics = open_metrics_server(opts.metrics_addr);
  daemon.start();
  // Started: only now the files (see check_output). Should this fail, the
  // unwinding removes the socket and the files created so far.
  int pid_fd = -1, dump_fd = -1;
  try {
    if (!opts.pidfile.empty()) {
      pid_fd = open_output(opts.pidfile, "--pidfile");
      replace_contents(pid_fd, std::to_string(getpid()) + "\n");
    }
    if (!opts.dump_on_exit.empty()) dump_fd = open_output(opts.dump_on_exit, "--dump-on-exit");
  } catch (...) {
    if (pid_fd >= 0) unlink(opts.pidfile.c_str());
    throw;
  }
  // Capabilities and no_new_privs are per thread: the drop must come before
  // any thread exists, so that every thread has the reduced sets. The one
  // thread started before it, the stop worker (SCHED_FIFO 1 needs
  // CAP_SYS_NICE), drops its own before this goes on.
  StopWorker stopper([] { drop_unneeded_capabilities(); });
  std::string drop_error;
  try {
    const auto kept = drop_unneeded_capabilities();
    std::string names;
    for (const auto& n : kept) names += (names.empty() ? "" : " ") + n;
    logf(LogLevel::Debug, "capabilities kept: {}; the stop runs at {}", names, stopper.priority());
  } catch (const std::exception& e) {
    drop_error = e.what();
    logf(LogLevel::Warn, "{}", drop_error);
  }
  if (!stopper.setup_error().empty() && stopper.setup_error() != drop_error)
    logf(LogLevel::Warn, "stop thread: {}", stopper.setup_error());
  if (metrics) metrics->start();

  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) throw sys_error("epoll_create1");
  watch(epfd, sig_fd);
  watch(epfd, control.fd());
  watch(epfd, daemon.ring_fd());
  if (metrics) watch(epfd, metrics->fd());

  // A stop request cuts a drain short, and control requests wait for the
  // next loop (sigpending: the signals are blocked and wait for the
  // signalfd).
  const auto stop_pending = [] {
    sigset_t pending;
    return sigpending(&pending) == 0 && (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT));
  };
  daemon.set_abort(stop_pending);
  control.set_abort(stop_pending);

  std::fprintf(stderr, "irqlat: tracing nothing yet: daemon pid %d, control socket %s%s\n", getpid(),
               printable(opts.socket_path).c_str(),
               opts.metrics_addr.empty() ? "" : printable(", metrics on " + opts.metrics_addr).c_str());
  std::fflush(stderr);

  uint64_t last_drain = monotonic_ns();
  int stop_signal = 0;
  while (!stop_signal) {
    epoll_event evs[8];
    // Requests already read wait for their turn: no sleeping then.
    const int n = epoll_wait(epfd, evs, 8, control.backlog() ? 0 : kDrainMs);
    if (n < 0 && errno != EINTR) throw sys_error("epoll_wait");
    bool ring_ready = false, control_ready = control.backlog(), metrics_ready = false;
    for (int i = 0; i < n; i++) {
      const int fd = evs[i].data.fd;
      if (fd == sig_fd) {
        signalfd_siginfo si;
        while (read(sig_fd, &si, sizeof(si)) == static_cast<ssize_t>(sizeof(si))) {
          if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            stop_signal = static_cast<int>(si.ssi_signo);
          } else if (si.ssi_signo == SIGHUP) {
            log_reopen();
          } else if (si.ssi_signo == SIGUSR1) {
            daemon.tick(0);
            const std::string tables = daemon.dump(opts.format, opts.top);
            std::fputs(tables.c_str(), log_stream());
            std::fflush(log_stream());
          }
        }
      } else if (fd == control.fd()) {
        control_ready = true;
      } else if (metrics && fd == metrics->fd()) {
        metrics_ready = true;
      } else {
        ring_ready = true;
      }
    }
    if (stop_signal) break;
    uint64_t now = monotonic_ns();
    // Records first, so a request or scrape sees everything up to now.
    if (ring_ready || control_ready || metrics_ready || now - last_drain >= kDrainMs * 1'000'000ULL) {
      daemon.tick(0);
      last_drain = now = monotonic_ns();
    }
    control.service(now);
    if (metrics_ready) {
      metrics->serve_pending([&] {
        daemon.count_scrape();
        return daemon.metrics();
      });
    }
  }

  // Stop: the counted interval closes at once; then the final dump (only if
  // asked: it needs the records still in the ring), then everything goes.
  // All of it on the stop worker, at real-time priority; this thread waits.
  const uint64_t t0 = monotonic_ns();
  auto phase = [&](const char* what) {
    logf(LogLevel::Debug, "stop: {} at {:.2f} ms", what, (monotonic_ns() - t0) / 1e6);
  };
  stopper.run([&] {
    daemon.stop(dump_fd >= 0);
    phase("interval closed");
    if (metrics) metrics->shutdown();
    control.close_all();  // socket file removed
    if (dump_fd >= 0) {
      try {
        replace_contents(dump_fd, daemon.dump(opts.format, opts.top));
      } catch (const std::exception& e) {
        logf(LogLevel::Error, "cannot write --dump-on-exit '{}': {}", opts.dump_on_exit, e.what());
      }
      close(dump_fd);
      phase("final dump written");
    }
    if (pid_fd >= 0) {
      unlink(opts.pidfile.c_str());
      close(pid_fd);
    }
    logf(LogLevel::Info, "stopping on {} with {} target(s) attached, at {}", strsignal(stop_signal),
         daemon.attached_count(), stopper.priority());
    logf(LogLevel::Info, "stopped tracing");
    daemon.detach();  // closing the links is most of the stop
    phase("programs detached");
  });
  logf(LogLevel::Info, "stopped in {:.1f} ms", (monotonic_ns() - t0) / 1e6);
  std::fflush(nullptr);
  // Not a return: HTTP worker threads may still be blocked on slow clients,
  // and what is left (memory, map and program fds) the kernel frees faster
  // than destructors would.
  _exit(0);
}

}  // namespace

int run_daemon(const Options& opts) {
  tune_heap_for_live();
  // A failed start is logged with its level like every other daemon line
  // (on stderr too when the log is a file: systemd and scripts see why).
  auto fatal = [](const char* what) {
    if (log_stream() != stderr) log_line(LogLevel::Error, what);
    std::fprintf(stderr, "irqlat: error: %s\n", printable(what).c_str());
  };
  try {
    return serve(opts);
  } catch (const UsageError& e) {
    fatal(e.what());
    return 2;
  } catch (const std::exception& e) {
    fatal(e.what());
    return 1;
  }
}

}  // namespace irqlat
