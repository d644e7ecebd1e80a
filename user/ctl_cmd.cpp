// See ctl_cmd.h.
#include "user/ctl_cmd.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "user/control_protocol.h"
#include "user/log.h"
#include "user/output.h"
#include "user/parse.h"
#include "user/session.h"

namespace irqlat {
namespace {

using nlohmann::json;

// A reply may be a large dump; still, a daemon gone wrong must not make us
// buffer without end.
constexpr size_t kMaxReply = 512u << 20;

int connect_to(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), std::min(path.size() + 1, sizeof(a.sun_path) - 1));
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    const int err = errno;
    close(fd);
    std::string hint = err == ENOENT || err == ECONNREFUSED ? " (is `irqlat daemon` running?)"
                       : err == EACCES || err == EPERM    ? " (the control socket is root-only)"
                                                          : "";
    throw std::runtime_error(fmt::format("cannot connect to the daemon at {}: {}{}", path,
                                         std::strerror(err), hint));
  }
  return fd;
}

// Sends the request and reads one reply line within the deadline.
std::string exchange(int fd, const std::string& request, uint64_t timeout_ns) {
  const uint64_t deadline = time_after(monotonic_ns(), timeout_ns);
  auto wait = [&](short events) {
    const uint64_t now = monotonic_ns();
    if (now >= deadline) throw std::runtime_error("no reply from the daemon within --timeout");
    pollfd p{fd, events, 0};
    const int ms = static_cast<int>(std::min<uint64_t>((deadline - now) / 1'000'000 + 1, 60'000));
    if (poll(&p, 1, ms) < 0 && errno != EINTR)
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
  };
  size_t off = 0;
  std::string send_error;
  while (off < request.size()) {
    wait(POLLOUT);
    const ssize_t n = send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      // A daemon that refuses the client (too many clients) says why and
      // closes: that reply, if it came, is the better error.
      send_error = std::string("cannot send to the daemon: ") + std::strerror(errno);
      break;
    }
  }
  std::string reply;
  char buf[65536];
  for (;;) {
    const size_t nl = reply.find('\n');
    if (nl != std::string::npos) return reply.substr(0, nl);
    if (reply.size() > kMaxReply) throw std::runtime_error("reply from the daemon is too large");
    wait(POLLIN);
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) reply.append(buf, static_cast<size_t>(n));
    else if (!send_error.empty() && (n == 0 || (errno != EAGAIN && errno != EINTR))) throw std::runtime_error(send_error);
    else if (n == 0) throw std::runtime_error("the daemon closed the connection without a reply");
    else if (errno != EAGAIN && errno != EINTR)
      throw std::runtime_error(std::string("cannot read from the daemon: ") + std::strerror(errno));
  }
}

void print_status(const json& s) {
  std::cout << fmt::format("irqlat daemon pid {} ({}, {}), up {}\n", s.value("pid", 0),
                           s.value("version", ""), s.value("attach_mode", ""),
                           format_ns(s.value("uptime_ns", uint64_t{0})));
  const json& ev = s["events"];
  std::cout << fmt::format("events: {} received, {} dropped, {} late, {} missed\n",
                           ev.value("received", uint64_t{0}), ev.value("dropped", uint64_t{0}),
                           ev.value("late", uint64_t{0}), ev.value("missed", uint64_t{0}));
  std::cout << fmt::format("memory: {:.1f} MiB resident; cpu: {:.2f}s user, {:.2f}s system\n",
                           s["memory"].value("rss_bytes", uint64_t{0}) / 1048576.0,
                           s["cpu"].value("user_s", 0.0), s["cpu"].value("system_s", 0.0));
  std::cout << "\ntargets:\n";
  if (s["targets"].empty()) std::cout << "  (none)\n";
  size_t comm_w = 16;
  for (const json& t : s["targets"]) comm_w = std::max(comm_w, t.value("comm", "").size());
  for (const json& t : s["targets"]) {
    std::string windows = t.value("cancel", "");
    if (!windows.empty()) windows = "  windows " + windows + " -> " + t.value("done", "");
    std::cout << fmt::format("  {:>7} {:<{}} {:<9}{}\n", t.value("pid", 0), t.value("comm", ""), comm_w,
                             t.value("state", ""), windows);
  }
  std::cout << "\nBPF programs" << (s.value("bpf_stats", false) ? "" : " (statistics off)") << ":\n";
  // Columns as wide as their longest entry: program names have no fixed
  // length.
  size_t name_w = 7, runs_w = 4, mean_w = 4;
  for (const json& p : s["programs"]) {
    name_w = std::max(name_w, p.value("name", "").size());
    runs_w = std::max(runs_w, std::to_string(p.value("run_cnt", uint64_t{0})).size());
    mean_w = std::max(mean_w, format_ns(p.value("mean_ns", uint64_t{0})).size());
  }
  std::cout << fmt::format("  {:<{}} {:>{}} {:>{}}\n", "program", name_w, "runs", runs_w, "mean", mean_w);
  for (const json& p : s["programs"])
    std::cout << fmt::format("  {:<{}} {:>{}} {:>{}}\n", p.value("name", ""), name_w,
                             p.value("run_cnt", uint64_t{0}), runs_w,
                             format_ns(p.value("mean_ns", uint64_t{0})), mean_w);
  const json& c = s["control"];
  std::cout << fmt::format("\ncontrol: {} client(s), {} request(s), {} error(s); {} scrape(s)\n",
                           c.value("clients", 0), c.value("requests", uint64_t{0}),
                           c.value("errors", uint64_t{0}), s.value("scrapes", uint64_t{0}));
}

void print_reply(const ControlRequest& r, const Options& opts, const json& reply) {
  switch (r.verb) {
    case ControlRequest::Attach:
    case ControlRequest::Detach: {
      const json& t = reply["target"];
      std::cout << fmt::format("{} pid {} ({})", r.verb == ControlRequest::Attach ? "attached" : "detached",
                               t.value("pid", 0), t.value("comm", ""));
      if (r.verb == ControlRequest::Attach && !t.value("cancel", "").empty())
        std::cout << fmt::format(", windows {} -> {}", t.value("cancel", ""), t.value("done", ""));
      std::cout << "\n";
      break;
    }
    case ControlRequest::Dump: std::cout << reply.value("output", ""); break;
    case ControlRequest::Status:
      if (opts.format == OutputFormat::Json) {
        std::cout << reply["status"].dump(2) << "\n";
      } else {
        print_status(reply["status"]);
      }
      break;
    case ControlRequest::Reset: std::cout << "tables reset\n"; break;
  }
}

}  // namespace

int run_ctl(const Options& opts) {
  ControlRequest r;
  const std::string& v = opts.ctl_verb;
  r.verb = v == "attach"   ? ControlRequest::Attach
           : v == "detach" ? ControlRequest::Detach
           : v == "dump"   ? ControlRequest::Dump
           : v == "reset"  ? ControlRequest::Reset
                           : ControlRequest::Status;
  r.pid = opts.ctl_pid;
  r.cancel = opts.cancel_text;
  r.done = opts.done_text;
  if (opts.window_timeout_given) r.window_timeout_ns = opts.window_timeout_ns;
  r.format = opts.format;
  r.top = opts.top;
  r.reset = opts.ctl_reset;

  const int fd = connect_to(opts.socket_path);
  std::string line;
  try {
    line = exchange(fd, request_line(r), opts.ctl_timeout_ns);
  } catch (...) {
    close(fd);
    throw;
  }
  close(fd);
  json reply;
  try {
    reply = json::parse(line);
  } catch (const json::exception&) {
    throw std::runtime_error("the daemon sent a reply that is not JSON");
  }
  if (!reply.is_object() || !reply.value("ok", false)) {
    const std::string err = reply.is_object() ? reply.value("error", "unknown error") : "bad reply";
    std::fprintf(stderr, "irqlat: daemon: %s\n", printable(err).c_str());
    return 1;
  }
  // What each verb's reply must hold (a daemon of another version, or a
  // broken one, must not pass for one that answered with nothing).
  auto need = [&reply](const char* key, bool (json::*is)() const) {
    if (!reply.contains(key) || !(reply[key].*is)())
      throw std::runtime_error(fmt::format("the daemon's reply has no valid '{}'", key));
  };
  switch (r.verb) {
    case ControlRequest::Attach:
    case ControlRequest::Detach: need("target", &json::is_object); break;
    case ControlRequest::Dump: need("output", &json::is_string); break;
    case ControlRequest::Status:
      need("status", &json::is_object);
      for (const char* key : {"events", "memory", "cpu", "control"})
        if (!reply["status"].contains(key) || !reply["status"][key].is_object())
          throw std::runtime_error(fmt::format("the daemon's status has no valid '{}'", key));
      for (const char* key : {"targets", "programs"}) {
        const json& s = reply["status"];
        if (!s.contains(key) || !s[key].is_array() ||
            !std::all_of(s[key].begin(), s[key].end(), [](const json& e) { return e.is_object(); }))
          throw std::runtime_error(fmt::format("the daemon's status has no valid '{}'", key));
      }
      break;
    case ControlRequest::Reset: break;
  }
  try {
    print_reply(r, opts, reply);
  } catch (const json::exception&) {  // a field of the wrong type
    throw std::runtime_error("the daemon's reply has fields of the wrong type");
  }
  check_stdout();
  return 0;
}

}  // namespace irqlat
