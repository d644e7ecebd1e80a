// The daemon's log: one line per message, "irqlat: LEVEL: text", to stderr
// (systemd/journald style) or to a file that SIGHUP reopens (logrotate).
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace irqlat {

// TEXT with its control characters as escapes (\n, \t, \xHH): a file
// name or spec quoted in a message must not split it over lines (a line
// starting "irqlat: tracing" is what scripts wait for).
std::string printable(std::string_view text);

enum class LogLevel { Error, Warn, Info, Debug };

// path empty: stderr. Throws std::runtime_error if the file cannot be opened.
void log_open(const std::string& path, LogLevel max_level);
// Reopens the file (after rotation); keeps the old one on failure (logged).
void log_reopen();
void log_line(LogLevel level, const std::string& text);
// The stream the log goes to (SIGUSR1 dumps are written there).
FILE* log_stream();

template <typename... Args>
void logf(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
  log_line(level, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace irqlat
