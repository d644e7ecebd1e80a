// Turns the kernel's per-slot, per-CPU interrupt aggregates (struct irq_stat)
// into hardirq and softirq table rows, adding what the collector saw of
// interrupts that hit target threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <tuple>

#include "bpf/irqlat.h"
#include "user/report.h"

namespace irqlat {

// (kind, id, cpu) -> interrupts that ran while a target was on that CPU.
struct TargetIrqStat {
  uint64_t hits = 0;
  uint64_t stolen_ns = 0;
};
using TargetIrqMap = std::map<std::tuple<int, int, int>, TargetIrqStat>;

struct KernelIrqStats {
  int nr_cpus = 0;
  uint32_t max_irq = 0;  // device IRQs >= max_irq share the overflow slot
  std::function<const irq_stat&(uint32_t slot, int cpu)> stat;
};

// Appends hardirq rows (device IRQs, then x86 vectors merged by their
// /proc/interrupts label) and softirq rows to the report: for each source a
// total row (cpu = null) followed by one row per CPU that saw it; sources
// sorted by total time, largest first.
void build_irq_rows(const KernelIrqStats& k, const TargetIrqMap& targets, Report& out);

// irqaction->name of each device IRQ the kernel has seen (irq -> name).
std::map<int, std::string> kernel_irq_names(const KernelIrqStats& k);

}  // namespace irqlat
