// Opens, configures, loads and attaches the BPF programs, and owns them.
// Every failure a user can cause comes out as a LoaderError whose message is
// one line in user terms ("pid 123 does not exist").
#pragma once

#include <signal.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpf/irqlat.h"

struct irqlat_bpf;
struct ring_buffer;
struct bpf_link;
struct bpf_program;

namespace irqlat {

struct LoaderError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct LoaderConfig {
  bool all = false;                // -a
  std::vector<int> cpus;           // -C (empty: all)
  uint64_t signal_mask = 0;        // bit n: signal n is a cancel event
  std::string comm;                // --comm NAME
  uint32_t ringbuf_bytes = 8u << 20;
  bool markers = false;            // load the uprobe/USDT marker programs
  // Scheduler events of every target are streamed (windows, `record`).
  // Otherwise targets are accounted in the kernel unless added with
  // TARGET_STREAM; may_stream false says none will be (trace without windows).
  bool stream_all = false;
  bool may_stream = true;
  // Rare x86 vectors (spurious, error, thermal, ...) are not attached at
  // start; the caller attaches one with attach_vector() once /proc/interrupts
  // shows it fired (every attached tracepoint costs ~0.3 ms to detach).
  bool lazy_rare_vectors = false;
  // The daemon: the programs only streamed targets need (sched_wakeup,
  // sched_migrate_task, signal_generate) are loaded but
  // attached by attach_streaming(), when the first target with windows
  // arrives. Until then, no event pays for them and a stop detaches fewer.
  bool lazy_streaming = false;
  int verbose = 0;  // 1: our diagnostics, 2: libbpf's too
};

// Where a cancel/done marker is attached.
struct MarkerAttach {
  enum Kind { Uprobe, Usdt } kind = Uprobe;
  uint32_t which = MARK_CANCEL;  // enum irqlat_mark
  std::string path;              // resolved binary
  std::string symbol;            // uprobe
  uint64_t offset = 0;           // uprobe: +OFF inside the symbol
  std::string provider, name;    // usdt
  int pid = -1;                  // fire only in this process (-1: any process)
};

// One BPF program's kernel statistics (needs kernel.bpf_stats_enabled=1).
struct ProgStats {
  std::string name;
  uint64_t run_cnt = 0;
  uint64_t run_time_ns = 0;
  uint64_t recursion_misses = 0;  // runs the kernel skipped: the program was already active on that CPU
};

class Loader {
 public:
  using Sink = std::function<void(const void* data, size_t size)>;

  // Checks privileges and BTF, opens and loads the programs. Throws LoaderError.
  explicit Loader(const LoaderConfig& cfg);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Targets; call before or after attach(). flags: TARGET_FOLLOW_*.
  // add_process adds the tgid and every current thread of it. Each call
  // rebuilds the task gate (struct task_gate) from the target bits.
  void add_process(int pid, uint32_t flags);
  void add_thread(int tid, int pid, uint32_t flags);
  void remove_process(int pid);
  // Rebuilds the gate when target threads exited since the last rebuild:
  // their bits let other tasks (those at that memory, or any whose hash
  // lands there) through to the tid bitmap. Never throws: a gate that
  // cannot be built is left wide open.
  void refresh_gate_if_stale();

  void attach();                           // tracepoints
  // A rare vector's programs (lazy_rare_vectors): mnemonic as in
  // /proc/interrupts ("TRM"). Exit first, so an entry is never left open.
  // Returns false if this kernel lacks it or it is already attached.
  bool attach_vector(const std::string& mnemonic);
  // The rare vectors left for attach_vector() (mnemonics).
  std::vector<std::string> lazy_vectors() const;
  // lazy_streaming: attaches the streaming programs (once; later calls do
  // nothing). Call before adding a TARGET_STREAM process. Throws LoaderError.
  void attach_streaming();
  // uprobe/USDT; throws on failure. Returns a handle for detach_marker.
  int attach_marker(const MarkerAttach&);
  void detach_marker(int handle);
  void detach();                           // removes all programs
  // Opens / closes the counted interval without attaching or detaching
  // (which sends IPIs that would be counted).
  void set_tracing(bool on);

  // Ring buffer: sink receives every record; returns records consumed.
  void set_sink(Sink sink);
  // Checked every few hundred records while poll() drains: when it returns
  // true, poll() returns at once and leaves the rest in the ring (a stop
  // must not wait behind a long backlog).
  void set_abort(std::function<bool()> abort) { abort_ = std::move(abort); }
  int poll(int timeout_ms);  // waits for a forced wakeup, then drains
  // poll() waits with this signal mask (epoll_pwait), so signals blocked
  // elsewhere can end the wait without a race; nullptr: the thread's own.
  void set_wait_sigmask(const sigset_t* mask) { wait_mask_ = mask; }
  // Drains without waiting, then empties the per-CPU batches (only once
  // tracing is off: the programs may be appending to them).
  int drain();
  int epoll_fd() const;

  // Kernel-side aggregates.
  int nr_cpus() const { return nr_cpus_; }
  uint32_t max_irq() const { return max_irq_; }
  // The live counters, cumulative since the start (record's view).
  const irq_stat& stat(uint32_t slot, int cpu) const;
  kstats kernel_counters() const;  // summed over CPUs
  // Interval tables. The programs add to irq_stats without atomics, so user
  // space never zeroes a counter (a zero landing between a program's load
  // and store would be undone, counting the old value twice): it keeps the
  // values of the last take as a baseline. Only the maxima, which cannot be
  // subtracted, are zeroed (a race there can only miss one maximum).
  // Deltas are by element index (slot * nr_cpus + cpu); elements with no
  // count since the baseline are left out.
  using StatsDelta = std::unordered_map<uint32_t, irq_stat>;
  StatsDelta stats_since_base() const;  // the live counters less the baseline
  StatsDelta take_stats();              // stats_since_base(), then the baseline := now
  std::vector<ProgStats> prog_stats() const;
  uint64_t recursion_misses() const;  // summed over programs
  std::vector<std::string> attached_programs() const;

  // Kernel-accounted threads: every live one (struct thread_acct), read
  // through the task iterator. Accounts of threads that stopped being
  // targets are returned once more and then deleted in the kernel.
  std::vector<thread_acct> read_thread_accts() const;
  // Final accounts of threads that exited since the last call, each once,
  // one at a time (a burst of exits would be megabytes as one vector).
  void take_exited_accts(const std::function<void(const thread_acct&)>& each);
  bool uses_tp_btf() const { return use_tp_btf_; }

 private:
  void open_and_load(const LoaderConfig& cfg, bool use_tp_btf);
  // Attaches one loaded tracepoint program; false for an optional one this
  // kernel refuses, LoaderError for a required one.
  bool attach_tracepoint(bpf_program* prog);
  static int on_sample(void* ctx, void* data, size_t size);
  void set_target_bit(uint32_t tid, bool on);
  void insert_thread(int tid, int pid, uint32_t flags);  // add_thread without the gate rebuild
  void refresh_gate();
  void unpack(const void* data, size_t size);

  irqlat_bpf* skel_ = nullptr;
  ring_buffer* rb_ = nullptr;
  std::vector<bpf_link*> links_;
  bpf_link* iter_link_ = nullptr;  // dump_threads
  bpf_link* gate_link_ = nullptr;  // gate_targets (not with -a)
  uint64_t gate_exits_ = 0;        // target_exits at the last gate rebuild
  unsigned gate_builds_ = 0;       // shown by -v
  std::map<int, bpf_link*> marker_links_;
  int next_marker_ = 1;
  std::vector<std::string> attached_;
  bool lazy_rare_vectors_ = false;
  std::vector<std::string> lazy_attached_;  // mnemonics attach_vector() did
  bool lazy_streaming_ = false;
  bool streaming_attached_ = false;
  Sink sink_;
  std::function<bool()> abort_;
  const sigset_t* wait_mask_ = nullptr;
  unsigned since_abort_check_ = 0;
  bool aborted_ = false;
  void* stats_mem_ = nullptr;
  // irq_stats at the last take or reset, of the elements touched by then
  // (the rest: zeros).
  std::unordered_map<uint32_t, irq_stat> base_;
  // Element i less the baseline (`d`), from one copy of it (`now`); false,
  // copying nothing, if the element was never touched.
  bool since_base(uint32_t i, irq_stat& now, irq_stat& d) const;
  uint64_t* target_bits_ = nullptr;  // mmap of the target_bits map
  size_t stats_len_ = 0;
  int nr_cpus_ = 0;
  uint32_t max_irq_ = 0;
  int verbose_ = 0;
  bool use_tp_btf_ = true;
};

// Highest IRQ number in /proc/interrupts + 1 (sizes the stats slots).
uint32_t max_irq_from_proc();

// Throws LoaderError unless this process may load BPF programs and the
// kernel has BTF (what the Loader checks first; the daemon asks before its
// start-up steps, so an unprivileged start fails with that one line only).
void check_can_trace();

}  // namespace irqlat
