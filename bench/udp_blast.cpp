// udp_blast - a UDP loopback sender and receiver, the NET_RX softirq source
// of the bench workload mix. Every datagram sent to 127.0.0.1 goes through
// the loopback device's backlog and is delivered by a NET_RX softirq.
//
//   udp_blast [--pps N] [--size BYTES] [--seconds S]
//
// A sender thread sends --size byte datagrams (default 64) at --pps per
// second (default 20000; 0: as fast as it can), paced in 1 ms ticks against
// CLOCK_MONOTONIC; a receiver thread reads them with blocking recv(). It runs
// for --seconds (default 0: until SIGTERM or SIGINT), then prints one JSON
// line on stdout:
//   {"sent":N,"received":M,"seconds":S,"pps":R}
// Exit status 0; 2 on a usage error; 1 on a system error (message on stderr).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

const char* kUsage =
    "usage: udp_blast [--pps N] [--size BYTES] [--seconds S]\n"
    "  --pps N        datagrams per second (default 20000; 0: unthrottled)\n"
    "  --size BYTES   payload size (default 64)\n"
    "  --seconds S    run time (default 0: until SIGTERM/SIGINT)\n"
    "stdout at the end: {\"sent\":N,\"received\":M,\"seconds\":S,\"pps\":R}\n";

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + ts.tv_nsec;
}

bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(s.c_str(), &end, 10);
  if (errno || *end || s[0] == '-') return false;
  out = v;
  return true;
}

[[noreturn]] void die(const char* what) {
  fprintf(stderr, "udp_blast: %s: %s\n", what, strerror(errno));
  exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t pps = 20000, size = 64, seconds = 0;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i], v;
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
    uint64_t* slot = a == "--pps" ? &pps : a == "--size" ? &size : a == "--seconds" ? &seconds : nullptr;
    if (!slot || !parse_u64(v, *slot)) {
      fprintf(stderr, "udp_blast: bad option '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (size == 0 || size > 65000) {
    fprintf(stderr, "udp_blast: --size must be 1..65000\n");
    return 2;
  }

  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  int rx = socket(AF_INET, SOCK_DGRAM, 0);
  int tx = socket(AF_INET, SOCK_DGRAM, 0);
  if (rx < 0 || tx < 0) die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) die("bind");
  socklen_t len = sizeof(addr);
  if (getsockname(rx, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");
  if (connect(tx, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) die("connect");
  // The receiver wakes up at least every 100 ms to notice the stop flag.
  timeval tv{0, 100000};
  setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  std::atomic<bool> done{false};
  std::atomic<uint64_t> received{0};
  std::thread receiver([&] {
    std::vector<char> buf(65536);
    while (!done.load(std::memory_order_relaxed)) {
      ssize_t n = recv(rx, buf.data(), buf.size(), 0);
      if (n >= 0) received.fetch_add(1, std::memory_order_relaxed);
    }
  });

  std::vector<char> payload(size, 'x');
  const uint64_t start = now_ns();
  const uint64_t deadline = seconds ? start + seconds * 1'000'000'000ull : UINT64_MAX;
  uint64_t sent = 0, tick = start;
  while (!g_stop && now_ns() < deadline) {
    if (pps) {
      tick += 1'000'000;  // 1 ms
      uint64_t due = (tick - start) * pps / 1'000'000'000ull;
      while (sent < due && !g_stop) {
        if (send(tx, payload.data(), payload.size(), 0) >= 0) sent++;
        else if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED)
          die("send");
        else sent++;  // counted as an attempt: the pacing must not run away
      }
      timespec ts{time_t(tick / 1'000'000'000ull), long(tick % 1'000'000'000ull)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    } else {
      if (send(tx, payload.data(), payload.size(), 0) >= 0) sent++;
    }
  }
  const double secs = double(now_ns() - start) / 1e9;
  done = true;
  receiver.join();
  printf("{\"sent\":%llu,\"received\":%llu,\"seconds\":%.3f,\"pps\":%.0f}\n",
         (unsigned long long)sent, (unsigned long long)received.load(), secs,
         secs > 0 ? double(received.load()) / secs : 0.0);
  return 0;
}
