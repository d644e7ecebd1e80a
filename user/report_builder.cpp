// See report_builder.h.
#include "user/report_builder.h"

namespace irqlat {

Report build_report(const ReportInputs& in, const KernelIrqStats& irqs, Collector& collector) {
  Report r;
  r.kernel = in.kernel;
  r.cpus = in.cpus;
  r.start_ns = in.start_ns;
  r.end_ns = in.end_ns;
  r.events.received = in.received;
  r.events.dropped = in.counters.drops;
  r.events.late = in.late;
  r.events.irq_unmatched = in.counters.irq_unmatched;
  r.events.missed = in.missed;
  r.events.malformed = collector.stats().malformed;

  for (const auto& [irq, name] : kernel_irq_names(irqs)) collector.set_irq_name(irq, name);
  TargetIrqMap targets;
  for (const auto& [key, v] : collector.target_irq_stats())
    targets[key] = TargetIrqStat{v.hits, v.stolen_ns};
  build_irq_rows(irqs, targets, r);
  r.proc_irqs = in.proc_irqs;
  r.max_irq = static_cast<int>(irqs.max_irq);
  if (r.proc_irqs) r.events.irq_unseen = apply_proc_counts(r.hardirqs, *r.proc_irqs, r.max_irq);
  for (const HardirqRow& h : r.hardirqs)
    if (!h.cpu) r.events.kernel_irq_events += h.count;
  for (const SoftirqRow& s : r.softirqs)
    if (!s.cpu) r.events.kernel_irq_events += s.count;

  r.threads = collector.thread_rows();
  for (const ThreadRow& t : r.threads) r.targets_exited += t.exited;
  r.windows_enabled = in.windows_enabled;
  r.cancel_spec = in.cancel_spec;
  r.done_spec = in.done_spec;
  r.windows = collector.windows();
  r.untimed_vectors = in.untimed_vectors;
  return r;
}

}  // namespace irqlat
