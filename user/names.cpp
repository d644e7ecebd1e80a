#include "names.h"

#include <array>
#include <cctype>

#include "bpf/irqlat.h"

namespace irqlat {
namespace {

constexpr std::array<const char*, IRQLAT_NR_VECTORS> kVectorNames = {
    "LOC",  // VEC_LOCAL_TIMER
    "RES",  // VEC_RESCHEDULE
    "CAL",  // VEC_CALL_FUNCTION
    "CAL",  // VEC_CALL_FUNCTION_SINGLE: /proc/interrupts counts both as CAL
    "IWI",  // VEC_IRQ_WORK
    "PLT",  // VEC_X86_PLATFORM_IPI
    "TRM",  // VEC_THERMAL_APIC
    "THR",  // VEC_THRESHOLD_APIC
    "DFR",  // VEC_DEFERRED_ERROR
    "ERR",  // VEC_ERROR_APIC
    "SPU",  // VEC_SPURIOUS_APIC
};

constexpr std::array<const char*, IRQLAT_NR_SOFTIRQS> kSoftirqNames = {
    "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU",
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

template <size_t N>
int find_name(const std::array<const char*, N>& table, std::string_view name) {
  for (size_t i = 0; i < N; i++)
    if (iequals(table[i], name)) return static_cast<int>(i);
  return -1;
}

}  // namespace

const char* vector_name(int vec) {
  return vec >= 0 && vec < IRQLAT_NR_VECTORS ? kVectorNames[vec] : "?";
}

int vector_from_name(std::string_view name) { return find_name(kVectorNames, name); }

const char* softirq_name(int vec) {
  return vec >= 0 && vec < IRQLAT_NR_SOFTIRQS ? kSoftirqNames[vec] : "?";
}

int softirq_from_name(std::string_view name) { return find_name(kSoftirqNames, name); }

std::string unnamed_irq_name(unsigned irq) { return "irq" + std::to_string(irq); }

const char* irq_kind_name(int kind) {
  switch (kind) {
    case IRQ_KIND_HARDIRQ: return "hardirq";
    case IRQ_KIND_VECTOR: return "vector";
    case IRQ_KIND_SOFTIRQ: return "softirq";
    default: return "?";
  }
}

}  // namespace irqlat
