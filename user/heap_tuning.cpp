// See heap_tuning.h.
#include "user/heap_tuning.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

namespace irqlat {

namespace {

constexpr uintptr_t kHugePage = 2u << 20;
// The heap grows in steps of at least this much past a request. The one
// madvise covers the first step: 64 MiB, more than the synthetic 5M-event
// report's whole heap (~24 MB).
constexpr int kTopPad = 64 << 20;
// Larger blocks than this are mmap'd outside the madvised heap, and glibc
// unmaps them on free (a fresh fault per page on the next use). 32 MiB is
// the most glibc accepts (HEAP_MAX_SIZE / 2 on 64-bit).
constexpr int kMmapThreshold = 32 << 20;
constexpr int kTrimThreshold = 256 << 20;
// glibc's default starting threshold, fixed (any mallopt of it turns the
// dynamic adjustment off).
constexpr int kLiveMmapThreshold = 128 << 10;

}  // namespace

void tune_heap_for_batch() {
#if defined(__SANITIZE_ADDRESS__)
  return;  // ASan's allocator does not use the brk heap
#else
  // Each mallopt also freezes glibc's dynamic mmap threshold: if the first
  // is refused, leave the defaults alone rather than pin it at 128 KiB.
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) != 1) return;
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  mallopt(M_TOP_PAD, kTopPad);
  // A block larger than the free top of the heap makes malloc extend the
  // brk by the pad now; freed, it stays (the trim threshold is above it).
  void* probe = malloc(1 << 20);
  if (probe == nullptr) return;
  const auto lo = reinterpret_cast<uintptr_t>(probe);
  const auto hi = reinterpret_cast<uintptr_t>(sbrk(0));
  free(probe);
  if (hi <= lo || hi - lo > 2 * static_cast<uintptr_t>(kTopPad)) return;  // not from the brk heap
  const uintptr_t start = (lo + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = hi & ~(kHugePage - 1);
  if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);
#endif
}

void tune_heap_for_live() {
#if !defined(__SANITIZE_ADDRESS__)
  mallopt(M_MMAP_THRESHOLD, kLiveMmapThreshold);
#endif
}

}  // namespace irqlat
