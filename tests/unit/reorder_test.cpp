#include "reorder.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <vector>

#include "records.h"

using irqlat::Reorderer;
using irqlat::test::Rec;

namespace {

// A record identified by (ts, tag): the tid field carries the tag.
Rec tagged(uint64_t ts, int tag, size_t size = sizeof(struct ev_hdr)) {
  Rec r;
  struct ev_hdr h = irqlat::test::hdr(ts, 0, tag, EV_MARK);
  std::memcpy(r.bytes.data(), &h, sizeof(h));
  r.size = size;
  return r;
}

struct Got {
  uint64_t ts;
  int tag;
  size_t size;
};

struct Collect {
  std::vector<Got>* out;
  void operator()(const void* data, size_t size) const {
    struct ev_hdr h;
    std::memcpy(&h, data, sizeof(h));
    out->push_back({h.ts, static_cast<int>(h.tid), size});
  }
};

}  // namespace

TEST_CASE("reorder: releases up to the watermark in ts order, ties in arrival order") {
  Reorderer r;
  std::vector<Got> got;
  for (auto [ts, tag] : std::vector<std::pair<uint64_t, int>>{{30, 1}, {10, 2}, {20, 3}, {10, 4}, {40, 5}})
    REQUIRE(r.push(tagged(ts, tag).bytes.data(), sizeof(struct ev_hdr)));
  CHECK(r.pending() == 5);
  CHECK(r.oldest_pending() == 10);

  CHECK(r.release_until(20, Collect{&got}) == 3);
  REQUIRE(got.size() == 3);
  CHECK(got[0].ts == 10);
  CHECK(got[0].tag == 2);  // first of the two ts=10 records to arrive
  CHECK(got[1].ts == 10);
  CHECK(got[1].tag == 4);
  CHECK(got[2].ts == 20);
  CHECK(r.pending() == 2);
  CHECK(r.last_released() == 20);

  CHECK(r.release_until(25, Collect{&got}) == 0);
  CHECK(r.flush(Collect{&got}) == 2);
  REQUIRE(got.size() == 5);
  CHECK(got[3].tag == 1);
  CHECK(got[4].tag == 5);
  CHECK(r.late() == 0);
  CHECK(r.pending() == 0);
}

TEST_CASE("reorder: a late record is counted and delivered on the next release") {
  Reorderer r;
  std::vector<Got> got;
  r.push(tagged(100, 1).bytes.data(), 24);
  r.release_until(100, Collect{&got});
  r.push(tagged(150, 4).bytes.data(), 24);
  r.push(tagged(50, 2).bytes.data(), 24);   // older than what went out
  r.push(tagged(100, 3).bytes.data(), 24);  // equal: not late
  r.push(tagged(40, 5).bytes.data(), 24);   // late too
  CHECK(r.late() == 2);
  // Even a release with a stale watermark lets the late records out, oldest
  // first, but nothing newer than what was already released.
  CHECK(r.release_until(0, Collect{&got}) == 3);
  REQUIRE(got.size() == 4);
  CHECK(got[1].tag == 5);
  CHECK(got[1].ts == 40);  // the record itself is not altered
  CHECK(got[2].tag == 2);
  CHECK(got[3].tag == 3);
  CHECK(r.pending() == 1);
  r.flush(Collect{&got});
  CHECK(got.back().tag == 4);
  CHECK(r.last_released() == 150);
}

TEST_CASE("reorder: rejects records that are too short or too long; keeps sizes") {
  Reorderer r;
  Rec rec = tagged(5, 1);
  CHECK_FALSE(r.push(rec.bytes.data(), sizeof(struct ev_hdr) - 1));
  CHECK_FALSE(r.push(nullptr, 32));
  unsigned char big[IRQLAT_MAX_RECORD + 8] = {};
  CHECK_FALSE(r.push(big, sizeof(big)));
  CHECK(r.rejected() == 3);
  CHECK(r.push(rec.bytes.data(), IRQLAT_MAX_RECORD));
  std::vector<Got> got;
  r.flush(Collect{&got});
  REQUIRE(got.size() == 1);
  CHECK(got[0].size == IRQLAT_MAX_RECORD);
}

TEST_CASE("reorder: the sink may push while records are released") {
  Reorderer r;
  r.push(tagged(10, 1).bytes.data(), 16);
  std::vector<int> tags;
  int pushed = 0;
  auto sink = [&](const void* data, size_t) {
    struct ev_hdr h;
    std::memcpy(&h, data, sizeof(h));
    tags.push_back(static_cast<int>(h.tid));
    // Enough pushes to force the slot storage to grow under the sink.
    if (pushed++ == 0)
      for (int i = 0; i < 5000; i++) r.push(tagged(1000 + i, 2).bytes.data(), 16);
  };
  r.release_until(10, sink);
  CHECK(tags.size() == 1);
  CHECK(r.pending() == 5000);
  r.flush(sink);
  CHECK(tags.size() == 5001);
}

TEST_CASE("reorder: random arrival comes out sorted and stable, slots are reused") {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> ts(0, 5000);
  Reorderer r(16);
  std::vector<Got> got;
  uint64_t watermark = 0;
  size_t pushed = 0;
  for (int round = 0; round < 50; round++) {
    // Each round: 2000 records no older than the watermark, then release half way.
    for (int i = 0; i < 2000; i++) {
      r.push(tagged(watermark + ts(rng), static_cast<int>(pushed)).bytes.data(), 32);
      pushed++;
    }
    watermark += 2500;
    r.release_until(watermark, Collect{&got});
  }
  r.flush(Collect{&got});
  REQUIRE(got.size() == pushed);
  CHECK(r.late() == 0);
  // Sorted by ts, and equal timestamps keep arrival (tag) order.
  CHECK(std::is_sorted(got.begin(), got.end(), [](const Got& a, const Got& b) {
    return a.ts != b.ts ? a.ts < b.ts : a.tag < b.tag;
  }));
}
