// CSV: one section per table. Each section is a "# name" line, a header
// line naming the columns, then one line per row; a blank line separates
// sections. Absent values (irq/cpu null) are empty fields. Fields with ',',
// '"' or line breaks are quoted per RFC 4180.
#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "format.h"

namespace irqlat {

namespace {

std::string field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

template <typename T>
std::string field(const std::optional<T>& v) {
  return v ? std::to_string(*v) : std::string();
}
std::string field(uint64_t v) { return std::to_string(v); }
std::string field(int v) { return std::to_string(v); }
std::string field(bool v) { return v ? "1" : "0"; }

template <typename... T>
void row(std::ostream& out, const T&... values) {
  bool first = true;
  ((out << (first ? "" : ",") << field(values), first = false), ...);
  out << '\n';
}

std::string join_named(const std::vector<NamedNs>& v) {
  std::string s;
  for (const auto& n : v) s += fmt::format("{}{}={}", s.empty() ? "" : ";", n.name, n.ns);
  return s;
}

std::string join_preemptors(const std::vector<Preemptor>& v) {
  std::string s;
  for (const auto& p : v) s += fmt::format("{}{}/{}={}", s.empty() ? "" : ";", p.comm, p.tid, p.ns);  // by thread
  return s;
}

void window_rows(std::ostream& out, const std::vector<WindowRow>& rows, bool unfinished) {
  out << "pid,tid,start_ns,end_ns,delay_ns,running_ns,runqueue_ns,hardirq_ns,softirq_ns,"
         "blocked_ns,irqs,softirq_vectors,preempted_by";
  out << (unfinished ? ",reason\n" : "\n");
  std::vector<const WindowRow*> sorted;
  for (const auto& w : rows) sorted.push_back(&w);
  std::stable_sort(sorted.begin(), sorted.end(), [](const WindowRow* a, const WindowRow* b) {
    return a->start_ns < b->start_ns;
  });
  for (const WindowRow* w : sorted) {
    out << fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}", w->pid, w->tid, w->start_ns,
                       w->end_ns, w->delay_ns, w->running_ns, w->runqueue_ns, w->hardirq_ns,
                       w->softirq_ns, w->blocked_ns, field(join_named(w->irqs)),
                       field(join_named(w->softirq_vectors)),
                       field(join_preemptors(w->preempted_by)));
    if (unfinished) out << ',' << field(w->reason);
    out << '\n';
  }
}

}  // namespace

void write_csv(std::ostream& out, const Report& r) {
  out << "# summary\n";
  out << "version,kernel,cpus,start_ns,end_ns,events_received,events_dropped,events_late,"
         "kernel_irq_events,irq_unmatched,missed,malformed,lossy,interval,targets_exited,irq_unseen\n";
  row(out, r.version, r.kernel, r.cpus, r.start_ns, r.end_ns, r.events.received,
      r.events.dropped, r.events.late, r.events.kernel_irq_events, r.events.irq_unmatched,
      r.events.missed, r.events.malformed, r.lossy(), r.interval, r.targets_exited, r.events.irq_unseen);

  out << "\n# hardirqs\n";
  out << "irq,name,cpu,count,total_ns,p50_ns,p99_ns,max_ns,target_hits,target_stolen_ns,proc_count\n";
  for (const auto& h : r.hardirqs) {
    row(out, h.irq, h.name, h.cpu, h.count, h.total_ns, h.p50_ns, h.p99_ns, h.max_ns,
        h.target_hits, h.target_stolen_ns, h.proc_count);
  }

  out << "\n# softirqs\n";
  out << "vector,cpu,count,total_ns,p50_ns,p99_ns,max_ns,target_hits,target_stolen_ns,"
         "raise_wait_count,raise_wait_total_ns,raise_wait_max_ns\n";
  for (const auto& s : r.softirqs) {
    row(out, s.vector, s.cpu, s.count, s.total_ns, s.p50_ns, s.p99_ns, s.max_ns, s.target_hits,
        s.target_stolen_ns, s.raise_wait_count, s.raise_wait_total_ns, s.raise_wait_max_ns);
  }

  out << "\n# threads\n";
  out << "pid,tid,comm,wakeups,sched_p50_ns,sched_p99_ns,sched_max_ns,preemptions,oncpu_ns,"
         "runqueue_ns,hardirq_ns,softirq_ns,exited,detached\n";
  for (const auto& t : r.threads) {
    row(out, t.pid, t.tid, t.comm, t.wakeups, t.sched_p50_ns, t.sched_p99_ns, t.sched_max_ns,
        t.preemptions, t.oncpu_ns, t.runqueue_ns, t.hardirq_ns, t.softirq_ns, t.exited,
        t.detached);
  }

  const WindowSummary& ws = r.windows;
  out << "\n# windows\n";
  out << "enabled,cancel,done,count,unfinished,p50_ns,p90_ns,p99_ns,max_ns,listed,list_cap,"
         "orphan_done\n";
  row(out, r.windows_enabled, r.cancel_spec, r.done_spec, ws.count, ws.unfinished, ws.p50_ns,
      ws.p90_ns, ws.p99_ns, ws.max_ns, static_cast<uint64_t>(ws.list.size()), ws.list_cap,
      ws.orphan_done);

  out << "\n# window_samples\n";
  window_rows(out, ws.list, false);

  out << "\n# unfinished_windows\n";
  window_rows(out, ws.unfinished_list, true);
}

}  // namespace irqlat
