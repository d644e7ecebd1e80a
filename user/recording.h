// The recording file of `irqlat record` / `irqlat report` (docs/recording-format.md).
//
//   file    := magic "IRQLAT\0" u8 version (1 to 5), then blocks
//   block   := 24-byte header (sync "IRQB", kind, codec, seq, lengths, CRC32)
//              + zlib or (version 3 on, codec byte 1) zstd payload
//   blocks  := HEADER, then EVENTS / STATS in stream order, then FINAL_STATS, END
//
// Every block decodes on its own, so a file cut short (SIGKILL, power loss)
// reads up to its last complete block. The reader checks every length
// against a cap and against what the file still holds before it allocates,
// and turns every defect into a one-line UsageError naming the file.
//
// Writer side: RecordingWriter; add_record() is the hot path (called from the
// session's tap): it appends a few bytes to the current events block, and
// full blocks are compressed and written by a background thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bpf/irqlat.h"
#include "user/irq_tables.h"
#include "user/scratch_array.h"

struct ZSTD_CCtx_s;
struct libdeflate_compressor;

namespace irqlat {

namespace recfmt {
constexpr char kMagic[8] = {'I', 'R', 'Q', 'L', 'A', 'T', '\0', '\x05'};
constexpr uint8_t kVersion = 5;     // kMagic[7]: what the writer writes
static_assert(kMagic[7] == kVersion);
constexpr uint8_t kMinVersion = 1;  // the reader reads kMinVersion..kVersion
constexpr uint32_t kBlockSync = 0x42515249;  // "IRQB" little-endian
constexpr size_t kBlockHeaderSize = 24;
constexpr uint32_t kMaxBlockBytes = 16u << 20;     // uncompressed payload cap
constexpr uint32_t kMaxHeaderBytes = 1u << 20;     // HEADER block cap
constexpr uint32_t kMaxCompressedBytes = kMaxBlockBytes + (1u << 16);
constexpr uint32_t kMaxCpus = IRQLAT_MAX_CPUS;
constexpr uint32_t kMaxIrq = 1u << 16;
constexpr uint64_t kMaxStatCells = 1u << 24;       // slots * cpus

// Version 3 also stores records in delivery order (see WriterOptions).
// Block header byte 5 from version 3 on (versions 1 and 2: 0, zlib only).
// zstd decompresses the events blocks ~1.5x faster than libdeflate inflates
// zlib (format 5, files ~12% larger; format 3: ~2x, the same size).
enum Codec : uint8_t {
  kCodecZlib = 0,  // RFC 1950
  kCodecZstd = 1,  // RFC 8878 frame
};

enum BlockKind : uint8_t {
  kHeader = 1,
  kEvents = 2,
  kStats = 3,       // interim interrupt statistics
  kFinalStats = 4,  // statistics at the end of tracing
  kEnd = 5,         // trailer: totals
};

// EVENTS block payload: u32 item count, the item stream, then the record
// bytes [8, size) transposed per (size, type) group (docs/recording-format.md).
// Versions 2-4 interleave each item's tag and values; version 5 stores the
// n tags first, then the values of every item in order. Item tags:
constexpr uint8_t kTagWatermark = 0;  // varint zigzag(watermark - prev_ts)
constexpr uint8_t kTagRejected = 1;   // varint size: a record the pipeline rejects (bad size)
// Version 5: a record of type tag - 1 and its type's size (irqlat_record_size,
// which the header's record_sizes pins): varint zigzag(ts - prev_ts).
constexpr uint8_t kTagShortFirst = 2;
constexpr uint8_t kTagShortLast = 15;
// 16..64: a record of that many bytes: u8 type, varint zigzag(ts - prev_ts)
constexpr uint8_t kMinRecord = sizeof(struct ev_hdr);
constexpr uint8_t kMaxRecord = IRQLAT_MAX_RECORD;
constexpr size_t kTypeOffset = offsetof(struct ev_hdr, type);
constexpr uint32_t kMaxItems = 1u << 22;  // per events block
// Version 2: the record bytes [8, size) of each group as columns of u32
// words, each column in one of these modes (docs/recording-format.md).
enum ColumnMode : uint8_t {
  kColConst = 0,  // u32 v: every record holds v
  kColFor8 = 1,   // u32 base, count x u8: base + delta
  kColFor16 = 2,  // u32 base, count x u16: base + delta
  kColDict = 3,   // u8 k-1, k x u32 values, count x u8 index
  kColRaw = 4,    // count x u32
};
// Version 4: each group's record data starts with one of these.
enum GroupLayout : uint8_t {
  kLayoutColumns = 0,  // the version-2 columns above
  kLayoutRows = 1,     // varint k, k distinct rows, count x index (u8 if k <= 256, else u16 LE)
};
constexpr uint32_t kMaxRowDict = 1u << 16;  // kLayoutRows: at most this many distinct rows
}  // namespace recfmt

// A target thread the session knew from /proc when it attached.
struct KnownThread {
  int tid = 0;
  int pid = 0;
  std::string comm;
};

// Metadata: the HEADER block (JSON inside).
struct RecordingHeader {
  std::string tool_version;
  std::string kernel;   // uname release
  std::string boot_id;  // /proc/sys/kernel/random/boot_id
  std::string clock = "CLOCK_MONOTONIC";
  int cpus = 0;
  uint64_t start_ns = 0;
  std::vector<std::string> argv;  // irqlat's own command line
  std::string targets;            // "pid 123", "command ./app (pid 9)", ...
  // Cancellation windows as the live collector ran them.
  bool windows_enabled = false;
  std::string cancel_spec, done_spec;  // spec text ("" when off)
  uint64_t window_timeout_ns = 10'000'000'000ULL;
  uint64_t window_list_cap = 100000;
  uint64_t signal_mask = 0;  // signals the kernel streamed as EV_SIGNAL
  uint64_t stats_interval_ns = 0;
  std::map<int, std::string> irq_names;  // /proc/interrupts at start: IRQ -> device
  std::vector<KnownThread> threads;      // target threads known at attach
};

// One non-empty (slot, cpu) of the kernel's irq_stats map, histogram sparse.
struct StatEntry {
  uint32_t slot = 0;
  uint32_t cpu = 0;
  uint64_t count = 0, total_ns = 0, max_ns = 0;
  uint64_t raise_count = 0, raise_wait_ns = 0, raise_wait_max = 0;
  std::string name;
  std::vector<std::pair<uint16_t, uint32_t>> buckets;  // (index, count), increasing
};

// A STATS / FINAL_STATS block.
struct StatsSnapshot {
  uint64_t at_ns = 0;  // when it was taken; FINAL: the end of tracing (end_ns)
  bool final = false;
  int nr_cpus = 0;
  uint32_t max_irq = 0;
  kstats counters{};      // drops, unmatched, ... (all CPUs)
  uint64_t missed = 0;    // program runs the kernel skipped
  uint64_t received = 0;  // records the live session had consumed (informational)
  std::vector<StatEntry> entries;  // sorted by (slot, cpu), no duplicates

  // A view for build_report(): stored entries, a zeroed irq_stat for the rest.
  // The reference it returns is valid until the next few calls; the view
  // must not outlive this snapshot.
  KernelIrqStats view() const;
};

// ---------------------------------------------------------------- writing

// Serializers shared by the writer, the tests and the benchmark generator.
namespace recfmt {
std::string header_json(const RecordingHeader& h, int version = kVersion);
// `version`: the file's format version (the JSON's "format" must match it).
RecordingHeader parse_header_json(const std::string& text, int version = kVersion);  // throws std::runtime_error
// Encodes a stats block payload from the live (or synthetic) kernel view.
std::string encode_stats(const KernelIrqStats& k, uint64_t at_ns, const kstats& counters,
                         uint64_t missed, uint64_t received);
}  // namespace recfmt

struct WriterOptions {
  // 5: as 4, with one-byte tags for records of their type's size, all the
  // block's tags before its values; 4: as 3, and a group of records may be
  // stored as a dictionary of its distinct rows; 3: records in the order the live collector got them (the
  // caller feeds them so), a codec byte per block; 2: zlib blocks, records in
  // ring-buffer arrival order. 2 to 4 are kept for tests and comparisons.
  uint8_t version = recfmt::kVersion;
  // Version 3 on: the blocks' codec. zlib is what the SPEC names; zstd
  // decompresses ~1.5x faster, files ~12% larger (`record --compress zstd`).
  uint8_t codec = recfmt::kCodecZlib;
  // The codec's level; -1: its default. zlib streams are made by libdeflate
  // (levels 0-12, 0 stored), default 3: on the events blocks it compresses
  // faster than zlib's own level 1 (-11% time on a real recording, -20% on
  // the synthetic one), 13% smaller, and the file inflates ~4% cheaper in
  // `report`. zstd (levels 1-22), default 1: ~2x faster than 3, ~2% larger.
  int level = -1;
  uint32_t block_bytes = 1u << 20;      // close an events block at this size (<= 4 MiB)
  bool background = true;               // compress and write on a worker thread
  size_t max_queued = 8;                // blocks waiting for the worker (back-pressure)
};

class RecordingWriter {
 public:
  // Takes ownership of fd (opened for writing, empty). `path` names it in errors.
  RecordingWriter(int fd, std::string path, WriterOptions opts = {});
  ~RecordingWriter();
  RecordingWriter(const RecordingWriter&) = delete;
  RecordingWriter& operator=(const RecordingWriter&) = delete;

  // Writes the magic and the HEADER block (synchronously: errors surface now).
  void write_header(const RecordingHeader& h);

  // Hot path: one raw ring-buffer record, as the session's tap hands it over.
  void add_record(const void* data, size_t size) {
    if (size >= recfmt::kMinRecord && size <= recfmt::kMaxRecord)
      encode_record(data, size);
    else
      add_rejected(size);
  }
  // The session released everything up to `watermark` to its collector.
  void add_watermark(uint64_t watermark);
  // Ends the current events block (if any) and queues it.
  void flush_events();
  // Queues a stats block (after flushing events, so stream order is kept).
  void add_stats(const KernelIrqStats& k, uint64_t at_ns, const kstats& counters, uint64_t missed,
                 uint64_t received, bool final);
  // Writes the trailer, waits for the worker, closes the file. Throws
  // std::runtime_error on any write error.
  void finish();

  // First write error so far ("" if none): the recording loop checks it.
  std::string error() const;
  uint64_t records() const { return records_; }  // tap items (records + rejected)
  uint64_t bytes_written() const;                 // file bytes so far (after finish: the size)

 private:
  struct Job {
    uint8_t kind;
    uint32_t seq;
    std::string payload;  // EVENTS: the count and item stream
    std::string rows;     // EVENTS: record bytes [8, size) in stream order
  };
  struct Buffers {
    std::string items, rows;
  };
  void encode_record(const void* data, size_t size);
  void add_rejected(size_t size);
  void open_block();
  void queue(Job job);
  void write_block(Job& job);  // (transpose,) compress, write; sets error_
  void recycle(Job& job);      // events buffers go back to pool_
  void worker();
  void write_all(const void* p, size_t n);

  int fd_;
  std::string path_;
  WriterOptions opts_;
  // Current events block: items and record bodies, sized to cap_ while open
  // and written through pointers (one length comparison per record).
  Buffers cur_;
  size_t items_len_ = 0, rows_len_ = 0, cap_ = 0;
  std::string tx_, comp_;  // write_block scratch (one thread calls it)
  ZSTD_CCtx_s* zstd_ = nullptr;             // write_block's compression contexts
  libdeflate_compressor* deflate_ = nullptr;
  bool block_open_ = false;
  uint64_t prev_ts_ = 0;
  uint32_t seq_ = 0;
  uint32_t event_blocks_ = 0;
  uint64_t records_ = 0, block_items_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_, space_cv_;
  std::deque<Job> jobs_;
  std::vector<Buffers> pool_;  // written events buffers, for reuse
  bool stop_ = false, finished_ = false;
  std::string error_;
  uint64_t written_ = 0;
  std::thread thread_;
};

// ---------------------------------------------------------------- reading

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; fewer only at the end of the input.
  virtual size_t read(void* buf, size_t n) = 0;
  // Bytes left (known up front, so no length field can make us allocate more).
  virtual uint64_t remaining() const = 0;
};

// Throws UsageError ("cannot read 'x': ...") if the file cannot be opened.
std::unique_ptr<ByteSource> open_file_source(const std::string& path);
// Does not copy: data must outlive the source.
std::unique_ptr<ByteSource> memory_source(const void* data, size_t size);

// An EVENTS block decoded, ready to hand over in stream order: item i is a
// record (tag = its size; its bytes are row `k` of its group, or the row
// group_slot[group][k] names), a watermark (v) or a rejected record (v = its
// size). Bytes 0..7 of a row, its timestamp, are not stored by the decoder:
// deliver_items() hands each record over with its timestamp (v) apart
// (record_at), and a sink that reads records from memory gets it written
// in first.
struct DecodedItems {
  struct Item {
    uint64_t v;
    uint32_t k;
    uint16_t group;
    uint8_t tag;
  };
  const Item* items = nullptr;
  uint32_t n = 0;
  const uint16_t* const* group_slot = nullptr;  // per group: nullptr, or slots
  const uint64_t* group_row = nullptr;           // per group: its first row's offset
  unsigned char* rows = nullptr;

  // A record item's bytes (8-byte aligned slots of its size rounded up).
  unsigned char* record_at(const Item& it) const {
    const uint16_t* slot = group_slot[it.group];
    const size_t place = slot ? slot[it.k] : it.k;
    return rows + group_row[it.group] + place * ((it.tag + 7u) & ~7u);
  }
};

// What deliver_items() handed over.
struct DeliveryTally {
  uint64_t last_ts = 0;  // latest record/watermark time
  uint64_t records = 0, rejected = 0, watermarks = 0;
};

// Receives the event stream of a recording, in file order.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // 16..64 bytes, 8-byte aligned. The bytes live in the reader's block
  // buffers: they stay valid (and unchanged) until the end_block() of the
  // *next* EVENTS block returns, so a sink may keep the pointer until then
  // instead of copying the record.
  virtual void record(const void* data, size_t size) = 0;
  // What deliver_items() calls: the timestamp into bytes 0..7, then record().
  // A final sink may hide it with its own that takes ts as it is.
  void record_at(unsigned char* rec, size_t size, uint64_t ts) {
    std::memcpy(rec, &ts, sizeof(ts));
    record(rec, size);
  }
  // False: the sink is done with each record when record() returns. The
  // reader may then pass records that share their bytes 8.. (a row
  // dictionary's rows, the timestamp written in place before each call)
  // instead of copying every record out first.
  virtual bool keeps_records() const { return true; }
  virtual void rejected(size_t size) = 0;                  // a record of a bad size (counted)
  virtual void watermark(uint64_t ts) = 0;
  // An EVENTS block is done; the records of the block before it go away
  // after this returns.
  virtual void end_block() {}
  // A block's items, in order: record(), watermark() or rejected() each.
  // A final sink on the hot path overrides it with deliver_items(b, *this,
  // t): its calls are then direct and inlined, not one virtual call per
  // record. An override must fill t (the reader checks the trailer's counts
  // against it): call deliver_items().
  virtual void deliver(const DecodedItems& b, DeliveryTally& t);
};

template <class Sink>
[[gnu::always_inline]] inline void deliver_items(const DecodedItems& b, Sink& sink, DeliveryTally& t) {
  uint64_t last = t.last_ts;
  for (uint32_t i = 0; i < b.n; i++) {
    const DecodedItems::Item& it = b.items[i];
    if (it.tag >= recfmt::kMinRecord) [[likely]] {
      unsigned char* rec = b.record_at(it);
      last = it.v > last ? it.v : last;
      t.records++;
      sink.record_at(rec, it.tag, it.v);
    } else if (it.tag == recfmt::kTagWatermark) {
      last = it.v > last ? it.v : last;
      t.watermarks++;
      sink.watermark(it.v);
    } else {
      t.rejected++;
      sink.rejected(static_cast<size_t>(it.v < SIZE_MAX ? it.v : SIZE_MAX));
    }
  }
  t.last_ts = last;
}

struct RecordingSummary {
  bool complete = false;  // trailer present and consistent
  std::string warning;    // truncated: one line naming the file and the last complete block
  uint32_t blocks = 0;    // complete blocks read (header included)
  uint64_t items = 0;     // records + rejected
  uint64_t records = 0;
  uint64_t watermarks = 0;
  uint64_t last_ts = 0;   // latest record/watermark time seen
  std::optional<StatsSnapshot> stats;  // the last stats block read (final if complete)
};

class RecordingReader {
 public:
  // Reads and checks the magic, version and HEADER block. Throws UsageError
  // ("'x.rec' is not an irqlat recording", ...).
  RecordingReader(std::unique_ptr<ByteSource> src, std::string name);

  const RecordingHeader& header() const { return header_; }
  const std::string& name() const { return name_; }
  // From 3 on, records are stored in the order the live collector got them.
  uint8_t version() const { return version_; }

  // Streams the rest to sink. A truncated file returns what it holds with
  // complete = false and a warning; anything corrupt throws UsageError.
  RecordingSummary read(RecordSink& sink);

 private:
  enum class Got { Block, Eof, Truncated };
  Got next_block(uint8_t& kind, std::string& payload);
  [[noreturn]] void corrupt(const std::string& what) const;
  bool rest_is_zero();
  void decode_events(const std::string& payload, RecordSink& sink, RecordingSummary& s);
  StatsSnapshot decode_stats(const std::string& payload, bool final) const;

  std::unique_ptr<ByteSource> src_;
  std::string name_;
  RecordingHeader header_;
  uint32_t seq_ = 0;  // last complete block
  uint8_t version_ = recfmt::kVersion;  // the file's format version
  std::string comp_;  // scratch
  std::vector<uint32_t> group_count_;  // per (size, type) group of a block
  std::vector<uint64_t> group_base_, group_row_;
  // Per group: nullptr, or (a row dictionary passed as it is) the slot of
  // each of its records, an index into slots_; the dictionary's rows are in
  // the group's first slots.
  std::vector<const uint16_t*> group_slot_;
  ScratchArray<uint16_t> slots_;
  std::vector<uint16_t> touched_;  // groups present in the current block
  // One decoded item: a record (tag = size, group, its index k in the
  // group, v = ts), a watermark (v) or a rejected record (v = its size).
  using Item = DecodedItems::Item;
  ScratchArray<Item> items_;
  // The blocks' records, back in row-major order, each in an 8-byte aligned
  // slot; two buffers take turns, so the sink may keep pointers into a
  // block until the end_block() after the next one.
  ScratchArray<unsigned char> rows_[2];
  int rows_turn_ = 0;
};

}  // namespace irqlat
