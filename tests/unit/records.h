// Builders of synthetic ring-buffer records (bpf/irqlat.h structs) for the
// collector tests, and a feeder. Timestamps are plain nanoseconds.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bpf/irqlat.h"

namespace irqlat::test {

// One record as bytes, as the ring buffer would hand it over.
struct Rec {
  std::array<unsigned char, IRQLAT_MAX_RECORD> bytes{};
  size_t size = 0;
  uint64_t ts() const {
    struct ev_hdr h;
    std::memcpy(&h, bytes.data(), sizeof(h));
    return h.ts;
  }
  int cpu() const {
    struct ev_hdr h;
    std::memcpy(&h, bytes.data(), sizeof(h));
    return h.cpu;
  }
};

// A task in a switch record.
struct Task {
  int tid = 0;
  int pid = 0;
  const char* comm = "";
  bool target = false;
};
inline Task idle(int cpu) { return {0, 0, cpu == 0 ? "swapper/0" : "swapper/1", false}; }

template <class T>
Rec to_rec(const T& e) {
  static_assert(sizeof(T) <= IRQLAT_MAX_RECORD);
  Rec r;
  std::memcpy(r.bytes.data(), &e, sizeof(T));
  r.size = sizeof(T);
  return r;
}

inline struct ev_hdr hdr(uint64_t ts, int cpu, int tid, int type, int flags = 0) {
  struct ev_hdr h{};
  h.ts = ts;
  h.tid = static_cast<__u32>(tid);
  h.cpu = static_cast<__u16>(cpu);
  h.type = static_cast<__u8>(type);
  h.flags = static_cast<__u8>(flags);
  return h;
}

inline void set_comm(char* dst, const char* comm) {
  std::memcpy(dst, comm, ::strnlen(comm, IRQLAT_COMM_LEN));  // NUL-padded by {} init
}

// prev leaves cpu (still runnable if preempted), next gets it.
inline Rec sw(uint64_t ts, int cpu, Task prev, Task next, bool prev_runnable = false) {
  struct ev_switch e{};
  e.h = hdr(ts, cpu, prev.tid, EV_SWITCH);
  e.prev_pid = static_cast<__u32>(prev.pid);
  e.next_tid = static_cast<__u32>(next.tid);
  e.next_pid = static_cast<__u32>(next.pid);
  e.prev_runnable = prev_runnable;
  e.prev_target = prev.target;
  e.next_target = next.target;
  set_comm(e.next_comm, next.comm);
  return to_rec(e);
}

inline Rec wake(uint64_t ts, int cpu, int tid, int pid, int target_cpu, int type = EV_WAKING) {
  struct ev_wake e{};
  e.h = hdr(ts, cpu, tid, type);
  e.pid = static_cast<__u32>(pid);
  e.target_cpu = target_cpu;
  return to_rec(e);
}

inline Rec wakeup_new(uint64_t ts, int cpu, int tid, int pid, int target_cpu) {
  return wake(ts, cpu, tid, pid, target_cpu, EV_WAKEUP_NEW);
}

inline Rec migrate(uint64_t ts, int cpu, int tid, int pid, int orig, int dest) {
  struct ev_migrate e{};
  e.h = hdr(ts, cpu, tid, EV_MIGRATE);
  e.pid = static_cast<__u32>(pid);
  e.orig_cpu = orig;
  e.dest_cpu = dest;
  return to_rec(e);
}

inline Rec task(int type, uint64_t ts, int cpu, int tid, int pid, const char* comm, int flags = 0,
                int parent_tid = 0) {
  struct ev_task e{};
  e.h = hdr(ts, cpu, tid, type, flags);
  e.pid = static_cast<__u32>(pid);
  e.parent_tid = static_cast<__u32>(parent_tid);
  set_comm(e.comm, comm);
  return to_rec(e);
}
inline Rec fork_ev(uint64_t ts, int cpu, int child, int pid, const char* comm) {
  return task(EV_FORK, ts, cpu, child, pid, comm);
}
// old_tid: the tid before the exec (bpf/irqlat.h, ev_task::parent_tid).
inline Rec exec_ev(uint64_t ts, int cpu, int tid, int pid, int old_tid, const char* comm) {
  return task(EV_EXEC, ts, cpu, tid, pid, comm, 0, old_tid);
}
inline Rec exit_ev(uint64_t ts, int cpu, int tid, int pid, bool group_dead) {
  return task(EV_EXIT, ts, cpu, tid, pid, "", group_dead ? EV_F_GROUP_DEAD : 0);
}

inline Rec irq(uint64_t ts, int cpu, int tid, int pid, int kind, int id, uint64_t start, uint64_t net) {
  struct ev_irq e{};
  e.h = hdr(ts, cpu, tid, EV_IRQ);
  e.pid = static_cast<__u32>(pid);
  e.id = static_cast<__u32>(id);
  e.start_ts = start;
  e.net_ns = net;
  e.kind = static_cast<__u8>(kind);
  return to_rec(e);
}

inline Rec signal_ev(uint64_t ts, int cpu, int tid, int pid, int sig = 15) {
  struct ev_signal e{};
  e.h = hdr(ts, cpu, tid, EV_SIGNAL);
  e.pid = static_cast<__u32>(pid);
  e.sig = sig;
  return to_rec(e);
}

inline Rec mark(uint64_t ts, int cpu, int tid, int pid, int which) {
  struct ev_mark e{};
  e.h = hdr(ts, cpu, tid, EV_MARK);
  e.pid = static_cast<__u32>(pid);
  e.which = static_cast<__u32>(which);
  return to_rec(e);
}
inline Rec cancel(uint64_t ts, int cpu, int tid, int pid) { return mark(ts, cpu, tid, pid, MARK_CANCEL); }
inline Rec done(uint64_t ts, int cpu, int tid, int pid) { return mark(ts, cpu, tid, pid, MARK_DONE); }

template <class C>
void feed(C& c, const std::vector<Rec>& recs) {
  for (const Rec& r : recs) c.on_record(r.bytes.data(), r.size);
}

}  // namespace irqlat::test
