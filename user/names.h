// Names of interrupt vectors as the kernel prints them: x86 system vectors as
// the row labels of /proc/interrupts, softirq vectors as /proc/softirqs.
// Indexed by enum irqlat_vector and the kernel's softirq numbers (bpf/irqlat.h).
#pragma once

#include <string>
#include <string_view>

namespace irqlat {

// "LOC", "RES", "CAL" (call_function and call_function_single both), "IWI",
// "PLT", "TRM", "THR", "DFR", "ERR", "SPU"; "?" when out of range.
const char* vector_name(int vec);

// First vector with that /proc/interrupts label (case-insensitive), or -1.
// "CAL" gives VEC_CALL_FUNCTION.
int vector_from_name(std::string_view name);

// "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED",
// "HRTIMER", "RCU"; "?" when out of range.
const char* softirq_name(int vec);

// Softirq vector number for a /proc/softirqs name (case-insensitive), or -1.
int softirq_from_name(std::string_view name);

// "irq24": a device IRQ whose action name was never read.
std::string unnamed_irq_name(unsigned irq);

// "hardirq", "vector", "softirq" for enum irqlat_irq_kind; "?" otherwise.
const char* irq_kind_name(int kind);

}  // namespace irqlat
