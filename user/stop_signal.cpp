// See stop_signal.h.
#include "user/stop_signal.h"

#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

namespace irqlat {
namespace {

volatile sig_atomic_t g_stop = 0;
sigset_t g_wait_mask;
bool g_have_wait_mask = false;

void on_stop_signal(int) { g_stop = 1; }

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Blocked except inside the ring-buffer wait (stop_wait_mask): a signal
  // that lands between the loop's stop check and the wait then ends the
  // wait at once instead of after its timeout. Threads started later
  // inherit the block, so the main thread is the one that takes it.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  g_wait_mask = old;
  sigdelset(&g_wait_mask, SIGINT);
  sigdelset(&g_wait_mask, SIGTERM);
  g_have_wait_mask = true;
}

const sigset_t* stop_wait_mask() { return g_have_wait_mask ? &g_wait_mask : nullptr; }

bool stop_requested() { return g_stop != 0; }

void boost_for_stop() {
  // The lowest real-time priority is above every normal task, so a busy
  // machine cannot make the stop wait for a CPU (RT throttling still bounds
  // it). Threads started from here on (the detacher) inherit it.
  sched_param sp{};
  sp.sched_priority = 1;
  if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) (void)setpriority(PRIO_PROCESS, 0, -10);
}

}  // namespace irqlat
