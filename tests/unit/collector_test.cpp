// Per-thread timelines through the Collector: states, wakeup latency,
// preemption, interrupt charging, exits, and order independence.
#include "collector.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>

#include "records.h"
#include "reorder.h"

using namespace irqlat;
using namespace irqlat::test;

namespace {

const Task A{100, 100, "app", true};
const Task B{101, 100, "worker", true};
const Task HOG{200, 200, "hog", false};

const ThreadRow* row_of(const std::vector<ThreadRow>& rows, int tid) {
  for (const auto& r : rows)
    if (r.tid == tid) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("collector: a preempted thread is runnable, not blocked") {
  Collector c({});
  feed(c, {
              sw(1000, 0, idle(0), A),              // A on CPU 0
              sw(3000, 0, A, HOG, true),            // preempted: still runnable
              sw(7000, 0, HOG, A),                  // back after 4000 ns on the runqueue
              sw(9000, 0, A, idle(0)),              // sleeps
          });
  c.finish(10000);
  auto rows = c.thread_rows();
  REQUIRE(rows.size() == 1);  // the hog is not a target
  const ThreadRow& r = rows[0];
  CHECK(r.tid == 100);
  CHECK(r.pid == 100);
  CHECK(r.comm == "app");
  CHECK(r.preemptions == 1);
  CHECK(r.oncpu_ns == 2000 + 2000);
  CHECK(r.runqueue_ns == 4000);
  CHECK(r.wakeups == 0);
  CHECK(r.sched_max_ns == 0);  // a preemption wait is not a wakeup latency
  CHECK_FALSE(r.exited);
}

TEST_CASE("collector: wakeup latency samples") {
  Collector c({});
  const Task N{300, 300, "newbie", true};
  feed(c, {
              sw(1000, 0, idle(0), A),
              sw(2000, 0, A, idle(0)),          // blocked
              wake(5000, 0, 100, 100, 1),       // wakeup 1, queued on CPU 1
              sw(5300, 1, idle(1), A),          // latency 300
              sw(6000, 1, A, idle(1)),
              wake(10000, 1, 100, 100, 1),      // wakeup 2
              sw(11000, 1, idle(1), A),         // latency 1000
              sw(12000, 1, A, HOG, true),       // preempted
              sw(12500, 1, HOG, A),             // runqueue 500, no sample
              sw(13000, 1, A, idle(1)),
              wake(20000, 0, 100, 100, 0),      // wakeup 3
              sw(20500, 0, idle(0), A),         // latency 500
              wake(21500, 0, 100, 100, 0),      // already running: nothing
              sw(22000, 0, A, idle(0)),
              // A thread never seen blocked: runnable, but not a wakeup.
              wake(22100, 1, 300, 300, 1),
              sw(22400, 1, idle(1), N),
          });
  c.finish(30000);
  auto rows = c.thread_rows();
  const ThreadRow* a = row_of(rows, 100);
  REQUIRE(a);
  CHECK(a->wakeups == 3);
  CHECK(a->preemptions == 1);
  CHECK(a->sched_max_ns == 1000);
  CHECK(a->sched_p99_ns == 1000);  // rank 3 of {300, 500, 1000}
  CHECK(a->sched_p50_ns == 501);   // rank 2: 500, bucket [500, 503] midpoint
  CHECK(a->oncpu_ns == 1000 + 700 + 1000 + 500 + 1500);
  CHECK(a->runqueue_ns == 300 + 1000 + 500 + 500);
  const ThreadRow* n = row_of(rows, 300);
  REQUIRE(n);
  CHECK(n->wakeups == 0);
  CHECK(n->sched_max_ns == 0);
  CHECK(n->runqueue_ns == 300);
  CHECK(n->oncpu_ns == 30000 - 22400);  // open state booked up to the end
}

TEST_CASE("collector: migration moves a waiting thread and time before the first event is not counted") {
  Collector c({});
  feed(c, {
              wake(1000, 0, 100, 100, 0),       // unknown -> runnable on CPU 0
              migrate(1200, 0, 100, 100, 0, 1), // moved to CPU 1 while waiting
              sw(1500, 0, idle(0), HOG),        // CPU 0 switches: not A
              sw(1700, 1, idle(1), A),
          });
  c.finish(2000);
  auto rows = c.thread_rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].runqueue_ns == 700);
  CHECK(rows[0].oncpu_ns == 300);
}

TEST_CASE("collector: interrupts are charged to the thread running on that CPU") {
  Collector c({});
  feed(c, {
              sw(1000, 0, idle(0), A),
              sw(1100, 1, idle(1), B),
              irq(2000, 0, 100, 100, IRQ_KIND_HARDIRQ, 24, 1900, 100),
              irq(2100, 1, 101, 100, IRQ_KIND_SOFTIRQ, 3, 2000, 50),   // NET_RX
              irq(2200, 0, 100, 100, IRQ_KIND_VECTOR, VEC_LOCAL_TIMER, 2180, 20),
              // The kernel blames A on CPU 1, where A is not running: ignored.
              irq(2300, 1, 100, 100, IRQ_KIND_HARDIRQ, 24, 2290, 5),
              sw(3000, 0, A, idle(0)),
              // A is blocked now: ignored.
              irq(3100, 0, 100, 100, IRQ_KIND_HARDIRQ, 24, 3050, 7),
          });
  c.finish(4000);
  auto rows = c.thread_rows();
  const ThreadRow* a = row_of(rows, 100);
  const ThreadRow* b = row_of(rows, 101);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->hardirq_ns == 120);
  CHECK(a->softirq_ns == 0);
  CHECK(a->oncpu_ns == 2000);  // interrupts included
  CHECK(b->hardirq_ns == 0);
  CHECK(b->softirq_ns == 50);
  CHECK(c.stats().irq_ignored == 2);

  const auto& st = c.target_irq_stats();
  REQUIRE(st.size() == 3);
  CHECK(st.at({IRQ_KIND_HARDIRQ, 24, 0}).hits == 1);
  CHECK(st.at({IRQ_KIND_HARDIRQ, 24, 0}).stolen_ns == 100);
  CHECK(st.at({IRQ_KIND_SOFTIRQ, 3, 1}).hits == 1);
  CHECK(st.at({IRQ_KIND_SOFTIRQ, 3, 1}).stolen_ns == 50);
  CHECK(st.at({IRQ_KIND_VECTOR, VEC_LOCAL_TIMER, 0}).stolen_ns == 20);
  CHECK(st.count({IRQ_KIND_HARDIRQ, 24, 1}) == 0);
}

TEST_CASE("collector: a thread of unknown state seen in an interrupt is running from then on") {
  Collector c({});
  feed(c, {
              irq(1000, 2, 100, 100, IRQ_KIND_VECTOR, VEC_LOCAL_TIMER, 990, 10),  // ignored
              irq(2000, 2, 100, 100, IRQ_KIND_VECTOR, VEC_LOCAL_TIMER, 1990, 10), // charged
          });
  c.finish(3000);
  auto rows = c.thread_rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].hardirq_ns == 10);
  CHECK(rows[0].oncpu_ns == 2000);
  CHECK(c.stats().irq_ignored == 1);
}

TEST_CASE("collector: a thread that exits mid-trace keeps its row, marked exited") {
  Collector c({});
  c.set_comm(100, 100, "app");
  c.set_comm(101, 100, "worker");
  c.set_comm(102, 100, "silent");
  const Task dying{101, 100, "worker", true};
  feed(c, {
              sw(1000, 0, idle(0), A),
              sw(1500, 1, idle(1), B),
              exit_ev(2000, 1, 101, 100, false),  // worker thread exits...
              irq(2005, 1, 101, 100, IRQ_KIND_VECTOR, VEC_LOCAL_TIMER, 2001, 3),
              sw(2010, 1, dying, idle(1)),        // ...and makes its final switch
              sw(3000, 0, A, idle(0)),
          });
  auto rows = c.thread_rows();
  REQUIRE(rows.size() == 3);  // the records after the exit did not revive 101
  const ThreadRow* b = row_of(rows, 101);
  REQUIRE(b);
  CHECK(b->exited);
  CHECK(b->oncpu_ns == 500);
  CHECK(b->hardirq_ns == 0);
  CHECK(b->comm == "worker");
  CHECK_FALSE(row_of(rows, 100)->exited);
  CHECK_FALSE(row_of(rows, 102)->exited);
  CHECK(row_of(rows, 102)->oncpu_ns == 0);  // known from /proc, never seen

  // The last thread exits: the process is gone, its silent thread too.
  feed(c, {exit_ev(4000, 0, 100, 100, true)});
  c.finish(5000);
  rows = c.thread_rows();
  REQUIRE(rows.size() == 3);
  for (const auto& r : rows) CHECK(r.exited);
  CHECK(row_of(rows, 100)->oncpu_ns == 2000);

  // reset_tables drops rows of exited threads (they were reported already).
  c.reset_tables();
  CHECK(c.thread_rows().empty());

  // A fork reusing the tid starts a new thread.
  feed(c, {fork_ev(6000, 0, 101, 100, "reborn"), wakeup_new(6001, 0, 101, 100, 0),
           sw(6100, 0, idle(0), Task{101, 100, "reborn", true})});
  c.finish(7000);
  rows = c.thread_rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].comm == "reborn");
  CHECK(rows[0].runqueue_ns == 99);
  CHECK(rows[0].oncpu_ns == 900);
  CHECK_FALSE(rows[0].exited);
}

TEST_CASE("collector: a fork reusing the tid of a thread whose exit was lost") {
  Collector c({});
  feed(c, {
              sw(1000, 0, idle(0), B),
              sw(1400, 0, B, idle(0)),                   // blocked; its exit is lost
              fork_ev(2000, 1, 101, 100, "again"),      // same tid, new thread
              wakeup_new(2100, 1, 101, 100, 1),
              sw(2200, 1, idle(1), Task{101, 100, "again", true}),
          });
  c.finish(3000);
  auto rows = c.thread_rows();
  REQUIRE(rows.size() == 2);
  // Sorted by (pid, tid), the live thread first.
  CHECK(rows[0].comm == "again");
  CHECK_FALSE(rows[0].exited);
  CHECK(rows[0].runqueue_ns == 100);
  CHECK(rows[0].oncpu_ns == 800);
  CHECK(rows[1].comm == "worker");
  CHECK(rows[1].exited);
  CHECK(rows[1].oncpu_ns == 400);
}

// The worker (101) execs; the kernel ends the main thread (100) first and
// gives the worker tid 100. Its row ends under 101 at the exec and goes on
// under 100, where the main thread's exit must not swallow its records.
TEST_CASE("collector: a thread that execs under the process id goes on in a new row") {
  Collector c({});
  const Task after{100, 100, "newimage", true};
  feed(c, {
              sw(1000, 0, idle(0), A),
              sw(1100, 0, A, idle(0)),                    // main thread blocks
              sw(1200, 1, idle(1), B),                    // worker runs
              exit_ev(2000, 0, 100, 100, false),          // main thread killed by the exec
              exec_ev(2500, 1, 100, 100, 101, "newimage"),  // worker is 100 now
              sw(3000, 1, after, idle(1)),                // blocks under its new tid
              wake(4000, 0, 100, 100, 1),
              sw(4200, 1, idle(1), after),
          });
  c.finish(5000);
  auto rows = c.thread_rows();
  REQUIRE(rows.size() == 3);
  const ThreadRow* worker = row_of(rows, 101);
  REQUIRE(worker);
  CHECK(worker->exited);
  CHECK(worker->oncpu_ns == 1300);  // 1200 -> the exec at 2500
  CHECK(worker->comm == "worker");
  std::vector<const ThreadRow*> pid_rows;
  for (const auto& r : rows)
    if (r.tid == 100) pid_rows.push_back(&r);
  REQUIRE(pid_rows.size() == 2);
  const ThreadRow* main = pid_rows[0]->exited ? pid_rows[0] : pid_rows[1];
  const ThreadRow* image = pid_rows[0]->exited ? pid_rows[1] : pid_rows[0];
  CHECK(main->exited);
  CHECK(main->oncpu_ns == 100);
  CHECK_FALSE(image->exited);
  CHECK(image->comm == "newimage");
  CHECK(image->oncpu_ns == 500 + 800);  // exec -> block, then 4200 -> the end
  CHECK(image->wakeups == 1);
  CHECK(image->sched_max_ns == 200);
}

TEST_CASE("collector: reset_tables starts a new interval, keeping states") {
  Collector c({});
  feed(c, {sw(1000, 0, idle(0), A), irq(1500, 0, 100, 100, IRQ_KIND_HARDIRQ, 5, 1400, 30)});
  c.advance(2000);
  auto rows = c.thread_rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].oncpu_ns == 1000);
  CHECK(rows[0].hardirq_ns == 30);
  c.reset_tables();
  CHECK(c.target_irq_stats().empty());
  feed(c, {sw(2500, 0, A, idle(0))});
  rows = c.thread_rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].oncpu_ns == 500);  // still running across the reset
  CHECK(rows[0].hardirq_ns == 0);
}

TEST_CASE("collector: malformed and unknown records are counted, late ones clamped") {
  Collector c({});
  Rec r = sw(1000, 0, idle(0), A);
  c.on_record(r.bytes.data(), 10);          // shorter than a header
  c.on_record(r.bytes.data(), sizeof(struct ev_hdr));  // header only, switch body missing
  Rec bad = r;
  bad.bytes[14] = 99;  // ev_hdr.type
  c.on_record(bad.bytes.data(), bad.size);
  c.on_record(r.bytes.data(), r.size);
  Rec early = sw(500, 0, A, idle(0));       // older than the last record
  c.on_record(early.bytes.data(), early.size);
  const CollectorStats s = c.stats();
  CHECK(s.records == 5);
  CHECK(s.malformed == 2);
  CHECK(s.unknown_type == 1);
  CHECK(s.out_of_order == 1);
  c.finish(2000);
  auto rows = c.thread_rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].oncpu_ns == 0);  // the late switch-out took effect at 1000
}

// ---------------------------------------------------------------------------
// Order independence: the same records arriving out of order through the
// Reorderer give exactly the same tables and windows.

namespace {

std::vector<Rec> two_cpu_trace() {
  const Task C{102, 100, "helper", true};
  const Task K{301, 301, "kworker/1:0", false};
  return {
      sw(1000, 0, idle(0), A),
      sw(1010, 1, idle(1), B),
      cancel(1500, 0, 100, 100),
      irq(1620, 1, 101, 100, IRQ_KIND_HARDIRQ, 24, 1450, 100),  // straddles the cancel
      sw(1700, 0, A, HOG, true),
      sw(1800, 1, B, idle(1)),
      sw(1990, 0, HOG, K),
      wake(2000, 1, 101, 100, 1),
      sw(2050, 1, idle(1), B),
      sw(2200, 0, K, A),
      irq(2290, 0, 100, 100, IRQ_KIND_SOFTIRQ, 1, 2250, 30),
      done(2300, 0, 100, 100),
      irq(2410, 1, 101, 100, IRQ_KIND_VECTOR, VEC_CALL_FUNCTION, 2400, 8),
      done(2500, 1, 101, 100),
      fork_ev(2600, 1, 102, 100, "helper"),
      wakeup_new(2610, 1, 102, 100, 0),
      sw(2700, 0, A, C),
      sw(2800, 1, B, idle(1)),
      cancel(2900, 0, 102, 100),
      wake(3000, 0, 101, 100, 0),
      migrate(3010, 0, 101, 100, 0, 1),
      sw(3100, 1, idle(1), B),
      done(3200, 1, 101, 100),
      sw(3300, 0, C, A, true),
      cancel(3400, 0, 100, 100),   // previous window had a sample
      sw(3500, 1, B, idle(1)),
      exit_ev(3600, 1, 101, 100, false),
      cancel(3700, 0, 100, 100),   // supersedes an empty window
  };
}

void check_same_rows(const std::vector<ThreadRow>& x, const std::vector<ThreadRow>& y) {
  REQUIRE(x.size() == y.size());
  for (size_t i = 0; i < x.size(); i++) {
    CHECK(x[i].tid == y[i].tid);
    CHECK(x[i].pid == y[i].pid);
    CHECK(x[i].comm == y[i].comm);
    CHECK(x[i].wakeups == y[i].wakeups);
    CHECK(x[i].sched_p50_ns == y[i].sched_p50_ns);
    CHECK(x[i].sched_p99_ns == y[i].sched_p99_ns);
    CHECK(x[i].sched_max_ns == y[i].sched_max_ns);
    CHECK(x[i].preemptions == y[i].preemptions);
    CHECK(x[i].oncpu_ns == y[i].oncpu_ns);
    CHECK(x[i].runqueue_ns == y[i].runqueue_ns);
    CHECK(x[i].hardirq_ns == y[i].hardirq_ns);
    CHECK(x[i].softirq_ns == y[i].softirq_ns);
    CHECK(x[i].exited == y[i].exited);
  }
}

void check_same_window_rows(const std::vector<WindowRow>& x, const std::vector<WindowRow>& y) {
  REQUIRE(x.size() == y.size());
  for (size_t i = 0; i < x.size(); i++) {
    CHECK(x[i].pid == y[i].pid);
    CHECK(x[i].tid == y[i].tid);
    CHECK(x[i].start_ns == y[i].start_ns);
    CHECK(x[i].end_ns == y[i].end_ns);
    CHECK(x[i].delay_ns == y[i].delay_ns);
    CHECK(x[i].running_ns == y[i].running_ns);
    CHECK(x[i].runqueue_ns == y[i].runqueue_ns);
    CHECK(x[i].hardirq_ns == y[i].hardirq_ns);
    CHECK(x[i].softirq_ns == y[i].softirq_ns);
    CHECK(x[i].blocked_ns == y[i].blocked_ns);
    CHECK(x[i].unfinished == y[i].unfinished);
    CHECK(x[i].reason == y[i].reason);
    REQUIRE(x[i].irqs.size() == y[i].irqs.size());
    for (size_t j = 0; j < x[i].irqs.size(); j++) {
      CHECK(x[i].irqs[j].name == y[i].irqs[j].name);
      CHECK(x[i].irqs[j].ns == y[i].irqs[j].ns);
    }
    REQUIRE(x[i].softirq_vectors.size() == y[i].softirq_vectors.size());
    REQUIRE(x[i].preempted_by.size() == y[i].preempted_by.size());
    for (size_t j = 0; j < x[i].preempted_by.size(); j++) {
      CHECK(x[i].preempted_by[j].comm == y[i].preempted_by[j].comm);
      CHECK(x[i].preempted_by[j].ns == y[i].preempted_by[j].ns);
    }
  }
}

CollectorConfig windows_cfg() {
  CollectorConfig cfg;
  cfg.windows = true;
  return cfg;
}

}  // namespace

TEST_CASE("collector: out-of-order arrival through the Reorderer gives the same answer") {
  const std::vector<Rec> trace = two_cpu_trace();
  REQUIRE(std::is_sorted(trace.begin(), trace.end(), [](const Rec& a, const Rec& b) { return a.ts() < b.ts(); }));

  Collector in_order(windows_cfg());
  feed(in_order, trace);
  in_order.finish(4000);

  // The hand-checked answer, so both runs are compared with something true.
  const WindowSummary ref = in_order.windows();
  CHECK(ref.count == 3);
  CHECK(ref.unfinished == 2);  // superseded at 3700, end of trace at 4000
  REQUIRE(ref.list.size() == 3);
  // A: cancel 1500 -> done 2300. Running 1500..1700, runnable 1700..2200
  // (hog 290, kworker 210), running 2200..2300 with a 30 ns TIMER softirq.
  CHECK(ref.list[0].start_ns == 1500);
  CHECK(ref.list[0].tid == 100);
  CHECK(ref.list[0].delay_ns == 800);
  CHECK(ref.list[0].running_ns == 270);
  CHECK(ref.list[0].softirq_ns == 30);
  CHECK(ref.list[0].runqueue_ns == 500);
  CHECK(ref.list[0].blocked_ns == 0);
  REQUIRE(ref.list[0].preempted_by.size() == 2);
  CHECK(ref.list[0].preempted_by[0].comm == "hog");
  CHECK(ref.list[0].preempted_by[0].ns == 290);
  CHECK(ref.list[0].preempted_by[1].comm == "kworker/1:0");
  CHECK(ref.list[0].preempted_by[1].ns == 210);
  REQUIRE(ref.list[0].softirq_vectors.size() == 1);
  CHECK(ref.list[0].softirq_vectors[0].name == "TIMER");
  // B: cancel 1500 -> done 2500. Running 1500..1800 with IRQ 24 (entered at
  // 1450, before the cancel, but its 100 ns net fit in the 120 ns after it),
  // blocked 1800..2000, runqueue 2000..2050 (idle held CPU 1), running
  // 2050..2500 with an 8 ns CAL.
  CHECK(ref.list[1].tid == 101);
  CHECK(ref.list[1].delay_ns == 1000);
  CHECK(ref.list[1].hardirq_ns == 108);
  CHECK(ref.list[1].running_ns == 300 + 450 - 108);
  CHECK(ref.list[1].runqueue_ns == 50);
  CHECK(ref.list[1].blocked_ns == 200);
  REQUIRE(ref.list[1].irqs.size() == 2);
  CHECK(ref.list[1].irqs[0].name == "irq24");  // no name was set
  CHECK(ref.list[1].irqs[0].ns == 100);
  CHECK(ref.list[1].irqs[1].name == "CAL");
  CHECK(ref.list[1].irqs[1].ns == 8);
  // B for the cancel at 2900 (fired by the new thread 102): blocked
  // 2900..3000, runnable 3000..3100 (10 ns on CPU 0 behind helper, then 90 ns
  // on idle CPU 1 after the migration), running 3100..3200.
  CHECK(ref.list[2].tid == 101);
  CHECK(ref.list[2].start_ns == 2900);
  CHECK(ref.list[2].delay_ns == 300);
  CHECK(ref.list[2].blocked_ns == 100);
  CHECK(ref.list[2].runqueue_ns == 100);
  CHECK(ref.list[2].running_ns == 100);
  REQUIRE(ref.list[2].preempted_by.size() == 2);
  CHECK(ref.list[2].preempted_by[0].comm == "swapper/idle");
  CHECK(ref.list[2].preempted_by[0].pid == 0);
  CHECK(ref.list[2].preempted_by[0].tid == 0);
  CHECK(ref.list[2].preempted_by[0].ns == 90);
  CHECK(ref.list[2].preempted_by[1].comm == "helper");
  CHECK(ref.list[2].preempted_by[1].pid == 100);  // the process, from the switch record
  CHECK(ref.list[2].preempted_by[1].tid == 102);
  CHECK(ref.list[2].preempted_by[1].ns == 10);
  REQUIRE(ref.unfinished_list.size() == 2);
  CHECK(ref.unfinished_list[0].start_ns == 3400);
  CHECK(ref.unfinished_list[0].end_ns == 3700);
  CHECK(ref.unfinished_list[0].reason == "superseded");
  CHECK(ref.unfinished_list[1].start_ns == 3700);
  CHECK(ref.unfinished_list[1].end_ns == 4000);
  CHECK(ref.unfinished_list[1].reason == "end of trace");

  for (uint32_t seed : {1u, 2u, 3u, 1234u}) {
    INFO("seed " << seed);
    // Each CPU's records stay in order (as each CPU produces them); the two
    // streams interleave at random, released up to the oldest head.
    std::vector<Rec> cpu_stream[2];
    for (const Rec& r : trace) cpu_stream[r.cpu()].push_back(r);
    std::mt19937 rng(seed);
    Reorderer reorder;
    Collector out_of_order(windows_cfg());
    auto sink = [&](const void* d, size_t n) { out_of_order.on_record(d, n); };
    size_t next[2] = {0, 0};
    uint64_t last[2] = {0, 0};
    while (next[0] < cpu_stream[0].size() || next[1] < cpu_stream[1].size()) {
      int cpu = static_cast<int>(rng() % 2);
      if (next[cpu] == cpu_stream[cpu].size()) cpu ^= 1;
      const Rec& r = cpu_stream[cpu][next[cpu]++];
      reorder.push(r.bytes.data(), r.size);
      last[cpu] = r.ts();
      // A CPU that is done can produce nothing older.
      const uint64_t w0 = next[0] == cpu_stream[0].size() ? UINT64_MAX : last[0];
      const uint64_t w1 = next[1] == cpu_stream[1].size() ? UINT64_MAX : last[1];
      reorder.release_until(std::min(w0, w1), sink);
    }
    reorder.flush(sink);
    out_of_order.finish(4000);
    CHECK(reorder.late() == 0);
    CHECK(out_of_order.stats().out_of_order == 0);
    check_same_rows(in_order.thread_rows(), out_of_order.thread_rows());
    const WindowSummary w = out_of_order.windows();
    CHECK(w.count == ref.count);
    CHECK(w.unfinished == ref.unfinished);
    CHECK(w.p50_ns == ref.p50_ns);
    CHECK(w.max_ns == ref.max_ns);
    check_same_window_rows(ref.list, w.list);
    check_same_window_rows(ref.unfinished_list, w.unfinished_list);
    CHECK(in_order.target_irq_stats().size() == out_of_order.target_irq_stats().size());
  }

  // Fully shuffled arrival, flushed at the end, is sorted back too.
  std::vector<Rec> shuffled = trace;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(77));
  Reorderer reorder;
  for (const Rec& r : shuffled) reorder.push(r.bytes.data(), r.size);
  Collector flushed(windows_cfg());
  reorder.flush([&](const void* d, size_t n) { flushed.on_record(d, n); });
  flushed.finish(4000);
  check_same_rows(in_order.thread_rows(), flushed.thread_rows());
  check_same_window_rows(ref.list, flushed.windows().list);
}
