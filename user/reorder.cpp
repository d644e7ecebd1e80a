#include "reorder.h"

namespace irqlat {

Reorderer::Reorderer(size_t reserve) {
  pool_.reserve(reserve);
  heap_.reserve(reserve);
}

bool Reorderer::push(const void* data, size_t size) {
  if (data == nullptr || size < sizeof(struct ev_hdr) || size > kSlotSize) {
    rejected_++;
    return false;
  }
  const uint32_t slot = pool_.put(data, size);

  struct ev_hdr h;
  std::memcpy(&h, data, sizeof(h));
  if (released_any_ && h.ts < last_released_) late_++;  // its place has gone out
  heap_.push_back({h.ts, seq_++, slot, static_cast<uint32_t>(size)});
  std::push_heap(heap_.begin(), heap_.end(), later);
  return true;
}

}  // namespace irqlat
