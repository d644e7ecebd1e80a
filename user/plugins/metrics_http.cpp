// The metrics plugin (irqlat-metrics.so): MetricsServer over cpp-httplib.
// Built and linked apart from irqlat (see metrics_server.h for why).
#include "user/metrics_server.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <httplib.h>

namespace irqlat {
namespace {

constexpr auto kRenderTimeout = std::chrono::seconds(5);

class HttpMetricsServer final : public MetricsServer {
 public:
  explicit HttpMetricsServer(const std::string& addr);
  ~HttpMetricsServer() override;
  HttpMetricsServer(const HttpMetricsServer&) = delete;
  HttpMetricsServer& operator=(const HttpMetricsServer&) = delete;

  void start() override;
  int fd() const override { return event_fd_; }
  void serve_pending(const std::function<std::string()>& render) override;
  void shutdown() override;

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int event_fd_ = -1;
  std::mutex mu_;
  std::vector<std::promise<std::string>> pending_;
  bool stopping_ = false;
};

HttpMetricsServer::HttpMetricsServer(const std::string& addr) {
  const size_t colon = addr.rfind(':');
  std::string host = addr.substr(0, colon);
  const int port = std::stoi(addr.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";

  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  server_ = std::make_unique<httplib::Server>();
  // SO_REUSEADDR only: cpp-httplib's default sets SO_REUSEPORT, which lets
  // a second daemon bind the same port and take part of the scrapes.
  server_->set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // One request per connection and short timeouts: a scraper needs no more,
  // and a slow client holds a worker thread only briefly.
  server_->set_keep_alive_max_count(1);
  server_->set_read_timeout(2, 0);
  server_->set_write_timeout(2, 0);
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::future<std::string> body;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        res.status = 503;
        return;
      }
      pending_.emplace_back();
      body = pending_.back().get_future();
    }
    const uint64_t one = 1;
    (void)!write(event_fd_, &one, sizeof(one));
    if (body.wait_for(kRenderTimeout) != std::future_status::ready) {
      res.status = 503;
      return;
    }
    std::string text = body.get();
    if (text.empty()) {
      res.status = 503;
      return;
    }
    res.set_content(std::move(text), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("irqlat daemon: metrics at /metrics\n", "text/plain");
  });
  if (!server_->bind_to_port(host.c_str(), port)) {
    const int err = errno;
    close(event_fd_);
    throw std::runtime_error("cannot serve metrics on " + addr + ": " +
                             (err ? std::strerror(err) : "bind failed"));
  }
}

void HttpMetricsServer::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

HttpMetricsServer::~HttpMetricsServer() {
  shutdown();
  // Released on purpose: a worker may still be blocked on a slow client,
  // and the daemon exits right after.
  if (thread_.joinable()) thread_.detach();
  (void)server_.release();
}

void HttpMetricsServer::serve_pending(const std::function<std::string()>& render) {
  uint64_t n;
  (void)!read(event_fd_, &n, sizeof(n));
  std::vector<std::promise<std::string>> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    todo.swap(pending_);
  }
  if (todo.empty()) return;
  const std::string body = render();  // one render serves every waiting scrape
  for (auto& p : todo) p.set_value(body);
}

void HttpMetricsServer::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& p : pending_) p.set_value("");
    pending_.clear();
  }
  if (server_) server_->stop();
}

}  // namespace
}  // namespace irqlat

extern "C" __attribute__((visibility("default"))) const char IRQLAT_METRICS_ABI_SYMBOL[] = IRQLAT_METRICS_ABI;

extern "C" __attribute__((visibility("default"))) irqlat::MetricsServer* IRQLAT_METRICS_ENTRY(
    const std::string& addr) {
  return new irqlat::HttpMetricsServer(addr);
}
