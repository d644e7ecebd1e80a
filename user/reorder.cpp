#include "reorder.h"

namespace irqlat {

Reorderer::Reorderer(size_t reserve) {
  slots_.reserve(reserve);
  free_.reserve(reserve);
  heap_.reserve(reserve);
}

bool Reorderer::push(const void* data, size_t size) {
  if (data == nullptr || size < sizeof(struct ev_hdr) || size > kSlotSize) {
    rejected_++;
    return false;
  }
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  std::memcpy(slots_[slot].bytes, data, size);

  struct ev_hdr h;
  std::memcpy(&h, data, sizeof(h));
  if (released_any_ && h.ts < last_released_) late_++;  // its place has gone out
  heap_.push_back({h.ts, seq_++, slot, static_cast<uint32_t>(size)});
  std::push_heap(heap_.begin(), heap_.end(), later);
  return true;
}

}  // namespace irqlat
