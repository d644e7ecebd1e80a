// See kernel_threads.h.
#include "user/kernel_threads.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "user/histogram.h"

namespace irqlat {
namespace {

std::string comm_of(const thread_acct& a) { return {a.comm, ::strnlen(a.comm, sizeof(a.comm))}; }

}  // namespace

void KernelThreads::add_known(int tid, int pid, std::string comm) {
  known_[tid] = Known{pid, std::move(comm)};
}

void KernelThreads::set_live(std::vector<thread_acct> live) {
  live_ = std::move(live);
  std::sort(live_.begin(), live_.end(),
            [](const thread_acct& a, const thread_acct& b) { return a.tid < b.tid; });
  for (const thread_acct& a : live_) known_.erase(static_cast<int>(a.tid));
}

KernelThreads::Totals KernelThreads::totals_at(const thread_acct& a, uint64_t now) {
  Totals t;
  t.created_ns = a.created_ns;
  t.wakeups = a.wakeups;
  t.preemptions = a.preemptions;
  t.oncpu_ns = a.oncpu_ns;
  t.runqueue_ns = a.runqueue_ns;
  t.hardirq_ns = a.hardirq_ns;
  t.softirq_ns = a.softirq_ns;
  t.sched_total_ns = a.sched_total_ns;
  if (now > a.since) {  // the current state, not booked yet
    if (a.state == TS_RUNNING) t.oncpu_ns += now - a.since;
    if (a.state == TS_RUNNABLE) t.runqueue_ns += now - a.since;
  }
  return t;
}

ThreadRow KernelThreads::make_row(const thread_acct& a, uint64_t now) const {
  static const Totals kZero;
  const Totals cur = totals_at(a, now);
  auto it = base_.find(static_cast<int>(a.tid));
  // A baseline of another thread that had this tid does not apply.
  const Totals& base = it != base_.end() && it->second.created_ns == a.created_ns ? it->second : kZero;
  auto minus = [](uint64_t v, uint64_t b) { return v > b ? v - b : 0; };
  ThreadRow r;
  r.tid = static_cast<int>(a.tid);
  r.pid = static_cast<int>(a.pid);
  r.comm = comm_of(a);
  r.wakeups = minus(cur.wakeups, base.wakeups);
  r.preemptions = minus(cur.preemptions, base.preemptions);
  r.oncpu_ns = minus(cur.oncpu_ns, base.oncpu_ns);
  r.runqueue_ns = minus(cur.runqueue_ns, base.runqueue_ns);
  r.hardirq_ns = minus(cur.hardirq_ns, base.hardirq_ns);
  r.softirq_ns = minus(cur.softirq_ns, base.softirq_ns);
  std::vector<uint32_t> hist(a.hist, a.hist + IRQLAT_HIST_BUCKETS);
  for (size_t b = 0; b < base.hist.size() && b < hist.size(); b++)
    hist[b] = minus(hist[b], base.hist[b]);
  // An interval's own maximum is not kept: its buckets bound it, and the
  // cumulative maximum is used when it falls in the top one.
  r.sched = Histogram::from_buckets(hist.data(), hist.size(), a.sched_max_ns,
                                    minus(cur.sched_total_ns, base.sched_total_ns));
  r.sched_p50_ns = r.sched.percentile(50);
  r.sched_p99_ns = r.sched.percentile(99);
  r.sched_max_ns = r.sched.max();
  return r;
}

void KernelThreads::add_exited(const thread_acct& a) {
  ThreadRow r = make_row(a, a.since);  // booked up to the exit
  r.exited = true;
  std::erase_if(live_, [&a](const thread_acct& l) { return l.tid == a.tid && l.created_ns == a.created_ns; });
  known_.erase(r.tid);
  base_.erase(r.tid);
  retired_.push_back(std::move(r));
}

void KernelThreads::detach(int pid, uint64_t now) {
  auto keep = live_.begin();
  for (const thread_acct& a : live_) {
    if (static_cast<int>(a.pid) == pid) {
      ThreadRow r = make_row(a, now);
      r.detached = true;
      base_.erase(r.tid);
      retired_.push_back(std::move(r));
    } else {
      *keep++ = a;
    }
  }
  live_.erase(keep, live_.end());
  std::erase_if(known_, [pid](const auto& kv) { return kv.second.pid == pid; });
}

void KernelThreads::reset(uint64_t now) {
  base_.clear();
  for (const thread_acct& a : live_) {
    Totals t = totals_at(a, now);
    bool any = false;
    for (uint32_t b = 0; b < IRQLAT_HIST_BUCKETS && !any; b++) any = a.hist[b] != 0;
    if (any) t.hist.assign(a.hist, a.hist + IRQLAT_HIST_BUCKETS);
    base_[static_cast<int>(a.tid)] = std::move(t);
  }
  retired_.clear();
}

std::vector<ThreadRow> KernelThreads::rows(uint64_t now) const {
  std::vector<ThreadRow> out;
  out.reserve(live_.size() + known_.size() + retired_.size());
  for (const thread_acct& a : live_) out.push_back(make_row(a, now));
  for (const auto& [tid, k] : known_) {
    ThreadRow r;
    r.tid = tid;
    r.pid = k.pid;
    r.comm = k.comm;
    out.push_back(std::move(r));
  }
  out.insert(out.end(), retired_.begin(), retired_.end());
  return out;
}

}  // namespace irqlat
