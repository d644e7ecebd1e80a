// gen_recording: writes a synthetic irqlat recording of N events, for timing
// `irqlat report` on large inputs (issue 6) without root or a real workload.
//
//   gen_recording N FILE [--seed S] [--level L] [--format 2|3|4|5] [--compress zlib|zstd] [--block-bytes B]
//
// The stream looks like a busy traced program: 4 processes of 4 threads on 2
// CPUs waking, switching, being interrupted (device IRQ 36, LOC, TIMER and
// NET_RX softirqs), preempted now and then, and every ~2000 records a
// cancellation window (usdt:irqlat:cancel on a process's main thread, one
// usdt:irqlat:done per worker). Records come in CPU-interleaved order with
// interleaving off by at most one step, watermarks every ~100 ms of trace time, interim
// statistics every 2 s, like `irqlat record` writes them: formats 3 to 5
// (the default) store them as the live Reorderer released them, format 2 in
// arrival order.
//
// Prints one line: events, file bytes, bytes/event.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bpf/irqlat.h"
#include "user/recording.h"
#include "user/reorder.h"

using namespace irqlat;

namespace {

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo + 1); }
  bool chance(unsigned pct) { return next() % 100 < pct; }
};

constexpr int kCpus = 2, kProcs = 4, kThreads = 4, kMaxIrq = 64;

struct Thread {
  int tid, pid;
  char comm[IRQLAT_COMM_LEN];
  bool cancel_pending = false;
};

ev_hdr hdr(uint64_t ts, int cpu, int tid, int type, int flags = 0) {
  ev_hdr h{};
  h.ts = ts;
  h.tid = static_cast<__u32>(tid);
  h.cpu = static_cast<__u16>(cpu);
  h.type = static_cast<__u8>(type);
  h.flags = static_cast<__u8>(flags);
  return h;
}

// Synthetic kernel aggregates: what the interrupts above would have summed to.
struct FakeStats {
  std::vector<irq_stat> cells = std::vector<irq_stat>(IRQLAT_NR_SLOTS(kMaxIrq) * kCpus);
  void add(uint32_t slot, int cpu, uint64_t net, const char* name = nullptr) {
    irq_stat& s = cells[slot * kCpus + cpu];
    s.count++;
    s.total_ns += net;
    if (net > s.max_ns) s.max_ns = net;
    s.hist[irqlat_hist_bucket(net)]++;
    if (name && !s.name[0]) std::snprintf(s.name, sizeof(s.name), "%s", name);
  }
  KernelIrqStats view() const {
    KernelIrqStats k;
    k.nr_cpus = kCpus;
    k.max_irq = kMaxIrq;
    k.stat = [this](uint32_t slot, int cpu) -> const irq_stat& { return cells[slot * kCpus + cpu]; };
    return k;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: gen_recording N FILE [--seed S] [--level L] [--format 2|3|4|5] [--compress zlib|zstd] [--block-bytes B]\n");
    return 2;
  }
  const uint64_t n = std::strtoull(argv[1], nullptr, 10);
  const std::string path = argv[2];
  uint64_t seed = 42;
  int level = WriterOptions{}.level;
  int format = recfmt::kVersion;
  bool zstd = false;
  uint32_t block_bytes = WriterOptions{}.block_bytes;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seed")) seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--level")) level = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--format")) format = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--compress") && (!std::strcmp(argv[i + 1], "zstd") || !std::strcmp(argv[i + 1], "zlib")))
      zstd = !std::strcmp(argv[i + 1], "zstd");
    else if (!std::strcmp(argv[i], "--block-bytes")) block_bytes = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "gen_recording: bad option '%s %s'\n", argv[i], argv[i + 1]);
      return 2;
    }
  }
  if (format < 2 || format > recfmt::kVersion || (zstd && format < 3)) {
    std::fprintf(stderr, "gen_recording: --format must be 2 to 5 (zstd: 3 to 5)\n");
    return 2;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "gen_recording: cannot write '%s': %s\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  WriterOptions wo;
  wo.level = level;
  wo.version = static_cast<uint8_t>(format);
  wo.codec = zstd ? recfmt::kCodecZstd : recfmt::kCodecZlib;
  wo.block_bytes = block_bytes;
  RecordingWriter w(fd, path, wo);
  Reorderer reorder;  // format 3 on: what the live session delivered
  auto store = [&w](const void* d, size_t size) { w.add_record(d, size); };
  Rng rng{seed | 1};

  std::vector<Thread> threads;
  for (int p = 0; p < kProcs; p++)
    for (int t = 0; t < kThreads; t++) {
      Thread th{};
      th.pid = 5000 + 100 * p;
      th.tid = th.pid + t;
      std::snprintf(th.comm, sizeof(th.comm), t == 0 ? "app%d" : "app%d-w%d", p, t);
      threads.push_back(th);
    }

  const uint64_t start = 1'000'000'000'000ULL;
  RecordingHeader h;
  h.tool_version = "gen_recording";
  h.kernel = "synthetic";
  h.boot_id = "00000000-0000-0000-0000-000000000000";
  h.cpus = kCpus;
  h.start_ns = start;
  h.argv = {"gen_recording", argv[1], path};
  h.targets = "synthetic";
  h.windows_enabled = true;
  h.cancel_spec = "usdt:irqlat:cancel";
  h.done_spec = "usdt:irqlat:done";
  h.stats_interval_ns = 2'000'000'000;
  h.irq_names = {{36, "virtio1-req.0"}};
  for (const Thread& t : threads) h.threads.push_back({t.tid, t.pid, t.comm});
  w.write_header(h);

  FakeStats stats;
  uint64_t now[kCpus] = {start, start};
  int running[kCpus] = {0, 0};  // index+1 into threads, 0 = idle
  uint64_t emitted = 0, next_wm = start + 100'000'000, next_stats = start + 2'000'000'000;

  auto emit = [&](const void* rec, size_t size) {
    if (format >= 3)
      reorder.push(rec, size);
    else
      w.add_record(rec, size);
    emitted++;
  };
  auto put = [&](const auto& e) { emit(&e, sizeof(e)); };

  while (emitted < n) {
    const int cpu = now[0] <= now[1] ? 0 : 1;  // CPUs stay within a step of each other
    uint64_t& ts = now[cpu];
    ts += rng.range(500, 20000);
    if (running[cpu] == 0) {
      // A target wakes and gets this CPU.
      Thread& t = threads[rng.next() % threads.size()];
      const int idx = static_cast<int>(&t - threads.data()) + 1;
      if (running[0] == idx || running[1] == idx) continue;
      ev_wake wk{};
      wk.h = hdr(ts, cpu, t.tid, EV_WAKING);
      wk.pid = static_cast<__u32>(t.pid);
      wk.target_cpu = cpu;
      put(wk);
      ts += rng.range(1000, 30000);
      ev_switch sw{};
      sw.h = hdr(ts, cpu, 0, EV_SWITCH);
      sw.next_tid = static_cast<__u32>(t.tid);
      sw.next_pid = static_cast<__u32>(t.pid);
      sw.next_target = 1;
      std::memcpy(sw.next_comm, t.comm, sizeof(sw.next_comm));
      put(sw);
      running[cpu] = idx;
      continue;
    }
    Thread& t = threads[running[cpu] - 1];
    const unsigned roll = static_cast<unsigned>(rng.next() % 100);
    if (roll < 45) {
      // An interrupt while the target runs.
      ev_irq e{};
      const uint64_t net = rng.range(300, 15000);
      e.h = hdr(ts, cpu, t.tid, EV_IRQ);
      e.pid = static_cast<__u32>(t.pid);
      e.start_ts = ts - net - rng.range(0, 200);
      e.net_ns = net;
      const unsigned which = static_cast<unsigned>(rng.next() % 4);
      if (which == 0) {
        e.kind = IRQ_KIND_HARDIRQ, e.id = 36;
        stats.add(IRQLAT_SLOT_HARDIRQ0 + 36, cpu, net, "virtio1-req.0");
      } else if (which == 1) {
        e.kind = IRQ_KIND_VECTOR, e.id = VEC_LOCAL_TIMER;
        stats.add(IRQLAT_SLOT_VECTOR(VEC_LOCAL_TIMER), cpu, net);
      } else {
        e.kind = IRQ_KIND_SOFTIRQ, e.id = which == 2 ? 1 : 3;  // TIMER, NET_RX
        stats.add(IRQLAT_SLOT_SOFTIRQ(e.id), cpu, net);
      }
      put(e);
    } else if (roll < 50) {
      // Cancellation marks: the main thread cancels, workers report done.
      ev_mark m{};
      const bool main_thread = t.tid == t.pid;
      m.h = hdr(ts, cpu, t.tid, EV_MARK);
      m.pid = static_cast<__u32>(t.pid);
      if (main_thread && rng.chance(10)) {
        m.which = MARK_CANCEL;
        for (Thread& o : threads)
          if (o.pid == t.pid && o.tid != o.pid) o.cancel_pending = true;
        put(m);
      } else if (!main_thread && t.cancel_pending) {
        m.which = MARK_DONE;
        t.cancel_pending = false;
        put(m);
      }
    } else {
      // Switch out: blocked (most of the time) or preempted by a non-target.
      ev_switch sw{};
      sw.h = hdr(ts, cpu, t.tid, EV_SWITCH);
      sw.prev_pid = static_cast<__u32>(t.pid);
      sw.prev_target = 1;
      sw.prev_runnable = rng.chance(15);
      if (sw.prev_runnable) {
        sw.next_tid = 77, sw.next_pid = 77;
        std::memcpy(sw.next_comm, "kworker/0:1", 12);
      } else {
        std::memcpy(sw.next_comm, cpu ? "swapper/1" : "swapper/0", 10);
      }
      put(sw);
      running[cpu] = 0;
    }
    const uint64_t lo = std::min(now[0], now[1]);
    if (lo >= next_wm) {
      reorder.release_until(next_wm - 2'000'000, store);
      w.add_watermark(next_wm - 2'000'000);
      next_wm += 100'000'000;
    }
    if (lo >= next_stats) {
      w.add_stats(stats.view(), lo, kstats{}, 0, emitted, false);
      next_stats += 2'000'000'000;
    }
  }
  reorder.flush(store);
  const uint64_t end = std::max(now[0], now[1]) + 1000;
  kstats k{};
  k.records = emitted;
  w.add_stats(stats.view(), end, k, 0, emitted, true);
  try {
    w.finish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gen_recording: %s\n", e.what());
    return 1;
  }
  const uint64_t bytes = w.bytes_written();
  std::printf("gen_recording: %llu events, %llu bytes, %.2f bytes/event, %.2f s of trace time\n",
              static_cast<unsigned long long>(emitted), static_cast<unsigned long long>(bytes),
              static_cast<double>(bytes) / static_cast<double>(emitted), (end - start) / 1e9);
  return 0;
}
