// Tables for people: a header (kernel, CPUs, duration, events), then
// hardirqs, softirqs, target threads and cancellation windows. Every table
// title names the events received/dropped, and lossy data is flagged loudly
// under the header and under every title.
#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "format.h"
#include "parse.h"

namespace irqlat {

namespace {

// Display width of UTF-8 text (code points; good enough for comm/IRQ names).
size_t width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// An aligned text table; rows may carry detail lines printed under them.
class Table {
 public:
  struct Col {
    std::string head;
    bool right;  // numbers right-aligned, names left-aligned
  };
  explicit Table(std::vector<Col> cols) : cols_(std::move(cols)) {}

  void add(std::vector<std::string> cells, std::vector<std::string> details = {}) {
    cells.resize(cols_.size());
    rows_.push_back({std::move(cells), std::move(details)});
  }
  bool empty() const { return rows_.empty(); }

  void print(std::ostream& out, const std::string& indent, bool header = true) const {
    std::vector<size_t> w(cols_.size());
    for (size_t c = 0; c < cols_.size(); ++c) {
      w[c] = width(cols_[c].head);
      for (const auto& r : rows_) w[c] = std::max(w[c], width(r.cells[c]));
    }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s = indent;
      for (size_t c = 0; c < cols_.size(); ++c) {
        const size_t pad = w[c] - width(cells[c]);
        if (c > 0) s += "  ";
        if (cols_[c].right) s.append(pad, ' ');
        s += cells[c];
        if (!cols_[c].right && c + 1 < cols_.size()) s.append(pad, ' ');
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      out << s << '\n';
    };
    std::vector<std::string> heads;
    for (const auto& c : cols_) heads.push_back(c.head);
    if (header) line(heads);
    for (const auto& r : rows_) {
      line(r.cells);
      for (const auto& d : r.details) out << indent << "    " << d << '\n';
    }
  }

 private:
  struct Row {
    std::vector<std::string> cells;
    std::vector<std::string> details;
  };
  std::vector<Col> cols_;
  std::vector<Row> rows_;
};

std::string num(uint64_t v) { return std::to_string(v); }
std::string dur(uint64_t ns) { return format_ns(ns); }

std::string percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

std::string events_note(const Report& r) {
  std::string s = fmt::format("[events: {} received, {} dropped", r.events.received,
                              r.events.dropped);
  if (r.events.late > 0) s += fmt::format(", {} late", r.events.late);
  return s + "]";
}

// One loud line whenever the data is lossy: under the header and under every
// table title.
void warnings(std::ostream& out, const Report& r) {
  const EventCounts& e = r.events;
  std::vector<std::string> parts;
  if (e.dropped > 0) parts.push_back(fmt::format("{} events dropped", e.dropped));
  if (e.late > 0) parts.push_back(fmt::format("{} late", e.late));
  if (e.missed > 0) parts.push_back(fmt::format("{} program runs skipped by the kernel", e.missed));
  if (e.malformed > 0) parts.push_back(fmt::format("{} malformed records", e.malformed));
  if (parts.empty()) return;
  std::string joined = parts[0];
  for (size_t i = 1; i < parts.size(); i++) joined += ", " + parts[i];
  out << "WARNING: " << joined << " — tables are incomplete\n";
}

// "NAME  [events: ...]" or, for an empty table, "NAME: note  [events: ...]".
void title(std::ostream& out, const Report& r, const std::string& name,
           const std::string& empty_note = {}) {
  out << '\n' << name;
  if (!empty_note.empty()) out << ": " << empty_note;
  out << "  " << events_note(r) << '\n';
  warnings(out, r);
}

std::string rel_time(const Report& r, uint64_t t) {
  if (t >= r.start_ns && r.start_ns != 0) return "+" + format_ns(t - r.start_ns);
  return fmt::format("{}.{:09}s", t / 1'000'000'000ULL, t % 1'000'000'000ULL);
}

// Groups rows that share a key: the all-CPU total row, then per-CPU rows.
template <typename Row>
struct Group {
  const Row* total = nullptr;
  std::vector<const Row*> per_cpu;
  uint64_t total_ns() const {
    if (total) return total->total_ns;
    uint64_t s = 0;
    for (const Row* r : per_cpu) s += r->total_ns;
    return s;
  }
  uint64_t count() const {
    if (total) return total->count;
    uint64_t s = 0;
    for (const Row* r : per_cpu) s += r->count;
    return s;
  }
};

template <typename Row, typename Key, typename KeyFn>
std::vector<std::pair<Key, Group<Row>>> group_rows(const std::vector<Row>& rows, KeyFn key) {
  std::map<Key, Group<Row>> groups;
  for (const Row& row : rows) {
    auto& g = groups[key(row)];
    if (!row.cpu) g.total = &row;
    else g.per_cpu.push_back(&row);
  }
  std::vector<std::pair<Key, Group<Row>>> out(groups.begin(), groups.end());
  for (auto& [k, g] : out) {
    std::stable_sort(g.per_cpu.begin(), g.per_cpu.end(),
                     [](const Row* a, const Row* b) { return *a->cpu < *b->cpu; });
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.total_ns() > b.second.total_ns();
  });
  return out;
}

void hardirq_table(std::ostream& out, const Report& r, const TableOptions& opts) {
  const std::string name = "HARDWARE INTERRUPTS";
  if (r.hardirqs.empty()) return title(out, r, name, "none recorded");
  using Key = std::tuple<int, std::string>;  // irq (-1 for vectors), name
  auto groups = group_rows<HardirqRow, Key>(r.hardirqs, [](const HardirqRow& h) {
    return Key{h.irq.value_or(-1), h.name};
  });
  Table t({{"IRQ", true},
           {"NAME", false},
           {"CPU", true},
           {"COUNT", true},
           {"TOTAL", true},
           {"P50", true},
           {"P99", true},
           {"MAX", true},
           {"TGT HITS", true},
           {"TGT STOLEN", true}});
  size_t idle = 0;
  for (const auto& [key, g] : groups) {
    if (g.count() == 0 && !opts.show_idle_irqs) {
      ++idle;
      continue;
    }
    const HardirqRow* first = g.total ? g.total : g.per_cpu.front();
    const std::string irq = first->irq ? std::to_string(*first->irq) : "-";
    bool named = false;
    auto add = [&](const HardirqRow& h) {
      t.add({named ? "" : irq, named ? "" : h.name, h.cpu ? std::to_string(*h.cpu) : "all",
             num(h.count), dur(h.total_ns), dur(h.p50_ns), dur(h.p99_ns), dur(h.max_ns),
             num(h.target_hits), dur(h.target_stolen_ns)});
      named = true;
    };
    if (g.total) add(*g.total);
    for (const HardirqRow* h : g.per_cpu) {
      if (h->count > 0 || opts.show_idle_irqs) add(*h);
    }
  }
  if (t.empty()) return title(out, r, name, fmt::format("none fired ({} idle)", idle));
  title(out, r, name);
  t.print(out, "  ");
  if (idle > 0) out << fmt::format("  ({} IRQ{} with no events not shown)\n", idle, idle == 1 ? "" : "s");
}

void softirq_table(std::ostream& out, const Report& r, const TableOptions& opts) {
  const std::string name = "SOFTIRQS";
  if (r.softirqs.empty()) return title(out, r, name, "none recorded");
  auto groups = group_rows<SoftirqRow, std::string>(
      r.softirqs, [](const SoftirqRow& s) { return s.vector; });
  const bool waits = std::any_of(r.softirqs.begin(), r.softirqs.end(),
                                 [](const SoftirqRow& s) { return s.raise_wait_count > 0; });
  std::vector<Table::Col> cols = {{"VECTOR", false}, {"CPU", true},      {"COUNT", true},
                                  {"TOTAL", true},   {"P50", true},      {"P99", true},
                                  {"MAX", true},     {"TGT HITS", true}, {"TGT STOLEN", true}};
  if (waits) {
    cols.push_back({"RAISE WAIT AVG", true});
    cols.push_back({"RAISE WAIT MAX", true});
  }
  Table t(cols);
  size_t idle = 0;
  for (const auto& [key, g] : groups) {
    if (g.count() == 0 && !opts.show_idle_irqs) {
      ++idle;
      continue;
    }
    bool named = false;
    auto add = [&](const SoftirqRow& s) {
      std::vector<std::string> cells = {named ? "" : s.vector,
                                        s.cpu ? std::to_string(*s.cpu) : "all",
                                        num(s.count),
                                        dur(s.total_ns),
                                        dur(s.p50_ns),
                                        dur(s.p99_ns),
                                        dur(s.max_ns),
                                        num(s.target_hits),
                                        dur(s.target_stolen_ns)};
      if (waits) {
        cells.push_back(s.raise_wait_count ? dur(s.raise_wait_total_ns / s.raise_wait_count)
                                           : "-");
        cells.push_back(s.raise_wait_count ? dur(s.raise_wait_max_ns) : "-");
      }
      t.add(std::move(cells));
      named = true;
    };
    if (g.total) add(*g.total);
    for (const SoftirqRow* s : g.per_cpu) {
      if (s->count > 0 || opts.show_idle_irqs) add(*s);
    }
  }
  if (t.empty()) return title(out, r, name, "none ran");
  title(out, r, name);
  t.print(out, "  ");
  if (idle > 0) out << fmt::format("  ({} vector{} with no events not shown)\n", idle, idle == 1 ? "" : "s");
}

void thread_table(std::ostream& out, const Report& r) {
  const std::string name = "TARGET THREADS";
  if (r.threads.empty()) return title(out, r, name, "no target threads");
  std::vector<const ThreadRow*> rows;
  for (const auto& t : r.threads) rows.push_back(&t);
  std::stable_sort(rows.begin(), rows.end(), [](const ThreadRow* a, const ThreadRow* b) {
    return std::tie(a->pid, a->tid) < std::tie(b->pid, b->tid);
  });
  Table t({{"PID", true},
           {"TID", true},
           {"COMM", false},
           {"WAKEUPS", true},
           {"SCHED P50", true},
           {"SCHED P99", true},
           {"SCHED MAX", true},
           {"PREEMPT", true},
           {"ON-CPU", true},
           {"RUNQUEUE", true},
           {"HARDIRQ", true},
           {"SOFTIRQ", true},
           {"STATE", false}});
  for (const ThreadRow* th : rows) {
    t.add({std::to_string(th->pid), std::to_string(th->tid), th->comm, num(th->wakeups),
           dur(th->sched_p50_ns), dur(th->sched_p99_ns), dur(th->sched_max_ns),
           num(th->preemptions), dur(th->oncpu_ns), dur(th->runqueue_ns), dur(th->hardirq_ns),
           dur(th->softirq_ns), th->exited ? "exited" : th->detached ? "detached" : ""});
  }
  title(out, r, name);
  t.print(out, "  ");
  if (r.targets_exited > 0) {
    out << fmt::format("  {} target thread(s) exited during the trace; their rows are kept\n",
                       r.targets_exited);
  }
}

std::string named_list(const std::vector<NamedNs>& v, int top) {
  std::string s;
  int n = 0;
  for (const auto& x : v) {
    if (n == top) {
      s += fmt::format(", +{} more", v.size() - static_cast<size_t>(top));
      break;
    }
    s += fmt::format("{}{} {}", n ? ", " : "", x.name, format_ns(x.ns));
    ++n;
  }
  return s;
}

std::string preemptor_list(const std::vector<Preemptor>& v, int top) {
  std::string s;
  int n = 0;
  for (const auto& p : v) {
    if (n == top) {
      s += fmt::format(", +{} more", v.size() - static_cast<size_t>(top));
      break;
    }
    // By thread: several threads of one process can each hold the CPU.
    const std::string who = p.tid == 0 ? std::string("idle") : fmt::format("{}/{}", p.comm, p.tid);
    s += fmt::format("{}{} {}", n ? ", " : "", who, format_ns(p.ns));
    ++n;
  }
  return s;
}

void window_section(std::ostream& out, const Report& r, const TableOptions& opts) {
  const std::string base = "CANCELLATION WINDOWS";
  const WindowSummary& ws = r.windows;
  if (!r.windows_enabled && ws.count == 0 && ws.unfinished == 0) {
    return title(out, r, base, "not enabled (use --cancel SPEC and --done SPEC)");
  }
  const std::string name =
      r.cancel_spec.empty() ? base
                            : fmt::format("{} (cancel {}, done {})", base, r.cancel_spec,
                                          r.done_spec.empty() ? "?" : r.done_spec);
  if (ws.count == 0 && ws.unfinished == 0) {
    std::string note = "none observed";
    if (ws.orphan_done > 0) {
      note += fmt::format(" ({} done events without a cancel)", ws.orphan_done);
    }
    return title(out, r, name, note);
  }
  title(out, r, name);
  out << fmt::format("  windows: {} finished, {} unfinished", ws.count, ws.unfinished);
  if (ws.orphan_done > 0) out << fmt::format(", {} done events without a cancel", ws.orphan_done);
  out << '\n';

  if (ws.count > 0) {
    out << fmt::format("  delay:   p50 {}  p90 {}  p99 {}  max {}\n", format_ns(ws.p50_ns),
                       format_ns(ws.p90_ns), format_ns(ws.p99_ns), format_ns(ws.max_ns));
  }
  if (ws.list.empty() && ws.count > 0) {
    out << fmt::format("  (no windows listed: --max-windows {}; the breakdown and worst windows need a list)\n",
                       ws.list_cap);
  }
  if (!ws.list.empty()) {
    uint64_t delay = 0, running = 0, runq = 0, hard = 0, soft = 0, blocked = 0;
    for (const auto& w : ws.list) {
      delay += w.delay_ns;
      running += w.running_ns;
      runq += w.runqueue_ns;
      hard += w.hardirq_ns;
      soft += w.softirq_ns;
      blocked += w.blocked_ns;
    }
    const uint64_t n = ws.list.size();
    out << fmt::format("  mean delay {}, of which:\n", format_ns(delay / n));
    Table t({{"", false}, {"", true}, {"", true}});
    t.add({"    running", format_ns(running / n), percent(running, delay)});
    t.add({"    runqueue", format_ns(runq / n), percent(runq, delay)});
    t.add({"    hardirq", format_ns(hard / n), percent(hard, delay)});
    t.add({"    softirq", format_ns(soft / n), percent(soft, delay)});
    t.add({"    blocked", format_ns(blocked / n), percent(blocked, delay)});
    t.print(out, "", false);
    if (ws.count > ws.list.size()) {
      out << fmt::format(
          "  (windows.list capped at {} of {} samples: mean and worst windows cover those; "
          "raise with --max-windows)\n",
          ws.list.size(), ws.count);
    }

    std::vector<const WindowRow*> worst;
    for (const auto& w : ws.list) worst.push_back(&w);
    std::stable_sort(worst.begin(), worst.end(), [](const WindowRow* a, const WindowRow* b) {
      return a->delay_ns > b->delay_ns;
    });
    const size_t top = std::min(worst.size(), static_cast<size_t>(std::max(opts.top, 1)));
    out << fmt::format("\n  worst {} window{}:\n", top, top == 1 ? "" : "s");
    Table wt({{"#", true},
              {"PID", true},
              {"TID", true},
              {"START", true},
              {"DELAY", true},
              {"RUNNING", true},
              {"RUNQUEUE", true},
              {"HARDIRQ", true},
              {"SOFTIRQ", true},
              {"BLOCKED", true}});
    for (size_t i = 0; i < top; ++i) {
      const WindowRow& w = *worst[i];
      std::vector<std::string> details;
      if (!w.irqs.empty()) details.push_back("irqs: " + named_list(w.irqs, opts.top_causes));
      if (!w.softirq_vectors.empty()) {
        details.push_back("softirqs: " + named_list(w.softirq_vectors, opts.top_causes));
      }
      if (!w.preempted_by.empty()) {
        details.push_back("preempted by: " + preemptor_list(w.preempted_by, opts.top_causes));
      }
      auto cell = [&](uint64_t part) {
        return fmt::format("{} {:>3}", format_ns(part),
                           w.delay_ns ? fmt::format("{}%", (part * 100 + w.delay_ns / 2) /
                                                               w.delay_ns)
                                      : std::string("-"));
      };
      wt.add({std::to_string(i + 1), std::to_string(w.pid), std::to_string(w.tid),
              rel_time(r, w.start_ns), format_ns(w.delay_ns), cell(w.running_ns),
              cell(w.runqueue_ns), cell(w.hardirq_ns), cell(w.softirq_ns), cell(w.blocked_ns)},
             std::move(details));
    }
    wt.print(out, "  ");
  }

  if (ws.unfinished > 0 || !ws.unfinished_list.empty()) {
    out << fmt::format("\n  unfinished windows ({}): a cancellation that never completed\n",
                       std::max<uint64_t>(ws.unfinished, ws.unfinished_list.size()));
    std::vector<const WindowRow*> rows;
    for (const auto& w : ws.unfinished_list) rows.push_back(&w);
    std::stable_sort(rows.begin(), rows.end(), [](const WindowRow* a, const WindowRow* b) {
      return a->start_ns < b->start_ns;
    });
    Table ut({{"PID", true}, {"TID", true}, {"START", true}, {"OPEN FOR", true}, {"REASON", false}});
    for (const WindowRow* w : rows) {
      ut.add({std::to_string(w->pid), w->tid ? std::to_string(w->tid) : "-",
              rel_time(r, w->start_ns),
              format_ns(w->end_ns >= w->start_ns ? w->end_ns - w->start_ns : 0),
              w->reason.empty() ? "unknown" : w->reason});
    }
    if (!ut.empty()) ut.print(out, "  ");
    if (ws.unfinished > ws.unfinished_list.size()) {
      out << fmt::format("  ({} more not listed)\n", ws.unfinished - ws.unfinished_list.size());
    }
  }
}

}  // namespace

void write_table(std::ostream& out, const Report& r, const TableOptions& opts) {
  const uint64_t duration = r.end_ns >= r.start_ns ? r.end_ns - r.start_ns : 0;
  out << fmt::format("irqlat{}: kernel {}, {} CPU{}, {} traced\n",
                     r.interval ? " (interval)" : "", r.kernel.empty() ? "?" : r.kernel, r.cpus,
                     r.cpus == 1 ? "" : "s", format_ns(duration));
  out << fmt::format("events: {} received, {} dropped", r.events.received, r.events.dropped);
  if (r.events.late > 0) {
    out << fmt::format(", {} late (arrived after their time was already released)", r.events.late);
  }
  if (r.events.kernel_irq_events > 0) {
    out << fmt::format("; {} interrupts counted in the kernel", r.events.kernel_irq_events);
  }
  if (r.events.irq_unmatched > 0) {
    out << fmt::format("; {} interrupt entries or exits without their pair (ignored)", r.events.irq_unmatched);
  }
  out << '\n';
  for (const auto& [name, n] : r.untimed_vectors)
    out << fmt::format("untimed: {} {} interrupt(s) before its programs were attached (counted from "
                       "/proc/interrupts, no durations)\n", n, name);
  if (r.events.irq_unseen.value_or(0) > 0)
    out << fmt::format("unseen: /proc/interrupts counted {} device interrupt(s) more than reached the "
                       "tracepoints (not in the tables)\n", *r.events.irq_unseen);
  warnings(out, r);

  hardirq_table(out, r, opts);
  softirq_table(out, r, opts);
  thread_table(out, r);
  window_section(out, r, opts);
}

}  // namespace irqlat
