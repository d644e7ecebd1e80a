// Log-linear latency histogram, bucketed exactly like the kernel side
// (irqlat_hist_bucket in bpf/irqlat.h) so kernel-aggregated arrays and
// user-space samples mix freely. Values < 64 are exact; above, a bucket's
// midpoint is within 0.8% of every value in it.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "bpf/irqlat.h"

namespace irqlat {

// irqlat_hist_bucket() with one count-leading-zeros instead of the BPF
// side's shift ladder (same buckets: tests/unit/histogram_test.cpp).
inline unsigned hist_bucket(uint64_t v) {
  if (v < IRQLAT_HIST_SUB) return static_cast<unsigned>(v);
  const unsigned e = 63u - static_cast<unsigned>(__builtin_clzll(v));
  if (e > IRQLAT_HIST_MAX_EXP - 1) return IRQLAT_HIST_BUCKETS - 1;
  return (e - IRQLAT_HIST_SUB_BITS + 1) * IRQLAT_HIST_SUB +
         static_cast<unsigned>((v >> (e - IRQLAT_HIST_SUB_BITS)) & (IRQLAT_HIST_SUB - 1));
}

class Histogram {
 public:
  void add(uint64_t v, uint64_t n = 1) {
    if (n == 0) return;
    add_bucket(hist_bucket(v), n);
    min_ = count_ ? std::min(min_, v) : v;
    max_ = count_ ? std::max(max_, v) : v;
    count_ += n;
    sum_ += v * n;
  }
  void merge(const Histogram& other);
  void clear();

  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  bool empty() const { return count_ == 0; }
  // Smallest / largest value seen (0 when empty). After from_buckets, min()
  // is the lower bound of the first non-empty bucket.
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }

  // Nearest-rank percentile, p in [0, 100] (clamped): the midpoint of the
  // bucket holding the ceil(p/100*count)-th smallest value, clamped to
  // [min(), max()]. p = 0 gives min(), p = 100 max(). 0 when empty.
  uint64_t percentile(double p) const;

  // How many values are <= v, at bucket resolution: a bucket counts when its
  // midpoint (the value percentile() reports for it) is <= v. For cumulative
  // buckets such as Prometheus `le` edges.
  uint64_t count_le(uint64_t v) const;

  // A histogram from a kernel bucket array (struct irq_stat.hist). Entries
  // past IRQLAT_HIST_BUCKETS are ignored. max_seen is the exact maximum the
  // kernel kept (used when consistent with the buckets), sum the exact total.
  static Histogram from_buckets(const uint32_t* buckets, size_t n, uint64_t max_seen, uint64_t sum);

 private:
  // Buckets in pages of one power of two (kPage buckets), allocated when
  // first touched: add() is O(1), and latency distributions touch a few
  // powers of two, where a dense array would cost 15 KB per thread.
  static constexpr unsigned kPage = 64;   // IRQLAT_HIST_SUB
  static constexpr unsigned kPages = 29;  // IRQLAT_HIST_BUCKETS / kPage
  void add_bucket(uint32_t index, uint64_t n) {
    uint8_t& page = page_[index / kPage];
    if (!page) new_page(page);
    counts_[(page - 1u) * kPage + index % kPage] += n;
  }
  void new_page(uint8_t& page);
  template <class F>
  void for_each_bucket(F&& f) const;  // f(index, count) for non-empty buckets, by index

  std::vector<uint64_t> counts_;         // kPage counters per allocated page
  std::array<uint8_t, kPages> page_{};  // 1 + page number in counts_, 0: not allocated
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = 0;
  uint64_t max_ = 0;
};

}  // namespace irqlat
