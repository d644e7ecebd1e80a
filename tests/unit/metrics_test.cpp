// /metrics rendering: the output is parsed back line by line (text format
// 0.0.4) and checked for structure (one HELP/TYPE per family, no
// interleaving, no duplicate series, cumulative buckets) and for the values
// of a representative daemon state; then promtool, when installed, lints it.
#include "metrics.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace irqlat;

namespace {

using LabelMap = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  LabelMap labels;
  std::string line;
  double value = 0;
};

struct Family {
  std::string type;
  int help = 0, type_lines = 0;
};

struct Parsed {
  std::vector<std::string> order;  // families as they appear
  std::map<std::string, Family> families;
  std::vector<Sample> samples;
};

bool name_char(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

// Parses one sample line `name{k="v",...} value` into s. Returns what is
// wrong with it, "" if nothing.
std::string parse_sample(const std::string& line, Sample& s) {
  auto at = [&](size_t k) { return k < line.size() ? line[k] : '\0'; };
  s.line = line;
  size_t i = 0;
  while (name_char(at(i), i == 0)) i++;
  if (i == 0) return "no metric name";
  s.name = line.substr(0, i);
  if (at(i) == '{') {
    i++;
    while (at(i) != '}') {
      const size_t k0 = i;
      while (name_char(at(i), i == k0)) i++;
      const std::string key = line.substr(k0, i - k0);
      if (key.empty() || at(i) != '=' || at(i + 1) != '"') return "bad label name";
      i += 2;
      std::string value;
      for (char c; (c = at(i++)) != '"';) {
        if (c == '\0') return "unterminated label value";
        if (c != '\\') {
          value += c;
          continue;
        }
        const char e = at(i++);
        if (e != '\\' && e != '"' && e != 'n') return "bad escape in a label value";
        value += e == 'n' ? '\n' : e;
      }
      if (!s.labels.emplace(key, value).second) return "label " + key + " twice";
      if (at(i) == ',')
        i++;
      else if (at(i) != '}')
        return "expected , or } after a label";
    }
    i++;
  }
  if (at(i) != ' ') return "expected one space before the value";
  const std::string v = line.substr(i + 1);
  char* end = nullptr;
  s.value = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') return "bad value '" + v + "'";
  return "";
}

// Checks one line against the structure so far: HELP opens a family (once),
// TYPE follows it, samples belong to the family opened last, no series twice.
std::string check_line(Parsed& p, std::set<std::string>& series, const std::string& line) {
  if (line.empty()) return "empty line";
  if (line[0] == '#') {
    const bool help = line.rfind("# HELP ", 0) == 0, type = line.rfind("# TYPE ", 0) == 0;
    const size_t sp = line.find(' ', 7);
    if (!(help || type) || sp == std::string::npos || sp + 1 == line.size()) return "bad comment";
    const std::string name = line.substr(7, sp - 7), rest = line.substr(sp + 1);
    if (help) {
      if (p.families.count(name)) return "family seen before (split or interleaved)";
      p.order.push_back(name);
      p.families[name].help++;
      return "";
    }
    if (p.order.empty() || p.order.back() != name) return "TYPE not right after its HELP";
    Family& f = p.families[name];
    if (f.type_lines++ != 0) return "second TYPE";
    if (rest != "counter" && rest != "gauge" && rest != "histogram") return "unexpected type";
    f.type = rest;
    return "";
  }
  Sample s;
  if (std::string err = parse_sample(line, s); !err.empty()) return err;
  if (p.order.empty()) return "sample before any family";
  const std::string& fam = p.order.back();
  const Family& f = p.families[fam];
  if (f.type_lines != 1) return "sample before its family's TYPE";
  if (f.type == "histogram") {
    if (s.name != fam + "_bucket" && s.name != fam + "_sum" && s.name != fam + "_count")
      return "not a sample of histogram " + fam;
    if ((s.name == fam + "_bucket") != (s.labels.count("le") == 1)) return "le on a non-bucket or missing";
  } else if (s.name != fam) {
    return "not a sample of " + fam;
  }
  std::string key = s.name;
  for (const auto& [k, v] : s.labels) key += "|" + k + "=" + v;
  if (!series.insert(key).second) return "duplicate series";
  p.samples.push_back(std::move(s));
  return "";
}

// Parses the whole body; REQUIREs that every line is well formed.
Parsed parse(const std::string& text) {
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  Parsed p;
  std::set<std::string> series;
  std::string errors;
  size_t lines = 0;
  for (size_t start = 0, nl; start < text.size(); start = nl + 1, lines++) {
    nl = text.find('\n', start);
    const std::string line = text.substr(start, nl - start);
    if (const std::string err = check_line(p, series, line); !err.empty()) errors += err + ": " + line + "\n";
  }
  INFO("errors:\n" << errors);
  REQUIRE(errors.empty());
  REQUIRE(lines == p.samples.size() + 2 * p.families.size());
  return p;
}

std::vector<const Sample*> find_all(const Parsed& p, const std::string& name) {
  std::vector<const Sample*> out;
  for (const Sample& s : p.samples)
    if (s.name == name) out.push_back(&s);
  return out;
}

// The value of the one sample with exactly these labels.
double value(const Parsed& p, const std::string& name, const LabelMap& labels = {}) {
  for (const Sample& s : p.samples)
    if (s.name == name && s.labels == labels) return s.value;
  std::string want;
  for (const auto& [k, v] : labels) want += k + "=" + v + " ";
  FAIL("no sample " << name << " { " << want << "}");
  return 0;
}

const std::vector<std::string> kLe = {"1e-06",  "2.5e-06", "5e-06",  "1e-05", "2.5e-05", "5e-05",
                                      "0.0001", "0.00025", "0.0005", "0.001", "0.0025",  "0.005",
                                      "0.01",   "0.025",   "0.05",   "0.1",   "0.25",    "0.5",
                                      "1",      "2.5",     "5",      "10",    "+Inf"};

// Every histogram series: the fixed le edges in order, cumulative counts,
// +Inf == _count, and a _sum. Returns how many series were checked.
size_t check_histograms(const Parsed& p) {
  size_t checked = 0;
  for (const auto& [fam, f] : p.families) {
    if (f.type != "histogram") continue;
    std::map<LabelMap, std::vector<const Sample*>> buckets;
    for (const Sample* s : find_all(p, fam + "_bucket")) {
      LabelMap ls = s->labels;
      ls.erase("le");
      buckets[ls].push_back(s);
    }
    REQUIRE(buckets.size() == find_all(p, fam + "_count").size());
    REQUIRE(buckets.size() == find_all(p, fam + "_sum").size());
    for (const auto& [ls, bs] : buckets) {
      INFO(fam << " series " << bs.front()->line);
      REQUIRE(bs.size() == kLe.size());
      for (size_t i = 0; i < bs.size(); i++) {
        CHECK(bs[i]->labels.at("le") == kLe[i]);
        if (i > 0) CHECK(bs[i]->value >= bs[i - 1]->value);
      }
      CHECK(bs.back()->value == value(p, fam + "_count", ls));
      CHECK(value(p, fam + "_sum", ls) >= 0);
      checked++;
    }
  }
  return checked;
}

// Runs `promtool check metrics` on the text. False (after a WARN) when
// promtool is not installed; in CI (CI=true, where `make deps` installs it)
// that is a failure, not a skip.
bool promtool(const std::string& text, int& status, std::string& output) {
  const char* tool = "/usr/bin/promtool";
  if (access(tool, X_OK) != 0) {
    const char* ci = getenv("CI");
    if (ci && std::string(ci) == "true") FAIL(tool << " not found: CI must run the promtool check");
    WARN(tool << " not found: skipping the promtool check");
    return false;
  }
  char path[] = "/tmp/irqlat_metrics_test_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  struct Unlink {
    const char* path;
    ~Unlink() { unlink(path); }
  } cleanup{path};
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  const std::string cmd = std::string(tool) + " check metrics < " + path + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, n);
  status = pclose(pipe);
  return true;
}

void require_promtool_clean(const std::string& text) {
  int status = -1;
  std::string output;
  if (!promtool(text, status, output)) return;
  INFO("promtool output:\n" << output);
  REQUIRE(WIFEXITED(status));
  const int exit_code = WEXITSTATUS(status);
  REQUIRE(exit_code == 0);
  REQUIRE(output.empty());  // no lint problems either
}

Histogram hist(std::initializer_list<std::pair<uint64_t, uint64_t>> values) {
  Histogram h;
  for (const auto& [v, n] : values) h.add(v, n);
  return h;
}

HardirqRow hardirq(std::optional<int> irq, const char* name, std::optional<int> cpu, uint64_t count,
                   uint64_t total_ns, uint64_t hits, uint64_t stolen_ns, Histogram h) {
  HardirqRow r;
  r.irq = irq, r.name = name, r.cpu = cpu, r.count = count, r.total_ns = total_ns;
  r.target_hits = hits, r.target_stolen_ns = stolen_ns, r.hist = std::move(h);
  return r;
}

SoftirqRow softirq(const char* vector, std::optional<int> cpu, uint64_t count, uint64_t total_ns,
                   uint64_t stolen_ns, uint64_t raises, uint64_t raise_ns, Histogram h) {
  SoftirqRow r;
  r.vector = vector, r.cpu = cpu, r.count = count, r.total_ns = total_ns, r.target_hits = count;
  r.target_stolen_ns = stolen_ns, r.raise_wait_count = raises, r.raise_wait_total_ns = raise_ns;
  r.hist = std::move(h);
  return r;
}

ThreadRow thread(int pid, int tid, const char* comm, uint64_t wakeups, uint64_t oncpu_ns, Histogram sched,
                 bool exited = false, bool detached = false) {
  ThreadRow t;
  t.pid = pid, t.tid = tid, t.comm = comm, t.wakeups = wakeups, t.preemptions = wakeups / 2;
  t.oncpu_ns = oncpu_ns, t.runqueue_ns = oncpu_ns / 10, t.hardirq_ns = oncpu_ns / 100;
  t.softirq_ns = oncpu_ns / 200, t.exited = exited, t.detached = detached, t.sched = std::move(sched);
  return t;
}

const char* const kWeird = "we\"ird\\name";  // we"ird\name

Report fixture_report() {
  Report r;
  r.hardirqs = {
      hardirq(25, "virtio1-req.0", 0, 6, 48'400, 4, 12'000, hist({{800, 3}, {3'000, 2}, {40'000, 1}})),
      hardirq(25, "virtio1-req.0", 1, 1, 1'500'000, 0, 0, hist({{1'500'000, 1}})),
      hardirq(std::nullopt, "LOC", 0, 10, 20'000, 2, 4'000, hist({{2'000, 10}})),
      // Totals over CPUs: must not be emitted (they would double count).
      hardirq(25, "virtio1-req.0", std::nullopt, 7, 1'548'400, 4, 12'000, hist({{800, 3}, {3'000, 2}})),
      hardirq(std::nullopt, "LOC", std::nullopt, 10, 20'000, 2, 4'000, hist({{2'000, 10}})),
  };
  r.softirqs = {
      softirq("NET_RX", 0, 3, 130'000, 5'000, 3, 9'000, hist({{4'000, 2}, {120'000, 1}})),
      softirq("TIMER", 1, 4, 2'800, 0, 4, 400, hist({{700, 4}})),
      softirq("NET_RX", std::nullopt, 3, 130'000, 5'000, 3, 9'000, hist({{4'000, 2}, {120'000, 1}})),
  };
  r.threads = {
      // The worker comes first: the process is still named after tid == pid.
      thread(100, 101, "worker", 5, 2'000'000, hist({{20'000, 5}}), /*exited=*/true),
      thread(100, 100, "server", 10, 8'000'000, hist({{3'000, 10}})),
      // No main-thread row: named after the first row.
      thread(200, 201, kWeird, 1, 1'000'000, hist({{1'000'000, 1}})),
      thread(200, 202, "other", 2, 0, Histogram(), false, /*detached=*/true),
  };
  ProcessWindows& pw = r.windows.by_pid[100];
  pw.count = 2, pw.unfinished = 1, pw.delay = hist({{2'000'000, 1}, {30'000'000, 1}});
  pw.running_ns = 20'000'000, pw.runqueue_ns = 5'000'000, pw.hardirq_ns = 1'000'000;
  pw.softirq_ns = 500'000, pw.blocked_ns = 5'500'000;
  r.windows.orphan_done = 3;
  r.events.irq_unmatched = 6, r.events.irq_unseen = 7;
  r.untimed_vectors["TRM"] = 8;
  return r;
}

DaemonTarget target(int pid, const char* comm, const char* state, unsigned long long start_time) {
  DaemonTarget t;
  t.pid = pid, t.comm = comm, t.exe = "/usr/bin/x", t.state = state, t.start_time = start_time;
  return t;
}

DaemonStatus fixture_status() {
  DaemonStatus d;
  d.pid = 4242, d.version = "0.3.0", d.attach_mode = "tp_btf";
  d.start_ns = 1'000'000'000, d.now_ns = 61'500'000'000, d.start_unix_s = 1'700'000'000.25;
  d.received = 1000, d.dropped = 2, d.late = 3, d.missed = 4, d.kernel_irq_events = 5000;
  d.rss_bytes = 12'345'678, d.cpu_user_s = 1.25, d.cpu_system_s = 0.5, d.bpf_stats = true;
  d.programs = {{"handle_irq_entry", 100, 50'000, 1}, {"handle_sched_switch", 200, 1'000'000'000, 0}};
  d.targets = {
      target(100, "server", "attached", 5000),
      target(200, "a\nb", "exited", 6000),  // pid 200, reused by the next target
      target(200, kWeird, "attached", 7000),
      target(300, "gone", "detached", 8000),
  };
  d.clients = 2, d.requests = 17, d.bad_requests = 1, d.scrapes = 9;
  return d;
}

const std::vector<std::string> kFamilies = {
    "irqlat_hardirq_duration_seconds",
    "irqlat_hardirq_target_hits_total",
    "irqlat_hardirq_target_stolen_seconds_total",
    "irqlat_softirq_duration_seconds",
    "irqlat_softirq_target_hits_total",
    "irqlat_softirq_target_stolen_seconds_total",
    "irqlat_softirq_raise_wait_seconds_total",
    "irqlat_softirq_raise_total",
    "irqlat_target_sched_latency_seconds",
    "irqlat_target_wakeups_total",
    "irqlat_target_preemptions_total",
    "irqlat_target_oncpu_seconds_total",
    "irqlat_target_runqueue_seconds_total",
    "irqlat_target_hardirq_seconds_total",
    "irqlat_target_softirq_seconds_total",
    "irqlat_target_threads",
    "irqlat_target_info",
    "irqlat_targets",
    "irqlat_window_delay_seconds",
    "irqlat_window_breakdown_seconds_total",
    "irqlat_windows_unfinished_total",
    "irqlat_windows_orphan_done_total",
    "irqlat_events_received_total",
    "irqlat_events_dropped_total",
    "irqlat_events_late_total",
    "irqlat_events_missed_total",
    "irqlat_kernel_irq_events_total",
    "irqlat_irq_unmatched_total",
    "irqlat_irq_unseen_total",
    "irqlat_untimed_vector_interrupts_total",
    "irqlat_process_cpu_seconds_total",
    "irqlat_process_resident_memory_bytes",
    "irqlat_process_start_time_seconds",
    "irqlat_uptime_seconds",
    "irqlat_bpf_stats_enabled",
    "irqlat_bpf_program_runs_total",
    "irqlat_bpf_program_run_seconds_total",
    "irqlat_bpf_program_recursion_misses_total",
    "irqlat_control_clients",
    "irqlat_control_requests_total",
    "irqlat_control_request_errors_total",
    "irqlat_scrapes_total",
    "irqlat_build_info",
};

}  // namespace

TEST_CASE("metrics: families are well formed", "[metrics]") {
  const std::string text = render_metrics(fixture_report(), fixture_status());
  const Parsed p = parse(text);
  CHECK(p.order == kFamilies);
  for (const auto& [name, f] : p.families) {
    INFO("family " << name);
    CHECK(name.rfind("irqlat_", 0) == 0);
    CHECK(f.help == 1);
    CHECK(f.type_lines == 1);
    const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    CHECK(total == (f.type == "counter"));
  }
  // 3 hardirq + 2 softirq + 2 process + 1 window series.
  CHECK(check_histograms(p) == 8);
}

TEST_CASE("metrics: hardirq and softirq tables", "[metrics]") {
  const Parsed p = parse(render_metrics(fixture_report(), fixture_status()));
  const LabelMap virtio0{{"irq", "25"}, {"name", "virtio1-req.0"}, {"cpu", "0"}};
  auto bucket = [&](const std::string& fam, LabelMap ls, const char* le) {
    ls["le"] = le;
    return value(p, fam + "_bucket", ls);
  };
  const std::string hd = "irqlat_hardirq_duration_seconds";
  CHECK(bucket(hd, virtio0, "1e-06") == 3);  // the three 0.8 us runs
  CHECK(bucket(hd, virtio0, "2.5e-06") == 3);
  CHECK(bucket(hd, virtio0, "5e-06") == 5);
  CHECK(bucket(hd, virtio0, "2.5e-05") == 5);
  CHECK(bucket(hd, virtio0, "5e-05") == 6);
  CHECK(bucket(hd, virtio0, "+Inf") == 6);
  CHECK(value(p, hd + "_count", virtio0) == 6);
  CHECK(value(p, hd + "_sum", virtio0) == 48'400 / 1e9);
  CHECK(value(p, "irqlat_hardirq_target_hits_total", virtio0) == 4);
  CHECK(value(p, "irqlat_hardirq_target_stolen_seconds_total", virtio0) == 12'000 / 1e9);

  const LabelMap virtio1{{"irq", "25"}, {"name", "virtio1-req.0"}, {"cpu", "1"}};
  CHECK(bucket(hd, virtio1, "0.001") == 0);
  CHECK(bucket(hd, virtio1, "0.0025") == 1);
  CHECK(value(p, hd + "_sum", virtio1) == 0.0015);

  // A vector has no IRQ number: an empty irq label.
  const LabelMap loc{{"irq", ""}, {"name", "LOC"}, {"cpu", "0"}};
  CHECK(bucket(hd, loc, "1e-06") == 0);
  CHECK(bucket(hd, loc, "2.5e-06") == 10);
  CHECK(value(p, hd + "_count", loc) == 10);
  CHECK(value(p, "irqlat_hardirq_target_stolen_seconds_total", loc) == 4'000 / 1e9);

  // Total rows (cpu nullopt) are not emitted: every series has a CPU, and
  // there is one per per-CPU row.
  for (const char* fam : {"irqlat_hardirq_duration_seconds_count", "irqlat_hardirq_target_hits_total",
                          "irqlat_hardirq_target_stolen_seconds_total",
                          "irqlat_softirq_duration_seconds_count", "irqlat_softirq_raise_total"}) {
    INFO(fam);
    const auto series = find_all(p, fam);
    CHECK(series.size() == (std::string(fam).find("hardirq") != std::string::npos ? 3u : 2u));
    for (const Sample* s : series) CHECK(!s->labels.at("cpu").empty());
  }
  CHECK(find_all(p, "irqlat_hardirq_duration_seconds_bucket").size() == 3 * kLe.size());

  const std::string sd = "irqlat_softirq_duration_seconds";
  const LabelMap rx{{"vector", "NET_RX"}, {"cpu", "0"}}, timer{{"vector", "TIMER"}, {"cpu", "1"}};
  CHECK(bucket(sd, rx, "5e-06") == 2);
  CHECK(bucket(sd, rx, "0.0001") == 2);
  CHECK(bucket(sd, rx, "0.00025") == 3);
  CHECK(value(p, sd + "_sum", rx) == 130'000 / 1e9);
  CHECK(value(p, sd + "_count", timer) == 4);
  CHECK(value(p, "irqlat_softirq_target_hits_total", rx) == 3);
  CHECK(value(p, "irqlat_softirq_target_stolen_seconds_total", rx) == 5'000 / 1e9);
  CHECK(value(p, "irqlat_softirq_raise_wait_seconds_total", rx) == 9'000 / 1e9);
  CHECK(value(p, "irqlat_softirq_raise_total", rx) == 3);
  CHECK(value(p, "irqlat_softirq_raise_wait_seconds_total", timer) == 400 / 1e9);
}

TEST_CASE("metrics: targets, threads per process and windows", "[metrics]") {
  const std::string text = render_metrics(fixture_report(), fixture_status());
  const Parsed p = parse(text);
  const LabelMap server{{"pid", "100"}, {"comm", "server"}}, weird{{"pid", "200"}, {"comm", kWeird}};
  CHECK(value(p, "irqlat_target_wakeups_total", server) == 15);
  CHECK(value(p, "irqlat_target_preemptions_total", server) == 7);  // 2 + 5
  CHECK(value(p, "irqlat_target_oncpu_seconds_total", server) == 0.01);
  CHECK(value(p, "irqlat_target_runqueue_seconds_total", server) == 0.001);
  CHECK(value(p, "irqlat_target_hardirq_seconds_total", server) == 100'000 / 1e9);
  CHECK(value(p, "irqlat_target_softirq_seconds_total", server) == 50'000 / 1e9);
  CHECK(value(p, "irqlat_target_threads", server) == 1);  // the worker exited
  CHECK(value(p, "irqlat_target_threads", weird) == 1);   // 202 is detached
  CHECK(value(p, "irqlat_target_wakeups_total", weird) == 3);
  CHECK(find_all(p, "irqlat_target_threads").size() == 2);

  // The merged sched histograms: 10 x 3 us and 5 x 20 us.
  const std::string sl = "irqlat_target_sched_latency_seconds";
  LabelMap le = server;
  le["le"] = "5e-06";
  CHECK(value(p, sl + "_bucket", le) == 10);
  le["le"] = "2.5e-05";
  CHECK(value(p, sl + "_bucket", le) == 15);
  CHECK(value(p, sl + "_count", server) == 15);
  CHECK(value(p, sl + "_sum", server) == 130'000 / 1e9);
  CHECK(value(p, sl + "_count", weird) == 1);

  // Every target has its own series, pid 200 twice (reused pid).
  CHECK(find_all(p, "irqlat_target_info").size() == 4);
  CHECK(value(p, "irqlat_target_info",
              {{"pid", "200"}, {"comm", "a\nb"}, {"state", "exited"}, {"start_time", "6000"}}) == 1);
  CHECK(value(p, "irqlat_target_info",
              {{"pid", "200"}, {"comm", kWeird}, {"state", "attached"}, {"start_time", "7000"}}) == 1);
  CHECK(value(p, "irqlat_targets", {{"state", "attached"}}) == 2);
  CHECK(value(p, "irqlat_targets", {{"state", "detached"}}) == 1);
  CHECK(value(p, "irqlat_targets", {{"state", "exited"}}) == 1);

  // Escaping as written: \" and \\ in the comm, \n for a newline.
  CHECK(text.find(R"(comm="we\"ird\\name")") != std::string::npos);
  CHECK(text.find(R"(comm="a\nb")") != std::string::npos);

  const std::string wd = "irqlat_window_delay_seconds";
  CHECK(value(p, wd + "_bucket", {{"pid", "100"}, {"le", "0.001"}}) == 0);
  CHECK(value(p, wd + "_bucket", {{"pid", "100"}, {"le", "0.0025"}}) == 1);
  CHECK(value(p, wd + "_bucket", {{"pid", "100"}, {"le", "0.025"}}) == 1);
  CHECK(value(p, wd + "_bucket", {{"pid", "100"}, {"le", "0.05"}}) == 2);
  CHECK(value(p, wd + "_count", {{"pid", "100"}}) == 2);
  CHECK(value(p, wd + "_sum", {{"pid", "100"}}) == 0.032);
  const std::string bd = "irqlat_window_breakdown_seconds_total";
  CHECK(value(p, bd, {{"pid", "100"}, {"part", "running"}}) == 0.02);
  CHECK(value(p, bd, {{"pid", "100"}, {"part", "runqueue"}}) == 0.005);
  CHECK(value(p, bd, {{"pid", "100"}, {"part", "hardirq"}}) == 0.001);
  CHECK(value(p, bd, {{"pid", "100"}, {"part", "softirq"}}) == 0.0005);
  CHECK(value(p, bd, {{"pid", "100"}, {"part", "blocked"}}) == 0.0055);
  CHECK(find_all(p, bd).size() == 5);
  CHECK(value(p, "irqlat_windows_unfinished_total", {{"pid", "100"}}) == 1);
  CHECK(value(p, "irqlat_windows_orphan_done_total") == 3);
}

TEST_CASE("metrics: events and the daemon itself", "[metrics]") {
  const Parsed p = parse(render_metrics(fixture_report(), fixture_status()));
  CHECK(value(p, "irqlat_events_received_total") == 1000);
  CHECK(value(p, "irqlat_events_dropped_total") == 2);
  CHECK(value(p, "irqlat_events_late_total") == 3);
  CHECK(value(p, "irqlat_events_missed_total") == 4);
  CHECK(value(p, "irqlat_kernel_irq_events_total") == 5000);
  CHECK(value(p, "irqlat_irq_unmatched_total") == 6);
  CHECK(value(p, "irqlat_irq_unseen_total") == 7);
  CHECK(value(p, "irqlat_untimed_vector_interrupts_total", {{"name", "TRM"}}) == 8);
  CHECK(value(p, "irqlat_process_cpu_seconds_total", {{"mode", "user"}}) == 1.25);
  CHECK(value(p, "irqlat_process_cpu_seconds_total", {{"mode", "system"}}) == 0.5);
  CHECK(value(p, "irqlat_process_resident_memory_bytes") == 12'345'678);
  CHECK(value(p, "irqlat_process_start_time_seconds") == 1'700'000'000.25);
  CHECK(value(p, "irqlat_uptime_seconds") == 60.5);
  CHECK(value(p, "irqlat_bpf_stats_enabled") == 1);
  CHECK(value(p, "irqlat_bpf_program_runs_total", {{"program", "handle_irq_entry"}}) == 100);
  CHECK(value(p, "irqlat_bpf_program_run_seconds_total", {{"program", "handle_irq_entry"}}) == 50'000 / 1e9);
  CHECK(value(p, "irqlat_bpf_program_run_seconds_total", {{"program", "handle_sched_switch"}}) == 1);
  CHECK(value(p, "irqlat_bpf_program_recursion_misses_total", {{"program", "handle_irq_entry"}}) == 1);
  CHECK(value(p, "irqlat_control_clients") == 2);
  CHECK(value(p, "irqlat_control_requests_total") == 17);
  CHECK(value(p, "irqlat_control_request_errors_total") == 1);
  CHECK(value(p, "irqlat_scrapes_total") == 9);
  CHECK(value(p, "irqlat_build_info", {{"version", "0.3.0"}, {"attach_mode", "tp_btf"}}) == 1);
}

TEST_CASE("metrics: label values are escaped and valid UTF-8", "[metrics]") {
  Report r;
  r.threads = {thread(7, 7, "caf\xC3\xA9", 1, 0, Histogram()), thread(8, 8, "bad\xFF\xC3", 1, 0, Histogram()),
               thread(9, 9, "x\xED\xA0\x80y", 1, 0, Histogram())};  // a UTF-16 surrogate
  const std::string text = render_metrics(r, DaemonStatus());
  const Parsed p = parse(text);
  CHECK(value(p, "irqlat_target_wakeups_total", {{"pid", "7"}, {"comm", "caf\xC3\xA9"}}) == 1);
  CHECK(value(p, "irqlat_target_wakeups_total", {{"pid", "8"}, {"comm", "bad\xEF\xBF\xBD\xEF\xBF\xBD"}}) ==
        1);
  CHECK(value(p, "irqlat_target_wakeups_total",
              {{"pid", "9"}, {"comm", "x\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDy"}}) == 1);
  require_promtool_clean(text);
}

TEST_CASE("metrics: rows with the same labels are one series", "[metrics]") {
  Report r;
  r.hardirqs = {hardirq(30, "eth0", 2, 2, 6'000, 1, 1'000, hist({{3'000, 2}})),
                hardirq(30, "eth0", 2, 1, 40'000, 0, 0, hist({{40'000, 1}}))};
  DaemonStatus d;
  d.targets = {target(100, "server", "attached", 5000), target(100, "server", "attached", 5000)};
  d.programs = {{"p", 1, 10, 0}, {"p", 2, 20, 1}};
  const Parsed p = parse(render_metrics(r, d));
  const LabelMap eth0{{"irq", "30"}, {"name", "eth0"}, {"cpu", "2"}};
  CHECK(value(p, "irqlat_hardirq_duration_seconds_count", eth0) == 3);
  CHECK(value(p, "irqlat_hardirq_duration_seconds_sum", eth0) == 46'000 / 1e9);
  CHECK(value(p, "irqlat_hardirq_duration_seconds_bucket",
              {{"irq", "30"}, {"name", "eth0"}, {"cpu", "2"}, {"le", "5e-06"}}) == 2);
  CHECK(value(p, "irqlat_hardirq_target_hits_total", eth0) == 1);
  CHECK(find_all(p, "irqlat_target_info").size() == 1);
  CHECK(value(p, "irqlat_targets", {{"state", "attached"}}) == 1);
  CHECK(value(p, "irqlat_bpf_program_runs_total", {{"program", "p"}}) == 3);
  CHECK(value(p, "irqlat_bpf_program_recursion_misses_total", {{"program", "p"}}) == 1);
}

TEST_CASE("metrics: an empty daemon still lists every family", "[metrics]") {
  const Parsed p = parse(render_metrics(Report(), DaemonStatus()));
  CHECK(p.order == kFamilies);
  CHECK(value(p, "irqlat_targets", {{"state", "attached"}}) == 0);
  CHECK(value(p, "irqlat_targets", {{"state", "detached"}}) == 0);
  CHECK(value(p, "irqlat_targets", {{"state", "exited"}}) == 0);
  CHECK(find_all(p, "irqlat_hardirq_duration_seconds_bucket").empty());
  CHECK(find_all(p, "irqlat_irq_unseen_total").empty());  // not checked: no sample, not a zero
  CHECK(value(p, "irqlat_uptime_seconds") == 0);
  CHECK(check_histograms(p) == 0);
  require_promtool_clean(render_metrics(Report(), DaemonStatus()));
}

TEST_CASE("metrics: promtool accepts the output", "[metrics]") {
  require_promtool_clean(render_metrics(fixture_report(), fixture_status()));
  // The check is not vacuous: promtool fails a lint problem and bad UTF-8.
  int status = -1;
  std::string output;
  if (!promtool("# HELP x_ops Ops.\n# TYPE x_ops counter\nx_ops 1\n", status, output)) return;
  CHECK(WEXITSTATUS(status) != 0);
  CHECK_THAT(output, Catch::Matchers::Contains("_total"));
  output.clear();
  promtool("# HELP x Ok.\n# TYPE x gauge\nx{comm=\"bad\xFF\"} 1\n", status, output);
  CHECK(WEXITSTATUS(status) != 0);
  CHECK_THAT(output, Catch::Matchers::Contains("invalid label value"));
}
