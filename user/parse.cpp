#include "parse.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <csignal>
#include <limits>
#include <set>

#include <fmt/format.h>

namespace irqlat {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return upper(a) == upper(b); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses an all-digit string; false on junk or overflow of T.
template <typename T>
bool parse_uint(std::string_view s, T& out) {
  if (!all_digits(s)) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

// ---------------------------------------------------------------- durations

uint64_t parse_duration_ns(std::string_view text, bool allow_zero) {
  const std::string expected = fmt::format(
      "invalid duration '{}': expected a number with unit ns, us, ms, s or m", text);
  if (text.empty()) throw UsageError(expected);
  if (text.front() == '-') {
    throw UsageError(fmt::format("invalid duration '{}': must not be negative", text));
  }

  size_t i = 0;
  unsigned __int128 whole = 0;
  size_t whole_digits = 0;
  bool overflow = false;
  while (i < text.size() && is_digit(text[i])) {
    whole = whole * 10 + static_cast<unsigned>(text[i] - '0');
    if (whole > std::numeric_limits<uint64_t>::max()) {
      overflow = true;
      whole = 0;
    }
    ++whole_digits;
    ++i;
  }
  unsigned __int128 frac = 0, frac_scale = 1;
  size_t frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && is_digit(text[i])) {
      if (frac_digits < 18) {  // beyond 1e-18 of a minute nothing is left
        frac = frac * 10 + static_cast<unsigned>(text[i] - '0');
        frac_scale *= 10;
      }
      ++frac_digits;
      ++i;
    }
    if (frac_digits == 0) throw UsageError(expected);
  }
  if (whole_digits == 0 && frac_digits == 0) throw UsageError(expected);

  const std::string_view unit = text.substr(i);
  uint64_t mult;
  if (unit.empty() || unit == "s") mult = 1'000'000'000ULL;
  else if (unit == "ms") mult = 1'000'000ULL;
  else if (unit == "us") mult = 1'000ULL;
  else if (unit == "ns") mult = 1ULL;
  else if (unit == "m") mult = 60'000'000'000ULL;
  else throw UsageError(expected);

  const unsigned __int128 total = whole * mult + frac * mult / frac_scale;
  if (overflow || total > std::numeric_limits<uint64_t>::max()) {
    throw UsageError(fmt::format("invalid duration '{}': too large", text));
  }
  const auto ns = static_cast<uint64_t>(total);
  if (ns == 0 && !allow_zero) {
    throw UsageError(fmt::format("invalid duration '{}': must be greater than zero", text));
  }
  return ns;
}

// ---------------------------------------------------------------- CPU lists

std::vector<int> parse_cpu_list(std::string_view text, int nr_cpus) {
  auto bad = [&](const std::string& why) {
    return UsageError(fmt::format("invalid CPU list '{}': {}", text, why));
  };
  // Without a machine size, still refuse absurd numbers (kernel NR_CPUS max).
  const long long limit = nr_cpus > 0 ? nr_cpus : 8192;
  auto no_such_cpu = [&](std::string_view cpu) {
    if (nr_cpus <= 0) return UsageError(fmt::format("CPU {} does not exist", cpu));
    if (nr_cpus == 1) {
      return UsageError(fmt::format("CPU {} does not exist (this machine has 1 CPU: 0)", cpu));
    }
    return UsageError(fmt::format("CPU {} does not exist (this machine has {} CPUs: 0-{})",
                                  cpu, nr_cpus, nr_cpus - 1));
  };
  auto number = [&](std::string_view s) -> long long {
    if (s.empty()) throw bad("missing CPU number in a range");
    if (!all_digits(s)) throw bad(fmt::format("'{}' is not a CPU number", s));
    long long v = 0;
    if (!parse_uint(s, v) || v >= limit) throw no_such_cpu(s);
    return v;
  };

  if (trim(text).empty()) throw bad("empty");
  std::set<int> cpus;
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) throw bad("empty item");
    const size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      cpus.insert(static_cast<int>(number(item)));
    } else {
      const long long lo = number(trim(item.substr(0, dash)));
      const long long hi = number(trim(item.substr(dash + 1)));
      if (hi < lo) throw bad(fmt::format("range {} is reversed (write {}-{})", item, hi, lo));
      for (long long c = lo; c <= hi; ++c) cpus.insert(static_cast<int>(c));
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return {cpus.begin(), cpus.end()};
}

// ---------------------------------------------------------------- PIDs

int parse_pid(std::string_view text, std::string_view what) {
  constexpr int kPidMax = 4194304;  // PID_MAX_LIMIT on 64-bit kernels
  if (!all_digits(text)) {
    throw UsageError(fmt::format("invalid {} '{}': expected a positive integer", what, text));
  }
  long long v = 0;
  if (!parse_uint(text, v) || v > kPidMax) {
    throw UsageError(
        fmt::format("invalid {} '{}': too large (at most {})", what, text, kPidMax));
  }
  if (v == 0) {
    throw UsageError(fmt::format("invalid {} '{}': expected a positive integer", what, text));
  }
  return static_cast<int>(v);
}

// ---------------------------------------------------------------- signals

int parse_signal(std::string_view text) {
  struct Sig {
    const char* name;
    int num;
  };
  static const Sig kSignals[] = {
      {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
      {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},
      {"FPE", SIGFPE},       {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
      {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
      {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CLD", SIGCHLD},    {"CONT", SIGCONT},
      {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU},
      {"URG", SIGURG},       {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM},
      {"PROF", SIGPROF},     {"WINCH", SIGWINCH},   {"IO", SIGIO},       {"POLL", SIGPOLL},
      {"PWR", SIGPWR},       {"SYS", SIGSYS},
  };
  auto bad = [&]() {
    return UsageError(fmt::format(
        "invalid signal '{}': expected a name such as TERM, INT, HUP, USR1 or a number 1-64",
        text));
  };
  const std::string_view t = trim(text);
  if (t.empty()) throw bad();
  if (all_digits(t)) {
    int v = 0;
    if (!parse_uint(t, v) || v < 1 || v > 64) throw bad();
    return v;
  }
  std::string name = upper(t);
  if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
  for (const Sig& s : kSignals) {
    if (name == s.name) return s.num;
  }
  // RTMIN, RTMIN+N, RTMAX, RTMAX-N (glibc numbering, as kill(1) uses).
  auto rt = [&](std::string_view base, int value, char sign) -> int {
    if (name.rfind(base, 0) != 0) return -1;
    std::string_view rest = std::string_view(name).substr(base.size());
    if (rest.empty()) return value;
    if (rest.front() != sign) throw bad();
    int n = 0;
    if (!parse_uint(rest.substr(1), n)) throw bad();
    const int v = sign == '+' ? value + n : value - n;
    if (v < SIGRTMIN || v > SIGRTMAX) throw bad();
    return v;
  };
  if (int v = rt("RTMIN", SIGRTMIN, '+'); v > 0) return v;
  if (int v = rt("RTMAX", SIGRTMAX, '-'); v > 0) return v;
  throw bad();
}

// ---------------------------------------------------------------- window specs

namespace {

// Index of the ':' that separates PATH from the rest: the last ':' that is
// outside parentheses/brackets and not half of a C++ "::". npos if none.
size_t path_separator(std::string_view body) {
  int depth = 0;
  size_t found = std::string_view::npos;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '(' || c == '[') {
      ++depth;
    } else if (c == ')' || c == ']') {
      if (depth > 0) --depth;
    } else if (c == ':' && depth == 0) {
      const bool pair_next = i + 1 < body.size() && body[i + 1] == ':';
      const bool pair_prev = i > 0 && body[i - 1] == ':';
      if (pair_next) {
        ++i;  // skip the whole "::"
        continue;
      }
      if (!pair_prev) found = i;
    }
  }
  return found;
}

bool looks_like_path(std::string_view s) { return !s.empty() && (s[0] == '/' || s[0] == '.'); }

bool is_ident(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace

WindowSpec parse_window_spec(std::string_view text, bool is_done) {
  const char* flag = is_done ? "--done" : "--cancel";
  auto bad = [&](const std::string& why) {
    return UsageError(fmt::format("bad {} spec '{}': {}", flag, text, why));
  };
  const char* expected =
      is_done ? "expected uprobe:[PATH:]SYMBOL[+OFF], usdt:[PATH:]PROVIDER:NAME or exit"
              : "expected signal[:SIG,...], uprobe:[PATH:]SYMBOL[+OFF], usdt:[PATH:]PROVIDER:NAME";

  WindowSpec spec;
  spec.text = std::string(text);
  const size_t colon = text.find(':');
  const std::string_view kind = text.substr(0, colon);
  const bool has_arg = colon != std::string_view::npos;
  const std::string_view arg = has_arg ? text.substr(colon + 1) : std::string_view{};

  if (iequals(kind, "exit")) {
    if (!is_done) throw bad("exit is only valid as --done (the target process has exited)");
    if (has_arg) throw bad("exit takes no arguments");
    spec.kind = WindowSpec::Exit;
    return spec;
  }

  if (iequals(kind, "signal")) {
    if (is_done) throw bad("signal is only valid as --cancel");
    spec.kind = WindowSpec::Signal;
    if (!has_arg) {
      spec.signals = {SIGTERM, SIGINT};
      return spec;
    }
    if (trim(arg).empty()) throw bad("empty signal list (write signal or signal:TERM,INT)");
    std::string_view rest = arg;
    while (true) {
      const size_t comma = rest.find(',');
      const std::string_view item = trim(rest.substr(0, comma));
      if (item.empty()) throw bad("empty signal name in the list");
      int sig;
      try {
        sig = parse_signal(item);
      } catch (const UsageError&) {
        throw bad(fmt::format("unknown signal '{}' (use a name such as TERM or a number 1-64)",
                              item));
      }
      if (std::find(spec.signals.begin(), spec.signals.end(), sig) == spec.signals.end()) {
        spec.signals.push_back(sig);
      }
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    return spec;
  }

  if (iequals(kind, "uprobe")) {
    spec.kind = WindowSpec::Uprobe;
    std::string_view body = arg;
    if (body.empty()) throw bad("missing SYMBOL (uprobe:[PATH:]SYMBOL[+OFF])");

    // Offset: '+' then decimal or 0x hex at the very end.
    if (const size_t plus = body.rfind('+'); plus != std::string_view::npos) {
      const std::string_view off = body.substr(plus + 1);
      // Anything starting with a digit or a sign after the last '+' must be
      // an offset; otherwise the '+' belongs to the symbol (e.g. "operator+=").
      const bool offset_like = off.empty() || is_digit(off[0]) || off[0] == '-';
      if (offset_like) {
        if (off.empty()) throw bad("missing offset after '+'");
        bool ok;
        if (off.size() > 2 && off[0] == '0' && (off[1] == 'x' || off[1] == 'X')) {
          const std::string_view hex = off.substr(2);
          auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), spec.offset, 16);
          ok = ec == std::errc() && p == hex.data() + hex.size();
        } else {
          ok = parse_uint(off, spec.offset);
        }
        if (!ok) throw bad(fmt::format("bad offset '+{}': expected decimal or 0x hex", off));
        body = body.substr(0, plus);
      }
    }

    const size_t sep = path_separator(body);
    std::string_view symbol = body;
    if (sep != std::string_view::npos) {
      const std::string_view path = body.substr(0, sep);
      if (!looks_like_path(path)) {
        throw bad(fmt::format("PATH '{}' must start with '/' or '.' (e.g. ./{})", path, path));
      }
      spec.path = std::string(path);
      symbol = body.substr(sep + 1);
    } else if (looks_like_path(body)) {
      throw bad(fmt::format("'{}' looks like a PATH but no SYMBOL follows (uprobe:PATH:SYMBOL)",
                            body));
    }
    if (symbol.empty()) throw bad("missing SYMBOL (uprobe:[PATH:]SYMBOL[+OFF])");
    int depth = 0;
    for (char c : symbol) {
      const auto u = static_cast<unsigned char>(c);
      if (std::isspace(u) || std::iscntrl(u)) throw bad("SYMBOL contains whitespace");
      if (c == '(') ++depth;
      if (c == ')' && --depth < 0) break;
    }
    if (depth != 0) throw bad(fmt::format("unbalanced parentheses in SYMBOL '{}'", symbol));
    spec.symbol = std::string(symbol);
    return spec;
  }

  if (iequals(kind, "usdt")) {
    spec.kind = WindowSpec::Usdt;
    const size_t last = arg.rfind(':');
    if (!has_arg || last == std::string_view::npos) {
      throw bad("expected usdt:[PATH:]PROVIDER:NAME");
    }
    const std::string_view name = arg.substr(last + 1);
    const std::string_view head = arg.substr(0, last);
    const size_t prev = head.rfind(':');
    const std::string_view provider =
        prev == std::string_view::npos ? head : head.substr(prev + 1);
    if (prev != std::string_view::npos) {
      const std::string_view path = head.substr(0, prev);
      if (path.empty()) throw bad("empty PATH (usdt:[PATH:]PROVIDER:NAME)");
      if (!looks_like_path(path)) {
        throw bad(fmt::format("PATH '{}' must start with '/' or '.' (e.g. ./{})", path, path));
      }
      spec.path = std::string(path);
    }
    if (!is_ident(provider)) {
      throw bad(provider.empty() ? std::string("missing PROVIDER (usdt:[PATH:]PROVIDER:NAME)")
                                 : fmt::format("PROVIDER '{}' must be letters, digits or '_'",
                                               provider));
    }
    if (!is_ident(name)) {
      throw bad(name.empty() ? std::string("missing NAME (usdt:[PATH:]PROVIDER:NAME)")
                             : fmt::format("NAME '{}' must be letters, digits or '_'", name));
    }
    spec.provider = std::string(provider);
    spec.name = std::string(name);
    return spec;
  }

  throw bad(expected);
}

// ---------------------------------------------------------------- format_ns

std::string format_ns(uint64_t ns) {
  if (ns < 1000) return fmt::format("{}ns", ns);
  struct Unit {
    uint64_t ns;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{1'000ULL, "us"}, {1'000'000ULL, "ms"}, {1'000'000'000ULL, "s"}};
  for (const Unit& u : kUnits) {
    const bool last = u.ns == 1'000'000'000ULL;
    // Two decimals below 10 units, one below 100, none from there on;
    // rounding up to 1000 moves on to the next unit.
    uint64_t q = ns / (u.ns / 100) + (ns % (u.ns / 100) >= u.ns / 200 ? 1 : 0);
    if (q < 1000) return fmt::format("{}.{:02}{}", q / 100, q % 100, u.name);
    q = ns / (u.ns / 10) + (ns % (u.ns / 10) >= u.ns / 20 ? 1 : 0);
    if (q < 1000) return fmt::format("{}.{}{}", q / 10, q % 10, u.name);
    q = ns / u.ns + (ns % u.ns >= u.ns / 2 ? 1 : 0);
    if (q < 1000 || last) return fmt::format("{}{}", q, u.name);
  }
  return fmt::format("{}ns", ns);  // not reached
}

void parse_window_pair(const std::string& cancel_text, const std::string& done_text,
                       WindowSpec& cancel, WindowSpec& done) {
  cancel = WindowSpec();
  done = WindowSpec();
  if (!cancel_text.empty()) cancel = parse_window_spec(cancel_text, false);
  if (!done_text.empty()) done = parse_window_spec(done_text, true);
  if (!done_text.empty() && cancel_text.empty()) throw UsageError("--done needs --cancel SPEC");
  if (!cancel_text.empty() && done_text.empty()) {
    if (cancel.kind != WindowSpec::Signal)
      throw UsageError(fmt::format(
          "--cancel '{}' needs --done SPEC (uprobe:..., usdt:... or exit)", cancel_text));
    done = parse_window_spec("exit", true);
  }
}

}  // namespace irqlat
