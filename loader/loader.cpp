// See loader.h. Feature probing lives here: tp_btf vs raw_tp, and which of
// the optional x86 vector tracepoints this kernel has.
#include "loader/loader.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <linux/capability.h>
#include <linux/membarrier.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "irqlat.skel.h"
#include "loader/elf_probe.h"

namespace irqlat {
namespace {

constexpr size_t kTargetBitsLen = IRQLAT_TID_WORDS * sizeof(uint64_t);
// Records between two checks of the abort predicate while draining.
constexpr unsigned kAbortCheckEvery = 256;

bool g_libbpf_verbose = false;

// libbpf's own messages only with -vv: its warnings become our one-line errors.
int libbpf_print(enum libbpf_print_level, const char* fmt, va_list args) {
  return g_libbpf_verbose ? vfprintf(stderr, fmt, args) : 0;
}

bool has_cap(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

void check_privileges() {
  constexpr int kCapSysAdmin = 21, kCapPerfmon = 38, kCapBpf = 39;
  bool ok = has_cap(kCapSysAdmin) || (has_cap(kCapBpf) && has_cap(kCapPerfmon));
  if (!ok)
    throw LoaderError(
        "permission denied: irqlat must run as root (needs CAP_BPF and CAP_PERFMON, or "
        "CAP_SYS_ADMIN)");
}

void check_btf() {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
    throw LoaderError(
        "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): irqlat needs a kernel "
        "built with CONFIG_DEBUG_INFO_BTF=y");
}

std::string errno_text(int err) {
  err = err < 0 ? -err : err;
  if (err == EPERM || err == EACCES)
    return "permission denied (run as root with CAP_BPF and CAP_PERFMON)";
  return std::strerror(err);
}

bool starts_with(const char* s, const char* prefix) {
  return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// Marker programs load only when a window spec needs them.
bool is_marker(const char* name) {
  return starts_with(name, "uprobe_") || starts_with(name, "usdt_");
}

// The tracepoint a program's section names ("tp_btf/sched_switch" ->
// "sched_switch"; the section itself when it has no '/').
const char* tracepoint_of(const char* sec) {
  const char* slash = std::strchr(sec, '/');
  return slash ? slash + 1 : sec;
}

// Tracepoints only streamed targets need: with every target accounted in
// the kernel they are not attached at all (each attached program costs the
// traced task its trampoline on every event).
bool stream_only(const char* sec) {
  const char* tp = tracepoint_of(sec);
  return std::strcmp(tp, "sched_wakeup") == 0 || std::strcmp(tp, "sched_migrate_task") == 0;
}

// What only streamed targets read, among the programs the daemon loads:
// their timelines (wakeup, migrate) and signal windows. With lazy_streaming
// these wait for attach_streaming(). (Exec is not one: a thread other than
// the leader that execs changes its tid, which every target's entry and
// account must follow.)
bool streaming_group(const char* sec) {
  const char* tp = tracepoint_of(sec);
  return stream_only(sec) || std::strcmp(tp, "signal_generate") == 0;
}

// Tracepoints whose program has nothing to do under this configuration:
// not loaded at all. Signals matter only to signal windows (the daemon may
// add those later); fork in -a mode only to streamed timelines (accounts
// start at first sight; raw_tp mode still needs it to clear an exited
// thread's account before its tid is reused, which task storage does by
// itself).
bool unneeded(const char* sec, const LoaderConfig& cfg, bool use_tp_btf) {
  if (!std::strchr(sec, '/') || cfg.stream_all || cfg.may_stream) return false;
  const char* tp = tracepoint_of(sec);
  if (std::strcmp(tp, "signal_generate") == 0) return cfg.signal_mask == 0;
  if (std::strcmp(tp, "sched_process_fork") == 0) return cfg.all && use_tp_btf;
  return false;
}

// x86 vectors that fire rarely or never (errors, thermal events), by their
// /proc/interrupts mnemonic.
struct RareVector {
  const char* mnemonic;
  const char* tp;  // tracepoint name without _entry/_exit
};
constexpr RareVector kRareVectors[] = {
    {"PLT", "x86_platform_ipi"}, {"TRM", "thermal_apic"}, {"THR", "threshold_apic"},
    {"DFR", "deferred_error_apic"}, {"ERR", "error_apic"}, {"SPU", "spurious_apic"},
};

// The rare vector a tracepoint belongs to, or nullptr.
const RareVector* rare_vector_of(const char* tp) {
  for (const RareVector& v : kRareVectors) {
    size_t n = std::strlen(v.tp);
    if (std::strncmp(tp, v.tp, n) == 0 && (std::strcmp(tp + n, "_entry") == 0 ||
                                           std::strcmp(tp + n, "_exit") == 0))
      return &v;
  }
  return nullptr;
}

// Programs that are not tracepoints: attached on their own.
bool is_iterator(const char* sec) { return starts_with(sec, "iter/"); }

// Runs a task iterator over every task; returns what it wrote.
std::vector<char> run_iterator(bpf_link* link, const char* what) {
  const int fd = bpf_iter_create(bpf_link__fd(link));
  if (fd < 0) throw LoaderError(std::string("cannot ") + what + ": " + errno_text(errno));
  std::vector<char> buf;
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    // EAGAIN: the kernel paused a long walk (a million tasks) that wrote
    // nothing; reading again resumes it.
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      throw LoaderError(std::string("cannot ") + what + ": " + errno_text(err));
    }
    if (n == 0) break;
    buf.insert(buf.end(), chunk, chunk + n);
  }
  close(fd);
  return buf;
}

// The sched and irq programs are required; x86 vector ones are optional
// (a kernel may lack e.g. threshold_apic).
bool is_optional(const char* tp) {
  static const char* required[] = {"sched_", "irq_handler_", "softirq_", "signal_"};
  for (const char* r : required)
    if (starts_with(tp, r)) return false;
  return true;
}

}  // namespace

uint32_t max_irq_from_proc() {
  std::ifstream in("/proc/interrupts");
  std::string line;
  uint32_t max = 0;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    unsigned n;
    char colon;
    if (ls >> n >> colon && colon == ':') max = std::max(max, n + 1);
  }
  // Headroom for IRQs set up while tracing; larger numbers share a slot.
  return std::max<uint32_t>(64, max + 16);
}

void check_can_trace() {
  check_privileges();
  check_btf();
}

Loader::Loader(const LoaderConfig& cfg)
    : lazy_rare_vectors_(cfg.lazy_rare_vectors), lazy_streaming_(cfg.lazy_streaming), verbose_(cfg.verbose) {
  g_libbpf_verbose = cfg.verbose >= 2;
  libbpf_set_print(libbpf_print);
  check_can_trace();
  nr_cpus_ = libbpf_num_possible_cpus();
  if (nr_cpus_ <= 0 || nr_cpus_ > IRQLAT_MAX_CPUS)
    throw LoaderError("unsupported number of CPUs: " + std::to_string(nr_cpus_));
  max_irq_ = max_irq_from_proc();
  // IRQLAT_FORCE_RAW_TP=1 takes the fallback path on purpose (tests use it).
  const char* force_raw = getenv("IRQLAT_FORCE_RAW_TP");
  use_tp_btf_ = !(force_raw && *force_raw && *force_raw != '0');
  if (use_tp_btf_) {
    try {
      open_and_load(cfg, true);
    } catch (const LoaderError& e) {
      // Kernels without tp_btf (or with a verifier that rejects it) get raw_tp.
      if (verbose_) fprintf(stderr, "irqlat: tp_btf failed (%s), trying raw_tp\n", e.what());
      use_tp_btf_ = false;
    }
  }
  if (!use_tp_btf_) open_and_load(cfg, false);
  rb_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), on_sample, this, nullptr);
  if (!rb_) throw LoaderError("cannot open the BPF ring buffer: " + errno_text(errno));
}

void Loader::open_and_load(const LoaderConfig& cfg, bool use_tp_btf) {
  if (skel_) {
    irqlat_bpf__destroy(skel_);
    skel_ = nullptr;
  }
  skel_ = irqlat_bpf__open();
  if (!skel_) throw LoaderError("cannot open the BPF object: " + errno_text(errno));

  btf* vmlinux = btf__load_vmlinux_btf();
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    const char* name = bpf_program__name(prog);
    const char* sec = bpf_program__section_name(prog);
    bool load = true;
    if (is_marker(name)) {
      load = cfg.markers;
    } else if (!cfg.stream_all && !cfg.may_stream && stream_only(sec)) {
      load = false;  // kernel accounting needs no records of these
    } else if (unneeded(sec, cfg, use_tp_btf)) {
      load = false;
    } else if (starts_with(sec, "tp_btf/")) {
      load = use_tp_btf;
      std::string tdef = std::string("btf_trace_") + (sec + 7);
      if (load && vmlinux && btf__find_by_name_kind(vmlinux, tdef.c_str(), BTF_KIND_TYPEDEF) < 0)
        load = false;  // tracepoint absent in this kernel
    } else if (starts_with(sec, "raw_tp/")) {
      load = !use_tp_btf;
    }
    bpf_program__set_autoload(prog, load);
  }
  btf__free(vmlinux);

  auto* ro = skel_->rodata;
  ro->targ_all = cfg.all;
  ro->self_tgid = static_cast<__u32>(getpid());
  ro->nr_cpus = nr_cpus_;
  ro->max_irq = max_irq_;
  ro->signal_mask = cfg.signal_mask;
  ro->wakeup_bytes = cfg.ringbuf_bytes / 4;
  ro->stream_all = cfg.stream_all;
  ro->may_stream = cfg.stream_all || cfg.may_stream;
  ro->use_task_storage = use_tp_btf;
  // IRQLAT_HOT_SLOTS=N (a power of two <= IRQLAT_HOT_SLOTS): tests use 1 so
  // that every thread but one takes the task-storage / hash fallback.
  if (const char* hs = getenv("IRQLAT_HOT_SLOTS"); hs && *hs) {
    unsigned long n = std::strtoul(hs, nullptr, 10);
    if (n >= 1 && n <= IRQLAT_HOT_SLOTS && (n & (n - 1)) == 0) ro->hot_mask = static_cast<__u32>(n - 1);
  }
  if (!cfg.cpus.empty()) {
    ro->filter_cpus = true;
    for (int c : cfg.cpus)
      if (c >= 0 && c < IRQLAT_MAX_CPUS) ro->cpu_allowed[c] = 1;
  }
  if (!cfg.comm.empty()) {
    ro->has_comm = true;
    std::strncpy(const_cast<char*>(ro->targ_comm), cfg.comm.c_str(), IRQLAT_COMM_LEN - 1);
  }
  bpf_map__set_max_entries(skel_->maps.irq_stats, IRQLAT_NR_SLOTS(max_irq_) * nr_cpus_);
  bpf_map__set_max_entries(skel_->maps.events, cfg.ringbuf_bytes);

  int err = irqlat_bpf__load(skel_);
  if (err) throw LoaderError("cannot load the BPF programs: " + errno_text(err));

  size_t page = sysconf(_SC_PAGESIZE);
  stats_len_ = ((size_t)bpf_map__value_size(skel_->maps.irq_stats) *
                    bpf_map__max_entries(skel_->maps.irq_stats) + page - 1) / page * page;
  stats_mem_ = mmap(nullptr, stats_len_, PROT_READ | PROT_WRITE, MAP_SHARED,
                    bpf_map__fd(skel_->maps.irq_stats), 0);
  if (stats_mem_ == MAP_FAILED) {
    stats_mem_ = nullptr;
    throw LoaderError("cannot map the interrupt statistics: " + errno_text(errno));
  }
  iter_link_ = bpf_program__attach_iter(skel_->progs.dump_threads, nullptr);
  if (!iter_link_) throw LoaderError("cannot set up the thread iterator: " + errno_text(errno));
  if (!cfg.all) {
    gate_link_ = bpf_program__attach_iter(skel_->progs.gate_targets, nullptr);
    if (!gate_link_) throw LoaderError("cannot set up the task gate: " + errno_text(errno));
  }
  void* bits = mmap(nullptr, kTargetBitsLen, PROT_READ | PROT_WRITE, MAP_SHARED,
                    bpf_map__fd(skel_->maps.target_bits), 0);
  if (bits == MAP_FAILED) throw LoaderError("cannot map the target bitmap: " + errno_text(errno));
  target_bits_ = static_cast<uint64_t*>(bits);
}

// The BPF side updates other bits of the same words concurrently: atomic
// read-modify-write, like its own __sync_fetch_and_or/and.
void Loader::set_target_bit(uint32_t tid, bool on) {
  if (!target_bits_ || tid >= IRQLAT_TID_LIMIT) return;
  const uint64_t bit = 1ULL << (tid % 64);
  if (on)
    __atomic_fetch_or(&target_bits_[tid / 64], bit, __ATOMIC_SEQ_CST);
  else
    __atomic_fetch_and(&target_bits_[tid / 64], ~bit, __ATOMIC_SEQ_CST);
}

Loader::~Loader() {
  detach();
  if (iter_link_) bpf_link__destroy(iter_link_);
  if (gate_link_) bpf_link__destroy(gate_link_);
  if (rb_) ring_buffer__free(rb_);
  if (stats_mem_) munmap(stats_mem_, stats_len_);
  if (target_bits_) munmap(target_bits_, kTargetBitsLen);
  if (skel_) irqlat_bpf__destroy(skel_);
}

void Loader::attach() {
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    const char* sec = bpf_program__section_name(prog);
    if (!bpf_program__autoload(prog) || is_marker(bpf_program__name(prog)) || is_iterator(sec))
      continue;
    const char* tp = tracepoint_of(sec);
    if (lazy_rare_vectors_ && rare_vector_of(tp)) continue;  // attach_vector()
    if (lazy_streaming_ && streaming_group(sec)) continue;   // attach_streaming()
    attach_tracepoint(prog);
  }
  if (verbose_)
    fprintf(stderr, "irqlat: attached %zu tracepoint programs (%s)\n", links_.size(),
            use_tp_btf_ ? "tp_btf" : "raw_tp");
}

bool Loader::attach_tracepoint(bpf_program* prog) {
  const char* tp = tracepoint_of(bpf_program__section_name(prog));
  bpf_link* link = bpf_program__attach(prog);
  if (!link) {
    int err = errno;
    if (is_optional(tp)) {
      if (verbose_) fprintf(stderr, "irqlat: optional tracepoint %s not attached\n", tp);
      return false;
    }
    throw LoaderError(std::string("cannot attach to tracepoint ") + tp + ": " + errno_text(err));
  }
  links_.push_back(link);
  attached_.push_back(tp);
  return true;
}

void Loader::attach_streaming() {
  if (!lazy_streaming_ || streaming_attached_) return;
  bpf_program* prog;
  size_t n = 0;
  bpf_object__for_each_program(prog, skel_->obj) {
    const char* sec = bpf_program__section_name(prog);
    if (bpf_program__autoload(prog) && !is_marker(bpf_program__name(prog)) && !is_iterator(sec) &&
        streaming_group(sec))
      n += attach_tracepoint(prog);
  }
  streaming_attached_ = true;
  if (verbose_) fprintf(stderr, "irqlat: a streamed target: attached %zu more programs\n", n);
}

std::vector<std::string> Loader::lazy_vectors() const {
  std::vector<std::string> out;
  if (!lazy_rare_vectors_) return out;
  for (const RareVector& v : kRareVectors) {
    if (std::find(lazy_attached_.begin(), lazy_attached_.end(), v.mnemonic) != lazy_attached_.end())
      continue;
    // Listed only when this kernel has its programs loaded.
    bpf_program* prog;
    bool loaded = false;
    bpf_object__for_each_program(prog, skel_->obj) {
      const char* sec = bpf_program__section_name(prog);
      const char* tp = tracepoint_of(sec);
      if (bpf_program__autoload(prog) && rare_vector_of(tp) == &v) loaded = true;
    }
    if (loaded) out.push_back(v.mnemonic);
  }
  return out;
}

bool Loader::attach_vector(const std::string& mnemonic) {
  const RareVector* rv = nullptr;
  for (const RareVector& v : kRareVectors)
    if (mnemonic == v.mnemonic) rv = &v;
  if (!rv || !lazy_rare_vectors_ ||
      std::find(lazy_attached_.begin(), lazy_attached_.end(), mnemonic) != lazy_attached_.end())
    return false;
  bool any = false;
  for (const char* suffix : {"_exit", "_entry"}) {
    const std::string want = std::string(rv->tp) + suffix;
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel_->obj) {
      const char* sec = bpf_program__section_name(prog);
      const char* tp = tracepoint_of(sec);
      if (!bpf_program__autoload(prog) || want != tp) continue;
      bpf_link* link = bpf_program__attach(prog);
      if (!link) {
        if (verbose_) fprintf(stderr, "irqlat: cannot attach %s: %s\n", tp, errno_text(errno).c_str());
        continue;
      }
      links_.push_back(link);
      attached_.push_back(tp);
      any = true;
    }
  }
  lazy_attached_.push_back(mnemonic);
  if (verbose_ && any) fprintf(stderr, "irqlat: %s fired: attached %s_entry/exit\n", rv->mnemonic, rv->tp);
  return any;
}

int Loader::attach_marker(const MarkerAttach& m) {
  bool cancel = m.which == MARK_CANCEL;
  bpf_link* link = nullptr;
  if (m.kind == MarkerAttach::Uprobe) {
    uint64_t off = elf_symbol_file_offset(m.path, m.symbol, m.offset);  // throws
    bpf_program* prog = cancel ? skel_->progs.uprobe_cancel : skel_->progs.uprobe_done;
    LIBBPF_OPTS(bpf_uprobe_opts, opts);
    link = bpf_program__attach_uprobe_opts(prog, m.pid, m.path.c_str(), off, &opts);
    if (!link)
      throw LoaderError("cannot attach uprobe to " + m.symbol + " in " + m.path + ": " +
                        errno_text(errno));
  } else {
    elf_require_usdt(m.path, m.provider, m.name);  // throws with a clear message
    bpf_program* prog = cancel ? skel_->progs.usdt_cancel : skel_->progs.usdt_done;
    link = bpf_program__attach_usdt(prog, m.pid, m.path.c_str(), m.provider.c_str(), m.name.c_str(),
                                    nullptr);
    if (!link)
      throw LoaderError("cannot attach USDT probe " + m.provider + ":" + m.name + " in " +
                        m.path + ": " + errno_text(errno));
  }
  const int handle = next_marker_++;
  marker_links_[handle] = link;
  attached_.push_back(std::string(cancel ? "cancel " : "done ") + m.path);
  return handle;
}

void Loader::detach_marker(int handle) {
  auto it = marker_links_.find(handle);
  if (it == marker_links_.end()) return;
  bpf_link__destroy(it->second);
  marker_links_.erase(it);
}

void Loader::set_tracing(bool on) {
  __atomic_store_n(&skel_->bss->gate.on, on, __ATOMIC_SEQ_CST);
}

// The set that goes live next is cleared, then the iterator sets the bit of
// every task whose target bit is set, in both sets, as fork and exec do:
// a thread created meanwhile has its bit in the new set either from its
// fork (after the clear) or from the iterator (it exists before the walk).
// Then the new set goes live. A program that read the old gen still finds
// its bits: that set is cleared only at the next refresh.
// Two rebuilds in a row (the daemon detaching several processes) would
// clear the set the first one made live while a program may still read
// it: the set to clear was live until the last flip, so an RCU grace period
// (every program then running has returned) separates a flip from the next
// clear. If the walk fails, the gate opens wide: every task then meets the
// tid bitmap, as without a gate.
void Loader::refresh_gate() {
  if (!gate_link_) return;  // -a: no gate
  task_gate& g = skel_->bss->gate;
  const uint32_t next = __atomic_load_n(&g.gen, __ATOMIC_SEQ_CST) + 1;
  gate_exits_ = __atomic_load_n(&skel_->bss->target_exits, __ATOMIC_SEQ_CST);
  if (gate_builds_ > 0 && syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) != 0)
    usleep(20'000);  // no membarrier: ample for programs that never block
  for (auto& word : g.bits[next & 1]) __atomic_store_n(&word, 0, __ATOMIC_SEQ_CST);
  try {
    run_iterator(gate_link_, "find the target tasks");
  } catch (const LoaderError& e) {
    for (auto& set : g.bits)
      for (auto& word : set) __atomic_store_n(&word, ~0ULL, __ATOMIC_SEQ_CST);
    if (verbose_) fprintf(stderr, "irqlat: task gate left open: %s\n", e.what());
  }
  __atomic_store_n(&g.gen, next, __ATOMIC_SEQ_CST);
  gate_builds_++;
}

void Loader::refresh_gate_if_stale() {
  if (gate_link_ && __atomic_load_n(&skel_->bss->target_exits, __ATOMIC_SEQ_CST) != gate_exits_)
    refresh_gate();
}

void Loader::detach() {
  if (verbose_ && gate_link_ && !links_.empty())
    fprintf(stderr, "irqlat: task gate built %u times\n", gate_builds_);
  for (auto& [handle, l] : marker_links_) bpf_link__destroy(l);
  marker_links_.clear();
  for (bpf_link* l : links_) bpf_link__destroy(l);
  links_.clear();
}

void Loader::add_thread(int tid, int pid, uint32_t flags) {
  insert_thread(tid, pid, flags);
  refresh_gate();
}

void Loader::insert_thread(int tid, int pid, uint32_t flags) {
  // The flags go in with the entry: a set bit must never find a streamed
  // target without TARGET_STREAM, or its first event gives it a kernel
  // account that then keeps it from being streamed.
  target_val v{};
  v.pid = pid;
  v.wait_cpu = -1;
  v.flags = flags;
  uint32_t key = tid;
  if (bpf_map__update_elem(skel_->maps.target_tids, &key, sizeof(key), &v, sizeof(v),
                           BPF_NOEXIST) != 0 &&
      bpf_map__lookup_elem(skel_->maps.target_tids, &key, sizeof(key), &v, sizeof(v), 0) == 0 &&
      v.flags != flags) {
    // Already there (added at fork, or by an earlier attach): new flags only.
    v.flags = flags;
    bpf_map__update_elem(skel_->maps.target_tids, &key, sizeof(key), &v, sizeof(v), BPF_EXIST);
  }
  set_target_bit(key, true);  // after the insert: a set bit always finds the entry
}

void Loader::add_process(int pid, uint32_t flags) {
  std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  // The tgid goes in first: threads created from now on are added at fork.
  uint32_t key = pid;
  if (bpf_map__update_elem(skel_->maps.target_tgids, &key, sizeof(key), &flags, sizeof(flags),
                           BPF_ANY) != 0)
    throw LoaderError("cannot add pid " + std::to_string(pid) + ": " + errno_text(errno));
  DIR* d = opendir(task_dir.c_str());
  if (!d) {
    remove_process(pid);
    throw LoaderError("pid " + std::to_string(pid) + " does not exist");
  }
  while (dirent* e = readdir(d)) {
    int tid = atoi(e->d_name);
    if (tid > 0) insert_thread(tid, pid, flags);
  }
  closedir(d);
  refresh_gate();
}

void Loader::remove_process(int pid) {
  uint32_t key = pid;
  bpf_map__delete_elem(skel_->maps.target_tgids, &key, sizeof(key), 0);
  // Remove every thread of the process.
  uint32_t cur, next;
  std::vector<uint32_t> doomed;
  const void* prev = nullptr;
  while (bpf_map__get_next_key(skel_->maps.target_tids, prev, &next, sizeof(next)) == 0) {
    target_val v{};
    if (bpf_map__lookup_elem(skel_->maps.target_tids, &next, sizeof(next), &v, sizeof(v), 0) ==
            0 &&
        (int)v.pid == pid)
      doomed.push_back(next);
    cur = next;
    prev = &cur;
  }
  for (uint32_t t : doomed) {
    bpf_map__delete_elem(skel_->maps.target_tids, &t, sizeof(t), 0);
    set_target_bit(t, false);
  }
  refresh_gate();  // their gate bits go too
}

void Loader::set_sink(Sink sink) { sink_ = std::move(sink); }

// One ring record holds one or more ev_* records (a per-CPU batch), each
// sized by its type. A record that cannot be sized goes to the sink as it is
// (the collector counts it as malformed) and ends the batch.
void Loader::unpack(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  size_t off = 0;
  while (off < size) {
    size_t n = size - off;
    if (n >= sizeof(ev_hdr)) {
      ev_hdr h;
      std::memcpy(&h, p + off, sizeof(h));
      const uint32_t rec = irqlat_record_size(h.type);
      if (rec != 0 && rec <= n) n = rec;
    }
    if (sink_) sink_(p + off, n);
    off += n;
  }
}

int Loader::on_sample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Loader*>(ctx);
  self->unpack(data, size);
  // The record is already taken; a negative return makes libbpf stop here.
  if (self->abort_ && ++self->since_abort_check_ >= kAbortCheckEvery) {
    self->since_abort_check_ = 0;
    if (self->abort_()) {
      self->aborted_ = true;
      return -EINTR;
    }
  }
  return 0;
}

int Loader::poll(int timeout_ms) {
  aborted_ = false;
  int n;
  if (wait_mask_) {
    // Wait with the stop signals deliverable, then consume: what
    // ring_buffer__poll does, without its window for a lost signal.
    epoll_event ev[4];
    n = epoll_pwait(ring_buffer__epoll_fd(rb_), ev, 4, timeout_ms, wait_mask_);
    if (n < 0) n = errno == EINTR ? -EINTR : -errno;
    else n = 0;  // counted by the consume below
  } else {
    n = ring_buffer__poll(rb_, timeout_ms);
  }
  if (aborted_) return 0;
  if (n < 0 && n != -EINTR) return n;
  // Producers submit without wakeups, so a timeout still has data to drain.
  int m = ring_buffer__consume(rb_);
  return (n > 0 ? n : 0) + (m > 0 ? m : 0);
}

int Loader::drain() {
  const int n = ring_buffer__consume(rb_);
  // Then what the per-CPU batches still hold (call with tracing off).
  std::vector<irqlat_batch> per_cpu(nr_cpus_);
  const uint32_t zero = 0;
  if (bpf_map__lookup_elem(skel_->maps.batches, &zero, sizeof(zero), per_cpu.data(),
                           per_cpu.size() * sizeof(irqlat_batch), 0) == 0) {
    for (irqlat_batch& b : per_cpu) {
      if (b.len > 0 && b.len <= IRQLAT_BATCH_BYTES) unpack(b.data, b.len);
      b.len = b.count = 0;
    }
    // Emptied, so a later drain does not deliver them twice.
    bpf_map__update_elem(skel_->maps.batches, &zero, sizeof(zero), per_cpu.data(),
                         per_cpu.size() * sizeof(irqlat_batch), 0);
  }
  return n;
}

int Loader::epoll_fd() const { return ring_buffer__epoll_fd(rb_); }

const irq_stat& Loader::stat(uint32_t slot, int cpu) const {
  auto* base = static_cast<const irq_stat*>(stats_mem_);
  return base[slot * nr_cpus_ + cpu];
}

bool Loader::since_base(uint32_t i, irq_stat& now, irq_stat& d) const {
  const irq_stat& live = static_cast<const irq_stat*>(stats_mem_)[i];
  if (live.count == 0 && live.raise_count == 0) return false;  // never touched: 7 KB not copied
  // One copy of the element: every increment is in this interval or the
  // next, none in both or neither.
  std::memcpy(&now, &live, sizeof(irq_stat));
  d = now;  // maxima and the name as they are: maxima restart at each take
  const auto b = base_.find(i);
  if (b == base_.end()) return true;
  d.count -= b->second.count;
  d.total_ns -= b->second.total_ns;
  d.raise_count -= b->second.raise_count;
  d.raise_wait_ns -= b->second.raise_wait_ns;
  d.target_hits -= b->second.target_hits;
  d.target_stolen_ns -= b->second.target_stolen_ns;
  for (size_t k = 0; k < IRQLAT_HIST_BUCKETS; k++) d.hist[k] -= b->second.hist[k];  // u32: exact across a wrap
  return true;
}

Loader::StatsDelta Loader::stats_since_base() const {
  const uint32_t n = bpf_map__max_entries(skel_->maps.irq_stats);
  StatsDelta out;
  irq_stat now, d;
  for (uint32_t i = 0; i < n; i++)
    if (since_base(i, now, d) && (d.count || d.raise_count)) out.emplace(i, d);
  return out;
}

Loader::StatsDelta Loader::take_stats() {
  const uint32_t n = bpf_map__max_entries(skel_->maps.irq_stats);
  auto* live = static_cast<irq_stat*>(stats_mem_);
  StatsDelta out;
  irq_stat now, d;
  for (uint32_t i = 0; i < n; i++) {
    if (!since_base(i, now, d)) continue;
    if (d.count || d.raise_count) out.emplace(i, d);
    base_[i] = now;
    // The maxima restart; a program that read the old one may skip a store
    // (the tables then take the histogram's maximum, irq_tables.cpp).
    if (now.max_ns) live[i].max_ns = 0;
    if (now.raise_wait_max) live[i].raise_wait_max = 0;
  }
  return out;
}

kstats Loader::kernel_counters() const {
  std::vector<kstats> per_cpu(nr_cpus_);
  uint32_t zero = 0;
  kstats sum{};
  if (bpf_map__lookup_elem(skel_->maps.kstats, &zero, sizeof(zero), per_cpu.data(),
                           sizeof(kstats) * per_cpu.size(), 0) != 0)
    return sum;
  for (const kstats& k : per_cpu) {
    sum.records += k.records;
    sum.drops += k.drops;
    sum.irq_unmatched += k.irq_unmatched;
    sum.irq_overflow += k.irq_overflow;
    sum.acct_failed += k.acct_failed;
  }
  return sum;
}

std::vector<ProgStats> Loader::prog_stats() const {
  std::vector<ProgStats> out;
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    int fd = bpf_program__fd(prog);
    if (fd < 0) continue;
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
    out.push_back({bpf_program__name(prog), info.run_cnt, info.run_time_ns, info.recursion_misses});
  }
  return out;
}

uint64_t Loader::recursion_misses() const {
  uint64_t n = 0;
  for (const ProgStats& p : prog_stats()) n += p.recursion_misses;
  return n;
}

std::vector<std::string> Loader::attached_programs() const { return attached_; }

std::vector<thread_acct> Loader::read_thread_accts() const {
  std::vector<thread_acct> out;
  const std::vector<char> buf = run_iterator(iter_link_, "read the thread accounts");
  out.resize(buf.size() / sizeof(thread_acct));
  if (!out.empty()) std::memcpy(out.data(), buf.data(), out.size() * sizeof(thread_acct));
  return out;
}

void Loader::take_exited_accts(const std::function<void(const thread_acct&)>& each) {
  bpf_map* m = skel_->maps.exited_accts;
  exited_key key{};
  thread_acct a;
  // Deleting while walking restarts the walk: collect keys first.
  std::vector<exited_key> keys;
  const void* prev = nullptr;
  exited_key cur{};
  while (bpf_map__get_next_key(m, prev, &key, sizeof(key)) == 0) {
    keys.push_back(key);
    cur = key;
    prev = &cur;
  }
  for (const exited_key& k : keys) {
    if (bpf_map__lookup_elem(m, &k, sizeof(k), &a, sizeof(a), 0) == 0) each(a);
    bpf_map__delete_elem(m, &k, sizeof(k), 0);
  }
}

}  // namespace irqlat
