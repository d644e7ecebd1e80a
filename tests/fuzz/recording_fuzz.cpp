// libFuzzer entry: the recording reader and everything `irqlat report` does
// with what it reads (replay through the collector, build_report, all three
// output formats) on arbitrary bytes. A bad input may only end in a
// UsageError; any crash, sanitizer report, leak, timeout or huge allocation
// is a bug.
//
//   make fuzz [FUZZ_SECONDS=60]     (seed corpus: tests/fuzz/corpus)
//
// Two input modes, so mutations reach the decoders behind the CRC and zlib:
//   raw         the input is the file itself (magic, blocks, CRCs: all fuzzed)
//   structured  the input starts with 'S' and is a list of chunks
//               [u8 kind|0x80 for zstd][u16 le length][payload...]; the harness compresses
//               each payload into a block with a correct sequence number and
//               CRC (and puts a fixed header first unless chunk 1 is one).
//               tests/fuzz/make_seeds.py turns recordings into such seeds.
#include <zlib.h>
#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>

#include "user/format.h"
#include "user/parse.h"
#include "user/recording.h"
#include "user/replay.h"

using namespace irqlat;

namespace {

// `zstd`: a version-3 zstd block (codec byte 1), else zlib (codec 0).
std::string block(uint8_t kind, uint32_t seq, const uint8_t* p, size_t n, bool zstd = false) {
  const uint8_t* src = n ? p : reinterpret_cast<const uint8_t*>("");
  size_t clen = zstd ? ZSTD_compressBound(n) : compressBound(n);
  std::string out(24 + clen, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (zstd) {
    clen = ZSTD_compress(o + 24, clen, src, n, 1);
  } else {
    uLongf zlen = clen;
    compress2(o + 24, &zlen, src, n, 1);
    clen = zlen;
  }
  out.resize(24 + clen);
  o = reinterpret_cast<unsigned char*>(out.data());
  auto put = [](unsigned char* d, uint32_t v) { std::memcpy(d, &v, 4); };
  put(o, recfmt::kBlockSync);
  o[4] = kind;
  o[5] = zstd ? recfmt::kCodecZstd : recfmt::kCodecZlib;
  put(o + 8, seq);
  put(o + 12, static_cast<uint32_t>(n));
  put(o + 16, static_cast<uint32_t>(clen));
  uLong crc = crc32(0, o, 20);
  crc = crc32(crc, o + 24, static_cast<uInt>(clen));
  put(o + 20, static_cast<uint32_t>(crc));
  return out;
}

std::string structured(const uint8_t* data, size_t size) {
  std::string file(recfmt::kMagic, sizeof(recfmt::kMagic));
  uint32_t seq = 0;
  size_t i = 1;
  bool first = true;
  while (i + 3 <= size) {
    const uint8_t kind = data[i] & 0x7f;
    const bool zstd = data[i] & 0x80;  // the high bit picks the codec
    size_t len = data[i + 1] | static_cast<size_t>(data[i + 2]) << 8;
    i += 3;
    len = std::min(len, size - i);
    if (first && kind != recfmt::kHeader) {
      RecordingHeader h;
      h.kernel = "fuzz";
      h.cpus = 2;
      h.windows_enabled = true;
      h.cancel_spec = "usdt:irqlat:cancel";
      h.done_spec = "usdt:irqlat:done";
      h.window_timeout_ns = 1'000'000;
      h.signal_mask = 1u << 15;
      h.threads = {{100, 100, "app"}, {101, 100, "w"}};
      h.irq_names = {{24, "dev"}};
      const std::string j = recfmt::header_json(h);
      file += block(recfmt::kHeader, ++seq, reinterpret_cast<const uint8_t*>(j.data()), j.size());
    }
    first = false;
    file += block(kind, ++seq, data + i, len, zstd);
    i += len;
  }
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string built;
  const void* p = data;
  size_t n = size;
  if (size > 0 && data[0] == 'S') {
    built = structured(data, size);
    p = built.data();
    n = built.size();
  }
  try {
    RecordingReader reader(memory_source(p, n), "fuzz.rec");
    ReplayOptions opts;
    // Some inputs re-interpret the windows too (a different code path).
    if (size % 3 == 1) {
      opts.override_windows = true;
      opts.cancel = parse_window_spec("usdt:irqlat:done", false);
      opts.done = parse_window_spec("exit", true);
    }
    ReplayResult res = replay_recording(reader, opts);
    std::ostringstream out;
    write_json(out, res.report);
    TableOptions t;
    write_table(out, res.report, t);
    write_csv(out, res.report);
  } catch (const UsageError&) {
  }
  return 0;
}
