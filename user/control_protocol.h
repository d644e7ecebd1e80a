// The daemon's control protocol (docs/daemon.md): one JSON object per line
// each way. Requests are parsed and checked here, so the daemon's verbs only
// ever see well-formed values and every error is one readable line.
//
//   {"cmd":"attach","pid":123,"cancel":"usdt:irqlat:cancel","done":"usdt:irqlat:done",
//    "window_timeout_ns":2000000000}
//   {"cmd":"detach","pid":123}
//   {"cmd":"dump","format":"table|json|csv","top":5,"reset":false}
//   {"cmd":"status"}
//   {"cmd":"reset"}
// Replies: {"ok":true,...} or {"ok":false,"error":"..."}.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "user/options.h"

namespace irqlat {

struct ProtocolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ControlRequest {
  enum Verb { Attach, Detach, Dump, Status, Reset } verb = Status;
  int pid = 0;                     // attach, detach
  std::string cancel, done;        // attach ("" = not given)
  uint64_t window_timeout_ns = 0;  // attach (0 = the daemon's default)
  OutputFormat format = OutputFormat::Table;  // dump
  int top = 5;                                // dump
  bool reset = false;                         // dump
};

// Throws ProtocolError naming what is wrong ("bad JSON at byte 3", "unknown
// cmd 'x'", "'pid' must be a positive integer", "unknown key 'x'").
ControlRequest parse_request(const std::string& line);
// The request line `irqlat ctl` sends for its options.
std::string request_line(const ControlRequest& r);

// One reply line, '\n' included. Strings that are not valid UTF-8 are
// replaced, never thrown on.
std::string reply_ok(nlohmann::json body = nlohmann::json::object());
std::string reply_error(const std::string& message);

}  // namespace irqlat
