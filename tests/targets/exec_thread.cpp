// exec_thread - a thread other than the main one calls exec: the kernel ends
// the other threads and gives the exec'ing thread the process id as its tid.
// An oracle for irqlat following a target through that renumbering.
//
//   exec_thread [--sleeps N] [--sleep-us US]
//
// The main thread starts a second thread and waits in pause() (the exec ends
// it). The second thread sleeps N times (--sleep-us each, default 1000; N
// default 300), reads its voluntary context switch count, and execs
// /proc/self/exe with both as (internal) options. The new image, now
// tid == pid, sleeps N times more, then prints one line and exits 0:
//   {"pid":P,"tid":T,"old_tid":O,"sleeps":N,"nvcsw_before_exec":B,"nvcsw":V}
// nvcsw is getrusage(RUSAGE_THREAD) over the thread's whole life (exec keeps
// it): before the exec B >= N, after it V - B >= N, plus the switch or two of
// the exec itself (waiting for the main thread to go). Exit status 2 on a
// usage error, 1 when a system call fails.

#include <irqlat/example_util.h>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <string>

using namespace irqlat::example;
const char irqlat::example::kProgramName[] = "exec_thread";

namespace {

const char *kUsage =
    "usage: exec_thread [--sleeps N] [--sleep-us US]\n"
    "  --sleeps N      sleeps before and again after the exec (default 300)\n"
    "  --sleep-us US   length of each sleep (default 1000)\n"
    "stdout at the end, one line:\n"
    "  {\"pid\":P,\"tid\":T,\"old_tid\":O,\"sleeps\":N,\"nvcsw_before_exec\":B,\"nvcsw\":V}\n";

long g_sleeps = 300, g_sleep_us = 1000;

void sleeps() {
  for (long i = 0; i < g_sleeps; i++) sleep_ns(uint64_t(g_sleep_us) * 1000u);
}

long nvcsw() {
  rusage ru{};
  if (getrusage(RUSAGE_THREAD, &ru) != 0) sys_error("getrusage");
  return ru.ru_nvcsw;
}

void *exec_thread(void *) {
  sleeps();
  const std::string old_tid = std::to_string(gettid()), before = std::to_string(nvcsw());
  const std::string n = std::to_string(g_sleeps), us = std::to_string(g_sleep_us);
  const char *args[] = {"exec_thread", "--sleeps", n.c_str(), "--sleep-us", us.c_str(),
                        "--after-exec-of", old_tid.c_str(), "--nvcsw-before", before.c_str(), nullptr};
  execv("/proc/self/exe", const_cast<char **>(args));
  sys_error("execv /proc/self/exe");
}

}  // namespace

int main(int argc, char **argv) {
  long old_tid = 0, before = 0;
  for (Args a(argc, argv); a.next();) {
    const std::string &arg = a.name();
    if (a.is_help()) {
      show_help(kUsage);
    } else if (arg == "--sleeps") {
      g_sleeps = parse_long(arg, a.value(), 1, 1000000);
    } else if (arg == "--sleep-us") {
      g_sleep_us = parse_long(arg, a.value(), 1, 1000000);
    } else if (arg == "--after-exec-of") {
      old_tid = parse_long(arg, a.value(), 1, 1L << 30);
    } else if (arg == "--nvcsw-before") {
      before = parse_long(arg, a.value(), 0, 1L << 40);
    } else {
      a.unknown();
    }
  }
  if (old_tid == 0) {
    pthread_t t;
    if (int err = pthread_create(&t, nullptr, exec_thread, nullptr); err != 0) {
      errno = err;
      sys_error("pthread_create");
    }
    for (;;) pause();
  }
  sleeps();
  std::printf("{\"pid\":%d,\"tid\":%d,\"old_tid\":%ld,\"sleeps\":%ld,\"nvcsw_before_exec\":%ld,\"nvcsw\":%ld}\n",
              getpid(), gettid(), old_tid, g_sleeps, before, nvcsw());
  return 0;
}
