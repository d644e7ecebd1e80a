#include "histogram.h"

#include <algorithm>
#include <cmath>

#include "bpf/irqlat.h"

namespace irqlat {
namespace {

using Bucket = std::pair<uint32_t, uint64_t>;

bool bucket_less(const Bucket& b, uint32_t index) { return b.first < index; }

// Largest value that falls in bucket b (the last bucket is open-ended).
uint64_t bucket_upper(unsigned int b) { return irqlat_hist_lower(b) + irqlat_hist_width(b) - 1; }

}  // namespace

void Histogram::add(uint64_t v, uint64_t n) {
  if (n == 0) return;
  const uint32_t index = irqlat_hist_bucket(v);
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), index, bucket_less);
  if (it != buckets_.end() && it->first == index)
    it->second += n;
  else
    buckets_.insert(it, {index, n});
  min_ = count_ ? std::min(min_, v) : v;
  max_ = count_ ? std::max(max_, v) : v;
  count_ += n;
  sum_ += v * n;
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  std::vector<Bucket> merged;
  merged.reserve(buckets_.size() + other.buckets_.size());
  auto a = buckets_.cbegin(), b = other.buckets_.cbegin();
  while (a != buckets_.cend() || b != other.buckets_.cend()) {
    if (b == other.buckets_.end() || (a != buckets_.end() && a->first < b->first)) {
      merged.push_back(*a++);
    } else if (a == buckets_.end() || b->first < a->first) {
      merged.push_back(*b++);
    } else {
      merged.emplace_back(a->first, a->second + b->second);
      ++a, ++b;
    }
  }
  buckets_ = std::move(merged);
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
  uint64_t seen = 0;
  for (const auto& [index, n] : buckets_) {
    seen += n;
    if (seen >= rank) {
      const uint64_t mid = irqlat_hist_lower(index) + (irqlat_hist_width(index) - 1) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;  // unreachable: the counts add up to count_
}

uint64_t Histogram::count_le(uint64_t v) const {
  uint64_t n = 0;
  for (const auto& [index, c] : buckets_) {
    const uint64_t mid = irqlat_hist_lower(index) + (irqlat_hist_width(index) - 1) / 2;
    if (std::clamp(mid, min_, max_) > v) break;
    n += c;
  }
  return n;
}

Histogram Histogram::from_buckets(const uint32_t* buckets, size_t n, uint64_t max_seen, uint64_t sum) {
  Histogram h;
  n = std::min<size_t>(n, IRQLAT_HIST_BUCKETS);
  for (size_t i = 0; i < n; i++) {
    if (buckets[i] == 0) continue;
    h.buckets_.emplace_back(static_cast<uint32_t>(i), buckets[i]);
    h.count_ += buckets[i];
  }
  if (h.count_ == 0) return h;
  const unsigned int first = h.buckets_.front().first, last = h.buckets_.back().first;
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
