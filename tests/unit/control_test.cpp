// ControlServer on a real Unix socket in /tmp (the tests run as root, so
// SO_PEERCRED lets them in): framing, line cap, request budget, fairness
// and the stop check.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "control_protocol.h"
#include "control_server.h"

using irqlat::ControlLimits;
using irqlat::ControlServer;
using Catch::Matchers::Contains;

namespace {

std::string temp_socket() {
  static int n = 0;
  return "/tmp/irqlat-control-test-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".sock";
}

int connect_to(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, path.c_str());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0);
  return fd;
}

void send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    off += static_cast<size_t>(n);
  }
}

// Whatever has arrived, without waiting.
std::string read_now(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

// Calls service() until pred holds (at most `calls` times).
template <typename Pred>
void service_until(ControlServer& server, Pred pred, int calls = 200) {
  for (int i = 0; i < calls && !pred(); i++) {
    pollfd p{server.fd(), POLLIN, 0};
    if (!server.backlog()) poll(&p, 1, 10);
    server.service(1);
  }
}

}  // namespace

TEST_CASE("control: each service() call answers a bounded number of requests, clients in turn",
          "[control]") {
  ControlLimits limits;
  limits.requests_per_service = 4;
  size_t handled = 0;
  const std::string path = temp_socket();
  ControlServer server(path, [&](const std::string& line) {
    handled++;
    return line + "\n";
  }, limits);
  const int a = connect_to(path), b = connect_to(path);
  std::string many;
  for (int i = 0; i < 100; i++) many += "a" + std::to_string(i) + "\n";
  send_all(a, many);
  service_until(server, [&] { return server.clients() == 2; });
  service_until(server, [&] { return server.backlog(); });
  REQUIRE(server.backlog());  // a's requests wait their turn
  send_all(b, "b0\n");
  std::string got_a, got_b;
  size_t before = handled;
  for (int i = 0; i < 10 && got_b.empty(); i++) {
    pollfd p{server.fd(), POLLIN, 0};
    poll(&p, 1, 10);
    before = handled;
    server.service(1);
    CHECK(handled - before <= limits.requests_per_service);
    got_a += read_now(a);
    got_b += read_now(b);
  }
  // b was answered long before a's 100 requests were.
  CHECK(got_b == "b0\n");
  CHECK(lines(got_a) < 50);
  service_until(server, [&] {
    got_a += read_now(a);
    return lines(got_a) == 100;
  });
  CHECK(got_a == many);  // every one, in order
  close(a);
  close(b);
}

TEST_CASE("control: nothing is answered while a stop is pending", "[control]") {
  bool stop = false;
  size_t handled = 0;
  const std::string path = temp_socket();
  ControlServer server(path, [&](const std::string&) {
    handled++;
    stop = handled == 3;  // the stop arrives while the third is answered
    return std::string("ok\n");
  });
  server.set_abort([&] { return stop; });
  const int c = connect_to(path);
  send_all(c, std::string(20, '\n'));
  service_until(server, [&] { return handled > 0 && server.backlog(); });
  for (int i = 0; i < 20; i++) server.service(1);
  CHECK(handled == 3);
  CHECK(server.backlog());
  stop = false;
  std::string got;
  service_until(server, [&] {
    got += read_now(c);
    return lines(got) == 20;
  });
  CHECK(handled == 20);
  close(c);
}

TEST_CASE("control: every line is capped, whether or not its newline was read", "[control]") {
  size_t handled = 0;
  const std::string path = temp_socket();
  ControlServer server(path, [&](const std::string&) {
    handled++;
    return std::string("ok\n");
  });
  const int fits = connect_to(path), over = connect_to(path);
  send_all(fits, std::string(64 * 1024, 'x') + "\n");  // exactly the cap: answered
  std::string got_fits;
  service_until(server, [&] {
    got_fits += read_now(fits);
    return !got_fits.empty();
  });
  CHECK(got_fits == "ok\n");
  send_all(over, std::string(65'600, 'x') + "\n");
  std::string got_over;
  service_until(server, [&] {
    got_over += read_now(over);
    return !got_over.empty();
  });
  CHECK_THAT(got_over, Contains("request longer than 65536 bytes"));
  CHECK(handled == 1);
  CHECK(server.stats().too_long == 1);
  close(fits);
  close(over);
}

TEST_CASE("control: pipelined requests and a last one without newline are all answered", "[control]") {
  const std::string path = temp_socket();
  ControlServer server(path, [](const std::string& line) { return "<" + line + ">\n"; });
  const int c = connect_to(path);
  send_all(c, "1\n2\r\n3");
  shutdown(c, SHUT_WR);
  std::string got;
  service_until(server, [&] {
    got += read_now(c);
    return lines(got) == 3;
  });
  CHECK(got == "<1>\n<2>\n<3>\n");
  service_until(server, [&] { return server.clients() == 0; });
  CHECK(server.clients() == 0);
  close(c);
}

TEST_CASE("control protocol: JSON library errors become one clean line", "[control]") {
  for (const char* line : {R"({"pid":1e400})", R"({"cmd":"attach","pid":1e400})", R"({"cmd":"attach","pid":-1e999})",
                           R"({"cmd":"status","x":1e400})", "{\"cmd\":\"st\xff\"}", "[1e400]"}) {
    INFO(line);
    try {
      irqlat::parse_request(line);
      FAIL("accepted");
    } catch (const irqlat::ProtocolError& e) {
      const std::string msg = e.what();
      CHECK(msg.find("json.exception") == std::string::npos);
      CHECK(msg.find('\n') == std::string::npos);
      CHECK(!msg.empty());
    }
  }
  CHECK_THROWS_WITH(irqlat::parse_request(R"({"cmd":"attach","pid":1e400})"), Contains("out of range"));
}

TEST_CASE("control protocol: a repeated key is refused, not resolved to its last value", "[control]") {
  CHECK_THROWS_WITH(irqlat::parse_request(R"({"cmd":"status","cmd":"reset"})"), Contains("repeated key \"cmd\""));
  CHECK_THROWS_WITH(irqlat::parse_request(R"({"cmd":"detach","pid":1,"pid":2})"), Contains("repeated key \"pid\""));
  CHECK_THROWS_AS(irqlat::parse_request(R"({"cmd":"dump","x":{"a":1,"a":2}})"), irqlat::ProtocolError);
  CHECK(irqlat::parse_request(R"({"cmd":"detach","pid":7})").pid == 7);  // one of each still goes
}
