// Rows of kernel-accounted threads: current state booked up to now,
// baselines for interval tables, exited and detached rows, known threads.
#include "kernel_threads.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <memory>

#include "collector.h"

using namespace irqlat;

namespace {

// thread_acct is 7.5 KB: keep test accounts on the heap.
std::unique_ptr<thread_acct> acct(uint32_t tid, uint32_t pid, const char* comm) {
  auto a = std::make_unique<thread_acct>();
  std::memset(a.get(), 0, sizeof(*a));
  a->tid = tid;
  a->pid = pid;
  a->created_ns = a->since = 1000;
  std::strncpy(a->comm, comm, sizeof(a->comm) - 1);
  return a;
}

void sample(thread_acct& a, uint64_t lat) {
  a.hist[irqlat_hist_bucket(lat)]++;
  a.sched_total_ns += lat;
  a.sched_max_ns = std::max<uint64_t>(a.sched_max_ns, lat);
}

const ThreadRow* find(const std::vector<ThreadRow>& rows, int tid) {
  for (const auto& r : rows)
    if (r.tid == tid) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("kernel threads: the current state is booked up to now") {
  auto a = acct(10, 10, "app");
  a->state = TS_RUNNING;
  a->oncpu_ns = 5000;
  a->since = 20000;
  auto b = acct(11, 10, "worker");
  b->state = TS_RUNNABLE;
  b->runqueue_ns = 700;
  b->since = 25000;
  KernelThreads kt;
  kt.set_live({*a, *b});
  auto rows = kt.rows(30000);
  REQUIRE(rows.size() == 2);
  CHECK(find(rows, 10)->oncpu_ns == 5000 + 10000);
  CHECK(find(rows, 10)->comm == "app");
  CHECK(find(rows, 11)->runqueue_ns == 700 + 5000);
  CHECK(find(rows, 11)->oncpu_ns == 0);
  // A reader behind the kernel's last booking adds nothing.
  CHECK(kt.rows(10000)[0].oncpu_ns == 5000);
}

TEST_CASE("kernel threads: latency percentiles come from the kernel histogram") {
  auto a = acct(10, 10, "app");
  for (int i = 0; i < 99; i++) sample(*a, 2000);
  sample(*a, 900000);
  a->wakeups = 100;
  KernelThreads kt;
  kt.set_live({*a});
  const ThreadRow r = kt.rows(2000)[0];
  CHECK(r.wakeups == 100);
  CHECK(r.sched_p50_ns == Approx(2000).epsilon(0.01));
  CHECK(r.sched_max_ns == 900000);
  CHECK(r.sched.count() == 100);
}

TEST_CASE("kernel threads: reset starts an interval; counters count from the baseline") {
  auto a = acct(10, 10, "app");
  a->state = TS_BLOCKED;
  a->wakeups = 7;
  a->oncpu_ns = 4000;
  sample(*a, 1500);
  KernelThreads kt;
  kt.set_live({*a});
  kt.reset(50000);
  CHECK(kt.rows(50000)[0].wakeups == 0);
  CHECK(kt.rows(50000)[0].sched.count() == 0);

  a->wakeups = 10;
  a->oncpu_ns = 9000;
  sample(*a, 3000);
  sample(*a, 3000);
  kt.set_live({*a});
  ThreadRow r = kt.rows(60000)[0];
  CHECK(r.wakeups == 3);
  CHECK(r.oncpu_ns == 5000);
  CHECK(r.sched.count() == 2);
  CHECK(r.sched_p50_ns == Approx(3000).epsilon(0.01));

  // A new thread that reused the tid has no baseline.
  auto again = acct(10, 10, "app");
  again->created_ns = 55000;
  again->wakeups = 2;
  kt.set_live({*again});
  CHECK(kt.rows(60000)[0].wakeups == 2);
}

TEST_CASE("kernel threads: exited and detached rows stay until the next reset") {
  auto a = acct(10, 10, "app"), b = acct(11, 10, "worker"), c = acct(20, 20, "other");
  a->oncpu_ns = 100;
  KernelThreads kt;
  kt.add_known(12, 10, "silent");
  kt.set_live({*a, *b, *c});
  a->state = TS_DEAD;
  a->oncpu_ns = 300;
  a->since = 40000;
  kt.add_exited(*a);
  auto rows = kt.rows(50000);
  REQUIRE(rows.size() == 4);  // the exited row replaces its live one
  CHECK(find(rows, 10)->exited);
  CHECK(find(rows, 10)->oncpu_ns == 300);
  CHECK(find(rows, 12)->comm == "silent");

  kt.detach(10, 50000);
  rows = kt.rows(60000);
  REQUIRE(rows.size() == 3);  // silent thread 12 is forgotten with its process
  CHECK(find(rows, 11)->detached);
  CHECK_FALSE(find(rows, 20)->detached);

  kt.reset(60000);
  rows = kt.rows(60000);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].tid == 20);
}

TEST_CASE("kernel threads: the collector merges them with streamed threads") {
  Collector col({});
  col.set_comm(5, 5, "streamed");
  col.set_comm(10, 10, "kernel", true);
  auto rows = col.thread_rows();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].tid == 5);
  CHECK(rows[1].tid == 10);
  CHECK(rows[1].comm == "kernel");
}
