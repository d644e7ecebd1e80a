// The recording format (user/recording.h, docs/recording-format.md): round
// trips, the offline report against the live pipeline, and every kind of bad
// file: truncated anywhere, corrupted, wrong magic or version, empty, hostile
// length fields. A bad file must give one UsageError line, never a crash or
// a big allocation; a truncated one gives what it holds plus a warning.
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "records.h"
#include "user/collector.h"
#include "user/format.h"
#include "user/options.h"
#include "user/recording.h"
#include "user/reorder.h"
#include "user/replay.h"
#include "user/report_builder.h"

using namespace irqlat;
using namespace irqlat::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// ------------------------------------------------------------ helpers

// One step of a synthetic session: a record, a watermark, or a record of a
// size the pipeline rejects.
struct Item {
  enum Kind { Record, Watermark, Rejected } kind = Record;
  Rec rec;
  uint64_t wm = 0;
  size_t size = 0;
};

Item R(const Rec& r) { return Item{Item::Record, r, 0, 0}; }
Item W(uint64_t wm) { return Item{Item::Watermark, {}, wm, 0}; }
Item Bad(size_t size) { return Item{Item::Rejected, {}, 0, size}; }

// Fake kernel aggregates: a dense array for (slot, cpu).
struct FakeKernel {
  int cpus = 2;
  uint32_t max_irq = 40;
  std::vector<irq_stat> cells = std::vector<irq_stat>(IRQLAT_NR_SLOTS(40) * 2);
  irq_stat& at(uint32_t slot, int cpu) { return cells[slot * cpus + cpu]; }
  void add(uint32_t slot, int cpu, uint64_t ns, const char* name = nullptr) {
    irq_stat& s = at(slot, cpu);
    s.count++;
    s.total_ns += ns;
    s.max_ns = std::max<uint64_t>(s.max_ns, ns);
    s.hist[irqlat_hist_bucket(ns)]++;
    if (name) std::snprintf(s.name, sizeof(s.name), "%s", name);
  }
  KernelIrqStats view() const {
    KernelIrqStats k;
    k.nr_cpus = cpus;
    k.max_irq = max_irq;
    k.stat = [this](uint32_t slot, int cpu) -> const irq_stat& { return cells[slot * cpus + cpu]; };
    return k;
  }
};

RecordingHeader test_header() {
  RecordingHeader h;
  h.tool_version = "test";
  h.kernel = "6.1.0-test";
  h.boot_id = "0b6c1a52-0000-4000-8000-000000000000";
  h.cpus = 2;
  h.start_ns = 1000;
  h.argv = {"irqlat", "record", "-o", "x.rec", "--", "./app"};
  h.targets = "command ./app (pid 100)";
  h.windows_enabled = true;
  h.cancel_spec = "usdt:irqlat:cancel";
  h.done_spec = "usdt:irqlat:done";
  h.window_timeout_ns = 5'000'000;
  h.window_list_cap = 1000;
  h.stats_interval_ns = 2'000'000'000;
  h.irq_names = {{24, "virtio0-requests"}, {0, "timer"}};
  h.threads = {{100, 100, "app"}, {101, 100, std::string("w\xff\x01rk", 5)}};  // not UTF-8
  return h;
}

// A small but complete session: two workers of process 100 on two CPUs,
// interrupts, a preemption, cancel/done windows, a watermark per "pump".
std::vector<Item> session_items() {
  const Task app{100, 100, "app", true}, w1{101, 100, "w1", true}, hog{300, 300, "hog", false};
  std::vector<Item> v;
  uint64_t t = 10'000;
  for (int round = 0; round < 30; round++) {
    v.push_back(R(wake(t, 0, 101, 100, 1)));
    v.push_back(R(sw(t + 500, 1, idle(1), w1)));
    v.push_back(R(sw(t + 600, 0, idle(0), app)));
    v.push_back(R(cancel(t + 700, 0, 100, 100)));
    v.push_back(R(irq(t + 2000, 1, 101, 100, IRQ_KIND_HARDIRQ, 24, t + 1500, 400)));
    v.push_back(R(irq(t + 2600, 1, 101, 100, IRQ_KIND_SOFTIRQ, 1, t + 2100, 300)));
    if (round % 3 == 0) {
      v.push_back(R(sw(t + 3000, 1, w1, hog, true)));
      v.push_back(R(sw(t + 4000, 1, hog, w1)));
    }
    v.push_back(R(done(t + 5000, 1, 101, 100)));
    v.push_back(R(sw(t + 5200, 1, w1, idle(1))));
    v.push_back(R(sw(t + 5300, 0, app, idle(0))));
    if (round == 10) v.push_back(Bad(7));
    if (round == 11) v.push_back(Bad(200));
    if (round == 12) v.push_back(R(signal_ev(t + 5400, 0, 100, 100, 15)));
    v.push_back(W(t + 5100));
    // A late record now and then: older than what the watermark released.
    if (round % 7 == 6) v.push_back(R(irq(t + 1000, 0, 100, 100, IRQ_KIND_VECTOR, VEC_LOCAL_TIMER, t + 900, 50)));
    t += 20'000;
  }
  // One window that never finishes.
  v.push_back(R(cancel(t, 0, 100, 100)));
  v.push_back(R(exit_ev(t + 100, 1, 101, 100, false)));
  return v;
}

FakeKernel session_kernel() {
  FakeKernel k;
  for (int i = 0; i < 30; i++) {
    k.add(IRQLAT_SLOT_HARDIRQ0 + 24, 1, 400 + i, "virtio0-requests");
    k.add(IRQLAT_SLOT_SOFTIRQ(1), 1, 300 + i);
    k.add(IRQLAT_SLOT_VECTOR(VEC_LOCAL_TIMER), 0, 50 + i);
  }
  k.at(IRQLAT_SLOT_SOFTIRQ(1), 1).raise_count = 30;
  k.at(IRQLAT_SLOT_SOFTIRQ(1), 1).raise_wait_ns = 9000;
  k.at(IRQLAT_SLOT_SOFTIRQ(1), 1).raise_wait_max = 700;
  return k;
}

constexpr uint64_t kEnd = 10'000 + 31 * 20'000;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

struct TempFile {
  std::string path;
  TempFile() {
    char tmpl[] = "/tmp/irqlat-rec-test-XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = tmpl;
  }
  ~TempFile() { ::unlink(path.c_str()); }
};

// Writes a recording the way `irqlat record` does; returns its bytes. The
// items are in ring-buffer arrival order; from format 3 on, the records go
// in as the live Reorderer releases them (Session's tap) unless `raw`.
std::string make_recording(const std::vector<Item>& items, const RecordingHeader& h, const FakeKernel& k,
                           WriterOptions wo = {}, size_t stats_every = 0, size_t flush_every = 0,
                           bool raw = false) {
  TempFile tmp;
  int fd = ::open(tmp.path.c_str(), O_WRONLY | O_TRUNC);
  REQUIRE(fd >= 0);
  RecordingWriter w(fd, tmp.path, wo);
  w.write_header(h);
  kstats c{};
  c.drops = 3;
  c.irq_unmatched = 2;
  const bool reorder = wo.version >= 3 && !raw;
  Reorderer ro;
  auto store = [&w](const void* d, size_t n) { w.add_record(d, n); };
  for (size_t i = 0; i < items.size(); i++) {
    const Item& it = items[i];
    if (it.kind == Item::Record) {
      if (reorder)
        ro.push(it.rec.bytes.data(), it.rec.size);
      else
        w.add_record(it.rec.bytes.data(), it.rec.size);
    }
    if (it.kind == Item::Watermark) {
      if (reorder) ro.release_until(it.wm, store);
      w.add_watermark(it.wm);
    }
    if (it.kind == Item::Rejected) {
      std::vector<unsigned char> junk(it.size, 0xab);
      w.add_record(junk.data(), junk.size());
    }
    if (stats_every && i % stats_every == stats_every - 1) w.add_stats(k.view(), 5000 + i, c, 1, i, false);
    else if (flush_every && i % flush_every == flush_every - 1) w.flush_events();
  }
  ro.flush(store);
  w.add_stats(k.view(), kEnd, c, 4, items.size(), true);
  w.finish();
  return slurp(tmp.path);
}

std::string standard_recording(WriterOptions wo = {}) {
  return make_recording(session_items(), test_header(), session_kernel(), wo, 40, 7);
}

// What the live session would have reported for the same items.
Report live_report(const std::vector<Item>& items, const RecordingHeader& h, const FakeKernel& k) {
  CollectorConfig cc;
  cc.windows = h.windows_enabled;
  cc.window_timeout_ns = h.window_timeout_ns;
  cc.window_list_cap = h.window_list_cap;
  Collector col(cc);
  for (const KnownThread& t : h.threads) col.set_comm(t.tid, t.pid, t.comm);
  Reorderer ro;
  uint64_t received = 0;
  auto sink = [&](const void* d, size_t n) { col.on_record(d, n); };
  for (const Item& it : items) {
    if (it.kind == Item::Record) {
      received++;
      ro.push(it.rec.bytes.data(), it.rec.size);
    } else if (it.kind == Item::Rejected) {
      received++;
    } else {
      ro.release_until(it.wm, sink);
      col.advance(it.wm);
    }
  }
  ro.flush(sink);
  col.finish(kEnd);
  ReportInputs in;
  in.kernel = h.kernel;
  in.cpus = h.cpus;
  in.start_ns = h.start_ns;
  in.end_ns = kEnd;
  in.received = received;
  in.counters.drops = 3;
  in.counters.irq_unmatched = 2;
  in.late = ro.late();
  in.missed = 4;
  in.windows_enabled = h.windows_enabled;
  in.cancel_spec = h.cancel_spec;
  in.done_spec = h.done_spec;
  return build_report(in, k.view(), col);
}

std::string json_of(const Report& r) {
  std::ostringstream s;
  write_json(s, r);
  return s.str();
}

// Collects what the reader streams.
struct Collect : RecordSink {
  std::vector<Item> items;
  bool keep = true;  // false: copies each record during record() (shared rows allowed)
  bool keeps_records() const override { return keep; }
  void record(const void* d, size_t n) override {
    Item it;
    it.kind = Item::Record;
    std::memcpy(it.rec.bytes.data(), d, n);
    it.rec.size = n;
    items.push_back(it);
  }
  void rejected(size_t n) override { items.push_back(Bad(n)); }
  void watermark(uint64_t ts) override { items.push_back(W(ts)); }
};

RecordingSummary read_all(const std::string& bytes, Collect& c, const std::string& name = "x.rec") {
  RecordingReader r(memory_source(bytes.data(), bytes.size()), name);
  return r.read(c);
}

ReplayResult replay_bytes(const std::string& bytes, const ReplayOptions& o = {}) {
  RecordingReader r(memory_source(bytes.data(), bytes.size()), "x.rec");
  return replay_recording(r, o);
}

std::string error_of(const std::string& bytes, const ReplayOptions& o = {}) {
  try {
    replay_bytes(bytes, o);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

// Block boundaries (offset of each block header) of a well-formed file.
std::vector<size_t> block_offsets(const std::string& f) {
  std::vector<size_t> out;
  size_t pos = 8;
  while (pos + 24 <= f.size()) {
    out.push_back(pos);
    uint32_t clen;
    std::memcpy(&clen, f.data() + pos + 16, 4);
    pos += 24 + clen;
  }
  return out;
}

// A block built independently of the writer, from the documented layout.
// `codec` goes into byte 5; the payload is zstd-compressed when it names
// zstd, zlib otherwise (so an unknown codec byte carries a zlib payload).
std::string make_block(uint8_t kind, uint32_t seq, const std::string& payload, uint32_t ulen_field = UINT32_MAX,
                       uint32_t clen_field = UINT32_MAX, uint8_t codec = recfmt::kCodecZlib) {
  std::string comp;
  if (codec == recfmt::kCodecZstd) {
    comp.resize(ZSTD_compressBound(payload.size()));
    comp.resize(ZSTD_compress(comp.data(), comp.size(), payload.data(), payload.size(), 1));
  } else {
    uLongf clen = compressBound(payload.size());
    comp.resize(clen);
    compress2(reinterpret_cast<Bytef*>(comp.data()), &clen, reinterpret_cast<const Bytef*>(payload.data()),
              payload.size(), 1);
    comp.resize(clen);
  }
  unsigned char h[24] = {};
  auto put = [](unsigned char* p, uint32_t v) { std::memcpy(p, &v, 4); };
  put(h, 0x42515249);
  h[4] = kind;
  h[5] = codec;
  put(h + 8, seq);
  put(h + 12, ulen_field == UINT32_MAX ? static_cast<uint32_t>(payload.size()) : ulen_field);
  put(h + 16, clen_field == UINT32_MAX ? static_cast<uint32_t>(comp.size()) : clen_field);
  uLong crc = crc32(0, h, 20);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(comp.data()), comp.size());
  put(h + 20, static_cast<uint32_t>(crc));
  return std::string(reinterpret_cast<char*>(h), 24) + comp;
}

std::string make_zstd_block(uint8_t kind, uint32_t seq, const std::string& payload,
                            uint32_t ulen_field = UINT32_MAX) {
  return make_block(kind, seq, payload, ulen_field, UINT32_MAX, recfmt::kCodecZstd);
}

const std::string kMagic(recfmt::kMagic, 8);

// The EVENTS blocks of a recording: how many, and their uncompressed bytes.
struct EventsPayload {
  uint64_t blocks = 0, bytes = 0;
};
EventsPayload events_payload(const std::string& file) {
  EventsPayload p;
  for (size_t at = 8; at + 24 <= file.size();) {
    uint32_t ulen, clen;
    std::memcpy(&ulen, file.data() + at + 12, 4);
    std::memcpy(&clen, file.data() + at + 16, 4);
    if (static_cast<uint8_t>(file[at + 4]) == recfmt::kEvents) {
      p.blocks++;
      p.bytes += ulen;
    }
    at += 24 + clen;
  }
  return p;
}

std::string header_block() { return make_block(recfmt::kHeader, 1, recfmt::header_json(test_header())); }

// Finds tests/data from the working directory or the binary's location.
std::string data_path(const std::string& name) {
  for (std::string dir : {"tests/data/", "../tests/data/", "../../tests/data/"}) {
    if (::access((dir + name).c_str(), R_OK) == 0) return dir + name;
  }
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = 0;
    std::string d = exe;
    d = d.substr(0, d.rfind('/'));  // build/
    d = d.substr(0, d.rfind('/'));  // repo
    return d + "/tests/data/" + name;
  }
  return "tests/data/" + name;
}

}  // namespace

// ------------------------------------------------------------ round trips

TEST_CASE("recording: records, watermarks and rejected records come back as written", "[recording]") {
  const std::vector<Item> items = session_items();
  struct Config {
    uint8_t version, codec;
    int level;
  };
  // zlib streams come from libdeflate: its default (-1: level 3), level 0
  // (stored blocks only) and its slowest level 12 all read back.
  for (Config cfg : {Config{2, recfmt::kCodecZlib, 6}, Config{3, recfmt::kCodecZlib, -1},
                     Config{3, recfmt::kCodecZlib, 0}, Config{3, recfmt::kCodecZlib, 12},
                     Config{3, recfmt::kCodecZstd, -1}, Config{4, recfmt::kCodecZlib, -1},
                     Config{5, recfmt::kCodecZlib, -1}, Config{5, recfmt::kCodecZlib, 0},
                     Config{5, recfmt::kCodecZstd, -1}}) {
    for (bool background : {true, false}) {
      WriterOptions wo;
      wo.level = cfg.level;
      wo.background = background;
      wo.block_bytes = 4096;  // many blocks
      wo.version = cfg.version;
      wo.codec = cfg.codec;
      const std::string f = make_recording(items, test_header(), session_kernel(), wo, 50, 0, true);
      Collect c;
      RecordingSummary s = read_all(f, c);
      CHECK(s.complete);
      CHECK(s.warning.empty());
      REQUIRE(c.items.size() == items.size());
      for (size_t i = 0; i < items.size(); i++) {
        INFO("item " << i);
        REQUIRE(c.items[i].kind == items[i].kind);
        if (items[i].kind == Item::Record) {
          REQUIRE(c.items[i].rec.size == items[i].rec.size);
          CHECK(std::memcmp(c.items[i].rec.bytes.data(), items[i].rec.bytes.data(), items[i].rec.size) == 0);
        } else if (items[i].kind == Item::Watermark) {
          CHECK(c.items[i].wm == items[i].wm);
        } else {
          CHECK(c.items[i].size == items[i].size);
        }
      }
    }
  }
}

TEST_CASE("recording: header and statistics round trip", "[recording]") {
  const RecordingHeader h = test_header();
  const FakeKernel k = session_kernel();
  const std::string f = make_recording(session_items(), h, k);
  RecordingReader r(memory_source(f.data(), f.size()), "x.rec");
  const RecordingHeader& g = r.header();
  CHECK(g.kernel == h.kernel);
  CHECK(g.boot_id == h.boot_id);
  CHECK(g.clock == "CLOCK_MONOTONIC");
  CHECK(g.cpus == 2);
  CHECK(g.start_ns == h.start_ns);
  CHECK(g.argv == h.argv);
  CHECK(g.targets == h.targets);
  CHECK(g.cancel_spec == h.cancel_spec);
  CHECK(g.done_spec == h.done_spec);
  CHECK(g.window_timeout_ns == h.window_timeout_ns);
  CHECK(g.window_list_cap == h.window_list_cap);
  CHECK(g.irq_names == h.irq_names);
  REQUIRE(g.threads.size() == 2);
  CHECK(g.threads[1].comm == h.threads[1].comm);  // bytes that are not UTF-8 survive
  Collect c;
  RecordingSummary s = r.read(c);
  REQUIRE(s.stats);
  CHECK(s.stats->final);
  CHECK(s.stats->at_ns == kEnd);
  CHECK(s.stats->counters.drops == 3);
  CHECK(s.stats->missed == 4);
  CHECK(s.stats->entries.size() == 3);
  const KernelIrqStats v = s.stats->view();
  for (uint32_t slot = 0; slot < IRQLAT_NR_SLOTS(k.max_irq); slot++)
    for (int cpu = 0; cpu < 2; cpu++) {
      INFO("slot " << slot << " cpu " << cpu);
      const irq_stat& want = k.cells[slot * 2 + cpu];
      const irq_stat& got = v.stat(slot, cpu);
      CHECK(std::memcmp(&want, &got, sizeof(irq_stat)) == 0);
    }
}

TEST_CASE("recording: report equals what the live pipeline printed", "[recording]") {
  const std::vector<Item> items = session_items();
  const FakeKernel k = session_kernel();
  const Report live = live_report(items, test_header(), k);
  REQUIRE(live.windows.count > 0);
  REQUIRE(live.events.late > 0);  // the late records went through the same release points
  const std::pair<uint8_t, uint8_t> formats[] = {{2, recfmt::kCodecZlib}, {3, recfmt::kCodecZlib},
                                                  {3, recfmt::kCodecZstd}, {4, recfmt::kCodecZlib},
                                                  {5, recfmt::kCodecZlib}, {5, recfmt::kCodecZstd}};
  for (auto [version, codec] : formats) {
    for (uint32_t block : {4096u, 1u << 20}) {
      WriterOptions wo;
      wo.block_bytes = block;
      wo.version = version;
      wo.codec = codec;
      const std::string f = make_recording(items, test_header(), k, wo, 17, 5);
      ReplayResult res = replay_bytes(f);
      CHECK(res.warnings.empty());
      CHECK(json_of(res.report) == json_of(live));
    }
  }
}

// The replay orders records in batches (sorted runs merged at each release
// point, a heap when records pile up); whatever the arrival order, it must
// release exactly what the live Reorderer released, in the same order.
std::vector<Item> shuffled_items(uint64_t seed, size_t n, bool pile_up) {
  std::mt19937_64 rng(seed);
  const Task t[4] = {{100, 100, "app", true}, {101, 100, "w1", true}, {102, 100, "w2", true}, {300, 300, "hog", false}};
  std::vector<Item> v;
  uint64_t now = 10'000;
  std::vector<Item> pending;
  auto flush_pending = [&](size_t keep) {
    // Arrival order: nearly sorted, with some runs interleaved out of order.
    if (rng() % 4 == 0)
      std::shuffle(pending.begin(), pending.end(), rng);
    else
      for (size_t i = 1; i < pending.size(); i++)
        if (rng() % 3 == 0) std::swap(pending[i - 1], pending[i]);
    const size_t out = pending.size() > keep ? pending.size() - keep : 0;
    v.insert(v.end(), pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(out));
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(out));
  };
  for (size_t i = 0; i < n; i++) {
    now += rng() % 3 == 0 ? 0 : rng() % 2000;  // equal timestamps too
    const int cpu = static_cast<int>(rng() % 2);
    const Task& a = t[rng() % 4];
    const Task& b = t[rng() % 4];
    uint64_t ts = now;
    if (rng() % 500 == 0) ts = now + 50'000'000;  // far ahead: held over many releases
    switch (rng() % 5) {
      case 0: pending.push_back(R(wake(ts, cpu, a.tid, a.pid, cpu))); break;
      case 1: pending.push_back(R(sw(ts, cpu, a, b, rng() % 2))); break;
      case 2: pending.push_back(R(irq(ts, cpu, a.tid, a.pid, IRQ_KIND_HARDIRQ, 24, ts - 300, 200))); break;
      case 3: pending.push_back(R(rng() % 2 ? cancel(ts, cpu, a.tid, a.pid) : done(ts, cpu, a.tid, a.pid))); break;
      default: pending.push_back(R(sw(ts, cpu, idle(cpu), a))); break;
    }
    if (rng() % 997 == 0) pending.push_back(Bad(3));
    if (i % 300 == 299) {
      flush_pending(rng() % 50);
      // Release points lag behind (pile_up: far behind for a long stretch).
      const bool stall = pile_up && i > n / 8 && i < 3 * n / 4;  // > 65536 held: heap mode
      uint64_t wm = stall ? 1000 : now - std::min<uint64_t>(now, rng() % 400'000);
      v.push_back(W(wm));
    }
  }
  flush_pending(0);
  return v;
}

TEST_CASE("recording: replay releases records exactly like the live Reorderer", "[recording]") {
  RecordingHeader h = test_header();
  h.window_list_cap = 100000;
  const FakeKernel k = session_kernel();
  for (uint64_t seed : {1, 2, 3}) {
    for (bool pile_up : {false, true}) {
      const std::vector<Item> items = shuffled_items(seed, pile_up ? 200'000 : 30'000, pile_up);
      const Report live = live_report(items, h, k);
      REQUIRE(live.events.late > 0);
      // Version 2 stores arrival order (the replay reorders), version 3
      // delivery order (the replay passes records on and counts the late).
      for (uint8_t version : {2, 3}) {
        WriterOptions wo;
        wo.version = version;
        const std::string f = make_recording(items, h, k, wo, 0, 0);
        ReplayResult res = replay_bytes(f);
        CHECK(json_of(res.report) == json_of(live));
      }
    }
  }
}

TEST_CASE("recording: the committed real recordings report the tables record printed", "[recording]") {
  // tests/data/README.md: cancel_loop.rec was made with `irqlat record -f
  // json` by this format version, and the JSON is what it printed live;
  // cancel_loop_v1.rec is a version-1 file of an early irqlat, its JSON
  // extended by the fields added since (older files must still read).
  for (const char* name : {"cancel_loop", "cancel_loop_v1"}) {
    INFO(name);
    const std::string rec = data_path(std::string(name) + ".rec");
    const std::string want = slurp(data_path(std::string(name) + ".json"));
    REQUIRE(!want.empty());
    RecordingReader r(open_file_source(rec), rec);
    CHECK(r.header().windows_enabled);
    ReplayResult res = replay_recording(r);
    CHECK(res.warnings.empty());
    CHECK(res.summary.complete);
    CHECK(res.report.windows.count > 0);
    CHECK(json_of(res.report) == want);
  }
}

// ------------------------------------------------------------ truncation

TEST_CASE("recording: a file cut anywhere reads up to its last complete block", "[recording]") {
  WriterOptions wo;
  wo.block_bytes = 4096;
  const std::string f = standard_recording(wo);
  const std::vector<size_t> blocks = block_offsets(f);
  REQUIRE(blocks.size() > 8);
  const size_t header_end = blocks[1];
  uint64_t last_items = 0;
  size_t last_blocks = 0;
  // Every byte of the first blocks; around and inside every later block
  // header; a few points inside every payload.
  std::set<size_t> cuts;
  for (size_t i = 0; i < blocks[3]; i++) cuts.insert(i);
  for (size_t b = 0; b < blocks.size(); b++) {
    const size_t end = b + 1 < blocks.size() ? blocks[b + 1] : f.size();
    for (size_t d = 0; d <= 26; d++) cuts.insert(blocks[b] + d);
    cuts.insert(blocks[b] - 1);
    for (size_t k = 1; k < 4; k++) cuts.insert(blocks[b] + (end - blocks[b]) * k / 4);
    cuts.insert(end - 1);
  }
  for (size_t cut : cuts) {
    if (cut >= f.size()) continue;
    INFO("cut at " << cut << " of " << f.size());
    const std::string part = f.substr(0, cut);
    if (cut < header_end) {
      const std::string err = error_of(part);
      REQUIRE(!err.empty());
      if (cut == 0)
        CHECK_THAT(err, Contains("is empty"));
      else
        CHECK_THAT(err, Contains("truncated inside its header"));
      continue;
    }
    ReplayResult res = replay_bytes(part);
    REQUIRE(!res.summary.complete);
    REQUIRE(res.warnings.size() == 1);
    CHECK_THAT(res.warnings[0], StartsWith("'x.rec': truncated after block "));
    CHECK_THAT(res.warnings[0], Contains("tables cover the complete part"));
    // What is read only grows with the cut, and only at block ends.
    CHECK(res.summary.items >= last_items);
    CHECK(res.summary.blocks >= last_blocks);
    const bool at_boundary = std::find(blocks.begin(), blocks.end(), cut) != blocks.end();
    if (!at_boundary) CHECK(res.summary.blocks == last_blocks);
    last_items = res.summary.items;
    last_blocks = res.summary.blocks;
    CHECK(res.report.events.received == res.summary.items);
    CHECK(res.report.end_ns >= res.report.start_ns);
  }
  // Zeros after the last complete block (space allocated, never written).
  ReplayResult z = replay_bytes(f.substr(0, blocks[5]) + std::string(5000, '\0'));
  CHECK(!z.summary.complete);
  CHECK(z.summary.blocks == 5);
}

TEST_CASE("recording: a truncated file keeps the interrupt tables of its last stats block", "[recording]") {
  const std::string f = standard_recording();
  const std::vector<size_t> blocks = block_offsets(f);
  // Cut just before the final statistics: the interim ones remain.
  const size_t final_at = blocks[blocks.size() - 2];
  ReplayResult res = replay_bytes(f.substr(0, final_at));
  REQUIRE(res.summary.stats);
  CHECK(!res.summary.stats->final);
  CHECK(!res.report.hardirqs.empty());
  CHECK_THAT(res.warnings.at(0), Contains("truncated after block " + std::to_string(blocks.size() - 2)));
  // Cut before any statistics: empty interrupt tables, said so.
  ReplayResult early = replay_bytes(f.substr(0, blocks[2]));
  CHECK(!early.summary.stats);
  CHECK(early.report.hardirqs.empty());
  CHECK_THAT(early.warnings.at(0), Contains("no interrupt statistics"));
}

// ------------------------------------------------------------ corruption

TEST_CASE("recording: not a recording, empty, wrong version", "[recording]") {
  CHECK(error_of("") == "'x.rec' is empty: not an irqlat recording");
  CHECK(error_of("hello world, this is text\n") == "'x.rec' is not an irqlat recording");
  CHECK(error_of(std::string("\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0", 16)) == "'x.rec' is not an irqlat recording");
  CHECK(error_of("IRX") == "'x.rec' is not an irqlat recording");
  CHECK_THAT(error_of("IRQLA"), Contains("truncated inside its header"));
  std::string v9 = standard_recording();
  v9[7] = 9;
  CHECK(error_of(v9) == "'x.rec': recording format version 9 is not supported (this irqlat reads versions 1 to 5)");
  std::string v0 = standard_recording();
  v0[7] = 0;
  CHECK_THAT(error_of(v0), Contains("recording format version 0 is not supported"));
  // A version-5 file whose header says otherwise.
  CHECK_THAT(error_of(kMagic + make_block(recfmt::kHeader, 1, "{\"format\":1}")), Contains("format version mismatch"));
  CHECK_THAT(error_of(kMagic), Contains("truncated inside its header"));
}

TEST_CASE("recording: a corrupted byte anywhere is an error or a truncation, never a crash", "[recording]") {
  WriterOptions wo;
  wo.block_bytes = 4096;
  const std::string f = standard_recording(wo);
  const std::vector<size_t> blocks = block_offsets(f);
  // A flipped bit in a compressed payload: CRC mismatch, naming the block.
  {
    std::string bad = f;
    bad[blocks[3] + 24 + 5] ^= 0x10;
    CHECK(error_of(bad) == "'x.rec' is corrupt: block 4: CRC mismatch");
  }
  // Every byte flipped in turn (stride keeps it quick): never a crash, and
  // never a silent success unless the byte is ignored padding.
  for (size_t i = 8; i < f.size(); i += 7) {
    std::string bad = f;
    bad[i] ^= 0x5a;
    try {
      ReplayResult r = replay_bytes(bad);
      // A flip in a compressed-length field can make the file look cut short.
      CHECK(!r.summary.complete);
    } catch (const UsageError& e) {
      CHECK_THAT(std::string(e.what()), StartsWith("'x.rec'"));
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  }
}

TEST_CASE("recording: hostile length fields are refused before allocating", "[recording]") {
  // A block header claiming a 4 GiB payload: refused on the length alone.
  std::string f = kMagic + header_block() + make_block(recfmt::kEvents, 2, "xxxx", 0xfffffffeu);
  CHECK_THAT(error_of(f), Contains("block 2: length 4294967294 over the 16777216-byte limit"));
  // A huge compressed length in a short file: the file cannot hold it, so it
  // is a truncation (nothing allocated for it).
  f = kMagic + header_block() + make_block(recfmt::kEvents, 2, std::string(100, 'a'), 16u << 20, 16u << 20);
  ReplayResult r = replay_bytes(f);
  CHECK(!r.summary.complete);
  // A compressed length impossible for its payload length.
  f = kMagic + header_block() + make_block(recfmt::kEvents, 2, std::string(10, 'a'), 10, 1u << 20);
  CHECK_THAT(error_of(f), Contains("does not fit"));
  // An oversized header block.
  f = kMagic + make_block(recfmt::kHeader, 1, std::string(2u << 20, ' '));
  CHECK_THAT(error_of(f), Contains("over the 1048576-byte limit"));
  // An events block whose item count is absurd.
  std::string payload = "\xff\xff\xff\x7f";
  f = kMagic + header_block() + make_block(recfmt::kEvents, 2, payload);
  CHECK_THAT(error_of(f), Contains("too many items"));
  // Item count larger than the items present.
  payload = std::string("\x05\0\0\0", 4) + std::string("\0\x02", 2);
  f = kMagic + header_block() + make_block(recfmt::kEvents, 2, payload);
  CHECK_THAT(error_of(f), Contains("fewer items than its count"));
  // A record whose data planes are missing.
  payload = std::string("\x01\0\0\0", 4) + std::string("\x30\x01\x02", 3);
  f = kMagic + header_block() + make_block(recfmt::kEvents, 2, payload);
  CHECK_THAT(error_of(f), Contains("record data cut short"));
  // Stats claiming more entries than cells, and 2^60 CPUs.
  std::string st;
  auto v = [&](uint64_t x) {
    while (x >= 0x80) {
      st += static_cast<char>(x | 0x80);
      x >>= 7;
    }
    st += static_cast<char>(x);
  };
  for (uint64_t x : {1000ull, 2ull, 4ull, 0ull, 0ull, 0ull, 0ull, 0ull, 0ull, 1ull << 40}) v(x);
  f = kMagic + header_block() + make_block(recfmt::kStats, 2, st);
  CHECK_THAT(error_of(f), Contains("more entries than cells"));
  st.clear();
  for (uint64_t x : {1000ull, 1ull << 60, 4ull}) v(x);
  f = kMagic + header_block() + make_block(recfmt::kStats, 2, st);
  CHECK_THAT(error_of(f), Contains("bad CPU count"));
  // Deeply nested JSON in the header: rejected cleanly.
  f = kMagic + make_block(recfmt::kHeader, 1, std::string(100000, '[') + std::string(100000, ']'));
  CHECK_THAT(error_of(f), Contains("bad header"));
}

// One decoded EV_MARK record on CPU 1, field by field.
void check_mark(const Item& it, uint64_t ts, uint32_t tid, uint32_t pid, uint32_t which, uint64_t arg) {
  REQUIRE(it.kind == Item::Record);
  REQUIRE(it.rec.size == sizeof(ev_mark));
  ev_mark m;
  std::memcpy(&m, it.rec.bytes.data(), sizeof(m));
  CHECK(m.h.ts == ts);
  CHECK(m.h.tid == tid);
  CHECK(m.h.cpu == 1);
  CHECK(m.h.type == EV_MARK);
  CHECK(m.pid == pid);
  CHECK(m.which == which);
  CHECK(m.arg == arg);
}

// Version-2 record columns, one of each mode, decoded by hand.
std::string v2_mark_block(const std::string& tid_column) {
  std::string p("\x03\0\0\0", 4);
  p += std::string("\x20\x0a\xc8\x01", 4);  // EV_MARK, 32 bytes, ts 100
  p += std::string("\x20\x0a\x64", 3);      // ts 150
  p += std::string("\x20\x0a\x3b", 3);      // ts 120
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  p += tid_column;
  p += std::string(1, '\0') + u32(0x000a0001);                                 // cpu 1, type, flags: const
  p += std::string(1, '\x01') + u32(1000) + std::string("\x00\x05\xff", 3);  // pid: base + u8
  p += std::string(1, '\x02') + u32(0) + std::string("\x01\x00\x02\x00\x01\x01", 6);  // which: u16
  p += std::string(1, '\x04') + u32(0xdeadbeef) + u32(1) + u32(2);            // arg low: raw
  p += std::string(1, '\0') + u32(0);                                          // arg high: const
  return p;
}

// The magic and header of a file of an older format version, for blocks
// built by hand in that version's layout (version 4 puts a layout byte
// before each group's columns, version 5 the tags before the values).
std::string start_of(int version) {
  std::string m = kMagic;
  m[7] = static_cast<char>(version);
  return m + make_block(recfmt::kHeader, 1, recfmt::header_json(test_header(), version));
}

TEST_CASE("recording: version-2 record columns decode in every mode", "[recording]") {
  const std::string dict = std::string("\x03\x01", 2) + std::string("\x07\0\0\0\x09\0\0\0", 8) + std::string("\x00\x01\x00", 3);
  const std::string f = start_of(3) + make_block(recfmt::kEvents, 2, v2_mark_block(dict));
  Collect c;
  RecordingSummary s = read_all(f, c);
  CHECK(!s.complete);
  REQUIRE(c.items.size() == 3);
  const uint64_t ts[3] = {100, 150, 120};
  const uint32_t tid[3] = {7, 9, 7}, pid[3] = {1000, 1005, 1255}, which[3] = {1, 2, 257};
  const uint64_t arg[3] = {0xdeadbeef, 1, 2};
  for (int i = 0; i < 3; i++) check_mark(c.items[i], ts[i], tid[i], pid[i], which[i], arg[i]);
  // Damaged columns.
  auto err = [&](const std::string& payload) {
    return error_of(start_of(3) + make_block(recfmt::kEvents, 2, payload));
  };
  const std::string bad_index = std::string("\x03\x01", 2) + std::string("\x07\0\0\0\x09\0\0\0", 8) + std::string("\x00\x02\x00", 3);
  CHECK_THAT(err(v2_mark_block(bad_index)), Contains("block 2: record column index out of range"));
  CHECK_THAT(err(v2_mark_block(std::string("\x09\0\0\0\0", 5))), Contains("unknown record column mode"));
  CHECK_THAT(err(v2_mark_block(dict) + "x"), Contains("bytes after the record data"));
  const std::string whole = v2_mark_block(dict);
  CHECK_THAT(err(whole.substr(0, whole.size() - 3)), Contains("record data cut short"));
  // Version 1 (planes) is still read: the committed real recording is one.
  // Version 4: the same columns after a layout byte 0.
  std::string v4 = v2_mark_block(dict);
  v4.insert(14, 1, '\0');  // after the u32 count and three items
  read_all(start_of(4) + make_block(recfmt::kEvents, 2, v4), c);
  REQUIRE(c.items.size() == 6);
  CHECK(std::memcmp(c.items[3].rec.bytes.data(), c.items[0].rec.bytes.data(), sizeof(ev_mark)) == 0);
}

// Version 4's row dictionary, by hand: three EV_MARK records, two distinct
// rows (bytes 8..31).
std::string v4_rows_block(const std::string& dict_part) {
  std::string p("\x03\0\0\0", 4);
  p += std::string("\x20\x0a\xc8\x01", 4);  // EV_MARK, 32 bytes, ts 100
  p += std::string("\x20\x0a\x64", 3);      // ts 150
  p += std::string("\x20\x0a\x3b", 3);      // ts 120
  p += '\x01';                               // kLayoutRows
  return p + dict_part;
}

std::string mark_row(uint32_t tid, uint32_t pid, uint32_t which, uint64_t arg) {
  ev_mark m{};
  m.h.tid = tid;
  m.h.cpu = 1;
  m.h.type = EV_MARK;
  m.pid = pid;
  m.which = which;
  m.arg = arg;
  return std::string(reinterpret_cast<const char*>(&m) + 8, sizeof(m) - 8);
}

TEST_CASE("recording: version-4 row dictionaries decode, and their damage is named", "[recording]") {
  static_assert(sizeof(ev_mark) == 32);
  const std::string rows = mark_row(7, 1000, 1, 0xdeadbeef) + mark_row(9, 1005, 2, 1ULL << 40);
  const std::string good = std::string(1, '\x02') + rows + std::string("\x01\x00\x01", 3);
  Collect c;
  read_all(start_of(4) + make_block(recfmt::kEvents, 2, v4_rows_block(good)), c);
  REQUIRE(c.items.size() == 3);
  const uint64_t ts[3] = {100, 150, 120};
  const uint32_t tid[3] = {9, 7, 9}, pid[3] = {1005, 1000, 1005}, which[3] = {2, 1, 2};
  const uint64_t arg[3] = {1ULL << 40, 0xdeadbeef, 1ULL << 40};
  for (int i = 0; i < 3; i++) check_mark(c.items[i], ts[i], tid[i], pid[i], which[i], arg[i]);
  auto err = [&](const std::string& dict_part) {
    return error_of(start_of(4) + make_block(recfmt::kEvents, 2, v4_rows_block(dict_part)));
  };
  CHECK_THAT(err(std::string(1, '\x00') + rows), Contains("block 2: record row dictionary size out of range"));
  CHECK_THAT(err(std::string(1, '\x04') + rows + rows), Contains("record row dictionary size out of range"));
  CHECK_THAT(err(std::string(1, '\x02') + rows + std::string("\x01\x02\x01", 3)),
             Contains("record row index out of range"));
  CHECK_THAT(err(good.substr(0, good.size() - 1)), Contains("record data cut short"));
  CHECK_THAT(err(good + "x"), Contains("bytes after the record data"));
  std::string mistyped = good;
  mistyped[1 + 24 + 6] = EV_SWITCH;  // the second row's type byte (record byte 14)
  CHECK_THAT(err(mistyped), Contains("record type differs from its item"));
  std::string layout = v4_rows_block(good);
  layout[14] = 7;
  CHECK_THAT(error_of(start_of(4) + make_block(recfmt::kEvents, 2, layout)),
             Contains("unknown record group layout"));
}

// Version 5 by hand: the tags, then the values. EV_MARK records (32 bytes,
// type 10) take the one-byte tag 11, or the long form (tag 32, type byte
// among the values); a watermark and a rejected record between them.
std::string v5_block(const std::string& tags, const std::string& values, const std::string& data) {
  std::string p(4, '\0');
  const uint32_t n = static_cast<uint32_t>(tags.size());
  std::memcpy(p.data(), &n, 4);
  return p + tags + values + data;
}

TEST_CASE("recording: version-5 tags and values decode, and their damage is named", "[recording]") {
  static_assert(sizeof(ev_mark) == 32 && EV_MARK == 10);
  const std::string rows = mark_row(7, 1000, 1, 0xdeadbeef) + mark_row(9, 1005, 2, 1ULL << 40);
  // Items: mark ts 100, mark 150, watermark 160, mark 120 (long form),
  // rejected (70 bytes), mark 130.
  const std::string tags("\x0b\x0b\x00\x20\x01\x0b", 6);
  const std::string values = std::string("\xc8\x01\x64\x14", 4) + std::string("\x0a\x3b", 2) + "F" + "\x14";
  const std::string data = std::string("\x01\x02", 2) + rows + std::string("\x01\x00\x01\x00", 4);
  for (bool keep : {true, false}) {  // rows copied per record, or passed as they are
    Collect c;
    c.keep = keep;
    read_all(kMagic + header_block() + make_block(recfmt::kEvents, 2, v5_block(tags, values, data)), c);
    INFO("keep " << keep);
    REQUIRE(c.items.size() == 6);
    check_mark(c.items[0], 100, 9, 1005, 2, 1ULL << 40);
    check_mark(c.items[1], 150, 7, 1000, 1, 0xdeadbeef);
    REQUIRE(c.items[2].kind == Item::Watermark);
    CHECK(c.items[2].wm == 160);
    check_mark(c.items[3], 120, 9, 1005, 2, 1ULL << 40);
    REQUIRE(c.items[4].kind == Item::Rejected);
    CHECK(c.items[4].size == 70);
    check_mark(c.items[5], 130, 7, 1000, 1, 0xdeadbeef);
  }
  auto err = [&](const std::string& t, const std::string& v, const std::string& d) {
    return error_of(kMagic + header_block() + make_block(recfmt::kEvents, 2, v5_block(t, v, d)));
  };
  std::string t = tags;
  t[0] = 12;  // type 11: no such record type, so no size
  CHECK_THAT(err(t, values, data), Contains("block 2: unknown item tag at byte 5"));  // just past the tag
  t[0] = 11;
  t[4] = 65;  // over the largest record
  CHECK_THAT(err(t, values, data), Contains("unknown item tag at byte 9"));
  // Fewer bytes than the tags the count announces.
  CHECK_THAT(error_of(kMagic + header_block() +
                      make_block(recfmt::kEvents, 2, std::string("\x09\0\0\0", 4) + tags)),
             Contains("fewer items than its count"));
  // Values cut short: the last timestamp's varint never ends.
  CHECK_THAT(err(tags, values.substr(0, values.size() - 1) + "\x80", ""), Contains("bad number"));
  // A row whose type is not its items' type: the item's tag is named.
  std::string mistyped = data;
  mistyped[2 + 6] = EV_SWITCH;  // the first row's type byte (record byte 14)
  const std::string e = err(tags, values, mistyped);
  CHECK_THAT(e, Contains("record type differs from its item at byte 6"));
}

TEST_CASE("recording: small blocks of incompressible records are written and read back", "[recording]") {
  // libdeflate needs more room than zlib's bound to start on inputs of a few
  // dozen bytes, though its result fits that bound (the reader's limit).
  uint64_t x = 88172645463325252ULL;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (size_t n = 1; n <= 40; n++) {
    std::vector<Item> items;
    for (size_t i = 0; i < n; i++) {
      ev_wake e{};
      e.h.ts = 1000 + i;
      e.h.tid = static_cast<uint32_t>(next());
      e.h.type = EV_WAKING;
      e.pid = static_cast<uint32_t>(next());
      e.target_cpu = static_cast<int32_t>(next());
      e.waker_tid = static_cast<uint32_t>(next());
      e.waker_pid = static_cast<uint32_t>(next());
      items.push_back(R(to_rec(e)));
    }
    INFO(n << " records");
    Collect c;
    const RecordingSummary s = read_all(make_recording(items, test_header(), session_kernel(), {}, 0, 0, true), c);
    CHECK(s.complete);
    REQUIRE(c.items.size() == n);
    for (size_t i = 0; i < n; i++) CHECK(std::memcmp(c.items[i].rec.bytes.data(), items[i].rec.bytes.data(), 32) == 0);
  }
}

// Reads f both ways, each record copied out of its row dictionary and the
// dictionary's rows passed as they are (a sink that keeps nothing), and
// checks the switch records against what was written.
void check_switches_read_back(const std::string& f, const std::vector<Item>& items) {
  for (bool keep : {true, false}) {
    Collect c;
    c.keep = keep;
    read_all(f, c);
    REQUIRE(c.items.size() == items.size());
    for (size_t i = 0; i < items.size(); i++) {
      INFO("keep " << keep << ", record " << i);
      REQUIRE(std::memcmp(c.items[i].rec.bytes.data(), items[i].rec.bytes.data(), sizeof(ev_switch)) == 0);
    }
  }
}

TEST_CASE("recording: the writer stores a group as rows or columns, whichever is smaller", "[recording]") {
  // A few distinct rows (3 tasks switching: 1-byte indices), some hundreds
  // (600 tasks: 2-byte indices), and rows that are all different (a counter
  // in every word: columns): all read back exactly.
  enum Kind { kFew, kHundreds, kAllDifferent };
  for (Kind kind : {kFew, kHundreds, kAllDifferent}) {
    INFO("kind " << kind);
    std::vector<Item> items;
    for (uint32_t i = 0; i < 20000; i++) {
      ev_switch e{};
      const uint32_t task = kind == kFew ? i % 3 : kind == kHundreds ? i * 7 % 600 : i;
      e.h.ts = 1000 + i * 10;
      e.h.tid = 100 + task * 977;  // tids far apart: no narrow column
      e.h.type = EV_SWITCH;
      e.h.cpu = kind == kAllDifferent ? i % 7 : task % 2;
      e.prev_pid = kind == kAllDifferent ? i * 2654435761u : e.h.tid;
      e.next_tid = kind == kAllDifferent ? i * 40503u : 100 + (task + 1) * 977;
      e.next_pid = e.prev_pid;
      std::snprintf(e.next_comm, sizeof(e.next_comm), "t%u", task);
      items.push_back(R(to_rec(e)));
    }
    WriterOptions wo;
    wo.version = 4;
    const std::string f = make_recording(items, test_header(), session_kernel(), wo, 0, 0, true);
    check_switches_read_back(f, items);
    // What inflating and decoding cost: the payload bytes.
    WriterOptions v3 = wo, v5 = wo;
    v3.version = 3;
    v5.version = 5;
    const EventsPayload v4 = events_payload(f);
    const EventsPayload v3p = events_payload(make_recording(items, test_header(), session_kernel(), v3, 0, 0, true));
    // Version 5: the same groups, and each switch record's tag and type
    // byte become one tag.
    const EventsPayload v5p = events_payload(make_recording(items, test_header(), session_kernel(), v5, 0, 0, true));
    CHECK(v5p.blocks == v4.blocks);
    CHECK(v5p.bytes == v4.bytes - items.size());
    INFO("version 4: " << v4.bytes << " payload bytes, version 3: " << v3p.bytes);
    REQUIRE(v4.blocks == v3p.blocks);
    if (kind == kFew)  // 1 index byte per record instead of 1 for each of 5 varying columns
      CHECK(v3p.bytes > v4.bytes + 3 * items.size());
    else if (kind == kHundreds)  // 2 index bytes instead of a u16 or u32 per varying column
      CHECK(v3p.bytes > v4.bytes + 10 * items.size());
    else  // columns kept: one layout byte per group (one group per block)
      CHECK(v4.bytes == v3p.bytes + v4.blocks);
  }
}

TEST_CASE("recording: a group stored as rows in one block and columns in the next reads back", "[recording]") {
  // Small blocks: the first ones hold switches among 3 tasks (a row
  // dictionary), the later ones switches that all differ (columns). A
  // sink that keeps nothing gets the dictionary's rows as they are; a
  // block of columns after one of rows must not reuse the rows' slots.
  std::vector<Item> items;
  for (uint32_t i = 0; i < 3000; i++) {
    ev_switch e{};
    const bool few = i < 1500;
    e.h.ts = 1000 + i * 10;
    e.h.type = EV_SWITCH;
    e.h.tid = few ? 100 + i % 3 : 100000 + i * 977;
    e.h.cpu = few ? i % 2 : i % 7;
    e.prev_pid = few ? e.h.tid : i * 2654435761u;
    e.next_tid = few ? 100 + (i + 1) % 3 : i * 40503u;
    std::snprintf(e.next_comm, sizeof(e.next_comm), "t%u", few ? i % 3 : i);
    items.push_back(R(to_rec(e)));
  }
  WriterOptions wo;
  wo.block_bytes = 4096;
  const std::string f = make_recording(items, test_header(), session_kernel(), wo, 0, 0, true);
  REQUIRE(events_payload(f).blocks > 10);
  check_switches_read_back(f, items);
}

TEST_CASE("recording: version 5 writes the long form for records not of their type's size", "[recording]") {
  // A switch of 40 bytes, a record of an unknown type, a wakeup of its own
  // size: the first two keep their size and type byte, the third takes a
  // one-byte tag; all read back as written.
  std::vector<Item> items;
  for (uint32_t i = 0; i < 300; i++) {
    Item it;
    const size_t size = i % 3 == 0 ? 40 : i % 3 == 1 ? 24 : sizeof(ev_wake);
    const uint8_t type = i % 3 == 0 ? EV_SWITCH : i % 3 == 1 ? 200 : EV_WAKING;
    for (size_t b = 0; b < size; b++) it.rec.bytes[b] = static_cast<unsigned char>(i * 31 + b);
    const uint64_t ts = 5000 + i;
    std::memcpy(it.rec.bytes.data(), &ts, 8);
    it.rec.bytes[recfmt::kTypeOffset] = type;
    it.rec.size = size;
    items.push_back(it);
  }
  WriterOptions v4, v5;
  v4.version = 4;
  const std::string f = make_recording(items, test_header(), session_kernel(), v5, 0, 0, true);
  Collect c;
  read_all(f, c);
  REQUIRE(c.items.size() == items.size());
  for (size_t i = 0; i < items.size(); i++) {
    INFO("record " << i);
    REQUIRE(c.items[i].rec.size == items[i].rec.size);
    CHECK(std::memcmp(c.items[i].rec.bytes.data(), items[i].rec.bytes.data(), items[i].rec.size) == 0);
  }
  // One byte less than version 4 per wakeup only.
  const EventsPayload p4 = events_payload(make_recording(items, test_header(), session_kernel(), v4, 0, 0, true));
  CHECK(events_payload(f).bytes == p4.bytes - items.size() / 3);
}

TEST_CASE("recording: version-4 row dictionaries with 2-byte indices, and their limits", "[recording]") {
  // n EV_MARK items (1 ns apart), then layout 1 and the given dictionary.
  auto block = [](size_t n, const std::string& dict_part) {
    std::string p(4, '\0');
    const uint32_t nn = static_cast<uint32_t>(n);
    std::memcpy(p.data(), &nn, 4);
    for (size_t i = 0; i < n; i++) p += std::string("\x20\x0a\x02", 3);  // zigzag(+1)
    return p + '\x01' + dict_part;
  };
  auto varint = [](uint64_t v) {
    std::string out;
    for (; v >= 0x80; v >>= 7) out += static_cast<char>(v | 0x80);
    return out + static_cast<char>(v);
  };
  auto file = [&](const std::string& payload) { return start_of(4) + make_block(recfmt::kEvents, 2, payload); };
  // 257 distinct rows, record i is row (i * 5) % 257, indices u16 LE.
  std::string rows, idx;
  for (uint32_t r = 0; r < 257; r++) rows += mark_row(1000 + r, 7, 1, r);
  for (uint32_t i = 0; i < 300; i++) {
    const uint16_t x = static_cast<uint16_t>(i * 5 % 257);
    idx += static_cast<char>(x & 0xff);
    idx += static_cast<char>(x >> 8);
  }
  for (bool keep : {true, false}) {
    Collect c;
    c.keep = keep;
    read_all(file(block(300, varint(257) + rows + idx)), c);
    REQUIRE(c.items.size() == 300);
    for (uint32_t i = 0; i < 300; i++) {
      INFO("keep " << keep << ", record " << i);
      check_mark(c.items[i], i + 1, 1000 + i * 5 % 257, 7, 1, i * 5 % 257);
    }
  }
  // An index equal to k; more rows than 2-byte indices reach (with as many
  // records, so that is the only thing wrong).
  std::string bad = idx;
  bad[2 * 299] = 1;  // 257: one past the last row
  bad[2 * 299 + 1] = 1;
  CHECK_THAT(error_of(file(block(300, varint(257) + rows + bad))), Contains("record row index out of range"));
  const size_t over = recfmt::kMaxRowDict + 1;
  CHECK_THAT(error_of(file(block(over, varint(over)))), Contains("record row dictionary size out of range"));
}

TEST_CASE("recording: block codecs: zlib and zstd from version 3 on, zlib only before", "[recording]") {
  // The writer refuses what no reader takes the way it was meant.
  for (auto [version, codec] : {std::pair<int, int>{1, 0}, {6, 0}, {2, 1}, {3, 2}, {5, 2}}) {
    TempFile tmp;
    WriterOptions wo;
    wo.version = static_cast<uint8_t>(version);
    wo.codec = static_cast<uint8_t>(codec);
    CHECK_THROWS_AS(RecordingWriter(::open(tmp.path.c_str(), O_WRONLY), tmp.path, wo), std::invalid_argument);
  }
  // A level libdeflate has not: one error line when the header is written.
  {
    TempFile tmp;
    WriterOptions wo;
    wo.level = 13;
    RecordingWriter w(::open(tmp.path.c_str(), O_WRONLY), tmp.path, wo);
    CHECK_THROWS_WITH(w.write_header(test_header()), Contains("zlib: bad level 13 or out of memory"));
  }
  const std::string header = recfmt::header_json(test_header());
  const std::string events = std::string("\0\0\0\0", 4);
  // zlib and zstd blocks mix in one version-5 file.
  Collect c;
  const RecordingSummary s =
      read_all(kMagic + make_zstd_block(recfmt::kHeader, 1, header) + make_block(recfmt::kEvents, 2, events) +
                   make_zstd_block(recfmt::kEvents, 3, events),
               c);
  CHECK(c.items.empty());
  CHECK_THAT(s.warning, Contains("truncated"));
  // Unknown codec; a zstd payload whose length is not the header's.
  CHECK(error_of(kMagic + make_block(recfmt::kHeader, 1, header, UINT32_MAX, UINT32_MAX, 7)) ==
        "'x.rec' is corrupt: block 1: unknown codec 7");
  CHECK(error_of(kMagic + make_zstd_block(recfmt::kHeader, 1, header, static_cast<uint32_t>(header.size() + 1))) ==
        "'x.rec' is corrupt: block 1: bad compressed data");
  CHECK(error_of(kMagic + make_zstd_block(recfmt::kHeader, 1, header, static_cast<uint32_t>(header.size() - 1))) ==
        "'x.rec' is corrupt: block 1: bad compressed data");
  // Versions 1 and 2 had byte 5 reserved.
  std::string v2 = kMagic + make_zstd_block(recfmt::kHeader, 1, header);
  v2[7] = 2;
  CHECK(error_of(v2) == "'x.rec' is corrupt: block 1: reserved bytes are not zero");
}

TEST_CASE("recording: structural errors name what is wrong", "[recording]") {
  const std::string hb = header_block();
  const std::string events = make_block(recfmt::kEvents, 2, std::string("\0\0\0\0", 4));
  // A block out of sequence.
  CHECK_THAT(error_of(kMagic + hb + make_block(recfmt::kEvents, 7, std::string("\0\0\0\0", 4))),
             Contains("block 2: sequence number 7"));
  // An unknown block kind.
  CHECK_THAT(error_of(kMagic + hb + make_block(9, 2, "")), Contains("unknown block kind 9"));
  // A header that is not JSON, or misses fields.
  CHECK_THAT(error_of(kMagic + make_block(recfmt::kHeader, 1, "not json")), Contains("bad header"));
  CHECK_THAT(error_of(kMagic + make_block(recfmt::kHeader, 1, "{\"format\":5}")), Contains("'record_sizes' is missing"));
  // Records laid out differently from this build's: refused.
  std::string other = recfmt::header_json(test_header());
  const size_t at = other.find("\"record_sizes\":[0,48,");
  REQUIRE(at != std::string::npos);
  other.replace(at, 22, "\"record_sizes\":[0,52,");
  CHECK_THAT(error_of(kMagic + make_block(recfmt::kHeader, 1, other)),
             Contains("bad header: its record layouts differ from this irqlat's"));
  // First block not a header.
  CHECK_THAT(error_of(kMagic + make_block(recfmt::kEvents, 1, "")), Contains("block 1 is not the header"));
  // A trailer before the final statistics, or counting other events.
  CHECK_THAT(error_of(kMagic + hb + events + make_block(recfmt::kEnd, 3, std::string("\0\x01\x03", 3))),
             Contains("trailer without final statistics"));
  // Garbage after a complete recording.
  CHECK_THAT(error_of(standard_recording() + "garbage"), Contains("data after the trailer"));
  // A record whose type disagrees with its item.
  // (One item: tag 16, then its values, type 5 and the timestamp; layout
  // 0, its two words as const columns, all zero.)
  std::string payload = std::string("\x01\0\0\0", 4) + std::string("\x10\x05\x02", 3) + std::string(11, '\0');
  CHECK_THAT(error_of(kMagic + hb + make_block(recfmt::kEvents, 2, payload)), Contains("record type differs"));
  // A valid minimal recording built by hand from the documented layout.
  FakeKernel k;
  const std::string stats = recfmt::encode_stats(k.view(), 5000, kstats{}, 0, 1);
  // Version 5: the tags (a 16-byte record, a watermark), then their values
  // (type 1, ts 1000; +1), then layout 0 and const columns: tid 100; cpu 0,
  // EV_SWITCH, flags 0.
  payload = std::string("\x02\0\0\0", 4) + std::string("\x10\0", 2) + std::string("\x01\xd0\x0f\x02", 4) +
            std::string("\0\0\x64\0\0\0\0\0\0\x01\0", 11);
  const std::string hand = kMagic + hb + make_block(recfmt::kEvents, 2, payload) +
                           make_block(recfmt::kFinalStats, 3, stats) +
                           make_block(recfmt::kEnd, 4, std::string("\x01\x01\x04", 3));
  Collect c;
  RecordingSummary s = read_all(hand, c);
  CHECK(s.complete);
  REQUIRE(c.items.size() == 2);
  CHECK(c.items[0].rec.size == 16);
  CHECK(c.items[0].rec.ts() == 1000);
  CHECK(c.items[1].wm == 1001);
}

// ------------------------------------------------------------ re-interpretation

TEST_CASE("recording: report --cancel/--done re-interpret recorded events", "[recording]") {
  const std::string f = standard_recording();
  // The same specs as recorded: same report.
  ReplayOptions same;
  same.override_windows = true;
  same.cancel = parse_window_spec("usdt:irqlat:cancel", false);
  same.done = parse_window_spec("usdt:irqlat:done", true);
  CHECK(json_of(replay_bytes(f, same).report) == json_of(replay_bytes(f).report));
  // Done at process exit: the done markers no longer close windows.
  ReplayOptions ex = same;
  ex.done = parse_window_spec("exit", true);
  Report r = replay_bytes(f, ex).report;
  CHECK(r.windows.count == 0);
  CHECK(r.windows.unfinished > 0);
  CHECK(r.done_spec == "exit");
  // Swapped: the recorded done markers open windows.
  ReplayOptions sw = same;
  sw.cancel = parse_window_spec("usdt:irqlat:done", false);
  sw.done = parse_window_spec("usdt:irqlat:cancel", true);
  CHECK(replay_bytes(f, sw).report.windows.count > 0);
  // Markers that were never attached cannot be conjured.
  ReplayOptions other = same;
  other.cancel = parse_window_spec("usdt:app:stop", false);
  CHECK(error_of(f, other) ==
        "--cancel 'usdt:app:stop' was not recorded: the recording has marker events of "
        "'usdt:irqlat:cancel', 'usdt:irqlat:done' only");
  // Signals need recorded signal records.
  ReplayOptions sig;
  sig.override_windows = true;
  sig.cancel = parse_window_spec("signal", false);
  sig.done = parse_window_spec("exit", true);
  CHECK_THAT(error_of(f, sig), Contains("it was recorded without --cancel signal"));
  RecordingHeader h = test_header();
  h.signal_mask = 1ull << 15;
  const std::string fs = make_recording(session_items(), h, session_kernel());
  CHECK_THAT(error_of(fs, sig), Contains("it holds signals 15 only"));
  sig.cancel = parse_window_spec("signal:TERM", false);
  Report rs = replay_bytes(fs, sig).report;
  CHECK(rs.windows.unfinished + rs.windows.count == 1);  // the one SIGTERM record
  // A window timeout override.
  ReplayOptions to;
  to.window_timeout_ns = 1;
  CHECK(replay_bytes(f, to).report.windows.count == 0);
}

// ------------------------------------------------------------ command line

TEST_CASE("recording: record and report options", "[recording][options]") {
  auto parse = [](std::vector<const char*> args) {
    args.insert(args.begin(), "irqlat");
    return parse_options(static_cast<int>(args.size()), args.data(), 2);
  };
  Options o = parse({"record", "-a", "-o", "x.rec"});
  CHECK(o.command == Command::Record);
  CHECK(o.output == "x.rec");
  CHECK(!o.format_given);  // no tables on stdout unless asked
  o = parse({"record", "-p", "1", "-o", "x.rec", "-f", "json", "--max-windows", "7"});
  CHECK(o.format_given);
  CHECK(o.format == OutputFormat::Json);
  CHECK(o.max_windows_given);
  CHECK(o.window_list_cap == 7);
  CHECK_THROWS_WITH(parse({"record", "-a", "-o", "x.rec", "-f", "xml"}), Contains("xml"));

  o = parse({"report", "x.rec"});
  CHECK(o.command == Command::Report);
  CHECK(o.input == "x.rec");
  CHECK(!o.windows_enabled());
  CHECK(!o.window_timeout_given);
  CHECK(!o.max_windows_given);
  o = parse({"report", "x.rec", "--cancel", "usdt:irqlat:cancel", "--done", "exit", "--window-timeout", "2s"});
  CHECK(o.cancel.kind == WindowSpec::Usdt);
  CHECK(o.done.kind == WindowSpec::Exit);
  CHECK(o.window_timeout_given);
  CHECK(o.window_timeout_ns == 2'000'000'000ULL);
  o = parse({"report", "x.rec", "--cancel", "signal:TERM"});
  CHECK(o.done.kind == WindowSpec::Exit);  // as for trace
  CHECK_THROWS_WITH(parse({"report", "x.rec", "--done", "exit"}), Contains("--done needs --cancel"));
  CHECK_THROWS_AS(parse({"report", "x.rec", "-i", "1s"}), UsageError);
}
