#include "names.h"

#include <catch2/catch.hpp>

#include "bpf/irqlat.h"

using namespace irqlat;

TEST_CASE("names: x86 vectors as /proc/interrupts labels them") {
  CHECK(std::string(vector_name(VEC_LOCAL_TIMER)) == "LOC");
  CHECK(std::string(vector_name(VEC_RESCHEDULE)) == "RES");
  CHECK(std::string(vector_name(VEC_CALL_FUNCTION)) == "CAL");
  CHECK(std::string(vector_name(VEC_CALL_FUNCTION_SINGLE)) == "CAL");
  CHECK(std::string(vector_name(VEC_IRQ_WORK)) == "IWI");
  CHECK(std::string(vector_name(VEC_X86_PLATFORM_IPI)) == "PLT");
  CHECK(std::string(vector_name(VEC_THERMAL_APIC)) == "TRM");
  CHECK(std::string(vector_name(VEC_THRESHOLD_APIC)) == "THR");
  CHECK(std::string(vector_name(VEC_DEFERRED_ERROR)) == "DFR");
  CHECK(std::string(vector_name(VEC_ERROR_APIC)) == "ERR");
  CHECK(std::string(vector_name(VEC_SPURIOUS_APIC)) == "SPU");
  CHECK(std::string(vector_name(IRQLAT_NR_VECTORS)) == "?");
  CHECK(std::string(vector_name(-1)) == "?");
  CHECK(vector_from_name("cal") == VEC_CALL_FUNCTION);
  CHECK(vector_from_name("LOC") == VEC_LOCAL_TIMER);
  CHECK(vector_from_name("NMI") == -1);
}

TEST_CASE("names: softirq vectors as /proc/softirqs names them") {
  const char* expected[] = {"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK",
                            "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"};
  for (int i = 0; i < IRQLAT_NR_SOFTIRQS; i++) {
    CHECK(std::string(softirq_name(i)) == expected[i]);
    CHECK(softirq_from_name(expected[i]) == i);
  }
  CHECK(softirq_from_name("net_rx") == 3);
  CHECK(softirq_from_name("NET") == -1);
  CHECK(std::string(softirq_name(10)) == "?");
  CHECK(std::string(irq_kind_name(IRQ_KIND_SOFTIRQ)) == "softirq");
}
