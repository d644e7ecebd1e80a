#include "windows.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "bpf/irqlat.h"
#include "names.h"

namespace irqlat {
namespace {

uint64_t sub0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Heap orders. Samples: a "less than" b when a's delay is worse, so the heap
// top is the least bad kept sample, the one to evict. Unfinished: top is the
// latest, evicted to keep the earliest.
bool worse(const WindowRow& a, const WindowRow& b) {
  if (a.delay_ns != b.delay_ns) return a.delay_ns > b.delay_ns;
  return std::tie(a.start_ns, a.pid, a.tid, a.end_ns) < std::tie(b.start_ns, b.pid, b.tid, b.end_ns);
}
bool earlier(const WindowRow& a, const WindowRow& b) {
  return std::tie(a.start_ns, a.pid, a.end_ns) < std::tie(b.start_ns, b.pid, b.end_ns);
}
bool by_start(const WindowRow& a, const WindowRow& b) {
  return std::tie(a.start_ns, a.pid, a.tid, a.end_ns) < std::tie(b.start_ns, b.pid, b.tid, b.end_ns);
}

void add_named(std::vector<NamedNs>& v, std::string name, uint64_t ns) {
  for (auto& n : v)
    if (n.name == name) {
      n.ns += ns;
      return;
    }
  v.push_back({std::move(name), ns});
}

void sort_largest_first(std::vector<NamedNs>& v) {
  std::sort(v.begin(), v.end(), [](const NamedNs& a, const NamedNs& b) {
    return a.ns != b.ns ? a.ns > b.ns : a.name < b.name;
  });
}

// Keeps the cap smallest items by `less` in a heap (largest on top).
template <class T, class Less>
void keep_bounded(std::vector<T>& heap, size_t cap, T item, Less less) {
  if (cap == 0) return;
  if (heap.size() == cap) {
    if (!less(item, heap.front())) return;  // not better than the worst kept
    std::pop_heap(heap.begin(), heap.end(), less);
    heap.pop_back();
  }
  heap.push_back(std::move(item));
  std::push_heap(heap.begin(), heap.end(), less);
}

}  // namespace

Windows::Windows(uint64_t timeout_ns, size_t list_cap) : timeout_ns_(timeout_ns), list_cap_(list_cap) {}

void Windows::set_irq_name(int irq, std::string name) { irq_names_[irq] = std::move(name); }

std::string Windows::irq_name(uint64_t key) const {
  const uint32_t id = irq_key_id(key);
  switch (irq_key_kind(key)) {
    case IRQ_KIND_VECTOR: return vector_name(static_cast<int>(id));
    case IRQ_KIND_SOFTIRQ: return softirq_name(static_cast<int>(id));
    default: {
      auto it = irq_names_.find(static_cast<int>(id));
      return it != irq_names_.end() ? it->second : unnamed_irq_name(id);
    }
  }
}

void Windows::cancel(int pid, uint64_t ts, const Timeline& tl, uint64_t timeout_ns) {
  if (open_.count(pid)) close(pid, ts, "superseded");
  if (timeout_ns == 0) timeout_ns = timeout_ns_;
  Open w;
  w.start = ts;
  w.deadline = ts > UINT64_MAX - timeout_ns ? UINT64_MAX : ts + timeout_ns;
  if (const auto* tids = tl.threads_of(pid)) {
    for (int tid : *tids)
      if (tl.totals_at(tid, ts, scratch_)) w.snaps.emplace(tid, sparse(scratch_));
  }
  next_deadline_ = std::min(next_deadline_, w.deadline);
  latest_start_ = std::max(latest_start_, w.start);
  open_.emplace(pid, std::move(w));
}

void Windows::done(int pid, int tid, uint64_t ts, const Timeline& tl) {
  auto it = open_.find(pid);
  if (it == open_.end()) {
    orphan_done_++;
    return;
  }
  Open& w = it->second;
  // A thread the cancel did not see starts from zero: all its time before
  // it appeared is part of blocked.
  static const Snapshot kZero;
  ThreadTotals& cur = scratch_;
  if (!tl.totals_at(tid, ts, cur)) cur = {};
  auto snap = w.snaps.find(tid);
  Sample sample = make_sample(pid, tid, w.start, ts, snap != w.snaps.end() ? snap->second : kZero, cur, tl);
  const uint64_t delay = sample.row.delay_ns;
  w.samples++;
  count_++;
  max_delay_ = std::max(max_delay_, delay);
  delay_hist_.add(delay);
  ProcessWindows& pw = by_pid_[pid];
  pw.count++;
  pw.delay.add(delay);
  pw.running_ns += sample.row.running_ns;
  pw.runqueue_ns += sample.row.runqueue_ns;
  pw.hardirq_ns += sample.row.hardirq_ns;
  pw.softirq_ns += sample.row.softirq_ns;
  pw.blocked_ns += sample.row.blocked_ns;
  if (delays_.size() < kExactDelays) delays_.push_back(delay);
  keep_bounded(samples_, list_cap_, std::move(sample),
               [](const Sample& a, const Sample& b) { return worse(a.row, b.row); });
}

Windows::Snapshot Windows::sparse(const ThreadTotals& t) {
  Snapshot s;
  static_cast<ThreadSums&>(s) = t;
  auto keep = [](const std::vector<uint64_t>& v, std::vector<std::pair<uint32_t, uint64_t>>& out) {
    for (size_t i = 0; i < v.size(); i++)
      if (v[i]) out.emplace_back(static_cast<uint32_t>(i), v[i]);
  };
  keep(t.irq_by, s.irq_by);
  keep(t.preempt_by, s.preempt_by);
  return s;
}

Windows::Sample Windows::make_sample(int pid, int tid, uint64_t start, uint64_t ts,
                                     const Snapshot& base, const ThreadTotals& cur,
                                     const Timeline& tl) {
  Sample s;
  WindowRow& r = s.row;
  r.pid = pid;
  r.tid = tid;
  r.start_ns = start;
  r.end_ns = ts;
  r.delay_ns = sub0(ts, start);
  // The clamps only bite on inconsistent input (lost records, tid reuse);
  // they keep the parts summing to the delay.
  uint64_t rq = std::min(sub0(cur.runqueue_ns, base.runqueue_ns), r.delay_ns);
  uint64_t run = std::min(sub0(cur.running_ns, base.running_ns), r.delay_ns - rq);
  uint64_t hard = std::min(sub0(cur.hardirq_ns, base.hardirq_ns), run);
  uint64_t soft = std::min(sub0(cur.softirq_ns, base.softirq_ns), run - hard);
  r.running_ns = run - hard - soft;
  r.runqueue_ns = rq;
  r.hardirq_ns = hard;
  r.softirq_ns = soft;
  r.blocked_ns = r.delay_ns - run - rq;

  // cur - base by index: base's entries are walked in step (an index the
  // snapshot lacks was 0 then). f(index, difference) for each nonzero one.
  auto diff = [](const std::vector<uint64_t>& now, const std::vector<std::pair<uint32_t, uint64_t>>& then,
                 auto&& f) {
    size_t j = 0;
    for (size_t i = 0; i < now.size(); i++) {
      while (j < then.size() && then[j].first < i) j++;
      const uint64_t was = j < then.size() && then[j].first == i ? then[j].second : 0;
      if (const uint64_t d = sub0(now[i], was)) f(i, d);
    }
  };
  diff(cur.irq_by, base.irq_by, [&](size_t i, uint64_t d) { s.irq_ns.emplace_back(tl.irq_key_at(i), d); });
  // Sized once: thousands of samples are kept, and growing each list by
  // doubling left up to half of it unused.
  size_t n = 0;
  diff(cur.preempt_by, base.preempt_by, [&](size_t, uint64_t) { n++; });
  r.preempted_by.reserve(n);
  diff(cur.preempt_by, base.preempt_by, [&](size_t i, uint64_t d) {
    const int holder = tl.holder_tid_at(i);
    r.preempted_by.push_back({tl.holder_comm(holder), tl.holder_pid(holder), holder, d});
  });
  std::sort(r.preempted_by.begin(), r.preempted_by.end(), [](const Preemptor& a, const Preemptor& b) {
    return a.ns != b.ns ? a.ns > b.ns : a.tid < b.tid;
  });
  return s;
}

WindowRow Windows::named(const Sample& s) const {
  WindowRow r = s.row;
  for (const auto& [key, ns] : s.irq_ns)
    add_named(irq_key_kind(key) == IRQ_KIND_SOFTIRQ ? r.softirq_vectors : r.irqs, irq_name(key), ns);
  sort_largest_first(r.irqs);
  sort_largest_first(r.softirq_vectors);
  return r;
}

void Windows::on_early_irq(const IrqCharge& c) {
  auto it = open_.find(c.pid);
  if (it == open_.end() || it->second.start <= c.from) return;
  const uint64_t start = it->second.start;
  const uint64_t after = std::min(c.ns, sub0(c.until, start));
  const uint64_t before = c.ns - after;
  if (before == 0) return;
  // Raising the snapshot by the part before the cancel removes it from the
  // difference the done will take.
  Snapshot& snap = it->second.snaps[c.tid];
  if (irq_key_kind(c.key) == IRQ_KIND_SOFTIRQ)
    snap.softirq_ns += before;
  else
    snap.hardirq_ns += before;
  auto at = std::lower_bound(snap.irq_by.begin(), snap.irq_by.end(), c.idx,
                             [](const std::pair<uint32_t, uint64_t>& e, uint32_t i) { return e.first < i; });
  if (at == snap.irq_by.end() || at->first != c.idx) at = snap.irq_by.insert(at, {c.idx, 0});
  at->second += before;
}

void Windows::close_process(int pid, uint64_t ts, const char* reason) {
  if (open_.count(pid)) close(pid, ts, reason);
}

void Windows::close(int pid, uint64_t end, const char* reason) {
  auto it = open_.find(pid);
  if (it == open_.end()) return;
  if (it->second.samples == 0) {
    unfinished_++;
    by_pid_[pid].unfinished++;
    WindowRow r;
    r.pid = pid;
    r.start_ns = it->second.start;
    r.end_ns = end;
    r.unfinished = true;
    r.reason = reason;
    // delay and breakdown stay 0: no thread finished, so there is nothing to
    // break down; end_ns - start_ns is how long it stayed open.
    keep_bounded(unfinished_rows_, list_cap_, std::move(r), earlier);
  }
  open_.erase(it);
}

void Windows::expire_due(uint64_t now) {
  std::vector<std::pair<uint64_t, int>> due;
  uint64_t next = UINT64_MAX;
  for (const auto& [pid, w] : open_) {
    if (w.deadline < now)
      due.emplace_back(w.deadline, pid);
    else
      next = std::min(next, w.deadline);
  }
  std::sort(due.begin(), due.end());  // deterministic order
  for (const auto& [deadline, pid] : due) close(pid, deadline, "timeout");
  next_deadline_ = next;
}

void Windows::finish(uint64_t end_ts) {
  expire(end_ts);
  std::vector<int> pids;
  for (const auto& [pid, w] : open_) pids.push_back(pid);
  std::sort(pids.begin(), pids.end());
  for (int pid : pids) close(pid, end_ts, "end of trace");
  next_deadline_ = UINT64_MAX;
}

WindowSummary Windows::summary() const {
  WindowSummary s;
  s.count = count_;
  s.unfinished = unfinished_;
  s.orphan_done = orphan_done_;
  s.list_cap = list_cap_;
  s.max_ns = max_delay_;
  if (count_ > 0 && delays_.size() == count_) {
    std::vector<uint64_t> sorted = delays_;
    std::sort(sorted.begin(), sorted.end());
    auto nearest_rank = [&](double p) {
      const double rank = std::ceil(p * static_cast<double>(sorted.size()) / 100.0);
      return sorted[std::clamp<size_t>(static_cast<size_t>(rank), 1, sorted.size()) - 1];
    };
    s.p50_ns = nearest_rank(50);
    s.p90_ns = nearest_rank(90);
    s.p99_ns = nearest_rank(99);
  } else if (count_ > 0) {
    s.p50_ns = delay_hist_.percentile(50);
    s.p90_ns = delay_hist_.percentile(90);
    s.p99_ns = delay_hist_.percentile(99);
  }
  s.list.reserve(samples_.size());
  for (const Sample& sample : samples_) s.list.push_back(named(sample));
  std::sort(s.list.begin(), s.list.end(), by_start);
  s.unfinished_list = unfinished_rows_;
  s.by_pid = by_pid_;
  std::sort(s.unfinished_list.begin(), s.unfinished_list.end(), earlier);
  return s;
}

void Windows::reset() {
  count_ = unfinished_ = orphan_done_ = 0;
  delays_.clear();
  delay_hist_.clear();
  by_pid_.clear();
  max_delay_ = 0;
  samples_.clear();
  unfinished_rows_.clear();
}

}  // namespace irqlat
