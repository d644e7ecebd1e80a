// Parsers for the values users type on the command line (durations, CPU
// lists, cancellation-window specs) and the one human unit formatter.
// Pure functions: they return a value or throw UsageError with a one-line
// message that names the bad input. The caller prints "irqlat: <message>"
// and exits with status 2.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace irqlat {

// A usage error: bad command line, bad SPEC, bad duration... (exit status 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "10s", "500ms", "250us", "100ns", "2m", "1.5s"; a bare number is seconds.
// Rejects empty, negative, junk suffixes and overflow; rejects zero (and
// anything that rounds down to 0 ns) unless allow_zero.
uint64_t parse_duration_ns(std::string_view text, bool allow_zero = false);

// "0", "0-3", "0,2,5-7" -> sorted, de-duplicated CPU numbers. Every CPU must
// be < nr_cpus (nr_cpus <= 0: not checked). Rejects reversed ranges, empty
// items, junk.
std::vector<int> parse_cpu_list(std::string_view text, int nr_cpus);

// A positive PID/TID ("1234"). `what` names it in the message ("PID", "TID").
int parse_pid(std::string_view text, std::string_view what = "PID");

// A signal name ("TERM", "SIGTERM", "term", "RTMIN+2") or number (1..64).
int parse_signal(std::string_view text);

// A --cancel / --done SPEC (SPEC section 4).
struct WindowSpec {
  enum Kind { None, Signal, Uprobe, Usdt, Exit };
  Kind kind = None;
  std::vector<int> signals;  // Signal: signal numbers (default SIGTERM, SIGINT)
  std::string path;          // Uprobe/Usdt: binary; empty = the target's executable
  std::string symbol;        // Uprobe: function symbol (Go symbols welcome)
  uint64_t offset = 0;       // Uprobe: byte offset into the function
  std::string provider;      // Usdt
  std::string name;          // Usdt
  std::string text;          // the spec as the user wrote it
};

// Parses a SPEC; is_done selects the --done grammar (exit allowed, signal not)
// versus the --cancel grammar (signal allowed, exit not).
//   signal[:SIG[,SIG]]         cancel only
//   uprobe:[PATH:]SYMBOL[+OFF] PATH is present iff the part before the last
//                              single ':' outside parentheses starts with '/'
//                              or '.'; OFF is decimal or 0x hex
//   usdt:[PATH:]PROVIDER:NAME
//   exit                       done only
WindowSpec parse_window_spec(std::string_view text, bool is_done);

// --cancel / --done as a pair (empty text: not given): --done needs
// --cancel; a signal cancel alone gets done = exit; any other cancel needs
// --done. Throws UsageError.
void parse_window_pair(const std::string& cancel_text, const std::string& done_text,
                       WindowSpec& cancel, WindowSpec& done);

// Human units for tables, 3 significant digits: "850ns", "12.3us", "4.56ms",
// "1.20s" (seconds keep growing: "1234s").
std::string format_ns(uint64_t ns);

}  // namespace irqlat
