#include <algorithm>

#include "format.h"
#include "format_json_writer.h"

namespace irqlat {

namespace {

using nlohmann::json;

template <typename T>
json opt_int(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json window_to_json(const WindowRow& w, bool unfinished_list) {
  json irqs = json::array();
  for (const auto& i : w.irqs) irqs.push_back({{"name", i.name}, {"ns", i.ns}});
  json vectors = json::array();
  for (const auto& v : w.softirq_vectors) vectors.push_back({{"vector", v.name}, {"ns", v.ns}});
  json preempted = json::array();
  for (const auto& p : w.preempted_by) {
    preempted.push_back({{"comm", p.comm}, {"pid", p.pid}, {"tid", p.tid}, {"ns", p.ns}});
  }
  json j = {
      {"pid", w.pid},
      {"tid", w.tid},
      {"start_ns", w.start_ns},
      {"end_ns", w.end_ns},
      {"delay_ns", w.delay_ns},
      {"running_ns", w.running_ns},
      {"runqueue_ns", w.runqueue_ns},
      {"hardirq_ns", w.hardirq_ns},
      {"softirq_ns", w.softirq_ns},
      {"blocked_ns", w.blocked_ns},
      {"irqs", std::move(irqs)},
      {"softirq_vectors", std::move(vectors)},
      {"preempted_by", std::move(preempted)},
  };
  if (unfinished_list || w.unfinished) {
    j["unfinished"] = true;
    j["reason"] = w.reason;
  }
  return j;
}

std::vector<const WindowRow*> by_start(const std::vector<WindowRow>& rows) {
  std::vector<const WindowRow*> out;
  out.reserve(rows.size());
  for (const auto& w : rows) out.push_back(&w);
  std::stable_sort(out.begin(), out.end(), [](const WindowRow* a, const WindowRow* b) {
    return a->start_ns < b->start_ns;
  });
  return out;
}

}  // namespace

json report_to_json(const Report& r) {
  json hardirqs = json::array();
  for (const auto& h : r.hardirqs) {
    hardirqs.push_back({
        {"irq", opt_int(h.irq)},
        {"name", h.name},
        {"cpu", opt_int(h.cpu)},
        {"count", h.count},
        {"total_ns", h.total_ns},
        {"p50_ns", h.p50_ns},
        {"p99_ns", h.p99_ns},
        {"max_ns", h.max_ns},
        {"target_hits", h.target_hits},
        {"target_stolen_ns", h.target_stolen_ns},
        {"proc_count", opt_int(h.proc_count)},
    });
  }

  json softirqs = json::array();
  for (const auto& s : r.softirqs) {
    softirqs.push_back({
        {"vector", s.vector},
        {"cpu", opt_int(s.cpu)},
        {"count", s.count},
        {"total_ns", s.total_ns},
        {"p50_ns", s.p50_ns},
        {"p99_ns", s.p99_ns},
        {"max_ns", s.max_ns},
        {"target_hits", s.target_hits},
        {"target_stolen_ns", s.target_stolen_ns},
        {"raise_wait_count", s.raise_wait_count},
        {"raise_wait_total_ns", s.raise_wait_total_ns},
        {"raise_wait_max_ns", s.raise_wait_max_ns},
    });
  }

  json threads = json::array();
  for (const auto& t : r.threads) {
    threads.push_back({
        {"pid", t.pid},
        {"tid", t.tid},
        {"comm", t.comm},
        {"wakeups", t.wakeups},
        {"sched_p50_ns", t.sched_p50_ns},
        {"sched_p99_ns", t.sched_p99_ns},
        {"sched_max_ns", t.sched_max_ns},
        {"oncpu_ns", t.oncpu_ns},
        {"runqueue_ns", t.runqueue_ns},
        {"hardirq_ns", t.hardirq_ns},
        {"softirq_ns", t.softirq_ns},
        {"preemptions", t.preemptions},
        {"exited", t.exited},
        {"detached", t.detached},
    });
  }

  json untimed = json::array();
  for (const auto& [name, n] : r.untimed_vectors) untimed.push_back({{"name", name}, {"count", n}});

  const WindowSummary& ws = r.windows;
  json list = json::array();
  for (const WindowRow* w : by_start(ws.list)) list.push_back(window_to_json(*w, false));
  json unfinished_list = json::array();
  for (const WindowRow* w : by_start(ws.unfinished_list)) {
    unfinished_list.push_back(window_to_json(*w, true));
  }
  json windows = {
      {"count", ws.count},
      {"unfinished", ws.unfinished},
      {"p50_ns", ws.p50_ns},
      {"p90_ns", ws.p90_ns},
      {"p99_ns", ws.p99_ns},
      {"max_ns", ws.max_ns},
      {"list", std::move(list)},
      // extras
      {"enabled", r.windows_enabled},
      {"cancel", r.cancel_spec},
      {"done", r.done_spec},
      {"list_cap", ws.list_cap},
      {"list_truncated", ws.count > ws.list.size()},
      {"orphan_done", ws.orphan_done},
      {"unfinished_list", std::move(unfinished_list)},
  };

  return json{
      {"version", r.version},
      {"kernel", r.kernel},
      {"cpus", r.cpus},
      {"start_ns", r.start_ns},
      {"end_ns", r.end_ns},
      {"events",
       {
           {"received", r.events.received},
           {"dropped", r.events.dropped},
           {"late", r.events.late},
           {"kernel_irq_events", r.events.kernel_irq_events},
           {"irq_unmatched", r.events.irq_unmatched},
           {"irq_unseen", opt_int(r.events.irq_unseen)},
           {"missed", r.events.missed},
           {"malformed", r.events.malformed},
       }},
      {"hardirqs", std::move(hardirqs)},
      {"softirqs", std::move(softirqs)},
      {"threads", std::move(threads)},
      {"windows", std::move(windows)},
      // extras
      {"duration_ns", r.end_ns >= r.start_ns ? r.end_ns - r.start_ns : 0},
      {"lossy", r.lossy()},
      {"interval", r.interval},
      {"targets_exited", r.targets_exited},
      {"untimed_vectors", untimed},
  };
}

namespace {

constexpr size_t kJsonChunk = 64 * 1024;

template <typename T>
void opt_int(JsonWriter& w, std::string_view k, const std::optional<T>& v) {
  w.key(k);
  if (v)
    w.value(*v);
  else
    w.null();
}

// window_to_json() written directly; keys in sorted order.
void write_window(JsonWriter& o, const WindowRow& w, bool unfinished_list) {
  const bool unfinished = unfinished_list || w.unfinished;
  o.begin_object();
  o.field("blocked_ns", w.blocked_ns);
  o.field("delay_ns", w.delay_ns);
  o.field("end_ns", w.end_ns);
  o.field("hardirq_ns", w.hardirq_ns);
  o.key("irqs");
  o.begin_array();
  for (const auto& i : w.irqs) {
    o.element();
    o.begin_object();
    o.field("name", i.name);
    o.field("ns", i.ns);
    o.end_object();
  }
  o.end_array();
  o.field("pid", w.pid);
  o.key("preempted_by");
  o.begin_array();
  for (const auto& p : w.preempted_by) {
    o.element();
    o.begin_object();
    o.field("comm", p.comm);
    o.field("ns", p.ns);
    o.field("pid", p.pid);
    o.field("tid", p.tid);
    o.end_object();
  }
  o.end_array();
  if (unfinished) o.field("reason", w.reason);
  o.field("running_ns", w.running_ns);
  o.field("runqueue_ns", w.runqueue_ns);
  o.field("softirq_ns", w.softirq_ns);
  o.key("softirq_vectors");
  o.begin_array();
  for (const auto& v : w.softirq_vectors) {
    o.element();
    o.begin_object();
    o.field("ns", v.ns);
    o.field("vector", v.name);
    o.end_object();
  }
  o.end_array();
  o.field("start_ns", w.start_ns);
  o.field("tid", w.tid);
  if (unfinished) o.field("unfinished", true);
  o.end_object();
}

}  // namespace

// report_to_json(r).dump(), streamed: the same bytes (checked by the unit
// tests), a fraction of the time and memory for thousands of windows.
void write_json(std::ostream& out, const Report& r, bool pretty) {
  // Written out in chunks: a document of many megabytes never sits in memory.
  std::string s;
  s.reserve(kJsonChunk + 4096);
  JsonWriter o(s, pretty ? 2 : -1, [&out](std::string& buf) {
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    buf.clear();
  });
  o.begin_object();
  o.field("cpus", r.cpus);
  o.field("duration_ns", r.end_ns >= r.start_ns ? r.end_ns - r.start_ns : uint64_t{0});
  o.field("end_ns", r.end_ns);
  o.key("events");
  o.begin_object();
  o.field("dropped", r.events.dropped);
  o.field("irq_unmatched", r.events.irq_unmatched);
  opt_int(o, "irq_unseen", r.events.irq_unseen);
  o.field("kernel_irq_events", r.events.kernel_irq_events);
  o.field("late", r.events.late);
  o.field("malformed", r.events.malformed);
  o.field("missed", r.events.missed);
  o.field("received", r.events.received);
  o.end_object();
  o.key("hardirqs");
  o.begin_array();
  for (const auto& h : r.hardirqs) {
    o.element();
    o.begin_object();
    o.field("count", h.count);
    opt_int(o, "cpu", h.cpu);
    opt_int(o, "irq", h.irq);
    o.field("max_ns", h.max_ns);
    o.field("name", h.name);
    o.field("p50_ns", h.p50_ns);
    o.field("p99_ns", h.p99_ns);
    opt_int(o, "proc_count", h.proc_count);
    o.field("target_hits", h.target_hits);
    o.field("target_stolen_ns", h.target_stolen_ns);
    o.field("total_ns", h.total_ns);
    o.end_object();
  }
  o.end_array();
  o.field("interval", r.interval);
  o.field("kernel", r.kernel);
  o.field("lossy", r.lossy());
  o.key("softirqs");
  o.begin_array();
  for (const auto& x : r.softirqs) {
    o.element();
    o.begin_object();
    o.field("count", x.count);
    opt_int(o, "cpu", x.cpu);
    o.field("max_ns", x.max_ns);
    o.field("p50_ns", x.p50_ns);
    o.field("p99_ns", x.p99_ns);
    o.field("raise_wait_count", x.raise_wait_count);
    o.field("raise_wait_max_ns", x.raise_wait_max_ns);
    o.field("raise_wait_total_ns", x.raise_wait_total_ns);
    o.field("target_hits", x.target_hits);
    o.field("target_stolen_ns", x.target_stolen_ns);
    o.field("total_ns", x.total_ns);
    o.field("vector", x.vector);
    o.end_object();
  }
  o.end_array();
  o.field("start_ns", r.start_ns);
  o.field("targets_exited", r.targets_exited);
  o.key("threads");
  o.begin_array();
  for (const auto& t : r.threads) {
    o.element();
    o.begin_object();
    o.field("comm", t.comm);
    o.field("detached", t.detached);
    o.field("exited", t.exited);
    o.field("hardirq_ns", t.hardirq_ns);
    o.field("oncpu_ns", t.oncpu_ns);
    o.field("pid", t.pid);
    o.field("preemptions", t.preemptions);
    o.field("runqueue_ns", t.runqueue_ns);
    o.field("sched_max_ns", t.sched_max_ns);
    o.field("sched_p50_ns", t.sched_p50_ns);
    o.field("sched_p99_ns", t.sched_p99_ns);
    o.field("softirq_ns", t.softirq_ns);
    o.field("tid", t.tid);
    o.field("wakeups", t.wakeups);
    o.end_object();
    o.flush_if_full(kJsonChunk);
  }
  o.end_array();
  o.key("untimed_vectors");
  o.begin_array();
  for (const auto& [name, n] : r.untimed_vectors) {
    o.element();
    o.begin_object();
    o.field("count", n);
    o.field("name", name);
    o.end_object();
  }
  o.end_array();
  o.field("version", r.version);
  const WindowSummary& ws = r.windows;
  o.key("windows");
  o.begin_object();
  o.field("cancel", r.cancel_spec);
  o.field("count", ws.count);
  o.field("done", r.done_spec);
  o.field("enabled", r.windows_enabled);
  o.key("list");
  o.begin_array();
  for (const WindowRow* w : by_start(ws.list)) {
    o.element();
    write_window(o, *w, false);
    o.flush_if_full(kJsonChunk);
  }
  o.end_array();
  o.field("list_cap", ws.list_cap);
  o.field("list_truncated", ws.count > ws.list.size());
  o.field("max_ns", ws.max_ns);
  o.field("orphan_done", ws.orphan_done);
  o.field("p50_ns", ws.p50_ns);
  o.field("p90_ns", ws.p90_ns);
  o.field("p99_ns", ws.p99_ns);
  o.field("unfinished", ws.unfinished);
  o.key("unfinished_list");
  o.begin_array();
  for (const WindowRow* w : by_start(ws.unfinished_list)) {
    o.element();
    write_window(o, *w, true);
    o.flush_if_full(kJsonChunk);
  }
  o.end_array();
  o.end_object();
  o.end_object();
  s += '\n';
  o.flush();
}

}  // namespace irqlat
