// bucket_cost - times the histogram bucket of bpf/irqlat.h as the JIT runs
// it (bench/bucket_cost.bpf.c), for bench section 1: BPF_PROG_TEST_RUN of
// each mode's program, ROUNDS rounds alternating the order, REPEAT runs each.
// Prints one JSON line: {"rounds": N, "branchy_ns": [...], "irqlat_ns": [...]},
// each figure the ns per bucket of one round (mode's ns/run minus the
// baseline's, over 16 buckets a run).
//
//   bucket_cost [ROUNDS [REPEAT]]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bucket_cost.skel.h"

namespace {

constexpr int kBucketsPerRun = 16;

int quiet_print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level != LIBBPF_WARN) return 0;
  return vfprintf(stderr, fmt, args);
}

// ns per run of one mode's program, as the kernel times test runs.
bool time_run(bucket_cost_bpf* skel, int repeat, double& ns) {
  char pkt[64] = {};  // XDP needs a packet; the program ignores it
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = repeat);
  if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.bucket_cost), &opts) != 0) return false;
  ns = opts.duration;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 10;
  const int repeat = argc > 2 ? std::atoi(argv[2]) : 200000;
  if (argc > 3 || rounds < 1 || repeat < 1) {
    std::fprintf(stderr, "usage: bucket_cost [ROUNDS [REPEAT]]\n");
    return 2;
  }
  libbpf_set_print(quiet_print);
  bucket_cost_bpf* skel[3] = {};
  for (int m = 0; m < 3; m++) {
    skel[m] = bucket_cost_bpf__open();
    if (!skel[m]) {
      std::fprintf(stderr, "bucket_cost: cannot open the BPF object\n");
      return 1;
    }
    skel[m]->rodata->mode = m;
    if (bucket_cost_bpf__load(skel[m]) != 0) {
      std::fprintf(stderr, "bucket_cost: cannot load the BPF program (root and BPF needed)\n");
      return 1;
    }
    const __u32 zero = 0;
    const __u64 seed = 88172645463325252ULL;
    if (bpf_map_update_elem(bpf_map__fd(skel[m]->maps.rng), &zero, &seed, BPF_ANY) != 0) {
      std::perror("bucket_cost: seeding the generator");  // a zero state would draw only 512 ns
      return 1;
    }
  }
  std::string branchy, ours;
  for (int r = 0; r < rounds; r++) {
    double ns[3];
    for (int i = 0; i < 3; i++) {
      const int m = (r + i) % 3;  // the order rotates each round
      if (!time_run(skel[m], repeat, ns[m])) {
        std::perror("bucket_cost: BPF_PROG_TEST_RUN");
        return 1;
      }
    }
    branchy += (r ? ", " : "") + std::to_string((ns[1] - ns[0]) / kBucketsPerRun);
    ours += (r ? ", " : "") + std::to_string((ns[2] - ns[0]) / kBucketsPerRun);
  }
  std::printf("{\"rounds\": %d, \"branchy_ns\": [%s], \"irqlat_ns\": [%s]}\n", rounds, branchy.c_str(), ours.c_str());
  for (bucket_cost_bpf* s : skel) bucket_cost_bpf__destroy(s);
  return 0;
}
