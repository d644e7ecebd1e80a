// What the daemon reports about itself: `irqlat ctl status` (as JSON) and the
// self-metrics of /metrics. Plain values, filled by the daemon's main loop.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loader/loader.h"

namespace irqlat {

// One process the daemon was told to attach. A pid reused by a new process
// is a new DaemonTarget (told apart by start_time).
struct DaemonTarget {
  int pid = 0;
  std::string comm;
  std::string exe;
  std::string state;  // "attached", "detached" or "exited"
  unsigned long long start_time = 0;  // /proc/PID/stat starttime (clock ticks since boot)
  std::string cancel_spec, done_spec;  // empty: no cancellation windows
  uint64_t attached_ns = 0;  // CLOCK_MONOTONIC
  uint64_t ended_ns = 0;     // detached or exited at (0 while attached)
};

struct DaemonStatus {
  int pid = 0;
  std::string version;
  std::string attach_mode;     // "tp_btf" or "raw_tp"
  uint64_t start_ns = 0;       // CLOCK_MONOTONIC
  uint64_t now_ns = 0;         // CLOCK_MONOTONIC
  double start_unix_s = 0;     // wall clock, for process_start_time_seconds
  uint64_t received = 0;       // ring-buffer records consumed
  uint64_t dropped = 0;        // ring-buffer reservations that failed
  uint64_t late = 0;           // records older than what was already released
  uint64_t missed = 0;         // BPF program runs the kernel skipped
  uint64_t kernel_irq_events = 0;  // interrupts aggregated in the kernel (metrics only)
  uint64_t rss_bytes = 0;
  double cpu_user_s = 0, cpu_system_s = 0;  // the daemon's own CPU time
  bool bpf_stats = false;  // kernel BPF run-time statistics are on
  std::vector<ProgStats> programs;
  std::vector<DaemonTarget> targets;
  uint64_t clients = 0;       // control clients connected now
  uint64_t requests = 0;      // control requests answered
  uint64_t bad_requests = 0;  // of which errors
  uint64_t scrapes = 0;       // /metrics requests served
};

// One target as the control protocol shows it (attach/detach replies, dump,
// status).
nlohmann::json target_json(const DaemonTarget& t);

// The "status" object of the control protocol (docs/daemon.md).
nlohmann::json status_json(const DaemonStatus& s);

}  // namespace irqlat
