// Kernel-side unit test of interrupt self time (root: loads BPF).
//
// Drives the real raw_tp programs with BPF_PROG_TEST_RUN, without attaching
// them, so only these synthetic calls touch the maps: softirq entry, then a
// hardirq entry/exit nested inside it, then the softirq exit, with known
// sleeps between the calls. The hardirq's time must be subtracted from the
// softirq (self time, counted once, in the innermost context), and a stale
// entry whose exit never came must not be charged.
//
// Prints "kernel tests: N passed, N failed" and exits non-zero on failure.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "bpf/irqlat.h"
#include "irqlat.skel.h"

namespace {

int passed = 0, failed = 0;

void check(bool ok, const std::string& what) {
  printf("%s: %s\n", ok ? "ok  " : "FAIL", what.c_str());
  (ok ? passed : failed)++;
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000ULL + ts.tv_nsec;
}

void sleep_us(long us) {
  timespec ts{0, us * 1000};
  nanosleep(&ts, nullptr);
}

struct Fixture {
  irqlat_bpf* skel = nullptr;
  int ncpu = 0;
  uint32_t max_irq = 64;
  irq_stat* stats = nullptr;
  size_t stats_len = 0;

  Fixture() {
    ncpu = libbpf_num_possible_cpus();
    skel = irqlat_bpf__open();
    if (!skel) throw std::runtime_error("open");
    bpf_program* p;
    bpf_object__for_each_program(p, skel->obj) {
      bpf_program__set_autoload(p, strncmp(bpf_program__section_name(p), "raw_tp/", 7) == 0);
    }
    skel->rodata->nr_cpus = ncpu;
    skel->rodata->max_irq = max_irq;
    bpf_map__set_max_entries(skel->maps.irq_stats, IRQLAT_NR_SLOTS(max_irq) * ncpu);
    bpf_map__set_max_entries(skel->maps.events, 1 << 20);
    if (irqlat_bpf__load(skel)) throw std::runtime_error("load");
    skel->bss->gate.on = true;
    stats_len = (size_t)bpf_map__value_size(skel->maps.irq_stats) *
                bpf_map__max_entries(skel->maps.irq_stats);
    stats_len = (stats_len + 4095) / 4096 * 4096;
    void* m = mmap(nullptr, stats_len, PROT_READ, MAP_SHARED, bpf_map__fd(skel->maps.irq_stats), 0);
    if (m == MAP_FAILED) throw std::runtime_error("mmap");
    stats = static_cast<irq_stat*>(m);
  }
  ~Fixture() {
    munmap(stats, stats_len);
    irqlat_bpf__destroy(skel);
  }
  // Runs one raw_tp program on this CPU with the given tracepoint args.
  void run(bpf_program* prog, uint64_t a0, uint64_t a1 = 0) {
    uint64_t args[3] = {a0, a1, 0};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));
    if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts) != 0)
      throw std::runtime_error(std::string("test_run ") + bpf_program__name(prog) + ": " +
                               strerror(errno));
  }
  const irq_stat& stat(uint32_t slot, int cpu) const { return stats[slot * ncpu + cpu]; }
  // The kernel side's own counters on cpu (a per-CPU array of one entry).
  kstats counters(int cpu) const {
    std::vector<kstats> all(ncpu);
    const uint32_t zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.kstats), &zero, all.data()) != 0)
      throw std::runtime_error(std::string("kstats: ") + strerror(errno));
    return all[cpu];
  }
};

}  // namespace

int main() {
  if (geteuid() != 0) {
    printf("kernel tests: 0 passed, 0 failed (skipped: not root)\n");
    return 0;
  }
  libbpf_set_print([](enum libbpf_print_level, const char*, va_list) { return 0; });
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof(set), &set);  // test_run runs on the calling CPU

  try {
    Fixture f;
    auto* p = f.skel->progs.raw_tp_softirq_entry;
    const uint32_t vec = 5;     // IRQ_POLL
    const uint32_t irq = 60;    // an IRQ number nothing else uses here
    const int rounds = 20;
    uint64_t wall = 0;
    // Wall time of each round outside the nested hardirq: the softirq's
    // entry -> hardirq entry and hardirq exit -> softirq exit, each measured
    // around the programs' own clock reads, so it bounds the softirq's self
    // time from above however long the sleeps take.
    uint64_t outer = 0;
    for (int i = 0; i < rounds; i++) {
      const uint64_t t0 = now_ns();
      f.run(p, vec);
      sleep_us(200);
      f.run(f.skel->progs.raw_tp_irq_handler_entry, irq);
      const uint64_t t1 = now_ns();
      sleep_us(5000);
      const uint64_t t2 = now_ns();
      f.run(f.skel->progs.raw_tp_irq_handler_exit, irq);
      sleep_us(200);
      f.run(f.skel->progs.raw_tp_softirq_exit, vec);
      const uint64_t t3 = now_ns();
      wall += t3 - t0;
      outer += (t1 - t0) + (t3 - t2);
    }
    const irq_stat& soft = f.stat(IRQLAT_SLOT_SOFTIRQ(vec), 0);
    const irq_stat& hard = f.stat(IRQLAT_SLOT_HARDIRQ0 + irq, 0);
    printf("softirq: %llu x, %llu ns; hardirq: %llu x, %llu ns; wall %llu ns, outside the hardirq %llu ns\n",
           (unsigned long long)soft.count, (unsigned long long)soft.total_ns,
           (unsigned long long)hard.count, (unsigned long long)hard.total_ns,
           (unsigned long long)wall, (unsigned long long)outer);
    check(soft.count == rounds && hard.count == rounds, "every nested pair matched");
    check(hard.total_ns >= rounds * 5'000'000ULL, "hardirq self time covers its 5 ms");
    // Without subtraction the softirq would also hold the hardirq's 5 ms per
    // round, which `outer` leaves out (sleeps only oversleep, so the lower
    // bound holds on a loaded machine too).
    check(soft.total_ns >= rounds * 400'000ULL && soft.total_ns <= outer,
          "softirq self time excludes the nested hardirq");
    check(soft.total_ns + hard.total_ns <= wall, "self times add up to no more than the wall time");

    // A stale entry (its exit lost) is dropped at the next entry, not charged.
    const irq_stat before = hard;
    const uint64_t unmatched = f.counters(0).irq_unmatched;
    f.run(f.skel->progs.raw_tp_irq_handler_entry, irq);  // exit never comes
    sleep_us(20000);
    f.run(f.skel->progs.raw_tp_irq_handler_entry, irq);
    f.run(f.skel->progs.raw_tp_irq_handler_exit, irq);
    check(hard.count == before.count + 1, "stale entry: one invocation counted");
    check(hard.max_ns < 20'000'000ULL, "stale entry: the 20 ms gap is not charged");
    check(f.counters(0).irq_unmatched == unmatched + 1, "stale entry: counted as irq_unmatched");
    // An exit without an entry is ignored and counted too.
    f.run(f.skel->progs.raw_tp_irq_handler_exit, irq);
    check(hard.count == before.count + 1, "lone exit: nothing counted");
    check(f.counters(0).irq_unmatched == unmatched + 2, "lone exit: counted as irq_unmatched");
  } catch (const std::exception& e) {
    check(false, std::string("setup: ") + e.what());
  }
  printf("kernel tests: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
