// decompress_only: the baseline of bench section 3. Reads an irqlat
// recording the way `irqlat report` does (block by block with fread into
// reused buffers) and only decompresses each payload (zlib or zstd, by the
// block's codec byte, docs/recording-format.md), with the same libraries
// `report` uses. Prints one JSON line: {"blocks": N, "raw_bytes": B,
// "seconds": S} (S: reading the file, from the page cache in the bench, and
// decompressing it, as `report` does both; process start-up excluded).
//
//   decompress_only FILE
#include <libdeflate.h>
#include <zstd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

uint32_t u32_at(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: decompress_only FILE\n");
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::FILE* f = std::fopen(argv[1], "rb");
  unsigned char magic[8];
  if (!f || std::fread(magic, 1, sizeof(magic), f) != sizeof(magic)) {
    std::fprintf(stderr, "decompress_only: cannot read '%s'\n", argv[1]);
    return 1;
  }
  libdeflate_decompressor* inflater = libdeflate_alloc_decompressor();
  ZSTD_DCtx* zstd = ZSTD_createDCtx();
  if (!inflater || !zstd) {
    std::fprintf(stderr, "decompress_only: out of memory\n");
    return 1;
  }
  // Buffers grow to the largest block and are reused, as report's are.
  std::vector<unsigned char> comp, out;
  uint64_t raw = 0, blocks = 0;
  unsigned char h[24];
  while (std::fread(h, 1, sizeof(h), f) == sizeof(h) && u32_at(h) == 0x42515249) {  // "IRQB"
    const uint32_t ulen = u32_at(h + 12), clen = u32_at(h + 16);
    if (comp.size() < clen) comp.resize(clen);
    if (out.size() < ulen + 1) out.resize(ulen + 1);
    if (std::fread(comp.data(), 1, clen, f) != clen) break;
    size_t got = 0;
    if (h[5] == 1) {
      got = ZSTD_decompressDCtx(zstd, out.data(), ulen, comp.data(), clen);
      if (ZSTD_isError(got)) got = SIZE_MAX;
    } else if (libdeflate_zlib_decompress(inflater, comp.data(), clen, out.data(), ulen, &got) !=
               LIBDEFLATE_SUCCESS) {
      got = SIZE_MAX;
    }
    if (got != ulen) {
      std::fprintf(stderr, "decompress_only: block %llu does not decompress\n",
                   static_cast<unsigned long long>(blocks + 1));
      return 1;
    }
    raw += ulen;
    blocks++;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"blocks\": %llu, \"raw_bytes\": %llu, \"seconds\": %.6f}\n", static_cast<unsigned long long>(blocks),
              static_cast<unsigned long long>(raw), s);
  std::fclose(f);
  libdeflate_free_decompressor(inflater);
  ZSTD_freeDCtx(zstd);
  return 0;
}
