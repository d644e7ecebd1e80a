// Cancellation windows through the Collector: samples, breakdowns (with the
// sum invariant checked on every sample), unfinished windows and orphans.
#include "windows.h"

#include <catch2/catch.hpp>

#include "collector.h"
#include "records.h"

using namespace irqlat;
using namespace irqlat::test;

namespace {

const Task MAIN{100, 100, "app", true};
const Task WORKER{101, 100, "worker", true};
const Task HOG{300, 300, "hog", false};
const Task KWORKER{301, 301, "kworker/0:1", false};

CollectorConfig cfg(uint64_t timeout = 10'000'000'000, bool done_on_exit = false, bool on_signal = false) {
  CollectorConfig c;
  c.windows = true;
  c.window_timeout_ns = timeout;
  c.done_on_exit = done_on_exit;
  c.cancel_on_signal = on_signal;
  return c;
}

// The invariant of every sample: the parts add up to the delay exactly.
void check_sums(const WindowSummary& s) {
  for (const auto& w : s.list) {
    INFO("window " << w.pid << "/" << w.tid << " @" << w.start_ns);
    CHECK(w.running_ns + w.runqueue_ns + w.hardirq_ns + w.softirq_ns + w.blocked_ns == w.delay_ns);
    CHECK(w.delay_ns == w.end_ns - w.start_ns);
    CHECK_FALSE(w.unfinished);
    uint64_t irqs = 0, soft = 0;
    for (const auto& n : w.irqs) irqs += n.ns;
    for (const auto& n : w.softirq_vectors) soft += n.ns;
    CHECK(irqs == w.hardirq_ns);
    CHECK(soft == w.softirq_ns);
  }
  for (const auto& w : s.unfinished_list) {
    CHECK(w.unfinished);
    CHECK(w.delay_ns == 0);
  }
}

}  // namespace

TEST_CASE("windows: several done events per cancel, full breakdown") {
  Collector c(cfg());
  feed(c, {
              sw(1000, 0, idle(0), WORKER),
              sw(2000, 1, idle(1), MAIN),
              cancel(3000, 1, 100, 100),
              sw(3500, 1, MAIN, idle(1)),                                     // main sleeps
              irq(4000, 0, 101, 100, IRQ_KIND_HARDIRQ, 24, 3800, 150),
              sw(4500, 0, WORKER, HOG, true),                                 // preempted
              sw(5000, 0, HOG, KWORKER),
              sw(5200, 0, KWORKER, WORKER),
              irq(5600, 0, 101, 100, IRQ_KIND_SOFTIRQ, 3, 5500, 60),          // NET_RX
              done(6000, 0, 101, 100),                                        // sample 1
              wake(6200, 1, 100, 100, 1),
              sw(6300, 1, idle(1), MAIN),
              irq(6400, 1, 100, 100, IRQ_KIND_VECTOR, VEC_LOCAL_TIMER, 6350, 10),
              irq(6450, 1, 100, 100, IRQ_KIND_VECTOR, VEC_CALL_FUNCTION_SINGLE, 6440, 5),
              irq(6460, 1, 100, 100, IRQ_KIND_VECTOR, VEC_CALL_FUNCTION, 6452, 7),
              done(7000, 1, 100, 100),                                        // sample 2
          });
  c.finish(8000);
  c.set_irq_name(24, "eth0");  // names may come late: applied to the summary
  const WindowSummary s = c.windows();
  check_sums(s);
  CHECK(s.count == 2);
  CHECK(s.unfinished == 0);  // closed at the end of trace, but it had samples
  CHECK(s.orphan_done == 0);
  REQUIRE(s.list.size() == 2);

  // Sorted by start, then tid: main's sample first.
  const WindowRow& m = s.list[0];
  CHECK(m.pid == 100);
  CHECK(m.tid == 100);
  CHECK(m.start_ns == 3000);
  CHECK(m.end_ns == 7000);
  CHECK(m.delay_ns == 4000);
  CHECK(m.running_ns == 500 + 700 - 22);  // 3000..3500 and 6300..7000, minus irqs
  CHECK(m.hardirq_ns == 22);
  CHECK(m.softirq_ns == 0);
  CHECK(m.runqueue_ns == 100);  // 6200..6300
  CHECK(m.blocked_ns == 2700);  // 3500..6200
  REQUIRE(m.irqs.size() == 2);
  CHECK(m.irqs[0].name == "CAL");  // both call-function vectors
  CHECK(m.irqs[0].ns == 12);
  CHECK(m.irqs[1].name == "LOC");
  CHECK(m.irqs[1].ns == 10);
  REQUIRE(m.preempted_by.size() == 1);
  CHECK(m.preempted_by[0].comm == "swapper/idle");  // CPU 1 was idle while it waited
  CHECK(m.preempted_by[0].pid == 0);
  CHECK(m.preempted_by[0].ns == 100);

  const WindowRow& w = s.list[1];
  CHECK(w.tid == 101);
  CHECK(w.delay_ns == 3000);
  CHECK(w.running_ns == 1500 + 800 - 150 - 60);  // 3000..4500 and 5200..6000
  CHECK(w.hardirq_ns == 150);
  CHECK(w.softirq_ns == 60);
  CHECK(w.runqueue_ns == 700);
  CHECK(w.blocked_ns == 0);
  REQUIRE(w.irqs.size() == 1);
  CHECK(w.irqs[0].name == "eth0");
  REQUIRE(w.softirq_vectors.size() == 1);
  CHECK(w.softirq_vectors[0].name == "NET_RX");
  CHECK(w.softirq_vectors[0].ns == 60);
  REQUIRE(w.preempted_by.size() == 2);
  CHECK(w.preempted_by[0].comm == "hog");
  CHECK(w.preempted_by[0].pid == 300);
  CHECK(w.preempted_by[0].tid == 300);
  CHECK(w.preempted_by[0].ns == 500);
  CHECK(w.preempted_by[1].comm == "kworker/0:1");
  CHECK(w.preempted_by[1].pid == 301);
  CHECK(w.preempted_by[1].ns == 200);

  // Nearest rank over {3000, 4000}.
  CHECK(s.p50_ns == 3000);
  CHECK(s.p90_ns == 4000);
  CHECK(s.p99_ns == 4000);
  CHECK(s.max_ns == 4000);
}

TEST_CASE("windows: a new cancel supersedes the open window") {
  Collector c(cfg());
  feed(c, {
              sw(500, 0, idle(0), MAIN),
              cancel(1000, 0, 100, 100),  // never finished
              cancel(2000, 0, 100, 100),
              done(2500, 0, 100, 100),
              cancel(3000, 0, 100, 100),  // the previous window had its sample
          });
  c.finish(4000);
  const WindowSummary s = c.windows();
  check_sums(s);
  CHECK(s.count == 1);
  REQUIRE(s.list.size() == 1);
  CHECK(s.list[0].start_ns == 2000);
  CHECK(s.list[0].delay_ns == 500);
  CHECK(s.list[0].running_ns == 500);
  CHECK(s.unfinished == 2);
  REQUIRE(s.unfinished_list.size() == 2);
  CHECK(s.unfinished_list[0].start_ns == 1000);
  CHECK(s.unfinished_list[0].end_ns == 2000);
  CHECK(s.unfinished_list[0].reason == "superseded");
  CHECK(s.unfinished_list[0].tid == 0);
  CHECK(s.unfinished_list[1].start_ns == 3000);
  CHECK(s.unfinished_list[1].end_ns == 4000);
  CHECK(s.unfinished_list[1].reason == "end of trace");
}

TEST_CASE("windows: done without an open window is ignored and counted") {
  Collector c(cfg());
  const Task OTHER{200, 200, "other", true};
  feed(c, {
              sw(500, 0, idle(0), MAIN),
              sw(600, 1, idle(1), OTHER),
              done(1000, 0, 100, 100),     // nothing open
              cancel(1100, 0, 100, 100),
              done(1200, 1, 200, 200),     // another process: nothing open there
              done(1300, 0, 100, 100),
          });
  c.finish(2000);
  const WindowSummary s = c.windows();
  check_sums(s);
  CHECK(s.orphan_done == 2);
  CHECK(s.count == 1);
  CHECK(s.list[0].delay_ns == 200);
}

TEST_CASE("windows: the target exits with a window open") {
  SECTION("exit is not a done event: unfinished") {
    Collector c(cfg());
    feed(c, {
                sw(500, 0, idle(0), MAIN),
                cancel(1000, 0, 100, 100),
                exit_ev(3000, 0, 100, 100, true),
            });
    c.finish(4000);
    const WindowSummary s = c.windows();
    CHECK(s.count == 0);
    CHECK(s.unfinished == 1);
    REQUIRE(s.unfinished_list.size() == 1);
    CHECK(s.unfinished_list[0].reason == "exit");
    CHECK(s.unfinished_list[0].start_ns == 1000);
    CHECK(s.unfinished_list[0].end_ns == 3000);
    auto rows = c.thread_rows();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].exited);
  }
  SECTION("--done exit: a thread exiting is not the process exiting") {
    Collector c(cfg(10'000'000'000, true));
    feed(c, {
                sw(500, 0, idle(0), WORKER),
                cancel(1000, 0, 101, 100),
                exit_ev(2000, 0, 101, 100, false),
            });
    c.finish(3000);
    const WindowSummary s = c.windows();
    CHECK(s.count == 0);
    CHECK(s.unfinished == 1);
    REQUIRE(s.unfinished_list.size() == 1);
    CHECK(s.unfinished_list[0].reason == "end of trace");
  }
  SECTION("--done exit on the last thread") {
    Collector c(cfg(10'000'000'000, true));
    feed(c, {
                sw(500, 0, idle(0), MAIN),
                cancel(1000, 0, 100, 100),
                sw(1500, 0, MAIN, idle(0)),
                wake(2000, 1, 100, 100, 0),
                sw(2100, 0, idle(0), MAIN),
                exit_ev(3000, 0, 100, 100, true),
            });
    c.finish(4000);
    const WindowSummary s = c.windows();
    check_sums(s);
    CHECK(s.count == 1);
    CHECK(s.unfinished == 0);
    REQUIRE(s.list.size() == 1);
    CHECK(s.list[0].tid == 100);
    CHECK(s.list[0].delay_ns == 2000);
    CHECK(s.list[0].running_ns == 500 + 900);
    CHECK(s.list[0].blocked_ns == 500);
    CHECK(s.list[0].runqueue_ns == 100);
  }
}

TEST_CASE("windows: timeout") {
  Collector c(cfg(1000));
  feed(c, {
              sw(500, 0, idle(0), MAIN),
              cancel(1000, 0, 100, 100),
              done(2000, 0, 100, 100),      // exactly at the timeout: still counts
              cancel(5000, 0, 100, 100),    // (the first window timed out at 2000, with a sample)
              sw(6500, 0, MAIN, idle(0)),   // time passes the deadline at 6000
              done(6600, 0, 100, 100),      // too late: no window open
              cancel(7000, 0, 100, 100),    // still open at the end, but past its timeout
          });
  c.finish(9000);
  const WindowSummary s = c.windows();
  check_sums(s);
  CHECK(s.count == 1);
  CHECK(s.list[0].delay_ns == 1000);
  CHECK(s.orphan_done == 1);
  CHECK(s.unfinished == 2);
  REQUIRE(s.unfinished_list.size() == 2);
  CHECK(s.unfinished_list[0].start_ns == 5000);
  CHECK(s.unfinished_list[0].end_ns == 6000);
  CHECK(s.unfinished_list[0].reason == "timeout");
  CHECK(s.unfinished_list[1].start_ns == 7000);
  CHECK(s.unfinished_list[1].end_ns == 8000);
  CHECK(s.unfinished_list[1].reason == "timeout");
}

TEST_CASE("windows: advance() fires timeouts without records") {
  Collector c(cfg(1000));
  feed(c, {sw(500, 0, idle(0), MAIN), cancel(1000, 0, 100, 100)});
  c.advance(1500);
  CHECK(c.windows().unfinished == 0);
  c.advance(2001);
  CHECK(c.windows().unfinished == 1);
  CHECK(c.windows().unfinished_list[0].end_ns == 2000);
}

TEST_CASE("windows: an interrupt straddling the cancel is clipped") {
  Collector c(cfg());
  feed(c, {
              sw(1000, 0, idle(0), MAIN),
              cancel(2000, 0, 100, 100),
              // Entered at 1950, left at 2100: only 100 ns of its 120 ns net
              // time can lie after the cancel.
              irq(2100, 0, 100, 100, IRQ_KIND_HARDIRQ, 9, 1950, 120),
              done(3000, 0, 100, 100),
          });
  c.finish(3000);
  const WindowSummary s = c.windows();
  check_sums(s);
  REQUIRE(s.list.size() == 1);
  CHECK(s.list[0].delay_ns == 1000);
  CHECK(s.list[0].hardirq_ns == 100);
  CHECK(s.list[0].running_ns == 900);
  REQUIRE(s.list[0].irqs.size() == 1);
  CHECK(s.list[0].irqs[0].ns == 100);
  CHECK(c.thread_rows()[0].hardirq_ns == 120);  // the thread table gets all of it
}

TEST_CASE("windows: done fired by a thread created after the cancel") {
  Collector c(cfg());
  const Task NEW{102, 100, "late", true};
  feed(c, {
              sw(500, 0, idle(0), MAIN),
              cancel(1000, 0, 100, 100),
              fork_ev(1500, 0, 102, 100, "late"),
              wakeup_new(1600, 0, 102, 100, 1),
              sw(1700, 1, idle(1), NEW),
              done(2000, 1, 102, 100),
          });
  c.finish(2500);
  const WindowSummary s = c.windows();
  check_sums(s);
  REQUIRE(s.list.size() == 1);
  CHECK(s.list[0].tid == 102);
  CHECK(s.list[0].running_ns == 300);
  CHECK(s.list[0].runqueue_ns == 100);
  CHECK(s.list[0].blocked_ns == 600);  // it did not exist yet
}

TEST_CASE("windows: a signal is the cancel with --cancel signal") {
  Collector c(cfg(10'000'000'000, false, true));
  feed(c, {
              sw(500, 0, idle(0), MAIN),
              signal_ev(1000, 1, 101, 100),  // for another thread of the process
              done(1500, 0, 100, 100),
          });
  c.finish(2000);
  const WindowSummary s = c.windows();
  CHECK(s.count == 1);
  CHECK(s.list[0].delay_ns == 500);
  CHECK(s.list[0].running_ns == 500);

  Collector no_sig(cfg());
  feed(no_sig, {signal_ev(1000, 1, 101, 100), done(1500, 0, 100, 100)});
  CHECK(no_sig.windows().count == 0);
  CHECK(no_sig.windows().orphan_done == 1);
}

TEST_CASE("windows: the list keeps the worst samples up to the cap, sorted by start") {
  CollectorConfig small = cfg();
  small.window_list_cap = 2;
  Collector c(small);
  feed(c, {sw(100, 0, idle(0), MAIN)});
  const uint64_t delays[] = {300, 100, 500, 200};
  uint64_t t = 1000;
  for (uint64_t d : delays) {
    feed(c, {cancel(t, 0, 100, 100), done(t + d, 0, 100, 100)});
    t += 1000;
  }
  c.finish(t);
  const WindowSummary s = c.windows();
  check_sums(s);
  CHECK(s.count == 4);
  CHECK(s.list_cap == 2);
  REQUIRE(s.list.size() == 2);
  CHECK(s.list[0].delay_ns == 300);  // started at 1000
  CHECK(s.list[1].delay_ns == 500);  // started at 3000
  CHECK(s.p50_ns == 200);            // nearest rank 2 of {100, 200, 300, 500}
  CHECK(s.p90_ns == 500);
  CHECK(s.max_ns == 500);
}
