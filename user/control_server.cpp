// See control_server.h.
#include "user/control_server.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "user/control_protocol.h"

namespace irqlat {
namespace {

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

sockaddr_un address_of(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof(a.sun_path))
    throw std::runtime_error("control socket path '" + path + "' is too long");
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

// A socket file left by a daemon that died is replaced; a live daemon, or a
// file that is not a socket, is not touched.
void clear_stale(const std::string& path, const sockaddr_un& addr) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode))
    throw std::runtime_error("'" + path + "' exists and is not a socket; not replacing it");
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) throw sys_error("socket");
  const bool live = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(probe);
  if (live) throw std::runtime_error("another irqlat daemon is listening on " + path);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) throw sys_error("cannot remove stale " + path);
}

// Best effort, for a client that is being turned away.
void send_now(int fd, const std::string& s) { (void)!send(fd, s.data(), s.size(), MSG_NOSIGNAL | MSG_DONTWAIT); }

}  // namespace

ControlServer::ControlServer(std::string path, Handler handler, ControlLimits limits)
    : path_(std::move(path)), handler_(std::move(handler)), limits_(limits) {
  const sockaddr_un addr = address_of(path_);
  clear_stale(path_, addr);
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw sys_error("socket");
  // Created 0600 from the start (no window where others could connect).
  const mode_t old = umask(0177);
  const int rc = bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  umask(old);
  if (rc != 0) {
    const auto e = sys_error("cannot create control socket " + path_);
    close(listen_fd_);
    throw e;
  }
  if (chmod(path_.c_str(), 0600) != 0 || listen(listen_fd_, 1024) != 0) {
    const auto e = sys_error("cannot listen on " + path_);
    close_all();
    throw e;
  }
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  if (epfd_ < 0 || epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) {
    const auto e = sys_error("epoll");
    close_all();
    throw e;
  }
}

ControlServer::~ControlServer() { close_all(); }

void ControlServer::close_all() {
  for (auto& [fd, c] : clients_) close(fd);
  clients_.clear();
  ready_.clear();
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    unlink(path_.c_str());
  }
  if (epfd_ >= 0) {
    close(epfd_);
    epfd_ = -1;
  }
}

void ControlServer::service(uint64_t now_ns) {
  if (epfd_ < 0) return;
  // I/O first: accepts, writes of pending replies, reads. Cheap and bounded
  // (one batch of events); no request is answered here.
  epoll_event evs[64];
  const int n = epoll_wait(epfd_, evs, 64, 0);
  for (int i = 0; i < n; i++) {
    const int fd = evs[i].data.fd;
    if (fd == listen_fd_) {
      accept_some(now_ns);
      continue;
    }
    auto it = clients_.find(fd);
    if (it == clients_.end()) continue;
    Client& c = it->second;
    const uint32_t e = evs[i].events;
    if (!c.out.empty() && (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && !flush(fd, c)) continue;
    // Read only when nothing waits to be answered or written: one request
    // in flight per client, the rest stays in the kernel.
    if (c.out.empty() && !c.queued && (e & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(fd, c);
    settle(fd, c);
  }
  // Then the requests, one per client in turn, within the budget, and never
  // past a pending stop.
  for (size_t budget = limits_.requests_per_service; budget > 0 && !ready_.empty(); budget--) {
    if (aborted()) break;
    const int fd = ready_.front();
    ready_.pop_front();
    auto it = clients_.find(fd);
    if (it == clients_.end() || !it->second.queued) continue;
    Client& c = it->second;
    c.queued = false;
    answer(fd, c, now_ns);
    if (flush(fd, c)) settle(fd, c);  // back in line if it has more
  }
  if (now_ns - last_sweep_ns_ >= 1'000'000'000ULL) {  // idle clients, once a second
    last_sweep_ns_ = now_ns;
    std::vector<int> idle;
    for (const auto& [fd, c] : clients_)
      if (now_ns - c.last_ns > limits_.idle_ns && !c.queued && c.out.empty()) idle.push_back(fd);
    for (int fd : idle) {
      send_now(fd, reply_error("closed: no complete request within the idle timeout"));
      stats_.idle_closed++;
      drop(fd);
    }
  }
}

void ControlServer::accept_some(uint64_t now_ns) {
  for (size_t i = 0; i < limits_.accepts_per_service; i++) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or out of fds (EMFILE): the backlog waits
    ucred cred{};
    socklen_t len = sizeof(cred);
    // The socket file is 0600; this also refuses a non-root process that
    // was handed an open descriptor to it, or a socket whose mode was
    // loosened.
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
      send_now(fd, reply_error("permission denied: the control socket is for root only"));
      close(fd);
      stats_.not_root++;
      continue;
    }
    if (clients_.size() >= limits_.max_clients) {
      send_now(fd, reply_error(fmt::format("too many clients (at most {}); try again", limits_.max_clients)));
      close(fd);
      stats_.refused++;
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      continue;
    }
    Client& c = clients_[fd];
    c.last_ns = now_ns;
    stats_.accepted++;
  }
}

void ControlServer::on_readable(int fd, Client& c) {
  bool eof = false;
  char buf[4096];
  // Read no more than one line's worth ahead: the rest waits in the kernel.
  while (c.in.size() <= limits_.max_line) {
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) eof = true;
    else if (errno == EINTR) continue;
    else if (errno != EAGAIN && errno != EWOULDBLOCK) eof = true;
    break;
  }
  if (eof) {
    // A last request without '\n' still gets its answer.
    if (!c.in.empty() && c.in.back() != '\n' && c.in.size() <= limits_.max_line) c.in.push_back('\n');
    c.closing = true;
  }
}

bool ControlServer::has_request(const Client& c) const {
  // A complete line, or more than a line's worth without one (refused).
  return c.in.size() > limits_.max_line || c.in.find('\n') != std::string::npos;
}

void ControlServer::answer(int fd, Client& c, uint64_t now_ns) {
  (void)fd;
  const size_t nl = c.in.find('\n');
  // Every line is capped, whether or not its '\n' has been read.
  if (nl == std::string::npos ? c.in.size() > limits_.max_line : nl > limits_.max_line) {
    stats_.too_long++;
    c.out = reply_error(fmt::format("request longer than {} bytes", limits_.max_line));
    c.in.clear();
    c.closing = true;
    return;
  }
  if (nl == std::string::npos) return;
  std::string line = c.in.substr(0, nl);
  c.in.erase(0, nl + 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  stats_.requests++;
  c.last_ns = now_ns;
  c.out = handler_(line);
}

bool ControlServer::flush(int fd, Client& c) {
  while (!c.out.empty()) {
    const ssize_t n = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;  // settle() waits for EPOLLOUT
    } else {
      drop(fd);  // the client went away
      return false;
    }
  }
  return true;
}

void ControlServer::settle(int fd, Client& c) {
  if (c.out.empty() && has_request(c)) {
    if (!c.queued) {
      c.queued = true;
      ready_.push_back(fd);
    }
  } else if (c.out.empty() && c.closing) {
    drop(fd);
    return;
  }
  update_events(fd, c);
}

void ControlServer::update_events(int fd, const Client& c) {
  epoll_event ev{};
  // Writing a reply: wait until the client reads. Queued: nothing to wait
  // for (hangups are reported anyway). Else: the next request.
  ev.events = !c.out.empty() ? uint32_t{EPOLLOUT} : c.queued ? 0u : uint32_t{EPOLLIN};
  ev.data.fd = fd;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
}

void ControlServer::drop(int fd) {
  auto it = clients_.find(fd);
  if (it != clients_.end() && it->second.queued) std::erase(ready_, fd);
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  close(fd);
  clients_.erase(fd);
}

}  // namespace irqlat
