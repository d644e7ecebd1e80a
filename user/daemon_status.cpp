// See daemon_status.h.
#include "user/daemon_status.h"

namespace irqlat {

nlohmann::json target_json(const DaemonTarget& t) {
  return {{"pid", t.pid},
          {"comm", t.comm},
          {"exe", t.exe},
          {"state", t.state},
          {"start_time", t.start_time},
          {"cancel", t.cancel_spec},
          {"done", t.done_spec},
          {"attached_ns", t.attached_ns},
          {"ended_ns", t.ended_ns}};
}

nlohmann::json status_json(const DaemonStatus& s) {
  using nlohmann::json;
  json targets = json::array();
  for (const DaemonTarget& t : s.targets) targets.push_back(target_json(t));
  json programs = json::array();
  for (const ProgStats& p : s.programs)
    programs.push_back({{"name", p.name},
                        {"run_cnt", p.run_cnt},
                        {"run_time_ns", p.run_time_ns},
                        {"mean_ns", p.run_cnt ? p.run_time_ns / p.run_cnt : 0},
                        {"recursion_misses", p.recursion_misses}});
  return json{{"pid", s.pid},
              {"version", s.version},
              {"attach_mode", s.attach_mode},
              {"uptime_ns", s.now_ns - s.start_ns},
              {"targets", std::move(targets)},
              {"events",
               {{"received", s.received}, {"dropped", s.dropped}, {"late", s.late}, {"missed", s.missed}}},
              {"memory", {{"rss_bytes", s.rss_bytes}}},
              {"cpu", {{"user_s", s.cpu_user_s}, {"system_s", s.cpu_system_s}}},
              {"bpf_stats", s.bpf_stats},
              {"programs", std::move(programs)},
              {"control", {{"clients", s.clients}, {"requests", s.requests}, {"errors", s.bad_requests}}},
              {"scrapes", s.scrapes}};
}

}  // namespace irqlat
