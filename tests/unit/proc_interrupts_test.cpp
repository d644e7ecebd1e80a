#include <cstdint>
#include <optional>
#include <vector>

#include <catch2/catch.hpp>

#include "proc_interrupts.h"

using namespace irqlat;

namespace {

// CPU 1 offline: the columns are CPU0 and CPU2.
constexpr const char* kBefore =
    "           CPU0       CPU2       \n"
    "  0:         44          0   IO-APIC   2-edge      timer\n"
    " 36:       1000         10   PCI-MSIX-0000:00:05.0   1-edge      virtio2-req.0\n"
    " 40:          5          7   PCI-MSIX-0000:00:06.0   0-edge      virtio3-input.0\n"
    "NMI:          0          0   Non-maskable interrupts\n"
    "LOC:      90000      80000   Local timer interrupts\n"
    "ERR:          0\n";
constexpr const char* kAfter =
    "           CPU0       CPU2       \n"
    "  0:         44          0   IO-APIC   2-edge      timer\n"
    " 36:       1500         12   PCI-MSIX-0000:00:05.0   1-edge      virtio2-req.0\n"
    " 40:          3          9   PCI-MSIX-0000:00:06.0   0-edge      virtio3-input.0\n"
    " 41:          4          0   PCI-MSIX-0000:00:06.0   1-edge      virtio3-output.0\n"
    "LOC:      90500      80100   Local timer interrupts\n";

HardirqRow row(std::optional<int> irq, std::optional<int> cpu, uint64_t count) {
  HardirqRow r;
  r.irq = irq;
  r.cpu = cpu;
  r.count = count;
  return r;
}

}  // namespace

TEST_CASE("device lines by the CPUs the header names; vectors and ERR are not devices", "[proc]") {
  const DeviceIrqCounts c = parse_device_irq_counts(kBefore);
  REQUIRE(c.size() == 3);
  CHECK(c.at(36).at(0) == 1000);
  CHECK(c.at(36).at(2) == 10);
  CHECK(c.at(36).count(1) == 0);
  CHECK(c.at(40).at(2) == 7);
  CHECK(parse_device_irq_counts("").empty());
  CHECK(parse_device_irq_counts("CPU0\n 7: x y\n").at(7).empty());
}

TEST_CASE("deltas: new lines count from zero, counts that went back count zero, -C keeps its CPUs", "[proc]") {
  // CPU 1 came online: its column is from boot, not from the span.
  const DeviceIrqCounts online = irq_count_delta(parse_device_irq_counts(kBefore),
                                                 parse_device_irq_counts("   CPU0   CPU1   CPU2\n"
                                                                         " 36:  1100  900000  15  PCI-MSIX\n"),
                                                 {});
  CHECK(online.at(36).at(0) == 100);
  CHECK(online.at(36).at(1) == 0);
  CHECK(online.at(36).at(2) == 5);
  const DeviceIrqCounts before = parse_device_irq_counts(kBefore), after = parse_device_irq_counts(kAfter);
  const DeviceIrqCounts d = irq_count_delta(before, after, {});
  CHECK(d.at(36).at(0) == 500);
  CHECK(d.at(36).at(2) == 2);
  CHECK(d.at(40).at(0) == 0);  // 5 -> 3: freed and requested again
  CHECK(d.at(40).at(2) == 2);
  CHECK(d.at(41).at(0) == 4);
  CHECK(d.at(0).at(0) == 0);
  const DeviceIrqCounts only2 = irq_count_delta(before, after, {2});
  CHECK(only2.at(36).size() == 1);
  CHECK(only2.at(36).at(2) == 2);
}

TEST_CASE("proc counts on device rows, and what the tracepoints did not see", "[proc]") {
  const DeviceIrqCounts d = irq_count_delta(parse_device_irq_counts(kBefore), parse_device_irq_counts(kAfter), {});
  std::vector<HardirqRow> rows = {row(36, std::nullopt, 499), row(36, 0, 497), row(36, 2, 2),
                                  row(std::nullopt, std::nullopt, 600), row(std::nullopt, 0, 500),
                                  row(40, std::nullopt, 3), row(40, 2, 3)};
  const uint64_t unseen = apply_proc_counts(rows, d, 256);
  CHECK(rows[0].proc_count == 502u);
  CHECK(rows[1].proc_count == 500u);
  CHECK(rows[2].proc_count == 2u);
  CHECK_FALSE(rows[3].proc_count);  // a vector (LOC): not checked
  CHECK_FALSE(rows[4].proc_count);
  CHECK(rows[5].proc_count == 2u);
  CHECK(rows[6].proc_count == 2u);
  // Each beyond the one interrupt per IRQ and CPU that may still be in its
  // handler at the end read: 36 on CPU 0, 500 counted, 497 traced: 2; 40
  // on CPU 2 traced one more than /proc: 0; 41 on CPU 0 has no row: 3.
  CHECK(unseen == 2 + 3);

  // One in flight is not a loss.
  std::vector<HardirqRow> one = {row(36, 0, 499), row(36, 2, 2)};
  DeviceIrqCounts d36;
  d36[36] = d.at(36);
  CHECK(apply_proc_counts(one, d36, 256) == 0);
}

TEST_CASE("IRQs from max_irq up are one row, as in the kernel's shared slot", "[proc]") {
  // max_irq 40: 40 and 41 share the row labelled 40.
  DeviceIrqCounts d = irq_count_delta(parse_device_irq_counts(kBefore), parse_device_irq_counts(kAfter), {});
  d.erase(0);
  d.erase(36);
  std::vector<HardirqRow> rows = {row(40, std::nullopt, 7), row(40, 0, 4), row(40, 2, 3)};
  CHECK(apply_proc_counts(rows, d, 40) == 0);
  CHECK(rows[0].proc_count == 0u + 2 + 4 + 0);
  CHECK(rows[1].proc_count == 4u);
  CHECK(rows[2].proc_count == 2u);
}
