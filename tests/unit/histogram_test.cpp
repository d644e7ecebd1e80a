#include "histogram.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "bpf/irqlat.h"

using irqlat::Histogram;

namespace {

// Nearest-rank percentile of the exact values: the ceil(p/100*n)-th smallest.
uint64_t exact_percentile(std::vector<uint64_t> sorted, double p) {
  std::sort(sorted.begin(), sorted.end());
  const auto n = static_cast<double>(sorted.size());
  size_t rank = static_cast<size_t>(std::ceil(p * n / 100.0));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void check_accuracy(const std::vector<uint64_t>& values) {
  Histogram h;
  for (uint64_t v : values) h.add(v);
  std::vector<uint64_t> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  REQUIRE(h.count() == values.size());
  REQUIRE(h.min() == sorted.front());
  REQUIRE(h.max() == sorted.back());
  for (double p : {0.0, 0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const uint64_t exact = exact_percentile(sorted, p);
    const uint64_t got = h.percentile(p);
    const double err = std::abs(static_cast<double>(got) - static_cast<double>(exact));
    INFO("p" << p << " exact " << exact << " got " << got);
    CHECK(err <= 0.01 * static_cast<double>(exact));
  }
}

}  // namespace

TEST_CASE("histogram: values below 64 are exact") {
  Histogram h;
  for (uint64_t v = 1; v <= 63; v++) h.add(v);
  CHECK(h.count() == 63);
  CHECK(h.sum() == 63 * 64 / 2);
  CHECK(h.percentile(0) == 1);
  CHECK(h.percentile(50) == 32);   // rank ceil(31.5) = 32
  CHECK(h.percentile(90) == 57);   // rank ceil(56.7) = 57
  CHECK(h.percentile(100) == 63);
}

TEST_CASE("histogram: percentile is the bucket midpoint clamped to min/max") {
  Histogram h;
  h.add(1000, 3);  // bucket [1000, 1007]: log2 = 9, width 8, midpoint 1003
  h.add(1004);
  CHECK(h.percentile(50) == 1003);
  CHECK(h.percentile(100) == 1004);
  Histogram one;
  one.add(1000);  // midpoint 1003 clamped to max 1000
  CHECK(one.percentile(50) == 1000);
  CHECK(Histogram().percentile(50) == 0);
  CHECK(Histogram().max() == 0);
  CHECK(Histogram().min() == 0);
}

TEST_CASE("histogram: p99 of 1000 values is rank 990") {
  Histogram h;
  for (uint64_t v = 1; v <= 1000; v++) h.add(v < 990 ? 10 : 50 + (v - 990));  // 989 x 10, then 50..60
  // rank 990 is the value 50 (v = 990); rank 991 would be 51.
  CHECK(h.percentile(99) == 50);
}

TEST_CASE("histogram: within 1% of exact percentiles on random data") {
  std::mt19937_64 rng(12345);
  const size_t n = 200000;
  std::vector<uint64_t> v(n);

  SECTION("uniform 1 ns .. 10 s") {
    std::uniform_int_distribution<uint64_t> d(1, 10'000'000'000ULL);
    for (auto& x : v) x = d(rng);
    check_accuracy(v);
  }
  SECTION("log-uniform 1 ns .. 10 s") {
    std::uniform_real_distribution<double> d(0, std::log(1e10));
    for (auto& x : v) x = std::max<uint64_t>(1, static_cast<uint64_t>(std::exp(d(rng))));
    check_accuracy(v);
  }
  SECTION("exponential, mean 50 us") {
    std::exponential_distribution<double> d(1.0 / 50000);
    for (auto& x : v) x = static_cast<uint64_t>(d(rng)) + 1;
    check_accuracy(v);
  }
  SECTION("bimodal: 3 us and 20 ms") {
    std::normal_distribution<double> fast(3000, 300), slow(20e6, 2e6);
    std::bernoulli_distribution pick_slow(0.05);
    for (auto& x : v) x = static_cast<uint64_t>(std::max(1.0, pick_slow(rng) ? slow(rng) : fast(rng)));
    check_accuracy(v);
  }
  SECTION("small integers 1..100") {
    std::uniform_int_distribution<uint64_t> d(1, 100);
    for (auto& x : v) x = d(rng);
    check_accuracy(v);
  }
}

TEST_CASE("histogram: merge equals adding everything to one") {
  Histogram a, b, all;
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<uint64_t> d(1, 1'000'000);
  for (int i = 0; i < 1000; i++) {
    const uint64_t x = d(rng), y = d(rng) * 10;
    a.add(x);
    b.add(y);
    all.add(x);
    all.add(y);
  }
  a.merge(b);
  CHECK(a.count() == 2000);
  CHECK(a.sum() == all.sum());
  CHECK(a.min() == all.min());
  CHECK(a.max() == all.max());
  for (double p : {1.0, 50.0, 90.0, 99.0}) CHECK(a.percentile(p) == all.percentile(p));

  Histogram empty;
  empty.merge(a);
  CHECK(empty.count() == 2000);
  CHECK(empty.min() == all.min());
}

TEST_CASE("histogram: from kernel bucket arrays") {
  std::vector<uint32_t> buckets(IRQLAT_HIST_BUCKETS, 0);
  buckets[irqlat_hist_bucket(10)] = 3;    // three 10 ns
  buckets[irqlat_hist_bucket(5000)] = 1;  // one 5000 ns: bucket [4992, 5055]
  Histogram h = Histogram::from_buckets(buckets.data(), buckets.size(), 5000, 3 * 10 + 5000);
  CHECK(h.count() == 4);
  CHECK(h.sum() == 5030);
  CHECK(h.min() == 10);
  CHECK(h.max() == 5000);
  CHECK(h.percentile(50) == 10);
  CHECK(h.percentile(75) == 10);
  CHECK(h.percentile(99) == 5000);  // midpoint 5023 clamped to max_seen

  // A max_seen outside the last bucket is not trusted: upper bound instead.
  Histogram bad = Histogram::from_buckets(buckets.data(), buckets.size(), 7, 0);
  CHECK(bad.max() == 5055);

  // Same percentiles as adding the values one by one.
  std::mt19937_64 rng(99);
  std::exponential_distribution<double> d(1.0 / 2e6);
  std::vector<uint32_t> kb(IRQLAT_HIST_BUCKETS, 0);
  Histogram direct;
  uint64_t max = 0, sum = 0;
  for (int i = 0; i < 50000; i++) {
    const auto v = static_cast<uint64_t>(d(rng)) + 1;
    kb[irqlat_hist_bucket(v)]++;
    direct.add(v);
    max = std::max(max, v);
    sum += v;
  }
  Histogram k = Histogram::from_buckets(kb.data(), kb.size(), max, sum);
  CHECK(k.count() == direct.count());
  CHECK(k.sum() == direct.sum());
  for (double p : {50.0, 90.0, 99.0, 100.0}) CHECK(k.percentile(p) == direct.percentile(p));

  CHECK(Histogram::from_buckets(buckets.data(), 0, 0, 0).count() == 0);
}

TEST_CASE("irqlat_log2 (branch-free, for BPF) is floor(log2)", "[histogram]") {
  for (uint64_t v = 1; v < 70000; v++) REQUIRE(irqlat_log2(v) == 63u - static_cast<unsigned>(__builtin_clzll(v)));
  for (int b = 0; b < 64; b++) {
    const uint64_t lo = 1ULL << b, hi = lo + (lo - 1);  // [2^b, 2^(b+1))
    for (uint64_t v : {lo, lo + (lo > 1), lo + std::min<uint64_t>(12345, lo - 1), hi})
      REQUIRE(irqlat_log2(v) == static_cast<unsigned>(b));
  }
  REQUIRE(irqlat_log2(UINT64_MAX) == 63u);
  uint64_t x = 88172645463325252ULL;  // xorshift: values of every magnitude
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const uint64_t v = x >> (x % 64);
    if (v) REQUIRE(irqlat_log2(v) == 63u - static_cast<unsigned>(__builtin_clzll(v)));
  }
}

TEST_CASE("hist_bucket is irqlat_hist_bucket", "[histogram]") {
  for (uint64_t v = 0; v < 100000; v++) REQUIRE(irqlat::hist_bucket(v) == irqlat_hist_bucket(v));
  for (int b = 0; b < 64; b++)
    for (uint64_t d : {0ULL, 1ULL, 2ULL, 3ULL, 12345ULL}) {
      const uint64_t v = (1ULL << b) - d, w = (1ULL << b) + d;
      REQUIRE(irqlat::hist_bucket(v) == irqlat_hist_bucket(v));
      REQUIRE(irqlat::hist_bucket(w) == irqlat_hist_bucket(w));
    }
  REQUIRE(irqlat::hist_bucket(UINT64_MAX) == irqlat_hist_bucket(UINT64_MAX));
}
