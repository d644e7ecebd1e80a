#include "collector.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "bpf/irqlat.h"

namespace irqlat {

using detail::load;

Collector::Collector(CollectorConfig cfg)
    : cfg_(cfg), windows_(cfg.window_timeout_ns, cfg.window_list_cap) {
  default_rule_.enabled = cfg.windows;
  // trace filters signals in the kernel: every EV_SIGNAL is a cancel.
  default_rule_.cancel_signals = cfg.cancel_on_signal ? ~0ULL : 0;
  default_rule_.done_on_exit = cfg.done_on_exit;
}

void Collector::set_comm(int tid, int pid, std::string comm, bool kernel) {
  if (kernel)
    kthreads_.add_known(tid, pid, std::move(comm));
  else
    timeline_.set_comm(tid, pid, std::move(comm), now_);
}

void Collector::set_irq_name(int irq, std::string name) { windows_.set_irq_name(irq, std::move(name)); }

void Collector::on_other(const ev_hdr& h, const void* data, size_t size) {
  bool ok = true;
  switch (h.type) {
    case EV_WAKEUP_NEW: {
      struct ev_wake e;
      if ((ok = load(data, size, e))) timeline_.on_wakeup_new(e, now_);
      break;
    }
    case EV_MIGRATE: {
      struct ev_migrate e;
      if ((ok = load(data, size, e))) timeline_.on_migrate(e, now_);
      break;
    }
    case EV_FORK:
    case EV_EXEC:
    case EV_EXIT: {
      struct ev_task e;
      if (!(ok = load(data, size, e))) break;
      // A kernel-accounted thread has no timeline here: its row comes from
      // its account, and no window rule applies to its process.
      if (h.flags & EV_F_KACCT) break;
      if (h.type == EV_FORK)
        timeline_.on_fork(e, now_);
      else if (h.type == EV_EXEC)
        timeline_.on_exec(e, now_);
      else
        on_exit(e);
      break;
    }
    case EV_IRQ: {
      struct ev_irq e;
      if (!(ok = load(data, size, e))) break;
      if (auto charge = timeline_.on_irq(e, now_)) {
        TargetIrqStat& s = irq_stat(e.kind, e.id, h.cpu);
        s.hits++;
        s.stolen_ns += charge->ns;
        if (windows_on()) windows_.on_irq(*charge);
      }
      break;
    }
    case EV_SIGNAL: {
      struct ev_signal e;
      if (!(ok = load(data, size, e))) break;
      if (!(h.flags & EV_F_KACCT))
        timeline_.touch(static_cast<int>(h.tid), static_cast<int>(e.pid), now_);
      const WindowRule& r = rule(static_cast<int>(e.pid));
      if (r.enabled && e.sig > 0 && e.sig < 64 && (r.cancel_signals & (1ULL << e.sig)))
        windows_.cancel(static_cast<int>(e.pid), now_, timeline_, r.timeout_ns);
      break;
    }
    case EV_MARK: {
      struct ev_mark e;
      if (!(ok = load(data, size, e))) break;
      const int tid = static_cast<int>(h.tid), pid = static_cast<int>(e.pid);
      timeline_.on_self(tid, pid, h.cpu, now_);  // it hit the probe: it is on CPU
      const WindowRule& r = rule(pid);
      if (!r.enabled) break;
      if (e.which == MARK_CANCEL)
        windows_.cancel(pid, now_, timeline_, r.timeout_ns);
      else if (e.which == MARK_DONE)
        windows_.done(pid, tid, now_, timeline_);
      break;
    }
    default:
      stats_.unknown_type++;
      break;
  }
  if (!ok) stats_.malformed++;
}

Collector::TargetIrqStat& Collector::irq_stat(int kind, uint32_t id, int cpu) {
  const uint64_t key = static_cast<uint64_t>(kind & 0xff) << 48 | static_cast<uint64_t>(id) << 16 |
                       static_cast<uint64_t>(cpu);
  IrqStatCache& c = irq_stat_cache_[(id * 7u + static_cast<unsigned>(cpu) * 3u + static_cast<unsigned>(kind)) %
                                    irq_stat_cache_.size()];
  if (c.key != key) c = {key, &irq_stats_[{kind, static_cast<int>(id), cpu}]};
  return *c.s;
}

void Collector::on_exit(const ev_task& e) {
  const int tid = static_cast<int>(e.h.tid), pid = static_cast<int>(e.pid);
  const bool group_dead = e.h.flags & EV_F_GROUP_DEAD;
  const WindowRule& r = rule(pid);
  if (r.enabled && group_dead) {
    // The done sample needs the thread's timeline, so before it is retired.
    if (r.done_on_exit) windows_.done(pid, tid, now_, timeline_);
    windows_.process_exit(pid, now_);
  }
  timeline_.on_exit(e, now_);
}

const WindowRule& Collector::rule(int pid) const {
  if (!rules_.empty())
    if (auto it = rules_.find(pid); it != rules_.end()) return it->second;
  return default_rule_;
}

void Collector::set_window_rule(int pid, WindowRule r) { rules_[pid] = r; }

void Collector::drop_window_rule(int pid, const char* reason) {
  windows_.close_process(pid, now_, reason);
  rules_.erase(pid);
}

void Collector::detach_process(int pid) {
  drop_window_rule(pid, "detached");
  timeline_.detach_process(pid, now_);
  kthreads_.detach(pid, now_);
}

void Collector::advance(uint64_t ts) {
  if (ts > now_) now_ = ts;
  if (windows_on()) windows_.expire(now_);
}

void Collector::finish(uint64_t end_ts) {
  advance(end_ts);
  timeline_.account_all(now_);
  if (windows_on()) windows_.finish(now_);
}

std::vector<ThreadRow> Collector::thread_rows() const {
  std::vector<ThreadRow> out = timeline_.rows(now_);
  std::vector<ThreadRow> kernel = kthreads_.rows(now_);
  if (kernel.empty()) return out;
  out.insert(out.end(), std::make_move_iterator(kernel.begin()), std::make_move_iterator(kernel.end()));
  std::sort(out.begin(), out.end(), [](const ThreadRow& a, const ThreadRow& b) {
    return std::tie(a.pid, a.tid, a.exited) < std::tie(b.pid, b.tid, b.exited);
  });
  return out;
}

CollectorStats Collector::stats() const {
  CollectorStats s = stats_;
  s.irq_ignored = timeline_.irq_ignored();
  return s;
}

void Collector::reset_tables() {
  timeline_.reset_tables(now_);
  kthreads_.reset(now_);
  irq_stats_.clear();
  irq_stat_cache_.fill({});
}

}  // namespace irqlat
