// See irq_tables.h.
#include "user/irq_tables.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "user/histogram.h"
#include "user/names.h"

namespace irqlat {
namespace {

// One interrupt source being summed: a total and one accumulator per CPU.
struct Acc {
  uint64_t count = 0, total = 0, max = 0;
  uint64_t raise_count = 0, raise_total = 0, raise_max = 0;
  uint64_t hits = 0, stolen = 0;
  Histogram hist;

  void add(const irq_stat& s) {
    count += s.count;
    total += s.total_ns;
    max = std::max<uint64_t>(max, s.max_ns);
    raise_count += s.raise_count;
    raise_total += s.raise_wait_ns;
    raise_max = std::max<uint64_t>(raise_max, s.raise_wait_max);
    hits += s.target_hits;  // kernel-accounted targets; streamed ones come from the collector
    stolen += s.target_stolen_ns;
    hist.merge(Histogram::from_buckets(s.hist, IRQLAT_HIST_BUCKETS, s.max_ns, s.total_ns));
  }
  void add(const Acc& o) {
    count += o.count;
    total += o.total;
    max = std::max(max, o.max);
    raise_count += o.raise_count;
    raise_total += o.raise_total;
    raise_max = std::max(raise_max, o.raise_max);
    hits += o.hits;
    stolen += o.stolen;
    hist.merge(o.hist);
  }
};

struct Source {
  int kind;
  std::optional<int> irq;
  std::string name;
  std::vector<Acc> per_cpu;
  Acc total;
};

template <typename Row>
void fill(Row& r, const Acc& a, std::optional<int> cpu) {
  r.cpu = cpu;
  r.count = a.count;
  r.total_ns = a.total;
  // The kernel's maximum and its histogram are separate stores: a copy
  // taken between them (or a maximum restarted by a take) could put the
  // maximum under p99. The histogram's own maximum bounds it from below.
  r.max_ns = a.count ? std::max(a.max, a.hist.max()) : a.max;
  r.p50_ns = a.count ? a.hist.percentile(50) : 0;
  r.p99_ns = a.count ? a.hist.percentile(99) : 0;
  r.target_hits = a.hits;
  r.target_stolen_ns = a.stolen;
  r.hist = a.hist;
}

// Slot of (kind, id), the same mapping as the BPF side.
uint32_t slot_of(int kind, uint32_t id, uint32_t max_irq) {
  if (kind == IRQ_KIND_SOFTIRQ) return IRQLAT_SLOT_SOFTIRQ(id);
  if (kind == IRQ_KIND_VECTOR) return IRQLAT_SLOT_VECTOR(id);
  return IRQLAT_SLOT_HARDIRQ0 + std::min(id, max_irq);
}

}  // namespace

std::map<int, std::string> kernel_irq_names(const KernelIrqStats& k) {
  std::map<int, std::string> names;
  for (uint32_t irq = 0; irq < k.max_irq; irq++)
    for (int cpu = 0; cpu < k.nr_cpus; cpu++) {
      const irq_stat& s = k.stat(IRQLAT_SLOT_HARDIRQ0 + irq, cpu);
      if (s.name[0]) {
        names[irq] = std::string(s.name, strnlen(s.name, sizeof(s.name)));
        break;
      }
    }
  return names;
}

void build_irq_rows(const KernelIrqStats& k, const TargetIrqMap& targets, Report& out) {
  std::vector<Source> sources;
  std::map<std::string, size_t> vector_index;  // CAL is two tracepoints, one row
  auto names = kernel_irq_names(k);

  auto source_for = [&](int kind, uint32_t id) -> Source& {
    if (kind == IRQ_KIND_VECTOR) {
      std::string label = vector_name(id);
      auto it = vector_index.find(label);
      if (it != vector_index.end()) return sources[it->second];
      vector_index[label] = sources.size();
      sources.push_back({kind, std::nullopt, label, std::vector<Acc>(k.nr_cpus), {}});
      return sources.back();
    }
    std::string name;
    std::optional<int> irq;
    if (kind == IRQ_KIND_SOFTIRQ) {
      name = softirq_name(id);
    } else {
      irq = static_cast<int>(id);
      auto it = names.find(id);
      name = it != names.end() ? it->second
             : id >= k.max_irq ? "irq>=" + std::to_string(k.max_irq)
                               : unnamed_irq_name(id);
    }
    sources.push_back({kind, irq, name, std::vector<Acc>(k.nr_cpus), {}});
    return sources.back();
  };

  auto collect = [&](int kind, uint32_t id) {
    uint32_t slot = slot_of(kind, id, k.max_irq);
    bool any = false;
    for (int cpu = 0; cpu < k.nr_cpus && !any; cpu++) any = k.stat(slot, cpu).count > 0;
    if (!any) return;
    Source& src = source_for(kind, id);
    for (int cpu = 0; cpu < k.nr_cpus; cpu++) {
      src.per_cpu[cpu].add(k.stat(slot, cpu));
      auto t = targets.find({kind, static_cast<int>(id), cpu});
      if (t != targets.end()) {
        src.per_cpu[cpu].hits += t->second.hits;
        src.per_cpu[cpu].stolen += t->second.stolen_ns;
      }
    }
  };

  for (uint32_t irq = 0; irq <= k.max_irq; irq++) collect(IRQ_KIND_HARDIRQ, irq);
  for (uint32_t v = 0; v < IRQLAT_NR_VECTORS; v++) collect(IRQ_KIND_VECTOR, v);
  for (uint32_t v = 0; v < IRQLAT_NR_SOFTIRQS; v++) collect(IRQ_KIND_SOFTIRQ, v);

  for (Source& s : sources)
    for (const Acc& a : s.per_cpu) s.total.add(a);
  std::stable_sort(sources.begin(), sources.end(),
                   [](const Source& a, const Source& b) { return a.total.total > b.total.total; });

  for (const Source& s : sources) {
    auto emit = [&](const Acc& a, std::optional<int> cpu) {
      if (s.kind == IRQ_KIND_SOFTIRQ) {
        SoftirqRow r;
        r.vector = s.name;
        fill(r, a, cpu);
        r.raise_wait_count = a.raise_count;
        r.raise_wait_total_ns = a.raise_total;
        r.raise_wait_max_ns = a.raise_max;
        out.softirqs.push_back(std::move(r));
      } else {
        HardirqRow r;
        r.irq = s.irq;
        r.name = s.name;
        fill(r, a, cpu);
        out.hardirqs.push_back(std::move(r));
      }
    };
    emit(s.total, std::nullopt);
    for (int cpu = 0; cpu < k.nr_cpus; cpu++)
      if (s.per_cpu[cpu].count) emit(s.per_cpu[cpu], cpu);
  }
}

}  // namespace irqlat
