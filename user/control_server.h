// The daemon's Unix control socket: accepts clients, frames requests by
// line, hands each complete line to a handler and writes its reply. Hostile
// clients cannot grow memory or stall others: lines are capped, a client's
// next request is read only after its reply is written, idle clients are
// closed, and the number of clients is capped (the rest get an error reply).
//
// Single-threaded: the daemon's loop watches fd() and calls service().
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>

namespace irqlat {

struct ControlLimits {
  size_t max_line = 64 * 1024;      // longer requests: error reply, then closed
  size_t max_clients = 1024;        // more: error reply, then closed
  uint64_t idle_ns = 10'000'000'000;  // no complete request for this long: closed
  // Requests answered per service() call, one per client in turn: a client
  // that pipelines many requests waits for the next call, so the daemon's
  // loop (ring buffer, signals) runs in between and others get their turn.
  size_t requests_per_service = 16;
  size_t accepts_per_service = 64;  // the rest of the backlog waits a call
};

struct ControlStats {
  uint64_t accepted = 0, refused = 0, requests = 0, too_long = 0, idle_closed = 0, not_root = 0;
};

class ControlServer {
 public:
  // request line (no '\n') -> reply line ('\n' included).
  using Handler = std::function<std::string(const std::string& line)>;

  // Creates the socket at path with mode 0600 (root only), replacing a stale
  // socket file but refusing when a daemon answers there. Throws
  // std::runtime_error with a one-line message.
  ControlServer(std::string path, Handler handler, ControlLimits limits = {});
  ~ControlServer();  // closes every client, removes the socket file
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  int fd() const { return epfd_; }  // readable when service() has new work
  // Accepts, reads, answers and closes what can be done without blocking,
  // within the per-call budgets of ControlLimits; also closes idle clients.
  // Stops early, before the next request, once abort() (set_abort) returns
  // true. now_ns: CLOCK_MONOTONIC.
  void service(uint64_t now_ns);
  // True while requests already read wait for a later service() call (fd()
  // may not be readable for them: call service() again without waiting).
  bool backlog() const { return !ready_.empty(); }
  // Checked before each request is answered (the daemon: "is a stop signal
  // pending?"), so that a stop never waits behind pipelined requests.
  void set_abort(std::function<bool()> abort) { abort_ = std::move(abort); }
  // Closes every client and the listening socket, removes the file.
  void close_all();

  size_t clients() const { return clients_.size(); }
  const ControlStats& stats() const { return stats_; }
  const std::string& path() const { return path_; }

 private:
  struct Client {
    std::string in, out;
    uint64_t last_ns = 0;
    bool closing = false;  // close once `out` is written and `in` answered
    bool queued = false;   // in ready_
  };
  bool aborted() const { return abort_ && abort_(); }
  void accept_some(uint64_t now_ns);
  void on_readable(int fd, Client& c);
  // Sends what it can of `out`; false if the client was dropped.
  bool flush(int fd, Client& c);
  // After any change: queues the client if a request can be answered, closes
  // it if it is done, else waits for the right epoll event.
  void settle(int fd, Client& c);
  // Answers the client's next complete line (or refuses a too-long one).
  void answer(int fd, Client& c, uint64_t now_ns);
  bool has_request(const Client& c) const;
  void update_events(int fd, const Client& c);
  void drop(int fd);

  std::string path_;
  Handler handler_;
  ControlLimits limits_;
  int listen_fd_ = -1;
  int epfd_ = -1;
  std::unordered_map<int, Client> clients_;
  std::deque<int> ready_;  // clients with a request to answer, in turn order
  std::function<bool()> abort_;
  ControlStats stats_;
  uint64_t last_sweep_ns_ = 0;
};

}  // namespace irqlat
