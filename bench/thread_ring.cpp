// thread_ring - N threads in a ring pass tokens on: thread i sleeps on its
// own futex word until it holds a token, then hands it to thread i+1 and
// wakes it. Every pass is one futex wakeup and (with fewer tokens than CPUs
// busy) one context switch: the scale target of the bench suite.
//
//   thread_ring [--threads N] [--tokens K] [--seconds S]
//
// Defaults: 1000 threads, 1 token, S = 0 (until SIGTERM/SIGINT). Once every
// thread exists, it prints "thread_ring: ready pid P threads N" on stderr and
// injects the tokens. Each SIGUSR1 prints one line on stdout:
//   {"t_ns":T,"passes":P}
// (T: CLOCK_MONOTONIC ns, P: passes so far), so a caller can take the pass
// rate over any window it chooses. At the end it prints
//   {"threads":N,"tokens":K,"seconds":S,"passes":P,"passes_per_s":R}
// Exit status 0; 2 on a usage error; 1 on a system error (message on stderr).
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

const char* kUsage =
    "usage: thread_ring [--threads N] [--tokens K] [--seconds S]\n"
    "  --threads N   threads in the ring (default 1000)\n"
    "  --tokens K    tokens circulating (default 1)\n"
    "  --seconds S   run time (default 0: until SIGTERM/SIGINT)\n"
    "stderr once running: thread_ring: ready pid P threads N\n"
    "stdout on SIGUSR1:   {\"t_ns\":T,\"passes\":P}\n"
    "stdout at the end:   {\"threads\":N,\"tokens\":K,\"seconds\":S,\"passes\":P,\"passes_per_s\":R}\n";

struct alignas(64) Slot {
  std::atomic<uint32_t> tokens{0};  // futex word: tokens this thread holds
  std::atomic<uint64_t> passes{0};
};

std::unique_ptr<Slot[]> g_slots;
size_t g_n = 0;
std::atomic<bool> g_stop{false};

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + ts.tv_nsec;
}

long futex(std::atomic<uint32_t>* word, int op, uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, nullptr, nullptr, 0);
}

void give(size_t i) {
  g_slots[i].tokens.fetch_add(1, std::memory_order_release);
  futex(&g_slots[i].tokens, FUTEX_WAKE_PRIVATE, 1);
}

void* ring_thread(void* arg) {
  const size_t i = reinterpret_cast<uintptr_t>(arg);
  Slot& me = g_slots[i];
  for (;;) {
    uint32_t t = me.tokens.load(std::memory_order_acquire);
    if (g_stop.load(std::memory_order_relaxed)) break;
    if (t == 0) {
      futex(&me.tokens, FUTEX_WAIT_PRIVATE, 0);
      continue;
    }
    if (!me.tokens.compare_exchange_weak(t, t - 1, std::memory_order_acq_rel)) continue;
    me.passes.fetch_add(1, std::memory_order_relaxed);
    give((i + 1) % g_n);
  }
  return nullptr;
}

uint64_t total_passes() {
  uint64_t p = 0;
  for (size_t i = 0; i < g_n; i++) p += g_slots[i].passes.load(std::memory_order_relaxed);
  return p;
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

}  // namespace

int main(int argc, char** argv) {
  uint64_t threads = 1000, tokens = 1, seconds = 0;
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
    uint64_t* slot = a == "--threads"   ? &threads
                     : a == "--tokens"  ? &tokens
                     : a == "--seconds" ? &seconds
                                        : nullptr;
    if (!slot || !parse_u64(v, *slot)) {
      fprintf(stderr, "thread_ring: bad option '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (threads < 2 || threads > 100000 || tokens < 1 || tokens >= threads) {
    fprintf(stderr, "thread_ring: need 2 <= threads <= 100000 and 1 <= tokens < threads\n");
    return 2;
  }

  // Every thread inherits this mask: only the main thread's sigtimedwait()
  // takes the signals.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGUSR1);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  g_n = threads;
  g_slots = std::make_unique<Slot[]>(g_n);
  std::vector<pthread_t> tids(g_n);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  for (size_t i = 0; i < g_n; i++) {
    int err = pthread_create(&tids[i], &attr, ring_thread, reinterpret_cast<void*>(uintptr_t(i)));
    if (err) {
      fprintf(stderr, "thread_ring: cannot create thread %zu: %s\n", i, strerror(err));
      return 1;
    }
  }
  pthread_attr_destroy(&attr);
  fprintf(stderr, "thread_ring: ready pid %d threads %zu\n", getpid(), g_n);

  const uint64_t start = now_ns();
  for (uint64_t k = 0; k < tokens; k++) give(k * g_n / tokens);
  const uint64_t deadline = seconds ? start + seconds * 1'000'000'000ull : UINT64_MAX;
  for (;;) {
    uint64_t now = now_ns();
    if (now >= deadline) break;
    uint64_t left = deadline - now;
    timespec ts{time_t(std::min<uint64_t>(left / 1'000'000'000ull, INT_MAX)), long(left % 1'000'000'000ull)};
    int sig = sigtimedwait(&sigs, nullptr, &ts);
    if (sig == SIGUSR1) {
      printf("{\"t_ns\":%llu,\"passes\":%llu}\n", (unsigned long long)now_ns(),
             (unsigned long long)total_passes());
      fflush(stdout);
    } else if (sig == SIGTERM || sig == SIGINT) {
      break;
    }
  }
  const uint64_t end = now_ns();
  const uint64_t passes = total_passes();
  g_stop = true;
  for (size_t i = 0; i < g_n; i++) {
    g_slots[i].tokens.fetch_add(1, std::memory_order_release);
    futex(&g_slots[i].tokens, FUTEX_WAKE_PRIVATE, INT_MAX);
  }
  for (pthread_t t : tids) pthread_join(t, nullptr);
  const double secs = double(end - start) / 1e9;
  printf("{\"threads\":%zu,\"tokens\":%llu,\"seconds\":%.3f,\"passes\":%llu,\"passes_per_s\":%.0f}\n",
         g_n, (unsigned long long)tokens, secs, (unsigned long long)passes,
         secs > 0 ? double(passes) / secs : 0.0);
  return 0;
}
