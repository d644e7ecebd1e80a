// cancel_loop - a C++ program whose loops are cancelled, for irqlat.
//
// N worker threads run nested loops that poll one shared cancellation flag
// (std::atomic<bool>). Each round the main thread starts the workers, lets
// them run --run-ms, then cancels; every worker notices the flag, leaves its
// loop and reports done. The delay between the two is what irqlat measures
// (a cancellation window), and this program stamps both ends itself with
// clock_gettime(CLOCK_MONOTONIC) so the tool can be checked against it.
//
//   cancel_loop [--threads N] [--mode busy|block|sleep] [--rounds R]
//               [--run-ms MS] [--block-timeout-ms MS] [--sleep-us US]
//               [--cpu LIST] [--main-cpu LIST] [--start-delay-ms MS] [--wait-file PATH]
//               [--ignore-cancel]
//
// Modes (what a worker does between two looks at the flag):
//   busy   spins doing a little arithmetic; looks at the flag every inner
//          iteration (it notices as soon as it is on a CPU).
//   block  poll()s its own eventfd with a --block-timeout-ms timeout; the
//          canceller writes every worker's eventfd after setting the flag,
//          so a worker notices on that wakeup.
//   sleep  clock_nanosleep()s --sleep-us (1 ms) per turn, then looks at the
//          flag: it notices on its next timer wakeup.
//
// Output: stdout, one JSON object per line, flushed line by line. Per round,
// after every worker of that round is done (so printing never runs inside a
// window), the main thread prints
//   {"event":"cancel","round":R,"pid":P,"tid":T,"ts":NS,"ts_before":NS}
//   {"event":"done","round":R,"pid":P,"tid":T,"ts":NS,"ts_before":NS}
//                         cancel: T = main thread; done: one per worker,
//                                                          in order of ts
// R counts from 1 and is also the USDT argument of both markers; NS is
// CLOCK_MONOTONIC in nanoseconds (the clock of bpf_ktime_get_ns()); tid is
// gettid(). Stamp/marker order is the same at both ends: the marker, then the
// stamp (then, for cancel, the flag is set). A tracer stamps inside the
// marker's trap and we stamp after returning from it, so the trap-return cost
// (a few us with a probe attached) is in both stamps and cancels out of
// done.ts - cancel.ts. ts_before is stamped just before each marker, so
// [ts_before, ts] brackets the marker even when the thread is interrupted
// or preempted around it.
//
// --ignore-cancel: workers never leave their loops. The main thread still
// cancels every round (printing each cancel line right away; rounds follow
// each other every --run-ms), prints no done line, and exits with status 0
// 100 ms after the last cancel, leaving R unfinished windows.
//
// Diagnostics go to stderr (one "ready" line with pid and worker tids, and
// errors). Exit status: 0 on success, 2 on a usage error, 1 on a system error.

#include <irqlat/example_util.h>
#include <irqlat/probes.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

using namespace irqlat::example;
const char irqlat::example::kProgramName[] = "cancel_loop";

namespace {

enum class Mode { busy, block, sleep };

struct Options {
  int threads = 4;
  Mode mode = Mode::busy;
  int rounds = 5;
  long run_ms = 200;
  long block_timeout_ms = 50;
  long sleep_us = 1000;
  std::vector<int> cpus;
  std::vector<int> main_cpus;  // --main-cpu: pin the cancelling main thread
  long start_delay_ms = 0;
  std::string wait_file;
  bool ignore_cancel = false;
};

constexpr int kInnerIterations = 64;  // inner loop length; the outer loop never ends

const char *kUsage =
    "usage: cancel_loop [options]\n"
    "  --threads N            worker threads (default 4)\n"
    "  --mode busy|block|sleep\n"
    "                         busy: spin, check the flag every inner iteration (default)\n"
    "                         block: poll() an eventfd with a timeout; the canceller wakes it\n"
    "                         sleep: clock_nanosleep --sleep-us per turn, then check\n"
    "  --rounds R             cancel/restart rounds (default 5)\n"
    "  --run-ms MS            run time between start and cancel of a round (default 200)\n"
    "  --block-timeout-ms MS  poll() timeout in block mode (default 50)\n"
    "  --sleep-us US          sleep per turn in sleep mode (default 1000)\n"
    "  --cpu LIST             pin the workers to these CPUs, e.g. 1 or 0,1 or 0-1\n"
    "  --main-cpu LIST        pin the main (cancelling) thread to these CPUs\n"
    "  --start-delay-ms MS    wait before the first round (default 0)\n"
    "  --wait-file PATH       wait until PATH exists before the first round\n"
    "  --ignore-cancel        workers never stop: every window stays unfinished;\n"
    "                         exits 100 ms after the last cancel\n"
    "  --help                 this text\n"
    "stdout: one JSON object per line:\n"
    "  {\"event\":\"cancel\",\"round\":R,\"pid\":P,\"tid\":T,\"ts\":NS}\n"
    "  {\"event\":\"done\",\"round\":R,\"pid\":P,\"tid\":T,\"ts\":NS}\n"
    "ts = CLOCK_MONOTONIC ns; cancel: IRQLAT_CANCEL then stamp; done: IRQLAT_DONE then stamp.\n";

// "1", "0,1", "0-3,6" -> CPU numbers (sorted, unique). Errors name --cpu
// (also for --main-cpu).
std::vector<int> parse_cpu_list(const std::string &s) {
  std::vector<int> cpus;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t dash = item.find('-');
    long a, b;
    if (dash == std::string::npos) {
      a = b = parse_long("--cpu", item, 0, CPU_SETSIZE - 1);
    } else {
      a = parse_long("--cpu", item.substr(0, dash), 0, CPU_SETSIZE - 1);
      b = parse_long("--cpu", item.substr(dash + 1), 0, CPU_SETSIZE - 1);
      if (b < a) usage_error("--cpu: bad range '" + item + "'");
    }
    for (long c = a; c <= b; ++c) cpus.push_back(int(c));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

Options parse_args(int argc, char **argv) {
  Options o;
  for (Args a(argc, argv); a.next();) {
    const std::string &arg = a.name();
    if (a.is_help()) {
      show_help(kUsage);
    } else if (arg == "--threads") {
      o.threads = int(parse_long(arg, a.value(), 1, 1024));
    } else if (arg == "--mode") {
      std::string m = a.value();
      if (m == "busy") o.mode = Mode::busy;
      else if (m == "block") o.mode = Mode::block;
      else if (m == "sleep") o.mode = Mode::sleep;
      else usage_error("--mode: expected busy, block or sleep, got '" + m + "'");
    } else if (arg == "--rounds") {
      o.rounds = int(parse_long(arg, a.value(), 1, 1000000));
    } else if (arg == "--run-ms") {
      o.run_ms = parse_long(arg, a.value(), 0, 3600000);
    } else if (arg == "--block-timeout-ms") {
      o.block_timeout_ms = parse_long(arg, a.value(), 1, 3600000);
    } else if (arg == "--sleep-us") {
      o.sleep_us = parse_long(arg, a.value(), 1, 3600000000L);
    } else if (arg == "--cpu") {
      o.cpus = parse_cpu_list(a.value());
    } else if (arg == "--main-cpu") {
      o.main_cpus = parse_cpu_list(a.value());
    } else if (arg == "--start-delay-ms") {
      o.start_delay_ms = parse_long(arg, a.value(), 0, 3600000);
    } else if (arg == "--wait-file") {
      o.wait_file = parse_path(arg, a.value());
    } else if (arg == "--ignore-cancel") {
      if (a.has_value()) usage_error("--ignore-cancel takes no value");
      o.ignore_cancel = true;
    } else {
      a.unknown();
    }
  }
  return o;
}

// ---- shared state -------------------------------------------------------

std::atomic<bool> g_cancel{false};

struct Control {
  std::mutex m;
  std::condition_variable start_cv;  // main -> workers: new round (or shutdown)
  std::condition_variable done_cv;   // workers -> main: ready / finished a round
  int round = 0;                     // current round, -1 = shut down
  int ready = 0;                     // workers that have started
  int finished = 0;                  // workers done with the current round
};

struct Worker {
  int efd = -1;          // eventfd the canceller writes in block mode
  pid_t tid = 0;
  uint64_t t_done = 0;   // stamp of the last round this worker finished
  uint64_t t_done_before = 0;  // stamp just before its done marker
};

// ---- the loops ----------------------------------------------------------

inline bool cancelled(const Options &o) {
  return !o.ignore_cancel && g_cancel.load(std::memory_order_acquire);
}

// A few hundred nanoseconds of arithmetic the compiler cannot remove.
inline uint64_t work(uint64_t x) {
  for (int i = 0; i < 64; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    asm volatile("" : "+r"(x));
  }
  return x;
}

// Each returns when it has seen the flag (never with --ignore-cancel).
void loop_busy(const Options &o) {
  uint64_t x = 88172645463325252u;
  for (;;) {                                        // outer loop
    for (int i = 0; i < kInnerIterations; ++i) {    // inner loop
      if (cancelled(o)) return;
      x = work(x);
    }
  }
}

void loop_block(const Options &o, int efd) {
  pollfd p{efd, POLLIN, 0};
  for (;;) {
    for (int i = 0; i < kInnerIterations; ++i) {
      if (cancelled(o)) return;
      // Wakes on the canceller's eventfd write, or on the timeout.
      if (poll(&p, 1, int(o.block_timeout_ms)) > 0) {
        uint64_t v;
        if (read(efd, &v, sizeof v) < 0 && errno != EAGAIN) sys_error("read eventfd");
      }
    }
  }
}

void loop_sleep(const Options &o) {
  const timespec ts{time_t(o.sleep_us / 1000000), long(o.sleep_us % 1000000) * 1000};
  for (;;) {
    for (int i = 0; i < kInnerIterations; ++i) {
      if (cancelled(o)) return;
      clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
    }
  }
}

// Pins the calling thread to `cpus` (none: left as it is).
void pin_or_die(const std::vector<int> &cpus) {
  if (!cpus.empty() && !pin_to(cpus)) sys_error("sched_setaffinity");
}

void worker_main(const Options &o, Control &c, Worker &w) {
  pin_or_die(o.cpus);
  {
    std::lock_guard lk(c.m);
    w.tid = gettid();
    ++c.ready;
  }
  c.done_cv.notify_one();

  int seen = 0;
  for (;;) {
    int round;
    {
      std::unique_lock lk(c.m);
      c.start_cv.wait(lk, [&] { return c.round != seen; });
      round = seen = c.round;
    }
    if (round < 0) return;
    uint64_t stale;  // a wakeup left over from the last round
    while (read(w.efd, &stale, sizeof stale) > 0) {
    }

    switch (o.mode) {
      case Mode::busy: loop_busy(o); break;
      case Mode::block: loop_block(o, w.efd); break;
      case Mode::sleep: loop_sleep(o); break;
    }
    // Noticed the cancellation: marker first, then the stamp, adjacent;
    // ts_before brackets the marker from the other side.
    uint64_t t_done_before = now_ns();
    IRQLAT_DONE(round);
    uint64_t t_done = now_ns();

    {
      std::lock_guard lk(c.m);
      w.t_done = t_done;
      w.t_done_before = t_done_before;
      ++c.finished;
    }
    c.done_cv.notify_one();
  }
}

}  // namespace

int main(int argc, char **argv) {
  const Options o = parse_args(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // every JSON line is flushed as it is printed
  const pid_t pid = getpid();
  const pid_t main_tid = gettid();

  check_cpus_allowed(o.cpus);
  pin_or_die(o.main_cpus);  // after the check: workers inherit it, then re-pin

  Control c;
  std::vector<Worker> workers(size_t(o.threads));
  for (Worker &w : workers) {
    w.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w.efd < 0) sys_error("eventfd");
  }
  std::vector<std::thread> threads;
  for (Worker &w : workers) threads.emplace_back(worker_main, std::cref(o), std::ref(c), std::ref(w));
  {
    std::unique_lock lk(c.m);
    c.done_cv.wait(lk, [&] { return c.ready == o.threads; });
  }
  std::string tids;
  for (const Worker &w : workers) {
    if (!tids.empty()) tids += ',';
    tids += std::to_string(w.tid);
  }
  std::fprintf(stderr, "cancel_loop: ready pid %d, worker tids %s\n", pid, tids.c_str());

  if (!o.wait_file.empty()) wait_for_file(o.wait_file);
  if (o.start_delay_ms > 0) sleep_ns(uint64_t(o.start_delay_ms) * 1000000u);

  for (int round = 1; round <= o.rounds; ++round) {
    // Start (or, with --ignore-cancel, just keep) the workers running.
    g_cancel.store(false, std::memory_order_release);
    {
      std::lock_guard lk(c.m);
      c.round = round;
      c.finished = 0;
    }
    c.start_cv.notify_all();
    sleep_ns(uint64_t(o.run_ms) * 1000000u);

    // Cancel: marker, then stamp, then the flag, adjacent (as done does).
    const uint64_t t_cancel_before = now_ns();
    IRQLAT_CANCEL(round);
    const uint64_t t_cancel = now_ns();
    g_cancel.store(true, std::memory_order_release);
    if (o.mode == Mode::block) {
      const uint64_t one = 1;
      for (const Worker &w : workers)
        if (write(w.efd, &one, sizeof one) != sizeof one) sys_error("write eventfd");
    }

    if (o.ignore_cancel) {
      std::printf("{\"event\":\"cancel\",\"round\":%d,\"pid\":%d,\"tid\":%d,\"ts\":%llu,"
                  "\"ts_before\":%llu}\n",
                  round, pid, main_tid, (unsigned long long)t_cancel,
                  (unsigned long long)t_cancel_before);
      std::fflush(stdout);
      continue;
    }

    {
      std::unique_lock lk(c.m);
      c.done_cv.wait(lk, [&] { return c.finished == o.threads; });
    }
    std::vector<const Worker *> order;
    for (const Worker &w : workers) order.push_back(&w);
    std::sort(order.begin(), order.end(),
              [](const Worker *a, const Worker *b) { return a->t_done < b->t_done; });
    std::printf("{\"event\":\"cancel\",\"round\":%d,\"pid\":%d,\"tid\":%d,\"ts\":%llu,"
                "\"ts_before\":%llu}\n",
                round, pid, main_tid, (unsigned long long)t_cancel,
                (unsigned long long)t_cancel_before);
    for (const Worker *w : order)
      std::printf("{\"event\":\"done\",\"round\":%d,\"pid\":%d,\"tid\":%d,\"ts\":%llu,"
                  "\"ts_before\":%llu}\n",
                  round, pid, w->tid, (unsigned long long)w->t_done,
                  (unsigned long long)w->t_done_before);
    std::fflush(stdout);
  }

  if (o.ignore_cancel) {
    // The workers are still in their loops: leave without joining them.
    sleep_ns(100 * 1000000u);
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(0);
  }

  {
    std::lock_guard lk(c.m);
    c.round = -1;
  }
  c.start_cv.notify_all();
  for (std::thread &t : threads) t.join();
  for (Worker &w : workers) close(w.efd);
  std::fflush(stdout);
  return 0;
}
