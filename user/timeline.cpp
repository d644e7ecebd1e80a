#include "timeline.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <tuple>

namespace irqlat {
namespace {

// Kernel comms are NUL-padded but not necessarily NUL-terminated.
std::string_view comm_view(const char* comm) { return {comm, ::strnlen(comm, IRQLAT_COMM_LEN)}; }

bool valid_cpu(int cpu) { return cpu >= 0 && cpu < IRQLAT_MAX_CPUS; }

// The state machine's steps, run several times per record: inlined into the
// event handlers, whose calls and register saves were a sixth of `report`'s
// instructions (callgrind on a real recording: 3.70G -> 3.09G).
#define IRQLAT_HOT [[gnu::always_inline]] inline

// A comm's 16 bytes as they are (holder_comm() reads up to the first NUL),
// moved as two words: a 16-byte load of two 8-byte stores cannot be
// forwarded and stalls, and the hot comm copies all go through here.
void copy_comm16(char* dst, const char* src) {
  static_assert(IRQLAT_COMM_LEN == 16);
  uint64_t lo, hi;
  std::memcpy(&lo, src, 8);
  std::memcpy(&hi, src + 8, 8);
  std::memcpy(dst, &lo, 8);
  std::memcpy(dst + 8, &hi, 8);
}

}  // namespace

Timeline::Thread* Timeline::find_slow(int tid) {
  FindCache::Entry& c = find_cache_.at(tid);
  auto it = threads_.find(tid);
  if (it == threads_.end()) return nullptr;
  c = {tid, &it->second};
  return c.t;
}

// ensure() missed: no thread, or one of another process with this tid.
Timeline::Thread& Timeline::ensure_slow(int tid, int pid, uint64_t now) {
  // Same tid in another process: the old thread exited unseen (lost
  // records) and the tid was reused. Keep its row, start a new one.
  if (find(tid)) retire(tid, now);
  Thread& t = threads_[tid];
  t.tid = tid;
  t.pid = pid;
  t.since = now;
  index_add(pid, tid);
  return t;
}

void Timeline::grow_cpus(int cpu) {
  const size_t old = cpus_.size();
  cpus_.resize(static_cast<size_t>(cpu) + 1);
  const uint32_t unknown = holder_index(kUnknownHolder);
  for (size_t i = old; i < cpus_.size(); i++) cpus_[i].holder_idx = unknown;
}

uint32_t Timeline::holder_index_slow(int tid) {
  auto [it, fresh] = holder_idx_.try_emplace(tid, static_cast<uint32_t>(holder_tids_.size()));
  if (fresh) {
    holder_tids_.push_back(tid);
    holder_name_at_.push_back(nullptr);
  }
  holder_cache_[static_cast<unsigned>(tid) % holder_cache_.size()] = {tid, it->second};
  return it->second;
}

uint32_t Timeline::irq_index_slow(int kind, uint32_t id) {
  const uint64_t key = irq_key(kind, id);
  auto [it, fresh] = irq_idx_.try_emplace(key, static_cast<uint32_t>(irq_keys_.size()));
  if (fresh) irq_keys_.push_back(key);
  if (uint32_t* d = irq_direct(kind, id)) *d = it->second + 1;
  return it->second;
}

namespace {
inline void add_at(std::vector<uint64_t>& v, uint32_t i, uint64_t ns) {
  if (i >= v.size()) v.resize(i + 1);
  v[i] += ns;
}
}  // namespace

// Books the time since t.since to t, RUNNABLE on t.cpu: runqueue time,
// charged to that CPU's holder (holder_idx: the caller has it at hand, so
// each waiter's booking does not load it again through t.cpu). Run for every
// waiter at each holder change.
IRQLAT_HOT void Timeline::book_runnable(Thread& t, uint64_t now, uint32_t holder_idx) {
  if (now <= t.since) return;
  const uint64_t dt = now - t.since;
  t.since = now;
  t.runqueue_ns += dt;
  t.totals.runqueue_ns += dt;
  add_at(t.totals.preempt_by, holder_idx, dt);
}

// Books the time since t.since to t's current state.
IRQLAT_HOT void Timeline::book(Thread& t, uint64_t now) {
  switch (t.state) {
    case ThreadState::Running:
      if (now <= t.since) return;
      t.oncpu_ns += now - t.since;
      t.totals.running_ns += now - t.since;
      t.since = now;
      break;
    case ThreadState::Runnable:
      book_runnable(t, now, cpus_[t.cpu].holder_idx);
      break;
    case ThreadState::Blocked:
    case ThreadState::Unknown:
      t.since = std::max(t.since, now);  // windows derive it as the remainder
      break;
  }
}

IRQLAT_HOT void Timeline::set_state(Thread& t, ThreadState s, int cpu, uint64_t now) {
  book(t, now);
  if (t.state == ThreadState::Runnable) {
    // Leaves the runqueue: the last waiter takes its slot. Every change to
    // RUNNABLE comes through here, so t is in that list at t.wait_slot
    // (checked in the sanitizer and fuzzer builds).
    auto& w = cpus_[t.cpu].waiters;
#ifdef IRQLAT_DEBUG_CHECKS
    if (t.wait_slot >= w.size() || w[t.wait_slot] != &t) std::abort();
#endif
    Thread* last = w.back();
    w[t.wait_slot] = last;
    last->wait_slot = t.wait_slot;
    w.pop_back();
  }
  t.state = s;
  t.cpu = cpu;
  if (s == ThreadState::Running) t.run_start = now;
  if (s == ThreadState::Runnable) {
    Cpu& c = cpu_at(cpu);
    t.wait_slot = static_cast<uint32_t>(c.waiters.size());
    c.waiters.push_back(&t);
    // The first waiter: its holder gets charged from now on, so its name is
    // kept. With waiters already there, set_holder() kept it.
    if (t.wait_slot == 0) note_holder_name(c);
  } else {
    t.woken = false;
  }
}

// A new task holds the CPU: book the waiters' time so far to the old holder.
IRQLAT_HOT void Timeline::change_holder(Cpu& c, int tid, uint64_t now) {
  const uint32_t old_holder = c.holder_idx;
  for (Thread* w : c.waiters) book_runnable(*w, now, old_holder);
  c.holder = tid;
  c.holder_idx = holder_index(tid);
  c.noted = nullptr;
}

void Timeline::set_holder(int cpu, int tid, int pid, std::string_view comm, uint64_t now) {
  Cpu& c = cpu_at(cpu);
  if (c.holder != tid) change_holder(c, tid, now);
  c.holder_pid = pid;
  c.comm.fill(0);
  std::memcpy(c.comm.data(), comm.data(), std::min(comm.size(), c.comm.size()));
  if (!c.waiters.empty()) note_holder_name(c);
}

IRQLAT_HOT void Timeline::set_holder(int cpu, int tid, int pid, const char* comm16, uint64_t now) {
  Cpu& c = cpu_at(cpu);
  if (c.holder != tid) change_holder(c, tid, now);
  c.holder_pid = pid;
  copy_comm16(c.comm.data(), comm16);
  if (!c.waiters.empty()) note_holder_name(c);
}

// Remember names only of holders that get charged: not every task switched in.
IRQLAT_HOT void Timeline::note_holder_name(Cpu& c) {
  if (c.holder < 0) return;
  if (!c.noted) {
    HolderName*& at = holder_name_at_[c.holder_idx];
    if (!at) at = &holder_names_[c.holder];
    c.noted = at;
  }
  copy_comm16(c.noted->comm.data(), c.comm.data());
  c.noted->pid = c.holder_pid;
}

void Timeline::index_add(int pid, int tid) { by_pid_[pid].push_back(tid); }

void Timeline::index_remove(int pid, int tid) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return;
  auto& v = it->second;
  v.erase(std::remove(v.begin(), v.end(), tid), v.end());
  if (v.empty()) by_pid_.erase(it);
}

void Timeline::retire(int tid, uint64_t now, bool detached) {
  Thread* t = find(tid);
  if (!t) return;
  set_state(*t, ThreadState::Unknown, -1, now);  // books, leaves any runqueue
  ThreadRow row = make_row(*t, now);
  row.exited = !detached;
  row.detached = detached;
  exited_rows_.push_back(std::move(row));
  index_remove(t->pid, tid);
  if (find_cache_.at(tid).tid == tid) find_cache_.at(tid) = {};
  threads_.erase(tid);
}

void Timeline::set_comm(int tid, int pid, std::string comm, uint64_t now) {
  ensure(tid, pid, now).comm = std::move(comm);
}

void Timeline::touch(int tid, int pid, uint64_t now) {
  if (!ignored(tid)) ensure(tid, pid, now);
}

void Timeline::on_switch(const ev_switch& e, uint64_t now) {
  const int cpu = e.h.cpu;
  set_holder(cpu, static_cast<int>(e.next_tid), static_cast<int>(e.next_pid), e.next_comm, now);
  // An exited task's final switch-out ends its dead period.
  const bool final_switch = !dead_.empty() && dead_.erase(static_cast<int>(e.h.tid)) > 0;
  if (e.prev_target && e.h.tid != 0 && !final_switch) {
    Thread& t = ensure(static_cast<int>(e.h.tid), static_cast<int>(e.prev_pid), now);
    if (e.prev_runnable) {
      t.preemptions++;
      set_state(t, ThreadState::Runnable, cpu, now);
      t.woken = false;  // its wait is runqueue time, not a wakeup latency
    } else {
      set_state(t, ThreadState::Blocked, -1, now);
    }
  }
  if (e.next_target && e.next_tid != 0) {
    if (!dead_.empty()) dead_.erase(static_cast<int>(e.next_tid));  // running again: a reused tid
    Thread& t = ensure(static_cast<int>(e.next_tid), static_cast<int>(e.next_pid), now);
    if (t.comm.empty()) t.comm = comm_view(e.next_comm);
    if (t.state == ThreadState::Runnable && t.woken) t.sched.add(now - t.wake_ts);
    set_state(t, ThreadState::Running, cpu, now);
  }
}

void Timeline::on_waking(const ev_wake& e, uint64_t now) {
  if (ignored(static_cast<int>(e.h.tid))) return;
  Thread& t = ensure(static_cast<int>(e.h.tid), static_cast<int>(e.pid), now);
  const int cpu = valid_cpu(e.target_cpu) ? e.target_cpu : e.h.cpu;
  // Never seen blocking (asleep since before tracing), but the kernel says
  // it was asleep: a wakeup all the same.
  if (t.state == ThreadState::Blocked ||
      (t.state == ThreadState::Unknown && (e.h.flags & EV_F_WAS_BLOCKED))) {
    t.wakeups++;
    set_state(t, ThreadState::Runnable, cpu, now);
    t.woken = true;
    t.wake_ts = now;
  } else if (t.state == ThreadState::Unknown) {
    // Runnable from now, but we never saw it block: not a wakeup sample.
    set_state(t, ThreadState::Runnable, cpu, now);
  }
  // RUNNING or RUNNABLE: woken before it slept; nothing changes.
}

void Timeline::on_wakeup_new(const ev_wake& e, uint64_t now) {
  if (ignored(static_cast<int>(e.h.tid))) return;
  Thread& t = ensure(static_cast<int>(e.h.tid), static_cast<int>(e.pid), now);
  const int cpu = valid_cpu(e.target_cpu) ? e.target_cpu : e.h.cpu;
  if (t.state == ThreadState::Unknown || t.state == ThreadState::Blocked)
    set_state(t, ThreadState::Runnable, cpu, now);
}

void Timeline::on_migrate(const ev_migrate& e, uint64_t now) {
  if (ignored(static_cast<int>(e.h.tid))) return;
  Thread& t = ensure(static_cast<int>(e.h.tid), static_cast<int>(e.pid), now);
  if (t.state == ThreadState::Runnable && valid_cpu(e.dest_cpu) && e.dest_cpu != t.cpu)
    set_state(t, ThreadState::Runnable, e.dest_cpu, now);  // keeps woken/wake_ts
}

void Timeline::on_fork(const ev_task& e, uint64_t now) {
  const int tid = static_cast<int>(e.h.tid);
  if (tid <= 0) return;
  dead_.erase(tid);
  if (find(tid)) retire(tid, now);  // a stale thread with a reused tid
  ensure(tid, static_cast<int>(e.pid), now).comm = comm_view(e.comm);
}

void Timeline::on_exec(const ev_task& e, uint64_t now) {
  const int tid = static_cast<int>(e.h.tid), old_tid = static_cast<int>(e.parent_tid);
  if (old_tid > 0 && old_tid != tid && tid > 0) {
    // A thread other than the leader exec'd and took the process id as its
    // tid (the leader exited first). Its row ends under the old tid, as the
    // kernel-accounted one does, and it goes on under the new one: RUNNING
    // here, since it is the one calling exec.
    if (find(old_tid)) retire(old_tid, now);
    dead_.erase(tid);
    if (find(tid)) retire(tid, now);  // the leader's row, if its exit was missed
    ensure(tid, static_cast<int>(e.pid), now).comm = comm_view(e.comm);
    on_self(tid, static_cast<int>(e.pid), e.h.cpu, now);
    return;
  }
  if (ignored(tid)) return;
  ensure(tid, static_cast<int>(e.pid), now).comm = comm_view(e.comm);
}

void Timeline::on_exit(const ev_task& e, uint64_t now) {
  const int tid = static_cast<int>(e.h.tid), pid = static_cast<int>(e.pid);
  if (ignored(tid)) return;  // e.g. reported twice
  Thread& t = ensure(tid, pid, now);
  if (t.comm.empty()) t.comm = comm_view(e.comm);
  retire(tid, now);
  dead_.insert(tid);
  if (e.h.flags & EV_F_GROUP_DEAD) {
    if (const auto* rest = threads_of(pid)) {
      const std::vector<int> tids = *rest;  // retire() edits the index
      for (int other : tids) retire(other, now);
    }
  }
}

void Timeline::detach_process(int pid, uint64_t now) {
  const std::vector<int>* live = threads_of(pid);
  if (!live) return;
  const std::vector<int> tids = *live;  // retire() edits the index
  for (int tid : tids) {
    retire(tid, now, true);
    dead_.insert(tid);  // records still in flight must not revive it
  }
}

std::optional<IrqCharge> Timeline::on_irq(const ev_irq& e, uint64_t now) {
  if (ignored(static_cast<int>(e.h.tid))) {
    irq_ignored_++;
    return std::nullopt;
  }
  Thread& t = ensure(static_cast<int>(e.h.tid), static_cast<int>(e.pid), now);
  const int cpu = e.h.cpu;
  const bool hard = e.kind == IRQ_KIND_HARDIRQ || e.kind == IRQ_KIND_VECTOR;
  const bool soft = e.kind == IRQ_KIND_SOFTIRQ;
  if (t.state != ThreadState::Running || t.cpu != cpu || !(hard || soft)) {
    irq_ignored_++;
    if (t.state == ThreadState::Unknown && (hard || soft)) {
      // The kernel saw it on this CPU: it is RUNNING from now on. Its earlier
      // time stays unknown, so this interrupt cannot be charged.
      set_state(t, ThreadState::Running, cpu, now);
      set_holder(cpu, t.tid, t.pid, t.comm, now);
    }
    return std::nullopt;
  }
  IrqCharge c;
  c.tid = t.tid;
  c.pid = t.pid;
  c.cpu = cpu;
  c.key = irq_key(e.kind, e.id);
  // An interrupt cannot straddle a context switch; clipping to the RUNNING
  // interval only guards against a state machine that started late.
  c.from = std::max<uint64_t>(e.start_ts, t.run_start);
  c.until = now;
  c.ns = std::min<uint64_t>(e.net_ns, now > c.from ? now - c.from : 0);
  if (hard) {
    t.hardirq_ns += c.ns;
    t.totals.hardirq_ns += c.ns;
  } else {
    t.softirq_ns += c.ns;
    t.totals.softirq_ns += c.ns;
  }
  c.idx = irq_index(e.kind, e.id);
  add_at(t.totals.irq_by, c.idx, c.ns);
  return c;
}

void Timeline::on_self(int tid, int pid, int cpu, uint64_t now) {
  if (ignored(static_cast<int>(tid))) return;
  Thread& t = ensure(tid, pid, now);
  if (t.state == ThreadState::Unknown) {
    set_state(t, ThreadState::Running, cpu, now);
    set_holder(cpu, t.tid, t.pid, t.comm, now);
  }
}

bool Timeline::totals_at(int tid, uint64_t now, ThreadTotals& out) const {
  auto it = threads_.find(tid);
  if (it == threads_.end()) return false;
  const Thread& t = it->second;
  out = t.totals;  // reuses out's vectors when they are big enough
  if (now > t.since) {
    const uint64_t dt = now - t.since;
    if (t.state == ThreadState::Running) {
      out.running_ns += dt;
    } else if (t.state == ThreadState::Runnable) {
      out.runqueue_ns += dt;
      add_at(out.preempt_by, cpus_[t.cpu].holder_idx, dt);
    }
  }
  return true;
}

const std::vector<int>* Timeline::threads_of(int pid) const {
  auto it = by_pid_.find(pid);
  return it == by_pid_.end() ? nullptr : &it->second;
}

std::string Timeline::holder_comm(int tid) const {
  if (tid == 0) return "swapper/idle";  // per-CPU idle tasks all have tid 0
  if (tid == kUnknownHolder) return "[unknown]";
  if (auto it = holder_names_.find(tid); it != holder_names_.end())
    return std::string(comm_view(it->second.comm.data()));
  if (auto it = threads_.find(tid); it != threads_.end()) return it->second.comm;
  return "?";
}

int Timeline::holder_pid(int tid) const {
  if (tid <= 0) return tid;  // idle: 0; unknown: -1
  if (auto it = holder_names_.find(tid); it != holder_names_.end() && it->second.pid >= 0) return it->second.pid;
  if (auto it = threads_.find(tid); it != threads_.end()) return it->second.pid;
  return -1;
}

ThreadRow Timeline::make_row(const Thread& t, uint64_t now) {
  ThreadRow r;
  r.pid = t.pid;
  r.tid = t.tid;
  r.comm = t.comm;
  r.wakeups = t.wakeups;
  r.sched_p50_ns = t.sched.percentile(50);
  r.sched_p99_ns = t.sched.percentile(99);
  r.sched_max_ns = t.sched.max();
  r.sched = t.sched;
  r.preemptions = t.preemptions;
  r.oncpu_ns = t.oncpu_ns;
  r.runqueue_ns = t.runqueue_ns;
  r.hardirq_ns = t.hardirq_ns;
  r.softirq_ns = t.softirq_ns;
  if (now > t.since) {  // the current state, not booked yet
    if (t.state == ThreadState::Running) r.oncpu_ns += now - t.since;
    if (t.state == ThreadState::Runnable) r.runqueue_ns += now - t.since;
  }
  return r;
}

std::vector<ThreadRow> Timeline::rows(uint64_t now) const {
  std::vector<ThreadRow> out;
  out.reserve(threads_.size() + exited_rows_.size());
  for (const auto& [tid, t] : threads_) out.push_back(make_row(t, now));
  out.insert(out.end(), exited_rows_.begin(), exited_rows_.end());
  std::sort(out.begin(), out.end(), [](const ThreadRow& a, const ThreadRow& b) {
    return std::tie(a.pid, a.tid, a.exited) < std::tie(b.pid, b.tid, b.exited);
  });
  return out;
}

void Timeline::account_all(uint64_t now) {
  for (auto& [tid, t] : threads_) book(t, now);
}

void Timeline::reset_tables(uint64_t now) {
  for (auto& [tid, t] : threads_) {
    book(t, now);
    t.wakeups = t.preemptions = 0;
    t.oncpu_ns = t.runqueue_ns = t.hardirq_ns = t.softirq_ns = 0;
    t.sched.clear();
  }
  exited_rows_.clear();
}

}  // namespace irqlat
