#include <algorithm>

#include "format.h"

namespace irqlat {

namespace {

using nlohmann::json;

json opt_int(const std::optional<int>& v) { return v ? json(*v) : json(nullptr); }

json window_to_json(const WindowRow& w, bool unfinished_list) {
  json irqs = json::array();
  for (const auto& i : w.irqs) irqs.push_back({{"name", i.name}, {"ns", i.ns}});
  json vectors = json::array();
  for (const auto& v : w.softirq_vectors) vectors.push_back({{"vector", v.name}, {"ns", v.ns}});
  json preempted = json::array();
  for (const auto& p : w.preempted_by) {
    preempted.push_back({{"comm", p.comm}, {"pid", p.pid}, {"ns", p.ns}});
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

void write_json(std::ostream& out, const Report& report, bool pretty) {
  // Replace invalid UTF-8 (comm and IRQ names come from the kernel) rather
  // than throw.
  out << report_to_json(report).dump(pretty ? 2 : -1, ' ', false,
                                      nlohmann::json::error_handler_t::replace)
      << '\n';
}

}  // namespace irqlat
