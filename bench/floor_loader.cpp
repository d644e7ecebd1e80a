// floor_loader - holds the empty floor programs (bench/floor.bpf.c) attached
// until SIGTERM/SIGINT, so bench/bench.py can compare irqlat's per-event cost
// and its effect on a workload against the bare cost of a BPF program on the
// same tracepoints.
//
//   floor_loader [--list] [--clock]
//
// --clock: every program reads bpf_ktime_get_ns() once (floor.bpf.c).
// A tracepoint this kernel lacks (no btf_trace_<tp> in vmlinux BTF) is
// skipped, as irqlat's loader skips it. Once every program is attached it
// prints one line on stderr, "floor: tracing N programs: tp,tp,...", and then
// waits for SIGTERM or SIGINT; it detaches everything and exits 0. --list
// prints the tracepoints it would attach (one per line on stdout) and exits.
// Exit status 2 on a usage error, 1 on a load or attach failure (message on
// stderr). Per-program statistics are read by the caller from
// /proc/PID/fdinfo (run_time_ns, run_cnt with kernel.bpf_stats_enabled=1).
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/floor.skel.h"

namespace {

const char* kUsage =
    "usage: floor_loader [--list] [--clock]\n"
    "  attaches an empty tp_btf program to every tracepoint irqlat uses,\n"
    "  prints 'floor: tracing N programs: ...' on stderr, waits for SIGTERM/SIGINT\n"
    "  --list  print the tracepoints this kernel has, one per line, and exit\n"
    "  --clock each program reads bpf_ktime_get_ns() once (the least a timestamping program costs)\n";

struct SkelDeleter {
  void operator()(floor_bpf* s) const { floor_bpf__destroy(s); }
};
struct BtfDeleter {
  void operator()(btf* b) const { btf__free(b); }
};
struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};

int quiet_print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level != LIBBPF_WARN) return 0;
  return vfprintf(stderr, fmt, args);
}

// "tp_btf/sched_switch" -> "sched_switch"
std::string tracepoint_of(const bpf_program* prog) {
  const char* sec = bpf_program__section_name(prog);
  const char* slash = std::strchr(sec, '/');
  return slash ? slash + 1 : sec;
}

}  // namespace

int main(int argc, char** argv) {
  bool list = false, clock = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--list") {
      list = true;
    } else if (a == "--clock") {
      clock = true;
    } else if (a == "-h" || a == "--help") {
      fputs(kUsage, stdout);
      return 0;
    } else {
      fprintf(stderr, "floor_loader: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  libbpf_set_print(quiet_print);

  // Block the stop signals before anything can be attached: sigwait() below
  // takes them, so no handler races with the skeleton's teardown.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);

  std::unique_ptr<floor_bpf, SkelDeleter> skel(floor_bpf__open());
  if (!skel) {
    fprintf(stderr, "floor_loader: cannot open the BPF object: %s\n", strerror(errno));
    return 1;
  }
  std::unique_ptr<btf, BtfDeleter> vmlinux(btf__load_vmlinux_btf());
  if (!vmlinux) {
    fprintf(stderr, "floor_loader: this kernel has no BTF (/sys/kernel/btf/vmlinux)\n");
    return 1;
  }
  std::vector<std::string> present;
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel->obj) {
    std::string tp = tracepoint_of(prog);
    bool have = btf__find_by_name_kind(vmlinux.get(), ("btf_trace_" + tp).c_str(),
                                       BTF_KIND_TYPEDEF) >= 0;
    bpf_program__set_autoload(prog, have);
    if (have) present.push_back(tp);
  }
  if (list) {
    for (const std::string& tp : present) printf("%s\n", tp.c_str());
    return 0;
  }
  skel->rodata->read_clock = clock;
  if (int err = floor_bpf__load(skel.get())) {
    fprintf(stderr, "floor_loader: cannot load the BPF programs: %s\n", strerror(-err));
    return 1;
  }

  std::vector<std::unique_ptr<bpf_link, LinkDeleter>> links;
  std::string names;
  bpf_object__for_each_program(prog, skel->obj) {
    if (!bpf_program__autoload(prog)) continue;
    std::string tp = tracepoint_of(prog);
    bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      fprintf(stderr, "floor_loader: cannot attach to tracepoint %s: %s\n", tp.c_str(),
              strerror(errno));
      return 1;
    }
    links.emplace_back(link);
    names += (names.empty() ? "" : ",") + tp;
  }
  fprintf(stderr, "floor: tracing %zu programs: %s\n", links.size(), names.c_str());

  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  links.clear();
  return 0;
}
