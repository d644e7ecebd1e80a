#include <cctype>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "format.h"

using irqlat::Report;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

// The required keys, copied literally from SPEC section 6.
const char* const kSpecSchema = R"(
{ "version": 1, "kernel": str, "cpus": int, "start_ns": int, "end_ns": int,
  "events": { "received": int, "dropped": int },
  "hardirqs": [ { "irq": int|null, "name": str, "cpu": int|null, "count": int,
                  "total_ns": int, "p50_ns": int, "p99_ns": int, "max_ns": int,
                  "target_hits": int, "target_stolen_ns": int } ],
  "softirqs": [ { "vector": str, "cpu": int|null, "count": int, "total_ns": int,
                  "p50_ns": int, "p99_ns": int, "max_ns": int,
                  "target_stolen_ns": int } ],
  "threads":  [ { "pid": int, "tid": int, "comm": str, "wakeups": int,
                  "sched_p50_ns": int, "sched_p99_ns": int, "sched_max_ns": int,
                  "oncpu_ns": int, "runqueue_ns": int,
                  "hardirq_ns": int, "softirq_ns": int } ],
  "windows":  { "count": int, "unfinished": int,
                "p50_ns": int, "p90_ns": int, "p99_ns": int, "max_ns": int,
                "list": [ { "pid": int, "tid": int, "start_ns": int, "end_ns": int,
                            "delay_ns": int, "running_ns": int, "runqueue_ns": int,
                            "hardirq_ns": int, "softirq_ns": int, "blocked_ns": int,
                            "irqs": [ { "name": str, "ns": int } ],
                            "softirq_vectors": [ { "vector": str, "ns": int } ],
                            "preempted_by": [ { "comm": str, "pid": int, "ns": int } ] } ] } }
)";

// Turns the SPEC's notation into JSON: the bare words int, int|null and str
// (outside quotes) become the strings "int", "int|null" and "str".
json spec_schema() {
  const std::string in = kSpecSchema;
  std::string out;
  bool quoted = false;
  for (size_t i = 0; i < in.size();) {
    const char c = in[i];
    if (c == '"') quoted = !quoted;
    if (!quoted && std::isalpha(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < in.size() && (std::isalpha(static_cast<unsigned char>(in[j])) || in[j] == '|')) {
        ++j;
      }
      out += '"' + in.substr(i, j - i) + '"';
      i = j;
      continue;
    }
    out += c;
    ++i;
  }
  return json::parse(out);
}

// Checks `actual` against the schema; counts how often null was seen for
// int|null so the test can tell both branches were exercised.
void check_schema(const json& schema, const json& actual, const std::string& where,
                  int& nulls_seen) {
  INFO("at " << where);
  if (schema.is_object()) {
    REQUIRE(actual.is_object());
    for (const auto& [key, sub] : schema.items()) {
      INFO("key " << key);
      REQUIRE(actual.contains(key));
      check_schema(sub, actual.at(key), where + "." + key, nulls_seen);
    }
  } else if (schema.is_array()) {
    REQUIRE(actual.is_array());
    REQUIRE_FALSE(actual.empty());  // the fixture fills every list
    for (size_t i = 0; i < actual.size(); ++i) {
      check_schema(schema.at(0), actual.at(i), where + "[" + std::to_string(i) + "]",
                   nulls_seen);
    }
  } else if (schema == "int") {
    CHECK(actual.is_number_integer());
  } else if (schema == "int|null") {
    CHECK((actual.is_number_integer() || actual.is_null()));
    if (actual.is_null()) ++nulls_seen;
  } else if (schema == "str") {
    CHECK(actual.is_string());
  } else {
    REQUIRE(schema.is_number());  // a literal, e.g. "version": 1
    CHECK(actual == schema);
  }
}

irqlat::HardirqRow hardirq(std::optional<int> irq, const char* name, std::optional<int> cpu,
                           uint64_t count, uint64_t total) {
  irqlat::HardirqRow h;
  h.irq = irq;
  h.name = name;
  h.cpu = cpu;
  h.count = count;
  h.total_ns = total;
  h.p50_ns = total / (count ? count : 1);
  h.p99_ns = h.p50_ns * 3;
  h.max_ns = h.p50_ns * 5;
  h.target_hits = count / 10;
  h.target_stolen_ns = total / 10;
  return h;
}

Report sample() {
  Report r;
  r.kernel = "6.1.0-18-amd64";
  r.cpus = 2;
  r.start_ns = 1'000'000'000'000ULL;
  r.end_ns = r.start_ns + 10'000'000'000ULL;
  r.events.received = 12345;
  r.events.kernel_irq_events = 40000;

  r.hardirqs.push_back(hardirq(std::nullopt, "LOC", std::nullopt, 20000, 12'300'000));
  r.hardirqs.push_back(hardirq(std::nullopt, "LOC", 0, 12000, 7'000'000));
  r.hardirqs.push_back(hardirq(std::nullopt, "LOC", 1, 8000, 5'300'000));
  r.hardirqs.push_back(hardirq(24, "virtio0-input.0", std::nullopt, 300, 900'000));
  r.hardirqs.push_back(hardirq(24, "virtio0-input.0", 1, 300, 900'000));

  irqlat::SoftirqRow timer;
  timer.vector = "TIMER";
  timer.count = 5000;
  timer.total_ns = 3'000'000;
  timer.p50_ns = 400;
  timer.p99_ns = 3000;
  timer.max_ns = 20000;
  timer.target_stolen_ns = 1000;
  r.softirqs.push_back(timer);
  timer.cpu = 0;
  r.softirqs.push_back(timer);

  irqlat::ThreadRow th;
  th.pid = 4242;
  th.tid = 4243;
  th.comm = "cancel_loop";
  th.wakeups = 99;
  th.sched_p50_ns = 3000;
  th.sched_p99_ns = 45000;
  th.sched_max_ns = 1'200'000;
  th.oncpu_ns = 900'000'000;
  th.runqueue_ns = 20'000'000;
  th.hardirq_ns = 300'000;
  th.softirq_ns = 100'000;
  r.threads.push_back(th);

  r.windows_enabled = true;
  r.cancel_spec = "usdt:irqlat:cancel";
  r.done_spec = "usdt:irqlat:done";
  irqlat::WindowRow late;  // listed first, starts later
  late.pid = 4242;
  late.tid = 4243;
  late.start_ns = r.start_ns + 2'000'000'000ULL;
  late.delay_ns = 12'000'000;
  late.end_ns = late.start_ns + late.delay_ns;
  late.running_ns = 1'000'000;
  late.runqueue_ns = 10'000'000;
  late.hardirq_ns = 500'000;
  late.softirq_ns = 300'000;
  late.blocked_ns = 200'000;
  late.irqs = {{"LOC", 400'000}, {"virtio0-input.0", 100'000}};
  late.softirq_vectors = {{"TIMER", 300'000}};
  late.preempted_by = {{"stress-ng", 777, 779, 9'500'000}, {"kworker/0:1", 12, 12, 500'000}};
  irqlat::WindowRow early = late;
  early.tid = 4244;
  early.start_ns = r.start_ns + 1'000'000'000ULL;
  early.delay_ns = 2'000'000;
  early.end_ns = early.start_ns + early.delay_ns;
  early.running_ns = 1'500'000;
  early.runqueue_ns = 0;
  early.hardirq_ns = 0;
  early.softirq_ns = 0;
  early.blocked_ns = 500'000;
  r.windows.list = {late, early};
  r.windows.count = 2;
  r.windows.p50_ns = 2'000'000;
  r.windows.p90_ns = 12'000'000;
  r.windows.p99_ns = 12'000'000;
  r.windows.max_ns = 12'000'000;
  r.windows.list_cap = 100000;

  irqlat::WindowRow unfinished;
  unfinished.pid = 4242;
  unfinished.start_ns = r.start_ns + 5'000'000'000ULL;
  unfinished.end_ns = unfinished.start_ns + 10'000'000'000ULL;
  unfinished.delay_ns = 10'000'000'000ULL;
  unfinished.unfinished = true;
  unfinished.reason = "timeout";
  r.windows.unfinished_list = {unfinished};
  r.windows.unfinished = 1;
  return r;
}

std::string table(const Report& r, int top = 5) {
  std::ostringstream out;
  irqlat::TableOptions opts;
  opts.top = top;
  irqlat::write_table(out, r, opts);
  return out.str();
}

size_t occurrences(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("JSON has every key of SPEC section 6 with the right types", "[format][json]") {
  const json j = irqlat::report_to_json(sample());
  int nulls = 0;
  const json schema = spec_schema();
  // The transcription itself: 10 top-level keys, 10 hardirq row keys, 13 window keys.
  REQUIRE(schema.size() == 10);
  REQUIRE(schema["hardirqs"][0].size() == 10);
  REQUIRE(schema["windows"]["list"][0].size() == 13);
  CHECK(schema["hardirqs"][0]["irq"] == "int|null");
  check_schema(schema, j, "$", nulls);
  CHECK(nulls >= 3);  // LOC irq, total rows' cpu
}

TEST_CASE("JSON values", "[format][json]") {
  const Report r = sample();
  const json j = irqlat::report_to_json(r);
  CHECK(j["version"] == 1);
  CHECK(j["kernel"] == "6.1.0-18-amd64");
  CHECK(j["cpus"] == 2);
  CHECK(j["start_ns"] == 1'000'000'000'000ULL);
  CHECK(j["end_ns"] == 1'010'000'000'000ULL);
  CHECK(j["events"]["received"] == 12345);
  CHECK(j["events"]["dropped"] == 0);
  CHECK(j["lossy"] == false);

  const json& loc = j["hardirqs"][0];
  CHECK(loc["irq"].is_null());
  CHECK(loc["cpu"].is_null());
  CHECK(loc["name"] == "LOC");
  CHECK(loc["count"] == 20000);
  CHECK(loc["total_ns"] == 12'300'000);
  CHECK(j["hardirqs"][1]["cpu"] == 0);
  CHECK(j["hardirqs"][3]["irq"] == 24);
  CHECK(j["hardirqs"][3]["cpu"].is_null());
  CHECK(j["hardirqs"].size() == 5);  // totals and per-CPU rows both present

  CHECK(j["softirqs"][0]["vector"] == "TIMER");
  CHECK(j["softirqs"][0]["cpu"].is_null());
  CHECK(j["softirqs"][1]["cpu"] == 0);
  CHECK(j["threads"][0]["comm"] == "cancel_loop");
  CHECK(j["threads"][0]["runqueue_ns"] == 20'000'000);

  const json& w = j["windows"];
  CHECK(w["count"] == 2);
  CHECK(w["unfinished"] == 1);
  CHECK(w["p90_ns"] == 12'000'000);
  REQUIRE(w["list"].size() == 2);
  // Sorted by start_ns even though the report listed them the other way.
  CHECK(w["list"][0]["start_ns"] == r.start_ns + 1'000'000'000ULL);
  CHECK(w["list"][0]["tid"] == 4244);
  CHECK(w["list"][1]["start_ns"] == r.start_ns + 2'000'000'000ULL);
  CHECK(w["list"][1]["irqs"][0] == json({{"name", "LOC"}, {"ns", 400000}}));
  CHECK(w["list"][1]["softirq_vectors"][0] == json({{"vector", "TIMER"}, {"ns", 300000}}));
  CHECK(w["list"][1]["preempted_by"][0] ==
        json({{"comm", "stress-ng"}, {"pid", 777}, {"tid", 779}, {"ns", 9500000}}));
  // The breakdown invariant survives formatting.
  for (const auto& s : w["list"]) {
    CHECK(s["running_ns"].get<uint64_t>() + s["runqueue_ns"].get<uint64_t>() +
              s["hardirq_ns"].get<uint64_t>() + s["softirq_ns"].get<uint64_t>() +
              s["blocked_ns"].get<uint64_t>() ==
          s["delay_ns"].get<uint64_t>());
  }
  REQUIRE(w["unfinished_list"].size() == 1);
  CHECK(w["unfinished_list"][0]["reason"] == "timeout");
  CHECK(w["list_truncated"] == false);
}

TEST_CASE("write_json emits parseable JSON, pretty or on one line", "[format][json]") {
  Report r = sample();
  r.threads[0].comm = "bad\xff utf8";  // comm from the kernel is not always UTF-8
  std::ostringstream pretty, line;
  irqlat::write_json(pretty, r);
  irqlat::write_json(line, r, false);
  CHECK(json::parse(pretty.str())["cpus"] == 2);
  CHECK(json::parse(line.str())["cpus"] == 2);
  CHECK(occurrences(line.str(), "\n") == 1);
  CHECK(line.str().back() == '\n');

  const json empty = irqlat::report_to_json(Report{});
  CHECK(empty["hardirqs"].is_array());
  CHECK(empty["windows"]["list"].is_array());
  CHECK(empty["windows"]["count"] == 0);
}

TEST_CASE("table shows events on every table header and warns when lossy", "[format][table]") {
  Report r = sample();
  std::string t = table(r);
  CHECK_THAT(t, Contains("kernel 6.1.0-18-amd64, 2 CPUs, 10.0s"));
  CHECK(occurrences(t, "[events: 12345 received, 0 dropped]") == 4);
  CHECK_THAT(t, !Contains("WARNING"));

  r.events.dropped = 17;
  t = table(r);
  CHECK(occurrences(t, "[events: 12345 received, 17 dropped]") == 4);
  // Under the header and under each of the 4 table titles.
  CHECK(occurrences(t, "WARNING: 17 events dropped — tables are incomplete") == 5);

  r.events.dropped = 0;
  r.events.late = 3;
  t = table(r);
  CHECK(occurrences(t, "WARNING: 3 late — tables are incomplete") == 5);

  r.events.late = 0;
  r.events.missed = 2;
  r.events.malformed = 1;
  t = table(r);
  CHECK(occurrences(
            t, "WARNING: 2 program runs skipped by the kernel, 1 malformed records — tables are incomplete") ==
        5);
  CHECK(r.lossy());
}

TEST_CASE("table contents", "[format][table]") {
  const std::string t = table(sample());
  // Hardirqs: totals sorted by total time, LOC (12.3ms) before virtio (900us).
  const size_t loc = t.find("LOC"), virtio = t.find("virtio0-input.0");
  REQUIRE(loc != std::string::npos);
  REQUIRE(virtio != std::string::npos);
  CHECK(loc < virtio);
  CHECK_THAT(t, Contains("12.3ms"));
  CHECK_THAT(t, Contains("TIMER"));
  CHECK_THAT(t, Contains("cancel_loop"));
  // Windows: summary, mean breakdown shares, worst windows with causes.
  CHECK_THAT(t, Contains("windows: 2 finished, 1 unfinished"));
  CHECK_THAT(t, Contains("p50 2.00ms  p90 12.0ms  p99 12.0ms  max 12.0ms"));
  CHECK_THAT(t, Contains("mean delay 7.00ms"));
  CHECK_THAT(t, Contains("71.4%"));  // runqueue: 10ms of 14ms
  CHECK_THAT(t, Contains("worst 2 windows"));
  CHECK_THAT(t, Contains("preempted by: stress-ng/779 9.50ms, kworker/0:1/12 500us"));
  CHECK_THAT(t, Contains("irqs: LOC 400us, virtio0-input.0 100us"));
  CHECK_THAT(t, Contains("softirqs: TIMER 300us"));
  CHECK_THAT(t, Contains("unfinished windows (1)"));
  CHECK_THAT(t, Contains("timeout"));
  // The worst window is listed first.
  CHECK(t.find("12.0ms  1.00ms") < t.find("2.00ms  1.50ms"));

  const std::string top1 = table(sample(), 1);
  CHECK_THAT(top1, Contains("worst 1 window:"));
  CHECK_THAT(top1, !Contains("1.50ms 75%"));
}

TEST_CASE("table says so for empty sections", "[format][table]") {
  const std::string t = table(Report{});
  CHECK_THAT(t, Contains("HARDWARE INTERRUPTS: none recorded"));
  CHECK_THAT(t, Contains("SOFTIRQS: none recorded"));
  CHECK_THAT(t, Contains("TARGET THREADS: no target threads"));
  CHECK_THAT(t, Contains("CANCELLATION WINDOWS: not enabled"));

  Report r;
  r.windows_enabled = true;
  r.cancel_spec = "signal";
  r.done_spec = "exit";
  CHECK_THAT(table(r), Contains("CANCELLATION WINDOWS (cancel signal, done exit): none observed"));
}

TEST_CASE("table says why windows are counted but not listed (--max-windows 0)", "[format][table]") {
  Report r = sample();
  r.windows.list.clear();
  r.windows.list_cap = 0;
  const std::string t = table(r);
  CHECK_THAT(t, Contains("(no windows listed: --max-windows 0; the breakdown and worst windows need a list)"));
  CHECK_THAT(t, !Contains("  worst "));
}

TEST_CASE("CSV sections with header lines", "[format][csv]") {
  Report r = sample();
  r.threads[0].comm = "a,\"b\"";
  std::ostringstream out;
  irqlat::write_csv(out, r);
  const std::string csv = out.str();
  CHECK_THAT(csv, Contains("# hardirqs\nirq,name,cpu,count,total_ns,p50_ns,p99_ns,max_ns,"
                           "target_hits,target_stolen_ns,proc_count\n,LOC,,20000,12300000,"));
  CHECK_THAT(csv, Contains("\n24,virtio0-input.0,1,300,900000,"));
  CHECK_THAT(csv, Contains("# softirqs\nvector,cpu,count,total_ns,p50_ns,p99_ns,max_ns,"
                           "target_hits,target_stolen_ns,raise_wait_count,raise_wait_total_ns,"
                           "raise_wait_max_ns\nTIMER,,5000,3000000,400,3000,20000,0,1000,0,0,0\n"));
  CHECK_THAT(csv, Contains("# threads\npid,tid,comm,wakeups,"));
  CHECK_THAT(csv, Contains("\n4242,4243,\"a,\"\"b\"\"\",99,"));
  CHECK_THAT(csv, Contains("# windows\nenabled,cancel,done,count,unfinished,"));
  CHECK_THAT(csv, Contains("# window_samples\npid,tid,start_ns,end_ns,delay_ns,running_ns,"
                           "runqueue_ns,hardirq_ns,softirq_ns,blocked_ns,irqs,softirq_vectors,"
                           "preempted_by\n4242,4244,1001000000000,"));
  CHECK_THAT(csv, Contains("LOC=400000;virtio0-input.0=100000,TIMER=300000,"
                           "stress-ng/779=9500000;kworker/0:1/12=500000\n"));
  CHECK_THAT(csv, Contains("# unfinished_windows\n"));
  CHECK_THAT(csv, Contains(",timeout\n"));
  CHECK(csv.rfind("# summary\n", 0) == 0);
}

TEST_CASE("write_json prints exactly what report_to_json().dump() prints", "[format][json]") {
  auto dom = [](const Report& r, int indent) {
    return irqlat::report_to_json(r).dump(indent, ' ', false, json::error_handler_t::replace) + "\n";
  };
  auto streamed = [](const Report& r, bool pretty) {
    std::ostringstream out;
    irqlat::write_json(out, r, pretty);
    return out.str();
  };
  Report odd = sample();
  // Strings that need escapes or replacements, in every place one can be.
  odd.kernel = "6.1 \"quoted\" \\ back\tslash";
  odd.threads[0].comm = "bad\xff utf8\x01";
  odd.threads[0].exited = true;
  odd.hardirqs[3].name = "caf\xc3\xa9 \xe2\x82\xac";
  odd.softirqs[0].vector = "\x7f\x80";
  odd.windows.list[0].irqs[0].name = "\xc3";
  odd.windows.list[0].preempted_by[0].comm = "a\nb";
  odd.windows.list[1].unfinished = true;
  odd.windows.list[1].reason = "r\xfe";
  odd.cancel_spec = "usdt:/p\xe9:x";
  odd.interval = true;
  odd.events.dropped = 3;
  odd.targets_exited = 7;
  odd.threads.push_back(odd.threads[0]);
  odd.threads.back().pid = -1;
  odd.untimed_vectors = {{"MCE", 2}, {"THR", 1}, {"x\x01", 5}};
  Report empty;
  Report no_lists = sample();
  no_lists.windows.list.clear();
  no_lists.windows.unfinished_list.clear();
  no_lists.threads.clear();
  for (const Report* r : {&odd, &empty, &no_lists}) {
    CHECK(streamed(*r, true) == dom(*r, 2));
    CHECK(streamed(*r, false) == dom(*r, -1));
  }
  const Report s = sample();
  CHECK(streamed(s, true) == dom(s, 2));
  CHECK(streamed(s, false) == dom(s, -1));
}
