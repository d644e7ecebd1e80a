#include <catch2/catch.hpp>

#include "user/vector_watch.h"

using namespace irqlat;

namespace {
const char* kProc =
    "           CPU0       CPU1       \n"
    " 36:          0    5307537 PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0\n"
    "NMI:          0          0   Non-maskable interrupts\n"
    "LOC:    3426727    2859873   Local timer interrupts\n"
    "SPU:          0          0   Spurious interrupts\n"
    "TRM:          2          1   Thermal event interrupts\n"
    "ERR:          0\n"
    "MIS:          0\n";
}

TEST_CASE("named /proc/interrupts rows are summed over CPUs") {
  auto m = parse_named_interrupts(kProc);
  CHECK(m.at("LOC") == 3426727ULL + 2859873ULL);
  CHECK(m.at("TRM") == 3);
  CHECK(m.at("ERR") == 0);  // one global count
  CHECK(m.count("36") == 0);  // device lines are not named rows
  CHECK(m.count("CPU0") == 0);
  CHECK(parse_named_interrupts("").empty());
  CHECK(parse_named_interrupts("garbage\n:\nX: y z\n").empty());
}

TEST_CASE("a watched vector fires once, and its earlier count is untimed") {
  auto base = parse_named_interrupts(kProc);
  VectorWatch w({"TRM", "SPU", "DFR"}, base);  // DFR: row absent on this machine
  CHECK(w.watching());
  CHECK(w.fired(base).empty());
  auto now = base;
  now["TRM"] += 5;
  now["LOC"] += 100;  // not watched
  CHECK(w.fired(now) == std::vector<std::string>{"TRM"});
  CHECK(w.untimed().at("TRM") == 5);
  now["TRM"] += 5;  // attached now: the kernel times these
  CHECK(w.fired(now).empty());
  CHECK(w.untimed().at("TRM") == 5);
  now["DFR"] = 1;  // a row that appears later counts from zero
  CHECK(w.fired(now) == std::vector<std::string>{"DFR"});
  CHECK(w.untimed().at("DFR") == 1);
  w.reset_untimed();
  CHECK(w.untimed().empty());
  CHECK(w.watching());  // SPU still watched
}
