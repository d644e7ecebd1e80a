// ScratchArray (user/scratch_array.h): the reader's per-block arrays.
#include "user/scratch_array.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <utility>

using irqlat::ScratchArray;

TEST_CASE("scratch array: grows with headroom, and keeps its buffer while it fits") {
  ScratchArray<uint32_t> a;
  CHECK(a.capacity() == 0);
  uint32_t* p = a.ensure(1000);
  REQUIRE(p != nullptr);
  CHECK(a.capacity() == 1125);  // 1/8 headroom
  for (uint32_t i = 0; i < 1000; i++) p[i] = i * 3;
  // Within capacity: the same buffer, its contents as written.
  CHECK(a.ensure(1125) == p);
  CHECK(a.ensure(10) == p);
  CHECK(a[999] == 2997);
  // Past it: a new buffer of the new size plus headroom (the old contents
  // are not carried over, and nothing reads them).
  uint32_t* q = a.ensure(1126);
  REQUIRE(q != nullptr);
  CHECK(a.capacity() == 1126 + 1126 / 8);
  CHECK(a.data() == q);
  std::memset(q, 0xab, a.capacity() * sizeof(uint32_t));  // all of it is writable (ASan)
  CHECK(a[a.capacity() - 1] == 0xababababu);
  // 16-byte alignment, as the rows' 8-byte slots and wide loads assume.
  CHECK(reinterpret_cast<uintptr_t>(q) % 16 == 0);
}

TEST_CASE("scratch array: a moved-from array is empty and grows again") {
  ScratchArray<uint64_t> a;
  uint64_t* p = a.ensure(64);
  ScratchArray<uint64_t> b(std::move(a));
  CHECK(b.data() == p);
  CHECK(b.capacity() == 72);
  CHECK(a.capacity() == 0);  // what a move leaves behind is the point
  uint64_t* q = a.ensure(8);
  REQUIRE(q != nullptr);
  q[7] = 1;
  ScratchArray<uint64_t> c;
  c = std::move(b);
  CHECK(c.data() == p);
  CHECK(b.capacity() == 0);
  CHECK(b.ensure(1) != nullptr);
}
