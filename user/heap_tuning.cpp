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
// The heap grows in steps of at least this much past a request: one
// madvise covers what a report of millions of events needs.
constexpr int kTopPad = 64 << 20;
// Larger blocks than this would be mmap'd outside the madvised heap, and
// glibc would unmap them on free (a fresh fault per page on the next use).
constexpr int kMmapThreshold = 256 << 20;

}  // namespace

void tune_heap_for_batch() {
#if defined(__SANITIZE_ADDRESS__)
  return;  // ASan's allocator does not use the brk heap
#else
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kMmapThreshold);
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

}  // namespace irqlat
