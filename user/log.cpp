// See log.h.
#include "user/log.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace irqlat {
namespace {

std::string g_path;
FILE* g_file = nullptr;  // nullptr: stderr
LogLevel g_max = LogLevel::Info;

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::Error: return "error";
    case LogLevel::Warn: return "warning";
    case LogLevel::Info: return "info";
    case LogLevel::Debug: return "debug";
  }
  return "?";
}

FILE* open_append(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "ae");
  if (f) setvbuf(f, nullptr, _IOLBF, 0);
  return f;
}

}  // namespace

void log_open(const std::string& path, LogLevel max_level) {
  g_max = max_level;
  g_path = path;
  if (path.empty()) return;
  g_file = open_append(path);
  if (!g_file)
    throw std::runtime_error("cannot open log file '" + path + "': " + std::strerror(errno));
}

void log_reopen() {
  if (g_path.empty()) {
    log_line(LogLevel::Info, "SIGHUP: logging to stderr, nothing to reopen");
    return;
  }
  FILE* f = open_append(g_path);
  if (!f) {
    log_line(LogLevel::Error, "cannot reopen log file '" + g_path + "': " + std::strerror(errno));
    return;
  }
  std::fclose(g_file);
  g_file = f;
  log_line(LogLevel::Info, "log reopened");
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) {
      out += ch;
      continue;
    }
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

FILE* log_stream() { return g_file ? g_file : stderr; }

void log_line(LogLevel level, const std::string& text) {
  if (level > g_max) return;
  std::fprintf(log_stream(), "irqlat: %s: %s\n", level_name(level), printable(text).c_str());
  std::fflush(log_stream());
}

}  // namespace irqlat
