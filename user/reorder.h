// Puts ring-buffer records back in timestamp order. Records from different
// CPUs reach user space out of order; the consumer pushes every record and
// releases those older than a watermark (a time no CPU can still produce
// records before), so the collector sees one time-ordered stream.
//
// Hot path (millions of records/s): records are copied into fixed 64-byte
// slots that are recycled, ordered by a binary heap of small keys; nothing is
// allocated per record once the buffers have grown to the working set.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <vector>

#include "bpf/irqlat.h"

namespace irqlat {

// Copies of records in fixed-size slots, recycled through a free list.
// A slot keeps its address while the pool grows.
class RecordPool {
 public:
  static constexpr size_t kSlotSize = IRQLAT_MAX_RECORD;

  void reserve(size_t n) { free_.reserve(n); }
  // Copies size (<= kSlotSize) bytes into a free slot; returns its index.
  uint32_t put(const void* data, size_t size) {
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    std::memcpy(slots_[slot].bytes, data, size);
    return slot;
  }
  unsigned char* at(uint32_t slot) { return slots_[slot].bytes; }
  void release(uint32_t slot) { free_.push_back(slot); }

 private:
  struct alignas(8) Slot {
    unsigned char bytes[kSlotSize];
  };
  std::deque<Slot> slots_;
  std::vector<uint32_t> free_;  // recycled slot indices
};

class Reorderer {
 public:
  static constexpr size_t kSlotSize = RecordPool::kSlotSize;

  // Records are fixed-size per type; anything else is rejected (counted).
  static_assert(sizeof(struct ev_hdr) <= kSlotSize);

  explicit Reorderer(size_t reserve = 4096);

  // Copies the record. Rejects (returns false, counts rejected()) records
  // shorter than struct ev_hdr or longer than IRQLAT_MAX_RECORD. A record
  // older than the last released one is kept, counted in late(), and goes out
  // with the next release (before anything newer).
  bool push(const void* data, size_t size);

  // Delivers every record with ts <= watermark, oldest first; equal
  // timestamps in arrival order. Late records (older than the last released)
  // go out whatever the watermark. sink(const void* data, size_t size) gets
  // a private copy, so it may push() into this Reorderer. Returns how many.
  template <class Sink>
  size_t release_until(uint64_t watermark, Sink&& sink) {
    const uint64_t limit = std::max(watermark, last_released_);
    size_t n = 0;
    while (!heap_.empty() && heap_.front().ts <= limit) {
      deliver_front(sink);
      n++;
    }
    return n;
  }

  // Delivers everything (end of trace).
  template <class Sink>
  size_t flush(Sink&& sink) {
    return release_until(UINT64_MAX, sink);
  }

  size_t pending() const { return heap_.size(); }
  // ts of the oldest pending record (UINT64_MAX when empty).
  uint64_t oldest_pending() const { return heap_.empty() ? UINT64_MAX : heap_.front().ts; }
  uint64_t last_released() const { return last_released_; }
  uint64_t late() const { return late_; }
  uint64_t rejected() const { return rejected_; }

 private:
  struct Entry {
    uint64_t ts;
    uint64_t seq;  // arrival order: stable ties
    uint32_t slot;
    uint32_t size;
  };
  // std::*_heap keep the largest on top; invert for a min-heap.
  static bool later(const Entry& a, const Entry& b) {
    return a.ts != b.ts ? a.ts > b.ts : a.seq > b.seq;
  }

  template <class Sink>
  void deliver_front(Sink& sink) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const Entry e = heap_.back();
    heap_.pop_back();
    alignas(8) unsigned char copy[kSlotSize];
    std::memcpy(copy, pool_.at(e.slot), e.size);
    pool_.release(e.slot);
    last_released_ = std::max(last_released_, e.ts);
    released_any_ = true;
    sink(static_cast<const void*>(copy), static_cast<size_t>(e.size));
  }

  RecordPool pool_;
  std::vector<Entry> heap_;
  uint64_t seq_ = 0;
  uint64_t last_released_ = 0;
  bool released_any_ = false;
  uint64_t late_ = 0;
  uint64_t rejected_ = 0;
};

}  // namespace irqlat
