// Per-thread scheduling timelines of the target threads, built from the
// time-ordered record stream (bpf/irqlat.h). Each thread runs a state machine
//
//   UNKNOWN (before its first event) -> RUNNING on cpu / RUNNABLE on cpu's
//   runqueue / BLOCKED
//
// and accumulates two kinds of counters:
//   - table counters (ThreadRow), zeroed by reset_tables() for --interval;
//   - cumulative ThreadTotals, never reset, which cancellation windows
//     snapshot at the cancel and difference at the done.
// While a target waits on a CPU's runqueue, its waiting time is also charged
// to whichever task holds that CPU (preempted_by); every EV_SWITCH names the
// new holder.
//
// Callers pass `now`: the record time, never decreasing (the collector clamps
// late records), so every interval is well defined.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "bpf/irqlat.h"
#include "histogram.h"
#include "report.h"

namespace irqlat {

// One key for an interrupt source: enum irqlat_irq_kind and its id.
inline uint64_t irq_key(int kind, uint32_t id) { return (static_cast<uint64_t>(kind) << 32) | id; }
inline int irq_key_kind(uint64_t key) { return static_cast<int>(key >> 32); }
inline uint32_t irq_key_id(uint64_t key) { return static_cast<uint32_t>(key); }

// Cumulative time of one thread since it was first seen. BLOCKED and
// UNKNOWN time are not kept: a window derives them as the remainder.
// Interrupt and preemption time are kept by the timeline's dense indices
// (Timeline::irq_key_at, holder_tid_at): a booking is one add, and a
// window's breakdown a difference index by index. A holder index is given to
// every task switched in, so preempt_by is as long as the highest one the
// thread was charged to.
struct ThreadSums {
  uint64_t running_ns = 0;   // RUNNING, interrupts included
  uint64_t runqueue_ns = 0;  // RUNNABLE
  uint64_t hardirq_ns = 0;   // HARDIRQ + VECTOR net time while RUNNING
  uint64_t softirq_ns = 0;   // SOFTIRQ net time while RUNNING
};
struct ThreadTotals : ThreadSums {
  std::vector<uint64_t> irq_by;      // by interrupt index, all three kinds
  std::vector<uint64_t> preempt_by;  // RUNNABLE time by index of the task holding its CPU
};

enum class ThreadState : uint8_t { Unknown, Running, Runnable, Blocked };

// An interrupt charged to a target thread (Timeline::on_irq).
struct IrqCharge {
  int tid = 0;
  int pid = 0;
  int cpu = 0;
  uint64_t key = 0;    // irq_key(kind, id)
  uint64_t from = 0;   // entry time, clipped to the start of the RUNNING interval
  uint64_t until = 0;  // exit time
  uint64_t ns = 0;     // net time charged (<= until - from)
  uint32_t idx = 0;    // the interrupt's index (Timeline::irq_key_at)
};

class Timeline {
 public:
  // Holder tid used while no EV_SWITCH has named a CPU's current task yet.
  static constexpr int kUnknownHolder = -1;

  Timeline() = default;
  // Not copyable: the lookup caches point into its own maps.
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;

  // Known target threads (from /proc at attach): a row even if silent.
  void set_comm(int tid, int pid, std::string comm, uint64_t now);

  void on_switch(const ev_switch& e, uint64_t now);
  void on_waking(const ev_wake& e, uint64_t now);
  void on_wakeup_new(const ev_wake& e, uint64_t now);
  void on_migrate(const ev_migrate& e, uint64_t now);
  void on_fork(const ev_task& e, uint64_t now);
  // A new comm; with a tid change (e.parent_tid, see bpf/irqlat.h) the row
  // of the old tid ends as exited and the thread goes on under the new one.
  void on_exec(const ev_task& e, uint64_t now);
  // The thread's row moves to the exited rows; with EV_F_GROUP_DEAD every
  // remaining thread of the process goes too (their exits were missed).
  // Later records about the tid (its final switch-out) are ignored until a
  // fork reuses it.
  void on_exit(const ev_task& e, uint64_t now);
  // Charges the interrupt to the thread if it is RUNNING on e.h.cpu; else
  // counts it in irq_ignored() (and an UNKNOWN thread is now known RUNNING).
  std::optional<IrqCharge> on_irq(const ev_irq& e, uint64_t now);
  // The process is no longer traced (daemon detach): its live threads'
  // rows move to the retired rows, marked detached.
  void detach_process(int pid, uint64_t now);
  // A record the thread produced itself on `cpu` (uprobe/USDT mark): an
  // UNKNOWN thread is RUNNING there from now on.
  void on_self(int tid, int pid, int cpu, uint64_t now);
  // A record about a target thread that says nothing about its state.
  void touch(int tid, int pid, uint64_t now);

  // Cumulative totals of a live thread as of now (current state included).
  bool totals_at(int tid, uint64_t now, ThreadTotals& out) const;
  // What the indices of ThreadTotals stand for: the interrupt's irq_key(),
  // and the tid of the task that held the CPU (0 idle, kUnknownHolder).
  uint64_t irq_key_at(size_t idx) const { return irq_keys_[idx]; }
  int holder_tid_at(size_t idx) const { return holder_tids_[idx]; }
  // Live threads of a process (nullptr if none).
  const std::vector<int>* threads_of(int pid) const;
  // Name of a task that held a CPU: its comm from the switch record;
  // "swapper/idle" for tid 0, "[unknown]" for kUnknownHolder.
  std::string holder_comm(int tid) const;
  // Its process id (tgid) from the same record; 0 for idle, -1 if unknown.
  int holder_pid(int tid) const;

  // Rows of live threads (time up to now included) and of exited threads.
  std::vector<ThreadRow> rows(uint64_t now) const;
  // Books every thread's current state up to now (end of trace).
  void account_all(uint64_t now);
  // Starts a new table interval at now: zeroes the table counters, drops
  // exited rows; states and cumulative totals are kept.
  void reset_tables(uint64_t now);

  uint64_t irq_ignored() const { return irq_ignored_; }
  size_t live_threads() const { return threads_.size(); }

 private:
  using Comm = std::array<char, IRQLAT_COMM_LEN>;
  // A task charged as a holder: its comm and tgid as last switched in.
  struct HolderName {
    Comm comm{};
    int pid = -1;
  };

  struct Thread {
    int tid = 0;
    int pid = 0;
    std::string comm;
    ThreadState state = ThreadState::Unknown;
    int cpu = -1;            // RUNNING: its CPU; RUNNABLE: runqueue it waits on
    uint32_t wait_slot = 0;  // RUNNABLE: its index in that runqueue's waiters
    uint64_t since = 0;      // time booked up to
    uint64_t run_start = 0;  // start of the current RUNNING interval
    uint64_t wake_ts = 0;    // RUNNABLE after a wakeup: the waking time
    bool woken = false;
    // Table counters (reset_tables).
    uint64_t wakeups = 0, preemptions = 0;
    uint64_t oncpu_ns = 0, runqueue_ns = 0, hardirq_ns = 0, softirq_ns = 0;
    Histogram sched;
    ThreadTotals totals;  // never reset
  };

  // 64 bytes: a CPU's index is a shift, not a multiply (3 lookups per switch).
  struct alignas(64) Cpu {
    int holder = kUnknownHolder;  // tid of the task on this CPU
    uint32_t holder_idx = 0;      // holder_index(holder)
    Comm comm{};
    int holder_pid = -1;          // its tgid
    // Target threads RUNNABLE on this runqueue (nodes of threads_: a thread
    // leaves the runqueue before it is erased).
    std::vector<Thread*> waiters;
    // holder_names_[holder] as this CPU last wrote it (nodes are never
    // erased, so the address stays valid); nullptr after the holder changed.
    HolderName* noted = nullptr;
  };

  // Recently looked-up threads, by tid modulo kFindCache: most records are
  // about a few busy threads, and a hash lookup per record shows in profiles.
  // Node addresses in threads_ are stable until erase, which clears the
  // entry.
  static constexpr size_t kFindCache = 64;
  struct FindCache {
    struct Entry {
      int tid = 0;
      Thread* t = nullptr;
    };
    std::array<Entry, kFindCache> e{};
    Entry& at(int tid) { return e[static_cast<unsigned>(tid) % kFindCache]; }
  };

  // The thread's record, created (or restarted for a reused tid) if need be.
  // The hit is inlined: most records are about known threads.
  Thread& ensure(int tid, int pid, uint64_t now) {
    Thread* t = find(tid);
    if (t && (pid == 0 || t->pid == pid)) [[likely]]
      return *t;
    return ensure_slow(tid, pid, now);
  }
  Thread& ensure_slow(int tid, int pid, uint64_t now);
  Thread* find(int tid) {
    FindCache::Entry& c = find_cache_.at(tid);
    if (c.t && c.tid == tid) return c.t;
    return find_slow(tid);
  }
  Thread* find_slow(int tid);
  // Dense indices of holder tids and interrupt keys, in first-seen order.
  uint32_t holder_index(int tid) {
    HolderCacheEntry& c = holder_cache_[static_cast<unsigned>(tid) % holder_cache_.size()];
    if (c.idx != UINT32_MAX && c.tid == tid) return c.idx;
    return holder_index_slow(tid);
  }
  uint32_t holder_index_slow(int tid);
  // Interrupt keys of the three kinds with ids below kIrqDirect (every
  // softirq and vector, and device IRQs up to 1023, MSI-X included on most
  // hosts) by a table lookup; the rest through irq_idx_.
  uint32_t irq_index(int kind, uint32_t id) {
    if (const uint32_t* d = irq_direct(kind, id); d && *d) [[likely]]
      return *d - 1;
    return irq_index_slow(kind, id);
  }
  uint32_t irq_index_slow(int kind, uint32_t id);
  // The key's direct table entry (1 + index, 0: not seen yet), or nullptr
  // past the table.
  uint32_t* irq_direct(int kind, uint32_t id) {
    if (static_cast<unsigned>(kind) >= 3 || id >= kIrqDirect) return nullptr;
    return &irq_direct_[static_cast<unsigned>(kind) * kIrqDirect + id];
  }
  bool is_dead(int tid) const { return !dead_.empty() && dead_.count(tid); }
  // Records about these tids change no timeline: the idle tasks (tid 0, one
  // per CPU) are never targets, dead ones are gone.
  bool ignored(int tid) const { return tid <= 0 || is_dead(tid); }
  Cpu& cpu_at(int cpu) {
    if (static_cast<size_t>(cpu) >= cpus_.size()) grow_cpus(cpu);
    return cpus_[cpu];
  }
  void grow_cpus(int cpu);
  void book(Thread& t, uint64_t now);
  void book_runnable(Thread& t, uint64_t now, uint32_t holder_idx);
  void set_state(Thread& t, ThreadState s, int cpu, uint64_t now);
  void set_holder(int cpu, int tid, int pid, std::string_view comm, uint64_t now);
  // The same with the record's comm field (IRQLAT_COMM_LEN bytes, NUL-padded
  // or not terminated).
  void set_holder(int cpu, int tid, int pid, const char* comm16, uint64_t now);
  void change_holder(Cpu& c, int tid, uint64_t now);
  void note_holder_name(Cpu& c);
  void retire(int tid, uint64_t now, bool detached = false);
  void index_add(int pid, int tid);
  void index_remove(int pid, int tid);
  static ThreadRow make_row(const Thread& t, uint64_t now);

  std::unordered_map<int, Thread> threads_;
  std::unordered_map<int, std::vector<int>> by_pid_;
  std::vector<Cpu> cpus_;
  std::unordered_map<int, HolderName> holder_names_;  // tids ever charged as holders (never erased)
  std::unordered_map<int, uint32_t> holder_idx_;  // holder tid -> index into holder_tids_
  std::vector<int> holder_tids_;
  std::vector<HolderName*> holder_name_at_;  // by holder index: its holder_names_ node, once noted
  struct HolderCacheEntry {
    int tid = 0;
    uint32_t idx = UINT32_MAX;
  };
  std::array<HolderCacheEntry, 64> holder_cache_{};
  std::unordered_map<uint64_t, uint32_t> irq_idx_;  // irq_key -> index into irq_keys_
  std::vector<uint64_t> irq_keys_;
  static constexpr uint32_t kIrqDirect = 1024;
  std::array<uint32_t, 3 * kIrqDirect> irq_direct_{};  // 1 + irq_index, 0: not seen yet
  FindCache find_cache_;
  std::vector<ThreadRow> exited_rows_;
  // Tids that exited and have not made their final switch-out yet: records
  // about them (that switch, a last interrupt) must not revive the thread.
  // EV_FORK of the tid starts a new thread.
  std::unordered_set<int> dead_;
  uint64_t irq_ignored_ = 0;
};

}  // namespace irqlat
