#include "histogram.h"

#include <algorithm>
#include <cmath>

#include "bpf/irqlat.h"

namespace irqlat {

static_assert(IRQLAT_HIST_SUB == 64 && IRQLAT_HIST_BUCKETS == 29 * 64, "Histogram pages");

namespace {

// Largest value that falls in bucket b (the last bucket is open-ended).
uint64_t bucket_upper(unsigned int b) { return irqlat_hist_lower(b) + irqlat_hist_width(b) - 1; }

}  // namespace

void Histogram::new_page(uint8_t& page) {
  counts_.resize(counts_.size() + kPage);
  page = static_cast<uint8_t>(counts_.size() / kPage);
}

template <class F>
void Histogram::for_each_bucket(F&& f) const {
  for (unsigned p = 0; p < kPages; p++) {
    if (!page_[p]) continue;
    const uint64_t* c = counts_.data() + (page_[p] - 1u) * kPage;
    for (unsigned i = 0; i < kPage; i++)
      if (c[i] && !f(p * kPage + i, c[i])) return;
  }
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  other.for_each_bucket([this](uint32_t index, uint64_t n) {
    add_bucket(index, n);
    return true;
  });
  min_ = count_ ? std::min(min_, other.min_) : other.min_;
  max_ = count_ ? std::max(max_, other.max_) : other.max_;
  count_ += other.count_;
  sum_ += other.sum_;
}

void Histogram::clear() { *this = Histogram(); }

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min_;  // also catches NaN
  if (p >= 100) return max_;
  // Multiply before dividing: p*count/100 is then exact whenever it is an
  // integer, so e.g. p99 of 1000 values is rank 990, not 991.
  const double exact_rank = std::ceil(p * static_cast<double>(count_) / 100.0);
  const uint64_t rank = std::clamp<uint64_t>(static_cast<uint64_t>(exact_rank), 1, count_);
  uint64_t seen = 0, out = max_;  // max_: unreachable, the counts add up to count_
  for_each_bucket([&](uint32_t index, uint64_t n) {
    seen += n;
    if (seen < rank) return true;
    const uint64_t mid = irqlat_hist_lower(index) + (irqlat_hist_width(index) - 1) / 2;
    out = std::clamp(mid, min_, max_);
    return false;
  });
  return out;
}

uint64_t Histogram::count_le(uint64_t v) const {
  uint64_t n = 0;
  for_each_bucket([&](uint32_t index, uint64_t c) {
    const uint64_t mid = irqlat_hist_lower(index) + (irqlat_hist_width(index) - 1) / 2;
    if (std::clamp(mid, min_, max_) > v) return false;
    n += c;
    return true;
  });
  return n;
}

Histogram Histogram::from_buckets(const uint32_t* buckets, size_t n, uint64_t max_seen, uint64_t sum) {
  Histogram h;
  n = std::min<size_t>(n, IRQLAT_HIST_BUCKETS);
  unsigned int first = 0, last = 0;
  for (size_t i = 0; i < n; i++) {
    if (buckets[i] == 0) continue;
    if (h.count_ == 0) first = static_cast<unsigned int>(i);
    last = static_cast<unsigned int>(i);
    h.add_bucket(static_cast<uint32_t>(i), buckets[i]);
    h.count_ += buckets[i];
  }
  if (h.count_ == 0) return h;
  h.min_ = irqlat_hist_lower(first);
  // Trust max_seen only if it lies in the last non-empty bucket (the final
  // bucket is open-ended); otherwise fall back to that bucket's upper bound.
  const bool max_fits = max_seen >= irqlat_hist_lower(last) &&
                        (last == IRQLAT_HIST_BUCKETS - 1 || max_seen <= bucket_upper(last));
  h.max_ = max_fits ? max_seen : bucket_upper(last);
  h.sum_ = sum;
  return h;
}

}  // namespace irqlat
