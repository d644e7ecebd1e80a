// See report_merge.h.
#include "user/report_merge.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "user/names.h"
#include "user/proc_interrupts.h"

namespace irqlat {
namespace {

template <typename Row>
void add_common(Row& a, const Row& b) {
  a.count += b.count;
  a.total_ns += b.total_ns;
  a.max_ns = std::max(a.max_ns, b.max_ns);
  a.target_hits += b.target_hits;
  a.target_stolen_ns += b.target_stolen_ns;
  a.hist.merge(b.hist);
  a.p50_ns = a.count ? a.hist.percentile(50) : 0;
  a.p99_ns = a.count ? a.hist.percentile(99) : 0;
}

void add_row(HardirqRow& a, const HardirqRow& b) {
  add_common(a, b);
  if (b.proc_count) a.proc_count = a.proc_count.value_or(0) + *b.proc_count;
}

void add_row(SoftirqRow& a, const SoftirqRow& b) {
  add_common(a, b);
  a.raise_wait_count += b.raise_wait_count;
  a.raise_wait_total_ns += b.raise_wait_total_ns;
  a.raise_wait_max_ns = std::max(a.raise_wait_max_ns, b.raise_wait_max_ns);
}

// Device IRQs by number (their name is read once per interval and may be
// missing from one, see take_better_name()); x86 vectors, which have none,
// by name.
std::pair<std::optional<int>, std::string> source_key(const HardirqRow& r) {
  return r.irq ? std::pair<std::optional<int>, std::string>{r.irq, ""} : std::pair{r.irq, r.name};
}
std::string source_key(const SoftirqRow& r) { return r.vector; }

// The name build_irq_rows() gives an IRQ whose action name it did not read
// ("irq24"): another interval's real name is better.
bool fallback_name(const HardirqRow& r) { return r.irq && r.name == unnamed_irq_name(static_cast<unsigned>(*r.irq)); }
template <typename Row>
void take_better_name(Row& kept, const Row& other) {
  if constexpr (std::is_same_v<Row, HardirqRow>)
    if (fallback_name(kept) && !fallback_name(other)) kept.name = other.name;
}

// Interrupt rows come as sources: a total row (cpu null), then a row per
// CPU that saw the source. Sums them source by source and CPU by CPU, and
// orders the sources by total time as build_irq_rows() does (ties: the
// order they were first seen in).
template <typename Row>
std::vector<Row> merge_sources(const std::vector<Row>& run, const std::vector<Row>& part) {
  using Key = decltype(source_key(std::declval<const Row&>()));
  struct Source {
    bool has_total = false;
    Row total;
    std::map<int, Row> per_cpu;
  };
  std::vector<Source> sources;
  std::map<Key, size_t> index;
  for (const std::vector<Row>* rows : {&run, &part}) {
    for (const Row& r : *rows) {
      auto [it, fresh] = index.try_emplace(source_key(r), sources.size());
      if (fresh) sources.emplace_back();
      Source& s = sources[it->second];
      if (r.cpu) {
        auto [c, first] = s.per_cpu.try_emplace(*r.cpu, r);
        if (!first) add_row(c->second, r);
      } else if (!s.has_total) {
        s.total = r;
        s.has_total = true;
      } else {
        add_row(s.total, r);
        take_better_name(s.total, r);
      }
    }
  }
  std::erase_if(sources, [](const Source& s) { return !s.has_total; });  // no total row: not a source
  std::stable_sort(sources.begin(), sources.end(),
                   [](const Source& a, const Source& b) { return a.total.total_ns > b.total.total_ns; });
  std::vector<Row> out;
  for (Source& s : sources) {
    out.push_back(std::move(s.total));
    for (auto& [cpu, row] : s.per_cpu) {
      if constexpr (std::is_same_v<Row, HardirqRow>) row.name = out.back().name;  // one name per source
      out.push_back(std::move(row));
    }
  }
  return out;
}

// Thread rows: a live thread's rows are summed; a thread that exited (or was
// detached) has its row in the one interval it left in, so a later row with
// its tid is another thread's.
std::vector<ThreadRow> merge_threads(std::vector<ThreadRow> run, const std::vector<ThreadRow>& part) {
  std::map<std::pair<int, int>, size_t> live;  // (pid, tid) -> index in run
  for (size_t i = 0; i < run.size(); i++)
    if (!run[i].exited && !run[i].detached) live[{run[i].pid, run[i].tid}] = i;
  // Within a part, a tid can be an exited thread and a new one that reused
  // it, in thread_rows() order (live first): the one that left, which was
  // the run's live row so far, is taken first.
  std::vector<const ThreadRow*> order;
  for (const ThreadRow& p : part) order.push_back(&p);
  auto left_row = [](const ThreadRow* t) { return t->exited || t->detached; };
  for (size_t i = 0; i + 1 < order.size(); i++) {
    const ThreadRow *a = order[i], *b = order[i + 1];
    if (a->pid == b->pid && a->tid == b->tid && !left_row(a) && left_row(b)) {
      std::swap(order[i], order[i + 1]);
      i++;
    }
  }
  for (const ThreadRow* pp : order) {
    const ThreadRow& p = *pp;
    const bool left = p.exited || p.detached;
    auto it = live.find({p.pid, p.tid});
    if (it == live.end()) {
      run.push_back(p);
      if (!left) live[{p.pid, p.tid}] = run.size() - 1;
      continue;
    }
    const size_t index = it->second;
    if (left) live.erase(it);
    ThreadRow& r = run[index];
    r.wakeups += p.wakeups;
    r.preemptions += p.preemptions;
    r.oncpu_ns += p.oncpu_ns;
    r.runqueue_ns += p.runqueue_ns;
    r.hardirq_ns += p.hardirq_ns;
    r.softirq_ns += p.softirq_ns;
    r.sched.merge(p.sched);
    r.sched_p50_ns = r.sched.percentile(50);
    r.sched_p99_ns = r.sched.percentile(99);
    r.sched_max_ns = r.sched.max();
    if (!p.comm.empty()) r.comm = p.comm;
    r.exited = p.exited;
    r.detached = p.detached;
  }
  // Collector::thread_rows()'s order.
  std::sort(run.begin(), run.end(), [](const ThreadRow& a, const ThreadRow& b) {
    return std::tie(a.pid, a.tid, a.exited) < std::tie(b.pid, b.tid, b.exited);
  });
  return run;
}

}  // namespace

void add_interval(Report& run, const Report& part) {
  if (run.end_ns == 0) {  // nothing added yet
    run = part;
    run.interval = false;
    return;
  }
  Report out = part;  // event counts and windows: cumulative already
  out.interval = false;
  out.start_ns = run.start_ns;
  out.hardirqs = merge_sources(run.hardirqs, part.hardirqs);
  out.softirqs = merge_sources(run.softirqs, part.softirqs);
  out.threads = merge_threads(std::move(run.threads), part.threads);
  out.untimed_vectors = std::move(run.untimed_vectors);
  if (run.proc_irqs && part.proc_irqs) {
    // /proc's counts over the whole run, against the summed rows: a row
    // that some interval lacked is checked over every interval, and one
    // interrupt in flight at an interval's end is not counted unseen in
    // each of them.
    DeviceIrqCounts whole = std::move(*run.proc_irqs);
    for (const auto& [irq, per_cpu] : *part.proc_irqs)
      for (const auto& [cpu, n] : per_cpu) whole[irq][cpu] += n;
    out.events.irq_unseen = apply_proc_counts(out.hardirqs, whole, part.max_irq);
    out.proc_irqs = std::move(whole);
  } else {
    out.proc_irqs.reset();  // some table was not checked: sums of what was
    if (run.events.irq_unseen || part.events.irq_unseen)
      out.events.irq_unseen = run.events.irq_unseen.value_or(0) + part.events.irq_unseen.value_or(0);
  }
  for (const auto& [name, n] : part.untimed_vectors) out.untimed_vectors[name] += n;
  // As build_report() counts them.
  out.events.kernel_irq_events = 0;
  for (const HardirqRow& h : out.hardirqs)
    if (!h.cpu) out.events.kernel_irq_events += h.count;
  for (const SoftirqRow& s : out.softirqs)
    if (!s.cpu) out.events.kernel_irq_events += s.count;
  out.targets_exited = 0;
  for (const ThreadRow& t : out.threads) out.targets_exited += t.exited;
  run = std::move(out);
}

}  // namespace irqlat
