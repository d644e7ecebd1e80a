// A per-block work array that is always written before it is read (the
// recording reader's decoded items and rows). Unlike std::vector::resize it
// neither zero-fills nor copies when it grows: its pages fault in as the
// decoder first writes them, and a slightly larger block does not copy the
// last one's megabyte into a fresh mapping (on the test VM each page fault
// costs microseconds, and these two steps were a fifth of `report`'s faults).
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

namespace irqlat {

template <class T>
class ScratchArray {
  static_assert(std::is_trivially_default_constructible_v<T> && std::is_trivially_destructible_v<T>,
                "elements are left unset until written");

 public:
  ScratchArray() = default;
  // A moved-from array is empty (capacity 0), not a null buffer that
  // claims room.
  ScratchArray(ScratchArray&& o) noexcept : buf_(std::move(o.buf_)), cap_(std::exchange(o.cap_, 0)) {}
  ScratchArray& operator=(ScratchArray&& o) noexcept {
    buf_ = std::move(o.buf_);
    cap_ = std::exchange(o.cap_, 0);
    return *this;
  }

  // Room for at least n elements; what the array held is dropped when it
  // has to grow (with 1/8 headroom, so small growths do not repeat it).
  T* ensure(size_t n) {
    if (n > cap_) {
      const size_t cap = n + n / 8;
      buf_.reset(new T[cap]);  // default-initialized: left unset
      cap_ = cap;
    }
    return buf_.get();
  }
  T* data() { return buf_.get(); }
  T& operator[](size_t i) { return buf_[i]; }
  size_t capacity() const { return cap_; }

 private:
  std::unique_ptr<T[]> buf_;  // operator new[]: 16-byte aligned
  size_t cap_ = 0;
};

}  // namespace irqlat
