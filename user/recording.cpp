// See recording.h and docs/recording-format.md.
#include "user/recording.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <tuple>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "loader/regular_file.h"
#include "user/parse.h"

namespace irqlat {

using nlohmann::json;

namespace {

// ------------------------------------------------------------ primitives

inline uint64_t zigzag(uint64_t delta) {
  const int64_t d = static_cast<int64_t>(delta);
  return (static_cast<uint64_t>(d) << 1) ^ static_cast<uint64_t>(d >> 63);
}
inline uint64_t unzigzag(uint64_t z) { return (z >> 1) ^ (~(z & 1) + 1); }

// The varint that starts in x (8 bytes loaded little-endian), if it ends
// there: its length (1..8) and value, without a branch per byte; 0 if not.
inline unsigned varint_in8(uint64_t x, uint64_t& v) {
  // Two bytes first: the timestamp deltas of a busy system (under ~8 us)
  // take two bytes, 96% of them in the bench's real recording.
  if ((x & 0x8080) == 0x0080) {
    v = (x & 0x7f) | ((x >> 1) & 0x3f80);
    return 2;
  }
  const uint64_t stops = ~x & 0x8080808080808080ULL;  // bytes that end the varint
  if (!stops) return 0;
  // The varint's bytes (all below the stop byte's bit 7), their 7-bit
  // groups packed together in three steps (pairs, quads, halves) instead of
  // a loop of eight.
  v = x & ((stops & (~stops + 1)) - 1) & 0x7f7f7f7f7f7f7f7fULL;
  v = ((v & 0x7f007f007f007f00ULL) >> 1) | (v & 0x007f007f007f007fULL);
  v = ((v & 0x3fff00003fff0000ULL) >> 2) | (v & 0x00003fff00003fffULL);
  v = ((v & 0x0fffffff00000000ULL) >> 4) | (v & 0x000000000fffffffULL);
  return static_cast<unsigned>(__builtin_ctzll(stops)) / 8 + 1;
}

inline char* put_varint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

void append_varint(std::string& out, uint64_t v) {
  char buf[10];
  out.append(buf, put_varint(buf, v) - buf);
}

void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// Bounds-checked reader of a decoded payload. Errors return false; the
// caller names the block.
struct Cursor {
  const unsigned char* p;
  const unsigned char* end;

  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p == end) return false;
      const unsigned char b = *p++;
      if (shift == 63 && b > 1) return false;  // more than 64 bits
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool bytes(size_t n, const unsigned char*& out) {
    if (static_cast<size_t>(end - p) < n) return false;
    out = p;
    p += n;
    return true;
  }
  bool u8(uint8_t& v) {
    if (p == end) return false;
    v = *p++;
    return true;
  }
  bool done() const { return p == end; }
};

// Strings from /proc may hold any bytes; JSON wants UTF-8. Valid UTF-8 is
// stored as a string, anything else as {"hex": "..."} so it comes back
// byte for byte.
bool valid_utf8(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

json bytes_to_json(const std::string& s) {
  if (valid_utf8(s)) return s;
  static const char* hex = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) {
    h += hex[c >> 4];
    h += hex[c & 15];
  }
  return json{{"hex", h}};
}

struct BadHeader : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string bytes_from_json(const json& j, const char* what) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.size() == 1 && j.contains("hex") && j["hex"].is_string()) {
    const std::string& h = j["hex"].get_ref<const std::string&>();
    if (h.size() % 2) throw BadHeader(std::string(what) + ": odd hex string");
    std::string out;
    auto nib = [&](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      throw BadHeader(std::string(what) + ": bad hex digit");
    };
    for (size_t i = 0; i < h.size(); i += 2) out += static_cast<char>(nib(h[i]) * 16 + nib(h[i + 1]));
    return out;
  }
  throw BadHeader(std::string(what) + " is not a string");
}

const json& field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) throw BadHeader(std::string("'") + key + "' is missing");
  return *it;
}

uint64_t get_u64(const json& j, const char* key, uint64_t max = UINT64_MAX) {
  const json& v = field(j, key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    throw BadHeader(std::string("'") + key + "' is not a non-negative integer");
  const uint64_t x = v.get<uint64_t>();
  if (x > max) throw BadHeader(std::string("'") + key + "' is out of range");
  return x;
}

std::string get_str(const json& j, const char* key) { return bytes_from_json(field(j, key), key); }

bool get_bool(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_boolean()) throw BadHeader(std::string("'") + key + "' is not a boolean");
  return v.get<bool>();
}

}  // namespace

// ------------------------------------------------------------ serializers

namespace recfmt {

// Size of each record type (index: enum irqlat_ev_type) in this build. The
// raw records are stored as the kernel wrote them, so a recording is only
// readable by a build with the same layouts; a layout change must bump
// kVersion. The header carries the sizes as a cross-check.
json record_sizes() {
  return json::array({0, sizeof(ev_switch), sizeof(ev_wake), sizeof(ev_wake), sizeof(ev_migrate),
                      sizeof(ev_task), sizeof(ev_task), sizeof(ev_task), sizeof(ev_irq),
                      sizeof(ev_signal), sizeof(ev_mark)});
}

std::string header_json(const RecordingHeader& h, int version) {
  json irq_names = json::object();
  for (const auto& [irq, name] : h.irq_names) irq_names[std::to_string(irq)] = bytes_to_json(name);
  json threads = json::array();
  for (const KnownThread& t : h.threads)
    threads.push_back({{"tid", t.tid}, {"pid", t.pid}, {"comm", bytes_to_json(t.comm)}});
  json argv = json::array();
  for (const std::string& a : h.argv) argv.push_back(bytes_to_json(a));
  json j = {
      {"format", version},
      {"tool", "irqlat"},
      {"tool_version", bytes_to_json(h.tool_version)},
      {"kernel", bytes_to_json(h.kernel)},
      {"boot_id", bytes_to_json(h.boot_id)},
      {"clock", bytes_to_json(h.clock)},
      {"cpus", h.cpus},
      {"start_ns", h.start_ns},
      {"argv", std::move(argv)},
      {"targets", bytes_to_json(h.targets)},
      {"windows",
       {{"enabled", h.windows_enabled},
        {"cancel", bytes_to_json(h.cancel_spec)},
        {"done", bytes_to_json(h.done_spec)},
        {"timeout_ns", h.window_timeout_ns},
        {"list_cap", h.window_list_cap},
        {"signal_mask", h.signal_mask}}},
      {"stats_interval_ns", h.stats_interval_ns},
      {"irq_names", std::move(irq_names)},
      {"threads", std::move(threads)},
      {"record_sizes", record_sizes()},
  };
  return j.dump();
}

RecordingHeader parse_header_json(const std::string& text, int version) {
  // Deeply nested junk is cut off while parsing (the parser itself is not
  // recursive); nothing we read is nested more than 3 levels.
  json j = json::parse(
      text, [](int depth, json::parse_event_t, json&) { return depth <= 4; }, false);
  if (j.is_discarded() || !j.is_object()) throw BadHeader("not a JSON object");
  try {
    RecordingHeader h;
    if (get_u64(j, "format") != static_cast<uint64_t>(version)) throw BadHeader("format version mismatch");
    if (field(j, "record_sizes") != record_sizes())
      throw BadHeader("its record layouts differ from this irqlat's (made by another version)");
    h.tool_version = get_str(j, "tool_version");
    h.kernel = get_str(j, "kernel");
    h.boot_id = get_str(j, "boot_id");
    h.clock = get_str(j, "clock");
    if (h.clock != "CLOCK_MONOTONIC") throw BadHeader("clock '" + h.clock + "' is not CLOCK_MONOTONIC");
    h.cpus = static_cast<int>(get_u64(j, "cpus", kMaxCpus));
    if (h.cpus < 1) throw BadHeader("'cpus' is 0");
    h.start_ns = get_u64(j, "start_ns");
    const json& argv = field(j, "argv");
    if (!argv.is_array()) throw BadHeader("'argv' is not an array");
    for (const json& a : argv) h.argv.push_back(bytes_from_json(a, "argv"));
    h.targets = get_str(j, "targets");
    const json& w = field(j, "windows");
    if (!w.is_object()) throw BadHeader("'windows' is not an object");
    h.windows_enabled = get_bool(w, "enabled");
    h.cancel_spec = get_str(w, "cancel");
    h.done_spec = get_str(w, "done");
    h.window_timeout_ns = get_u64(w, "timeout_ns");
    h.window_list_cap = get_u64(w, "list_cap", 100'000'000ULL);
    h.signal_mask = get_u64(w, "signal_mask");
    h.stats_interval_ns = get_u64(j, "stats_interval_ns");
    const json& names = field(j, "irq_names");
    if (!names.is_object()) throw BadHeader("'irq_names' is not an object");
    for (const auto& [k, v] : names.items()) {
      int irq = 0;
      try {
        irq = parse_pid(k, "IRQ");
      } catch (const UsageError&) {
        if (k != "0") throw BadHeader("bad IRQ number '" + k + "'");
      }
      h.irq_names[irq] = bytes_from_json(v, "irq_names");
    }
    const json& threads = field(j, "threads");
    if (!threads.is_array()) throw BadHeader("'threads' is not an array");
    for (const json& t : threads) {
      if (!t.is_object()) throw BadHeader("a thread is not an object");
      KnownThread k;
      k.tid = static_cast<int>(get_u64(t, "tid", INT32_MAX));
      k.pid = static_cast<int>(get_u64(t, "pid", INT32_MAX));
      k.comm = get_str(t, "comm");
      h.threads.push_back(std::move(k));
    }
    return h;
  } catch (const json::exception& e) {
    throw BadHeader(e.what());
  }
}

std::string encode_stats(const KernelIrqStats& k, uint64_t at_ns, const kstats& c, uint64_t missed,
                         uint64_t received) {
  std::string out;
  append_varint(out, at_ns);
  append_varint(out, static_cast<uint64_t>(k.nr_cpus));
  append_varint(out, k.max_irq);
  for (uint64_t v : std::initializer_list<uint64_t>{c.records, c.drops, c.irq_unmatched, c.irq_overflow, missed, received})
    append_varint(out, v);
  std::string entries;
  uint64_t n = 0;
  const uint32_t slots = IRQLAT_NR_SLOTS(k.max_irq);
  for (uint32_t slot = 0; slot < slots; slot++)
    for (int cpu = 0; cpu < k.nr_cpus; cpu++) {
      const irq_stat& s = k.stat(slot, cpu);
      if (!s.count && !s.total_ns && !s.max_ns && !s.raise_count && !s.raise_wait_ns &&
          !s.raise_wait_max && !s.name[0])
        continue;
      n++;
      append_varint(entries, slot);
      append_varint(entries, static_cast<uint64_t>(cpu));
      for (uint64_t v : std::initializer_list<uint64_t>{s.count, s.total_ns, s.max_ns, s.raise_count, s.raise_wait_ns, s.raise_wait_max})
        append_varint(entries, v);
      const size_t len = strnlen(s.name, sizeof(s.name));
      append_varint(entries, len);
      entries.append(s.name, len);
      uint64_t nb = 0;
      for (uint32_t b = 0; b < IRQLAT_HIST_BUCKETS; b++) nb += s.hist[b] != 0;
      append_varint(entries, nb);
      uint32_t prev = 0;
      for (uint32_t b = 0; b < IRQLAT_HIST_BUCKETS; b++) {
        if (!s.hist[b]) continue;
        append_varint(entries, b - prev);  // gap from the previous index (+1 after the first)
        append_varint(entries, s.hist[b]);
        prev = b + 1;
      }
    }
  append_varint(out, n);
  out += entries;
  return out;
}

}  // namespace recfmt

KernelIrqStats StatsSnapshot::view() const {
  KernelIrqStats k;
  k.nr_cpus = nr_cpus;
  k.max_irq = max_irq;
  // A few scratch slots: callers use each reference before the next call.
  auto scratch = std::make_shared<std::vector<irq_stat>>(4);
  auto next = std::make_shared<size_t>(0);
  const std::vector<StatEntry>* entries = &this->entries;
  k.stat = [entries, scratch, next](uint32_t slot, int cpu) -> const irq_stat& {
    static const irq_stat kZero{};
    auto it = std::lower_bound(entries->begin(), entries->end(), std::make_pair(slot, cpu),
                               [](const StatEntry& e, const std::pair<uint32_t, int>& key) {
                                 return e.slot != key.first ? e.slot < key.first
                                                            : static_cast<int>(e.cpu) < key.second;
                               });
    if (it == entries->end() || it->slot != slot || static_cast<int>(it->cpu) != cpu) return kZero;
    irq_stat& s = (*scratch)[(*next)++ % scratch->size()];
    std::memset(&s, 0, sizeof(s));
    s.count = it->count;
    s.total_ns = it->total_ns;
    s.max_ns = it->max_ns;
    s.raise_count = it->raise_count;
    s.raise_wait_ns = it->raise_wait_ns;
    s.raise_wait_max = it->raise_wait_max;
    std::memcpy(s.name, it->name.data(), std::min(it->name.size(), sizeof(s.name)));
    for (const auto& [b, v] : it->buckets) s.hist[b] = v;
    return s;
  };
  return k;
}

// ------------------------------------------------------------ writer

RecordingWriter::RecordingWriter(int fd, std::string path, WriterOptions opts)
    : fd_(fd), path_(std::move(path)), opts_(opts) {
  // Version 2 (zlib, arrival order) or 3 to 5 (either codec): nothing else is
  // written the way its readers expect.
  const bool writable = opts_.version >= 2 && opts_.version <= recfmt::kVersion &&
                        (opts_.codec == recfmt::kCodecZlib || (opts_.codec == recfmt::kCodecZstd && opts_.version >= 3));
  if (!writable) {
    ::close(fd_);
    throw std::invalid_argument("recording format " + std::to_string(opts_.version) + " with codec " +
                                std::to_string(opts_.codec) + " cannot be written");
  }
  opts_.block_bytes = std::clamp<uint32_t>(opts_.block_bytes, 4096, 4u << 20);
  cap_ = opts_.block_bytes + 256;
  if (opts_.background) thread_ = std::thread([this] { worker(); });
}

RecordingWriter::~RecordingWriter() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  space_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
  ZSTD_freeCCtx(zstd_);
  libdeflate_free_compressor(deflate_);
}

void RecordingWriter::write_all(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd_, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      std::lock_guard<std::mutex> lk(mu_);
      if (error_.empty())
        error_ = "writing '" + path_ + "' failed: " + std::strerror(w < 0 ? errno : EIO);
      return;
    }
    c += w;
    n -= static_cast<size_t>(w);
    std::lock_guard<std::mutex> lk(mu_);
    written_ += static_cast<uint64_t>(w);
  }
}

namespace {

constexpr size_t kGroups = (recfmt::kMaxRecord - recfmt::kMinRecord + 1) * 256;
inline size_t group_of(unsigned size, unsigned type) { return (size - recfmt::kMinRecord) * 256 + type; }

// Version 5's one-byte tags, for writer and reader alike: by tag, the group
// of a record of type tag - 1 and that type's size (the header pins the
// sizes); UINT16_MAX for every other tag.
const std::array<uint16_t, 256>& short_tag_groups() {
  static const std::array<uint16_t, 256> t = [] {
    std::array<uint16_t, 256> a;
    a.fill(UINT16_MAX);
    for (unsigned tag = recfmt::kTagShortFirst; tag <= recfmt::kTagShortLast; tag++) {
      const unsigned size = irqlat_record_size(static_cast<uint8_t>(tag - 1));
      if (size >= recfmt::kMinRecord && size <= recfmt::kMaxRecord)
        a[tag] = static_cast<uint16_t>(group_of(size, tag - 1));
    }
    return a;
  }();
  return t;
}

// EVENTS payload: the item stream as it is, then each (size, type) group's
// record bytes [8, size) transposed (byte 8 of every record of the group,
// then byte 9, ...): equal fields line up and deflate squeezes them.
// Row-major (count records of len bytes) <-> planes (len runs of count
// bytes), in tiles of 64 records so both sides stay in cache.
constexpr size_t kTile = 64;

// Planes back to records of `stride` bytes: byte j of record k goes to
// out[k * stride + j] (out points at byte 8 of the first record).
void planes_to_records(const unsigned char* planes, size_t count, size_t len, size_t stride,
                       unsigned char* out) {
  for (size_t k0 = 0; k0 < count; k0 += kTile) {
    const size_t kn = std::min(kTile, count - k0);
    for (size_t j = 0; j < len; j++) {
      const unsigned char* src = planes + j * count + k0;
      unsigned char* dst = out + k0 * stride + j;
      for (size_t k = 0; k < kn; k++) dst[k * stride] = src[k];
    }
  }
}

// Version 2 record data: each (size, type) group's bytes [8, size) as
// columns of little-endian u32 words (bytes past the last whole word as
// byte planes, as in version 1), each column in the smallest of these:
//   kColConst  u32 v                       every record holds v
//   kColFor8   u32 base, count x u8        base + delta
//   kColFor16  u32 base, count x u16 LE    base + delta
//   kColDict   u8 k-1, k x u32, count x u8 index (< k)
//   kColRaw    count x u32 LE
// Fields that rarely change (type, cpu, pids, comm words, pads) shrink to a
// byte or nothing: about 3x fewer bytes to inflate than version 1.
void encode_word_column(const char* rows, size_t count, size_t len, size_t off, std::string& out) {
  thread_local std::vector<uint32_t> v;
  v.resize(count);
  for (size_t k = 0; k < count; k++) std::memcpy(&v[k], rows + k * len + off, 4);
  uint32_t lo = v[0], hi = v[0];
  for (uint32_t x : v) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  auto put32 = [&](uint32_t x) {
    unsigned char b[4];
    put_u32(b, x);
    out.append(reinterpret_cast<const char*>(b), 4);
  };
  const size_t at = out.size();
  if (lo == hi) {
    out += static_cast<char>(recfmt::kColConst);
    put32(lo);
    return;
  }
  if (hi - lo <= 0xff) {
    out += static_cast<char>(recfmt::kColFor8);
    put32(lo);
    out.resize(at + 5 + count);
    char* p = out.data() + at + 5;
    for (size_t k = 0; k < count; k++) p[k] = static_cast<char>(v[k] - lo);
    return;
  }
  // A dictionary of at most 256 values (open addressing, 512 slots).
  {
    thread_local std::vector<uint32_t> keys(512);
    thread_local std::vector<int16_t> slot(512);
    thread_local std::vector<uint32_t> dict;
    thread_local std::vector<unsigned char> idx;
    std::fill(slot.begin(), slot.end(), int16_t{-1});
    dict.clear();
    idx.resize(count);
    bool ok = true;
    for (size_t k = 0; k < count && ok; k++) {
      const uint32_t x = v[k];
      size_t h = (x * 0x9e3779b1u) >> 23;
      while (slot[h] >= 0 && keys[h] != x) h = (h + 1) & 511;
      if (slot[h] < 0) {
        if (dict.size() == 256) {
          ok = false;
          break;
        }
        keys[h] = x;
        slot[h] = static_cast<int16_t>(dict.size());
        dict.push_back(x);
      }
      idx[k] = static_cast<unsigned char>(slot[h]);
    }
    const size_t dict_bytes = 2 + 4 * dict.size() + count;
    const size_t other = hi - lo <= 0xffff ? 5 + 2 * count : 1 + 4 * count;
    if (ok && dict_bytes < other) {
      out += static_cast<char>(recfmt::kColDict);
      out += static_cast<char>(dict.size() - 1);
      for (uint32_t x : dict) put32(x);
      out.append(reinterpret_cast<const char*>(idx.data()), count);
      return;
    }
  }
  if (hi - lo <= 0xffff) {
    out += static_cast<char>(recfmt::kColFor16);
    put32(lo);
    out.resize(at + 5 + 2 * count);
    char* p = out.data() + at + 5;
    for (size_t k = 0; k < count; k++) {
      const uint32_t d = v[k] - lo;
      p[2 * k] = static_cast<char>(d);
      p[2 * k + 1] = static_cast<char>(d >> 8);
    }
    return;
  }
  out += static_cast<char>(recfmt::kColRaw);
  out.resize(at + 1 + 4 * count);
  char* p = out.data() + at + 1;
  for (size_t k = 0; k < count; k++) put_u32(reinterpret_cast<unsigned char*>(p + 4 * k), v[k]);
}

// Version 4's other layout: the group's distinct rows (bytes [8, size)) in
// first-seen order, then each record's row index. A system-wide stream has
// few distinct rows per block once the timestamp is out (a switch record is
// its CPU, the two tasks and the next comm: at most 73 distinct among the
// ~15,000 switches of a block of the bench mix),
// so this is ~1 byte per record where the columns take one per word, and
// decoding it is a copy per record. Appended to out only when smaller than
// the columns (col_bytes); false otherwise.
bool encode_row_dict(const char* rows, size_t count, size_t len, size_t col_bytes, std::string& out) {
  thread_local std::vector<uint32_t> slots;  // 1 + dictionary index, 0: empty
  thread_local std::vector<uint32_t> first;  // dictionary index -> its first record
  thread_local std::vector<uint16_t> idx;
  // At most this many rows can be taken before giving up below (each takes
  // len bytes of col_bytes): the table stays at most half full.
  const size_t most = std::min<size_t>({count, recfmt::kMaxRowDict, col_bytes / len + 1});
  size_t cap = 64;
  while (cap < 2 * most) cap *= 2;
  slots.assign(cap, 0);
  first.clear();
  idx.resize(count);
  auto hash = [len](const char* r) {
    uint64_t h = len;
    size_t j = 0;
    for (; j + 8 <= len; j += 8) {
      uint64_t w;
      std::memcpy(&w, r + j, 8);
      h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    }
    for (; j < len; j++) h = (h ^ static_cast<unsigned char>(r[j])) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
  };
  for (size_t k = 0; k < count; k++) {
    const char* r = rows + k * len;
    size_t h = hash(r) & (cap - 1);
    while (slots[h] && std::memcmp(rows + size_t{first[slots[h] - 1]} * len, r, len) != 0) h = (h + 1) & (cap - 1);
    if (!slots[h]) {
      // No smaller than the columns already, counting only what is sure
      // (the layout byte, a 1-byte varint, the rows so far, the indices at
      // their width so far): give up early, as on random fields.
      const size_t n = first.size() + 1, wide = n > 256 ? 2 : 1;
      if (n > recfmt::kMaxRowDict || 2 + n * len + wide * count >= col_bytes) return false;
      first.push_back(static_cast<uint32_t>(k));
      slots[h] = static_cast<uint32_t>(first.size());
    }
    idx[k] = static_cast<uint16_t>(slots[h] - 1);
  }
  const size_t k = first.size(), wide = k > 256 ? 2 : 1;
  char v[10];
  const size_t vlen = static_cast<size_t>(put_varint(v, k) - v);
  if (1 + vlen + k * len + wide * count >= col_bytes) return false;
  out += static_cast<char>(recfmt::kLayoutRows);
  out.append(v, vlen);
  for (uint32_t r : first) out.append(rows + size_t{r} * len, len);
  const size_t at = out.size();
  out.resize(at + wide * count);
  char* p = out.data() + at;
  for (size_t i = 0; i < count; i++) {
    p[wide * i] = static_cast<char>(idx[i]);
    if (wide == 2) p[2 * i + 1] = static_cast<char>(idx[i] >> 8);
  }
  return true;
}

// Version 5's item stream: the count, every item's tag, then every item's
// values, from the interleaved items the writer collects. A record of its
// type's size gets a one-byte tag: on the bench's real recording, the bytes
// to inflate fall by ~16% and libdeflate's work by more (tags alone are a
// stream of few symbols, and the varints of the timestamps another).
void split_items(const std::string& items, std::string& out) {
  thread_local std::string values;
  values.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(items.data()) + 4;
  const auto* end = reinterpret_cast<const unsigned char*>(items.data()) + items.size();
  out.assign(items, 0, 4);
  while (p < end) {
    unsigned tag = *p++;
    if (tag >= recfmt::kMinRecord) {
      const uint8_t type = *p++;
      if (type < 255 && short_tag_groups()[type + 1u] == group_of(tag, type))
        tag = type + 1u;
      else
        values += static_cast<char>(type);
    }
    out += static_cast<char>(tag);
    const auto* v = p;
    while (p < end && (*p & 0x80)) p++;
    p++;
    values.append(reinterpret_cast<const char*>(v), static_cast<size_t>(p - v));
  }
  out += values;
}

void transpose_events(const std::string& items, const std::string& rows, int version, std::string& out) {
  const bool row_dicts = version >= 4;
  // Per-thread tables: only the writer's worker (or the tracing thread
  // without one) calls this; sized once, the used entries reset after.
  thread_local std::vector<uint32_t> count(kGroups), next(kGroups);
  thread_local std::vector<uint64_t> base(kGroups);
  thread_local std::vector<uint16_t> touched;
  thread_local std::string grouped;
  const auto* p = reinterpret_cast<const unsigned char*>(items.data()) + 4;
  const auto* end = reinterpret_cast<const unsigned char*>(items.data()) + items.size();
  auto skip_varint = [&] {
    while (p < end && (*p & 0x80)) p++;
    p++;
  };
  while (p < end) {
    const unsigned tag = *p++;
    if (tag >= recfmt::kMinRecord) {
      const size_t g = group_of(tag, *p++);
      if (count[g]++ == 0) touched.push_back(static_cast<uint16_t>(g));
    }
    skip_varint();
  }
  std::sort(touched.begin(), touched.end());
  uint64_t at = 0;
  for (uint16_t g : touched) {
    base[g] = at;
    at += static_cast<uint64_t>(count[g]) * (g / 256 + recfmt::kMinRecord - 8);
  }
  // Rows regrouped by (size, type), still row-major...
  grouped.resize(rows.size());
  p = reinterpret_cast<const unsigned char*>(items.data()) + 4;
  const char* row = rows.data();
  while (p < end) {
    const unsigned tag = *p++;
    if (tag >= recfmt::kMinRecord) {
      const size_t g = group_of(tag, *p++), len = tag - 8u;
      std::memcpy(grouped.data() + base[g] + next[g]++ * len, row, len);
      row += len;
    }
    skip_varint();
  }
  // ...then each group as columns after the item stream (version 2): u32
  // words, then the bytes past the last whole word as planes. Version 4:
  // after a layout byte, and as a row dictionary when that is smaller.
  thread_local std::string dict;
  if (version >= 5)
    split_items(items, out);
  else
    out.assign(items);
  for (uint16_t g : touched) {
    const size_t len = g / 256 + recfmt::kMinRecord - 8, words = len / 4;
    const char* grows = grouped.data() + base[g];
    const size_t at = out.size();
    if (row_dicts) out += static_cast<char>(recfmt::kLayoutColumns);
    for (size_t j = 0; j < words; j++) encode_word_column(grows, count[g], len, 4 * j, out);
    for (size_t b = 4 * words; b < len; b++)
      for (size_t k = 0; k < count[g]; k++) out += grows[k * len + b];
    dict.clear();
    if (row_dicts && encode_row_dict(grows, count[g], len, out.size() - at, dict)) {
      out.resize(at);
      out += dict;
    }
    count[g] = next[g] = 0;
  }
  touched.clear();
}

}  // namespace

void RecordingWriter::write_block(Job& job) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!error_.empty()) return;
  }
  const std::string* payload = &job.payload;
  if (job.kind == recfmt::kEvents) {
    transpose_events(job.payload, job.rows, opts_.version, tx_);
    payload = &tx_;
  }
  const bool zstd = opts_.version >= 3 && opts_.codec == recfmt::kCodecZstd;
  const int level = opts_.level >= 0 ? opts_.level : zstd ? 1 : 3;
  // libdeflate wants room for its own (larger) bound to start on a small
  // input. What it makes, the smallest of each of its blocks' encodings,
  // fits zlib's bound (the reader's limit) unless the input is
  // incompressible and cut into many short stored blocks: zlib then
  // compresses it instead, within its own bound by construction.
  size_t clen = zstd ? ZSTD_compressBound(payload->size())
                     : std::max<size_t>(compressBound(static_cast<uLong>(payload->size())),
                                        libdeflate_zlib_compress_bound(nullptr, payload->size()));
  if (comp_.size() < recfmt::kBlockHeaderSize + clen) comp_.resize(recfmt::kBlockHeaderSize + clen);
  auto* out = reinterpret_cast<unsigned char*>(comp_.data());
  std::string failed;
  if (zstd) {
    if (!zstd_) zstd_ = ZSTD_createCCtx();
    const size_t n = zstd_ ? ZSTD_compressCCtx(zstd_, out + recfmt::kBlockHeaderSize, clen, payload->data(),
                                               payload->size(), level)
                           : 0;
    if (!zstd_) failed = "zstd: out of memory";
    else if (ZSTD_isError(n)) failed = std::string("zstd: ") + ZSTD_getErrorName(n);
    clen = n;
  } else {
    if (!deflate_) deflate_ = libdeflate_alloc_compressor(level);
    clen = deflate_ ? libdeflate_zlib_compress(deflate_, payload->data(), payload->size(),
                                               out + recfmt::kBlockHeaderSize, clen)
                    : 0;
    const uLong bound = compressBound(static_cast<uLong>(payload->size()));
    if (deflate_ && (clen == 0 || clen > bound)) {
      uLongf zlen = bound;
      clen = compress2(out + recfmt::kBlockHeaderSize, &zlen, reinterpret_cast<const Bytef*>(payload->data()),
                       static_cast<uLong>(payload->size()), std::min(level, 9)) == Z_OK ? zlen : 0;
    }
    if (!deflate_) failed = "zlib: bad level " + std::to_string(level) + " or out of memory";
    else if (clen == 0) failed = "zlib compression error";
  }
  if (!failed.empty()) {
    std::lock_guard<std::mutex> lk(mu_);
    if (error_.empty()) error_ = "writing '" + path_ + "' failed: " + failed;
    return;
  }
  put_u32(out, recfmt::kBlockSync);
  out[4] = job.kind;
  out[5] = zstd ? recfmt::kCodecZstd : recfmt::kCodecZlib;
  out[6] = out[7] = 0;
  put_u32(out + 8, job.seq);
  put_u32(out + 12, static_cast<uint32_t>(payload->size()));
  put_u32(out + 16, static_cast<uint32_t>(clen));
  uint32_t crc = libdeflate_crc32(0, out, 20);
  crc = libdeflate_crc32(crc, out + recfmt::kBlockHeaderSize, clen);
  put_u32(out + 20, crc);
  write_all(out, recfmt::kBlockHeaderSize + clen);
}

void RecordingWriter::recycle(Job& job) {
  if (job.kind != recfmt::kEvents) return;
  std::lock_guard<std::mutex> lk(mu_);
  if (pool_.size() < opts_.max_queued + 2) pool_.push_back({std::move(job.payload), std::move(job.rows)});
}

void RecordingWriter::worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stop_ and nothing left
      job = std::move(jobs_.front());
    }
    write_block(job);
    recycle(job);
    {
      std::lock_guard<std::mutex> lk(mu_);
      jobs_.pop_front();
    }
    space_cv_.notify_all();
  }
}

void RecordingWriter::queue(Job job) {
  job.seq = ++seq_;
  if (!opts_.background) {
    write_block(job);
    recycle(job);
    return;
  }
  {
    std::unique_lock<std::mutex> lk(mu_);
    // Back-pressure: the tracing loop waits rather than holding unbounded memory.
    space_cv_.wait(lk, [this] { return jobs_.size() < opts_.max_queued || stop_; });
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void RecordingWriter::write_header(const RecordingHeader& h) {
  char magic[sizeof(recfmt::kMagic)];
  std::memcpy(magic, recfmt::kMagic, sizeof(magic));
  magic[7] = static_cast<char>(opts_.version);
  write_all(magic, sizeof(magic));
  std::string text = recfmt::header_json(h, opts_.version);
  if (text.size() > recfmt::kMaxHeaderBytes)
    throw std::runtime_error("recording header too large (" + std::to_string(text.size()) + " bytes)");
  queue(Job{recfmt::kHeader, 0, std::move(text), {}});
  if (opts_.background) {
    std::unique_lock<std::mutex> lk(mu_);
    space_cv_.wait(lk, [this] { return jobs_.empty() || stop_; });
  }
  const std::string err = error();
  if (!err.empty()) throw std::runtime_error(err);
}

void RecordingWriter::open_block() {
  // Buffers come back from the worker once written: no allocation (and no
  // page faults) per block in steady state.
  if (cur_.items.size() != cap_) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!pool_.empty()) {
        cur_ = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    cur_.items.resize(cap_);
    cur_.rows.resize(cap_);
  }
  items_len_ = 4;  // item count, patched when the block closes
  rows_len_ = 0;
  prev_ts_ = 0;
  block_items_ = 0;
  block_open_ = true;
}

void RecordingWriter::encode_record(const void* data, size_t size) {
  if (!block_open_) open_block();
  const char* src = static_cast<const char*>(data);
  uint64_t ts;
  std::memcpy(&ts, src, sizeof(ts));
  char* const items = cur_.items.data();
  char* p = items + items_len_;
  *p++ = static_cast<char>(size);
  *p++ = src[recfmt::kTypeOffset];
  p = put_varint(p, zigzag(ts - prev_ts_));
  items_len_ = static_cast<size_t>(p - items);
  std::memcpy(cur_.rows.data() + rows_len_, src + 8, size - 8);
  rows_len_ += size - 8;
  prev_ts_ = ts;
  records_++;
  // Both buffers have 256 bytes of slack past block_bytes: room for the
  // record that crosses the threshold.
  if (++block_items_ >= recfmt::kMaxItems || items_len_ + rows_len_ >= opts_.block_bytes) flush_events();
}

void RecordingWriter::add_rejected(size_t size) {
  if (!block_open_) open_block();
  char* const items = cur_.items.data();
  char* p = items + items_len_;
  *p++ = static_cast<char>(recfmt::kTagRejected);
  p = put_varint(p, size);
  items_len_ = static_cast<size_t>(p - items);
  records_++;
  if (++block_items_ >= recfmt::kMaxItems || items_len_ + rows_len_ >= opts_.block_bytes) flush_events();
}

void RecordingWriter::add_watermark(uint64_t watermark) {
  if (!block_open_) open_block();
  char* const items = cur_.items.data();
  char* p = items + items_len_;
  *p++ = static_cast<char>(recfmt::kTagWatermark);
  p = put_varint(p, zigzag(watermark - prev_ts_));
  items_len_ = static_cast<size_t>(p - items);
  if (++block_items_ >= recfmt::kMaxItems || items_len_ + rows_len_ >= opts_.block_bytes) flush_events();
}

void RecordingWriter::flush_events() {
  if (!block_open_) return;
  put_u32(reinterpret_cast<unsigned char*>(cur_.items.data()), static_cast<uint32_t>(block_items_));
  block_open_ = false;
  event_blocks_++;
  cur_.items.resize(items_len_);
  cur_.rows.resize(rows_len_);
  Job job{recfmt::kEvents, 0, std::move(cur_.items), std::move(cur_.rows)};
  cur_ = Buffers{};
  queue(std::move(job));
}

void RecordingWriter::add_stats(const KernelIrqStats& k, uint64_t at_ns, const kstats& counters,
                                uint64_t missed, uint64_t received, bool final) {
  flush_events();
  queue(Job{final ? recfmt::kFinalStats : recfmt::kStats, 0,
            recfmt::encode_stats(k, at_ns, counters, missed, received), {}});
}

void RecordingWriter::finish() {
  if (finished_) return;
  finished_ = true;
  flush_events();
  std::string end;
  append_varint(end, records_);
  append_varint(end, event_blocks_);
  append_varint(end, seq_ + 1);  // blocks in the file, this one included
  queue(Job{recfmt::kEnd, 0, std::move(end), {}});
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (::fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) {
    std::lock_guard<std::mutex> lk(mu_);
    if (error_.empty()) error_ = "writing '" + path_ + "' failed: " + std::strerror(errno);
  }
  if (::close(fd_) != 0) {
    std::lock_guard<std::mutex> lk(mu_);
    if (error_.empty()) error_ = "writing '" + path_ + "' failed: " + std::strerror(errno);
  }
  fd_ = -1;
  const std::string err = error();
  if (!err.empty()) throw std::runtime_error(err);
}

std::string RecordingWriter::error() const {
  std::lock_guard<std::mutex> lk(mu_);
  return error_;
}

uint64_t RecordingWriter::bytes_written() const {
  std::lock_guard<std::mutex> lk(mu_);
  return written_;
}

// ------------------------------------------------------------ sources

namespace {

class FileSource : public ByteSource {
 public:
  FileSource(FILE* f, uint64_t size) : f_(f), left_(size) {}
  ~FileSource() override { std::fclose(f_); }
  size_t read(void* buf, size_t n) override {
    n = static_cast<size_t>(std::min<uint64_t>(n, left_));
    size_t got = std::fread(buf, 1, n, f_);
    left_ -= got;
    if (got < n) left_ = 0;  // shrank under us: treat as the end
    return got;
  }
  uint64_t remaining() const override { return left_; }

 private:
  FILE* f_;
  uint64_t left_;
};

class MemorySource : public ByteSource {
 public:
  MemorySource(const void* data, size_t size) : p_(static_cast<const unsigned char*>(data)), left_(size) {}
  size_t read(void* buf, size_t n) override {
    n = std::min(n, left_);
    if (n) std::memcpy(buf, p_, n);
    p_ += n;
    left_ -= n;
    return n;
  }
  uint64_t remaining() const override { return left_; }

 private:
  const unsigned char* p_;
  size_t left_;
};

}  // namespace

std::unique_ptr<ByteSource> open_file_source(const std::string& path) {
  // Non-blocking open: a FIFO named here must be refused, not waited on.
  RegularFile rf = open_regular_file(path, O_RDONLY);
  if (rf.fd < 0) {
    struct stat st;
    const bool dir = rf.error == 0 && stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    throw UsageError("cannot read '" + path + "': " + (dir ? std::strerror(EISDIR) : rf.why()));
  }
  // /proc and /sys files stat as size 0 yet have data: not "empty".
  char byte;
  if (rf.st.st_size == 0 && pread(rf.fd, &byte, 1, 0) == 1) {
    ::close(rf.fd);
    throw UsageError("'" + path + "' is not an irqlat recording: a file of size 0 that has data (/proc or /sys)");
  }
  FILE* f = fdopen(rf.fd, "rb");
  if (!f) {
    const int err = errno;
    ::close(rf.fd);
    throw UsageError("cannot read '" + path + "': " + std::strerror(err));
  }
  return std::make_unique<FileSource>(f, static_cast<uint64_t>(rf.st.st_size));
}

std::unique_ptr<ByteSource> memory_source(const void* data, size_t size) {
  return std::make_unique<MemorySource>(data, size);
}

// ------------------------------------------------------------ reader

namespace {

// out[i] = in[i], sixteen at a time (GCC's -O2 leaves the plain loop
// scalar: ~7 instructions per byte).
void widen_u8(const unsigned char* in, uint16_t* out, size_t n) {
  typedef uint8_t u8x16 __attribute__((vector_size(16)));
  typedef uint16_t u16x16 __attribute__((vector_size(32)));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    u8x16 v;
    std::memcpy(&v, in + i, 16);
    const u16x16 w = __builtin_convertvector(v, u16x16);
    std::memcpy(out + i, &w, 32);
  }
  for (; i < n; i++) out[i] = in[i];
}

// Whether any of q[0..n) is above m, eight bytes at a time: per byte b,
// (b & 0x7f) + (127 - m') carries into bit 7 exactly when (b & 0x7f) > m'
// (no carry crosses bytes), where m' is m or m - 128 for m >= 128.
bool any_byte_above(const unsigned char* q, size_t n, unsigned m) {
  if (m >= 255) return false;
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  const bool high = m >= 128;
  const uint64_t add = (127 - (high ? m - 128 : m)) * kOnes;
  uint64_t flags = 0;
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    uint64_t x;
    std::memcpy(&x, q + k, 8);
    const uint64_t low = (x & ~kHighs) + add;
    flags |= high ? low & x : low | x;
  }
  if (flags & kHighs) return true;
  for (; k < n; k++)
    if (q[k] > m) return true;
  return false;
}

// One parsed version-2 word column (decode_word_columns).
struct WordColumn {
  uint8_t mode;
  uint32_t v;                 // const value or base
  const unsigned char* data;  // deltas, indices or raw words
  uint32_t dict[256];
};

// Reads one column's header and checks its data; nullptr or what is wrong.
const char* parse_word_column(Cursor& c, size_t count, WordColumn& col) {
  const unsigned char* p;
  if (!c.u8(col.mode)) return "record data cut short";
  switch (col.mode) {
    case recfmt::kColConst:
      if (!c.bytes(4, p)) return "record data cut short";
      col.v = get_u32(p);
      return nullptr;
    case recfmt::kColFor8:
    case recfmt::kColFor16:
      if (!c.bytes(4, p) || !c.bytes(col.mode == recfmt::kColFor8 ? count : 2 * count, col.data))
        return "record data cut short";
      col.v = get_u32(p);
      return nullptr;
    case recfmt::kColDict: {
      uint8_t km1;
      if (!c.u8(km1) || !c.bytes(4 * (km1 + 1u), p) || !c.bytes(count, col.data)) return "record data cut short";
      for (unsigned i = 0; i <= km1; i++) col.dict[i] = get_u32(p + 4 * i);
      if (any_byte_above(col.data, count, km1)) return "record column index out of range";
      return nullptr;
    }
    case recfmt::kColRaw:
      if (!c.bytes(4 * count, col.data)) return "record data cut short";
      return nullptr;
    default:
      return "unknown record column mode";
  }
}

// Values k0..k0+kn-1 of a column into dst, dst + stride, ...
void fill_word_column(const WordColumn& col, size_t k0, size_t kn, unsigned char* dst, size_t stride) {
  auto store = [&](size_t k, uint32_t v) { std::memcpy(dst + k * stride, &v, 4); };
  const unsigned char* q = col.data;
  switch (col.mode) {
    case recfmt::kColConst:
      for (size_t k = 0; k < kn; k++) store(k, col.v);
      break;
    case recfmt::kColFor8:
      for (size_t k = 0; k < kn; k++) store(k, col.v + q[k0 + k]);
      break;
    case recfmt::kColFor16:
      for (size_t k = 0; k < kn; k++)
        store(k, col.v + (q[2 * (k0 + k)] | static_cast<uint32_t>(q[2 * (k0 + k) + 1]) << 8));
      break;
    case recfmt::kColDict:
      for (size_t k = 0; k < kn; k++) store(k, col.dict[q[k0 + k]]);
      break;
    default:  // kColRaw
      for (size_t k = 0; k < kn; k++) store(k, get_u32(q + 4 * (k0 + k)));
      break;
  }
}

// Decodes the `words` version-2 word columns of a group of `count` records
// (rec0: byte 8 of the first record). All headers are parsed and checked
// first (so errors are the same as column by column); then the records are
// filled in tiles that stay in L1, column by column within a tile.
// `typed`: set when some record's type byte differs from `type` (checked
// on each tile while it is in L1; the caller then finds the first one).
const char* decode_word_columns(Cursor& c, size_t count, size_t words, unsigned char* rec0, size_t stride,
                                uint8_t type, bool& mistyped) {
  thread_local std::vector<WordColumn> cols;
  if (cols.size() < words) cols.resize(words);
  for (size_t j = 0; j < words; j++)
    if (const char* e = parse_word_column(c, count, cols[j])) return e;
  constexpr size_t kColTile = 256;
  constexpr size_t kType = recfmt::kTypeOffset - 8;  // from byte 8
  unsigned diff = 0;
  for (size_t k0 = 0; k0 < count; k0 += kColTile) {
    const size_t kn = std::min(kColTile, count - k0);
    unsigned char* tile = rec0 + k0 * stride;
    for (size_t j = 0; j < words; j++) fill_word_column(cols[j], k0, kn, tile + 4 * j, stride);
    for (size_t k = 0; k < kn; k++) diff |= tile[k * stride + kType] ^ type;
  }
  if (diff) mistyped = true;
  return nullptr;
}

// Copies row idx[r] of dict (W words per row) to record r (dst + r * stride).
template <size_t W, class Index>
void fill_rows(const uint64_t* dict, const Index* idx, size_t count, unsigned char* dst, size_t stride) {
  for (size_t r = 0; r < count; r++) {
    const uint64_t* src = dict + size_t{idx[r]} * W;
    unsigned char* d = dst + r * stride;
    for (size_t w = 0; w < W; w++) std::memcpy(d + 8 * w, &src[w], 8);
  }
}

// Decodes a version-4 row dictionary of a group of `count` records of
// `len` bytes from byte 8 (rec0: byte 8 of the first record; records are
// `stride` apart, and the slot past the record's len bytes is theirs to
// fill up to the next 8-byte boundary). Its rows are copied whole, padded
// to 8-byte words. `mistyped` as in decode_word_columns: every record is a
// copy of a row, so checking the rows is enough.
// With `slots`, the rows go into the group's first k record slots and
// slots[r] is record r's row: the caller passes each record from there.
const char* decode_row_dict(Cursor& c, size_t count, size_t len, unsigned char* rec0, size_t stride, uint8_t type,
                            bool& mistyped, uint16_t* slots) {
  uint64_t k;
  if (!c.varint(k)) return "record data cut short";
  if (k == 0 || k > count || k > recfmt::kMaxRowDict) return "record row dictionary size out of range";
  const size_t wide = k > 256 ? 2 : 1;
  const unsigned char *rows, *idx;
  if (!c.bytes(k * len, rows) || !c.bytes(wide * count, idx)) return "record data cut short";
  // Wide indices become native u16 (little-endian on disk), checked on the way.
  thread_local std::vector<uint16_t> idx16;
  if (wide == 2) {
    uint16_t* to = slots;
    if (!to) {
      idx16.resize(count);
      to = idx16.data();
    }
    unsigned top = 0;
    for (size_t r = 0; r < count; r++) {
      to[r] = static_cast<uint16_t>(idx[2 * r] | idx[2 * r + 1] << 8);
      top = std::max<unsigned>(top, to[r]);
    }
    if (top >= k) return "record row index out of range";
  } else if (any_byte_above(idx, count, static_cast<unsigned>(k - 1))) {
    return "record row index out of range";
  }
  constexpr size_t kType = recfmt::kTypeOffset - 8;  // from byte 8
  if (slots) {
    for (size_t i = 0; i < k; i++) {
      std::memcpy(rec0 + i * stride, rows + i * len, len);
      if (rows[i * len + kType] != type) mistyped = true;
    }
    if (wide == 1) widen_u8(idx, slots, count);
    return nullptr;
  }
  const size_t words = (len + 7) / 8;                // == (stride - 8) / 8
  thread_local std::vector<uint64_t> dict;
  dict.assign(k * words, 0);
  for (size_t i = 0; i < k; i++) {
    std::memcpy(&dict[i * words], rows + i * len, len);
    if (rows[i * len + kType] != type) mistyped = true;
  }
  auto fill = [&](auto w) {
    if (wide == 1)
      fill_rows<decltype(w)::value>(dict.data(), idx, count, rec0, stride);
    else
      fill_rows<decltype(w)::value>(dict.data(), idx16.data(), count, rec0, stride);
  };
  switch (words) {  // len is 8..56 (records of 16..64 bytes)
    case 1: fill(std::integral_constant<size_t, 1>{}); break;
    case 2: fill(std::integral_constant<size_t, 2>{}); break;
    case 3: fill(std::integral_constant<size_t, 3>{}); break;
    case 4: fill(std::integral_constant<size_t, 4>{}); break;
    case 5: fill(std::integral_constant<size_t, 5>{}); break;
    case 6: fill(std::integral_constant<size_t, 6>{}); break;
    default: fill(std::integral_constant<size_t, 7>{}); break;
  }
  return nullptr;
}

// One decompressor per thread and codec (tables and buffers of a few KiB
// or more, reused for every block).
template <class T, auto Make, auto Free>
T* per_thread() {
  struct Holder {
    T* d = Make();
    ~Holder() { Free(d); }
  };
  thread_local Holder h;
  if (!h.d) throw std::bad_alloc();
  return h.d;
}
libdeflate_decompressor* inflater() {
  return per_thread<libdeflate_decompressor, libdeflate_alloc_decompressor, libdeflate_free_decompressor>();
}
ZSTD_DCtx* zstd_decompressor() { return per_thread<ZSTD_DCtx, ZSTD_createDCtx, ZSTD_freeDCtx>(); }

}  // namespace

RecordingReader::RecordingReader(std::unique_ptr<ByteSource> src, std::string name)
    : src_(std::move(src)), name_(std::move(name)) {
  const uint64_t size = src_->remaining();
  if (size == 0) throw UsageError("'" + name_ + "' is empty: not an irqlat recording");
  char magic[8] = {};
  const size_t got = src_->read(magic, sizeof(magic));
  if (std::memcmp(magic, recfmt::kMagic, std::min<size_t>(got, 7)) != 0)
    throw UsageError("'" + name_ + "' is not an irqlat recording");
  if (got < sizeof(magic)) throw UsageError("'" + name_ + "': truncated inside its header (" +
                                            std::to_string(size) + " bytes): no events");
  version_ = static_cast<uint8_t>(magic[7]);
  if (version_ < recfmt::kMinVersion || version_ > recfmt::kVersion)
    throw UsageError("'" + name_ + "': recording format version " + std::to_string(version_) +
                     " is not supported (this irqlat reads versions " + std::to_string(recfmt::kMinVersion) +
                     " to " + std::to_string(recfmt::kVersion) + ")");
  uint8_t kind;
  std::string payload;
  const Got g = next_block(kind, payload);
  if (g != Got::Block)
    throw UsageError("'" + name_ + "': truncated inside its header (" + std::to_string(size) +
                     " bytes): no events");
  if (kind != recfmt::kHeader) corrupt("block 1 is not the header");
  try {
    header_ = recfmt::parse_header_json(payload, version_);
  } catch (const std::exception& e) {
    corrupt(std::string("bad header: ") + e.what());
  }
}

void RecordingReader::corrupt(const std::string& what) const {
  throw UsageError("'" + name_ + "' is corrupt: " + what);
}

bool RecordingReader::rest_is_zero() {
  char buf[65536];
  for (;;) {
    const size_t n = src_->read(buf, sizeof(buf));
    if (n == 0) return true;
    for (size_t i = 0; i < n; i++)
      if (buf[i]) return false;
  }
}

RecordingReader::Got RecordingReader::next_block(uint8_t& kind, std::string& payload) {
  const uint32_t seq = seq_ + 1;
  const std::string where = "block " + std::to_string(seq);
  if (src_->remaining() == 0) return Got::Eof;
  unsigned char h[recfmt::kBlockHeaderSize];
  const size_t got = src_->read(h, sizeof(h));
  const bool zero_head = std::all_of(h, h + got, [](unsigned char c) { return c == 0; });
  if (got < sizeof(h)) {
    if (zero_head) return Got::Truncated;
    // A partial header: truncated if what is there is plausible.
    if (got >= 4 && get_u32(h) != recfmt::kBlockSync) corrupt(where + ": bad block marker");
    return Got::Truncated;
  }
  if (get_u32(h) != recfmt::kBlockSync) {
    // Zeros to the end: space the file system allocated but never wrote.
    if (zero_head && rest_is_zero()) return Got::Truncated;
    corrupt(where + ": bad block marker");
  }
  kind = h[4];
  const uint32_t bseq = get_u32(h + 8), ulen = get_u32(h + 12), clen = get_u32(h + 16);
  const uint32_t crc = get_u32(h + 20);
  if (kind < recfmt::kHeader || kind > recfmt::kEnd) corrupt(where + ": unknown block kind " + std::to_string(kind));
  // Version 3 names the codec in byte 5; before, it was reserved (zlib).
  const uint8_t codec = h[5];
  if (h[6] || h[7] || (version_ < 3 && codec)) corrupt(where + ": reserved bytes are not zero");
  if (codec != recfmt::kCodecZlib && codec != recfmt::kCodecZstd)
    corrupt(where + ": unknown codec " + std::to_string(codec));
  if (bseq != seq) corrupt(where + ": sequence number " + std::to_string(bseq));
  const uint32_t cap = kind == recfmt::kHeader ? recfmt::kMaxHeaderBytes : recfmt::kMaxBlockBytes;
  if (ulen > cap) corrupt(where + ": length " + std::to_string(ulen) + " over the " + std::to_string(cap) + "-byte limit");
  const size_t bound = codec == recfmt::kCodecZstd ? ZSTD_compressBound(ulen) : compressBound(ulen);
  if (clen == 0 || clen > bound)
    corrupt(where + ": compressed length " + std::to_string(clen) + " does not fit length " + std::to_string(ulen));
  if (clen > src_->remaining()) return Got::Truncated;  // checked before allocating
  comp_.resize(clen);
  if (src_->read(comp_.data(), clen) != clen) return Got::Truncated;
  // libdeflate: the same CRC-32 and zlib (RFC 1950) format as zlib, 2-3x
  // faster on whole buffers of known length.
  uint32_t c = libdeflate_crc32(0, h, 20);
  c = libdeflate_crc32(c, comp_.data(), clen);
  if (c != crc) corrupt(where + ": CRC mismatch");
  payload.resize(ulen);
  unsigned char dummy;  // a non-null buffer even for an empty payload
  void* dst = ulen ? static_cast<void*>(payload.data()) : &dummy;
  if (codec == recfmt::kCodecZstd) {
    const size_t n = ZSTD_decompressDCtx(zstd_decompressor(), dst, ulen, comp_.data(), clen);
    if (ZSTD_isError(n) || n != ulen) corrupt(where + ": bad compressed data");
  } else {
    size_t in_used = 0, out_len = 0;
    const libdeflate_result rc =
        libdeflate_zlib_decompress_ex(inflater(), comp_.data(), clen, dst, ulen, &in_used, &out_len);
    if (rc != LIBDEFLATE_SUCCESS || out_len != ulen || in_used != clen) corrupt(where + ": bad compressed data");
  }
  seq_ = seq;
  return Got::Block;
}

void RecordingReader::decode_events(const std::string& payload, RecordSink& sink, RecordingSummary& s) {
  const auto* base = reinterpret_cast<const unsigned char*>(payload.data());
  const auto* end = base + payload.size();
  Cursor c{base, end};
  const unsigned char* p;
  auto bad = [&](const char* what) {
    corrupt("block " + std::to_string(seq_) + ": " + what + " at byte " + std::to_string(c.p - base));
  };
  if (!c.bytes(4, p)) bad("events block too short");
  const uint32_t n = get_u32(p);
  if (n > recfmt::kMaxItems) bad("too many items");

  // Pass 1: the item stream, decoded once into items_ (timestamps rebuilt),
  // and the size of each (size, type) group. Only the groups present are
  // touched (and reset on the way out).
  if (group_count_.empty()) {
    group_count_.assign(kGroups, 0);
    group_base_.assign(kGroups, 0);
    group_row_.assign(kGroups, 0);
    group_slot_.assign(kGroups, nullptr);
  }
  struct Reset {
    RecordingReader* r;
    ~Reset() {
      for (uint16_t g : r->touched_) r->group_count_[g] = 0;
      r->touched_.clear();
    }
  } reset{this};
  // Each item takes at least 2 bytes, so no more than this many can parse
  // before an error: a hostile count allocates nothing.
  const size_t can_parse = std::min<size_t>(n, payload.size() / 2 + 1);
  items_.ensure(can_parse);
  uint64_t prev = 0;
  // A record item: its timestamp and its place in its group (inlined into
  // the fast paths: a call per record costs ~30 instructions).
  auto add_record = [&](Item& it, size_t g, unsigned size, uint64_t delta) __attribute__((always_inline)) {
    prev += unzigzag(delta);
    it.v = prev;
    it.group = static_cast<uint16_t>(g);
    it.tag = static_cast<uint8_t>(size);
    it.k = group_count_[g]++;
    if (it.k == 0) touched_.push_back(static_cast<uint16_t>(g));
  };
  const std::array<uint16_t, 256>& short_group = short_tag_groups();
  // Any item from c (bounds-checked): the fast paths' fallback. tag_end:
  // where an unknown tag's message points (just past the tag).
  auto slow_item = [&](Item& it, unsigned tag, const unsigned char* tag_end) {
    unsigned size = tag;
    uint8_t type = 0;
    uint64_t v;
    if (version_ >= 5 && tag >= recfmt::kTagShortFirst && tag <= recfmt::kTagShortLast) {
      if (short_group[tag] == UINT16_MAX) {
        c.p = tag_end;
        bad("unknown item tag");
      }
      type = static_cast<uint8_t>(tag - 1);
      size = short_group[tag] / 256 + recfmt::kMinRecord;
    } else if (tag >= recfmt::kMinRecord && tag <= recfmt::kMaxRecord) {
      if (!c.u8(type)) bad("record cut short");
    } else if (tag != recfmt::kTagWatermark && tag != recfmt::kTagRejected) {
      c.p = tag_end;
      bad("unknown item tag");
    }
    if (!c.varint(v)) bad("bad number");
    if (size >= recfmt::kMinRecord) {
      add_record(it, group_of(size, type), size, v);
      return;
    }
    it.tag = static_cast<uint8_t>(tag);
    it.v = tag == recfmt::kTagRejected ? v : prev + unzigzag(v);  // a watermark: from the last record's ts
  };
  if (version_ >= 5) {
    // The tags, then the values.
    const unsigned char* tags;
    if (!c.bytes(n, tags)) bad("fewer items than its count");
    const unsigned char* q = c.p;
    for (uint32_t i = 0; i < n; i++) {
      Item& it = items_[i];
      const unsigned tag = tags[i];
      const unsigned g = short_group[tag];
      if (g != UINT16_MAX && end - q >= 8) {
        uint64_t x, v;
        std::memcpy(&x, q, 8);
        if (const unsigned len = varint_in8(x, v)) {
          q += len;
          add_record(it, g, g / 256 + recfmt::kMinRecord, v);
          continue;
        }
      }
      c.p = q;
      slow_item(it, tag, tags + i + 1);
      q = c.p;
    }
    c.p = q;
  } else {
    const unsigned char* q = c.p;
    for (uint32_t i = 0; i < n; i++) {
      Item& it = items_[i];
      // Fast path: a whole item with a short varint, far from the end.
      if (end - q >= 12) {
        const unsigned tag = q[0];
        uint64_t x, v;
        std::memcpy(&x, q + 2, 8);
        unsigned len;
        if (tag >= recfmt::kMinRecord && tag <= recfmt::kMaxRecord && (len = varint_in8(x, v))) {
          const size_t g = group_of(tag, q[1]);
          q += 2 + len;
          add_record(it, g, tag, v);
          continue;
        }
      }
      c.p = q;
      uint8_t tag;
      if (!c.u8(tag)) bad("fewer items than its count");
      slow_item(it, tag, c.p);
      q = c.p;
    }
    c.p = q;
  }
  const size_t planes = static_cast<size_t>(c.p - base);
  std::sort(touched_.begin(), touched_.end());
  uint64_t at = planes;
  for (uint16_t g : touched_) {
    group_base_[g] = at;
    at += static_cast<uint64_t>(group_count_[g]) * (g / 256 + recfmt::kMinRecord - 8);
  }
  if (version_ == 1 && at != payload.size()) {
    c.p = base + std::min<uint64_t>(at, payload.size());
    bad(at > payload.size() ? "record data cut short" : "bytes after the record data");
  }
  // Version 2 columns can be far smaller than the records they make: their
  // size is capped as version 1's planes were, before anything is allocated.
  if (at - planes > recfmt::kMaxBlockBytes) bad("record data over the block limit");

  // Each group back to row-major order, as whole records in 8-byte aligned
  // slots (bytes 0..7, the timestamp, are left unset: deliver_items() hands
  // each record over with its timestamp apart, RecordSink::record_at): the sink gets
  // pointers into the rows buffer, nothing is copied per record. Two
  // buffers take turns, so a block's records outlive the next block.
  ScratchArray<unsigned char>& rows = rows_[rows_turn_];
  rows_turn_ ^= 1;
  uint64_t rows_len = 0;
  for (uint16_t g : touched_) {
    const size_t stride = (g / 256 + recfmt::kMinRecord + 7) & ~size_t{7};
    group_row_[g] = rows_len;
    rows_len += static_cast<uint64_t>(group_count_[g]) * stride;
  }
  rows.ensure(static_cast<size_t>(rows_len));
  // Whether some record's type byte differs from its item's (corrupt): then
  // a scan names the first one, before anything of the block is delivered.
  bool mistyped = false;
  if (version_ == 1) {
    for (uint16_t g : touched_) {
      const size_t size = g / 256 + recfmt::kMinRecord, stride = (size + 7) & ~size_t{7};
      unsigned char* rec0 = rows.data() + group_row_[g];
      planes_to_records(base + group_base_[g], group_count_[g], size - 8, stride, rec0 + 8);
      for (size_t k = 0; k < group_count_[g]; k++)
        if (rec0[k * stride + recfmt::kTypeOffset] != g % 256) mistyped = true;
    }
  } else {
    Cursor cc{base + planes, end};
    // A sink done with each record on return gets a row dictionary's rows
    // as they are (the timestamp handed over apart), not a copy per
    // record.
    const bool share_rows = version_ >= 4 && !sink.keeps_records();
    if (share_rows) slots_.ensure(n);
    size_t slots_used = 0;
    for (uint16_t g : touched_) {
      const size_t size = g / 256 + recfmt::kMinRecord, len = size - 8, stride = (size + 7) & ~size_t{7};
      const size_t count = group_count_[g];
      unsigned char* rec0 = rows.data() + group_row_[g] + 8;
      uint8_t layout = recfmt::kLayoutColumns;
      group_slot_[g] = nullptr;
      if (version_ >= 4 && !cc.u8(layout)) {
        c.p = cc.p;
        bad("record data cut short");
      }
      if (layout == recfmt::kLayoutRows) {
        uint16_t* slots = share_rows ? slots_.data() + slots_used : nullptr;
        if (const char* e = decode_row_dict(cc, count, len, rec0, stride, static_cast<uint8_t>(g % 256), mistyped,
                                            slots)) {
          c.p = cc.p;
          bad(e);
        }
        group_slot_[g] = slots;
        if (slots) slots_used += count;
        continue;
      }
      if (layout != recfmt::kLayoutColumns) {
        c.p = cc.p;
        bad("unknown record group layout");
      }
      if (const char* e = decode_word_columns(cc, count, len / 4, rec0, stride, static_cast<uint8_t>(g % 256),
                                              mistyped)) {
        c.p = cc.p;
        bad(e);
      }
      for (size_t b = len / 4 * 4; b < len; b++) {
        const unsigned char* q;
        if (!cc.bytes(count, q)) {
          c.p = cc.p;
          bad("record data cut short");
        }
        for (size_t k = 0; k < count; k++) rec0[k * stride + b] = q[k];
      }
    }
    if (!cc.done()) {
      c.p = cc.p;
      bad("bytes after the record data");
    }
  }
  DecodedItems b;
  b.items = items_.data();
  b.n = n;
  b.group_slot = group_slot_.data();
  b.group_row = group_row_.data();
  b.rows = rows.data();
  if (mistyped) {
    // The first record whose type byte differs from its item's, for the message.
    for (uint32_t i = 0; i < n; i++) {
      const Item& it = items_[i];
      if (it.tag < recfmt::kMinRecord || b.record_at(it)[recfmt::kTypeOffset] == it.group % 256) continue;
      c.p = base + 4;
      if (version_ >= 5) {  // the item's tag
        c.p += i + 1;
        bad("record type differs from its item");
      }
      for (uint32_t k = 0; k <= i; k++) {  // the item's end
        uint8_t tag = 0, type = 0;
        uint64_t v;
        c.u8(tag);
        if (tag >= recfmt::kMinRecord) c.u8(type);
        c.varint(v);
      }
      bad("record type differs from its item");
    }
  }
  // Pass 2: the stream in order.
  DeliveryTally t;
  t.last_ts = s.last_ts;
  sink.deliver(b, t);
  s.last_ts = t.last_ts;
  s.records += t.records;
  s.items += t.records + t.rejected;
  s.watermarks += t.watermarks;
}

void RecordSink::deliver(const DecodedItems& b, DeliveryTally& t) { deliver_items(b, *this, t); }

StatsSnapshot RecordingReader::decode_stats(const std::string& payload, bool final) const {
  const auto* base = reinterpret_cast<const unsigned char*>(payload.data());
  Cursor c{base, base + payload.size()};
  const std::string where = "block " + std::to_string(seq_) + " (statistics): ";
  auto need = [&](bool ok, const char* what) {
    if (!ok) corrupt(where + what);
  };
  StatsSnapshot s;
  s.final = final;
  uint64_t cpus = 0, max_irq = 0, v[6] = {};
  need(c.varint(s.at_ns) && c.varint(cpus) && c.varint(max_irq), "cut short");
  need(cpus >= 1 && cpus <= recfmt::kMaxCpus, "bad CPU count");
  need(static_cast<int>(cpus) == header_.cpus, "CPU count differs from the header");
  need(max_irq <= recfmt::kMaxIrq, "IRQ count out of range");
  s.nr_cpus = static_cast<int>(cpus);
  s.max_irq = static_cast<uint32_t>(max_irq);
  const uint64_t slots = IRQLAT_NR_SLOTS(s.max_irq);
  need(slots * cpus <= recfmt::kMaxStatCells, "too many statistics cells");
  for (uint64_t& x : v) need(c.varint(x), "cut short");
  s.counters.records = v[0];
  s.counters.drops = v[1];
  s.counters.irq_unmatched = v[2];
  s.counters.irq_overflow = v[3];
  s.missed = v[4];
  s.received = v[5];
  uint64_t n = 0;
  need(c.varint(n), "cut short");
  need(n <= slots * cpus, "more entries than cells");
  // Each entry takes at least 10 bytes: no count can reserve more than the block holds.
  need(n <= payload.size() / 10, "more entries than the block holds");
  s.entries.reserve(n);
  for (uint64_t i = 0; i < n; i++) {
    StatEntry e;
    uint64_t slot = 0, cpu = 0, len = 0, nb = 0;
    need(c.varint(slot) && c.varint(cpu), "cut short");
    need(slot < slots && cpu < cpus, "entry out of range");
    e.slot = static_cast<uint32_t>(slot);
    e.cpu = static_cast<uint32_t>(cpu);
    if (!s.entries.empty()) {
      const StatEntry& last = s.entries.back();
      need(std::tie(last.slot, last.cpu) < std::tie(e.slot, e.cpu), "entries out of order");
    }
    need(c.varint(e.count) && c.varint(e.total_ns) && c.varint(e.max_ns) && c.varint(e.raise_count) &&
             c.varint(e.raise_wait_ns) && c.varint(e.raise_wait_max),
         "cut short");
    const unsigned char* p;
    need(c.varint(len) && len < IRQLAT_IRQ_NAME_LEN, "bad name length");
    need(c.bytes(static_cast<size_t>(len), p), "cut short");
    e.name.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
    need(e.name.find('\0') == std::string::npos, "NUL inside a name");
    need(c.varint(nb) && nb <= IRQLAT_HIST_BUCKETS, "bad bucket count");
    e.buckets.reserve(static_cast<size_t>(nb));
    uint64_t next = 0;
    for (uint64_t k = 0; k < nb; k++) {
      uint64_t gap = 0, count = 0;
      need(c.varint(gap) && c.varint(count), "cut short");
      need(gap < IRQLAT_HIST_BUCKETS && next + gap < IRQLAT_HIST_BUCKETS, "bucket out of range");
      need(count > 0 && count <= UINT32_MAX, "bad bucket value");
      const uint64_t b = next + gap;
      e.buckets.emplace_back(static_cast<uint16_t>(b), static_cast<uint32_t>(count));
      next = b + 1;
    }
    s.entries.push_back(std::move(e));
  }
  need(c.done(), "bytes after the last entry");
  return s;
}

RecordingSummary RecordingReader::read(RecordSink& sink) {
  RecordingSummary s;
  std::string payload;
  payload.reserve(1u << 20);
  uint8_t kind = 0;
  bool final_seen = false;
  uint32_t event_blocks = 0;
  for (;;) {
    const Got g = next_block(kind, payload);
    if (g != Got::Block) {
      s.blocks = seq_;
      s.warning = "'" + name_ + "': truncated after block " + std::to_string(seq_) +
                  (s.stats ? " (tables cover the complete part)"
                           : " (tables cover the complete part; no interrupt statistics in it)");
      return s;
    }
    if (final_seen && kind != recfmt::kEnd)
      corrupt("block " + std::to_string(seq_) + ": data after the final statistics");
    switch (kind) {
      case recfmt::kHeader:
        corrupt("block " + std::to_string(seq_) + ": a second header");
      case recfmt::kEvents:
        event_blocks++;
        decode_events(payload, sink, s);
        sink.end_block();
        break;
      case recfmt::kStats:
      case recfmt::kFinalStats:
        s.stats = decode_stats(payload, kind == recfmt::kFinalStats);
        final_seen = kind == recfmt::kFinalStats;
        break;
      case recfmt::kEnd: {
        if (!final_seen) corrupt("block " + std::to_string(seq_) + ": trailer without final statistics");
        const auto* base = reinterpret_cast<const unsigned char*>(payload.data());
        Cursor c{base, base + payload.size()};
        uint64_t items = 0, blocks = 0, total = 0;
        if (!c.varint(items) || !c.varint(blocks) || !c.varint(total) || !c.done())
          corrupt("block " + std::to_string(seq_) + ": bad trailer");
        if (items != s.items || blocks != event_blocks || total != seq_)
          corrupt("trailer counts " + std::to_string(items) + " events in " + std::to_string(blocks) +
                  " blocks, the file holds " + std::to_string(s.items) + " in " +
                  std::to_string(event_blocks));
        if (src_->remaining() != 0 && !rest_is_zero()) corrupt("data after the trailer");
        s.blocks = seq_;
        s.complete = true;
        return s;
      }
    }
  }
}

}  // namespace irqlat
