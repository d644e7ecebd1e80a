#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "report_merge.h"

using namespace irqlat;

namespace {

Histogram hist_of(const std::vector<uint64_t>& values) {
  Histogram h;
  for (uint64_t v : values) h.add(v);
  return h;
}

uint64_t sum_of(const std::vector<uint64_t>& values) {
  uint64_t s = 0;
  for (uint64_t v : values) s += v;
  return s;
}

// The fields build_irq_rows() derives from a source's handler durations.
template <typename Row>
void fill_durations(Row& r, std::optional<int> cpu, const std::vector<uint64_t>& durations) {
  r.cpu = cpu;
  r.hist = hist_of(durations);
  r.count = r.hist.count();
  r.total_ns = sum_of(durations);
  r.max_ns = r.hist.max();
  r.p50_ns = r.hist.percentile(50);
  r.p99_ns = r.hist.percentile(99);
}

HardirqRow irq_row(std::optional<int> irq, const std::string& name, std::optional<int> cpu,
                   const std::vector<uint64_t>& durations, uint64_t hits = 0) {
  HardirqRow r;
  r.irq = irq;
  r.name = name;
  fill_durations(r, cpu, durations);
  r.target_hits = hits;
  r.target_stolen_ns = hits * 10;
  return r;
}

SoftirqRow soft_row(const std::string& vec, std::optional<int> cpu, const std::vector<uint64_t>& durations,
                    uint64_t raise_count, uint64_t raise_max) {
  SoftirqRow r;
  r.vector = vec;
  fill_durations(r, cpu, durations);
  r.raise_wait_count = raise_count;
  r.raise_wait_total_ns = raise_count * 100;
  r.raise_wait_max_ns = raise_max;
  return r;
}

ThreadRow thread_row(int pid, int tid, const std::vector<uint64_t>& latencies, uint64_t oncpu, bool exited = false) {
  ThreadRow t;
  t.pid = pid;
  t.tid = tid;
  t.comm = "t" + std::to_string(tid);
  t.sched = hist_of(latencies);
  t.wakeups = t.sched.count();
  t.sched_p50_ns = t.sched.percentile(50);
  t.sched_p99_ns = t.sched.percentile(99);
  t.sched_max_ns = t.sched.max();
  t.oncpu_ns = oncpu;
  t.runqueue_ns = oncpu / 2;
  t.exited = exited;
  return t;
}

// Two empty interval tables, back to back.
std::pair<Report, Report> two_intervals() {
  Report a, b;
  a.start_ns = 1'000;
  a.end_ns = b.start_ns = 2'000;
  b.end_ns = 3'000;
  return {a, b};
}

// The final table of `trace -i` over these interval tables, in order.
Report merged(const std::vector<Report>& intervals) {
  Report run;
  for (const Report& r : intervals) add_interval(run, r);
  return run;
}

}  // namespace

TEST_CASE("report merge: interval tables add up to the table of the whole run", "[report]") {
  // Interval 1: IRQ 24 on CPUs 0 and 1, LOC on CPU 0; interval 2: IRQ 24 on
  // CPU 1 only, and IRQ 30, which interval 1 never saw.
  const std::vector<uint64_t> irq24_c0 = {1000, 1200, 5000};
  const std::vector<uint64_t> irq24_c1_a = {800, 900}, irq24_c1_b = {700, 90000, 650, 640};
  const std::vector<uint64_t> loc = {300, 310};
  const std::vector<uint64_t> irq30 = {400000};
  Report a;
  a.start_ns = 1'000;
  a.end_ns = 2'000;
  a.interval = true;
  a.events.received = 10;
  a.hardirqs = {irq_row(24, "virtio1-req.0", std::nullopt, {1000, 1200, 5000, 800, 900}, 3),
                irq_row(24, "virtio1-req.0", 0, irq24_c0, 2), irq_row(24, "virtio1-req.0", 1, irq24_c1_a, 1),
                irq_row(std::nullopt, "LOC", std::nullopt, loc), irq_row(std::nullopt, "LOC", 0, loc)};
  a.softirqs = {soft_row("NET_RX", std::nullopt, {50, 60}, 2, 900), soft_row("NET_RX", 1, {50, 60}, 2, 900)};
  a.threads = {thread_row(100, 100, {10'000, 20'000}, 5'000), thread_row(100, 101, {7'000}, 1'000, true),
               thread_row(200, 200, {}, 0)};
  a.untimed_vectors = {{"TRM", 1}};
  Report b;
  b.start_ns = 2'000;
  b.end_ns = 3'000;
  b.interval = true;
  b.events.received = 25;  // cumulative in every table
  b.events.dropped = 1;
  b.hardirqs = {irq_row(30, "nvme0q1", std::nullopt, irq30), irq_row(30, "nvme0q1", 0, irq30),
                irq_row(24, "virtio1-req.0", std::nullopt, irq24_c1_b, 4),
                irq_row(24, "virtio1-req.0", 1, irq24_c1_b, 4)};
  b.softirqs = {soft_row("NET_RX", std::nullopt, {70}, 1, 2000), soft_row("NET_RX", 1, {70}, 1, 2000)};
  b.threads = {thread_row(100, 100, {30'000, 1'000'000}, 7'000), thread_row(100, 102, {5'000}, 500)};
  b.untimed_vectors = {{"TRM", 2}, {"MCE", 1}};

  Report run;
  add_interval(run, a);
  CHECK_FALSE(run.interval);
  add_interval(run, b);

  CHECK_FALSE(run.interval);
  CHECK(run.start_ns == 1'000);
  CHECK(run.end_ns == 3'000);
  CHECK(run.events.received == 25);
  CHECK(run.events.dropped == 1);

  // Sources by total time, each total row followed by its CPUs in order.
  REQUIRE(run.hardirqs.size() == 7);
  CHECK(run.hardirqs[0].irq == 30);
  CHECK(!run.hardirqs[0].cpu);
  CHECK(run.hardirqs[1].cpu == 0);
  const HardirqRow& total24 = run.hardirqs[2];
  CHECK(total24.irq == 24);
  CHECK(!total24.cpu);
  std::vector<uint64_t> all24 = irq24_c0;
  all24.insert(all24.end(), irq24_c1_a.begin(), irq24_c1_a.end());
  all24.insert(all24.end(), irq24_c1_b.begin(), irq24_c1_b.end());
  const Histogram whole = hist_of(all24);
  CHECK(total24.count == all24.size());
  CHECK(total24.total_ns == sum_of(all24));
  CHECK(total24.max_ns == 90000);
  CHECK(total24.p50_ns == whole.percentile(50));
  CHECK(total24.p99_ns == whole.percentile(99));
  CHECK(total24.target_hits == 7);
  CHECK(total24.target_stolen_ns == 70);
  CHECK(run.hardirqs[3].cpu == 0);
  CHECK(run.hardirqs[3].count == 3);
  const HardirqRow& c1 = run.hardirqs[4];
  CHECK(c1.cpu == 1);
  CHECK(c1.count == 6);
  CHECK(c1.max_ns == 90000);
  CHECK(run.hardirqs[5].name == "LOC");
  CHECK(!run.hardirqs[5].cpu);
  CHECK(run.hardirqs[6].cpu == 0);

  REQUIRE(run.softirqs.size() == 2);
  CHECK(run.softirqs[0].count == 3);
  CHECK(run.softirqs[0].raise_wait_count == 3);
  CHECK(run.softirqs[0].raise_wait_total_ns == 300);
  CHECK(run.softirqs[0].raise_wait_max_ns == 2000);
  CHECK(run.events.kernel_irq_events == 1 + all24.size() + loc.size() + 3);

  // Threads: 100 summed over both; 101 exited in the first; 102 new in the
  // second; 200 idle in the first, absent from the second.
  REQUIRE(run.threads.size() == 4);
  const ThreadRow& t100 = run.threads[0];
  CHECK(t100.tid == 100);
  CHECK(t100.wakeups == 4);
  CHECK(t100.oncpu_ns == 12'000);
  CHECK(t100.runqueue_ns == 6'000);
  const Histogram lat = hist_of({10'000, 20'000, 30'000, 1'000'000});
  CHECK(t100.sched_p50_ns == lat.percentile(50));
  CHECK(t100.sched_p99_ns == lat.percentile(99));
  CHECK(t100.sched_max_ns == 1'000'000);
  CHECK(run.threads[1].tid == 101);
  CHECK(run.threads[1].exited);
  CHECK(run.threads[2].tid == 102);
  CHECK(run.threads[3].tid == 200);
  CHECK(run.targets_exited == 1);

  CHECK(run.untimed_vectors.at("TRM") == 3);
  CHECK(run.untimed_vectors.at("MCE") == 1);
}

TEST_CASE("report merge: a tid that exits and is reused within one interval is two threads", "[report]") {
  Report a, b, c;
  a.end_ns = 1;
  a.threads = {thread_row(100, 100, {1'000}, 10)};
  // thread_rows() order: the new thread's live row, then the old one's exit.
  b.end_ns = 2;
  b.threads = {thread_row(100, 100, {3'000}, 30), thread_row(100, 100, {2'000}, 20, true)};
  c.end_ns = 3;
  c.threads = {thread_row(100, 100, {4'000}, 40)};
  const Report run = merged({a, b, c});
  REQUIRE(run.threads.size() == 2);
  CHECK_FALSE(run.threads[0].exited);
  CHECK(run.threads[0].oncpu_ns == 30 + 40);  // the new thread, both its intervals
  CHECK(run.threads[1].exited);
  CHECK(run.threads[1].oncpu_ns == 10 + 20);
  CHECK(run.threads[1].wakeups == 2);
}

TEST_CASE("report merge: a device IRQ keeps one row when an interval lacks its name", "[report]") {
  Report a, b;
  a.end_ns = 1;
  a.hardirqs = {irq_row(24, "irq24", std::nullopt, {100}), irq_row(24, "irq24", 0, {100})};
  b.end_ns = 2;
  b.hardirqs = {irq_row(24, "virtio1-req.0", std::nullopt, {200}), irq_row(24, "virtio1-req.0", 0, {200})};
  const Report run = merged({a, b});
  REQUIRE(run.hardirqs.size() == 2);
  CHECK(run.hardirqs[0].name == "virtio1-req.0");
  CHECK(run.hardirqs[0].count == 2);
  CHECK(run.hardirqs[1].name == "virtio1-req.0");
  CHECK(run.hardirqs[1].count == 2);
}

TEST_CASE("report merge: a tid seen again after its thread exited is another thread", "[report]") {
  Report a, b;
  a.end_ns = 1;
  a.threads = {thread_row(100, 105, {1'000}, 10, true)};
  b.end_ns = 2;
  b.threads = {thread_row(100, 105, {2'000}, 20)};
  const Report run = merged({a, b});
  REQUIRE(run.threads.size() == 2);
  CHECK_FALSE(run.threads[0].exited);  // sorted with the exited one last
  CHECK(run.threads[0].oncpu_ns == 20);
  CHECK(run.threads[1].exited);
  CHECK(run.threads[1].oncpu_ns == 10);
}

TEST_CASE("report merge: without /proc's counts per table, proc_count and unseen are summed", "[report]") {
  auto [a, b] = two_intervals();
  a.hardirqs = {irq_row(24, "virtio1-req.0", std::nullopt, {1000, 1200}), irq_row(24, "virtio1-req.0", 0, {1000, 1200}),
                irq_row(std::nullopt, "LOC", std::nullopt, {300})};
  a.hardirqs[0].proc_count = a.hardirqs[1].proc_count = 3;
  a.events.irq_unseen = 1;
  b.hardirqs = {irq_row(24, "virtio1-req.0", std::nullopt, {700}), irq_row(24, "virtio1-req.0", 0, {700})};
  b.hardirqs[0].proc_count = b.hardirqs[1].proc_count = 1;
  b.events.irq_unseen = 0;
  const Report run = merged({a, b});
  REQUIRE(run.hardirqs.size() == 3);
  CHECK(run.hardirqs[0].count == 3);
  CHECK(run.hardirqs[0].proc_count == 4u);
  CHECK(run.hardirqs[1].proc_count == 4u);
  CHECK_FALSE(run.hardirqs[2].proc_count);  // LOC: never checked
  CHECK(run.events.irq_unseen == 1u);

  // Recordings have no /proc counts: none appear.
  Report x = a, y = b;
  x.events.irq_unseen.reset();
  y.events.irq_unseen.reset();
  CHECK_FALSE(merged({x, y}).events.irq_unseen);
}

TEST_CASE("report merge: proc_count and unseen are checked over the whole run", "[report]") {
  // IRQ 30 on CPU 1 fires in both intervals, but irqlat sees it only in the
  // first: interval b has no row for it. IRQ 24 on CPU 0 has one interrupt
  // in flight at a's end: /proc counts it in a, irqlat in b.
  auto [a, b] = two_intervals();
  a.max_irq = b.max_irq = 256;
  a.hardirqs = {irq_row(30, "nvme0q1", std::nullopt, {10, 10, 10, 10, 10}), irq_row(30, "nvme0q1", 1, {10, 10, 10, 10, 10}),
                irq_row(24, "virtio1-req.0", std::nullopt, {1000, 1200}), irq_row(24, "virtio1-req.0", 0, {1000, 1200})};
  a.proc_irqs = DeviceIrqCounts{{30, {{1, 5}}}, {24, {{0, 3}}}};
  a.hardirqs[0].proc_count = a.hardirqs[1].proc_count = 5;
  a.hardirqs[2].proc_count = a.hardirqs[3].proc_count = 3;
  a.events.irq_unseen = 0;
  b.hardirqs = {irq_row(24, "virtio1-req.0", std::nullopt, {700, 800}), irq_row(24, "virtio1-req.0", 0, {700, 800})};
  b.proc_irqs = DeviceIrqCounts{{30, {{1, 7}}}, {24, {{0, 1}}}};
  b.hardirqs[0].proc_count = b.hardirqs[1].proc_count = 1;
  b.events.irq_unseen = 6;  // IRQ 30: 7 counted by /proc, none traced, one may be in flight

  const Report run = merged({a, b});
  REQUIRE(run.hardirqs.size() == 4);
  for (const HardirqRow& r : run.hardirqs) {
    INFO("irq " << *r.irq << " cpu " << (r.cpu ? *r.cpu : -1));
    REQUIRE(r.proc_count);
    if (r.irq == 30) {
      CHECK(r.count == 5);
      CHECK(*r.proc_count == 12);  // both intervals, not only the one with a row
    } else {
      CHECK(r.count == 4);
      CHECK(*r.proc_count == 4);
    }
  }
  // 12 - 5 - 1 for IRQ 30; IRQ 24 is even over the run.
  CHECK(run.events.irq_unseen == 6u);
  REQUIRE(run.proc_irqs);
  CHECK(run.proc_irqs->at(30).at(1) == 12);

  // A third table without /proc's counts: from there on the values are summed.
  Report c = b;
  c.start_ns = 3'000;
  c.end_ns = 4'000;
  c.proc_irqs.reset();
  c.events.irq_unseen = 2;
  Report run3 = merged({a, b, c});
  CHECK_FALSE(run3.proc_irqs);
  CHECK(run3.events.irq_unseen == 6u + 2);
}
