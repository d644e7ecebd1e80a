// See replay.h.
#include "user/replay.h"

#include <algorithm>
#include <cstring>

#include "user/collector.h"
#include "user/reorder.h"
#include "user/report_builder.h"

namespace irqlat {

uint64_t signal_mask_of_spec(const WindowSpec& s) {
  uint64_t mask = 0;
  if (s.kind == WindowSpec::Signal)
    for (int sig : s.signals)
      if (sig > 0 && sig < 64) mask |= 1ULL << sig;
  return mask;
}

namespace {

constexpr uint32_t kMarkNeutral = 2;  // neither cancel nor done under the new specs

bool is_marker(const WindowSpec& s) { return s.kind == WindowSpec::Uprobe || s.kind == WindowSpec::Usdt; }

std::string signal_names(uint64_t mask) {
  std::string out;
  for (int sig = 1; sig < 64; sig++)
    if (mask & (1ULL << sig)) out += (out.empty() ? "" : ",") + std::to_string(sig);
  return out;
}

// How recorded records map onto the windows the report asks for.
struct Remap {
  bool active = false;
  uint32_t mark_as[2] = {MARK_CANCEL, MARK_DONE};  // recorded which -> new which
  uint64_t keep_signals = ~0ULL;                   // EV_SIGNAL kept (bit per signal)
};

Remap plan_override(const RecordingHeader& h, const ReplayOptions& o) {
  Remap m;
  if (!o.override_windows) return m;
  m.active = true;
  WindowSpec rc, rd;
  if (h.windows_enabled) {
    // The recorded specs passed this parser when they were recorded.
    try {
      rc = parse_window_spec(h.cancel_spec, false);
      rd = parse_window_spec(h.done_spec, true);
    } catch (const UsageError&) {
    }
  }
  std::vector<std::string> recorded_markers;
  if (is_marker(rc)) recorded_markers.push_back(rc.text);
  if (is_marker(rd)) recorded_markers.push_back(rd.text);
  auto check_marker = [&](const WindowSpec& want, const char* flag) {
    if (!is_marker(want)) return;
    if (std::find(recorded_markers.begin(), recorded_markers.end(), want.text) != recorded_markers.end())
      return;
    std::string have;
    for (const std::string& s : recorded_markers) have += (have.empty() ? "'" : ", '") + s + "'";
    throw UsageError(std::string(flag) + " '" + want.text + "' was not recorded: " +
                     (have.empty() ? "the recording has no marker events"
                                   : "the recording has marker events of " + have + " only"));
  };
  check_marker(o.cancel, "--cancel");
  check_marker(o.done, "--done");
  for (uint32_t which : {MARK_CANCEL, MARK_DONE}) {
    const WindowSpec& was = which == MARK_CANCEL ? rc : rd;
    uint32_t to = kMarkNeutral;
    if (is_marker(was)) {
      if (is_marker(o.cancel) && o.cancel.text == was.text)
        to = MARK_CANCEL;
      else if (is_marker(o.done) && o.done.text == was.text)
        to = MARK_DONE;
    }
    m.mark_as[which] = to;
  }
  if (o.cancel.kind == WindowSpec::Signal) {
    const uint64_t want = signal_mask_of_spec(o.cancel);
    if ((want & h.signal_mask) != want)
      throw UsageError("--cancel '" + o.cancel.text + "' needs signal records the recording does not have (" +
                       (h.signal_mask ? "it holds signals " + signal_names(h.signal_mask) + " only"
                                      : "it was recorded without --cancel signal") +
                       ")");
    m.keep_signals = want;
  }
  return m;
}

// Puts the recorded records back in time order exactly as the live
// Reorderer did (same releases, same order: timestamp, then arrival; same
// late count), but in batches: the records pushed since the last release
// are sorted once (they are nearly sorted in practice) and merged with the
// ones held back, and the collector gets pointers into the reader's block
// (RecordSink::record): nothing is copied except the few records still held
// when a block ends.
//
// From format version 3 on, records are stored in the order the live
// collector got them (in_order): each goes to the collector as it is
// decoded. A late record then is one older than a record before it, which is
// what the live Reorderer counted (older than the last released at push).
class Replayer final : public RecordSink {
 public:
  Replayer(Collector& c, const Remap& m, bool in_order) : col_(c), remap_(m), in_order_(in_order) {}

  // The per-record calls below, direct and inlined into the block's loop.
  void deliver(const DecodedItems& b, DeliveryTally& t) override { deliver_items(b, *this, t); }

  void record(const void* data, size_t size) override {
    uint64_t ts;
    std::memcpy(&ts, data, sizeof(ts));
    take(static_cast<const unsigned char*>(data), size, ts);
  }
  // deliver_items()' call: in order, the record goes to the collector with
  // its timestamp apart, never stored into the row (see
  // Collector::on_record_at); held or remapped records need it in place.
  void record_at(unsigned char* rec, size_t size, uint64_t ts) {
    if (!in_order_ || remap_.active) [[unlikely]] std::memcpy(rec, &ts, sizeof(ts));
    take(rec, size, ts);
  }
  // In order, each record goes to the collector (which copies what it
  // keeps) before record() returns; out of order, records wait for a release.
  bool keeps_records() const override { return !in_order_; }
  // The live Reorderer rejected it (bad size): counted as received, nothing else.
  void rejected(size_t) override { received_++; }
  void watermark(uint64_t wm) override {
    if (!in_order_) release(std::max(wm, last_released_));
    col_.advance(wm);
  }
  // The reader keeps two blocks: records still held that point into the
  // block before the one that just ended get a copy of their own (with
  // watermarks every few thousand records, there are none).
  void end_block() override {
    block_++;
    if (heap_mode_) return;  // the Reorderer copied them
    for (Entry& e : pend_)
      if (e.slot == kInBlock && static_cast<uint16_t>(block_ - e.block) >= 2) {
        e.slot = pool_.put(e.p, e.size);
        e.p = pool_.at(e.slot);
      }
  }
  void finish(uint64_t end_ns) {
    release(UINT64_MAX);
    col_.finish(end_ns);
  }
  uint64_t received() const { return received_; }
  uint64_t late() const { return late_; }

 private:
  // Both entries end here. Bytes 0..7 of rec hold ts whenever it may be
  // held or remapped.
  [[gnu::always_inline]] void take(const unsigned char* rec, size_t size, uint64_t ts) {
    received_++;
    if (remap_.active) [[unlikely]]
      record_remapped(rec, size);
    else
      add(rec, size, kInBlock, ts);
  }
  // report --cancel/--done other than recorded: marks renamed, signals filtered.
  [[gnu::noinline]] void record_remapped(const void* data, size_t size) {
    struct ev_hdr h;
    std::memcpy(&h, data, sizeof(h));
    if (h.type == EV_MARK && size >= sizeof(ev_mark)) {
      const uint32_t slot = pool_.put(data, size);
      ev_mark* e = reinterpret_cast<ev_mark*>(pool_.at(slot));
      if (e->which <= MARK_DONE) e->which = remap_.mark_as[e->which];
      add(pool_.at(slot), size, slot, h.ts);
      return;
    }
    if (h.type == EV_SIGNAL && size >= sizeof(ev_signal)) {
      ev_signal e;
      std::memcpy(&e, data, sizeof(e));
      if (e.sig <= 0 || e.sig >= 64 || !(remap_.keep_signals & (1ULL << e.sig))) return;
    }
    add(static_cast<const unsigned char*>(data), size, kInBlock, h.ts);
  }
  static constexpr uint32_t kInBlock = UINT32_MAX;
  struct Entry {
    uint64_t ts;
    const unsigned char* p;
    uint32_t slot;   // its copy in pool_, or kInBlock
    uint16_t block;  // kInBlock: the reader's block it is in (mod 2^16)
    uint8_t size;
  };
  // Beyond this many held records (a recording whose watermarks lag far
  // behind its records), merging at every release would cost more than a
  // heap: the rest of the replay goes through a Reorderer.
  static constexpr size_t kHeapModeHeld = 1u << 16;

  // Inlined into record(): in order (format 3 on), every record takes the
  // first branch, and the call with its register saves showed in profiles.
  [[gnu::always_inline]] void add(const unsigned char* p, size_t size, uint32_t slot, uint64_t ts) {
    if (ts < last_released_) late_++;  // its place has gone out (0 until one is)
    if (in_order_) [[likely]] {
      col_.on_record_at(p, size, ts);
      last_released_ = std::max(last_released_, ts);
      if (slot != kInBlock) pool_.release(slot);
      return;
    }
    hold(p, size, slot, ts);
  }
  // Out of order (format 2): held until a watermark releases it.
  [[gnu::noinline]] void hold(const unsigned char* p, size_t size, uint32_t slot, uint64_t ts) {
    if (heap_mode_) {
      reorder_.push(p, size);
      if (slot != kInBlock) pool_.release(slot);
      return;
    }
    pend_.push_back({ts, p, slot, block_, static_cast<uint8_t>(size)});
  }
  void deliver_held(const Entry& e) {
    col_.on_record(e.p, e.size);
    last_released_ = std::max(last_released_, e.ts);
    if (e.slot != kInBlock) pool_.release(e.slot);
  }
  // Delivers every record with ts <= limit, by (ts, arrival).
  void release(uint64_t limit) {
    if (heap_mode_) {
      reorder_.release_until(limit, [this](const void* d, size_t n) {
        uint64_t ts;
        std::memcpy(&ts, d, sizeof(ts));
        col_.on_record(d, n);
        last_released_ = std::max(last_released_, ts);
      });
      return;
    }
    // The held records (sorted, all older arrivals) and the ones pushed
    // since, sorted as one sequence: stable, so on equal timestamps the
    // earlier arrival goes first, as in the live Reorderer.
    sort_by_ts(pend_);
    const size_t n = pend_.size();
    size_t i = 0;
    for (; i < n && pend_[i].ts <= limit; i++) {
      // The record's bytes were decoded a watermark interval ago and have
      // left L2 by now: fetch both of its cache lines ahead.
      if (i + 16 < n) {
        __builtin_prefetch(pend_[i + 16].p);
        __builtin_prefetch(pend_[i + 16].p + pend_[i + 16].size - 1);
      }
      deliver_held(pend_[i]);
    }
    pend_.erase(pend_.begin(), pend_.begin() + static_cast<std::ptrdiff_t>(i));
    if (pend_.size() > kHeapModeHeld) enter_heap_mode();
  }
  void enter_heap_mode() {
    heap_mode_ = true;
    for (const Entry& e : pend_) {
      reorder_.push(e.p, e.size);  // in (ts, arrival) order: ties keep it
      if (e.slot != kInBlock) pool_.release(e.slot);
    }
    pend_.clear();
    pend_.shrink_to_fit();
  }
  // Stable by timestamp. Records arrive nearly sorted (CPUs interleaved a
  // little): insertion sort is linear then; past a budget of moves, a merge
  // sort finishes the job (the insertion-sorted prefix is itself stable).
  static void sort_by_ts(std::vector<Entry>& v) {
    const size_t n = v.size();
    size_t i = 1;
    while (i < n && v[i - 1].ts <= v[i].ts) i++;
    if (i >= n) return;
    size_t budget = 8 * n + 64;
    for (; i < n; i++) {
      if (v[i - 1].ts <= v[i].ts) continue;
      const Entry x = v[i];
      size_t j = i;
      while (j > 0 && v[j - 1].ts > x.ts) {
        v[j] = v[j - 1];
        j--;
      }
      v[j] = x;
      const size_t moved = i - j;
      if (moved >= budget) {
        std::stable_sort(v.begin(), v.end(), [](const Entry& a, const Entry& b) { return a.ts < b.ts; });
        return;
      }
      budget -= moved;
    }
  }

  Collector& col_;
  Remap remap_;
  bool in_order_;
  // Not released yet: the records held at the last release, sorted by
  // (ts, arrival), then those pushed since, in arrival order.
  std::vector<Entry> pend_;
  RecordPool pool_;            // copies of held records whose block has gone
  bool heap_mode_ = false;
  Reorderer reorder_{0};
  uint64_t last_released_ = 0;
  uint64_t late_ = 0;
  uint64_t received_ = 0;
  uint16_t block_ = 0;  // EVENTS blocks ended so far (mod 2^16)
};

}  // namespace

ReplayResult replay_recording(RecordingReader& reader, const ReplayOptions& opts) {
  const RecordingHeader& h = reader.header();
  const Remap remap = plan_override(h, opts);

  WindowSpec cancel, done;
  std::string cancel_text = h.cancel_spec, done_text = h.done_spec;
  bool windows = h.windows_enabled;
  if (opts.override_windows) {
    cancel = opts.cancel;
    done = opts.done;
    cancel_text = cancel.text;
    done_text = done.text;
    windows = cancel.kind != WindowSpec::None;
  } else if (windows) {
    try {
      cancel = parse_window_spec(h.cancel_spec, false);
      done = parse_window_spec(h.done_spec, true);
    } catch (const UsageError& e) {
      throw UsageError("'" + reader.name() + "' is corrupt: bad recorded window spec: " + e.what());
    }
  }

  CollectorConfig cc;
  cc.windows = windows;
  cc.window_timeout_ns = opts.window_timeout_ns.value_or(h.window_timeout_ns);
  cc.window_list_cap = static_cast<size_t>(opts.window_list_cap.value_or(h.window_list_cap));
  cc.cancel_on_signal = windows && cancel.kind == WindowSpec::Signal;
  cc.done_on_exit = windows && done.kind == WindowSpec::Exit;
  Collector collector(cc);
  for (const KnownThread& t : h.threads) collector.set_comm(t.tid, t.pid, t.comm);

  Replayer replayer(collector, remap, reader.version() >= 3);
  ReplayResult out;
  out.summary = reader.read(replayer);
  const RecordingSummary& s = out.summary;
  const StatsSnapshot* stats = s.stats ? &*s.stats : nullptr;

  uint64_t end_ns;
  if (s.complete && stats && stats->final) {
    end_ns = stats->at_ns;
  } else {
    end_ns = std::max(h.start_ns, s.last_ts);
    out.warnings.push_back(s.warning);
  }
  replayer.finish(end_ns);

  ReportInputs in;
  in.kernel = h.kernel;
  in.cpus = h.cpus;
  in.start_ns = h.start_ns;
  in.end_ns = end_ns;
  in.received = replayer.received();
  if (stats) {
    in.counters = stats->counters;
    in.missed = stats->missed;
  }
  in.late = replayer.late();
  in.windows_enabled = windows;
  in.cancel_spec = windows ? cancel_text : "";
  in.done_spec = windows ? done_text : "";
  if (!opts.override_windows) {  // exactly what the live session reported
    in.cancel_spec = h.cancel_spec;
    in.done_spec = h.done_spec;
  }

  KernelIrqStats kview;
  if (stats) {
    kview = stats->view();
  } else {
    // Nothing of the kernel's tables survived: no interrupt rows, but the
    // window breakdowns still get device names from the header.
    for (const auto& [irq, name] : h.irq_names) collector.set_irq_name(irq, name);
    kview.nr_cpus = h.cpus;
    kview.max_irq = 0;
    kview.stat = [](uint32_t, int) -> const irq_stat& {
      static const irq_stat kZero{};
      return kZero;
    };
  }
  out.report = build_report(in, kview, collector);
  return out;
}

}  // namespace irqlat
