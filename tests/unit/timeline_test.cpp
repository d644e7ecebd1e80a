// The per-thread timeline itself (timeline.h): runqueue bookkeeping that the
// collector tests reach only through totals.
#include "timeline.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <map>

#include "records.h"

using namespace irqlat;
using namespace irqlat::test;

namespace {

template <class T>
T as(const Rec& r) {
  T e;
  std::memcpy(&e, r.bytes.data(), sizeof(e));
  return e;
}

void feed(Timeline& tl, const std::vector<Rec>& recs) {
  for (const Rec& r : recs) {
    switch (as<ev_hdr>(r).type) {
      case EV_SWITCH:
        tl.on_switch(as<ev_switch>(r), r.ts());
        break;
      case EV_WAKING:
        tl.on_waking(as<ev_wake>(r), r.ts());
        break;
      case EV_MIGRATE:
        tl.on_migrate(as<ev_migrate>(r), r.ts());
        break;
      case EV_IRQ:
        tl.on_irq(as<ev_irq>(r), r.ts());
        break;
      default:
        FAIL("record type not fed here");
    }
  }
}

// A ThreadTotals' nonzero entries by what its indices stand for (holder
// tid, irq_key).
struct ByKey {
  std::map<int64_t, uint64_t> m;
  uint64_t get(int64_t k) const {
    auto it = m.find(k);
    return it == m.end() ? 0 : it->second;
  }
  const std::map<int64_t, uint64_t>& items() const { return m; }
};
struct Totals {
  uint64_t runqueue_ns = 0, hardirq_ns = 0, softirq_ns = 0;
  ByKey preempt_ns, irq_ns;
};

Totals totals(const Timeline& tl, int tid, uint64_t now) {
  ThreadTotals t;
  REQUIRE(tl.totals_at(tid, now, t));
  Totals out{t.runqueue_ns, t.hardirq_ns, t.softirq_ns, {}, {}};
  // Each index stands for one key: a key seen twice would split its time.
  for (size_t i = 0; i < t.preempt_by.size(); i++)
    if (t.preempt_by[i]) REQUIRE(out.preempt_ns.m.emplace(tl.holder_tid_at(i), t.preempt_by[i]).second);
  for (size_t i = 0; i < t.irq_by.size(); i++)
    if (t.irq_by[i]) REQUIRE(out.irq_ns.m.emplace(static_cast<int64_t>(tl.irq_key_at(i)), t.irq_by[i]).second);
  return out;
}

}  // namespace

// Three targets wait on CPU 0 and leave it in another order than they came
// (the first one first, a migration from the middle, the last one last):
// each holder change must still book every waiter that is left, and only
// those.
TEST_CASE("timeline: waiters leaving a runqueue in any order keep the others' holder breakdown") {
  const Task A{100, 100, "a", true}, B{101, 100, "b", true}, C{102, 100, "c", true};
  const Task HOG{200, 200, "hog", false}, K{300, 300, "kworker/0:1", false};
  Timeline tl;
  feed(tl, {
               sw(1000, 0, idle(0), HOG),
               wake(1100, 1, A.tid, A.pid, 0),         // waiters: A
               wake(1200, 1, B.tid, B.pid, 0),         // A B
               wake(1300, 1, C.tid, C.pid, 0),         // A B C
               sw(2000, 0, HOG, A),                    // A leaves first: C B
               sw(2500, 0, A, K, true),                // A waits again: C B A
               migrate(3000, 0, C.tid, C.pid, 0, 1),   // C to CPU 1: A B
               sw(3200, 0, K, B),                      // B leaves: A
               sw(3600, 0, B, A),                      // A leaves, B blocks: none
               sw(4000, 1, idle(1), C),                // C runs on CPU 1
           });
  const Totals a = totals(tl, A.tid, 5000), b = totals(tl, B.tid, 5000), c = totals(tl, C.tid, 5000);
  CHECK(a.runqueue_ns == 900 + 1100);
  CHECK(a.preempt_ns.get(HOG.tid) == 900);
  CHECK(a.preempt_ns.get(K.tid) == 700);
  CHECK(a.preempt_ns.get(B.tid) == 400);
  CHECK(a.preempt_ns.items().size() == 3);

  CHECK(b.runqueue_ns == 2000);
  CHECK(b.preempt_ns.get(HOG.tid) == 800);
  CHECK(b.preempt_ns.get(A.tid) == 500);
  CHECK(b.preempt_ns.get(K.tid) == 700);
  CHECK(b.preempt_ns.items().size() == 3);

  CHECK(c.runqueue_ns == 2700);
  CHECK(c.preempt_ns.get(HOG.tid) == 700);
  CHECK(c.preempt_ns.get(A.tid) == 500);
  CHECK(c.preempt_ns.get(K.tid) == 500);
  CHECK(c.preempt_ns.get(Timeline::kUnknownHolder) == 1000);  // CPU 1's holder was never named
  CHECK(c.preempt_ns.items().size() == 4);

  // Everyone has left CPU 0's runqueue: a new holder books nobody.
  feed(tl, {sw(4500, 0, A, HOG, true), sw(4600, 0, HOG, A)});
  CHECK(totals(tl, B.tid, 5000).preempt_ns.get(HOG.tid) == 800);
  CHECK(totals(tl, C.tid, 5000).preempt_ns.get(HOG.tid) == 700);
  CHECK(totals(tl, A.tid, 5000).preempt_ns.get(HOG.tid) == 900 + 100);
}

// Interrupt time is kept per (kind, id): the same number as a device IRQ, a
// vector and a softirq are three sources, and ids past the direct table
// (1024 on) are their own keys too, not folded onto a smaller one.
// totals_at() as of a time inside an open RUNNABLE interval: the part not
// booked yet goes to the task holding that runqueue's CPU now.
TEST_CASE("timeline: totals as of now charge a waiter's open runqueue time to the CPU's holder") {
  const Task A{100, 100, "a", true}, HOG{200, 200, "hog", false}, K{300, 300, "kworker/0:1", false};
  Timeline tl;
  feed(tl, {sw(1000, 0, idle(0), HOG), wake(1100, 1, A.tid, A.pid, 0), sw(1400, 0, HOG, K)});
  const Totals a = totals(tl, A.tid, 1600);
  CHECK(a.runqueue_ns == 500);
  CHECK(a.preempt_ns.get(HOG.tid) == 300);  // booked at the holder change
  CHECK(a.preempt_ns.get(K.tid) == 200);    // open: 1400 -> 1600
  CHECK(a.preempt_ns.items().size() == 2);
}

TEST_CASE("timeline: interrupt time by source keeps kinds and large ids apart") {
  const Task A{100, 100, "a", true};
  Timeline tl;
  feed(tl, {
               sw(1000, 0, idle(0), A),
               irq(1100, 0, A.tid, A.pid, IRQ_KIND_HARDIRQ, 3, 1090, 10),
               irq(1200, 0, A.tid, A.pid, IRQ_KIND_VECTOR, 3, 1180, 20),
               irq(1300, 0, A.tid, A.pid, IRQ_KIND_SOFTIRQ, 3, 1270, 30),
               irq(1400, 0, A.tid, A.pid, IRQ_KIND_HARDIRQ, 1100, 1360, 40),
               irq(1500, 0, A.tid, A.pid, IRQ_KIND_HARDIRQ, 1100 - 1024, 1450, 50),
               irq(1600, 0, A.tid, A.pid, IRQ_KIND_HARDIRQ, 3, 1594, 6),
               irq(1700, 0, A.tid, A.pid, IRQ_KIND_HARDIRQ, 1100, 1693, 7),
               irq(1800, 0, A.tid, A.pid, IRQ_KIND_VECTOR, 3, 1792, 8),
               irq(1900, 0, A.tid, A.pid, IRQ_KIND_SOFTIRQ, 3, 1891, 9),
           });
  const Totals t = totals(tl, A.tid, 2000);
  CHECK(t.irq_ns.items().size() == 5);
  CHECK(t.irq_ns.get(irq_key(IRQ_KIND_HARDIRQ, 3)) == 16);
  CHECK(t.irq_ns.get(irq_key(IRQ_KIND_VECTOR, 3)) == 28);
  CHECK(t.irq_ns.get(irq_key(IRQ_KIND_SOFTIRQ, 3)) == 39);
  CHECK(t.irq_ns.get(irq_key(IRQ_KIND_HARDIRQ, 1100)) == 47);
  CHECK(t.irq_ns.get(irq_key(IRQ_KIND_HARDIRQ, 76)) == 50);
  CHECK(t.hardirq_ns == 16 + 28 + 47 + 50);
  CHECK(t.softirq_ns == 39);
}
