// See control_protocol.h.
#include "user/control_protocol.h"

#include <fmt/format.h>

#include <set>
#include <string>
#include <vector>

namespace irqlat {
namespace {

using nlohmann::json;

const char* verb_name(ControlRequest::Verb v) {
  switch (v) {
    case ControlRequest::Attach: return "attach";
    case ControlRequest::Detach: return "detach";
    case ControlRequest::Dump: return "dump";
    case ControlRequest::Status: return "status";
    case ControlRequest::Reset: return "reset";
  }
  return "?";
}

// The keys each verb accepts besides "cmd".
bool key_allowed(ControlRequest::Verb v, const std::string& key) {
  switch (v) {
    case ControlRequest::Attach:
      return key == "pid" || key == "cancel" || key == "done" || key == "window_timeout_ns";
    case ControlRequest::Detach: return key == "pid";
    case ControlRequest::Dump: return key == "format" || key == "top" || key == "reset";
    default: return false;
  }
}

int64_t get_int(const json& j, const char* key, int64_t lo, int64_t hi) {
  const json& v = j.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
    throw ProtocolError(fmt::format("'{}' must be an integer in [{}, {}]", key, lo, hi));
  return v.get<int64_t>();
}

std::string get_string(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_string()) throw ProtocolError(fmt::format("'{}' must be a string", key));
  return v.get<std::string>();
}

ControlRequest parse_checked(const std::string& line);

}  // namespace

ControlRequest parse_request(const std::string& line) {
  // Any exception of the JSON library becomes one clean line: its own texts
  // ("[json.exception.out_of_range.406] number overflow parsing '1e400'")
  // are not for operators, and may quote a whole request.
  try {
    return parse_checked(line);
  } catch (const json::parse_error& e) {
    throw ProtocolError(fmt::format("bad JSON at byte {}: expected one object per line", e.byte));
  } catch (const json::out_of_range&) {
    throw ProtocolError("bad JSON: a number is out of range");
  } catch (const json::exception&) {
    throw ProtocolError("malformed request: expected one JSON object per line (see docs/daemon.md)");
  }
}

namespace {

// The JSON library keeps the last of repeated keys: {"cmd":"status",
// "cmd":"reset"} would reset. Such a request is ambiguous, so it is refused.
json parse_unique_keys(const std::string& line) {
  std::vector<std::set<std::string>> keys;  // per open object
  return json::parse(line, [&keys](int, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (ev == json::parse_event_t::object_end) {
      keys.pop_back();
    } else if (ev == json::parse_event_t::key && !keys.back().insert(parsed.get<std::string>()).second) {
      throw ProtocolError(
          fmt::format("repeated key {}", parsed.dump(-1, ' ', false, json::error_handler_t::replace)));
    }
    return true;
  });
}

ControlRequest parse_checked(const std::string& line) {
  json j = parse_unique_keys(line);
  if (!j.is_object()) throw ProtocolError("the request must be a JSON object");
  if (!j.contains("cmd") || !j["cmd"].is_string())
    throw ProtocolError("missing \"cmd\": expected attach, detach, dump, status or reset");
  const std::string cmd = j["cmd"].get<std::string>();
  ControlRequest r;
  if (cmd == "attach") r.verb = ControlRequest::Attach;
  else if (cmd == "detach") r.verb = ControlRequest::Detach;
  else if (cmd == "dump") r.verb = ControlRequest::Dump;
  else if (cmd == "status") r.verb = ControlRequest::Status;
  else if (cmd == "reset") r.verb = ControlRequest::Reset;
  else
    throw ProtocolError(fmt::format("unknown cmd '{}': expected attach, detach, dump, status or reset",
                                    json(cmd).dump(-1, ' ', false, json::error_handler_t::replace)));
  for (const auto& [key, value] : j.items()) {
    if (key != "cmd" && !key_allowed(r.verb, key))
      throw ProtocolError(fmt::format("unknown key {} for {}",
                                      json(key).dump(-1, ' ', false, json::error_handler_t::replace),
                                      cmd));
  }
  if (r.verb == ControlRequest::Attach || r.verb == ControlRequest::Detach) {
    if (!j.contains("pid")) throw ProtocolError(cmd + " needs \"pid\"");
    r.pid = static_cast<int>(get_int(j, "pid", 1, 4194304));  // PID_MAX_LIMIT
  }
  if (r.verb == ControlRequest::Attach) {
    if (j.contains("cancel")) r.cancel = get_string(j, "cancel");
    if (j.contains("done")) r.done = get_string(j, "done");
    if (j.contains("window_timeout_ns"))
      r.window_timeout_ns = static_cast<uint64_t>(get_int(j, "window_timeout_ns", 1, INT64_MAX));
  }
  if (r.verb == ControlRequest::Dump) {
    if (j.contains("format")) {
      const std::string f = get_string(j, "format");
      if (f == "table") r.format = OutputFormat::Table;
      else if (f == "json") r.format = OutputFormat::Json;
      else if (f == "csv") r.format = OutputFormat::Csv;
      else throw ProtocolError("'format' must be table, json or csv");
    }
    if (j.contains("top")) r.top = static_cast<int>(get_int(j, "top", 1, 1000000));
    if (j.contains("reset")) {
      if (!j["reset"].is_boolean()) throw ProtocolError("'reset' must be true or false");
      r.reset = j["reset"].get<bool>();
    }
  }
  return r;
}

}  // namespace

std::string request_line(const ControlRequest& r) {
  json j{{"cmd", verb_name(r.verb)}};
  if (r.verb == ControlRequest::Attach || r.verb == ControlRequest::Detach) j["pid"] = r.pid;
  if (r.verb == ControlRequest::Attach) {
    if (!r.cancel.empty()) j["cancel"] = r.cancel;
    if (!r.done.empty()) j["done"] = r.done;
    if (r.window_timeout_ns) j["window_timeout_ns"] = r.window_timeout_ns;
  }
  if (r.verb == ControlRequest::Dump) {
    j["format"] = format_name(r.format);
    j["top"] = r.top;
    j["reset"] = r.reset;
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string reply_ok(json body) {
  body["ok"] = true;
  return body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string reply_error(const std::string& message) {
  json j{{"ok", false}, {"error", message}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace irqlat
