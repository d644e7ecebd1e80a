// Prometheus text exposition of the daemon's tables (docs: "Exposition
// formats", text format 0.0.4). Conventions kept here: base units (seconds,
// bytes), counters end in _total, each family is written as one block (HELP,
// TYPE, then all its samples), and each label set appears once per family:
// rows that would map to the same series are summed first.
#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <iterator>
#include <map>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace irqlat {
namespace {

// Histogram bucket edges for every duration family. The `le` strings are
// fixed (as Go's client would print them) so series stay stable across
// scrapes and fmt versions; ns is the same edge in the units of Histogram.
struct Edge {
  const char* le;
  uint64_t ns;
};
constexpr Edge kEdges[] = {
    {"1e-06", 1'000},      {"2.5e-06", 2'500},     {"5e-06", 5'000},      {"1e-05", 10'000},
    {"2.5e-05", 25'000},   {"5e-05", 50'000},      {"0.0001", 100'000},   {"0.00025", 250'000},
    {"0.0005", 500'000},   {"0.001", 1'000'000},   {"0.0025", 2'500'000}, {"0.005", 5'000'000},
    {"0.01", 10'000'000},  {"0.025", 25'000'000},  {"0.05", 50'000'000},  {"0.1", 100'000'000},
    {"0.25", 250'000'000}, {"0.5", 500'000'000},   {"1", 1'000'000'000},  {"2.5", 2'500'000'000},
    {"5", 5'000'000'000},  {"10", 10'000'000'000},
};

double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

// Shortest round-trip form ("1.5e-05", "0.25", "3"), with the spellings the
// text format uses for non-finite values.
std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}
std::string num(uint64_t v) { return fmt::format("{}", v); }

// Length of the valid UTF-8 sequence at s[i], 0 if invalid. The format is
// UTF-8, but comms are raw kernel bytes.
size_t utf8_len(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  // Sequence length, and the allowed range of the second byte (excludes
  // overlong forms, surrogates and code points above U+10FFFF).
  size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  }
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
  }
  return n;
}

// A label value: backslash, double quote and newline escaped; bytes that are
// not UTF-8 become U+FFFD.
std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_len(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      i++;
      continue;
    }
    const char c = s[i];
    if (c == '\\' || c == '"' || c == '\n')
      out += {'\\', c == '\n' ? 'n' : c};
    else
      out += s.substr(i, n);
    i += n;
  }
  return out;
}

// The inside of a label set, `a="x",b="y"`, values escaped.
using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;
std::string labels(Labels ls) {
  std::string out;
  for (const auto& [k, v] : ls) out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", k, escape(v));
  return out;
}

class Writer {
 public:
  // HELP and TYPE of a family. Its samples must follow before the next
  // family() call: the text format does not allow interleaving.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, std::string_view ls, uint64_t v) { line(name, "", ls, num(v)); }
  void sample(std::string_view name, std::string_view ls, double v) { line(name, "", ls, num(v)); }

  // One histogram series. Buckets are clamped to count so they never exceed
  // +Inf, even if a row's count and its histogram ever disagreed.
  void histogram(std::string_view name, std::string_view ls, const Histogram& h, uint64_t count,
                 double sum_s) {
    const std::string sep = ls.empty() ? "" : ",";
    for (const Edge& e : kEdges)
      line(name, "_bucket", fmt::format("{}{}le=\"{}\"", ls, sep, e.le),
           num(std::min(h.count_le(e.ns), count)));
    line(name, "_bucket", fmt::format("{}{}le=\"+Inf\"", ls, sep), num(count));
    line(name, "_sum", ls, num(sum_s));
    line(name, "_count", ls, num(count));
  }

  std::string take() { return std::move(out_); }

 private:
  void line(std::string_view name, std::string_view suffix, std::string_view ls, std::string_view v) {
    if (ls.empty())
      fmt::format_to(std::back_inserter(out_), "{}{} {}\n", name, suffix, v);
    else
      fmt::format_to(std::back_inserter(out_), "{}{}{{{}}} {}\n", name, suffix, ls, v);
  }
  std::string out_;
};

// Series in first-seen order, one per distinct label set.
template <typename S>
class SeriesSet {
 public:
  S& at(const std::string& ls) {
    const auto [it, fresh] = index_.try_emplace(ls, items_.size());
    if (fresh) items_.emplace_back().labels = ls;
    return items_[it->second];
  }
  const std::vector<S>& items() const { return items_; }

 private:
  std::vector<S> items_;
  std::map<std::string, size_t> index_;
};

struct IrqSeries {
  std::string labels;
  uint64_t count = 0, total_ns = 0, hits = 0, stolen_ns = 0, raise_count = 0, raise_ns = 0;
  Histogram hist;
};

struct ProcSeries {
  std::string labels;
  std::string comm;
  bool leader = false;  // comm comes from the thread whose tid == pid
  uint64_t rows = 0;
  uint64_t wakeups = 0, preemptions = 0, oncpu_ns = 0, runqueue_ns = 0, hardirq_ns = 0, softirq_ns = 0;
  uint64_t live = 0;
  Histogram sched;
};

// A family with one sample per series; value(s) gives the sample.
template <typename S, typename F>
void each(Writer& w, std::string_view name, std::string_view type, std::string_view help,
          const std::vector<S>& series, F value) {
  w.family(name, type, help);
  for (const S& s : series) w.sample(name, s.labels, value(s));
}

template <typename V>
void single(Writer& w, std::string_view name, std::string_view type, std::string_view help, V v) {
  w.family(name, type, help);
  w.sample(name, "", v);
}

// The families hardirqs and softirqs share; kind is "hardirq" or "softirq".
void irq_families(Writer& w, std::string_view kind, std::string_view what, const std::vector<IrqSeries>& v) {
  const std::string duration = fmt::format("irqlat_{}_duration_seconds", kind);
  w.family(duration, "histogram", fmt::format("{} handler self time.", what));
  for (const IrqSeries& s : v) w.histogram(duration, s.labels, s.hist, s.count, seconds(s.total_ns));
  each(w, fmt::format("irqlat_{}_target_hits_total", kind), "counter",
       fmt::format("Times a {} ran while a target thread was on CPU.", kind), v,
       [](const IrqSeries& s) { return s.hits; });
  each(w, fmt::format("irqlat_{}_target_stolen_seconds_total", kind), "counter",
       fmt::format("CPU time {}s took from target threads.", kind), v,
       [](const IrqSeries& s) { return seconds(s.stolen_ns); });
}

void hardirqs(Writer& w, const Report& r) {
  SeriesSet<IrqSeries> set;
  for (const HardirqRow& row : r.hardirqs) {
    if (!row.cpu) continue;  // a total over CPUs: the per-CPU rows already hold it
    // x86 vectors have no IRQ number: an empty irq label, told apart by name.
    IrqSeries& s = set.at(labels({{"irq", row.irq ? std::to_string(*row.irq) : ""},
                                  {"name", row.name},
                                  {"cpu", std::to_string(*row.cpu)}}));
    s.count += row.count, s.total_ns += row.total_ns, s.hits += row.target_hits;
    s.stolen_ns += row.target_stolen_ns;
    s.hist.merge(row.hist);
  }
  irq_families(w, "hardirq", "Hardirq and x86 vector", set.items());
}

void softirqs(Writer& w, const Report& r) {
  SeriesSet<IrqSeries> set;
  for (const SoftirqRow& row : r.softirqs) {
    if (!row.cpu) continue;  // total row, as for hardirqs
    IrqSeries& s = set.at(labels({{"vector", row.vector}, {"cpu", std::to_string(*row.cpu)}}));
    s.count += row.count, s.total_ns += row.total_ns, s.hits += row.target_hits;
    s.stolen_ns += row.target_stolen_ns;
    s.raise_count += row.raise_wait_count, s.raise_ns += row.raise_wait_total_ns;
    s.hist.merge(row.hist);
  }
  const auto& v = set.items();
  irq_families(w, "softirq", "Softirq", v);
  each(w, "irqlat_softirq_raise_wait_seconds_total", "counter", "Time from softirq raise to handler entry.",
       v, [](const IrqSeries& s) { return seconds(s.raise_ns); });
  each(w, "irqlat_softirq_raise_total", "counter", "Softirq raises whose wait was measured.", v,
       [](const IrqSeries& s) { return s.raise_count; });
}

// Per process rather than per thread: thread ids churn, and per-thread
// series would grow without bound in a long-running daemon.
void threads(Writer& w, const Report& r) {
  std::map<int, ProcSeries> by_pid;
  for (const ThreadRow& t : r.threads) {
    ProcSeries& p = by_pid[t.pid];
    // The main thread names the process; failing that, its first row.
    if (t.tid == t.pid || (!p.leader && p.rows == 0)) p.comm = t.comm;
    p.leader = p.leader || t.tid == t.pid;
    p.rows++;
    p.wakeups += t.wakeups, p.preemptions += t.preemptions, p.oncpu_ns += t.oncpu_ns;
    p.runqueue_ns += t.runqueue_ns, p.hardirq_ns += t.hardirq_ns, p.softirq_ns += t.softirq_ns;
    p.live += !t.exited && !t.detached;
    p.sched.merge(t.sched);
  }
  std::vector<ProcSeries> v;
  for (auto& [pid, p] : by_pid) {
    p.labels = labels({{"pid", std::to_string(pid)}, {"comm", p.comm}});
    v.push_back(std::move(p));
  }
  w.family("irqlat_target_sched_latency_seconds", "histogram", "Target threads' wakeup to on-CPU latency.");
  for (const ProcSeries& p : v)
    w.histogram("irqlat_target_sched_latency_seconds", p.labels, p.sched, p.sched.count(),
                seconds(p.sched.sum()));
  each(w, "irqlat_target_wakeups_total", "counter", "Wakeups of target threads from a blocked state.", v,
       [](const ProcSeries& p) { return p.wakeups; });
  each(w, "irqlat_target_preemptions_total", "counter", "Involuntary switch-outs of target threads.", v,
       [](const ProcSeries& p) { return p.preemptions; });
  each(w, "irqlat_target_oncpu_seconds_total", "counter", "Target threads' time on CPU, interrupts included.",
       v, [](const ProcSeries& p) { return seconds(p.oncpu_ns); });
  each(w, "irqlat_target_runqueue_seconds_total", "counter",
       "Target threads' time runnable, waiting for a CPU.", v,
       [](const ProcSeries& p) { return seconds(p.runqueue_ns); });
  each(w, "irqlat_target_hardirq_seconds_total", "counter", "Target threads' on-CPU time lost to hardirqs.",
       v, [](const ProcSeries& p) { return seconds(p.hardirq_ns); });
  each(w, "irqlat_target_softirq_seconds_total", "counter", "Target threads' on-CPU time lost to softirqs.",
       v, [](const ProcSeries& p) { return seconds(p.softirq_ns); });
  each(w, "irqlat_target_threads", "gauge", "Target threads still traced (not exited, not detached).", v,
       [](const ProcSeries& p) { return p.live; });
}

void targets(Writer& w, const DaemonStatus& d) {
  // start_time is in the label set: a reused pid is a new target. A target
  // listed twice is one series, and counted once by state.
  w.family("irqlat_target_info", "gauge", "Targets the daemon was told to attach (always 1).");
  std::set<std::string> seen;
  std::map<std::string, uint64_t> states{{"attached", 0}, {"detached", 0}, {"exited", 0}};
  for (const DaemonTarget& t : d.targets) {
    const std::string ls = labels({{"pid", std::to_string(t.pid)},
                                   {"comm", t.comm},
                                   {"state", t.state},
                                   {"start_time", std::to_string(t.start_time)}});
    if (!seen.insert(ls).second) continue;
    w.sample("irqlat_target_info", ls, uint64_t{1});
    states[t.state]++;
  }
  w.family("irqlat_targets", "gauge", "Targets by state.");
  for (const auto& [state, n] : states) w.sample("irqlat_targets", labels({{"state", state}}), n);
}

void windows(Writer& w, const Report& r) {
  const auto& by_pid = r.windows.by_pid;
  w.family("irqlat_window_delay_seconds", "histogram", "Cancellation window delay, cancel to done.");
  for (const auto& [pid, pw] : by_pid)
    w.histogram("irqlat_window_delay_seconds", labels({{"pid", std::to_string(pid)}}), pw.delay,
                pw.delay.count(), seconds(pw.delay.sum()));
  w.family("irqlat_window_breakdown_seconds_total", "counter",
           "Finished windows' delay by where the time went.");
  for (const auto& [pid, pw] : by_pid) {
    const std::pair<const char*, uint64_t> parts[] = {{"running", pw.running_ns},
                                                      {"runqueue", pw.runqueue_ns},
                                                      {"hardirq", pw.hardirq_ns},
                                                      {"softirq", pw.softirq_ns},
                                                      {"blocked", pw.blocked_ns}};
    for (const auto& [part, ns] : parts)
      w.sample("irqlat_window_breakdown_seconds_total",
               labels({{"pid", std::to_string(pid)}, {"part", part}}), seconds(ns));
  }
  w.family("irqlat_windows_unfinished_total", "counter", "Windows that never saw a done event.");
  for (const auto& [pid, pw] : by_pid)
    w.sample("irqlat_windows_unfinished_total", labels({{"pid", std::to_string(pid)}}), pw.unfinished);
  single(w, "irqlat_windows_orphan_done_total", "counter", "Done events with no open window (ignored).",
         r.windows.orphan_done);
}

// What the tables may be missing, from the report: interrupts without a
// matching entry or exit, device interrupts /proc/interrupts counted and
// irqlat did not, rare vectors counted before their programs were attached.
void irq_losses(Writer& w, const Report& r) {
  single(w, "irqlat_irq_unmatched_total", "counter",
         "Interrupt exits without an entry and entries whose exit was never seen.", r.events.irq_unmatched);
  w.family("irqlat_irq_unseen_total", "counter",
           "Device interrupts /proc/interrupts counted beyond the traced counts (per IRQ and CPU, a lower bound).");
  if (r.events.irq_unseen) w.sample("irqlat_irq_unseen_total", "", *r.events.irq_unseen);
  w.family("irqlat_untimed_vector_interrupts_total", "counter",
           "Rare x86 vector interrupts counted from /proc/interrupts before their programs were attached.");
  for (const auto& [name, n] : r.untimed_vectors)
    w.sample("irqlat_untimed_vector_interrupts_total", labels({{"name", name}}), n);
}

void self(Writer& w, const Report& r, const DaemonStatus& d) {
  single(w, "irqlat_events_received_total", "counter", "Ring-buffer records consumed.", d.received);
  single(w, "irqlat_events_dropped_total", "counter", "Ring-buffer reservations that failed in the kernel.",
         d.dropped);
  single(w, "irqlat_events_late_total", "counter", "Records older than what was already released.", d.late);
  single(w, "irqlat_events_missed_total", "counter", "BPF program runs the kernel skipped.", d.missed);
  single(w, "irqlat_kernel_irq_events_total", "counter", "Interrupts aggregated in the kernel.",
         d.kernel_irq_events);
  irq_losses(w, r);

  w.family("irqlat_process_cpu_seconds_total", "counter", "CPU time of the daemon itself.");
  w.sample("irqlat_process_cpu_seconds_total", labels({{"mode", "user"}}), d.cpu_user_s);
  w.sample("irqlat_process_cpu_seconds_total", labels({{"mode", "system"}}), d.cpu_system_s);
  single(w, "irqlat_process_resident_memory_bytes", "gauge", "Resident memory of the daemon.", d.rss_bytes);
  single(w, "irqlat_process_start_time_seconds", "gauge", "Daemon start time, seconds since the Unix epoch.",
         d.start_unix_s);
  single(w, "irqlat_uptime_seconds", "gauge", "Seconds since the daemon started.",
         seconds(d.now_ns > d.start_ns ? d.now_ns - d.start_ns : 0));

  single(w, "irqlat_bpf_stats_enabled", "gauge", "1 if kernel BPF run-time statistics are on.",
         uint64_t{d.bpf_stats});
  std::map<std::string, ProgStats> progs;  // by name, so a name is one series
  for (const ProgStats& p : d.programs) {
    ProgStats& s = progs[p.name];
    s.run_cnt += p.run_cnt, s.run_time_ns += p.run_time_ns, s.recursion_misses += p.recursion_misses;
  }
  w.family("irqlat_bpf_program_runs_total", "counter", "BPF program runs (counted while BPF stats are on).");
  for (const auto& [name, p] : progs)
    w.sample("irqlat_bpf_program_runs_total", labels({{"program", name}}), p.run_cnt);
  w.family("irqlat_bpf_program_run_seconds_total", "counter",
           "BPF program run time (while BPF stats are on).");
  for (const auto& [name, p] : progs)
    w.sample("irqlat_bpf_program_run_seconds_total", labels({{"program", name}}), seconds(p.run_time_ns));
  w.family("irqlat_bpf_program_recursion_misses_total", "counter",
           "BPF program runs skipped because it was already active on that CPU.");
  for (const auto& [name, p] : progs)
    w.sample("irqlat_bpf_program_recursion_misses_total", labels({{"program", name}}), p.recursion_misses);

  single(w, "irqlat_control_clients", "gauge", "Control clients connected now.", d.clients);
  single(w, "irqlat_control_requests_total", "counter", "Control requests answered.", d.requests);
  single(w, "irqlat_control_request_errors_total", "counter", "Control requests answered with an error.",
         d.bad_requests);
  single(w, "irqlat_scrapes_total", "counter", "Metrics requests served.", d.scrapes);
  w.family("irqlat_build_info", "gauge", "Daemon version and BPF attach mode (always 1).");
  w.sample("irqlat_build_info", labels({{"version", d.version}, {"attach_mode", d.attach_mode}}),
           uint64_t{1});
}

}  // namespace

std::string render_metrics(const Report& r, const DaemonStatus& d) {
  Writer w;
  hardirqs(w, r);
  softirqs(w, r);
  threads(w, r);
  targets(w, d);
  windows(w, r);
  self(w, r, d);
  return w.take();
}

}  // namespace irqlat
