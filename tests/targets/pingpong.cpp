// pingpong - two threads wake each other through two eventfds; an oracle for
// irqlat's wakeup -> on-CPU (scheduling) latency and wakeup counts.
//
//   pingpong [--rounds N] [--cpu A,B] [--wait-file PATH]
//
// Thread "ping" writes eventfd 1 and then blocks in read() on eventfd 2;
// thread "pong" blocks in read() on eventfd 1 and answers on eventfd 2. One
// round = one wakeup of each thread, so each thread is woken N times.
// Both threads are created after --wait-file exists (if given), pin
// themselves (--cpu A,B: ping on CPU A, pong on CPU B; A may equal B), then
// spin (no system call) on an atomic start flag. From then on the only
// blocking system call in either thread is read() on its eventfd; nothing is
// printed until both threads have finished.
//
// Stamps (CLOCK_MONOTONIC): the waker stamps immediately before its write();
// the woken thread stamps immediately after its read() returns. For every
// wakeup of a thread, wake_to_run = its after-read stamp - the other
// thread's before-write stamp. This includes the write and read system calls
// (about a microsecond or two), so it is an upper bound of the kernel's
// sched_waking -> sched_switch-in latency for that wakeup. When the reader
// was not yet asleep (possible on two CPUs), read() returns at once and the
// sample is small: ru_nvcsw counts the reads that really blocked.
//
// Output: stdout, at the end, one JSON object per line, ping first:
//   {"tid":T,"pid":P,"rounds":N,"nvcsw":X,"nivcsw":Y,
//    "wake_to_run_ns":{"min":A,"p50":B,"p99":C,"max":D,"count":N}}
// nvcsw/nivcsw: the thread's own getrusage(RUSAGE_THREAD) voluntary and
// involuntary context switches, read in the thread just before it returns
// (thread creation and the start spin included; pinning is done before the
// spin). Percentiles are nearest-rank over the `count` samples. Exit status
// 0; 2 on a usage error, 1 on a system error (message on stderr).

#include <irqlat/example_util.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

using namespace irqlat::example;
const char irqlat::example::kProgramName[] = "pingpong";

namespace {

const char *kUsage =
    "usage: pingpong [--rounds N] [--cpu A,B] [--wait-file PATH]\n"
    "  --rounds N        round trips (default 20000); each thread is woken N times\n"
    "  --cpu A,B         pin ping to CPU A and pong to CPU B (A may equal B)\n"
    "  --wait-file PATH  start the threads only once PATH exists\n"
    "stdout at the end, one line per thread (ping, then pong):\n"
    "  {\"tid\":T,\"pid\":P,\"rounds\":N,\"nvcsw\":X,\"nivcsw\":Y,\n"
    "   \"wake_to_run_ns\":{\"min\":..,\"p50\":..,\"p99\":..,\"max\":..,\"count\":N}}\n"
    "wake_to_run = woken thread's stamp after read() - waker's stamp before write()\n";

struct Side {
  int cpu = -1;             // -1: not pinned
  int read_fd = -1;         // blocks here
  int write_fd = -1;        // wakes the other side
  std::atomic<uint64_t> *my_stamp = nullptr;     // my before-write stamp
  std::atomic<uint64_t> *other_stamp = nullptr;  // the other's before-write stamp
  bool first = false;       // ping writes first
  std::vector<uint64_t> samples;  // preallocated: no allocation in the loop
  pid_t tid = 0;
  rusage ru{};
};

std::atomic<int> g_ready{0};
std::atomic<bool> g_start{false};

void side_main(Side &s, long rounds) {
  s.tid = gettid();
  if (s.cpu >= 0 && !pin_to(s.cpu)) sys_error("sched_setaffinity");
  g_ready.fetch_add(1);
  while (!g_start.load(std::memory_order_acquire)) __builtin_ia32_pause();

  const uint64_t one = 1;
  uint64_t v;
  auto wake_other = [&] {
    s.my_stamp->store(now_ns(), std::memory_order_release);
    if (write(s.write_fd, &one, sizeof one) != sizeof one) sys_error("write");
  };
  for (long i = 0; i < rounds; ++i) {
    if (s.first) wake_other();
    if (read(s.read_fd, &v, sizeof v) != sizeof v) sys_error("read");
    const uint64_t woke = now_ns();
    s.samples[size_t(i)] = woke - s.other_stamp->load(std::memory_order_acquire);
    if (!s.first) wake_other();
  }
  getrusage(RUSAGE_THREAD, &s.ru);
}

void print_side(const Side &s, pid_t pid, long rounds) {
  std::vector<uint64_t> v = s.samples;
  std::sort(v.begin(), v.end());
  std::printf(
      "{\"tid\":%d,\"pid\":%d,\"rounds\":%ld,\"nvcsw\":%ld,\"nivcsw\":%ld,"
      "\"wake_to_run_ns\":{\"min\":%llu,\"p50\":%llu,\"p99\":%llu,\"max\":%llu,\"count\":%zu}}\n",
      s.tid, pid, rounds, s.ru.ru_nvcsw, s.ru.ru_nivcsw, (unsigned long long)v.front(),
      (unsigned long long)nearest_rank(v, 0.50), (unsigned long long)nearest_rank(v, 0.99),
      (unsigned long long)v.back(), v.size());
}

}  // namespace

int main(int argc, char **argv) {
  long rounds = 20000;
  int cpu_a = -1, cpu_b = -1;
  std::string wait_file;
  for (Args a(argc, argv); a.next();) {
    const std::string &arg = a.name();
    if (a.is_help()) {
      show_help(kUsage);
    } else if (arg == "--rounds") {
      rounds = parse_long(arg, a.value(), 1, 100000000);
    } else if (arg == "--cpu") {
      std::string v = a.value();
      size_t comma = v.find(',');
      if (comma == std::string::npos) usage_error("--cpu: expected A,B, got '" + v + "'");
      cpu_a = int(parse_long(arg, v.substr(0, comma), 0, CPU_SETSIZE - 1));
      cpu_b = int(parse_long(arg, v.substr(comma + 1), 0, CPU_SETSIZE - 1));
      const int ab[] = {cpu_a, cpu_b};
      check_cpus_allowed(ab);
    } else if (arg == "--wait-file") {
      wait_file = parse_path(arg, a.value());
    } else {
      a.unknown();
    }
  }

  int ab = eventfd(0, EFD_CLOEXEC), ba = eventfd(0, EFD_CLOEXEC);
  if (ab < 0 || ba < 0) sys_error("eventfd");
  std::atomic<uint64_t> stamp_a{0}, stamp_b{0};
  Side ping, pong;
  ping.cpu = cpu_a;
  ping.read_fd = ba;
  ping.write_fd = ab;
  ping.my_stamp = &stamp_a;
  ping.other_stamp = &stamp_b;
  ping.first = true;
  pong.cpu = cpu_b;
  pong.read_fd = ab;
  pong.write_fd = ba;
  pong.my_stamp = &stamp_b;
  pong.other_stamp = &stamp_a;
  ping.samples.assign(size_t(rounds), 0);  // zero-filled: the pages are touched now
  pong.samples.assign(size_t(rounds), 0);

  if (!wait_file.empty()) wait_for_file(wait_file);

  std::thread ta(side_main, std::ref(ping), rounds), tb(side_main, std::ref(pong), rounds);
  while (g_ready.load() < 2) sched_yield();
  g_start.store(true, std::memory_order_release);
  ta.join();
  tb.join();

  const pid_t pid = getpid();
  print_side(ping, pid, rounds);
  print_side(pong, pid, rounds);
  std::fflush(stdout);
  return 0;
}
