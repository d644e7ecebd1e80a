// The daemon's state and verbs: one tracing Session loaded once, targets
// attached and detached at run time, tables dumped, status and metrics.
// Control requests arrive as lines (control_protocol.h); everything runs on
// the daemon's one loop thread (daemon_cmd.cpp), so nothing here locks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "user/control_protocol.h"
#include "user/control_server.h"
#include "user/daemon_status.h"
#include "user/options.h"
#include "user/session.h"

namespace irqlat {

class Daemon {
 public:
  // Loads the programs (throws LoaderError/UsageError); nothing attached yet.
  explicit Daemon(const Options& opts);
  ~Daemon();

  // Attaches the tracepoints and opens the counted interval.
  void start();
  // Drains the ring buffer (waiting up to timeout_ms), notices targets that
  // exited or whose PID now belongs to another process.
  void tick(int timeout_ms);
  // Closes the counted interval; with final = true also drains what is left
  // and closes open windows (for a last dump).
  void stop(bool final);

  // Detaches every program (the daemon is exiting).
  void detach() { session_->loader().detach(); }

  // One control request line -> one reply line ('\n' included).
  std::string handle(const std::string& line);

  // The tables as text; reset: then zeroed (dump --reset).
  std::string dump(OutputFormat format, int top, bool reset = false);
  std::string metrics();  // /metrics body
  DaemonStatus status() const;

  void set_control(const ControlServer* server) { control_ = server; }
  void set_abort(std::function<bool()> abort) { session_->loader().set_abort(std::move(abort)); }
  void count_scrape() { scrapes_++; }
  int ring_fd() const;  // readable when the ring buffer has a forced wakeup
  size_t attached_count() const;

 private:
  struct Target {
    DaemonTarget info;
    AttachedProcess attached;
  };
  nlohmann::json attach(const ControlRequest& r);
  nlohmann::json detach(int pid);
  void reset();
  void forget_gone_targets();  // after a reset
  Target* attached_target(int pid);
  void end_target(Target& t, const char* state);

  Options opts_;
  std::unique_ptr<Session> session_;
  std::vector<Target> targets_;  // every target ever attached, in order
  const ControlServer* control_ = nullptr;
  uint64_t start_ns_ = 0;
  double start_unix_s_ = 0;
  int stats_fd_ = -1;  // holds kernel BPF run-time statistics on
  uint64_t scrapes_ = 0;
  uint64_t bad_requests_ = 0;
  uint64_t last_check_ns_ = 0;
};

}  // namespace irqlat
