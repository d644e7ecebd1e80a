// /metrics over HTTP (cpp-httplib), for Prometheus. The HTTP threads never
// touch the daemon's state: a scrape posts a request to the daemon's loop
// (which watches fd()) and waits for the body it renders there.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace irqlat {

class MetricsServer {
 public:
  // addr is "HOST:PORT" ("[::1]:9100", "127.0.0.1:9100", ":9100" = every
  // address). Binds now (a port below 1024 needs the privileges the daemon
  // drops later); throws std::runtime_error when it cannot. No thread runs
  // until start().
  explicit MetricsServer(const std::string& addr);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Starts the HTTP threads. The daemon calls it after its capability drop:
  // capabilities are per thread, and threads created later inherit the
  // reduced sets and no_new_privs.
  void start();

  int fd() const { return event_fd_; }  // readable when scrapes wait
  // On the daemon's loop: answers every waiting scrape with render().
  void serve_pending(const std::function<std::string()>& render);
  // Stops listening and fails waiting scrapes. Does not wait for HTTP
  // threads stuck on slow clients: the process is about to exit.
  void shutdown();

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int event_fd_ = -1;
  std::mutex mu_;
  std::vector<std::promise<std::string>> pending_;
  bool stopping_ = false;
};

}  // namespace irqlat
